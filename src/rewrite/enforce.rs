//! Row filters and column masks, enforced at the scan: every table factor of the canonical
//! statement that names a table a filter or mask applies to (for the warrant's principal) is
//! replaced by a derived table under the table's own alias,
//!
//! ```sql
//! (SELECT * REPLACE (<mask> AS `email`) FROM `env`.`lkc`.`customers` WHERE (<f1>) AND (<f2>)) AS `customers`
//! ```
//!
//! so every operator of the statement (WHERE, JOIN, GROUP BY, ORDER BY, window, the source of
//! INSERT … SELECT and CTAS, subqueries anywhere, CTE bodies, set operations) reads filtered
//! rows and masked values, and `SELECT *` keeps the table's column names and order. All masks
//! of a table are one projection over the raw row: a mask that names another masked column
//! reads that column's raw value, inside the mask only. The filters see raw values too.
//!
//! CTE references are single-part names and never canonical table names, so a CTE named like a
//! table is not taken for it, and the table read inside the CTE's body is replaced as any
//! other.
//!
//! Three positions name a table where no derived table may stand: a `TABLE t` argument of a
//! table function (the window TVFs), the input of `MATCH_RECOGNIZE`, and the versioned side of
//! a temporal join (`FOR SYSTEM_TIME AS OF` needs a name). There the same query is a CTE of the
//! innermost query that holds the read, under a generated name no table can have
//! (`` `sqlgate$policy$1` ``, …), and the read names the CTE instead:
//!
//! ```sql
//! WITH `sqlgate$policy$1` AS (SELECT * FROM `env`.`lkc`.`rates` WHERE (<f>))
//! SELECT … FROM o JOIN `sqlgate$policy$1` FOR SYSTEM_TIME AS OF o.ts AS `rates` ON …
//! ```
//!
//! Flink plans a window TVF, a MATCH_RECOGNIZE and a temporal join over a CTE (its validator
//! defers the versioned-table check of a CTE to the planner, which finds the primary key and
//! the time attribute through the filter and projection); a mask of the time attribute or of
//! the primary key makes Flink refuse the statement, never read raw values. A temporal join
//! without an alias gets the table's name as its alias, so `rates.col` still names the column.
//! The embedded statements of a Flink-only statement (a statement set's INSERTs, a CTAS's
//! query, a query with `MATCH_RECOGNIZE … WITHIN`) are rewritten the same way, one by one,
//! and the statement's text is made again around them (`sql/render.rs`, `SqlText`). Hints
//! stay with the node they were written on (`sql/hints.rs`): a table hint on a covered table
//! goes with its scan into the derived table or CTE.
//!
//! `* REPLACE` is the embedded engine's (DataFusion's) form; the Flink engine, which knows each
//! table's columns, expands it into the explicit column list ([`expand_replace`]).

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Cte, Expr, Ident, ObjectName, Query, ReplaceSelectElement, ReplaceSelectItem,
    Select, SelectItem, SetExpr, Statement, TableAlias, TableFactor, TableVersion, Value,
    ValueWithSpan, Visit, VisitMut, Visitor, VisitorMut, WildcardAdditionalOptions, With,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use serde::Serialize;

use super::RewriteError;
use super::rewritten::DescribedAs;
use crate::authz::{Claims, DataPolicies};
use crate::catalog::{Crn, TableRef};
use crate::sql::table_argument;

/// The filters and masks applied to one table, by name (explanations and audit records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedPolicies {
    /// The table.
    pub table: TableRef,
    /// The row filters, ANDed.
    pub row_filters: Vec<String>,
    /// The column masks: `(name, column)`.
    pub column_masks: Vec<(String, String)>,
    /// Every column the filters and masks name (masked columns included): an engine refuses
    /// the statement if the table lacks one ([`RewriteError::PolicyMismatch`]).
    #[serde(skip)]
    pub columns: std::collections::BTreeSet<String>,
}

