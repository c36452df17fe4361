//! Raw connections for the connection-hardening tests: real TLS from a chosen loopback
//! source address (so one test can play several peers) with a chosen ALPN, and HTTP/2
//! frames written by hand for peers no well-behaved client library imitates (a partial
//! preface, PING-only, never answering PINGs).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A rustls connector trusting `ca_file`, offering `alpn` (empty: no ALPN).
pub fn connector(ca_file: &Path, alpn: &[&[u8]]) -> TlsConnector {
    let pem = std::fs::read(ca_file).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(cfg))
}

/// A TCP connection to `to` from `source` (any 127/8 address works on Linux loopback).
pub async fn tcp_from(source: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(source, 0))?;
    sock.connect(to).await
}

/// A finished TLS handshake from `source`, or the error that ended it; bounded by `limit`.
pub async fn tls_from(
    connector: &TlsConnector,
    source: IpAddr,
    to: SocketAddr,
    limit: Duration,
) -> Result<TlsStream<TcpStream>, String> {
    let attempt = async {
        let tcp = tcp_from(source, to).await.map_err(|e| e.to_string())?;
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())
    };
    tokio::time::timeout(limit, attempt)
        .await
        .map_err(|_| format!("no answer within {limit:?}"))?
}

/// Reads and discards until the peer closes (EOF or error); how long that took, or `None`
/// if it was still open after `limit`.
pub async fn closed_within(s: &mut (impl AsyncRead + Unpin), limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, read_all)
        .await
        .ok()
        .map(|_| start.elapsed())
}

// --- HTTP/2 by hand ------------------------------------------------------------------------

/// The client connection preface.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub const DATA: u8 = 0;
pub const HEADERS: u8 = 1;
pub const SETTINGS: u8 = 4;
pub const PING: u8 = 6;
pub const GOAWAY: u8 = 7;
pub const ACK: u8 = 1;
pub const END_STREAM: u8 = 1;
pub const END_HEADERS: u8 = 4;

/// One frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

/// Encodes a frame.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Reads one frame; `None` when the connection is closed.
pub async fn read_frame(s: &mut (impl AsyncRead + Unpin)) -> Option<Frame> {
    let mut head = [0u8; 9];
    s.read_exact(&mut head).await.ok()?;
    let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).await.ok()?;
    Some(Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    })
}

/// The preface and an empty SETTINGS frame: what every HTTP/2 client sends first.
pub async fn start_h2(s: &mut (impl AsyncWrite + Unpin)) {
    s.write_all(PREFACE).await.unwrap();
    s.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
}

/// A HEADERS block for `GET https://localhost{path}` (HPACK: indexed `:method GET` and
/// `:scheme https`, literal `:path` and `:authority` without indexing, no Huffman).
pub fn get_headers(path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x87];
    for (index, value) in [(0x04u8, path), (0x01u8, "localhost")] {
        assert!(value.len() < 127);
        block.push(index);
        block.push(value.len() as u8);
        block.extend_from_slice(value.as_bytes());
    }
    block
}

/// How an HTTP/2 peer behaves while it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingPolicy {
    /// Acknowledges the server's PINGs and sends its own every `Duration`.
    Chatty(Duration),
    /// Ignores the server's PINGs and sends nothing.
    Deaf,
}

/// What a raw HTTP/2 peer saw until the server closed the connection.
#[derive(Debug, Default)]
pub struct H2Seen {
    pub frames: Vec<Frame>,
    pub server_pings: usize,
    pub goaway: bool,
    /// From the start of `wait_h2` to the close, or `None` if still open after the limit.
    pub closed_after: Option<Duration>,
}

/// Reads frames (acknowledging SETTINGS; PINGs as `policy` says) until the server closes
/// the connection or `limit` passes. Frames are read by a task of their own, so a PING sent
/// meanwhile never cuts a frame in half.
pub async fn wait_h2<S>(s: S, policy: PingPolicy, limit: Duration) -> H2Seen
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let start = Instant::now();
    let (mut rd, mut wr) = tokio::io::split(s);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Some(f) = read_frame(&mut rd).await {
            if tx.send(f).is_err() {
                return;
            }
        }
    });
    let mut seen = H2Seen::default();
    let mut tick = tokio::time::interval(match policy {
        PingPolicy::Chatty(every) => every,
        PingPolicy::Deaf => Duration::from_secs(3600),
    });
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            _ = tick.tick() => {
                if matches!(policy, PingPolicy::Chatty(_)) {
                    let _ = wr.write_all(&frame(PING, 0, 0, b"clientpg")).await;
                }
            }
            f = rx.recv() => {
                let Some(f) = f else {
                    seen.closed_after = Some(start.elapsed());
                    break;
                };
                match (f.kind, f.flags & ACK) {
                    (SETTINGS, 0) => {
                        let _ = wr.write_all(&frame(SETTINGS, ACK, 0, &[])).await;
                    }
                    (PING, 0) => {
                        seen.server_pings += 1;
                        if matches!(policy, PingPolicy::Chatty(_)) {
                            let _ = wr.write_all(&frame(PING, ACK, 0, &f.payload)).await;
                        }
                    }
                    (GOAWAY, _) => seen.goaway = true,
                    _ => {}
                }
                seen.frames.push(f);
            }
        }
    }
    reader.abort();
    seen
}

/// The `:status` of a response HEADERS frame whose first field is an indexed status
/// (HPACK static table 8-14: 200, 204, 206, 304, 400, 404, 500).
pub fn indexed_status(f: &Frame) -> Option<u16> {
    let statuses = [200, 204, 206, 304, 400, 404, 500];
    let first = *f.payload.first()?;
    (0x88..=0x8e)
        .contains(&first)
        .then(|| statuses[usize::from(first - 0x88)])
}

// --- HTTP/1.1 by hand ----------------------------------------------------------------------

/// Reads one HTTP/1.1 response with a `content-length` body: (status, head, body).
pub async fn read_http1_response(s: &mut (impl AsyncRead + Unpin)) -> (u16, String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "closed before a response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            break (i + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed within the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status = head[9..12].parse().unwrap();
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
    (status, head, body)
}
