//! Bare `ROW(…)` values written into ROW columns by an INSERT: Flink gives a row to a ROW
//! column by position (an unnamed row's fields are `EXPR$0`, …), DataFusion by field name.
//! Each such value is named with the column's field names, so DataFusion's own conversion
//! of the value to the column's type lines the fields up as Flink does, and then the value's
//! type is checked against Flink's implicit conversions.
//!
//! Only values written as `ROW(…)` in a VALUES row or a select item of the INSERT's query
//! are named here; a ROW of other field names by any other route stays refused with the
//! "matches fields by name" explanation of `unsupported`.

use datafusion::arrow::datatypes::Schema as ArrowSchema;
use datafusion::sql::sqlparser::ast::{Expr, Insert, SelectItem, SetExpr, Value};

use super::EngineError;
use super::dialect::{bare_row, named_struct};
use crate::sql::types::{FlinkType, Kind};

/// A value of the INSERT's query that was named after its ROW column.
#[derive(Debug)]
pub(super) struct NamedRow {
    /// Position in the query's output.
    position: usize,
    /// The target column.
    column: String,
    /// The target column's type.
    target: FlinkType,
}

/// Whether some value of the INSERT's query is written `ROW(…)`: only then do the table's
/// columns need to be looked up.
pub(super) fn has_bare_row(ins: &mut Insert) -> bool {
    let mut found = false;
    for_each_value(ins, |_, e| found |= bare_row(e).is_some());
    found
}

/// Names every bare `ROW(…)` written into a ROW column (`columns` are the table's, in order)
/// by the column's field names, nested rows too. An arity mismatch is refused, naming the
/// column and both arities.
pub(super) fn name_rows(
    ins: &mut Insert,
    columns: &[(String, FlinkType)],
) -> Result<Vec<NamedRow>, EngineError> {
    let targets: Vec<Option<&(String, FlinkType)>> = if ins.columns.is_empty() {
        columns.iter().map(Some).collect()
    } else {
        ins.columns
            .iter()
            .map(|c| {
                let name = c.0.last().and_then(|p| p.as_ident()).map(|i| &i.value);
                columns.iter().find(|(n, _)| Some(n) == name)
            })
            .collect()
    };
    let mut named = Vec::new();
    let mut failed = None;
    for_each_value(ins, |position, e| {
        if failed.is_some() {
            return;
        }
        let Some(Some((column, target))) = targets.get(position) else {
            return; // a count mismatch or unknown column: DataFusion reports it
        };
        match name_row(e, column, target) {
            Ok(true) => named.push(NamedRow {
                position,
                column: column.clone(),
                target: target.clone(),
            }),
            Ok(false) => {}
            Err(err) => failed = Some(err),
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(named),
    }
}

/// Each named value's type in the planned query (`schema`) must convert implicitly to its
/// column's type, as Flink requires of what is written into a sink column.
pub(super) fn check_implicit(named: &[NamedRow], schema: &ArrowSchema) -> Result<(), EngineError> {
    for n in named {
        let Some(field) = schema.fields().get(n.position) else {
            continue;
        };
        let Ok(from) = FlinkType::from_field(field) else {
            continue; // DataFusion's cast reports it
        };
        if !from.casts_implicitly_to(&n.target) {
            return Err(EngineError::Plan(format!(
                "Incompatible types for sink column '{}' at position {}: the query gives {}, \
                 the column is {}, and Flink does not convert the one to the other implicitly \
                 (write a CAST)",
                n.column,
                n.position,
                from.to_sql(),
                n.target.to_sql()
            )));
        }
    }
    Ok(())
}

/// Calls `f` with each value of the query's output by position: each expression of each
/// VALUES row, or each select item of a plain SELECT (none after a wildcard).
fn for_each_value(ins: &mut Insert, mut f: impl FnMut(usize, &mut Expr)) {
    let Some(query) = ins.source.as_mut() else {
        return;
    };
    match query.body.as_mut() {
        SetExpr::Values(values) => {
            for row in &mut values.rows {
                for (i, e) in row.iter_mut().enumerate() {
                    f(i, e);
                }
            }
        }
        SetExpr::Select(select) => {
            for (i, item) in select.projection.iter_mut().enumerate() {
                match item {
                    SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                        f(i, e)
                    }
                    _ => return,
                }
            }
        }
        _ => {}
    }
}

/// Names `e` after `target`'s fields if it is a bare `ROW(…)` and `target` a ROW (`column`
/// is the column or field path, for errors). Whether it did.
fn name_row(e: &mut Expr, column: &str, target: &FlinkType) -> Result<bool, EngineError> {
    let Kind::Row(fields) = target.kind() else {
        return Ok(false);
    };
    let Some(values) = bare_row(e) else {
        return Ok(false);
    };
    if values.len() != fields.len() {
        return Err(EngineError::Plan(format!(
            "Column '{column}' is a ROW of {} field{} ({}), but the ROW(…) written into it has {} \
             field{}",
            fields.len(),
            if fields.len() == 1 { "" } else { "s" },
            target.to_sql(),
            values.len(),
            if values.len() == 1 { "" } else { "s" },
        )));
    }
    let mut owned = Vec::with_capacity(values.len());
    for (v, (name, t)) in values.into_iter().zip(fields) {
        name_row(v, &format!("{column}.{name}"), t)?;
        owned.push(std::mem::replace(v, Expr::Value(Value::Null.into())));
    }
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    *e = named_struct(&names, owned)?;
    Ok(true)
}
