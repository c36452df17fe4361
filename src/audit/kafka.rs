//! The Kafka replica of the audit log: ships every line of the hash-chained files, byte for
//! byte and in chain order, to one partition of a Kafka topic.
//!
//! Owns topic creation, the idempotent producer, finding where the topic's copy ends, and
//! tailing the files from there (`config` owns the `[audit.kafka]` settings). It must not change, reorder or
//! re-serialize a record, and it never decides whether a statement runs: [`super::Auditor`]
//! does, from [`KafkaSink::wait_delivered`] when `required = true`.
//!
//! ## Semantics
//! - **The file is the durability point.** A record reaches Kafka only after it was fsynced
//!   to the file, so the Kafka copy carries the same `sqlgateseq`/`sqlgateprevhash`/
//!   `sqlgatehash` and can be verified as a chain on its own, and it witnesses the end of the
//!   file chain (which the files alone cannot, see [`crate::audit`]).
//! - **Shipped from the files, not from memory.** A thread tails the log files (following
//!   rotation) and produces each durable line. The backlog while Kafka is unreachable *is*
//!   the files: memory stays bounded (at most [`MAX_IN_FLIGHT`] records in the producer), and
//!   a backlog survives a gateway restart. On every (re)connection the sink reads the last
//!   record in the topic and continues after it, once it has checked that record's hash
//!   against the file. An empty topic (new, or a broker that lost its data) gets everything
//!   the retained files still hold.
//! - **Message shape.** Partition 0 always, so the topic's order is the chain's order,
//!   whatever the partition count. Key: the record id. Value: the canonical JSON line exactly
//!   as in the file, without its `\n` (CloudEvents structured mode, header
//!   `content-type: application/cloudevents+json; charset=UTF-8`); header `sqlgateseq`.
//! - **Delivery.** Idempotent producer (`enable.idempotence=true`, `acks=all`), so retries
//!   inside one producer session neither reorder nor duplicate. A record never times out in
//!   the producer (`message.timeout.ms=0`): while Kafka is away it is retried until Kafka is
//!   back, in order, because a timed-out record is skipped by librdkafka and the records
//!   after it would land with a hole before them. `enable.gapless.guarantee=true` turns any
//!   other error that could leave a hole into a failure of the whole producer. After a
//!   delivery failure the sink waits for everything in flight to settle, reconnects and
//!   resumes after the last record the topic holds; if a later record was acknowledged after
//!   an earlier one failed all the same, it resumes from the first failed record instead, so
//!   the topic is never missing a record (records are then duplicated, and an error is
//!   logged). A record is duplicated otherwise only if the broker lost data it had
//!   acknowledged. Consumers can deduplicate on `sqlgateseq`.
//! - **Kafka down.** Statements keep being served (the file has every record); the sink logs
//!   a warning when delivery stalls and every 30 s while it stays down, and
//!   [`KafkaStats::backlog`] counts the records waiting. With `required = true` the gateway
//!   fails closed instead, like it does for the file: a statement is refused (503) when its
//!   record is not acknowledged by Kafka within `required_timeout`, and startup fails when
//!   Kafka cannot be reached.
//! - **Checkpoints.** The signed checkpoints of the chain head go to a sibling topic
//!   (`<topic>-checkpoints`), see [`checkpoints`]: the copy of the anchor that an attacker
//!   with write access to the audit directory cannot cut.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use tokio::sync::watch;

mod checkpoints;
mod config;
mod reader;
mod topic;

pub use checkpoints::read_kafka_checkpoints;
pub use config::KafkaAuditConfig;

use config::replica_error;

use reader::{Line, Reader, find};
use topic::{ensure_topic, last_in_topic};

use super::AuditError;
use super::checkpoint::store::Published;
use super::file::FileSink;

