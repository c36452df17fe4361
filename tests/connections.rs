//! No connection is held without making progress: floods of silent connections, silence
//! after the handshake, a partial HTTP/2 preface, PING-only and PING-deaf HTTP/2 peers, idle
//! keep-alive connections and slow request bodies, each against the real server over TLS.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::conn::{self, PingPolicy};
use common::{TestGateway, developer};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

const FLOOD_MAX: usize = 32;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A reqwest client whose connections come from `source`.
/// A TLS connection from 127.0.0.1 offering `alpn` (none: the server picks HTTP/1.1).
async fn connect(
    gw: &TestGateway,
    alpn: &[&[u8]],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let connector = conn::connector(&gw.ca_file(), alpn);
    conn::tls_from(&connector, ip("127.0.0.1"), gw.addr, Duration::from_secs(5))
        .await
        .unwrap()
}

fn client_from(gw: &TestGateway, source: IpAddr) -> reqwest::Client {
    let pem = std::fs::read(gw.ca_file()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .local_address(source)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Opens one silent TLS connection per entry of `sources`; returns the ones the server
/// let finish the handshake, and how many it closed at once (none may hang).
async fn silent_flood(
    gw: &TestGateway,
    sources: &[IpAddr],
) -> (
    Vec<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    usize,
) {
    let connector = conn::connector(&gw.ca_file(), &[b"h2", b"http/1.1"]);
    let mut open = Vec::new();
    let mut refused = 0;
    for source in sources {
        match conn::tls_from(&connector, *source, gw.addr, Duration::from_secs(5)).await {
            Ok(s) => open.push(s),
            Err(e) => {
                assert!(!e.starts_with("no answer"), "a flood connection hung: {e}");
                refused += 1;
            }
        }
    }
    (open, refused)
}

/// How long a fresh client from `source` takes to get `/healthz` answered.
async fn time_to_serve(gw: &TestGateway, source: IpAddr) -> Duration {
    let client = client_from(gw, source);
    let start = Instant::now();
    let r = client
        .get(format!("{}/healthz", gw.endpoint()))
        .send()
        .await
        .expect("the legitimate client was not served");
    assert_eq!(r.status(), 200);
    start.elapsed()
}

/// The metrics page, fetched from an address no flood uses.
async fn metrics(gw: &TestGateway) -> String {
    client_from(gw, ip("127.0.0.9"))
        .get(format!("{}/metrics", gw.endpoint()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn max_connections_plus_100_silent_connections_from_one_peer_do_not_keep_others_out() {
    let gw = TestGateway::start_with(|c| c.server.max_connections = FLOOD_MAX).await;
    let sources = vec![ip("127.0.0.1"); FLOOD_MAX + 100];
    let (open, refused) = silent_flood(&gw, &sources).await;
    // The peer's share (a quarter of 32) got through; the rest was closed at once.
    assert_eq!(open.len(), FLOOD_MAX / 4, "refused {refused}");
    let took = time_to_serve(&gw, ip("127.0.0.2")).await;
    println!("silent flood from one peer: legitimate client served in {took:?}");
    assert!(took < Duration::from_secs(1), "served only after {took:?}");
    assert!(
        metrics(&gw)
            .await
            .contains("sqlgate_connections_closed_total{reason=\"peer_share\"} 124"),
        "refusals are counted"
    );
    drop(open);
    gw.stop().await;
}

#[tokio::test]
async fn max_connections_plus_100_silent_connections_from_many_peers_give_way_to_a_client() {
    let gw = TestGateway::start_with(|c| c.server.max_connections = FLOOD_MAX).await;
    // One connection from each of 132 loopback addresses: no peer exceeds its share, the
    // total does. Newcomers take the places of the oldest silent ones.
    let sources: Vec<IpAddr> = (1..=FLOOD_MAX + 100)
        .map(|i| ip(&format!("127.0.1.{i}")))
        .collect();
    let (mut open, refused) = silent_flood(&gw, &sources).await;
    assert_eq!(
        refused, 0,
        "nobody is refused while silent ones can give way"
    );
    let took = time_to_serve(&gw, ip("127.0.0.2")).await;
    println!("silent flood from 132 peers: legitimate client served in {took:?}");
    assert!(took < Duration::from_secs(1), "served only after {took:?}");
    // Every evicted flood connection was really closed: at most max_connections - 1 (the
    // client holds one) are still open.
    let checks = open
        .iter_mut()
        .map(|s| conn::closed_within(s, Duration::from_millis(500)));
    let still_open = futures::future::join_all(checks)
        .await
        .iter()
        .filter(|c| c.is_none())
        .count();
    assert!(
        still_open < FLOOD_MAX,
        "{still_open} flood connections still open"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_connection_silent_after_the_tls_handshake_is_closed_at_the_first_request_deadline() {
    let gw = TestGateway::start_with(|c| {
        c.server.first_request_timeout = Duration::from_millis(500);
    })
    .await;
    for alpn in [&[][..], &[&b"h2"[..]][..], &[&b"http/1.1"[..]][..]] {
        let mut s = connect(&gw, alpn).await;
        let closed = conn::closed_within(&mut s, Duration::from_secs(5)).await;
        let closed = closed.expect("a silent connection was held open");
        assert!(
            closed >= Duration::from_millis(400),
            "closed early: {closed:?}"
        );
    }
    assert!(
        metrics(&gw)
            .await
            .contains("sqlgate_connections_closed_total{reason=\"no_request\"} 3")
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_partial_http2_preface_is_closed_at_the_first_request_deadline() {
    let gw = TestGateway::start_with(|c| {
        c.server.first_request_timeout = Duration::from_millis(500);
    })
    .await;
    let mut s = connect(&gw, &[b"h2"]).await;
    s.write_all(&conn::PREFACE[..16]).await.unwrap();
    let closed = conn::closed_within(&mut s, Duration::from_secs(5)).await;
    assert!(
        closed.is_some(),
        "16 of 24 preface bytes held the connection"
    );
    gw.stop().await;
}

#[tokio::test]
async fn an_http2_peer_that_only_exchanges_pings_is_closed_at_the_first_request_deadline() {
    let gw = TestGateway::start_with(|c| {
        c.server.first_request_timeout = Duration::from_millis(800);
        c.server.http2_keepalive_interval = Duration::from_millis(100);
    })
    .await;
    let mut s = connect(&gw, &[b"h2"]).await;
    conn::start_h2(&mut s).await;
    let seen = conn::wait_h2(
        s,
        PingPolicy::Chatty(Duration::from_millis(50)),
        Duration::from_secs(5),
    )
    .await;
    let closed = seen.closed_after.expect("a PING-only peer was held open");
    assert!(
        closed >= Duration::from_millis(600),
        "closed early: {closed:?}"
    );
    assert!(
        seen.server_pings > 0,
        "the server sends keepalive PINGs: {seen:?}"
    );
    gw.stop().await;
}

/// Sends `GET /healthz` on stream 1 of a fresh HTTP/2 connection.
async fn h2_with_one_request(
    gw: &TestGateway,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut s = connect(gw, &[b"h2"]).await;
    conn::start_h2(&mut s).await;
    let block = conn::get_headers("/healthz");
    s.write_all(&conn::frame(
        conn::HEADERS,
        conn::END_STREAM | conn::END_HEADERS,
        1,
        &block,
    ))
    .await
    .unwrap();
    s
}

fn answered_200(seen: &conn::H2Seen) -> bool {
    seen.frames
        .iter()
        .any(|f| f.kind == conn::HEADERS && f.stream == 1 && conn::indexed_status(f) == Some(200))
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_although_it_answers_pings() {
    let gw = TestGateway::start_with(|c| {
        c.server.idle_timeout = Duration::from_millis(800);
        c.server.http2_keepalive_interval = Duration::from_millis(100);
    })
    .await;
    let s = h2_with_one_request(&gw).await;
    let seen = conn::wait_h2(
        s,
        PingPolicy::Chatty(Duration::from_millis(50)),
        Duration::from_secs(5),
    )
    .await;
    assert!(answered_200(&seen), "{seen:?}");
    let closed = seen
        .closed_after
        .expect("an idle HTTP/2 connection was held open");
    assert!(
        closed >= Duration::from_millis(600),
        "closed early: {closed:?}"
    );
    assert!(
        seen.goaway,
        "an idle HTTP/2 connection is closed with GOAWAY"
    );
    assert!(seen.server_pings > 0);
    gw.stop().await;
}

#[tokio::test]
async fn an_http2_peer_that_stops_answering_pings_is_disconnected() {
    let gw = TestGateway::start_with(|c| {
        c.server.http2_keepalive_interval = Duration::from_millis(200);
        c.server.http2_keepalive_timeout = Duration::from_millis(200);
    })
    .await;
    let s = h2_with_one_request(&gw).await;
    // The idle timeout (60 s) is far away: only the keepalive can end this.
    let seen = conn::wait_h2(s, PingPolicy::Deaf, Duration::from_secs(5)).await;
    assert!(answered_200(&seen), "{seen:?}");
    assert!(
        seen.closed_after.is_some(),
        "a peer that never answers PINGs was kept"
    );
    assert!(seen.server_pings > 0);
    gw.stop().await;
}

#[tokio::test]
async fn an_idle_http1_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let gw = TestGateway::start_with(|c| c.server.idle_timeout = Duration::from_millis(800)).await;
    let mut s = connect(&gw, &[b"http/1.1"]).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let (status, _, _) = conn::read_http1_response(&mut s).await;
    assert_eq!(status, 200);
    let closed = conn::closed_within(&mut s, Duration::from_secs(5)).await;
    let closed = closed.expect("an idle keep-alive connection was held open");
    assert!(
        closed >= Duration::from_millis(600),
        "closed early: {closed:?}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_request_body_that_does_not_arrive_in_time_gets_408() {
    let gw = TestGateway::start_with(|c| {
        c.server.body_read_timeout = Duration::from_millis(500);
    })
    .await;
    let common::Cred::Pool(token, pool) = developer(&gw) else {
        unreachable!()
    };
    let mut s = connect(&gw, &[b"http/1.1"]).await;
    let head = format!(
        "POST /sql/v1/organizations/{}/environments/{}/statements HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {token}\r\nConfluent-Identity-Pool-Id: {pool}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"name\": \"slow\",",
        common::ORG,
        common::ENV
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // ...and the remaining bytes never come.
    let answer = tokio::time::timeout(Duration::from_secs(5), conn::read_http1_response(&mut s));
    let (status, _, body) = answer.await.expect("a withheld body held the request");
    assert_eq!(status, 408, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["errors"][0]["code"], "request.body_timeout", "{body}");
    assert!(
        common::detail(&body).contains("server.body_read_timeout"),
        "{body}"
    );
    assert_eq!(gw.engine_calls(), 0);
    gw.stop().await;
}

#[tokio::test]
async fn an_http2_client_that_never_opens_its_window_is_closed_after_the_idle_timeout() {
    let gw = TestGateway::start_with(|c| {
        c.server.idle_timeout = Duration::from_millis(500);
        c.server.http2_keepalive_interval = Duration::from_millis(100);
    })
    .await;
    let mut s = connect(&gw, &[b"h2"]).await;
    // SETTINGS_INITIAL_WINDOW_SIZE = 0: the server may send no response body at all.
    s.write_all(conn::PREFACE).await.unwrap();
    s.write_all(&conn::frame(conn::SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 0]))
        .await
        .unwrap();
    let block = conn::get_headers("/healthz");
    s.write_all(&conn::frame(
        conn::HEADERS,
        conn::END_STREAM | conn::END_HEADERS,
        1,
        &block,
    ))
    .await
    .unwrap();
    // It answers every PING, so only the lack of progress can end it (within the idle
    // timeout plus the bounded wait for the unsent response).
    let seen = conn::wait_h2(
        s,
        PingPolicy::Chatty(Duration::from_millis(50)),
        Duration::from_secs(15),
    )
    .await;
    assert!(answered_200(&seen), "{seen:?}");
    assert!(
        !seen.frames.iter().any(|f| f.kind == conn::DATA),
        "no body can be sent into a closed window"
    );
    assert!(
        seen.closed_after.is_some(),
        "a client that never reads was kept: {seen:?}"
    );
    gw.stop().await;
}
