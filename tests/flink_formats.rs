//! Formats both engines read: on a cluster served by Flink, a table sqlgate creates is
//! `avro-registry` by default (Flink `avro-confluent` with the registered schema), written and
//! read by Flink, by the embedded engine and by Confluent's Avro deserializer alike; a format
//! Flink cannot read (`json-registry`) is refused by name.

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use sqlgate::config::ComputePoolConfig;

use common::flink::{self, create, read_until, wait_phase};
use common::{Cred, TestGateway, broker, developer, registry};

const LONG: Duration = Duration::from_secs(120);
/// A pool on the embedded engine, in the region of the Flink pool.
const LOCAL: &str = "lfcp-local";

/// The tests of this file share one Flink and count its sessions: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn props() -> Value {
    json!({"sql.current-catalog": "env-dev", "sql.current-database": "lkc-dev", "sql.snapshot.mode": "now"})
}

/// A gateway over the shared Kafka cluster and registry whose default pool runs on the shared
/// Flink and whose pool [`LOCAL`] runs on the embedded engine.
async fn both_engines() -> (
    TestGateway,
    &'static broker::Broker,
    &'static registry::Registry,
    &'static flink::Flink,
) {
    let kafka = broker::shared().await;
    let reg = registry::shared().await;
    let f = flink::shared().await;
    let k = flink::kafka(&kafka.bootstrap, &reg.url);
    let gw = TestGateway::start_with(|c| {
        flink::on_flink(c, k, f);
        c.compute_pools.push(ComputePoolConfig {
            id: LOCAL.into(),
            environment: "env-dev".into(),
            region: "aws.us-east-2".into(),
            engine: None,
            ..Default::default()
        });
    })
    .await;
    (gw, kafka, reg, f)
}

/// Runs a statement to its end in `pool`; its final statement object.
async fn run(gw: &TestGateway, cred: &Cred, name: &str, sql: &str, pool: Option<&str>) -> Value {
    let (s, v) = create(gw, cred, name, sql, pool, props()).await;
    assert_eq!(s, 200, "{sql}: {v}");
    wait_phase(gw, cred, name, &["COMPLETED", "FAILED"], LONG).await
}

/// Runs `sql` on the Flink pool and asserts it FAILED with a detail naming each of `named`,
/// before Flink's SQL Gateway opened a session for it.
async fn refused_on_flink(
    gw: &TestGateway,
    cred: &Cred,
    f: &flink::Flink,
    name: &str,
    sql: &str,
    named: &[&str],
) {
    let before = f.sessions_opened();
    let v = run(gw, cred, name, sql, None).await;
    assert_eq!(v["status"]["phase"], "FAILED", "{v}");
    let detail = v["status"]["detail"].as_str().unwrap();
    assert!(named.iter().all(|n| detail.contains(n)), "{detail}");
    assert_eq!(f.sessions_opened(), before, "refused before Flink saw it");
}

