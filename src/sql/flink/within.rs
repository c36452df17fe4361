//! `MATCH_RECOGNIZE ( … PATTERN ( … ) WITHIN INTERVAL '1' HOUR … )`: Flink's time bound on a
//! match (Calcite's `[WITHIN IntervalLiteral]` after the pattern), which sqlparser's
//! `TableFactor::MatchRecognize` has no field for.
//!
//! Before parsing, each such `WITHIN <interval literal>` is cut out of the token stream and a
//! marker pattern variable (`__sqlgate_within_<n>__`) is put just before the pattern's closing
//! parenthesis, so sqlparser (or the Flink grammar, for a view or a statement set) parses the
//! rest as usual and resolution binds every relation exactly as without WITHIN. The statement
//! is then Flink-only (its canonical form is text): it is rendered from the canonical AST and
//! each ` <marker>)` is replaced by `) WITHIN <interval>`.
//!
//! Nothing can hide in the clause: the interval must be a quoted literal with a unit (as in
//! Calcite), so it names no relation, and a pattern variable names nothing. A text that
//! already contains the marker prefix is refused, so a marker is only ever one we put there.

use datafusion::sql::sqlparser::ast::{Expr, Value};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Whitespace};

use super::{FlinkStatement, Site};
use crate::sql::parse::Body;
use crate::sql::parse::parser_error;
use crate::sql::resolve::statement_kind;
use crate::sql::{FlinkDialect, ParseLimits, ResolveError, SqlError};

/// Prefix of the marker variables; no client text may contain it.
const MARKER: &str = "__sqlgate_within_";

/// One `WITHIN` clause taken out of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Within {
    /// The pattern variable that stands in for the clause in the parsed statement.
    marker: String,
    /// The interval as sqlparser renders it (`INTERVAL '1' HOUR`).
    interval: String,
}

/// Takes every `WITHIN <interval>` that follows the `PATTERN (…)` of a `MATCH_RECOGNIZE` out of
/// `tokens` (see the module doc). Without one, `tokens` come back untouched and the list is
/// empty; that check is one pass over the tokens.
pub(crate) fn extract(
    sql: &str,
    tokens: Vec<TokenWithSpan>,
    limits: &ParseLimits,
) -> Result<(Vec<TokenWithSpan>, Vec<Within>), SqlError> {
    if !tokens.iter().any(|t| is_word(&t.token, "WITHIN")) {
        return Ok((tokens, Vec::new()));
    }
    let mut clauses = Vec::new();
    // Indices into `tokens` of significant tokens only.
    let sig: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_) | Token::EOF))
        .collect();
    // Open parentheses: whether each opens a MATCH_RECOGNIZE body.
    let mut stack: Vec<bool> = Vec::new();
    let mut n = 0;
    while n < sig.len() {
        let token = &tokens[sig[n]].token;
        match token {
            Token::LParen => {
                let after_mr = n > 0 && is_word(&tokens[sig[n - 1]].token, "MATCH_RECOGNIZE");
                stack.push(after_mr);
            }
            Token::RParen => {
                stack.pop();
            }
            _ if stack.last() == Some(&true)
                && is_word(token, "PATTERN")
                && sig
                    .get(n + 1)
                    .is_some_and(|&i| tokens[i].token == Token::LParen) =>
            {
                let close = matching_paren(&tokens, &sig, n + 1);
                if let Some(close) = close
                    && sig
                        .get(close + 1)
                        .is_some_and(|&i| is_word(&tokens[i].token, "WITHIN"))
                {
                    clauses.push((sig[close], sig[close + 1]));
                    n = close + 1;
                    continue;
                }
            }
            _ => {}
        }
        n += 1;
    }
    if clauses.is_empty() {
        return Ok((tokens, Vec::new()));
    }
    if sql.to_ascii_lowercase().contains(MARKER) {
        return Err(SqlError::Unsupported(format!(
            "An identifier starting with {MARKER} in a statement with MATCH_RECOGNIZE ... WITHIN"
        )));
    }
    let mut out = Vec::with_capacity(tokens.len() + clauses.len());
    let mut within = Vec::with_capacity(clauses.len());
    let mut pos = 0;
    for (close, at) in clauses {
        let (interval, len) = interval_at(clause_window(&tokens, at), sql, limits)?;
        let marker = format!("{MARKER}{}__", within.len());
        out.extend_from_slice(&tokens[pos..close]);
        out.push(TokenWithSpan {
            token: Token::Whitespace(Whitespace::Space),
            span: tokens[close].span,
        });
        out.push(TokenWithSpan {
            token: Token::make_word(&marker, None),
            span: tokens[close].span,
        });
        out.push(tokens[close].clone());
        within.push(Within { marker, interval });
        pos = at + len;
    }
    out.extend_from_slice(&tokens[pos..]);
    Ok((out, within))
}

/// Significant tokens a `WITHIN` clause can take at most (`WITHIN INTERVAL '1' HOUR(2) TO
/// SECOND(3)` takes 13), with a margin.
const CLAUSE_TOKENS: usize = 24;

