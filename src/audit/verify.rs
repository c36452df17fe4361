//! For auditors: list the log's files in chain order and verify the chain, naming the first
//! record that is wrong and how, and check it against the signed checkpoints ([`Anchors`]):
//! a log that falls short of the newest checkpoint was cut, a record that contradicts one was
//! rewritten, a log that starts later than the newest retention cut lost a kept file.

use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::checkpoint::{Checkpoint, CheckpointKeys, Reason, read_checkpoint_lines};
use super::record::{GENESIS_HASH, canonical_json, record_hash};

/// The default file name inside a log directory.
const DEFAULT_NAME: &str = "audit.log";

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Files read.
    pub files: usize,
    /// Records verified.
    pub records: u64,
    /// Sequence number of the last record (0 if none). Compare it with a witness kept
    /// elsewhere: cutting records off the end cannot be detected from the files alone.
    pub last_seq: u64,
    /// Hash of the last record (the genesis hash if none).
    pub last_hash: String,
    /// Sequence number of the first record (1, or later after a retention cut; 0 if none).
    pub first_seq: u64,
    /// Checkpoints whose record was found and matched.
    pub checkpoints_matched: usize,
    /// The newest checkpoint (highest seq, then latest), if any were given.
    pub newest_checkpoint: Option<CheckpointRef>,
    /// Records after the newest checkpoint: written since, and not anchored yet (a cut of
    /// these together with the checkpoint file's tail is what the files alone cannot show).
    pub unanchored: u64,
}

/// A checkpoint as reports name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRef {
    /// The seq it names.
    pub seq: u64,
    /// When it was written.
    pub time: String,
    /// Why.
    pub reason: Reason,
    /// Where it was read (`checkpoints.log line 7`, `Kafka topic … offset 3`).
    pub source: String,
}

impl fmt::Display for CheckpointRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "checkpoint seq {} of {} ({}, {})",
            self.seq,
            self.time,
            self.reason.as_str(),
            self.source
        )
    }
}

/// Signed checkpoints to check the log against. Each was checked against the public keys
/// when added; [`Anchors::none`] checks the chain alone.
#[derive(Debug, Clone, Default)]
pub struct Anchors {
    checkpoints: Vec<(Checkpoint, String)>,
    /// Fail when there are records but no checkpoints.
    required: bool,
}

impl Anchors {
    /// No checkpoints: the chain alone (a cut tail cannot be detected).
    pub fn none() -> Self {
        Self::default()
    }

    /// Empty, but a log with records and no checkpoint added fails with
    /// [`VerifyError::NoCheckpoints`].
    pub fn required() -> Self {
        Self {
            checkpoints: Vec::new(),
            required: true,
        }
    }

