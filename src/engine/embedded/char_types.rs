//! Flink's character types of string literals in a query's result columns: Flink types the
//! literal `'abc'` `CHAR(3)`, DataFusion every string `Utf8` (which the result reports as
//! `STRING`). Read from the planned (not yet optimized) query, expression by expression:
//!
//! * a non-empty string literal is `CHAR(<its length in UTF-16 units, as Java counts>)`;
//! * `a || b` of two such types adds their lengths, CHAR if both are CHAR, else VARCHAR;
//! * a CASE, a COALESCE, a UNION or a VALUES column of them is that CHAR when every branch
//!   has the same CHAR type, else VARCHAR of the longest (NULL branches do not count);
//! * a column of a projection, a subquery, a sort, a filter or a limit passes its type on.
//!
//! A row built in the query (`named_struct`, which the dialect layer makes of `ROW(…)`) has
//! each field typed so, and nullable as its value is (DataFusion makes every field of it
//! nullable; Flink's `ROW(1, 'x')` is `ROW<EXPR$0 INT NOT NULL, EXPR$1 CHAR(1) NOT NULL>`).
//!
//! Anything else (`CONCAT`, casts, functions, table columns, aggregates, joins) is `None`:
//! its type stays what the Arrow schema says. A column's own nullability never changes.

use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::{BinaryExpr, Distinct, Expr, ExprSchemable, LogicalPlan, Operator};

use crate::sql::types::{FlinkType, Kind, MAX_LENGTH};

/// How Flink types each output column of `plan` more precisely than its Arrow type says;
/// `None` where the reported type stays as it is. Applied with [`narrowed`].
pub(super) fn of_plan(plan: &LogicalPlan) -> Vec<Option<Shape>> {
    (0..plan.schema().fields().len())
        .map(|i| column_shape(plan, i))
        .collect()
}

/// What Flink's typing of a value refines in its reported type.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Shape {
    /// A `CHAR(n)` / `VARCHAR(n)` reported as `STRING`.
    Chars(Kind),
    /// A row built in the query: per field, its own shape and whether it may be NULL.
    Row(Vec<(Option<Shape>, Option<bool>)>),
}

/// `t` as Flink types the value: a `STRING` (DataFusion's `Utf8`) gets the shape's
/// character type, a ROW's fields their shapes and nullability; `t`'s own nullability stays.
pub(super) fn narrowed(t: FlinkType, shape: Option<&Shape>) -> FlinkType {
    match (shape, t.kind()) {
        (Some(Shape::Chars(kind)), Kind::Varchar(MAX_LENGTH)) => {
            FlinkType::new(kind.clone(), t.nullable())
        }
        (Some(Shape::Row(shapes)), Kind::Row(fields)) if shapes.len() == fields.len() => {
            let fields = fields
                .iter()
                .zip(shapes)
                .map(|((name, ft), (shape, nullable))| {
                    let ft = narrowed(ft.clone(), shape.as_ref());
                    let nullable = nullable.unwrap_or(ft.nullable());
                    (name.clone(), ft.with_nullable(nullable))
                })
                .collect();
            FlinkType::new(Kind::Row(fields), t.nullable())
        }
        _ => t,
    }
}

fn column_shape(plan: &LogicalPlan, i: usize) -> Option<Shape> {
    if let Some(kind) = column(plan, i).and_then(Chars::kind) {
        return Some(Shape::Chars(kind));
    }
    match plan {
        LogicalPlan::Projection(p) => expr_shape(p.expr.get(i)?, Some(&p.input)),
        LogicalPlan::Sort(s) => column_shape(&s.input, i),
        LogicalPlan::Limit(l) => column_shape(&l.input, i),
        LogicalPlan::Filter(f) => column_shape(&f.input, i),
        LogicalPlan::SubqueryAlias(s) => column_shape(&s.input, i),
        LogicalPlan::Distinct(Distinct::All(input)) => column_shape(input, i),
        _ => None,
    }
}

