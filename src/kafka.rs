//! Kafka clusters as the gateway's storage: each configured cluster is a database, each topic
//! with its registered schema a table. Used by the embedded engine (which reads and writes
//! topics through DataFusion providers of its own), by the catalog (listing) and by the audit
//! log's replica.
//!
//! Parts, each owning one concern:
//! - `config`: a cluster's client settings (`[environments.clusters.kafka]`).
//! - `layout`: how a table's columns map onto a topic's key, value and metadata.
//! - `json_schema`: Flink columns to and from JSON Schema (the registered form of a table).
//! - `subjects`: Schema Registry subjects `<topic>-key` / `<topic>-value`, kept in a Schema
//!   Registry (REST) where one is configured and in a compacted topic of the cluster where not.
//! - `codec`: Kafka records to Arrow batches and back (raw bytes, JSON, framed JSON, Avro).
//! - `schema_of`: a topic's table definition from its registered subjects.
//! - `cluster`: the cluster's clients and the cached topic list and table definitions.
//! - `ddl`: CREATE / ALTER / DROP TABLE as topic and subject operations.
//! - `shown`: a table as SHOW CREATE TABLE and INFORMATION_SCHEMA show it (Confluent's
//!   options from the layout and the topic's configs).
//!
//! Nothing here decides who may do what: the gateway has authorized every statement before it
//! reaches the engine, and listing goes through the caller's visibility predicate.

pub mod cluster;
pub mod codec;
pub mod config;
pub mod ddl;
pub mod json_schema;
pub mod layout;
mod schema_of;
pub mod shown;
pub mod subjects;

pub use cluster::{KafkaCluster, TopicInfo, TopicTable};
pub use config::KafkaClusterConfig;
pub use layout::{Format, Record, SourceRecord, TableLayout};
pub use subjects::{RegisteredSchema, SchemaStore, SchemaType, SubjectError};

/// Why a Kafka operation failed.
#[derive(thiserror::Error, Debug, Clone)]
pub enum KafkaError {
    /// The cluster (or its schema store) did not answer in time: retry later (HTTP 503).
    #[error("Kafka cluster {cluster} ({bootstrap}) is unavailable: {reason}")]
    Unavailable {
        /// Database id of the cluster.
        cluster: String,
        /// Its bootstrap servers.
        bootstrap: String,
        /// What failed.
        reason: String,
    },
    /// The table schemas could not be read or written in time: retry later (HTTP 503).
    #[error("the schema store is unavailable: {0}")]
    SchemaStoreUnavailable(String),
    /// The cluster refused an operation on a topic.
    #[error("Kafka refused to {operation} topic {topic}: {reason}")]
    Refused {
        /// `create`, `delete`, `alter` or `produce`.
        operation: &'static str,
        /// The topic.
        topic: String,
        /// The broker's reason.
        reason: String,
    },
    /// CREATE of a topic that exists.
    #[error("topic {0} already exists")]
    TopicExists(String),
    /// The topic does not exist.
    #[error("topic {0} does not exist")]
    TopicNotFound(String),
    /// The schema store refused or failed.
    #[error("{0}")]
    Subjects(String),
    /// A record could not be decoded or encoded.
    #[error("{0}")]
    Codec(String),
    /// The table's registered schema cannot be used as a table.
    #[error("{0}")]
    Schema(String),
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
}

impl KafkaError {
    /// Whether the failure is the cluster's or schema store's absence (retry later) rather
    /// than a refusal.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            KafkaError::Unavailable { .. } | KafkaError::SchemaStoreUnavailable(_)
        )
    }
}

impl From<SubjectError> for KafkaError {
    fn from(e: SubjectError) -> Self {
        match e {
            SubjectError::Unavailable(reason) => KafkaError::SchemaStoreUnavailable(reason),
            other => KafkaError::Subjects(other.to_string()),
        }
    }
}

impl From<codec::CodecError> for KafkaError {
    fn from(e: codec::CodecError) -> Self {
        KafkaError::Codec(e.to_string())
    }
}
