//! The engine seam: the [`Engine`] trait every backend implements, what a running statement
//! looks like from the gateway ([`Execution`]: traits, rows, a cancel handle and, for
//! listings, what the rows name), and the wire shapes of results (`status.traits` §4.3, row
//! encoding §5.2).
//!
//! An engine executes statements the gateway has already parsed, resolved to canonical
//! names, authorized and rewritten: it takes only a [`RewrittenStatement`], which only
//! [`crate::rewrite::rewrite`] builds, and an [`ExecContext`] of typed settings (never raw client
//! properties: every name it is handed is already canonical, SHOW scopes included).
//!
//! An engine must not decide who may do what, and it does not filter what it lists: for
//! SHOW CATALOGS / DATABASES / TABLES it returns every row with a [`Listing`] saying what
//! each row names, and the gateway drops the rows the caller may not see
//! (`pipeline/listing.rs`).
//!
//! A statement's work ends when it is done, when its [`Execution::cancel`] handle is called
//! (stop and DELETE do), or when its row stream is dropped; after a cancel the embedded engine
//! stops within one batch of any operator, whether or not anyone polls the stream.
//!
//! A statement's start is one step ([`Start::Running`]: the embedded engine plans it in
//! milliseconds) or two ([`Start::Pending`]: a remote engine checks it can reach its service,
//! and the slow rest, planning and job submission, runs as [`Pending::rest`], which the
//! gateway awaits on a task of its own while the statement shows PENDING).
//!
//! The embedded engine ([`EmbeddedEngine`], the default) is DataFusion in-process (see
//! [`embedded`]); [`FlinkEngine`] runs statements on an Apache Flink SQL Gateway (see
//! [`flink`]). [`Engines`] holds one engine per configured id and picks a statement's by
//! its compute pool (see [`registry`]).

pub mod embedded;
pub mod flink;
pub(crate) mod idle;
pub mod registry;
pub(crate) mod zone;

use crate::error::ErrorCode;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalogs, ObjectRef, TableRef};
use crate::rewrite::RewrittenStatement;
use crate::sql::FlinkType;

pub use embedded::EmbeddedEngine;
pub use flink::FlinkEngine;
pub use registry::{EngineEntry, EngineKind, Engines};

/// A statement engine (see the module doc for the contract). The gateway holds one as
/// `Arc<dyn Engine>` and talks to nothing else of it.
#[async_trait::async_trait]
pub trait Engine: Send + Sync + fmt::Debug {
    /// Validates and plans a statement and starts its work. Planning errors (unknown table
    /// or column, type errors, unsupported statements) and unavailable storage are returned
    /// here, before any work; failures while running arrive in the row stream.
    async fn execute(
        &self,
        stmt: &RewrittenStatement,
        ctx: &ExecContext,
    ) -> Result<Execution, EngineError>;

    /// Starts a statement for the statements API. An engine whose start is slow (a remote
    /// engine planning and submitting a job) does only its quick part here, whose failure to
    /// reach the engine's service is [`EngineError::Unavailable`], and returns
    /// [`Start::Pending`] with the rest; the default runs [`Engine::execute`] to its end.
    async fn start(
        &self,
        stmt: &Arc<RewrittenStatement>,
        ctx: &ExecContext,
    ) -> Result<Start, EngineError> {
        Ok(Start::Running(self.execute(stmt, ctx).await?))
    }

    /// Whether the gateway keeps views for this engine's statements ([`crate::views`]):
    /// then the gateway runs view DDL itself and the engine never sees a view's name. Other
    /// engines refuse view DDL.
    fn runs_gateway_views(&self) -> bool {
        false
    }

    /// Whether a table of that canonical name exists (a view may not take a table's name).
    async fn table_exists(&self, _table: &TableRef) -> Result<bool, EngineError> {
        Ok(false)
    }

    /// The `WITH` options and distribution the engine keeps for a table, as its SHOW CREATE
    /// TABLE shows them; `None` for a table it keeps none for (or does not know). Not a
    /// statement: INFORMATION_SCHEMA reads it for the tables a caller's authorized listing
    /// already showed it (`infoschema/gather.rs`), and nothing else may call it.
    async fn table_definition(
        &self,
        _table: &TableRef,
    ) -> Result<Option<TableDefinition>, EngineError> {
        Ok(None)
    }
}

/// What [`Engine::table_definition`] reports of a table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableDefinition {
    /// The `WITH` options, in the order SHOW CREATE TABLE shows them.
    pub options: Vec<(String, String)>,
    /// The `DISTRIBUTED BY` clause, if the table has one.
    pub distribution: Option<crate::sql::ddl::Distribution>,
}

/// How [`Engine::start`] left a statement.
#[derive(Debug)]
pub enum Start {
    /// The engine runs it.
    Running(Execution),
    /// The engine is starting it; the statement is PENDING until [`Pending::rest`] ends.
    Pending(Pending),
}

