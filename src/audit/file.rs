//! The append-only, hash-chained JSON-lines file sink with group commit and size rotation.
//!
//! One writer thread owns the file. [`FileSink::append`] queues a record and waits; the writer
//! takes everything queued (a batch), chains and writes it, fsyncs once, and acknowledges the
//! whole batch, so concurrent appends share fsyncs. Blocking file I/O lives on that thread,
//! never on the async runtime.
//!
//! Failure policy: a failed `write` is rolled back (the file is truncated to its last durable
//! length) and only that batch fails; a failed `fsync` (after which the kernel may have dropped
//! the dirty pages, so a retry could falsely succeed), a failed rotation, or finding the file
//! removed or replaced poisons the sink until restart, when the tail is checked again.
//!
//! The writer thread also keeps the log's anchor and its size (see [`maintain`]): signed
//! checkpoints of the chain head ([`super::checkpoint`]) and retention of rotated files
//! ([`super::retention`]), so that every file operation happens on this one thread, in chain
//! order, with no lock between them.

mod maintain;

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use super::AuditError;
use super::checkpoint::store::{CheckpointLog, Published};
use super::checkpoint::{Checkpoint, CheckpointConfig, Reason};
use super::record::{AuditRecord, GENESIS_HASH, canonical_json, hashed_line, record_hash};
use super::retention::RetentionConfig;
use super::verify::{file_name, rotated_files};

/// Queue depth before `append` waits for room: bounds memory if the disk stalls, while being
/// far above what one fsync's worth of concurrent requests produces.
const QUEUE: usize = 16 * 1024;
/// Most records written under one fsync; bounds the latency of the first record of a batch.
const MAX_BATCH: usize = 4096;

/// Proof that a record is on disk (written and fsynced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durable {
    /// Its position in the chain.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
}

/// Counters for metrics and the "fsyncs per statement" benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Records written and acknowledged.
    pub records: u64,
    /// `fsync` calls on log files (one per batch, plus rotations).
    pub fsyncs: u64,
    /// Batches written.
    pub batches: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Records dropped under `fail_closed = false`.
    pub dropped: u64,
    /// Sequence number of the last durable record (export it: a witness of the chain's end).
    pub last_seq: u64,
    /// Sequence number named by the newest signed checkpoint (0 if none).
    pub checkpoint_seq: u64,
    /// Checkpoints written since startup.
    pub checkpoints: u64,
    /// Checkpoints that could not be written since startup (each one logged).
    pub checkpoint_failures: u64,
    /// Rotated files removed by retention since startup.
    pub retention_removed_files: u64,
    /// Bytes of every log file plus the checkpoint file.
    pub used_bytes: u64,
    /// Bytes available on the log's filesystem (`None` until measured, or if it cannot be).
    pub free_bytes: Option<u64>,
    /// The sink refuses records until restart (an fsync, rotation or unlinked file failed).
    pub poisoned: bool,
}

#[derive(Debug, Default)]
struct Counters {
    records: AtomicU64,
    fsyncs: AtomicU64,
    batches: AtomicU64,
    bytes: AtomicU64,
    dropped: AtomicU64,
    last_seq: AtomicU64,
    checkpoint_seq: AtomicU64,
    checkpoints: AtomicU64,
    checkpoint_failures: AtomicU64,
    retention_removed_files: AtomicU64,
    used_bytes: AtomicU64,
    /// `u64::MAX` = not measured.
    free_bytes: AtomicU64,
    poisoned: AtomicBool,
    poison_reason: Mutex<Option<String>>,
}

/// What the sink does besides appending: anchor the chain and bound its size.
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// Signed checkpoints (paths already resolved); `None` writes none.
    pub checkpoint: Option<CheckpointConfig>,
    /// Retention of rotated files (needs `checkpoint`, which anchors each cut).
    pub retention: Option<RetentionConfig>,
}