impl AppliedPolicies {
    /// [`RewriteError::PolicyMismatch`] unless the table's `columns` hold every column its
    /// filters and masks name.
    pub fn check_columns(&self, columns: &[String]) -> Result<(), RewriteError> {
        if self.columns.iter().all(|c| columns.contains(c)) {
            Ok(())
        } else {
            // For the administrator (the caller's error names the table only).
            let missing: Vec<&String> = self
                .columns
                .iter()
                .filter(|c| !columns.contains(c))
                .collect();
            tracing::warn!(
                table = %self.table,
                row_filters = ?self.row_filters,
                column_masks = ?self.column_masks,
                ?missing,
                "a row filter or column mask names columns its table lacks; reads of the table \
                 through it are refused until the data policies or the table are corrected"
            );
            Err(RewriteError::PolicyMismatch {
                table: self.table.to_string(),
            })
        }
    }
}

/// For `DESCRIBE t` (the canonical `statement`) of a table with column masks for the reader:
/// the masked projection and the masks applied (see [`DescribedAs`]).
pub(super) fn described_as(
    statement: &Statement,
    data: &DataPolicies,
    reader: Reader<'_>,
) -> Option<(DescribedAs, AppliedPolicies)> {
    let Statement::ExplainTable { table_name, .. } = statement else {
        return None;
    };
    let t = table_of(table_name)?;
    let applying = data.applying(reader.principal, &crn(reader, &t));
    if applying.masks.is_empty() {
        return None;
    }
    let mut nullable = Vec::new();
    let replace = applying
        .masks
        .iter()
        .map(|m| {
            let (expr, missing) = m.mask.instantiate_for_type(reader.principal, reader.claims);
            if missing {
                nullable.push(m.column.clone());
            }
            Box::new(ReplaceSelectElement {
                expr,
                column_name: Ident::with_quote('`', &m.column),
                as_keyword: true,
            })
        })
        .collect();
    let mut query = skeleton();
    if let SetExpr::Select(select) = query.body.as_mut() {
        if let TableFactor::Table { name, .. } = &mut select.from[0].relation {
            *name = table_name.clone();
        }
        if let SelectItem::Wildcard(opts) = &mut select.projection[0] {
            opts.opt_replace = Some(ReplaceSelectItem { items: replace });
        }
    }
    let applied = AppliedPolicies {
        table: t.clone(),
        row_filters: applying.filters.iter().map(|f| f.name.clone()).collect(),
        column_masks: applying
            .masks
            .iter()
            .map(|m| (m.name.clone(), m.column.clone()))
            .collect(),
        columns: applying
            .masks
            .iter()
            .flat_map(|m| {
                let mut c = m.mask.columns();
                c.insert(m.column.clone());
                c
            })
            .collect(),
    };
    let described = DescribedAs {
        table: t,
        query: Statement::Query(Box::new(query)),
        masked: applying.masks.iter().map(|m| m.column.clone()).collect(),
        nullable,
    };
    Some((described, applied))
}

/// Who reads: what the templates are instantiated with.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reader<'a> {
    pub(super) organization: &'a str,
    pub(super) principal: &'a str,
    pub(super) claims: &'a Claims,
}

/// Replaces every covered table factor of `statement` (see the module doc); the policies
/// applied, per table.
pub(super) fn enforce(
    statement: &mut Statement,
    data: &DataPolicies,
    reader: Reader<'_>,
) -> Result<Vec<AppliedPolicies>, RewriteError> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let mut e = Enforcer {
        data,
        reader,
        applied: BTreeMap::new(),
        ctes: Vec::new(),
        generated: 0,
    };
    match VisitMut::visit(statement, &mut e) {
        ControlFlow::Continue(()) => Ok(e.applied.into_values().collect()),
        ControlFlow::Break(err) => Err(err),
    }
}

