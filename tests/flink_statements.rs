//! Statements on the real Flink engine: Apache Kafka, Apicurio Registry and Flink 2.2.1 (JobManager,
//! TaskManager, SQL Gateway) started by `scripts/dev-stack.sh`, the gateway's default compute
//! pool running on that Flink. Queries over topics a Kafka producer filled, the changelog of a
//! streaming aggregation, stop cancelling the Flink job, INSERT INTO … SELECT as a job, and
//! the SQL Gateway's absence as 503.

mod common;

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};

use common::flink::{self, create, read_until, wait_phase};
use common::{Cred, TestGateway, broker, developer, registry};

/// Generous bounds: a statement's first job on a busy 2-core machine takes seconds.
const LONG: Duration = Duration::from_secs(120);

async fn gateway() -> (TestGateway, &'static flink::Flink, String) {
    let kafka = broker::shared().await;
    let reg = registry::shared().await;
    let f = flink::shared().await;
    let k = flink::kafka(&kafka.bootstrap, &reg.url);
    let gw = TestGateway::start_with(|c| flink::on_flink(c, k, f)).await;
    (gw, f, kafka.bootstrap.clone())
}

/// Properties of a streaming statement in `env-dev`.`lkc-dev`.
fn streaming() -> Value {
    json!({"sql.current-catalog": "env-dev", "sql.current-database": "lkc-dev"})
}

/// Properties of a snapshot (bounded) statement.
fn snapshot() -> Value {
    json!({"sql.current-catalog": "env-dev", "sql.current-database": "lkc-dev", "sql.snapshot.mode": "now"})
}

