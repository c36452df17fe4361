//! The embedded engine: DataFusion in-process, one DataFusion catalog per configured
//! environment (by canonical id, e.g. `env-dev`) with one schema per cluster (`lkc-dev`), plus
//! the built-in read-only `examples`.`marketplace` tables. Tables users create live in memory
//! and in `data_dir` (see `storage`), so they and every acknowledged INSERT survive a restart.
//! A Kafka-backed cluster's schema is its topics (`topic_provider`, `topic_scan`, over
//! [`crate::kafka`]). Every physical plan checks the statement's stop token (`cancel`), so
//! stop and DELETE end the work within a batch.

mod alter;
mod cancel;
mod char_types;
mod ddl;
pub(crate) mod dialect;
pub(crate) mod encode;
mod examples;
pub(crate) mod exec;
pub(crate) mod functions;
mod insert_rows;
mod masked;
mod policy_fit;
mod show;
mod storage;
mod topic_provider;
mod topic_scan;
mod unsupported;

pub(crate) use encode::{day_time, year_month};

#[cfg(test)]
mod tests;

/// What the Kafka bench drives directly: a Kafka-backed database as a DataFusion schema, the
/// way the engine mounts it. Not part of the gateway's API.
#[doc(hidden)]
pub mod bench_support {
    use std::sync::Arc;

    use datafusion::catalog::SchemaProvider;

    /// A cluster's topics as a DataFusion schema (`batch_size` rows per batch).
    pub fn topic_schema(
        cluster: Arc<crate::kafka::KafkaCluster>,
        batch_size: usize,
    ) -> Arc<dyn SchemaProvider> {
        Arc::new(super::topic_provider::TopicSchemaProvider::new(
            cluster, batch_size,
        ))
    }
}

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};

use datafusion::catalog::{
    CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider, SchemaProvider,
};
use datafusion::datasource::MemTable;
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::sql::sqlparser::ast::{ObjectType, Statement};

use super::{
    Column, Engine, EngineConfig, EngineError, ExecContext, Execution, Listing, ResultRow,
    RowStream, Schema, Traits,
};
use crate::catalog::{Catalogs, EXAMPLES_CATALOG, EXAMPLES_DATABASE, TableRef};
use crate::kafka;

use cancel::Stop;
use exec::UserTable;
use storage::TableStore;

/// What the engine's internals produce for one statement; [`EmbeddedEngine::execute`] adds
/// the cancel handle.
pub(crate) struct Output {
    traits: Traits,
    rows: RowStream,
    listing: Option<Listing>,
}

/// One statement's settings inside the engine: the caller's [`ExecContext`] and the
/// statement's stop token, which every physical plan it builds checks.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    snapshot: bool,
    dry_run: bool,
    stop: Stop,
}

