//! Entry point for every HTTP request: request id and context, routing, stage 1
//! ([`crate::pipeline::authenticate`]) for every authenticated route, the audit hook
//! ([`AuditGuard`]) every request ends through, and rendering of errors through
//! [`ApiError::into_response`].

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use serde_json::json;
use tracing::Instrument;

use super::statements::{self as handlers, Call};
use crate::context::{AuditGuard, RequestCtx};
use crate::error::ApiError;
use crate::gateway::Gateway;

use super::response::{self, Body};
use super::route::{EnvPath, NoRoute, Route, match_route};

/// Serves one request; never fails (errors become error responses). `client_cert` is the
/// subject of the connection's TLS client certificate (mTLS). Every request ends through its
/// [`AuditGuard`], which writes the request's one audit record.
pub async fn handle(
    gw: Arc<Gateway>,
    peer: SocketAddr,
    client_cert: Option<String>,
    req: Request<Incoming>,
) -> Response<Body> {
    let ctx = Arc::new(RequestCtx::with_client_cert(peer, client_cert));
    let span = tracing::info_span!(
        "request",
        request_id = %ctx.request_id,
        method = %req.method(),
        path = %req.uri().path(),
        principal = tracing::field::Empty,
    );
    let request_id = ctx.request_id.clone();
    let route = match_route(req.method(), req.uri().path()).ok();
    let route_name = route.as_ref().map_or("unmatched", Route::name);
    let guard = AuditGuard::new(
        gw.clone(),
        ctx.clone(),
        req.method(),
        req.uri().path(),
        route.as_ref(),
    );
    let result = dispatch(&gw, &ctx, req).instrument(span).await;
    let mut resp = match guard.finish(result).await {
        Ok(r) => r,
        Err(e) => e.into_response(&request_id),
    };
    gw.metrics().request(route_name, resp.status().as_u16());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

async fn dispatch(
    gw: &Arc<Gateway>,
    ctx: &RequestCtx,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    super::headers::check_size(&req, gw.server_config().max_header_bytes)?;
    let route = match match_route(req.method(), req.uri().path()) {
        Ok(r) => r,
        Err(NoRoute::NotFound) => {
            return Err(ApiError::not_found(format!(
                "no route for {} {}",
                req.method(),
                req.uri().path()
            )));
        }
        Err(NoRoute::MethodNotAllowed(allow)) => return Err(ApiError::MethodNotAllowed(allow)),
    };
    match &route {
        Route::Health => return Ok(response::json(StatusCode::OK, &json!({"status": "ok"}))),
        Route::Metrics => {
            return super::metrics::main_port(gw, req.headers())
                .inspect_err(|e| crate::pipeline::metrics_refused(ctx, e));
        }
        Route::Ready => {
            let (status, body) = gw.readiness();
            return Ok(response::json(status, &body));
        }
        _ => {}
    }
    // Stage 1 of every authenticated route, here and nowhere else.
    let principal = crate::pipeline::authenticate(gw, ctx, req.headers()).await?;
    tracing::Span::current().record("principal", principal.id.as_str());
    // A change is refused before it is made when its record cannot be written (fail-closed,
    // as statements are refused before the engine runs them).
    if changes_state(&route) && !gw.auditor().accepts_records() {
        return Err(ApiError::Audit(crate::audit::AuditError::Poisoned(
            "the audit log refuses records after an earlier failure".into(),
        )));
    }
    // iam/v2 role bindings: not under an environment.
    match &route {
        Route::CreateRoleBinding => return crate::iam::create(gw, ctx, &principal, req).await,
        Route::Check => return check(gw, &principal, req).await,
        Route::Audit => return audit(gw, &principal, &req).await,
        Route::ListRoleBindings => return crate::iam::list(gw, &principal, &req).await,
        Route::GetRoleBinding(id) => return crate::iam::get(gw, &principal, id).await,
        Route::DeleteRoleBinding(id) => return crate::iam::delete(gw, ctx, &principal, id).await,
        _ => {}
    }
    let query = req.uri().query().map(str::to_string);
    let (path, name) = match &route {
        Route::CreateStatement(p) | Route::ListStatements(p) => (p, None),
        Route::GetStatement(p, n)
        | Route::DeleteStatement(p, n)
        | Route::PatchStatement(p, n)
        | Route::Results(p, n) => (p, Some(n.as_str())),
        Route::Health | Route::Ready | Route::Metrics => unreachable_route()?,
        Route::CreateRoleBinding
        | Route::ListRoleBindings
        | Route::GetRoleBinding(_)
        | Route::DeleteRoleBinding(_)
        | Route::Check
        | Route::Audit => unreachable_route()?,
    };
    check_env(gw, path)?;
    if !gw.is_ready() && matches!(route, Route::CreateStatement(_)) {
        return Err(ApiError::ShuttingDown);
    }
    let call = Call {
        gw,
        ctx,
        principal: &principal,
        path,
        base: base_url(gw, path),
    };
    let name = name.unwrap_or_default();
    match &route {
        Route::CreateStatement(_) => handlers::create(call, req).await,
        Route::ListStatements(_) => handlers::list(call, query.as_deref()).await,
        Route::GetStatement(..) => handlers::get(call, name).await,
        Route::DeleteStatement(..) => handlers::delete(call, name).await,
        Route::PatchStatement(..) => handlers::patch(call, name, req).await,
        Route::Results(..) => handlers::results(call, name, query.as_deref()).await,
        Route::Health | Route::Ready | Route::Metrics => unreachable_route(),
        Route::CreateRoleBinding
        | Route::ListRoleBindings
        | Route::GetRoleBinding(_)
        | Route::DeleteRoleBinding(_)
        | Route::Check
        | Route::Audit => unreachable_route(),
    }
}

/// `POST /sqlgate/v1/check`: what `sqlgate check` answers, for OrganizationAdmin only (the
/// answer reveals other principals' access).
async fn check(
    gw: &Arc<Gateway>,
    principal: &crate::auth::Principal,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    if !gw.authorizer().is_admin(&principal.id) {
        return Err(ApiError::AdminRequired {
            principal: principal.id.clone(),
            what: "explain decisions",
            roles: "OrganizationAdmin",
            crn: gw
                .catalogs()
                .crn(&crate::catalog::ObjectRef::Organization)
                .to_string(),
        });
    }
    let (parts, body) = req.into_parts();
    let bytes =
        super::body::read_limited(&parts.headers, body, gw.server_config().body_limits()).await?;
    let mut ask: crate::pipeline::CheckRequest = super::body::decode_json(&bytes)?;
    // `?compute_pool=` as before, unless the body names one.
    if ask.compute_pool.is_none() {
        ask.compute_pool = parts
            .uri
            .query()
            .and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "compute_pool")
            })
            .map(|(_, v)| v.into_owned());
    }
    // The SQL stages run on a decision worker, as for statements.
    let explainer = gw.clone();
    let report = gw
        .workers()
        .run(move || crate::pipeline::check(&explainer.decider(), explainer.pools(), &ask))
        .await?
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    let mut report = report;
    crate::pipeline::policy_fit::annotate(gw, &mut report);
    Ok(response::json(StatusCode::OK, &report))
}

