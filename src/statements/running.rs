//! What only the gateway running a statement has: its result rows, its cancel token, the
//! engine's cancel handle and the watch its waiters follow. Never stored, never shared; gone with the process.
//!
//! Owns [`Running`] (one statement's handle) and the [`RunningRegistry`] of this gateway,
//! keyed by statement uid. A statement in the store without a handle here ran elsewhere or
//! before a restart: it has no rows to serve.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::record::Phase;
use super::results::ResultBuffer;
use crate::engine::Cancel;
use crate::rewrite::ReadPolicies;

/// Why a statement's work was cancelled; the first reason given is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The owner (or an admin) stopped it: it ends STOPPED.
    Stopped,
    /// It was deleted: nothing is left to record.
    Deleted,
    /// The gateway is shutting down: the statement did not end, so nothing is recorded for
    /// it now, and the next start reports it as ended by the restart.
    Shutdown,
    /// A policy change altered the row filters or column masks of a table it reads, for its
    /// principal: it ends FAILED with the detail given ([`Running::end_for_policy`]).
    PolicyChanged,
}

/// One running statement's process-local handle.
#[derive(Debug)]
pub struct Running {
    /// Rows produced by the engine, until a client has read them.
    pub results: ResultBuffer,
    /// Cancelled by stop, delete and shutdown; the driving task stops reading rows.
    cancel: CancellationToken,
    reason: Mutex<Option<StopReason>>,
    /// The engine's handle for the statement's work, once the engine runs it: cancelling
    /// the statement calls it, so the work stops even while the driving task is inside the
    /// engine's stream.
    engine: Mutex<Option<Arc<dyn Cancel>>>,
    /// Waiters see every phase change made through [`super::lifecycle::Statements`].
    phase_tx: watch::Sender<Phase>,
    /// What it reads under which row filters and column masks, as decided; compared with
    /// every new policy version while it runs.
    reads: Mutex<Option<Arc<ReadPolicies>>>,
    /// The detail it ends with when a policy change ended it.
    policy_detail: Mutex<Option<String>>,
}

impl Running {
    /// A handle for a PENDING statement buffering up to `result_capacity` rows.
    pub fn new(result_capacity: usize) -> Self {
        let (phase_tx, _) = watch::channel(Phase::Pending);
        Self {
            results: ResultBuffer::new(result_capacity),
            cancel: CancellationToken::new(),
            reason: Mutex::new(None),
            engine: Mutex::new(None),
            phase_tx,
            reads: Mutex::new(None),
            policy_detail: Mutex::new(None),
        }
    }

    /// Records what the statement reads under which filters and masks (when it is admitted).
    pub fn set_reads(&self, reads: ReadPolicies) {
        *self.reads.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(reads));
    }

    /// What the statement reads under which filters and masks, once recorded.
    pub fn reads(&self) -> Option<Arc<ReadPolicies>> {
        self.reads.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Ends the work because a policy change altered what it reads: cancelled like a stop,
    /// and recorded FAILED with `detail`. Nothing happens if it was cancelled already.
    pub fn end_for_policy(&self, detail: String) -> bool {
        {
            let mut reason = self.reason_lock();
            if reason.is_some() {
                return false;
            }
            *self.policy_detail.lock().unwrap_or_else(|p| p.into_inner()) = Some(detail);
            *reason = Some(StopReason::PolicyChanged);
        }
        self.cancel(StopReason::PolicyChanged);
        true
    }

    /// The detail of a statement a policy change ended.
    pub fn policy_detail(&self) -> Option<String> {
        self.policy_detail
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The phase last told to waiters.
    pub fn phase(&self) -> Phase {
        *self.phase_tx.borrow()
    }

    fn reason_lock(&self) -> MutexGuard<'_, Option<StopReason>> {
        self.reason.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cancels the work for `reason` (the first reason given is kept): tells the engine to
    /// stop it, and the driving task to stop reading.
    pub fn cancel(&self, reason: StopReason) {
        self.reason_lock().get_or_insert(reason);
        self.cancel.cancel();
        let engine = self.engine_lock().clone();
        if let Some(engine) = engine {
            engine.cancel();
        }
    }

    /// Hands over the engine's cancel handle for the statement's work; called at once if the
    /// statement was cancelled already.
    pub fn attach_engine(&self, handle: Arc<dyn Cancel>) {
        *self.engine_lock() = Some(handle.clone());
        // After the store above: a cancel racing this sees the handle, or is seen here.
        if self.cancel.is_cancelled() {
            handle.cancel();
        }
    }

    fn engine_lock(&self) -> MutexGuard<'_, Option<Arc<dyn Cancel>>> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Why the work was cancelled, if it was.
    pub fn stop_reason(&self) -> Option<StopReason> {
        *self.reason_lock()
    }

    /// The token the driving task (and the engine) watch.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Whether the work was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Tells waiters the statement's phase is now `phase`.
    pub(super) fn set_phase(&self, phase: Phase) {
        self.phase_tx.send_replace(phase);
    }

    /// Waits until the statement is terminal or `timeout` passes; returns the phase then.
    pub async fn wait_terminal(&self, timeout: Duration) -> Phase {
        let mut rx = self.phase_tx.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|p| p.is_terminal())).await;
        *rx.borrow()
    }
}

