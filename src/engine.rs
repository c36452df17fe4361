//! The engine: executes statements the gateway has already parsed, resolved to canonical
//! names, authorized and rewritten, and streams their results in the statements API's wire
//! shapes (`status.traits` §4.3, row encoding §5.2).
//!
//! The embedded engine ([`EmbeddedEngine`], the default) is DataFusion in-process:
//! one DataFusion catalog per configured environment (by canonical id, e.g. `env-dev`) with one
//! schema per cluster (`lkc-dev`), plus the built-in read-only `examples`.`marketplace` tables.
//! Tables users create live in memory and in `data_dir` (see `storage`), so they and every
//! acknowledged INSERT survive a restart.
//!
//! A cluster configured with a Kafka section is different: its schema is the cluster's topics
//! (see [`kafka`]). Reading a topic is a bounded snapshot when the client asks for one
//! (`sql.snapshot.mode = now`) and otherwise an unbounded stream (`is_bounded: false`);
//! INSERT produces records; CREATE / ALTER / DROP TABLE create, change and delete topics
//! and their schema subjects.
//!
//! This module must not decide who may do what: it executes exactly what it is handed.
//! The only filtering it does is listing (SHOW TABLES), through the caller's
//! [`ExecContext::visible`] predicate.

pub mod embedded;

use crate::error::ErrorCode;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::catalog::{ObjectRef, TableRef};
use crate::sql::FlinkType;

pub use embedded::EmbeddedEngine;

/// Embedded-engine settings (`[engine]` in the config file).
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Where user tables are persisted; relative paths are taken from the config file's
    /// directory (the `base_dir` given to [`EmbeddedEngine::open`]).
    pub data_dir: PathBuf,
    /// A statement whose result has more rows fails (rather than exhausting memory of the
    /// gateway, which buffers pages for clients that read slowly).
    pub max_result_rows: u64,
    /// Rows per Arrow batch inside DataFusion; also the largest chunk of rows the result
    /// stream yields at once.
    pub batch_size: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            max_result_rows: 1_000_000,
            batch_size: 8192,
        }
    }
}

/// Per-statement inputs besides the statement itself.
pub struct ExecContext {
    /// `sql.snapshot.mode = now`: the client wants a bounded snapshot. Without it, a query
    /// that reads a Kafka topic is an unbounded stream; everything else is bounded anyway.
    pub snapshot: bool,
    /// `spec.properties` (`sql.current-catalog`, `sql.current-database`, …).
    pub properties: BTreeMap<String, String>,
    /// SHOW TABLES lists only tables for which this is true, so listing never reveals a
    /// table the caller may not see.
    pub visible: Arc<dyn Fn(&ObjectRef) -> bool + Send + Sync>,
}

impl fmt::Debug for ExecContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecContext")
            .field("snapshot", &self.snapshot)
            .field("properties", &self.properties)
            .finish_non_exhaustive()
    }
}

/// A running statement: its traits (known before any row) and its rows.
pub struct Execution {
    /// `status.traits` of the statement.
    pub traits: Traits,
    /// Batches of encoded rows. DDL and INSERT yield no rows; their stream ends once the
    /// work is durable. Dropping the stream cancels the statement.
    pub rows: futures::stream::BoxStream<'static, Result<Vec<ResultRow>, EngineError>>,
}

impl fmt::Debug for Execution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Execution")
            .field("traits", &self.traits)
            .finish_non_exhaustive()
    }
}

/// The contract's `status.traits` (§4.3).
#[derive(Serialize, Clone, Debug)]
pub struct Traits {
    /// `SELECT`, `INSERT_INTO`, `CREATE_TABLE`, `CREATE_TABLE_AS`, `DROP_TABLE`, `SHOW_TABLES`, …
    pub sql_kind: String,
    /// False for a streaming query over a Kafka topic, which runs until stopped.
    pub is_bounded: bool,
    /// Always true for the embedded engine (all rows are op 0).
    pub is_append_only: bool,
    /// Never set by the embedded engine (serialized as `null`).
    pub upsert_columns: Option<Vec<usize>>,
    /// Result columns; `None` for statements without a result set (DDL, CTAS, INSERT).
    pub schema: Option<Schema>,
}

/// `{"columns": [...]}`.
#[derive(Serialize, Clone, Debug)]
pub struct Schema {
    /// One entry per value of every row.
    pub columns: Vec<Column>,
}

