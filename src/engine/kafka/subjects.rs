//! Schema Registry subjects (`<topic>-key`, `<topic>-value`): where a table's schema lives.
//!
//! STUB: interface only; the backends are being written.

use serde::{Deserialize, Serialize};

use super::config::KafkaClusterConfig;

/// The kind of a registered schema (Schema Registry's `schemaType`; absent means AVRO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    /// Apache Avro.
    Avro,
    /// JSON Schema.
    Json,
    /// Protocol Buffers (read as raw bytes: not decoded by the embedded engine).
    Protobuf,
}

/// One version of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredSchema {
    /// Subject name, e.g. `orders-value`.
    pub subject: String,
    /// Version within the subject (1, 2, …).
    pub version: i32,
    /// Registry-wide schema id (what framed records carry).
    pub id: u32,
    /// Schema kind.
    pub schema_type: SchemaType,
    /// The schema text.
    pub schema: String,
}

/// Why a subject operation failed.
#[derive(thiserror::Error, Debug)]
pub enum SubjectError {
    /// The registry or the schemas topic did not answer in time.
    #[error("schema store unavailable: {0}")]
    Unavailable(String),
    /// The registry refused the request (invalid or incompatible schema, …).
    #[error("schema registry refused: {0}")]
    Rejected(String),
}

/// Where subjects are kept: a Schema Registry, or a compacted topic of the cluster.
#[derive(Debug)]
pub struct SchemaStore {
    _cfg: KafkaClusterConfig,
}

impl SchemaStore {
    /// The store the cluster's config asks for.
    pub fn new(cfg: &KafkaClusterConfig) -> Result<Self, SubjectError> {
        Ok(Self { _cfg: cfg.clone() })
    }

    /// The latest version of `subject`, if it exists.
    pub async fn latest(&self, _subject: &str) -> Result<Option<RegisteredSchema>, SubjectError> {
        Ok(None)
    }

    /// Registers `schema` under `subject` (a new version unless identical to the latest).
    pub async fn register(
        &self,
        _subject: &str,
        _schema_type: SchemaType,
        _schema: &str,
    ) -> Result<RegisteredSchema, SubjectError> {
        Err(SubjectError::Unavailable("not implemented".into()))
    }

    /// Deletes `subject` with all its versions; `Ok(false)` if it did not exist.
    pub async fn delete(&self, _subject: &str) -> Result<bool, SubjectError> {
        Ok(false)
    }
}