/// Records handed to the producer and not yet acknowledged, at most. Bounds the memory the
/// replica uses however long Kafka is away (the backlog itself stays in the files), while
/// being far more than one linger interval of statements.
const MAX_IN_FLIGHT: usize = 1000;
/// The one partition written: a single partition is what keeps the topic in chain order.
const PARTITION: i32 = 0;
/// How long a front record may wait for its acknowledgement before the replica counts as
/// stalled (and says so); librdkafka itself retries it until Kafka takes it.
const STALL_AFTER: Duration = Duration::from_secs(5);
/// While stalled or disconnected, how often the backlog is logged again.
const REPORT_EVERY: Duration = Duration::from_secs(30);
/// Re-reads the files at least this often, for records appended without a wake-up.
const TICK: Duration = Duration::from_millis(500);
/// Reconnection backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// Timeout of each metadata, topic-creation and end-of-topic lookup.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);
/// With `required = true`, how long startup waits for the first connection.
const STARTUP_WAIT: Duration = Duration::from_secs(30);
/// When the gateway stops, how long queued records still get to reach Kafka.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// CloudEvents Kafka protocol binding, structured content mode.
const CONTENT_TYPE: &str = "application/cloudevents+json; charset=UTF-8";

// === KafkaSink ===

/// A snapshot of the replica's progress, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KafkaStats {
    /// `sqlgateseq` of the last record the topic is known to hold.
    pub acked_seq: u64,
    /// Durable records not yet in the topic (the file's last seq minus `acked_seq`).
    pub backlog: u64,
    /// Records acknowledged by Kafka since startup (re-deliveries included).
    pub delivered: u64,
    /// Delivery failures (a refused record, or one not acknowledged within 5 s) and failed
    /// connection attempts since startup.
    pub failures: u64,
    /// Whether the last attempt succeeded and nothing is stalled.
    pub healthy: bool,
}

#[derive(Debug, Default)]
struct Shared {
    acked_seq: AtomicU64,
    delivered: AtomicU64,
    failures: AtomicU64,
    healthy: AtomicBool,
    last_error: Mutex<Option<String>>,
}

/// The Kafka replica: a shipper thread plus the handles to wake it and wait for it. Cheap to
/// clone; the shipper stops (after a short grace to deliver what is queued) when the last
/// clone is dropped.
#[derive(Clone)]
pub struct KafkaSink {
    inner: Arc<Inner>,
}

struct Inner {
    topic: String,
    required: bool,
    required_timeout: Duration,
    file: FileSink,
    shared: Arc<Shared>,
    /// Wakes the shipper: the highest seq known durable.
    durable: watch::Sender<u64>,
    /// Highest seq Kafka acknowledged (monotonic); `required` waits on it.
    delivered: watch::Receiver<u64>,
    /// Becomes `true` at the first successful connection.
    connected: watch::Receiver<bool>,
    /// The newest checkpoint written, and the highest of them Kafka acknowledged.
    checkpoints: Option<(watch::Receiver<Option<Published>>, watch::Receiver<u64>)>,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("topic", &self.inner.topic)
            .field("required", &self.inner.required)
            .field("stats", &self.stats())
            .finish()
    }
}

