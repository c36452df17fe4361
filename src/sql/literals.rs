//! The statement text without its literals, made from the parser's own tokens (no second
//! parse): every string and number literal becomes `?`, comments are dropped and whitespace
//! runs become one space, while identifiers, keywords and operators stay as written. Audit
//! records carry this text, so they say which tables and columns were touched without the
//! values (personal data, secrets in `WITH (...)` options) that literals carry.

use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use super::FlinkDialect;

/// Renders `tokens` without literals (see the module doc).
///
/// ```
/// use datafusion::sql::sqlparser::tokenizer::Tokenizer;
/// use sqlgate::sql::{FlinkDialect, without_literals};
/// let sql = "SELECT name FROM users -- who\nWHERE ssn = '123-45-6789' AND age > 40";
/// let tokens = Tokenizer::new(&FlinkDialect, sql).tokenize_with_location().unwrap();
/// assert_eq!(without_literals(&tokens), "SELECT name FROM users WHERE ssn = ? AND age > ?");
/// ```
pub fn without_literals(tokens: &[TokenWithSpan]) -> String {
    let mut out = String::new();
    let mut space = false;
    for t in tokens {
        match &t.token {
            Token::EOF => {}
            Token::Whitespace(_) => space = true,
            token => {
                if space && !out.is_empty() {
                    out.push(' ');
                }
                space = false;
                if is_literal(token) {
                    out.push('?');
                } else {
                    out.push_str(&token.to_string());
                }
            }
        }
    }
    out
}

/// Whether the token is a literal value (booleans and `NULL` are words, and stay). The bounds
/// pass counts the same tokens as operands.
pub(super) fn is_literal(token: &Token) -> bool {
    matches!(
        token,
        Token::Number(..)
            | Token::Char(_)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_)
    )
}

/// `message`, an error's text about the statement `sql`, without the statement's literals: a
/// parser's message quotes the token it stopped at (`found: 'secret'`), and audit records must
/// not carry literals. Every quoted run (`'…'`, `"…"`) of `message`, every literal token of
/// `sql` it contains, and every number of `sql` that appears in it as a whole word become
/// `?`. Keywords, identifiers and operators stay.
///
/// ```
/// use sqlgate::sql::scrub_literals;
/// let sql = "SELECT * FROM t WHERE ssn = '123-45-6789' 42";
/// let msg = "Expected: end of statement, found: '123-45-6789' or 42";
/// assert_eq!(scrub_literals(msg, sql), "Expected: end of statement, found: ? or ?");
/// ```
pub fn scrub_literals(message: &str, sql: &str) -> String {
    let mut out = message.to_string();
    let mut numbers = Vec::new();
    if let Ok(tokens) = Tokenizer::new(&FlinkDialect, sql).tokenize() {
        let mut texts: Vec<String> = Vec::new();
        for t in &tokens {
            match t {
                Token::Number(n, _) => numbers.push(n.clone()),
                t if is_literal(t) => texts.push(t.to_string()),
                _ => {}
            }
        }
        texts.sort_by_key(|t| std::cmp::Reverse(t.len()));
        for t in texts.iter().filter(|t| !t.is_empty()) {
            out = out.replace(t.as_str(), "?");
        }
    }
    let out = without_quoted_runs(&out);
    // Numbers only as whole words, so that `1` in `line 1` of an unrelated message stays
    // unless the statement itself has the literal 1.
    let mut scrubbed = String::with_capacity(out.len());
    let mut word = String::new();
    let flush = |word: &mut String, scrubbed: &mut String| {
        let bare = word.trim_end_matches('.');
        if numbers.iter().any(|n| n == bare) {
            scrubbed.push('?');
            scrubbed.push_str(&word[bare.len()..]);
        } else {
            scrubbed.push_str(word);
        }
        word.clear();
    };
    for c in out.chars() {
        if c.is_alphanumeric() || c == '_' || c == '.' {
            word.push(c);
        } else {
            flush(&mut word, &mut scrubbed);
            scrubbed.push(c);
        }
    }
    flush(&mut word, &mut scrubbed);
    scrubbed
}

/// Every `'…'` and `"…"` run replaced by `?` (an unterminated one runs to the end).
fn without_quoted_runs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut open: Option<char> = None;
    for c in s.chars() {
        match open {
            Some(q) if c == q => open = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => {
                open = Some(c);
                out.push('?');
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(sql: &str) -> String {
        let tokens = Tokenizer::new(&FlinkDialect, sql)
            .tokenize_with_location()
            .unwrap();
        without_literals(&tokens)
    }

    #[test]
    fn literals_become_placeholders_and_names_stay() {
        let cases = [
            (
                "SELECT `name`, amount * 2 FROM `env-dev`.`lkc-dev`.`orders` WHERE card = '4111-1111' AND amount > 99.5",
                "SELECT `name`, amount * ? FROM `env-dev`.`lkc-dev`.`orders` WHERE card = ? AND amount > ?",
            ),
            (
                "INSERT INTO sink SELECT id, \"secret text\" FROM src WHERE flag = TRUE AND x IS NULL",
                "INSERT INTO sink SELECT id, ? FROM src WHERE flag = TRUE AND x IS NULL",
            ),
            ("SELECT * FROM t LIMIT 10", "SELECT * FROM t LIMIT ?"),
            ("SELECT X'ff', N'x', E'\\n'", "SELECT ?, ?, ?"),
        ];
        for (sql, want) in cases {
            assert_eq!(redact(sql), want, "{sql}");
        }
    }

    #[test]
    fn table_options_typed_literals_and_comments_are_removed() {
        let text = redact(
            "CREATE TABLE t (id INT) WITH ('connector' = 'kafka', 'properties.sasl.jaas.config' = 'password=hunter2') /* key: hunter2 */",
        );
        assert!(
            !text.contains("hunter2") && !text.contains("kafka"),
            "{text}"
        );
        let text = redact("SELECT * FROM t -- token abc123\nWHERE d > DATE '2024-01-01'");
        assert!(!text.contains("2024") && !text.contains("abc123"), "{text}");
        assert_eq!(text, "SELECT * FROM t WHERE d > DATE ?");
    }

    #[test]
    fn error_messages_lose_the_statements_literals_and_keep_the_rest() {
        let sql = "SELECT a FROM t WHERE s = 'p@ss w0rd' AND n > 4711 X'ff' \"dq secret\" 1.5";
        let cases = [
            (
                "Expected: end of statement, found: 'p@ss w0rd'",
                "Expected: end of statement, found: ?",
            ),
            (
                "found: 4711 at Line: 1, Column: 40",
                "found: ? at Line: 1, Column: 40",
            ),
            ("found: 1.5.", "found: ?."),
            ("found: X'ff'", "found: ?"),
            ("found: \"dq secret\"", "found: ?"),
            ("an unterminated 'quote that runs on", "an unterminated ?"),
            (
                "Expected: identifier, found: FROM",
                "Expected: identifier, found: FROM",
            ),
        ];
        for (message, want) in cases {
            assert_eq!(scrub_literals(message, sql), want, "{message}");
        }
        // A statement the tokenizer refuses: quoted runs still go.
        assert_eq!(scrub_literals("found: 'abc", "SELECT 'abc"), "found: ?");
    }
}
