//! The accept loop: TCP accept → connection budget → TLS handshake (bounded in time) → hyper
//! HTTP/1.1 or HTTP/2, and the optional loopback metrics listener.
//!
//! Owns the connection limits (total and per peer, checked right after accept: nothing
//! waits for a slot), per-connection tasks, every deadline a connection must meet (handshake,
//! first request, idle, HTTP/2 keepalive), the helpful answer to plain HTTP sent to the TLS
//! port, and graceful drain on shutdown. It knows nothing about routes or SQL: every request
//! goes to [`crate::http::handle`].

mod activity;
mod budget;
mod config;
mod conn;
mod metrics_listener;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, warn};

pub use config::{BodyLimits, ServerConfig};

use crate::gateway::Gateway;
use budget::Budget;
use conn::Connection;

/// Serves `listener` until `shutdown` completes, then drains in-flight connections for up to
/// the configured grace period. Tests pass their own listener (bound to port 0) and future.
pub async fn run(listener: TcpListener, gateway: Arc<Gateway>, shutdown: impl Future<Output = ()>) {
    let cfg = gateway.server_config().clone();
    if let Ok(addr) = listener.local_addr() {
        gateway.set_local_addr(addr);
    }
    let acceptor = TlsAcceptor::from(gateway.tls_config());
    let budget = Budget::new(cfg.max_connections, cfg.per_peer_share());
    let tracker = TaskTracker::new();
    let stop = CancellationToken::new();
    if let Some(metrics) = gateway.take_metrics_listener() {
        tracker.spawn(metrics_listener::serve(
            metrics,
            gateway.clone(),
            stop.clone(),
        ));
    }
    tokio::pin!(shutdown);
    gateway.set_ready(true);
    loop {
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
        let slot = match budget.admit(peer.ip(), Instant::now()) {
            Ok(slot) => slot,
            Err(refusal) => {
                // Closed at once, before any TLS work: a refused peer costs one accept.
                debug!(%peer, %refusal, "connection refused");
                gateway.metrics().connections.closed(refusal.reason());
                drop(tcp);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let conn = Connection {
            gateway: gateway.clone(),
            acceptor: acceptor.clone(),
            stop: stop.clone(),
            cfg: cfg.clone(),
            peer,
            slot,
        };
        let open = gateway.metrics().connections.open.clone();
        open.inc();
        tracker.spawn(
            async move {
                conn.serve(tcp).await;
                open.dec();
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
