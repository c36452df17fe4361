//! The statement lifecycle on top of the seam: records in a [`StatementStore`], this
//! gateway's process-local handles in a [`RunningRegistry`], and the rules that tie them.
//!
//! Owns reservation (a name is taken, atomically with the per-principal cap, before the
//! engine does any work), phase changes as conditional updates retried on conflict, stop and
//! delete (which also cancel the local work), retention (terminal statements expire after
//! `gateway.statement_retention`) and startup recovery (a statement that was not terminal when
//! the gateway stopped is ended, with a detail saying the restart ended it). It does not run
//! anything and writes no audit records: the pipeline and the gateway do.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::file::{FileStore, Opened};
use super::memory::MemoryStore;
use super::record::{Phase, StatementId, StatementRecord, StatementState};
use super::running::{Running, RunningRegistry, StopReason};
use super::store::{ListFilter, StatementStore, StoreError, Update};
use super::tally::PhaseTally;

/// Conditional updates tried before giving up on a statement that keeps changing (only a
/// stop racing the statement's own end changes one statement concurrently).
const MAX_ATTEMPTS: usize = 8;

/// Detail of a statement the gateway's restart ended.
pub const RESTART_FAILED: &str = "The gateway restarted while the statement was running, so it did not finish; its results were held in the memory of the gateway process and are gone. Run it again to get them.";
/// Detail of a statement that was asked to stop and had not stopped when the gateway went.
pub const RESTART_STOPPED: &str = "Statement was stopped; the gateway restarted before the stop had finished, and its results are gone.";
/// Detail of a statement that was waiting for a task slot of its compute pool when the
/// gateway stopped: it never ran, and is ended rather than run long after it was asked for.
pub const RESTART_QUEUED: &str = "The gateway restarted while the statement was waiting for a task slot of its compute pool (POOL_EXHAUSTED); it never ran. Run it again.";
/// Detail of a statement whose engine was still starting it (a Flink submission, PENDING)
/// when the gateway stopped: it never ran, and is ended rather than started long after.
pub const RESTART_STARTING: &str = "The gateway restarted while the statement was being submitted to its compute pool's engine (PENDING); it never ran. Run it again.";
/// Added to the detail of a finished query whose rows a restart took away.
pub const RESULTS_GONE: &str = "Its results were held in the memory of the gateway process and are gone since the gateway restarted.";

/// How `data` changes what the live statement of handle `h` reads, if it is not ended yet.
pub(crate) fn policy_change(
    h: &Running,
    version: u64,
    data: &crate::authz::DataPolicies,
) -> Option<crate::rewrite::PolicyChange> {
    if h.is_cancelled() || h.phase().is_terminal() {
        return None;
    }
    let reads = h.reads()?;
    if reads.version() >= version {
        return None;
    }
    reads.changed(version, data)
}

/// Whether a detail already tells that a restart took the results.
fn says_results_gone(detail: &str) -> bool {
    detail.ends_with(RESULTS_GONE)
        || detail == RESTART_FAILED
        || detail == RESTART_STOPPED
        || detail == RESTART_QUEUED
        || detail == RESTART_STARTING
}

/// Where statements are kept (`gateway.statement_store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// One file per statement in `<engine.data_dir>/statements/`; a restart keeps them.
    #[default]
    File,
    /// In memory; a restart forgets every statement.
    Memory,
}

/// What time it is, for record timestamps and retention (injected in tests).
pub trait Clock: fmt::Debug + Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The limits the lifecycle applies.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `gateway.max_statements_per_principal`.
    pub max_per_principal: usize,
    /// `gateway.result_buffer_rows`.
    pub result_buffer_rows: usize,
    /// `gateway.statement_retention`; zero keeps statements until deleted.
    pub retention: Duration,
}

/// What startup recovery changed.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Statements that were not terminal and now are (FAILED, or STOPPED if asked to stop).
    pub ended: Vec<StatementRecord>,
    /// Finished queries whose detail now says their results are gone.
    pub results_gone: usize,
}