enum Job {
    /// Append a record.
    Record {
        record: Box<AuditRecord>,
        ack: oneshot::Sender<Result<Durable, AuditError>>,
    },
    /// Write a checkpoint of the head now (after every record queued before it).
    Checkpoint {
        reason: Reason,
        ack: oneshot::Sender<Result<Option<Checkpoint>, AuditError>>,
    },
}

/// The file sink. Cheap to clone; the writer thread stops when the last clone is dropped
/// (after writing what was queued).
#[derive(Debug, Clone)]
pub struct FileSink {
    tx: mpsc::Sender<Job>,
    counters: Arc<Counters>,
    path: PathBuf,
    /// The newest checkpoint written (for the Kafka replica); `None` without checkpoints.
    checkpoints: Option<tokio::sync::watch::Receiver<Option<Published>>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Record { record, .. } => f.debug_struct("Record").field("id", &record.id).finish(),
            Job::Checkpoint { reason, .. } => f
                .debug_struct("Checkpoint")
                .field("reason", reason)
                .finish(),
        }
    }
}

impl FileSink {
    /// Opens the log at `path` (creating its directory), continues the chain from the newest
    /// file's tail (see the module doc of [`crate::audit`]) and starts the writer thread.
    pub fn open(path: &Path, max_file_bytes: u64) -> Result<Self, AuditError> {
        Self::open_with(path, max_file_bytes, &SinkOptions::default())
    }

    /// [`FileSink::open`] with checkpoints and retention. With checkpoints, refuses a log that
    /// falls short of the newest checkpoint (its tail was cut) and writes a `start`
    /// checkpoint when the head moved since the last one (after a crash).
    pub fn open_with(
        path: &Path,
        max_file_bytes: u64,
        options: &SinkOptions,
    ) -> Result<Self, AuditError> {
        let counters = Arc::new(Counters::default());
        counters.free_bytes.store(u64::MAX, Ordering::Relaxed);
        let mut writer = Writer::open(path, max_file_bytes.max(1), counters.clone())?;
        if let Some(cfg) = &options.checkpoint {
            let log = CheckpointLog::open(cfg)?;
            log.check_log(writer.head().as_ref())?;
            writer.attach_checkpoints(log, cfg);
        }
        writer.retention = options.retention.clone();
        // The writer thread waits for records with a timer (checkpoint interval, disk
        // figures), so it drives its own small runtime.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| io_error("start the writer runtime for", path, &e))?;
        let (tx, rx) = mpsc::channel(QUEUE);
        if let Some(message) = writer.recovered.take() {
            writer.write_batch(vec![(AuditRecord::chain_recovered(message), None)]);
            if let Some(reason) = &writer.poisoned {
                return Err(AuditError::Poisoned(reason.clone()));
            }
        }
        writer.on_start();
        let checkpoints = writer.checkpoints.as_ref().map(CheckpointLog::subscribe);
        std::thread::Builder::new()
            .name("sqlgate-audit".into())
            .spawn(move || writer.run(rx, rt))
            .map_err(|e| io_error("spawn writer for", path, &e))?;
        Ok(Self {
            tx,
            counters,
            path: path.to_path_buf(),
            checkpoints,
        })
    }

    /// Appends `record` and returns once it is written and fsynced. The sink sets the chain
    /// attributes; any the caller set are replaced.
    pub async fn append(&self, record: AuditRecord) -> Result<Durable, AuditError> {
        self.submit(record).await?.durable().await
    }

