//! Retention of rotated log files, and the disk figures behind the metrics and `/readyz`.
//!
//! Owns the `[audit.retention]` settings, deciding which rotated files go (oldest first), and
//! reading the first record a file holds (what a retention checkpoint names as the log's new
//! start). The writer thread carries the cut out (checkpoint first, then removal, then a
//! `sqlgate.RetentionCut` record) because it owns the files; this module deletes nothing.
//!
//! Never removed: the active file and the newest rotated file. Keeping the newest rotated file
//! keeps rotation numbers increasing (a removed name is never reused), and the two files are
//! at most `2 × audit.max_file_bytes`, which is what the limit may be exceeded by.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::record::{canonical_json, record_hash};

/// The `[audit.retention]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Remove the oldest rotated files while all files together exceed this many bytes
    /// (default 16 GiB; `0` = no size limit). A bound by default, because an audit log that
    /// fills its disk turns fail-closed into an outage; generous, because what goes is
    /// evidence: ship the log elsewhere (`[audit.kafka]`) for long-term retention.
    pub max_total_bytes: u64,
    /// Remove rotated files whose newest record is older than this (default `0s` = no age
    /// limit). How long audit records must be kept is a compliance decision (often a year or
    /// more), so sqlgate does not pick one.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            max_total_bytes: 16 * 1024 * 1024 * 1024,
            max_age: Duration::ZERO,
        }
    }
}

/// A rotated file as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileInfo {
    /// Its size.
    pub(crate) bytes: u64,
    /// Its last modification (the time of its newest record).
    pub(crate) modified: SystemTime,
}

/// How many of `rotated` (oldest first) to remove so that `rotated + active_bytes` fits
/// `max_total_bytes` and no removed file is older than allowed by `max_age`, never the newest
/// rotated file. Stops at the first file that may stay: the chain is only ever cut at its
/// start.
pub(crate) fn plan(
    cfg: &RetentionConfig,
    rotated: &[FileInfo],
    active_bytes: u64,
    now: SystemTime,
) -> usize {
    let removable = rotated.len().saturating_sub(1);
    let mut total: u64 = rotated.iter().map(|f| f.bytes).sum::<u64>() + active_bytes;
    let mut n = 0;
    while n < removable {
        let f = &rotated[n];
        let too_big = cfg.max_total_bytes > 0 && total > cfg.max_total_bytes;
        let too_old = !cfg.max_age.is_zero()
            && now
                .duration_since(f.modified)
                .is_ok_and(|age| age > cfg.max_age);
        if !(too_big || too_old) {
            break;
        }
        total -= f.bytes;
        n += 1;
    }
    n
}

/// `(sqlgateseq, sqlgateprevhash)` of the first record of `path`, checked (canonical, hash
/// matches): the point a retention checkpoint names as the log's start.
pub(crate) fn first_record(path: &Path) -> Result<(u64, String), String> {
    let f = fs::File::open(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    let mut line = String::new();
    BufReader::new(f)
        .read_line(&mut line)
        .map_err(|e| format!("read {}: {e}", path.display()))?;
    let body = line
        .strip_suffix('\n')
        .ok_or_else(|| format!("{} has no complete first record", path.display()))?;
    let value: Value =
        serde_json::from_str(body).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    let seq = value.get("sqlgateseq").and_then(Value::as_u64);
    let prev = value.get("sqlgateprevhash").and_then(Value::as_str);
    let stated = value.get("sqlgatehash").and_then(Value::as_str);
    match (seq, prev, stated) {
        (Some(seq), Some(prev), Some(stated))
            if record_hash(&value) == stated && canonical_json(&value) == body =>
        {
            Ok((seq, prev.to_string()))
        }
        _ => Err(format!(
            "the first record of {} does not verify",
            path.display()
        )),
    }
}

/// Bytes available to the gateway on the filesystem holding `dir` (`None` if unknown).
pub(crate) fn free_bytes(dir: &Path) -> Option<u64> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    rustix::fs::statvfs(dir)
        .ok()
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(bytes: u64, age_s: u64, now: SystemTime) -> FileInfo {
        FileInfo {
            bytes,
            modified: now - Duration::from_secs(age_s),
        }
    }

    #[test]
    fn removes_oldest_first_until_it_fits_and_keeps_the_newest_rotated_file() {
        let now = SystemTime::now();
        let cfg = RetentionConfig {
            max_total_bytes: 300,
            max_age: Duration::ZERO,
        };
        let files = [info(100, 30, now), info(100, 20, now), info(100, 10, now)];
        assert_eq!(plan(&cfg, &files, 0, now), 0, "300 fits 300");
        assert_eq!(plan(&cfg, &files, 1, now), 1);
        assert_eq!(plan(&cfg, &files, 150, now), 2);
        assert_eq!(
            plan(&cfg, &files, 10_000, now),
            2,
            "the newest rotated file stays whatever the size"
        );
        let unlimited = RetentionConfig {
            max_total_bytes: 0,
            max_age: Duration::ZERO,
        };
        assert_eq!(plan(&unlimited, &files, 10_000, now), 0, "0 = keep all");
    }

    #[test]
    fn removes_files_older_than_max_age_oldest_first_only() {
        let now = SystemTime::now();
        let cfg = RetentionConfig {
            max_total_bytes: 0,
            max_age: Duration::from_secs(15),
        };
        let files = [
            info(1, 30, now),
            info(1, 10, now),
            info(1, 20, now),
            info(1, 40, now),
        ];
        // The second is young: retention stops there (the chain is cut only at its start).
        assert_eq!(plan(&cfg, &files, 0, now), 1);
    }
}