/// The rest of a slow start.
pub struct Pending {
    /// `status.detail` while it starts.
    pub detail: String,
    /// Ends with the running statement, or the engine's error, the root cause as the engine
    /// reported it. The engine bounds it by its own start timeout and cleans up on every
    /// error. Dropping it abandons the start: whatever the engine had opened for the
    /// statement (a session, an operation, a job) is closed or cancelled soon after.
    pub rest: futures::future::BoxFuture<'static, Result<Execution, EngineError>>,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("detail", &self.detail)
            .finish_non_exhaustive()
    }
}

/// Opens the embedded engine alone (the gateway opens every configured engine with
/// [`Engines::open`]).
pub async fn open(
    cfg: &EngineConfig,
    base_dir: &Path,
    catalogs: Arc<Catalogs>,
) -> Result<Arc<dyn Engine>, EngineError> {
    Ok(Arc::new(
        EmbeddedEngine::open(cfg, base_dir, catalogs).await?,
    ))
}

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

/// Per-statement settings besides the statement itself: typed, never raw client properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecContext {
    /// `sql.snapshot.mode = now`: the client wants a bounded snapshot. Without it, a query
    /// that reads a Kafka topic is an unbounded stream; everything else is bounded anyway.
    pub snapshot: bool,
    /// The statement's name, for what a remote engine names after it (a Flink job's
    /// `pipeline.name`). Never used to decide anything.
    pub name: Option<String>,
    /// `sql.local-time-zone` (validated by `zone` when the statement is created): the zone
    /// of TIMESTAMP_LTZ computation (casts, extraction, windows) and of how results show
    /// TIMESTAMP_LTZ values (the Flink engine; the embedded engine still shows them as
    /// UTC). `None`: UTC.
    pub local_time_zone: Option<String>,
    /// `sql.tables.scan.idle-timeout` (validated by `idle` when the statement is created):
    /// `None` is the default of [`idle::DEFAULT`].
    pub scan_idle_timeout: Option<std::time::Duration>,
    /// `sql.dry-run`: the engine plans the statement to its end (so a dry run fails where a
    /// run would) and runs nothing; its row stream may be empty without being polled.
    pub dry_run: bool,
}

/// The rows a statement produces, batch by batch.
pub type RowStream = futures::stream::BoxStream<'static, Result<Vec<ResultRow>, EngineError>>;

/// A running statement: its traits (known before any row), its rows, how to stop it, and
/// for a listing what its rows name.
pub struct Execution {
    /// `status.traits` of the statement.
    pub traits: Traits,
    /// Batches of encoded rows. DDL and INSERT yield no rows; their stream ends once the
    /// work is durable. Dropping the stream stops the statement's work.
    pub rows: RowStream,
    /// Stops the statement's work (stop and DELETE call it), whether or not the row stream
    /// is being polled.
    pub cancel: Arc<dyn Cancel>,
    /// For SHOW CATALOGS / DATABASES / TABLES, what each row names; the gateway shows only
    /// the rows the caller may see, and refuses a listing that does not say.
    pub listing: Option<Listing>,
}

impl fmt::Debug for Execution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Execution")
            .field("traits", &self.traits)
            .field("cancel", &self.cancel)
            .field("listing", &self.listing)
            .finish_non_exhaustive()
    }
}

/// How a statement's work is stopped: for the embedded engine a token its operators check,
/// for a remote engine a request that cancels the job (sent on a task of its own).
pub trait Cancel: Send + Sync + fmt::Debug {
    /// Stops the work; returns at once, and the work ends promptly after. Calling it again,
    /// or after the work ended, does nothing.
    fn cancel(&self);
}

/// What the rows of a listing name: each row is a child of `parent`, the one whose canonical
/// id (a table's name) is in column `column`.
///
/// ```
/// use sqlgate::catalog::{ObjectRef, TableRef};
/// use sqlgate::engine::{Listing, ResultRow};
/// let listing = Listing { parent: ObjectRef::Database("env-dev".into(), "lkc-dev".into()), column: 0 };
/// let row = ResultRow { op: 0, row: vec!["orders".into()] };
/// assert_eq!(listing.object(&row), Some(ObjectRef::Table(TableRef::new("env-dev", "lkc-dev", "orders"))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// What was listed: the organization (catalogs), a catalog (its databases) or a
    /// database (its tables).
    pub parent: ObjectRef,
    /// The column holding each child's canonical id.
    pub column: usize,
}

impl Listing {
    /// The object a row names; `None` when the row has no such column or the parent has no
    /// children (a table). Such a row is never shown.
    pub fn object(&self, row: &ResultRow) -> Option<ObjectRef> {
        let id = row.row.get(self.column)?.as_str()?;
        Some(match &self.parent {
            ObjectRef::Organization => ObjectRef::Catalog(id.to_string()),
            ObjectRef::Catalog(c) => ObjectRef::Database(c.clone(), id.to_string()),
            ObjectRef::Database(c, d) => ObjectRef::Table(TableRef::new(c, d, id)),
            ObjectRef::Table(_) => return None,
        })
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
    /// A view statement refused, or a view that cannot be read (see [`crate::views`]).
    #[error(transparent)]
    View(#[from] crate::views::ViewError),
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
            EngineError::View(e) => e.code(),
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
            EngineError::View(e) => e.detail(),
        }
    }
}
