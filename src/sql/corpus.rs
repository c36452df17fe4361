//! Coverage measurement over a corpus of published Flink SQL (`shared/corpus/flink_sql_corpus.tsv`).
//!
//! Each statement goes through [`parse`] and [`resolve`] exactly as a request would (session
//! catalog `env-dev`, database `lkc-dev`). A `valid=yes` statement counts when it parses *and*
//! resolves; a `valid=no` one (a documentation placeholder such as `WITH (...)`, or a typo)
//! counts when it is refused with `sql.parse_error`, and is *forwarded* when it resolves (the
//! figure that must stay at zero).
//!
//! The corpus names catalogs and databases of Flink's documentation (`default_catalog`,
//! `catalog1.database1`, `db1`, `cat1`, …) that are not in the gateway's default model. They are
//! measured against [`corpus_catalogs`]: the default model (`env-dev`/`lkc-dev`) plus one
//! environment or cluster for each such name, so that a statement counts as resolved only when
//! every name in it binds to a configured object (names are still never guessed). Authorization
//! is not measured here: it depends on role bindings, not on the SQL surface.
//!
//! This module only measures; it changes nothing and is not on the request path.

use std::collections::BTreeMap;
use std::fmt;

use super::{ParseLimits, SessionNames, parse, resolve};
use crate::catalog::{Catalogs, ClusterConfig, EnvironmentConfig};

/// What happened to one corpus statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusOutcome {
    /// The corpus id (`F012`, `C284`, …).
    pub id: String,
    /// The corpus kind (`query`, `create_table`, …).
    pub kind: String,
    /// Whether the corpus marks the statement as valid Flink SQL.
    pub valid: bool,
    /// Whether [`parse`] accepted it.
    pub parsed: bool,
    /// Whether [`resolve`] bound it (implies `parsed`).
    pub resolved: bool,
    /// The gateway's statement kind when resolved (`SELECT`, `CREATE_TABLE`, …).
    pub sql_kind: Option<&'static str>,
    /// The stable error code of the refusal (`sql.parse_error`, `resolve.unknown_catalog`, …).
    pub error_code: Option<&'static str>,
    /// The refusal's message for people.
    pub error: Option<String>,
    /// The statement text (unescaped).
    pub sql: String,
}

impl CorpusOutcome {
    /// A `valid=no` statement that was not refused at parse time.
    pub fn is_invalid_accepted(&self) -> bool {
        !self.valid && self.parsed
    }
}

/// Per-statement outcomes and totals (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct CorpusReport {
    /// One entry per corpus row, in file order.
    pub outcomes: Vec<CorpusOutcome>,
    /// Rows that could not be read (wrong column count), as `line: reason`.
    pub malformed_rows: Vec<String>,
}

/// Counts for one group of statements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CorpusCounts {
    /// `valid=yes` statements.
    pub valid_total: usize,
    /// `valid=yes` statements that parsed.
    pub valid_parsed: usize,
    /// `valid=yes` statements that parsed and resolved.
    pub valid_parsed_and_resolved: usize,
    /// `valid=no` statements.
    pub invalid_total: usize,
    /// `valid=no` statements refused with `sql.parse_error`.
    pub invalid_refused: usize,
    /// `valid=no` statements that parsed and resolved (would be forwarded to the engine).
    pub invalid_forwarded: usize,
}

impl CorpusCounts {
    fn add(&mut self, o: &CorpusOutcome) {
        if o.valid {
            self.valid_total += 1;
            self.valid_parsed += usize::from(o.parsed);
            self.valid_parsed_and_resolved += usize::from(o.resolved);
        } else {
            self.invalid_total += 1;
            self.invalid_refused += usize::from(o.error_code == Some("sql.parse_error"));
            self.invalid_forwarded += usize::from(o.resolved);
        }
    }
}

