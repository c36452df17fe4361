//! Parsing: size limit, tokenization, one statement only, recursion limit, allow-list of
//! statement kinds and clauses the resolver knows how to account for.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    CreateTableOptions, Expr, ObjectName, ObjectType, Query, Select, SetExpr, SqlOption, Statement,
    TableFactor, TableObject, TableVersion, Value, Visit, Visitor,
};
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};
use serde::{Deserialize, Serialize};

use super::bounds::{self, Bound};
use super::{
    FlinkDialect, SqlError, flink, guard, hints, type_tokens, with_parse_budget, without_literals,
};

mod parsed;

pub(in crate::sql) use parsed::Body;
pub use parsed::ParsedStatement;

/// Bounds on what the parser will accept; all of them protect the gateway from hostile input
/// (see [`super::bounds`] for how each is measured).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParseLimits {
    /// Largest statement text in bytes (default 1 MiB). Checked before tokenizing, so a huge
    /// body costs one length comparison.
    pub max_sql_bytes: usize,
    /// Deepest nesting of brackets, `CASE … END` and of the parser's own recursion (default
    /// 64). Checked on the tokens before parsing, and by sqlparser as its recursion limit.
    pub recursion_limit: usize,
    /// Deepest expression tree (default 1,000 levels). A flat chain of operators (`1+1+…`,
    /// `a OR b OR …`) is one level per operator, and every walk over the tree recurses once
    /// per level; this bound is what keeps those walks within their stacks.
    pub max_depth: usize,
    /// Most tokens in one statement (default 100,000).
    pub max_tokens: usize,
    /// Most syntax tree nodes (expressions, queries, table references) in one statement
    /// (default 100,000).
    pub max_nodes: usize,
    /// Longest identifier in bytes (default 1,024; Kafka topic names stop at 249).
    pub max_identifier_bytes: usize,
    /// Parser attempts allowed per token (default 16). sqlparser retries some constructs after
    /// an error, exponentially in their nesting; a normal statement needs about one attempt
    /// per operand, so this cuts off only the pathological ones.
    pub parse_attempts_per_token: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_sql_bytes: 1024 * 1024,
            recursion_limit: 64,
            max_depth: 1000,
            max_tokens: 100_000,
            max_nodes: 100_000,
            max_identifier_bytes: 1024,
            parse_attempts_per_token: 16,
        }
    }
}

/// Parses exactly one statement of an allowed kind.
///
/// Leading comments and one trailing `;` are fine (dbt sends both); a second statement is
/// refused as [`SqlError::MultipleStatements`] even when it would not parse, so nothing can be
/// smuggled behind a first statement.
///
/// ```
/// use sqlgate::sql::{parse, ParseLimits, SqlError};
/// let limits = ParseLimits::default();
/// assert!(parse("/* dbt */ SELECT 1;", &limits).is_ok());
/// assert_eq!(parse("SELECT 1; DROP TABLE x", &limits).unwrap_err(), SqlError::MultipleStatements);
/// let err = parse("SELECT FROM", &limits).unwrap_err();
/// assert_eq!(err.code(), "sql.parse_error");
/// ```
pub fn parse(sql: &str, limits: &ParseLimits) -> Result<ParsedStatement, SqlError> {
    if sql.len() > limits.max_sql_bytes {
        return Err(SqlError::TooLarge {
            limit: limits.max_sql_bytes,
        });
    }
    let dialect = FlinkDialect;
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| SqlError::Parse {
            message: e.message.clone(),
            line: Some(e.location.line),
            column: Some(e.location.column),
        })?;
    bounds::check_tokens(&tokens, limits)?;
    let literal_free = without_literals(&tokens);
    let written_hints = hints::written(&tokens, limits.max_tokens)?;
    let budget = tokens
        .len()
        .saturating_mul(limits.parse_attempts_per_token)
        .saturating_add(1024);
    let (parsed, exhausted) = with_parse_budget(budget, || {
        let (tokens, within) = flink::within::extract(sql, tokens, limits)?;
        let body = parse_tokens(sql, tokens, limits)?;
        if within.is_empty() {
            Ok(body)
        } else {
            flink::within::attach(body, sql, within).map(Body::Flink)
        }
    });
    if exhausted {
        // Whatever the parser concluded after its budget ran out is not the statement's fault
        // alone; say what happened instead.
        return Err(SqlError::TooComplex {
            bound: Bound::ParseAttempts,
            found: budget,
            limit: budget,
            line: None,
            column: None,
        });
    }
    let mut parsed = ParsedStatement::new(sql, literal_free, parsed?);
    for statement in parsed.statements() {
        bounds::check_tree(statement, limits)?;
    }
    parsed.set_hints(hints::place(written_hints, parsed.statements())?);
    Ok(parsed)
}

