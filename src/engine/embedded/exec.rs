//! Queries and writes: SELECT, INSERT INTO, CREATE TABLE AS, and the user-table handle that
//! makes an INSERT durable before it is acknowledged.
//!
//! Owns planning through DataFusion, the result row limit and the write path
//! (persist first, then publish to readers). It does not parse Flink DDL (that is `ddl`).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{Schema as ArrowSchema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{LogicalPlan, WriteOp};
use datafusion::physical_plan::{ExecutionPlan, collect, execute_stream};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    CreateTable, Ident, ObjectName, Statement, TableObject, Visit, Visitor,
};
use futures::stream::{self, BoxStream, StreamExt};

use super::cancel::Stop;
use super::char_types::Shape;
use super::storage::{LoadedTable, TableMeta, TableStore};
use super::topic_scan::ScanMode;
use super::{
    Column, EngineError, Inner, Output, ResultRow, Run, Schema, Traits, dialect as rewrite, encode,
    kafka_error, kafka_table_error,
};
use crate::catalog::{Catalogs, TableRef};
use crate::kafka::KafkaCluster;
use crate::kafka::ddl::{Distribution, NewTable, TableOptions};
use crate::sql::types::{FlinkType, parse_flink_type};

/// A user table: its definition, the rows readers see, and where its files live.
#[derive(Debug)]
pub(crate) struct UserTable {
    pub(crate) meta: TableMeta,
    pub(crate) schema: SchemaRef,
    pub(crate) mem: Arc<MemTable>,
    pub(crate) dir: PathBuf,
    next_seq: AtomicU64,
    /// Serializes writers of this table (INSERTs and DROP) so data files are numbered in
    /// commit order and a DROP never races an INSERT's file.
    write: tokio::sync::Mutex<()>,
    /// Set by DROP under `write`; later writers fail instead of writing into a removed table.
    dropped: AtomicBool,
}

