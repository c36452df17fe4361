//! A compute pool's task slots (`compute_pools.max_slots`, Confluent's `max_cfu`), through the
//! real server: a statement beyond them stays PENDING (`POOL_EXHAUSTED`) with nothing sent to
//! the engine, starts when a slot frees up, leaves the queue when stopped or deleted, is
//! refused (429) beyond `max_pending`, and ends FAILED at a restart; `/metrics` shows it all.
//!
//! The statement that holds the slot reads `examples.marketplace.orders` (1,000 rows) with a
//! result buffer of one row, so it stays RUNNING, without using CPU, until it is stopped.

mod common;

use std::time::Duration;

use common::{Cred, TestGateway, developer, get, post_statement};
use serde_json::{Value, json};
use sqlgate::config::Config;

/// Stays RUNNING while nobody reads its results (see the module doc).
const HOLDS: &str = "SELECT * FROM examples.marketplace.orders";

/// 100 rows: read through a one-row buffer in a second or so.
const PRODUCTS: &str = "SELECT * FROM examples.marketplace.products";

/// One slot, `max_pending` waiting statements, a one-row result buffer.
fn one_slot(max_pending: usize) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.compute_pools[0].max_slots = 1;
        c.compute_pools[0].max_pending = max_pending;
        c.gateway.result_buffer_rows = 1;
        c.gateway.create_wait = Duration::from_millis(200);
    }
}

async fn start_one_slot(max_pending: usize) -> TestGateway {
    TestGateway::start_with(one_slot(max_pending)).await
}

