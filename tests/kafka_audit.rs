//! The audit log's Kafka replica against real Apache Kafka on loopback: every file record
//! reaches the topic in chain order with identical bytes, a broker outage (the broker stopped,
//! then started again with its data) neither stops the gateway nor loses or repeats records,
//! and `required = true` fails closed. Tests that stop the broker have one of their own; the
//! others share one and use topics of their own.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::broker::{self, Broker};
use common::{TestGateway, developer, post_statement, run_query};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::{Value, json};
use sqlgate::audit::KafkaAuditConfig;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One message of the topic.
#[derive(Debug)]
struct Msg {
    key: Vec<u8>,
    payload: Vec<u8>,
    seq_header: Option<String>,
}

/// The replica's settings for `b`, writing to `topic` (the default topic where `None`).
fn kafka_config(b: &Broker, topic: Option<&str>) -> KafkaAuditConfig {
    let mut k = KafkaAuditConfig::new(&b.bootstrap);
    if let Some(t) = topic {
        k.topic = t.to_string();
    }
    // One broker: the broker default may ask for more replicas than exist.
    k.replication_factor = 1;
    k
}

fn log_path(gw: &TestGateway) -> PathBuf {
    gw.dir.path().join(&gw.config.audit.file)
}

/// Every line of the file log, oldest first, without its `\n`.
fn file_lines(gw: &TestGateway) -> Vec<String> {
    sqlgate::audit::log_files(&log_path(gw))
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Waits until the replica holds every durable record.
async fn wait_replicated(gw: &TestGateway, within: Duration) {
    let kafka = gw
        .gateway
        .auditor()
        .kafka()
        .expect("kafka replica configured");
    let deadline = Instant::now() + within;
    loop {
        let s = kafka.stats();
        if s.backlog == 0 && s.acked_seq > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the replica did not catch up within {within:?}: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads partition 0 of the replica's topic from offset 0 until `want` messages arrived and no
/// more come for a moment (so duplicates would show).
async fn consume_all(k: &KafkaAuditConfig, want: usize) -> Vec<Msg> {
    let (bootstrap, topic) = (k.bootstrap_servers.clone(), k.topic.clone());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "kafka-audit-test")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Beginning)
            .unwrap();
        consumer.assign(&tpl).unwrap();
        // Shown with a failure: where the partition's log begins and ends for a consumer.
        println!(
            "replica topic {topic} partition 0 watermarks: {:?}",
            consumer.fetch_watermarks(&topic, 0, Duration::from_secs(10))
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut out = Vec::new();
        let mut quiet_since = Instant::now();
        while Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    let seq_header = m.headers().and_then(|h| {
                        h.iter()
                            .find(|h| h.key == "sqlgateseq")
                            .and_then(|h| h.value)
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                    });
                    out.push(Msg {
                        key: m.key().unwrap_or_default().to_vec(),
                        payload: m.payload().unwrap_or_default().to_vec(),
                        seq_header,
                    });
                    quiet_since = Instant::now();
                }
                Some(Err(e)) => panic!("consume: {e}"),
                None => {
                    if out.len() >= want && quiet_since.elapsed() > Duration::from_secs(1) {
                        break;
                    }
                }
            }
        }
        out
    })
    .await
    .unwrap()
}

