//! Handlers of the statements routes (R1–R6 of the contract): each authenticates nothing
//! itself (the caller passes the principal), checks ownership, and renders the wire shapes.
//!
//! They live in `http` rather than in [`crate::statements`] because they call the pipeline:
//! the statement lifecycle below them imports neither `http` nor `pipeline`.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::json;

use crate::auth::Principal;
use crate::context::RequestCtx;
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::pipeline;
use crate::statements::StatementRecord;
use crate::statements::results::{Page, PageError};
use crate::statements::store::ListFilter;
use crate::statements::wire::{
    self, CreateStatementRequest, PatchOp, ResultData, ResultMetadata, StatementResult,
};

use super::body::{decode_json, read_limited};
use super::response::{self, Body};
use super::route::EnvPath;

/// Everything a handler needs about its request.
#[derive(Debug)]
pub struct Call<'a> {
    /// The gateway.
    pub gw: &'a Arc<Gateway>,
    /// Request context.
    pub ctx: &'a RequestCtx,
    /// Who is calling.
    pub principal: &'a Principal,
    /// Organization and environment from the path (already checked to exist).
    pub path: &'a EnvPath,
    /// Absolute base URL of the environment, as the client addressed us.
    pub base: String,
}

/// `POST …/statements`.
pub async fn create(call: Call<'_>, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = read_limited(&parts.headers, body, call.gw.server_config().body_limits()).await?;
    let create: CreateStatementRequest = decode_json(&bytes)?;
    let created = pipeline::create_statement(
        call.gw,
        call.ctx,
        call.principal,
        &call.path.env,
        &call.base,
        create,
    )
    .await?;
    Ok(response::json(StatusCode::OK, &created.statement))
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("statement `{name}` not found"))
}

/// Finds a statement the caller may see; others' statements are reported as missing.
async fn visible(call: &Call<'_>, name: &str) -> Result<StatementRecord, ApiError> {
    call.gw
        .statements()
        .get(&call.path.env, name)
        .await?
        .filter(|e| {
            e.owner == call.principal.id || call.gw.authorizer().is_admin(&call.principal.id)
        })
        .ok_or_else(|| not_found(name))
}

/// `GET …/statements/{name}`.
pub async fn get(call: Call<'_>, name: &str) -> Result<Response<Body>, ApiError> {
    let e = visible(&call, name).await?;
    Ok(response::json(
        StatusCode::OK,
        &wire::statement(&e, &call.base),
    ))
}

/// `DELETE …/statements/{name}`: stops the statement if running, then forgets it.
pub async fn delete(call: Call<'_>, name: &str) -> Result<Response<Body>, ApiError> {
    visible(&call, name).await?;
    if let Some(gone) = call.gw.statements().remove(&call.path.env, name).await? {
        pipeline::audit_deleted(call.gw, call.ctx, call.principal, &gone).await?;
    }
    Ok(response::empty(StatusCode::ACCEPTED))
}

/// `PATCH …/statements/{name}` with `[{"op":"replace","path":"/spec/stopped","value":true}]`.
pub async fn patch(
    call: Call<'_>,
    name: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let e = visible(&call, name).await?;
    let (parts, body) = req.into_parts();
    let bytes = read_limited(&parts.headers, body, call.gw.server_config().body_limits()).await?;
    let ops: Vec<PatchOp> = decode_json(&bytes)?;
    if ops.is_empty() {
        return Err(ApiError::invalid("the patch is empty"));
    }
    for op in &ops {
        match (op.op.as_str(), op.path.as_str(), &op.value) {
            ("replace", "/spec/stopped", serde_json::Value::Bool(true)) => {}
            ("replace", "/spec/stopped", serde_json::Value::Bool(false)) => {
                if e.state.stopped {
                    return Err(ApiError::invalid("a stopped statement cannot be resumed"));
                }
            }
            _ => {
                return Err(ApiError::invalid(format!(
                    "unsupported patch `{} {}`: only replace /spec/stopped is supported",
                    op.op, op.path
                )));
            }
        }
    }
    let e = if ops.iter().any(|o| o.value == serde_json::Value::Bool(true)) {
        call.gw
            .statements()
            .stop(&e.id(), std::time::Duration::from_secs(2))
            .await?
            .ok_or_else(|| not_found(name))?
    } else {
        e
    };
    Ok(response::json(
        StatusCode::OK,
        &wire::statement(&e, &call.base),
    ))
}

