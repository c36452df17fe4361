//! The audit hook: writes the one request-level record of a request when it ends (pingora's
//! `logging(session, Option<&Error>, ctx)`).
//!
//! [`crate::http::handle`] makes an [`AuditGuard`] for every request before dispatching it and
//! hands the result to [`AuditGuard::finish`], so no handler can forget the record or write a
//! second one. If the request's future is dropped first (the client went away), the guard's
//! `Drop` writes the record with no HTTP status. The record is:
//! - for a failed authentication, its `flink.Authenticate` record (through the auditor's
//!   per-peer aggregation, so a flood of bad tokens stays a few records);
//! - otherwise an `io.confluent.cloud/request` record ([`crate::audit::RequestOutcome`]): the
//!   principal (or `User:ANONYMOUS`), request id, client address and certificate, the route's
//!   operation and resource, HTTP status, stable code, the refusing stage, duration.
//!
//! Routes that decide nothing are not audited: `/healthz`, `/readyz`, `/metrics` unless its
//! token was refused, and paths that match no route.
//!
//! Fail-closed: with `audit.fail_closed` a request whose record cannot be made durable is
//! answered 503 `audit.unavailable` instead of its own answer.

use std::sync::Arc;

use hyper::Response;

use crate::audit::{AuditError, AuditRecord, PrincipalInfo, RequestInfo, RequestOutcome};
use crate::authz::AuthzError;
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::http::response::Body;
use crate::http::route::Route;

use super::RequestCtx;

/// Writes a request's audit record exactly once, when the request ends (see the module doc).
#[derive(Debug)]
pub struct AuditGuard {
    /// `None` once the record is written (or being written).
    pending: Option<Pending>,
}

/// What the record needs besides the outcome.
#[derive(Debug)]
struct Pending {
    gw: Arc<Gateway>,
    ctx: Arc<RequestCtx>,
    /// The route's operation and resource; `None` for requests that are not audited.
    action: Option<Action>,
    /// The environment of the URL, for an authentication failure's subject.
    environment: String,
    http_method: String,
    path: String,
}

/// The operation a route performs and the resource it is about.
#[derive(Debug, Clone)]
struct Action {
    method_name: &'static str,
    resource: String,
    environment: Option<String>,
}

/// How the request ended, before it becomes a record.
#[derive(Debug)]
struct End {
    http_status: Option<u16>,
    code: Option<String>,
    message: String,
    stage: Option<String>,
}

impl AuditGuard {
    /// The guard of a request for `route` (`None`: matched no route) from `ctx`.
    pub fn new(
        gw: Arc<Gateway>,
        ctx: Arc<RequestCtx>,
        http_method: &hyper::Method,
        path: &str,
        route: Option<&Route>,
    ) -> Self {
        let action = route.and_then(|r| action(&gw, r));
        let environment = route
            .and_then(Route::env)
            .map(|p| p.env.clone())
            .unwrap_or_default();
        Self {
            pending: Some(Pending {
                gw,
                ctx,
                action,
                environment,
                http_method: http_method.to_string(),
                path: path.to_string(),
            }),
        }
    }

    /// Writes the request's record for `result` and returns `result`, or the audit failure
    /// when the record could not be made durable and `audit.fail_closed` is on.
    pub async fn finish(
        mut self,
        result: Result<Response<Body>, ApiError>,
    ) -> Result<Response<Body>, ApiError> {
        let Some(pending) = self.pending.take() else {
            return result;
        };
        let notes = pending.ctx.snapshot();
        let end = match &result {
            Ok(r) => End {
                http_status: Some(r.status().as_u16()),
                code: notes.code.clone(),
                message: notes.message.clone().unwrap_or_default(),
                stage: None,
            },
            Err(e) => End {
                http_status: Some(e.status().as_u16()),
                code: Some(e.code().as_str().to_string()),
                message: notes.message.clone().unwrap_or_else(|| audit_message(e)),
                stage: Some(notes.stage.unwrap_or_else(|| stage_of(e)).to_string()),
            },
        };
        // On a task of its own: a client that goes away now cannot cut the write short.
        let written = tokio::spawn(pending.write(end)).await;
        match written {
            Ok(Ok(())) => result,
            Ok(Err(e)) => Err(ApiError::Audit(e)),
            Err(e) => Err(ApiError::Internal(format!("the audit hook failed: {e}"))),
        }
    }
}

impl Drop for AuditGuard {
    fn drop(&mut self) {
        // Not finished: the request's future was dropped, i.e. the client went away.
        let Some(pending) = self.pending.take() else {
            return;
        };
        let end = End {
            http_status: None,
            code: Some("request.cancelled".into()),
            message: "the client went away before the answer".into(),
            stage: None,
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = pending.write(end).await {
                    tracing::error!(error = %e, "could not audit a request the client abandoned");
                }
            });
        }
    }
}

