//! The Flink-only metadata statements the engine answers: SHOW CREATE TABLE, SHOW COLUMNS,
//! SHOW [USER] FUNCTIONS and EXPLAIN, each in Flink's result shape (one `result` row for
//! SHOW CREATE TABLE and EXPLAIN, DESCRIBE's columns for SHOW COLUMNS, `function name` for
//! SHOW FUNCTIONS).
//!
//! Owns the rendering of a user table's definition and of a plan. A plan names only what the
//! statement was authorized for: the canonical names of the tables it reads (the guard
//! refuses any other) and its own columns and expressions; EXPLAIN of a read through a data
//! policy never gets here (`rewrite.data_policy_explain`).

use datafusion::sql::sqlparser::ast::Statement;
use futures::StreamExt;
use serde_json::Value;

use super::ddl::{like, rows_execution};
use super::storage::TableMeta;
use super::{EngineError, Inner, Output, Run};
use crate::catalog::TableRef;
use crate::sql::ddl::Like;
use crate::sql::types::FlinkType;

/// Whether `s` passes a SHOW statement's LIKE filter.
fn passes(filter: Option<&Like>, s: &str) -> bool {
    let Some(f) = filter else { return true };
    let matched = if f.insensitive {
        like(&f.pattern.to_lowercase(), &s.to_lowercase())
    } else {
        like(&f.pattern, s)
    };
    matched != f.negated
}

fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A user table's definition as Flink's SHOW CREATE TABLE prints it: columns, primary key,
/// distribution and options, as the table is now (after any ALTER).
pub(crate) fn create_text(meta: &TableMeta) -> String {
    let mut lines: Vec<String> = meta
        .columns
        .iter()
        .map(|c| format!("  {} {}", quoted(&c.name), c.data_type))
        .collect();
    if !meta.primary_key.is_empty() {
        let cols: Vec<String> = meta.primary_key.iter().map(|c| quoted(c)).collect();
        lines.push(format!(
            "  CONSTRAINT {} PRIMARY KEY ({}) NOT ENFORCED",
            quoted(&format!("PK_{}", meta.primary_key.join("_"))),
            cols.join(", ")
        ));
    }
    let mut out = format!(
        "CREATE TABLE {}.{}.{} (\n{}\n)",
        quoted(&meta.catalog),
        quoted(&meta.database),
        quoted(&meta.table),
        lines.join(",\n")
    );
    if let Some(d) = &meta.distribution {
        out.push_str("\nDISTRIBUTED");
        if !d.columns.is_empty() {
            let cols: Vec<String> = d.columns.iter().map(|c| quoted(c)).collect();
            out.push_str(&format!(" BY HASH({})", cols.join(", ")));
        }
        if let Some(n) = d.buckets {
            out.push_str(&format!(" INTO {n} BUCKETS"));
        }
    }
    if !meta.options.is_empty() {
        let opts: Vec<String> = meta
            .options
            .iter()
            .map(|(k, v)| format!("  {} = {}", literal(k), literal(v)))
            .collect();
        out.push_str(&format!("\nWITH (\n{}\n)", opts.join(",\n")));
    }
    out
}

impl Inner {
    pub(super) fn show_create_table(&self, target: &TableRef) -> Result<Output, EngineError> {
        let table = match self.user_table(target) {
            Ok(t) => t,
            Err(EngineError::TableNotFound(t))
                if crate::catalog::Catalogs::is_examples(&t.catalog) =>
            {
                return Err(EngineError::Unsupported(
                    "SHOW CREATE TABLE of a built-in examples table is not supported (DESCRIBE \
                     shows its columns)"
                        .into(),
                ));
            }
            Err(EngineError::TableNotFound(t))
                if self.kafka_cluster(&t.catalog, &t.database).is_some() =>
            {
                return Err(EngineError::Unsupported(
                    "SHOW CREATE TABLE of a Kafka-backed table is not supported on the embedded \
                     engine (DESCRIBE shows its columns)"
                        .into(),
                ));
            }
            Err(e) => return Err(e),
        };
        Ok(rows_execution(
            "SHOW_CREATE_TABLE",
            &["result"],
            vec![FlinkType::string(true)],
            vec![vec![Value::String(create_text(&table.meta))]],
            None,
        ))
    }

