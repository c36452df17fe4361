//! The accept loop: TCP accept → TLS handshake (bounded in time) → hyper HTTP/1.1 or HTTP/2.
//!
//! Owns the connection limit, per-connection tasks, the handshake and header-read timeouts,
//! the helpful answer to plain HTTP sent to the TLS port, and graceful drain on shutdown. It
//! knows nothing about routes or SQL: every request goes to [`crate::http::handle`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, warn};

use crate::gateway::Gateway;

/// The `[server]` section.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on. Loopback by default: exposing the gateway is a deliberate act.
    pub listen: SocketAddr,
    /// Connections served at once; further ones wait in the kernel backlog, so a flood of
    /// idle connections cannot exhaust memory or file descriptors.
    pub max_connections: usize,
    /// A client must send its complete request headers within this time (slowloris defence).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// How long in-flight requests may run after SIGINT/SIGTERM before connections are cut.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Largest request body accepted; larger ones get 413 without being read whole.
    pub max_body_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// Serves `listener` until `shutdown` completes, then drains in-flight connections for up to
/// the configured grace period. Tests pass their own listener (bound to port 0) and future.
pub async fn run(listener: TcpListener, gateway: Arc<Gateway>, shutdown: impl Future<Output = ()>) {
    let cfg = gateway.server_config().clone();
    let acceptor = TlsAcceptor::from(gateway.tls_config());
    let limit = Arc::new(Semaphore::new(cfg.max_connections));
    let tracker = TaskTracker::new();
    let stop = CancellationToken::new();
    tokio::pin!(shutdown);
    gateway.set_ready(true);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning; per-connection
                    // errors (ECONNABORTED) are transient too.
                    warn!(error = %e, "accept failed; backing off");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let conn = Connection {
            gateway: gateway.clone(),
            acceptor: acceptor.clone(),
            stop: stop.clone(),
            cfg: cfg.clone(),
            peer,
        };
        tracker.spawn(
            async move {
                conn.serve(tcp).await;
                drop(permit);
            }
            .instrument(tracing::debug_span!("conn", %peer)),
        );
    }
    info!("shutting down: no new connections; draining in-flight requests");
    gateway.set_ready(false);
    stop.cancel();
    tracker.close();
    if tokio::time::timeout(cfg.shutdown_grace, tracker.wait())
        .await
        .is_err()
    {
        warn!(grace = ?cfg.shutdown_grace, "grace period over; closing remaining connections");
    }
    gateway.shutdown().await;
}

/// One accepted TCP connection and what it needs to serve it.
struct Connection {
    gateway: Arc<Gateway>,
    acceptor: TlsAcceptor,
    stop: CancellationToken,
    cfg: ServerConfig,
    peer: SocketAddr,
}

impl Connection {
    async fn serve(self, mut tcp: TcpStream) {
        if looks_like_plain_http(&tcp, self.gateway.tls_handshake_timeout()).await {
            // A TLS handshake would fail with an opaque error; tell the person instead.
            let body = "This port speaks HTTPS only. Use https:// (TLS 1.2 or 1.3).\n";
            let resp = format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tcp.write_all(resp.as_bytes()).await;
            let _ = tcp.shutdown().await;
            debug!("plain HTTP on the TLS port refused");
            return;
        }
        let timeout = self.gateway.tls_handshake_timeout();
        let tls = match tokio::time::timeout(timeout, self.acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                debug!(error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                debug!("TLS handshake timed out");
                return;
            }
        };
        let gateway = self.gateway.clone();
        let peer = self.peer;
        let service = service_fn(move |req| {
            let gateway = gateway.clone();
            async move {
                Ok::<_, std::convert::Infallible>(crate::http::handle(gateway, peer, req).await)
            }
        });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.cfg.header_read_timeout)
            .keep_alive(true);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(256)
            .keep_alive_interval(Some(Duration::from_secs(30)));
        let conn = builder.serve_connection(TokioIo::new(tls), service);
        tokio::pin!(conn);
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res { debug!(error = %e, "connection ended with error"); }
            }
            _ = self.stop.cancelled() => {
                conn.as_mut().graceful_shutdown();
                if let Err(e) = conn.await { debug!(error = %e, "connection ended during drain"); }
            }
        }
    }
}

/// A TLS connection starts with a handshake record (0x16). Printable ASCII in the first byte
/// means somebody sent plain HTTP (or another text protocol) to the TLS port.
async fn looks_like_plain_http(tcp: &TcpStream, wait: Duration) -> bool {
    let mut first = [0u8; 1];
    match tokio::time::timeout(wait, tcp.peek(&mut first)).await {
        Ok(Ok(1)) => first[0].is_ascii_uppercase(),
        _ => false,
    }
}