impl KafkaSink {
    /// Starts the shipper for the log behind `file`. Does not wait for Kafka: see
    /// [`KafkaSink::wait_connected`].
    pub fn start(config: &KafkaAuditConfig, file: &FileSink) -> Result<Self, AuditError> {
        config.validate()?;
        let shared = Arc::new(Shared::default());
        let (durable_tx, durable_rx) = watch::channel(file.stats().last_seq);
        let (delivered_tx, delivered_rx) = watch::channel(0);
        let (connected_tx, connected_rx) = watch::channel(false);
        let shipper = Shipper {
            config: config.clone(),
            file: file.clone(),
            shared: shared.clone(),
            durable: durable_rx,
            delivered: delivered_tx,
            connected: connected_tx,
            resume_at: None,
        };
        std::thread::Builder::new()
            .name("sqlgate-audit-kafka".into())
            .spawn(move || shipper.run())
            .map_err(|e| replica_error(format!("spawn the Kafka shipper: {e}")))?;
        let checkpoints = match file.checkpoints() {
            Some(latest) => Some((latest.clone(), checkpoints::spawn(config, latest)?)),
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                topic: config.topic.clone(),
                required: config.required,
                required_timeout: config.required_timeout,
                file: file.clone(),
                shared,
                durable: durable_tx,
                delivered: delivered_rx,
                connected: connected_rx,
                checkpoints,
            }),
        })
    }

    /// Waits (at most 5 s) until Kafka acknowledged the newest checkpoint written; used at
    /// graceful shutdown, after the shutdown checkpoint.
    pub async fn flush_checkpoints(&self) {
        let Some((latest, delivered)) = &self.inner.checkpoints else {
            return;
        };
        let target = latest.borrow().as_ref().map_or(0, |p| p.n);
        let mut delivered = delivered.clone();
        if tokio::time::timeout(CLOSE_GRACE, delivered.wait_for(|d| *d >= target))
            .await
            .is_err()
        {
            tracing::warn!(target: "sqlgate::audit", topic = %self.inner.topic,
                "the shutdown checkpoint did not reach Kafka within {CLOSE_GRACE:?}; the checkpoint file has it");
        }
    }

    /// Waits (at most 30 s) until the topic exists and its end was read; used at startup when
    /// `required = true`.
    pub async fn wait_connected(&self) -> Result<(), AuditError> {
        let mut rx = self.inner.connected.clone();
        match tokio::time::timeout(STARTUP_WAIT, rx.wait_for(|c| *c)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(replica_error(format!(
                "Kafka audit topic `{}` not reachable within {STARTUP_WAIT:?}: {}",
                self.inner.topic,
                self.last_error()
            ))),
        }
    }

    /// Tells the shipper that records up to `seq` are durable in the file.
    pub fn notify_durable(&self, seq: u64) {
        self.inner.durable.send_if_modified(|v| {
            let newer = seq > *v;
            if newer {
                *v = seq;
            }
            newer
        });
    }

    /// Whether statements wait for Kafka (`required = true`).
    pub fn required(&self) -> bool {
        self.inner.required
    }

    /// Waits until Kafka acknowledged the record `seq` (at most `required_timeout`).
    pub async fn wait_delivered(&self, seq: u64) -> Result<(), AuditError> {
        let mut rx = self.inner.delivered.clone();
        match tokio::time::timeout(self.inner.required_timeout, rx.wait_for(|d| *d >= seq)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(AuditError::Closed),
            Err(_) => Err(replica_error(format!(
                "record {seq} not acknowledged by Kafka within {:?} (audit.kafka.required = true): {}",
                self.inner.required_timeout,
                self.last_error()
            ))),
        }
    }

    /// A snapshot of the replica's progress.
    pub fn stats(&self) -> KafkaStats {
        let s = &self.inner.shared;
        let acked_seq = s.acked_seq.load(Ordering::Relaxed);
        KafkaStats {
            acked_seq,
            backlog: self.inner.file.stats().last_seq.saturating_sub(acked_seq),
            delivered: s.delivered.load(Ordering::Relaxed),
            failures: s.failures.load(Ordering::Relaxed),
            healthy: s.healthy.load(Ordering::Relaxed),
        }
    }

    /// The topic written.
    pub fn topic(&self) -> &str {
        &self.inner.topic
    }

    fn last_error(&self) -> String {
        self.inner
            .shared
            .last_error
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .unwrap_or_else(|| "no error reported yet".into())
    }
}

// === Shipper ===

struct InFlight {
    line: Line,
    delivery: DeliveryFuture,
    sent: Instant,
}

/// Why a delivery session ended.
enum SessionEnd {
    /// The gateway is gone and the backlog was delivered (or the grace ran out).
    Closed,
    /// Kafka refused or timed out a record: reconnect and resume from the topic's end.
    Failed(String),
}

struct Shipper {
    config: KafkaAuditConfig,
    file: FileSink,
    shared: Arc<Shared>,
    durable: watch::Receiver<u64>,
    delivered: watch::Sender<u64>,
    connected: watch::Sender<bool>,
    /// Set when the topic holds records after a hole: the first seq the hole lacks.
    resume_at: Option<u64>,
}

