//! Flink-engine results as Confluent Cloud shows them, on the real parts (Kafka, Apicurio,
//! Flink 2.2.1 started by `scripts/dev-stack.sh`): `sql.local-time-zone` in computation with
//! TIMESTAMP_LTZ values shown in UTC, a zone Flink would not accept refused before Flink sees
//! it, statements refused by the guard or by authorization never reaching Flink (counted in
//! the SQL Gateway's log), and a temporal join against a table created with a PRIMARY KEY (a
//! versioned table on Flink).
//!
//! The tests run one at a time ([`SERIAL`]): two of them count the sessions the shared
//! Flink's SQL Gateway opened, which another test's statements would change.

mod common;

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};

use common::flink::{self, create, read_until, wait_phase};
use common::{Cred, TestGateway, broker, developer, registry};

/// Generous bounds: a statement's first job on a busy 2-core machine takes seconds.
const LONG: Duration = Duration::from_secs(120);

/// One test at a time (see the module doc).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const ORDERS_CRN: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=orders";

async fn gateway() -> (TestGateway, &'static flink::Flink) {
    let (gw, f, _) = gateway_and_broker().await;
    (gw, f)
}

async fn gateway_and_broker() -> (TestGateway, &'static flink::Flink, String) {
    let kafka = broker::shared().await;
    let reg = registry::shared().await;
    let f = flink::shared().await;
    let k = flink::kafka(&kafka.bootstrap, &reg.url);
    let gw = TestGateway::start_with(|c| flink::on_flink(c, k, f)).await;
    (gw, f, kafka.bootstrap.clone())
}

