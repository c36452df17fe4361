//! The API's errors: one enum wrapping every layer's error, and the one place that maps them
//! to an HTTP status, a stable code and the wire envelope.
//!
//! Statuses come from one table, [`ErrorCode`] (`error/code.rs`): every error names its code,
//! and the code decides the status.
//!
//! Client errors carry a detail a person can act on (what was refused, for whom, why).
//! Server errors are logged in full and answered with a generic message.

use hyper::header::{ALLOW, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use hyper::{Response, StatusCode};
use tracing::warn;

mod code;

pub use code::ErrorCode;

use crate::audit::AuditError;
use crate::auth::AuthError;
use crate::authz::AuthzError;
use crate::engine::EngineError;
use crate::http::body::BodyError;
use crate::http::response::{self, Body};
use crate::pipeline::WorkerError;
use crate::rewrite::RewriteError;
use crate::sql::{ResolveError, SqlError};
use crate::statements::StoreError;
use crate::statements::results::PageError;

/// Every error a request can end with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Credentials missing or not valid.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Body too large, unreadable or not the expected JSON.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// A well-formed request with an invalid field.
    #[error("{0}")]
    Invalid(String),
    /// No such route, organization, environment, pool or statement (or not visible).
    #[error("{0}")]
    NotFound(String),
    /// The path exists, the method does not.
    #[error("method not allowed; allowed: {0}")]
    MethodNotAllowed(&'static str),
    /// The caller may not use this administrative route.
    #[error("{principal} may not {what}: requires {roles} on {crn}")]
    AdminRequired {
        /// The caller.
        principal: String,
        /// What was refused (`explain decisions`, `read the audit log`).
        what: &'static str,
        /// The roles that would allow it.
        roles: &'static str,
        /// Where one of them must be bound.
        crn: String,
    },
    /// SQL could not be parsed or is not allowed.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// A name could not be resolved.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The principal may not do this.
    #[error(transparent)]
    Authz(#[from] AuthzError),
    /// The checked statement could not be rewritten.
    #[error(transparent)]
    Rewrite(#[from] RewriteError),
    /// The engine failed in a way that is not the statement's fault.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Statement name taken, or too many statements.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A results page token that cannot be served.
    #[error(transparent)]
    Page(#[from] PageError),
    /// The compute pool is exhausted and its queue of waiting statements is full.
    #[error(transparent)]
    PoolQueueFull(#[from] crate::statements::pool_slots::QueueFull),
    /// The audit log cannot be written; nothing runs unaudited.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// Not accepting statements (draining for shutdown).
    #[error("the gateway is shutting down; retry on another instance")]
    ShuttingDown,
    /// The audit log does not verify, so it is not served.
    #[error("the audit log does not verify, so it is not served: {0}")]
    AuditUnverifiable(String),
    /// A refused or failed iam/v2 role-binding change.
    #[error(transparent)]
    Binding(#[from] crate::authz::BindingError),
    /// The decision workers are busy, or a statement's analysis passed its deadline.
    #[error(transparent)]
    Workers(#[from] WorkerError),
    /// The request head is larger than `server.max_header_bytes`.
    #[error(
        "the request headers take {size} bytes, over the limit of {limit} (server.max_header_bytes); send a smaller token or fewer headers"
    )]
    HeadersTooLarge {
        /// Their size, counted as HTTP/2 does.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// `/metrics` behind a token, and the request had not the right one.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::access::MetricsDenied),
    /// A bug or an unexpected failure; details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 for an invalid field.
    pub fn invalid(msg: impl Into<String>) -> Self {
        ApiError::Invalid(msg.into())
    }

    /// A 404.
    pub fn not_found(msg: impl Into<String>) -> Self {
        ApiError::NotFound(msg.into())
    }

    /// The HTTP status: the one the code's row of [`ErrorCode`]'s table gives.
    pub fn status(&self) -> StatusCode {
        self.code().status()
    }

    /// The stable, dotted error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Auth(e) => e.code(),
            ApiError::Body(BodyError::TooLarge { .. }) => ErrorCode::RequestBodyTooLarge,
            ApiError::Body(BodyError::Json(_)) => ErrorCode::RequestMalformedJson,
            ApiError::Body(BodyError::Read(_)) => ErrorCode::RequestUnreadableBody,
            ApiError::Body(BodyError::Timeout { .. }) => ErrorCode::RequestBodyTimeout,
            ApiError::HeadersTooLarge { .. } => ErrorCode::RequestHeadersTooLarge,
            ApiError::Metrics(_) => ErrorCode::MetricsUnauthorized,
            ApiError::Invalid(_) => ErrorCode::RequestInvalid,
            ApiError::NotFound(_) => ErrorCode::RequestNotFound,
            ApiError::MethodNotAllowed(_) => ErrorCode::RequestMethodNotAllowed,
            ApiError::AdminRequired { .. } => ErrorCode::AuthzAdminRequired,
            ApiError::Sql(e) => e.code(),
            ApiError::Resolve(e) => e.code(),
            ApiError::Authz(e) => e.code(),
            ApiError::Rewrite(e) => e.code(),
            ApiError::Engine(e) => e.code(),
            ApiError::Store(StoreError::AlreadyExists(_)) => ErrorCode::StatementNameInUse,
            ApiError::Store(StoreError::TooMany { .. }) => ErrorCode::StatementTooMany,
            ApiError::Store(StoreError::Unavailable(_)) => ErrorCode::StatementStoreUnavailable,
            ApiError::Page(_) => ErrorCode::ResultsBadPageToken,
            ApiError::PoolQueueFull(_) => ErrorCode::ComputePoolQueueFull,
            ApiError::ShuttingDown => ErrorCode::GatewayUnavailable,
            ApiError::Audit(e) => e.code(),
            ApiError::AuditUnverifiable(_) => ErrorCode::AuditUnavailable,
            ApiError::Binding(e) => e.code(),
            ApiError::Workers(WorkerError::Busy { .. }) => ErrorCode::GatewayBusy,
            ApiError::Workers(WorkerError::Deadline(_)) => ErrorCode::SqlDeadlineExceeded,
            ApiError::Workers(WorkerError::Failed) => ErrorCode::Internal,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The detail shown to the client (generic for server errors).
    pub fn detail(&self) -> String {
        match self {
            ApiError::Auth(e) => e.detail(),
            ApiError::Sql(e) => e.detail(),
            ApiError::Resolve(e) => e.detail(),
            ApiError::Authz(e) => e.detail(),
            ApiError::Rewrite(e) => e.detail(),
            ApiError::Engine(e)
                if !e.code().status().is_server_error()
                    || matches!(e, EngineError::Unavailable(_)) =>
            {
                e.detail()
            }
            ApiError::Engine(_) => "the engine is unavailable; try again shortly".into(),
            ApiError::Audit(_) => {
                "the audit log cannot be written, so requests are refused rather than run unaudited; \
                 the gateway log has details"
                    .into()
            }
            ApiError::Binding(e) if e.code().status().is_server_error() => {
                "internal error; the gateway log has details (see the request id)".into()
            }
            ApiError::Store(StoreError::Unavailable(_)) => {
                "the statement store cannot be read or written, so the statement was not changed; \
                 the gateway log has details"
                    .into()
            }
            ApiError::Internal(_) | ApiError::Workers(WorkerError::Failed) => {
                "internal error; the gateway log has details (see the request id)".into()
            }
            ApiError::Workers(WorkerError::Busy { .. }) => {
                "The gateway is analysing as many statements as it can; nothing was run. Retry shortly.".into()
            }
            ApiError::Workers(WorkerError::Deadline(d)) => format!(
                "The statement's analysis did not finish within {} (the statement is too complex, or the gateway is overloaded); nothing was run.",
                humantime::format_duration(*d)
            ),
            other => other.to_string(),
        }
    }

    /// Renders the error envelope with the headers its status calls for.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let status = self.status();
        if status.is_server_error() {
            warn!(request_id, error = %self, code = self.code().as_str(), "request failed");
        }
        let mut r = response::error(status, self.code().as_str(), &self.detail(), request_id);
        let h = r.headers_mut();
        match &self {
            ApiError::Auth(e) => {
                if let Ok(v) = HeaderValue::from_str(&e.www_authenticate()) {
                    h.insert(WWW_AUTHENTICATE, v);
                }
                if let Some(secs) = e.retry_after() {
                    h.insert(RETRY_AFTER, HeaderValue::from(secs));
                }
            }
            ApiError::MethodNotAllowed(allow) => {
                h.insert(ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::Metrics(_) => {
                h.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"sqlgate-metrics\""),
                );
            }
            ApiError::ShuttingDown
            | ApiError::Engine(EngineError::Unavailable(_))
            | ApiError::Audit(_)
            | ApiError::PoolQueueFull(_)
            | ApiError::Workers(WorkerError::Busy { .. } | WorkerError::Deadline(_))
            | ApiError::Store(StoreError::TooMany { .. } | StoreError::Unavailable(_)) => {
                h.insert(RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        r
    }
}