impl CorpusReport {
    /// Totals over the whole corpus.
    pub fn totals(&self) -> CorpusCounts {
        let mut c = CorpusCounts::default();
        self.outcomes.iter().for_each(|o| c.add(o));
        c
    }

    /// Totals per corpus kind, sorted by kind.
    pub fn by_kind(&self) -> BTreeMap<&str, CorpusCounts> {
        let mut m: BTreeMap<&str, CorpusCounts> = BTreeMap::new();
        for o in &self.outcomes {
            m.entry(o.kind.as_str()).or_default().add(o);
        }
        m
    }
}

/// Renders the summary table (totals and per kind) and then every failure: valid statements
/// that were refused, and invalid ones that were not refused with a parse error.
impl fmt::Display for CorpusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = |f: &mut fmt::Formatter<'_>, name: &str, c: &CorpusCounts| {
            writeln!(
                f,
                "{name:<16} {:>4}/{:<4} {:>4}/{:<4} {:>4}/{:<4} {:>4}",
                c.valid_parsed,
                c.valid_total,
                c.valid_parsed_and_resolved,
                c.valid_total,
                c.invalid_refused,
                c.invalid_total,
                c.invalid_forwarded
            )
        };
        writeln!(
            f,
            "{:<16} {:>9} {:>9} {:>9} {:>4}",
            "kind", "parsed", "resolved", "inv.ref", "fwd"
        )?;
        for (kind, c) in self.by_kind() {
            row(f, kind, &c)?;
        }
        row(f, "TOTAL", &self.totals())?;
        for o in &self.outcomes {
            let failed = if o.valid {
                !o.resolved
            } else {
                o.error_code != Some("sql.parse_error")
            };
            if failed {
                let verdict = if o.valid {
                    "valid, refused"
                } else if o.resolved {
                    "INVALID, FORWARDED"
                } else {
                    "invalid, refused but not as a parse error"
                };
                writeln!(
                    f,
                    "\n{} [{}] {verdict}: {}\n    {}",
                    o.id,
                    o.kind,
                    o.error.as_deref().unwrap_or("-"),
                    o.sql.replace('\n', "\n    ")
                )?;
            }
        }
        for m in &self.malformed_rows {
            writeln!(f, "malformed row {m}")?;
        }
        Ok(())
    }
}

/// The gateway's default model plus the catalogs and databases the corpus names (see the
/// module doc).
pub fn corpus_catalogs() -> Catalogs {
    let cluster = |id: &str, display: &str| ClusterConfig {
        id: id.into(),
        display_name: display.into(),
        region: "aws.us-east-2".into(),
    };
    let env = |id: &str, clusters: Vec<ClusterConfig>| EnvironmentConfig {
        id: id.into(),
        display_name: id.into(),
        clusters,
    };
    Catalogs::new(
        "org-dev",
        "aws.us-east-2",
        vec![
            EnvironmentConfig {
                id: "env-dev".into(),
                display_name: "dev".into(),
                clusters: vec![cluster("lkc-dev", "main"), cluster("db1", "db1")],
            },
            env(
                "catalog1",
                vec![cluster("db1", "db1"), cluster("database1", "database1")],
            ),
            env(
                "default_catalog",
                vec![cluster("default_database", "default_database")],
            ),
            env("cat1", vec![cluster("db", "db")]),
            env("cat2", vec![cluster("db", "db")]),
        ],
    )
}

/// The session every corpus statement runs in.
pub fn corpus_session() -> SessionNames {
    SessionNames {
        catalog: Some("env-dev".into()),
        database: Some("lkc-dev".into()),
    }
}

/// Measures the corpus TSV against [`corpus_catalogs`] and [`corpus_session`].
pub fn measure(tsv: &str) -> CorpusReport {
    measure_with(tsv, &corpus_catalogs(), &corpus_session())
}