fn expr_shape(e: &Expr, input: Option<&LogicalPlan>) -> Option<Shape> {
    if let Some(kind) = expr(e, input).and_then(Chars::kind) {
        return Some(Shape::Chars(kind));
    }
    match e {
        Expr::Alias(a) => expr_shape(&a.expr, input),
        Expr::Column(c) => {
            let input = input?;
            column_shape(input, input.schema().index_of_column(c).ok()?)
        }
        Expr::ScalarFunction(f)
            if f.func.name().eq_ignore_ascii_case("named_struct") && f.args.len() % 2 == 0 =>
        {
            let empty = DFSchema::empty();
            let schema: &DFSchema = input.map_or(&empty, |p| p.schema().as_ref());
            Some(Shape::Row(
                f.args
                    .chunks(2)
                    .map(|pair| (expr_shape(&pair[1], input), pair[1].nullable(schema).ok()))
                    .collect(),
            ))
        }
        _ => None,
    }
}

/// What is known of a value's character type.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Chars {
    /// A NULL literal: takes the type of the other branches.
    Null,
    Char(u32),
    Varchar(u32),
}

impl Chars {
    fn kind(self) -> Option<Kind> {
        match self {
            Chars::Null => None,
            Chars::Char(n) => Some(Kind::Char(n)),
            Chars::Varchar(n) => Some(Kind::Varchar(n)),
        }
    }

    fn len(self) -> u32 {
        match self {
            Chars::Null => 0,
            Chars::Char(n) | Chars::Varchar(n) => n,
        }
    }
}

/// The common type of branches (CASE, COALESCE, UNION, VALUES); `None` if any is unknown.
fn common(branches: impl IntoIterator<Item = Option<Chars>>) -> Option<Chars> {
    let mut out = Chars::Null;
    for b in branches {
        out = match (out, b?) {
            (o, Chars::Null) => o,
            (Chars::Null, b) => b,
            (Chars::Char(a), Chars::Char(b)) if a == b => Chars::Char(a),
            (a, b) => Chars::Varchar(a.len().max(b.len())),
        };
    }
    Some(out)
}

fn column(plan: &LogicalPlan, i: usize) -> Option<Chars> {
    match plan {
        LogicalPlan::Projection(p) => expr(p.expr.get(i)?, Some(&p.input)),
        LogicalPlan::Sort(s) => column(&s.input, i),
        LogicalPlan::Limit(l) => column(&l.input, i),
        LogicalPlan::Filter(f) => column(&f.input, i),
        LogicalPlan::SubqueryAlias(s) => column(&s.input, i),
        LogicalPlan::Distinct(Distinct::All(input)) => column(input, i),
        LogicalPlan::Union(u) => common(u.inputs.iter().map(|p| column(p, i))),
        LogicalPlan::Values(v) => common(v.values.iter().map(|row| expr(row.get(i)?, None))),
        _ => None,
    }
}

/// The character type of `e`, evaluated over `input`'s rows (none in a VALUES row).
fn expr(e: &Expr, input: Option<&LogicalPlan>) -> Option<Chars> {
    match e {
        Expr::Alias(a) => expr(&a.expr, input),
        Expr::Literal(v, _) => match v {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
                if !s.is_empty() =>
            {
                u32::try_from(s.encode_utf16().count())
                    .ok()
                    .filter(|n| *n <= MAX_LENGTH)
                    .map(Chars::Char)
            }
            ScalarValue::Null
            | ScalarValue::Utf8(None)
            | ScalarValue::LargeUtf8(None)
            | ScalarValue::Utf8View(None) => Some(Chars::Null),
            _ => None,
        },
        Expr::Column(c) => {
            let input = input?;
            column(input, input.schema().index_of_column(c).ok()?)
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::StringConcat,
            right,
        }) => {
            let (l, r) = (expr(left, input)?, expr(right, input)?);
            let len = l.len().checked_add(r.len()).filter(|n| *n <= MAX_LENGTH)?;
            match (l, r) {
                (Chars::Null, _) | (_, Chars::Null) => None,
                (Chars::Char(_), Chars::Char(_)) => Some(Chars::Char(len)),
                _ => Some(Chars::Varchar(len)),
            }
        }
        Expr::Case(c) => {
            let branches = c
                .when_then_expr
                .iter()
                .map(|(_, then)| then.as_ref())
                .chain(c.else_expr.as_deref());
            match common(branches.map(|b| expr(b, input)))? {
                Chars::Null => None,
                t => Some(t),
            }
        }
        Expr::ScalarFunction(f) if f.func.name().eq_ignore_ascii_case("coalesce") => {
            match common(f.args.iter().map(|a| expr(a, input)))? {
                Chars::Null => None,
                t => Some(t),
            }
        }
        _ => None,
    }
}