/// The first covered table that `statement` reads, if any (for statements the rewrite
/// cannot rebuild).
pub(super) fn first_covered(
    statement: &Statement,
    data: &DataPolicies,
    reader: Reader<'_>,
) -> Option<TableRef> {
    if data.is_empty() {
        return None;
    }
    struct Find<'a> {
        data: &'a DataPolicies,
        reader: Reader<'a>,
    }
    impl Visitor for Find<'_> {
        type Break = TableRef;
        fn pre_visit_relation(&mut self, name: &ObjectName) -> ControlFlow<TableRef> {
            match table_of(name) {
                Some(t) if covered(self.data, self.reader, &t) => ControlFlow::Break(t),
                _ => ControlFlow::Continue(()),
            }
        }
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<TableRef> {
            match table_argument(expr).and_then(|i| table_of(&ObjectName::from(i))) {
                Some(t) if covered(self.data, self.reader, &t) => ControlFlow::Break(t),
                _ => ControlFlow::Continue(()),
            }
        }
    }
    match statement.visit(&mut Find { data, reader }) {
        ControlFlow::Break(t) => Some(t),
        ControlFlow::Continue(()) => None,
    }
}

fn crn(reader: Reader<'_>, t: &TableRef) -> Crn {
    Crn::organization(reader.organization)
        .environment(&t.catalog)
        .cluster(&t.database)
        .topic(&t.table)
}

fn covered(data: &DataPolicies, reader: Reader<'_>, t: &TableRef) -> bool {
    !data.applying(reader.principal, &crn(reader, t)).is_empty()
}

/// The table a canonical name (three backtick-quoted parts) names.
fn table_of(name: &ObjectName) -> Option<TableRef> {
    let parts: Option<Vec<&Ident>> = name.0.iter().map(|p| p.as_ident()).collect();
    match parts?.as_slice() {
        [c, d, t] if [c, d, t].iter().all(|i| i.quote_style == Some('`')) => {
            Some(TableRef::new(&c.value, &d.value, &t.value))
        }
        _ => None,
    }
}

struct Enforcer<'a> {
    data: &'a DataPolicies,
    reader: Reader<'a>,
    applied: BTreeMap<TableRef, AppliedPolicies>,
    /// Per query being visited (innermost last), the CTEs generated for reads in it.
    ctes: Vec<Vec<Cte>>,
    /// CTEs generated so far in the statement (their names are numbered).
    generated: usize,
}

impl Enforcer<'_> {
    /// The derived table for a read of `t`, or `None` when nothing applies.
    fn derived(
        &mut self,
        t: &TableRef,
        inner: TableFactor,
        alias: Option<TableAlias>,
    ) -> Option<TableFactor> {
        let query = self.policy_query(t, inner)?;
        let alias = alias.unwrap_or_else(|| TableAlias {
            explicit: true,
            name: Ident::with_quote('`', &t.table),
            columns: Vec::new(),
            at: None,
        });
        Some(TableFactor::Derived {
            lateral: false,
            subquery: Box::new(query),
            alias: Some(alias),
            sample: None,
        })
    }

    /// For a read of `t` where no derived table may stand (see the module doc): the name of a
    /// CTE of the innermost query that reads `t` through its policies, generated now.
    /// `written` is the name the read had, whose hint (if any) goes with it into the CTE.
    fn via_cte(
        &mut self,
        t: &TableRef,
        written: Option<&ObjectName>,
        position: &'static str,
    ) -> Result<Ident, RewriteError> {
        let mut inner = crate::sql::table_factor(t);
        if let (Some(written), TableFactor::Table { name, .. }) = (written, &mut inner) {
            crate::sql::carry_pin(written, name);
        }
        let refuse = || RewriteError::Unenforceable {
            table: t.to_string(),
            position,
        };
        let query = self.policy_query(t, inner).ok_or_else(refuse)?;
        self.generated += 1;
        let name = Ident::with_quote('`', format!("sqlgate$policy${}", self.generated));
        let mut cte = cte_skeleton();
        cte.alias.name = name.clone();
        *cte.query = query;
        self.ctes.last_mut().ok_or_else(refuse)?.push(cte);
        Ok(name)
    }

    /// `SELECT * [REPLACE (<masks>)] FROM <inner> [WHERE <filters>]` for a read of `t`, or
    /// `None` when nothing applies.
    fn policy_query(&mut self, t: &TableRef, inner: TableFactor) -> Option<Query> {
        let applying = self
            .data
            .applying(self.reader.principal, &crn(self.reader, t));
        if applying.is_empty() {
            return None;
        }
        let (principal, claims) = (self.reader.principal, self.reader.claims);
        let filter = applying
            .filters
            .iter()
            .map(|f| {
                // A claim the token lacks makes the filter false, never true.
                f.filter
                    .instantiate(principal, claims)
                    .map(|e| Expr::Nested(Box::new(e)))
                    .unwrap_or(Expr::Value(ValueWithSpan::from(Value::Boolean(false))))
            })
            .reduce(|a, b| Expr::BinaryOp {
                left: Box::new(a),
                op: BinaryOperator::And,
                right: Box::new(b),
            });
        let replace: Vec<Box<ReplaceSelectElement>> = applying
            .masks
            .iter()
            .map(|m| {
                Box::new(ReplaceSelectElement {
                    expr: m
                        .mask
                        .instantiate(principal, claims)
                        .unwrap_or(Expr::Value(ValueWithSpan::from(Value::Null))),
                    column_name: Ident::with_quote('`', &m.column),
                    as_keyword: true,
                })
            })
            .collect();
        self.applied
            .entry(t.clone())
            .or_insert_with(|| AppliedPolicies {
                table: t.clone(),
                row_filters: applying.filters.iter().map(|f| f.name.clone()).collect(),
                column_masks: applying
                    .masks
                    .iter()
                    .map(|m| (m.name.clone(), m.column.clone()))
                    .collect(),
                columns: applying
                    .filters
                    .iter()
                    .flat_map(|f| f.filter.columns())
                    .chain(applying.masks.iter().flat_map(|m| {
                        let mut c = m.mask.columns();
                        c.insert(m.column.clone());
                        c
                    }))
                    .collect(),
            });
        let mut query = skeleton();
        if let SetExpr::Select(select) = query.body.as_mut() {
            select.from[0].relation = inner;
            select.selection = filter;
            if !replace.is_empty()
                && let SelectItem::Wildcard(opts) = &mut select.projection[0]
            {
                opts.opt_replace = Some(ReplaceSelectItem { items: replace });
            }
        }
        Some(query)
    }
}

