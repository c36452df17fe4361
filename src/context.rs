//! Per-request context: id, peer, timing. Created when a request arrives and passed through
//! every stage so logs (and later the audit record) of one request share its id.

use std::net::SocketAddr;
use std::time::Instant;

/// What every stage may know about the request it serves.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    /// Unique id, returned to the client in `x-request-id` and in error bodies.
    pub request_id: String,
    /// The client's address.
    pub peer: SocketAddr,
    /// When the request arrived.
    pub started: Instant,
}

impl RequestCtx {
    /// A context for a request that just arrived from `peer`.
    pub fn new(peer: SocketAddr) -> Self {
        Self {
            request_id: uuid::Uuid::new_v4().to_string(),
            peer,
            started: Instant::now(),
        }
    }
}