    /// Adds the checkpoints of the file `path` (a missing file adds none).
    pub fn add_file(&mut self, path: &Path, keys: &CheckpointKeys) -> Result<(), VerifyError> {
        let lines = read_checkpoint_lines(path).map_err(|e| VerifyError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let name = path.display().to_string();
        self.add_lines(
            lines
                .into_iter()
                .map(|(n, line)| (format!("`{name}` line {n}"), line)),
            keys,
        )
    }

    /// Adds checkpoint lines, each with where it was read; the first that is not a valid
    /// signed checkpoint fails with [`VerifyError::ForgedCheckpoint`]. The same checkpoint
    /// from two sources (file and Kafka) counts once.
    pub fn add_lines(
        &mut self,
        lines: impl IntoIterator<Item = (String, String)>,
        keys: &CheckpointKeys,
    ) -> Result<(), VerifyError> {
        for (source, line) in lines {
            let cp = keys
                .check(&line)
                .map_err(|reason| VerifyError::ForgedCheckpoint {
                    location: source.clone(),
                    reason,
                })?;
            if !self.checkpoints.iter().any(|(c, _)| c.sig == cp.sig) {
                self.checkpoints.push((cp, source));
            }
        }
        Ok(())
    }

    /// How many distinct checkpoints were added.
    pub fn len(&self) -> usize {
        self.checkpoints.len()
    }

    /// Whether none were added.
    pub fn is_empty(&self) -> bool {
        self.checkpoints.is_empty()
    }

    fn reference(cp: &Checkpoint, source: &str) -> CheckpointRef {
        CheckpointRef {
            seq: cp.seq,
            time: cp.time.clone(),
            reason: cp.reason,
            source: source.to_string(),
        }
    }

    /// The newest: highest seq, then latest time.
    fn newest(&self) -> Option<CheckpointRef> {
        self.checkpoints
            .iter()
            .max_by(|(a, _), (b, _)| (a.seq, &a.time).cmp(&(b.seq, &b.time)))
            .map(|(c, s)| Self::reference(c, s))
    }

    /// The newest retention cut: the highest `kept_from.seq`.
    fn newest_cut(&self) -> Option<(&Checkpoint, &str)> {
        self.checkpoints
            .iter()
            .filter(|(c, _)| c.kept_from.is_some())
            .max_by_key(|(c, _)| c.kept_from.as_ref().map(|k| k.seq))
            .map(|(c, s)| (c, s.as_str()))
    }
}

/// What is wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Not a JSON object with the chain attributes (or a line was split or merged).
    Malformed(String),
    /// The line is valid JSON but not byte-for-byte the canonical form the sink writes.
    NotCanonical,
    /// The record's content does not match its `sqlgatehash`: it was edited.
    HashMismatch {
        /// Hash of the content as found.
        computed: String,
        /// `sqlgatehash` as found.
        stated: String,
    },
    /// `sqlgateseq` is higher than the next expected: records are missing (or reordered).
    Gap {
        /// The sequence number that should come next.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// `sqlgateseq` is lower than the next expected: a record was moved or copied here.
    Reorder {
        /// The sequence number that should come next.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// `sqlgateprevhash` is not the previous record's hash: a record before it was replaced.
    BrokenLink {
        /// Hash of the previous record.
        expected: String,
        /// `sqlgateprevhash` as found.
        found: String,
    },
    /// The first record of a file names another file as the one it continues: a file is
    /// missing, out of order, or was renamed.
    WrongContinuation {
        /// The name of the file read before it (`None` for the first file given).
        expected: Option<String>,
        /// `sqlgatecontinues` as found.
        found: Option<String>,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Malformed(why) => write!(f, "malformed record: {why}"),
            Problem::NotCanonical => write!(f, "record bytes are not in canonical form (edited)"),
            Problem::HashMismatch { computed, stated } => {
                write!(
                    f,
                    "hash mismatch: content hashes to {computed}, record states {stated}"
                )
            }
            Problem::Gap { expected, found } => write!(
                f,
                "gap: expected seq {expected}, found {found} (records missing or reordered)"
            ),
            Problem::Reorder { expected, found } => write!(
                f,
                "reorder: expected seq {expected}, found {found} (record moved or duplicated)"
            ),
            Problem::BrokenLink { expected, found } => write!(
                f,
                "broken link: prev hash {found} is not the previous record's hash {expected}"
            ),
            Problem::WrongContinuation { expected, found } => write!(
                f,
                "file continues {} but follows {}",
                found.as_deref().unwrap_or("(nothing)"),
                expected.as_deref().unwrap_or("(nothing)")
            ),
        }
    }
}

/// Why verification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A file could not be read.
    #[error("cannot read `{path}`: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// The first bad record.
    #[error("`{}` line {line} (seq {}): {problem}", file.display(), seq.map_or("?".to_string(), |s| s.to_string()))]
    Broken {
        /// The file it is in.
        file: PathBuf,
        /// 1-based line number.
        line: u64,
        /// Its `sqlgateseq`, if readable.
        seq: Option<u64>,
        /// What is wrong.
        problem: Problem,
    },
    /// A checkpoint line is not a valid signed checkpoint: edited, forged, signed by a key
    /// not given, or malformed.
    #[error("{location}: not a valid checkpoint: {reason}")]
    ForgedCheckpoint {
        /// Where it was read.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// The log ends before the newest checkpoint: records were cut off its end.
    #[error("cut tail: the log ends at seq {last_seq}, short of {checkpoint}: records {}..{} were removed from its end", last_seq + 1, checkpoint.seq)]
    CutTail {
        /// The log's last record (0 if none).
        last_seq: u64,
        /// The newest checkpoint, which it falls short of.
        checkpoint: Box<CheckpointRef>,
    },
    /// A record contradicts a checkpoint: the log was rewritten from there (or before).
    #[error("`{}` line {line} (seq {seq}): checkpoint mismatch: the record's {what} is {found}, but {checkpoint} states {stated} (the log was rewritten)", file.display())]
    CheckpointMismatch {
        /// The file of the record.
        file: PathBuf,
        /// Its line.
        line: u64,
        /// Its seq.
        seq: u64,
        /// `hash` or `prev hash` (a retention checkpoint's first kept record).
        what: &'static str,
        /// As found in the record.
        found: String,
        /// As the checkpoint states it.
        stated: String,
        /// The checkpoint.
        checkpoint: Box<CheckpointRef>,
    },
    /// The log starts later than the newest retention cut allows: a file retention kept was
    /// deleted.
    #[error("the log starts at seq {first_seq} (`{}`), but {checkpoint} kept records from seq {kept_from}: records {kept_from}..{} are missing (a file that retention kept was deleted)", file.display(), first_seq - 1)]
    MissingStart {
        /// The first record found.
        first_seq: u64,
        /// Its file.
        file: PathBuf,
        /// Where the retention checkpoint says the log starts.
        kept_from: u64,
        /// That checkpoint.
        checkpoint: Box<CheckpointRef>,
    },
    /// Records but no checkpoint at all: a cut log cannot be told from a complete one.
    #[error(
        "no checkpoints: {records} records but no signed checkpoint to check their end against (checkpoint file missing or emptied?)"
    )]
    NoCheckpoints {
        /// Records verified.
        records: u64,
    },
}

