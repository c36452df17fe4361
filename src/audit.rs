//! Audit: who did what, when, and why it was allowed or refused, in records that cannot be
//! altered unnoticed and that are durable before the gateway acts on them.
//!
//! Owns the record shape (CloudEvents 1.0, after Confluent Cloud's audit records; JSON Schema in
//! `src/audit/audit-record.schema.json`), SQL literal redaction, the append-only hash-chained
//! file sink with group commit and rotation, and the auditor's tools (`verify`, `query`,
//! `render`). It must never record tokens, secrets or result rows, and it does not decide
//! anything: callers pass plain facts (strings and vectors) through the builders in [`record`].
//!
//! ```text
//! pipeline ──AuditRecord──▶ Auditor::record ──▶ FileSink::append ──mpsc──▶ writer thread
//!                                                  ▲                        │ drain queue (batch)
//!                                                  └──── Durable ◀── ack ───┤ chain + write
//!                                                                           │ fsync once
//! audit.log.000001 → audit.log.000002 → … → audit.log   (one hash chain across all files)
//! ```
//!
//! Every destination (the file, the Kafka replica) is an [`AuditSink`] (`sink.rs`): each
//! confirms every record the chain made durable, as firmly as it promises.
//!
//! ## The chain
//! Every line carries three CloudEvents extension attributes: `sqlgateseq` (1, 2, 3, … with no
//! gap across files), `sqlgateprevhash` (the previous record's `sqlgatehash`; 64 zeros for the
//! first record) and `sqlgatehash` = hex SHA-256 of the record's canonical JSON (keys sorted,
//! no whitespace, see [`canonical_json`]) without `sqlgatehash`. The first record of a file
//! also carries `sqlgatecontinues`, the name of the file it continues. Editing, deleting,
//! inserting or reordering any record, or deleting a whole file other than the newest, breaks
//! the chain at a record [`verify`] names. Cutting records off the *end* cannot be detected
//! from the log alone: signed checkpoints of the chain head, kept apart from the log
//! ([`checkpoint`], and in the Kafka replica), are the anchor [`verify_with`] checks the log
//! against. The module doc of [`checkpoint`] says what an attacker with write access to the
//! audit directory can and cannot hide.
//!
//! ## Retention
//! Rotated files are removed oldest first by `[audit.retention]` (size and age). Each cut is
//! anchored by a signed checkpoint naming the first record kept, so the log legitimately
//! starts there, while deleting a file that retention kept is still detected.
//!
//! ## Startup
//! [`FileSink::open`] reads the tail of the newest file and continues its chain. A torn final
//! line (a crash in the middle of a write that was therefore never acknowledged) is cut off,
//! and the chain continues with a `sqlgate.ChainRecovered` record that states how many bytes
//! were dropped and their SHA-256. A complete final line that does not verify is **not**
//! repaired: `open` fails with [`AuditError::CorruptTail`] so that an operator investigates
//! (run `verify`), instead of silently starting a new chain over evidence of tampering.

mod authn;
pub mod checkpoint;
mod convert;
mod file;
mod kafka;
mod query;
mod record;
mod redact;
mod request;
mod retention;
mod sink;
mod verify;

#[cfg(test)]
mod schema_check;
#[cfg(test)]
mod tests;

use crate::error::ErrorCode;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use authn::{Admission, AuthnAttempt, FailureAggregator, FailureSummary, FailureTally};
pub use checkpoint::{
    Checkpoint, CheckpointConfig, CheckpointKeys, KeptFrom, Reason, read_checkpoint_lines,
};
pub use file::{Durable, FileSink, SinkOptions, SinkStats};
pub use kafka::{KafkaAuditConfig, KafkaSink, KafkaStats, read_kafka_checkpoints};
pub use query::{Decision, Filter, OutputFormat, Page, page, parse_time, query, render};
pub use record::{
    AuditData, AuditRecord, AuthenticationInfo, AuthnFailure, AuthorizationInfo, AuthzOutcome,
    ObjectDecision, PrincipalInfo, RbacAuthorization, RbacScope, RequestInfo, RequestMetadata,
    ResultInfo, ResultStatus, SqlgateInfo, StatementEvent, StatementInfo, canonical_json,
    record_hash,
};
pub use redact::{SqlForAudit, redact_sql};
pub use request::{RequestDetails, RequestOutcome};
pub use retention::RetentionConfig;
pub use sink::AuditSink;
pub use verify::{
    Anchors, CheckpointRef, Problem, VerifyError, VerifyReport, log_files, verify, verify_with,
};

