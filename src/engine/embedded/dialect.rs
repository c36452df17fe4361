//! Engine-local AST rewrites that make Flink SQL plan in DataFusion with Flink's semantics:
//!
//! * Flink-only type spellings in casts (`STRING` is fine, but `BYTES`, `TIMESTAMP_LTZ(3)`,
//!   `TIME(3)`, `ARRAY<INT>`, `ROW<..>`, …) become `arrow_cast(x, '<arrow type>')`;
//! * Flink interval literals with a range (`INTERVAL '1 02:03:04.5' DAY TO SECOND`,
//!   `INTERVAL '1-6' YEAR TO MONTH`, `INTERVAL '2' YEAR`) become DataFusion intervals
//!   (year-month ones typed `Interval(YearMonth)`);
//! * unnamed select-list expressions get Flink's names `EXPR$<position>`;
//! * Flink call shapes DataFusion can express itself: `CAST(x AS STRING)` with Flink's
//!   spelling of values (`functions::TO_STRING`), `MOD(a, b)` as `a % b`, `IF(c, a, b)` as a
//!   CASE, the unit keyword of `TIMESTAMPADD`/`TIMESTAMPDIFF(DAY, …)` as a string, and
//!   `LOCALTIMESTAMP` as the current UTC time as a `TIMESTAMP(3)`.
//!
//! * integer literals that fit in 32 bits are typed INT, as in Flink (DataFusion types every
//!   integer literal BIGINT): `1` becomes `CAST(1 AS INT)`, except where a literal means a
//!   position or a count (`ORDER BY 1`, `GROUP BY 1`, `LIMIT`/`OFFSET`/`FETCH`, window frame
//!   bounds, interval values), which are held aside while the statement is visited;
//! * `MAP_FROM_ARRAYS(keys, values)` (also what `MAP[k, v, …]` parses to) becomes
//!   DataFusion's `map(keys, values)`;
//! * a bare `ROW(e0, …)` becomes `named_struct('EXPR$0', e0, …)`: Flink names the fields of
//!   an unnamed row `EXPR$<position>` (a cast to a named ROW type names them itself).
//!
//! These rewrites never change which objects a statement touches (that was settled by the
//! gateway's resolve/authorize/rewrite stages); they only translate dialect.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    CastKind, DataType as SqlType, DateTimeField, ExactNumberInfo, Expr, FunctionArg,
    FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, Interval, LimitClause, ObjectName,
    OrderBy, OrderByKind, Query, SelectItem, SetExpr, Statement, TimezoneInfo, Value, VisitMut,
    VisitorMut, WindowFrameBound, WindowType,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::EngineError;
use crate::sql::types::parse_flink_type;

/// Applies every rewrite to `stmt` in place.
pub(crate) fn rewrite(stmt: &mut Statement) -> Result<(), EngineError> {
    match stmt.visit(&mut FlinkToDataFusion::default()) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(e) => Err(*e),
    }
}

#[derive(Default)]
struct FlinkToDataFusion {
    /// Integer literals held aside (see [`Self::hold`]), by placeholder index.
    held: Vec<Expr>,
}

/// Prefix of the placeholders that stand for held literals while a statement is visited.
const HELD: &str = "$sqlgate_held_";

impl FlinkToDataFusion {
    /// Replaces a bare number with a placeholder, so that it keeps its BIGINT literal meaning
    /// (a position, a count, a frame offset); [`Self::restore`] puts it back.
    fn hold(&mut self, expr: &mut Expr) {
        if let Expr::Value(v) = expr
            && matches!(v.value, Value::Number(..))
        {
            let placeholder =
                Expr::Value(Value::Placeholder(format!("{HELD}{}", self.held.len())).into());
            self.held.push(std::mem::replace(expr, placeholder));
        }
    }

    fn restore(&mut self, expr: &mut Expr) {
        if let Expr::Value(v) = expr
            && let Value::Placeholder(p) = &v.value
            && let Some(i) = p.strip_prefix(HELD).and_then(|i| i.parse::<usize>().ok())
            && let Some(original) = self.held.get_mut(i)
        {
            *expr = std::mem::replace(original, Expr::Value(Value::Null.into()));
        }
    }