/// `GET …/statements?page_size&page_token&label_selector&spec.compute_pool_id&statement_name_search_query`.
pub async fn list(call: Call<'_>, query: Option<&str>) -> Result<Response<Body>, ApiError> {
    let q: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let param = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let page_size = match param("page_size") {
        None => 100,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::invalid("page_size must be a number from 1 to 1000"))?,
    };
    let offset = match param("page_token") {
        None | Some("") => 0,
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| ApiError::invalid("page_token is not one this gateway issued"))?,
    };
    let label_selector = param("label_selector").map(|l| {
        let l = l.split('=').next().unwrap_or(l);
        if l.starts_with("user.confluent.io/") {
            l.to_string()
        } else {
            format!("user.confluent.io/{l}")
        }
    });
    let admin = call.gw.authorizer().is_admin(&call.principal.id);
    let filter = ListFilter {
        environment: Some(call.path.env.clone()),
        owner: (!admin).then(|| call.principal.id.clone()),
        label: label_selector,
        compute_pool: param("spec.compute_pool_id").map(str::to_string),
        name_contains: param("statement_name_search_query").map(str::to_string),
    };
    let all = call.gw.statements().list(&filter).await?;
    // Tokens are offsets this gateway issued, so never past the end it listed (a list that
    // shrank since then ends early); anything else is refused, not wrapped or clamped.
    if offset > all.len() {
        return Err(ApiError::invalid(
            "page_token is not one this gateway issued (it points past the end of the list); list again without it",
        ));
    }
    let data: Vec<_> = all
        .iter()
        .skip(offset)
        .take(page_size)
        .map(|e| wire::statement(e, &call.base))
        .collect();
    let next = if offset.saturating_add(page_size) < all.len() {
        let mut keep: Vec<(String, String)> =
            q.into_iter().filter(|(k, _)| k != "page_token").collect();
        keep.push(("page_token".into(), (offset + page_size).to_string()));
        let qs = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(keep)
            .finish();
        format!("{}/statements?{qs}", call.base)
    } else {
        String::new()
    };
    Ok(response::json(
        StatusCode::OK,
        &json!({"api_version": "sql/v1", "kind": "StatementList", "metadata": {"self": format!("{}/statements", call.base), "next": next}, "data": data}),
    ))
}

/// `GET …/statements/{name}/results[?page_token=n]`. A statement this gateway holds no rows
/// for (they went with a restart, or it never produced any) answers with no rows and no
/// `next`; its phase and detail say why.
pub async fn results(
    call: Call<'_>,
    name: &str,
    query: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let e = visible(&call, name).await?;
    let token = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "page_token")
        .map(|(_, v)| v.into_owned());
    let from = match token.as_deref() {
        None | Some("") => 0,
        Some(t) => t
            .parse::<u64>()
            .map_err(|_| ApiError::invalid("page_token is not one this gateway issued"))?,
    };
    let cfg = call.gw.gateway_config();
    let page = match call.gw.statements().running(&e.uid) {
        Some(running) => {
            running
                .results
                .page(from, cfg.page_rows, cfg.results_wait)
                .await?
        }
        None if from == 0 => Page {
            rows: Vec::new(),
            next: None,
        },
        None => return Err(PageError::BadToken(from).into()),
    };
    let results_url = format!("{}/statements/{}/results", call.base, e.name);
    let self_url = match token {
        Some(t) => format!("{results_url}?page_token={t}"),
        None => results_url.clone(),
    };
    let next = page
        .next
        .map(|n| format!("{results_url}?page_token={n}"))
        .unwrap_or_default();
    Ok(response::json(
        StatusCode::OK,
        &StatementResult {
            api_version: "sql/v1",
            kind: "StatementResult",
            metadata: ResultMetadata { self_url, next },
            results: ResultData { data: page.rows },
        },
    ))
}