/// `x AS (SELECT 1)`, to fill in.
fn cte_skeleton() -> Cte {
    let parsed = Parser::parse_sql(&GenericDialect {}, "WITH x AS (SELECT 1) SELECT 1");
    match parsed.ok().and_then(|mut s| s.pop()) {
        Some(Statement::Query(q)) => match q.with.map(|w| w.cte_tables) {
            Some(mut ctes) if ctes.len() == 1 => ctes.remove(0),
            _ => unreachable!("`WITH x AS (SELECT 1) SELECT 1` has one CTE"),
        },
        _ => unreachable!("`WITH x AS (SELECT 1) SELECT 1` parses"),
    }
}

/// `SELECT * FROM x`, to fill in.
fn skeleton() -> Query {
    let parsed = Parser::parse_sql(&GenericDialect {}, "SELECT * FROM x");
    match parsed.ok().and_then(|mut s| s.pop()) {
        Some(Statement::Query(q)) => *q,
        _ => unreachable!("`SELECT * FROM x` parses"),
    }
}

/// `ControlFlow` of a `Result`.
fn flow(r: Result<(), RewriteError>) -> ControlFlow<RewriteError> {
    match r {
        Ok(()) => ControlFlow::Continue(()),
        Err(e) => ControlFlow::Break(e),
    }
}

