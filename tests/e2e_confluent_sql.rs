//! The unmodified `confluent-sql` 0.7.0 driver, installed into a venv by this test, against the
//! real gateway over TLS, with a bearer token + identity pool and with an API key.

mod common;

use std::path::Path;

use common::TestGateway;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_sql_driver_runs_the_walkthrough_with_token_and_api_key() {
    let python = tokio::task::spawn_blocking(common::python::venv_python)
        .await
        .unwrap();
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
