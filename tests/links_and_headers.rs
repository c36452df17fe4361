//! Links come from the configured public URL, never from the request's Host header or
//! absolute-form URI; oversized request heads get 431 on HTTP/1.1 and HTTP/2.

mod common;

use std::time::Duration;

use common::{Cred, ENV, ORG, TestGateway, developer, post_statement};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

const PUBLIC: &str = "https://sqlgate.example.com:9443";

fn h1_client(gw: &TestGateway) -> reqwest::Client {
    let pem = std::fs::read(gw.ca_file()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .http1_only()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn h2_client(gw: &TestGateway) -> reqwest::Client {
    let pem = std::fs::read(gw.ca_file()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Two statements, so a one-row page of the list has a `next` link.
async fn two_statements(gw: &TestGateway, dev: &Cred) {
    for name in ["one", "two"] {
        let (status, body) = post_statement(gw, dev, name, "SELECT 1", json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
}

/// The list's and one statement's links, asked for with a forged Host header.
async fn links_with_forged_host(gw: &TestGateway, dev: &Cred) -> Vec<String> {
    let c = h1_client(gw);
    let list: Value = dev
        .apply(c.get(format!("{}/statements?page_size=1", gw.base())))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let one: Value = dev
        .apply(c.get(format!("{}/statements/one", gw.base())))
        .header("host", "evil.example:666")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut links = Vec::new();
    for v in [
        &list["metadata"]["self"],
        &list["metadata"]["next"],
        &list["data"][0]["metadata"]["self"],
        &one["metadata"]["self"],
    ] {
        links.push(
            v.as_str()
                .unwrap_or_else(|| panic!("{list} {one}"))
                .to_string(),
        );
    }
    links
}

#[tokio::test]
async fn links_use_the_configured_public_url_whatever_host_the_request_names() {
    let gw = TestGateway::start_with(|c| c.gateway.public_url = Some(format!("{PUBLIC}/"))).await;
    let dev = developer(&gw);
    two_statements(&gw, &dev).await;
    let want = format!("{PUBLIC}/sql/v1/organizations/{ORG}/environments/{ENV}/statements");
    for link in links_with_forged_host(&gw, &dev).await {
        assert!(link.starts_with(&want), "{link}");
    }
    // An absolute-form request target names another host too.
    let Cred::Pool(token, pool) = &dev else {
        unreachable!()
    };
    let connector = common::conn::connector(&gw.ca_file(), &[b"http/1.1"]);
    let mut s = common::conn::tls_from(
        &connector,
        "127.0.0.1".parse().unwrap(),
        gw.addr,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let req = format!(
        "GET https://evil.example/sql/v1/organizations/{ORG}/environments/{ENV}/statements?page_size=1 HTTP/1.1\r\n\
         Host: evil.example\r\nAuthorization: Bearer {token}\r\nConfluent-Identity-Pool-Id: {pool}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let (status, _, body) = common::conn::read_http1_response(&mut s).await;
    assert_eq!(status, 200, "{body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    for link in [&list["metadata"]["self"], &list["metadata"]["next"]] {
        let link = link.as_str().unwrap();
        assert!(link.starts_with(&want), "{link}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn without_a_public_url_links_use_the_listen_address_not_the_host_header() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    two_statements(&gw, &dev).await;
    for link in links_with_forged_host(&gw, &dev).await {
        assert!(link.starts_with(&gw.base()), "{link}");
        assert!(!link.contains("evil"), "{link}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_100_kb_header_gets_431_over_http1_and_http2_and_reaches_nothing() {
    let gw = TestGateway::start().await;
    let huge = format!("Bearer {}", "a".repeat(100 * 1024));
    for (client, version) in [
        (h1_client(&gw), reqwest::Version::HTTP_11),
        (h2_client(&gw), reqwest::Version::HTTP_2),
    ] {
        let r = client
            .get(format!("{}/statements", gw.base()))
            .header("authorization", &huge)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version:?}: no answer: {e:?}"));
        assert_eq!(r.version(), version);
        assert_eq!(r.status(), 431, "{version:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["code"], "request.headers_too_large",
            "{body}"
        );
        assert!(
            common::detail(&body).contains("server.max_header_bytes"),
            "{body}"
        );
        // The client (on HTTP/2: the same connection) is still served.
        let ok = client
            .get(format!("{}/healthz", gw.endpoint()))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "{version:?}");
    }
    assert_eq!(gw.engine_calls(), 0);
    gw.stop().await;
}

#[tokio::test]
async fn a_header_past_the_http_layers_own_bound_is_refused_and_the_gateway_stays_up() {
    let gw = TestGateway::start().await;
    let enormous = "a".repeat(1024 * 1024);
    let r = h1_client(&gw)
        .get(format!("{}/healthz", gw.endpoint()))
        .header("x-filler", &enormous)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 431);
    // Over HTTP/2, h2 itself answers a bare 431 a little past its bound, and closes the
    // connection (GOAWAY) for a header list far past it; either way the gateway stays up.
    let r = h2_client(&gw)
        .get(format!("{}/healthz", gw.endpoint()))
        .header("x-filler", "a".repeat(200 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 431);
    let r = h2_client(&gw)
        .get(format!("{}/healthz", gw.endpoint()))
        .header("x-filler", &enormous)
        .send()
        .await;
    assert!(r.is_err(), "{r:?}");
    let ok = gw
        .client()
        .get(format!("{}/healthz", gw.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    gw.stop().await;
}