/// The log's files in chain order: `base.000001`, `base.000002`, …, then `base` itself.
/// `dir_or_base` is the active file (`data/audit/audit.log`) or its directory (then the file
/// is `audit.log`). Missing files yield an empty list.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// for name in ["audit.log", "audit.log.000002", "audit.log.000001", "other"] {
///     std::fs::write(dir.path().join(name), "").unwrap();
/// }
/// let names: Vec<_> = sqlgate::audit::log_files(dir.path())
///     .iter()
///     .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
///     .collect();
/// assert_eq!(names, ["audit.log.000001", "audit.log.000002", "audit.log"]);
/// ```
pub fn log_files(dir_or_base: &Path) -> Vec<PathBuf> {
    let base = if dir_or_base.is_dir() {
        dir_or_base.join(DEFAULT_NAME)
    } else {
        dir_or_base.to_path_buf()
    };
    let mut files = rotated_files(&base).unwrap_or_default();
    if base.is_file() {
        files.push(base);
    }
    files
}

/// The rotated files of `base` (`base.NNNNNN`), oldest first.
pub(crate) fn rotated_files(base: &Path) -> std::io::Result<Vec<PathBuf>> {
    let dir = match base.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!("{}.", file_name(base));
    let mut numbered: Vec<(u64, PathBuf)> = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(n) = name.strip_prefix(&prefix)
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && let Ok(n) = n.parse::<u64>()
        {
            numbered.push((n, base.with_file_name(&name)));
        }
    }
    numbered.sort();
    Ok(numbered.into_iter().map(|(_, p)| p).collect())
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Verifies the chain over `files`, given in chain order (see [`log_files`]): every line is a
/// canonical record whose hash matches its content, sequence numbers run 1, 2, 3, … without gap
/// across files, each record links to the previous one's hash (the first to the genesis hash),
/// and the first record of each file names the file before it. Returns the first bad record.
/// Without checkpoints: a log cut at its end passes (see [`verify_with`]).
pub fn verify(files: &[PathBuf]) -> Result<VerifyReport, VerifyError> {
    verify_with(files, &Anchors::none())
}

