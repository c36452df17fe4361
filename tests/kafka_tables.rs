//! Kafka as the storage: topics are tables of the Kafka-backed dev cluster. Every test runs
//! the real gateway over TLS against a real Kafka-protocol broker (tansu), and checks what
//! the broker holds with plain rdkafka clients (AdminClient, producer, consumer).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};
use sqlgate::kafka::{KafkaClusterConfig, SchemaStore};

use common::{Cred, TestGateway, broker, detail, developer, post_statement, run_query};

/// A gateway whose dev cluster (`lkc-dev`) is the broker at `bootstrap`.
async fn gateway(bootstrap: &str, tweak: impl FnOnce(&mut KafkaClusterConfig)) -> TestGateway {
    let mut k = KafkaClusterConfig::new(bootstrap);
    k.default_partitions = 2;
    k.request_timeout = Duration::from_secs(3);
    tweak(&mut k);
    TestGateway::start_with(move |c| c.environments[0].clusters[0].kafka = Some(k)).await
}

fn admin_client(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap()
}

/// Topic name → partition count, as a plain client sees the cluster.
fn topics(bootstrap: &str) -> BTreeMap<String, usize> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let md = c.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    md.topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| (t.name().to_string(), t.partitions().len()))
        .collect()
}

async fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    let admin = admin_client(bootstrap);
    let r = admin
        .create_topics(
            [&NewTopic::new(
                name,
                partitions,
                TopicReplication::Fixed(-1),
            )],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    r[0].as_ref().unwrap();
}

fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .create()
        .unwrap()
}

/// Every record of `topic`, as (partition, key, value), read by a plain consumer.
fn consume_all(bootstrap: &str, topic: &str, partitions: i32) -> Vec<(i32, Vec<u8>, Vec<u8>)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "test-plain-consumer")
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut eof = 0;
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while eof < partitions && std::time::Instant::now() < deadline {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push((
                m.partition(),
                m.key().unwrap_or_default().to_vec(),
                m.payload().unwrap_or_default().to_vec(),
            )),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => eof += 1,
            _ => {}
        }
    }
    out
}

/// Strips and checks the Confluent wire-format header; returns (schema id, payload).
fn unframe(bytes: &[u8]) -> (u32, &[u8]) {
    assert!(bytes.len() > 5 && bytes[0] == 0, "not framed: {bytes:?}");
    (
        u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]),
        &bytes[5..],
    )
}