impl UserTable {
    /// Builds the handle from a definition and existing rows.
    pub(crate) fn new(
        meta: TableMeta,
        dir: PathBuf,
        batches: Vec<RecordBatch>,
        next_seq: u64,
    ) -> Result<Self, EngineError> {
        let columns = meta
            .columns
            .iter()
            .map(|c| {
                parse_flink_type(&c.data_type)
                    .map(|t| (c.name.clone(), t))
                    .map_err(|e| EngineError::Internal(format!("stored type of {}: {e}", c.name)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let fields = columns
            .iter()
            .map(|(n, t)| t.to_field(n))
            .collect::<Result<Vec<_>, _>>()
            .map_err(EngineError::Internal)?;
        let schema = Arc::new(ArrowSchema::new(fields));
        let batches = batches
            .into_iter()
            .map(|b| conform(b, &schema))
            .collect::<Result<Vec<_>, _>>()?;
        let mem = MemTable::try_new(schema.clone(), vec![batches])
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        Ok(Self {
            meta,
            schema,
            mem: Arc::new(mem),
            dir,
            next_seq: AtomicU64::new(next_seq),
            write: tokio::sync::Mutex::new(()),
            dropped: AtomicBool::new(false),
        })
    }

    pub(crate) fn from_loaded(t: LoadedTable) -> Result<Self, EngineError> {
        Self::new(t.meta, t.dir, t.batches, t.next_seq)
    }

    /// Persists `batches` as one data file, then makes them visible. Runs to completion even
    /// if the caller goes away, so what is on disk and what readers see never diverge.
    pub(crate) async fn append(
        self: &Arc<Self>,
        batches: Vec<RecordBatch>,
    ) -> Result<u64, EngineError> {
        let batches = batches
            .into_iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| conform(b, &self.schema))
            .collect::<Result<Vec<_>, _>>()?;
        let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
        if rows == 0 {
            return Ok(0);
        }
        let table = self.clone();
        tokio::spawn(async move {
            let _writer = table.write.lock().await;
            if table.dropped.load(Ordering::SeqCst) {
                return Err(EngineError::TableNotFound(table.meta.table_ref()));
            }
            let seq = table.next_seq.fetch_add(1, Ordering::SeqCst);
            let (dir, schema, on_disk) = (table.dir.clone(), table.schema.clone(), batches.clone());
            tokio::task::spawn_blocking(move || TableStore::append(&dir, seq, &schema, &on_disk))
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))??;
            table.mem.batches[0].write().await.extend(batches);
            Ok(rows)
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?
    }

    /// Marks the table dropped and removes its files; waits for in-flight writers.
    pub(crate) async fn remove(&self, store: &TableStore) -> Result<(), EngineError> {
        let _writer = self.write.lock().await;
        let (store, dir) = (store.clone(), self.dir.clone());
        tokio::task::spawn_blocking(move || store.remove(&dir))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
        self.dropped.store(true, Ordering::SeqCst);
        Ok(())
    }
}

impl UserTable {
    /// Replaces this table by `meta` (ALTER TABLE, TRUNCATE): waits for in-flight writers,
    /// maps the current rows with `rows` (which gets them and the new schema; what it returns
    /// is cast to the new types and checked), commits the new definition and rows on disk
    /// (see [`TableStore::replace`]), and marks this handle dropped so later writers of it
    /// fail. Returns the new handle, which the caller registers instead of this one.
    pub(crate) async fn rewrite(
        &self,
        mut meta: TableMeta,
        rows: impl FnOnce(Vec<RecordBatch>, &SchemaRef) -> Result<Vec<RecordBatch>, EngineError>,
    ) -> Result<Arc<UserTable>, EngineError> {
        let _writer = self.write.lock().await;
        if self.dropped.load(Ordering::SeqCst) {
            return Err(EngineError::TableNotFound(self.meta.table_ref()));
        }
        let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
        meta.first_seq = seq;
        let probe = UserTable::new(meta.clone(), self.dir.clone(), Vec::new(), seq + 1)?;
        let current = self.mem.batches[0].read().await.clone();
        let mapped = rows(current, &probe.schema)?
            .into_iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| conform(b, &probe.schema))
            .collect::<Result<Vec<_>, _>>()?;
        let (dir, schema, on_disk, m) = (
            self.dir.clone(),
            probe.schema.clone(),
            mapped.clone(),
            meta.clone(),
        );
        tokio::task::spawn_blocking(move || TableStore::replace(&dir, &m, &schema, &on_disk))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
        self.dropped.store(true, Ordering::SeqCst);
        Ok(Arc::new(UserTable::new(
            meta,
            self.dir.clone(),
            mapped,
            seq + 1,
        )?))
    }

    /// Renames this table (`meta` has the new name): its files move, this handle is marked
    /// dropped, and the new handle (same rows) is returned.
    pub(crate) async fn renamed(
        &self,
        store: &TableStore,
        meta: TableMeta,
    ) -> Result<Arc<UserTable>, EngineError> {
        let _writer = self.write.lock().await;
        if self.dropped.load(Ordering::SeqCst) {
            return Err(EngineError::TableNotFound(self.meta.table_ref()));
        }
        let target = meta.table_ref();
        let (store, dir, m) = (store.clone(), self.dir.clone(), meta.clone());
        let to = tokio::task::spawn_blocking(move || store.rename(&dir, &m))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => EngineError::TableExists(target),
                _ => EngineError::Storage(e),
            })?;
        self.dropped.store(true, Ordering::SeqCst);
        let rows = self.mem.batches[0].read().await.clone();
        let next = self.next_seq.load(Ordering::SeqCst);
        Ok(Arc::new(UserTable::new(meta, to, rows, next)?))
    }
}