impl Shipper {
    fn run(mut self) {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                self.fail(&format!("cannot start the Kafka shipper runtime: {e}"));
                return;
            }
        };
        rt.block_on(async move {
            let mut backoff = BACKOFF_MIN;
            let mut last_report: Option<Instant> = None;
            loop {
                if self.durable.has_changed().is_err() && self.backlog() == 0 {
                    return;
                }
                let failure = match self.connect().await {
                    Ok((producer, reader)) => {
                        backoff = BACKOFF_MIN;
                        self.resume_at = None;
                        let _ = self.connected.send(true);
                        if !self.shared.healthy.swap(true, Ordering::Relaxed)
                            && last_report.take().is_some()
                        {
                            tracing::info!(target: "sqlgate::audit", topic = %self.config.topic,
                                backlog = self.backlog(), "audit Kafka replica reconnected; shipping the backlog");
                        }
                        match self.deliver(producer, reader).await {
                            SessionEnd::Closed => return,
                            SessionEnd::Failed(e) => e,
                        }
                    }
                    Err(e) => e,
                };
                let first = self.shared.healthy.swap(false, Ordering::Relaxed)
                    || last_report.is_none();
                self.fail(&failure);
                if first || last_report.is_some_and(|t| t.elapsed() >= REPORT_EVERY) {
                    tracing::warn!(target: "sqlgate::audit", topic = %self.config.topic,
                        backlog = self.backlog(), error = %failure,
                        "audit records are queuing for Kafka; the file log has them and they will be shipped when Kafka is back");
                    last_report = Some(Instant::now());
                }
                // If the gateway stops while Kafka is away, stop now: the files keep the
                // backlog, which the next start ships.
                let pause = tokio::time::sleep(backoff);
                tokio::pin!(pause);
                loop {
                    tokio::select! {
                        _ = &mut pause => break,
                        changed = self.durable.changed() => if changed.is_err() { return },
                    }
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        });
    }

    fn fail(&self, error: &str) {
        self.shared.failures.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = self.shared.last_error.lock() {
            *e = Some(error.to_string());
        }
    }

    fn backlog(&self) -> u64 {
        self.file
            .stats()
            .last_seq
            .saturating_sub(self.shared.acked_seq.load(Ordering::Relaxed))
    }

    /// Ensures the topic, finds where its copy ends, and opens the producer and the file
    /// reader positioned after that record.
    async fn connect(&self) -> Result<(FutureProducer, Reader), String> {
        let cfg = &self.config;
        self.ensure_topic().await?;
        let last = last_in_topic(cfg)?;
        let base = self.file.path().to_path_buf();
        let next = match &last {
            None => 1,
            Some((seq, hash)) => match find(&base, *seq).map_err(|e| e.to_string())? {
                Some(l) if l.seq == *seq && &l.hash == hash => seq + 1,
                Some(l) if l.seq > *seq => {
                    tracing::warn!(target: "sqlgate::audit", topic = %cfg.topic, "the Kafka copy ends at record {seq}, which the retained files no longer hold; continuing after it");
                    seq + 1
                }
                _ => {
                    tracing::warn!(target: "sqlgate::audit", topic = %cfg.topic, "the Kafka copy ends at record {seq}, which does not match the file log (another chain?); shipping the retained files from their first record");
                    1
                }
            },
        };
        // Records after a hole: ship again from the hole, after them.
        let next = self.resume_at.map_or(next, |r| r.min(next));
        self.shared
            .acked_seq
            .store(next.saturating_sub(1), Ordering::Relaxed);
        self.delivered.send_if_modified(|d| {
            let newer = next - 1 > *d;
            if newer {
                *d = next - 1;
            }
            newer
        });
        let reader = Reader::locate(base, next);
        let mut pc = cfg.client_config();
        pc.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "0")
            .set("enable.gapless.guarantee", "true");
        let producer: FutureProducer = pc
            .create()
            .map_err(|e| format!("create Kafka producer: {e}"))?;
        tracing::info!(target: "sqlgate::audit", topic = %cfg.topic, from_seq = next,
            "audit Kafka replica connected");
        Ok((producer, reader))
    }

    async fn ensure_topic(&self) -> Result<(), String> {
        ensure_topic(&self.config, &self.config.topic).await
    }

    /// Produces durable lines in order and records acknowledgements until a delivery fails
    /// or the gateway is gone.
    async fn deliver(&mut self, producer: FutureProducer, mut reader: Reader) -> SessionEnd {
        let mut in_flight: VecDeque<InFlight> = VecDeque::new();
        let mut closing: Option<Instant> = None;
        let mut reported_stall: Option<Instant> = None;
        loop {
            let durable = self.file.stats().last_seq;
            while in_flight.len() < MAX_IN_FLIGHT {
                let line = match reader.next(durable) {
                    Ok(Some(l)) => l,
                    Ok(None) => break,
                    Err(e) => {
                        let failed = reader.next_seq;
                        return self
                            .settle(failed, in_flight, format!("read the audit log: {e}"))
                            .await;
                    }
                };
                let seq = line.seq;
                match send(&producer, &self.config.topic, line) {
                    Ok(f) => in_flight.push_back(f),
                    Err(e) => return self.settle(seq, in_flight, e).await,
                }
            }
            if closing.is_some_and(|t| t.elapsed() >= CLOSE_GRACE)
                || (closing.is_some() && in_flight.is_empty() && reader.next_seq > durable)
            {
                return SessionEnd::Closed;
            }
            let stall_check = match in_flight.front() {
                Some(f) => (f.sent + STALL_AFTER).saturating_duration_since(Instant::now()),
                None => TICK,
            };
            tokio::select! {
                r = async {
                    match in_flight.front_mut() {
                        Some(f) => (&mut f.delivery).await,
                        None => std::future::pending().await,
                    }
                }, if !in_flight.is_empty() => {
                    let Some(done) = in_flight.pop_front() else { continue };
                    match r {
                        Ok(Ok(_)) => self.acked(done.line.seq, &mut reported_stall),
                        Ok(Err((e, _))) => {
                            let e = format!("Kafka refused audit record {}: {e}", done.line.seq);
                            return self.settle(done.line.seq, in_flight, e).await;
                        }
                        Err(_) => return self.settle(done.line.seq, in_flight, "Kafka producer was shut down".into()).await,
                    }
                }
                changed = self.durable.changed(), if closing.is_none() => {
                    if changed.is_err() {
                        closing = Some(Instant::now());
                    }
                }
                _ = tokio::time::sleep(stall_check.min(TICK)) => {
                    let stalled = in_flight.front().is_some_and(|f| f.sent.elapsed() >= STALL_AFTER);
                    if stalled && reported_stall.is_none_or(|t| t.elapsed() >= REPORT_EVERY) {
                        if reported_stall.is_none() {
                            self.fail(&format!("Kafka has not acknowledged audit record {} for {STALL_AFTER:?}",
                                in_flight.front().map_or(0, |f| f.line.seq)));
                        }
                        self.shared.healthy.store(false, Ordering::Relaxed);
                        tracing::warn!(target: "sqlgate::audit", topic = %self.config.topic,
                            backlog = self.backlog(), "Kafka has not acknowledged audit records for {STALL_AFTER:?}; they are queuing (the file log has them)");
                        reported_stall = Some(Instant::now());
                    }
                }
            }
        }
    }

    fn acked(&self, seq: u64, reported_stall: &mut Option<Instant>) {
        self.shared.acked_seq.store(seq, Ordering::Relaxed);
        self.shared.delivered.fetch_add(1, Ordering::Relaxed);
        self.delivered.send_if_modified(|d| {
            let newer = seq > *d;
            if newer {
                *d = seq;
            }
            newer
        });
        if !self.shared.healthy.swap(true, Ordering::Relaxed) && reported_stall.take().is_some() {
            tracing::info!(target: "sqlgate::audit", topic = %self.config.topic, "Kafka acknowledges audit records again");
        }
    }

    /// After record `failed` failed (or could not be read or queued): lets every in-flight
    /// record finish (acknowledged or failed) so that the topic's end is final before the
    /// reconnection reads it. Should a record have been acknowledged after one that failed,
    /// the topic holds records after a hole, and the next connection resumes from the first
    /// failed record rather than from the topic's end.
    async fn settle(
        &mut self,
        failed: u64,
        in_flight: VecDeque<InFlight>,
        error: String,
    ) -> SessionEnd {
        let (mut first_failed, mut last_acked) = (failed, 0);
        for f in in_flight {
            if let Ok(Ok(_)) = f.delivery.await {
                self.shared.delivered.fetch_add(1, Ordering::Relaxed);
                last_acked = last_acked.max(f.line.seq);
            } else {
                first_failed = first_failed.min(f.line.seq);
            }
        }
        let failed = first_failed;
        if last_acked > failed {
            let later = last_acked;
            tracing::error!(target: "sqlgate::audit", topic = %self.config.topic,
                "Kafka stored audit record {later} although record {failed} failed; records from {failed} on are shipped again after the topic's end, so the copy has every record (consumers deduplicate on sqlgateseq)");
            self.resume_at = Some(self.resume_at.map_or(failed, |r| r.min(failed)));
        }
        SessionEnd::Failed(error)
    }
}

