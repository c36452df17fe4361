//! SQL text for audit records. The text comes from the gateway's one parse of the statement
//! ([`ParsedStatement::literal_free_text`]): string and number literals replaced by `?`,
//! comments dropped, identifiers kept, so a record says which tables and columns were touched
//! without the values (personal data, secrets in `WITH (...)` options) that literals carry. The
//! audit path never parses SQL of its own.

use crate::sql::ParsedStatement;

/// The SQL as it may appear in a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlForAudit {
    /// The text to record; `None` when it had to be left out.
    pub text: Option<String>,
    /// `literals` (redacted), `none` (verbatim, redaction off) or `omitted` (did not parse, so
    /// its literals could not be found).
    pub redaction: &'static str,
}

/// Prepares SQL for an audit record. With `redact`, the parsed statement's literal-free text;
/// a statement that did not parse (`parsed` is `None`) is left out entirely rather than
/// recorded with its literals. Without `redact`, the text as sent.
///
/// ```
/// use sqlgate::audit::redact_sql;
/// use sqlgate::sql::{parse, ParseLimits};
/// let sql = "SELECT name FROM users WHERE ssn = '123-45-6789' AND age > 40";
/// let parsed = parse(sql, &ParseLimits::default()).unwrap();
/// let r = redact_sql(sql, Some(&parsed), true);
/// assert_eq!(r.text.as_deref(), Some("SELECT name FROM users WHERE ssn = ? AND age > ?"));
/// assert_eq!(redact_sql("SELECT FROM WHERE 'secret'", None, true).text, None);
/// ```
pub fn redact_sql(sql: &str, parsed: Option<&ParsedStatement>, redact: bool) -> SqlForAudit {
    match (redact, parsed) {
        (false, _) => SqlForAudit {
            text: Some(sql.to_string()),
            redaction: "none",
        },
        (true, Some(p)) => SqlForAudit {
            text: Some(p.literal_free_text().to_string()),
            redaction: "literals",
        },
        (true, None) => SqlForAudit {
            text: None,
            redaction: "omitted",
        },
    }
}
