//! The `audit_reader` target: bytes as audit log files and a checkpoint file, read the way
//! `sqlgate audit verify` and `sqlgate audit query` read them.
//!
//! An input is `<log>[CHECKPOINTS_SEPARATOR<checkpoint lines>]`, where `<log>` may hold
//! several files separated by [`AUDIT_FILE_SEPARATOR`] lines (written as `audit.log.000001`,
//! `audit.log.000002`, …, and the last as `audit.log`). Checkpoints are checked against the
//! public key the seed corpus was signed with (`fuzz/audit-checkpoint.jwks.json`; its private
//! half was thrown away), so mutations of signed seeds reach the anchor logic.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::audit::checkpoint::CHECKPOINT_TYPE;
use crate::audit::{
    Anchors, CheckpointKeys, Decision, Filter, OutputFormat, VerifyError, query, render, verify,
    verify_with,
};

/// A line of its own that starts the next log file of an input.
pub const AUDIT_FILE_SEPARATOR: &[u8] = b"=== next file ===\n";
/// A line of its own after which an input holds the checkpoint file.
pub const CHECKPOINTS_SEPARATOR: &[u8] = b"=== checkpoints ===\n";

/// The public JWKS of the key the corpus's checkpoints are signed with.
pub(super) const SEED_KEYS_JWKS: &str = include_str!("../../fuzz/audit-checkpoint.jwks.json");

/// Records read at most per input (a bound on the work of one run, far above any seed).
const MAX_RECORDS: usize = 10_000;

struct Fixture {
    keys: CheckpointKeys,
    /// Each input gets its own directory under this prefix, removed afterwards.
    scratch: PathBuf,
    next: AtomicU64,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let scratch =
            std::env::temp_dir().join(format!("sqlgate-fuzz-audit-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).expect("create the fuzzing scratch directory");
        let jwks = scratch.join("keys.jwks.json");
        std::fs::write(&jwks, SEED_KEYS_JWKS).expect("write the seed keys");
        let keys = CheckpointKeys::load(&[jwks]).expect("the seed keys load");
        Fixture {
            keys,
            scratch,
            next: AtomicU64::new(0),
        }
    })
}

/// Splits `data` into log files and a checkpoint file (see the module doc).
fn split_input(data: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let (log, checkpoints) = match find(data, CHECKPOINTS_SEPARATOR) {
        Some(at) => (&data[..at], &data[at + CHECKPOINTS_SEPARATOR.len()..]),
        None => (data, &data[..0]),
    };
    let mut files = Vec::new();
    let mut rest = log;
    while let Some(at) = find(rest, AUDIT_FILE_SEPARATOR) {
        files.push(&rest[..at]);
        rest = &rest[at + AUDIT_FILE_SEPARATOR.len()..];
    }
    files.push(rest);
    (files, checkpoints)
}

/// The first occurrence of `line` at the start of `data` or right after a `\n`.
fn find(data: &[u8], line: &[u8]) -> Option<usize> {
    let mut from = 0;
    while from + line.len() <= data.len() {
        let at = from + data[from..].windows(line.len()).position(|w| w == line)?;
        if at == 0 || data[at - 1] == b'\n' {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// `data` as a log and checkpoint file (see the module doc) through `verify` (the chain
/// alone), `verify_with` (required checkpoints), every line as a checkpoint, and `query` with
/// and without a filter, then `render`. Invariants: a report counts consecutive records;
/// checkpoints only ever relax where a log may start, so a log from seq 1 that verifies with
/// checkpoints verifies without them; what passes reaches the newest checkpoint.
pub fn audit_reader(data: &[u8]) {
    let fx = fixture();
    let dir = fx
        .scratch
        .join(fx.next.fetch_add(1, Ordering::Relaxed).to_string());
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    let result = std::panic::catch_unwind(|| read(fx, &dir, data));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn read(fx: &Fixture, dir: &Path, data: &[u8]) {
    let (parts, checkpoints) = split_input(data);
    let mut files = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let name = if i + 1 == parts.len() {
            "audit.log".to_string()
        } else {
            format!("audit.log.{:06}", i + 1)
        };
        let path = dir.join(name);
        std::fs::write(&path, part).expect("write a log file");
        files.push(path);
    }
    let checkpoint_file = dir.join("checkpoints.log");
    std::fs::write(&checkpoint_file, checkpoints).expect("write the checkpoint file");

    let alone = verify(&files);
    match &alone {
        Ok(report) => {
            assert_eq!(report.files, files.len());
            if report.records > 0 {
                assert_eq!(report.first_seq, 1, "a chain alone starts at the genesis");
                assert_eq!(report.last_seq, report.records);
            }
        }
        Err(e) => assert_readable(e),
    }
    let mut anchors = Anchors::required();
    match anchors.add_file(&checkpoint_file, &fx.keys) {
        Err(e) => assert_readable(&e),
        Ok(()) => match verify_with(&files, &anchors) {
            Ok(report) => {
                if report.records > 0 {
                    assert_eq!(
                        report.last_seq - report.first_seq + 1,
                        report.records,
                        "records are consecutive"
                    );
                    if report.first_seq == 1 {
                        assert!(
                            alone.is_ok(),
                            "verifies with checkpoints but not alone: {:?}",
                            alone
                        );
                    }
                }
                let newest = report.newest_checkpoint.as_ref().map_or(0, |c| c.seq);
                assert!(newest <= report.last_seq, "passed short of a checkpoint");
                assert!(report.checkpoints_matched <= anchors.len());
            }
            Err(e) => assert_readable(&e),
        },
    }
    for line in data.split(|b| *b == b'\n') {
        if let Ok(cp) = fx.keys.check(&String::from_utf8_lossy(line)) {
            assert_eq!(cp.kind, CHECKPOINT_TYPE);
        }
    }
    let filters = [
        Filter::default(),
        Filter {
            principal: Some("User:alice".into()),
            table: Some("env-dev.lkc-dev.orders".into()),
            action: Some("read".into()),
            decision: Some(Decision::Deny),
            since: Some(chrono::DateTime::UNIX_EPOCH),
            until: None,
        },
        Filter {
            table: Some("orders".into()),
            decision: Some(Decision::Allow),
            ..Filter::default()
        },
    ];
    for filter in &filters {
        let mut records = Vec::new();
        for r in query(&files, filter).take(MAX_RECORDS) {
            match r {
                Ok(r) => records.push(r),
                Err(e) => assert_readable(&e),
            }
        }
        for format in [OutputFormat::Table, OutputFormat::Json] {
            let out = render(&records, format);
            if format == OutputFormat::Json {
                assert_eq!(
                    out.lines().count(),
                    records.len(),
                    "one JSON line per record"
                );
            }
        }
    }
}

/// An error says what is wrong in words.
fn assert_readable(e: &VerifyError) {
    let text = e.to_string();
    assert!(
        !text.trim().is_empty(),
        "an empty verification error: {e:?}"
    );
}