impl Pending {
    async fn write(self, end: End) -> Result<(), AuditError> {
        let notes = self.ctx.snapshot();
        let req = RequestInfo::from(&*self.ctx);
        let gw = &self.gw;
        if let Some(failure) = &notes.authn_failure {
            return gw
                .auditor()
                .authentication_failed(
                    &req,
                    failure,
                    gw.catalogs().organization_id(),
                    &self.environment,
                    gw.gateway_config().region.as_str(),
                )
                .await;
        }
        let Some(action) = self.action else {
            return Ok(());
        };
        let outcome = RequestOutcome {
            method_name: action.method_name.into(),
            resource: notes.resource.clone().unwrap_or(action.resource),
            http_method: self.http_method,
            path: self.path,
            http_status: end.http_status,
            code: end.code,
            message: end.message,
            stage: end.stage,
            duration_ms: u64::try_from(self.ctx.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            environment: action.environment,
            policy_version: notes.policy_version,
        };
        let principal = notes.principal.as_ref().map(PrincipalInfo::from);
        let record = AuditRecord::request(
            &req,
            principal.as_ref(),
            self.ctx.client_cert.as_deref(),
            &outcome,
        );
        gw.auditor().record(record).await.map(|_| ())
    }
}

/// The operation and resource of an audited route; `None` for the routes that decide nothing.
fn action(gw: &Gateway, route: &Route) -> Option<Action> {
    let org = || {
        gw.catalogs()
            .crn(&crate::catalog::ObjectRef::Organization)
            .to_string()
    };
    let statements = |method_name, name: Option<&str>| {
        let p = route.env()?;
        let env = format!(
            "crn://confluent.cloud/organization={}/environment={}",
            p.org, p.env
        );
        Some(Action {
            method_name,
            resource: match name {
                Some(n) => format!("{env}/statement={n}"),
                None => env,
            },
            environment: Some(p.env.clone()),
        })
    };
    let admin = |method_name, resource: String| {
        Some(Action {
            method_name,
            resource,
            environment: None,
        })
    };
    match route {
        Route::Health | Route::Ready | Route::Metrics => None,
        Route::CreateStatement(_) => statements("sql.CreateStatement", None),
        Route::ListStatements(_) => statements("sql.ListStatements", None),
        Route::GetStatement(_, n) => statements("sql.GetStatement", Some(n)),
        Route::DeleteStatement(_, n) => statements("sql.DeleteStatement", Some(n)),
        Route::PatchStatement(_, n) => statements("sql.UpdateStatement", Some(n)),
        Route::Results(_, n) => statements("sql.GetStatementResults", Some(n)),
        Route::CreateRoleBinding => admin("iam.CreateRoleBinding", org()),
        Route::ListRoleBindings => admin("iam.ListRoleBindings", org()),
        Route::GetRoleBinding(id) => {
            admin("iam.GetRoleBinding", format!("{}/role-binding={id}", org()))
        }
        Route::DeleteRoleBinding(id) => admin(
            "iam.DeleteRoleBinding",
            format!("{}/role-binding={id}", org()),
        ),
        Route::Check => admin("sqlgate.Check", org()),
        Route::Audit => admin("sqlgate.QueryAudit", org()),
    }
}

/// The stage an error comes from, when the stage did not say so itself.
fn stage_of(e: &ApiError) -> &'static str {
    match e {
        ApiError::Auth(_) | ApiError::Metrics(_) => "authenticate",
        ApiError::Body(_)
        | ApiError::Invalid(_)
        | ApiError::NotFound(_)
        | ApiError::MethodNotAllowed(_)
        | ApiError::HeadersTooLarge { .. }
        | ApiError::Page(_) => "request",
        ApiError::AdminRequired { .. } => "admin",
        ApiError::Sql(_) => "parse",
        ApiError::Resolve(_) => "resolve",
        ApiError::Authz(AuthzError::WrongRegion { .. }) => "region",
        ApiError::Authz(_) => "authorize",
        ApiError::Rewrite(_) => "rewrite",
        ApiError::Binding(_) => "iam",
        ApiError::Workers(_) => "decide",
        ApiError::Engine(_) => "engine",
        ApiError::Store(_) => "store",
        ApiError::PoolQueueFull(_) => "admission",
        ApiError::Audit(_) | ApiError::AuditUnverifiable(_) => "audit",
        ApiError::ShuttingDown => "server",
        ApiError::Internal(_) => "internal",
    }
}

/// What the record says about an error no stage described: its full text (server errors
/// included: the client gets a generic detail, the audit the cause), except for SQL errors,
/// whose text may quote the statement's literals.
fn audit_message(e: &ApiError) -> String {
    match e {
        ApiError::Sql(_) => format!(
            "the statement was refused by the parser ({})",
            e.code().as_str()
        ),
        other => other.to_string(),
    }
}
