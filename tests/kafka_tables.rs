//! Kafka as the storage: topics are tables of the Kafka-backed dev cluster. Every test runs
//! the real gateway over TLS against real Apache Kafka (and, where a registry is configured,
//! a real Confluent-compatible Schema Registry), and checks what they hold with plain clients
//! (rdkafka AdminClient, producer, consumer; the registry's REST API).
//!
//! Tests share one broker (and one registry) per test binary and use table names of their
//! own; a test that stops the broker gets one of its own.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};
use sqlgate::kafka::{KafkaClusterConfig, SchemaStore, SchemaType};

use common::{Cred, TestGateway, broker, detail, developer, post_statement, registry, run_query};

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

/// The value of topic config `key` of `topic`, as an AdminClient's DescribeConfigs sees it.
async fn topic_config(bootstrap: &str, topic: &str, key: &str) -> Option<String> {
    let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let res = admin_client(bootstrap)
        .describe_configs([&ResourceSpecifier::Topic(topic)], &opts)
        .await
        .unwrap();
    let resource = res.into_iter().next().unwrap().unwrap();
    resource.get(key).and_then(|e| e.value.clone())
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
    let b = broker::shared().await;
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
    let b = broker::shared().await;
    b.create_topic("raw_events", 2).await;
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
    let b = broker::shared().await;
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

    // An unsupported option is refused by name before any engine or topic sees it.
    let dev = developer(&gw);
    let before = gw.engine_calls();
    let (status, body) = post_statement(
        &gw,
        &dev,
        "c2",
        "CREATE TABLE bad (a INT) WITH ('connector' = 'filesystem')",
        json!({}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0]["code"], "sql.option_not_allowed",
        "{body}"
    );
    assert!(detail(&body).contains("not supported"), "{body}");
    assert_eq!(gw.engine_calls(), before);
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
    let b = broker::start().await;
    let gw = gateway(&b.bootstrap, |k| {
        k.metadata_ttl = Duration::from_millis(200)
    })
    .await;
    let dev = developer(&gw);
    ok(&gw, &dev, "before", "CREATE TABLE t (a INT)").await;
    ok(&gw, &dev, "before-ins", "INSERT INTO t VALUES (1)").await;
    b.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = post_statement(&gw, &dev, "down", "SELECT * FROM t", json!({})).await;
    assert_eq!(status, 503, "{body}");
    let d = detail(&body);
    assert!(d.contains("lkc-dev") && d.contains("unavailable"), "{d}");
    assert_eq!(body["errors"][0]["code"], "engine.unavailable");

    b.restart().await;
    // The broker is back with its data; the gateway works against it again by itself.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    let rows = loop {
        n += 1;
        match run_query(&gw, &dev, &format!("again-{n}"), "SELECT a FROM t").await {
            Ok(rows) => break rows,
            Err(e) if std::time::Instant::now() > deadline => panic!("no recovery: {e:?}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    assert_eq!(rows, [json!(["1"])], "the table and its record survived");
    ok(&gw, &dev, "t2", "CREATE TABLE t2 (a INT)").await;
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
    let b = broker::shared().await;
    b.create_topic("clicks", 2).await;
    b.create_topic("raw_topic", 1).await;
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
        .register("clicks-value", SchemaType::Json, &schema.to_string())
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

/// `sqlgate serve --kafka HOST:PORT --schema-registry URL` (the README's quick start) backs
/// the dev cluster with the broker and the registry: a table created through the real binary
/// is a topic there, with its subject in the registry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_kafka_and_schema_registry_flags_backs_the_dev_cluster() {
    let b = broker::shared().await;
    let registry = registry::shared().await;
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    let served = common::binary::serve(
        dir.path(),
        &["--kafka", &b.bootstrap, "--schema-registry", &registry.url],
    )
    .await;
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
    assert_eq!(
        registry.subjects_with("from_cli").await,
        ["from_cli-value"],
        "the subject is in the registry"
    );
    let in_topic = SchemaStore::new(&KafkaClusterConfig::new(&b.bootstrap)).unwrap();
    assert_eq!(in_topic.latest("from_cli-value").await.unwrap(), None);
}

/// `--schema-registry` without a Kafka cluster to attach it to is refused at startup, naming
/// the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_schema_registry_but_no_kafka_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_sqlgate"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(["--schema-registry", "http://127.0.0.1:1/apis/ccompat/v7"])
            .current_dir(dir.path())
            .env_remove("SQLGATE_CONFIG")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the gateway exits at once")
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("--schema-registry") && stderr.contains("--kafka"),
        "{stderr}"
    );
}

