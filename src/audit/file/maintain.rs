//! The writer thread's loop and its upkeep between batches: signed checkpoints of the head
//! (by time, by record count, on request, at start and stop), retention of rotated files with
//! its anchoring checkpoint and `sqlgate.RetentionCut` record, and the disk figures.
//!
//! Ordering at a retention cut, so that a crash at any point leaves a log `verify` accepts:
//! 1. the retention checkpoint naming the first record kept (fsynced);
//! 2. the old files removed, oldest first, and the directory fsynced;
//! 3. the checkpoint file pruned of checkpoints for removed records;
//! 4. a `sqlgate.RetentionCut` record in the chain saying what was removed.
//!
//! `verify` accepts a log that starts anywhere up to the newest `kept_from`, so a crash
//! between 1 and 2, or in the middle of 2, is not mistaken for tampering.

use std::fs::{self, File};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use super::{Job, MAX_BATCH, Writer, file_name, rotated_files};
use crate::audit::AuditError;
use crate::audit::checkpoint::store::CheckpointLog;
use crate::audit::checkpoint::{Checkpoint, CheckpointConfig, Head, KeptFrom, Reason};
use crate::audit::record::AuditRecord;
use crate::audit::retention::{self, FileInfo};

/// How often the disk figures are refreshed and age retention runs.
pub(super) const DISK_TICK: Duration = Duration::from_secs(10);

impl Writer {
    /// The last durable record, if any.
    pub(super) fn head(&self) -> Option<Head> {
        (self.state.seq > 0).then(|| Head {
            seq: self.state.seq,
            hash: self.state.prev_hash.clone(),
            // Right after a rotation (or at startup on an empty active file) the head is the
            // last record of the file the next one continues.
            file: self
                .state
                .continues
                .clone()
                .unwrap_or_else(|| file_name(&self.base)),
        })
    }

    pub(super) fn attach_checkpoints(&mut self, log: CheckpointLog, cfg: &CheckpointConfig) {
        self.checkpoint_seq = log.newest_seq();
        self.counters
            .checkpoint_seq
            .store(self.checkpoint_seq, Ordering::Relaxed);
        self.checkpoint_interval = cfg.interval.max(Duration::from_millis(10));
        self.every_records = cfg.every_records;
        self.checkpoints = Some(log);
    }

    /// Before serving: anchor records written since the last checkpoint (a crash left them
    /// unanchored), apply retention, measure the disk.
    pub(super) fn on_start(&mut self) {
        self.checkpoint_if_moved(Reason::Start);
        self.apply_retention();
        self.refresh_free_bytes();
        self.publish_usage();
    }