/// The tokens from `at` through the [`CLAUSE_TOKENS`]th significant one: all a clause can
/// need, so each clause is parsed from a few tokens rather than a copy of the rest of the
/// statement (which made thousands of clauses quadratic).
fn clause_window(tokens: &[TokenWithSpan], at: usize) -> &[TokenWithSpan] {
    let mut significant = 0;
    let end = tokens[at..]
        .iter()
        .position(|t| {
            if !matches!(t.token, Token::Whitespace(_)) {
                significant += 1;
            }
            significant > CLAUSE_TOKENS
        })
        .map_or(tokens.len(), |n| at + n);
    &tokens[at..end]
}

/// Index into `sig` of the `)` matching the `(` at `sig[open]`.
fn matching_paren(tokens: &[TokenWithSpan], sig: &[usize], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (n, &i) in sig.iter().enumerate().skip(open) {
        match tokens[i].token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some(n);
                }
            }
            _ => {}
        }
    }
    None
}

/// Parses `WITHIN INTERVAL '<n>' <unit> [TO <unit>]` at the start of `tokens`; returns the
/// interval's rendering and how many tokens the clause takes.
fn interval_at(
    tokens: &[TokenWithSpan],
    sql: &str,
    limits: &ParseLimits,
) -> Result<(String, usize), SqlError> {
    let dialect = FlinkDialect;
    let mut p = Parser::new(&dialect)
        .with_recursion_limit(limits.recursion_limit)
        .with_tokens_with_locations(tokens.to_vec());
    let parsed = (|| {
        p.expect_keyword_is(Keyword::WITHIN)?;
        let at = p.peek_token_ref().clone();
        if !p.parse_keyword(Keyword::INTERVAL) {
            return p.expected("an INTERVAL literal after WITHIN", at);
        }
        let interval = p.parse_interval()?;
        let Expr::Interval(i) = &interval else {
            return p.expected("an INTERVAL literal after WITHIN", at);
        };
        let literal = matches!(&*i.value, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)));
        if !literal || i.leading_field.is_none() {
            return Err(ParserError::ParserError(format!(
                "Expected: an interval literal such as INTERVAL '1' HOUR after WITHIN, found: {interval} at Line: {}, Column: {}",
                at.span.start.line, at.span.start.column
            )));
        }
        Ok(interval)
    })()
    .map_err(|e| parser_error(e, sql, limits))?;
    Ok((parsed.to_string(), p.index()))
}

fn is_word(token: &Token, w: &str) -> bool {
    matches!(token, Token::Word(word) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w))
}

/// Makes `body` (which was parsed from the tokens [`extract`] returned out of `text`)
/// Flink-only and remembers its clauses: a sqlparser statement becomes one whose single site
/// is the whole statement.
pub(crate) fn attach(
    body: Body,
    text: &str,
    within: Vec<Within>,
) -> Result<FlinkStatement, SqlError> {
    Ok(match body {
        Body::Flink(mut f) => {
            f.within = within;
            f
        }
        Body::Sql(statement) => FlinkStatement {
            kind: statement_kind(&statement)
                .ok_or_else(|| SqlError::Unsupported(format!("WITHIN in {statement}")))?,
            sites: vec![Site::Statement {
                range: 0..text.len(),
                statement: Box::new(statement),
            }],
            text: text.to_string(),
            within,
            comments: Vec::new(),
        },
    })
}

/// Puts each clause back after its pattern in the rendered, canonical text, in one pass:
/// every marker must be the placeholder (` <marker>)`) of a clause not yet placed, and every
/// clause must be placed.
pub(crate) fn restore(text: String, within: &[Within]) -> Result<String, ResolveError> {
    let unplaced = |w: &Within| {
        ResolveError::InvalidName(format!(
            "MATCH_RECOGNIZE ... WITHIN {} (the clause could not be placed back)",
            w.interval
        ))
    };
    let stray = || {
        ResolveError::InvalidName("MATCH_RECOGNIZE ... WITHIN (a clause was left unplaced)".into())
    };
    let mut placed = vec![false; within.len()];
    let mut out = String::with_capacity(text.len() + 32 * within.len());
    let mut rest = text.as_str();
    while let Some(i) = rest.find(MARKER) {
        let (before, marker) = rest.split_at(i);
        let digits = marker[MARKER.len()..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let n: Option<usize> = marker[MARKER.len()..MARKER.len() + digits].parse().ok();
        let Some(w) = n.and_then(|n| within.get(n)) else {
            return Err(stray());
        };
        let Some(after) = marker
            .strip_prefix(w.marker.as_str())
            .and_then(|a| a.strip_prefix(')'))
        else {
            return Err(stray());
        };
        let Some(before) = before.strip_suffix(' ') else {
            return Err(unplaced(w));
        };
        if n.is_some_and(|n| std::mem::replace(&mut placed[n], true)) {
            return Err(unplaced(w));
        }
        out.push_str(before);
        out.push_str(") WITHIN ");
        out.push_str(&w.interval);
        rest = after;
    }
    out.push_str(rest);
    match placed.iter().position(|p| !p) {
        Some(n) => Err(unplaced(&within[n])),
        None => Ok(out),
    }
}
