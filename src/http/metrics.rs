//! `GET /metrics` on the main port (open, or behind the metrics token, or absent when the
//! metrics have a listener of their own), and the exposition page both listeners serve.

use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue, VARY};
use hyper::{HeaderMap, Response, StatusCode};

use super::response::{self, Body};
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::metrics::MetricsAccess;

/// Answers `GET /metrics` on the main port as `metrics.access` says.
pub(crate) fn main_port(gw: &Gateway, headers: &HeaderMap) -> Result<Response<Body>, ApiError> {
    match gw.metrics_access() {
        // Exactly what any unknown path gets: the main port has no such route then.
        MetricsAccess::Listener => Err(ApiError::not_found("no route for GET /metrics")),
        access => {
            access.check(headers)?;
            Ok(page(gw, headers))
        }
    }
}

/// The exposition in the format the request's `Accept` prefers (Prometheus text 0.0.4 unless
/// it asks for OpenMetrics; see [`crate::metrics::exposition::negotiate`]).
pub(crate) fn page(gw: &Gateway, headers: &HeaderMap) -> Response<Body> {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok());
    let format = crate::metrics::exposition::negotiate(accept);
    gw.refresh_metrics();
    let mut r = response::text(StatusCode::OK, gw.metrics().render(format));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    r.headers_mut()
        .insert(VARY, HeaderValue::from_static("accept"));
    r
}