    /// Takes batches of records until every handle to the sink is gone, with upkeep between
    /// them; then writes a final checkpoint.
    pub(super) fn run(mut self, mut rx: mpsc::Receiver<Job>, rt: tokio::runtime::Runtime) {
        let mut next_disk = Instant::now() + DISK_TICK;
        let mut held: Option<Job> = None;
        loop {
            let job = match held.take() {
                Some(job) => job,
                None => {
                    let wake = next_disk.min(self.checkpoint_at + self.checkpoint_interval);
                    let wait = wake.saturating_duration_since(Instant::now());
                    // Inside the runtime: the timer is created when the future is.
                    match rt.block_on(async { tokio::time::timeout(wait, rx.recv()).await }) {
                        Ok(Some(job)) => job,
                        Ok(None) => break,
                        Err(_) => {
                            self.upkeep(&mut next_disk);
                            continue;
                        }
                    }
                }
            };
            match job {
                Job::Checkpoint { reason, ack } => {
                    let _ = ack.send(self.checkpoint(reason));
                }
                Job::Record { record, ack } => {
                    let mut batch = vec![(*record, Some(ack))];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(Job::Record { record, ack }) => batch.push((*record, Some(ack))),
                            // A checkpoint request comes after the records queued before it.
                            Ok(other) => {
                                held = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.write_batch(batch);
                    self.after_batch();
                }
            }
            self.upkeep(&mut next_disk);
        }
        self.checkpoint_if_moved(Reason::Close);
    }

    /// What is due by time: an interval checkpoint if the head moved since the last
    /// checkpoint; every [`DISK_TICK`], age retention and the disk figures.
    fn upkeep(&mut self, next_disk: &mut Instant) {
        let now = Instant::now();
        if now >= self.checkpoint_at + self.checkpoint_interval {
            self.checkpoint_if_moved(Reason::Interval);
            // An idle head is not checkpointed again; the next interval starts now.
            self.checkpoint_at = self.checkpoint_at.max(now);
        }
        if now >= *next_disk {
            self.apply_retention();
            self.refresh_free_bytes();
            self.publish_usage();
            *next_disk = now + DISK_TICK;
        }
    }

    fn after_batch(&mut self) {
        if self.every_records > 0
            && self.state.seq >= self.checkpoint_seq.saturating_add(self.every_records)
        {
            self.checkpoint_if_moved(Reason::Records);
        }
        if std::mem::take(&mut self.rotated) {
            self.apply_retention();
            self.refresh_free_bytes();
        }
        self.publish_usage();
    }

    /// A checkpoint of the head, if checkpoints are configured and there is a head.
    fn checkpoint(&mut self, reason: Reason) -> Result<Option<Checkpoint>, AuditError> {
        self.checkpoint_with(reason, None)
    }

    fn checkpoint_with(
        &mut self,
        reason: Reason,
        kept_from: Option<KeptFrom>,
    ) -> Result<Option<Checkpoint>, AuditError> {
        let Some(head) = self.head() else {
            return Ok(None);
        };
        let Some(log) = self.checkpoints.as_mut() else {
            return Ok(None);
        };
        match log.write(&head, reason, kept_from) {
            Ok(cp) => {
                self.checkpoint_seq = cp.seq;
                self.checkpoint_at = Instant::now();
                let c = &self.counters;
                c.checkpoint_seq.store(cp.seq, Ordering::Relaxed);
                c.checkpoints.fetch_add(1, Ordering::Relaxed);
                Ok(Some(cp))
            }
            Err(e) => {
                self.counters
                    .checkpoint_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(target: "sqlgate::audit", error = %e, reason = reason.as_str(),
                    "could not write an audit checkpoint; records since the last one are not anchored");
                Err(e)
            }
        }
    }

    fn checkpoint_if_moved(&mut self, reason: Reason) {
        if self.checkpoints.is_some() && self.state.seq > self.checkpoint_seq {
            let _ = self.checkpoint(reason);
        }
    }

    /// Removes the rotated files retention lets go, anchored by a checkpoint (see the module
    /// doc for the order). Failures are logged and leave the files in place.
    fn apply_retention(&mut self) {
        let Some(cfg) = self.retention.clone() else {
            return;
        };
        if self.checkpoints.is_none() {
            return;
        }
        let rotated = match rotated_files(&self.base) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(target: "sqlgate::audit", error = %e, "retention: cannot list the audit log files");
                return;
            }
        };
        let mut infos = Vec::with_capacity(rotated.len());
        for p in &rotated {
            match fs::metadata(p) {
                Ok(m) => infos.push(FileInfo {
                    bytes: m.len(),
                    modified: m.modified().unwrap_or(SystemTime::now()),
                }),
                Err(e) => {
                    tracing::error!(target: "sqlgate::audit", error = %e, file = %p.display(), "retention: cannot stat an audit log file");
                    return;
                }
            }
        }
        let n = retention::plan(&cfg, &infos, self.state.len, SystemTime::now());
        if n == 0 {
            return;
        }
        let kept = &rotated[n];
        let (seq, prevhash) = match retention::first_record(kept) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(target: "sqlgate::audit", error = %e, "retention: not removing old audit files, the first kept one does not start with a valid record");
                return;
            }
        };
        let oldest_seq = retention::first_record(&rotated[0]).map_or(None, |(s, _)| Some(s));
        let kept_from = KeptFrom {
            seq,
            prevhash,
            file: file_name(kept),
        };
        if self
            .checkpoint_with(Reason::Retention, Some(kept_from))
            .ok()
            .flatten()
            .is_none()
        {
            tracing::error!(target: "sqlgate::audit", "retention: not removing old audit files without a checkpoint anchoring the cut");
            return;
        }
        let mut removed: Vec<String> = Vec::new();
        let mut bytes = 0u64;
        for (p, info) in rotated[..n].iter().zip(&infos) {
            match fs::remove_file(p) {
                Ok(()) => {
                    removed.push(file_name(p));
                    bytes += info.bytes;
                }
                Err(e) => {
                    tracing::error!(target: "sqlgate::audit", error = %e, file = %p.display(), "retention: cannot remove an audit log file");
                    break;
                }
            }
        }
        if let Some(dir) = self.base.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        self.rotated_bytes = self.rotated_bytes.saturating_sub(bytes);
        self.counters
            .retention_removed_files
            .fetch_add(removed.len() as u64, Ordering::Relaxed);
        if let Some(log) = self.checkpoints.as_mut()
            && let Err(e) = log.prune(seq)
        {
            tracing::warn!(target: "sqlgate::audit", error = %e, "retention: could not prune the checkpoint file (it only keeps growing)");
        }
        let Some((first, last)) = removed.first().zip(removed.last()) else {
            return;
        };
        let records = match oldest_seq {
            Some(s) if s < seq => format!("records {s}..{}", seq - 1),
            _ => format!("records before {seq}"),
        };
        let message = format!(
            "retention removed {} file(s) {first}..{last} ({records}, {bytes} bytes) per audit.retention (max_total_bytes = {}, max_age = {}); the log now starts at seq {seq} in {}",
            removed.len(),
            cfg.max_total_bytes,
            humantime::format_duration(cfg.max_age),
            file_name(kept),
        );
        tracing::info!(target: "sqlgate::audit", "{message}");
        self.write_batch(vec![(AuditRecord::retention_cut(message), None)]);
    }

    fn refresh_free_bytes(&self) {
        let dir = self.base.parent().unwrap_or(&self.base);
        let free = retention::free_bytes(dir).unwrap_or(u64::MAX);
        self.counters.free_bytes.store(free, Ordering::Relaxed);
    }

    fn publish_usage(&self) {
        let checkpoints = self.checkpoints.as_ref().map_or(0, CheckpointLog::len);
        self.counters.used_bytes.store(
            self.rotated_bytes + self.state.len + checkpoints,
            Ordering::Relaxed,
        );
    }
}