impl Run {
    fn new(ctx: &ExecContext) -> Self {
        Self {
            snapshot: ctx.snapshot,
            dry_run: ctx.dry_run,
            stop: Stop::new(),
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
    /// Whether `t` is a view the gateway keeps (a read of one reaches an engine as its body,
    /// so an engine never declares or scans it).
    pub(crate) fn is_view(&self, t: &TableRef) -> bool {
        self.inner.catalogs.views().get(t).is_some()
    }

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
        // Flink types `1.50` as DECIMAL(3, 2), not DOUBLE.
        opts.sql_parser.parse_float_as_decimal = true;
        let ctx = SessionContext::new_with_config(config);
        functions::register(&ctx);

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
                        Arc::new(topic_provider::TopicSchemaProvider::new(
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

    /// Executes one statement whose table names are canonical 3-part names, unguarded
    /// (engine tests only).
    #[cfg(test)]
    async fn execute_statement(
        &self,
        stmt: &Statement,
        ctx: &ExecContext,
    ) -> Result<Execution, EngineError> {
        let run = Run::new(ctx);
        let out = self.execute_guarded(stmt, &run, None).await?;
        Ok(Self::execution(out, run))
    }

    /// A statement's output with its stop handle: cancelling it, or dropping the rows,
    /// stops every operator of the statement.
    fn execution(out: Output, run: Run) -> Execution {
        Execution {
            traits: out.traits,
            rows: run.stop.guard_rows(out.rows),
            cancel: Arc::new(run.stop),
            listing: out.listing,
        }
    }

    /// Refuses the statement if a row filter or column mask it reads through names a column
    /// its table lacks: planning would otherwise fail with an error that names the policy's
    /// columns to the caller.
    async fn check_data_policies(
        &self,
        stmt: &crate::rewrite::RewrittenStatement,
    ) -> Result<(), EngineError> {
        for applied in stmt.data_policies() {
            let t = &applied.table;
            let reference = datafusion::common::TableReference::full(
                t.catalog.as_str(),
                t.database.as_str(),
                t.table.as_str(),
            );
            let Ok(provider) = self.inner.ctx.table_provider(reference).await else {
                // An unknown table is the planner's to report, as for any statement.
                continue;
            };
            let columns: Vec<String> = provider
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            applied
                .check_columns(&columns)
                .map_err(|e| EngineError::Plan(e.detail()))?;
        }
        Ok(())
    }

    async fn rewritten(
        &self,
        stmt: &crate::rewrite::RewrittenStatement,
        ctx: &Run,
    ) -> Result<Output, EngineError> {
        let checked: std::collections::HashSet<TableRef> = stmt
            .accesses()
            .iter()
            .filter_map(|a| match &a.object {
                crate::catalog::ObjectRef::Table(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        if let Some(ddl) = stmt.ddl() {
            // A CTAS's query reads through filters and masks as any query does: checked
            // against its tables, the caller's predicates fenced.
            let fenced;
            let ddl = match ddl {
                crate::sql::FlinkDdl::Create(create) if !stmt.data_policies().is_empty() => {
                    self.check_data_policies(stmt).await?;
                    let mut create = create.clone();
                    crate::rewrite::fence_filters(&mut create.statement, stmt.data_policies());
                    fenced = crate::sql::FlinkDdl::Create(create);
                    &fenced
                }
                other => other,
            };
            if let Some(run) = self.inner.kafka_flink_ddl(ddl, ctx, Some(&checked)).await {
                return run;
            }
        }
        if let Some(ddl) = stmt.ddl()
            && let Some(run) = self.inner.flink_only(ddl, ctx, &checked).await
        {
            return run;
        }
        self.check_data_policies(stmt).await?;
        if stmt.is_flink_only() {
            if let Some(clause) = ddl::unheld_clause(stmt.sql_kind(), &stmt.sql()) {
                return Err(EngineError::Unsupported(format!(
                    "the embedded engine does not run CREATE TABLE with {clause}; a Flink SQL \
                     Gateway engine does"
                )));
            }
            // Flink-only grammar (ALTER, SET, statement sets, …) has no DataFusion form.
            return Err(EngineError::Unsupported(format!(
                "the embedded engine does not run {} statements; a Flink SQL Gateway engine does",
                stmt.sql_kind().replace('_', " ")
            )));
        }
        unsupported::check(stmt.statement()).map_err(EngineError::Unsupported)?;
        // Defence in depth: the tables the plan actually scans must be ones the gateway
        // checked (any action), else the statement is refused before it runs.
        // DESCRIBE of a table read through column masks: the masked columns as the caller
        // reads them.
        if let (Statement::ExplainTable { table_name, .. }, Some(d)) =
            (stmt.statement(), stmt.described_as())
        {
            let masked = self.inner.masked_types(d, ctx).await?;
            return self.inner.describe(table_name, &masked).await;
        }
        // The caller's predicates must not be evaluated with a policy's filter (see
        // `fence_filters`).
        if !stmt.data_policies().is_empty() {
            let mut fenced = stmt.statement().clone();
            crate::rewrite::fence_filters(&mut fenced, stmt.data_policies());
            return self.execute_guarded(&fenced, ctx, Some(&checked)).await;
        }
        self.execute_guarded(stmt.statement(), ctx, Some(&checked))
            .await
    }

    async fn execute_guarded(
        &self,
        stmt: &Statement,
        ctx: &Run,
        guard: exec::Guard<'_>,
    ) -> Result<Output, EngineError> {
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
            Statement::ShowTables { show_options, .. } => inner.show_tables(show_options).await,
            Statement::ShowCatalogs { .. } => inner.show_catalogs(),
            Statement::ShowDatabases { show_options, .. }
            | Statement::ShowSchemas { show_options, .. } => inner.show_databases(show_options),
            Statement::ExplainTable { table_name, .. } => {
                inner.describe(table_name, &Default::default()).await
            }
            Statement::Explain {
                statement,
                analyze,
                verbose,
                format,
                ..
            } => {
                if *analyze || *verbose || format.is_some() {
                    return Err(EngineError::Unsupported(
                        "EXPLAIN ANALYZE / VERBOSE / FORMAT is not supported (Flink has none; \
                         plain EXPLAIN shows the plan)"
                            .into(),
                    ));
                }
                inner.explain(statement, &[], ctx, guard).await
            }
            other => Err(EngineError::Unsupported(format!(
                "the embedded engine does not run this kind of statement: {}",
                first_words(&other.to_string())
            ))),
        }
    }

    /// The Kafka cluster behind a canonical catalog/database, if it is Kafka-backed (shared
    /// with the Flink engine, which declares its topics as tables).
    pub(crate) fn kafka_cluster(
        &self,
        catalog: &str,
        database: &str,
    ) -> Option<Arc<kafka::KafkaCluster>> {
        self.inner.kafka_cluster(catalog, database)
    }

    /// What a `CREATE TABLE` in a Kafka-backed database would make, before it is made: the
    /// table, its topic's layout and cluster (`None` for anything else and for invalid
    /// statements, whose execution says why). The Flink engine checks that it can read it.
    pub(crate) fn planned_topic_table(
        &self,
        stmt: &crate::rewrite::RewrittenStatement,
    ) -> Option<(
        TableRef,
        kafka::layout::TableLayout,
        Arc<kafka::KafkaCluster>,
    )> {
        match (stmt.ddl(), stmt.statement()) {
            (Some(crate::sql::FlinkDdl::Create(c)), _) => match &c.statement {
                Statement::CreateTable(ct) => {
                    self.inner.planned_topic_table(ct, c.distribution.clone())
                }
                _ => None,
            },
            (None, Statement::CreateTable(ct)) => self.inner.planned_topic_table(ct, None),
            _ => None,
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

#[async_trait::async_trait]
impl Engine for EmbeddedEngine {
    /// Executes a statement that was parsed, resolved, authorized and rewritten (it takes
    /// the proof type that only [`crate::rewrite::rewrite`] can build).
    async fn execute(
        &self,
        stmt: &crate::rewrite::RewrittenStatement,
        ctx: &ExecContext,
    ) -> Result<Execution, EngineError> {
        if let Some(zone) = ctx.local_time_zone.as_deref()
            && !super::zone::LocalZone::parse(zone).is_ok_and(|z| z.is_utc())
        {
            return Err(EngineError::Unsupported(format!(
                "the embedded engine computes in UTC; `sql.local-time-zone` = '{zone}' is applied \
                 only on a Flink compute pool"
            )));
        }
        let run = Run::new(ctx);
        let out = self.rewritten(stmt, &run).await?;
        Ok(Self::execution(out, run))
    }

    fn runs_gateway_views(&self) -> bool {
        true
    }

    async fn table_definition(
        &self,
        t: &TableRef,
    ) -> Result<Option<super::TableDefinition>, EngineError> {
        match self.inner.definition(t).await {
            Ok(d) => Ok(Some(super::TableDefinition {
                options: d.options,
                distribution: d.distribution,
            })),
            Err(EngineError::TableNotFound(_) | EngineError::Unsupported(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn table_exists(&self, t: &TableRef) -> Result<bool, EngineError> {
        let reference = datafusion::common::TableReference::full(
            t.catalog.as_str(),
            t.database.as_str(),
            t.table.as_str(),
        );
        Ok(self.inner.ctx.table_provider(reference).await.is_ok())
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
