//! The start of a statement in the background: one flow for a statement that waited for a
//! task slot of its compute pool (`admission`) and for one whose engine is slow to start
//! (a Flink submission, [`Start::Pending`]), and the common end of both: RUNNING with the
//! engine's traits and the driving task, FAILED with the engine's detail, or, when stopped,
//! deleted or shut down meanwhile, the start abandoned.
//!
//! A statement whose engine starts it in the background is stored PENDING with the engine's
//! detail (`starting`), audited as created, and answered at once; the client polls until it
//! is RUNNING, COMPLETED or FAILED, as Confluent's clients do. Its task slot, if it holds
//! one, is held from the moment it is handed to the engine. Stopping it while PENDING ends it
//! STOPPED and deleting it removes it; either drops the engine's start, which closes or
//! cancels whatever the engine had opened. A restart ends it FAILED with
//! [`crate::statements::lifecycle::RESTART_STARTING`].

use std::sync::Arc;

use futures::future::BoxFuture;
use tracing::{info, warn};

use super::{AuditTrail, listing};
use crate::audit::StatementEvent;
use crate::engine::{EngineError, ExecContext, Execution, Pending, Start};
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::rewrite::RewrittenStatement;
use crate::statements::pool_slots::Slot;
use crate::statements::running::{Running, StopReason};
use crate::statements::{Phase, StatementId, StatementRecord};

/// Detail of a statement stopped while its engine was starting it.
const STOPPED_STARTING: &str = "Statement was stopped while it was being submitted to its \
     compute pool's engine; it never ran, and what the engine had opened for it was closed";

/// What a statement started in the background carries to its end.
#[derive(Debug)]
pub(super) struct Background {
    /// The checked statement, as the engine gets it.
    pub(super) rewritten: Arc<RewrittenStatement>,
    /// Its process-local handle (cancelled by stop, delete and shutdown).
    pub(super) running: Arc<Running>,
    /// Its audit records.
    pub(super) trail: AuditTrail,
    /// The owner, whose visibility filters listings.
    pub(super) principal: String,
    /// Its task slot, if it holds one.
    pub(super) slot: Option<Slot>,
}

/// Records a statement just created as PENDING while its engine starts it (the engine's
/// detail), audits its creation, and leaves the rest of the start to a task. Returns the
/// record to answer with. On an error nothing is kept and the start is abandoned.
pub(super) async fn in_background(
    gw: &Arc<Gateway>,
    entry: StatementRecord,
    pending: Pending,
    bg: Background,
) -> Result<StatementRecord, ApiError> {
    let id = entry.id();
    let marked = async {
        let marked = gw.statements().mark_starting(&id, &pending.detail).await?;
        bg.trail
            .event(StatementEvent::Created, &pending.detail)
            .await?;
        Ok::<_, ApiError>(marked)
    }
    .await;
    match marked {
        Ok(Some(marked)) => {
            info!(statement = %entry.name, "statement is being started by its engine");
            tokio::spawn(finish(gw.clone(), id, pending.rest, bg));
            Ok(marked)
        }
        Ok(None) => Err(ApiError::not_found(format!(
            "statement `{}` was deleted while it was being created",
            entry.name
        ))),
        Err(e) => {
            if let Err(r) = gw.statements().release(&id).await {
                warn!(statement = %entry.name, error = %r, "could not release the statement's name");
            }
            Err(e)
        }
    }
}

/// Hands a statement whose create was answered already (it waited for its pool) to its
/// engine, and drives it to its end.
pub(super) async fn start(
    gw: Arc<Gateway>,
    id: StatementId,
    exec_ctx: ExecContext,
    bg: Background,
) {
    match gw.start(&bg.rewritten, &exec_ctx).await {
        Ok(Start::Running(execution)) => started(gw, id, Ok(execution), bg).await,
        Ok(Start::Pending(pending)) => {
            match gw.statements().mark_starting(&id, &pending.detail).await {
                Ok(Some(_)) => {}
                // Deleted meanwhile: dropping the start abandons it.
                Ok(None) => return,
                Err(e) => {
                    warn!(statement = %id.name, error = %e, "could not record that the statement is being started")
                }
            }
            finish(gw, id, pending.rest, bg).await
        }
        Err(e) => started(gw, id, Err(e), bg).await,
    }
}

