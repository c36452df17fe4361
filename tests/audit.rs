//! The audit trail through the real server: one record per decision, tamper-evident files,
//! fail-closed on an unwritable log, nothing lost across kill -9.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Cred, TestGateway, developer, post_statement, run_query};
use serde_json::{Value, json};

fn records(log: &Path) -> Vec<Value> {
    let files = sqlgate::audit::log_files(log);
    let mut out = Vec::new();
    for f in files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            out.push(serde_json::from_str(line).unwrap());
        }
    }
    out
}

fn log_path(gw: &TestGateway) -> PathBuf {
    gw.dir.path().join(&gw.config.audit.file)
}

fn of_statement<'a>(recs: &'a [Value], name: &str) -> Vec<&'a Value> {
    recs.iter()
        .filter(|r| r["data"]["sqlgate"]["statement"] == name)
        .collect()
}

fn method(r: &Value) -> &str {
    r["data"]["methodName"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn an_allowed_statement_leaves_one_decision_and_its_lifecycle() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    run_query(
        &gw,
        &dev,
        "audited",
        "SELECT order_id FROM examples.marketplace.orders WHERE price > 100 LIMIT 1",
    )
    .await
    .unwrap();
    let recs = records(&log_path(&gw));
    let mine = of_statement(&recs, "audited");
    let authz: Vec<_> = mine
        .iter()
        .filter(|r| r["type"] == "io.confluent.flink.server/authorization")
        .collect();
    assert_eq!(authz.len(), 1, "exactly one decision record: {mine:#?}");
    let d = &authz[0]["data"];
    assert_eq!(d["authorizationInfo"]["granted"], true);
    assert_eq!(d["authenticationInfo"]["principal"], "User:pool-dev");
    assert_eq!(
        d["authenticationInfo"]["identity"], "alice",
        "the token identity behind the pool"
    );
    let objects = d["sqlgate"]["objects"].as_array().unwrap();
    assert!(
        objects
            .iter()
            .any(|o| o["action"] == "read" && o["granted"] == true),
        "{objects:#?}"
    );
    assert!(
        d["sqlgate"]["policyVersion"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "{d:#}"
    );
    let sql = d["sqlgate"]["sql"].as_str().unwrap();
    assert!(!sql.contains("100"), "literals are redacted: {sql}");
    assert!(
        d["requestMetadata"]["clientAddress"][0]["ip"] == "127.0.0.1",
        "{d:#}"
    );
    let phases: Vec<_> = mine
        .iter()
        .filter(|r| r["type"] == "io.confluent.flink.server/statement")
        .map(|r| {
            r["data"]["sqlgate"]["phase"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(phases, ["PENDING", "RUNNING", "COMPLETED"], "{mine:#?}");
    // Never a token in the log.
    let text = std::fs::read_to_string(log_path(&gw)).unwrap();
    if let Cred::Pool(token, _) = &dev {
        assert!(!text.contains(token.as_str()));
    }
    let report = sqlgate::audit::verify(&sqlgate::audit::log_files(&log_path(&gw))).unwrap();
    assert_eq!(report.records as usize, recs.len());
    gw.stop().await;
}

#[tokio::test]
async fn refusals_and_failed_logins_are_recorded_once_each() {
    let gw = TestGateway::start().await;
    let nobody = Cred::Bearer(gw.token("mallory", &[]));
    assert_eq!(
        post_statement(
            &gw,
            &nobody,
            "refused",
            "SELECT * FROM examples.marketplace.orders",
            json!({})
        )
        .await
        .0,
        403
    );
    let bad = Cred::Bearer("not-a-token".into());
    assert_eq!(
        post_statement(&gw, &bad, "nologin", "SELECT 1", json!({}))
            .await
            .0,
        401
    );
    let dev = developer(&gw);
    assert_eq!(
        post_statement(&gw, &dev, "garbled", "SELEC 1", json!({}))
            .await
            .0,
        400
    );
    let recs = records(&log_path(&gw));
    let refused = of_statement(&recs, "refused");
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(refused[0]["data"]["authorizationInfo"]["granted"], false);
    assert_eq!(
        refused[0]["data"]["authenticationInfo"]["principal"],
        "User:mallory"
    );
    let failed_logins: Vec<_> = recs
        .iter()
        .filter(|r| {
            r["type"] == "io.confluent.flink.server/authentication"
                && r["data"]["result"]["status"] != "SUCCESS"
        })
        .collect();
    assert_eq!(failed_logins.len(), 1, "{failed_logins:#?}");
    // A parse refusal is an authorization-stage record naming the stage, not a FAILED
    // statement (nothing was created).
    let garbled = of_statement(&recs, "garbled");
    assert_eq!(garbled.len(), 1, "{garbled:#?}");
    assert_eq!(
        garbled[0]["type"],
        "io.confluent.flink.server/authorization"
    );
    assert_eq!(garbled[0]["data"]["sqlgate"]["stage"], "parse");
    assert_eq!(
        garbled[0]["data"]["result"]["status"],
        "FAILED_PRECONDITION"
    );
    assert!(
        recs.iter().all(|r| !method(r).is_empty()),
        "every record names its method"
    );
    gw.stop().await;
}

#[tokio::test]
async fn an_unwritable_log_refuses_statements_with_503() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    run_query(&gw, &dev, "before", "SELECT 1").await.unwrap();
    // Replace the log under the gateway's feet: the sink notices and stops writing.
    let log = log_path(&gw);
    std::fs::remove_file(&log).unwrap();
    let before = gw.engine_calls();
    let mut status = 0;
    for i in 0..3 {
        status = post_statement(&gw, &dev, &format!("after{i}"), "SELECT 1", json!({}))
            .await
            .0;
        if status == 503 {
            break;
        }
    }
    assert_eq!(status, 503);
    assert!(
        gw.engine_calls() <= before + 1,
        "statements kept running unaudited"
    );
    gw.stop().await;
}

/// Starts the binary in `dir`, returns it and its address.
async fn spawn_gateway(dir: &Path) -> (tokio::process::Child, String) {
    let served = common::binary::serve(dir, &[]).await;
    (served.child, served.addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_concurrent_statements_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..10 {
        let (mut child, addr) = spawn_gateway(dir.path()).await;
        let token = common::token_in(dir.path(), "alice", &["developers"]);
        let client = common::client_trusting(&dir.path().join("certs/dev-ca.pem"));
        let base =
            format!("https://{addr}/sql/v1/organizations/org-dev/environments/env-dev/statements");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        // Eight clients submit statements back to back until the gateway dies under them.
        let mut workers = Vec::new();
        for w in 0..8 {
            let (client, base, token, tx) =
                (client.clone(), base.clone(), token.clone(), tx.clone());
            workers.push(tokio::spawn(async move {
                for i in 0.. {
                    let name = format!("r{round}-w{w}-s{i}");
                    let body = json!({"name": name, "spec": {"statement": "SELECT 1", "properties": {"sql.current-catalog": "env-dev"}}});
                    let r = client
                        .post(&base)
                        .bearer_auth(&token)
                        .header("Confluent-Identity-Pool-Id", "pool-dev")
                        .json(&body)
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 200 => {
                            let _ = tx.send(name);
                        }
                        _ => break,
                    }
                }
            }));
        }
        drop(tx);
        // Kill once a few statements were acknowledged, while the others are in flight.
        let mut seen = 0;
        while seen < 3 + round {
            match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
                Ok(Some(name)) => {
                    acknowledged.push(name);
                    seen += 1;
                }
                _ => panic!("round {round}: statements were not acknowledged"),
            }
        }
        child.start_kill().unwrap();
        let _ = child.wait().await;
        for w in workers {
            w.await.unwrap();
        }
        while let Some(name) = rx.recv().await {
            acknowledged.push(name);
        }
    }
    assert!(
        !acknowledged.is_empty(),
        "no statement was acknowledged in ten rounds"
    );
    // The last kill may have torn the final line; the next start repairs a torn tail (as
    // after any crash) before it listens.
    let (mut child, _) = spawn_gateway(dir.path()).await;
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let log = dir.path().join("data/audit/audit.log");
    let files = sqlgate::audit::log_files(&log);
    sqlgate::audit::verify(&files).expect("the chain must verify after ten kill -9s");
    let recs = records(&log);
    for name in &acknowledged {
        let granted = of_statement(&recs, name).iter().any(|r| {
            r["type"] == "io.confluent.flink.server/authorization"
                && r["data"]["result"]["status"] == "SUCCESS"
        });
        assert!(
            granted,
            "statement {name} was acknowledged but its decision is not in the log: {:#?}",
            of_statement(&recs, name)
        );
    }
    // After the crashes, a gateway still starts on the same log.
    let (mut child, _) = spawn_gateway(dir.path()).await;
    child.start_kill().unwrap();
    let _ = child.wait().await;
}

#[tokio::test]
async fn audit_cli_verifies_and_names_the_first_tampered_record() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    run_query(&gw, &dev, "t1", "SELECT 1").await.unwrap();
    run_query(&gw, &dev, "t2", "SELECT 2").await.unwrap();
    let log = log_path(&gw);
    let dir = gw.stop().await;
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sqlgate"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("SQLGATE_CONFIG")
            .output()
            .unwrap()
    };
    let out = cli(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&[
        "audit",
        "query",
        "--principal",
        "User:pool-dev",
        "--decision",
        "allow",
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let lines = String::from_utf8(out.stdout).unwrap();
    assert_eq!(lines.lines().count(), 2, "two allowed decisions: {lines}");
    // Change one character of the third record.
    let text = std::fs::read_to_string(&log).unwrap();
    let mut rows: Vec<String> = text.lines().map(str::to_string).collect();
    rows[2] = rows[2].replacen("127.0.0.1", "127.0.0.2", 1);
    std::fs::write(&log, rows.join("\n") + "\n").unwrap();
    let out = cli(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("line 3"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_changes_and_refusals_are_audited() {
    let gw = TestGateway::start().await;
    let c = gw.client();
    let url = format!("{}/iam/v2/role-bindings", gw.endpoint());
    let body = json!({"principal": "User:sa-new", "role_name": "DeveloperRead",
        "crn_pattern": "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=orders"});
    let r = common::admin(&gw)
        .apply(c.post(&url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = developer(&gw)
        .apply(c.post(&url))
        .json(&json!({"principal": "User:pool-dev", "role_name": "OrganizationAdmin", "crn_pattern": "crn://confluent.cloud/organization=org-dev"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A broken hand edit is refused, and the refusal is audited.
    let bindings = gw.dir.path().join("policies/bindings.csv");
    let mut text = std::fs::read_to_string(&bindings).unwrap();
    text.push_str("\nUser:x, NoSuchRole, crn://confluent.cloud/organization=org-dev\n");
    std::fs::write(&bindings, text).unwrap();
    let log = log_path(&gw);
    let mut rejected = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if records(&log)
            .iter()
            .any(|r| method(r) == "sqlgate.PolicyReloadRejected")
        {
            rejected = true;
            break;
        }
    }
    assert!(rejected, "a refused reload must reach the audit log");
    let recs = records(&log);
    let created: Vec<_> = recs
        .iter()
        .filter(|r| method(r) == "iam.CreateRoleBinding")
        .collect();
    assert_eq!(created.len(), 2, "{created:#?}");
    assert_eq!(created[0]["data"]["result"]["status"], "SUCCESS");
    assert_eq!(
        created[0]["data"]["authenticationInfo"]["principal"],
        "User:pool-admin"
    );
    assert_eq!(created[1]["data"]["result"]["status"], "FAILURE");
    assert_eq!(
        created[1]["data"]["authenticationInfo"]["principal"],
        "User:pool-dev"
    );
    sqlgate::audit::verify(&sqlgate::audit::log_files(&log)).unwrap();
    gw.stop().await;
}

#[tokio::test]
async fn the_audit_log_is_readable_over_http_by_audit_readers_only() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    common::bind(
        &dir.path().join("policies"),
        &[(
            "User:sa-auditor",
            "AuditLogReader",
            "crn://confluent.cloud/organization=org-dev",
        )],
    );
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let dev = developer(&gw);
    run_query(&gw, &dev, "a1", "SELECT 1").await.unwrap();
    let nobody = Cred::Bearer(gw.token("mallory", &[]));
    assert_eq!(
        post_statement(&gw, &nobody, "a2", "SELECT 1", json!({}))
            .await
            .0,
        403
    );
    let (key, secret) = gw.api_key("User:sa-auditor");
    let auditor = Cred::Basic(key, secret);
    let url = format!("{}/sqlgate/v1/audit?decision=deny", gw.endpoint());
    let r = auditor.apply(gw.client().get(&url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let denied = body["data"].as_array().unwrap();
    assert_eq!(denied.len(), 1, "{body:#}");
    assert_eq!(
        denied[0]["data"]["authenticationInfo"]["principal"],
        "User:mallory"
    );
    let r = common::admin(&gw)
        .apply(gw.client().get(&url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "OrganizationAdmin reads the log too");
    let r = dev.apply(gw.client().get(&url)).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert!(common::detail(&body).contains("AuditLogReader"), "{body}");
    gw.stop().await;
}