/// Measures the corpus TSV against the given model and session.
pub fn measure_with(tsv: &str, catalogs: &Catalogs, session: &SessionNames) -> CorpusReport {
    let mut report = CorpusReport::default();
    let limits = ParseLimits::default();
    for (n, line) in tsv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [id, _source, kind, valid, _read, _written, sql] = fields.as_slice() else {
            report
                .malformed_rows
                .push(format!("{}: {} columns", n + 1, fields.len()));
            continue;
        };
        let sql = unescape(sql);
        let mut o = CorpusOutcome {
            id: id.to_string(),
            kind: kind.to_string(),
            valid: *valid == "yes",
            parsed: false,
            resolved: false,
            sql_kind: None,
            error_code: None,
            error: None,
            sql: sql.clone(),
        };
        match parse(&sql, &limits) {
            Err(e) => {
                o.error_code = Some(e.code());
                o.error = Some(e.detail());
            }
            Ok(parsed) => {
                o.parsed = true;
                match resolve(parsed, catalogs, session) {
                    Ok(r) => {
                        o.resolved = true;
                        o.sql_kind = Some(r.sql_kind());
                    }
                    Err(e) => {
                        o.error_code = Some(e.code());
                        o.error = Some(e.detail());
                    }
                }
            }
        }
        report.outcomes.push(o);
    }
    report
}

/// Undoes the corpus escaping: `\n`, `\t` and `\\` inside the field, and CSV-style quoting of
/// a field that starts and ends with `"` (with `""` for a quote).
fn unescape(field: &str) -> String {
    let field = match field.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => field.to_string(),
    };
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORPUS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpus/flink_sql_corpus.tsv"
    );

    /// The ratchet: raise these when coverage improves, never lower them.
    const MIN_VALID_PARSED_AND_RESOLVED: usize = 169;
    const MIN_INVALID_REFUSED: usize = 29;

    #[test]
    fn corpus_coverage_does_not_regress() {
        let Ok(tsv) = std::fs::read_to_string(CORPUS) else {
            println!("note: {CORPUS} not found; corpus coverage not measured");
            return;
        };
        let report = measure(&tsv);
        println!("{report}");
        let t = report.totals();
        assert!(
            report.malformed_rows.is_empty(),
            "{:?}",
            report.malformed_rows
        );
        assert_eq!(
            t.invalid_forwarded, 0,
            "an invalid statement would be forwarded"
        );
        assert!(
            t.valid_parsed_and_resolved >= MIN_VALID_PARSED_AND_RESOLVED,
            "coverage regressed: {} < {MIN_VALID_PARSED_AND_RESOLVED}",
            t.valid_parsed_and_resolved
        );
        assert!(t.invalid_refused >= MIN_INVALID_REFUSED);
    }

    #[test]
    fn measure_counts_each_outcome() {
        let tsv = "id\tsource\tkind\tvalid\tr\tw\tsql\n\
                   a\ts\tquery\tyes\t\t\tSELECT * FROM orders\n\
                   b\ts\tquery\tyes\t\t\tSELECT * FROM nope.db.t\n\
                   c\ts\tcreate_table\tno\t\t\tCREATE TABLE t (a INT) WITH (...)\n\
                   d\ts\tquery\tyes\t\t\t\"SELECT \"\"x\"\"\\n FROM\\tt\"\n\
                   e\tbad row\n";
        let r = measure(tsv);
        let t = r.totals();
        assert_eq!(t.valid_total, 3);
        assert_eq!(t.valid_parsed_and_resolved, 2);
        assert_eq!(t.invalid_total, 1);
        assert_eq!(t.invalid_refused, 1);
        assert_eq!(t.invalid_forwarded, 0);
        assert_eq!(r.outcomes[3].sql, "SELECT \"x\"\n FROM\tt");
        assert_eq!(r.malformed_rows.len(), 1);
        assert_eq!(r.by_kind()["query"].valid_total, 3);
        let text = r.to_string();
        assert!(text.contains("TOTAL"), "{text}");
        assert!(text.contains("b [query] valid, refused"), "{text}");
    }
}