/// The JSON Schema (draft 2020-12) of one log line, for auditors' tools and the CLI.
pub const RECORD_SCHEMA: &str = include_str!("audit/audit-record.schema.json");

/// The `[audit]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Write audit records at all (default `true`). Turning it off is for benchmarks and
    /// throw-away development setups; a production gateway keeps it on.
    pub enabled: bool,
    /// The active log file; rotated files are this path plus `.000001`, `.000002`, … (oldest
    /// first). Default `data/audit/audit.log`; the directory is created if missing.
    pub file: PathBuf,
    /// Rotate when the active file would grow past this many bytes (default 64 MiB). Bounds the
    /// work of reading a tail at startup and of shipping one file; a single record larger than
    /// this still goes into a file of its own.
    pub max_file_bytes: u64,
    /// When the log cannot be written, refuse the request (503) rather than run it unaudited
    /// (default `true`). With `false`, [`Auditor::record`] logs the error, counts the record
    /// as dropped and lets the request proceed.
    pub fail_closed: bool,
    /// Replace string and number literals in recorded SQL with `?` (default `true`): literals
    /// are where personal data and secrets appear in SQL text.
    pub redact_sql_literals: bool,
    /// Failed authentications are aggregated per peer over intervals of this length (default
    /// 60 s): the first of a peer's failures in an interval is recorded in full, the rest in
    /// one summary record at the end of the interval (and at shutdown). See `audit::authn`.
    #[serde(with = "humantime_serde")]
    pub authn_failure_interval: Duration,
    /// Most peers whose failed authentications are told apart per interval (default 10 000);
    /// failures from further peers are aggregated together.
    pub authn_failure_max_peers: usize,
    /// A replica of the log on a Kafka topic (`[audit.kafka]`, absent by default). The file
    /// stays the durability point; see [`KafkaSink`] for what the replica guarantees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka: Option<KafkaAuditConfig>,
    /// Signed checkpoints of the chain head (`[audit.checkpoint]`): what detects a cut tail.
    pub checkpoint: CheckpointConfig,
    /// Removal of old rotated files (`[audit.retention]`).
    pub retention: RetentionConfig,
    /// Below this many free bytes on the log's filesystem, `/readyz` says `degraded` (default
    /// 1 GiB): the warning before a full disk makes fail-closed refuse every statement.
    pub min_free_bytes: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            file: PathBuf::from("data/audit/audit.log"),
            max_file_bytes: 64 * 1024 * 1024,
            fail_closed: true,
            redact_sql_literals: true,
            authn_failure_interval: Duration::from_secs(60),
            authn_failure_max_peers: 10_000,
            kafka: None,
            checkpoint: CheckpointConfig::default(),
            retention: RetentionConfig::default(),
            min_free_bytes: 1024 * 1024 * 1024,
        }
    }
}

impl AuditConfig {
    /// The same settings with every relative path (log, checkpoint file, keys) joined to
    /// `base`.
    pub fn resolved(&self, base: &std::path::Path) -> Self {
        let join = |p: &std::path::Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let mut c = self.clone();
        c.file = join(&self.file);
        c.checkpoint.file = join(&self.checkpoint.file);
        c.checkpoint.key_file = join(&self.checkpoint.key_file);
        c.checkpoint.public_key_file = join(&self.checkpoint.public_key_file);
        c
    }

    fn sink_options(&self) -> Result<SinkOptions, AuditError> {
        let r = &self.retention;
        let removes = r.max_total_bytes > 0 || !r.max_age.is_zero();
        if removes && !self.checkpoint.enabled {
            return Err(AuditError::Checkpoint(
                "audit.retention removes old files only with audit.checkpoint.enabled = true (a signed checkpoint anchors each cut); set audit.retention.max_total_bytes = 0 and max_age = \"0s\" to keep every file".into(),
            ));
        }
        Ok(SinkOptions {
            checkpoint: self.checkpoint.enabled.then(|| self.checkpoint.clone()),
            retention: removes.then(|| r.clone()),
        })
    }
}

