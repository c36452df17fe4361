//! What the embedded engine does not run, refused by name. The rule (README "The embedded
//! engine"): it runs Flink SQL with Flink's semantics or refuses, saying what it does not
//! support; it never returns a different answer, and never shows DataFusion's internals.
//!
//! Two halves:
//! * [`check`], before planning: the Flink constructs DataFusion would plan differently or
//!   fail on with a dump of its syntax tree (window table-valued functions, other table
//!   functions, MATCH_RECOGNIZE, temporal joins).
//! * [`explain`], on a planning or execution error: DataFusion's messages that quote its
//!   plan or syntax tree (`Cannot execute pipeline breaking queries, operator: SortExec {…}`,
//!   `Unsupported ast node …{…}`, `Invalid function 'mod'`) become ones that name the
//!   construct; any other message keeps its text up to the first dump.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{Expr, Statement, TableFactor, Visit, Visitor};

/// Flink's window table-valued functions.
const WINDOW_TVFS: &[&str] = &["TUMBLE", "HOP", "CUMULATE", "SESSION"];

/// Where to run what the embedded engine refuses.
const ELSEWHERE: &str = "a Flink compute pool runs it";

/// Refuses a statement using a Flink construct the embedded engine does not run.
pub(crate) fn check(stmt: &Statement) -> Result<(), String> {
    let mut finder = Finder;
    match stmt.visit(&mut finder) {
        ControlFlow::Break(what) => Err(format!(
            "the embedded engine does not support {what}; {ELSEWHERE}"
        )),
        ControlFlow::Continue(()) => Ok(()),
    }
}

struct Finder;

impl Visitor for Finder {
    type Break = String;

    fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<String> {
        match tf {
            TableFactor::TableFunction { expr, .. } => {
                let name = match expr {
                    Expr::Function(f) => f.name.to_string(),
                    _ => String::new(),
                };
                let upper = name.to_ascii_uppercase();
                if WINDOW_TVFS.contains(&upper.as_str()) {
                    ControlFlow::Break(format!("the window table-valued function {upper}"))
                } else if name.is_empty() {
                    ControlFlow::Break("table functions in FROM".into())
                } else {
                    ControlFlow::Break(format!("the table function `{name}` in FROM"))
                }
            }
            TableFactor::MatchRecognize { .. } => ControlFlow::Break("MATCH_RECOGNIZE".into()),
            TableFactor::Table {
                version: Some(_), ..
            } => ControlFlow::Break("temporal joins (FOR SYSTEM_TIME AS OF)".into()),
            _ => ControlFlow::Continue(()),
        }
    }
}

/// A DataFusion error message as the caller may read it (see the module doc).
pub(crate) fn explain(message: &str) -> Explained {
    if let Some(rest) = message
        .find("Cannot execute pipeline breaking queries, operator: ")
        .map(|i| &message[i + "Cannot execute pipeline breaking queries, operator: ".len()..])
    {
        let operator: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        return Explained::Unsupported(format!(
            "the embedded engine does not support {} over an unbounded (streaming) table: it \
             runs only streaming queries whose results are appended, never updated or held back \
             until the end of input; read a bounded snapshot (`sql.snapshot.mode` = `now`), or \
             {ELSEWHERE}",
            operator_in_sql(&operator)
        ));
    }
    if let Some(rest) = message.strip_prefix("Unsupported ast node ") {
        let node: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        return Explained::Unsupported(format!(
            "the embedded engine does not support this SQL construct ({node}); {ELSEWHERE}"
        ));
    }
    if let Some(name) = message
        .strip_prefix("Invalid function '")
        .and_then(|r| r.split('\'').next())
    {
        return Explained::Unsupported(format!(
            "the embedded engine has no function {}; {ELSEWHERE}",
            name.to_ascii_uppercase()
        ));
    }
    // Arrow's type names are no Flink types: say what the cast was instead.
    if let Some(rest) = message
        .find("Unsupported CAST from ")
        .map(|i| &message[i + "Unsupported CAST from ".len()..])
    {
        if rest.starts_with("Struct(") && rest.contains(" to Struct(") {
            return Explained::Unsupported(format!(
                "the embedded engine does not support giving a ROW value to a ROW of other field \
                 names by position (it matches fields by name): write \
                 CAST(ROW(…) AS ROW<name type, …>) with the target's field names, or {ELSEWHERE}"
            ));
        }
        return Explained::Unsupported(format!(
            "the embedded engine does not support this CAST (or the implicit conversion of an \
             inserted value to its column's type); {ELSEWHERE}"
        ));
    }
    Explained::Same(without_dump(message))
}

/// What [`explain`] made of a message.
#[derive(Debug, PartialEq)]
pub(crate) enum Explained {
    /// A construct the embedded engine does not support, named.
    Unsupported(String),
    /// The statement's own error, with any dump cut off.
    Same(String),
}

