//! The unmodified `confluent-sql` 0.7.0 driver against the gateway whose default pool runs
//! on a real Flink 2.2.1: a TUMBLE window aggregation over a topic a Kafka producer filled
//! (snapshot and streaming), and a streaming GROUP BY read as a changelog, raw and through the
//! driver's changelog compressor (keyed by the statement's `upsert_columns`).

mod common;

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;

use common::flink::{self, create, wait_phase};
use common::{TestGateway, broker, developer, registry};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn confluent_sql_runs_tumble_windows_and_a_changelog_on_flink() {
    let python = tokio::task::spawn_blocking(common::python::venv_python);
    let kafka = broker::shared().await;
    let reg = registry::shared().await;
    let f = flink::shared().await;
    let python = python.await.unwrap();
    let k = flink::kafka(&kafka.bootstrap, &reg.url);
    let gw = TestGateway::start_with(|c| flink::on_flink(c, k, f)).await;
    let dev = developer(&gw);

    let props = json!({"sql.current-catalog": "env-dev", "sql.current-database": "lkc-dev", "sql.snapshot.mode": "now"});
    let (s, v) = create(
        &gw,
        &dev,
        "ddl-clicks",
        "CREATE TABLE clicks (user_id STRING, amount INT) WITH ('value.format' = 'json')",
        None,
        props,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(
        &gw,
        &dev,
        "ddl-clicks",
        &["COMPLETED", "FAILED"],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");

    // Record timestamps within the topic's retention: a whole minute ten minutes ago.
    let now = chrono::Utc::now().timestamp_millis();
    let base = (now / 60_000 - 10) * 60_000;
    let records = [
        (1_000, "u1", 1),
        (4_000, "u2", 2),
        (9_000, "u1", 3),
        (12_000, "u1", 4),
        (15_000, "u2", 5),
        (25_000, "u1", 6),
    ];
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap)
        .create()
        .unwrap();
    for (at, user, amount) in records {
        let value = json!({"user_id": user, "amount": amount}).to_string();
        producer
            .send(
                FutureRecord::<(), _>::to("clicks")
                    .payload(&value)
                    .timestamp(base + at),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    let at = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(base + ms)
            .unwrap()
            .naive_utc()
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let expect = json!([
        [at(0), at(10_000), 3, 6],
        [at(10_000), at(20_000), 2, 9],
        [at(20_000), at(30_000), 1, 6],
    ]);
    let token = gw.token("alice", &["developers"]);
    common::python::run_script(
        &python,
        &gw,
        "flink_e2e.py",
        &[
            ("SQLGATE_TOKEN", token),
            ("SQLGATE_EXPECT", expect.to_string()),
        ],
        "flink e2e: all checks passed",
    )
    .await;
    gw.stop().await;
}