    /// SHOW COLUMNS: DESCRIBE's rows whose column name passes the filter.
    pub(super) async fn show_columns(
        &self,
        target: &TableRef,
        filter: Option<&Like>,
    ) -> Result<Output, EngineError> {
        let name = datafusion::sql::sqlparser::ast::ObjectName::from(vec![
            datafusion::sql::sqlparser::ast::Ident::with_quote('`', &target.catalog),
            datafusion::sql::sqlparser::ast::Ident::with_quote('`', &target.database),
            datafusion::sql::sqlparser::ast::Ident::with_quote('`', &target.table),
        ]);
        let mut out = self.describe(&name, &Default::default()).await?;
        out.traits.sql_kind = "SHOW_COLUMNS".into();
        let filter = filter.cloned();
        out.rows = out
            .rows
            .map(move |batch| {
                batch.map(|rows| {
                    rows.into_iter()
                        .filter(|r| {
                            r.row
                                .first()
                                .and_then(Value::as_str)
                                .is_some_and(|n| passes(filter.as_ref(), n))
                        })
                        .collect()
                })
            })
            .boxed();
        Ok(out)
    }

    /// SHOW FUNCTIONS: the engine's functions (DataFusion's and the Flink functions sqlgate
    /// adds), by name; SHOW USER FUNCTIONS: none (the embedded engine has no CREATE FUNCTION).
    pub(super) fn show_functions(
        &self,
        user: bool,
        filter: Option<&Like>,
    ) -> Result<Output, EngineError> {
        let mut names: Vec<String> = if user {
            Vec::new()
        } else {
            let state = self.ctx.state();
            state
                .scalar_functions()
                .keys()
                .chain(state.aggregate_functions().keys())
                .chain(state.window_functions().keys())
                .cloned()
                .collect()
        };
        names.sort();
        names.dedup();
        let rows = names
            .into_iter()
            .filter(|n| passes(filter, n))
            .map(|n| vec![Value::String(n)])
            .collect();
        Ok(rows_execution(
            "SHOW_FUNCTIONS",
            &["function name"],
            vec![FlinkType::string(false)],
            rows,
            None,
        ))
    }

    /// EXPLAIN: the statement's logical plan before and after optimization, under Flink's
    /// section headings, as one `result` row. Planning goes through the same guard as
    /// running it, so the plan reads only tables the gateway checked.
    pub(crate) async fn explain(
        &self,
        statement: &Statement,
        details: &[String],
        ctx: &Run,
        checked: super::exec::Guard<'_>,
    ) -> Result<Output, EngineError> {
        if let Some(d) = details.first() {
            return Err(EngineError::Unsupported(format!(
                "EXPLAIN {d} is not supported on the embedded engine (it has no cost or \
                 changelog model; plain EXPLAIN shows its plan)"
            )));
        }
        if !matches!(statement, Statement::Query(_) | Statement::Insert(_)) {
            return Err(EngineError::Unsupported(
                "EXPLAIN of a statement other than a query or an INSERT is not supported".into(),
            ));
        }
        super::unsupported::check(statement).map_err(EngineError::Unsupported)?;
        let state = self.session(ctx);
        let planned = self.plan(statement.clone(), &state, ctx, checked).await?;
        let optimized = state
            .optimize(&planned.plan)
            .map_err(super::exec::plan_error)?;
        let text = format!(
            "== Abstract Syntax Tree ==\n{}\n\n== Optimized Logical Plan ==\n{}\n",
            planned.plan.display_indent(),
            optimized.display_indent()
        );
        Ok(rows_execution(
            "EXPLAIN",
            &["result"],
            vec![FlinkType::string(true)],
            vec![vec![Value::String(text)]],
            None,
        ))
    }
}