/// Casts a batch's columns to the table's types and checks NOT NULL columns.
fn conform(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, EngineError> {
    if batch.num_columns() != schema.fields().len() {
        return Err(EngineError::Plan(format!(
            "Column count mismatch: the table has {} columns, the query produces {}",
            schema.fields().len(),
            batch.num_columns()
        )));
    }
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        if !field.is_nullable() && col.null_count() > 0 {
            return Err(EngineError::Execution(format!(
                "Column '{}' is NOT NULL, however, a null value is being written into it",
                field.name()
            )));
        }
        columns.push(if col.data_type() == field.data_type() {
            col.clone()
        } else {
            cast(col, field.data_type()).map_err(|e| EngineError::Execution(e.to_string()))?
        });
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| EngineError::Execution(e.to_string()))
}

/// The Kafka failure inside a DataFusion error, if that is what it is.
fn kafka_cause(e: &DataFusionError) -> Option<EngineError> {
    match e.find_root() {
        DataFusionError::External(b) => b
            .downcast_ref::<crate::kafka::KafkaError>()
            .map(|k| kafka_error(k.clone())),
        _ => None,
    }
}

/// Maps a DataFusion error raised while planning.
pub(crate) fn plan_error(e: DataFusionError) -> EngineError {
    if let Some(k) = kafka_cause(&e) {
        return k;
    }
    match e.find_root() {
        DataFusionError::IoError(_) | DataFusionError::ObjectStore(_) => {
            EngineError::Execution(e.message().into_owned())
        }
        DataFusionError::Internal(m) => EngineError::Internal(m.clone()),
        root => match super::unsupported::explain(&root.message()) {
            super::unsupported::Explained::Unsupported(m) => EngineError::Unsupported(m),
            super::unsupported::Explained::Same(m) => EngineError::Plan(m),
        },
    }
}

/// Maps a DataFusion error raised while running.
pub(crate) fn exec_error(e: DataFusionError) -> EngineError {
    if let Some(k) = kafka_cause(&e) {
        return k;
    }
    match super::unsupported::explain(&e.find_root().message()) {
        super::unsupported::Explained::Unsupported(m) => EngineError::Unsupported(m),
        super::unsupported::Explained::Same(m) => EngineError::Execution(m),
    }
}

/// A canonical 3-part name, as the gateway writes every table reference.
pub(crate) fn table_ref_of(name: &ObjectName) -> Result<TableRef, EngineError> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| p.as_ident().map(|i| i.value.clone()))
        .collect::<Option<_>>()
        .ok_or_else(|| EngineError::Plan(format!("Invalid table name {name}")))?;
    match parts.as_slice() {
        [c, d, t] => Ok(TableRef::new(c, d, t)),
        _ => Err(EngineError::Plan(format!(
            "Table name {name} must be fully qualified as `catalog`.`database`.`table`"
        ))),
    }
}

pub(crate) fn traits(sql_kind: &str, schema: Option<Schema>) -> Traits {
    traits_of(sql_kind, schema, false)
}

/// Traits of a statement that may run unbounded (it reads a Kafka topic as a stream).
fn traits_of(sql_kind: &str, schema: Option<Schema>, streaming: bool) -> Traits {
    Traits {
        sql_kind: sql_kind.into(),
        is_bounded: !streaming,
        is_append_only: true,
        upsert_columns: None,
        schema,
    }
}

/// The result columns of an Arrow schema.
pub(crate) fn columns_of(schema: &ArrowSchema) -> Result<Schema, EngineError> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            Ok(Column {
                name: f.name().clone(),
                data_type: FlinkType::from_field(f).map_err(EngineError::Unsupported)?,
            })
        })
        .collect::<Result<_, EngineError>>()?;
    Ok(Schema { columns })
}

/// A stream that yields nothing and ends when `work` has succeeded.
pub(crate) fn completion<F>(work: F) -> BoxStream<'static, Result<Vec<ResultRow>, EngineError>>
where
    F: Future<Output = Result<(), EngineError>> + Send + 'static,
{
    stream::once(work)
        .filter_map(|r| async move { r.err().map(Err) })
        .boxed()
}

