//! The README's shell walkthroughs run as printed: the `sh` blocks of "Five-minute
//! walkthrough", "For security admins" and "For auditors" are taken from README.md and run by
//! bash, in README order in one shell (`set -euo pipefail`), against a fresh `sqlgate serve`
//! (the real binary) in a directory of its own laid out like the repository root
//! (`policies/`, `target/debug/sqlgate`; `certs/` and `data/` as the gateway makes them).
//!
//! What differs from a person's run, and only this: the gateway's address (an ephemeral port
//! instead of 8443, substituted for `127.0.0.1:8443`), `cargo` (a no-op: `cargo test` built the
//! binary), a wait for the audit log's first checkpoint before the auditors' block, and two blocks that are not run here: the `confluent-sql` one (it installs from
//! PyPI; the same driver is tested end to end in `tests/e2e_confluent_sql.rs`) and the one that
//! needs `[audit.kafka]` and exported checkpoints.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// The `sh` blocks of the README section whose heading is `heading`, in order.
fn sh_blocks(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no `{heading}` section"));
    let rest = &readme[start + heading.len() + 2..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    let mut blocks = Vec::new();
    let mut lines = rest[..end].lines();
    while let Some(line) = lines.next() {
        if line.trim() == "```sh" {
            let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            blocks.push(block.join("\n"));
        }
    }
    blocks
}

/// Waits (bounded) for the first signed checkpoint of the gateway's new audit log.
const WAIT_FOR_CHECKPOINT: &str =
    "for _ in $(seq 300); do [ -s data/audit/checkpoints.log ] && break; sleep 0.1; done";

#[tokio::test]
async fn the_readme_walkthroughs_run_as_printed() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut blocks = Vec::new();
    for heading in [
        "## Five-minute walkthrough",
        "## For security admins",
        "## For auditors",
    ] {
        let found = sh_blocks(&readme, heading);
        assert!(!found.is_empty(), "no sh blocks under {heading}");
        if heading == "## For auditors" {
            // A new log's first checkpoint comes up to `audit.checkpoint.interval` (10 s)
            // after its first records, and `audit verify` wants one (the README says so);
            // a person reading this far has waited that long, the script has not.
            blocks.push(WAIT_FOR_CHECKPOINT.to_string());
        }
        blocks.extend(found);
    }

    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    // The policy tests too (copy_policies takes the policy files only).
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/tests");
    std::fs::create_dir_all(dir.path().join("policies/tests")).unwrap();
    for entry in std::fs::read_dir(&tests).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(
            entry.path(),
            dir.path().join("policies/tests").join(entry.file_name()),
        )
        .unwrap();
    }
    std::fs::create_dir_all(dir.path().join("target/debug")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_sqlgate"),
        dir.path().join("target/debug/sqlgate"),
    )
    .unwrap();
    let served = common::binary::serve(dir.path(), &[]).await;

    let mut script =
        String::from("set -euo pipefail\ncargo() { echo \"(cargo $*: built by cargo test)\"; }\n");
    let mut ran = 0;
    for (i, block) in blocks.iter().enumerate() {
        if block.contains("pip install") || block.contains("--kafka") {
            continue;
        }
        script.push_str(&format!("echo '=== block {i}'\n"));
        script.push_str(&block.replace("127.0.0.1:8443", &served.addr));
        script.push_str("\necho\n");
        ran += 1;
    }
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("the walkthrough did not finish within 2 minutes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the walkthrough failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(ran >= 7, "{ran} blocks ran");
    // What the README says each step shows.
    for (what, want) in [
        ("the sample query completes", "\"phase\":\"COMPLETED\""),
        ("a created table", "CREATE TABLE"),
        ("the refusal", "\"code\":\"authz.not_allowed_to_run\""),
        ("rows come back as strings", "\"row\":[\""),
        ("the last results page says done", "\"next\":\"\""),
        (
            "a role binding is created",
            "\"role_name\":\"DeveloperRead\"",
        ),
        ("sa-ci may not read orders", "exit 1"),
        ("the explanation", "\"decision\""),
        ("the audit log verifies", "intact"),
        ("the insert into payments", "write:env-dev.lkc-dev.payments"),
        ("the audit API answers", "\"kind\":\"AuditRecordList\""),
        (
            "INFORMATION_SCHEMA lists the session catalog's databases",
            "{\"op\":0,\"row\":[\"INFORMATION_SCHEMA\"]}",
        ),
    ] {
        assert!(
            stdout.contains(want),
            "{what}: no `{want}` in\n{stdout}\n{stderr}"
        );
    }
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(" User:bob ") && l.contains(" deny ")),
        "bob's refusal is a row of the audit query table:\n{stdout}"
    );
    for bad in ["\"errors\":[{\"code\":\"request.", "\"code\":\"internal\""] {
        assert!(!stdout.contains(bad), "`{bad}` in\n{stdout}");
    }
    drop(served);
}
