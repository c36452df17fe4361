//! Admission to a compute pool: which statements hold a task slot, what a statement beyond
//! the pool's `max_slots` shows while it waits, and the task that starts it once a slot is
//! free.
//!
//! A statement the engine works on for its lifetime (a query while it runs, `INSERT`,
//! `CREATE TABLE … AS`, a statement set) holds [`SLOTS_PER_STATEMENT`] slots from the moment
//! it is handed to the engine until its work ends (completed, failed, stopped, deleted, or
//! the gateway's shutdown). DDL, `SHOW`, `DESCRIBE`, `EXPLAIN`, session statements and dry
//! runs hold none, like Confluent's metadata statements, which use no CFUs. Statements that
//! were refused never got this far.
//!
//! With no slot free, the statement stays PENDING: stored, its name reserved, audited as
//! created, `status.detail` and `scaling_status` saying `POOL_EXHAUSTED`, and nothing sent to
//! the engine. It waits in its pool's queue, first come first served, and starts when a slot
//! is handed to it, by the background start of `starting` (PENDING → RUNNING, or still PENDING
//! while a slow engine such as Flink accepts it). Stopping it ends it STOPPED without running it;
//! deleting it removes it from the queue. A restart ends it FAILED with
//! [`crate::statements::lifecycle::RESTART_QUEUED`] (it never ran). Beyond
//! `compute_pools.max_pending` waiting statements, a create is refused (429
//! `compute_pool.queue_full`) and its name is given back.
//!
//! [`SLOTS_PER_STATEMENT`]: crate::statements::pool_slots::SLOTS_PER_STATEMENT

use std::sync::Arc;

use tracing::{info, warn};

use super::AuditTrail;
use super::starting::{self, Background};
use crate::audit::StatementEvent;
use crate::engine::ExecContext;
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::rewrite::RewrittenStatement;
use crate::statements::pool_slots::{Admission, Slot, Ticket};
use crate::statements::running::Running;
use crate::statements::{StatementId, StatementRecord};

/// The statement kinds that keep the engine busy for their lifetime, and so hold a slot.
const SLOT_HOLDERS: [&str; 5] = [
    "SELECT",
    "INSERT_INTO",
    "CREATE_TABLE_AS",
    "REPLACE_TABLE_AS",
    "STATEMENT_SET",
];

/// Whether a statement of kind `sql_kind` holds a task slot of its pool while it runs.
pub(super) fn holds_slot(sql_kind: &str) -> bool {
    SLOT_HOLDERS.contains(&sql_kind)
}

/// What a statement's pool said.
#[derive(Debug)]
pub(super) enum Admit {
    /// Run now; the slot (if the statement holds one) goes to the driving task.
    Now(Option<Slot>),
    /// Wait for a slot.
    Wait(Ticket),
}

/// Asks the statement's pool for a slot. A refusal (queue full) gives the reserved name back
/// and is audited as the statement's failure before the client hears of it.
pub(super) async fn admit(
    gw: &Gateway,
    entry: &StatementRecord,
    sql_kind: &str,
    trail: &AuditTrail,
) -> Result<Admit, ApiError> {
    if !holds_slot(sql_kind) {
        return Ok(Admit::Now(None));
    }
    match gw
        .pool_slots()
        .admit(&entry.spec.compute_pool_id, &entry.uid)
    {
        Admission::Granted(slot) => Ok(Admit::Now(Some(slot))),
        Admission::Queued(ticket) => Ok(Admit::Wait(ticket)),
        Admission::Full(full) => {
            if let Err(e) = gw.statements().release(&entry.id()).await {
                warn!(statement = %entry.name, error = %e, "could not release the statement's name");
            }
            count_refusal(gw, &full.pool);
            let error = ApiError::from(full);
            trail.event(StatementEvent::Failed, &error.detail()).await?;
            Err(error)
        }
    }
}

/// Counts a create refused because `pool`'s queue was full.
fn count_refusal(gw: &Gateway, pool: &str) {
    if let Some(p) = gw.pools().all().iter().find(|p| p.id == pool) {
        let labels = crate::metrics::pools::PoolLabels {
            compute_pool: p.id.clone(),
            environment: p.environment.clone(),
            region: p.region.clone(),
        };
        gw.metrics()
            .pools
            .statements_refused
            .get_or_create(&labels)
            .inc();
    }
}

/// `status.detail` of a statement waiting for a slot of `pool`.
pub(crate) fn exhausted_detail(pool: &str, max_slots: u32) -> String {
    format!(
        "Compute pool `{pool}` is exhausted (POOL_EXHAUSTED): all {max_slots} of its task slots \
         (compute_pools.max_slots) are in use. The statement waits, first come first served, and \
         starts when a running statement of the pool ends; nothing runs until then. Stop or \
         delete it to give up."
    )
}

