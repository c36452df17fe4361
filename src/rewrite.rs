//! Stage 5, rewrite: turns an authorized statement into what the engine runs, and owns the
//! engine's only input, [`RewrittenStatement`].
//!
//! A stage of its own beside [`crate::sql`] (parse, resolve) and [`crate::authz`], so that the
//! stages import one way only: `rewrite → authz → sql`.
//!
//! Names were canonicalized by `resolve` in the pass that recorded the accesses; here the
//! canonical statement is walked once more and refused if any relation in it is not a
//! canonical, backtick-quoted name that was authorized (defense in depth: a relation position
//! that resolution missed must not reach the engine). Then the row filters and column masks
//! that apply to the warrant's principal are enforced at the scan (`enforce.rs`); the
//! statement records which ones, by name ([`RewrittenStatement::data_policies`]).

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{Expr, Ident, ObjectName, Query, Statement, Visit, Visitor};

use crate::authz::{AuthorizedStatement, Claims};
use crate::catalog::{ObjectRef, TableRef};
use crate::sql::{Access, CteScopes, table_argument};

mod enforce;
mod error;
mod live;
mod rewritten;

pub use enforce::{AppliedPolicies, expand_replace, fence_filters};
pub use error::RewriteError;
pub use live::{Changed, PolicyChange, ReadPolicies};
pub use rewritten::{DescribedAs, RewrittenStatement};

/// Builds the engine's statement from an authorized one, for a caller whose token carries no
/// claims, without knowing the organization (see [`rewrite_for`]): a statement of a policy
/// with row filters or column masks is refused.
pub fn rewrite(authorized: AuthorizedStatement) -> Result<RewrittenStatement, RewriteError> {
    rewrite_for(authorized, "", &Claims::new())
}

/// Builds the engine's statement from an authorized one: names checked, then the row filters
/// and column masks of the decision's policy version enforced for the warrant's principal,
/// with `claims` of its verified token (`organization` is the gateway's, for the tables'
/// CRNs).
pub fn rewrite_for(
    authorized: AuthorizedStatement,
    organization: &str,
    claims: &Claims,
) -> Result<RewrittenStatement, RewriteError> {
    let (resolved, decisions, warrant, data) = authorized.into_parts();
    let views = resolved.views().clone();
    let crate::sql::ResolvedParts {
        mut canonical,
        mut canonical_text,
        mut text,
        kind,
        accesses,
        flink,
    } = resolved.into_parts();
    // Without the organization no table's CRN can be matched: with data policies in force,
    // refuse rather than let a filter or mask go unapplied.
    if organization.is_empty() && !data.is_empty() {
        return Err(RewriteError::Unenforceable {
            table: "of this statement".into(),
            position: "a rewrite that does not know the organization",
        });
    }
    let reader = enforce::Reader {
        organization,
        principal: warrant.principal(),
        claims,
    };
    let authorized = objects(&accesses);
    let mut applied: Vec<AppliedPolicies> = Vec::new();
    let mut described_as = None;
    let mut flink_parts = None;
    match flink {
        Some(f) => {
            let mut embedded = f.statements;
            for statement in &mut embedded {
                check_canonical(statement, &authorized)?;
            }
            if let Some(o) = f.objects.iter().find(|o| !authorized.contains(o)) {
                return Err(RewriteError::Unresolved(o.to_string()));
            }
            // Each embedded statement (a statement set's INSERTs, a CTAS's query, a query
            // with MATCH_RECOGNIZE … WITHIN) reads through the filters and masks, and the
            // text is made again from them.
            for statement in &mut embedded {
                for a in enforce::enforce(statement, &data, reader)? {
                    if !applied.iter().any(|b| b.table == a.table) {
                        applied.push(a);
                    }
                }
            }
            if let Some(a) = applied.first() {
                let table = a.table.to_string();
                if kind == "EXPLAIN" {
                    return Err(RewriteError::ExplainThroughPolicy { table });
                }
                if !ENFORCED_FLINK_KINDS.contains(&kind) {
                    return Err(RewriteError::Unenforceable {
                        table,
                        position: "a Flink-only CREATE VIEW or ALTER VIEW (read the tables \
                                   through the view instead, where they are enforced)",
                    });
                }
                text = text.checked();
            }
            // SHOW COLUMNS reports the stored types; a masked column is shown as the caller
            // reads it by DESCRIBE only.
            if kind == "SHOW_COLUMNS" {
                show_columns_unmasked(&f.objects, &data, reader)?;
            }
            let sql = match applied.is_empty() {
                true => f.canonical_text.clone(),
                false => text.display(&embedded).map_err(RewriteError::Render)?,
            };
            flink_parts = Some((sql, f.canonical_text, embedded));
        }
        None => {
            check_canonical(&canonical, &authorized)?;
            applied = enforce::enforce(&mut canonical, &data, reader)?;
            // The plan of the rewritten statement shows the filters and masks: refused.
            if kind == "EXPLAIN"
                && let Some(a) = applied.first()
            {
                return Err(RewriteError::ExplainThroughPolicy {
                    table: a.table.to_string(),
                });
            }
            if !applied.is_empty() {
                text = text.checked();
                canonical_text = text
                    .display(std::slice::from_ref(&canonical))
                    .map_err(RewriteError::Render)?;
            }
            // DESCRIBE shows a masked column as the caller reads it (its text unchanged).
            if let Some((d, a)) = enforce::described_as(&canonical, &data, reader) {
                described_as = Some(d);
                applied.push(a);
            }
        }
    };
    drop(authorized);
    // What it reads under which filters and masks, for a policy change while it runs.
    let reads = ReadPolicies::new(
        organization,
        warrant.principal(),
        claims,
        warrant.policy_version(),
        &data,
        &accesses,
    );
    Ok(RewrittenStatement::new(
        canonical,
        canonical_text,
        text,
        flink_parts,
        kind,
        accesses,
        decisions,
        warrant,
    )
    .with_data_policies(applied, reads)
    .with_caller(claims.clone(), described_as)
    .with_views(views))
}

