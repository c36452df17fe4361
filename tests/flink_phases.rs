//! The PENDING phase of statements on the real Flink engine (Apache Kafka, Apicurio Registry
//! and Flink 2.2.1 started by `scripts/dev-stack.sh`): a create answers PENDING at once while
//! Flink accepts the statement, and the client polls to RUNNING or COMPLETED; a stop or
//! DELETE while PENDING, a start longer than `start_timeout` and a restart while PENDING
//! leave nothing running on Flink (no live job on the JobManager, every SQL Gateway session
//! sqlgate opened closed).
//!
//! The tests of this file run one at a time (`SERIAL`): they count the SQL Gateway's open
//! sessions, which another test's statement would change.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};
use sqlgate::engine::EngineEntry;

use common::flink::{self, Flink, create, read_until, wait_phase};
use common::{Cred, TestGateway, broker, developer, registry};

/// Generous bounds: a statement's first job on a busy 2-core machine takes seconds.
const LONG: Duration = Duration::from_secs(120);

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A gateway whose default pool runs on the shared Flink, its engine entry tweaked.
async fn gateway(tweak: impl FnOnce(&mut EngineEntry)) -> (TestGateway, &'static Flink, String) {
    let kafka = broker::shared().await;
    let reg = registry::shared().await;
    let f = flink::shared().await;
    let gw = TestGateway::start_with(|c| configure(c, f, &kafka.bootstrap, &reg.url, tweak)).await;
    (gw, f, kafka.bootstrap.clone())
}

fn configure(
    c: &mut sqlgate::config::Config,
    f: &Flink,
    bootstrap: &str,
    registry: &str,
    tweak: impl FnOnce(&mut EngineEntry),
) {
    flink::on_flink(c, flink::kafka(bootstrap, registry), f);
    if let Some(e) = c.engines.iter_mut().find(|e| e.id == "flink-us") {
        tweak(e);
    }
}

fn streaming() -> Value {
    json!({"sql.current-catalog": "env-dev", "sql.current-database": "lkc-dev"})
}

fn snapshot() -> Value {
    json!({"sql.current-catalog": "env-dev", "sql.current-database": "lkc-dev", "sql.snapshot.mode": "now"})
}