fn send(producer: &FutureProducer, topic: &str, line: Line) -> Result<InFlight, String> {
    let seq = line.seq.to_string();
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: "content-type",
            value: Some(CONTENT_TYPE),
        })
        .insert(Header {
            key: "sqlgateseq",
            value: Some(seq.as_str()),
        });
    let record = FutureRecord::to(topic)
        .partition(PARTITION)
        .key(line.id.as_str())
        .payload(line.bytes.as_slice())
        .headers(headers);
    match producer.send_result(record) {
        Ok(delivery) => Ok(InFlight {
            line,
            delivery,
            sent: Instant::now(),
        }),
        Err((e, _)) => Err(format!("queue audit record {} for Kafka: {e}", line.seq)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::verify::log_files;
    use crate::audit::{AuditConfig, AuditRecord};

    #[test]
    fn kafka_section_parses_with_defaults_and_rejects_unknown_keys() {
        let c: AuditConfig = toml::from_str(
            "[kafka]\nbootstrap_servers = \"b:9092\"\n[kafka.client]\n\"sasl.password\" = \"hunter2\"\n",
        )
        .unwrap();
        let k = c.kafka.unwrap();
        assert_eq!(k.topic, "confluent-audit-log-events");
        assert_eq!(k.required_timeout, Duration::from_secs(5));
        assert!(k.create_topic && !k.required);
        assert!(
            !format!("{k:?}").contains("hunter2"),
            "secrets are redacted"
        );
        assert!(toml::from_str::<AuditConfig>("[kafka]\nbootstrap = \"b\"\n").is_err());
        let mut k = KafkaAuditConfig::new("b:9092");
        k.client.insert("acks".into(), "1".into());
        assert!(k.validate().is_err(), "acks=all cannot be weakened");
        let mut k = KafkaAuditConfig::new("b:9092");
        k.client.insert("message.timeout.ms".into(), "2000".into());
        let e = k.validate().unwrap_err().to_string();
        assert!(
            e.contains("message.timeout.ms"),
            "a timeout would leave holes: {e}"
        );
    }

    #[tokio::test]
    async fn reader_ships_only_durable_lines_in_order_across_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("audit.log");
        // Small files so that a few records rotate several times.
        let sink = FileSink::open(&base, 2048).unwrap();
        for _ in 0..12 {
            sink.append(AuditRecord::chain_recovered("x".into()))
                .await
                .unwrap();
        }
        assert!(log_files(&base).len() > 2, "rotated");
        let mut r = Reader::locate(base.clone(), 1);
        assert!(r.next(0).unwrap().is_none(), "nothing durable yet");
        let mut seqs = Vec::new();
        while let Some(l) = r.next(7).unwrap() {
            seqs.push(l.seq);
        }
        assert_eq!(seqs, (1..=7).collect::<Vec<_>>());
        while let Some(l) = r.next(12).unwrap() {
            seqs.push(l.seq);
        }
        assert_eq!(seqs, (1..=12).collect::<Vec<_>>());
        // Appends after the reader reached the end (and another rotation) still arrive.
        for _ in 0..5 {
            sink.append(AuditRecord::chain_recovered("y".into()))
                .await
                .unwrap();
        }
        while let Some(l) = r.next(17).unwrap() {
            seqs.push(l.seq);
        }
        assert_eq!(seqs, (1..=17).collect::<Vec<_>>());
        // Resuming in the middle starts at the record asked for, in whichever file holds it.
        let mut r = Reader::locate(base.clone(), 9);
        assert_eq!(r.next(17).unwrap().unwrap().seq, 9);
        let found = find(&base, 9).unwrap().unwrap();
        assert_eq!(found.seq, 9);
    }
}