/// Why an audit record could not be made durable, or the log could not be opened.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    /// An I/O operation on the log failed; says which and on what.
    #[error("audit log {op} `{path}`: {reason}")]
    Io {
        /// What was attempted (`write`, `fsync`, `rotate`, …).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// The newest file's last complete record does not verify; the sink will not continue a
    /// chain it cannot trust. Run `verify` and move the damaged file aside to start over.
    #[error("audit log `{path}` line {line}: corrupt tail ({reason}); run `sqlgate audit verify`")]
    CorruptTail {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the bad record.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The active file was deleted or replaced while the gateway was running, so records
    /// written to it would be lost.
    #[error("audit log `{0}` was removed or replaced while in use")]
    Unlinked(PathBuf),
    /// An earlier failure left the file in an unknown state; nothing more is written until the
    /// gateway restarts (which repairs a torn tail or refuses a corrupt one).
    #[error("audit log is unusable after an earlier failure: {0}")]
    Poisoned(String),
    /// The sink's writer is gone (the gateway is shutting down).
    #[error("audit sink is closed")]
    Closed,
    /// A record could not be serialized (a bug).
    #[error("audit record serialization: {0}")]
    Serialize(String),
    /// The Kafka replica is misconfigured, or (with `audit.kafka.required = true`) Kafka did
    /// not acknowledge a record in time or could not be reached at startup.
    #[error("audit Kafka replica: {0}")]
    Replica(String),
    /// The checkpoint key or file is unusable, or the log falls short of (or contradicts) the
    /// newest checkpoint at startup: its tail was cut or it was replaced.
    #[error("audit checkpoint: {0}")]
    Checkpoint(String),
}

impl AuditError {
    /// Stable error code (`audit.unavailable` for all variants: to the client every one of them
    /// means "the request could not be audited", a 503).
    pub fn code(&self) -> ErrorCode {
        ErrorCode::AuditUnavailable
    }
}

/// What the pipeline holds: the sink plus the policy of what to do when it fails. Cheap to
/// clone and share.
#[derive(Debug, Clone)]
pub struct Auditor {
    enabled: bool,
    sink: FileSink,
    /// The Kafka replica, fed after each durable append.
    kafka: Option<KafkaSink>,
    /// Every destination, the file first: each confirms every durable record.
    sinks: Vec<Arc<dyn AuditSink>>,
    fail_closed: bool,
    redact_sql_literals: bool,
    /// Failed authentications of the current interval.
    authn_failures: Arc<FailureAggregator>,
    authn_failure_interval: Duration,
    min_free_bytes: u64,
}

/// The audit log's state for `/readyz` and the metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditHealth {
    /// Bytes of the log files and the checkpoint file.
    pub used_bytes: u64,
    /// Bytes available on the log's filesystem (absent until measured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub free_bytes: Option<u64>,
    /// `audit.min_free_bytes`.
    pub min_free_bytes: u64,
    /// The last durable record.
    pub last_seq: u64,
    /// The seq the newest signed checkpoint names.
    pub checkpoint_seq: u64,
    /// Set when the log refuses records (every statement gets 503 until restart): what kind
    /// of failure, without paths (the gateway's log names them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unusable: Option<String>,
    /// Conditions an operator should act on before they become refusals.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A record queued by [`Auditor::submit`].
#[derive(Debug)]
#[must_use = "a submitted record is not known to be durable until `durable` is awaited"]
pub struct Submitted<'a> {
    auditor: &'a Auditor,
    queued: Option<file::Queued>,
}

impl Submitted<'_> {
    /// Waits until the record is on disk (and confirmed by the required sinks), as
    /// [`Auditor::record`] does.
    pub async fn durable(self) -> Result<Option<Durable>, AuditError> {
        match self.queued {
            Some(q) => self.auditor.settle(q).await,
            None => Ok(None),
        }
    }
}

