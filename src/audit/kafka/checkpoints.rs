//! The checkpoints' copy on Kafka: every signed checkpoint the writer writes is produced to a
//! sibling topic of the log's replica (`audit.kafka.checkpoint_topic`, default
//! `<topic>-checkpoints`), and `sqlgate audit verify --kafka` reads them back.
//!
//! A sibling topic, not the log's topic, so that the log's topic stays one hash chain that
//! consumers (and the replica's own resume logic) read record by record. Message shape:
//! partition 0; key `checkpoint`; value the signed line exactly as in the checkpoint file
//! (canonical JSON, no `\n`); headers `content-type: application/json` and `sqlgateseq` (the
//! seq the checkpoint names).
//!
//! Latest wins: only the newest checkpoint matters for detecting a cut tail (the log's own
//! replica covers the records), so while Kafka is away the shipper keeps just the newest and
//! produces it when Kafka is back. It never blocks the writer or a statement.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use super::{
    ADMIN_TIMEOUT, BACKOFF_MAX, BACKOFF_MIN, CLOSE_GRACE, KafkaAuditConfig, PARTITION,
    ensure_topic, replica_error,
};
use crate::audit::AuditError;
use crate::audit::checkpoint::store::Published;

/// How long one checkpoint may wait for its acknowledgement before the shipper retries.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `read_kafka_checkpoints` reads before giving up on reaching the end.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts the shipper thread; returns the highest `Published::n` Kafka acknowledged.
pub(super) fn spawn(
    config: &KafkaAuditConfig,
    latest: watch::Receiver<Option<Published>>,
) -> Result<watch::Receiver<u64>, AuditError> {
    let (delivered_tx, delivered_rx) = watch::channel(0);
    let shipper = Shipper {
        topic: config.checkpoint_topic(),
        config: config.clone(),
        latest,
        delivered: delivered_tx,
    };
    std::thread::Builder::new()
        .name("sqlgate-audit-kafka-cp".into())
        .spawn(move || shipper.run())
        .map_err(|e| replica_error(format!("spawn the Kafka checkpoint shipper: {e}")))?;
    Ok(delivered_rx)
}

struct Shipper {
    config: KafkaAuditConfig,
    topic: String,
    latest: watch::Receiver<Option<Published>>,
    delivered: watch::Sender<u64>,
}

impl Shipper {
    fn run(mut self) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        else {
            tracing::error!(target: "sqlgate::audit", "cannot start the Kafka checkpoint shipper runtime");
            return;
        };
        rt.block_on(async move {
            let mut producer: Option<FutureProducer> = None;
            let mut backoff = BACKOFF_MIN;
            let mut closing: Option<Instant> = None;
            let mut warned = false;
            loop {
                let next = self.latest.borrow_and_update().clone();
                let done = *self.delivered.borrow();
                match next.filter(|p| p.n > done) {
                    None if closing.is_some() => return,
                    None => {
                        if self.latest.changed().await.is_err() {
                            closing = Some(Instant::now());
                        }
                        continue;
                    }
                    Some(p) => match self.ship(&mut producer, &p).await {
                        Ok(()) => {
                            backoff = BACKOFF_MIN;
                            if std::mem::take(&mut warned) {
                                tracing::info!(target: "sqlgate::audit", topic = %self.topic, "audit checkpoints reach Kafka again");
                            }
                            self.delivered.send_replace(p.n);
                        }
                        Err(e) => {
                            producer = None;
                            if !std::mem::replace(&mut warned, true) {
                                tracing::warn!(target: "sqlgate::audit", topic = %self.topic, error = %e,
                                    "an audit checkpoint could not be shipped to Kafka; retrying with the newest one (the checkpoint file has them all)");
                            }
                            if closing.is_some_and(|t| t.elapsed() >= CLOSE_GRACE) {
                                return;
                            }
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(BACKOFF_MAX);
                        }
                    },
                }
                if closing.is_none() && self.latest.has_changed().is_err() {
                    closing = Some(Instant::now());
                }
            }
        });
    }

    async fn ship(
        &self,
        producer: &mut Option<FutureProducer>,
        p: &Published,
    ) -> Result<(), String> {
        if producer.is_none() {
            ensure_topic(&self.config, &self.topic).await?;
            let mut pc = self.config.client_config();
            // One checkpoint at a time, so a timed-out one leaves no hole behind a later one;
            // the newest is retried after a minute.
            pc.set("acks", "all").set("message.timeout.ms", "60000");
            *producer = Some(
                pc.create()
                    .map_err(|e| format!("create Kafka producer: {e}"))?,
            );
        }
        let Some(producer) = producer.as_ref() else {
            return Err("no producer".into());
        };
        let seq = serde_json::from_str::<serde_json::Value>(&p.line)
            .ok()
            .and_then(|v| v.get("seq").and_then(serde_json::Value::as_u64))
            .unwrap_or(0)
            .to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "content-type",
                value: Some("application/json"),
            })
            .insert(Header {
                key: "sqlgateseq",
                value: Some(seq.as_str()),
            });
        let record = FutureRecord::to(&self.topic)
            .partition(PARTITION)
            .key("checkpoint")
            .payload(p.line.as_bytes())
            .headers(headers);
        match producer.send(record, DELIVERY_TIMEOUT).await {
            Ok(_) => Ok(()),
            Err((e, _)) => Err(format!("Kafka refused checkpoint {}: {e}", p.n)),
        }
    }
}

/// Every message of the checkpoint topic, oldest first, as `(where, line)` pairs for
/// [`crate::audit::Anchors::add_lines`]. An absent or empty topic yields none.
pub fn read_kafka_checkpoints(cfg: &KafkaAuditConfig) -> Result<Vec<(String, String)>, String> {
    let topic = cfg.checkpoint_topic();
    let mut cc = cfg.client_config();
    cc.set("group.id", "sqlgate-audit-verify")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true");
    let consumer: BaseConsumer = cc
        .create()
        .map_err(|e| format!("create Kafka consumer: {e}"))?;
    let md = consumer
        .fetch_metadata(Some(&topic), ADMIN_TIMEOUT)
        .map_err(|e| format!("Kafka metadata: {e}"))?;
    let exists = md
        .topics()
        .iter()
        .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty());
    if !exists {
        return Ok(Vec::new());
    }
    let (low, high) = consumer
        .fetch_watermarks(&topic, PARTITION, ADMIN_TIMEOUT)
        .map_err(|e| format!("read the end of topic `{topic}`: {e}"))?;
    if high <= low {
        return Ok(Vec::new());
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, PARTITION, Offset::Offset(low))
        .map_err(|e| e.to_string())?;
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut out: Vec<(i64, String)> = Vec::new();
    // Read to the partition's end (EOF), not to the watermark: some Kafka-protocol brokers
    // under-report it (the base offset of the last batch plus one).
    loop {
        if Instant::now() >= deadline {
            return Err(format!(
                "topic `{topic}`: did not reach its end within {READ_TIMEOUT:?}"
            ));
        }
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                if out.last().is_none_or(|(o, _)| m.offset() > *o) {
                    let line = String::from_utf8_lossy(m.payload().unwrap_or_default());
                    out.push((m.offset(), line.into_owned()));
                }
            }
            Some(Err(KafkaError::PartitionEOF(_)))
                if out.last().is_some_and(|(o, _)| *o >= high - 1) =>
            {
                break;
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => {}
            Some(Err(e)) => return Err(format!("read topic `{topic}`: {e}")),
        }
    }
    Ok(out
        .into_iter()
        .map(|(o, line)| (format!("Kafka topic `{topic}` offset {o}"), line))
        .collect())
}