async fn ok(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) -> Vec<Value> {
    run_query(gw, cred, name, sql)
        .await
        .unwrap_or_else(|(s, b)| panic!("{sql}: {s} {b}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_insert_select_describe_drop_act_on_the_topic() {
    let b = broker::start().await;
    let gw = gateway(&b.bootstrap, |_| {}).await;
    let dev = developer(&gw);

    ok(
        &gw,
        &dev,
        "create",
        "CREATE TABLE orders (id INT, item STRING NOT NULL, price DECIMAL(10, 2), \
         PRIMARY KEY (id) NOT ENFORCED) DISTRIBUTED BY (id) INTO 3 BUCKETS \
         WITH ('kafka.retention.time' = '1 d')",
    )
    .await;
    let seen = topics(&b.bootstrap);
    assert_eq!(
        seen.get("orders"),
        Some(&3),
        "the topic with 3 partitions: {seen:?}"
    );
    assert!(seen.contains_key("_sqlgate_schemas"), "{seen:?}");

    // The schemas are subjects in the compacted topic: a fresh store (a restart) sees them.
    let store = SchemaStore::new(&KafkaClusterConfig::new(&b.bootstrap)).unwrap();
    let value = store
        .latest("orders-value")
        .await
        .unwrap()
        .expect("value subject");
    let key = store
        .latest("orders-key")
        .await
        .unwrap()
        .expect("key subject");
    assert!(value.schema.contains("\"item\"") && !value.schema.contains("\"id\""));
    assert!(key.schema.contains("\"id\""));

    ok(
        &gw,
        &dev,
        "insert",
        "INSERT INTO orders VALUES (1, 'apple', 1.50), (2, 'pear', 2.25), (3, 'fig', NULL)",
    )
    .await;
    // A plain consumer reads framed JSON with the registered ids, keyed by id.
    let mut records = consume_all(&b.bootstrap, "orders", 3);
    records.sort_by_key(|r| r.1.clone());
    assert_eq!(records.len(), 3, "{records:?}");
    let (vid, v) = unframe(&records[0].2);
    assert_eq!(vid, value.id);
    let v: Value = serde_json::from_slice(v).unwrap();
    assert_eq!(v["item"], "apple");
    let (kid, k) = unframe(&records[0].1);
    assert_eq!(kid, key.id);
    assert_eq!(
        serde_json::from_slice::<Value>(k).unwrap(),
        json!({"id": 1})
    );

    let rows = ok(
        &gw,
        &dev,
        "select",
        "SELECT id, item, price, `$partition` >= 0, `$offset` >= 0 FROM orders ORDER BY id",
    )
    .await;
    assert_eq!(
        rows,
        [
            json!(["1", "apple", "1.50", "TRUE", "TRUE"]),
            json!(["2", "pear", "2.25", "TRUE", "TRUE"]),
            json!(["3", "fig", null, "TRUE", "TRUE"]),
        ]
    );
    let described = ok(&gw, &dev, "describe", "DESCRIBE orders").await;
    let cols: Vec<(String, String)> = described
        .iter()
        .map(|r| (r[0].as_str().unwrap().into(), r[1].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        cols[..3],
        [
            ("id".into(), "INT".into()),
            ("item".into(), "STRING".into()),
            ("price".into(), "DECIMAL(10, 2)".into())
        ]
    );
    assert_eq!(described[1][2], "FALSE", "item is NOT NULL");
    assert!(cols.iter().any(|c| c.0 == "$rowtime"));

    // SHOW TABLES lists topics, not internal ones.
    let shown = ok(&gw, &dev, "show", "SHOW TABLES").await;
    assert!(shown.contains(&json!(["orders"])), "{shown:?}");
    assert!(
        !shown
            .iter()
            .any(|r| r[0].as_str().unwrap().starts_with('_')),
        "{shown:?}"
    );

    ok(&gw, &dev, "alter", "ALTER TABLE orders ADD (note STRING)").await;
    let rows = ok(&gw, &dev, "select2", "SELECT note FROM orders WHERE id = 1").await;
    assert_eq!(
        rows,
        [json!([null])],
        "old records decode with the added column"
    );

    // CTAS with a distribution (Flink-only text, re-parsed by the engine): a keyed topic
    // with the query's rows.
    ok(
        &gw,
        &dev,
        "ctas",
        "CREATE TABLE order_items DISTRIBUTED BY (id) INTO 2 BUCKETS AS SELECT id, item FROM orders",
    )
    .await;
    assert_eq!(topics(&b.bootstrap).get("order_items"), Some(&2));
    assert_eq!(
        ok(&gw, &dev, "ctas-read", "SELECT COUNT(*) FROM order_items").await,
        [json!(["3"])]
    );

    ok(&gw, &dev, "drop", "DROP TABLE orders").await;
    assert!(!topics(&b.bootstrap).contains_key("orders"));
    let store = SchemaStore::new(&KafkaClusterConfig::new(&b.bootstrap)).unwrap();
    assert!(store.latest("orders-value").await.unwrap().is_none());
    assert!(store.latest("orders-key").await.unwrap().is_none());
    let d = fails(&gw, &dev, "gone", "SELECT * FROM orders").await;
    assert!(d.contains("not found"), "{d}");
}

/// Posts a statement that must be created FAILED; returns its detail.
async fn fails(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) -> String {
    let (status, body) = post_statement(gw, cred, name, sql, json!({})).await;
    assert_eq!(status, 200, "{sql}: {body}");
    assert_eq!(body["status"]["phase"], "FAILED", "{sql}: {body}");
    detail_of(&body)
}

fn detail_of(statement: &Value) -> String {
    statement["status"]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_without_schema_is_a_raw_table_and_a_snapshot_is_bounded() {
    let b = broker::start().await;
    create_topic(&b.bootstrap, "raw_events", 2).await;
    let p = producer(&b.bootstrap);
    for i in 0..10 {
        let value = format!("{{\"n\":{i}}}");
        let key = format!("k{i}");
        p.send(
            FutureRecord::to("raw_events")
                .key(&key)
                .payload(&value)
                .partition(i % 2),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    }
    let gw = gateway(&b.bootstrap, |_| {}).await;
    let dev = developer(&gw);
    let rows = ok(
        &gw,
        &dev,
        "raw",
        "SELECT CAST(`key` AS STRING), CAST(val AS STRING), `$partition` FROM raw_events \
         ORDER BY `key`",
    )
    .await;
    assert_eq!(rows.len(), 10, "{rows:?}");
    assert_eq!(rows[0], json!(["k0", "{\"n\":0}", "0"]));
    assert_eq!(rows[9], json!(["k9", "{\"n\":9}", "1"]));

    // Without sql.snapshot.mode the same query is an unbounded stream: RUNNING, new records
    // arrive in later pages, and it runs until stopped.
    let (status, body) = post_statement(
        &gw,
        &dev,
        "stream",
        "SELECT CAST(val AS STRING) FROM raw_events",
        json!({"sql.snapshot.mode": null}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["phase"], "RUNNING", "{body}");
    assert_eq!(body["status"]["traits"]["is_bounded"], false, "{body}");
    p.send(
        FutureRecord::to("raw_events")
            .key("late")
            .payload("late-record"),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let mut url = format!("{}/statements/stream/results", gw.base());
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !got.contains(&json!(["late-record"])) && std::time::Instant::now() < deadline {
        let page: Value = dev
            .apply(gw.client().get(&url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for r in page["results"]["data"].as_array().unwrap() {
            got.push(r["row"].clone());
        }
        let next = page["metadata"]["next"].as_str().unwrap_or_default();
        assert!(!next.is_empty(), "a stream always has a next page");
        url = next.to_string();
    }
    assert!(got.contains(&json!(["late-record"])), "{got:?}");
    assert_eq!(got.len(), 11);
    let resp = dev
        .apply(
            gw.client()
                .delete(format!("{}/statements/stream", gw.base())),
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_is_authorized_before_any_kafka_call_and_bad_ddl_leaves_nothing() {
    let b = broker::start().await;
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    common::copy_policies(&policies);
    common::bind(
        &policies,
        &[
            ("User:sa-reader", "FlinkDeveloper", common::ENV_CRN),
            ("User:sa-reader", "DeveloperRead", common::TOPICS_CRN),
        ],
    );
    let mut k = KafkaClusterConfig::new(&b.bootstrap);
    k.request_timeout = Duration::from_secs(3);
    let gw =
        TestGateway::start_in(dir, move |c| c.environments[0].clusters[0].kafka = Some(k)).await;
    let (key, secret) = gw.api_key("User:sa-reader");
    let reader = Cred::Basic(key, secret);
    let before = gw.engine_calls();
    let (status, body) =
        post_statement(&gw, &reader, "c1", "CREATE TABLE nope (a INT)", json!({})).await;
    assert_eq!(status, 403, "{body}");
    let d = detail(&body);
    assert!(d.contains("User:sa-reader") && d.contains("nope"), "{d}");
    assert_eq!(gw.engine_calls(), before, "nothing reached the engine");
    assert!(!topics(&b.bootstrap).contains_key("nope"));

    // An unsupported option is refused before the topic is made.
    let dev = developer(&gw);
    let d = fails(
        &gw,
        &dev,
        "c2",
        "CREATE TABLE bad (a INT) WITH ('connector' = 'filesystem')",
    )
    .await;
    assert!(d.contains("not supported"), "{d}");
    assert!(!topics(&b.bootstrap).contains_key("bad"));

    // Names of internal topics are reserved.
    let d = fails(&gw, &dev, "c2b", "CREATE TABLE `_hidden` (a INT)").await;
    assert!(d.contains("reserved"), "{d}");
    assert!(!topics(&b.bootstrap).contains_key("_hidden"));

    // CREATE of an existing table fails and leaves it as it was.
    ok(&gw, &dev, "c3", "CREATE TABLE twice (a INT)").await;
    let d = fails(&gw, &dev, "c4", "CREATE TABLE twice (b STRING)").await;
    assert!(d.contains("already exists"), "{d}");
    let d = ok(&gw, &dev, "c5", "DESCRIBE twice").await;
    assert_eq!(d[0][0], "a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_is_a_503_and_the_gateway_recovers() {
    let mut b = broker::start().await;
    let gw = gateway(&b.bootstrap, |k| {
        k.metadata_ttl = Duration::from_millis(200)
    })
    .await;
    let dev = developer(&gw);
    ok(&gw, &dev, "before", "CREATE TABLE t (a INT)").await;
    b.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = post_statement(&gw, &dev, "down", "SELECT * FROM t", json!({})).await;
    assert_eq!(status, 503, "{body}");
    let d = detail(&body);
    assert!(d.contains("lkc-dev") && d.contains("unavailable"), "{d}");
    assert_eq!(body["errors"][0]["code"], "engine.unavailable");

    b.restart().await;
    // The restarted broker is empty (memory storage); the gateway works against it again.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    loop {
        n += 1;
        match run_query(&gw, &dev, &format!("again-{n}"), "CREATE TABLE t2 (a INT)").await {
            Ok(_) => break,
            Err(e) if std::time::Instant::now() > deadline => panic!("no recovery: {e:?}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    ok(&gw, &dev, "ins", "INSERT INTO t2 VALUES (7)").await;
    assert_eq!(
        ok(&gw, &dev, "sel", "SELECT a FROM t2").await,
        [json!(["7"])]
    );
}

/// The unmodified `confluent-sql` driver reads topics another application produced: one with
/// a JSON schema registered (typed columns), one without (raw key and value).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_sql_reads_topics_produced_outside_the_gateway() {
    let python = tokio::task::spawn_blocking(common::python::venv_python);
    let b = broker::start().await;
    create_topic(&b.bootstrap, "clicks", 2).await;
    create_topic(&b.bootstrap, "raw_topic", 1).await;
    // The producing application registers its schema where the gateway keeps subjects.
    let store = SchemaStore::new(&KafkaClusterConfig::new(&b.bootstrap)).unwrap();
    let schema = json!({
        "type": "object",
        "properties": {
            "user_id": {"type": "integer"},
            "url": {"type": "string"},
            "ms": {"type": "integer"}
        },
        "required": ["user_id", "url", "ms"]
    });
    let registered = store
        .register(
            "clicks-value",
            sqlgate::kafka::SchemaType::Json,
            &schema.to_string(),
        )
        .await
        .unwrap();
    let p = producer(&b.bootstrap);
    let mut expect = Vec::new();
    for i in 0..6i64 {
        let mut framed = vec![0u8];
        framed.extend(registered.id.to_be_bytes());
        let value = json!({"user_id": i % 3, "url": format!("/p/{i}"), "ms": 1000 + i});
        framed.extend(value.to_string().into_bytes());
        p.send(
            FutureRecord::<(), _>::to("clicks")
                .payload(&framed)
                .partition((i % 2) as i32),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        expect.push(json!([i % 3, format!("/p/{i}"), 1000 + i]));
    }
    for v in ["one", "two"] {
        p.send(
            FutureRecord::<(), _>::to("raw_topic").payload(v),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    }
    let gw = gateway(&b.bootstrap, |_| {}).await;
    let token = gw.token("alice", &["developers"]);
    let python = python.await.unwrap();
    common::python::run_script(
        &python,
        &gw,
        "kafka_e2e.py",
        &[
            ("SQLGATE_TOKEN", token),
            ("SQLGATE_EXPECT", Value::Array(expect).to_string()),
        ],
        "kafka e2e: all checks passed",
    )
    .await;
}

/// `sqlgate serve --kafka HOST:PORT` (the README's quick start) backs the dev cluster with the
/// broker: a table created through the real binary is a topic there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_kafka_flag_backs_the_dev_cluster() {
    let b = broker::start().await;
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    let served = common::binary::serve(dir.path(), &["--kafka", &b.bootstrap]).await;
    let token = common::token_in(dir.path(), "alice", &["developers"]);
    let client = common::client_trusting(&dir.path().join("certs/dev-ca.pem"));
    let base = format!(
        "https://{}/sql/v1/organizations/org-dev/environments/env-dev",
        served.addr
    );
    let resp: Value = client
        .post(format!("{base}/statements"))
        .bearer_auth(&token)
        .header("Confluent-Identity-Pool-Id", "pool-dev")
        .json(
            &json!({"name": "mk", "spec": {"statement": "CREATE TABLE from_cli (a INT)",
            "properties": {"sql.current-catalog": "dev", "sql.current-database": "main"}}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp["status"]["phase"], "COMPLETED", "{resp}");
    assert_eq!(
        topics(&b.bootstrap).get("from_cli"),
        Some(&6),
        "default 6 partitions"
    );
}

/// With a Schema Registry configured, CREATE TABLE registers the subjects there (not in the
/// schemas topic); when the registry fails, the CREATE fails with 503 and the topic it had
/// already made is removed again, so no half-made table is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_registry_subjects_live_there_and_a_failed_create_leaves_no_topic() {
    let b = broker::start().await;
    let registry = common::registry::start().await;
    let url = registry.url.clone();
    let gw = gateway(&b.bootstrap, move |k| k.schema_registry_url = Some(url)).await;
    let dev = developer(&gw);
    ok(
        &gw,
        &dev,
        "c1",
        "CREATE TABLE payments (id BIGINT, amount DOUBLE) DISTRIBUTED BY (id) INTO 2 BUCKETS",
    )
    .await;
    assert_eq!(registry.subjects(), ["payments-key", "payments-value"]);
    assert!(!topics(&b.bootstrap).contains_key("_sqlgate_schemas"));
    ok(&gw, &dev, "i1", "INSERT INTO payments VALUES (1, 9.5)").await;
    assert_eq!(
        ok(&gw, &dev, "s1", "SELECT id, amount FROM payments").await,
        [json!(["1", "9.5"])]
    );

    registry.set_down(true);
    let (status, body) = post_statement(
        &gw,
        &dev,
        "c2",
        "CREATE TABLE refunds (id BIGINT)",
        json!({}),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(detail(&body).contains("schema"), "{body}");
    assert!(
        !topics(&b.bootstrap).contains_key("refunds"),
        "the topic made before the registry failed was removed"
    );
    registry.set_down(false);
    ok(&gw, &dev, "c3", "CREATE TABLE refunds (id BIGINT)").await;
    assert!(topics(&b.bootstrap).contains_key("refunds"));
    ok(&gw, &dev, "d1", "DROP TABLE payments").await;
    assert_eq!(registry.subjects(), ["refunds-value"]);

    // Avro values: registered as an Avro schema, written in the Confluent wire format with
    // Avro binary, read back as the declared columns; topic configs change with ALTER … SET.
    ok(
        &gw,
        &dev,
        "a1",
        "CREATE TABLE readings (sensor STRING, reading DOUBLE, at TIMESTAMP_LTZ(3)) \
         WITH ('value.format' = 'avro-registry', 'kafka.cleanup-policy' = 'delete')",
    )
    .await;
    ok(
        &gw,
        &dev,
        "a2",
        "INSERT INTO readings VALUES ('s1', 20.5, TIMESTAMP '2026-11-24 10:00:00.123')",
    )
    .await;
    let rows = ok(&gw, &dev, "a3", "SELECT sensor, reading, at FROM readings").await;
    assert_eq!(rows, [json!(["s1", "20.5", "2026-11-24 10:00:00.123"])]);
    let records = consume_all(&b.bootstrap, "readings", 2);
    assert_eq!(records.len(), 1);
    let (_, avro) = unframe(&records[0].2);
    assert!(
        serde_json::from_slice::<Value>(avro).is_err(),
        "the value is Avro binary, not JSON"
    );
    // tansu implements no AlterConfigs: the broker's refusal must come back as a FAILED
    // statement that says so, not as "unavailable".
    let (status, body) = post_statement(
        &gw,
        &dev,
        "a4",
        "ALTER TABLE readings SET ('kafka.retention.time' = '7 d')",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let phase = body["status"]["phase"].as_str().unwrap_or_default();
    assert!(
        phase == "COMPLETED"
            || (phase == "FAILED" && detail_of(&body).contains("refused to alter topic readings")),
        "{body}"
    );
    let d = fails(
        &gw,
        &dev,
        "a5",
        "ALTER TABLE readings SET ('value.format' = 'json')",
    )
    .await;
    assert!(d.contains("value.format"), "{d}");
}
