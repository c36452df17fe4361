//! The Flink SQL dialect for sqlparser.
//!
//! Flink (Calcite with Flink's conformance) differs from sqlparser's `GenericDialect` where it
//! matters for authorization:
//! * identifiers are quoted with backticks only, and a dot inside backticks is part of the name;
//! * double-quoted text is a string literal, never an identifier (so `"orders"` can't name a table);
//! * `$` may appear in identifiers (`$rowtime`);
//! * `TABLE name` is a table argument of a table function (`TUMBLE(TABLE orders, ...)`). It is
//!   parsed into `Expr::Prefixed { prefix: TABLE, value: <name> }`, which renders back as written
//!   and which resolution treats as a relation.
//!
//! The dialect also meters the parser's work (see [`with_parse_budget`]): sqlparser retries
//! some constructs after a failure (`POSITION(`, `ARRAY[`, `TRY_CAST(`, `CEIL(` … parse again
//! as a function call), so an error deep inside such a nest costs 2ⁿ–3ⁿ attempts. Every
//! attempt starts at [`Dialect::parse_prefix`], which spends one unit of the budget; once it is
//! spent, every further attempt fails at once, which bounds the work by the budget.
//!
//! * `MAP[k1, v1, k2, v2]` (the value constructor, which the confluent-sql driver renders for a
//!   dict parameter) is parsed into `MAP_FROM_ARRAYS(ARRAY[k1, k2], ARRAY[v1, v2])`, Flink's
//!   own function of the same meaning, which every engine can run and which renders back as
//!   Flink SQL; `MULTISET[…]` is refused by name.
//!
//! Everything else follows `GenericDialect`: [`Dialect::dialect`] reports the generic dialect's
//! type id so that sqlparser's `dialect_of!(.. GenericDialect ..)` grammar branches (Flink's
//! `WITH (...)` options, `ARRAY<..>` types, …) apply here too, and the generic feature flags
//! that Flink's grammar shares are forwarded below. Unknown type names (`BYTES`,
//! `TIMESTAMP_LTZ(3)`) parse as `DataType::Custom`.

use std::any::TypeId;
use std::cell::Cell;

use datafusion::sql::sqlparser::ast::{
    Array, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments,
    Ident, ObjectName,
};
use datafusion::sql::sqlparser::dialect::{Dialect, GenericDialect};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

/// Flink SQL as Confluent Cloud for Apache Flink accepts it (see the module doc).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlinkDialect;

impl Dialect for FlinkDialect {
    fn dialect(&self) -> TypeId {
        TypeId::of::<GenericDialect>()
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '`'
    }

    fn identifier_quote_style(&self, _identifier: &str) -> Option<char> {
        Some('`')
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_alphabetic() || ch == '_' || ch == '$'
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_alphanumeric() || ch == '_' || ch == '$'
    }

    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        if !spend_parse_budget() {
            return Some(Err(ParserError::RecursionLimitExceeded));
        }
        parse_table_argument(parser).or_else(|| parse_collection_constructor(parser))
    }

    // --- the GenericDialect features that Flink's grammar has too
    fn supports_filter_during_aggregation(&self) -> bool {
        true
    }
    fn supports_group_by_expr(&self) -> bool {
        true
    }
    fn supports_match_recognize(&self) -> bool {
        true
    }
    /// Temporal joins: `JOIN t FOR SYSTEM_TIME AS OF o.ts`. sqlparser's flag also admits other
    /// dialects' versioning clauses; `parse` refuses all but `FOR SYSTEM_TIME AS OF`.
    fn supports_table_versioning(&self) -> bool {
        true
    }
    fn supports_window_function_null_treatment_arg(&self) -> bool {
        true
    }
    fn supports_window_clause_named_window_reference(&self) -> bool {
        true
    }
    fn supports_left_associative_joins_without_parens(&self) -> bool {
        true
    }
    fn supports_parens_around_table_factor(&self) -> bool {
        true
    }
    fn supports_values_as_table_factor(&self) -> bool {
        true
    }
    fn supports_create_view_comment_syntax(&self) -> bool {
        true
    }
    fn supports_nested_comments(&self) -> bool {
        true
    }
    fn supports_multiline_comment_hints(&self) -> bool {
        true
    }
    fn allow_extract_custom(&self) -> bool {
        true
    }
    fn allow_extract_single_quotes(&self) -> bool {
        true
    }
    fn supports_asc_desc_in_column_definition(&self) -> bool {
        true
    }
    fn supports_comment_on(&self) -> bool {
        true
    }
    fn supports_array_typedef_with_brackets(&self) -> bool {
        true
    }
    fn supports_interval_options(&self) -> bool {
        true
    }
    fn supports_constraint_keyword_without_name(&self) -> bool {
        true
    }
    fn supports_data_type_signed_suffix(&self) -> bool {
        true
    }
    fn supports_string_escape_constant(&self) -> bool {
        true
    }
}

