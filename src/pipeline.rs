//! THE request flow for a new statement, top to bottom, one call per stage:
//! parse → resolve → authorize → rewrite → engine, then the task that drives the statement.
//!
//! Deny by default: every stage returns a new type and the engine accepts only the last one,
//! so a statement that was not parsed, resolved and authorized cannot reach it. Every
//! decision is logged under the `sqlgate::decision` target with the request id.

use std::sync::Arc;

use futures::StreamExt;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::auth::Principal;
use crate::authz::AuthorizedStatement;
use crate::context::RequestCtx;
use crate::engine::{ExecContext, Execution};
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::sql::{self, ResolvedStatement, SessionNames};
use crate::statements::store::{Phase, Spec, StatementEntry};
use crate::statements::wire::{self, CreateStatementRequest};

/// Property that makes a create request a dry run.
const DRY_RUN: &str = "sql.dry-run";
/// Property that selects snapshot (bounded) execution.
const SNAPSHOT_MODE: &str = "sql.snapshot.mode";

/// What a create request produced: the Statement object and whether it was stored.
#[derive(Debug)]
pub struct Created {
    /// The wire Statement.
    pub statement: Value,
}

/// Runs a create request through every stage. `base` is the absolute environment URL.
pub async fn create_statement(
    gw: &Arc<Gateway>,
    ctx: &RequestCtx,
    principal: &Principal,
    env: &str,
    base: &str,
    req: CreateStatementRequest,
) -> Result<Created, ApiError> {
    // --- request checks (nothing is decided or run yet)
    wire::validate_name(&req.name).map_err(ApiError::invalid)?;
    if req
        .organization_id
        .as_deref()
        .is_some_and(|o| o != gw.catalogs().organization_id())
        || req.environment_id.as_deref().is_some_and(|e| e != env)
    {
        return Err(ApiError::invalid(
            "organization_id and environment_id in the body must match the URL",
        ));
    }
    if req.spec.stopped {
        return Err(ApiError::invalid(
            "a statement cannot be created stopped (spec.stopped must be false)",
        ));
    }
    let properties = wire::stringify_properties(req.spec.properties).map_err(ApiError::invalid)?;
    let labels = req.metadata.map(|m| m.labels).unwrap_or_default();
    let dry_run = properties
        .get(DRY_RUN)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !dry_run {
        gw.statements().check_free(env, &req.name, &principal.id)?;
    }
    let pool = gw.compute_pool(env, req.spec.compute_pool_id.as_deref())?;
    let spec = Spec {
        statement: req.spec.statement,
        properties,
        compute_pool_id: pool.id.clone(),
    };
    let entry = Arc::new(StatementEntry::new(
        req.name,
        gw.catalogs().organization_id().to_string(),
        env.to_string(),
        principal.id.clone(),
        spec,
        labels,
        gw.gateway_config().result_buffer_rows,
    ));

    // --- 1. parse, 2. resolve: errors here are the caller's SQL
    let session = SessionNames {
        catalog: Some(
            entry
                .spec
                .properties
                .get("sql.current-catalog")
                .cloned()
                .unwrap_or_else(|| env.to_string()),
        ),
        database: entry.spec.properties.get("sql.current-database").cloned(),
    };
    let resolved = match parse_and_resolve(gw, &entry.spec.statement, &session) {
        Ok(r) => r,
        Err(e) if dry_run => return Ok(failed_dry_run(&entry, base, &e)),
        Err(e) => {
            gw.metrics().decision(
                false,
                if matches!(e, ApiError::Sql(_)) {
                    "parse"
                } else {
                    "resolve"
                },
            );
            log_decision(ctx, principal, &entry, "deny", e.code(), &e.detail());
            return Err(e);
        }
    };
    let sql_kind = resolved.sql_kind();

    // --- 3. authorize (region included): refusals are never turned into a FAILED statement
    let authorized: AuthorizedStatement = gw
        .authorizer()
        .authorize(&principal.id, resolved, env, &pool.region)
        .inspect_err(|e| {
            let stage = match e {
                crate::authz::AuthzError::WrongRegion { .. } => "region",
                _ => "authorize",
            };
            gw.metrics().decision(false, stage);
            log_decision(ctx, principal, &entry, "deny", e.code(), &e.detail());
        })?;
    gw.metrics().decision(true, "authorize");
    log_decision(
        ctx,
        principal,
        &entry,
        "allow",
        "authz.granted",
        &describe(&authorized),
    );

    // --- 4. rewrite to canonical names
    let rewritten = sql::rewrite(authorized)?;

    // --- dry run of anything but a query: nothing may run, so the engine is not called
    let is_query = matches!(
        sql_kind,
        "SELECT" | "SHOW_TABLES" | "SHOW_CATALOGS" | "SHOW_DATABASES" | "DESCRIBE" | "EXPLAIN"
    );
    if dry_run && !is_query {
        let traits = json!({"sql_kind": sql_kind, "is_bounded": true, "is_append_only": true, "schema": null});
        entry.transition(Phase::Completed, "Dry run passed", Some(traits));
        return Ok(Created {
            statement: entry.to_json(base),
        });
    }

    // --- 5. engine: planning errors are reported as a FAILED statement, as Confluent does
    let exec_ctx = ExecContext {
        snapshot: entry
            .spec
            .properties
            .get(SNAPSHOT_MODE)
            .is_some_and(|v| v == "now"),
        properties: entry.spec.properties.clone(),
        visible: gw.visibility(&principal.id),
    };
    let execution = match gw.execute(&rewritten, &exec_ctx).await {
        Ok(x) => x,
        Err(e) => {
            entry.transition(Phase::Failed, e.detail(), None);
            if !dry_run {
                gw.statements().insert(entry.clone())?;
            }
            return Ok(Created {
                statement: entry.to_json(base),
            });
        }
    };
    let traits =
        serde_json::to_value(&execution.traits).map_err(|e| ApiError::Internal(e.to_string()))?;
    if dry_run {
        // Dropping the execution's stream cancels it before any row is produced.
        drop(execution);
        entry.transition(Phase::Completed, "Dry run passed", Some(traits));
        return Ok(Created {
            statement: entry.to_json(base),
        });
    }
    entry.transition(Phase::Running, "Statement is running", Some(traits));
    gw.statements().insert(entry.clone())?;
    tokio::spawn(drive(entry.clone(), execution));

    // Quick statements finish within the wait, which saves the client a polling round.
    entry.wait_terminal(gw.gateway_config().create_wait).await;
    Ok(Created {
        statement: entry.to_json(base),
    })
}

