//! The checkpoint file on the writer's side: append (fsynced), cut a torn final line at open,
//! check the log against the newest checkpoint at startup, and prune at a retention cut.
//!
//! Used only from the file sink's writer thread, which owns it; blocking I/O is fine here.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

use super::{Checkpoint, CheckpointConfig, Head, KeptFrom, Reason, Signer, read_checkpoint_lines};
use crate::audit::AuditError;
use crate::audit::file::find_last_newline;

/// The newest checkpoint written, for the Kafka replica.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    /// Counts checkpoints written since startup (1, 2, …): what "delivered" is measured in.
    pub(crate) n: u64,
    /// The signed line (no `\n`).
    pub(crate) line: Arc<str>,
}

/// The writer's handle on the checkpoint file.
#[derive(Debug)]
pub(crate) struct CheckpointLog {
    path: PathBuf,
    file: File,
    len: u64,
    signer: Signer,
    /// The newest checkpoint in the file (read at open, then each one written).
    newest: Option<Checkpoint>,
    /// Whether `newest` was read from the file but signed by another key (rotation), so its
    /// signature could not be checked here.
    newest_foreign: bool,
    written: u64,
    latest: watch::Sender<Option<Published>>,
}

fn io(op: &'static str, path: &Path, e: std::io::Error) -> AuditError {
    AuditError::Io {
        op,
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

impl CheckpointLog {
    /// Loads the key and opens the file (paths already resolved), cutting a torn final line.
    pub(crate) fn open(cfg: &CheckpointConfig) -> Result<Self, AuditError> {
        let signer = Signer::load_or_generate(cfg)?;
        let path = cfg.file.clone();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| io("create directory", dir, e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io("open", &path, e))?;
        let mut len = file.metadata().map_err(|e| io("stat", &path, e))?.len();
        let last_nl = if len == 0 {
            None
        } else {
            find_last_newline(&mut file, &path, len)?
        };
        let keep = last_nl.map_or(0, |p| p + 1);
        if keep < len {
            tracing::warn!(target: "sqlgate::audit", file = %path.display(), bytes = len - keep,
                "cut a torn final line off the checkpoint file (an interrupted write)");
            file.set_len(keep)
                .and_then(|()| file.sync_all())
                .map_err(|e| io("truncate torn tail of", &path, e))?;
            len = keep;
        }
        let (newest, newest_foreign) = match last_line(&mut file, &path, len)? {
            None => (None, false),
            Some(line) => {
                let keys = own_keys(&signer, cfg)?;
                match keys.check(&line) {
                    Ok(cp) => (Some(cp), false),
                    Err(reason) => {
                        // Another key (rotated) cannot be checked here; anything else is
                        // evidence of tampering and must be investigated, not overwritten.
                        let foreign: Option<Checkpoint> = serde_json::from_str(&line).ok();
                        match foreign {
                            Some(cp) if cp.kid != signer.kid() => (Some(cp), true),
                            _ => {
                                return Err(AuditError::Checkpoint(format!(
                                    "the last line of `{}` is not a valid checkpoint ({reason}); run `sqlgate audit verify`",
                                    path.display()
                                )));
                            }
                        }
                    }
                }
            }
        };
        let (latest, _) = watch::channel(None);
        Ok(Self {
            path,
            file,
            len,
            signer,
            newest,
            newest_foreign,
            written: 0,
            latest,
        })
    }

    /// Refuses a log that falls short of (or contradicts) the newest checkpoint: its tail was
    /// cut, or it was replaced. `head` is the log's last durable record (`None`: empty).
    pub(crate) fn check_log(&self, head: Option<&Head>) -> Result<(), AuditError> {
        let Some(cp) = &self.newest else {
            return Ok(());
        };
        if self.newest_foreign {
            tracing::warn!(target: "sqlgate::audit", kid = %cp.kid,
                "the newest checkpoint is signed by another key; not checked at startup (`sqlgate audit verify --public-key` checks it)");
        }
        let (seq, hash) = head.map_or((0, ""), |h| (h.seq, h.hash.as_str()));
        let what = format!(
            "checkpoint seq {} of {} ({}, `{}`)",
            cp.seq,
            cp.time,
            cp.reason.as_str(),
            self.path.display()
        );
        if seq < cp.seq {
            return Err(AuditError::Checkpoint(format!(
                "the audit log ends at seq {seq}, short of {what}: records {}..{} were cut off its end; run `sqlgate audit verify`. To start a new chain deliberately, move the log and the checkpoint file aside (keep them as evidence)",
                seq + 1,
                cp.seq
            )));
        }
        if seq == cp.seq && hash != cp.hash {
            return Err(AuditError::Checkpoint(format!(
                "the audit log's last record (seq {seq}) has hash {hash}, but {what} states {}: the log was rewritten or replaced; run `sqlgate audit verify`",
                cp.hash
            )));
        }
        Ok(())
    }

    /// The seq of the newest checkpoint (0 if none).
    pub(crate) fn newest_seq(&self) -> u64 {
        self.newest.as_ref().map_or(0, |c| c.seq)
    }

    /// Bytes in the file.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Where the Kafka replica learns of new checkpoints.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<Published>> {
        self.latest.subscribe()
    }

    /// Signs a checkpoint of `head`, appends it and fsyncs. On a failed write the file is cut
    /// back to its last complete line.
    pub(crate) fn write(
        &mut self,
        head: &Head,
        reason: Reason,
        kept_from: Option<KeptFrom>,
    ) -> Result<Checkpoint, AuditError> {
        let (cp, line) = self.signer.sign(head, reason, kept_from)?;
        let mut bytes = line.clone().into_bytes();
        bytes.push(b'\n');
        if let Err(e) = self.file.write_all(&bytes) {
            let _ = self.file.set_len(self.len);
            return Err(io("write", &self.path, e));
        }
        self.file
            .sync_data()
            .map_err(|e| io("fsync", &self.path, e))?;
        self.len += bytes.len() as u64;
        self.newest = Some(cp.clone());
        self.newest_foreign = false;
        self.written += 1;
        let n = self.written;
        self.latest.send_replace(Some(Published {
            n,
            line: line.into(),
        }));
        Ok(cp)
    }

    /// After a retention cut: rewrites the file without the checkpoints of records that are
    /// gone (`seq < keep_from`), atomically (temporary file, fsync, rename, fsync directory).
    /// Lines that do not parse are kept: they are evidence.
    pub(crate) fn prune(&mut self, keep_from: u64) -> Result<usize, AuditError> {
        let lines = read_checkpoint_lines(&self.path).map_err(|e| io("read", &self.path, e))?;
        let mut kept = String::new();
        let mut dropped = 0usize;
        for (_, line) in &lines {
            let seq = serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("seq").and_then(serde_json::Value::as_u64));
            if seq.is_some_and(|s| s < keep_from) {
                dropped += 1;
            } else {
                kept.push_str(line);
                kept.push('\n');
            }
        }
        if dropped == 0 {
            return Ok(0);
        }
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(kept.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| io("rewrite", &self.path, e))?;
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| io("open", &self.path, e))?;
        self.len = kept.len() as u64;
        Ok(dropped)
    }
}

/// The public half of our own key, for checking the file's newest line at open.
fn own_keys(signer: &Signer, cfg: &CheckpointConfig) -> Result<super::CheckpointKeys, AuditError> {
    super::CheckpointKeys::load(std::slice::from_ref(&cfg.public_key_file)).map_err(|e| {
        AuditError::Checkpoint(format!(
            "public key for {} (`{}`): {e}",
            signer.kid(),
            cfg.public_key_file.display()
        ))
    })
}

/// The last line of the first `len` bytes (which end with `\n`), without it.
fn last_line(file: &mut File, path: &Path, len: u64) -> Result<Option<String>, AuditError> {
    if len == 0 {
        return Ok(None);
    }
    let start = find_last_newline(file, path, len - 1)?.map_or(0, |p| p + 1);
    let mut line = vec![0u8; (len - 1 - start) as usize];
    file.seek(SeekFrom::Start(start))
        .and_then(|_| file.read_exact(&mut line))
        .map_err(|e| io("read", path, e))?;
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}