impl VisitorMut for Enforcer<'_> {
    type Break = RewriteError;

    fn pre_visit_query(&mut self, _: &mut Query) -> ControlFlow<RewriteError> {
        self.ctes.push(Vec::new());
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, q: &mut Query) -> ControlFlow<RewriteError> {
        let generated = self.ctes.pop().unwrap_or_default();
        if generated.is_empty() {
            return ControlFlow::Continue(());
        }
        // First: they read canonical tables only, and the query's own CTEs may name them.
        match &mut q.with {
            Some(with) => {
                let own = std::mem::take(&mut with.cte_tables);
                with.cte_tables = generated.into_iter().chain(own).collect();
            }
            None => {
                q.with = Some(With {
                    with_token: AttachedToken::empty(),
                    recursive: false,
                    cte_tables: generated,
                });
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<RewriteError> {
        // Before the children: the input renamed to its CTE is not taken for the table.
        if let TableFactor::MatchRecognize { table, .. } = tf
            && let TableFactor::Table {
                name,
                args: None,
                version: None,
                ..
            } = table.as_mut()
            && let Some(t) = table_of(name)
            && covered(self.data, self.reader, &t)
        {
            return flow(
                self.via_cte(&t, Some(name), "MATCH_RECOGNIZE")
                    .map(|cte| *name = ObjectName::from(vec![cte])),
            );
        }
        ControlFlow::Continue(())
    }

    fn post_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<RewriteError> {
        // After the children: the derived table put here is not visited again.
        let TableFactor::Table {
            name,
            alias,
            args: None,
            version,
            ..
        } = tf
        else {
            return ControlFlow::Continue(());
        };
        let Some(t) = table_of(name) else {
            return ControlFlow::Continue(());
        };
        if !covered(self.data, self.reader, &t) {
            return ControlFlow::Continue(());
        }
        if let Some(version) = version {
            let TableVersion::ForSystemTimeAsOf(at) = version else {
                return ControlFlow::Break(RewriteError::Unenforceable {
                    table: t.to_string(),
                    position: "a table version other than FOR SYSTEM_TIME AS OF",
                });
            };
            let cte = match self.via_cte(&t, Some(name), "a temporal join (FOR SYSTEM_TIME AS OF)")
            {
                Ok(cte) => cte,
                Err(e) => return ControlFlow::Break(e),
            };
            *name = ObjectName::from(vec![cte]);
            // The alias rides on the version's expression (`sql/resolve.rs`, TemporalAlias),
            // rendered after it as Flink writes it; without one, the table's name.
            if !matches!(at, Expr::Named { .. }) {
                let name = match alias.take() {
                    Some(a) => a.name,
                    None => Ident::with_quote('`', &t.table),
                };
                let inner = std::mem::replace(at, Expr::Value(Value::Null.into()));
                *at = Expr::Named {
                    expr: Box::new(inner),
                    name,
                };
            }
            return ControlFlow::Continue(());
        }
        let alias = alias.take();
        let inner = std::mem::replace(
            tf,
            TableFactor::Derived {
                lateral: false,
                subquery: Box::new(skeleton()),
                alias: None,
                sample: None,
            },
        );
        if let Some(derived) = self.derived(&t, inner, alias) {
            *tf = derived;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<RewriteError> {
        // `TABLE t`, an argument of a table function (the window TVFs): `TABLE <cte>`.
        if let Some(t) = table_argument(expr).and_then(|i| table_of(&ObjectName::from(i)))
            && covered(self.data, self.reader, &t)
            && let Expr::Prefixed { value, .. } = expr
        {
            return flow(
                self.via_cte(&t, None, "a TABLE argument of a table function")
                    .map(|cte| **value = Expr::Identifier(cte)),
            );
        }
        ControlFlow::Continue(())
    }
}

/// Expands each `* REPLACE (…)` this module wrote into the explicit column list of its table,
/// given by `columns` (the Flink engine's form: Flink has no `REPLACE`). A mask naming a
/// column the table does not have is refused, naming the table only.
pub fn expand_replace(
    statement: &mut Statement,
    columns: &dyn Fn(&TableRef) -> Option<Vec<String>>,
) -> Result<(), RewriteError> {
    struct Expand<'a> {
        columns: &'a dyn Fn(&TableRef) -> Option<Vec<String>>,
    }
    impl VisitorMut for Expand<'_> {
        type Break = RewriteError;
        fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<RewriteError> {
            let SetExpr::Select(select) = q.body.as_mut() else {
                return ControlFlow::Continue(());
            };
            expand_select(select, self.columns)
        }
    }
    match VisitMut::visit(statement, &mut Expand { columns }) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(e) => Err(e),
    }
}

fn expand_select(
    select: &mut Select,
    columns: &dyn Fn(&TableRef) -> Option<Vec<String>>,
) -> ControlFlow<RewriteError> {
    let [
        SelectItem::Wildcard(WildcardAdditionalOptions {
            opt_replace: Some(replace),
            ..
        }),
    ] = select.projection.as_slice()
    else {
        return ControlFlow::Continue(());
    };
    let [from] = select.from.as_slice() else {
        return ControlFlow::Continue(());
    };
    let TableFactor::Table { name, .. } = &from.relation else {
        return ControlFlow::Continue(());
    };
    let Some(t) = table_of(name) else {
        return ControlFlow::Continue(());
    };
    let refuse = || {
        ControlFlow::Break(RewriteError::PolicyMismatch {
            table: t.to_string(),
        })
    };
    let Some(cols) = columns(&t) else {
        return refuse();
    };
    if replace
        .items
        .iter()
        .any(|r| !cols.contains(&r.column_name.value))
    {
        return refuse();
    }
    let items: Vec<SelectItem> = cols
        .iter()
        .map(|c| {
            let ident = Ident::with_quote('`', c);
            match replace.items.iter().find(|r| &r.column_name.value == c) {
                Some(r) => SelectItem::ExprWithAlias {
                    expr: r.expr.clone(),
                    alias: ident,
                },
                None => SelectItem::UnnamedExpr(Expr::Identifier(ident)),
            }
        })
        .collect();
    select.projection = items;
    ControlFlow::Continue(())
}

/// Puts `LIMIT 9223372036854775807` (no limit at all) on each filtered derived table this
/// module wrote for a table in `applied`: an optimization fence, for an engine whose optimizer
/// would otherwise merge the caller's predicates with the policy's filter and evaluate them
/// together (DataFusion pushes a filter into the derived table's and evaluates `f AND p` on a
/// whole batch), so that a predicate failing on a filtered-out row (`1 / CASE WHEN region =
/// 'US' THEN 0 ELSE 1 END = 1`) would fail the statement and reveal that such a row exists.
/// A filter is never pushed through a limit; the caller's predicates only see the rows the
/// policy's filter kept.
///
/// The Flink engine needs no fence (and gets none): Flink 2.2 merges the two filters into one
/// `Calc` whose condition is `AND(<policy filter>, <caller's predicate>)`, the policy's first,
/// and its generated code evaluates an AND's right operand only when the left is not false
/// (`tests/flink_data_policies.rs::on_flink_a_callers_predicate_never_runs_on_the_rows_a_filter_removes`).
pub fn fence_filters(statement: &mut Statement, applied: &[AppliedPolicies]) {
    let Some(limit) = no_limit() else {
        return;
    };
    struct Fence<'a> {
        applied: &'a [AppliedPolicies],
        limit: datafusion::sql::sqlparser::ast::LimitClause,
    }
    impl VisitorMut for Fence<'_> {
        type Break = ();
        fn post_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
            if q.limit_clause.is_some() || q.order_by.is_some() {
                return ControlFlow::Continue(());
            }
            let SetExpr::Select(select) = q.body.as_ref() else {
                return ControlFlow::Continue(());
            };
            let filtered = select.selection.is_some()
                && matches!(select.projection.as_slice(), [SelectItem::Wildcard(_)])
                && match select.from.as_slice() {
                    [from] if from.joins.is_empty() => match &from.relation {
                        TableFactor::Table { name, .. } => table_of(name)
                            .is_some_and(|t| self.applied.iter().any(|a| a.table == t)),
                        _ => false,
                    },
                    _ => false,
                };
            if filtered {
                q.limit_clause = Some(self.limit.clone());
            }
            ControlFlow::Continue(())
        }
    }
    let _ = VisitMut::visit(statement, &mut Fence { applied, limit });
}

/// `LIMIT 9223372036854775807`.
fn no_limit() -> Option<datafusion::sql::sqlparser::ast::LimitClause> {
    let parsed = Parser::parse_sql(
        &GenericDialect {},
        "SELECT * FROM x LIMIT 9223372036854775807",
    );
    match parsed.ok()?.pop()? {
        Statement::Query(q) => q.limit_clause,
        _ => None,
    }
}

#[cfg(test)]
mod tests;