/// Statements: the store and this gateway's running handles.
#[derive(Debug)]
pub struct Statements {
    store: Arc<dyn StatementStore>,
    running: RunningRegistry,
    clock: Arc<dyn Clock>,
    limits: Limits,
    /// Statements stored, as of the last change made here (the `statements` gauge).
    stored: AtomicUsize,
    /// Statements per compute pool and phase (the per-pool gauges).
    tally: PhaseTally,
}

/// Opens the store `kind` names; a file store lives in `<data_dir>/statements`.
pub async fn open_store(
    kind: StoreKind,
    data_dir: &Path,
) -> Result<(Arc<dyn StatementStore>, Option<Opened>), StoreError> {
    match kind {
        StoreKind::Memory => Ok((Arc::new(MemoryStore::new()), None)),
        StoreKind::File => {
            let dir = data_dir.join("statements");
            let opened = tokio::task::spawn_blocking({
                let dir = dir.clone();
                move || FileStore::open(&dir)
            })
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", dir.display())))?;
            let (store, report) = opened;
            Ok((Arc::new(store), Some(report)))
        }
    }
}

impl Statements {
    /// Statements kept in `store`, timed by `clock`.
    pub async fn new(
        store: Arc<dyn StatementStore>,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Result<Self, StoreError> {
        let stored = AtomicUsize::new(store.count().await?);
        let tally = PhaseTally::default();
        for r in store.list(&ListFilter::default()).await? {
            tally.add(&r);
        }
        Ok(Self {
            store,
            running: RunningRegistry::default(),
            clock,
            limits,
            stored,
            tally,
        })
    }

    /// Now, by the lifecycle's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The retention (zero: statements are kept until deleted).
    pub fn retention(&self) -> Duration {
        self.limits.retention
    }

    /// Statements stored, for the metrics.
    pub fn stored(&self) -> usize {
        self.stored.load(Ordering::Relaxed)
    }

    /// Statements per compute pool and phase, for the metrics.
    pub fn tally(&self) -> &PhaseTally {
        &self.tally
    }

    async fn recount(&self) {
        if let Ok(n) = self.store.count().await {
            self.stored.store(n, Ordering::Relaxed);
        }
    }

    /// A cheap early refusal of a name in use or an owner at the cap, before any decision
    /// is made. Not authoritative: [`Statements::reserve`] decides.
    pub async fn check_free(
        &self,
        environment: &str,
        name: &str,
        owner: &str,
    ) -> Result<(), StoreError> {
        if self.store.get(environment, name).await?.is_some() {
            return Err(StoreError::AlreadyExists(name.to_string()));
        }
        let limit = self.limits.max_per_principal;
        if self.store.count_owned(owner).await? >= limit {
            return Err(StoreError::TooMany {
                principal: owner.to_string(),
                limit,
            });
        }
        Ok(())
    }

    /// Takes the statement's name (atomically with the owner's cap) and registers its local
    /// handle. Nothing may run for the statement before this succeeds.
    pub async fn reserve(&self, record: &StatementRecord) -> Result<Arc<Running>, StoreError> {
        let running = Arc::new(Running::new(self.limits.result_buffer_rows));
        self.running.insert(&record.uid, running.clone());
        let inserted = self
            .store
            .insert_if_absent(record.clone(), self.limits.max_per_principal)
            .await;
        if let Err(e) = inserted {
            self.running.remove(&record.uid);
            return Err(e);
        }
        self.tally.add(record);
        self.recount().await;
        Ok(running)
    }

    /// Gives a reservation back (nothing ran for it, so nothing is left to see).
    pub async fn release(&self, id: &StatementId) -> Result<(), StoreError> {
        self.running.remove(&id.uid);
        let removed = self
            .store
            .remove(&id.environment_id, &id.name, Some(&id.uid))
            .await?;
        if let Some(r) = &removed {
            self.tally.remove(r);
        }
        self.recount().await;
        Ok(())
    }

    /// Drops the local handle of a statement that will produce no rows.
    pub fn forget_results(&self, uid: &str) {
        self.running.remove(uid);
    }

    /// Applies `change` to the statement's state as a conditional update, re-reading and
    /// retrying on conflict. `None` when the statement is gone or `change` declines.
    async fn change(
        &self,
        id: &StatementId,
        change: impl Fn(&StatementRecord, DateTime<Utc>) -> Option<StatementState>,
    ) -> Result<Option<StatementRecord>, StoreError> {
        let Some(mut current) = self
            .store
            .get(&id.environment_id, &id.name)
            .await?
            .filter(|r| r.uid == id.uid)
        else {
            return Ok(None);
        };
        for _ in 0..MAX_ATTEMPTS {
            let Some(next) = change(&current, self.clock.now()) else {
                return Ok(None);
            };
            match self
                .store
                .update_state(id, current.state.resource_version, next)
                .await?
            {
                Update::Updated(r) => {
                    self.tally
                        .moved(&r.spec.compute_pool_id, current.state.phase, r.state.phase);
                    return Ok(Some(r));
                }
                Update::Conflict(r) => current = r,
                Update::Missing => return Ok(None),
            }
        }
        Err(StoreError::Unavailable(format!(
            "statement {} kept changing; gave up after {MAX_ATTEMPTS} attempts",
            id.name
        )))
    }

    /// Moves the statement to `phase` unless it is terminal already (the first end wins).
    /// Returns the record after the change, or `None` when nothing changed (terminal, or
    /// deleted meanwhile).
    pub async fn transition(
        &self,
        id: &StatementId,
        phase: Phase,
        detail: &str,
        traits: Option<Value>,
    ) -> Result<Option<StatementRecord>, StoreError> {
        let changed = self
            .change(id, |r, now| {
                r.next_state(phase, detail, traits.clone(), now)
            })
            .await?;
        if changed.is_some()
            && let Some(h) = self.running.get(&id.uid)
        {
            h.set_phase(phase);
        }
        Ok(changed)
    }

    /// Records that the PENDING statement waits for a task slot of its compute pool
    /// (`scaling_status` `POOL_EXHAUSTED`, and `detail`). `None` when it is no longer PENDING
    /// or was deleted.
    pub async fn mark_pool_exhausted(
        &self,
        id: &StatementId,
        detail: &str,
    ) -> Result<Option<StatementRecord>, StoreError> {
        self.mark_pending(id, detail, true, false).await
    }

    /// Records that the PENDING statement is being started by its engine in the background
    /// (`detail` says so; a wait for its pool is over). `None` when it is no longer PENDING
    /// or was deleted.
    pub async fn mark_starting(
        &self,
        id: &StatementId,
        detail: &str,
    ) -> Result<Option<StatementRecord>, StoreError> {
        self.mark_pending(id, detail, false, true).await
    }

    /// Why a PENDING statement waits, if it still is PENDING.
    async fn mark_pending(
        &self,
        id: &StatementId,
        detail: &str,
        pool_exhausted: bool,
        starting: bool,
    ) -> Result<Option<StatementRecord>, StoreError> {
        self.change(id, |r, now| {
            (r.state.phase == Phase::Pending).then(|| StatementState {
                detail: detail.to_string(),
                pool_exhausted,
                starting,
                updated_at: now,
                resource_version: r.state.resource_version + 1,
                ..r.state.clone()
            })
        })
        .await
    }

    /// Stops the statement: records `spec.stopped`, cancels its work here, and waits up to
    /// `wait` for it to end. Returns the record then (`None` if it was deleted meanwhile).
    pub async fn stop(
        &self,
        id: &StatementId,
        wait: Duration,
    ) -> Result<Option<StatementRecord>, StoreError> {
        self.change(id, |r, now| {
            (!r.state.stopped).then(|| StatementState {
                stopped: true,
                updated_at: now,
                resource_version: r.state.resource_version + 1,
                ..r.state.clone()
            })
        })
        .await?;
        if let Some(h) = self.running.get(&id.uid) {
            h.cancel(StopReason::Stopped);
            h.wait_terminal(wait).await;
        }
        Ok(self
            .store
            .get(&id.environment_id, &id.name)
            .await?
            .filter(|r| r.uid == id.uid))
    }

    /// Deletes the statement, cancelling its work here. Returns what was deleted.
    pub async fn remove(
        &self,
        environment: &str,
        name: &str,
    ) -> Result<Option<StatementRecord>, StoreError> {
        let removed = self.store.remove(environment, name, None).await?;
        if let Some(r) = &removed {
            self.tally.remove(r);
        }
        if let Some(r) = &removed
            && let Some(h) = self.running.remove(&r.uid)
        {
            h.cancel(StopReason::Deleted);
        }
        self.recount().await;
        Ok(removed)
    }

    /// The statement named `name` in `environment`.
    pub async fn get(
        &self,
        environment: &str,
        name: &str,
    ) -> Result<Option<StatementRecord>, StoreError> {
        self.store.get(environment, name).await
    }

    /// The statements passing `filter`, oldest first.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<StatementRecord>, StoreError> {
        self.store.list(filter).await
    }