/// [`parse`] after tokenizing (and after `MATCH_RECOGNIZE … WITHIN` clauses were taken out).
fn parse_tokens(
    sql: &str,
    tokens: Vec<TokenWithSpan>,
    limits: &ParseLimits,
) -> Result<Body, SqlError> {
    let dialect = FlinkDialect;
    let statement_set = starts_with_statement_set(&tokens);
    if !statement_set {
        check_one_statement(&tokens)?;
    }
    let flink_tokens = tokens.clone();
    let refusal = if statement_set {
        SqlError::Unsupported("EXECUTE STATEMENT SET".into())
    } else {
        let parsed = Parser::new(&dialect)
            .with_recursion_limit(limits.recursion_limit)
            .with_tokens_with_locations(type_tokens::fold(view_comment(tokens)))
            .parse_statements();
        match parsed {
            Ok(mut statements) => {
                let statement = match statements.len() {
                    0 => return Err(SqlError::Empty),
                    1 => statements.remove(0),
                    _ => return Err(SqlError::MultipleStatements),
                };
                match check_kind(&statement) {
                    Ok(()) => {
                        check_clauses(&statement)?;
                        check_guarded(&statement)?;
                        return Ok(Body::Sql(statement));
                    }
                    Err(e) => e,
                }
            }
            Err(ParserError::RecursionLimitExceeded) => {
                return Err(SqlError::TooDeep {
                    limit: limits.recursion_limit,
                });
            }
            Err(e) => parser_error(e, sql, limits),
        }
    };
    // sqlparser's AST cannot hold it: a Flink-only form, or sqlparser's refusal stands.
    match flink::parse(sql, flink_tokens, limits) {
        None => Err(refusal),
        Some(Err(e)) => Err(e),
        Some(Ok(flink)) => Ok(Body::Flink(flink)),
    }
}

/// Flink writes a view's comment `CREATE VIEW v [(cols)] COMMENT 'text' AS …`, sqlparser
/// `COMMENT = 'text'`: for a CREATE [OR REPLACE] VIEW, the `=` is added after the first
/// `COMMENT` keyword outside brackets and before `AS` that a string follows, so sqlparser
/// reads Flink's form (the body is kept by the gateway, see `crate::views`).
fn view_comment(mut tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let is_word = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    let words: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t.token, Token::Whitespace(_)))
        .map(|(i, _)| i)
        .collect();
    let word = |k: usize, w: &str| words.get(k).is_some_and(|&i| is_word(&tokens[i].token, w));
    let start = if word(0, "CREATE") && word(1, "VIEW") {
        2
    } else if word(0, "CREATE") && word(1, "OR") && word(2, "REPLACE") && word(3, "VIEW") {
        4
    } else {
        return tokens;
    };
    let mut depth = 0usize;
    for k in start..words.len() {
        let i = words[k];
        match &tokens[i].token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            t if depth == 0 && is_word(t, "AS") => return tokens,
            t if depth == 0 && is_word(t, "COMMENT") => {
                let next = words.get(k + 1).map(|&j| &tokens[j].token);
                if matches!(next, Some(Token::SingleQuotedString(_))) {
                    let span = tokens[i].span;
                    tokens.insert(i + 1, TokenWithSpan::new(Token::Eq, span));
                }
                return tokens;
            }
            _ => {}
        }
    }
    tokens
}

/// `EXECUTE STATEMENT SET BEGIN ...; ...; END` carries `;` inside; its grammar checks that
/// nothing follows `END`.
fn starts_with_statement_set(tokens: &[TokenWithSpan]) -> bool {
    let mut words = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)));
    ["EXECUTE", "STATEMENT", "SET"].iter().all(|w| {
        matches!(words.next(), Some(Token::Word(word)) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w))
    })
}