/// The handles of the statements this gateway runs, by uid.
#[derive(Debug, Default)]
pub struct RunningRegistry {
    map: Mutex<HashMap<String, Arc<Running>>>,
}

impl RunningRegistry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Running>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers the handle of statement `uid`.
    pub fn insert(&self, uid: &str, running: Arc<Running>) {
        self.lock().insert(uid.to_string(), running);
    }

    /// The handle of statement `uid`, if this gateway runs (or ran) it.
    pub fn get(&self, uid: &str) -> Option<Arc<Running>> {
        self.lock().get(uid).cloned()
    }

    /// Forgets the handle of statement `uid` (its rows go with it).
    pub fn remove(&self, uid: &str) -> Option<Arc<Running>> {
        self.lock().remove(uid)
    }

    /// Every handle, with its uid.
    pub fn all(&self) -> Vec<(String, Arc<Running>)> {
        self.lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Cancels every statement's work for `reason`.
    pub fn cancel_all(&self, reason: StopReason) {
        for r in self.lock().values() {
            r.cancel(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Counts the calls of an engine's cancel handle.
    #[derive(Debug, Default)]
    struct Counted(AtomicUsize);
    impl Cancel for Counted {
        fn cancel(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Stop and DELETE reach the engine's handle whether the engine's execution was attached
    /// before or after the statement was cancelled.
    #[test]
    fn cancelling_a_statement_calls_the_engines_handle() {
        let running = Running::new(1);
        let handle = Arc::new(Counted::default());
        running.attach_engine(handle.clone());
        assert_eq!(handle.0.load(Ordering::SeqCst), 0, "not before a cancel");
        running.cancel(StopReason::Deleted);
        assert_eq!(handle.0.load(Ordering::SeqCst), 1);
        assert_eq!(running.stop_reason(), Some(StopReason::Deleted));

        let late = Running::new(1);
        late.cancel(StopReason::Stopped);
        let handle = Arc::new(Counted::default());
        late.attach_engine(handle.clone());
        assert_eq!(
            handle.0.load(Ordering::SeqCst),
            1,
            "attached after the stop"
        );
    }

    /// A policy change ends the work once, with its detail, and only if nothing else ended
    /// it first (a stop keeps its STOPPED).
    #[test]
    fn a_policy_end_cancels_the_engine_and_keeps_the_first_reason() {
        let running = Running::new(1);
        let handle = Arc::new(Counted::default());
        running.attach_engine(handle.clone());
        assert!(running.end_for_policy("changed".into()));
        assert_eq!(handle.0.load(Ordering::SeqCst), 1);
        assert_eq!(running.stop_reason(), Some(StopReason::PolicyChanged));
        assert_eq!(running.policy_detail().as_deref(), Some("changed"));
        assert!(!running.end_for_policy("again".into()), "ended once");
        running.cancel(StopReason::Stopped);
        assert_eq!(running.stop_reason(), Some(StopReason::PolicyChanged));

        let stopped = Running::new(1);
        stopped.cancel(StopReason::Stopped);
        assert!(!stopped.end_for_policy("late".into()));
        assert_eq!(stopped.stop_reason(), Some(StopReason::Stopped));
        assert_eq!(stopped.policy_detail(), None);
    }
}
