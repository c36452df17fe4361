//! For auditors: list the log's files in chain order and verify the chain, naming the first
//! record that is wrong and how.

use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;

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
pub fn verify(files: &[PathBuf]) -> Result<VerifyReport, VerifyError> {
    let mut expected_seq = 1u64;
    let mut prev_hash = GENESIS_HASH.to_string();
    let mut prev_file: Option<String> = None;
    let mut records = 0u64;
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
            expected_seq += 1;
            prev_hash = stated.to_string();
            records += 1;
        }
        if line_no > 0 {
            prev_file = Some(file_name(path));
        }
    }
    Ok(VerifyReport {
        files: files.len(),
        records,
        last_seq: expected_seq - 1,
        last_hash: prev_hash,
    })
}