/// The SQL behind a physical operator that cannot run on an unbounded input.
fn operator_in_sql(operator: &str) -> &'static str {
    match operator {
        "SortExec" | "SortPreservingMergeExec" | "PartialSortExec" => {
            "ORDER BY (or an OVER window's ordering)"
        }
        "AggregateExec" => "a GROUP BY aggregation (or an aggregate without GROUP BY)",
        "WindowAggExec" | "BoundedWindowAggExec" => "an OVER window",
        o if o.contains("Join") => "a regular join",
        "CrossJoinExec" => "a cross join",
        _ => "this query",
    }
}

/// `message` up to the first Rust debug dump in it (`Name { …`, `Some(…`), trimmed; or all of
/// it when there is none.
pub(crate) fn without_dump(message: &str) -> String {
    let bytes = message.as_bytes();
    let mut cut = None;
    for (i, w) in message.char_indices() {
        if !w.is_ascii_uppercase() || (i > 0 && bytes[i - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let word: String = message[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = &message[i + word.len()..];
        if after.starts_with(" { ")
            || after.starts_with("(Some(")
            || (word == "Some" && after.starts_with('('))
        {
            cut = Some(i);
            break;
        }
    }
    match cut {
        Some(i) => {
            let kept = message[..i].trim_end_matches([' ', ':', ',']).to_string();
            if kept.is_empty() {
                "the embedded engine could not plan this statement".into()
            } else {
                format!("{kept} (details withheld)")
            }
        }
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::parser::Parser;

    /// Parsed as the gateway parses what it hands to the engine (Flink's dialect).
    fn refused(sql: &str) -> Option<String> {
        let stmt = Parser::parse_sql(&crate::sql::FlinkDialect, sql)
            .unwrap()
            .remove(0);
        check(&stmt).err()
    }

    #[test]
    fn flink_constructs_are_refused_by_name_before_planning() {
        let tumble = refused(
            "SELECT window_start FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) \
             GROUP BY window_start",
        )
        .unwrap();
        assert!(
            tumble.contains("window table-valued function TUMBLE"),
            "{tumble}"
        );
        let temporal =
            refused("SELECT * FROM o JOIN r FOR SYSTEM_TIME AS OF o.ts AS r2 ON o.c = r2.c")
                .unwrap();
        assert!(temporal.contains("temporal joins"), "{temporal}");
        assert_eq!(refused("SELECT a FROM t WHERE b > 1 ORDER BY a"), None);
        assert_eq!(refused("SELECT * FROM (SELECT 1 AS x) s"), None);
    }

    #[test]
    fn dumps_become_names() {
        let e = explain(
            "Cannot execute pipeline breaking queries, operator: SortExec { input: \
             RepartitionExec { input: LazyMemTableExec { .. } } }",
        );
        let Explained::Unsupported(m) = e else {
            panic!("{e:?}")
        };
        assert!(m.contains("ORDER BY") && !m.contains('{'), "{m}");
        let e =
            explain("Unsupported ast node TableFunction { expr: Function(Function { name: x }) }");
        assert_eq!(
            e,
            Explained::Unsupported(format!(
                "the embedded engine does not support this SQL construct (TableFunction); {ELSEWHERE}"
            ))
        );
        assert_eq!(
            explain("Invalid function 'mod'.\nDid you mean 'md5'?"),
            Explained::Unsupported(format!(
                "the embedded engine has no function MOD; {ELSEWHERE}"
            ))
        );
    }

    #[test]
    fn casts_name_no_arrow_types() {
        for message in [
            "Error during planning: Unsupported CAST from Struct(\"c0\": Int32, \"c1\": Utf8) to \
             Struct(\"a\": Int32, \"b\": Utf8)",
            "Unsupported CAST from Interval(MonthDayNano) to Int32",
        ] {
            let Explained::Unsupported(m) = explain(message) else {
                panic!("{message}")
            };
            assert!(
                !m.contains("Struct(") && !m.contains("Int32") && !m.contains("Utf8"),
                "{m}"
            );
        }
        let Explained::Unsupported(m) =
            explain("Unsupported CAST from Struct(\"c0\": Int32) to Struct(\"a\": Int32)")
        else {
            panic!()
        };
        assert!(m.contains("CAST(ROW(…) AS ROW<"), "{m}");
    }

    #[test]
    fn other_messages_keep_their_text_up_to_a_dump() {
        assert_eq!(
            without_dump("No field named c.id. Did you mean 'o.id'?"),
            "No field named c.id. Did you mean 'o.id'?"
        );
        assert_eq!(
            without_dump("Failed to coerce: Column { relation: Some(Bare { table: \"t\" }) }"),
            "Failed to coerce (details withheld)"
        );
        assert_eq!(
            without_dump("Ident { value: \"x\" }"),
            "the embedded engine could not plan this statement"
        );
        // Words in capitals that are not dumps stay.
        assert_eq!(
            without_dump("SQL SELECT failed: A {"),
            "SQL SELECT failed: A {"
        );
    }
}
