//! `/metrics` access: open (the default), behind a bearer token, or only on a loopback
//! listener of its own (the main port then answers 404).

mod common;

use std::time::Duration;

use common::{TestGateway, developer};
use serde_json::Value;
use sqlgate::metrics::access::AccessMode;
use tokio::io::AsyncWriteExt;

const TOKEN: &str = "metrics-token-4f9a1c";

async fn get_metrics(gw: &TestGateway, auth: Option<&str>) -> (u16, String, Option<String>) {
    let mut rb = gw.client().get(format!("{}/metrics", gw.endpoint()));
    if let Some(a) = auth {
        rb = rb.header("authorization", a);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (status, r.text().await.unwrap(), challenge)
}

#[tokio::test]
async fn open_metrics_are_served_to_anyone_on_the_main_port() {
    let gw = TestGateway::start().await;
    let (status, text, _) = get_metrics(&gw, None).await;
    assert_eq!(status, 200);
    assert!(text.contains("sqlgate_engine_statements_total"), "{text}");
    gw.stop().await;
}

#[tokio::test]
async fn token_protected_metrics_need_the_metrics_token_and_nothing_else_will_do() {
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("metrics.token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let gw = TestGateway::start_with(|c| {
        c.metrics.access = AccessMode::Token;
        c.metrics.token_file = Some(file.clone());
    })
    .await;
    let user_token = match developer(&gw) {
        common::Cred::Pool(t, _) => format!("Bearer {t}"),
        _ => unreachable!(),
    };
    for auth in [
        None,
        Some("Bearer wrong"),
        Some(&format!("Bearer {TOKEN}x")[..]),
        Some(&format!("Basic {TOKEN}")[..]),
        // A valid user credential is not the metrics token.
        Some(user_token.as_str()),
    ] {
        let (status, text, challenge) = get_metrics(&gw, auth).await;
        assert_eq!(status, 401, "{auth:?}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["errors"][0]["code"], "metrics.unauthorized", "{body}");
        assert!(
            common::detail(&body).contains("metrics bearer token"),
            "{body}"
        );
        assert!(!text.contains(TOKEN), "the token leaked: {text}");
        assert!(challenge.unwrap().starts_with("Bearer"));
    }
    let (status, text, _) = get_metrics(&gw, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 200);
    assert!(text.contains("sqlgate_engine_statements_total"), "{text}");
    gw.stop().await;
}

#[tokio::test]
async fn listener_metrics_are_served_on_loopback_only_and_the_main_port_says_404() {
    let gw = TestGateway::start_with(|c| {
        c.metrics.access = AccessMode::Listener;
        c.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let (status, text, _) = get_metrics(&gw, None).await;
    assert_eq!(status, 404);
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["errors"][0]["code"], "request.not_found", "{body}");
    let addr = gw
        .gateway
        .metrics_addr()
        .expect("the metrics listener is bound");
    assert!(addr.ip().is_loopback());
    for (path, want) in [("/metrics", 200), ("/healthz", 404)] {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            common::conn::read_http1_response(&mut s),
        );
        let (status, head, body) = answer.await.unwrap();
        assert_eq!(status, want, "{path}: {head}{body}");
        if want == 200 {
            assert!(head.contains("text/plain; version=0.0.4"), "{head}");
            assert!(body.contains("sqlgate_engine_statements_total"), "{body}");
        }
    }
    gw.stop().await;
}

#[test]
fn a_metrics_listener_off_loopback_is_refused_at_validation() {
    let mut cfg = sqlgate::config::Config::default_config().unwrap();
    cfg.metrics.access = AccessMode::Listener;
    cfg.metrics.listen = Some("0.0.0.0:9464".parse().unwrap());
    let err = cfg.validate().unwrap_err().to_string();
    assert!(
        err.contains("metrics.listen") && err.contains("loopback"),
        "{err}"
    );
}
