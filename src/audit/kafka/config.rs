//! The `[audit.kafka]` settings: where the replica goes, and the librdkafka properties the
//! sink sets itself because they keep the topic a complete, ordered copy of the log.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

use crate::audit::AuditError;

/// The `[audit.kafka]` section: where the replica goes. Absent means no Kafka replica.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaAuditConfig {
    /// `host:port[,host:port…]` of the brokers.
    pub bootstrap_servers: String,
    /// Topic of the replica (default `confluent-audit-log-events`, the name Confluent Cloud
    /// uses for its audit log, so existing consumers find it).
    #[serde(default = "default_topic")]
    pub topic: String,
    /// Fail closed on Kafka as on the file (default `false`): refuse a statement whose record
    /// Kafka has not acknowledged within `required_timeout`, and refuse to start without
    /// Kafka. With `false`, records queue (in the files) while Kafka is away.
    #[serde(default)]
    pub required: bool,
    /// With `required = true`, how long a statement waits for Kafka's acknowledgement of its
    /// record before it is refused (default 5 s; clients give up after 10 s).
    #[serde(default = "default_required_timeout", with = "humantime_serde")]
    pub required_timeout: Duration,
    /// Create the topic (one partition) at startup if it is missing (default `true`; turn it
    /// off where the gateway's principal may not create topics).
    #[serde(default = "default_true")]
    pub create_topic: bool,
    /// Replication factor of a created topic (default `-1`: the broker's
    /// `default.replication.factor`).
    #[serde(default = "default_replication_factor")]
    pub replication_factor: i32,
    /// librdkafka properties passed through (`security.protocol`, `sasl.*`, `ssl.*`,
    /// `linger.ms`, …). `bootstrap.servers`, `enable.idempotence`, `acks`,
    /// `message.timeout.ms` and `enable.gapless.guarantee` are set by the sink (they keep the
    /// topic a complete, ordered copy) and cannot be overridden.
    #[serde(default)]
    pub client: BTreeMap<String, String>,
    /// Topic of the signed checkpoints (default `<topic>-checkpoints`; one partition,
    /// created like `topic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_topic: Option<String>,
}

/// librdkafka properties the sink sets itself: where the replica goes, and what keeps the
/// topic a gapless copy of the chain (see the module doc).
const SET_BY_SINK: [&str; 5] = [
    "bootstrap.servers",
    "enable.idempotence",
    "acks",
    "message.timeout.ms",
    "enable.gapless.guarantee",
];

fn default_topic() -> String {
    "confluent-audit-log-events".into()
}
fn default_required_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_true() -> bool {
    true
}
fn default_replication_factor() -> i32 {
    -1
}

impl KafkaAuditConfig {
    /// The defaults, for the brokers at `bootstrap_servers`.
    ///
    /// ```
    /// let c = sqlgate::audit::KafkaAuditConfig::new("127.0.0.1:9092");
    /// assert_eq!(c.topic, "confluent-audit-log-events");
    /// assert!(!c.required);
    /// ```
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            topic: default_topic(),
            required: false,
            required_timeout: default_required_timeout(),
            create_topic: true,
            replication_factor: default_replication_factor(),
            client: BTreeMap::new(),
            checkpoint_topic: None,
        }
    }

    /// The topic the checkpoints go to: `checkpoint_topic`, or `<topic>-checkpoints`.
    ///
    /// ```
    /// let c = sqlgate::audit::KafkaAuditConfig::new("127.0.0.1:9092");
    /// assert_eq!(c.checkpoint_topic(), "confluent-audit-log-events-checkpoints");
    /// ```
    pub fn checkpoint_topic(&self) -> String {
        self.checkpoint_topic
            .clone()
            .unwrap_or_else(|| format!("{}-checkpoints", self.topic))
    }

    /// The librdkafka configuration shared by producer, admin client and consumer.
    pub(super) fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("linger.ms", "5")
            .set("socket.connection.setup.timeout.ms", "10000");
        for (k, v) in &self.client {
            c.set(k, v);
        }
        c.set("bootstrap.servers", &self.bootstrap_servers);
        c
    }

    pub(super) fn validate(&self) -> Result<(), AuditError> {
        let bad = |what: &str| Err(replica_error(format!("audit.kafka.{what}")));
        if self.bootstrap_servers.trim().is_empty() {
            return bad("bootstrap_servers is empty");
        }
        if self.topic.trim().is_empty() {
            return bad("topic is empty");
        }
        if self.checkpoint_topic() == self.topic {
            return bad("checkpoint_topic must differ from topic (the log's topic is one chain)");
        }
        for k in SET_BY_SINK {
            if self.client.contains_key(k) {
                return bad(&format!(
                    "client.\"{k}\" is set by the sink and cannot be overridden (it keeps the topic a complete, ordered copy of the log)"
                ));
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for KafkaAuditConfig {
    /// Redacts passthrough values that may be secrets (`sasl.password`, `ssl.key.password`,
    /// `sasl.oauthbearer.client.secret`, …).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let client = crate::kafka::config::redacted(&self.client);
        f.debug_struct("KafkaAuditConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("topic", &self.topic)
            .field("required", &self.required)
            .field("required_timeout", &self.required_timeout)
            .field("create_topic", &self.create_topic)
            .field("replication_factor", &self.replication_factor)
            .field("client", &client)
            .field("checkpoint_topic", &self.checkpoint_topic)
            .finish()
    }
}

pub(super) fn replica_error(reason: impl Into<String>) -> AuditError {
    AuditError::Replica(reason.into())
}
