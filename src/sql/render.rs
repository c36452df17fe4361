//! SQL text from the canonical AST that means exactly what was checked.
//!
//! What an engine parses must be the statement that was resolved and authorized. sqlparser's
//! `Display` is not injective where a quoted value holds its own quote character: it prints a
//! value's doubled quote (`` a``b `` as an identifier, `it''s` as a string) as it stands, so a
//! name with two backticks renders as one with one, and a backslash before a quote, or a quote
//! in an `N'…'` string, can end a literal early so that the text after it is read as SQL. Such
//! values only arise from doubled quotes or escapes in the client's text. `Display` also
//! prints nested signs without a space (`- -x` as `--x`, a comment). So:
//! - a statement whose text has no doubled quote character, no backslash and no `&` (the
//!   `U&'…'` escapes), and whose rendering has no `--` or `/*`, renders as it is;
//! - any other is rendered, parsed again and compared with the AST it came from (spans aside);
//!   if they differ, the quotes in its string literals are doubled first (which `Display` then
//!   prints unchanged) and the comparison is made again; a statement that still differs is
//!   refused ([`ResolveError::Unrenderable`]), never passed on.
//!
//! Names spliced into Flink-only text are quoted by [`ident`], which escapes by construction.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Statement, TableAlias, TableFactor, TableVersion, Value, ValueWithSpan, VisitMut,
    VisitorMut,
};
use datafusion::sql::sqlparser::parser::Parser;

use super::{FlinkDialect, ResolveError, with_parse_budget};

/// Parser attempts per byte allowed when parsing the rendering again (the client's statement
/// was parsed within `sql.parse_attempts_per_token` per token; a byte is at most a token).
const REPARSE_ATTEMPTS_PER_BYTE: usize = 16;
/// Nesting allowed when parsing the rendering again: above `sql.recursion_limit`'s range, so
/// an accepted statement is never refused for its canonical names.
const REPARSE_RECURSION_LIMIT: usize = 4096;

/// `` `value` `` with every backtick in it doubled: Flink's quoting of an identifier
/// (`` a`b `` becomes `` `a``b` ``).
pub(super) fn ident(value: &str) -> String {
    format!("`{}`", value.replace('`', "``"))
}

/// A rendering of a checked statement (with its hints).
type Render<'a> = dyn Fn(&Statement) -> Result<String, ResolveError> + 'a;

/// The SQL text of `statement` that parses back to the same statement; see the module doc.
/// `quotes` is [`may_hold_quotes`] of the text it was parsed from (or is embedded in),
/// computed once per statement text. `hinted`, when the statement has hints, renders the
/// (checked) statement with them (`sql/hints.rs`): the rendering is checked without its
/// hints, which are written by construction.
pub(super) fn statement(
    statement: &Statement,
    quotes: bool,
    hinted: Option<&Render<'_>>,
) -> Result<String, ResolveError> {
    let text = statement.to_string();
    let hazard = quotes || text.contains("--") || text.contains("/*");
    let out = |checked: &Statement, text: String| match hinted {
        Some(render) => render(checked),
        None => Ok(text),
    };
    if !hazard || reparses_to(&text, statement) {
        return out(statement, text);
    }
    let mut doubled = statement.clone();
    let _ = doubled.visit(&mut DoubleQuotes);
    let text = doubled.to_string();
    if reparses_to(&text, statement) {
        out(&doubled, text)
    } else {
        Err(ResolveError::Unrenderable)
    }
}

/// How the text an engine receives is made from a statement's canonical sqlparser
/// statements: the one statement's rendering, or for a Flink-only statement the client's text
/// around its embedded statements (names spliced in canonical, comments cut), each embedded
/// statement rendered, and `MATCH_RECOGNIZE … WITHIN` clauses put back. Kept with the
/// statement so that the rewrite can render the statements again once it has enforced row
/// filters and column masks in them, with their hints (pinned to their nodes,
/// `sql/hints.rs`).
#[derive(Debug, Clone, Default)]
pub(crate) struct SqlText {
    /// `None` for one sqlparser statement; else the pieces of the Flink-only text.
    pieces: Option<Vec<Piece>>,
    within: Vec<super::flink::within::Within>,
    hints: Vec<super::hints::Placed>,
    /// [`may_hold_quotes`] of the client's text, or `true` once text not the client's (a
    /// policy's expressions) is in the statements: every rendering is then checked.
    quotes: bool,
}

