//! The unmodified `confluent-sql` 0.7.0 driver, installed into a venv by this test, against the
//! real gateway over TLS, with a bearer token + identity pool and with an API key.

mod common;

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
    common::python::run_script(
        &python,
        &gw,
        "confluent_sql_e2e.py",
        &[
            ("SQLGATE_TOKEN", token),
            ("SQLGATE_DENIED_KEY", denied_key),
            ("SQLGATE_DENIED_SECRET", denied_secret),
            ("SQLGATE_API_KEY", key),
            ("SQLGATE_API_SECRET", secret),
        ],
        "e2e: all checks passed",
    )
    .await;

    gw.stop().await;
}
