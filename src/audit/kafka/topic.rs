//! The replica's topics: creating one (one partition) when missing, and reading the last
//! record of the log's topic (where a reconnecting shipper resumes).

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::reader::LineHead;
use super::{ADMIN_TIMEOUT, KafkaAuditConfig, PARTITION};

/// Creates `topic_name` (one partition) unless it exists, per `create_topic`.
pub(super) async fn ensure_topic(cfg: &KafkaAuditConfig, topic_name: &str) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = cfg
        .client_config()
        .create()
        .map_err(|e| format!("create Kafka admin client: {e}"))?;
    let md = admin
        .inner()
        .fetch_metadata(Some(topic_name), ADMIN_TIMEOUT)
        .map_err(|e| format!("Kafka metadata: {e}"))?;
    let exists = md
        .topics()
        .iter()
        .any(|t| t.name() == topic_name && t.error().is_none() && !t.partitions().is_empty());
    if exists {
        return Ok(());
    }
    if !cfg.create_topic {
        return Err(format!(
            "topic `{}` does not exist (audit.kafka.create_topic = false)",
            topic_name
        ));
    }
    let topic = NewTopic::new(
        topic_name,
        1,
        TopicReplication::Fixed(cfg.replication_factor),
    );
    let opts = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    let results = admin
        .create_topics([&topic], &opts)
        .await
        .map_err(|e| format!("create topic `{}`: {e}", topic_name))?;
    for r in results {
        match r {
            Ok(_) => {
                tracing::info!(target: "sqlgate::audit", topic = %topic_name, "created the audit Kafka topic");
            }
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => return Err(format!("create topic `{name}`: {code}")),
        }
    }
    Ok(())
}

/// `(sqlgateseq, sqlgatehash)` of the last record in the topic's partition 0, if any.
///
/// Reads from the high watermark minus one to the end rather than trusting the watermark to
/// name the last record: some Kafka-protocol brokers under-report it (the base offset of the
/// last batch plus one).
pub(super) fn last_in_topic(cfg: &KafkaAuditConfig) -> Result<Option<(u64, String)>, String> {
    let mut cc = cfg.client_config();
    cc.set("group.id", "sqlgate-audit-replica")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true");
    let consumer: BaseConsumer = cc
        .create()
        .map_err(|e| format!("create Kafka consumer: {e}"))?;
    let (low, high) = consumer
        .fetch_watermarks(&cfg.topic, PARTITION, ADMIN_TIMEOUT)
        .map_err(|e| format!("read the end of topic `{}`: {e}", cfg.topic))?;
    if high <= low {
        return Ok(None);
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&cfg.topic, PARTITION, Offset::Offset((high - 1).max(low)))
        .map_err(|e| e.to_string())?;
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + ADMIN_TIMEOUT;
    let mut last: Option<(i64, Vec<u8>)> = None;
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) if last.as_ref().is_none_or(|(o, _)| m.offset() > *o) => {
                last = Some((m.offset(), m.payload().unwrap_or_default().to_vec()));
            }
            Some(Ok(_)) => {}
            Some(Err(KafkaError::PartitionEOF(_))) if last.is_some() => break,
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => return Err(format!("read the end of topic `{}`: {e}", cfg.topic)),
            None if last.is_some() => break,
            None => {}
        }
    }
    let Some((offset, payload)) = last else {
        return Err(format!(
            "topic `{}` reports records up to offset {high} but none could be read",
            cfg.topic
        ));
    };
    let head: LineHead = serde_json::from_slice(&payload).map_err(|e| {
        format!(
            "topic `{}` offset {offset} is not an audit record ({e}); refusing to append to it",
            cfg.topic
        )
    })?;
    Ok(Some((head.sqlgateseq, head.sqlgatehash)))
}
