//! Schema Registry subjects (`<topic>-key`, `<topic>-value`, TopicNameStrategy): where a
//! table's schema lives.
//!
//! Owns the two places subjects are kept and the choice between them: a Schema Registry over
//! its REST API (`registry`) where the cluster has `schema_registry_url`, else a compacted
//! topic of the cluster itself (`topic`, default `_sqlgate_schemas`), so schemas survive a
//! restart either way. It does not decide what a table's schema is (that is `json_schema` and
//! the DDL) nor who may change it.
//!
//! Both backends connect lazily: [`SchemaStore::new`] never touches the network, and every
//! call is bounded by the cluster's `request_timeout`. An unreachable or failing store is
//! [`SubjectError::Unavailable`]; a request the registry refuses is
//! [`SubjectError::Rejected`].

mod registry;
mod topic;

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
    /// The configuration or the request cannot work whatever the store answers (a registry
    /// URL that is not http(s), credentials without `:`, an empty subject name, …).
    #[error("invalid schema store request: {0}")]
    Invalid(String),
}

/// Where subjects are kept: a Schema Registry, or a compacted topic of the cluster. Shared
/// (in an `Arc`) by every statement touching the cluster.
#[derive(Debug)]
pub struct SchemaStore {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Registry(registry::RegistryClient),
    /// Boxed: it holds the cluster config and the clients, far larger than the REST client.
    Topic(Box<topic::TopicStore>),
}

impl SchemaStore {
    /// The store the cluster's config asks for. Does not connect: the first call does.
    ///
    /// ```
    /// use sqlgate::kafka::{KafkaClusterConfig, SchemaStore};
    /// let mut cfg = KafkaClusterConfig::new("127.0.0.1:9092");
    /// assert!(SchemaStore::new(&cfg).is_ok());
    /// cfg.schema_registry_url = Some("ftp://registry".into());
    /// assert!(SchemaStore::new(&cfg).is_err());
    /// ```
    pub fn new(cfg: &KafkaClusterConfig) -> Result<Self, SubjectError> {
        let backend = match &cfg.schema_registry_url {
            Some(url) => Backend::Registry(registry::RegistryClient::new(url, cfg)?),
            None => Backend::Topic(Box::new(topic::TopicStore::new(cfg)?)),
        };
        Ok(Self { backend })
    }

    /// The latest version of `subject`, if it exists.
    pub async fn latest(&self, subject: &str) -> Result<Option<RegisteredSchema>, SubjectError> {
        check_subject(subject)?;
        match &self.backend {
            Backend::Registry(r) => r.latest(subject).await,
            Backend::Topic(t) => t.latest(subject).await,
        }
    }

    /// Registers `schema` under `subject` (a new version unless identical to the latest, in
    /// which case the latest is returned as it is).
    pub async fn register(
        &self,
        subject: &str,
        schema_type: SchemaType,
        schema: &str,
    ) -> Result<RegisteredSchema, SubjectError> {
        check_subject(subject)?;
        match &self.backend {
            Backend::Registry(r) => r.register(subject, schema_type, schema).await,
            Backend::Topic(t) => t.register(subject, schema_type, schema).await,
        }
    }

    /// Deletes `subject` with all its versions (for a registry: soft, then permanent);
    /// `Ok(false)` if it did not exist.
    pub async fn delete(&self, subject: &str) -> Result<bool, SubjectError> {
        check_subject(subject)?;
        match &self.backend {
            Backend::Registry(r) => r.delete(subject).await,
            Backend::Topic(t) => t.delete(subject).await,
        }
    }

    /// The schema with registry-wide id `id` (what a framed record carries), whichever
    /// subject and version it was registered as, also after they were deleted; `None` if the
    /// store never handed it out. A record written by another producer, or before a table's
    /// latest schema version, is decoded with it.
    pub async fn schema_by_id(
        &self,
        id: u32,
    ) -> Result<Option<(SchemaType, String)>, SubjectError> {
        match &self.backend {
            Backend::Registry(r) => r.schema_by_id(id).await,
            Backend::Topic(t) => t.schema_by_id(id).await,
        }
    }

    /// The names of all current (not deleted) subjects, sorted.
    pub async fn subjects(&self) -> Result<Vec<String>, SubjectError> {
        let mut names = match &self.backend {
            Backend::Registry(r) => r.subjects().await?,
            Backend::Topic(t) => t.subjects().await?,
        };
        names.sort();
        Ok(names)
    }
}

fn check_subject(subject: &str) -> Result<(), SubjectError> {
    if subject.is_empty() {
        return Err(SubjectError::Invalid("empty subject name".into()));
    }
    Ok(())
}
