//! SQL text for audit records: string and number literals replaced by `?` on the parsed AST,
//! identifiers kept, so a record says which tables and columns were touched without the values
//! (personal data, secrets in `WITH (...)` options) that literals carry.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{Value, ValueWithSpan, VisitMut, VisitorMut};
use datafusion::sql::sqlparser::parser::Parser;

use crate::sql::FlinkDialect;

/// Statements longer than this are not parsed for redaction (the gateway's own limit is
/// smaller); they are left out of the record.
const MAX_SQL_BYTES: usize = 1024 * 1024;
/// The parser's recursion limit (as in `sql::ParseLimits`), so that a hostile statement
/// cannot exhaust the stack of the audit path.
const RECURSION_LIMIT: usize = 64;

/// The SQL as it may appear in a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlForAudit {
    /// The text to record; `None` when it had to be left out.
    pub text: Option<String>,
    /// `literals` (redacted), `none` (verbatim, redaction off) or `omitted` (did not parse, so
    /// its literals could not be found).
    pub redaction: &'static str,
}

/// Prepares SQL for an audit record. With `redact`, every string and number literal becomes
/// `?` (booleans and `NULL` stay); identifiers stay as written. SQL that does not parse is
/// left out entirely rather than recorded with its literals.
///
/// ```
/// use sqlgate::audit::redact_sql;
/// let r = redact_sql("SELECT name FROM users WHERE ssn = '123-45-6789' AND age > 40", true);
/// assert_eq!(r.text.as_deref(), Some("SELECT name FROM users WHERE ssn = ? AND age > ?"));
/// assert_eq!(redact_sql("SELECT FROM WHERE 'secret'", true).text, None);
/// ```
pub fn redact_sql(sql: &str, redact: bool) -> SqlForAudit {
    if !redact {
        return SqlForAudit {
            text: Some(sql.to_string()),
            redaction: "none",
        };
    }
    let omitted = SqlForAudit {
        text: None,
        redaction: "omitted",
    };
    if sql.len() > MAX_SQL_BYTES {
        return omitted;
    }
    let Ok(mut statements) = Parser::new(&FlinkDialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
    else {
        return omitted;
    };
    if statements.is_empty() {
        return omitted;
    }
    for statement in &mut statements {
        let _ = statement.visit(&mut Literals);
    }
    let text = statements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    SqlForAudit {
        text: Some(text),
        redaction: "literals",
    }
}

/// Replaces literals. `pre_visit_value` sees every `Expr::Value` and also the values sqlparser
/// keeps outside `Expr` (typed strings such as `DATE '…'`), which a visit of `Expr::Value`
/// alone would miss.
struct Literals;

impl VisitorMut for Literals {
    type Break = ();

    fn pre_visit_value(&mut self, value: &mut ValueWithSpan) -> ControlFlow<()> {
        if !matches!(
            value.value,
            Value::Boolean(_) | Value::Null | Value::Placeholder(_)
        ) {
            value.value = Value::Placeholder("?".into());
        }
        ControlFlow::Continue(())
    }
}
