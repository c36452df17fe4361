//! Confluent's `iam/v2` role-bindings API on the gateway's port: create, list, get, delete.
//!
//! ```text
//! POST   /iam/v2/role-bindings        {principal, role_name, crn_pattern}  → 201 RoleBinding
//! GET    /iam/v2/role-bindings?principal=&role_name=&crn_pattern=&page_size=&page_token=
//!                                                                        → 200 RoleBindingList
//! GET    /iam/v2/role-bindings/{id}                                      → 200 RoleBinding
//! DELETE /iam/v2/role-bindings/{id}                                      → 204
//! ```
//!
//! Owns the wire shapes and the query parameters only. Who may grant what where, the file
//! write-back and the policy swap belong to [`crate::authz`] ([`Authorizer::create_binding`],
//! [`Authorizer::delete_binding`]); a change is in force when the response is sent. Callers
//! see only the bindings in scopes they administer and their own; others are 404. A change
//! (or its refusal) is noted in the [`RequestCtx`]; the request's audit hook writes it as the
//! request's `iam.CreateRoleBinding` / `iam.DeleteRoleBinding` record.
//! Bindings are immutable (no update), as in Confluent's API.
//!
//! [`Authorizer::create_binding`]: crate::authz::Authorizer::create_binding
//! [`Authorizer::delete_binding`]: crate::authz::Authorizer::delete_binding

mod wire;

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use crate::auth::Principal;
use crate::authz::{self, BindingFilter};
use crate::context::RequestCtx;
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::http::body::{decode_json, read_limited};
use crate::http::response::{self, Body};

pub use wire::{CreateRoleBindingRequest, RoleBinding, RoleBindingList};

/// Path of the collection.
pub const ROLE_BINDINGS_PATH: &str = "/iam/v2/role-bindings";

/// Default and largest `page_size` of the list.
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;

/// `POST /iam/v2/role-bindings`.
pub async fn create(
    gw: &Arc<Gateway>,
    ctx: &RequestCtx,
    principal: &Principal,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let base = base_url(gw);
    let (parts, body) = req.into_parts();
    let bytes = read_limited(&parts.headers, body, gw.server_config().body_limits()).await?;
    let body: CreateRoleBindingRequest = decode_json(&bytes)?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let result = gw
        .authorizer()
        .create_binding(
            &principal.id,
            body.principal.trim(),
            body.role_name.trim(),
            &body.crn_pattern,
            &now,
        )
        .await;
    match result {
        Ok((record, version)) => {
            authz::binding_changed(gw.metrics(), &principal.id, "create", &record, version);
            ctx.changed(
                record.pattern.to_string(),
                Some("iam.created"),
                format!(
                    "{} {} {} ({})",
                    record.principal, record.role, record.pattern, record.id
                ),
                Some(version),
            );
            let rb = RoleBinding::new(&record, &base, gw.catalogs().organization_id());
            Ok(response::json(StatusCode::CREATED, &rb))
        }
        Err(e) => {
            authz::binding_refused(&principal.id, "create", e.code().as_str(), &e.to_string());
            ctx.changed(organization_crn(gw), None, e.to_string(), None);
            Err(e.into())
        }
    }
}

/// `GET /iam/v2/role-bindings?…`.
pub async fn list(
    gw: &Arc<Gateway>,
    principal: &Principal,
    req: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let base = base_url(gw);
    let q: Vec<(String, String)> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let param = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let page_size = match param("page_size") {
        None => DEFAULT_PAGE_SIZE,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "page_size must be a number from 1 to {MAX_PAGE_SIZE}"
                ))
            })?,
    };
    let after = match param("page_token") {
        None => None,
        Some(t) if wire::is_binding_id(t) => Some(t.to_string()),
        Some(_) => {
            return Err(ApiError::invalid(
                "page_token is not one this gateway issued",
            ));
        }
    };
    let scope = param("crn_pattern")
        .map(|p| p.parse())
        .transpose()
        .map_err(|e: crate::catalog::CrnError| ApiError::invalid(e.to_string()))?;
    let principal_filter = param("principal")
        .map(|p| {
            crate::auth::principal_id::check(p)
                .map(|()| p.to_string())
                .map_err(|e| ApiError::invalid(e.to_string()))
        })
        .transpose()?;
    let filter = BindingFilter {
        principal: principal_filter,
        role: param("role_name").map(str::to_string),
        scope,
    };
    let (_version, all) = gw.authorizer().list_bindings(&principal.id, &filter);
    let rest: Vec<_> = all
        .iter()
        .filter(|r| after.as_ref().is_none_or(|a| r.id.as_str() > a.as_str()))
        .collect();
    let page: Vec<RoleBinding> = rest
        .iter()
        .take(page_size)
        .map(|r| RoleBinding::new(r, &base, gw.catalogs().organization_id()))
        .collect();
    let keep: Vec<(String, String)> = q.into_iter().filter(|(k, _)| k != "page_token").collect();
    let url_with = |extra: Option<&str>| {
        let mut pairs = keep.clone();
        if let Some(t) = extra {
            pairs.push(("page_token".into(), t.to_string()));
        }
        let qs = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        if qs.is_empty() {
            format!("{base}{ROLE_BINDINGS_PATH}")
        } else {
            format!("{base}{ROLE_BINDINGS_PATH}?{qs}")
        }
    };
    let next = if rest.len() > page_size {
        page.last()
            .map(|rb| url_with(Some(&rb.id)))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let list = RoleBindingList::new(url_with(None), next, page);
    Ok(response::json(StatusCode::OK, &list))
}

/// `GET /iam/v2/role-bindings/{id}`.
pub async fn get(
    gw: &Arc<Gateway>,
    principal: &Principal,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let base = base_url(gw);
    let record = gw
        .authorizer()
        .get_binding(&principal.id, id)
        .ok_or_else(|| ApiError::from(authz::BindingError::NotFound(id.to_string())))?;
    Ok(response::json(
        StatusCode::OK,
        &RoleBinding::new(&record, &base, gw.catalogs().organization_id()),
    ))
}

/// `DELETE /iam/v2/role-bindings/{id}`: 204 once the binding is no longer in force.
pub async fn delete(
    gw: &Arc<Gateway>,
    ctx: &RequestCtx,
    principal: &Principal,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    match gw.authorizer().delete_binding(&principal.id, id).await {
        Ok((record, version)) => {
            authz::binding_changed(gw.metrics(), &principal.id, "delete", &record, version);
            ctx.changed(
                record.pattern.to_string(),
                Some("iam.deleted"),
                format!(
                    "{} {} {} ({})",
                    record.principal, record.role, record.pattern, record.id
                ),
                Some(version),
            );
            Ok(response::empty(StatusCode::NO_CONTENT))
        }
        Err(e) => {
            authz::binding_refused(&principal.id, "delete", e.code().as_str(), &e.to_string());
            ctx.changed(organization_crn(gw), None, e.to_string(), None);
            Err(e.into())
        }
    }
}

/// The configured public origin (links must be absolute; never from the request's Host).
fn base_url(gw: &Gateway) -> String {
    gw.public_origin()
}

fn organization_crn(gw: &Gateway) -> String {
    gw.catalogs()
        .crn(&crate::catalog::ObjectRef::Organization)
        .to_string()
}
