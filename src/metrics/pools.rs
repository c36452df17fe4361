//! Per compute pool metrics: task slots (limit and in use), the statements holding them and
//! waiting for them, refusals of a full queue, and stored statements by phase.
//!
//! Labelled by pool, its environment and its region (a handful of configured values, never
//! a principal or a statement). The gateway copies the figures in before each scrape.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of the per-pool metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// Pool id.
    pub compute_pool: String,
    /// The pool's environment.
    pub environment: String,
    /// The pool's region.
    pub region: String,
}

/// Labels of `sqlgate_compute_pool_statements`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolPhaseLabels {
    /// Pool id.
    pub compute_pool: String,
    /// The pool's environment.
    pub environment: String,
    /// The pool's region.
    pub region: String,
    /// Wire phase (`PENDING`, `RUNNING`, …).
    pub phase: String,
}

/// The per-pool gauges.
#[derive(Debug, Clone, Default)]
pub struct PoolMetrics {
    /// `compute_pools.max_slots`.
    pub slots_limit: Family<PoolLabels, Gauge>,
    /// Slots held now.
    pub slots_in_use: Family<PoolLabels, Gauge>,
    /// Statements the engine works on now (each holds slots).
    pub statements_running: Family<PoolLabels, Gauge>,
    /// Statements waiting PENDING (`POOL_EXHAUSTED`) for a slot.
    pub statements_queued: Family<PoolLabels, Gauge>,
    /// Creates refused because the pool's queue was full.
    pub statements_refused: Family<PoolLabels, Counter>,
    /// Stored statements of the pool by phase.
    pub statements: Family<PoolPhaseLabels, Gauge>,
}

impl PoolMetrics {
    /// Registers every per-pool metric in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "compute_pool_slots_limit",
            "Task slots a compute pool's statements may hold at once (compute_pools.max_slots, Confluent's max_cfu)",
            m.slots_limit.clone(),
        );
        registry.register(
            "compute_pool_slots_in_use",
            "Task slots of a compute pool held now",
            m.slots_in_use.clone(),
        );
        registry.register(
            "compute_pool_statements_running",
            "Statements of a compute pool the engine works on now (each holds a task slot)",
            m.statements_running.clone(),
        );
        registry.register(
            "compute_pool_statements_queued",
            "Statements waiting PENDING (POOL_EXHAUSTED) for a task slot of a compute pool",
            m.statements_queued.clone(),
        );
        registry.register(
            "compute_pool_statements_refused",
            "Creates refused because a compute pool's queue was full (429 compute_pool.queue_full)",
            m.statements_refused.clone(),
        );
        registry.register(
            "compute_pool_statements",
            "Stored statements of a compute pool by phase",
            m.statements.clone(),
        );
        m
    }
}
