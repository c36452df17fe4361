//! Response building: JSON bodies, the API's error envelope, and headers every response gets.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;

/// The body type of every response.
pub type Body = Full<Bytes>;

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut r = Response::new(Full::new(Bytes::from(bytes)));
            *r.status_mut() = status;
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
        Err(_) => empty(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// A plain-text response.
pub fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A response without a body.
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// The error envelope `{"errors":[{"id","status","code","title","detail"}]}` that the clients
/// read `detail` from.
pub fn error(status: StatusCode, code: &str, detail: &str, request_id: &str) -> Response<Body> {
    let body = serde_json::json!({
        "errors": [{
            "id": request_id,
            "status": status.as_u16().to_string(),
            "code": code,
            "title": status.canonical_reason().unwrap_or("Error"),
            "detail": detail,
        }]
    });
    json(status, &body)
}
