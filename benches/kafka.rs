//! Kafka as storage, against real Apache Kafka started like the tests start it
//! (`scripts/dev-stack.sh up kafka`, a state directory of its own): `cargo bench --bench kafka`.
//!
//! * `list_topics/{cold,cached}`: listing a cluster with 1,000 topics. Cold is a fresh
//!   cluster handle (new clients, empty cache: one metadata request); cached is the same
//!   handle asked again within `metadata_ttl`.
//! * `scan_100k/{plain_consumer,gateway_snapshot}`: reading a 100,000-record topic (JSON
//!   values, framed with a registered schema id, 2 partitions) to its end. The baseline is a
//!   plain rdkafka consumer that only counts records; the gateway's snapshot scan decodes
//!   every record into Arrow columns through DataFusion (`SELECT *`). Throughput is reported
//!   in records per second; their ratio is the cost of turning records into rows.

#[path = "../tests/common/broker.rs"]
#[allow(dead_code, unreachable_pub)]
mod broker;
#[path = "../tests/common/stack.rs"]
#[allow(dead_code, unreachable_pub)]
mod stack;

use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider};
use datafusion::execution::context::SessionContext;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;
use sqlgate::engine::embedded::bench_support::topic_schema;
use sqlgate::kafka::{KafkaCluster, KafkaClusterConfig, SchemaType};

const TOPICS: usize = 1_000;
const RECORDS: usize = 100_000;
const PARTITIONS: i32 = 2;

fn config(bootstrap: &str) -> KafkaClusterConfig {
    let mut c = KafkaClusterConfig::new(bootstrap);
    c.request_timeout = Duration::from_secs(30);
    c.metadata_ttl = Duration::from_secs(3600);
    c
}

async fn setup(bootstrap: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let names: Vec<String> = (0..TOPICS).map(|i| format!("topic-{i:04}")).collect();
    for chunk in names.chunks(100) {
        let topics: Vec<NewTopic<'_>> = chunk
            .iter()
            .map(|n| NewTopic::new(n, 1, TopicReplication::Fixed(-1)))
            .collect();
        admin
            .create_topics(topics.iter(), &AdminOptions::new())
            .await
            .unwrap();
    }
    admin
        .create_topics(
            [&NewTopic::new(
                "big",
                PARTITIONS,
                TopicReplication::Fixed(-1),
            )],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    let kc = KafkaCluster::new("lkc-bench", &config(bootstrap)).unwrap();
    let schema = json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "amount": {"type": "number"}
    }, "required": ["id", "name", "amount"]});
    let id = kc
        .subjects()
        .register("big-value", SchemaType::Json, &schema.to_string())
        .await
        .unwrap()
        .id;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .create()
        .unwrap();
    for chunk in (0..RECORDS).collect::<Vec<_>>().chunks(10_000) {
        let payloads: Vec<Vec<u8>> = chunk
            .iter()
            .map(|i| {
                let mut v = vec![0u8];
                v.extend(id.to_be_bytes());
                v.extend(
                    json!({"id": i, "name": format!("customer-{i}"), "amount": *i as f64 * 0.5})
                        .to_string()
                        .into_bytes(),
                );
                v
            })
            .collect();
        let sends = payloads.iter().zip(chunk).map(|(p, i)| {
            producer.send(
                FutureRecord::<(), _>::to("big")
                    .payload(p)
                    .partition((*i as i32) % PARTITIONS),
                Duration::from_secs(30),
            )
        });
        for r in futures::future::join_all(sends).await {
            r.unwrap();
        }
    }
}

/// Counts every record of `big` with a plain consumer (assigned, from the beginning, to EOF).
fn plain_consume(bootstrap: &str) -> usize {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench-plain")
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        // The same start as the gateway's scan (an explicit offset: its low watermark, 0
        // here), so both pay for the same requests.
        tpl.add_partition_offset("big", p, Offset::Offset(0))
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let (mut n, mut eof) = (0, 0);
    while eof < PARTITIONS {
        match c.poll(Duration::from_secs(5)) {
            Some(Ok(_)) => n += 1,
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => eof += 1,
            Some(Err(e)) => panic!("{e}"),
            None => panic!("no record within 5 s after {n}"),
        }
    }
    n
}

fn kafka(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let b = rt.block_on(broker::start());
    let bootstrap = b.bootstrap.clone();
    rt.block_on(setup(&bootstrap));

    let mut g = c.benchmark_group("list_topics");
    g.sample_size(20);
    g.bench_function("cold", |bench| {
        bench.iter_batched(
            || KafkaCluster::new("lkc-bench", &config(&bootstrap)).unwrap(),
            |kc| {
                let n = rt.block_on(kc.topics()).unwrap().len();
                assert!(n > TOPICS);
                kc
            },
            BatchSize::PerIteration,
        )
    });
    let kc = KafkaCluster::new("lkc-bench", &config(&bootstrap)).unwrap();
    rt.block_on(kc.topics()).unwrap();
    g.bench_function("cached", |bench| {
        bench.iter(|| rt.block_on(kc.topics()).unwrap().len())
    });
    g.finish();

    let kc = Arc::new(kc);
    let ctx = SessionContext::new();
    let catalog = MemoryCatalogProvider::new();
    catalog
        .register_schema("lkc", topic_schema(kc, 8192))
        .unwrap();
    ctx.register_catalog("env", Arc::new(catalog));

    let mut g = c.benchmark_group("scan_100k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.bench_function("plain_consumer", |bench| {
        bench.iter(|| assert_eq!(plain_consume(&bootstrap), RECORDS))
    });
    g.bench_function("gateway_snapshot", |bench| {
        bench.iter(|| {
            let rows: usize = rt.block_on(async {
                let df = ctx.sql("SELECT * FROM env.lkc.big").await.unwrap();
                df.collect()
                    .await
                    .unwrap()
                    .iter()
                    .map(|b| b.num_rows())
                    .sum()
            });
            assert_eq!(rows, RECORDS);
        })
    });
    g.finish();
    drop(b);
}

criterion_group!(benches, kafka);
criterion_main!(benches);
