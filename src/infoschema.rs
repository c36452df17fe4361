//! INFORMATION_SCHEMA, answered by the gateway for every engine, as Confluent Cloud documents
//! it (<https://docs.confluent.io/cloud/current/flink/reference/flink-sql-information-schema.html>):
//! every catalog has one, `` `catalog`.`INFORMATION_SCHEMA`.`VIEW` `` (or
//! `INFORMATION_SCHEMA.VIEW` in the session's catalog), with the views of [`views`].
//!
//! Owns what a read of it may see and how it is answered. Name resolution binds a view like a
//! SHOW: reading a catalog's views is listing that catalog (the global `CATALOGS` view: listing
//! the organization), authorized and audited as such, and a catalog the caller may not know of
//! does not resolve, with the error a catalog that does not exist gets. The rows are then
//! gathered ([`gather`]) with the listings the gateway already runs (SHOW TABLES, DESCRIBE,
//! decided for the caller and filtered by the same visibility predicate as every SHOW), and
//! the caller's SELECT is evaluated ([`eval`]) in a DataFusion context of its own that holds
//! nothing but those rows. The caller's statement is never sent to an engine.
//!
//! It must not widen what a caller sees: a row of any view names only objects the caller's
//! SHOW would list, and a shape it cannot answer this way (a view combined with a table,
//! anything but a SELECT) is refused by name before anything runs.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{ObjectName, Statement, Visit, Visitor};

use crate::catalog::ObjectRef;
use crate::engine::{EngineError, ExecContext, Execution};
use crate::gateway::Gateway;
use crate::rewrite::RewrittenStatement;
use crate::sql::{Access, ResolveError};

mod eval;
mod gather;
pub mod views;

/// The database every catalog's views are in.
pub const INFORMATION_SCHEMA: &str = "INFORMATION_SCHEMA";

/// The object whose listing reading `view` of `catalog` is, or why it cannot be read.
pub(crate) fn listed_by(view: &str, catalog: &str) -> Result<ObjectRef, ResolveError> {
    match views::find(view) {
        Some(v) if v.global => Ok(ObjectRef::Organization),
        Some(_) => Ok(ObjectRef::Catalog(catalog.to_string())),
        None => Err(ResolveError::InfoSchemaUnsupported(format!(
            "it has no view `{view}` (its views: {})",
            views::names().join(", ")
        ))),
    }
}

/// Refuses a statement that reads INFORMATION_SCHEMA in a shape the gateway does not answer.
pub(crate) fn check_shape(kind: &str, accesses: &[Access]) -> Result<(), ResolveError> {
    if kind != "SELECT" {
        return Err(ResolveError::InfoSchemaUnsupported(format!(
            "a statement of kind {kind} cannot read it"
        )));
    }
    if accesses
        .iter()
        .any(|a| matches!(a.object, ObjectRef::Table(_)))
    {
        return Err(ResolveError::InfoSchemaUnsupported(
            "its views cannot be combined with tables in one statement (join, union or \
             subquery); query the views alone"
                .into(),
        ));
    }
    Ok(())
}

/// A view a statement reads: its catalog's canonical id and the view's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ViewRef {
    pub(crate) catalog: String,
    pub(crate) view: String,
}

/// The views a resolved statement reads, if it reads INFORMATION_SCHEMA (resolution made sure
/// it then reads nothing else).
pub(crate) fn views_of(statement: &Statement) -> Option<Vec<ViewRef>> {
    struct Find(Vec<ViewRef>);
    impl Visitor for Find {
        type Break = ();
        fn pre_visit_relation(&mut self, r: &ObjectName) -> ControlFlow<()> {
            let parts: Vec<&str> =
                r.0.iter()
                    .filter_map(|p| p.as_ident().map(|i| i.value.as_str()))
                    .collect();
            if let [c, s, v] = parts.as_slice()
                && *s == INFORMATION_SCHEMA
            {
                let view = ViewRef {
                    catalog: c.to_string(),
                    view: v.to_string(),
                };
                if !self.0.contains(&view) {
                    self.0.push(view);
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut find = Find(Vec::new());
    let _ = statement.visit(&mut find);
    (!find.0.is_empty()).then_some(find.0)
}

/// Answers an authorized read of INFORMATION_SCHEMA: gathers the rows the caller may see of
/// every view it reads and evaluates the statement on them alone.
pub(crate) async fn answer(
    gw: &Arc<Gateway>,
    stmt: &RewrittenStatement,
    views: Vec<ViewRef>,
    ctx: &ExecContext,
) -> Result<Execution, EngineError> {
    let tables = gather::tables(gw, stmt, &views).await?;
    eval::run(stmt.statement().clone(), tables, ctx).await
}