/// A piece of a Flink-only statement's text.
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    /// Text as it goes to the engine.
    Text(String),
    /// The rendering of the n-th embedded statement.
    Statement(usize),
}

impl SqlText {
    /// The text of one sqlparser statement.
    pub(super) fn single(quotes: bool, hints: Vec<super::hints::Placed>) -> Self {
        Self {
            pieces: None,
            within: Vec::new(),
            hints,
            quotes,
        }
    }

    /// The text of a Flink-only statement.
    pub(super) fn flink(
        pieces: Vec<Piece>,
        within: Vec<super::flink::within::Within>,
        hints: Vec<super::hints::Placed>,
        quotes: bool,
    ) -> Self {
        Self {
            pieces: Some(pieces),
            within,
            hints,
            quotes,
        }
    }

    /// The same, checking every rendering (the statements now hold text not the client's).
    pub(crate) fn checked(mut self) -> Self {
        self.quotes = true;
        self
    }

    /// The text of `statements` (the canonical statements, as many as were parsed) for an
    /// engine to run: each rendering checked as [`statement`] does.
    pub(crate) fn render(&self, statements: &[Statement]) -> Result<String, ResolveError> {
        self.assemble(statements, &|s, index| {
            if self.hints.is_empty() {
                return statement(s, self.quotes, None);
            }
            let hinted = |s: &Statement| super::hints::render(s, index, &self.hints);
            statement(s, self.quotes, Some(&hinted))
        })
    }

    /// The text of `statements` as shown (to administrators, in audit records), not run: an
    /// engine that runs it renders it again with [`Self::render`] (the embedded engine's
    /// `* REPLACE` has no Flink form, so the round trip is not checked here).
    pub(crate) fn display(&self, statements: &[Statement]) -> Result<String, ResolveError> {
        self.assemble(statements, &|s, index| {
            super::hints::render(s, index, &self.hints)
        })
    }

    fn assemble(
        &self,
        statements: &[Statement],
        render: &dyn Fn(&Statement, usize) -> Result<String, ResolveError>,
    ) -> Result<String, ResolveError> {
        let one = |index: usize| {
            let s = statements.get(index).ok_or(ResolveError::Unrenderable)?;
            render(s, index)
        };
        let Some(pieces) = &self.pieces else {
            return one(0);
        };
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Statement(n) => out.push_str(&one(*n)?),
            }
        }
        let out = out
            .trim()
            .trim_end_matches(|c: char| c == ';' || c.is_whitespace())
            .to_string();
        super::flink::within::restore(out, &self.within)
    }
}

/// Whether some quoted value of a statement with this text can hold its own quote character.
pub(super) fn may_hold_quotes(source: &str) -> bool {
    source.contains("''")
        || source.contains("``")
        || source.contains("\"\"")
        || source.contains('\\')
        || source.contains('&')
}

/// Whether `text` parses to exactly `statement` (sqlparser's equality ignores spans).
fn reparses_to(text: &str, statement: &Statement) -> bool {
    let budget = text.len().saturating_mul(REPARSE_ATTEMPTS_PER_BYTE);
    let (parsed, _) = with_parse_budget(budget, || {
        datafusion::sql::sqlparser::tokenizer::Tokenizer::new(&FlinkDialect, text)
            .tokenize_with_location()
            .map_err(|e| {
                datafusion::sql::sqlparser::parser::ParserError::TokenizerError(e.to_string())
            })
            .and_then(|tokens| {
                Parser::new(&FlinkDialect)
                    .with_recursion_limit(REPARSE_RECURSION_LIMIT)
                    .with_tokens_with_locations(super::type_tokens::fold(tokens))
                    .parse_statements()
            })
    });
    match parsed.as_deref() {
        Ok([again]) => again == statement || *again == temporal_aliases_as_parsed(statement),
        _ => false,
    }
}

