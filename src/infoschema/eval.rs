//! Evaluates a read of INFORMATION_SCHEMA on the gathered rows, in a DataFusion context of
//! its own that holds nothing else: no engine table, no other catalog, no function that
//! reaches outside it. Whatever the statement does (projection, WHERE, UNION ALL, ORDER BY,
//! LIMIT, joins between views), it can only see what [`super::gather`] let through.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use datafusion::catalog::{
    CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider, SchemaProvider,
};
use datafusion::datasource::MemTable;
use datafusion::execution::context::SQLOptions;
use datafusion::physical_plan::collect;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use futures::StreamExt;
use futures::stream;

use super::gather::{Cell, ViewRows};
use super::views::{Ty, View};
use crate::engine::embedded::{dialect, encode, exec};
use crate::engine::{Cancel, EngineError, ExecContext, Execution, Traits};

/// Nothing to stop: the answer is computed before the statement is RUNNING.
#[derive(Debug)]
struct Done;

impl Cancel for Done {
    fn cancel(&self) {}
}

/// Runs `statement` (canonical: every view named `catalog`.`INFORMATION_SCHEMA`.`VIEW`) on
/// `tables` alone.
pub(crate) async fn run(
    mut statement: Statement,
    tables: Vec<ViewRows>,
    _ctx: &ExecContext,
) -> Result<Execution, EngineError> {
    let mut config = SessionConfig::new()
        .with_create_default_catalog_and_schema(false)
        .with_information_schema(false);
    let opts = config.options_mut();
    // Flink identifiers are case-sensitive and verbatim, as in the embedded engine.
    opts.sql_parser.enable_ident_normalization = false;
    opts.sql_parser.map_string_types_to_utf8view = false;
    opts.sql_parser.parse_float_as_decimal = true;
    let ctx = SessionContext::new_with_config(config);
    // The same functions as the embedded engine (its dialect rewrite calls some of them).
    crate::engine::embedded::functions::register(&ctx);
    let mut catalogs: Vec<(String, Arc<MemorySchemaProvider>)> = Vec::new();
    for t in tables {
        let schema = match catalogs.iter().find(|(c, _)| *c == t.view.catalog) {
            Some((_, s)) => s.clone(),
            None => {
                let s = Arc::new(MemorySchemaProvider::new());
                catalogs.push((t.view.catalog.clone(), s.clone()));
                s
            }
        };
        let batch = batch_of(t.def, &t.rows)?;
        let mem = MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(internal)?;
        schema
            .register_table(t.view.view.clone(), Arc::new(mem))
            .map_err(internal)?;
    }
    for (catalog, schema) in catalogs {
        let provider = MemoryCatalogProvider::new();
        provider
            .register_schema(super::INFORMATION_SCHEMA, schema)
            .map_err(internal)?;
        ctx.register_catalog(catalog, Arc::new(provider));
    }
    dialect::rewrite(&mut statement)?;
    let state = ctx.state();
    let plan = state
        .statement_to_plan(DfStatement::Statement(Box::new(statement)))
        .await
        .map_err(exec::plan_error)?;
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
        .verify_plan(&plan)
        .map_err(|e| EngineError::Unsupported(e.message().into_owned()))?;
    let physical = state
        .create_physical_plan(&plan)
        .await
        .map_err(exec::plan_error)?;
    let schema = exec::columns_of(&physical.schema())?;
    let batches = collect(physical, state.task_ctx())
        .await
        .map_err(exec::exec_error)?;
    let mut rows = Vec::new();
    for b in &batches {
        rows.extend(encode::encode_batch(b)?);
    }
    let rows = if rows.is_empty() {
        stream::empty().boxed()
    } else {
        stream::once(async move { Ok(rows) }).boxed()
    };
    Ok(Execution {
        traits: Traits {
            sql_kind: "SELECT".into(),
            is_bounded: true,
            is_append_only: true,
            upsert_columns: None,
            schema: Some(schema),
        },
        rows,
        cancel: Arc::new(Done),
        listing: None,
    })
}

fn internal(e: impl std::fmt::Display) -> EngineError {
    EngineError::Internal(e.to_string())
}

/// The rows of a view as one Arrow batch of its documented schema.
fn batch_of(def: &View, rows: &[Vec<Cell>]) -> Result<RecordBatch, EngineError> {
    let fields: Vec<Field> = def
        .columns
        .iter()
        .map(|c| {
            let ty = match c.ty {
                Ty::Str => DataType::Utf8,
                Ty::Int => DataType::Int32,
            };
            Field::new(c.name, ty, c.nullable)
        })
        .collect();
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(fields.len());
    for (i, c) in def.columns.iter().enumerate() {
        let cell = |r: &Vec<Cell>| r.get(i).cloned().unwrap_or(Cell::Null);
        let array: ArrayRef = match c.ty {
            Ty::Str => Arc::new(
                rows.iter()
                    .map(|r| match cell(r) {
                        Cell::Str(s) => Some(s),
                        Cell::Int(n) => Some(n.to_string()),
                        Cell::Null => None,
                    })
                    .collect::<StringArray>(),
            ),
            Ty::Int => Arc::new(
                rows.iter()
                    .map(|r| match cell(r) {
                        Cell::Int(n) => Some(n),
                        _ => None,
                    })
                    .collect::<Int32Array>(),
            ),
        };
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays).map_err(internal)
}