/// What a waiting statement needs to start later.
#[derive(Debug)]
pub(super) struct Queued {
    /// Its place in the pool's queue.
    pub(super) ticket: Ticket,
    /// The checked statement, as the engine will get it.
    pub(super) rewritten: Arc<RewrittenStatement>,
    /// Its execution settings.
    pub(super) exec_ctx: ExecContext,
    /// Its process-local handle (cancelled by stop, delete and shutdown).
    pub(super) running: Arc<Running>,
    /// Its audit records.
    pub(super) trail: AuditTrail,
    /// The owner, whose visibility filters listings.
    pub(super) principal: String,
}

/// Records the statement as waiting for its pool, audits its creation, and leaves a task to
/// start it when a slot is handed to it. Returns the record to answer with (PENDING,
/// `POOL_EXHAUSTED`).
pub(super) async fn wait(
    gw: &Arc<Gateway>,
    entry: StatementRecord,
    queued: Queued,
) -> Result<StatementRecord, ApiError> {
    let id = entry.id();
    let pool = &entry.spec.compute_pool_id;
    let max_slots = gw.pool_slots().max_slots(pool).unwrap_or_default();
    let detail = exhausted_detail(pool, max_slots);
    let marked = async {
        let marked = gw.statements().mark_pool_exhausted(&id, &detail).await?;
        queued.trail.event(StatementEvent::Created, &detail).await?;
        Ok::<_, ApiError>(marked)
    }
    .await;
    let marked = match marked {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Err(ApiError::not_found(format!(
                "statement `{}` was deleted while it was being created",
                entry.name
            )));
        }
        Err(e) => {
            // Nothing ran and the client hears of the failure: nothing is kept either.
            if let Err(r) = gw.statements().release(&id).await {
                warn!(statement = %entry.name, error = %r, "could not release the statement's name");
            }
            return Err(e);
        }
    };
    info!(statement = %entry.name, compute_pool = %pool, "statement waits for a task slot of its compute pool");
    tokio::spawn(start_when_admitted(gw.clone(), id, queued));
    Ok(marked)
}

/// Waits for the slot, or for the statement to be stopped, deleted or shut down; then
/// starts it on the engine, or ends it without running it.
async fn start_when_admitted(gw: Arc<Gateway>, id: StatementId, mut queued: Queued) {
    let cancel = queued.running.cancel_token().clone();
    let slot = tokio::select! {
        biased;
        _ = cancel.cancelled() => None,
        slot = queued.ticket.granted() => slot,
    };
    match slot {
        Some(slot) if !queued.running.is_cancelled() => start(gw, id, queued, slot).await,
        // Leaving the queue (a slot handed over meanwhile goes on to the next waiter).
        unused => {
            drop(unused);
            let Queued {
                ticket,
                trail,
                running,
                ..
            } = queued;
            drop(ticket);
            let detail = "Statement was stopped while it waited for a task slot of its \
                          compute pool; it never ran";
            starting::never_started(&gw, &id, &running, &trail, detail).await;
        }
    }
}

/// Hands the statement to the engine holding `slot` (the background start of `starting`),
/// and drives it like a statement that started at once.
async fn start(gw: Arc<Gateway>, id: StatementId, queued: Queued, slot: Slot) {
    let Queued {
        rewritten,
        exec_ctx,
        running,
        trail,
        principal,
        ticket,
    } = queued;
    drop(ticket);
    let bg = Background {
        rewritten,
        running,
        trail,
        principal,
        slot: Some(slot),
    };
    starting::start(gw, id, exec_ctx, bg).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_statements_that_keep_the_engine_busy_hold_slots() {
        for kind in ["SELECT", "INSERT_INTO", "CREATE_TABLE_AS", "STATEMENT_SET"] {
            assert!(holds_slot(kind), "{kind}");
        }
        for kind in [
            "CREATE_TABLE",
            "DROP_TABLE",
            "SHOW_TABLES",
            "DESCRIBE",
            "EXPLAIN",
            "SET",
            "USE",
        ] {
            assert!(!holds_slot(kind), "{kind}");
        }
    }

    #[test]
    fn the_waiting_detail_names_the_pool_and_confluents_state() {
        let d = exhausted_detail("lfcp-dev", 3);
        assert!(d.contains("`lfcp-dev`") && d.contains("POOL_EXHAUSTED") && d.contains('3'));
    }
}
