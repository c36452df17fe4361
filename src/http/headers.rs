//! Request head limits: the size of a request's head, counted the same way on HTTP/1.1 and
//! HTTP/2, and the 431 for heads over `server.max_header_bytes`.
//!
//! hyper is configured to allow twice the limit (see `server::conn`), so a head between
//! the two reaches this check and gets the API's JSON error; a larger one is refused by hyper
//! itself (a bare 431 on HTTP/1.1; on HTTP/2 a bare 431 or, far past it, GOAWAY: h2 bounds
//! the CONTINUATION frames of one header block).

use hyper::Request;

use crate::error::ApiError;

/// HTTP/2's per-field overhead (RFC 9113 §6.5.2), used for HTTP/1.1 too.
const FIELD_OVERHEAD: usize = 32;

/// The head's size: every header's name and value plus 32, and the method and target.
///
/// ```
/// let req = hyper::Request::get("/x").header("a", "bc").body(()).unwrap();
/// assert_eq!(sqlgate::http::headers::head_size(&req), (1 + 2 + 32) + 3 + 2 + 2 * 32);
/// ```
pub fn head_size<B>(req: &Request<B>) -> usize {
    let fields: usize = req
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + FIELD_OVERHEAD)
        .sum();
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    fields + req.method().as_str().len() + target + 2 * FIELD_OVERHEAD
}

/// Refuses a head larger than `limit` with 431.
pub(crate) fn check_size<B>(req: &Request<B>, limit: usize) -> Result<(), ApiError> {
    let size = head_size(req);
    if size > limit {
        return Err(ApiError::HeadersTooLarge { size, limit });
    }
    Ok(())
}