/// The topic holds exactly the file's lines, in order, keyed by record id, and they form one
/// hash chain on their own.
fn assert_replica_matches_file(msgs: &[Msg], lines: &[String]) {
    assert_eq!(
        msgs.len(),
        lines.len(),
        "topic has {} records, file {}; the topic's sqlgateseq headers in order: {:?}",
        msgs.len(),
        lines.len(),
        msgs.iter()
            .map(|m| m.seq_header.as_deref().unwrap_or("-"))
            .collect::<Vec<_>>()
    );
    let mut prev_hash = GENESIS.to_string();
    for (i, (m, line)) in msgs.iter().zip(lines).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(&m.payload),
            *line,
            "record {i}: Kafka bytes differ from the file"
        );
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(
            m.key,
            v["id"].as_str().unwrap().as_bytes(),
            "key = record id"
        );
        let seq = v["sqlgateseq"].as_u64().unwrap();
        assert_eq!(seq, i as u64 + 1, "contiguous sqlgateseq");
        assert_eq!(m.seq_header.as_deref(), Some(seq.to_string().as_str()));
        assert_eq!(
            v["sqlgateprevhash"], prev_hash,
            "record {seq} links to its predecessor"
        );
        let hash = v["sqlgatehash"].as_str().unwrap().to_string();
        assert_eq!(
            sqlgate::audit::record_hash(&v),
            hash,
            "record {seq} hashes to its sqlgatehash"
        );
        prev_hash = hash;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_record_reaches_kafka_in_order_with_identical_bytes() {
    let broker = broker::shared().await;
    let config = kafka_config(broker, Some("audit-in-order"));
    let gw = TestGateway::start_with(|c| c.audit.kafka = Some(config.clone())).await;
    let dev = developer(&gw);
    run_query(&gw, &dev, "k1", "SELECT 1").await.unwrap();
    run_query(
        &gw,
        &dev,
        "k2",
        "SELECT order_id FROM examples.marketplace.orders WHERE price > 100 LIMIT 2",
    )
    .await
    .unwrap();
    let nobody = common::Cred::Bearer(gw.token("mallory", &[]));
    let refused = post_statement(
        &gw,
        &nobody,
        "k3",
        "SELECT * FROM examples.marketplace.orders",
        json!({}),
    )
    .await;
    assert_eq!(refused.0, 403);
    wait_replicated(&gw, Duration::from_secs(30)).await;
    let lines = file_lines(&gw);
    assert!(
        lines.len() >= 8,
        "a few statements' worth of records: {}",
        lines.len()
    );
    let msgs = consume_all(&config, lines.len()).await;
    assert_replica_matches_file(&msgs, &lines);
    sqlgate::audit::verify(&sqlgate::audit::log_files(&log_path(&gw))).unwrap();
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_keeps_serving_while_kafka_is_down_and_ships_the_backlog_after() {
    // Shown with a failure: the shipper's connections and the seq each resumed from.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("sqlgate::audit=info")
        .with_test_writer()
        .with_ansi(false)
        .try_init();
    let broker = broker::start().await;
    let config = kafka_config(&broker, None);
    let gw = TestGateway::start_with(|c| c.audit.kafka = Some(config.clone())).await;
    let dev = developer(&gw);
    run_query(&gw, &dev, "before", "SELECT 1").await.unwrap();
    wait_replicated(&gw, Duration::from_secs(30)).await;

    broker.stop().await;
    for i in 0..3 {
        run_query(&gw, &dev, &format!("during{i}"), "SELECT 1")
            .await
            .expect("statements are served while Kafka is down (required = false)");
    }
    let stats = gw.gateway.auditor().kafka().unwrap().stats();
    assert!(stats.backlog > 0, "records wait for Kafka: {stats:?}");
    // The stall is what operators see: the replica turns unhealthy within seconds.
    let noticed = tokio::time::timeout(Duration::from_secs(20), async {
        while gw.gateway.auditor().kafka().unwrap().stats().healthy {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let stats = gw.gateway.auditor().kafka().unwrap().stats();
    assert!(noticed.is_ok(), "the outage is noticed: {stats:?}");
    assert!(stats.failures > 0, "{stats:?}");

    // The broker comes back with its data: the backlog follows what it had, nothing twice.
    broker.restart().await;
    run_query(&gw, &dev, "after", "SELECT 1").await.unwrap();
    wait_replicated(&gw, Duration::from_secs(60)).await;
    // Shown with a failure. (This test once found records 7–24 missing from the topic
    // while 25–30 were in it: librdkafka had timed out the outage's records and shipped
    // the later ones; the producer no longer times records out.)
    println!(
        "replica stats after the restart: {:?}",
        gw.gateway.auditor().kafka().unwrap().stats()
    );
    let lines = file_lines(&gw);
    let msgs = consume_all(&config, lines.len()).await;
    if msgs.len() != lines.len() {
        let log = broker.log();
        let notable: Vec<&str> = log
            .lines()
            .filter(|l| {
                l.contains("confluent-audit-log-events")
                    || l.contains("WARN")
                    || l.contains("ERROR")
            })
            .collect();
        println!(
            "broker {} log, notable lines:\n{}",
            broker.bootstrap,
            notable.join("\n")
        );
    }
    assert_replica_matches_file(&msgs, &lines);
    let stats = gw.gateway.auditor().kafka().unwrap().stats();
    assert!(stats.healthy && stats.backlog == 0, "{stats:?}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_kafka_refuses_statements_with_503_when_the_broker_is_down() {
    let broker = broker::start().await;
    let gw = TestGateway::start_with(|c| {
        let mut k = kafka_config(&broker, None);
        k.required = true;
        // Generous: a loaded CI machine must not turn a slow ack into a refusal.
        k.required_timeout = Duration::from_secs(5);
        c.audit.kafka = Some(k);
    })
    .await;
    let dev = developer(&gw);
    run_query(&gw, &dev, "up", "SELECT 1").await.unwrap();
    broker.stop().await;
    let before = gw.engine_calls();
    let (status, body) = post_statement(&gw, &dev, "down", "SELECT 1", json!({})).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        gw.engine_calls(),
        before,
        "nothing ran without Kafka's copy"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_gateway_resumes_after_the_topics_last_record_without_duplicates() {
    let broker = broker::start().await;
    // Kafka is down when the gateway starts: it serves anyway (required = false).
    broker.stop().await;
    let config = kafka_config(&broker, None);
    let gw = TestGateway::start_with(|c| c.audit.kafka = Some(config.clone())).await;
    let dev = developer(&gw);
    run_query(&gw, &dev, "first", "SELECT 1").await.unwrap();
    broker.restart().await;
    wait_replicated(&gw, Duration::from_secs(60)).await;
    let dir = gw.stop().await;

    // Same log, same topic: the new gateway finds where the topic's copy ends.
    let gw = TestGateway::start_in(dir, |c| c.audit.kafka = Some(config.clone())).await;
    let dev = developer(&gw);
    run_query(&gw, &dev, "second", "SELECT 2").await.unwrap();
    wait_replicated(&gw, Duration::from_secs(30)).await;
    let lines = file_lines(&gw);
    let msgs = consume_all(&config, lines.len()).await;
    assert_replica_matches_file(&msgs, &lines);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_reach_kafka_where_a_cut_of_log_and_checkpoint_file_cannot_hide() {
    use common::tamper::{checkpoint_at, checkpoints_of, lines, log_of, verify, write_lines};
    let broker = broker::shared().await;
    let gw = TestGateway::start_with(|c| {
        c.audit.kafka = Some(kafka_config(broker, Some("audit-cut")));
        c.audit.checkpoint.every_records = 5;
    })
    .await;
    let dev = developer(&gw);
    for i in 0..3 {
        run_query(&gw, &dev, &format!("c{i}"), "SELECT 1")
            .await
            .unwrap();
    }
    // The drain writes the shutdown checkpoint and waits for Kafka to acknowledge it.
    let dir = gw.stop().await;
    let cp_file = checkpoints_of(dir.path());
    let all_cps = lines(&cp_file);
    let cfg = kafka_config(broker, Some("audit-cut"));
    let on_kafka =
        tokio::task::spawn_blocking(move || sqlgate::audit::read_kafka_checkpoints(&cfg))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        on_kafka.last().map(|(_, l)| l),
        all_cps.last(),
        "the shutdown checkpoint is on Kafka byte for byte: {on_kafka:#?}"
    );
    // The attacker cuts the log and the checkpoint file back to an older checkpoint.
    let total = checkpoint_at(all_cps.last().unwrap()).0;
    let keep = all_cps
        .iter()
        .rposition(|l| checkpoint_at(l).0 < total)
        .unwrap()
        + 1;
    let (seq, _) = checkpoint_at(&all_cps[keep - 1]);
    write_lines(&cp_file, &all_cps[..keep]);
    let log = log_of(dir.path());
    let rows: Vec<String> = lines(&log)
        .into_iter()
        .filter(|l| {
            serde_json::from_str::<Value>(l).unwrap()["sqlgateseq"]
                .as_u64()
                .unwrap()
                <= seq
        })
        .collect();
    write_lines(&log, &rows);
    let config = format!(
        "{}\n[audit.kafka]\nbootstrap_servers = \"{}\"\ntopic = \"audit-cut\"\n",
        sqlgate::config::DEFAULT_CONFIG,
        broker.bootstrap
    );
    std::fs::write(dir.path().join("verify.toml"), config).unwrap();
    let (code, out) = verify(dir.path(), &["--config", "verify.toml"]);
    assert_eq!(code, 0, "the directory alone cannot tell: {out}");
    let (code, out) = verify(dir.path(), &["--config", "verify.toml", "--kafka"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "cut tail: the log ends at seq {seq}, short of checkpoint seq {total}"
        )) && out.contains("Kafka topic `audit-cut-checkpoints` offset"),
        "{out}"
    );
}
