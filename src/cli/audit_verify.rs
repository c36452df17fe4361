//! `sqlgate audit verify`: the chain, checked against the signed checkpoints (from the
//! checkpoint file, and from Kafka with `--kafka`).
//!
//! Exit codes auditors script on: 0 intact, 1 tampering found (a bad record, a forged
//! checkpoint, a record contradicting a checkpoint, a cut tail, a missing kept file, no
//! checkpoints at all), 2 the check could not run (no log, no public key, Kafka unreachable).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::audit::{Anchors, CheckpointKeys, Reason, VerifyError, log_files, verify_with};

use super::ConfigArg;

/// The command's arguments.
pub(super) struct Args<'a> {
    pub(super) config: &'a ConfigArg,
    pub(super) checkpoints: Vec<PathBuf>,
    pub(super) public_keys: Vec<PathBuf>,
    pub(super) kafka: bool,
    pub(super) no_checkpoints: bool,
    pub(super) files: Vec<PathBuf>,
}

/// Runs it and prints the verdict on stdout (errors that stop the check on stderr).
pub(super) fn run(args: Args<'_>) -> anyhow::Result<ExitCode> {
    let (cfg, base) = args.config.load()?;
    let audit = cfg.audit.resolved(&base);
    let files = if args.files.is_empty() {
        log_files(&audit.file)
    } else {
        args.files
    };
    let broken = |e: VerifyError| {
        println!("BROKEN: {e}");
        Ok(ExitCode::from(1))
    };
    let anchors = if args.no_checkpoints {
        Anchors::none()
    } else {
        let key_files = if args.public_keys.is_empty() {
            vec![audit.checkpoint.public_key_file.clone()]
        } else {
            args.public_keys
        };
        let keys = CheckpointKeys::load(&key_files).map_err(|e| {
            anyhow::anyhow!(
                "checkpoint public key: {e} (pass --public-key FILE, or --no-checkpoints to check the chain alone)"
            )
        })?;
        let mut anchors = Anchors::required();
        let sources = if args.checkpoints.is_empty() {
            vec![audit.checkpoint.file.clone()]
        } else {
            args.checkpoints
        };
        for path in &sources {
            if let Err(e) = anchors.add_file(path, &keys) {
                return broken(e);
            }
        }
        if args.kafka {
            let kafka = audit.kafka.as_ref().ok_or_else(|| {
                anyhow::anyhow!("--kafka: the configuration has no [audit.kafka]")
            })?;
            let lines = crate::audit::read_kafka_checkpoints(kafka)
                .map_err(|e| anyhow::anyhow!("--kafka: {e}"))?;
            if let Err(e) = anchors.add_lines(lines, &keys) {
                return broken(e);
            }
        }
        anchors
    };
    if files.is_empty() && anchors.is_empty() {
        anyhow::bail!("no audit log at {}", audit.file.display());
    }
    let report = match verify_with(&files, &anchors) {
        Ok(r) => r,
        Err(e @ VerifyError::NoCheckpoints { .. }) => {
            println!("BROKEN: {e}");
            println!(
                "hint: --checkpoints FILE names the checkpoint file (a copy, or the Kafka export), --no-checkpoints checks the chain alone"
            );
            return Ok(ExitCode::from(1));
        }
        Err(e) => return broken(e),
    };
    println!(
        "ok: {} records in {} files; chain intact from seq {} up to seq {}",
        report.records, report.files, report.first_seq, report.last_seq
    );
    if let Some(newest) = &report.newest_checkpoint {
        println!(
            "checkpoints: {} distinct, {} matched; newest: {newest}; {} records after it",
            anchors.len(),
            report.checkpoints_matched,
            report.unanchored
        );
        if !matches!(newest.reason, Reason::Shutdown | Reason::Close) {
            println!(
                "note: the newest checkpoint is not a shutdown checkpoint: the gateway is running, stopped without a drain, or the log and the checkpoint file were both cut after it{}",
                if args.kafka {
                    ""
                } else {
                    " (the Kafka copy tells: --kafka)"
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