impl Auditor {
    /// Opens (or creates) the log named by `config` and continues its chain, and starts the
    /// Kafka replica if one is configured (without waiting for Kafka: see [`Auditor::start`]).
    pub fn open(config: &AuditConfig) -> Result<Self, AuditError> {
        let sink =
            FileSink::open_with(&config.file, config.max_file_bytes, &config.sink_options()?)?;
        let kafka = match &config.kafka {
            Some(k) => Some(KafkaSink::start(k, &sink)?),
            None => None,
        };
        let mut sinks: Vec<Arc<dyn AuditSink>> = vec![Arc::new(sink.clone())];
        if let Some(k) = &kafka {
            sinks.push(Arc::new(k.clone()));
        }
        Ok(Self {
            enabled: config.enabled,
            sink,
            kafka,
            sinks,
            fail_closed: config.fail_closed,
            redact_sql_literals: config.redact_sql_literals,
            authn_failures: Arc::new(FailureAggregator::new(config.authn_failure_max_peers)),
            authn_failure_interval: config.authn_failure_interval,
            min_free_bytes: config.min_free_bytes,
        })
    }

    /// Graceful shutdown, after the drain: a `shutdown` checkpoint of the head, and with a
    /// Kafka replica a short wait for that checkpoint to reach Kafka. Never fails: problems
    /// are logged.
    pub async fn close(&self) {
        for s in &self.sinks {
            s.close().await;
        }
    }

    /// Disk use, checkpoint progress and warnings, for `/readyz` and the metrics.
    pub fn health(&self) -> AuditHealth {
        let s = self.sink.stats();
        let mut warnings = Vec::new();
        // No paths or OS errors here: `/readyz` answers anyone who can reach the port; the
        // gateway's own log has the details.
        if let Some(free) = s.free_bytes.filter(|f| *f < self.min_free_bytes) {
            warnings.push(format!(
                "only {free} bytes free on the audit log's filesystem (audit.min_free_bytes = {}); when it is full the audit log cannot be written and {}",
                self.min_free_bytes,
                if self.fail_closed {
                    "every statement is refused (audit.fail_closed = true)"
                } else {
                    "statements run unaudited (audit.fail_closed = false)"
                }
            ));
        }
        if s.checkpoint_failures > 0 {
            warnings.push(format!(
                "{} audit checkpoint write(s) failed since startup; records after seq {} are not anchored",
                s.checkpoint_failures, s.checkpoint_seq
            ));
        }
        AuditHealth {
            used_bytes: s.used_bytes,
            free_bytes: s.free_bytes,
            min_free_bytes: self.min_free_bytes,
            last_seq: s.last_seq,
            checkpoint_seq: s.checkpoint_seq,
            unusable: (self.enabled && s.poisoned).then(|| {
                "a write, fsync or rotation failed, or the active file was removed; see the gateway's log".to_string()
            }),
            warnings,
        }
    }

    /// [`Auditor::open`], then, when the Kafka replica is `required`, waits until Kafka is
    /// reachable and the topic exists (fail fast, like an unwritable file).
    pub async fn start(config: &AuditConfig) -> Result<Self, AuditError> {
        let auditor = Self::open(config)?;
        for s in auditor.sinks.iter().filter(|s| s.required()) {
            s.wait_ready().await?;
        }
        Ok(auditor)
    }

    /// Appends `record` and waits until it is on disk. On failure: with `fail_closed`
    /// (the default) returns the error, and the caller must refuse the request (503); otherwise
    /// logs it, counts the record as dropped and returns `Ok(None)`.
    pub async fn record(&self, record: AuditRecord) -> Result<Option<Durable>, AuditError> {
        self.submit(record).await?.durable().await
    }