/// Creates topic `table` (`id INT, v STRING`, JSON) and produces two records into it.
async fn table_with_rows(gw: &TestGateway, cred: &Cred, bootstrap: &str, table: &str) {
    let name = format!("ddl-{}", table.replace('_', "-"));
    let sql = format!("CREATE TABLE {table} (id INT, v STRING) WITH ('value.format' = 'json')");
    let (s, v) = create(gw, cred, &name, &sql, None, snapshot()).await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(gw, cred, &name, &["COMPLETED", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
    let p: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let ts = (chrono::Utc::now().timestamp_millis() / 60_000 - 10) * 60_000;
    for (i, v) in [(1, "a"), (2, "b")] {
        let payload = json!({"id": i, "v": v}).to_string();
        p.send(
            FutureRecord::<(), _>::to(table)
                .payload(&payload)
                .timestamp(ts + i64::from(i) * 1000),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    }
}

/// PATCHes `spec.stopped` of statement `name`; the response's status and body.
async fn stop(gw: &TestGateway, cred: &Cred, name: &str) -> (u16, Value) {
    let resp = cred
        .apply(
            gw.client()
                .patch(format!("{}/statements/{name}", gw.base())),
        )
        .header("content-type", "application/json-patch+json")
        .json(&json!([{"op": "replace", "path": "/spec/stopped", "value": true}]))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Job states of a job that is not over.
fn live(state: &str) -> bool {
    !matches!(state, "FINISHED" | "FAILED" | "CANCELED" | "SUSPENDED")
}

/// The SQL Gateway's sessions opened so far, by id.
fn sessions(f: &Flink) -> BTreeSet<String> {
    f.session_ids().0
}

/// Waits (bounded) until nothing of statement `name` runs on Flink, and stays so for 3 s:
/// no live job named after it, and every SQL Gateway session opened since `before` (what
/// [`sessions`] said before the statement was created) closed again. Sessions are matched by
/// id, so an earlier statement's session closing late does not count for this one.
async fn nothing_left(f: &Flink, name: &str, before: BTreeSet<String>) {
    let job = format!("sqlgate:{name}");
    let deadline = Instant::now() + LONG;
    let mut quiet_since: Option<Instant> = None;
    loop {
        let jobs = f.jobs().await;
        let running: Vec<_> = jobs.iter().filter(|(n, s)| *n == job && live(s)).collect();
        let (opened, closed) = f.session_ids();
        let open: Vec<_> = opened
            .difference(&before)
            .filter(|s| !closed.contains(*s))
            .collect();
        if running.is_empty() && open.is_empty() {
            let since = *quiet_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= Duration::from_secs(3) {
                return;
            }
        } else {
            quiet_since = None;
        }
        assert!(
            Instant::now() < deadline,
            "left on Flink after {LONG:?}: jobs {running:?}, sessions still open of those opened since the statement's create: {open:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_create_on_flink_answers_pending_at_once_and_the_client_polls_to_its_rows() {
    let _serial = SERIAL.lock().await;
    let (gw, f, bootstrap) = gateway(|_| {}).await;
    let dev = developer(&gw);
    table_with_rows(&gw, &dev, &bootstrap, "phase_events").await;

    // A bounded query: PENDING in the create's answer, then COMPLETED with its rows.
    let t = Instant::now();
    let (s, v) = create(&gw, &dev, "one", "SELECT 1 AS x", None, snapshot()).await;
    let answered = t.elapsed();
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"]["phase"], "PENDING", "{v}");
    let detail = v["status"]["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains("being submitted") && detail.contains("`lfcp-dev`"),
        "{detail}"
    );
    assert!(
        v["status"].get("scaling_status").is_none(),
        "not POOL_EXHAUSTED: {v}"
    );
    let v = wait_phase(&gw, &dev, "one", &["COMPLETED", "FAILED"], LONG).await;
    eprintln!(
        "[phases] SELECT 1: create answered in {} ms, COMPLETED after {} ms",
        answered.as_millis(),
        t.elapsed().as_millis()
    );
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
    assert_eq!(v["status"]["traits"]["is_bounded"], true, "{v}");
    let rows = read_until(&gw, &dev, "one", LONG, |_| false).await;
    assert_eq!(rows, [(0, json!(["1"]))]);

    // A streaming query: PENDING, then RUNNING with its traits, then rows.
    let sql = "SELECT id, v FROM phase_events";
    let before = sessions(f);
    let (s, v) = create(&gw, &dev, "tail", sql, None, streaming()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"]["phase"], "PENDING", "{v}");
    let v = wait_phase(&gw, &dev, "tail", &["RUNNING", "FAILED", "COMPLETED"], LONG).await;
    assert_eq!(v["status"]["phase"], "RUNNING", "{v}");
    assert_eq!(v["status"]["detail"], "Statement is running");
    let traits = &v["status"]["traits"];
    assert_eq!(traits["is_bounded"], false, "{traits}");
    assert_eq!(traits["schema"]["columns"][1]["name"], "v", "{traits}");
    let rows = read_until(&gw, &dev, "tail", LONG, |r| r.len() >= 2).await;
    assert_eq!(
        rows,
        [(0, json!(["1", "a"])), (0, json!(["2", "b"]))],
        "{rows:?}"
    );
    let del = dev
        .apply(gw.client().delete(format!("{}/statements/tail", gw.base())))
        .send()
        .await
        .unwrap();
    assert!(del.status().is_success(), "{}", del.status());
    f.wait_job("tail", "CANCELED", LONG).await;
    nothing_left(f, "tail", before).await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stop_or_delete_while_pending_abandons_the_start_and_leaves_nothing_on_flink() {
    let _serial = SERIAL.lock().await;
    let (gw, f, bootstrap) = gateway(|_| {}).await;
    let dev = developer(&gw);
    table_with_rows(&gw, &dev, &bootstrap, "phase_stops").await;
    let sql = "SELECT id, COUNT(*) AS n FROM phase_stops GROUP BY id";

    let before = sessions(f);
    let (s, v) = create(&gw, &dev, "stopped", sql, None, streaming()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"]["phase"], "PENDING", "{v}");
    let (s, v) = stop(&gw, &dev, "stopped").await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(
        &gw,
        &dev,
        "stopped",
        &["STOPPED", "FAILED", "RUNNING"],
        LONG,
    )
    .await;
    assert_eq!(v["status"]["phase"], "STOPPED", "{v}");
    let detail = v["status"]["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains("while it was being submitted") && detail.contains("never ran"),
        "{detail}"
    );
    nothing_left(f, "stopped", before).await;

    let before = sessions(f);
    let (s, v) = create(&gw, &dev, "deleted", sql, None, streaming()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"]["phase"], "PENDING", "{v}");
    let del = dev
        .apply(
            gw.client()
                .delete(format!("{}/statements/deleted", gw.base())),
        )
        .send()
        .await
        .unwrap();
    assert!(del.status().is_success(), "{}", del.status());
    let (s, v) = common::get(&gw, &dev, "/statements/deleted").await;
    assert_eq!(s, 404, "gone: {v}");
    nothing_left(f, "deleted", before).await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_start_longer_than_start_timeout_fails_saying_so_and_leaves_nothing_on_flink() {
    let _serial = SERIAL.lock().await;
    let (gw, f, bootstrap) = gateway(|e| e.start_timeout = Duration::from_millis(300)).await;
    let dev = developer(&gw);
    table_with_rows(&gw, &dev, &bootstrap, "phase_slow").await;
    let sql = "SELECT id, COUNT(*) AS n FROM phase_slow GROUP BY id";
    let before = sessions(f);
    let (s, v) = create(&gw, &dev, "slow", sql, None, streaming()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"]["phase"], "PENDING", "{v}");
    let v = wait_phase(&gw, &dev, "slow", &["FAILED", "RUNNING", "COMPLETED"], LONG).await;
    assert_eq!(v["status"]["phase"], "FAILED", "{v}");
    let detail = v["status"]["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains("did not accept the statement within 300ms"),
        "{detail}"
    );
    nothing_left(f, "slow", before).await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_while_pending_ends_the_statement_failed_saying_it_never_ran() {
    let _serial = SERIAL.lock().await;
    let kafka = broker::shared().await;
    let reg = registry::shared().await;
    let f = flink::shared().await;
    let tweak =
        |c: &mut sqlgate::config::Config| configure(c, f, &kafka.bootstrap, &reg.url, |_| {});
    let gw = TestGateway::start_with(tweak).await;
    let dev = developer(&gw);
    table_with_rows(&gw, &dev, &kafka.bootstrap, "phase_restart").await;
    let sql = "SELECT id, COUNT(*) AS n FROM phase_restart GROUP BY id";
    let before = sessions(f);
    let (s, v) = create(&gw, &dev, "cut", sql, None, streaming()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"]["phase"], "PENDING", "{v}");

    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, tweak).await;
    let dev = developer(&gw);
    let (s, v) = common::get(&gw, &dev, "/statements/cut").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"]["phase"], "FAILED", "{v}");
    assert_eq!(
        v["status"]["detail"],
        sqlgate::statements::lifecycle::RESTART_STARTING
    );
    nothing_left(f, "cut", before).await;
    gw.stop().await;
}
