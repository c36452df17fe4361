//! How many stored statements each compute pool has in each phase, kept up to date by
//! [`super::lifecycle::Statements`] with every insert, phase change and removal it makes, so
//! that `/metrics` reads counters instead of scanning the store.
//!
//! Owns the counters only; it does no I/O and decides nothing.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::record::{Phase, StatementRecord};

/// Every phase, in the order the counters keep them.
pub const PHASES: [Phase; 8] = [
    Phase::Pending,
    Phase::Running,
    Phase::Completed,
    Phase::Degraded,
    Phase::Stopping,
    Phase::Stopped,
    Phase::Failed,
    Phase::Deleting,
];

fn index(phase: Phase) -> usize {
    PHASES.iter().position(|p| *p == phase).unwrap_or(0)
}

/// Statements per pool and phase.
#[derive(Debug, Default)]
pub struct PhaseTally {
    counts: Mutex<HashMap<String, [u64; PHASES.len()]>>,
}

impl PhaseTally {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, [u64; PHASES.len()]>> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a stored statement.
    pub(super) fn add(&self, r: &StatementRecord) {
        self.lock()
            .entry(r.spec.compute_pool_id.clone())
            .or_default()[index(r.state.phase)] += 1;
    }

    /// Forgets a removed statement.
    pub(super) fn remove(&self, r: &StatementRecord) {
        if let Some(c) = self.lock().get_mut(&r.spec.compute_pool_id) {
            let n = &mut c[index(r.state.phase)];
            *n = n.saturating_sub(1);
        }
    }

    /// Moves a statement of `pool` from phase `from` to `to`.
    pub(super) fn moved(&self, pool: &str, from: Phase, to: Phase) {
        if from == to {
            return;
        }
        let mut counts = self.lock();
        let c = counts.entry(pool.to_string()).or_default();
        c[index(from)] = c[index(from)].saturating_sub(1);
        c[index(to)] += 1;
    }

    /// The statements of `pool` in each phase of [`PHASES`].
    pub fn of(&self, pool: &str) -> [u64; PHASES.len()] {
        self.lock().get(pool).copied().unwrap_or_default()
    }
}