impl Inner {
    /// Fails with `TableNotFound` for the first 3-part table name that does not exist
    /// (names with fewer parts are CTEs or errors DataFusion reports). For a Kafka-backed
    /// database this asks the cluster, so an unreachable cluster is reported here, before
    /// anything runs.
    async fn check_tables_exist(&self, stmt: &Statement) -> Result<(), EngineError> {
        struct Names(Vec<ObjectName>);
        impl Visitor for Names {
            type Break = ();
            fn pre_visit_relation(&mut self, r: &ObjectName) -> ControlFlow<()> {
                self.0.push(r.clone());
                ControlFlow::Continue(())
            }
        }
        let mut names = Names(Vec::new());
        let _ = stmt.visit(&mut names);
        for name in &names.0 {
            if name.0.len() != 3 {
                continue;
            }
            let t = table_ref_of(name)?;
            let exists = match self.kafka_cluster(&t.catalog, &t.database) {
                Some(kc) => kc
                    .table(&t.table)
                    .await
                    .map_err(|e| kafka_table_error(e, &t))?
                    .is_some(),
                None => self
                    .schema_provider(&t.catalog, &t.database)
                    .is_some_and(|s| s.table_exist(&t.table)),
            };
            if !exists {
                return Err(EngineError::TableNotFound(t));
            }
        }
        Ok(())
    }

    /// The columns of a view (DESCRIBE): its body, views in it expanded, planned and not
    /// run. The gateway authorized describing the view, nothing else, so nothing is read.
    /// With the schema, Flink's types of its string literals and rows ([`super::char_types`]).
    pub(super) async fn view_schema(
        &self,
        view: &crate::views::ViewDef,
    ) -> Result<(datafusion::arrow::datatypes::SchemaRef, Vec<Option<Shape>>), EngineError> {
        let query = crate::views::expanded(self.catalogs.views(), view)?;
        let run = Run::new(&super::ExecContext::default());
        let state = self.session(&run);
        let planned = self
            .plan(Statement::Query(Box::new(query)), &state, &run, None)
            .await
            .map_err(|e| match e {
                EngineError::TableNotFound(t) => crate::views::ViewError::Broken {
                    view: Box::new(view.name.clone()),
                    why: format!("it reads {t}, which does not exist"),
                }
                .into(),
                other => other,
            })?;
        let shapes = super::char_types::of_plan(&planned.plan);
        Ok((Arc::new(planned.plan.schema().as_arrow().clone()), shapes))
    }

    /// The session one statement plans and runs in: the engine's catalogs plus the
    /// statement's scan mode (snapshot or stream).
    pub(super) fn session(&self, ctx: &Run) -> SessionState {
        let mut state = self.ctx.state();
        state.config_mut().set_extension(Arc::new(ScanMode {
            snapshot: ctx.snapshot,
        }));
        state.config_mut().set_extension(Arc::new(ctx.stop.clone()));
        state
    }

    /// Rewrites Flink dialect and plans through DataFusion. With a `guard`, every table the
    /// plan scans (subqueries included) must be one the gateway checked, or nothing runs.
    pub(super) async fn plan(
        &self,
        mut stmt: Statement,
        state: &SessionState,
        ctx: &Run,
        guard: Guard<'_>,
    ) -> Result<Planned, EngineError> {
        self.check_tables_exist(&stmt).await?;
        rewrite::rewrite(&mut stmt)?;
        let plan = state
            .statement_to_plan(DfStatement::Statement(Box::new(stmt)))
            .await
            .map_err(plan_error)?;
        let scanned = scanned_tables(&plan)?;
        if let Some(checked) = guard {
            for t in &scanned {
                if !checked.contains(t) {
                    return Err(EngineError::UncheckedTable(t.clone()));
                }
            }
        }
        let streaming = !ctx.snapshot
            && scanned
                .iter()
                .any(|t| self.kafka_cluster(&t.catalog, &t.database).is_some());
        Ok(Planned { plan, streaming })
    }

