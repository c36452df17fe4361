//! Prometheus metrics (`GET /metrics`: Prometheus text 0.0.4, or OpenMetrics on request; see
//! [`exposition`]).
//!
//! Owns the registry and every metric the gateway exports. Other modules only increment;
//! nothing here reads request data beyond the labels given, and no label carries a principal,
//! a table name or SQL (cardinality and privacy).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub mod access;
pub mod connections;
pub mod exposition;
pub mod memo;
pub mod pools;

pub use access::{MetricsAccess, MetricsConfig};
pub use connections::ConnectionMetrics;
pub use exposition::Format;
pub use memo::MemoMetrics;
pub use pools::PoolMetrics;

/// Labels of `sqlgate_http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route name (not the path, which carries ids).
    pub route: String,
    /// HTTP status code.
    pub status: u16,
}

/// Labels of `sqlgate_decisions_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// `allow` or `deny`.
    pub decision: String,
    /// Where it was decided: `parse`, `resolve`, `region`, `authorize`, `authenticate`.
    pub stage: String,
}

/// Labels of `sqlgate_policy_reloads_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `ok` or `rejected`.
    pub outcome: String,
}

/// Every metric the gateway exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests by route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Access decisions by outcome and stage.
    pub decisions: Family<DecisionLabels, Counter>,
    /// Statements handed to the engine.
    pub engine_statements: Counter,
    /// Policy reloads by outcome.
    pub policy_reloads: Family<ReloadLabels, Counter>,
    /// Version of the policy in force.
    pub policy_version: Gauge,
    /// Statements currently stored.
    pub statements: Gauge,
    /// Open connections and the ones the gateway closed.
    pub connections: ConnectionMetrics,
    /// Task slots and statements per compute pool.
    pub pools: PoolMetrics,
    /// Bytes of the audit log files and checkpoint file.
    pub audit_used_bytes: Gauge,
    /// Bytes free on the audit log's filesystem (-1 until measured).
    pub audit_free_bytes: Gauge,
    /// `sqlgateseq` of the last durable audit record (a witness of the chain's end).
    pub audit_last_seq: Gauge,
    /// The seq the newest signed audit checkpoint names.
    pub audit_checkpoint_seq: Gauge,
    /// Row filters and column masks in force that do not fit a table they cover, at the
    /// last check (reads through them are refused).
    pub data_policy_mismatches: Gauge,
    /// Kafka clusters whose tables the last data-policy check could not reach in time.
    pub data_policy_unreached: Gauge,
    /// The decision memo's look-ups and size.
    pub decision_memo: MemoMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sqlgate");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "decisions",
            "Access decisions by outcome and stage",
            decisions.clone(),
        );
        let engine_statements = Counter::default();
        registry.register(
            "engine_statements",
            "Statements handed to the engine",
            engine_statements.clone(),
        );
        let policy_reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "policy_reloads",
            "Policy reloads by outcome",
            policy_reloads.clone(),
        );
        let policy_version = Gauge::default();
        registry.register(
            "policy_version",
            "Version of the policy in force",
            policy_version.clone(),
        );
        let statements = Gauge::default();
        registry.register(
            "statements",
            "Statements currently stored",
            statements.clone(),
        );
        let connections = ConnectionMetrics::register(&mut registry);
        let pools = PoolMetrics::register(&mut registry);
        let decision_memo = MemoMetrics::register(&mut registry);
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let audit_used_bytes = gauge(
            &mut registry,
            "audit_disk_used_bytes",
            "Bytes of the audit log files and the checkpoint file",
        );
        let audit_free_bytes = gauge(
            &mut registry,
            "audit_disk_free_bytes",
            "Bytes free on the audit log's filesystem (-1 until measured)",
        );
        let audit_last_seq = gauge(
            &mut registry,
            "audit_last_seq",
            "Sequence number of the last durable audit record",
        );
        let audit_checkpoint_seq = gauge(
            &mut registry,
            "audit_checkpoint_seq",
            "Sequence number the newest signed audit checkpoint names",
        );
        let data_policy_mismatches = gauge(
            &mut registry,
            "data_policy_mismatches",
            "Row filters and column masks that do not fit a table they cover (reads refused)",
        );
        let data_policy_unreached = gauge(
            &mut registry,
            "data_policy_unreached",
            "Kafka clusters whose tables the last data-policy check could not reach in time",
        );
        Self {
            registry,
            data_policy_mismatches,
            data_policy_unreached,
            connections,
            pools,
            requests,
            decisions,
            engine_statements,
            policy_reloads,
            policy_version,
            statements,
            audit_used_bytes,
            audit_free_bytes,
            audit_last_seq,
            audit_checkpoint_seq,
            decision_memo,
        }
    }

    /// Counts one decision.
    pub fn decision(&self, allowed: bool, stage: &str) {
        self.decisions
            .get_or_create(&DecisionLabels {
                decision: if allowed { "allow" } else { "deny" }.into(),
                stage: stage.into(),
            })
            .inc();
    }

    /// Counts one request.
    pub fn request(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.into(),
                status,
            })
            .inc();
    }

    /// The exposition in `format`.
    pub fn render(&self, format: Format) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        match format {
            Format::OpenMetrics => out,
            Format::Text => exposition::openmetrics_to_text(&out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_up_in_the_exposition() {
        let m = Metrics::new();
        m.decision(false, "authorize");
        m.request("create_statement", 403);
        m.engine_statements.inc();
        let text = m.render(Format::OpenMetrics);
        assert!(
            text.contains("sqlgate_decisions_total{decision=\"deny\",stage=\"authorize\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "sqlgate_http_requests_total{route=\"create_statement\",status=\"403\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("sqlgate_engine_statements_total 1"), "{text}");
        m.decision_memo.hits.inc();
        let text = m.render(Format::OpenMetrics);
        assert!(
            text.contains("sqlgate_decision_memo_lookups_total{result=\"hit\"} 1")
                && text.contains("sqlgate_decision_memo_lookups_total{result=\"miss\"} 0"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
        let text = m.render(Format::Text);
        assert!(
            text.contains("# TYPE sqlgate_engine_statements_total counter\nsqlgate_engine_statements_total 1\n"),
            "{text}"
        );
        assert!(!text.contains("# EOF"), "{text}");
    }
}
