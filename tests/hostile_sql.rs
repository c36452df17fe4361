//! Statements built to crash or stall the gateway (issue 10's reproducers and their relatives),
//! sent over real TLS by callers with and without roles: each gets a clear 4xx or runs, within
//! seconds, nothing refused reaches the engine, and the gateway keeps serving.

mod common;

use std::time::{Duration, Instant};

use common::{Cred, TestGateway, detail, developer, post_statement, run_query};

use serde_json::{Value, json};

/// The statements that aborted the process (stack overflow) or froze it (exponential parse):
/// the fuzz seeds' list, so the two cannot drift apart.
fn bombs() -> Vec<(&'static str, String)> {
    sqlgate::fuzzing::seeds::refused_bombs()
}

async fn post_timed(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) -> (u16, Value) {
    let started = Instant::now();
    let answer = post_statement(gw, cred, name, sql, json!({})).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{name}: answered after {:?}",
        started.elapsed()
    );
    answer
}

#[tokio::test]
async fn hostile_statements_get_a_clear_400_and_the_gateway_keeps_serving() {
    let gw = TestGateway::start().await;
    let before = gw.engine_calls();
    let nobody = Cred::Bearer(gw.token("mallory", &[]));
    for (i, (what, sql)) in bombs().iter().enumerate() {
        for (who, cred) in [("no roles", &nobody), ("developer", &developer(&gw))] {
            let (status, body) = post_timed(&gw, cred, &format!("bomb-{i}"), sql).await;
            assert_eq!(status, 400, "{what} ({who}): {body}");
            let code = body["errors"][0]["code"].as_str().unwrap_or_default();
            assert!(code.starts_with("sql."), "{what}: {body}");
            let d = detail(&body);
            assert!(
                d.contains("limit") || d.contains("too complex") || d.contains("parse error"),
                "{what}: {d}"
            );
        }
    }
    assert_eq!(
        gw.engine_calls(),
        before,
        "a refused statement reached the engine"
    );
    let rows = run_query(&gw, &developer(&gw), "after", "SELECT 1")
        .await
        .unwrap();
    assert_eq!(rows, vec![json!(["1"])]);
    gw.stop().await;
}

#[tokio::test]
async fn a_statement_past_the_analysis_deadline_gets_503_and_nothing_runs() {
    let gw = TestGateway::start_with(|c| c.pipeline.deadline = Duration::from_millis(1)).await;
    let before = gw.engine_calls();
    let sql = format!("SELECT * FROM t WHERE {}a", "a OR ".repeat(900));
    let (status, body) = post_statement(&gw, &developer(&gw), "slow", &sql, json!({})).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["errors"][0]["code"], "sql.deadline_exceeded", "{body}");
    assert!(detail(&body).contains("nothing was run"), "{body}");
    assert_eq!(gw.engine_calls(), before);
    gw.stop().await;
}

/// The release build aborted on these; the real binary must answer each and stay up. Then
/// the deepest and widest statements the bounds allow run to the right answer: every walk
/// (resolve, authorize, rewrite, render, the engine's planner and evaluation, and dropping the
/// trees) handles the depth the limits admit, on the threads the binary runs them on.
#[tokio::test]
async fn the_served_binary_survives_every_reproducer_and_runs_what_the_bounds_admit() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    let mut served = common::binary::serve(dir.path(), &[]).await;
    let token = common::token_in(dir.path(), "mallory", &[]);
    let client = common::client_trusting(&dir.path().join("certs/dev-ca.pem"));
    let base = format!(
        "https://{}/sql/v1/organizations/{}/environments/{}/statements",
        served.addr,
        common::ORG,
        common::ENV
    );
    let dev = common::token_in(dir.path(), "alice", &["developers"]);
    let run = |name: &'static str, sql: String| {
        let (client, base, dev) = (client.clone(), base.clone(), dev.clone());
        async move {
            let body = json!({"name": name, "spec": {"statement": sql,
                "properties": {"sql.current-catalog": common::ENV, "sql.current-database": "lkc-dev"}}});
            let created: Value = client
                .post(&base)
                .bearer_auth(&dev)
                .header("Confluent-Identity-Pool-Id", "pool-dev")
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(created["status"]["phase"], "COMPLETED", "{name}: {created}");
            let page: Value = client
                .get(format!("{base}/{name}/results"))
                .bearer_auth(&dev)
                .header("Confluent-Identity-Pool-Id", "pool-dev")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            page["results"]["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["row"].clone())
                .collect::<Vec<_>>()
        }
    };
    for (i, (what, sql)) in bombs().iter().enumerate() {
        let resp = client
            .post(&base)
            .bearer_auth(&token)
            .json(&json!({"name": format!("b{i}"), "spec": {"statement": sql}}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: the gateway did not answer: {e}"));
        assert_eq!(resp.status().as_u16(), 400, "{what}");
        assert!(
            served.child.try_wait().unwrap().is_none(),
            "{what}: the gateway exited"
        );
    }
    assert_eq!(
        run("chain", format!("SELECT {}1", "1+".repeat(990))).await,
        vec![json!(["991"])]
    );
    let unions = run(
        "unions",
        format!("SELECT 1 AS x {}", "UNION ALL SELECT 1 ".repeat(990)),
    )
    .await;
    assert_eq!(unions.len(), 991);
    let ors = format!(
        "SELECT COUNT(*) FROM examples.marketplace.orders WHERE {}FALSE",
        "price < 0 OR ".repeat(990)
    );
    assert_eq!(run("ors", ors).await, vec![json!(["0"])]);
    let wide = run("wide", format!("SELECT {}1 AS last", "1, ".repeat(2000))).await;
    assert_eq!(wide[0].as_array().map(Vec::len), Some(2001));
    assert!(
        served.child.try_wait().unwrap().is_none(),
        "the gateway exited"
    );
    let _ = served.child.kill().await;
}

fn sqlgate(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sqlgate"))
        .args(args)
        .current_dir(dir)
        .env_remove("SQLGATE_CONFIG")
        .output()
        .unwrap()
}

/// `sqlgate check` aborted at 20,000 terms; it and `policy test` refuse such statements at
/// parse, with the limit named, like the gateway.
#[test]
fn check_and_policy_test_refuse_hostile_statements_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    let sql = format!("SELECT {}1", "1+".repeat(20_000));
    let out = sqlgate(
        dir.path(),
        &[
            "check",
            "--principal",
            "User:pool-dev",
            "--catalog",
            "dev",
            "--sql",
            &sql,
            "--format",
            "json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["stage"], "parse");
    assert_eq!(report["error"]["code"], "sql.too_deep");
    let table = dir.path().join("hostile.toml");
    std::fs::write(
        &table,
        format!(
            "[[case]]\nname = \"a chain of 20,000 terms\"\nprincipal = \"User:pool-dev\"\ncatalog = \"env-dev\"\ndatabase = \"lkc-dev\"\nsql = \"{sql}\"\nexpect = \"deny\"\ncode = \"sql.too_deep\"\n"
        ),
    )
    .unwrap();
    let out = sqlgate(dir.path(), &["policy", "test", table.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PASS: 1/1"), "{stdout}");
}
