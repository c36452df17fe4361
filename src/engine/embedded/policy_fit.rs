//! Whether the data policies fit the tables this engine has ([`TableFit`]): the in-memory
//! tables, and the Kafka-backed ones as the registry describes them. For each table an entry
//! covers: the columns it names must be the table's ([`column_misfits`]); then the entry is
//! planned by DataFusion over the table, never run (`SELECT <filter>, <mask>… FROM t`): a
//! filter must be BOOLEAN, a mask's type must resolve. A Kafka table's expression that
//! DataFusion cannot plan is logged, not refused (Flink may run what DataFusion cannot);
//! its columns are checked all the same.
//!
//! Bounded: listing a cluster's topics and reading each covered topic's schema share
//! [`KAFKA_FIT_TIMEOUT`] per cluster; a cluster or registry that does not answer in time is
//! reported as unreached and its tables are not checked (a reload does not fail for it).

use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::parser::Parser;
use tracing::warn;

use super::{EmbeddedEngine, Inner, Run, dialect};
use crate::authz::{
    Claims, DataPolicies, FitReport, Misfit, TableFit, TableShape, column_misfits,
    expression_misfit,
};
use crate::catalog::{ObjectRef, TableRef};
use crate::engine::ExecContext;

/// How long one Kafka cluster's topics and the covered topics' schemas may take, per check.
pub(crate) const KAFKA_FIT_TIMEOUT: Duration = Duration::from_secs(2);

#[async_trait]
impl TableFit for EmbeddedEngine {
    async fn check(&self, data: &DataPolicies) -> FitReport {
        let mut report = FitReport::default();
        if data.is_empty() {
            return report;
        }
        let inner = &self.inner;
        let memory: Vec<TableRef> = inner
            .tables
            .read()
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        for t in memory {
            inner.fit_one(data, &t, true, &mut report.misfits).await;
        }
        for ((env, cluster), kc) in &inner.kafka {
            let covered = async {
                let topics = kc.topics().await.map_err(|e| e.to_string())?;
                let mut misfits = Vec::new();
                for name in topics.keys() {
                    let t = TableRef::new(env, cluster, name);
                    inner.fit_one(data, &t, false, &mut misfits).await;
                }
                Ok::<_, String>(misfits)
            };
            match tokio::time::timeout(KAFKA_FIT_TIMEOUT, covered).await {
                Ok(Ok(m)) => report.misfits.extend(m),
                Ok(Err(e)) => report
                    .unreached
                    .push(format!("Kafka cluster {env}.{cluster}: {e}")),
                Err(_) => report.unreached.push(format!(
                    "Kafka cluster {env}.{cluster}: no answer within {}",
                    humantime::format_duration(KAFKA_FIT_TIMEOUT)
                )),
            }
        }
        report
    }
}

impl Inner {
    /// The misfits of the entries covering `t` (nothing when none does or the table is
    /// gone). `strict`: an expression DataFusion cannot plan is a misfit (an in-memory table,
    /// which only this engine reads), else a warning.
    async fn fit_one(
        &self,
        data: &DataPolicies,
        t: &TableRef,
        strict: bool,
        out: &mut Vec<Misfit>,
    ) {
        let crn = self.catalogs.crn(&ObjectRef::Table(t.clone()));
        if !data.covers(&crn) {
            return;
        }
        let reference = datafusion::common::TableReference::full(
            t.catalog.as_str(),
            t.database.as_str(),
            t.table.as_str(),
        );
        let Ok(provider) = self.ctx.table_provider(reference).await else {
            return;
        };
        let shape = TableShape {
            table: t.clone(),
            crn,
            columns: provider
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
        };
        let missing = column_misfits(data, &shape);
        if !missing.is_empty() {
            out.extend(missing);
            return;
        }
        let (filters, masks) = data.covering_all(&shape.crn);
        let none = Claims::new();
        for f in filters {
            let (expr, _) = f.filter.instantiate_for_type("", &none);
            match self.type_of(t, &expr.to_string()).await {
                Ok(DataType::Boolean | DataType::Null) => {}
                Ok(other) => out.push(expression_misfit(
                    "row_filter",
                    &f.name,
                    f.fit_key(),
                    t,
                    format!("the filter is of type {other}, not BOOLEAN"),
                )),
                Err(e) => self.unplanned("row_filter", &f.name, f.fit_key(), t, e, strict, out),
            }
        }
        for m in masks {
            let (expr, _) = m.mask.instantiate_for_type("", &none);
            if let Err(e) = self.type_of(t, &expr.to_string()).await {
                self.unplanned("column_mask", &m.name, m.fit_key(), t, e, strict, out);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn unplanned(
        &self,
        kind: &'static str,
        name: &str,
        key: String,
        t: &TableRef,
        error: String,
        strict: bool,
        out: &mut Vec<Misfit>,
    ) {
        if strict {
            out.push(expression_misfit(
                kind,
                name,
                key,
                t,
                format!("its type could not be resolved: {error}"),
            ));
        } else {
            warn!(kind, entry = name, table = %t, %error, "a data-policy expression could not be typed by the embedded engine; not refused (another engine may run it)");
        }
    }

    /// The type of `expr` over the rows of `t`, planned by DataFusion (never run).
    async fn type_of(&self, t: &TableRef, expr: &str) -> Result<DataType, String> {
        let sql = format!("SELECT ({expr}) AS `__sqlgate_fit` FROM {t}");
        let dialect = crate::sql::FlinkDialect;
        let mut stmts = Parser::parse_sql(&dialect, &sql).map_err(|e| e.to_string())?;
        let mut stmt = stmts.pop().ok_or("no statement")?;
        dialect::rewrite(&mut stmt).map_err(|e| e.detail())?;
        let state = self.session(&Run::new(&ExecContext::default()));
        let plan = state
            .statement_to_plan(DfStatement::Statement(Box::new(stmt)))
            .await
            .map_err(|e| e.message().into_owned())?;
        plan.schema()
            .fields()
            .first()
            .map(|f| f.data_type().clone())
            .ok_or_else(|| "no column".to_string())
    }
}