/// Refuses empty input and anything but trivia after the first `;`.
fn check_one_statement(tokens: &[TokenWithSpan]) -> Result<(), SqlError> {
    let mut significant = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF));
    let mut seen_statement = false;
    let mut seen_semicolon = false;
    for token in significant.by_ref() {
        match token {
            Token::SemiColon if seen_statement => seen_semicolon = true,
            Token::SemiColon => {}
            _ if seen_semicolon => return Err(SqlError::MultipleStatements),
            _ => seen_statement = true,
        }
    }
    if seen_statement {
        Ok(())
    } else {
        Err(SqlError::Empty)
    }
}

pub(super) fn parser_error(e: ParserError, sql: &str, limits: &ParseLimits) -> SqlError {
    let message = match e {
        ParserError::RecursionLimitExceeded => {
            return SqlError::TooDeep {
                limit: limits.recursion_limit,
            };
        }
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
    };
    let (message, mut line, mut column) = split_location(&message);
    if line.is_none() && message.ends_with("found: EOF") {
        // sqlparser reports no location for the end of input; point just past the last character.
        let last = sql.rsplit('\n').next().unwrap_or("");
        line = Some(sql.lines().count().max(1) as u64 + u64::from(sql.ends_with('\n')));
        column = Some(last.chars().count() as u64 + 1);
    }
    SqlError::Parse {
        message,
        line,
        column,
    }
}

/// Splits sqlparser's `"<message> at Line: X, Column: Y"` into its parts.
fn split_location(message: &str) -> (String, Option<u64>, Option<u64>) {
    const MARK: &str = " at Line: ";
    if let Some(pos) = message.rfind(MARK) {
        let rest = &message[pos + MARK.len()..];
        if let Some((line, column)) = rest.split_once(", Column: ")
            && let (Ok(line), Ok(column)) = (line.trim().parse(), column.trim().parse())
        {
            return (message[..pos].to_string(), Some(line), Some(column));
        }
    }
    (message.to_string(), None, None)
}

/// The allow-list for a statement sqlparser parsed: its kind, then its clauses.
pub(super) fn check_allowed(statement: &Statement) -> Result<(), SqlError> {
    check_kind(statement)?;
    check_clauses(statement)?;
    check_guarded(statement)
}

/// What [`super::guard`] refuses by name in a statement sqlparser parsed: `CREATE TABLE …
/// LIKE` and table options outside the allow-list.
fn check_guarded(statement: &Statement) -> Result<(), SqlError> {
    let Statement::CreateTable(ct) = statement else {
        return Ok(());
    };
    if ct.like.is_some() {
        return Err(guard::refuse("CREATE TABLE ... LIKE"));
    }
    let (CreateTableOptions::With(options)
    | CreateTableOptions::Options(options)
    | CreateTableOptions::Plain(options)
    | CreateTableOptions::TableProperties(options)) = &ct.table_options
    else {
        return Ok(());
    };
    for option in options {
        match option {
            SqlOption::KeyValue { key, value } => {
                let value = match value {
                    Expr::Value(v) => match &v.value {
                        Value::SingleQuotedString(s) => Some(s.as_str()),
                        _ => None,
                    },
                    _ => None,
                };
                guard::table_option(&key.value, Some(value.unwrap_or("")))?;
            }
            other => guard::table_option(&other.to_string(), None)?,
        }
    }
    Ok(())
}

/// The statement-kind allow-list: only what `resolve` knows how to account for.
fn check_kind(statement: &Statement) -> Result<(), SqlError> {
    let unsupported = |what: &str| Err(SqlError::Unsupported(what.to_string()));
    match statement {
        Statement::Query(_) | Statement::ShowTables { .. } => {}
        Statement::ShowCatalogs { .. } | Statement::ShowDatabases { .. } => {}
        Statement::ExplainTable { .. } => {}
        Statement::Insert(insert) => {
            if !matches!(insert.table, TableObject::TableName(_)) {
                return unsupported("INSERT INTO a table function");
            }
        }
        Statement::CreateTable(ct) => {
            if ct.clone.is_some() {
                return unsupported("CREATE TABLE ... CLONE");
            }
            check_no_placeholder(&ct.table_options)?;
        }
        Statement::CreateView(cv) => {
            if cv.materialized {
                return unsupported("CREATE MATERIALIZED VIEW");
            }
        }
        Statement::Drop { object_type, .. } => {
            if !matches!(object_type, ObjectType::Table | ObjectType::View) {
                return unsupported(&format!("DROP {object_type}"));
            }
        }
        Statement::Explain { statement, .. } => {
            if !matches!(**statement, Statement::Query(_)) {
                return unsupported(&format!("EXPLAIN of {}", kind_words(statement)));
            }
        }
        other => return unsupported(&kind_words(other)),
    }
    Ok(())
}

