//! Tampering with an audit log the way an attacker with write access to the audit directory
//! would, and asking the real `sqlgate audit verify` what it sees.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{TestGateway, developer, run_query};

/// The lines of a file, without their `\n`.
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Writes `lines` back, each ended by `\n`.
pub fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    if !lines.is_empty() {
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// Rewrites the active log of `dir` (see [`log_of`]) with `edit` applied to its lines.
pub fn edit_log(dir: &Path, edit: impl FnOnce(&mut Vec<String>)) {
    let log = log_of(dir);
    let mut rows = lines(&log);
    edit(&mut rows);
    write_lines(&log, &rows);
}

/// The active log file of a gateway directory run with the default paths.
pub fn log_of(dir: &Path) -> PathBuf {
    dir.join("data/audit/audit.log")
}

/// The checkpoint file of a gateway directory run with the default paths.
pub fn checkpoints_of(dir: &Path) -> PathBuf {
    dir.join("data/audit/checkpoints.log")
}

/// Runs `sqlgate audit verify ARGS…` in `dir` (default config); returns the exit code and
/// stdout + stderr.
pub fn verify(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sqlgate"))
        .args(["audit", "verify"])
        .args(args)
        .current_dir(dir)
        .env_remove("SQLGATE_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A stopped gateway's directory after `statements` statements, with a checkpoint every
/// `every_records` records (plus the shutdown checkpoint).
pub async fn audited_dir(statements: usize, every_records: u64) -> tempfile::TempDir {
    let gw = TestGateway::start_with(|c| {
        c.audit.checkpoint.every_records = every_records;
    })
    .await;
    let dev = developer(&gw);
    for i in 0..statements {
        run_query(&gw, &dev, &format!("s{i}"), "SELECT 1")
            .await
            .unwrap();
    }
    gw.stop().await
}

/// Re-chains `lines` from index `from` on: recomputes `sqlgateprevhash` and `sqlgatehash`
/// as the sink would, so the chain itself verifies again (an attacker without the key).
pub fn rechain_from(lines: &mut [String], from: usize) {
    let mut prev: Option<String> = (from > 0).then(|| {
        let v: Value = serde_json::from_str(&lines[from - 1]).unwrap();
        v["sqlgatehash"].as_str().unwrap().to_string()
    });
    for line in lines.iter_mut().skip(from) {
        let mut v: Value = serde_json::from_str(line).unwrap();
        if let Some(p) = &prev {
            v["sqlgateprevhash"] = Value::String(p.clone());
        }
        v.as_object_mut().unwrap().remove("sqlgatehash");
        let hash = sqlgate::audit::record_hash(&v);
        v["sqlgatehash"] = Value::String(hash.clone());
        *line = sqlgate::audit::canonical_json(&v);
        prev = Some(hash);
    }
}

/// `(seq, time)` of a checkpoint line.
pub fn checkpoint_at(line: &str) -> (u64, String) {
    let v: Value = serde_json::from_str(line).unwrap();
    (
        v["seq"].as_u64().unwrap(),
        v["time"].as_str().unwrap().to_string(),
    )
}
