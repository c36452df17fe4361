//! Flink type spellings sqlparser's grammar cannot hold, folded into one word before parsing.
//!
//! sqlparser parses `ARRAY<INT>` but not `MAP<STRING, INT>`, `ROW<x INT, y STRING>`,
//! `ROW(x INT, y STRING)`, `MULTISET<INT>`, `TIMESTAMP(3) WITH LOCAL TIME ZONE` or
//! `INTERVAL DAY(2) TO SECOND(3)`. Each of these spans of tokens becomes a single unquoted
//! word whose text is the type as written (normalised spacing, quotes escaped), so the type
//! reaches the AST as a custom type name (`DataType::Custom`), prints back unchanged, and is
//! read by [`crate::sql::types::parse_flink_type`] where a type is needed.
//!
//! Only type positions match: `MAP`, `ROW` and `MULTISET` are reserved words in Flink, so
//! `MAP <` can only open a type; `ROW (` opens one only when a field name and a type name
//! follow (`ROW(1, 'x')` stays a constructor); `INTERVAL` followed by a unit word (not a
//! literal) is a type. A span holding any token a type cannot hold is left alone, so
//! sqlparser reports it as before.

use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Span, Token, TokenWithSpan, Word};

/// Words that name a Flink type: the second word of `ROW(name TYPE, …)` must be one.
const TYPE_WORDS: &[&str] = &[
    "BOOLEAN",
    "TINYINT",
    "SMALLINT",
    "INT",
    "INTEGER",
    "BIGINT",
    "FLOAT",
    "REAL",
    "DOUBLE",
    "DECIMAL",
    "DEC",
    "NUMERIC",
    "CHAR",
    "CHARACTER",
    "VARCHAR",
    "STRING",
    "BINARY",
    "VARBINARY",
    "BYTES",
    "DATE",
    "TIME",
    "TIMESTAMP",
    "TIMESTAMP_LTZ",
    "INTERVAL",
    "ARRAY",
    "MAP",
    "MULTISET",
    "ROW",
    "NULL",
];

const UNITS: &[&str] = &["YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND"];

fn word(t: &Token) -> Option<&str> {
    match t {
        Token::Word(w) if w.quote_style.is_none() => Some(&w.value),
        _ => None,
    }
}

fn is_word(t: &Token, w: &str) -> bool {
    word(t).is_some_and(|x| x.eq_ignore_ascii_case(w))
}

/// Folds every Flink-only type spelling of `tokens` into one word (see the module doc).
pub(crate) fn fold(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    // Types are matched on the tokens without whitespace and comments; everything outside a
    // folded type is kept as it was, whitespace included.
    let idx: Vec<usize> = (0..tokens.len())
        .filter(|&k| !matches!(tokens[k].token, Token::Whitespace(_)))
        .collect();
    let toks: Vec<TokenWithSpan> = idx.iter().map(|&k| tokens[k].clone()).collect();
    let mut folds = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match type_span(&toks, i) {
            Some((end, split_gt)) => {
                folds.push((
                    idx[i],
                    idx[end - 1],
                    folded(&toks[i..end], split_gt),
                    split_gt,
                ));
                i = end;
            }
            None => i += 1,
        }
    }
    if folds.is_empty() {
        return tokens;
    }
    let mut out = Vec::with_capacity(tokens.len());
    let mut folds = folds.into_iter().peekable();
    let mut k = 0;
    while k < tokens.len() {
        match folds.next_if(|f| f.0 == k) {
            Some((_, last, word, split_gt)) => {
                out.push(word);
                if split_gt {
                    // `>>` closed this type and an enclosing one: keep the outer `>`.
                    out.push(TokenWithSpan::new(Token::Gt, tokens[last].span));
                }
                k = last + 1;
            }
            None => {
                out.push(tokens[k].clone());
                k += 1;
            }
        }
    }
    out
}

/// The end (exclusive) of a foldable type starting at `i`, and whether its last token is a
/// `>>` of which only the first `>` belongs to it.
fn type_span(toks: &[TokenWithSpan], i: usize) -> Option<(usize, bool)> {
    let at = |k: usize| toks.get(k).map(|t| &t.token);
    let first = word(at(i)?)?.to_ascii_uppercase();
    match first.as_str() {
        "MAP" | "ROW" | "MULTISET" if at(i + 1) == Some(&Token::Lt) => angle_end(toks, i + 1),
        "ROW"
            if at(i + 1) == Some(&Token::LParen)
                && matches!(at(i + 2), Some(Token::Word(_)))
                && at(i + 3)
                    .and_then(word)
                    .is_some_and(|w| TYPE_WORDS.iter().any(|t| t.eq_ignore_ascii_case(w))) =>
        {
            paren_end(toks, i + 1).map(|e| (e, false))
        }
        "TIMESTAMP" | "TIME" => {
            let mut k = i + 1;
            if at(k) == Some(&Token::LParen) {
                if !matches!(at(k + 1), Some(Token::Number(..)))
                    || at(k + 2) != Some(&Token::RParen)
                {
                    return None;
                }
                k += 3;
            }
            let ltz = ["WITH", "LOCAL", "TIME", "ZONE"];
            ltz.iter()
                .enumerate()
                .all(|(n, w)| at(k + n).is_some_and(|t| is_word(t, w)))
                .then_some((k + ltz.len(), false))
        }
        "INTERVAL" if at(i + 1).and_then(word).is_some_and(is_unit) => {
            let mut k = i + 1;
            let unit = |k: &mut usize| -> Option<()> {
                at(*k).and_then(word).filter(|w| is_unit(w))?;
                *k += 1;
                if at(*k) == Some(&Token::LParen) {
                    if !matches!(at(*k + 1), Some(Token::Number(..)))
                        || at(*k + 2) != Some(&Token::RParen)
                    {
                        return None;
                    }
                    *k += 3;
                }
                Some(())
            };
            unit(&mut k)?;
            if at(k).is_some_and(|t| is_word(t, "TO")) {
                k += 1;
                unit(&mut k)?;
            }
            Some((k, false))
        }
        _ => None,
    }
}

