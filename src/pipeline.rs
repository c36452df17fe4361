//! THE request flow for a new statement, top to bottom, one call per stage: placement (which
//! pool and region), the decision ([`decide`]: parse → resolve → authorize → rewrite, on the
//! decision [`Workers`]), the reservation of the name, the compute pool's admission (a task
//! slot, or waiting PENDING for one: `admission`), the engine (an engine slow to start, such
//! as Flink, is answered PENDING at once and started in the background: `starting`), then the
//! task that drives the statement. The dry runs (`explain`, `tables`) call the same [`decide`] and placement.
//!
//! Deny by default: every stage returns a new type and the engine accepts only the last one,
//! so a statement that was not parsed, resolved and authorized cannot reach it. Every
//! decision is logged under the `sqlgate::decision` target with the request id.

use std::sync::Arc;

use futures::StreamExt;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::audit::{
    AuditRecord, Auditor, AuthzOutcome, ObjectDecision, PrincipalInfo, RequestInfo, StatementEvent,
    StatementInfo,
};
use crate::auth::Principal;
use crate::context::RequestCtx;
use crate::engine::{EngineError, ExecContext, Execution, Start};
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::sql::SessionNames;
use crate::statements::pool_slots::Slot;
use crate::statements::running::{Running, StopReason};
use crate::statements::wire::{self, CreateStatementRequest};
use crate::statements::{Phase, Spec, StatementId, StatementRecord, Statements};

mod admission;
mod authenticate;
mod decide;
pub mod explain;
pub(crate) mod listing;
mod memo;
mod placement;
pub(crate) mod policy_change;
pub(crate) mod policy_fit;
pub mod properties;
mod starting;
pub mod tables;
mod workers;

pub use authenticate::authenticate;
pub(crate) use authenticate::metrics_refused;
pub use decide::{Decided, Decider, Refusal, Request, decide};
pub use explain::{CheckReport, CheckRequest, check};
pub use memo::{DecisionMemo, MemoConfig};
pub use placement::{Placement, PlacementError, Pools};