    /// The positions, counts and frame offsets of a query level.
    fn query_literals(query: &mut Query) -> Vec<&mut Expr> {
        let mut out: Vec<&mut Expr> = Vec::new();
        if let Some(OrderBy {
            kind: OrderByKind::Expressions(exprs),
            ..
        }) = &mut query.order_by
        {
            out.extend(exprs.iter_mut().map(|o| &mut o.expr));
        }
        match &mut query.limit_clause {
            Some(LimitClause::LimitOffset { limit, offset, .. }) => {
                out.extend(limit.as_mut());
                out.extend(offset.as_mut().map(|o| &mut o.value));
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
                out.push(offset);
                out.push(limit);
            }
            None => {}
        }
        if let Some(fetch) = &mut query.fetch {
            out.extend(fetch.quantity.as_mut());
        }
        fn group_bys<'a>(body: &'a mut SetExpr, out: &mut Vec<&'a mut Expr>) {
            match body {
                SetExpr::Select(select) => {
                    if let GroupByExpr::Expressions(exprs, _) = &mut select.group_by {
                        out.extend(exprs.iter_mut());
                    }
                }
                SetExpr::SetOperation { left, right, .. } => {
                    group_bys(left, out);
                    group_bys(right, out);
                }
                _ => {}
            }
        }
        group_bys(&mut query.body, &mut out);
        out
    }

    /// The frame offsets of a window call and the value of an interval literal.
    fn expr_literals(expr: &mut Expr) -> Vec<&mut Expr> {
        let mut out: Vec<&mut Expr> = Vec::new();
        match expr {
            Expr::Function(f) => {
                if let Some(WindowType::WindowSpec(spec)) = &mut f.over
                    && let Some(frame) = &mut spec.window_frame
                {
                    for bound in
                        std::iter::once(&mut frame.start_bound).chain(frame.end_bound.as_mut())
                    {
                        if let WindowFrameBound::Preceding(Some(e))
                        | WindowFrameBound::Following(Some(e)) = bound
                        {
                            out.push(e.as_mut());
                        }
                    }
                }
            }
            Expr::Interval(iv) => out.push(iv.value.as_mut()),
            _ => {}
        }
        out
    }
}

/// `CAST(n AS INT)` for an integer literal that fits in 32 bits (Flink's INT literal).
fn int_literal(expr: &Expr) -> Option<Expr> {
    let Expr::Value(v) = expr else {
        return None;
    };
    let Value::Number(n, false) = &v.value else {
        return None;
    };
    n.parse::<i32>().ok()?;
    Some(Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(expr.clone()),
        data_type: SqlType::Int(None),
        format: None,
        array: false,
    })
}

