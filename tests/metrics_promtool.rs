//! `/metrics` as Prometheus's own checker sees it: `promtool check metrics` accepts the page a
//! real gateway serves over TLS after traffic that touches every metric family (statements,
//! refusals at several stages, failed authentications, the audit log, a policy reload), and
//! `Accept` chooses between Prometheus text 0.0.4 and OpenMetrics.
//!
//! promtool comes from `scripts/promtool.sh` (Debian's `prometheus` package unpacked into
//! `~/.cache/sqlgate/promtool`, or `$SQLGATE_PROMTOOL`). When it cannot be had the test fails,
//! saying why: it never skips.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Cred, TestGateway, developer, post_statement, run_query};
use serde_json::json;
use tokio::io::AsyncReadExt;

/// Bound on `scripts/promtool.sh` (a cold cache downloads 19 MB, and may first read the apt
/// sources: seconds on a normal link).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
/// What Prometheus's scraper sends.
const SCRAPER_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// The promtool `scripts/promtool.sh` installs (or finds), with its version line.
fn promtool() -> (PathBuf, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/promtool.sh");
    let mut child = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let deadline = Instant::now() + INSTALL_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{} took longer than {INSTALL_TIMEOUT:?}", script.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool could not be obtained, so /metrics cannot be checked ({}): {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let path = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let version = Command::new(&path).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    (path, version)
}

/// `promtool check metrics` of `page`: (exit code, what it printed).
fn check(promtool: &Path, page: &str) -> (Option<i32>, String) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn metrics(gw: &TestGateway, accept: Option<&str>) -> (String, String) {
    let mut rb = gw.client().get(format!("{}/metrics", gw.endpoint()));
    if let Some(a) = accept {
        rb = rb.header("accept", a);
    }
    let r = rb.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (ct, r.text().await.unwrap())
}