pub use workers::{PipelineConfig, WorkerError, Workers};

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
    properties::check(&properties).map_err(ApiError::invalid)?;
    crate::engine::zone::check_properties(&properties).map_err(ApiError::invalid)?;
    crate::engine::idle::check_properties(&properties).map_err(ApiError::invalid)?;
    let labels = req.metadata.map(|m| m.labels).unwrap_or_default();
    let dry_run = properties
        .get(DRY_RUN)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !dry_run {
        // An early refusal only; the reservation below decides.
        gw.statements()
            .check_free(env, &req.name, &principal.id)
            .await?;
    }
    let placement = gw.place(env, req.spec.compute_pool_id.as_deref())?;
    let spec = Spec {
        statement: req.spec.statement,
        properties,
        compute_pool_id: placement.compute_pool.clone(),
    };
    let mut entry = StatementRecord::new(
        req.name,
        gw.catalogs().organization_id().to_string(),
        env.to_string(),
        principal.id.clone(),
        spec,
        labels,
        gw.statements().now(),
    );

    // --- 1. parse, 2. resolve, 3. authorize, 4. rewrite: on a decision worker, never here
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
    let request = Request {
        principal: principal.id.clone(),
        text: entry.spec.statement.clone(),
        session,
        placement: placement.clone(),
        claims: principal.claims.clone(),
    };
    let on_worker = gw.clone();
    let (decided, why) = gw
        .workers()
        .run(move || {
            let decided = decide(&on_worker.decider(), &request);
            // What the audit may say about a refusal: never the statement's literals.
            let why = decided
                .outcome
                .as_ref()
                .err()
                .map(|r| r.audit_detail(&request.text));
            (decided, why)
        })
        .await?;
    let mut info = StatementInfo::new(
        gw.catalogs().organization_id(),
        env,
        &placement.region,
        &entry.name,
    );
    info.compute_pool = Some(placement.compute_pool.clone());
    info.sql = Some(decided.sql);
    info.sql_kind = decided.kind.map(str::to_string);
    if let Ok(r) = &decided.outcome {
        info.data_policies = crate::rewrite::describe_applied(r.data_policies());
    }
    let trail = AuditTrail {
        auditor: gw.auditor().clone(),
        req: ctx.into(),
        principal: principal.into(),
        stmt: info,
    };
    let policy_version = decided
        .policy_version
        .map(|v| v.to_string())
        .unwrap_or_default();
    let rewritten = match decided.outcome {
        Ok(r) => r,
        Err(refusal) => {
            let stage = refusal.stage();
            let why = why.unwrap_or_default();
            // Every refusal is an authorization-stage record naming the stage (never a FAILED
            // statement: nothing was created); before authorization no access was decided.
            let before = |code: crate::error::ErrorCode| {
                AuthzOutcome::refused_before(code.as_str(), &why, &policy_version)
            };
            let (outcome, error): (_, ApiError) = match refusal {
                Refusal::Parse(e) => (before(e.code()), e.into()),
                Refusal::Resolve(e) => (before(e.code()), e.into()),
                Refusal::Rewrite(e) => (before(e.code()), e.into()),
                Refusal::Authorize(e) => (
                    AuthzOutcome::refused(&e, gw.catalogs(), &policy_version),
                    e.into(),
                ),
            };
            if dry_run && matches!(stage, "parse" | "resolve") {
                return Ok(failed_dry_run(gw, &mut entry, base, &error));
            }
            gw.metrics().decision(false, stage);
            log_decision(
                ctx,
                principal,
                &entry,
                "deny",
                error.code().as_str(),
                &error.detail(),
            );
            // Durable in the audit log before the client hears of it.
            trail.decision(&outcome, Some(stage)).await?;
            ctx.refused_at(stage, why);
            return Err(error);
        }
    };
    let sql_kind = rewritten.sql_kind();
    gw.metrics().decision(true, "authorize");
    log_decision(
        ctx,
        principal,
        &entry,
        "allow",
        "authz.granted",
        &describe(rewritten.decisions()),
    );
    let mut outcome = AuthzOutcome::granted(rewritten.decisions(), gw.catalogs(), &policy_version);
    let environment = crate::catalog::ObjectRef::Catalog(env.to_string());
    outcome.run = Some(ObjectDecision {
        object: environment.to_string(),
        crn: gw.catalogs().crn(&environment).to_string(),
        action: "run".into(),
        granted: true,
        role: None,
        binding: None,
        missing_role: None,
    });
    trail.decision(&outcome, None).await?;

    // --- dry run of anything but a query: nothing may run, so the engine is not called
    // Only statements that change nothing may reach the engine in a dry run (it plans them;
    // dropping the row stream unpolled runs nothing).
    let is_query = matches!(sql_kind, "SELECT" | "EXPLAIN")
        || sql_kind.starts_with("SHOW_")
        || sql_kind.starts_with("DESCRIBE");
    if dry_run && !is_query {
        let traits = json!({"sql_kind": sql_kind, "is_bounded": true, "is_append_only": true, "schema": null});
        entry.transition(
            Phase::Completed,
            "Dry run passed",
            Some(traits),
            gw.statements().now(),
        );
        return Ok(Created {
            statement: wire::statement(&entry, base),
        });
    }

    // --- the name is reserved before the engine does any work, so two creates with one name
    // never both run it (a dry run reserves nothing)
    let reservation = match dry_run {
        true => None,
        false => Some(gw.statements().reserve(&entry).await?),
    };
    // From here a policy change that alters what it reads ends it, whatever its phase.
    if let (Some(running), Some(reads)) = (&reservation, rewritten.read_policies()) {
        policy_change::watch(gw, running, reads.clone());
    }

    // --- 5. engine: planning errors are reported as a FAILED statement, as Confluent does
    let exec_ctx = ExecContext {
        snapshot: entry
            .spec
            .properties
            .get(SNAPSHOT_MODE)
            .is_some_and(|v| v == "now"),
        name: Some(entry.name.clone()),
        local_time_zone: entry.spec.properties.get("sql.local-time-zone").cloned(),
        scan_idle_timeout: entry
            .spec
            .properties
            .get(crate::engine::idle::PROPERTY)
            .and_then(|v| crate::engine::idle::parse(v).ok()),
        dry_run,
    };

    // --- the compute pool: a statement that keeps the engine busy takes a task slot of its
    // pool, or waits PENDING (POOL_EXHAUSTED) for one with nothing sent to the engine
    let slot = match &reservation {
        None => None,
        Some(running) => match admission::admit(gw, &entry, sql_kind, &trail).await? {
            admission::Admit::Now(slot) => slot,
            admission::Admit::Wait(ticket) => {
                let queued = admission::Queued {
                    ticket,
                    rewritten,
                    exec_ctx,
                    running: running.clone(),
                    trail,
                    principal: principal.id.clone(),
                };
                let waiting = admission::wait(gw, entry, queued).await?;
                return Ok(Created {
                    statement: wire::statement(&waiting, base),
                });
            }
        },
    };
    // A dry run plans the statement to its end; a statement handed to an engine that is slow
    // to start (Flink) is answered PENDING at once and started in the background, holding its
    // slot from here.
    let execution = match &reservation {
        None => gw.execute(&rewritten, &exec_ctx).await,
        Some(running) => match gw.start(&rewritten, &exec_ctx).await {
            Ok(Start::Running(x)) => Ok(x),
            Ok(Start::Pending(pending)) => {
                let bg = starting::Background {
                    rewritten,
                    running: running.clone(),
                    trail,
                    principal: principal.id.clone(),
                    slot,
                };
                let record = starting::in_background(gw, entry, pending, bg).await?;
                return Ok(Created {
                    statement: wire::statement(&record, base),
                });
            }
            Err(e) => Err(e),
        },
    };
    // Listings lose the rows the caller may not see before anything reads them.
    let execution = execution.and_then(|x| {
        listing::visible_only(
            &rewritten,
            x,
            gw.visibility(rewritten.warrant().principal()),
        )
    });
    let execution = match execution {
        Ok(x) => x,
        // The storage behind the statement did not answer: nothing ran, so the client is told
        // to retry (503) instead of getting a FAILED statement it would have to delete.
        Err(e @ EngineError::Unavailable(_)) => {
            warn!(statement = %entry.name, error = %e, "storage unavailable");
            if reservation.is_some()
                && let Err(r) = gw.statements().release(&entry.id()).await
            {
                warn!(statement = %entry.name, error = %r, "could not release the statement's name");
            }
            return Err(ApiError::Engine(e));
        }
        Err(e) => {
            entry.transition(Phase::Failed, e.detail(), None, gw.statements().now());
            if reservation.is_some() {
                let statements = gw.statements();
                statements.forget_results(&entry.uid);
                let stored = statements
                    .transition(&entry.id(), Phase::Failed, &e.detail(), None)
                    .await?;
                trail.event(StatementEvent::Failed, &e.detail()).await?;
                entry = stored.unwrap_or(entry);
            }
            return Ok(Created {
                statement: wire::statement(&entry, base),
            });
        }
    };
    let traits =
        serde_json::to_value(&execution.traits).map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(running) = reservation else {
        // Dropping the execution's stream stops it before any row is produced.
        drop(execution);
        entry.transition(
            Phase::Completed,
            "Dry run passed",
            Some(traits),
            gw.statements().now(),
        );
        return Ok(Created {
            statement: wire::statement(&entry, base),
        });
    };
    // From here a stop or DELETE stops the engine's work itself, not only its reading.
    running.attach_engine(execution.cancel.clone());
    let statements = gw.statements().clone();
    // The Created and Running records are queued in order and waited for once, after the
    // second: they share an fsync, and both are durable before the client hears of either.
    let created = trail.submit(StatementEvent::Created, "").await?;
    let Some(started) = statements
        .transition(
            &entry.id(),
            Phase::Running,
            "Statement is running",
            Some(traits),
        )
        .await?
    else {
        // Deleted while the engine planned it: nothing is left to run or to show.
        drop(execution);
        created.durable().await?;
        return Err(ApiError::not_found(format!(
            "statement `{}` was deleted while it was being created",
            entry.name
        )));
    };
    let running_record = trail.submit(StatementEvent::Running, "").await?;
    created.durable().await?;
    running_record.durable().await?;
    tokio::spawn(drive(
        statements.clone(),
        started.id(),
        running.clone(),
        execution,
        trail,
        slot,
    ));

    // Quick statements finish within the wait, which saves the client a polling round.
    running.wait_terminal(gw.gateway_config().create_wait).await;
    let now = statements
        .get(env, &started.name)
        .await?
        .filter(|r| r.uid == started.uid)
        .unwrap_or(started);
    Ok(Created {
        statement: wire::statement(&now, base),
    })
}

