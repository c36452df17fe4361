//! The audit log's anchor and retention, through the real server and the real `sqlgate`
//! binary: every tampering case the README's auditors section lists gives the verdict and
//! exit code it says, retention keeps the log verifiable, and `/readyz` and `/metrics` show
//! the log's disk use.

mod common;

use std::time::Duration;

use common::tamper::{
    audited_dir, checkpoint_at, checkpoints_of, edit_log, lines, log_of, rechain_from, verify,
    write_lines,
};
use common::{TestGateway, developer, post_statement, run_query};
use serde_json::{Value, json};

fn seq_of(line: &str) -> u64 {
    let v: Value = serde_json::from_str(line).unwrap();
    v["sqlgateseq"].as_u64().unwrap()
}

#[tokio::test]
async fn an_untouched_log_verifies_against_its_checkpoints_ending_with_the_shutdown_one() {
    let dir = audited_dir(3, 5).await;
    let cps = lines(&checkpoints_of(dir.path()));
    assert!(
        cps.len() >= 3,
        "checkpoints by record count and at shutdown: {cps:#?}"
    );
    let last: Value = serde_json::from_str(cps.last().unwrap()).unwrap();
    assert_eq!(last["reason"], "shutdown");
    let log = lines(&log_of(dir.path()));
    assert_eq!(last["seq"].as_u64(), Some(seq_of(log.last().unwrap())));
    let (code, out) = verify(dir.path(), &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("chain intact from seq 1 up to seq"), "{out}");
    assert!(out.contains("(shutdown,"), "{out}");
    assert!(out.contains("0 records after it"), "{out}");
}

#[tokio::test]
async fn an_edited_record_fails_verify_naming_its_line() {
    let dir = audited_dir(2, 5).await;
    edit_log(dir.path(), |rows| {
        rows[1] = rows[1].replacen("127.0.0.1", "127.0.0.2", 1)
    });
    let (code, out) = verify(dir.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("line 2 (seq 2): hash mismatch"), "{out}");
}

#[tokio::test]
async fn a_deleted_record_fails_verify_as_a_gap() {
    let dir = audited_dir(2, 5).await;
    edit_log(dir.path(), |rows| {
        rows.remove(2);
    });
    let (code, out) = verify(dir.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("line 3 (seq 4): gap: expected seq 3, found 4"),
        "{out}"
    );
}

#[tokio::test]
async fn an_inserted_record_fails_verify_as_a_reorder() {
    let dir = audited_dir(2, 5).await;
    edit_log(dir.path(), |rows| rows.insert(3, rows[2].clone()));
    let (code, out) = verify(dir.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("line 4 (seq 3): reorder: expected seq 4, found 3"),
        "{out}"
    );
}

#[tokio::test]
async fn reordered_records_fail_verify() {
    let dir = audited_dir(2, 5).await;
    edit_log(dir.path(), |rows| rows.swap(2, 3));
    let (code, out) = verify(dir.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("line 3 (seq 4): gap: expected seq 3, found 4"),
        "{out}"
    );
}

#[tokio::test]
async fn a_chain_rewritten_after_an_edit_contradicts_the_next_checkpoint() {
    let dir = audited_dir(3, 5).await;
    edit_log(dir.path(), |rows| {
        rows[2] = rows[2].replacen("127.0.0.1", "10.9.9.9", 1);
        rechain_from(rows, 2);
    });
    // The chain alone is consistent again…
    let (code, out) = verify(dir.path(), &["--no-checkpoints"]);
    assert_eq!(code, 0, "{out}");
    // …but the first checkpoint after the edit states the old hash.
    let first_after = lines(&checkpoints_of(dir.path()))
        .iter()
        .map(|l| checkpoint_at(l).0)
        .filter(|s| *s >= 3)
        .min()
        .unwrap();
    let (code, out) = verify(dir.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("(seq {first_after}): checkpoint mismatch")),
        "{out}"
    );
}

#[tokio::test]
async fn a_cut_tail_fails_verify_naming_the_checkpoint_it_falls_short_of() {
    let dir = audited_dir(2, 5).await;
    let log = log_of(dir.path());
    let mut rows = lines(&log);
    let total = rows.len() as u64;
    rows.truncate(rows.len() - 3);
    write_lines(&log, &rows);
    // Without the anchor this passes: what the issue reported.
    let (code, out) = verify(dir.path(), &["--no-checkpoints"]);
    assert_eq!(code, 0, "{out}");
    let (seq, time) = checkpoint_at(lines(&checkpoints_of(dir.path())).last().unwrap());
    assert_eq!(seq, total);
    let (code, out) = verify(dir.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "cut tail: the log ends at seq {}, short of checkpoint seq {seq} of {time} (shutdown",
            total - 3
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("records {}..{total} were removed", total - 2)),
        "{out}"
    );
}