/// One result column.
#[derive(Serialize, Clone, Debug)]
pub struct Column {
    /// Column name (`EXPR$0` for unnamed expressions).
    pub name: String,
    /// Its Flink type.
    #[serde(rename = "type")]
    pub data_type: FlinkType,
}

/// One result row: changelog op (always 0 here) and the encoded values.
#[derive(Serialize, Clone, Debug)]
pub struct ResultRow {
    /// 0 = +I.
    pub op: u8,
    /// One JSON value per column: strings, nested arrays, or null.
    pub row: Vec<serde_json::Value>,
}

/// Why a statement failed in the engine.
#[derive(thiserror::Error, Debug)]
pub enum EngineError {
    /// The statement is invalid: unknown column or function, type mismatch, bad syntax of a
    /// type or literal. Always returned before any row.
    #[error("planning failed: {0}")]
    Plan(String),
    /// The statement failed while running (division by zero, cast failure, NOT NULL violated…).
    #[error("execution failed: {0}")]
    Execution(String),
    /// CREATE TABLE of a table that exists.
    #[error("table {0} already exists")]
    TableExists(TableRef),
    /// A table the statement names does not exist.
    #[error("table {0} not found")]
    TableNotFound(TableRef),
    /// A catalog or database the statement names does not exist.
    #[error("database `{catalog}`.`{database}` not found")]
    DatabaseNotFound {
        /// Catalog as named.
        catalog: String,
        /// Database as named.
        database: String,
    },
    /// A write to the read-only `examples` catalog.
    #[error("catalog `{0}` is read-only")]
    ReadOnly(String),
    /// A statement kind or feature the embedded engine does not implement.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Reading or writing table files failed.
    #[error("storage failure: {0}")]
    Storage(#[from] std::io::Error),
    /// The result has more rows than `max_result_rows`.
    #[error("result exceeds {limit} rows")]
    ResultTooLarge {
        /// The configured limit.
        limit: u64,
    },
    /// The Kafka cluster or schema store behind a table did not answer: retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The plan scans a table the gateway did not check: refused before running.
    #[error("the plan reads {0}, which was not authorized")]
    UncheckedTable(TableRef),
    /// A bug: something the engine relies on did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// Stable, dotted error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            EngineError::Plan(_) => ErrorCode::EnginePlanError,
            EngineError::Execution(_) => ErrorCode::EngineExecutionError,
            EngineError::TableExists(_) => ErrorCode::EngineTableExists,
            EngineError::TableNotFound(_) => ErrorCode::EngineTableNotFound,
            EngineError::DatabaseNotFound { .. } => ErrorCode::EngineDatabaseNotFound,
            EngineError::ReadOnly(_) => ErrorCode::EngineReadOnly,
            EngineError::Unsupported(_) => ErrorCode::EngineUnsupported,
            EngineError::Storage(_) => ErrorCode::EngineStorageError,
            EngineError::ResultTooLarge { .. } => ErrorCode::EngineResultTooLarge,
            EngineError::UncheckedTable(_) => ErrorCode::EngineUncheckedTable,
            EngineError::Unavailable(_) => ErrorCode::EngineUnavailable,
            EngineError::Internal(_) => ErrorCode::EngineInternal,
        }
    }

    /// A message a person can act on, Flink-style for validation errors
    /// (`SQL validation failed. Table `a`.`b`.`c` not found`).
    pub fn detail(&self) -> String {
        match self {
            EngineError::Plan(m) => format!("SQL validation failed. {m}"),
            EngineError::Execution(m) => format!("Statement execution failed: {m}"),
            EngineError::TableExists(t) => format!("Table {t} already exists."),
            EngineError::TableNotFound(t) => format!("SQL validation failed. Table {t} not found"),
            EngineError::DatabaseNotFound { catalog, database } => {
                format!("SQL validation failed. Database `{catalog}`.`{database}` does not exist")
            }
            EngineError::ReadOnly(c) => format!("The catalog `{c}` is read-only."),
            EngineError::Unsupported(m) => format!("Unsupported: {m}"),
            EngineError::Storage(_) => "The statement's data could not be stored.".to_string(),
            EngineError::ResultTooLarge { limit } => format!(
                "The result has more than {limit} rows, the maximum this gateway returns; \
                 add a LIMIT or a more selective WHERE clause."
            ),
            EngineError::UncheckedTable(_) => {
                "Refused: the statement's plan reads a table that was not authorized.".to_string()
            }
            EngineError::Unavailable(m) => format!("{m}. Try again shortly."),
            EngineError::Internal(_) => "Internal engine error.".to_string(),
        }
    }
}
