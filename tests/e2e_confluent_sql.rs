//! The unmodified `confluent-sql` 0.7.0 driver, installed into a venv by this test, against the
//! real gateway over TLS, with a bearer token + identity pool and with an API key.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::TestGateway;

const DRIVER: &str = "confluent-sql==0.7.0";

/// Creates (once per target dir) a venv with the driver; returns its python.
fn venv_python() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("venv-confluent-sql-0.7.0");
    let python = dir.join("bin").join("python");
    let marker = dir.join(".installed");
    if marker.exists() && python.exists() {
        return python;
    }
    let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let status = Command::new(&py)
        .args(["-m", "venv"])
        .arg(&dir)
        .status()
        .expect("python3 is needed for the e2e test");
    assert!(status.success(), "creating the venv failed");
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            DRIVER,
        ])
        .status()
        .unwrap();
    assert!(status.success(), "pip install {DRIVER} failed");
    std::fs::write(&marker, DRIVER).unwrap();
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_sql_driver_runs_the_walkthrough_with_token_and_api_key() {
    let python = tokio::task::spawn_blocking(venv_python).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    common::grant_developer(&dir.path().join("policies"), "User:sa-e2e");
    common::bind(
        &dir.path().join("policies"),
        &[("User:sa-denied", "FlinkDeveloper", common::ENV_CRN)],
    );
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let (key, secret) = gw.api_key("User:sa-e2e");
    let (denied_key, denied_secret) = gw.api_key("User:sa-denied");
    let token = gw.token("alice", &["developers"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/confluent_sql_e2e.py");
    let out = tokio::process::Command::new(&python)
        .arg(&script)
        .env("SQLGATE_ENDPOINT", gw.endpoint())
        .env("SQLGATE_TOKEN", &token)
        .env("SQLGATE_DENIED_KEY", &denied_key)
        .env("SQLGATE_DENIED_SECRET", &denied_secret)
        .env("SQLGATE_API_KEY", &key)
        .env("SQLGATE_API_SECRET", &secret)
        .env("SSL_CERT_FILE", gw.ca_file())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "confluent-sql e2e failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("e2e: all checks passed"));
    gw.stop().await;
}
