//! Request bodies: bounded reading (in size and in time) and JSON decoding with errors a
//! person can act on.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::HeaderMap;
use hyper::body::Incoming;
use hyper::header::CONTENT_LENGTH;
use serde::de::DeserializeOwned;

use crate::server::BodyLimits;

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Larger than the configured limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The whole body did not arrive in time (a client trickling or withholding it).
    #[error(
        "the request body did not arrive within {}s (server.body_read_timeout); send the whole body at once",
        after.as_secs_f64()
    )]
    Timeout {
        /// The deadline.
        after: Duration,
    },
    /// The connection failed while reading.
    #[error("could not read the request body: {0}")]
    Read(String),
    /// Not valid JSON or not the expected shape.
    #[error("request body is not valid: {0}")]
    Json(String),
}

/// Reads the whole body, refusing more than `limits.max_bytes` (by `Content-Length` up
/// front, or while streaming for chunked bodies) and a body that takes longer than
/// `limits.timeout` in total.
pub async fn read_limited(
    headers: &HeaderMap,
    body: Incoming,
    limits: BodyLimits,
) -> Result<Bytes, BodyError> {
    let limit = limits.max_bytes;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let read = tokio::time::timeout(limits.timeout, Limited::new(body, limit).collect());
    let Ok(read) = read.await else {
        return Err(BodyError::Timeout {
            after: limits.timeout,
        });
    };
    match read {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(BodyError::TooLarge { limit })
        }
        Err(e) => Err(BodyError::Read(e.to_string())),
    }
}

/// Decodes JSON, reporting where it went wrong (line and column from serde).
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    if bytes.is_empty() {
        return Err(BodyError::Json(
            "the body is empty; a JSON object is expected".into(),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| BodyError::Json(e.to_string()))
}
