//! Where table schemas live: Schema Registry subjects kept in a registry over REST (against
//! the in-suite registry) or, without one, in a compacted topic of the cluster (against a
//! real Kafka-protocol broker, tansu on loopback), surviving a restart of the gateway.

#[allow(dead_code, unreachable_pub)]
#[path = "common/broker.rs"]
mod broker;
#[allow(dead_code, unreachable_pub)]
#[path = "common/registry.rs"]
mod registry;

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use sqlgate::kafka::{KafkaClusterConfig, SchemaStore, SchemaType, SubjectError};

const ORDERS_V1: &str = r#"{"type":"object","properties":{"id":{"type":"integer"}}}"#;
const ORDERS_V2: &str =
    r#"{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":"string"}}}"#;
const AVRO: &str = r#"{"type":"record","name":"K","fields":[{"name":"k","type":"long"}]}"#;

fn registry_config(url: &str) -> KafkaClusterConfig {
    // The bootstrap servers are never contacted by the registry backend.
    let mut cfg = KafkaClusterConfig::new("127.0.0.1:1");
    cfg.schema_registry_url = Some(url.to_string());
    cfg.request_timeout = Duration::from_secs(2);
    cfg
}

fn topic_config(bootstrap: &str) -> KafkaClusterConfig {
    let mut cfg = KafkaClusterConfig::new(bootstrap);
    // One broker: the broker default may ask for more replicas than exist.
    cfg.replication_factor = 1;
    cfg.request_timeout = Duration::from_secs(15);
    cfg
}

// === Registry backend ===

#[tokio::test(flavor = "multi_thread")]
async fn registry_subjects_register_version_and_delete() {
    let reg = registry::start().await;
    let store = SchemaStore::new(&registry_config(&reg.url)).unwrap();
    assert_eq!(reg.requests(), 0, "creating the store must not connect");

    assert_eq!(store.latest("orders-value").await.unwrap(), None);
    let v1 = store
        .register("orders-value", SchemaType::Json, ORDERS_V1)
        .await
        .unwrap();
    assert_eq!((v1.subject.as_str(), v1.version), ("orders-value", 1));
    assert_eq!(v1.schema_type, SchemaType::Json);
    assert_eq!(reg.subjects(), ["orders-value"]);

    let latest = store.latest("orders-value").await.unwrap().unwrap();
    assert_eq!(latest, v1);

    let again = store
        .register("orders-value", SchemaType::Json, ORDERS_V1)
        .await
        .unwrap();
    assert_eq!((again.id, again.version), (v1.id, 1), "identical schema");

    let v2 = store
        .register("orders-value", SchemaType::Json, ORDERS_V2)
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_ne!(v2.id, v1.id);
    assert_eq!(store.latest("orders-value").await.unwrap().unwrap(), v2);

    // AVRO travels without schemaType and comes back as AVRO; a subject name needing escapes
    // is one path segment.
    let k = store
        .register("odd/name ?-key", SchemaType::Avro, AVRO)
        .await
        .unwrap();
    let back = store.latest("odd/name ?-key").await.unwrap().unwrap();
    assert_eq!(back, k);
    assert_eq!(back.schema_type, SchemaType::Avro);
    assert_eq!(
        store.subjects().await.unwrap(),
        ["odd/name ?-key", "orders-value"]
    );

    assert!(store.delete("orders-value").await.unwrap());
    assert_eq!(store.latest("orders-value").await.unwrap(), None);
    assert_eq!(reg.subjects(), ["odd/name ?-key"]);
    assert!(!store.delete("orders-value").await.unwrap(), "already gone");
    // Hard-deleted: registering again starts a new subject at version 1.
    let fresh = store
        .register("orders-value", SchemaType::Json, ORDERS_V2)
        .await
        .unwrap();
    assert_eq!(fresh.version, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_refusals_are_rejected_with_the_registry_message() {
    let reg = registry::start().await;
    let store = SchemaStore::new(&registry_config(&reg.url)).unwrap();
    match store
        .register("bad-value", SchemaType::Json, "{not json")
        .await
    {
        Err(SubjectError::Rejected(m)) => assert!(m.contains("Invalid schema"), "{m}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(reg.subjects().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_outage_is_unavailable_naming_the_registry() {
    let reg = registry::start().await;
    let store = SchemaStore::new(&registry_config(&reg.url)).unwrap();
    store
        .register("t-value", SchemaType::Json, ORDERS_V1)
        .await
        .unwrap();

    reg.set_down(true);
    let before = reg.requests();
    for result in [
        store.latest("t-value").await.map(|_| ()),
        store
            .register("t-value", SchemaType::Json, ORDERS_V2)
            .await
            .map(|_| ()),
        store.delete("t-value").await.map(|_| ()),
    ] {
        match result {
            Err(SubjectError::Unavailable(m)) => assert!(m.contains(&reg.url), "{m}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    assert!(
        reg.requests() >= before + 3,
        "each call reached the registry"
    );

    reg.set_down(false);
    assert_eq!(store.latest("t-value").await.unwrap().unwrap().version, 1);

    // Nothing listening at all: also Unavailable, within the request timeout.
    let url = reg.url.clone();
    drop(reg);
    let started = Instant::now();
    match SchemaStore::new(&registry_config(&url))
        .unwrap()
        .latest("t-value")
        .await
    {
        Err(SubjectError::Unavailable(m)) => assert!(m.contains(&url), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_credentials_are_sent_as_http_basic() {
    let reg = registry::start().await;
    reg.require_auth(Some("key:secret"));
    let mut cfg = registry_config(&reg.url);
    let anonymous = SchemaStore::new(&cfg).unwrap();
    assert!(matches!(
        anonymous.latest("a-value").await,
        Err(SubjectError::Rejected(_))
    ));
    cfg.schema_registry_basic_auth = Some("key:secret".into());
    let store = SchemaStore::new(&cfg).unwrap();
    assert_eq!(store.latest("a-value").await.unwrap(), None);
    store
        .register("a-value", SchemaType::Json, ORDERS_V1)
        .await
        .unwrap();
    assert_eq!(reg.subjects(), ["a-value"]);
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
    let broker = broker::start().await;
    let cfg = topic_config(&broker.bootstrap);

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
    let policy = cleanup_policy(&broker.bootstrap, &cfg.schemas_topic).await;
    eprintln!("schemas topic cleanup.policy as described by the broker: {policy:?}");

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
    let broker = broker::start().await;
    let mut cfg = topic_config(&broker.bootstrap);
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
    let mut broker = broker::start().await;
    let mut cfg = topic_config(&broker.bootstrap);
    cfg.request_timeout = Duration::from_secs(2);
    broker.kill();
    let store = SchemaStore::new(&cfg).unwrap();
    let started = Instant::now();
    match store.latest("a-value").await {
        Err(SubjectError::Unavailable(m)) => assert!(m.contains(&broker.bootstrap), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    match store.register("a-value", SchemaType::Json, ORDERS_V1).await {
        Err(SubjectError::Unavailable(m)) => assert!(m.contains(&broker.bootstrap), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by request_timeout: {:?}",
        started.elapsed()
    );
}
