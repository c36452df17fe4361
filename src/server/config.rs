//! The `[server]` section: listener, connection budget, the deadlines every connection must
//! meet, and request size limits.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `[server]` section.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on. Loopback by default: exposing the gateway is a deliberate act.
    pub listen: SocketAddr,
    /// Connections open at once. A connection beyond it is closed at once unless an open one
    /// that is idle (or has never sent a request) can give way; nothing queues, so a flood of
    /// silent connections cannot lock others out for longer than `first_request_timeout`.
    pub max_connections: usize,
    /// Connections one peer (an IPv4 address, or an IPv6 /64) may hold at once, so a single
    /// host cannot take every slot. Unset: a quarter of `max_connections`. Connections over
    /// the share are closed at once.
    pub max_connections_per_peer: Option<usize>,
    /// A client must send its complete request headers within this time (slowloris defence;
    /// on HTTP/1.1 it also bounds the wait for the next request on a kept-alive connection).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// From accept to the first complete request head, on every protocol: a peer that is
    /// silent after the TLS handshake, sends part of the HTTP/2 preface, or only answers
    /// PINGs is closed when it passes, whatever it does at the byte level.
    #[serde(with = "humantime_serde")]
    pub first_request_timeout: Duration,
    /// A connection with no request being handled is closed after this long without a
    /// request starting or finishing (HTTP/1.1 keep-alive and HTTP/2 alike; PINGs do not
    /// count as progress).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// How often an HTTP/2 connection is PINGed to find peers that went away.
    #[serde(with = "humantime_serde")]
    pub http2_keepalive_interval: Duration,
    /// An HTTP/2 peer that does not answer a PING within this is disconnected.
    #[serde(with = "humantime_serde")]
    pub http2_keepalive_timeout: Duration,
    /// The whole request body must arrive within this (from when the handler starts reading
    /// it); a slower body gets 408 `request.body_timeout`.
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// How long in-flight requests may run after SIGINT/SIGTERM before connections are cut.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Largest request body accepted; larger ones get 413 without being read whole.
    pub max_body_bytes: usize,
    /// Largest request head accepted, counted as HTTP/2 does (name + value + 32 per field)
    /// on both protocols; larger ones get 431 `request.headers_too_large`. The HTTP layer
    /// itself is allowed twice this so it hands such requests to us for a clear answer.
    pub max_header_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            max_connections: 1024,
            max_connections_per_peer: None,
            header_read_timeout: Duration::from_secs(10),
            first_request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            http2_keepalive_interval: Duration::from_secs(30),
            http2_keepalive_timeout: Duration::from_secs(20),
            body_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            max_body_bytes: 1024 * 1024,
            max_header_bytes: 64 * 1024,
        }
    }
}

/// The smallest `max_header_bytes`: hyper's HTTP/1 read buffer (twice the limit) cannot be
/// smaller than 8 KiB.
const MIN_HEADER_BYTES: usize = 4096;

/// Read limits for a request body, as handlers apply them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Largest body accepted.
    pub max_bytes: usize,
    /// Time allowed for the whole body.
    pub timeout: Duration,
}

impl ServerConfig {
    /// Connections one peer may hold: the configured share, or a quarter of the total.
    ///
    /// ```
    /// let mut cfg = sqlgate::server::ServerConfig::default();
    /// assert_eq!(cfg.per_peer_share(), 256);
    /// cfg.max_connections_per_peer = Some(10);
    /// assert_eq!(cfg.per_peer_share(), 10);
    /// ```
    pub fn per_peer_share(&self) -> usize {
        self.max_connections_per_peer
            .unwrap_or(self.max_connections / 4)
            .clamp(1, self.max_connections.max(1))
    }

    /// The body limits handlers read with.
    pub fn body_limits(&self) -> BodyLimits {
        BodyLimits {
            max_bytes: self.max_body_bytes,
            timeout: self.body_read_timeout,
        }
    }

    /// The head size the HTTP layer itself allows (twice ours, so that heads between the two
    /// reach the handler and get a 431 with a JSON body rather than a bare one).
    pub(crate) fn transport_header_limit(&self) -> usize {
        self.max_header_bytes.saturating_mul(2)
    }

    /// Checks the section; returns the offending key and why.
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(share) = self.max_connections_per_peer
            && (share == 0 || share > self.max_connections)
        {
            return Err((
                "server.max_connections_per_peer",
                format!(
                    "must be from 1 to server.max_connections ({})",
                    self.max_connections
                ),
            ));
        }
        if self.max_header_bytes < MIN_HEADER_BYTES || self.max_header_bytes > u32::MAX as usize / 2
        {
            return Err((
                "server.max_header_bytes",
                format!("must be at least {MIN_HEADER_BYTES} (and below 2 GiB)"),
            ));
        }
        for (key, d) in [
            ("server.header_read_timeout", self.header_read_timeout),
            ("server.first_request_timeout", self.first_request_timeout),
            ("server.idle_timeout", self.idle_timeout),
            (
                "server.http2_keepalive_interval",
                self.http2_keepalive_interval,
            ),
            (
                "server.http2_keepalive_timeout",
                self.http2_keepalive_timeout,
            ),
            ("server.body_read_timeout", self.body_read_timeout),
        ] {
            if d.is_zero() {
                return Err((key, "must be greater than 0".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_peer_share_defaults_to_a_quarter_and_stays_within_the_total() {
        let mut cfg = ServerConfig {
            max_connections: 32,
            ..ServerConfig::default()
        };
        assert_eq!(cfg.per_peer_share(), 8);
        cfg.max_connections = 2;
        assert_eq!(cfg.per_peer_share(), 1);
        cfg.max_connections_per_peer = Some(3);
        assert!(cfg.validate().is_err());
        cfg.max_connections_per_peer = Some(0);
        assert_eq!(
            cfg.validate().unwrap_err().0,
            "server.max_connections_per_peer"
        );
    }

    #[test]
    fn zero_deadlines_and_tiny_header_limits_are_refused() {
        let cfg = ServerConfig {
            first_request_timeout: Duration::ZERO,
            ..ServerConfig::default()
        };
        assert_eq!(
            cfg.validate().unwrap_err().0,
            "server.first_request_timeout"
        );
        let cfg = ServerConfig {
            max_header_bytes: 100,
            ..ServerConfig::default()
        };
        assert_eq!(cfg.validate().unwrap_err().0, "server.max_header_bytes");
        assert!(ServerConfig::default().validate().is_ok());
    }
}
