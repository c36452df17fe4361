//! One accepted connection: plain-HTTP detection, the TLS handshake, hyper, and closing the
//! connection when it stops making progress.
//!
//! Owns the order of the deadlines: the handshake must finish within the TLS handshake
//! timeout, the first complete request head must arrive within `first_request_timeout` of
//! accept (whatever the protocol: hyper-util's protocol sniffing has no timer of its own),
//! and afterwards a connection with no handler running is closed after `idle_timeout`
//! without progress. HTTP-level limits (header sizes, keep-alive PINGs) are set on hyper here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::ServerConfig;
use super::activity::{Stall, TrackedBody};
use super::budget::Slot;
use crate::gateway::Gateway;

/// HTTP/2 streams a connection may have open at once.
const MAX_CONCURRENT_STREAMS: u32 = 256;

/// One accepted TCP connection and what it needs to serve it.
pub(super) struct Connection {
    pub(super) gateway: Arc<Gateway>,
    pub(super) acceptor: TlsAcceptor,
    pub(super) stop: CancellationToken,
    pub(super) cfg: ServerConfig,
    pub(super) peer: SocketAddr,
    /// Its place in the connection budget, released when the connection ends.
    pub(super) slot: Slot,
}

impl Connection {
    pub(super) async fn serve(self, tcp: TcpStream) {
        let activity = self.slot.activity().clone();
        let stalled = self
            .slot
            .activity()
            .stalled(self.cfg.first_request_timeout, self.cfg.idle_timeout);
        tokio::pin!(stalled);
        let tls = tokio::select! {
            tls = self.handshake(tcp) => match tls {
                Some(tls) => tls,
                None => return,
            },
            why = &mut stalled => {
                self.closed(why);
                return;
            }
            _ = self.stop.cancelled() => return,
        };
        let gateway = self.gateway.clone();
        let peer = self.peer;
        // mTLS: who the verified client certificate names, for every request's audit record.
        let client_cert = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| crate::context::client_cert_subject(leaf.as_ref()));
        let service = service_fn(move |req| {
            let gateway = gateway.clone();
            let request = activity.begin_request();
            let client_cert = client_cert.clone();
            async move {
                let resp = crate::http::handle(gateway, peer, client_cert, req).await;
                Ok::<_, std::convert::Infallible>(resp.map(|b| TrackedBody::new(b, request)))
            }
        });
        let builder = self.http_builder();
        let conn = builder.serve_connection(TokioIo::new(tls), service);
        tokio::pin!(conn);
        let why = tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res { debug!(error = %e, "connection ended with error"); }
                return;
            }
            why = &mut stalled => why,
            _ = self.stop.cancelled() => {
                conn.as_mut().graceful_shutdown();
                if let Err(e) = conn.await { debug!(error = %e, "connection ended during drain"); }
                return;
            }
        };
        self.closed(why);
        if !self.slot.activity().served() {
            // Nothing was ever asked on it: nothing to finish.
            return;
        }
        // Idle (or evicted while idle): a request that raced in still gets its answer
        // (HTTP/1.1 finishes it, HTTP/2 sends GOAWAY past it), within the drain bound.
        conn.as_mut().graceful_shutdown();
        match tokio::time::timeout(self.cfg.shutdown_grace, conn).await {
            Ok(Err(e)) => debug!(error = %e, "connection ended while closing"),
            Ok(Ok(())) => {}
            Err(_) => debug!("connection did not close in time; dropped"),
        }
    }

    /// Refuses plain HTTP with a readable answer, then runs the TLS handshake; both within
    /// one handshake timeout. `None` when the connection is done.
    async fn handshake(&self, mut tcp: TcpStream) -> Option<TlsStream<TcpStream>> {
        let deadline = Instant::now() + self.gateway.tls_handshake_timeout();
        if looks_like_plain_http(&tcp, deadline).await {
            // A TLS handshake would fail with an opaque error; tell the person instead.
            let body = "This port speaks HTTPS only. Use https:// (TLS 1.2 or 1.3).\n";
            let resp = format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tokio::time::timeout_at(deadline, async {
                let _ = tcp.write_all(resp.as_bytes()).await;
                let _ = tcp.shutdown().await;
            })
            .await;
            debug!("plain HTTP on the TLS port refused");
            return None;
        }
        match tokio::time::timeout_at(deadline, self.acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => Some(tls),
            Ok(Err(e)) => {
                debug!(error = %e, "TLS handshake failed");
                None
            }
            Err(_) => {
                debug!("TLS handshake timed out");
                None
            }
        }
    }

    /// hyper's settings for both protocols.
    fn http_builder(&self) -> auto::Builder<TokioExecutor> {
        let limit = self.cfg.transport_header_limit();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.cfg.header_read_timeout)
            .keep_alive(true)
            .max_buf_size(limit);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
            .max_header_list_size(u32::try_from(limit).unwrap_or(u32::MAX))
            .keep_alive_interval(Some(self.cfg.http2_keepalive_interval))
            .keep_alive_timeout(self.cfg.http2_keepalive_timeout);
        builder
    }

    fn closed(&self, why: Stall) {
        let (reason, after) = match why {
            Stall::NoRequest => ("no_request", self.cfg.first_request_timeout),
            Stall::Idle => ("idle", self.cfg.idle_timeout),
            Stall::Evicted => ("evicted", Duration::ZERO),
        };
        debug!(
            reason,
            ?after,
            "closing a connection that makes no progress"
        );
        self.gateway.metrics().connections.closed(reason);
    }
}

/// A TLS connection starts with a handshake record (0x16). Printable ASCII in the first byte
/// means somebody sent plain HTTP (or another text protocol) to the TLS port.
async fn looks_like_plain_http(tcp: &TcpStream, deadline: Instant) -> bool {
    let mut first = [0u8; 1];
    match tokio::time::timeout_at(deadline, tcp.peek(&mut first)).await {
        Ok(Ok(1)) => first[0].is_ascii_uppercase(),
        _ => false,
    }
}