    /// Queues `record` behind every record submitted before it; the returned [`Queued`] tells
    /// when it is on disk. Records are written in the order submitted, so a record's
    /// durability implies that of every record submitted before it.
    pub async fn submit(&self, record: AuditRecord) -> Result<Queued, AuditError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Job::Record {
                record: Box::new(record),
                ack,
            })
            .await
            .map_err(|_| AuditError::Closed)?;
        Ok(Queued(done))
    }

    /// Writes a signed checkpoint of the head now, after every record appended before this
    /// call (graceful shutdown does, after the drain). `Ok(None)` without checkpoints or
    /// records.
    pub async fn checkpoint(&self, reason: Reason) -> Result<Option<Checkpoint>, AuditError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Job::Checkpoint { reason, ack })
            .await
            .map_err(|_| AuditError::Closed)?;
        done.await.map_err(|_| AuditError::Closed)?
    }

    /// The newest checkpoint written, as it changes (the Kafka replica ships it).
    pub(crate) fn checkpoints(&self) -> Option<tokio::sync::watch::Receiver<Option<Published>>> {
        self.checkpoints.clone()
    }

    /// Why the sink refuses records, when it does.
    pub fn poison_reason(&self) -> Option<String> {
        self.counters
            .poison_reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The active file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SinkStats {
        let c = &self.counters;
        SinkStats {
            records: c.records.load(Ordering::Relaxed),
            fsyncs: c.fsyncs.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            last_seq: c.last_seq.load(Ordering::Relaxed),
            checkpoint_seq: c.checkpoint_seq.load(Ordering::Relaxed),
            checkpoints: c.checkpoints.load(Ordering::Relaxed),
            checkpoint_failures: c.checkpoint_failures.load(Ordering::Relaxed),
            retention_removed_files: c.retention_removed_files.load(Ordering::Relaxed),
            used_bytes: c.used_bytes.load(Ordering::Relaxed),
            free_bytes: Some(c.free_bytes.load(Ordering::Relaxed)).filter(|b| *b != u64::MAX),
            poisoned: c.poisoned.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn count_dropped(&self) {
        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

fn io_error(op: &'static str, path: &Path, e: &std::io::Error) -> AuditError {
    AuditError::Io {
        op,
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

// === Writer ===

/// The chain position after the last durable record.
#[derive(Debug, Clone)]
struct ChainState {
    seq: u64,
    prev_hash: String,
    /// For the next record, when it is the first of its file: the file it continues.
    continues: Option<String>,
    /// Length of the active file.
    len: u64,
}

struct Writer {
    base: PathBuf,
    file: File,
    max_file_bytes: u64,
    state: ChainState,
    counters: Arc<Counters>,
    poisoned: Option<String>,
    /// Set by `open` when a torn tail was cut off; becomes the first record written.
    recovered: Option<String>,
    /// The signed checkpoints, when configured.
    checkpoints: Option<CheckpointLog>,
    /// Checkpoint at least this often while the head moves (also the disk-figures tick).
    checkpoint_interval: Duration,
    /// Checkpoint after this many records since the last checkpoint (0 = only by time).
    every_records: u64,
    /// `sqlgateseq` of the newest checkpoint.
    checkpoint_seq: u64,
    /// When the last checkpoint was written (or the writer started).
    checkpoint_at: std::time::Instant,
    /// Retention of rotated files, when configured.
    retention: Option<RetentionConfig>,
    /// A rotation happened since the last retention pass.
    rotated: bool,
    /// Bytes of the rotated files.
    rotated_bytes: u64,
}

type Ack = Option<oneshot::Sender<Result<Durable, AuditError>>>;

/// A record queued by [`FileSink::submit`], not yet known to be on disk.
#[derive(Debug)]
pub struct Queued(oneshot::Receiver<Result<Durable, AuditError>>);

impl Queued {
    /// Waits until the record is written and fsynced.
    pub async fn durable(self) -> Result<Durable, AuditError> {
        self.0.await.map_err(|_| AuditError::Closed)?
    }
}

impl Writer {
    fn open(base: &Path, max_file_bytes: u64, counters: Arc<Counters>) -> Result<Self, AuditError> {
        if let Some(dir) = base.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| io_error("create directory", dir, &e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(base)
            .map_err(|e| io_error("open", base, &e))?;
        let (len, recovered) = cut_torn_tail(&mut file, base)?;
        let rotated = rotated_files(base).map_err(|e| io_error("list", base, &e))?;
        let state = match last_record(&mut file, base, len)? {
            Some((seq, hash)) => ChainState {
                seq,
                prev_hash: hash,
                continues: None,
                len,
            },
            None => match rotated.last() {
                Some(prev) => {
                    let mut f = File::open(prev).map_err(|e| io_error("open", prev, &e))?;
                    let plen = f.metadata().map_err(|e| io_error("stat", prev, &e))?.len();
                    let (seq, hash) = last_record(&mut f, prev, plen)?.ok_or_else(|| {
                        AuditError::CorruptTail {
                            path: prev.clone(),
                            line: 0,
                            reason: "rotated file is empty".into(),
                        }
                    })?;
                    ChainState {
                        seq,
                        prev_hash: hash,
                        continues: Some(file_name(prev)),
                        len,
                    }
                }
                None => ChainState {
                    seq: 0,
                    prev_hash: GENESIS_HASH.into(),
                    continues: None,
                    len,
                },
            },
        };
        counters.last_seq.store(state.seq, Ordering::Relaxed);
        let rotated_bytes = rotated
            .iter()
            .filter_map(|p| fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        Ok(Self {
            base: base.to_path_buf(),
            file,
            max_file_bytes,
            state,
            counters,
            poisoned: None,
            recovered,
            checkpoints: None,
            checkpoint_interval: maintain::DISK_TICK,
            every_records: 0,
            checkpoint_seq: 0,
            checkpoint_at: std::time::Instant::now(),
            retention: None,
            rotated: false,
            rotated_bytes,
        })
    }

    /// Chains, writes and fsyncs a batch, then acknowledges each record.
    fn write_batch(&mut self, batch: Vec<(AuditRecord, Ack)>) {
        if let Some(reason) = &self.poisoned {
            for (_, ack) in batch {
                reply(ack, Err(AuditError::Poisoned(reason.clone())));
            }
            return;
        }
        // Records fsynced so far (acknowledged Ok even if a later part of the batch fails).
        let mut durable: Vec<(Ack, Durable)> = Vec::new();
        let mut pending: Vec<(Ack, Durable)> = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut state = self.state.clone();
        let mut failure: Option<AuditError> = None;
        let mut rest = batch.into_iter();
        for (mut record, ack) in rest.by_ref() {
            let mut line = match chain_line(&mut record, &state) {
                Ok(l) => l,
                Err(e) => {
                    reply(ack, Err(e));
                    continue;
                }
            };
            let used = state.len + buf.len() as u64;
            if used > 0 && used + line.0.len() as u64 > self.max_file_bytes {
                // Make what is buffered durable in this file, then start the next one.
                if let Err(e) = self.commit(&mut buf, &mut state, &mut pending, &mut durable) {
                    failure = Some(e);
                    pending.push((ack, line.1));
                    break;
                }
                match self.rotate() {
                    Ok(name) => {
                        state.continues = Some(name);
                        state.len = 0;
                    }
                    Err(e) => {
                        self.poison(&e);
                        failure = Some(e);
                        pending.push((ack, line.1));
                        break;
                    }
                }
                line = match chain_line(&mut record, &state) {
                    Ok(l) => l,
                    Err(e) => {
                        reply(ack, Err(e));
                        continue;
                    }
                };
            }
            buf.extend_from_slice(line.0.as_bytes());
            state.seq = line.1.seq;
            state.prev_hash = line.1.hash.clone();
            state.continues = None;
            pending.push((ack, line.1));
        }
        if failure.is_none()
            && let Err(e) = self.commit(&mut buf, &mut state, &mut pending, &mut durable)
        {
            failure = Some(e);
        }
        for (ack, d) in durable {
            reply(ack, Ok(d));
        }
        if let Some(e) = failure {
            for (ack, _) in pending {
                reply(ack, Err(e.clone()));
            }
            for (_, ack) in rest {
                reply(ack, Err(e.clone()));
            }
        }
    }

    /// Writes `buf` to the active file and fsyncs; on success moves `pending` to `durable`
    /// and makes `state` the durable state.
    fn commit(
        &mut self,
        buf: &mut Vec<u8>,
        state: &mut ChainState,
        pending: &mut Vec<(Ack, Durable)>,
        durable: &mut Vec<(Ack, Durable)>,
    ) -> Result<(), AuditError> {
        if buf.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.file.write_all(buf) {
            let err = io_error("write", &self.base, &e);
            // Undo the partial write so the file ends with the last durable record.
            if let Err(e2) = self
                .file
                .set_len(self.state.len)
                .and_then(|()| self.file.sync_all())
            {
                self.poison(&io_error("truncate after failed write", &self.base, &e2));
            }
            return Err(err);
        }
        if let Err(e) = self.file.sync_data() {
            let err = io_error("fsync", &self.base, &e);
            self.poison(&err);
            return Err(err);
        }
        self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.check_linked()?;
        let written = buf.len() as u64;
        buf.clear();
        state.len += written;
        self.state = state.clone();
        let c = &self.counters;
        c.batches.fetch_add(1, Ordering::Relaxed);
        c.bytes.fetch_add(written, Ordering::Relaxed);
        c.records.fetch_add(pending.len() as u64, Ordering::Relaxed);
        c.last_seq.store(state.seq, Ordering::Relaxed);
        durable.append(pending);
        Ok(())
    }

    /// Fails (and poisons) if the path no longer names the open file: records written to an
    /// unlinked or replaced file would be lost.
    fn check_linked(&mut self) -> Result<(), AuditError> {
        let open = self.file.metadata();
        let named = fs::metadata(&self.base);
        let same = match (&open, &named) {
            (Ok(o), Ok(n)) => o.nlink() > 0 && o.dev() == n.dev() && o.ino() == n.ino(),
            _ => false,
        };
        if same {
            Ok(())
        } else {
            let e = AuditError::Unlinked(self.base.clone());
            self.poison(&e);
            Err(e)
        }
    }

    /// Renames the active file to the next `.NNNNNN` and opens a fresh one; returns the
    /// rotated file's name (what the next record continues).
    fn rotate(&mut self) -> Result<String, AuditError> {
        let next = rotated_files(&self.base)
            .map_err(|e| io_error("list", &self.base, &e))?
            .iter()
            .filter_map(|p| p.extension()?.to_str()?.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        let mut target = self.base.clone().into_os_string();
        target.push(format!(".{next:06}"));
        let target = PathBuf::from(target);
        fs::rename(&self.base, &target).map_err(|e| io_error("rotate", &self.base, &e))?;
        self.rotated = true;
        self.rotated_bytes += fs::metadata(&target).map_or(0, |m| m.len());
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(&self.base)
            .map_err(|e| io_error("create", &self.base, &e))?;
        if let Some(dir) = self.base.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_error("fsync directory", dir, &e))?;
            self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        }
        Ok(file_name(&target))
    }

    fn poison(&mut self, e: &AuditError) {
        tracing::error!(target: "sqlgate::audit", error = %e, "audit log unusable until restart");
        let reason = self.poisoned.get_or_insert_with(|| e.to_string()).clone();
        self.counters.poisoned.store(true, Ordering::Relaxed);
        *self
            .counters
            .poison_reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(reason);
    }
}

fn reply(ack: Ack, result: Result<Durable, AuditError>) {
    if let Some(ack) = ack {
        // The caller may have gone away (request cancelled); the record is durable anyway.
        let _ = ack.send(result);
    }
}

/// The record as its canonical line (with `\n`) at the chain position after `state`.
fn chain_line(
    record: &mut AuditRecord,
    state: &ChainState,
) -> Result<(String, Durable), AuditError> {
    record.sqlgateseq = Some(state.seq + 1);
    record.sqlgateprevhash = Some(state.prev_hash.clone());
    record.sqlgatecontinues = state.continues.clone();
    record.sqlgatehash = None;
    // The hash over the record without `sqlgatehash`, and the line with it, from one pass.
    let (hash, mut line) =
        hashed_line(&*record).map_err(|e| AuditError::Serialize(e.to_string()))?;
    line.push('\n');
    Ok((
        line,
        Durable {
            seq: state.seq + 1,
            hash,
        },
    ))
}

/// Cuts a final line without `\n` (a write interrupted by a crash, never acknowledged).
/// Returns the new length and, if something was cut, the message of the recovery record.
fn cut_torn_tail(file: &mut File, path: &Path) -> Result<(u64, Option<String>), AuditError> {
    let len = file
        .metadata()
        .map_err(|e| io_error("stat", path, &e))?
        .len();
    if len == 0 {
        return Ok((0, None));
    }
    let keep = match find_last_newline(file, path, len)? {
        Some(pos) if pos + 1 == len => return Ok((len, None)),
        Some(pos) => pos + 1,
        None => 0,
    };
    let mut torn = Vec::new();
    file.seek(SeekFrom::Start(keep))
        .and_then(|_| file.read_to_end(&mut torn))
        .map_err(|e| io_error("read", path, &e))?;
    file.set_len(keep)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error("truncate torn tail of", path, &e))?;
    let message = format!(
        "chain continued after cutting a torn final line of {} bytes (sha256 {}) from {}",
        torn.len(),
        hex::encode(Sha256::digest(&torn)),
        file_name(path)
    );
    tracing::warn!(target: "sqlgate::audit", "{message}");
    Ok((keep, Some(message)))
}

/// Offset of the last `\n` in the first `len` bytes, reading backwards in chunks.
pub(crate) fn find_last_newline(
    file: &mut File,
    path: &Path,
    len: u64,
) -> Result<Option<u64>, AuditError> {
    let mut end = len;
    let mut chunk = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(&mut chunk[..n]))
            .map_err(|e| io_error("read", path, &e))?;
        if let Some(i) = chunk[..n].iter().rposition(|b| *b == b'\n') {
            return Ok(Some(start + i as u64));
        }
        end = start;
    }
    Ok(None)
}

/// `(seq, hash)` of the last line of a file that ends with `\n`; `None` if it is empty.
/// Fails with [`AuditError::CorruptTail`] if that line does not verify on its own.
fn last_record(
    file: &mut File,
    path: &Path,
    len: u64,
) -> Result<Option<(u64, String)>, AuditError> {
    if len == 0 {
        return Ok(None);
    }
    let start = match find_last_newline(file, path, len - 1)? {
        Some(pos) => pos + 1,
        None => 0,
    };
    let mut line = vec![0u8; (len - 1 - start) as usize];
    file.seek(SeekFrom::Start(start))
        .and_then(|_| file.read_exact(&mut line))
        .map_err(|e| io_error("read", path, &e))?;
    let corrupt = |reason: String| -> AuditError {
        let line = fs::read(path)
            .map(|b| b.iter().filter(|c| **c == b'\n').count() as u64)
            .unwrap_or(0);
        AuditError::CorruptTail {
            path: path.to_path_buf(),
            line,
            reason,
        }
    };
    let value: Value =
        serde_json::from_slice(&line).map_err(|e| corrupt(format!("not JSON: {e}")))?;
    let seq = value
        .get("sqlgateseq")
        .and_then(Value::as_u64)
        .ok_or_else(|| corrupt("no sqlgateseq".into()))?;
    let hash = value
        .get("sqlgatehash")
        .and_then(Value::as_str)
        .ok_or_else(|| corrupt("no sqlgatehash".into()))?;
    if record_hash(&value) != hash {
        return Err(corrupt("hash mismatch".into()));
    }
    if canonical_json(&value).as_bytes() != line.as_slice() {
        return Err(corrupt("not in canonical form".into()));
    }
    Ok(Some((seq, hash.to_string())))
}
