//! The decision memo's metrics: its look-ups by result and its size (see
//! `crate::pipeline::DecisionMemo`). No label carries what was decided.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of `sqlgate_decision_memo_lookups_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MemoLookupLabels {
    /// `hit` (answered from the memo) or `miss` (decided afresh).
    pub result: String,
}

/// The decision memo's figures (`crate::pipeline::DecisionMemo`): the memo counts its look-ups
/// in `hits` and `misses`; the gateway copies its size into the gauges before each scrape.
/// [`Default`] gives handles registered nowhere (tools and tests that export nothing).
#[derive(Debug, Clone, Default)]
pub struct MemoMetrics {
    /// Decisions answered from the memo.
    pub hits: Counter,
    /// Decisions it was asked for and did not hold (then decided afresh).
    pub misses: Counter,
    /// Decisions it holds.
    pub entries: Gauge,
    /// What they weigh (about bytes; bounded by `pipeline.decision_memo.max_bytes`).
    pub weight_bytes: Gauge,
}

impl MemoMetrics {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let lookups = Family::<MemoLookupLabels, Counter>::default();
        registry.register(
            "decision_memo_lookups",
            "Decisions looked up in the decision memo, by result (hit: answered from it; miss: decided afresh)",
            lookups.clone(),
        );
        let result = |r: &str| {
            lookups
                .get_or_create(&MemoLookupLabels { result: r.into() })
                .clone()
        };
        let m = Self {
            hits: result("hit"),
            misses: result("miss"),
            ..Self::default()
        };
        registry.register(
            "decision_memo_entries",
            "Granted decisions the decision memo holds",
            m.entries.clone(),
        );
        registry.register(
            "decision_memo_weight_bytes",
            "What the decision memo's decisions weigh, about bytes (bounded by pipeline.decision_memo.max_bytes)",
            m.weight_bytes.clone(),
        );
        m
    }
}
