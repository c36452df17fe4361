//! The Flink-only metadata statements the engine answers: SHOW CREATE TABLE, SHOW COLUMNS,
//! SHOW [USER] FUNCTIONS and EXPLAIN, each in Flink's result shape (one `result` row for
//! SHOW CREATE TABLE and EXPLAIN, DESCRIBE's columns for SHOW COLUMNS, `function name` for
//! SHOW FUNCTIONS).
//!
//! Owns the rendering of a table's definition (an in-memory table's from its metadata, a
//! Kafka-backed table's in Confluent's shape from its topic) and of a plan. A plan names only what the
//! statement was authorized for: the canonical names of the tables it reads (the guard
//! refuses any other) and its own columns and expressions; EXPLAIN of a read through a data
//! policy never gets here (`rewrite.data_policy_explain`).

use datafusion::sql::sqlparser::ast::Statement;
use futures::StreamExt;
use serde_json::Value;

use super::ddl::{like, rows_execution};
use super::storage::TableMeta;
use super::{EngineError, Inner, Output, Run, kafka_table_error};
use crate::catalog::TableRef;
use crate::sql::ddl::{Distribution, Like};
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

/// A column's type in Flink's serializable spelling (`VARCHAR(2147483647)`, not `STRING`), as
/// Flink and Confluent Cloud print SHOW CREATE TABLE; a type the gateway cannot read is shown
/// as stored.
fn full_type(t: &str) -> String {
    crate::sql::types::parse_flink_type(t).map_or_else(|_| t.to_string(), |t| t.to_full_sql())
}

fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A table's definition as SHOW CREATE TABLE prints it: an in-memory table's from its
/// metadata (as it is now, after any ALTER), a Kafka-backed table's from its topic
/// ([`crate::kafka::shown`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Definition {
    pub(crate) name: TableRef,
    /// Name and Flink type text (with ` NOT NULL`).
    pub(crate) columns: Vec<(String, String)>,
    pub(crate) primary_key: Vec<String>,
    pub(crate) distribution: Option<Distribution>,
    pub(crate) options: Vec<(String, String)>,
}

impl From<&TableMeta> for Definition {
    fn from(meta: &TableMeta) -> Self {
        Self {
            name: meta.table_ref(),
            columns: meta
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.data_type.clone()))
                .collect(),
            primary_key: meta.primary_key.clone(),
            distribution: meta.distribution.as_ref().map(|d| Distribution {
                columns: d.columns.clone(),
                buckets: d.buckets,
            }),
            options: meta.options.clone(),
        }
    }
}

impl Definition {
    fn of_topic(name: TableRef, shown: crate::kafka::shown::Shown) -> Self {
        Self {
            name,
            columns: shown
                .columns
                .into_iter()
                .map(|(n, t)| (n, t.to_sql()))
                .collect(),
            primary_key: shown.primary_key,
            distribution: Some(shown.distribution),
            options: shown.options,
        }
    }

    /// Flink's layout: columns, primary key, distribution, options.
    pub(crate) fn create_text(&self) -> String {
        let mut lines: Vec<String> = self
            .columns
            .iter()
            .map(|(n, t)| format!("  {} {}", quoted(n), full_type(t)))
            .collect();
        if !self.primary_key.is_empty() {
            let cols: Vec<String> = self.primary_key.iter().map(|c| quoted(c)).collect();
            lines.push(format!(
                "  CONSTRAINT {} PRIMARY KEY ({}) NOT ENFORCED",
                quoted(&format!("PK_{}", self.primary_key.join("_"))),
                cols.join(", ")
            ));
        }
        let mut out = format!(
            "CREATE TABLE {}.{}.{} (\n{}\n)",
            quoted(&self.name.catalog),
            quoted(&self.name.database),
            quoted(&self.name.table),
            lines.join(",\n")
        );
        if let Some(d) = &self.distribution {
            out.push_str("\nDISTRIBUTED");
            if !d.columns.is_empty() {
                let cols: Vec<String> = d.columns.iter().map(|c| quoted(c)).collect();
                out.push_str(&format!(" BY HASH({})", cols.join(", ")));
            }
            if let Some(n) = d.buckets {
                out.push_str(&format!(" INTO {n} BUCKETS"));
            }
        }
        if !self.options.is_empty() {
            let opts: Vec<String> = self
                .options
                .iter()
                .map(|(k, v)| format!("  {} = {}", literal(k), literal(v)))
                .collect();
            out.push_str(&format!("\nWITH (\n{}\n)", opts.join(",\n")));
        }
        out
    }
}

impl Inner {
    /// The definition of the table `target` names; an `examples` table has none.
    pub(crate) async fn definition(&self, target: &TableRef) -> Result<Definition, EngineError> {
        if crate::catalog::Catalogs::is_examples(&target.catalog) {
            return Err(EngineError::Unsupported(
                "SHOW CREATE TABLE of a built-in examples table is not supported (DESCRIBE \
                 shows its columns)"
                    .into(),
            ));
        }
        let Some(kc) = self.kafka_cluster(&target.catalog, &target.database) else {
            return Ok(Definition::from(&self.user_table(target)?.meta));
        };
        let table = kc
            .table(&target.table)
            .await
            .map_err(|e| kafka_table_error(e, target))?
            .ok_or_else(|| EngineError::TableNotFound(target.clone()))?;
        let configs = kc
            .table_configs(&target.table)
            .await
            .map_err(|e| kafka_table_error(e, target))?;
        Ok(Definition::of_topic(
            target.clone(),
            crate::kafka::shown::shown(&table, &configs),
        ))
    }

    pub(super) async fn show_create_table(&self, target: &TableRef) -> Result<Output, EngineError> {
        let definition = self.definition(target).await?;
        Ok(rows_execution(
            "SHOW_CREATE_TABLE",
            &["result"],
            vec![FlinkType::string(true)],
            vec![vec![Value::String(definition.create_text())]],
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