/// A loopback port that nothing listens on.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// With a Schema Registry configured, CREATE TABLE registers the subjects there (not in the
/// schemas topic); when the registry does not answer or refuses, the CREATE fails (503, or
/// FAILED with the registry's reason) and the topic it had already made is removed again, so
/// no half-made table is left. Avro tables read records of every schema version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_registry_subjects_live_there_and_a_failed_create_leaves_no_topic() {
    let b = broker::shared().await;
    let registry = registry::shared().await;
    let url = registry.url.clone();
    let gw = gateway(&b.bootstrap, move |k| k.schema_registry_url = Some(url)).await;
    let dev = developer(&gw);
    ok(
        &gw,
        &dev,
        "c1",
        "CREATE TABLE reg_payments (id BIGINT, amount DOUBLE) DISTRIBUTED BY (id) INTO 2 BUCKETS",
    )
    .await;
    assert_eq!(
        registry.subjects_with("reg_").await,
        ["reg_payments-key", "reg_payments-value"]
    );
    let in_topic = SchemaStore::new(&KafkaClusterConfig::new(&b.bootstrap)).unwrap();
    assert_eq!(in_topic.latest("reg_payments-value").await.unwrap(), None);
    ok(&gw, &dev, "i1", "INSERT INTO reg_payments VALUES (1, 9.5)").await;
    assert_eq!(
        ok(&gw, &dev, "s1", "SELECT id, amount FROM reg_payments").await,
        [json!(["1", "9.5"])]
    );

    // A registry that does not answer: 503, and no topic is left.
    let unreachable = format!("http://127.0.0.1:{}/apis/ccompat/v7", dead_port());
    let down = gateway(&b.bootstrap, move |k| {
        k.schema_registry_url = Some(unreachable)
    })
    .await;
    let down_dev = developer(&down);
    let (status, body) = post_statement(
        &down,
        &down_dev,
        "c2",
        "CREATE TABLE reg_refunds (id BIGINT)",
        json!({}),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(detail(&body).contains("schema"), "{body}");
    assert!(
        !topics(&b.bootstrap).contains_key("reg_refunds"),
        "the topic made before the registry failed was removed"
    );

    // A registry that refuses (the subject holds a schema the new one is not compatible
    // with): FAILED with the registry's reason, no topic left, the subject as it was.
    let store = {
        let mut cfg = KafkaClusterConfig::new(&b.bootstrap);
        cfg.schema_registry_url = Some(registry.url.clone());
        SchemaStore::new(&cfg).unwrap()
    };
    let theirs = r#"{"type":"object","properties":{"id":{"type":"string"}},"required":["id"],"additionalProperties":false}"#;
    let before = store
        .register("reg_refunds-value", SchemaType::Json, theirs)
        .await
        .unwrap();
    let d = fails(&gw, &dev, "c3", "CREATE TABLE reg_refunds (id BIGINT)").await;
    assert!(d.contains("ncompatible"), "{d}");
    assert!(!topics(&b.bootstrap).contains_key("reg_refunds"));
    assert_eq!(
        store.latest("reg_refunds-value").await.unwrap(),
        Some(before)
    );
    assert!(store.delete("reg_refunds-value").await.unwrap());
    ok(&gw, &dev, "c4", "CREATE TABLE reg_refunds (id BIGINT)").await;
    assert!(topics(&b.bootstrap).contains_key("reg_refunds"));
    // The registry's rule (BACKWARD) also decides ALTER … ADD: a property added to the open
    // JSON Schema content model is not backward compatible, so the registry refuses it.
    let d = fails(&gw, &dev, "c5", "ALTER TABLE reg_refunds ADD (note STRING)").await;
    assert!(d.contains("ncompatible"), "{d}");
    assert_eq!(
        store
            .latest("reg_refunds-value")
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    ok(&gw, &dev, "d1", "DROP TABLE reg_payments").await;
    assert_eq!(registry.subjects_with("reg_").await, ["reg_refunds-value"]);

    // Avro values: registered as an Avro schema, written in the Confluent wire format with
    // Avro binary, read back as the declared columns; topic configs change with ALTER … SET.
    ok(
        &gw,
        &dev,
        "a1",
        "CREATE TABLE reg_readings (sensor STRING, reading DOUBLE, at TIMESTAMP_LTZ(3)) \
         WITH ('value.format' = 'avro-registry', 'kafka.cleanup-policy' = 'delete')",
    )
    .await;
    assert_eq!(
        topic_config(&b.bootstrap, "reg_readings", "cleanup.policy")
            .await
            .as_deref(),
        Some("delete")
    );
    ok(
        &gw,
        &dev,
        "a2",
        "INSERT INTO reg_readings VALUES ('s1', 20.5, TIMESTAMP '2026-11-24 10:00:00.123')",
    )
    .await;
    let rows = ok(
        &gw,
        &dev,
        "a3",
        "SELECT sensor, reading, at FROM reg_readings",
    )
    .await;
    assert_eq!(rows, [json!(["s1", "20.5", "2026-11-24 10:00:00.123"])]);
    let records = consume_all(&b.bootstrap, "reg_readings", 2);
    assert_eq!(records.len(), 1);
    let (v1_id, avro) = unframe(&records[0].2);
    assert!(
        serde_json::from_slice::<Value>(avro).is_err(),
        "the value is Avro binary, not JSON"
    );
    ok(
        &gw,
        &dev,
        "a4",
        "ALTER TABLE reg_readings SET ('kafka.retention.time' = '7 d')",
    )
    .await;
    assert_eq!(
        topic_config(&b.bootstrap, "reg_readings", "retention.ms")
            .await
            .as_deref(),
        Some("604800000"),
        "the broker has the new retention"
    );
    let d = fails(
        &gw,
        &dev,
        "a5",
        "ALTER TABLE reg_readings SET ('value.format' = 'json')",
    )
    .await;
    assert!(d.contains("value.format"), "{d}");

    // A new schema version (compatible: a nullable field with a default). Records written
    // with the first version are read with it (looked up by id) into the new columns.
    ok(
        &gw,
        &dev,
        "a6",
        "ALTER TABLE reg_readings ADD (unit STRING)",
    )
    .await;
    let v2 = store.latest("reg_readings-value").await.unwrap().unwrap();
    assert_eq!(v2.version, 2);
    assert_ne!(v2.id, v1_id);
    ok(
        &gw,
        &dev,
        "a7",
        "INSERT INTO reg_readings VALUES ('s2', 21.0, TIMESTAMP '2026-11-24 11:00:00', 'C')",
    )
    .await;
    let rows = ok(
        &gw,
        &dev,
        "a8",
        "SELECT sensor, reading, unit FROM reg_readings ORDER BY sensor",
    )
    .await;
    assert_eq!(
        rows,
        [json!(["s1", "20.5", null]), json!(["s2", "21.0", "C"])]
    );
    let mut ids: Vec<u32> = consume_all(&b.bootstrap, "reg_readings", 2)
        .iter()
        .map(|r| unframe(&r.2).0)
        .collect();
    ids.sort();
    let mut want = vec![v1_id, v2.id];
    want.sort();
    assert_eq!(ids, want, "one record per schema version");
}

/// SHOW CREATE TABLE of a Kafka-backed table, as Confluent Cloud shows one: its columns, its
/// key as DISTRIBUTED BY HASH(key) INTO <partitions> BUCKETS, and the options sqlgate holds or
/// the brokers report; INFORMATION_SCHEMA.TABLE_OPTIONS lists the same options; a caller with
/// no role on the table sees neither. An ALTER TABLE … SET keeps the options it does not name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_create_table_and_table_options_show_a_kafka_table_as_confluent_does() {
    let b = broker::shared().await;
    let registry = registry::shared().await;
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    common::copy_policies(&policies);
    let events_crn = common::TOPICS_CRN.replace("topic=*", "topic=sct_events");
    common::bind(
        &policies,
        &[
            ("User:sa-reader", "FlinkDeveloper", common::ENV_CRN),
            ("User:sa-reader", "DeveloperRead", &events_crn),
        ],
    );
    let mut k = KafkaClusterConfig::new(&b.bootstrap);
    k.request_timeout = Duration::from_secs(3);
    k.schema_registry_url = Some(registry.url.clone());
    let gw =
        TestGateway::start_in(dir, move |c| c.environments[0].clusters[0].kafka = Some(k)).await;
    let dev = developer(&gw);
    ok(
        &gw,
        &dev,
        "c1",
        "CREATE TABLE sct_orders (id INT, item STRING NOT NULL, price DECIMAL(10, 2), \
         PRIMARY KEY (id) NOT ENFORCED) DISTRIBUTED BY (id) INTO 3 BUCKETS \
         WITH ('kafka.retention.time' = '1 d', 'kafka.cleanup-policy' = 'delete', \
         'key.format' = 'avro-registry', 'value.format' = 'avro-registry')",
    )
    .await;
    ok(
        &gw,
        &dev,
        "c2",
        "CREATE TABLE sct_events (v STRING) DISTRIBUTED INTO 2 BUCKETS \
         WITH ('kafka.retention.size' = '1 gb')",
    )
    .await;
    // What the brokers hold, as a plain client reads it: the text shows the same.
    assert_eq!(
        topic_config(&b.bootstrap, "sct_orders", "retention.ms").await,
        Some("86400000".into())
    );
    let max = topic_config(&b.bootstrap, "sct_orders", "max.message.bytes")
        .await
        .unwrap();
    let orders = format!(
        "CREATE TABLE `env-dev`.`lkc-dev`.`sct_orders` (\n  `id` INT NOT NULL,\n  `item` VARCHAR(2147483647) NOT NULL,\n  `price` DECIMAL(10, 2),\n  CONSTRAINT `PK_id` PRIMARY KEY (`id`) NOT ENFORCED\n)\nDISTRIBUTED BY HASH(`id`) INTO 3 BUCKETS\nWITH (\n  'changelog.mode' = 'upsert',\n  'connector' = 'confluent',\n  'kafka.cleanup-policy' = 'delete',\n  'kafka.max-message-size' = '{max} bytes',\n  'kafka.message-timestamp-type' = 'create-time',\n  'kafka.retention.size' = '0 bytes',\n  'kafka.retention.time' = '1 d',\n  'key.format' = 'avro-registry',\n  'scan.bounded.mode' = 'unbounded',\n  'scan.startup.mode' = 'earliest-offset',\n  'value.format' = 'avro-registry'\n)"
    );
    assert_eq!(
        ok(&gw, &dev, "sc1", "SHOW CREATE TABLE sct_orders").await,
        [json!([orders])]
    );
    assert_eq!(
        ok(&gw, &dev, "sc2", "SHOW CREATE TABLE sct_events").await,
        [json!([format!(
            "CREATE TABLE `env-dev`.`lkc-dev`.`sct_events` (\n  `v` VARCHAR(2147483647)\n)\nDISTRIBUTED INTO 2 BUCKETS\nWITH (\n  'changelog.mode' = 'append',\n  'connector' = 'confluent',\n  'kafka.cleanup-policy' = 'delete',\n  'kafka.max-message-size' = '{max} bytes',\n  'kafka.message-timestamp-type' = 'create-time',\n  'kafka.retention.size' = '1 gb',\n  'kafka.retention.time' = '7 d',\n  'scan.bounded.mode' = 'unbounded',\n  'scan.startup.mode' = 'earliest-offset',\n  'value.format' = 'json-registry'\n)"
        )])]
    );
    // What SHOW CREATE TABLE prints runs as a CREATE TABLE, and makes the same table.
    let copy = orders.replace("`sct_orders`", "`sct_orders_copy`");
    ok(&gw, &dev, "rt1", &copy).await;
    assert_eq!(
        ok(&gw, &dev, "rt2", "SHOW CREATE TABLE sct_orders_copy").await,
        [json!([copy])]
    );
    // A table read otherwise than every table is, by its definition, is refused by name.
    let (status, body) = run_query(
        &gw,
        &dev,
        "rt3",
        "CREATE TABLE sct_latest (v STRING) WITH ('scan.startup.mode' = 'latest-offset')",
    )
    .await
    .unwrap_err();
    assert_eq!(status, 400, "{body}");
    let d = detail(&body);
    assert!(
        d.contains("'scan.startup.mode'") && d.contains("OPTIONS"),
        "{d}"
    );
    // A change of the topic shows at once (the gateway's own DDL drops what it cached).
    ok(
        &gw,
        &dev,
        "a1",
        "ALTER TABLE sct_events SET ('kafka.retention.time' = '0 ms')",
    )
    .await;
    assert_eq!(
        topic_config(&b.bootstrap, "sct_events", "retention.ms").await,
        Some("-1".into())
    );

    let options = "SELECT TABLE_NAME, OPTION_KEY, OPTION_VALUE FROM INFORMATION_SCHEMA.`TABLE_OPTIONS` \
         WHERE TABLE_CATALOG_ID = 'env-dev' AND TABLE_SCHEMA_ID = 'lkc-dev' \
         AND TABLE_NAME IN ('sct_orders', 'sct_events') ORDER BY TABLE_NAME, OPTION_KEY";
    let row = |t: &str, k: &str, v: &str| json!([t, k, v]);
    let events = |out: &mut Vec<Value>| {
        for (k, v) in [
            ("changelog.mode", "append"),
            ("connector", "confluent"),
            ("kafka.cleanup-policy", "delete"),
            ("kafka.max-message-size", &format!("{max} bytes")),
            ("kafka.message-timestamp-type", "create-time"),
            ("kafka.retention.size", "1 gb"),
            ("kafka.retention.time", "0 ms"),
            ("scan.bounded.mode", "unbounded"),
            ("scan.startup.mode", "earliest-offset"),
            ("value.format", "json-registry"),
        ] {
            out.push(row("sct_events", k, v));
        }
    };
    let mut expected = Vec::new();
    events(&mut expected);
    for (k, v) in [
        ("changelog.mode", "upsert"),
        ("connector", "confluent"),
        ("kafka.cleanup-policy", "delete"),
        ("kafka.max-message-size", &format!("{max} bytes")),
        ("kafka.message-timestamp-type", "create-time"),
        ("kafka.retention.size", "0 bytes"),
        ("kafka.retention.time", "1 d"),
        ("key.format", "avro-registry"),
        ("scan.bounded.mode", "unbounded"),
        ("scan.startup.mode", "earliest-offset"),
        ("value.format", "avro-registry"),
    ] {
        expected.push(row("sct_orders", k, v));
    }
    assert_eq!(ok(&gw, &dev, "is1", options).await, expected);
    assert_eq!(
        ok(
            &gw,
            &dev,
            "is2",
            "SELECT TABLE_NAME, IS_DISTRIBUTED, DISTRIBUTION_ALGORITHM, DISTRIBUTION_BUCKETS \
             FROM INFORMATION_SCHEMA.`TABLES` WHERE TABLE_SCHEMA_ID = 'lkc-dev' \
             AND TABLE_NAME IN ('sct_orders', 'sct_events') ORDER BY TABLE_NAME"
        )
        .await,
        [
            json!(["sct_events", "YES", null, "2"]),
            json!(["sct_orders", "YES", "HASH", "3"])
        ]
    );

    // A caller with no role on sct_orders: SHOW CREATE TABLE is refused before the engine
    // exactly as for a table that does not exist (the gateway decides `describe` on the
    // name, whether or not a topic has it), and TABLE_OPTIONS has no row of it.
    let (key, secret) = gw.api_key("User:sa-reader");
    let reader = Cred::Basic(key, secret);
    let before = gw.engine_calls();
    let (status, body) = run_query(&gw, &reader, "r1", "SHOW CREATE TABLE sct_orders")
        .await
        .unwrap_err();
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["errors"][0]["code"], "authz.denied", "{body}");
    assert_eq!(gw.engine_calls(), before, "nothing reached the engine");
    let (status, nothing) = run_query(&gw, &reader, "r1b", "SHOW CREATE TABLE sct_nothing")
        .await
        .unwrap_err();
    assert_eq!(gw.engine_calls(), before, "nothing reached the engine");
    assert_eq!(status, 403, "{nothing}");
    assert_eq!(
        detail(&body).replace("sct_orders", "T"),
        detail(&nothing).replace("sct_nothing", "T"),
        "an existing table is refused as one that does not exist"
    );
    assert!(!detail(&body).contains("upsert"), "{body}");
    let mut expected = Vec::new();
    events(&mut expected);
    assert_eq!(ok(&gw, &reader, "r2", options).await, expected);
    gw.stop().await;
}