#[tokio::test]
async fn the_gateway_refuses_to_start_on_a_log_cut_short_of_its_checkpoint() {
    let dir = audited_dir(1, 5).await;
    edit_log(dir.path(), |rows| rows.truncate(rows.len() - 1));
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_sqlgate"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(dir.path())
            .env_remove("SQLGATE_CONFIG")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("serve must exit, not listen")
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("short of checkpoint seq"), "{err}");
    assert!(!err.contains("sqlgate listening"), "{err}");
}

#[tokio::test]
async fn cutting_both_the_log_and_the_checkpoint_file_back_to_a_checkpoint_is_caught_only_by_a_copy_out_of_reach()
 {
    let dir = audited_dir(3, 5).await;
    let log = log_of(dir.path());
    let cp_file = checkpoints_of(dir.path());
    let all_cps = lines(&cp_file);
    // The auditor's copy out of the attacker's reach (what the Kafka topic is in production).
    let copy = dir.path().join("copy-of-checkpoints.log");
    std::fs::copy(&cp_file, &copy).unwrap();
    // Cut back to the newest checkpoint before the shutdown one's record, and the log to
    // exactly that checkpoint's record.
    let total = checkpoint_at(all_cps.last().unwrap()).0;
    let keep = all_cps
        .iter()
        .rposition(|l| checkpoint_at(l).0 < total)
        .unwrap()
        + 1;
    let (seq, time) = checkpoint_at(&all_cps[keep - 1]);
    write_lines(&cp_file, &all_cps[..keep]);
    let rows: Vec<String> = lines(&log)
        .into_iter()
        .filter(|l| seq_of(l) <= seq)
        .collect();
    write_lines(&log, &rows);
    // The directory alone: passes, as the README says, but shows the anchor is not a clean
    // shutdown.
    let (code, out) = verify(dir.path(), &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("newest: checkpoint seq {seq} of {time}")),
        "{out}"
    );
    assert!(out.contains("not a shutdown checkpoint"), "{out}");
    // With the copy: the cut shows.
    let (code, out) = verify(
        dir.path(),
        &[
            "--checkpoints",
            "data/audit/checkpoints.log",
            "--checkpoints",
            "copy-of-checkpoints.log",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("cut tail: the log ends at seq {seq}")),
        "{out}"
    );
}

/// How a test turns a genuine checkpoint line into a forged one.
type Forge = fn(&str) -> String;

#[tokio::test]
async fn forged_or_edited_checkpoints_fail_verify() {
    let dir = audited_dir(1, 5).await;
    let cp_file = checkpoints_of(dir.path());
    let original = lines(&cp_file);
    let n = original.len();
    let cases: [(&str, Forge); 3] = [
        (
            "signature does not verify",
            // Claim a later head (to cover up an insertion, say), keeping the old signature.
            |l: &str| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                v["seq"] = json!(v["seq"].as_u64().unwrap() + 100);
                sqlgate::audit::canonical_json(&v)
            },
        ),
        ("which is not among the public keys given", |l: &str| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v["kid"] = json!("attackers-own-key");
            sqlgate::audit::canonical_json(&v)
        }),
        ("not JSON", |_: &str| "{\"seq\": 99".to_string()),
    ];
    for (want, forge) in cases {
        let mut rows = original.clone();
        rows[n - 1] = forge(&rows[n - 1]);
        write_lines(&cp_file, &rows);
        let (code, out) = verify(dir.path(), &[]);
        assert_eq!(code, 1, "{want}: {out}");
        assert!(
            out.contains(&format!(
                "checkpoints.log` line {n}: not a valid checkpoint"
            )) && out.contains(want),
            "{want}: {out}"
        );
    }
}