/// `statement` with each temporal table's alias where sqlparser's parser puts it: the
/// canonical statement carries it on the version's expression (`resolve.rs`, TemporalAlias),
/// rendered after the version as Flink writes it, and parsed back into the table's alias.
fn temporal_aliases_as_parsed(statement: &Statement) -> Statement {
    struct Back;
    impl VisitorMut for Back {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
            if let TableFactor::Table {
                alias: alias @ None,
                version: Some(TableVersion::ForSystemTimeAsOf(at)),
                ..
            } = factor
                && let Expr::Named { expr, name } = at
            {
                *alias = Some(TableAlias {
                    explicit: true,
                    name: name.clone(),
                    columns: Vec::new(),
                    at: None,
                });
                *at = (**expr).clone();
            }
            ControlFlow::Continue(())
        }
    }
    let mut back = statement.clone();
    let _ = back.visit(&mut Back);
    back
}

/// Doubles the quote characters inside `'…'`, `"…"`, `N'…'` and `B'…'` string literals.
/// sqlparser prints a doubled quote as it stands, so the printed literal then holds each
/// quote escaped once.
struct DoubleQuotes;

impl VisitorMut for DoubleQuotes {
    type Break = ();

    fn pre_visit_value(&mut self, value: &mut ValueWithSpan) -> ControlFlow<()> {
        match &mut value.value {
            Value::SingleQuotedString(s) if s.contains('\'') => *s = s.replace('\'', "''"),
            Value::DoubleQuotedString(s) if s.contains('"') => *s = s.replace('"', "\"\""),
            Value::NationalStringLiteral(s) | Value::SingleQuotedByteStringLiteral(s)
                if s.contains('\'') =>
            {
                *s = s.replace('\'', "''")
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

    fn parse_one(sql: &str) -> Statement {
        Parser::parse_sql(&FlinkDialect, sql).unwrap().remove(0)
    }

    /// Renders `sql` and parses the rendering: it must be the same statement (or refused).
    fn round_trip(sql: &str) -> Result<String, ResolveError> {
        let st = parse_one(sql);
        let text = statement(&st, may_hold_quotes(sql), None)?;
        assert_eq!(parse_one(&text), st, "{sql} rendered as {text}");
        Ok(text)
    }

    #[test]
    fn plain_statements_render_as_display_does() {
        let sql = "SELECT a, 'x' FROM `t` WHERE b = 'y'";
        assert_eq!(round_trip(sql).unwrap(), parse_one(sql).to_string());
    }

    #[test]
    fn doubled_quotes_in_strings_keep_their_meaning() {
        for sql in [
            "SELECT 'it''s'",
            "SELECT 'a''''b'",
            "SELECT ''''",
            "SELECT '[\\''\"]'",
            "SELECT 'x\\'' , ' UNION SELECT * FROM salaries --'",
            "SELECT REGEXP_EXTRACT(s, '\\'''), '' FROM t",
            "SELECT N'x'' UNION ALL SELECT * FROM salaries --'",
        ] {
            round_trip(sql).unwrap();
        }
    }

    #[test]
    fn names_that_cannot_render_unambiguously_are_refused() {
        // `a````b` names "a``b", which sqlparser prints as `a``b` ("a`b").
        for sql in [
            "SELECT * FROM `a````b`",
            "SELECT `a````b` FROM t",
            "SELECT - -a, b FROM t WHERE c",
        ] {
            assert_eq!(round_trip(sql), Err(ResolveError::Unrenderable), "{sql}");
        }
        // One doubled backtick (a name with one backtick) is printed right, and so are
        // comment markers inside literals.
        round_trip("SELECT * FROM `a``b`").unwrap();
        round_trip("SELECT '--', '/*' FROM t").unwrap();
        round_trip("SELECT -(-a) FROM t").unwrap();
    }

    #[test]
    fn spliced_identifiers_escape_backticks() {
        assert_eq!(ident("a`b"), "`a``b`");
        for value in ["a`b", "a``b", "`", "a\\`"] {
            let quoted = ident(value);
            let tokens = Tokenizer::new(&FlinkDialect, &quoted).tokenize().unwrap();
            assert!(
                matches!(&tokens[..], [Token::Word(w)] if w.value == value && w.quote_style == Some('`')),
                "{quoted} → {tokens:?}"
            );
        }
    }
}