async fn run_ddl(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) {
    let (s, v) = create(gw, cred, name, sql, None, in_zone(None)).await;
    assert_eq!(s, 200, "{sql}: {v}");
    let v = wait_phase(gw, cred, name, &["COMPLETED", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{sql}: {v}");
}

/// Produces `(ms, key, value)` records (JSON; no key when `None`) with record timestamps
/// `ms` after `base`.
async fn produce(bootstrap: &str, topic: &str, base: i64, records: &[(i64, Option<Value>, Value)]) {
    let p: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for (at, key, value) in records {
        let payload = value.to_string();
        let key = key.as_ref().map(Value::to_string);
        let mut r = FutureRecord::<String, _>::to(topic)
            .payload(&payload)
            .timestamp(base + at);
        if let Some(k) = &key {
            r = r.key(k);
        }
        p.send(r, Duration::from_secs(10)).await.unwrap();
    }
}

/// Properties of a snapshot statement in `zone` (`None`: the default, UTC).
fn in_zone(zone: Option<&str>) -> Value {
    let mut p = json!({"sql.current-catalog": "env-dev", "sql.current-database": "lkc-dev", "sql.snapshot.mode": "now"});
    if let Some(z) = zone {
        p["sql.local-time-zone"] = json!(z);
    }
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_local_time_zone_applies_to_computation_and_ltz_values_are_shown_in_utc() {
    let _one = SERIAL.lock().await;
    let (gw, _f) = gateway().await;
    let dev = developer(&gw);
    // The instant 0 as TIMESTAMP_LTZ, and Flink's own rendering of it as a string (computed in
    // the statement's zone).
    let sql = "SELECT TO_TIMESTAMP_LTZ(0, 3) AS t, CAST(TO_TIMESTAMP_LTZ(0, 3) AS STRING) AS s";
    let utc = "1970-01-01 00:00:00.000";
    for (name, zone, computed) in [
        ("ltz-default", None, utc),
        ("ltz-utc", Some("UTC"), utc),
        (
            "ltz-berlin",
            Some("Europe/Berlin"),
            "1970-01-01 01:00:00.000",
        ),
        ("ltz-gmt-plus-2", Some("GMT+2"), "1970-01-01 02:00:00.000"),
    ] {
        let (s, v) = create(&gw, &dev, name, sql, None, in_zone(zone)).await;
        assert_eq!(s, 200, "{v}");
        let v = wait_phase(&gw, &dev, name, &["COMPLETED", "FAILED"], LONG).await;
        assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
        let column = &v["status"]["traits"]["schema"]["columns"][0]["type"];
        assert_eq!(column["type"], "TIMESTAMP_WITH_LOCAL_TIME_ZONE", "{column}");
        let rows = read_until(&gw, &dev, name, LONG, |_| false).await;
        // The statements API shows TIMESTAMP_LTZ values as UTC wall-clock time (the driver
        // tags them UTC); the zone changes what the statement computes.
        assert_eq!(rows, [(0, json!([utc, computed]))], "{zone:?}");
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_zone_flink_refuses_is_a_400_and_never_reaches_flink() {
    let _one = SERIAL.lock().await;
    let (gw, f) = gateway().await;
    let dev = developer(&gw);
    let before = f.sessions_opened();
    for (name, zone) in [
        ("tz-mars", "Mars/Olympus"),
        ("tz-offset", "+02:00"),
        ("tz-short", "PST"),
    ] {
        let (s, v) = create(&gw, &dev, name, "SELECT 1", None, in_zone(Some(zone))).await;
        assert_eq!(s, 400, "{zone}: {v}");
        let detail = v["errors"][0]["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("sql.local-time-zone") && detail.contains(zone),
            "{zone}: {v}"
        );
        let (s, _) = common::get(&gw, &dev, &format!("/statements/{name}")).await;
        assert_eq!(s, 404, "a refused statement is not stored");
    }
    assert_eq!(f.sessions_opened(), before, "no session reached Flink");
    gw.stop().await;
}

/// What the guard or authorization refuses on a Flink pool is refused before Flink: no
/// session is opened for it on the SQL Gateway (and the gateway's engine counter stays).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_statements_never_reach_flink() {
    let _one = SERIAL.lock().await;
    let kafka = broker::shared().await;
    let reg = registry::shared().await;
    let f = flink::shared().await;
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    common::bind(
        &dir.path().join("policies"),
        &[
            ("User:sa-orders", "FlinkDeveloper", common::ENV_CRN),
            ("User:sa-orders", "DeveloperRead", ORDERS_CRN),
        ],
    );
    let k = flink::kafka(&kafka.bootstrap, &reg.url);
    let gw = TestGateway::start_in(dir, |c| flink::on_flink(c, k, f)).await;
    let dev = developer(&gw);
    for (name, sql) in [
        (
            "g-orders",
            "CREATE TABLE IF NOT EXISTS orders (id INT) WITH ('value.format' = 'json')",
        ),
        (
            "g-salaries",
            "CREATE TABLE IF NOT EXISTS salaries (id INT, amount INT) WITH ('value.format' = 'json')",
        ),
    ] {
        run_ddl(&gw, &dev, name, sql).await;
    }
    let (key, secret) = gw.api_key("User:sa-orders");
    let reader = Cred::Basic(key, secret);
    let (sessions, calls) = (f.sessions_opened(), gw.engine_calls());
    for (name, sql, status, code) in [
        (
            "r-topic",
            "SELECT * FROM orders /*+ OPTIONS('topic'='salaries') */",
            400,
            "sql.option_not_allowed",
        ),
        ("r-denied", "SELECT * FROM salaries", 403, "authz.denied"),
        (
            "r-jar",
            "ADD JAR '/tmp/evil.jar'",
            400,
            "sql.statement_not_allowed",
        ),
        (
            "r-set",
            "SET 'pipeline.classpaths' = 'file:///tmp/evil.jar'",
            400,
            "sql.option_not_allowed",
        ),
    ] {
        let (s, v) = create(&gw, &reader, name, sql, None, in_zone(None)).await;
        assert_eq!(
            (s, v["errors"][0]["code"].as_str()),
            (status, Some(code)),
            "{sql}: {v}"
        );
    }
    assert_eq!(
        gw.engine_calls(),
        calls,
        "a refused statement reached an engine"
    );
    assert_eq!(
        f.sessions_opened(),
        sessions,
        "a refused statement reached Flink"
    );
    // The count does move for a statement that is allowed.
    let (s, v) = create(
        &gw,
        &reader,
        "r-allowed",
        "SELECT * FROM orders",
        None,
        in_zone(None),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    wait_phase(&gw, &reader, "r-allowed", &["COMPLETED", "FAILED"], LONG).await;
    assert!(
        f.sessions_opened() > sessions,
        "the allowed read opened a Flink session"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_temporal_join_gives_each_order_the_rate_valid_at_its_time() {
    let _one = SERIAL.lock().await;
    let (gw, _f, bootstrap) = gateway_and_broker().await;
    let dev = developer(&gw);
    // A table with a PRIMARY KEY is an upsert table: on Flink a versioned table (its key and
    // the `$rowtime` watermark), so it can be joined FOR SYSTEM_TIME AS OF.
    run_ddl(
        &gw,
        &dev,
        "ddl-rates",
        "CREATE TABLE rates (currency STRING, rate DECIMAL(10, 2), PRIMARY KEY (currency) NOT ENFORCED) \
         WITH ('key.format' = 'json', 'value.format' = 'json')",
    )
    .await;
    run_ddl(
        &gw,
        &dev,
        "ddl-orders",
        "CREATE TABLE orders (id INT, currency STRING, amount INT) WITH ('value.format' = 'json')",
    )
    .await;
    // Record timestamps (the tables' event time, `$rowtime`) within the topics' retention.
    let base = (chrono::Utc::now().timestamp_millis() / 60_000 - 10) * 60_000;
    let rate = |c: &str, r: f64| (Some(json!({"currency": c})), json!({"rate": r}));
    let mut rates = Vec::new();
    for (at, (k, v)) in [
        (1_000, rate("EUR", 1.10)),
        (1_000, rate("USD", 1.00)),
        (10_000, rate("EUR", 1.20)),
        (20_000, rate("USD", 0.90)),
        // Moves the rates' watermark on (without relying on the source going idle).
        (60_000, rate("GBP", 1.30)),
    ] {
        rates.push((at, k, v));
    }
    produce(&bootstrap, "rates", base, &rates).await;
    let order = |id: i32, c: &str, amount: i32| json!({"id": id, "currency": c, "amount": amount});
    produce(
        &bootstrap,
        "orders",
        base,
        &[
            (5_000, None, order(1, "EUR", 10)),
            (15_000, None, order(2, "EUR", 20)),
            (15_000, None, order(3, "USD", 30)),
            (25_000, None, order(4, "USD", 40)),
            // Moves the orders' watermark past the others.
            (60_000, None, order(5, "EUR", 1)),
        ],
    )
    .await;

    let (s, v) = create(
        &gw,
        &dev,
        "priced",
        "SELECT o.id, o.currency, o.amount, r.rate FROM orders AS o \
         JOIN rates FOR SYSTEM_TIME AS OF o.`$rowtime` AS r ON o.currency = r.currency",
        None,
        json!({"sql.current-catalog": "env-dev", "sql.current-database": "lkc-dev"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(&gw, &dev, "priced", &["RUNNING", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "RUNNING", "{v}");
    assert_eq!(v["status"]["traits"]["is_append_only"], true, "{v}");
    let rows = read_until(&gw, &dev, "priced", LONG, |r| {
        ["1", "2", "3", "4"]
            .iter()
            .all(|id| r.iter().any(|(_, row)| row[0] == *id))
    })
    .await;
    let mut got: Vec<Value> = rows
        .iter()
        .map(|(op, row)| {
            assert_eq!(*op, 0, "a temporal join only inserts: {rows:?}");
            row.clone()
        })
        .filter(|row| row[0] != "5")
        .collect();
    got.sort_by_key(|r| r[0].as_str().unwrap_or_default().to_string());
    assert_eq!(
        got,
        [
            json!(["1", "EUR", "10", "1.10"]),
            json!(["2", "EUR", "20", "1.20"]),
            json!(["3", "USD", "30", "1.00"]),
            json!(["4", "USD", "40", "0.90"]),
        ],
        "each order with the rate valid at its time"
    );

    gw.stop().await;
}
