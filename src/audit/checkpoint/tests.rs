//! Checkpoints and retention at the library level: signing, the writer's triggers, the
//! startup refusal of a cut log, and a retention cut that still verifies.

use std::path::Path;
use std::time::{Duration, Instant};

use super::*;
use crate::audit::{
    Anchors, AuditRecord, FileSink, RetentionConfig, SinkOptions, VerifyError, log_files,
    verify_with,
};

fn config_in(dir: &Path) -> CheckpointConfig {
    CheckpointConfig {
        file: dir.join("audit/checkpoints.log"),
        key_file: dir.join("keys/cp.key"),
        public_key_file: dir.join("keys/cp.jwks.json"),
        ..CheckpointConfig::default()
    }
}

fn head(seq: u64) -> Head {
    Head {
        seq,
        hash: "ab".repeat(32),
        file: "audit.log".into(),
    }
}

fn anchors(cfg: &CheckpointConfig) -> Anchors {
    let keys = CheckpointKeys::load(std::slice::from_ref(&cfg.public_key_file)).unwrap();
    let mut a = Anchors::required();
    a.add_file(&cfg.file, &keys).unwrap();
    a
}

#[test]
fn a_signed_checkpoint_checks_and_any_edit_or_other_key_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path());
    let signer = Signer::load_or_generate(&cfg).unwrap();
    let (cp, line) = signer.sign(&head(7), Reason::Interval, None).unwrap();
    let keys = CheckpointKeys::load(std::slice::from_ref(&cfg.public_key_file)).unwrap();
    assert_eq!(keys.check(&line).unwrap(), cp);
    let edited = line.replace("\"seq\":7", "\"seq\":8");
    assert!(keys.check(&edited).unwrap_err().contains("does not verify"));
    let spaced = line.replace(",", ", ");
    assert!(keys.check(&spaced).unwrap_err().contains("canonical"));
    // A second key (another gateway, or an attacker's) is not accepted by the first's JWKS.
    let other = config_in(&dir.path().join("other"));
    let (_, foreign) = Signer::load_or_generate(&other)
        .unwrap()
        .sign(&head(7), Reason::Interval, None)
        .unwrap();
    assert!(keys.check(&foreign).unwrap_err().contains("not among"));
    // The key is reused, never replaced, on the next start.
    let again = Signer::load_or_generate(&cfg).unwrap();
    assert_eq!(again.kid(), signer.kid());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&cfg.key_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_missing_key_is_a_startup_error_when_generation_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = CheckpointConfig {
        generate_key: false,
        ..config_in(dir.path())
    };
    let e = Signer::load_or_generate(&cfg).unwrap_err();
    assert!(e.to_string().contains("generate_key = false"), "{e}");
}

#[tokio::test]
async fn the_sink_checkpoints_by_count_and_on_request_and_refuses_a_cut_log_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("audit/audit.log");
    let cfg = CheckpointConfig {
        every_records: 3,
        interval: Duration::from_secs(3600),
        ..config_in(dir.path())
    };
    let options = SinkOptions {
        checkpoint: Some(cfg.clone()),
        retention: None,
    };
    let sink = FileSink::open_with(&base, 1 << 20, &options).unwrap();
    for _ in 0..7 {
        sink.append(AuditRecord::chain_recovered("x".into()))
            .await
            .unwrap();
    }
    let cp = sink.checkpoint(Reason::Shutdown).await.unwrap().unwrap();
    assert_eq!(cp.seq, 7);
    let seqs: Vec<u64> = read_checkpoint_lines(&cfg.file)
        .unwrap()
        .iter()
        .map(|(_, l)| serde_json::from_str::<Checkpoint>(l).unwrap().seq)
        .collect();
    // One batch may carry several records, so the count trigger fires at or after 3 and 6.
    assert!(seqs.len() >= 3 && *seqs.last().unwrap() == 7, "{seqs:?}");
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "{seqs:?}");
    drop(sink);
    let files = log_files(&base);
    let report = verify_with(&files, &anchors(&cfg)).unwrap();
    assert_eq!(report.newest_checkpoint.unwrap().seq, 7);
    // Cut the last record: verify and the next start both refuse.
    let text = std::fs::read_to_string(&base).unwrap();
    let cut: Vec<&str> = text.lines().take(6).collect();
    std::fs::write(&base, cut.join("\n") + "\n").unwrap();
    match verify_with(&log_files(&base), &anchors(&cfg)) {
        Err(VerifyError::CutTail {
            last_seq: 6,
            checkpoint,
        }) => assert_eq!(checkpoint.seq, 7),
        other => panic!("{other:?}"),
    }
    // The writer thread may still be finishing; give it a bounded moment to let go.
    let deadline = Instant::now() + Duration::from_secs(10);
    let e = loop {
        match FileSink::open_with(&base, 1 << 20, &options) {
            Err(e) => break e,
            Ok(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(_) => panic!("a log cut short of its checkpoint was accepted"),
        }
    };
    assert!(
        e.to_string()
            .contains("ends at seq 6, short of checkpoint seq 7"),
        "{e}"
    );
}

#[tokio::test]
async fn the_interval_checkpoints_a_moved_head_without_further_records() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("audit/audit.log");
    let cfg = CheckpointConfig {
        every_records: 0,
        interval: Duration::from_millis(50),
        ..config_in(dir.path())
    };
    let options = SinkOptions {
        checkpoint: Some(cfg),
        retention: None,
    };
    let sink = FileSink::open_with(&base, 1 << 20, &options).unwrap();
    sink.append(AuditRecord::chain_recovered("x".into()))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.stats().checkpoint_seq < 1 {
        assert!(Instant::now() < deadline, "no interval checkpoint");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let written = sink.stats().checkpoints;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        sink.stats().checkpoints,
        written,
        "an idle head is not checkpointed again"
    );
}

#[tokio::test]
async fn a_retention_cut_is_anchored_and_a_deleted_kept_file_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("audit/audit.log");
    let cfg = config_in(dir.path());
    let options = SinkOptions {
        checkpoint: Some(cfg.clone()),
        retention: Some(RetentionConfig {
            max_total_bytes: 3 * 1024,
            max_age: Duration::ZERO,
        }),
    };
    let sink = FileSink::open_with(&base, 1024, &options).unwrap();
    for _ in 0..30 {
        sink.append(AuditRecord::chain_recovered("y".repeat(200)))
            .await
            .unwrap();
    }
    assert!(sink.stats().retention_removed_files > 0);
    sink.checkpoint(Reason::Shutdown).await.unwrap();
    let files = log_files(&base);
    assert!(!files[0].ends_with("audit.log.000001"), "{files:?}");
    let report = verify_with(&files, &anchors(&cfg)).unwrap();
    assert!(report.first_seq > 1);
    // Checkpoints of removed records were pruned.
    for (_, l) in read_checkpoint_lines(&cfg.file).unwrap() {
        let cp: Checkpoint = serde_json::from_str(&l).unwrap();
        assert!(cp.seq >= report.first_seq, "{l}");
    }
    // Without the first kept file, the log starts after the cut: a deleted kept file.
    match verify_with(&files[1..], &anchors(&cfg)) {
        Err(VerifyError::MissingStart { kept_from, .. }) => {
            assert_eq!(kept_from, report.first_seq)
        }
        other => panic!("{other:?}"),
    }
}
