//! The loopback metrics listener (`metrics.access = "listener"`): plain HTTP/1.1 serving
//! `GET /metrics` and nothing else, for a scraper on the same host.
//!
//! Owns that listener's accept loop and its small limits. Plain HTTP is acceptable only
//! because configuration validation refuses any address that is not loopback. It shares no
//! state with the main port beyond the metrics registry.

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::gateway::Gateway;
use crate::http::response;

/// Scrapers served at once; more are closed at once (a scraper needs one).
const MAX_CONNECTIONS: usize = 16;
/// A scrape connection is closed after this, whatever it does.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// Request headers must be complete within this.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `listener` until `stop` is cancelled.
pub(crate) async fn serve(listener: TcpListener, gateway: Arc<Gateway>, stop: CancellationToken) {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "metrics listening (plain HTTP, loopback only)");
    }
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!(error = %e, "metrics accept failed; backing off");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            debug!(%peer, "metrics listener busy; connection closed");
            continue;
        };
        let gateway = gateway.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let gateway = gateway.clone();
                async move {
                    let resp = if req.method() == Method::GET && req.uri().path() == "/metrics" {
                        crate::http::metrics::page(&gateway, req.headers())
                    } else {
                        response::error(
                            StatusCode::NOT_FOUND,
                            "request.not_found",
                            &format!(
                                "no route for {} {}: this listener serves GET /metrics only",
                                req.method(),
                                req.uri().path()
                            ),
                            &uuid::Uuid::new_v4().to_string(),
                        )
                    };
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(tcp), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = tokio::time::sleep(CONNECTION_LIFETIME) => {}
                _ = stop.cancelled() => {}
            }
            drop(permit);
        });
    }
}