/// The Flink-only kinds whose embedded statements are rewritten to read through row filters
/// and column masks (statement sets, CTAS and RTAS, queries and INSERTs with `MATCH_RECOGNIZE
/// … WITHIN`). A view's body is stored as written and enforced when the view is read; EXPLAIN
/// would show the policies.
const ENFORCED_FLINK_KINDS: [&str; 5] = [
    "STATEMENT_SET",
    "CREATE_TABLE_AS",
    "REPLACE_TABLE_AS",
    "SELECT",
    "INSERT_INTO",
];

/// SHOW COLUMNS of a table with filters or masks for the reader is refused: it reports the
/// stored types, and DESCRIBE shows the table as the caller reads it.
fn show_columns_unmasked(
    objects: &[ObjectRef],
    data: &crate::authz::DataPolicies,
    reader: enforce::Reader<'_>,
) -> Result<(), RewriteError> {
    for o in objects {
        let ObjectRef::Table(t) = o else {
            continue;
        };
        let Ok(mut read) = datafusion::sql::sqlparser::parser::Parser::parse_sql(
            &crate::sql::FlinkDialect,
            &format!("SELECT * FROM {}", flink_name(t)),
        ) else {
            continue;
        };
        if let Some(read) = read.pop()
            && let Some(t) = enforce::first_covered(&read, data, reader)
        {
            return Err(RewriteError::Unenforceable {
                table: t.to_string(),
                position: "SHOW COLUMNS (DESCRIBE shows the table as you read it)",
            });
        }
    }
    Ok(())
}

/// `` `catalog`.`database`.`table` ``.
fn flink_name(t: &crate::catalog::TableRef) -> String {
    let q = |s: &str| format!("`{}`", s.replace('`', "``"));
    format!("{}.{}.{}", q(&t.catalog), q(&t.database), q(&t.table))
}

/// The applied filters and masks as audit records name them: `row_filter NAME on TABLE`,
/// `column_mask NAME (COLUMN) on TABLE`.
pub fn describe_applied(applied: &[AppliedPolicies]) -> Vec<String> {
    let mut out = Vec::new();
    for a in applied {
        for f in &a.row_filters {
            out.push(format!("row_filter {f} on {}", a.table));
        }
        for (m, c) in &a.column_masks {
            out.push(format!("column_mask {m} ({c}) on {}", a.table));
        }
    }
    out
}

/// The objects of `accesses`, for [`check_canonical`].
pub(super) fn objects(accesses: &[Access]) -> HashSet<&ObjectRef> {
    accesses.iter().map(|a| &a.object).collect()
}

/// Every relation of `statement` outside CTE references is canonical and among `authorized`
/// (a set: a statement may name tens of thousands of tables within the bounds).
pub(super) fn check_canonical(
    statement: &Statement,
    authorized: &HashSet<&ObjectRef>,
) -> Result<(), RewriteError> {
    let mut checker = Checker {
        scopes: CteScopes::default(),
        authorized,
    };
    match statement.visit(&mut checker) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(e) => Err(e),
    }
}

struct Checker<'a> {
    scopes: CteScopes,
    authorized: &'a HashSet<&'a ObjectRef>,
}

impl Checker<'_> {
    fn check(
        &self,
        idents: &[&Ident],
        written: &dyn std::fmt::Display,
    ) -> ControlFlow<RewriteError> {
        let refuse = || ControlFlow::Break(RewriteError::Unresolved(written.to_string()));
        if idents.iter().any(|i| i.quote_style != Some('`')) {
            return refuse();
        }
        let v: Vec<&str> = idents.iter().map(|i| i.value.as_str()).collect();
        let object = match v.as_slice() {
            // A view of INFORMATION_SCHEMA is accounted for by the listing it was bound as.
            [c, d, t] if *d == crate::infoschema::INFORMATION_SCHEMA => {
                match crate::infoschema::listed_by(t, c) {
                    Ok(o) => o,
                    Err(_) => return refuse(),
                }
            }
            [c, d, t] => ObjectRef::Table(TableRef::new(c, d, t)),
            [c, d] => ObjectRef::Database(c.to_string(), d.to_string()),
            [c] => ObjectRef::Catalog(c.to_string()),
            _ => return refuse(),
        };
        if self.authorized.contains(&object) {
            ControlFlow::Continue(())
        } else {
            refuse()
        }
    }
}

impl Visitor for Checker<'_> {
    type Break = RewriteError;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<RewriteError> {
        self.scopes.enter(query);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &Query) -> ControlFlow<RewriteError> {
        self.scopes.exit(query);
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<RewriteError> {
        if self.scopes.is_cte(relation) {
            return ControlFlow::Continue(());
        }
        let idents: Option<Vec<&Ident>> = relation.0.iter().map(|p| p.as_ident()).collect();
        match idents {
            Some(idents) => self.check(&idents, relation),
            None => ControlFlow::Break(RewriteError::Unresolved(relation.to_string())),
        }
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<RewriteError> {
        let Some(idents) = table_argument(expr) else {
            return ControlFlow::Continue(());
        };
        let name = ObjectName::from(idents.clone());
        if self.scopes.is_cte(&name) {
            return ControlFlow::Continue(());
        }
        self.check(&idents.iter().collect::<Vec<_>>(), &name)
    }
}