    /// Queues `record` without waiting for it; [`Submitted::durable`] waits, with
    /// [`Auditor::record`]'s handling of failures. Records are written in the order submitted,
    /// so a caller with several records to make durable submits them all and waits for the
    /// last: one fsync wait, and they usually share one fsync. A failure to queue (the log is
    /// closed) is returned at once, with `fail_closed` as in [`Auditor::record`].
    pub async fn submit(&self, record: AuditRecord) -> Result<Submitted<'_>, AuditError> {
        if !self.enabled {
            return Ok(Submitted {
                auditor: self,
                queued: None,
            });
        }
        match self.sink.submit(record).await {
            Ok(q) => Ok(Submitted {
                auditor: self,
                queued: Some(q),
            }),
            Err(e) => self.failed(e).map(|_| Submitted {
                auditor: self,
                queued: None,
            }),
        }
    }

    /// A record that could not be made durable: the error with `fail_closed`, else logged,
    /// counted as dropped and `Ok(None)`.
    fn failed(&self, e: AuditError) -> Result<Option<Durable>, AuditError> {
        if self.fail_closed {
            return Err(e);
        }
        tracing::error!(target: "sqlgate::audit", error = %e, "audit record dropped (fail_closed = false)");
        self.sink.count_dropped();
        Ok(None)
    }

    async fn settle(&self, queued: file::Queued) -> Result<Option<Durable>, AuditError> {
        match queued.durable().await {
            Ok(d) => {
                for s in &self.sinks {
                    // The record is in the file either way; a sink's `required` only
                    // decides whether the statement may go ahead without its copy.
                    s.confirm(d.seq).await?;
                }
                Ok(Some(d))
            }
            Err(e) => self.failed(e),
        }
    }

    /// Whether a record appended now could be made durable, as far as is known: `false` when
    /// an earlier failure left the log refusing records and `fail_closed` is on. Requests that
    /// change something check it before acting, so that no change is made whose record is
    /// already known to be impossible.
    pub fn accepts_records(&self) -> bool {
        !self.enabled || !self.fail_closed || !self.sink.stats().poisoned
    }

    /// Audits a failed authentication: the first from its peer in the current interval is
    /// recorded in full (and, like [`Auditor::record`], waited for); later ones are counted
    /// for the peer's summary (see [`Auditor::flush_authn_failures`]) and return at once.
    pub async fn authentication_failed(
        &self,
        req: &RequestInfo,
        failure: &AuthnFailure,
        organization: &str,
        environment: &str,
        region: &str,
    ) -> Result<(), AuditError> {
        if !self.enabled {
            return Ok(());
        }
        match self
            .authn_failures
            .note(req, failure, organization, environment, region)
        {
            Admission::Counted => Ok(()),
            Admission::Record => {
                let record = AuditRecord::authentication_failed(
                    req,
                    failure,
                    organization,
                    environment,
                    region,
                );
                self.record(record).await.map(|_| ())
            }
        }
    }

    /// Ends the failed-authentication interval: writes one summary record per peer with
    /// counted failures and starts a new interval. Called every
    /// [`Auditor::authn_failure_interval`] and at shutdown; returns how many records it wrote.
    pub async fn flush_authn_failures(&self) -> Result<usize, AuditError> {
        let tallies = self.authn_failures.drain();
        let mut written = 0;
        for t in &tallies {
            if self
                .record(AuditRecord::authentication_failures(t))
                .await?
                .is_some()
            {
                written += 1;
            }
        }
        Ok(written)
    }

    /// How often [`Auditor::flush_authn_failures`] should run.
    pub fn authn_failure_interval(&self) -> Duration {
        self.authn_failure_interval
    }

    /// Whether records carry SQL with its literals replaced (`audit.redact_sql_literals`).
    pub fn redacts_sql(&self) -> bool {
        self.redact_sql_literals
    }

    /// The SQL text to put in a record, per `redact_sql_literals`, from the gateway's parse of
    /// it (`None` when it did not parse).
    pub fn sql_for_audit(
        &self,
        sql: &str,
        parsed: Option<&crate::sql::ParsedStatement>,
    ) -> SqlForAudit {
        redact_sql(sql, parsed, self.redact_sql_literals)
    }

    /// The underlying sink (stats, tests).
    pub fn sink(&self) -> &FileSink {
        &self.sink
    }

    /// The Kafka replica, if configured (stats, tests).
    pub fn kafka(&self) -> Option<&KafkaSink> {
        self.kafka.as_ref()
    }
}