/// Traffic that gives every labelled family a sample: an allowed statement (three times), refusals at
/// parse, resolve and authorize, a failed authentication, a policy reload and a connection
/// closed for sending nothing. The audit log's gauges come from the records all that wrote.
async fn traffic(gw: &TestGateway) {
    let dev = developer(gw);
    run_query(gw, &dev, "promtool-ok", "SELECT 1")
        .await
        .unwrap();
    // The same question twice more: kept the second time, answered from the memo the third.
    for name in ["promtool-again", "promtool-third"] {
        run_query(gw, &dev, name, "SELECT 1").await.unwrap();
    }
    let (status, _) = post_statement(gw, &dev, "promtool-parse", "SELEC 1", json!({})).await;
    assert_eq!(status, 400);
    let (status, _) = post_statement(
        gw,
        &dev,
        "promtool-resolve",
        "SELECT * FROM no_such_catalog.no_such_database.t",
        json!({}),
    )
    .await;
    assert_eq!(status, 404);
    let nobody = Cred::Bearer(gw.token("mallory", &[]));
    let (status, _) = post_statement(gw, &nobody, "promtool-denied", "SELECT 1", json!({})).await;
    assert_eq!(status, 403);
    let forged = Cred::Bearer("not-a-token".into());
    let (status, _) = post_statement(gw, &forged, "promtool-authn", "SELECT 1", json!({})).await;
    assert_eq!(status, 401);

    // A policy reload: a binding added by write + rename, as editors and `git checkout` do.
    let bindings = gw.dir.path().join("policies/bindings.csv");
    let text = std::fs::read_to_string(&bindings).unwrap();
    let tmp = bindings.with_extension("tmp-test");
    std::fs::write(&tmp, format!("{text}\nUser:sa-promtool, DeveloperRead, crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=orders\n")).unwrap();
    std::fs::rename(&tmp, &bindings).unwrap();
    let authz = gw.gateway.authorizer().clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    while authz.version() < 2 {
        assert!(Instant::now() < deadline, "the policy was not reloaded");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // A connection closed for sending no request (`first_request_timeout` is short here).
    let mut silent = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match silent.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    });
    closed.await.expect("a silent connection is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_accepts_the_metrics_page_after_traffic_through_every_family() {
    let (promtool, version) = tokio::task::spawn_blocking(promtool).await.unwrap();
    eprintln!("checking with {version}");
    let gw = TestGateway::start_with(|c| {
        c.policy.reload_settle = Duration::from_millis(100);
        c.server.first_request_timeout = Duration::from_secs(1);
    })
    .await;
    traffic(&gw).await;

    let (ct, page) = metrics(&gw, None).await;
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    // Every family has a sample, so promtool judges them all.
    for sample in [
        "sqlgate_http_requests_total{",
        "sqlgate_decisions_total{decision=\"allow\"",
        "sqlgate_decisions_total{decision=\"deny\",stage=\"parse\"}",
        "sqlgate_decisions_total{decision=\"deny\",stage=\"authorize\"}",
        "sqlgate_engine_statements_total ",
        "sqlgate_policy_reloads_total{outcome=\"ok\"}",
        "sqlgate_policy_version ",
        "sqlgate_statements ",
        "sqlgate_connections_open ",
        "sqlgate_connections_closed_total{reason=\"no_request\"}",
        "sqlgate_compute_pool_statements_refused_total{",
        "sqlgate_compute_pool_slots_limit{",
        "sqlgate_compute_pool_statements{",
        "sqlgate_audit_disk_used_bytes ",
        "sqlgate_audit_disk_free_bytes ",
        "sqlgate_audit_last_seq ",
        "sqlgate_audit_checkpoint_seq ",
        "sqlgate_decision_memo_lookups_total{result=\"miss\"}",
        "sqlgate_decision_memo_entries ",
        "sqlgate_decision_memo_weight_bytes ",
    ] {
        assert!(page.contains(sample), "no `{sample}` in:\n{page}");
    }
    let sample = |name: &str| -> f64 {
        let line = page
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no `{name}` in:\n{page}"));
        line[name.len()..].trim().parse().unwrap()
    };
    assert!(
        sample("sqlgate_decision_memo_lookups_total{result=\"hit\"}") >= 1.0,
        "the repeated SELECT 1 was not answered from the memo:\n{page}"
    );
    assert!(sample("sqlgate_decision_memo_entries ") >= 1.0, "{page}");
    assert!(
        page.contains("# TYPE sqlgate_decisions_total counter\n"),
        "a counter's TYPE names its _total sample in text 0.0.4:\n{page}"
    );
    assert!(!page.contains("# EOF"), "{page}");
    let (code, said) = tokio::task::spawn_blocking({
        let page = page.clone();
        move || check(&promtool, &page)
    })
    .await
    .unwrap();
    assert_eq!(
        code,
        Some(0),
        "{version}: `promtool check metrics` rejects /metrics:\n{said}\n--- page ---\n{page}"
    );
    assert!(said.trim().is_empty(), "promtool found problems:\n{said}");

    // Asking for text 0.0.4 by name gives the same format.
    let (ct, _) = metrics(&gw, Some("text/plain; version=0.0.4")).await;
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    gw.stop().await;
}

#[tokio::test]
async fn a_scraper_that_prefers_openmetrics_gets_openmetrics() {
    let gw = TestGateway::start().await;
    run_query(&gw, &developer(&gw), "om", "SELECT 1")
        .await
        .unwrap();
    let (ct, page) = metrics(&gw, Some(SCRAPER_ACCEPT)).await;
    assert_eq!(
        ct,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    // OpenMetrics names the counter family; the sample adds `_total`.
    assert!(
        page.contains("# TYPE sqlgate_engine_statements counter\n"),
        "{page}"
    );
    assert!(
        page.contains("sqlgate_engine_statements_total 1\n"),
        "{page}"
    );
    assert!(page.ends_with("# EOF\n"), "{page}");
    // q=0 refuses OpenMetrics; a media type we do not have falls back to text 0.0.4.
    for accept in [
        "application/openmetrics-text;q=0, */*;q=0.1",
        "application/json",
    ] {
        let (ct, page) = metrics(&gw, Some(accept)).await;
        assert!(
            ct.starts_with("text/plain; version=0.0.4"),
            "{accept}: {ct}"
        );
        assert!(!page.contains("# EOF"), "{accept}");
    }
    gw.stop().await;
}