impl VisitorMut for FlinkToDataFusion {
    type Break = Box<EngineError>;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<Self::Break> {
        name_projections(&mut query.body);
        for e in Self::query_literals(query) {
            self.hold(e);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<Self::Break> {
        for e in Self::query_literals(query) {
            self.restore(e);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<Self::Break> {
        for e in Self::expr_literals(expr) {
            self.hold(e);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<Self::Break> {
        for e in Self::expr_literals(expr) {
            self.restore(e);
        }
        if let Some(int) = int_literal(expr) {
            *expr = int;
            return ControlFlow::Continue(());
        }
        match rewrite_expr(expr) {
            Ok(Some(new)) => *expr = new,
            Ok(None) => {}
            Err(e) => return ControlFlow::Break(Box::new(e)),
        }
        ControlFlow::Continue(())
    }
}

/// Gives `EXPR$<i>` to every unnamed, non-column select item of this query level (set
/// operations included; nested queries are reached by the visitor itself).
fn name_projections(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => {
            for (i, item) in select.projection.iter_mut().enumerate() {
                if let SelectItem::UnnamedExpr(e) = item
                    && !matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
                {
                    let expr = std::mem::replace(e, Expr::Value(Value::Null.into()));
                    *item = SelectItem::ExprWithAlias {
                        expr,
                        alias: Ident::new(format!("EXPR${i}")),
                    };
                }
            }
        }
        SetExpr::SetOperation { left, right, .. } => {
            name_projections(left);
            name_projections(right);
        }
        _ => {}
    }
}

/// Types DataFusion's SQL planner converts itself with the same meaning as Flink.
fn df_native(t: &SqlType) -> bool {
    match t {
        SqlType::Boolean
        | SqlType::Bool
        | SqlType::TinyInt(_)
        | SqlType::SmallInt(_)
        | SqlType::Int(_)
        | SqlType::Integer(_)
        | SqlType::BigInt(_)
        | SqlType::Varchar(_)
        | SqlType::Char(_)
        | SqlType::String(_)
        | SqlType::Text
        | SqlType::Float(_)
        | SqlType::Real
        | SqlType::Double(ExactNumberInfo::None)
        | SqlType::DoublePrecision
        | SqlType::Decimal(_)
        | SqlType::Numeric(_)
        | SqlType::Date => true,
        SqlType::Interval { fields, precision } => fields.is_none() && precision.is_none(),
        // Flink's bare TIMESTAMP means TIMESTAMP(6); DataFusion's would be nanoseconds.
        SqlType::Timestamp(Some(p), tz) => {
            [0, 3, 6, 9].contains(p)
                && matches!(tz, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone)
        }
        _ => false,
    }
}

/// Builds `name(<expr>, '<text>')`.
fn call_with_type(name: &str, expr: Expr, text: &str) -> Result<Expr, EngineError> {
    let template = format!("{name}(NULL, '{}')", text.replace('\'', "''"));
    let mut call = Parser::new(&GenericDialect {})
        .try_with_sql(&template)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| EngineError::Internal(format!("building {name}: {e}")))?;
    if let Expr::Function(f) = &mut call
        && let FunctionArguments::List(list) = &mut f.args
        && let Some(first) = list.args.first_mut()
    {
        *first = FunctionArg::Unnamed(FunctionArgExpr::Expr(expr));
        return Ok(call);
    }
    Err(EngineError::Internal(format!(
        "unexpected shape of {name} call"
    )))
}

/// `name(args…)` of a plain call (no OVER, FILTER or named arguments): its upper-cased name
/// and arguments.
fn plain_call(expr: &mut Expr) -> Option<(String, &mut Vec<FunctionArg>)> {
    let Expr::Function(f) = expr else {
        return None;
    };
    if f.over.is_some() || f.filter.is_some() {
        return None;
    }
    let name = f.name.to_string().to_ascii_uppercase();
    match &mut f.args {
        FunctionArguments::List(list) if list.duplicate_treatment.is_none() => {
            Some((name, &mut list.args))
        }
        _ => None,
    }
}

fn take_arg(arg: &mut FunctionArg) -> Option<Expr> {
    match arg {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => {
            Some(std::mem::replace(e, Expr::Value(Value::Null.into())))
        }
        _ => None,
    }
}

/// The Flink call shapes of the module doc, rewritten; `None` for any other expression.
fn rewrite_call(expr: &mut Expr) -> Option<Expr> {
    if let Expr::Identifier(id) = expr
        && id.quote_style.is_none()
        && id.value.eq_ignore_ascii_case("LOCALTIMESTAMP")
    {
        return Parser::new(&GenericDialect {})
            .try_with_sql("CAST(now() AS TIMESTAMP(3))")
            .and_then(|mut p| p.parse_expr())
            .ok();
    }
    if let Some(new) = floor_ceil_to_unit(expr) {
        return Some(new);
    }
    if let Expr::Function(f) = expr
        && f.name.to_string().eq_ignore_ascii_case("MAP_FROM_ARRAYS")
    {
        f.name = ObjectName::from(vec![Ident::new("map")]);
        return None;
    }
    let (name, args) = plain_call(expr)?;
    if args.len() == 1
        && let Some(field) = extract_field(&name)
    {
        let inner = take_arg(&mut args[0])?;
        return template(&format!("CAST(EXTRACT({field} FROM {X}) AS BIGINT)"), inner);
    }
    if let Some(bits) = sha_bits(&name, args) {
        let inner = take_arg(&mut args[0])?;
        return template(&format!("encode(sha{bits}({X}), 'hex')"), inner);
    }
    match (name.as_str(), args.len()) {
        ("MOD", 2) => {
            let right = take_arg(&mut args[1])?;
            let left = take_arg(&mut args[0])?;
            Some(Expr::Nested(Box::new(Expr::BinaryOp {
                left: Box::new(left),
                op: datafusion::sql::sqlparser::ast::BinaryOperator::Modulo,
                right: Box::new(right),
            })))
        }
        ("IF", 3) => {
            let otherwise = take_arg(&mut args[2])?;
            let then = take_arg(&mut args[1])?;
            let condition = take_arg(&mut args[0])?;
            Some(Expr::Case {
                case_token:
                    datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                end_token:
                    datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                operand: None,
                conditions: vec![datafusion::sql::sqlparser::ast::CaseWhen {
                    condition,
                    result: then,
                }],
                else_result: Some(Box::new(otherwise)),
            })
        }
        ("TIMESTAMPADD" | "TIMESTAMPDIFF", 3) => {
            if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = &mut args[0]
                && let Expr::Identifier(unit) = e
                && unit.quote_style.is_none()
            {
                *e = Expr::Value(Value::SingleQuotedString(unit.value.to_ascii_uppercase()).into());
            }
            None
        }
        _ => None,
    }
}

/// The placeholder [`template`] replaces.
const X: &str = "__sqlgate_arg__";

/// `sql` parsed as an expression, each [`X`] in it replaced by `arg`.
fn template(sql: &str, arg: Expr) -> Option<Expr> {
    struct Fill(Expr);
    impl VisitorMut for Fill {
        type Break = ();
        fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if matches!(e, Expr::Identifier(id) if id.value == X) {
                *e = self.0.clone();
            }
            ControlFlow::Continue(())
        }
    }
    let mut e = Parser::new(&GenericDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .ok()?;
    let _ = e.visit(&mut Fill(arg));
    Some(e)
}

/// Flink's `YEAR(d)`, `MONTH(d)`, … : the `EXTRACT` field each is (a BIGINT, as Flink's).
fn extract_field(name: &str) -> Option<&'static str> {
    Some(match name {
        "YEAR" => "YEAR",
        "QUARTER" => "QUARTER",
        "MONTH" => "MONTH",
        "WEEK" => "WEEK",
        "DAYOFYEAR" => "DOY",
        "DAYOFMONTH" => "DAY",
        "HOUR" => "HOUR",
        "MINUTE" => "MINUTE",
        "SECOND" => "SECOND",
        _ => return None,
    })
}

/// Flink's `SHA224`/`SHA256`/`SHA384`/`SHA512(x)` and `SHA2(x, bits)` are hex strings
/// (DataFusion's `sha256` is binary): the digest's bits.
fn sha_bits(name: &str, args: &[FunctionArg]) -> Option<u16> {
    let bits = match (name, args.len()) {
        ("SHA224", 1) => 224,
        ("SHA256", 1) => 256,
        ("SHA384", 1) => 384,
        ("SHA512", 1) => 512,
        ("SHA2", 2) => match &args[1] {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => number(e)?,
            _ => return None,
        },
        _ => return None,
    };
    matches!(bits, 224 | 256 | 384 | 512).then_some(bits)
}

/// An integer literal, as written or as the INT literal rewrite made it (`CAST(256 AS INT)`).
fn number(e: &Expr) -> Option<u16> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        Expr::Cast { expr, .. } => number(expr),
        Expr::Nested(inner) => number(inner),
        _ => None,
    }
}

/// `FLOOR(t TO unit)` is `date_trunc` in the type of `t` (`functions::FLOOR_TO`); `CEIL(t TO
/// unit)` the next unit boundary unless `t` is on one.
fn floor_ceil_to_unit(expr: &mut Expr) -> Option<Expr> {
    use datafusion::sql::sqlparser::ast::CeilFloorKind;
    let (ceil, inner, field) = match expr {
        Expr::Floor { expr, field } => (false, expr, field),
        Expr::Ceil { expr, field } => (true, expr, field),
        _ => return None,
    };
    let CeilFloorKind::DateTimeField(unit) = field else {
        return None;
    };
    let unit = match unit {
        DateTimeField::Year => "YEAR",
        DateTimeField::Quarter => "QUARTER",
        DateTimeField::Month => "MONTH",
        DateTimeField::Week(None) => "WEEK",
        DateTimeField::Day => "DAY",
        DateTimeField::Hour => "HOUR",
        DateTimeField::Minute => "MINUTE",
        DateTimeField::Second => "SECOND",
        _ => return None,
    };
    let arg = std::mem::replace(inner.as_mut(), Expr::Value(Value::Null.into()));
    let lower = unit.to_ascii_lowercase();
    // The truncation keeps the value's type (a DATE stays a DATE), as Flink's FLOOR does.
    let floor = format!("{}('{lower}', {X})", super::functions::FLOOR_TO);
    let sql = if ceil {
        let step = match unit {
            "QUARTER" => "INTERVAL '3' MONTH".to_string(),
            "WEEK" => "INTERVAL '7' DAY".to_string(),
            u => format!("INTERVAL '1' {u}"),
        };
        format!("CASE WHEN {floor} = {X} THEN {floor} ELSE {floor} + {step} END")
    } else {
        floor
    };
    template(&sql, arg)
}

/// `CAST(x AS STRING)` / `VARCHAR` without a length / `VARCHAR(2147483647)`.
fn is_flink_string(t: &SqlType) -> bool {
    match t {
        SqlType::String(None) | SqlType::Text => true,
        SqlType::Varchar(None) => true,
        SqlType::Varchar(Some(len)) => len.to_string() == "2147483647",
        _ => false,
    }
}

fn rewrite_expr(expr: &mut Expr) -> Result<Option<Expr>, EngineError> {
    if let Some(new) = rewrite_call(expr) {
        return Ok(Some(new));
    }
    if let Some(row) = unnamed_row(expr)? {
        return Ok(Some(row));
    }
    match expr {
        Expr::Cast {
            expr: inner,
            data_type,
            format: None,
            array: false,
            ..
        } if is_flink_string(data_type) => {
            let inner = std::mem::replace(inner.as_mut(), Expr::Value(Value::Null.into()));
            let mut call = Parser::new(&GenericDialect {})
                .try_with_sql(&format!("{}(NULL)", super::functions::TO_STRING))
                .and_then(|mut p| p.parse_expr())
                .map_err(|e| EngineError::Internal(format!("building a cast: {e}")))?;
            if let Expr::Function(f) = &mut call
                && let FunctionArguments::List(list) = &mut f.args
                && let Some(first) = list.args.first_mut()
            {
                *first = FunctionArg::Unnamed(FunctionArgExpr::Expr(inner));
            }
            Ok(Some(call))
        }
        Expr::Cast {
            kind,
            expr: inner,
            data_type,
            format: None,
            array: false,
        } if !df_native(data_type) => {
            let Ok(flink) = parse_flink_type(&data_type.to_string()) else {
                return Ok(None); // let DataFusion report the unknown type
            };
            if let Some(row) = cast_row_constructor(inner, &flink)? {
                return Ok(Some(row));
            }
            let arrow = flink
                .to_arrow()
                .map_err(|e| EngineError::Plan(format!("Cannot cast to {data_type}: {e}")))?;
            let func = match kind {
                CastKind::TryCast | CastKind::SafeCast => "arrow_try_cast",
                _ => "arrow_cast",
            };
            let inner = std::mem::replace(inner.as_mut(), Expr::Value(Value::Null.into()));
            call_with_type(func, inner, &arrow.to_string()).map(Some)
        }
        Expr::Interval(iv) => rewrite_interval(iv),
        _ => Ok(None),
    }
}

/// `CAST(ROW(e1, …) AS ROW<f1 T1, …>)` as `named_struct('f1', arrow_cast(e1, 'T1'), …)`:
/// Flink casts a row to a row by position, DataFusion by field name, and the fields of a
/// `ROW(…)` constructor have no names of their own (a row constructor inside is cast the same
/// way). `None` for any other cast.
fn cast_row_constructor(
    inner: &mut Expr,
    target: &crate::sql::types::FlinkType,
) -> Result<Option<Expr>, EngineError> {
    let crate::sql::types::Kind::Row(fields) = target.kind() else {
        return Ok(None);
    };
    let Some(values) = row_values(inner) else {
        return Ok(None);
    };
    if fields.is_empty() || values.len() != fields.len() {
        return Ok(None);
    }
    let values: Vec<Expr> = values
        .into_iter()
        .map(|e| std::mem::replace(e, Expr::Value(Value::Null.into())))
        .collect();
    let mut cast = Vec::with_capacity(values.len());
    for ((_, t), mut value) in fields.iter().zip(values) {
        // A row inside the row is cast by position too.
        if let Some(row) = cast_row_constructor(&mut value, t)? {
            cast.push(row);
            continue;
        }
        let arrow = t
            .to_arrow()
            .map_err(|e| EngineError::Plan(format!("Cannot cast to {}: {e}", target.to_sql())))?;
        cast.push(call_with_type("arrow_cast", value, &arrow.to_string())?);
    }
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    named_struct(&names, cast).map(Some)
}

/// The field values of a row constructor as written: `ROW(e1, …)` (also `STRUCT(…)`), or the
/// `named_struct('EXPR$0', e1, …)` that [`unnamed_row`] made of a bare `ROW(…)` (its
/// arguments are visited before the cast around it). `None` for anything else.
fn row_values(call: &mut Expr) -> Option<Vec<&mut Expr>> {
    let mut call = call;
    while let Expr::Nested(e) = call {
        call = e.as_mut();
    }
    let (name, args) = plain_call(call)?;
    let values: Vec<&mut FunctionArg> = match name.as_str() {
        "ROW" | "STRUCT" => args.iter_mut().collect(),
        "NAMED_STRUCT" => {
            let generated = args.len() % 2 == 0
                && args.chunks(2).enumerate().all(|(i, pair)| {
                    matches!(&pair[0], FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v)))
                        if v.value == Value::SingleQuotedString(format!("EXPR${i}")))
                });
            if !generated {
                return None;
            }
            args.iter_mut().skip(1).step_by(2).collect()
        }
        _ => return None,
    };
    all_unnamed(values)
}