#[tokio::test]
async fn a_deleted_checkpoint_file_fails_verify() {
    let dir = audited_dir(1, 5).await;
    std::fs::remove_file(checkpoints_of(dir.path())).unwrap();
    let (code, out) = verify(dir.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no checkpoints"), "{out}");
}

/// A gateway with small files and a small retention, after enough statements to rotate and
/// cut several times.
async fn retained_dir() -> tempfile::TempDir {
    let gw = TestGateway::start_with(|c| {
        c.audit.max_file_bytes = 4096;
        c.audit.retention.max_total_bytes = 12 * 1024;
    })
    .await;
    let dev = developer(&gw);
    for i in 0..8 {
        run_query(&gw, &dev, &format!("r{i}"), "SELECT 1")
            .await
            .unwrap();
    }
    gw.stop().await
}

#[tokio::test]
async fn retention_removes_the_oldest_files_and_the_shorter_log_still_verifies() {
    let dir = retained_dir().await;
    let files = sqlgate::audit::log_files(&log_of(dir.path()));
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.contains(&"audit.log.000001".to_string()),
        "{names:?}"
    );
    let total: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    assert!(
        total <= 12 * 1024 + 2 * 4096,
        "within the limit plus the two files always kept: {total}"
    );
    let recs: Vec<Value> = files
        .iter()
        .flat_map(|f| lines(f))
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect();
    let cuts: Vec<&Value> = recs
        .iter()
        .filter(|r| r["data"]["methodName"] == "sqlgate.RetentionCut")
        .collect();
    assert!(!cuts.is_empty(), "each cut is recorded in the chain");
    let message = cuts[0]["data"]["result"]["message"].as_str().unwrap();
    assert!(message.contains("retention removed"), "{message}");
    let first_seq = recs[0]["sqlgateseq"].as_u64().unwrap();
    assert!(first_seq > 1);
    let (code, out) = verify(dir.path(), &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("chain intact from seq {first_seq} up to seq")),
        "{out}"
    );
    // Without the retention checkpoint, the missing start is a gap.
    let (code, out) = verify(dir.path(), &["--no-checkpoints"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("gap: expected seq 1"), "{out}");
}

#[tokio::test]
async fn deleting_a_file_that_retention_kept_fails_verify() {
    let dir = retained_dir().await;
    let files = sqlgate::audit::log_files(&log_of(dir.path()));
    assert!(files.len() >= 2, "{files:?}");
    std::fs::remove_file(&files[0]).unwrap();
    let (code, out) = verify(dir.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("a file that retention kept was deleted"),
        "{out}"
    );
}

#[tokio::test]
async fn readyz_warns_before_the_audit_disk_fills_and_metrics_show_its_use() {
    let gw = TestGateway::start_with(|c| c.audit.min_free_bytes = u64::MAX).await;
    let dev = developer(&gw);
    run_query(&gw, &dev, "one", "SELECT 1").await.unwrap();
    let c = gw.client();
    let r = c
        .get(format!("{}/readyz", gw.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a warning, not a refusal");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "degraded", "{body:#}");
    let audit = &body["audit"];
    assert!(audit["used_bytes"].as_u64().unwrap() > 0, "{body:#}");
    assert!(audit["free_bytes"].as_u64().unwrap() > 0, "{body:#}");
    assert!(
        audit["warnings"][0]
            .as_str()
            .unwrap()
            .contains("audit.min_free_bytes"),
        "{body:#}"
    );
    let text = c
        .get(format!("{}/metrics", gw.endpoint()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let metric = |name: &str| -> i64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing: {text}"))
            .parse()
            .unwrap()
    };
    assert!(metric("sqlgate_audit_disk_used_bytes") > 0, "{text}");
    assert!(metric("sqlgate_audit_disk_free_bytes") > 0, "{text}");
    assert!(metric("sqlgate_audit_last_seq") > 0, "{text}");
    // Once the log cannot be written, readiness says so (statements get 503 meanwhile).
    std::fs::remove_file(gw.dir.path().join(&gw.config.audit.file)).unwrap();
    let mut status = 0;
    for i in 0..3 {
        status = post_statement(&gw, &dev, &format!("after{i}"), "SELECT 1", json!({}))
            .await
            .0;
        if status == 503 {
            break;
        }
    }
    assert_eq!(status, 503);
    let r = c
        .get(format!("{}/readyz", gw.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("audit log cannot be written"),
        "{body:#}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn readyz_is_ready_with_room_on_the_audit_disk() {
    let gw = TestGateway::start_with(|c| c.audit.min_free_bytes = 1).await;
    let r = gw
        .client()
        .get(format!("{}/readyz", gw.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready", "{body:#}");
    assert!(body["audit"].get("warnings").is_none(), "{body:#}");
    gw.stop().await;
}