/// Clauses inside an allowed statement (see [`Clauses`]).
fn check_clauses(statement: &Statement) -> Result<(), SqlError> {
    match statement.visit(&mut Clauses) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(e) => Err(e),
    }
}

/// The value `'...'` in `WITH (...)` is the documentation's placeholder (see the Flink grammar's
/// `options`): refused as a parse error so a pasted template is not run.
fn check_no_placeholder(options: &CreateTableOptions) -> Result<(), SqlError> {
    let (CreateTableOptions::With(options)
    | CreateTableOptions::Options(options)
    | CreateTableOptions::Plain(options)
    | CreateTableOptions::TableProperties(options)) = options
    else {
        return Ok(());
    };
    for option in options {
        if let SqlOption::KeyValue { value, .. } = option
            && let Expr::Value(v) = value
            && let Value::SingleQuotedString(s) = &v.value
            && s.trim() == "..."
        {
            return Err(SqlError::Parse {
                message: "Expected: an option value, not the placeholder '...'".into(),
                line: Some(v.span.start.line).filter(|l| *l > 0),
                column: Some(v.span.start.column).filter(|c| *c > 0),
            });
        }
    }
    Ok(())
}

/// The leading keywords of a statement (`ALTER TABLE`, `DELETE FROM`), to name its kind.
fn kind_words(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text
        .split_whitespace()
        .take_while(|w| w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .take(2)
        .collect();
    if words.is_empty() {
        "this statement".to_string()
    } else {
        words.join(" ")
    }
}

/// Refuses clauses inside an allowed statement that would hide a write or a table reference
/// from resolution.
struct Clauses;

impl Visitor for Clauses {
    type Break = SqlError;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<SqlError> {
        if query.with.as_ref().is_some_and(|w| w.recursive) {
            return unsupported("WITH RECURSIVE");
        }
        check_set_expr(&query.body)
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<SqlError> {
        // sqlparser accepts 'x' and "x" where it expects an identifier; in Flink those are
        // string literals and cannot name anything.
        let quoted = relation
            .0
            .iter()
            .filter_map(|p| p.as_ident())
            .find(|i| matches!(i.quote_style, Some('"' | '\'')));
        match quoted {
            Some(ident) => ControlFlow::Break(SqlError::Parse {
                message: format!(
                    "a string literal cannot name a table: quote identifiers with backticks (`{}`)",
                    ident.value
                ),
                line: Some(ident.span.start.line).filter(|l| *l > 0),
                column: Some(ident.span.start.column).filter(|c| *c > 0),
            }),
            None => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<SqlError> {
        if select.into.is_some() {
            return unsupported("SELECT ... INTO");
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<SqlError> {
        match factor {
            TableFactor::Table { args: Some(_), .. } => {
                unsupported("a table function without TABLE(...)")
            }
            TableFactor::Table {
                version: Some(v), ..
            } if !matches!(v, TableVersion::ForSystemTimeAsOf(_)) => {
                unsupported("a table version other than FOR SYSTEM_TIME AS OF")
            }
            TableFactor::Table { .. }
            | TableFactor::Derived { .. }
            | TableFactor::TableFunction { .. }
            | TableFactor::Function { .. }
            | TableFactor::UNNEST { .. }
            | TableFactor::NestedJoin { .. }
            | TableFactor::MatchRecognize { .. } => ControlFlow::Continue(()),
            _ => unsupported("this kind of FROM item"),
        }
    }
}

/// A query body may be a SELECT, VALUES, a nested query or a set operation of those; DML
/// (`WITH .. INSERT`) and `TABLE t` bodies are refused.
fn check_set_expr(body: &SetExpr) -> ControlFlow<SqlError> {
    match body {
        SetExpr::Select(_) | SetExpr::Query(_) | SetExpr::Values(_) => ControlFlow::Continue(()),
        SetExpr::SetOperation { left, right, .. } => {
            check_set_expr(left)?;
            check_set_expr(right)
        }
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
            unsupported("a data-changing statement inside a query")
        }
        SetExpr::Table(_) => unsupported("TABLE <name> as a query"),
    }
}

fn unsupported(what: &str) -> ControlFlow<SqlError> {
    ControlFlow::Break(SqlError::Unsupported(what.to_string()))
}