/// The expressions of `args` when there is at least one and each is a plain positional
/// expression; `None` otherwise.
fn all_unnamed(args: Vec<&mut FunctionArg>) -> Option<Vec<&mut Expr>> {
    let n = args.len();
    let exprs: Vec<&mut Expr> = args
        .into_iter()
        .filter_map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            _ => None,
        })
        .collect();
    (n > 0 && exprs.len() == n).then_some(exprs)
}

/// The arguments of a bare `ROW(e0, …)` (in any parentheses); `None` for anything else,
/// a `ROW()` without fields included.
pub(super) fn bare_row(expr: &mut Expr) -> Option<Vec<&mut Expr>> {
    let mut call = expr;
    while let Expr::Nested(e) = call {
        call = e.as_mut();
    }
    let (name, args) = plain_call(call)?;
    if name != "ROW" {
        return None;
    }
    all_unnamed(args.iter_mut().collect())
}

/// A bare `ROW(e0, …)` as `named_struct('EXPR$0', e0, …)`: Flink names the fields of an
/// unnamed row `EXPR$<position>` (DataFusion's `row` would name them `c0`, …).
fn unnamed_row(expr: &mut Expr) -> Result<Option<Expr>, EngineError> {
    if !matches!(expr, Expr::Function(_)) {
        return Ok(None);
    }
    let Some(args) = bare_row(expr) else {
        return Ok(None);
    };
    let values: Vec<Expr> = args
        .into_iter()
        .map(|e| std::mem::replace(e, Expr::Value(Value::Null.into())))
        .collect();
    let names: Vec<String> = (0..values.len()).map(|i| format!("EXPR${i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    named_struct(&names, values).map(Some)
}

/// `named_struct('n0', v0, …)`.
pub(super) fn named_struct(names: &[&str], values: Vec<Expr>) -> Result<Expr, EngineError> {
    let template = names
        .iter()
        .map(|n| format!("'{}', NULL", n.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = Parser::new(&GenericDialect {})
        .try_with_sql(&format!("named_struct({template})"))
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| EngineError::Internal(format!("building a row: {e}")))?;
    let Expr::Function(f) = &mut out else {
        return Err(EngineError::Internal(
            "unexpected shape of named_struct".into(),
        ));
    };
    let FunctionArguments::List(list) = &mut f.args else {
        return Err(EngineError::Internal(
            "unexpected shape of named_struct".into(),
        ));
    };
    if list.args.len() != 2 * values.len() {
        return Err(EngineError::Internal(
            "named_struct: names and values differ in number".into(),
        ));
    }
    for (i, value) in values.into_iter().enumerate() {
        list.args[2 * i + 1] = FunctionArg::Unnamed(FunctionArgExpr::Expr(value));
    }
    Ok(out)
}

fn field_rank(f: &DateTimeField) -> Option<u8> {
    Some(match f {
        DateTimeField::Year | DateTimeField::Years => 0,
        DateTimeField::Month | DateTimeField::Months => 1,
        DateTimeField::Day | DateTimeField::Days => 2,
        DateTimeField::Hour | DateTimeField::Hours => 3,
        DateTimeField::Minute | DateTimeField::Minutes => 4,
        DateTimeField::Second | DateTimeField::Seconds => 5,
        _ => return None,
    })
}

fn bad_interval(text: &str) -> EngineError {
    EngineError::Plan(format!("Invalid interval literal '{text}'"))
}

/// Flink interval literals DataFusion does not accept, or types differently.
fn rewrite_interval(iv: &Interval) -> Result<Option<Expr>, EngineError> {
    let Expr::Value(v) = iv.value.as_ref() else {
        return Ok(None);
    };
    let Value::SingleQuotedString(text) = &v.value else {
        return Ok(None);
    };
    let Some(lead) = iv.leading_field.as_ref().and_then(field_rank) else {
        return Ok(None);
    };
    let last = iv.last_field.as_ref().and_then(field_rank);
    let (neg, body) = match text.trim().strip_prefix('-') {
        Some(rest) => (true, rest.trim()),
        None => (false, text.trim().trim_start_matches('+').trim()),
    };
    let num = |s: &str| s.trim().parse::<i64>().map_err(|_| bad_interval(text));
    if lead <= 1 {
        // Year-month: `'2' YEAR`, `'18' MONTH`, `'1-6' YEAR TO MONTH`.
        let months = match (lead, last) {
            (0, None) => num(body)? * 12,
            (1, None) => num(body)?,
            (0, Some(1)) => {
                let (y, m) = body.split_once('-').ok_or_else(|| bad_interval(text))?;
                num(y)? * 12 + num(m)?
            }
            _ => return Err(bad_interval(text)),
        };
        let months = if neg { -months } else { months };
        let lit = Expr::Value(Value::SingleQuotedString(format!("{months} months")).into());
        return call_with_type("arrow_cast", lit, "Interval(YearMonth)").map(Some);
    }
    let Some(last) = last else { return Ok(None) }; // single-field day-time: DataFusion's own
    if last <= lead {
        return Err(bad_interval(text));
    }
    // Day-time ranges: `[D ]H[:M[:S[.f]]]` starting at the leading field.
    let mut parts: Vec<&str> = Vec::new();
    let mut rest = body;
    if lead == 2 {
        let (d, r) = match body.split_once(' ') {
            Some((d, r)) => (d, r.trim()),
            None => (body, ""),
        };
        parts.push(d);
        rest = r;
    }
    if !rest.is_empty() {
        parts.extend(rest.split(':'));
    }
    let expected = usize::from(last - lead) + 1;
    if parts.len() != expected {
        return Err(bad_interval(text));
    }
    let units = ["days", "hours", "minutes", "seconds"];
    let sign = if neg { "-" } else { "" };
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let unit = units[usize::from(lead - 2) + i];
        if unit == "seconds" {
            p.trim().parse::<f64>().map_err(|_| bad_interval(text))?;
        } else {
            num(p)?;
        }
        out.push(format!("{sign}{} {unit}", p.trim()));
    }
    let value = Expr::Value(Value::SingleQuotedString(out.join(" ")).into());
    Ok(Some(Expr::Interval(Interval {
        value: Box::new(value),
        leading_field: None,
        leading_precision: None,
        last_field: None,
        fractional_seconds_precision: None,
    })))
}
