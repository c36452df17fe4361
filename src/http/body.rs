//! Request bodies: bounded reading and JSON decoding with errors a person can act on.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::HeaderMap;
use hyper::body::Incoming;
use hyper::header::CONTENT_LENGTH;
use serde::de::DeserializeOwned;

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Larger than the configured limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The connection failed while reading.
    #[error("could not read the request body: {0}")]
    Read(String),
    /// Not valid JSON or not the expected shape.
    #[error("request body is not valid: {0}")]
    Json(String),
}

/// Reads the whole body, refusing more than `limit` bytes (by `Content-Length` up front,
/// or while streaming for chunked bodies).
pub async fn read_limited(
    headers: &HeaderMap,
    body: Incoming,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
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
