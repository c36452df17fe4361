//! The API's errors: one enum wrapping every layer's error, and the one place that maps them
//! to an HTTP status, a stable code and the wire envelope.
//!
//! Client errors carry a detail a person can act on (what was refused, for whom, why).
//! Server errors are logged in full and answered with a generic message.

use hyper::header::{ALLOW, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use hyper::{Response, StatusCode};
use tracing::warn;

use crate::audit::AuditError;
use crate::auth::AuthError;
use crate::authz::AuthzError;
use crate::engine::EngineError;
use crate::http::body::BodyError;
use crate::http::response::{self, Body};
use crate::pipeline::WorkerError;
use crate::sql::{ResolveError, RewriteError, SqlError};
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
    #[error("{0}")]
    Forbidden(String),
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
    /// The statement failed while its results were being read.
    #[error("{0}")]
    StatementFailed(String),
    /// The audit log cannot be written; nothing runs unaudited.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// Not accepting statements (starting or draining).
    #[error("{0}")]
    Unavailable(String),
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

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Auth(AuthError::TooManyFailures { .. }) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Auth(e) if e.is_credential_failure() => StatusCode::UNAUTHORIZED,
            // The identity provider's keys could not be fetched: not the caller's fault.
            ApiError::Auth(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Body(BodyError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Body(BodyError::Json(_) | BodyError::Read(_)) => StatusCode::BAD_REQUEST,
            ApiError::Body(BodyError::Timeout { .. }) => StatusCode::REQUEST_TIMEOUT,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Metrics(_) => StatusCode::UNAUTHORIZED,
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Sql(_) => StatusCode::BAD_REQUEST,
            ApiError::Resolve(e) => e.status(),
            ApiError::Authz(e) => e.status(),
            ApiError::Rewrite(_) => StatusCode::BAD_REQUEST,
            ApiError::Engine(e) => engine_status(e),
            ApiError::Store(StoreError::AlreadyExists(_)) => StatusCode::CONFLICT,
            ApiError::Store(StoreError::TooMany { .. }) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Store(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Page(_) => StatusCode::BAD_REQUEST,
            ApiError::StatementFailed(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) | ApiError::Audit(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Binding(e) => e.status(),
            ApiError::Workers(WorkerError::Busy { .. } | WorkerError::Deadline(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Workers(WorkerError::Failed) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, dotted error code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Auth(e) => e.code(),
            ApiError::Body(BodyError::TooLarge { .. }) => "request.body_too_large",
            ApiError::Body(BodyError::Json(_)) => "request.malformed_json",
            ApiError::Body(BodyError::Read(_)) => "request.unreadable_body",
            ApiError::Body(BodyError::Timeout { .. }) => "request.body_timeout",
            ApiError::HeadersTooLarge { .. } => "request.headers_too_large",
            ApiError::Metrics(_) => "metrics.unauthorized",
            ApiError::Invalid(_) => "request.invalid",
            ApiError::NotFound(_) => "request.not_found",
            ApiError::MethodNotAllowed(_) => "request.method_not_allowed",
            ApiError::Forbidden(_) => "authz.admin_required",
            ApiError::Sql(e) => e.code(),
            ApiError::Resolve(e) => e.code(),
            ApiError::Authz(e) => e.code(),
            ApiError::Rewrite(e) => e.code(),
            ApiError::Engine(e) => e.code(),
            ApiError::Store(StoreError::AlreadyExists(_)) => "statement.name_in_use",
            ApiError::Store(StoreError::TooMany { .. }) => "statement.too_many",
            ApiError::Store(StoreError::Unavailable(_)) => "statement.store_unavailable",
            ApiError::Page(_) => "results.bad_page_token",
            ApiError::StatementFailed(_) => "statement.failed",
            ApiError::Unavailable(_) => "gateway.unavailable",
            ApiError::Audit(e) => e.code(),
            ApiError::Binding(e) => e.code(),
            ApiError::Workers(WorkerError::Busy { .. }) => "gateway.busy",
            ApiError::Workers(WorkerError::Deadline(_)) => "sql.deadline_exceeded",
            ApiError::Workers(WorkerError::Failed) => "internal",
            ApiError::Internal(_) => "internal",
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
                if !engine_status(e).is_server_error()
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
            ApiError::Binding(e) if e.status().is_server_error() => {
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
            warn!(request_id, error = %self, code = self.code(), "request failed");
        }
        let mut r = response::error(status, self.code(), &self.detail(), request_id);
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
            ApiError::Unavailable(_)
            | ApiError::Engine(EngineError::Unavailable(_))
            | ApiError::Audit(_)
            | ApiError::Workers(WorkerError::Busy { .. } | WorkerError::Deadline(_))
            | ApiError::Store(StoreError::TooMany { .. } | StoreError::Unavailable(_)) => {
                h.insert(RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        r
    }
}

/// Engine errors reach HTTP only outside a statement (a statement's own failure becomes its
/// FAILED phase): planning problems are the caller's, storage and bugs are ours.
fn engine_status(e: &EngineError) -> StatusCode {
    match e {
        EngineError::Plan(_)
        | EngineError::Execution(_)
        | EngineError::TableExists(_)
        | EngineError::TableNotFound(_)
        | EngineError::DatabaseNotFound { .. }
        | EngineError::Unsupported(_)
        | EngineError::ResultTooLarge { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        EngineError::ReadOnly(_) | EngineError::UncheckedTable(_) => StatusCode::FORBIDDEN,
        EngineError::Storage(_) | EngineError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        EngineError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}