async fn run_ddl(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) {
    let (s, v) = create(gw, cred, name, sql, None, snapshot()).await;
    assert_eq!(s, 200, "{sql}: {v}");
    let v = wait_phase(gw, cred, name, &["COMPLETED", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{sql}: {v}");
}

fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap()
}

/// Produces JSON values with record timestamps (ms after a whole minute ten minutes ago:
/// within the topic's retention, which would delete records of 1970 at its next check).
async fn produce(bootstrap: &str, topic: &str, records: &[(i64, Value)]) {
    let p = producer(bootstrap);
    let base = (chrono::Utc::now().timestamp_millis() / 60_000 - 10) * 60_000;
    for (at, v) in records {
        let ts = &(base + at);
        let payload = v.to_string();
        p.send(
            FutureRecord::<(), _>::to(topic)
                .payload(&payload)
                .timestamp(*ts),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn select_one_runs_on_flink_with_exact_decimals() {
    let (gw, f, _) = gateway().await;
    let dev = developer(&gw);
    let (s, v) = create(
        &gw,
        &dev,
        "one",
        "SELECT 1 AS x, CAST('100' AS DECIMAL(38, 18)) AS d, CAST(0.000000000000000001 AS DECIMAL(38, 18)) AS e",
        None,
        snapshot(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(&gw, &dev, "one", &["COMPLETED", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
    let traits = &v["status"]["traits"];
    assert_eq!(traits["is_bounded"], true, "{traits}");
    assert_eq!(traits["schema"]["columns"][1]["type"]["type"], "DECIMAL");
    assert_eq!(traits["schema"]["columns"][1]["type"]["scale"], 18);
    let rows = read_until(&gw, &dev, "one", LONG, |_| false).await;
    assert_eq!(
        rows,
        [(
            0,
            json!(["1", "100.000000000000000000", "0.000000000000000001"])
        )]
    );
    f.wait_job("one", "FINISHED", LONG).await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flink_error_is_reduced_to_its_root_cause() {
    let (gw, _f, _) = gateway().await;
    let dev = developer(&gw);
    let (s, v) = create(&gw, &dev, "bad", "SELECT 1/0", None, snapshot()).await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(&gw, &dev, "bad", &["FAILED", "COMPLETED"], LONG).await;
    let detail = v["status"]["detail"].as_str().unwrap();
    assert_eq!(v["status"]["phase"], "FAILED", "{v}");
    assert!(detail.contains("Division by zero"), "{detail}");
    assert!(!detail.contains("\tat "), "no stack trace: {detail}");
    gw.stop().await;
}

/// Statements sqlgate answers itself on a Flink pool (SHOW, DESCRIBE, ALTER TABLE) but does not
/// support in some form are refused saying so, not pointing to a Flink engine that the pool
/// already is.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_own_statement_sqlgate_does_not_support_is_refused_without_pointing_elsewhere() {
    let (gw, _f, _) = gateway().await;
    let dev = developer(&gw);
    // (SHOW CREATE TABLE of a Kafka-backed table is answered since `kafka/shown.rs`.)
    for (name, sql) in [("own-functions", "SHOW FUNCTIONS")] {
        let (s, v) = create(&gw, &dev, name, sql, None, snapshot()).await;
        let detail = if s == 200 {
            let v = wait_phase(&gw, &dev, name, &["FAILED", "COMPLETED"], LONG).await;
            assert_eq!(v["status"]["phase"], "FAILED", "{sql}: {v}");
            v["status"]["detail"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        } else {
            v["errors"][0]["detail"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        assert!(
            detail.contains("sqlgate answers") && !detail.contains("Flink SQL Gateway engine does"),
            "{sql}: {detail}"
        );
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_streaming_group_by_delivers_the_changelog_and_stop_cancels_its_job() {
    let (gw, f, bootstrap) = gateway().await;
    let dev = developer(&gw);
    run_ddl(
        &gw,
        &dev,
        "ddl-scores",
        "CREATE TABLE scores (player STRING, points INT) WITH ('value.format' = 'json')",
    )
    .await;
    produce(
        &bootstrap,
        "scores",
        &[
            (1_000, json!({"player": "ann", "points": 3})),
            (2_000, json!({"player": "bob", "points": 1})),
            (3_000, json!({"player": "ann", "points": 4})),
        ],
    )
    .await;
    let (s, v) = create(
        &gw,
        &dev,
        "totals",
        "SELECT player, SUM(points) AS total FROM scores GROUP BY player",
        None,
        streaming(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(&gw, &dev, "totals", &["RUNNING", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "RUNNING", "{v}");
    assert_eq!(v["status"]["traits"]["is_bounded"], false);
    assert_eq!(v["status"]["traits"]["is_append_only"], false);
    assert_eq!(
        v["status"]["traits"]["upsert_columns"],
        json!([0]),
        "keyed by the grouping column"
    );
    let rows = read_until(&gw, &dev, "totals", LONG, |r| r.len() >= 4).await;
    let ann: Vec<(u64, Value)> = rows
        .iter()
        .filter(|(_, r)| r[0] == "ann")
        .cloned()
        .collect();
    assert_eq!(
        ann,
        [
            (0, json!(["ann", "3"])),
            (1, json!(["ann", "3"])),
            (2, json!(["ann", "7"]))
        ],
        "+I, -U, +U: {rows:?}"
    );
    f.wait_job("totals", "RUNNING", LONG).await;

    let stop = dev
        .apply(
            gw.client()
                .patch(format!("{}/statements/totals", gw.base())),
        )
        .header("content-type", "application/json-patch+json")
        .json(&json!([{"op": "replace", "path": "/spec/stopped", "value": true}]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        stop.status().as_u16(),
        200,
        "{}",
        stop.text().await.unwrap()
    );
    wait_phase(&gw, &dev, "totals", &["STOPPED"], LONG).await;
    f.wait_job("totals", "CANCELED", LONG).await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn insert_into_select_runs_as_a_flink_job_until_deleted() {
    let (gw, f, bootstrap) = gateway().await;
    let dev = developer(&gw);
    run_ddl(
        &gw,
        &dev,
        "ddl-src",
        "CREATE TABLE moves (id INT, dist INT) WITH ('value.format' = 'json')",
    )
    .await;
    run_ddl(
        &gw,
        &dev,
        "ddl-dst",
        "CREATE TABLE far_moves (id INT, dist INT) WITH ('value.format' = 'json')",
    )
    .await;
    produce(
        &bootstrap,
        "moves",
        &[
            (1_000, json!({"id": 1, "dist": 5})),
            (2_000, json!({"id": 2, "dist": 50})),
        ],
    )
    .await;
    let (s, v) = create(
        &gw,
        &dev,
        "copy",
        "INSERT INTO far_moves SELECT id, dist FROM moves WHERE dist > 10",
        None,
        streaming(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    f.wait_job("copy", "RUNNING", LONG).await;
    let v = wait_phase(&gw, &dev, "copy", &["RUNNING", "FAILED", "COMPLETED"], LONG).await;
    assert_eq!(
        v["status"]["phase"], "RUNNING",
        "a job runs until stopped: {v}"
    );
    produce(
        &bootstrap,
        "moves",
        &[(3_000, json!({"id": 3, "dist": 70}))],
    )
    .await;

    // What the job wrote, read back by a bounded query on Flink.
    let deadline = std::time::Instant::now() + LONG;
    let mut n = 0;
    let got = loop {
        n += 1;
        let name = format!("check-{n}");
        let (s, v) = create(
            &gw,
            &dev,
            &name,
            "SELECT id, dist FROM far_moves",
            None,
            snapshot(),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        wait_phase(&gw, &dev, &name, &["COMPLETED"], LONG).await;
        let rows = read_until(&gw, &dev, &name, LONG, |_| false).await;
        if rows.len() >= 2 || std::time::Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut got: Vec<Value> = got.into_iter().map(|(_, r)| r).collect();
    got.sort_by_key(|r| r[0].as_str().unwrap_or("").to_string());
    assert_eq!(got, [json!(["2", "50"]), json!(["3", "70"])]);

    let del = dev
        .apply(gw.client().delete(format!("{}/statements/copy", gw.base())))
        .send()
        .await
        .unwrap();
    assert!(del.status().is_success(), "{}", del.status());
    f.wait_job("copy", "CANCELED", LONG).await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sql_gateway_down_is_503_with_retry_after_and_nothing_runs() {
    let kafka = broker::shared().await;
    let reg = registry::shared().await;
    // A port nothing listens on: the SQL Gateway is down.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let k = flink::kafka(&kafka.bootstrap, &reg.url);
    let gw = TestGateway::start_with(|c| {
        c.environments[0].clusters[0].kafka = Some(k);
        let mut e = sqlgate::engine::EngineEntry::flink("flink-us", &url, &url);
        e.request_timeout = Duration::from_secs(3);
        c.engines.push(e);
        c.compute_pools[0].engine = Some("flink-us".into());
    })
    .await;
    let dev = developer(&gw);
    let (s, v) = create(&gw, &dev, "down", "SELECT 1", None, snapshot()).await;
    assert_eq!(s, 503, "{v}");
    assert!(v["_retry_after"].as_str().is_some(), "Retry-After: {v}");
    let detail = common::detail(&v);
    assert!(detail.contains("Flink SQL Gateway"), "{detail}");
    // Nothing is left: the name is free again.
    let (s, _) = common::get(&gw, &dev, "/statements/down").await;
    assert_eq!(s, 404);
    gw.stop().await;
}

/// Runs of each round-trip measurement.
const RUNS: usize = 10;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `sql` to its last row through sqlgate (create, wait for COMPLETED, read the results), in
/// milliseconds; checks it gave `rows` rows.
async fn via_sqlgate(gw: &TestGateway, cred: &Cred, name: &str, sql: &str, rows: usize) -> f64 {
    let t = std::time::Instant::now();
    let (s, v) = create(gw, cred, name, sql, None, snapshot()).await;
    assert_eq!(s, 200, "{v}");
    wait_phase(gw, cred, name, &["COMPLETED"], LONG).await;
    let got = read_until(gw, cred, name, LONG, |_| false).await;
    assert_eq!(got.len(), rows, "{sql}: {got:?}");
    t.elapsed().as_secs_f64() * 1000.0
}

/// `d` to its last row straight on the SQL Gateway (session, session statements, submit,
/// poll, fetch to EOS, close), in milliseconds; checks the row count.
async fn direct(f: &flink::Flink, d: &flink::DirectStatement, rows: usize) -> f64 {
    let c = reqwest::Client::new();
    let t = std::time::Instant::now();
    let got = f.direct(&c, d, Duration::from_millis(20), LONG).await;
    assert_eq!(got.len(), rows, "{d:?}: {got:?}");
    t.elapsed().as_secs_f64() * 1000.0
}

fn print_ratio(what: &str, via: Vec<f64>, direct: Vec<f64>) {
    let (v, d) = (median(via), median(direct));
    println!(
        "{what} round trip to the last row, median of {RUNS}: via sqlgate {v:.0} ms, straight to the SQL Gateway {d:.0} ms, ratio {:.2}",
        v / d
    );
}

/// `SELECT 1` to its last row, [`RUNS`] times, through sqlgate and straight to the SQL
/// Gateway; prints the medians. A measurement, not a check: `cargo test --test
/// flink_statements measure_ -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement; run it with --ignored --nocapture"]
async fn measure_select_one_round_trip_via_sqlgate_and_direct() {
    let (gw, f, _) = gateway().await;
    let dev = developer(&gw);
    let mut via = Vec::new();
    for i in 0..RUNS {
        via.push(via_sqlgate(&gw, &dev, &format!("m-{i}"), "SELECT 1", 1).await);
    }
    let mut straight = Vec::new();
    for _ in 0..RUNS {
        straight.push(direct(f, &flink::DirectStatement::plain("SELECT 1"), 1).await);
    }
    print_ratio("SELECT 1", via, straight);
    gw.stop().await;
}

/// A TUMBLE window aggregation over a small topic already filled (60 records, 6 windows),
/// bounded (`sql.snapshot.mode` = now), to its last row, [`RUNS`] times, through sqlgate and
/// straight to the SQL Gateway. The direct path sends exactly what sqlgate sends for it (the
/// session properties, the declarations of the table, the rendered statement), recorded
/// once by a pass-through in front of the SQL Gateway; like sqlgate, it opens a session per
/// run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement; run it with --ignored --nocapture"]
async fn measure_tumble_window_round_trip_via_sqlgate_and_direct() {
    let (gw, f, bootstrap) = gateway().await;
    let dev = developer(&gw);
    run_ddl(
        &gw,
        &dev,
        "ddl-taps",
        "CREATE TABLE taps (user_id STRING, amount INT) WITH ('value.format' = 'json')",
    )
    .await;
    let records: Vec<(i64, Value)> = (0..60)
        .map(|i| {
            (
                i * 1_000,
                json!({"user_id": format!("u{}", i % 3), "amount": i}),
            )
        })
        .collect();
    produce(&bootstrap, "taps", &records).await;
    let sql = "SELECT window_start, window_end, COUNT(*) AS n, SUM(amount) AS total \
               FROM TABLE(TUMBLE(TABLE taps, DESCRIPTOR(`$rowtime`), INTERVAL '10' SECOND)) \
               GROUP BY window_start, window_end";

    // What sqlgate sends for it, recorded by a second gateway on the same Kafka and Flink.
    let recorder = common::recorder::start(&f.sql_gateway).await;
    let kafka = broker::shared().await;
    let reg = registry::shared().await;
    let k = flink::kafka(&kafka.bootstrap, &reg.url);
    let recorded_gw = TestGateway::start_with(|c| {
        c.environments[0].clusters[0].kafka = Some(k);
        let mut e = f.engine("flink-us");
        e.sql_gateway_url = Some(recorder.url.clone());
        c.engines.push(e);
        c.compute_pools[0].engine = Some("flink-us".into());
    })
    .await;
    let rdev = developer(&recorded_gw);
    via_sqlgate(&recorded_gw, &rdev, "w-recorded", sql, 6).await;
    recorded_gw.stop().await;
    let d = flink::DirectStatement::recorded(&recorder.posts());
    println!("what sqlgate sends to the SQL Gateway for it: {d:#?}");

    let mut via = Vec::new();
    for i in 0..RUNS {
        via.push(via_sqlgate(&gw, &dev, &format!("w-{i}"), sql, 6).await);
    }
    let mut straight = Vec::new();
    for _ in 0..RUNS {
        straight.push(direct(f, &d, 6).await);
    }
    print_ratio("TUMBLE window (60 records, 6 windows)", via, straight);
    gw.stop().await;
}

/// Views on a Flink pool: CREATE VIEW is kept by the gateway, a read of the view runs on Flink
/// as its body (exact rows), SHOW VIEWS lists it, a table name is not taken, DROP VIEW removes
/// it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn views_on_a_flink_pool_are_kept_by_the_gateway_and_read_through_flink() {
    let (gw, _f, bootstrap) = gateway().await;
    let dev = developer(&gw);
    run_ddl(
        &gw,
        &dev,
        "ddl",
        "CREATE TABLE view_src (id INT, kind STRING) WITH ('value.format' = 'json')",
    )
    .await;
    produce(
        &bootstrap,
        "view_src",
        &[
            (1_000, json!({"id": 1, "kind": "a"})),
            (2_000, json!({"id": 2, "kind": "b"})),
            (3_000, json!({"id": 3, "kind": "a"})),
        ],
    )
    .await;
    run_ddl(
        &gw,
        &dev,
        "cv",
        "CREATE VIEW view_a AS SELECT id FROM view_src WHERE kind = 'a'",
    )
    .await;
    let read = |name: &'static str, sql: &'static str| {
        let (gw, dev) = (&gw, &dev);
        async move {
            let (s, v) = create(gw, dev, name, sql, None, snapshot()).await;
            assert_eq!(s, 200, "{sql}: {v}");
            let v = wait_phase(gw, dev, name, &["COMPLETED", "FAILED"], LONG).await;
            assert_eq!(v["status"]["phase"], "COMPLETED", "{sql}: {v}");
            let mut rows: Vec<Value> = read_until(gw, dev, name, LONG, |_| false)
                .await
                .into_iter()
                .map(|(_, r)| r)
                .collect();
            rows.sort_by_key(|r| r.to_string());
            rows
        }
    };
    assert_eq!(
        read("rv", "SELECT id FROM view_a").await,
        [json!(["1"]), json!(["3"])]
    );
    assert_eq!(read("sv", "SHOW VIEWS").await, [json!(["view_a"])]);
    let (s, v) = create(
        &gw,
        &dev,
        "taken",
        "CREATE VIEW view_src AS SELECT 1",
        None,
        snapshot(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(&gw, &dev, "taken", &["COMPLETED", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "FAILED", "{v}");
    let d = v["status"]["detail"].as_str().unwrap_or_default();
    assert!(d.contains("already the name of a table"), "{d}");
    run_ddl(&gw, &dev, "dv", "DROP VIEW view_a").await;
    assert_eq!(read("sv2", "SHOW VIEWS").await, Vec::<Value>::new());
    gw.stop().await;
}