/// Who, what and where, for the audit records of one statement.
#[derive(Debug, Clone)]
pub(crate) struct AuditTrail {
    auditor: Auditor,
    req: RequestInfo,
    principal: PrincipalInfo,
    stmt: StatementInfo,
}

impl AuditTrail {
    /// Records a lifecycle event and waits until it is durable.
    async fn event(&self, event: StatementEvent, message: &str) -> Result<(), ApiError> {
        self.submit(event, message).await?.durable().await?;
        Ok(())
    }

    /// Queues a lifecycle event; the caller waits for it (or for a later record of the
    /// trail, which is written after it) before answering.
    async fn submit(
        &self,
        event: StatementEvent,
        message: &str,
    ) -> Result<crate::audit::Submitted<'_>, ApiError> {
        let record =
            AuditRecord::statement(Some(&self.req), &self.principal, &self.stmt, event, message);
        Ok(self.auditor.submit(record).await?)
    }

    /// Records an authorization decision (a refusal with the `stage` that refused) and waits
    /// until it is durable.
    async fn decision(&self, outcome: &AuthzOutcome, stage: Option<&str>) -> Result<(), ApiError> {
        let mut record =
            AuditRecord::authorization(&self.req, &self.principal, &self.stmt, outcome);
        if let Some(stage) = stage {
            record = record.refused_at(stage);
        }
        self.auditor.record(record).await?;
        Ok(())
    }
}

