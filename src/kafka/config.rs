//! A cluster's Kafka settings: `[environments.clusters.kafka]` in the config file.
//!
//! A cluster with this section is backed by a real Kafka cluster: its topics are its tables.
//! Without it the cluster's tables live in the embedded engine's own files.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

/// Client settings of one Kafka cluster.
#[derive(Deserialize, Serialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KafkaClusterConfig {
    /// `host:port[,host:port…]` of the brokers.
    pub bootstrap_servers: String,
    /// librdkafka properties passed through to every client of the cluster
    /// (`security.protocol`, `sasl.mechanisms`, `sasl.username`, `sasl.password`, `ssl.*`, …).
    /// `bootstrap.servers` is set from `bootstrap_servers` and cannot be overridden.
    #[serde(default)]
    pub client: BTreeMap<String, String>,
    /// Schema Registry base URL (`https://psrc-….confluent.cloud`). Without one, schemas are
    /// kept as subjects in the compacted topic `schemas_topic` of this cluster.
    #[serde(default)]
    pub schema_registry_url: Option<String>,
    /// Schema Registry credentials `key:secret` (HTTP Basic), if the registry needs them.
    #[serde(default)]
    pub schema_registry_basic_auth: Option<String>,
    /// The compacted topic holding subjects when no registry URL is set.
    #[serde(default = "default_schemas_topic")]
    pub schemas_topic: String,
    /// Partitions of a table created without `DISTRIBUTED … INTO n BUCKETS` (Confluent Cloud
    /// uses 6).
    #[serde(default = "default_partitions")]
    pub default_partitions: i32,
    /// Replication factor of created topics (`-1`: the broker's default).
    #[serde(default = "default_replication_factor")]
    pub replication_factor: i32,
    /// How long the list of topics and a table's schema are cached. The gateway's own DDL
    /// drops the cached entries at once.
    #[serde(default = "default_metadata_ttl", with = "humantime_serde")]
    pub metadata_ttl: Duration,
    /// How long a metadata, admin or registry call may take before the cluster counts as
    /// unavailable (the statement is refused with 503).
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// `value.format` / `key.format` of a table created without them: `json-registry`,
    /// `avro-registry` or `json`. Unset: `json-registry`, except on a cluster a Flink engine
    /// serves (Flink cannot read Confluent-framed JSON), where startup picks `avro-registry`
    /// when a Schema Registry is configured and `json` when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_format: Option<String>,
}

fn default_schemas_topic() -> String {
    "_sqlgate_schemas".into()
}
fn default_partitions() -> i32 {
    6
}
fn default_replication_factor() -> i32 {
    -1
}
fn default_metadata_ttl() -> Duration {
    Duration::from_secs(30)
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(5)
}

impl KafkaClusterConfig {
    /// The defaults, for the brokers at `bootstrap_servers`.
    ///
    /// ```
    /// let c = sqlgate::kafka::KafkaClusterConfig::new("127.0.0.1:9092");
    /// assert_eq!(c.schemas_topic, "_sqlgate_schemas");
    /// assert!(c.schema_registry_url.is_none());
    /// ```
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            client: BTreeMap::new(),
            schema_registry_url: None,
            schema_registry_basic_auth: None,
            schemas_topic: default_schemas_topic(),
            default_partitions: default_partitions(),
            replication_factor: default_replication_factor(),
            metadata_ttl: default_metadata_ttl(),
            request_timeout: default_request_timeout(),
            default_format: None,
        }
    }

    /// The format of tables created without `value.format` / `key.format` (see
    /// [`Self::default_format`]; `json-registry` when unset).
    pub fn create_format(&self) -> super::Format {
        self.default_format
            .as_deref()
            .and_then(super::Format::parse)
            .unwrap_or(super::Format::JsonRegistry)
    }

    /// The librdkafka configuration shared by every client of this cluster.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("socket.connection.setup.timeout.ms", "10000")
            .set("message.timeout.ms", "30000");
        for (k, v) in &self.client {
            c.set(k, v);
        }
        c.set("bootstrap.servers", &self.bootstrap_servers);
        c
    }

    /// Checks what serde cannot: non-empty names, no overridden `bootstrap.servers`, sane
    /// numbers. `at` names the cluster in messages.
    pub fn validate(&self, at: &str) -> Result<(), String> {
        if self.bootstrap_servers.trim().is_empty() {
            return Err(format!("{at}.bootstrap_servers is empty"));
        }
        if self.client.contains_key("bootstrap.servers") {
            return Err(format!(
                "{at}.client.\"bootstrap.servers\" cannot be set; use {at}.bootstrap_servers"
            ));
        }
        if self.schemas_topic.trim().is_empty() {
            return Err(format!("{at}.schemas_topic is empty"));
        }
        if self.default_partitions < 1 {
            return Err(format!("{at}.default_partitions must be at least 1"));
        }
        if let Some(f) = &self.default_format
            && !matches!(
                super::Format::parse(f),
                Some(
                    super::Format::Json | super::Format::JsonRegistry | super::Format::AvroRegistry
                )
            )
        {
            return Err(format!(
                "{at}.default_format must be 'json-registry', 'avro-registry' or 'json', not '{f}'"
            ));
        }
        if let Some(url) = &self.schema_registry_url
            && url::Url::parse(url).is_err()
        {
            return Err(format!("{at}.schema_registry_url is not a URL: {url}"));
        }
        Ok(())
    }
}

/// librdkafka properties for logs and `Debug`: values whose key names a secret
/// (`sasl.password`, `ssl.key.password`, `sasl.oauthbearer.client.secret`, …) are replaced.
pub fn redacted(client: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    client
        .iter()
        .map(|(k, v)| {
            let secret = [
                "password",
                "secret",
                "key.pem",
                "jaas",
                "oauthbearer.config",
            ]
            .iter()
            .any(|s| k.contains(s));
            (k.as_str(), if secret { "<redacted>" } else { v.as_str() })
        })
        .collect()
}

impl std::fmt::Debug for KafkaClusterConfig {
    /// Redacts passthrough values and credentials that may be secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let client = redacted(&self.client);
        f.debug_struct("KafkaClusterConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("client", &client)
            .field("schema_registry_url", &self.schema_registry_url)
            .field(
                "schema_registry_basic_auth",
                &self
                    .schema_registry_basic_auth
                    .as_ref()
                    .map(|_| "<redacted>"),
            )
            .field("schemas_topic", &self.schemas_topic)
            .field("default_partitions", &self.default_partitions)
            .field("replication_factor", &self.replication_factor)
            .field("metadata_ttl", &self.metadata_ttl)
            .field("request_timeout", &self.request_timeout)
            .field("default_format", &self.default_format)
            .finish()
    }
}