    /// Plans a query (never DDL, DML or session statements) down to a physical plan.
    async fn plan_query(
        &self,
        stmt: Statement,
        state: &SessionState,
        ctx: &Run,
        guard: Guard<'_>,
    ) -> Result<(Arc<dyn ExecutionPlan>, bool, Vec<Option<Shape>>), EngineError> {
        let planned = self.plan(stmt, state, ctx, guard).await?;
        let chars = super::char_types::of_plan(&planned.plan);
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&planned.plan)
            .map_err(|e| EngineError::Unsupported(e.message().into_owned()))?;
        Ok((
            physical(state, planned.plan, planned.streaming).await?,
            planned.streaming,
            chars,
        ))
    }

    pub(crate) async fn select(
        &self,
        stmt: Statement,
        ctx: &Run,
        guard: Guard<'_>,
    ) -> Result<Output, EngineError> {
        let state = self.session(ctx);
        let (physical, streaming, chars) = self.plan_query(stmt, &state, ctx, guard).await?;
        let mut schema = columns_of(&physical.schema())?;
        // Flink's CHAR(n) / VARCHAR(n) of string literals (DataFusion only has Utf8), and the
        // fields of a row built in the query typed and nullable as their values.
        for (column, kind) in schema.columns.iter_mut().zip(chars) {
            column.data_type = super::char_types::narrowed(column.data_type.clone(), kind.as_ref());
        }
        if ctx.dry_run {
            // Planned to its end; a dry run starts nothing (no task context, no stream).
            return Ok(Output {
                traits: traits_of("SELECT", Some(schema), streaming),
                rows: stream::empty().boxed(),
                listing: None,
            });
        }
        let batches = execute_stream(physical, state.task_ctx()).map_err(exec_error)?;
        // A stream is never "too large": it runs until stopped, paced by its reader.
        let limit = if streaming {
            u64::MAX
        } else {
            self.cfg.max_result_rows
        };
        let rows = stream::unfold(
            (batches, 0u64, false),
            move |(mut batches, seen, done)| async move {
                if done {
                    return None;
                }
                let batch = match batches.next().await? {
                    Ok(b) => b,
                    Err(e) => return Some((Err(exec_error(e)), (batches, seen, true))),
                };
                let seen = seen.saturating_add(batch.num_rows() as u64);
                if seen > limit {
                    return Some((
                        Err(EngineError::ResultTooLarge { limit }),
                        (batches, seen, true),
                    ));
                }
                Some((encode::encode_batch(&batch), (batches, seen, false)))
            },
        )
        .filter(|r| std::future::ready(!matches!(r, Ok(rows) if rows.is_empty())))
        .boxed();
        Ok(Output {
            traits: traits_of("SELECT", Some(schema), streaming),
            rows,
            listing: None,
        })
    }

    pub(crate) async fn insert(
        &self,
        mut stmt: Statement,
        ctx: &Run,
        guard: Guard<'_>,
    ) -> Result<Output, EngineError> {
        let Statement::Insert(ins) = &mut stmt else {
            return Err(EngineError::Internal(
                "insert() called with another statement".into(),
            ));
        };
        let TableObject::TableName(name) = &ins.table else {
            return Err(EngineError::Unsupported(
                "INSERT INTO a table function".into(),
            ));
        };
        if ins.overwrite {
            return Err(EngineError::Unsupported("INSERT OVERWRITE".into()));
        }
        let target = table_ref_of(name)?;
        if Catalogs::is_examples(&target.catalog) {
            return Err(EngineError::ReadOnly(target.catalog));
        }
        let kafka = match self.kafka_cluster(&target.catalog, &target.database) {
            Some(kc) => {
                let table = kc
                    .table(&target.table)
                    .await
                    .map_err(|e| kafka_table_error(e, &target))?
                    .ok_or_else(|| EngineError::TableNotFound(target.clone()))?;
                if ins.columns.is_empty() {
                    // The metadata columns ($rowtime, $partition, $offset) are not written:
                    // without a column list, the values are the table's own columns.
                    ins.columns = table
                        .layout
                        .columns
                        .iter()
                        .map(|(n, _)| ObjectName::from(vec![Ident::new(n)]))
                        .collect();
                }
                Some((kc, table))
            }
            None => None,
        };
        let state = self.session(ctx);
        // A bare ROW(…) goes into a ROW column by position, as in Flink.
        if super::insert_rows::has_bare_row(ins) {
            let columns = match &kafka {
                Some((_, table)) => table.layout.columns.clone(),
                None => self
                    .user_table(&target)?
                    .schema
                    .fields()
                    .iter()
                    .map(|f| Ok((f.name().clone(), FlinkType::from_field(f)?)))
                    .collect::<Result<Vec<_>, String>>()
                    .map_err(EngineError::Internal)?,
            };
            let named = super::insert_rows::name_rows(ins, &columns)?;
            if !named.is_empty()
                && let Some(source) = &ins.source
            {
                let query = Statement::Query(source.clone());
                let planned = self.plan(query, &state, ctx, guard).await?;
                super::insert_rows::check_implicit(&named, planned.plan.schema().as_arrow())?;
            }
        }
        let planned = self.plan(stmt, &state, ctx, guard).await?;
        let LogicalPlan::Dml(dml) = planned.plan else {
            return Err(EngineError::Internal(
                "INSERT did not plan to a DML statement".into(),
            ));
        };
        if dml.op != WriteOp::Insert(InsertOp::Append) {
            return Err(EngineError::Unsupported(format!("{}", dml.op)));
        }
        let physical = physical(&state, Arc::unwrap_or_clone(dml.input), planned.streaming).await?;
        let task = state.task_ctx();
        let rows = match kafka {
            Some((kc, table)) => produce_all(physical, task, kc, table.clone()),
            None => {
                let table = self.user_table(&target)?;
                completion(async move {
                    let batches = collect(physical, task).await.map_err(exec_error)?;
                    table.append(batches).await.map(|_| ())
                })
            }
        };
        Ok(Output {
            traits: traits_of("INSERT_INTO", None, planned.streaming),
            rows,
            listing: None,
        })
    }

    /// CREATE TABLE t AS SELECT: the table takes the query's columns and types, is created
    /// (durably) before this returns, and the stream ends once its rows are durable. On a
    /// Kafka-backed database the table is a new topic (keyed and partitioned by
    /// `distribution`) and the rows are produced to it.
    pub(crate) async fn create_table_as(
        self: &Arc<Self>,
        ct: &CreateTable,
        distribution: Option<Distribution>,
        ctx: &Run,
        guard: Guard<'_>,
    ) -> Result<Output, EngineError> {
        let Some(query) = &ct.query else {
            return Err(EngineError::Internal("CTAS without a query".into()));
        };
        if !ct.columns.is_empty() {
            return Err(EngineError::Unsupported(
                "column definitions in CREATE TABLE AS".into(),
            ));
        }
        let target = table_ref_of(&ct.name)?;
        let kafka = self.kafka_cluster(&target.catalog, &target.database);
        if kafka.is_none() && (!ct.constraints.is_empty() || distribution.is_some()) {
            return Err(EngineError::Unsupported(
                "constraints or DISTRIBUTED BY in CREATE TABLE AS outside a Kafka-backed database"
                    .into(),
            ));
        }
        let state = self.session(ctx);
        let (physical, streaming, chars) = self
            .plan_query(Statement::Query(query.clone()), &state, ctx, guard)
            .await?;
        let schema = physical.schema();
        // The columns typed as the query's result is (Flink's CHAR(n) of a literal).
        let columns = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let t = FlinkType::from_field(f).map_err(EngineError::Unsupported)?;
                let t = super::char_types::narrowed(t, chars.get(i).and_then(Option::as_ref));
                Ok((f.name().clone(), t))
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        let task = state.task_ctx();
        if let Some(kc) = kafka {
            let primary_key = Self::primary_key_of(ct)?;
            let key_columns = match &distribution {
                Some(d) if !d.columns.is_empty() => d.columns.clone(),
                _ => primary_key.clone(),
            };
            let options = Self::kafka_options(ct)?;
            let new = NewTable {
                topic: target.table.clone(),
                columns,
                upsert: crate::kafka::ddl::is_upsert(&primary_key, &key_columns, &options),
                key_columns,
                partitions: distribution.as_ref().and_then(|d| d.buckets),
                options,
            };
            if !self
                .create_topic_table(&kc, &target, &new, ct.if_not_exists)
                .await?
            {
                return Ok(Output {
                    traits: traits("CREATE_TABLE_AS", None),
                    rows: completion(async { Ok(()) }),
                    listing: None,
                });
            }
            let table = kc
                .table(&target.table)
                .await
                .map_err(|e| kafka_table_error(e, &target))?
                .ok_or_else(|| EngineError::TableNotFound(target.clone()))?;
            return Ok(Output {
                traits: traits_of("CREATE_TABLE_AS", None, streaming),
                rows: produce_all(physical, task, kc, table),
                listing: None,
            });
        }
        let ddl = Statement::CreateTable(ct.clone()).to_string();
        let Some(table) = self
            .create_user_table(
                &target,
                columns,
                Vec::new(),
                ddl,
                ct.if_not_exists,
                Default::default(),
            )
            .await?
        else {
            // IF NOT EXISTS and the table exists: nothing to do.
            return Ok(Output {
                traits: traits("CREATE_TABLE_AS", None),
                rows: completion(async { Ok(()) }),
                listing: None,
            });
        };
        let rows = completion(async move {
            let batches = collect(physical, task).await.map_err(exec_error)?;
            table.append(batches).await.map(|_| ())
        });
        Ok(Output {
            traits: traits("CREATE_TABLE_AS", None),
            rows,
            listing: None,
        })
    }

    /// The PRIMARY KEY columns of a CREATE TABLE's constraints.
    pub(crate) fn primary_key_of(ct: &CreateTable) -> Result<Vec<String>, EngineError> {
        let mut key = Vec::new();
        for c in &ct.constraints {
            match c {
                datafusion::sql::sqlparser::ast::TableConstraint::PrimaryKey(pk) => {
                    for ic in &pk.columns {
                        match &ic.column.expr {
                            datafusion::sql::sqlparser::ast::Expr::Identifier(id) => {
                                key.push(id.value.clone())
                            }
                            other => {
                                return Err(EngineError::Plan(format!(
                                    "Invalid primary key column {other}"
                                )));
                            }
                        }
                    }
                }
                other => {
                    return Err(EngineError::Unsupported(format!(
                        "table constraint {other}"
                    )));
                }
            }
        }
        Ok(key)
    }

    /// The WITH options of a CREATE TABLE on a Kafka-backed database.
    pub(crate) fn kafka_options(ct: &CreateTable) -> Result<TableOptions, EngineError> {
        let options =
            crate::kafka::ddl::create_options(&ct.table_options).map_err(EngineError::Plan)?;
        crate::kafka::ddl::table_options(&options).map_err(EngineError::Plan)
    }

    /// Creates a topic table under the DDL lock. `Ok(false)`: it exists and `if_not_exists`.
    pub(crate) async fn create_topic_table(
        &self,
        kc: &KafkaCluster,
        target: &TableRef,
        new: &NewTable,
        if_not_exists: bool,
    ) -> Result<bool, EngineError> {
        let _ddl = self.ddl.lock().await;
        let exists = kc
            .topic(&target.table)
            .await
            .map_err(|e| kafka_table_error(e, target))?
            .is_some();
        if exists {
            return if if_not_exists {
                Ok(false)
            } else {
                Err(EngineError::TableExists(target.clone()))
            };
        }
        crate::kafka::ddl::create(kc, new)
            .await
            .map_err(|e| kafka_table_error(e, target))?;
        Ok(true)
    }

    /// The user table behind a canonical name.
    pub(crate) fn user_table(&self, t: &TableRef) -> Result<Arc<UserTable>, EngineError> {
        self.tables
            .read()
            .map_err(|_| EngineError::Internal("table registry poisoned".into()))?
            .get(t)
            .cloned()
            .ok_or_else(|| EngineError::TableNotFound(t.clone()))
    }
}