/// Records a statement's deletion (the request that deleted it is the one in `ctx`).
pub async fn audit_deleted(
    gw: &Gateway,
    ctx: &RequestCtx,
    principal: &Principal,
    entry: &StatementRecord,
) -> Result<(), ApiError> {
    let region = gw
        .place(&entry.environment_id, Some(&entry.spec.compute_pool_id))
        .map(|p| p.region)
        .unwrap_or_else(|_| gw.gateway_config().region.clone());
    let mut info = StatementInfo::new(
        &entry.organization_id,
        &entry.environment_id,
        &region,
        &entry.name,
    );
    info.compute_pool = Some(entry.spec.compute_pool_id.clone());
    let record = AuditRecord::statement(
        Some(&ctx.into()),
        &principal.into(),
        &info,
        StatementEvent::Deleted,
        "",
    );
    gw.auditor().record(record).await?;
    Ok(())
}

fn failed_dry_run(gw: &Gateway, entry: &mut StatementRecord, base: &str, e: &ApiError) -> Created {
    entry.transition(Phase::Failed, e.detail(), None, gw.statements().now());
    Created {
        statement: wire::statement(entry, base),
    }
}

/// Drives the engine's row stream into the statement's buffer until it ends, fails, or the
/// statement is stopped or deleted (cancel), then records the final phase and audits it.
/// Cancelled by the gateway's shutdown, it records nothing: the statement did not end, and
/// the next start reports it as ended by the restart. The statement's task slot (if it holds
/// one) is given back as soon as the engine's work has ended, before the end is recorded.
async fn drive(
    statements: Arc<Statements>,
    id: StatementId,
    running: Arc<Running>,
    execution: Execution,
    trail: AuditTrail,
    slot: Option<Slot>,
) {
    let mut rows = execution.rows;
    let cancel = running.cancel_token().clone();
    let outcome: Result<(), String> = loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break Ok(()),
            next = rows.next() => match next {
                None => break Ok(()),
                Some(Ok(batch)) => {
                    let encoded: Vec<Value> = batch
                        .into_iter()
                        .filter_map(|r| serde_json::to_value(r).ok())
                        .collect();
                    tokio::select! {
                        _ = cancel.cancelled() => break Ok(()),
                        _ = running.results.push(encoded) => {}
                    }
                }
                Some(Err(e)) => break Err(e.detail()),
            },
        }
    };
    drop(rows);
    drop(slot);
    running.results.finish().await;
    if running.stop_reason() == Some(StopReason::Shutdown) {
        info!(statement = %id.name, "statement left unfinished by the shutdown");
        return;
    }
    let (phase, event, detail) = match outcome {
        // A policy change ended it: not the owner's stop, so FAILED, saying which change.
        _ if running.stop_reason() == Some(StopReason::PolicyChanged) => {
            let detail = running.policy_detail().unwrap_or_default();
            warn!(statement = %id.name, %detail, "statement ended by a policy change");
            (Phase::Failed, StatementEvent::Failed, detail)
        }
        _ if running.is_cancelled() => (
            Phase::Stopped,
            StatementEvent::Stopped,
            "Statement was stopped".to_string(),
        ),
        Ok(()) => (Phase::Completed, StatementEvent::Completed, String::new()),
        Err(detail) => {
            warn!(statement = %id.name, %detail, "statement failed");
            (Phase::Failed, StatementEvent::Failed, detail)
        }
    };
    match statements.transition(&id, phase, &detail, None).await {
        Ok(Some(_)) => {
            if let Err(e) = trail.event(event, &detail).await {
                // The response went out long ago; the sink now refuses further writes, so
                // later requests get 503 until the log is repaired.
                warn!(statement = %id.name, error = %e, "could not audit the statement's end");
            }
        }
        // Ended already (a stop raced the end), or deleted.
        Ok(None) => {}
        Err(e) => warn!(statement = %id.name, error = %e, "could not record the statement's end"),
    }
}

/// The granted accesses of a statement, for logs and decision tables:
/// `read `env-dev`.`lkc-dev`.`orders` via ResourceOwner; …`.
pub(crate) fn describe(decisions: &[crate::authz::Decision]) -> String {
    decisions
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
    entry: &StatementRecord,
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