/// [`verify`], and against the signed checkpoints in `anchors`: the log may start at a
/// retention cut (at or before the newest checkpoint's `kept_from`, not after), every
/// checkpoint whose record the log holds must state that record's hash, and the log must
/// reach the newest checkpoint ([`VerifyError::CutTail`] otherwise).
pub fn verify_with(files: &[PathBuf], anchors: &Anchors) -> Result<VerifyReport, VerifyError> {
    let mut expected_seq = 1u64;
    let mut prev_hash = GENESIS_HASH.to_string();
    let mut prev_file: Option<String> = None;
    let mut records = 0u64;
    let mut first_seq = 0u64;
    let cut = anchors.newest_cut();
    let mut pending: Vec<&(Checkpoint, String)> = anchors.checkpoints.iter().collect();
    pending.sort_by_key(|(c, _)| std::cmp::Reverse(c.seq));
    let mut matched = 0usize;
    for path in files {
        let io = |e: std::io::Error| VerifyError::Io {
            path: path.clone(),
            reason: e.to_string(),
        };
        let mut reader = BufReader::new(fs::File::open(path).map_err(io)?);
        let mut line_no = 0u64;
        let mut raw = Vec::new();
        loop {
            raw.clear();
            if reader.read_until(b'\n', &mut raw).map_err(io)? == 0 {
                break;
            }
            line_no += 1;
            let broken = |seq: Option<u64>, problem: Problem| VerifyError::Broken {
                file: path.clone(),
                line: line_no,
                seq,
                problem,
            };
            let Some(body) = raw.strip_suffix(b"\n") else {
                return Err(broken(
                    None,
                    Problem::Malformed("last line is incomplete".into()),
                ));
            };
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| broken(None, Problem::Malformed(format!("not JSON: {e}"))))?;
            let seq = value.get("sqlgateseq").and_then(Value::as_u64);
            let (Some(found_seq), Some(stated), Some(prev)) = (
                seq,
                value.get("sqlgatehash").and_then(Value::as_str),
                value.get("sqlgateprevhash").and_then(Value::as_str),
            ) else {
                return Err(broken(
                    seq,
                    Problem::Malformed("missing sqlgateseq, sqlgatehash or sqlgateprevhash".into()),
                ));
            };
            if records == 0 {
                first_seq = found_seq;
                // A log that does not start at the genesis may start at a retention cut: at
                // or before the newest `kept_from` (a crash mid-cut leaves older files).
                if found_seq > 1
                    && let Some((cp, source)) = cut
                    && let Some(kept) = &cp.kept_from
                {
                    if found_seq > kept.seq {
                        return Err(VerifyError::MissingStart {
                            first_seq: found_seq,
                            file: path.clone(),
                            kept_from: kept.seq,
                            checkpoint: Box::new(Anchors::reference(cp, source)),
                        });
                    }
                    expected_seq = found_seq;
                    prev_hash = prev.to_string();
                    prev_file = value
                        .get("sqlgatecontinues")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    // Checkpoints of removed records cannot be checked.
                    while pending.last().is_some_and(|(c, _)| c.seq < found_seq) {
                        pending.pop();
                    }
                }
            }
            let computed = record_hash(&value);
            if computed != stated {
                return Err(broken(
                    seq,
                    Problem::HashMismatch {
                        computed,
                        stated: stated.into(),
                    },
                ));
            }
            if canonical_json(&value).as_bytes() != body {
                return Err(broken(seq, Problem::NotCanonical));
            }
            if found_seq > expected_seq {
                return Err(broken(
                    seq,
                    Problem::Gap {
                        expected: expected_seq,
                        found: found_seq,
                    },
                ));
            }
            if found_seq < expected_seq {
                return Err(broken(
                    seq,
                    Problem::Reorder {
                        expected: expected_seq,
                        found: found_seq,
                    },
                ));
            }
            if prev != prev_hash {
                return Err(broken(
                    seq,
                    Problem::BrokenLink {
                        expected: prev_hash,
                        found: prev.into(),
                    },
                ));
            }
            let continues = value
                .get("sqlgatecontinues")
                .and_then(Value::as_str)
                .map(str::to_string);
            let expected_continues = if line_no == 1 {
                prev_file.clone()
            } else {
                None
            };
            if continues != expected_continues {
                return Err(broken(
                    seq,
                    Problem::WrongContinuation {
                        expected: expected_continues,
                        found: continues,
                    },
                ));
            }
            if let Some((cp, source)) = cut
                && let Some(kept) = cp.kept_from.as_ref().filter(|k| k.seq == found_seq)
                && kept.prevhash != prev
            {
                return Err(VerifyError::CheckpointMismatch {
                    file: path.clone(),
                    line: line_no,
                    seq: found_seq,
                    what: "prev hash",
                    found: prev.into(),
                    stated: kept.prevhash.clone(),
                    checkpoint: Box::new(Anchors::reference(cp, source)),
                });
            }
            while let Some((cp, source)) = pending.last().filter(|(c, _)| c.seq == found_seq) {
                if cp.hash != stated {
                    return Err(VerifyError::CheckpointMismatch {
                        file: path.clone(),
                        line: line_no,
                        seq: found_seq,
                        what: "hash",
                        found: stated.into(),
                        stated: cp.hash.clone(),
                        checkpoint: Box::new(Anchors::reference(cp, source)),
                    });
                }
                matched += 1;
                pending.pop();
            }
            expected_seq += 1;
            prev_hash = stated.to_string();
            records += 1;
        }
        if line_no > 0 {
            prev_file = Some(file_name(path));
        }
    }
    let last_seq = expected_seq - 1;
    let newest = anchors.newest();
    if let Some(newest) = newest.as_ref().filter(|n| n.seq > last_seq) {
        return Err(VerifyError::CutTail {
            last_seq: if records == 0 { 0 } else { last_seq },
            checkpoint: Box::new(newest.clone()),
        });
    }
    if anchors.required && anchors.is_empty() && records > 0 {
        return Err(VerifyError::NoCheckpoints { records });
    }
    Ok(VerifyReport {
        files: files.len(),
        records,
        last_seq,
        last_hash: prev_hash,
        first_seq,
        checkpoints_matched: matched,
        unanchored: newest
            .as_ref()
            .map_or(records, |n| last_seq.saturating_sub(n.seq)),
        newest_checkpoint: newest,
    })
}