async fn rows(
    gw: &TestGateway,
    cred: &Cred,
    name: &str,
    sql: &str,
    pool: Option<&str>,
) -> Vec<Value> {
    let v = run(gw, cred, name, sql, pool).await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{sql}: {v}");
    let mut r: Vec<Value> = read_until(gw, cred, name, LONG, |_| false)
        .await
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    r.sort_by_key(|r| r[0].as_str().unwrap_or("").to_string());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_avro_table_is_written_and_read_by_flink_the_embedded_engine_and_confluent_clients() {
    let _one = SERIAL.lock().await;
    let python = tokio::task::spawn_blocking(common::python::confluent_kafka_python);
    let (gw, kafka, reg, _f) = both_engines().await;
    let python = python.await.unwrap();
    let kafka_cfg = gw.config.environments[0].clusters[0]
        .kafka
        .as_ref()
        .unwrap();
    assert_eq!(kafka_cfg.default_format.as_deref(), Some("avro-registry"));
    let dev = developer(&gw);

    let v = run(
        &gw,
        &dev,
        "ddl",
        "CREATE TABLE payments (id INT, amount DOUBLE, note STRING)",
        None,
    )
    .await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
    let v = run(
        &gw,
        &dev,
        "by-flink",
        "INSERT INTO payments VALUES (1, 2.5, 'flink')",
        None,
    )
    .await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
    let v = run(
        &gw,
        &dev,
        "by-embedded",
        "INSERT INTO payments VALUES (2, 3.5, 'embedded')",
        Some(LOCAL),
    )
    .await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");

    let want = [
        json!(["1", "2.5", "flink"]),
        json!(["2", "3.5", "embedded"]),
    ];
    let sql = "SELECT id, amount, note FROM payments";
    assert_eq!(
        rows(&gw, &dev, "read-flink", sql, None).await,
        want,
        "Flink reads both"
    );
    assert_eq!(
        rows(&gw, &dev, "read-embedded", sql, Some(LOCAL)).await,
        want,
        "so does the embedded engine"
    );

    let out = common::python::run_with(
        &python,
        "flink_avro_types.py",
        &["consume"],
        &[
            ("SQLGATE_BOOTSTRAP", kafka.bootstrap.clone()),
            ("SCHEMA_REGISTRY_URL", reg.url.clone()),
            ("SQLGATE_TOPIC", "payments".to_string()),
        ],
        LONG,
    )
    .await;
    let mut got: Vec<Value> = serde_json::from_str(out.trim().lines().last().unwrap()).unwrap();
    got.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(
        got,
        [
            json!({"id": 1, "amount": 2.5, "note": "flink"}),
            json!({"id": 2, "amount": 3.5, "note": "embedded"}),
        ],
        "Confluent's Avro deserializer reads what both engines wrote"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn json_registry_is_refused_by_name_on_flink() {
    let _one = SERIAL.lock().await;
    let (gw, _, _, f) = both_engines().await;
    let dev = developer(&gw);
    let before = f.sessions_opened();
    let v = run(
        &gw,
        &dev,
        "framed-on-flink",
        "CREATE TABLE framed (id INT) WITH ('value.format' = 'json-registry')",
        None,
    )
    .await;
    assert_eq!(v["status"]["phase"], "FAILED", "{v}");
    let detail = v["status"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("'json-registry'") && detail.contains("Flink"),
        "{detail}"
    );

    // Made by the embedded engine's pool, the table exists; Flink refuses to read it, by name.
    let v = run(
        &gw,
        &dev,
        "framed-local",
        "CREATE TABLE framed (id INT) WITH ('value.format' = 'json-registry')",
        Some(LOCAL),
    )
    .await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
    let v = run(&gw, &dev, "framed-read", "SELECT * FROM framed", None).await;
    assert_eq!(v["status"]["phase"], "FAILED", "{v}");
    let detail = v["status"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("'json-registry'") && detail.contains("framed"),
        "{detail}"
    );
    assert_eq!(
        f.sessions_opened(),
        before,
        "no session was opened for refused formats"
    );
    gw.stop().await;
}

/// Values of the typed table, as the statements API shows them (both engines alike).
fn typed_row(id: &str) -> Value {
    json!([
        id,
        "2024-01-02 03:04:05.123",
        "2024-02-29",
        "12.34",
        "x'0102ff'",
        ["1", "2"]
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn timestamps_and_nested_avro_columns_are_shared_by_flink_the_embedded_engine_and_confluent_clients()
 {
    let _one = SERIAL.lock().await;
    let python = tokio::task::spawn_blocking(common::python::confluent_kafka_python);
    let (gw, kafka, reg, f) = both_engines().await;
    let python = python.await.unwrap();
    let dev = developer(&gw);
    let v = run(
        &gw,
        &dev,
        "typed-ddl",
        "CREATE TABLE typed (id INT, ts TIMESTAMP(3), d DATE, m DECIMAL(10, 2), b BYTES, \
         a ARRAY<INT>)",
        None,
    )
    .await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
    let v = run(
        &gw,
        &dev,
        "typed-by-flink",
        "INSERT INTO typed VALUES (1, TIMESTAMP '2024-01-02 03:04:05.123', DATE '2024-02-29', \
         12.34, X'0102ff', ARRAY[1, 2])",
        None,
    )
    .await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
    let v = run(
        &gw,
        &dev,
        "typed-by-embedded",
        "INSERT INTO typed VALUES (2, TIMESTAMP '2024-01-02 03:04:05.123', DATE '2024-02-29', \
         12.34, X'0102ff', ARRAY[1, 2])",
        Some(LOCAL),
    )
    .await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
    let env = [
        ("SQLGATE_BOOTSTRAP", kafka.bootstrap.clone()),
        ("SCHEMA_REGISTRY_URL", reg.url.clone()),
        ("SQLGATE_TOPIC", "typed".to_string()),
    ];
    common::python::run_with(&python, "flink_avro_types.py", &["produce"], &env, LONG).await;

    let want = [typed_row("1"), typed_row("2"), typed_row("3")];
    let sql = "SELECT id, ts, d, m, b, a FROM typed";
    assert_eq!(
        rows(&gw, &dev, "typed-read-flink", sql, None).await,
        want,
        "Flink reads what all three wrote"
    );
    assert_eq!(
        rows(&gw, &dev, "typed-read-embedded", sql, Some(LOCAL)).await,
        want,
        "so does the embedded engine"
    );
    let out =
        common::python::run_with(&python, "flink_avro_types.py", &["consume"], &env, LONG).await;
    let mut got: Vec<Value> = serde_json::from_str(out.trim().lines().last().unwrap()).unwrap();
    got.sort_by_key(|r| r["id"].as_i64());
    let confluent = |id: i64| {
        json!({"id": id, "ts": "2024-01-02T03:04:05.123000+00:00", "d": "2024-02-29",
               "m": "12.34", "b": "0102ff", "a": [1, 2]})
    };
    assert_eq!(
        got,
        [confluent(1), confluent(2), confluent(3)],
        "Confluent's Avro deserializer reads the same values"
    );

    // TIMESTAMP_LTZ has no form in Flink 2.2's avro-confluent: the embedded engine has it,
    // Flink refuses the table by name, naming the column, before any session is opened.
    // Created on Flink's pool, it is refused before anything is made.
    let column = ["`at`", "TIMESTAMP_LTZ", "instants"];
    refused_on_flink(
        &gw,
        &dev,
        f,
        "ltz-ddl-flink",
        "CREATE TABLE instants (id INT, at TIMESTAMP_LTZ(3))",
        &column,
    )
    .await;
    let tables = rows(&gw, &dev, "ltz-none", "SHOW TABLES", Some(LOCAL)).await;
    assert!(
        !tables.is_empty() && !tables.contains(&json!(["instants"])),
        "no topic was made: {tables:?}"
    );
    // Made by the embedded engine's pool, the table exists; Flink refuses to read it.
    let v = run(
        &gw,
        &dev,
        "ltz-ddl",
        "CREATE TABLE instants (id INT, at TIMESTAMP_LTZ(3))",
        Some(LOCAL),
    )
    .await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
    let v = run(
        &gw,
        &dev,
        "ltz-local",
        "INSERT INTO instants VALUES (1, CAST(TIMESTAMP '1970-01-01 00:00:00' AS TIMESTAMP_LTZ(3)))",
        Some(LOCAL),
    )
    .await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
    refused_on_flink(&gw, &dev, f, "ltz-flink", "SELECT * FROM instants", &column).await;
    assert_eq!(
        rows(
            &gw,
            &dev,
            "ltz-embedded",
            "SELECT id, at FROM instants",
            Some(LOCAL)
        )
        .await,
        [json!(["1", "1970-01-01 00:00:00.000"])],
        "the embedded engine reads it"
    );
    gw.stop().await;
}
