//! `GET /metrics` on the main port (open, or behind the metrics token, or absent when the
//! metrics have a listener of their own), and the exposition page both listeners serve.

use hyper::header::{CONTENT_TYPE, HeaderValue};
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
            Ok(page(gw))
        }
    }
}

/// The OpenMetrics exposition.
pub(crate) fn page(gw: &Gateway) -> Response<Body> {
    gw.refresh_metrics();
    let mut r = response::text(StatusCode::OK, gw.metrics().render());
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}
