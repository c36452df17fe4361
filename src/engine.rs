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

mod ddl;
mod encode;
mod examples;
mod exec;
pub mod kafka;
mod rewrite;
mod storage;
mod types;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use datafusion::catalog::{
    CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider, SchemaProvider,
};
use datafusion::datasource::MemTable;
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::sql::sqlparser::ast::{ObjectType, Statement};
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalogs, EXAMPLES_CATALOG, EXAMPLES_DATABASE, ObjectRef, TableRef};

pub use types::FlinkType;

use exec::UserTable;
use storage::TableStore;

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
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Plan(_) => "engine.plan_error",
            EngineError::Execution(_) => "engine.execution_error",
            EngineError::TableExists(_) => "engine.table_exists",
            EngineError::TableNotFound(_) => "engine.table_not_found",
            EngineError::DatabaseNotFound { .. } => "engine.database_not_found",
            EngineError::ReadOnly(_) => "engine.read_only",
            EngineError::Unsupported(_) => "engine.unsupported",
            EngineError::Storage(_) => "engine.storage_error",
            EngineError::ResultTooLarge { .. } => "engine.result_too_large",
            EngineError::UncheckedTable(_) => "engine.unchecked_table",
            EngineError::Unavailable(_) => "engine.unavailable",
            EngineError::Internal(_) => "engine.internal",
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

/// The embedded DataFusion engine. Cheap to clone handles are not needed: share it in an `Arc`.
pub struct EmbeddedEngine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    cfg: EngineConfig,
    catalogs: Arc<Catalogs>,
    ctx: SessionContext,
    store: TableStore,
    /// User tables by canonical name. Writers hold `ddl` as well, so CREATE/DROP of the same
    /// name never interleave.
    tables: RwLock<HashMap<TableRef, Arc<UserTable>>>,
    ddl: tokio::sync::Mutex<()>,
    /// Kafka-backed databases by (catalog id, database id).
    kafka: HashMap<(String, String), Arc<kafka::KafkaCluster>>,
}

impl fmt::Debug for EmbeddedEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tables = self.inner.tables.read().map(|t| t.len()).unwrap_or(0);
        f.debug_struct("EmbeddedEngine")
            .field("cfg", &self.inner.cfg)
            .field("user_tables", &tables)
            .finish_non_exhaustive()
    }
}

impl EmbeddedEngine {
    /// Opens the engine: creates the data directory, registers a catalog per environment and
    /// the `examples` catalog, and loads every persisted table.
    pub async fn open(
        cfg: &EngineConfig,
        base_dir: &Path,
        catalogs: Arc<Catalogs>,
    ) -> Result<Self, EngineError> {
        let data_dir = base_dir.join(&cfg.data_dir);
        let store = tokio::task::spawn_blocking(move || TableStore::open(&data_dir))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;

        let mut config = SessionConfig::new()
            .with_batch_size(cfg.batch_size.max(1))
            .with_create_default_catalog_and_schema(false)
            .with_information_schema(false);
        let opts = config.options_mut();
        // Flink identifiers are case-sensitive and verbatim.
        opts.sql_parser.enable_ident_normalization = false;
        // Plain Utf8 strings: the type user tables store, so results and INSERTs agree.
        opts.sql_parser.map_string_types_to_utf8view = false;
        let ctx = SessionContext::new_with_config(config);

        let mut kafka_clusters = HashMap::new();
        for env in catalogs.environments() {
            let catalog = MemoryCatalogProvider::new();
            for cluster in &env.clusters {
                let schema: Arc<dyn SchemaProvider> = match &cluster.kafka {
                    Some(k) => {
                        let kc = Arc::new(
                            kafka::KafkaCluster::new(&cluster.id, k).map_err(kafka_error)?,
                        );
                        kafka_clusters.insert((env.id.clone(), cluster.id.clone()), kc.clone());
                        Arc::new(kafka::provider::TopicSchemaProvider::new(
                            kc,
                            cfg.batch_size.max(1),
                        ))
                    }
                    None => Arc::new(MemorySchemaProvider::new()),
                };
                catalog
                    .register_schema(&cluster.id, schema)
                    .map_err(|e| EngineError::Internal(e.to_string()))?;
            }
            ctx.register_catalog(&env.id, Arc::new(catalog));
        }

        let examples = MemoryCatalogProvider::new();
        let marketplace = MemorySchemaProvider::new();
        for t in examples::generate() {
            let mem = MemTable::try_new(t.batch.schema(), vec![vec![t.batch]])
                .map_err(|e| EngineError::Internal(e.to_string()))?;
            marketplace
                .register_table(t.name.to_string(), Arc::new(mem))
                .map_err(|e| EngineError::Internal(e.to_string()))?;
        }
        examples
            .register_schema(EXAMPLES_DATABASE, Arc::new(marketplace))
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        ctx.register_catalog(EXAMPLES_CATALOG, Arc::new(examples));

        let inner = Arc::new(Inner {
            cfg: cfg.clone(),
            catalogs,
            ctx,
            store,
            tables: RwLock::new(HashMap::new()),
            ddl: tokio::sync::Mutex::new(()),
            kafka: kafka_clusters,
        });
        inner.load_tables().await?;
        Ok(Self { inner })
    }