/// A planned statement and whether it runs unbounded.
pub(super) struct Planned {
    pub(super) plan: LogicalPlan,
    streaming: bool,
}

/// Rows per output batch of the operators of a stream (see [`physical`]).
const STREAM_BATCH_ROWS: usize = 1;

/// The physical plan of `plan`, every node of it checking the statement's stop token (set
/// on the session by `Inner::session`), so a stop ends the work within a batch.
///
/// A stream (`streaming`) is planned with operators that pass rows on as they come: a
/// filter (a WHERE, or a row filter of a data policy) otherwise holds its matching rows until
/// it has `batch_size` of them, which on a quiet topic is never.
async fn physical(
    state: &SessionState,
    plan: LogicalPlan,
    streaming: bool,
) -> Result<Arc<dyn ExecutionPlan>, EngineError> {
    let stream_state;
    let state = if streaming {
        let mut s = state.clone();
        let opts = s.config_mut().options_mut();
        opts.execution.batch_size =
            datafusion::common::config::ConfigNonZeroUsize::try_new(STREAM_BATCH_ROWS)
                .map_err(plan_error)?;
        opts.execution.coalesce_batches = false;
        stream_state = s;
        &stream_state
    } else {
        state
    };
    let physical = state
        .create_physical_plan(&plan)
        .await
        .map_err(plan_error)?;
    match state.config().get_extension::<Stop>() {
        Some(stop) => stop.guard_plan(physical),
        None => Err(EngineError::Internal(
            "a statement's session has no stop token".into(),
        )),
    }
}

