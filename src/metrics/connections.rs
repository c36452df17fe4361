//! Connection metrics: how many are open and why the gateway closed the ones it closed.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of `sqlgate_connections_closed_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseLabels {
    /// `peer_share`, `full` (refused at accept), `no_request`, `idle`, `evicted`.
    pub reason: String,
}

/// Connection counts.
#[derive(Debug, Clone, Default)]
pub struct ConnectionMetrics {
    /// Connections open now.
    pub open: Gauge,
    /// Connections the gateway closed (refused at accept, or stalled), by reason.
    pub closed: Family<CloseLabels, Counter>,
}

impl ConnectionMetrics {
    /// Registers both metrics in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register("connections_open", "Connections open now", m.open.clone());
        registry.register(
            "connections_closed",
            "Connections the gateway refused at accept or closed for making no progress, by reason",
            m.closed.clone(),
        );
        m
    }

    /// Counts one close.
    pub fn closed(&self, reason: &str) {
        self.closed
            .get_or_create(&CloseLabels {
                reason: reason.into(),
            })
            .inc();
    }
}