    /// Executes a statement that was parsed, resolved, authorized and rewritten: the only
    /// entry point the gateway has into the engine, and it takes the proof type that only
    /// [`crate::sql::rewrite`] can build.
    ///
    /// Planning errors (unknown table or column, type errors, unsupported statements) are
    /// returned here, before any row; failures while running arrive in the row stream.
    pub async fn execute(
        &self,
        stmt: &crate::sql::RewrittenStatement,
        ctx: &ExecContext,
    ) -> Result<Execution, EngineError> {
        let checked: std::collections::HashSet<TableRef> = stmt
            .accesses()
            .iter()
            .filter_map(|a| match &a.object {
                crate::catalog::ObjectRef::Table(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        if stmt.is_flink_only()
            && let Some(run) = self
                .inner
                .kafka_flink_ddl(&stmt.sql(), stmt.sql_kind(), ctx, Some(&checked))
                .await
        {
            return run;
        }
        if stmt.is_flink_only() {
            // Flink-only grammar (ALTER, SET, statement sets, …) has no DataFusion form.
            return Err(EngineError::Unsupported(format!(
                "the embedded engine does not run {} statements; a Flink SQL Gateway engine does",
                stmt.sql_kind()
            )));
        }
        // Defence in depth: the tables the plan actually scans must be ones the gateway
        // checked (any action), else the statement is refused before it runs.
        self.execute_guarded(stmt.statement(), ctx, Some(&checked))
            .await
    }

    /// Executes one statement whose table names are canonical 3-part names, unguarded
    /// (engine tests only).
    #[cfg(test)]
    async fn execute_statement(
        &self,
        stmt: &Statement,
        ctx: &ExecContext,
    ) -> Result<Execution, EngineError> {
        self.execute_guarded(stmt, ctx, None).await
    }

    async fn execute_guarded(
        &self,
        stmt: &Statement,
        ctx: &ExecContext,
        guard: exec::Guard<'_>,
    ) -> Result<Execution, EngineError> {
        let inner = &self.inner;
        match stmt {
            Statement::Query(_) => inner.select(stmt.clone(), ctx, guard).await,
            Statement::Insert(_) => inner.insert(stmt.clone(), ctx, guard).await,
            Statement::CreateTable(ct) if ct.query.is_some() => {
                inner.create_table_as(ct, None, ctx, guard).await
            }
            Statement::CreateTable(ct) => inner.create_table(ct, stmt, None).await,
            Statement::Drop {
                object_type: ObjectType::Table,
                if_exists,
                names,
                ..
            } => inner.drop_tables(names, *if_exists).await,
            Statement::ShowTables { show_options, .. } => {
                inner.show_tables(show_options, ctx).await
            }
            Statement::ShowCatalogs { .. } => inner.show_catalogs(ctx),
            Statement::ShowDatabases { show_options, .. }
            | Statement::ShowSchemas { show_options, .. } => {
                inner.show_databases(show_options, ctx)
            }
            Statement::ExplainTable { table_name, .. } => inner.describe(table_name).await,
            other => Err(EngineError::Unsupported(format!(
                "the embedded engine does not run this kind of statement: {}",
                first_words(&other.to_string())
            ))),
        }
    }

    /// The canonical names of the user tables currently stored (not `examples`).
    pub fn user_tables(&self) -> Vec<TableRef> {
        let mut t: Vec<TableRef> = self
            .inner
            .tables
            .read()
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        t.sort();
        t
    }
}

/// The first two words of a statement, for messages that must not echo whole statements.
fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// Maps a Kafka failure; `TableExists`/`TableNotFound` need the table, so those come out as
/// plan errors here and callers that know the table map them themselves.
pub(crate) fn kafka_error(e: kafka::KafkaError) -> EngineError {
    use kafka::KafkaError as K;
    match e {
        K::Unavailable { .. } | K::SchemaStoreUnavailable(_) => {
            EngineError::Unavailable(e.to_string())
        }
        K::TopicExists(t) => EngineError::Plan(format!("Table {t} already exists")),
        K::TopicNotFound(t) => EngineError::Plan(format!("Table {t} not found")),
        K::Refused { .. } | K::Subjects(_) | K::Codec(_) => EngineError::Execution(e.to_string()),
        K::Schema(m) => EngineError::Plan(m),
        K::Internal(m) => EngineError::Internal(m),
    }
}

/// Maps a Kafka failure concerning table `t`.
pub(crate) fn kafka_table_error(e: kafka::KafkaError, t: &TableRef) -> EngineError {
    match e {
        kafka::KafkaError::TopicExists(_) => EngineError::TableExists(t.clone()),
        kafka::KafkaError::TopicNotFound(_) => EngineError::TableNotFound(t.clone()),
        other => kafka_error(other),
    }
}

impl Inner {
    /// The Kafka cluster behind a canonical catalog/database, if it is Kafka-backed.
    fn kafka_cluster(&self, catalog: &str, database: &str) -> Option<Arc<kafka::KafkaCluster>> {
        self.kafka
            .get(&(catalog.to_string(), database.to_string()))
            .cloned()
    }

    /// The DataFusion schema of a canonical catalog/database, if configured.
    fn schema_provider(&self, catalog: &str, database: &str) -> Option<Arc<dyn SchemaProvider>> {
        self.ctx.catalog(catalog)?.schema(database)
    }

    /// Registers the persisted tables of configured databases; tables of databases no longer
    /// configured stay on disk untouched.
    async fn load_tables(self: &Arc<Self>) -> Result<(), EngineError> {
        let store = self.store.clone();
        let loaded = tokio::task::spawn_blocking(move || store.load_all())
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
        for t in loaded {
            let name = t.meta.table_ref();
            let Some(schema) = self.schema_provider(&name.catalog, &name.database) else {
                tracing::warn!(table = %name, "persisted table belongs to an unconfigured database; not loaded");
                continue;
            };
            let table = Arc::new(UserTable::from_loaded(t)?);
            schema
                .register_table(name.table.clone(), table.mem.clone())
                .map_err(|e| EngineError::Internal(e.to_string()))?;
            self.tables
                .write()
                .map_err(|_| EngineError::Internal("table registry poisoned".into()))?
                .insert(name, table);
        }
        Ok(())
    }
}