/// Polls the statement until it is in `phase` (10 s at most); returns it then.
async fn wait_phase(gw: &TestGateway, cred: &Cred, name: &str, phase: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = get(gw, cred, &format!("/statements/{name}")).await;
        assert_eq!(status, 200, "{body}");
        if body["status"]["phase"] == phase {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "`{name}` never reached {phase}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads every results page of `name` (a bounded number); returns the rows read.
async fn read_all(gw: &TestGateway, cred: &Cred, name: &str) -> usize {
    let mut url = format!("{}/statements/{name}/results", gw.base());
    let mut rows = 0;
    for _ in 0..1000 {
        let page: Value = cred
            .apply(gw.client().get(&url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        rows += page["results"]["data"].as_array().map_or(0, Vec::len);
        match page["metadata"]["next"].as_str() {
            Some(n) if !n.is_empty() => url = n.to_string(),
            _ => return rows,
        }
    }
    panic!("`{name}` kept paging: {rows} rows so far");
}

async fn patch_stop(gw: &TestGateway, cred: &Cred, name: &str) -> Value {
    let r = cred
        .apply(
            gw.client()
                .patch(format!("{}/statements/{name}", gw.base())),
        )
        .header("content-type", "application/json-patch+json")
        .body(r#"[{"op":"replace","path":"/spec/stopped","value":true}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn delete(gw: &TestGateway, cred: &Cred, name: &str) {
    let r = cred
        .apply(
            gw.client()
                .delete(format!("{}/statements/{name}", gw.base())),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

/// The audit methods recorded for statement `name`, once `until` is among them (5 s at most).
async fn audited(gw: &TestGateway, name: &str, until: &str) -> Vec<String> {
    let log = gw.dir.path().join(&gw.config.audit.file);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut methods = Vec::new();
        for f in sqlgate::audit::log_files(&log) {
            for line in std::fs::read_to_string(f).unwrap().lines() {
                let r: Value = serde_json::from_str(line).unwrap();
                if r["data"]["sqlgate"]["statement"] == name {
                    methods.push(r["data"]["methodName"].as_str().unwrap_or("").to_string());
                }
            }
        }
        if methods.iter().any(|m| m == until) {
            return methods;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {until} audited for `{name}`: {methods:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts [`HOLDS`] as `name` and checks it holds the pool's slot (RUNNING).
async fn hold_the_slot(gw: &TestGateway, cred: &Cred, name: &str) {
    let (status, body) = post_statement(gw, cred, name, HOLDS, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["phase"], "RUNNING", "{body}");
}

/// Creates `name`, which must wait for the pool: PENDING with Confluent's `POOL_EXHAUSTED`.
async fn must_wait(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) -> Value {
    let (status, body) = post_statement(gw, cred, name, sql, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["phase"], "PENDING", "{body}");
    assert_eq!(
        body["status"]["scaling_status"]["scaling_state"], "POOL_EXHAUSTED",
        "{body}"
    );
    let detail = body["status"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("Compute pool `lfcp-dev` is exhausted")
            && detail.contains("POOL_EXHAUSTED"),
        "{detail}"
    );
    body
}

/// The value of the per-pool metric `name` of `lfcp-dev` (and `phase`, if given).
async fn pool_metric(gw: &TestGateway, name: &str, phase: Option<&str>) -> i64 {
    let text = gw
        .client()
        .get(format!("{}/metrics", gw.endpoint()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let phase = phase.map(|p| format!("phase=\"{p}\""));
    let line = text
        .lines()
        .find(|l| {
            l.starts_with(&format!("{name}{{"))
                && l.contains("compute_pool=\"lfcp-dev\"")
                && l.contains("environment=\"env-dev\"")
                && phase.as_ref().is_none_or(|p| l.contains(p.as_str()))
        })
        .unwrap_or_else(|| panic!("no {name} for lfcp-dev in\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_statement_beyond_the_pools_slots_waits_pending_and_starts_when_one_is_stopped() {
    let gw = start_one_slot(10).await;
    let dev = developer(&gw);
    hold_the_slot(&gw, &dev, "first").await;
    let calls = gw.engine_calls();

    must_wait(&gw, &dev, "second", PRODUCTS).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, still) = get(&gw, &dev, "/statements/second").await;
    assert_eq!(still["status"]["phase"], "PENDING", "{still}");
    assert_eq!(
        gw.engine_calls(),
        calls,
        "a waiting statement reaches no engine"
    );
    // Its name is taken while it waits.
    let (status, body) = post_statement(&gw, &dev, "second", "SELECT 1", json!({})).await;
    assert_eq!(status, 409, "{body}");

    assert_eq!(
        pool_metric(&gw, "sqlgate_compute_pool_slots_limit", None).await,
        1
    );
    assert_eq!(
        pool_metric(&gw, "sqlgate_compute_pool_slots_in_use", None).await,
        1
    );
    assert_eq!(
        pool_metric(&gw, "sqlgate_compute_pool_statements_running", None).await,
        1
    );
    assert_eq!(
        pool_metric(&gw, "sqlgate_compute_pool_statements_queued", None).await,
        1
    );
    let by_phase = "sqlgate_compute_pool_statements";
    assert_eq!(pool_metric(&gw, by_phase, Some("RUNNING")).await, 1);
    assert_eq!(pool_metric(&gw, by_phase, Some("PENDING")).await, 1);

    let stopped = patch_stop(&gw, &dev, "first").await;
    assert_eq!(stopped["status"]["phase"], "STOPPED", "{stopped}");
    let started = wait_phase(&gw, &dev, "second", "RUNNING").await;
    assert!(started["status"]["scaling_status"].is_null(), "{started}");
    assert!(started["status"]["traits"].is_object(), "{started}");
    assert_eq!(
        gw.engine_calls(),
        calls + 1,
        "started once, on the freed slot"
    );
    assert_eq!(
        pool_metric(&gw, "sqlgate_compute_pool_slots_in_use", None).await,
        1
    );
    assert_eq!(
        pool_metric(&gw, "sqlgate_compute_pool_statements_queued", None).await,
        0
    );
    assert_eq!(pool_metric(&gw, by_phase, Some("STOPPED")).await, 1);
    assert_eq!(pool_metric(&gw, by_phase, Some("PENDING")).await, 0);

    // Its rows are served once it runs: the whole table, a row a page.
    assert_eq!(read_all(&gw, &dev, "second").await, 100);
    wait_phase(&gw, &dev, "second", "COMPLETED").await;
    assert_eq!(
        pool_metric(&gw, "sqlgate_compute_pool_slots_in_use", None).await,
        0
    );
    gw.stop().await;
}

#[tokio::test]
async fn waiting_statements_start_first_come_first_served() {
    let gw = start_one_slot(10).await;
    let dev = developer(&gw);
    hold_the_slot(&gw, &dev, "holder").await;
    must_wait(&gw, &dev, "w1", HOLDS).await;
    must_wait(&gw, &dev, "w2", HOLDS).await;
    delete(&gw, &dev, "holder").await;
    wait_phase(&gw, &dev, "w1", "RUNNING").await;
    let (_, w2) = get(&gw, &dev, "/statements/w2").await;
    assert_eq!(w2["status"]["phase"], "PENDING", "w2 is behind w1: {w2}");
    patch_stop(&gw, &dev, "w1").await;
    wait_phase(&gw, &dev, "w2", "RUNNING").await;
    gw.stop().await;
}

#[tokio::test]
async fn deleting_or_stopping_a_waiting_statement_never_runs_it() {
    let gw = start_one_slot(10).await;
    let dev = developer(&gw);
    hold_the_slot(&gw, &dev, "holder").await;
    let calls = gw.engine_calls();
    must_wait(&gw, &dev, "deleted", HOLDS).await;
    must_wait(&gw, &dev, "stopped", HOLDS).await;

    delete(&gw, &dev, "deleted").await;
    assert_eq!(get(&gw, &dev, "/statements/deleted").await.0, 404);
    let stopped = patch_stop(&gw, &dev, "stopped").await;
    assert_eq!(stopped["status"]["phase"], "STOPPED", "{stopped}");
    let detail = stopped["status"]["detail"].as_str().unwrap();
    assert!(detail.contains("never ran"), "{detail}");
    assert_eq!(
        pool_metric(&gw, "sqlgate_compute_pool_statements_queued", None).await,
        0
    );

    // The slot frees up with nobody left waiting: neither statement reaches the engine, and
    // the next statement runs at once.
    delete(&gw, &dev, "holder").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        gw.engine_calls(),
        calls,
        "nothing that waited reached the engine"
    );
    assert_eq!(
        pool_metric(&gw, "sqlgate_compute_pool_slots_in_use", None).await,
        0
    );
    let (_, after) = get(&gw, &dev, "/statements/stopped").await;
    assert_eq!(after["status"]["phase"], "STOPPED", "{after}");
    hold_the_slot(&gw, &dev, "next").await;

    // Audited as created and ended, never as running.
    for (name, end) in [
        ("deleted", "flink.DeleteStatement"),
        ("stopped", "flink.StatementStopped"),
    ] {
        let methods = audited(&gw, name, end).await;
        assert!(
            methods.iter().any(|m| m == "flink.CreateStatement"),
            "{name}: {methods:?}"
        );
        assert!(
            !methods.iter().any(|m| m == "flink.StatementRunning"),
            "{name}: {methods:?}"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn beyond_the_pools_queue_a_create_is_refused_with_429_and_keeps_no_name() {
    let gw = start_one_slot(1).await;
    let dev = developer(&gw);
    hold_the_slot(&gw, &dev, "holder").await;
    must_wait(&gw, &dev, "waits", HOLDS).await;
    let calls = gw.engine_calls();
    let (status, body) = post_statement(&gw, &dev, "refused", HOLDS, json!({})).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        body["errors"][0]["code"], "compute_pool.queue_full",
        "{body}"
    );
    let detail = common::detail(&body);
    assert!(
        detail.contains("compute pool `lfcp-dev` is exhausted")
            && detail.contains("compute_pools.max_pending")
            && detail.contains("nothing ran"),
        "{detail}"
    );
    assert_eq!(gw.engine_calls(), calls);
    assert_eq!(get(&gw, &dev, "/statements/refused").await.0, 404);
    assert_eq!(
        pool_metric(&gw, "sqlgate_compute_pool_statements_refused_total", None).await,
        1
    );
    gw.stop().await;
}

#[tokio::test]
async fn metadata_statements_and_dry_runs_need_no_slot() {
    let gw = start_one_slot(0).await;
    let dev = developer(&gw);
    hold_the_slot(&gw, &dev, "holder").await;
    // With no slot and no room to wait, only statements that hold none can be created.
    for (name, sql) in [
        ("show", "SHOW TABLES"),
        ("describe", "DESCRIBE examples.marketplace.orders"),
        ("ddl", "CREATE TABLE pool_ddl (id INT)"),
    ] {
        let (status, body) = post_statement(&gw, &dev, name, sql, json!({})).await;
        assert_eq!(status, 200, "{name}: {body}");
        // Started, not waiting (DESCRIBE's rows wait in the one-row buffer, RUNNING).
        let phase = body["status"]["phase"].as_str().unwrap();
        assert!(matches!(phase, "COMPLETED" | "RUNNING"), "{name}: {body}");
        assert!(body["status"]["scaling_status"].is_null(), "{name}: {body}");
    }
    let (status, body) =
        post_statement(&gw, &dev, "dry", HOLDS, json!({"sql.dry-run": "true"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["phase"], "COMPLETED", "{body}");
    let (status, body) = post_statement(&gw, &dev, "query", HOLDS, json!({})).await;
    assert_eq!(status, 429, "a query needs a slot: {body}");
    gw.stop().await;
}

#[tokio::test]
async fn a_restart_ends_a_waiting_statement_failed_saying_it_never_ran() {
    let gw = start_one_slot(10).await;
    let dev = developer(&gw);
    hold_the_slot(&gw, &dev, "holder").await;
    must_wait(&gw, &dev, "waiting", HOLDS).await;
    let dir = gw.stop().await;

    let gw = TestGateway::start_in(dir, one_slot(10)).await;
    let dev = developer(&gw);
    let (_, body) = get(&gw, &dev, "/statements/waiting").await;
    assert_eq!(body["status"]["phase"], "FAILED", "{body}");
    assert!(body["status"]["scaling_status"].is_null(), "{body}");
    assert_eq!(
        body["status"]["detail"],
        sqlgate::statements::lifecycle::RESTART_QUEUED,
        "{body}"
    );
    assert_eq!(gw.engine_calls(), 0);
    // The slots start free: the holder did not survive the restart either.
    assert_eq!(
        pool_metric(&gw, "sqlgate_compute_pool_slots_in_use", None).await,
        0
    );
    assert_eq!(
        pool_metric(&gw, "sqlgate_compute_pool_statements", Some("FAILED")).await,
        2
    );
    hold_the_slot(&gw, &dev, "after").await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_confluent_sql_driver_sees_pool_exhausted_and_deletes_the_statement() {
    let python = tokio::task::spawn_blocking(common::python::venv_python)
        .await
        .unwrap();
    let gw = start_one_slot(10).await;
    let dev = developer(&gw);
    hold_the_slot(&gw, &dev, "holder").await;
    let calls = gw.engine_calls();
    let out = common::python::run_script(
        &python,
        &gw,
        "pool_exhausted.py",
        &[("SQLGATE_TOKEN", gw.token("alice", &["developers"]))],
        "pool: done",
    )
    .await;
    let name = out
        .lines()
        .find_map(|l| l.strip_prefix("exhausted: "))
        .expect("the script names the statement");
    assert_eq!(get(&gw, &dev, &format!("/statements/{name}")).await.0, 404);
    assert_eq!(gw.engine_calls(), calls, "the waiting statement never ran");
    assert_eq!(
        pool_metric(&gw, "sqlgate_compute_pool_statements_queued", None).await,
        0
    );
    gw.stop().await;
}
