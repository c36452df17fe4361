//! `status.traits.upsert_columns` of a query on Flink: the result columns that form the key
//! of its updating (upsert) changelog, so that a client (`confluent-sql`'s changelog
//! compressor) may treat each `+I`/`+U` as "the row of this key is now", ignore `-U`, and
//! drop the key's row on `-D`.
//!
//! Flink's planner knows its upsert keys, but neither the SQL Gateway's result schema nor
//! `EXPLAIN` (any of its detail levels, checked on Flink 2.2.1) shows them. So they are
//! derived from the checked statement, and only for the shape where they are certain; every
//! other statement gets `null`, which makes a client keep whole rows instead (always correct,
//! only slower). A wrong key would be worse than none: the compressor would merge rows that
//! differ. The rule:
//!
//! - the result is an updating stream (not append-only, from Flink's own plan), and
//! - the statement is one plain `SELECT … FROM … GROUP BY k1, …, kn` (n ≥ 1): no UNION /
//!   INTERSECT / EXCEPT, no ORDER BY, LIMIT, FETCH or DISTINCT, no GROUPING SETS / ROLLUP /
//!   CUBE, no window aggregation (a Flink-only statement such as a window TVF is skipped), and
//! - every grouping key is a plain column reference, selected as itself (possibly under an
//!   alias) by a projection without wildcards.
//!
//! Then the upsert key is the grouping keys, and `upsert_columns` their positions in the
//! result, in GROUP BY order (the first projection of each key).

use datafusion::sql::sqlparser::ast::{
    Expr, GroupByExpr, Ident, Query, SelectItem, SetExpr, Statement,
};

use crate::rewrite::RewrittenStatement;

/// The upsert columns of `stmt`, whose result Flink planned as append-only or not (see the
/// module doc).
pub(crate) fn upsert_columns(stmt: &RewrittenStatement, append_only: bool) -> Option<Vec<usize>> {
    if stmt.is_flink_only() || stmt.sql_kind() != "SELECT" {
        return None;
    }
    of_statement(stmt.statement(), append_only)
}

fn of_statement(stmt: &Statement, append_only: bool) -> Option<Vec<usize>> {
    if append_only {
        return None;
    }
    let Statement::Query(q) = stmt else {
        return None;
    };
    grouping_key_columns(q)
}

fn grouping_key_columns(q: &Query) -> Option<Vec<usize>> {
    if q.order_by.is_some() || q.limit_clause.is_some() || q.fetch.is_some() {
        return None;
    }
    if !q.pipe_operators.is_empty() {
        return None;
    }
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    if select.distinct.is_some() || select.top.is_some() {
        return None;
    }
    let GroupByExpr::Expressions(keys, modifiers) = &select.group_by else {
        return None;
    };
    if keys.is_empty() || !modifiers.is_empty() {
        return None;
    }
    let mut projected: Vec<Option<Vec<&str>>> = Vec::new();
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                projected.push(column(e));
            }
            _ => return None,
        }
    }
    let mut out = Vec::new();
    for k in keys {
        let key = column(k)?;
        let i = projected.iter().position(|p| p.as_ref() == Some(&key))?;
        if !out.contains(&i) {
            out.push(i);
        }
    }
    Some(out)
}

/// The name parts of a plain column reference (`k`, `o.k`), as written.
fn column(e: &Expr) -> Option<Vec<&str>> {
    match e {
        Expr::Identifier(id) => Some(vec![id.value.as_str()]),
        Expr::CompoundIdentifier(ids) => {
            Some(ids.iter().map(|i: &Ident| i.value.as_str()).collect())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn of(sql: &str) -> Option<Vec<usize>> {
        let stmt = Parser::parse_sql(&GenericDialect {}, sql)
            .unwrap()
            .remove(0);
        of_statement(&stmt, false)
    }

    #[test]
    fn a_group_by_whose_keys_are_selected_is_keyed_by_them() {
        for (sql, want) in [
            ("SELECT k, COUNT(*) FROM t GROUP BY k", vec![0]),
            ("SELECT COUNT(*) AS n, k FROM t GROUP BY k", vec![1]),
            ("SELECT k AS key, SUM(v) FROM t GROUP BY k", vec![0]),
            ("SELECT a, b, COUNT(*) FROM t GROUP BY b, a", vec![1, 0]),
            ("SELECT t.k, COUNT(*) FROM t GROUP BY t.k", vec![0]),
            (
                "SELECT k, COUNT(*) FROM t WHERE v > 1 GROUP BY k HAVING COUNT(*) > 1",
                vec![0],
            ),
            (
                "WITH s AS (SELECT * FROM t) SELECT k, MAX(v) FROM s GROUP BY k",
                vec![0],
            ),
        ] {
            assert_eq!(of(sql), Some(want), "{sql}");
        }
    }

    #[test]
    fn every_other_shape_has_no_upsert_columns() {
        for sql in [
            "SELECT COUNT(*) FROM t",
            "SELECT k FROM t",
            "SELECT COUNT(*) FROM t GROUP BY k",
            "SELECT a, COUNT(*) FROM t GROUP BY a, b",
            "SELECT UPPER(k), COUNT(*) FROM t GROUP BY UPPER(k)",
            "SELECT k, COUNT(*) FROM t GROUP BY t.k",
            "SELECT *, COUNT(*) FROM t GROUP BY k",
            "SELECT DISTINCT k, COUNT(*) FROM t GROUP BY k",
            "SELECT k, COUNT(*) FROM t GROUP BY k ORDER BY k",
            "SELECT k, COUNT(*) FROM t GROUP BY k LIMIT 5",
            "SELECT k, COUNT(*) FROM t GROUP BY ROLLUP (k)",
            "SELECT k, COUNT(*) FROM t GROUP BY GROUPING SETS ((k), ())",
            "SELECT k, COUNT(*) FROM a GROUP BY k UNION ALL SELECT k, COUNT(*) FROM b GROUP BY k",
            "INSERT INTO s SELECT k, COUNT(*) FROM t GROUP BY k",
        ] {
            assert_eq!(of(sql), None, "{sql}");
        }
        let stmt = Parser::parse_sql(&GenericDialect {}, "SELECT k, COUNT(*) FROM t GROUP BY k")
            .unwrap()
            .remove(0);
        assert_eq!(of_statement(&stmt, true), None, "an append-only result");
    }
}