/// Encodes every batch of `input` and produces it to the table's topic; the stream ends once
/// every record is acknowledged (or never, for an unbounded input, until stopped).
fn produce_all(
    input: Arc<dyn ExecutionPlan>,
    task: Arc<datafusion::execution::TaskContext>,
    kc: Arc<KafkaCluster>,
    table: Arc<crate::kafka::TopicTable>,
) -> BoxStream<'static, Result<Vec<ResultRow>, EngineError>> {
    completion(async move {
        let mut batches = execute_stream(input, task).map_err(exec_error)?;
        while let Some(batch) = batches.next().await {
            let batch = batch.map_err(exec_error)?;
            let records = table
                .codec
                .encode(&batch)
                .map_err(|e| EngineError::Execution(e.to_string()))?;
            kc.produce(&table.layout.topic, records)
                .await
                .map_err(kafka_error)?;
        }
        Ok(())
    })
}

/// The tables the gateway checked for this statement, when it came through the gateway.
pub(crate) type Guard<'a> = Option<&'a std::collections::HashSet<TableRef>>;

/// Every table a logical plan scans, including inside subqueries.
fn scanned_tables(plan: &LogicalPlan) -> Result<Vec<TableRef>, EngineError> {
    use datafusion::common::TableReference;
    use datafusion::common::tree_node::TreeNodeRecursion;
    let mut out = Vec::new();
    let mut partial = None;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            match &scan.table_name {
                TableReference::Full {
                    catalog,
                    schema,
                    table,
                } => {
                    out.push(TableRef::new(catalog, schema, table));
                }
                other => partial = Some(other.to_string()),
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map_err(|e| EngineError::Internal(e.to_string()))?;
    match partial {
        // Every name reaching the engine is fully qualified; anything else is refused.
        Some(name) => Err(EngineError::Internal(format!(
            "scan of a table not fully qualified: {name}"
        ))),
        None => Ok(out),
    }
}
