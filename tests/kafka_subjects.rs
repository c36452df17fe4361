//! Where table schemas live: Schema Registry subjects kept in a registry over REST (against a
//! real Confluent-compatible registry, Apicurio on loopback) or, without one, in a compacted
//! topic of the cluster (against a real Apache Kafka broker on loopback), surviving a restart
//! of the gateway.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{broker, registry};
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use sqlgate::kafka::{KafkaClusterConfig, SchemaStore, SchemaType, SubjectError};

// Closed content models: adding an optional property is a BACKWARD-compatible change (with an
// open model it is not, and the registry refuses it with 409).
const ORDERS_V1: &str =
    r#"{"type":"object","properties":{"id":{"type":"integer"}},"additionalProperties":false}"#;
const ORDERS_V2: &str = r#"{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":"string"}},"additionalProperties":false}"#;
/// Not a BACKWARD-compatible successor of ORDERS_V2: `id` changes type.
const ORDERS_INCOMPATIBLE: &str =
    r#"{"type":"object","properties":{"id":{"type":"string"}},"additionalProperties":false}"#;
const AVRO: &str = r#"{"type":"record","name":"K","fields":[{"name":"k","type":"long"}]}"#;

fn registry_config(url: &str) -> KafkaClusterConfig {
    // The bootstrap servers are never contacted by the registry backend.
    let mut cfg = KafkaClusterConfig::new("127.0.0.1:1");
    cfg.schema_registry_url = Some(url.to_string());
    cfg.request_timeout = Duration::from_secs(5);
    cfg
}

fn topic_config(bootstrap: &str, schemas_topic: &str) -> KafkaClusterConfig {
    let mut cfg = KafkaClusterConfig::new(bootstrap);
    // One broker: the broker default may ask for more replicas than exist.
    cfg.replication_factor = 1;
    cfg.request_timeout = Duration::from_secs(15);
    // The broker is shared by the tests of this file: a schemas topic per test.
    cfg.schemas_topic = schemas_topic.to_string();
    cfg
}

/// A loopback port that nothing listens on.
fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

// === Registry backend ===

