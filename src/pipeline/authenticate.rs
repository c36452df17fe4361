//! Stage 1: who is asking. Called once, from [`crate::http`]'s dispatch, for every
//! authenticated route (statements, iam/v2, check, audit), before anything else is decided.
//!
//! Owns turning the request's credentials into a [`Principal`] through the configured
//! [`crate::auth::Authenticator`], and noting the result in the [`RequestCtx`]: the principal,
//! or the failure (mechanism, code, who the credential claimed to be) whose
//! `flink.Authenticate` record is then the request's audit record. It writes no record itself:
//! the request's audit hook ([`crate::context::AuditGuard`]) does, once, when the request ends.

use crate::audit::{AuthnFailure, ResultStatus};
use crate::auth::Principal;
use crate::context::RequestCtx;
use crate::error::ApiError;
use crate::gateway::Gateway;

/// Authenticates the caller of the request in `ctx` (see the module doc).
pub async fn authenticate(
    gw: &Gateway,
    ctx: &RequestCtx,
    headers: &hyper::HeaderMap,
) -> Result<Principal, ApiError> {
    let (result, attempt) = gw
        .authenticator()
        .authenticate_from(headers, Some(ctx.peer.ip()))
        .await;
    match result {
        Ok(p) => {
            ctx.authenticated(&p);
            Ok(p)
        }
        Err(e) => {
            ctx.authentication_failed(AuthnFailure::from_auth_error(
                &e,
                mechanism(headers),
                &attempt,
            ));
            Err(e.into())
        }
    }
}

/// A refused `/metrics` token on the main port is a failed authentication too (aggregated per
/// peer like the others, so a scraper with a stale token does not flood the log).
pub(crate) fn metrics_refused(ctx: &RequestCtx, e: &ApiError) {
    if let ApiError::Metrics(denied) = e {
        ctx.authentication_failed(AuthnFailure {
            mechanism: "NONE".into(),
            status: ResultStatus::Unauthenticated,
            code: e.code().as_str().into(),
            message: denied.to_string(),
            attempt: None,
        });
    }
}

/// The credential kind a request presented, for the audit of a failed authentication.
fn mechanism(headers: &hyper::HeaderMap) -> Option<&'static str> {
    let auth = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let scheme = auth.split_whitespace().next()?.to_ascii_lowercase();
    match scheme.as_str() {
        "bearer" if headers.contains_key(crate::auth::IDENTITY_POOL_HEADER) => {
            Some("IDENTITY_POOL")
        }
        "bearer" => Some("JWT"),
        "basic" => Some("API_KEY"),
        _ => None,
    }
}
