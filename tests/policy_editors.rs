//! Policy reloads under real editors, against the real server and the real `sqlgate` binary:
//! a file written in place with a pause is never in force half-written, an empty bindings file
//! is refused unless marked, `g` lines name defined roles, principals are well formed, and
//! errors name the right file and line (in `/readyz`, the metrics, the audit log and
//! `sqlgate policy validate`).

mod common;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Cred, ENV_CRN, TestGateway, developer, post_statement};
use serde_json::{Value, json};

const ORDERS: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=orders";

async fn readyz(gw: &TestGateway) -> Value {
    let r = gw
        .client()
        .get(format!("{}/readyz", gw.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "a refused policy must not make the gateway unready"
    );
    r.json().await.unwrap()
}

async fn metrics(gw: &TestGateway) -> String {
    gw.client()
        .get(format!("{}/metrics", gw.endpoint()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits (bounded) until `/readyz` reports a refusal, and returns it.
async fn refusal(gw: &TestGateway) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = readyz(gw).await;
        if let Some(e) = body["policy"]["last_error"].as_str() {
            return e.to_string();
        }
        assert!(Instant::now() < deadline, "no refusal in /readyz: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_version(gw: &TestGateway, v: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while gw.gateway.authorizer().version() != v {
        assert!(Instant::now() < deadline, "policy version {v} never came");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The audit records of the gateway, in order.
fn audit_records(gw: &TestGateway) -> Vec<Value> {
    let log = gw.dir.path().join(&gw.config.audit.file);
    let mut out = Vec::new();
    for f in sqlgate::audit::log_files(&log) {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            out.push(serde_json::from_str(line).unwrap());
        }
    }
    out
}

/// Waits (bounded) for an audit record of `method` whose text contains `needle`.
async fn audited(gw: &TestGateway, method: &str, needle: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(r) = audit_records(gw)
            .into_iter()
            .find(|r| r["data"]["methodName"] == method && r.to_string().contains(needle))
        {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no {method} record containing {needle:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn principal(i: usize) -> String {
    format!("User:sa-{i:02}")
}

/// The shipped bindings plus `n` service accounts that may run statements and read orders.
fn bindings_with(base: &str, n: usize) -> String {
    let mut text = base.to_string();
    for i in 0..n {
        let p = principal(i);
        text.push_str(&format!(
            "{p}, FlinkDeveloper, {ENV_CRN}\n{p}, DeveloperRead, {ORDERS}\n"
        ));
    }
    text
}

/// Runs `SELECT * FROM orders` as `who` (dry run): `true` if allowed.
async fn reads_orders(gw: &TestGateway, who: &Cred, name: &str) -> bool {
    let (s, body) = post_statement(
        gw,
        who,
        name,
        "SELECT * FROM orders",
        json!({"sql.dry-run": "true"}),
    )
    .await;
    assert!(s == 200 || s == 403, "{s} {body}");
    s == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bindings_file_rewritten_in_place_with_a_pause_is_never_in_force_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    common::copy_policies(&policies);
    let file = policies.join("bindings.csv");
    let base = std::fs::read_to_string(&file).unwrap();
    // Old: 24 service accounts read orders. New: the same plus sa-24.
    let old = bindings_with(&base, 24);
    std::fs::write(&file, &old).unwrap();
    let gw = Arc::new(TestGateway::start_in(dir, |_| {}).await);
    let authz = gw.gateway.authorizer().clone();
    assert_eq!(authz.version(), 1);
    let new = bindings_with(&base, 25);
    // The cut is at a line boundary in the middle: the prefix is a valid policy in which
    // sa-12 … sa-24 have no binding at all, the worst case for a reload that does not wait.
    let lines: Vec<&str> = new.split_inclusive('\n').collect();
    let cut: usize = lines[..lines.len() - 26].iter().map(|l| l.len()).sum();
    let (first, rest) = new.split_at(cut);
    assert!(!first.contains(&principal(12)) && first.contains(&principal(11)));

    let mut events = authz.subscribe();
    let done = Arc::new(AtomicBool::new(false));
    // Pollers: sa-12 … sa-23 are allowed in the old and the new file, and only the half
    // file denies them; sa-24 is allowed only by the new file.
    let mut pollers = Vec::new();
    for i in 12..25 {
        let (gw, done) = (gw.clone(), done.clone());
        let who = Cred::Bearer(gw.token(&format!("sa-{i:02}"), &[]));
        pollers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut n = 0;
            while !done.load(Ordering::SeqCst) {
                let version_before = gw.gateway.authorizer().version();
                let allowed = reads_orders(&gw, &who, &format!("p{i}-{n}")).await;
                seen.push((version_before, allowed));
                n += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (i, seen)
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The editor: truncate, write the first half, pause longer than the watcher's debounce
    // (200 ms), write the rest, in place (same inode).
    let writer_file = file.clone();
    let (first, rest) = (first.to_string(), rest.to_string());
    let started = Instant::now();
    let writer = tokio::task::spawn_blocking(move || {
        let mut f = std::fs::File::create(&writer_file).unwrap();
        f.write_all(first.as_bytes()).unwrap();
        f.sync_all().unwrap();
        std::thread::sleep(Duration::from_millis(1200));
        f.write_all(rest.as_bytes()).unwrap();
        f.sync_all().unwrap();
    });
    writer.await.unwrap();
    let written = started.elapsed();
    wait_for_version(&gw, 2).await;
    // Keep polling a little after the switch.
    tokio::time::sleep(Duration::from_millis(300)).await;
    done.store(true, Ordering::SeqCst);

    let mut during_window = 0;
    for p in pollers {
        let (i, seen) = p.await.unwrap();
        for (version, allowed) in seen {
            during_window += 1;
            if i < 24 {
                assert!(
                    allowed,
                    "sa-{i} was denied at version {version}: the half-written file was in force"
                );
            } else if !allowed {
                assert_eq!(
                    version, 1,
                    "sa-24 denied although version {version} is in force"
                );
            }
        }
    }
    assert!(during_window > 100, "only {during_window} decisions polled");
    // Exactly one new version, and it is the whole file.
    assert_eq!(authz.version(), 2);
    while let Ok(ev) = events.try_recv() {
        assert!(ev.policy_version <= 2, "{ev:?}");
        if ev.principal != principal(24) {
            assert!(ev.granted, "{ev:?}");
        }
    }
    let last = Cred::Bearer(gw.token("sa-24", &[]));
    assert!(
        reads_orders(&gw, &last, "last").await,
        "the whole new file is in force"
    );
    assert_eq!(
        readyz(&gw).await["policy"],
        json!({"version": 2, "last_error": null})
    );
    let m = metrics(&gw).await;
    assert!(
        m.contains("sqlgate_policy_reloads_total{outcome=\"ok\"} 1"),
        "one applied reload: {m}"
    );
    assert!(!m.contains("outcome=\"rejected\""), "{m}");
    assert!(written >= Duration::from_millis(1200));
    Arc::into_inner(gw).unwrap().stop().await;
}

#[tokio::test]
async fn an_empty_bindings_file_is_refused_unless_it_says_it_is_meant_to_be_empty() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    let file = gw.dir.path().join("policies/bindings.csv");
    // 0 bytes, as `cp` or `>` leave it before writing.
    std::fs::write(&file, "").unwrap();
    let err = refusal(&gw).await;
    assert!(err.contains("bindings.csv: is empty (0 bytes)"), "{err}");
    assert!(
        err.contains("# sqlgate: empty"),
        "the refusal says how to mean it: {err}"
    );
    let (s, _) = post_statement(&gw, &dev, "still", "SELECT 1", json!({})).await;
    assert_eq!(s, 200, "the last good policy stays in force");
    let m = metrics(&gw).await;
    assert!(
        m.contains("sqlgate_policy_reloads_total{outcome=\"rejected\"} 1"),
        "{m}"
    );
    let rec = audited(&gw, "sqlgate.PolicyReloadRejected", "is empty (0 bytes)").await;
    assert_eq!(rec["data"]["result"]["status"], "FAILURE", "{rec}");

    // Only comments and blank lines: refused too.
    std::fs::write(&file, "# all bindings removed\n\n# (by mistake?)\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let err = loop {
        let e = refusal(&gw).await;
        if e.contains("holds no role bindings") {
            break e;
        }
        assert!(Instant::now() < deadline, "{e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(err.starts_with("policy: bindings.csv:"), "{err}");
    assert_eq!(gw.gateway.authorizer().version(), 1);

    // Marked as meant to be empty: applied, and nobody may do anything.
    std::fs::write(
        &file,
        "# nobody has access while we audit\n# sqlgate: empty\n",
    )
    .unwrap();
    wait_for_version(&gw, 2).await;
    let (s, body) = post_statement(&gw, &dev, "denied", "SELECT 1", json!({})).await;
    assert_eq!(s, 403, "{body}");
    assert_eq!(readyz(&gw).await["policy"]["last_error"], Value::Null);
    gw.stop().await;
}

#[tokio::test]
async fn a_g_line_implying_an_undefined_role_is_refused_naming_the_roles_file_line() {
    let gw = TestGateway::start().await;
    let roles = gw.dir.path().join("policies/roles.csv");
    let mut text = std::fs::read_to_string(&roles).unwrap();
    text.push_str("g, FlinkDeveloper, NoSuchRole\n");
    let line = text.lines().count();
    std::fs::write(&roles, &text).unwrap();
    let err = refusal(&gw).await;
    assert!(
        err.contains(&format!(
            "roles.csv:{line}: `FlinkDeveloper` implies `NoSuchRole`, which no `p` or `g` line of roles.csv defines"
        )),
        "{err}"
    );
    assert_eq!(gw.gateway.authorizer().version(), 1);
    audited(&gw, "sqlgate.PolicyReloadRejected", "NoSuchRole").await;
    // `policy validate` says the same, with the same location.
    let (code, out) = sqlgate(&[
        "policy",
        "validate",
        roles.parent().unwrap().to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "roles.csv:{line}: `FlinkDeveloper` implies `NoSuchRole`"
        )),
        "{out}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_malformed_principal_is_refused_in_the_file_the_api_and_the_api_key_command() {
    let gw = TestGateway::start().await;
    let policies = gw.dir.path().join("policies");
    // bindings.csv: refused on reload, last good policy kept.
    let file = policies.join("bindings.csv");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&format!("User:a b, FlinkDeveloper, {ENV_CRN}\n"));
    let line = text.lines().count();
    std::fs::write(&file, &text).unwrap();
    let err = refusal(&gw).await;
    assert!(
        err.contains(&format!(
            "bindings.csv:{line}: principal `User:a b` is not well formed: ' ' is not allowed"
        )),
        "{err}"
    );
    assert_eq!(gw.gateway.authorizer().version(), 1);
    let (code, out) = sqlgate(&["policy", "validate", policies.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("bindings.csv:{line}: principal `User:a b`")),
        "{out}"
    );

    // The iam/v2 API: 400, nothing written, nothing changed.
    let url = format!("{}/iam/v2/role-bindings", gw.endpoint());
    let before = std::fs::read_to_string(&file).unwrap();
    for bad in [
        "User:a b",
        "User:a,b",
        "User:*",
        "Group:admins",
        "alice",
        "User:",
    ] {
        let r = common::admin(&gw)
            .apply(gw.client().post(&url))
            .json(&json!({"principal": bad, "role_name": "DeveloperRead", "crn_pattern": ORDERS}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["code"], "iam.invalid_binding",
            "{bad}: {body}"
        );
        assert!(
            common::detail(&body).contains("is not well formed"),
            "{bad}: {body}"
        );
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    assert_eq!(gw.gateway.authorizer().version(), 1);
    // The list filter too.
    let r = common::admin(&gw)
        .apply(gw.client().get(format!("{url}?principal=User:a%20b")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A well-formed one of the kinds Confluent uses is accepted.
    let r = common::admin(&gw)
        .apply(gw.client().post(&url))
        .json(&json!({"principal": "User:u-abc123", "role_name": "DeveloperRead", "crn_pattern": ORDERS}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        409,
        "the file on disk is still broken: {:?}",
        r.text().await
    );
    gw.stop().await;

    // `sqlgate api-key create`: refused, no key file written.
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    let keys = dir.path().join("policies/api-keys.toml");
    for bad in ["User:a b", "User:a,b", "Group:ci"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sqlgate"))
            .args(["api-key", "create", "--principal", bad])
            .current_dir(dir.path())
            .env_remove("SQLGATE_CONFIG")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad}");
        assert!(err.contains("is not well formed"), "{bad}: {err}");
    }
    assert!(!keys.exists());
}

#[tokio::test]
async fn a_model_error_is_reported_against_model_conf_with_its_line() {
    let gw = TestGateway::start().await;
    let model = gw.dir.path().join("policies/model.conf");
    let text = std::fs::read_to_string(&model).unwrap();
    let line = text.lines().position(|l| l.starts_with("m =")).unwrap() + 1;
    // A matcher that does not compile (a cut line, as a half-written file has).
    let broken: String = text
        .lines()
        .map(|l| {
            if l.starts_with("m =") {
                "m = g(r.role, p.role) && (p.rtype =="
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&model, &broken).unwrap();
    let err = refusal(&gw).await;
    assert!(
        err.contains(&format!("model.conf:{line}: the matcher does not compile")),
        "{err}"
    );
    assert!(!err.contains("roles.csv"), "{err}");
    let dir = model.parent().unwrap().to_str().unwrap().to_string();
    let (code, out) = sqlgate(&["policy", "validate", &dir]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("model.conf:{line}:")) && !out.contains("roles.csv"),
        "{out}"
    );
    // A matcher that compiles but ignores the roles' implications.
    let no_g = text.replace("m = g(r.role, p.role) &&", "m = r.role == p.role &&");
    std::fs::write(&model, &no_g).unwrap();
    let (code, out) = sqlgate(&["policy", "validate", &dir]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "model.conf:{line}: the model does not pass on implied roles"
        )),
        "{out}"
    );
    gw.stop().await;
}

fn sqlgate(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sqlgate"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("SQLGATE_CONFIG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}
