//! Flink-only SQL through the gateway on a real Flink 2.2.1: `MATCH_RECOGNIZE` over a topic a
//! Kafka producer filled, and an `EXECUTE STATEMENT SET` writing two tables in one job.

mod common;

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};

use common::flink::{self, create, read_until, wait_phase};
use common::{Cred, TestGateway, broker, developer, registry};

const LONG: Duration = Duration::from_secs(120);

fn props(snapshot: bool) -> Value {
    let mut p = json!({"sql.current-catalog": "env-dev", "sql.current-database": "lkc-dev"});
    if snapshot {
        p["sql.snapshot.mode"] = json!("now");
    }
    p
}

async fn gateway() -> (TestGateway, String) {
    let kafka = broker::shared().await;
    let reg = registry::shared().await;
    let f = flink::shared().await;
    let k = flink::kafka(&kafka.bootstrap, &reg.url);
    let gw = TestGateway::start_with(|c| flink::on_flink(c, k, f)).await;
    (gw, kafka.bootstrap.clone())
}

async fn completed(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) {
    let (s, v) = create(gw, cred, name, sql, None, props(true)).await;
    assert_eq!(s, 200, "{sql}: {v}");
    let v = wait_phase(gw, cred, name, &["COMPLETED", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{sql}: {v}");
}

async fn produce(bootstrap: &str, topic: &str, records: &[(i64, Value)]) {
    let p: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for (ts, v) in records {
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

fn base() -> i64 {
    (chrono::Utc::now().timestamp_millis() / 60_000 - 10) * 60_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn match_recognize_finds_a_rise_in_a_stream() {
    let (gw, bootstrap) = gateway().await;
    let dev = developer(&gw);
    completed(
        &gw,
        &dev,
        "ddl-ticks",
        "CREATE TABLE ticks (sym STRING, price INT) WITH ('value.format' = 'json')",
    )
    .await;
    let t0 = base();
    let tick = |at: i64, p: i64| (t0 + at, json!({"sym": "ACME", "price": p}));
    // 10 → 12 is the one rise; later ticks move the watermark past it.
    produce(
        &bootstrap,
        "ticks",
        &[
            tick(1_000, 10),
            tick(2_000, 12),
            tick(3_000, 11),
            tick(8_000, 9),
            tick(15_000, 8),
        ],
    )
    .await;
    let sql = "SELECT * FROM ticks MATCH_RECOGNIZE (PARTITION BY sym ORDER BY `$rowtime` \
               MEASURES A.price AS low, B.price AS high ONE ROW PER MATCH \
               AFTER MATCH SKIP PAST LAST ROW PATTERN (A B) DEFINE B AS B.price > A.price)";
    let (s, v) = create(&gw, &dev, "rises", sql, None, props(false)).await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(&gw, &dev, "rises", &["RUNNING", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "RUNNING", "{v}");
    let rows = read_until(&gw, &dev, "rises", LONG, |r| !r.is_empty()).await;
    assert_eq!(rows, [(0, json!(["ACME", "10", "12"]))]);
    let del = dev
        .apply(
            gw.client()
                .delete(format!("{}/statements/rises", gw.base())),
        )
        .send()
        .await
        .unwrap();
    assert!(del.status().is_success());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_statement_set_writes_two_tables_in_one_job() {
    let (gw, bootstrap) = gateway().await;
    let dev = developer(&gw);
    for (name, sql) in [
        (
            "ddl-events",
            "CREATE TABLE events (kind STRING, n INT) WITH ('value.format' = 'json')",
        ),
        (
            "ddl-big",
            "CREATE TABLE big_events (kind STRING, n INT) WITH ('value.format' = 'json')",
        ),
        (
            "ddl-small",
            "CREATE TABLE small_events (kind STRING, n INT) WITH ('value.format' = 'json')",
        ),
    ] {
        completed(&gw, &dev, name, sql).await;
    }
    let t0 = base();
    produce(
        &bootstrap,
        "events",
        &[
            (t0 + 1_000, json!({"kind": "a", "n": 1})),
            (t0 + 2_000, json!({"kind": "b", "n": 100})),
            (t0 + 3_000, json!({"kind": "c", "n": 5})),
        ],
    )
    .await;
    completed(
        &gw,
        &dev,
        "split",
        "EXECUTE STATEMENT SET BEGIN \
           INSERT INTO big_events SELECT kind, n FROM events WHERE n >= 10; \
           INSERT INTO small_events SELECT kind, n FROM events WHERE n < 10; \
         END",
    )
    .await;
    let read = |name: &'static str, sql: &'static str| {
        let (gw, dev) = (&gw, &dev);
        async move {
            let (s, v) = create(gw, dev, name, sql, None, props(true)).await;
            assert_eq!(s, 200, "{v}");
            wait_phase(gw, dev, name, &["COMPLETED"], LONG).await;
            let mut r: Vec<Value> = read_until(gw, dev, name, LONG, |_| false)
                .await
                .into_iter()
                .map(|(_, r)| r)
                .collect();
            r.sort_by_key(|r| r[0].as_str().unwrap_or("").to_string());
            r
        }
    };
    assert_eq!(
        read("read-big", "SELECT kind, n FROM big_events").await,
        [json!(["b", "100"])]
    );
    assert_eq!(
        read("read-small", "SELECT kind, n FROM small_events").await,
        [json!(["a", "1"]), json!(["c", "5"])]
    );
    // Hints the gateway checked reach Flink in its syntax and are honoured: a join hint on
    // an alias, and a read option that moves where the read starts (from the end of the
    // topic: no rows), between the table's name and its alias.
    assert_eq!(
        read(
            "hinted-join",
            "SELECT /*+ BROADCAST(s) */ s.kind, b.kind FROM big_events AS b \
             JOIN small_events /*+ OPTIONS('scan.startup.mode'='earliest-offset') */ AS s \
             ON b.n > s.n"
        )
        .await,
        [json!(["a", "b"]), json!(["c", "b"])]
    );
    assert_eq!(
        read(
            "hinted-latest",
            "SELECT kind FROM big_events /*+ OPTIONS('scan.startup.mode'='latest-offset') */"
        )
        .await,
        Vec::<Value>::new()
    );
    gw.stop().await;
}
