//! The statement store through the real server: statements survive a restart, a restart
//! ends the statements it interrupted (never leaving them RUNNING), finished statements
//! expire after the retention, and two creates with one name never both run their DDL.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::{TestGateway, detail, developer, get, post_statement, run_query};
use serde_json::{Value, json};
use sqlgate::statements::ManualClock;
use sqlgate::statements::lifecycle::{RESTART_FAILED, RESULTS_GONE};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A query that stays RUNNING until its rows are read: 1000 rows into a 5-row buffer.
const BLOCKED: &str = "SELECT order_id FROM examples.marketplace.orders";

fn small_buffer(c: &mut sqlgate::config::Config) {
    c.gateway.result_buffer_rows = 5;
    c.gateway.create_wait = Duration::from_millis(200);
}

fn audit_records(gw: &TestGateway) -> Vec<Value> {
    let log = gw.dir.path().join(&gw.config.audit.file);
    sqlgate::audit::log_files(&log)
        .into_iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn names(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

async fn metric(gw: &TestGateway, name: &str) -> String {
    let text = gw
        .client()
        .get(format!("{}/metrics", gw.endpoint()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.split(' ').next() == Some(name))
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_restart_keeps_every_statement() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    run_query(&gw, &dev, "q", "SELECT 1").await.unwrap();
    run_query(&gw, &dev, "ddl", "CREATE TABLE kept_t (a INT)")
        .await
        .unwrap();
    let (s, failed) = post_statement(&gw, &dev, "bad", "SELECT * FROM no_such_t", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(failed["status"]["phase"], "FAILED", "{failed}");
    let (_, before) = get(&gw, &dev, "/statements").await;
    assert_eq!(names(&before), ["q", "ddl", "bad"]);

    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let dev = developer(&gw);
    let (s, after) = get(&gw, &dev, "/statements").await;
    assert_eq!(s, 200, "{after}");
    assert_eq!(names(&after), ["q", "ddl", "bad"]);
    for (b, a) in before["data"]
        .as_array()
        .unwrap()
        .iter()
        .zip(after["data"].as_array().unwrap())
    {
        assert_eq!(a["metadata"]["uid"], b["metadata"]["uid"]);
        assert_eq!(a["status"]["phase"], b["status"]["phase"]);
        assert_eq!(a["spec"], b["spec"]);
    }
    // A finished query says its rows went with the restart, and its results answer with
    // none (and no next page) instead of waiting or pretending.
    let (_, q) = get(&gw, &dev, "/statements/q").await;
    assert_eq!(q["status"]["phase"], "COMPLETED");
    assert!(
        q["status"]["detail"]
            .as_str()
            .unwrap()
            .contains(RESULTS_GONE),
        "{q}"
    );
    let (s, page) = get(&gw, &dev, "/statements/q/results").await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["results"]["data"], json!([]));
    assert_eq!(page["metadata"]["next"], "");
    // The name is still taken, and a deletion after the restart is for good.
    let (s, body) = post_statement(&gw, &dev, "q", "SELECT 2", json!({})).await;
    assert_eq!(s, 409, "{body}");
    let r = dev
        .apply(gw.client().delete(format!("{}/statements/ddl", gw.base())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(
        metric(&gw, "sqlgate_statements").await,
        "sqlgate_statements 2"
    );
    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let dev = developer(&gw);
    let (_, list) = get(&gw, &dev, "/statements").await;
    assert_eq!(names(&list), ["q", "bad"]);
    assert_eq!(
        metric(&gw, "sqlgate_statements").await,
        "sqlgate_statements 2"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_statement_running_at_shutdown_comes_back_failed_with_the_reason() {
    let gw = TestGateway::start_with(small_buffer).await;
    let dev = developer(&gw);
    let (s, body) = post_statement(&gw, &dev, "long", BLOCKED, json!({})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["status"]["phase"], "RUNNING", "{body}");

    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, small_buffer).await;
    let dev = developer(&gw);
    let (s, body) = get(&gw, &dev, "/statements/long").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["status"]["phase"], "FAILED", "{body}");
    assert_eq!(body["status"]["detail"], RESTART_FAILED);
    assert!(detail_mentions(&body, "restarted") && detail_mentions(&body, "results"));
    let (s, page) = get(&gw, &dev, "/statements/long/results").await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["results"]["data"], json!([]));
    assert_eq!(page["metadata"]["next"], "", "no page to wait for");
    // The end is audited, by the gateway, once.
    let ends: Vec<_> = audit_records(&gw)
        .into_iter()
        .filter(|r| {
            r["data"]["sqlgate"]["statement"] == "long"
                && r["data"]["methodName"] == "flink.StatementFailed"
        })
        .collect();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert_eq!(
        ends[0]["data"]["authenticationInfo"]["principal"],
        "User:sqlgate"
    );
    assert_eq!(ends[0]["data"]["result"]["message"], RESTART_FAILED);
    gw.stop().await;
}

fn detail_mentions(statement: &Value, word: &str) -> bool {
    statement["status"]["detail"]
        .as_str()
        .is_some_and(|d| d.contains(word))
}

#[tokio::test]
async fn a_stopped_statement_stays_stopped_across_a_restart() {
    let gw = TestGateway::start_with(small_buffer).await;
    let dev = developer(&gw);
    let (s, _) = post_statement(&gw, &dev, "halt", BLOCKED, json!({})).await;
    assert_eq!(s, 200);
    let r = dev
        .apply(gw.client().patch(format!("{}/statements/halt", gw.base())))
        .header("content-type", "application/json-patch+json")
        .body(r#"[{"op":"replace","path":"/spec/stopped","value":true}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"]["phase"], "STOPPED", "{body}");
    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, small_buffer).await;
    let (_, body) = get(&gw, &developer(&gw), "/statements/halt").await;
    assert_eq!(body["status"]["phase"], "STOPPED", "{body}");
    assert_eq!(body["spec"]["stopped"], true);
    gw.stop().await;
}

#[tokio::test]
async fn finished_statements_expire_after_the_retention_also_across_a_restart() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    let gw = TestGateway::start_in_with_clock(dir, clock.clone(), small_buffer).await;
    let dev = developer(&gw);
    run_query(&gw, &dev, "done", "SELECT 1").await.unwrap();
    let (s, body) = post_statement(&gw, &dev, "busy", BLOCKED, json!({})).await;
    assert_eq!(
        (s, body["status"]["phase"].as_str()),
        (200, Some("RUNNING"))
    );
    assert_eq!(
        metric(&gw, "sqlgate_statements").await,
        "sqlgate_statements 2"
    );

    // Six days on, nothing has expired (the default retention is seven days).
    clock.advance(6 * DAY);
    assert!(gw.gateway.expire_statements().await.is_empty());
    // Eight days on: the finished one goes, the running one never does.
    clock.advance(2 * DAY);
    let gone: Vec<_> = gw
        .gateway
        .expire_statements()
        .await
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(gone, ["done"]);
    assert_eq!(get(&gw, &dev, "/statements/done").await.0, 404);
    assert_eq!(get(&gw, &dev, "/statements/busy").await.0, 200);
    assert_eq!(
        metric(&gw, "sqlgate_statements").await,
        "sqlgate_statements 1"
    );
    // The name is free again.
    run_query(&gw, &dev, "done", "SELECT 1").await.unwrap();

    // While the gateway is down time passes; at startup the restart ends `busy` (now
    // FAILED, so its retention starts) and `done` expires.
    let dir = gw.stop().await;
    clock.advance(8 * DAY);
    let gw = TestGateway::start_in_with_clock(dir, clock.clone(), small_buffer).await;
    let dev = developer(&gw);
    let (_, list) = get(&gw, &dev, "/statements").await;
    assert_eq!(names(&list), ["busy"], "{list}");
    assert_eq!(list["data"][0]["status"]["phase"], "FAILED");
    assert_eq!(
        metric(&gw, "sqlgate_statements").await,
        "sqlgate_statements 1"
    );
    let deletions: Vec<_> = audit_records(&gw)
        .into_iter()
        .filter(|r| r["data"]["methodName"] == "flink.DeleteStatement")
        .collect();
    assert_eq!(deletions.len(), 2, "{deletions:#?}");
    for d in &deletions {
        assert_eq!(d["data"]["authenticationInfo"]["principal"], "User:sqlgate");
        assert!(
            d["data"]["result"]["message"]
                .as_str()
                .unwrap()
                .contains("gateway.statement_retention"),
            "{d}"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn the_sweeper_expires_finished_statements_while_the_gateway_runs() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    // A short retention makes the sweep run every 200 ms; the clock decides what expired.
    let gw = TestGateway::start_in_with_clock(dir, clock.clone(), |c| {
        c.gateway.statement_retention = Duration::from_millis(200)
    })
    .await;
    let dev = developer(&gw);
    run_query(&gw, &dev, "swept", "SELECT 1").await.unwrap();
    clock.advance(Duration::from_secs(1));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while get(&gw, &dev, "/statements/swept").await.0 != 404 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweeper did not expire the statement"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_retention_of_zero_keeps_finished_statements() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    let keep = |c: &mut sqlgate::config::Config| c.gateway.statement_retention = Duration::ZERO;
    let gw = TestGateway::start_in_with_clock(dir, clock.clone(), keep).await;
    run_query(&gw, &developer(&gw), "kept", "SELECT 1")
        .await
        .unwrap();
    let dir = gw.stop().await;
    clock.advance(3650 * DAY);
    let gw = TestGateway::start_in_with_clock(dir, clock.clone(), keep).await;
    assert_eq!(get(&gw, &developer(&gw), "/statements/kept").await.0, 200);
    gw.stop().await;
}

/// Both creates pass the early name check; only the one that reserves the name reaches the
/// engine, so the DDL runs once (before the reservation, both ran it and the second got its
/// 409 only afterwards).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_creates_with_one_name_run_the_ddl_once() {
    let gw = Arc::new(TestGateway::start().await);
    let dev = developer(&gw);
    const ROUNDS: u64 = 6;
    for round in 0..ROUNDS {
        let name = format!("create-{round}");
        let sql = format!("CREATE TABLE raced_{round} (a INT)");
        let calls_before = gw.engine_calls();
        let fire = || {
            let (gw, dev, name, sql) = (gw.clone(), dev.clone(), name.clone(), sql.clone());
            tokio::spawn(async move { post_statement(&gw, &dev, &name, &sql, json!({})).await })
        };
        let (a, b) = (fire(), fire());
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "round {round}: {} / {}", a.1, b.1);
        let (ok, conflict) = if a.0 == 200 {
            (&a.1, &b.1)
        } else {
            (&b.1, &a.1)
        };
        assert_eq!(ok["status"]["phase"], "COMPLETED", "{ok}");
        assert!(detail(conflict).contains("already in use"), "{conflict}");
        assert_eq!(
            gw.engine_calls() - calls_before,
            1,
            "round {round}: the DDL must reach the engine once"
        );
    }
    let (_, tables) = post_statement(&gw, &dev, "tables", "SHOW TABLES", json!({})).await;
    assert_eq!(tables["status"]["phase"], "COMPLETED", "{tables}");
    let rows = run_query(&gw, &dev, "tables2", "SHOW TABLES")
        .await
        .unwrap();
    let raced = rows
        .iter()
        .filter(|r| r[0].as_str().is_some_and(|t| t.starts_with("raced_")))
        .count();
    assert_eq!(raced as u64, ROUNDS, "{rows:?}");
    if let Ok(gw) = Arc::try_unwrap(gw) {
        gw.stop().await;
    }
}

/// A dry run reserves nothing: the name stays free and nothing is stored.
#[tokio::test]
async fn a_dry_run_reserves_no_name() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    let (s, _) = post_statement(&gw, &dev, "d", "SELECT 1", json!({"sql.dry-run": "true"})).await;
    assert_eq!(s, 200);
    assert_eq!(
        metric(&gw, "sqlgate_statements").await,
        "sqlgate_statements 0"
    );
    run_query(&gw, &dev, "d", "SELECT 1").await.unwrap();
    gw.stop().await;
}