/// The meter of the parse running on this thread.
#[derive(Debug, Clone, Copy)]
struct Budget {
    /// Expression attempts left.
    left: usize,
    /// Whether an attempt was refused for want of budget.
    refused: bool,
}

thread_local! {
    /// `None` outside [`with_parse_budget`] (unmetered).
    static PARSE_BUDGET: Cell<Option<Budget>> = const { Cell::new(None) };
}

/// Runs `f` (a parse on this thread) with at most `budget` expression attempts, and says
/// whether an attempt was refused because the budget was spent. Parsing is synchronous, so a
/// thread-local meter is exact.
///
/// ```
/// use datafusion::sql::sqlparser::parser::Parser;
/// use sqlgate::sql::{FlinkDialect, with_parse_budget};
/// let sql = format!("SELECT {}1", "POSITION(".repeat(40)); // 3^40 attempts unmetered
/// let (result, exhausted) = with_parse_budget(1_000, || {
///     Parser::new(&FlinkDialect).try_with_sql(&sql).and_then(|mut p| p.parse_statements())
/// });
/// assert!(result.is_err() && exhausted);
/// ```
pub fn with_parse_budget<T>(budget: usize, f: impl FnOnce() -> T) -> (T, bool) {
    let outer = PARSE_BUDGET.replace(Some(Budget {
        left: budget,
        refused: false,
    }));
    let result = f();
    let exhausted = PARSE_BUDGET.replace(outer).is_some_and(|b| b.refused);
    (result, exhausted)
}

/// Spends one unit; `false` (and the refusal noted) when the budget is spent.
fn spend_parse_budget() -> bool {
    PARSE_BUDGET.with(|cell| match cell.get() {
        None => true,
        Some(b) if b.left == 0 => {
            cell.set(Some(Budget { refused: true, ..b }));
            false
        }
        Some(b) => {
            cell.set(Some(Budget {
                left: b.left - 1,
                ..b
            }));
            true
        }
    })
}

/// `TABLE <name>` in expression position (only valid as a table function's argument, followed
/// by `,` or `)`). Returns `None` (the parser's own rules apply) for anything else, such as a
/// column that happens to be called `table`.
fn parse_table_argument(parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
    let is_table = matches!(&parser.peek_token_ref().token, Token::Word(w) if w.keyword == Keyword::TABLE && w.quote_style.is_none());
    if !is_table {
        return None;
    }
    // Look ahead without consuming: TABLE ident (. ident)* followed by `,` or `)`.
    let mut n = 1;
    let mut parts = Vec::new();
    loop {
        match parser.peek_nth_token_ref(n).token.clone() {
            Token::Word(w) => parts.push(match w.quote_style {
                Some(q) => Ident::with_quote(q, w.value),
                None => Ident::new(w.value),
            }),
            _ => return None,
        }
        match &parser.peek_nth_token_ref(n + 1).token {
            Token::Period => n += 2,
            Token::Comma | Token::RParen => break,
            _ => return None,
        }
    }
    // Consume what we looked at: TABLE, then each part and its period.
    for _ in 0..(n + 1) {
        parser.next_token();
    }
    let value = if parts.len() == 1 {
        Expr::Identifier(parts.remove(0))
    } else {
        Expr::CompoundIdentifier(parts)
    };
    Some(Ok(Expr::Prefixed {
        prefix: Ident::new("TABLE"),
        value: Box::new(value),
    }))
}

/// `MAP[k1, v1, …]` as `MAP_FROM_ARRAYS(ARRAY[k1, …], ARRAY[v1, …])`; `MULTISET[…]` refused
/// by name (see the module doc). `None` for anything else.
fn parse_collection_constructor(parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
    let name = match &parser.peek_token_ref().token {
        Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
        _ => return None,
    };
    if !matches!(name.as_str(), "MAP" | "MULTISET")
        || parser.peek_nth_token_ref(1).token != Token::LBracket
    {
        return None;
    }
    if name == "MULTISET" {
        return Some(Err(ParserError::ParserError(
            "the MULTISET[…] value constructor is not supported; use CAST(NULL AS MULTISET<…>) \
             or a MULTISET column"
                .into(),
        )));
    }
    parser.next_token();
    parser.next_token();
    let items = match parser.parse_comma_separated(Parser::parse_expr) {
        Ok(items) => items,
        Err(e) => return Some(Err(e)),
    };
    if let Err(e) = parser.expect_token(&Token::RBracket) {
        return Some(Err(e));
    }
    if items.len() % 2 != 0 {
        return Some(Err(ParserError::ParserError(
            "MAP[…] takes keys and values in pairs: MAP[k1, v1, k2, v2]".into(),
        )));
    }
    let (mut keys, mut values) = (Vec::new(), Vec::new());
    for (n, item) in items.into_iter().enumerate() {
        if n % 2 == 0 {
            keys.push(item);
        } else {
            values.push(item);
        }
    }
    let array = |elem| {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Array(Array {
            elem,
            named: true,
        })))
    };
    Some(Ok(Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new("MAP_FROM_ARRAYS")]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: vec![array(keys), array(values)],
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })))
}