fn parse_and_resolve(
    gw: &Gateway,
    text: &str,
    session: &SessionNames,
) -> Result<ResolvedStatement, ApiError> {
    let parsed = sql::parse(text, gw.parse_limits())?;
    Ok(sql::resolve(parsed, gw.catalogs(), session)?)
}

fn failed_dry_run(entry: &StatementEntry, base: &str, e: &ApiError) -> Created {
    entry.transition(Phase::Failed, e.detail(), None);
    Created {
        statement: entry.to_json(base),
    }
}

/// Drives the engine's row stream into the statement's buffer until it ends, fails, or the
/// statement is stopped or deleted (cancel), and records the final phase.
async fn drive(entry: Arc<StatementEntry>, execution: Execution) {
    let mut rows = execution.rows;
    let outcome: Result<(), String> = loop {
        tokio::select! {
            biased;
            _ = entry.cancel.cancelled() => break Ok(()),
            next = rows.next() => match next {
                None => break Ok(()),
                Some(Ok(batch)) => {
                    let encoded: Vec<Value> = batch
                        .into_iter()
                        .filter_map(|r| serde_json::to_value(r).ok())
                        .collect();
                    tokio::select! {
                        _ = entry.cancel.cancelled() => break Ok(()),
                        _ = entry.results.push(encoded) => {}
                    }
                }
                Some(Err(e)) => break Err(e.detail()),
            },
        }
    };
    drop(rows);
    entry.results.finish().await;
    match outcome {
        _ if entry.cancel.is_cancelled() => {
            entry.transition(Phase::Stopped, "Statement was stopped", None);
        }
        Ok(()) => {
            entry.transition(Phase::Completed, "", None);
        }
        Err(detail) => {
            warn!(statement = %entry.name, %detail, "statement failed");
            entry.transition(Phase::Failed, detail, None);
        }
    }
}

fn describe(a: &AuthorizedStatement) -> String {
    a.decisions()
        .iter()
        .map(|d| {
            format!(
                "{} {} via {}",
                d.action.as_str(),
                d.object,
                d.role.as_deref().unwrap_or("-")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn log_decision(
    ctx: &RequestCtx,
    principal: &Principal,
    entry: &StatementEntry,
    decision: &str,
    code: &str,
    detail: &str,
) {
    info!(
        target: "sqlgate::decision",
        request_id = %ctx.request_id,
        client = %ctx.peer,
        principal = %principal.id,
        identity = principal.identity.as_deref().unwrap_or(""),
        statement = %entry.name,
        environment = %entry.environment_id,
        decision,
        code,
        detail,
    );
}
