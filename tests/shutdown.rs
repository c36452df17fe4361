//! The real binary: first start on a fresh directory generates dev certificates and the dev
//! issuer; SIGTERM drains an in-flight request and then exits cleanly.

mod common;

use std::time::Duration;

use serde_json::json;
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    let common::binary::Served {
        mut child,
        addr,
        startup_log: log,
        rest_of_log: drain,
    } = common::binary::serve(dir.path(), &[]).await;
    assert!(
        log.iter().any(|l| l.contains("generated a development CA")),
        "first start must say it generated certificates: {log:#?}"
    );
    for f in [
        "certs/dev-ca.pem",
        "certs/server.pem",
        "certs/server.key",
        "certs/dev-issuer.key",
    ] {
        assert!(dir.path().join(f).exists(), "{f} was not generated");
    }

    let token = common::token_in(dir.path(), "alice", &["developers"]);
    let client = common::client_trusting(&dir.path().join("certs/dev-ca.pem"));
    let base = format!("https://{addr}/sql/v1/organizations/org-dev/environments/env-dev");
    // A statement that runs for a long time: the create request waits for it (create_wait),
    // so the request is in flight when SIGTERM arrives.
    let slow = "SELECT COUNT(*) FROM examples.marketplace.orders a, examples.marketplace.orders b, examples.marketplace.clicks c WHERE a.price + b.price + c.view_time > -1";
    let req = client
        .post(format!("{base}/statements"))
        .bearer_auth(&token)
        .header("Confluent-Identity-Pool-Id", "pool-dev")
        .json(&json!({"name": "slow", "spec": {"statement": slow, "properties": {"sql.current-catalog": "env-dev", "sql.current-database": "lkc-dev"}}}))
        .send();
    let in_flight = tokio::spawn(async move {
        let r = req.await;
        (std::time::Instant::now(), r)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let killed_at = std::time::Instant::now();
    let (answered_at, resp) = in_flight.await.unwrap();
    let resp = resp.expect("the in-flight request was cut off");
    assert!(
        answered_at > killed_at,
        "the request was not in flight when SIGTERM arrived"
    );
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let phase = body["status"]["phase"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Drained, not cut: the statement is reported as it stood (running, stopped by the
    // shutdown, or completed within the create wait), never failed.
    assert!(
        ["RUNNING", "STOPPED", "COMPLETED"].contains(&phase.as_str()),
        "{body}"
    );
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the gateway did not exit after SIGTERM")
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let rest = drain.await.unwrap();
    assert!(
        rest.iter().any(|l| l.contains("shutting down")),
        "{rest:#?}"
    );
    assert!(
        client
            .get(format!("https://{addr}/healthz"))
            .send()
            .await
            .is_err(),
        "still accepting after exit"
    );
}