#[tokio::test(flavor = "multi_thread")]
async fn registry_subjects_register_version_and_delete() {
    let reg = registry::shared().await;
    let store = SchemaStore::new(&registry_config(&reg.url)).unwrap();
    let (orders, odd) = ("rsv-orders-value", "rsv-odd/name ?-key");

    assert_eq!(store.latest(orders).await.unwrap(), None);
    let v1 = store
        .register(orders, SchemaType::Json, ORDERS_V1)
        .await
        .unwrap();
    assert_eq!((v1.subject.as_str(), v1.version), (orders, 1));
    assert_eq!(v1.schema_type, SchemaType::Json);
    assert_eq!(reg.subjects_with("rsv-").await, [orders]);

    let latest = store.latest(orders).await.unwrap().unwrap();
    assert_eq!(latest, v1);

    let again = store
        .register(orders, SchemaType::Json, ORDERS_V1)
        .await
        .unwrap();
    assert_eq!((again.id, again.version), (v1.id, 1), "identical schema");

    let v2 = store
        .register(orders, SchemaType::Json, ORDERS_V2)
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_ne!(v2.id, v1.id);
    assert_eq!(store.latest(orders).await.unwrap().unwrap(), v2);

    // AVRO travels without schemaType and comes back as AVRO; a subject name needing escapes
    // is one path segment.
    let k = store.register(odd, SchemaType::Avro, AVRO).await.unwrap();
    let back = store.latest(odd).await.unwrap().unwrap();
    assert_eq!(back, k);
    assert_eq!(back.schema_type, SchemaType::Avro);
    let mut mine = store.subjects().await.unwrap();
    mine.retain(|s| s.starts_with("rsv-"));
    assert_eq!(mine, [odd, orders]);

    // Any schema id a record may carry is found, old versions' too.
    for s in [&v1, &v2, &k] {
        let found = store.schema_by_id(s.id).await.unwrap().unwrap();
        assert_eq!(
            (found.0, found.1.as_str()),
            (s.schema_type, s.schema.as_str())
        );
    }
    assert_eq!(store.schema_by_id(987_654).await.unwrap(), None);

    assert!(store.delete(orders).await.unwrap());
    assert_eq!(store.latest(orders).await.unwrap(), None);
    assert_eq!(reg.subjects_with("rsv-").await, [odd]);
    assert!(!store.delete(orders).await.unwrap(), "already gone");
    // Hard-deleted: registering again starts a new subject at version 1.
    let fresh = store
        .register(orders, SchemaType::Json, ORDERS_V2)
        .await
        .unwrap();
    assert_eq!(fresh.version, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_refusals_are_rejected_with_the_registry_message() {
    let reg = registry::shared().await;
    let store = SchemaStore::new(&registry_config(&reg.url)).unwrap();
    match store
        .register("rrf-bad-value", SchemaType::Json, "{not json")
        .await
    {
        Err(SubjectError::Rejected(m)) => assert!(m.contains("422"), "{m}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(reg.subjects_with("rrf-bad").await.is_empty());

    // The registry enforces its compatibility rule (BACKWARD): the refusal says so.
    store
        .register("rrf-evolving-value", SchemaType::Json, ORDERS_V2)
        .await
        .unwrap();
    match store
        .register("rrf-evolving-value", SchemaType::Json, ORDERS_INCOMPATIBLE)
        .await
    {
        Err(SubjectError::Rejected(m)) => {
            assert!(m.contains("409") && m.contains("ncompatible"), "{m}")
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(
        store
            .latest("rrf-evolving-value")
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_outage_is_unavailable_naming_the_registry() {
    let reg = registry::start().await;
    let store = SchemaStore::new(&registry_config(&reg.url)).unwrap();
    store
        .register("t-value", SchemaType::Json, ORDERS_V1)
        .await
        .unwrap();

    reg.stop().await;
    let started = Instant::now();
    for result in [
        store.latest("t-value").await.map(|_| ()),
        store
            .register("t-value", SchemaType::Json, ORDERS_V2)
            .await
            .map(|_| ()),
        store.delete("t-value").await.map(|_| ()),
        store.schema_by_id(1).await.map(|_| ()),
    ] {
        match result {
            Err(SubjectError::Unavailable(m)) => assert!(m.contains(&reg.url), "{m}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "bounded by request_timeout: {:?}",
        started.elapsed()
    );

    // Back (empty: in-memory storage): the same store works again without a restart.
    reg.restart().await;
    assert_eq!(store.latest("t-value").await.unwrap(), None);
    let v = store
        .register("t-value", SchemaType::Json, ORDERS_V1)
        .await
        .unwrap();
    assert_eq!(store.latest("t-value").await.unwrap(), Some(v));
}

/// Reads one HTTP/1.1 request head from `l` and answers `404 {"error_code":40401}`; returns
/// the head. Only for what the real registry cannot show without an identity provider: the
/// `Authorization` header the client sends.
fn capture_one_request(l: &TcpListener) -> String {
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the client closed before its request head ended");
        head.extend_from_slice(&buf[..n]);
    }
    let body = r#"{"error_code":40401,"message":"Subject 'a-value' not found."}"#;
    let _ = write!(
        s,
        "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_credentials_are_sent_as_http_basic_and_never_shown() {
    // Creating a store connects to nothing.
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    probe.set_nonblocking(true).unwrap();
    let url = format!("http://{}", probe.local_addr().unwrap());
    let mut cfg = registry_config(&url);
    cfg.schema_registry_basic_auth = Some("key:s3cret".into());
    let store = SchemaStore::new(&cfg).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        probe.accept().is_err(),
        "creating the store must not connect"
    );

    probe.set_nonblocking(false).unwrap();
    let head = tokio::task::spawn_blocking(move || capture_one_request(&probe));
    assert_eq!(store.latest("a-value").await.unwrap(), None);
    let head = head.await.unwrap().to_ascii_lowercase();
    // base64("key:s3cret")
    assert!(
        head.contains("authorization: basic a2v5onmzy3jlda=="),
        "{head}"
    );

    // Against the real registry (which needs no credentials) a store with them works, and an
    // outage message never carries them.
    let reg = registry::shared().await;
    let mut cfg = registry_config(&reg.url);
    cfg.schema_registry_basic_auth = Some("key:s3cret".into());
    let store = SchemaStore::new(&cfg).unwrap();
    store
        .register("rcr-a-value", SchemaType::Json, ORDERS_V1)
        .await
        .unwrap();
    assert_eq!(reg.subjects_with("rcr-").await, ["rcr-a-value"]);
    let mut cfg = registry_config(&format!("http://user:pw@127.0.0.1:{}", dead_port()));
    cfg.schema_registry_basic_auth = Some("key:s3cret".into());
    match SchemaStore::new(&cfg).unwrap().latest("x-value").await {
        Err(SubjectError::Unavailable(m)) => {
            assert!(!m.contains("s3cret") && !m.contains("pw"), "{m}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

// === Topic backend ===

/// `cleanup.policy` of `topic` as the broker describes it.
async fn cleanup_policy(bootstrap: &str, topic: &str) -> Option<String> {
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let res = admin
        .describe_configs([&ResourceSpecifier::Topic(topic)], &opts)
        .await
        .ok()?;
    let resource = res.into_iter().next()?.ok()?;
    resource.get("cleanup.policy")?.value.clone()
}

/// Partition count of `topic`.
async fn partitions(bootstrap: &str, topic: &str) -> usize {
    let (bootstrap, topic) = (bootstrap.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || {
        let c: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .unwrap();
        let md = c
            .fetch_metadata(Some(&topic), Duration::from_secs(10))
            .unwrap();
        md.topics()
            .iter()
            .find(|t| t.name() == topic)
            .map_or(0, |t| t.partitions().len())
    })
    .await
    .unwrap()
}

/// Every record of partition 0 of `topic`: key and JSON value (`None`: a tombstone).
async fn raw_records(bootstrap: &str, topic: &str) -> Vec<(String, Option<serde_json::Value>)> {
    let (bootstrap, topic) = (bootstrap.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || {
        let c: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "raw-reader")
            .set("enable.partition.eof", "true")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Beginning)
            .unwrap();
        c.assign(&tpl).unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut out = Vec::new();
        while Instant::now() < deadline {
            match c.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => out.push((
                    String::from_utf8(m.key().unwrap().to_vec()).unwrap(),
                    m.payload().map(|p| serde_json::from_slice(p).unwrap()),
                )),
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => return out,
                _ => {}
            }
        }
        panic!("{topic} not read to its end");
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn topic_subjects_survive_a_restart_and_deletes_are_durable() {
    let broker = broker::shared().await;
    let cfg = topic_config(&broker.bootstrap, "_sqlgate_schemas_durable");

    let store = SchemaStore::new(&cfg).unwrap();
    assert_eq!(store.latest("orders-value").await.unwrap(), None);
    let orders = store
        .register("orders-value", SchemaType::Json, ORDERS_V1)
        .await
        .unwrap();
    let key = store
        .register("orders-key", SchemaType::Avro, AVRO)
        .await
        .unwrap();
    assert_eq!((orders.version, key.version), (1, 1));
    assert_ne!(orders.id, key.id, "ids are registry-wide");
    let same = store
        .register("orders-value", SchemaType::Json, ORDERS_V1)
        .await
        .unwrap();
    assert_eq!(same, orders, "identical schema keeps its version");
    let orders2 = store
        .register("orders-value", SchemaType::Json, ORDERS_V2)
        .await
        .unwrap();
    assert_eq!(orders2.version, 2);
    assert!(orders2.id > orders.id.max(key.id));

    assert_eq!(partitions(&broker.bootstrap, &cfg.schemas_topic).await, 1);
    assert_eq!(
        cleanup_policy(&broker.bootstrap, &cfg.schemas_topic)
            .await
            .as_deref(),
        Some("compact"),
        "the schemas topic is compacted"
    );

    // A restarted gateway: a new store reads everything back from the topic.
    let restarted = SchemaStore::new(&cfg).unwrap();
    assert_eq!(
        restarted.latest("orders-value").await.unwrap().as_ref(),
        Some(&orders2)
    );
    assert_eq!(
        restarted.latest("orders-key").await.unwrap().as_ref(),
        Some(&key)
    );
    assert_eq!(
        restarted.subjects().await.unwrap(),
        ["orders-key", "orders-value"]
    );

    // Delete through the restarted store: the first store, and a third one, stop seeing it.
    assert!(restarted.delete("orders-value").await.unwrap());
    assert!(!restarted.delete("orders-value").await.unwrap());
    // On the topic: one JSON record per version keyed by subject, then the highest id handed
    // out (so compaction cannot make a deleted subject's id reusable), then a tombstone.
    let records = raw_records(&broker.bootstrap, &cfg.schemas_topic).await;
    let keys: Vec<&str> = records.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "orders-value",
            "orders-key",
            "orders-value",
            "#max-id",
            "orders-value"
        ]
    );
    assert_eq!(
        records[2].1,
        Some(
            serde_json::json!({"subject": "orders-value", "version": 2, "id": orders2.id,
            "schemaType": "JSON", "schema": ORDERS_V2})
        )
    );
    assert_eq!(records[1].1.as_ref().unwrap()["schemaType"], "AVRO");
    assert_eq!(records[3].1, Some(serde_json::json!({"maxId": orders2.id})));
    assert_eq!(records[4].1, None, "a delete is a tombstone");

    let third = SchemaStore::new(&cfg).unwrap();
    assert_eq!(third.latest("orders-value").await.unwrap(), None);
    assert_eq!(third.subjects().await.unwrap(), ["orders-key"]);

    // Ids of deleted subjects are never handed out again, also after another restart.
    let fourth = SchemaStore::new(&cfg).unwrap();
    let other = fourth
        .register("payments-value", SchemaType::Json, ORDERS_V1)
        .await
        .unwrap();
    assert!(other.id > orders2.id, "{} reused an id", other.id);
    let recreated = fourth
        .register("orders-value", SchemaType::Json, ORDERS_V1)
        .await
        .unwrap();
    assert_eq!(recreated.version, 1, "a deleted subject starts again at 1");
    let mut ids = vec![orders.id, key.id, orders2.id, other.id, recreated.id];
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "ids are unique: {ids:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn topic_store_sees_other_gateways_writes_after_the_metadata_ttl() {
    let broker = broker::shared().await;
    let mut cfg = topic_config(&broker.bootstrap, "_sqlgate_schemas_ttl");
    cfg.metadata_ttl = Duration::from_millis(300);
    let a = SchemaStore::new(&cfg).unwrap();
    let b = SchemaStore::new(&cfg).unwrap();
    assert_eq!(b.latest("x-value").await.unwrap(), None);
    let x = a
        .register("x-value", SchemaType::Json, ORDERS_V1)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(b.latest("x-value").await.unwrap(), Some(x.clone()));
    // `b` writes next: it re-reads first, so ids continue after `a`'s.
    let y = b
        .register("y-value", SchemaType::Json, ORDERS_V2)
        .await
        .unwrap();
    assert!(y.id > x.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn topic_store_without_a_broker_is_unavailable_naming_it() {
    let bootstrap = format!("127.0.0.1:{}", dead_port());
    let mut cfg = topic_config(&bootstrap, "_sqlgate_schemas");
    cfg.request_timeout = Duration::from_secs(2);
    let store = SchemaStore::new(&cfg).unwrap();
    let started = Instant::now();
    match store.latest("a-value").await {
        Err(SubjectError::Unavailable(m)) => assert!(m.contains(&bootstrap), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    match store.register("a-value", SchemaType::Json, ORDERS_V1).await {
        Err(SubjectError::Unavailable(m)) => assert!(m.contains(&bootstrap), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by request_timeout: {:?}",
        started.elapsed()
    );
}
