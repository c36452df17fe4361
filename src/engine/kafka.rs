//! Kafka as the embedded engine's storage: each configured cluster is a database, each topic
//! with its registered schema a table.
//!
//! Parts, each owning one concern:
//! - `config`: a cluster's client settings (`[environments.clusters.kafka]`).
//! - `layout`: how a table's columns map onto a topic's key, value and metadata.
//! - `json_schema`: Flink columns to and from JSON Schema (the registered form of a table).
//! - `subjects`: Schema Registry subjects `<topic>-key` / `<topic>-value`, kept in a Schema
//!   Registry (REST) where one is configured and in a compacted topic of the cluster where not.
//! - `codec`: Kafka records to Arrow batches and back (raw bytes, JSON, framed JSON, Avro).
//!
//! Nothing here decides who may do what: the gateway has authorized every statement before it
//! reaches the engine, and listing goes through the caller's visibility predicate.

pub mod codec;
pub mod config;
pub mod json_schema;
pub mod layout;
pub mod subjects;

pub use config::KafkaClusterConfig;
pub use layout::{Format, Record, SourceRecord, TableLayout};
pub use subjects::{RegisteredSchema, SchemaStore, SchemaType, SubjectError};