fn is_unit(w: &str) -> bool {
    UNITS.iter().any(|u| u.eq_ignore_ascii_case(w))
}

/// Whether a token can be part of a type's text.
fn type_token(t: &Token) -> bool {
    match t {
        Token::Word(w) => matches!(w.quote_style, None | Some('`')),
        Token::Number(..)
        | Token::Comma
        | Token::LParen
        | Token::RParen
        | Token::Lt
        | Token::Gt
        | Token::ShiftRight
        | Token::Colon
        | Token::LBracket
        | Token::RBracket
        | Token::SingleQuotedString(_) => true,
        _ => false,
    }
}

/// From the `<` at `open`: the end of the balanced `<…>`.
fn angle_end(toks: &[TokenWithSpan], open: usize) -> Option<(usize, bool)> {
    let mut depth = 0i32;
    for (k, t) in toks.iter().enumerate().skip(open) {
        if !type_token(&t.token) {
            return None;
        }
        match t.token {
            Token::Lt => depth += 1,
            Token::Gt => depth -= 1,
            Token::ShiftRight => depth -= 2,
            _ => {}
        }
        if depth == 0 {
            return Some((k + 1, false));
        }
        if depth == -1 {
            return Some((k + 1, true));
        }
    }
    None
}

/// From the `(` at `open`: the end of the balanced `(…)`.
fn paren_end(toks: &[TokenWithSpan], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (k, t) in toks.iter().enumerate().skip(open) {
        if !type_token(&t.token) {
            return None;
        }
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            return Some(k + 1);
        }
    }
    None
}

/// One unquoted word spelling the type of `span` (its last `>>` as `>` when `split_gt`).
fn folded(span: &[TokenWithSpan], split_gt: bool) -> TokenWithSpan {
    let mut text = String::new();
    let mut prev_wordy = false;
    for (n, t) in span.iter().enumerate() {
        let last = n + 1 == span.len();
        let (piece, wordy) = match &t.token {
            Token::Word(w) if w.quote_style == Some('`') => {
                (format!("`{}`", w.value.replace('`', "``")), true)
            }
            Token::Word(w) => (w.value.clone(), true),
            Token::Number(n, _) => (n.clone(), true),
            Token::SingleQuotedString(s) => (format!("'{}'", s.replace('\'', "''")), true),
            Token::Comma => (", ".to_string(), false),
            Token::ShiftRight if last && split_gt => (">".to_string(), false),
            other => (other.to_string(), false),
        };
        if wordy && prev_wordy {
            text.push(' ');
        }
        text.push_str(&piece);
        // A word after `)` or `>` is spaced too: `TIMESTAMP(3) WITH …`, `ARRAY<INT> NOT NULL`.
        prev_wordy = wordy || matches!(t.token, Token::RParen | Token::Gt);
    }
    let first = span.first().map_or(Span::empty(), |t| t.span);
    let span_all = first.union(&span.last().map_or(first, |t| t.span));
    TokenWithSpan::new(
        Token::Word(Word {
            value: text,
            quote_style: None,
            keyword: Keyword::NoKeyword,
        }),
        span_all,
    )
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::parser::Parser;
    use datafusion::sql::sqlparser::tokenizer::Tokenizer;

    use super::*;
    use crate::sql::FlinkDialect;

    fn parse(sql: &str) -> String {
        let tokens = Tokenizer::new(&FlinkDialect, sql)
            .tokenize_with_location()
            .unwrap();
        Parser::new(&FlinkDialect)
            .with_tokens_with_locations(fold(tokens))
            .parse_statements()
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .remove(0)
            .to_string()
    }

    #[test]
    fn flink_types_fold_into_one_word_and_print_back() {
        let cases = [
            (
                "CREATE TABLE t (m MAP<STRING, INT> NOT NULL, r ROW<x INT, `y``z` STRING 'a ''b'''>)",
                "CREATE TABLE t (m MAP<STRING, INT> NOT NULL, r ROW<x INT, `y``z` STRING 'a ''b'''>)",
            ),
            (
                "CREATE TABLE t (a ARRAY<MAP<STRING, ROW<x DECIMAL(10, 2)>>>, b MULTISET<INT>)",
                "CREATE TABLE t (a ARRAY<MAP<STRING, ROW<x DECIMAL(10, 2)>>>, b MULTISET<INT>)",
            ),
            (
                "CREATE TABLE t (r ROW(x INT, y STRING), l TIMESTAMP(3) WITH LOCAL TIME ZONE)",
                "CREATE TABLE t (r ROW(x INT, y STRING), l TIMESTAMP(3) WITH LOCAL TIME ZONE)",
            ),
            (
                "CREATE TABLE t (i INTERVAL DAY(2) TO SECOND(3), j INTERVAL YEAR TO MONTH)",
                "CREATE TABLE t (i INTERVAL DAY(2) TO SECOND(3), j INTERVAL YEAR TO MONTH)",
            ),
            (
                "SELECT CAST(ROW(1, 'x') AS ROW<a INT, b STRING>), ROW(a, b), INTERVAL '1' DAY",
                "SELECT CAST(ROW(1, 'x') AS ROW<a INT, b STRING>), ROW(a, b), INTERVAL '1' DAY",
            ),
        ];
        for (sql, want) in cases {
            let printed = parse(sql);
            assert_eq!(printed, want);
            assert_eq!(parse(&printed), printed, "a fixed point");
        }
    }
}
