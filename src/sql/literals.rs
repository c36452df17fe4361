//! The statement text without its literals, made from the parser's own tokens (no second
//! parse): every string and number literal becomes `?`, comments are dropped and whitespace
//! runs become one space, while identifiers, keywords and operators stay as written. Audit
//! records carry this text, so they say which tables and columns were touched without the
//! values (personal data, secrets in `WITH (...)` options) that literals carry.

use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan};

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

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::tokenizer::Tokenizer;

    use super::*;
    use crate::sql::FlinkDialect;

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
}