/// `GET /sqlgate/v1/audit`: the records `sqlgate audit query` would print, as JSON, a page at a
/// time ([`super::audit`]); for AuditLogReader and OrganizationAdmin only.
async fn audit(
    gw: &Gateway,
    principal: &crate::auth::Principal,
    req: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    if !gw.authorizer().can_read_audit(&principal.id) {
        return Err(ApiError::AdminRequired {
            principal: principal.id.clone(),
            what: "read the audit log",
            roles: "AuditLogReader (or OrganizationAdmin)",
            crn: gw
                .catalogs()
                .crn(&crate::catalog::ObjectRef::Organization)
                .to_string(),
        });
    }
    super::audit::list(gw, req).await
}

/// Routes whose handler changes state (a statement, a role binding) beyond its audit record.
fn changes_state(route: &Route) -> bool {
    matches!(
        route,
        Route::CreateStatement(_)
            | Route::DeleteStatement(..)
            | Route::PatchStatement(..)
            | Route::CreateRoleBinding
            | Route::DeleteRoleBinding(_)
    )
}

fn unreachable_route<T>() -> Result<T, ApiError> {
    Err(ApiError::Internal(
        "health routes are answered before authentication".into(),
    ))
}

/// The organization must be ours and the environment configured; both are 404 otherwise.
fn check_env(gw: &Gateway, p: &EnvPath) -> Result<(), ApiError> {
    if p.org != gw.catalogs().organization_id() {
        return Err(ApiError::not_found(format!(
            "organization `{}` not found",
            p.org
        )));
    }
    if !gw.catalogs().environments().iter().any(|e| e.id == p.env) {
        return Err(ApiError::not_found(format!(
            "environment `{}` not found",
            p.env
        )));
    }
    Ok(())
}

/// `<public URL>/sql/v1/organizations/o/environments/e` (clients follow `metadata.next`
/// verbatim, so it must be absolute). Never built from the request's Host header or URI: a
/// forged one would put the attacker's address into links other clients follow.
fn base_url(gw: &Gateway, p: &EnvPath) -> String {
    format!(
        "{}/sql/v1/organizations/{}/environments/{}",
        gw.public_origin(),
        p.org,
        p.env
    )
}