/// Awaits the rest of an engine's start, or gives it up when the statement is stopped,
/// deleted or shut down (dropping it makes the engine close what it opened).
async fn finish(
    gw: Arc<Gateway>,
    id: StatementId,
    rest: BoxFuture<'static, Result<Execution, EngineError>>,
    bg: Background,
) {
    let cancel = bg.running.cancel_token().clone();
    let outcome = tokio::select! {
        biased;
        _ = cancel.cancelled() => None,
        execution = rest => Some(execution),
    };
    match outcome {
        Some(execution) => started(gw, id, execution, bg).await,
        None => {
            let Background {
                running,
                trail,
                slot,
                ..
            } = bg;
            drop(slot);
            never_started(&gw, &id, &running, &trail, STOPPED_STARTING).await;
        }
    }
}

/// Ends a statement that was stopped before it ran: STOPPED, saying `detail`; nothing to
/// record if it was deleted or the gateway is shutting down (the restart ends it).
pub(super) async fn never_started(
    gw: &Gateway,
    id: &StatementId,
    running: &Running,
    trail: &AuditTrail,
    detail: &str,
) {
    let policy = running.policy_detail();
    let (phase, event, detail) = match running.stop_reason() {
        Some(StopReason::Stopped) => (Phase::Stopped, StatementEvent::Stopped, detail),
        // A policy change ended it before it ran: FAILED, saying which change.
        Some(StopReason::PolicyChanged) => (
            Phase::Failed,
            StatementEvent::Failed,
            policy.as_deref().unwrap_or(detail),
        ),
        _ => return,
    };
    let statements = gw.statements();
    match statements.transition(id, phase, detail, None).await {
        Ok(Some(_)) => {
            if let Err(e) = trail.event(event, detail).await {
                warn!(statement = %id.name, error = %e, "could not audit the statement's stop");
            }
        }
        Ok(None) => {}
        Err(e) => warn!(statement = %id.name, error = %e, "could not record the statement's stop"),
    }
    running.results.finish().await;
}

/// Records what the engine's start gave: RUNNING and the driving task, or FAILED. The
/// create was answered already, so failures are recorded on the statement.
async fn started(
    gw: Arc<Gateway>,
    id: StatementId,
    execution: Result<Execution, EngineError>,
    bg: Background,
) {
    let Background {
        rewritten,
        running,
        trail,
        principal,
        slot,
    } = bg;
    let statements = gw.statements().clone();
    let execution =
        execution.and_then(|x| listing::visible_only(&rewritten, x, gw.visibility(&principal)));
    let (execution, traits) = match execution.map(|x| {
        let traits = serde_json::to_value(&x.traits);
        (x, traits)
    }) {
        Ok((x, Ok(traits))) => (x, traits),
        Ok((_, Err(e))) => return fail(&gw, &id, &trail, &format!("internal error: {e}")).await,
        Err(e) => return fail(&gw, &id, &trail, &e.detail()).await,
    };
    running.attach_engine(execution.cancel.clone());
    match statements
        .transition(&id, Phase::Running, "Statement is running", Some(traits))
        .await
    {
        Ok(Some(_)) => {}
        // Deleted as it started: dropping the execution stops it.
        Ok(None) => return,
        // Dropping the execution stops it; the restart ends the record.
        Err(e) => {
            warn!(statement = %id.name, error = %e, "could not record the statement's start");
            return;
        }
    }
    // Nothing runs unaudited: without the record, the statement is stopped and failed.
    if let Err(e) = trail.event(StatementEvent::Running, "").await {
        warn!(statement = %id.name, error = %e, "could not audit the statement's start; not running it");
        drop(execution);
        running.cancel(StopReason::Deleted);
        let detail = "The audit log could not be written, so the statement was not run";
        if let Err(e) = statements
            .transition(&id, Phase::Failed, detail, None)
            .await
        {
            warn!(statement = %id.name, error = %e, "could not record the statement's failure");
        }
        return;
    }
    super::drive(statements, id, running, execution, trail, slot).await;
}

/// Records that a statement started in the background failed on the engine.
async fn fail(gw: &Gateway, id: &StatementId, trail: &AuditTrail, detail: &str) {
    let statements = gw.statements();
    let changed = statements.transition(id, Phase::Failed, detail, None).await;
    // After the change, which tells the handle's waiters (a stop waits for the end).
    statements.forget_results(&id.uid);
    match changed {
        Ok(Some(_)) => {
            if let Err(e) = trail.event(StatementEvent::Failed, detail).await {
                warn!(statement = %id.name, error = %e, "could not audit the statement's failure");
            }
        }
        Ok(None) => {}
        Err(e) => {
            warn!(statement = %id.name, error = %e, "could not record the statement's failure")
        }
    }
}