    /// This gateway's handle of statement `uid` (its rows), if it runs or ran it.
    pub fn running(&self, uid: &str) -> Option<Arc<Running>> {
        self.running.get(uid)
    }

    /// Removes the terminal statements whose last change is older than the retention, and
    /// returns them. Nothing expires with a retention of zero.
    pub async fn expire(&self) -> Result<Vec<StatementRecord>, StoreError> {
        let Some(cutoff) = chrono::Duration::from_std(self.limits.retention)
            .ok()
            .filter(|r| !r.is_zero())
            .and_then(|r| self.clock.now().checked_sub_signed(r))
        else {
            return Ok(Vec::new());
        };
        let expired = self.store.expire(cutoff).await?;
        for r in &expired {
            self.running.remove(&r.uid);
            self.tally.remove(r);
        }
        if !expired.is_empty() {
            self.recount().await;
        }
        Ok(expired)
    }

    /// At startup, before requests are served: ends every statement that was not terminal
    /// when the gateway stopped (FAILED, or STOPPED if it had been asked to stop), and notes
    /// on finished queries that their rows are gone. A store shared by several gateways
    /// would recover only the statements of the gateway starting; this one is not shared.
    pub async fn recover(&self) -> Result<Recovered, StoreError> {
        let mut out = Recovered::default();
        for r in self.store.list(&ListFilter::default()).await? {
            let id = r.id();
            if self.running.get(&r.uid).is_some() {
                continue;
            }
            if !r.state.phase.is_terminal() {
                let (phase, detail) = if r.state.stopped {
                    (Phase::Stopped, RESTART_STOPPED)
                } else if r.state.pool_exhausted {
                    (Phase::Failed, RESTART_QUEUED)
                } else if r.state.starting {
                    (Phase::Failed, RESTART_STARTING)
                } else {
                    (Phase::Failed, RESTART_FAILED)
                };
                if let Some(ended) = self.transition(&id, phase, detail, None).await? {
                    out.ended.push(ended);
                }
            } else if r.state.phase != Phase::Failed
                && r.has_result_schema()
                && !says_results_gone(&r.state.detail)
            {
                // Not a change of the statement's life: `updated_at` (and so its retention)
                // stays as it was.
                let amended = self
                    .change(&id, |r, _| {
                        let detail = match r.state.detail.as_str() {
                            "" => RESULTS_GONE.to_string(),
                            d => format!("{} {RESULTS_GONE}", d.trim_end()),
                        };
                        Some(StatementState {
                            detail,
                            resource_version: r.state.resource_version + 1,
                            ..r.state.clone()
                        })
                    })
                    .await?;
                out.results_gone += usize::from(amended.is_some());
            }
        }
        Ok(out)
    }

    /// Ends every statement running here whose row filters or column masks `data` (policy
    /// version `version`) changes, for its principal, on a table it reads (see
    /// [`crate::rewrite::ReadPolicies::changed`]); the driving task records each FAILED with
    /// a detail naming the change. Returns the ended statements' uids and changes.
    pub fn end_for_policy(
        &self,
        version: u64,
        data: &crate::authz::DataPolicies,
    ) -> Vec<(String, crate::rewrite::PolicyChange)> {
        let mut out = Vec::new();
        for (uid, h) in self.running.all() {
            if let Some(change) = policy_change(&h, version, data)
                && h.end_for_policy(change.detail())
            {
                out.push((uid, change));
            }
        }
        out
    }

    /// Cancels the work of every statement for shutdown. Their records are left as they are
    /// (the next start ends them, see [`Statements::recover`]).
    pub fn shutdown(&self) {
        self.running.cancel_all(StopReason::Shutdown);
    }
}
