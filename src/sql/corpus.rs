//! Coverage measurement over a corpus of published Flink SQL (`shared/corpus/flink_sql_corpus.tsv`).
//!
//! Each statement goes through [`parse`] and [`resolve`] exactly as a request would (session
//! catalog `env-dev`, database `lkc-dev`). A `valid=yes` statement counts when it parses *and*
//! resolves; a `valid=no` one (a documentation placeholder such as `WITH (...)`, or a typo)
//! counts when it is refused with `sql.parse_error`, and is *forwarded* when it resolves (the
//! figure that must stay at zero).
//!
//! A few `valid=yes` statements are *disputed* ([`DISPUTED`]): Flink's own parser (Calcite with
//! Flink's grammar) refuses them, so the corpus labelled them wrongly. They are expected to be
//! refused with `sql.parse_error`, and are counted and listed apart, with the reason, instead of
//! as failures; one that is accepted is a failure (fix the corpus or this list).
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

/// Corpus ids labelled valid that Flink refuses, each with the reason (see the module doc).
pub const DISPUTED: &[(&str, &str)] = &[
    (
        "F157",
        "a comma ends the SELECT list (`order_time,` before FROM): Calcite's SelectList needs an \
         item after every comma and Flink enables no trailing-comma conformance, so Flink \
         refuses it too (a transcription slip of the joins.md example)",
    ),
    (
        "F202",
        "the DEFINE items are not separated by a comma (`B AS ... - 10` then `C AS ...`): \
         Calcite's PatternDefinitionCommaList needs one (Flink's match_recognize.md has it). \
         MATCH_RECOGNIZE ... WITHIN itself is supported: the same statement with the comma \
         resolves",
    ),
];

/// Why the corpus statement `id` is disputed, if it is.
pub fn disputed(id: &str) -> Option<&'static str> {
    DISPUTED.iter().find(|(d, _)| *d == id).map(|(_, why)| *why)
}

/// What happened to one corpus statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusOutcome {
    /// The corpus id (`F012`, `C284`, …).
    pub id: String,
    /// The corpus kind (`query`, `create_table`, …).
    pub kind: String,
    /// Whether the corpus marks the statement as valid Flink SQL.
    pub valid: bool,
    /// Why the corpus's `valid=yes` is disputed ([`DISPUTED`]); such a statement counts in
    /// neither the valid nor the invalid figures.
    pub disputed: Option<&'static str>,
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
    /// A `valid=no` (or disputed) statement that was not refused at parse time.
    pub fn is_invalid_accepted(&self) -> bool {
        (!self.valid || self.disputed.is_some()) && self.parsed
    }

    /// Refused by name after parsing (`sql/guard.rs`, `sql/hints.rs`): a decision of the
    /// gateway, reported apart from the grammar's gaps.
    pub fn refused_by_name(&self) -> bool {
        matches!(
            self.error_code,
            Some("sql.option_not_allowed" | "sql.statement_not_allowed" | "sql.hint_not_allowed")
        )
    }

    /// Whether the outcome is not the expected one: a valid statement that did not resolve
    /// (nor was refused by name), or an invalid or disputed one that was not refused with a
    /// parse error.
    pub fn is_failure(&self) -> bool {
        if self.valid && self.disputed.is_none() {
            !self.resolved && !self.refused_by_name()
        } else {
            self.error_code != Some("sql.parse_error")
        }
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
    /// `valid=yes` statements, disputed ones excepted.
    pub valid_total: usize,
    /// `valid=yes` statements that parsed.
    pub valid_parsed: usize,
    /// `valid=yes` statements that parsed and resolved.
    pub valid_parsed_and_resolved: usize,
    /// `valid=yes` statements that parsed and were then refused by name because they could
    /// change which data is read or load code (`sql/guard.rs`, `sql/hints.rs`): a decision,
    /// not a gap in the grammar.
    pub valid_refused_by_name: usize,
    /// `valid=no` statements.
    pub invalid_total: usize,
    /// `valid=no` statements refused with `sql.parse_error`.
    pub invalid_refused: usize,
    /// `valid=no` statements that parsed and resolved (would be forwarded to the engine).
    pub invalid_forwarded: usize,
    /// Disputed `valid=yes` statements ([`DISPUTED`]).
    pub disputed_total: usize,
    /// Disputed statements refused with `sql.parse_error`, as Flink refuses them.
    pub disputed_refused: usize,
}

impl CorpusCounts {
    fn add(&mut self, o: &CorpusOutcome) {
        if o.disputed.is_some() {
            self.disputed_total += 1;
            self.disputed_refused += usize::from(o.error_code == Some("sql.parse_error"));
        } else if o.valid {
            self.valid_total += 1;
            self.valid_parsed += usize::from(o.parsed);
            self.valid_parsed_and_resolved += usize::from(o.resolved);
            self.valid_refused_by_name += usize::from(o.refused_by_name());
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

/// Renders the summary table (totals and per kind), then every failure (valid statements
/// that were refused, invalid or disputed ones that were not refused with a parse error), then
/// the disputed statements with the reason.
impl fmt::Display for CorpusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = |f: &mut fmt::Formatter<'_>, name: &str, c: &CorpusCounts| {
            writeln!(
                f,
                "{name:<16} {:>4}/{:<4} {:>4}/{:<4} {:>4}/{:<4} {:>4} {:>4}/{:<4}",
                c.valid_parsed,
                c.valid_total,
                c.valid_parsed_and_resolved,
                c.valid_total,
                c.invalid_refused,
                c.invalid_total,
                c.invalid_forwarded,
                c.disputed_refused,
                c.disputed_total
            )
        };
        writeln!(
            f,
            "{:<16} {:>9} {:>9} {:>9} {:>4} {:>9}",
            "kind", "parsed", "resolved", "inv.ref", "fwd", "disp.ref"
        )?;
        for (kind, c) in self.by_kind() {
            row(f, kind, &c)?;
        }
        row(f, "TOTAL", &self.totals())?;
        let sql = |o: &CorpusOutcome| o.sql.replace('\n', "\n    ");
        for o in self.outcomes.iter().filter(|o| o.is_failure()) {
            let verdict = match (o.valid, o.disputed.is_some()) {
                (true, false) => "valid, refused",
                (_, true) if o.resolved => "DISPUTED, FORWARDED",
                (_, true) => "disputed, refused but not as a parse error",
                (false, _) if o.resolved => "INVALID, FORWARDED",
                (false, _) => "invalid, refused but not as a parse error",
            };
            writeln!(
                f,
                "\n{} [{}] {verdict}: {}\n    {}",
                o.id,
                o.kind,
                o.error.as_deref().unwrap_or("-"),
                sql(o)
            )?;
        }
        for o in self.outcomes.iter().filter(|o| !o.is_failure()) {
            if let Some(why) = o.disputed {
                writeln!(
                    f,
                    "\n{} [{}] disputed (labelled valid; Flink refuses it too): {why}\n    refused: {}\n    {}",
                    o.id,
                    o.kind,
                    o.error.as_deref().unwrap_or("-"),
                    sql(o)
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
        kafka: None,
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
            disputed: if *valid == "yes" { disputed(id) } else { None },
            parsed: false,
            resolved: false,
            sql_kind: None,
            error_code: None,
            error: None,
            sql: sql.clone(),
        };
        match parse(&sql, &limits) {
            Err(e) => {
                o.error_code = Some(e.code().as_str());
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
                        o.error_code = Some(e.code().as_str());
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
    const MIN_VALID_PARSED_AND_RESOLVED: usize = 171;
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
        // Statements the gateway refuses by name (connector options, CREATE CATALOG, SET of
        // engine keys, ADD JAR) still parse: the grammar's coverage is both counts.
        println!(
            "valid statements refused by name: {}",
            t.valid_refused_by_name
        );
        assert!(
            t.valid_parsed_and_resolved + t.valid_refused_by_name >= MIN_VALID_PARSED_AND_RESOLVED,
            "coverage regressed: {} + {} refused by name < {MIN_VALID_PARSED_AND_RESOLVED}",
            t.valid_parsed_and_resolved,
            t.valid_refused_by_name
        );
        assert!(t.invalid_refused >= MIN_INVALID_REFUSED);
        assert_eq!(
            t.disputed_refused, t.disputed_total,
            "a disputed statement was accepted: fix the corpus or DISPUTED"
        );
        let failures: Vec<&str> = report
            .outcomes
            .iter()
            .filter(|o| o.is_failure())
            .map(|o| o.id.as_str())
            .collect();
        assert!(failures.is_empty(), "failures: {failures:?}");
    }

    /// Each dispute is exactly its stated reason: with that one slip corrected, the statement
    /// parses and resolves.
    #[test]
    fn disputed_statements_resolve_once_their_slip_is_corrected() {
        let Ok(tsv) = std::fs::read_to_string(CORPUS) else {
            return;
        };
        let report = measure(&tsv);
        let fixes: &[(&str, &str, &str)] = &[
            ("F157", "order_time,\nFROM", "order_time\nFROM"),
            ("F202", "A.price - 10\n", "A.price - 10,\n"),
        ];
        assert_eq!(fixes.len(), DISPUTED.len());
        for (id, from, to) in fixes {
            let o = report.outcomes.iter().find(|o| o.id == *id).unwrap();
            assert!(o.disputed.is_some() && !o.parsed, "{id}");
            let fixed = o.sql.replacen(from, to, 1);
            assert_ne!(fixed, o.sql, "{id}");
            let parsed = parse(&fixed, &ParseLimits::default())
                .unwrap_or_else(|e| panic!("{id}: {}", e.detail()));
            let r = resolve(parsed, &corpus_catalogs(), &corpus_session())
                .unwrap_or_else(|e| panic!("{id}: {}", e.detail()));
            assert_eq!(r.sql_kind(), "SELECT", "{id}");
        }
    }

    #[test]
    fn measure_counts_each_outcome() {
        let tsv = "id\tsource\tkind\tvalid\tr\tw\tsql\n\
                   a\ts\tquery\tyes\t\t\tSELECT * FROM orders\n\
                   b\ts\tquery\tyes\t\t\tSELECT * FROM nope.db.t\n\
                   c\ts\tcreate_table\tno\t\t\tCREATE TABLE t (a INT) WITH (...)\n\
                   d\ts\tquery\tyes\t\t\t\"SELECT \"\"x\"\"\\n FROM\\tt\"\n\
                   e\tbad row\n\
                   F157\ts\tquery\tyes\t\t\tSELECT a, FROM t\n";
        let r = measure(tsv);
        let t = r.totals();
        assert_eq!(t.valid_total, 3);
        assert_eq!(t.valid_parsed_and_resolved, 2);
        assert_eq!(t.invalid_total, 1);
        assert_eq!(t.invalid_refused, 1);
        assert_eq!(t.invalid_forwarded, 0);
        assert_eq!((t.disputed_total, t.disputed_refused), (1, 1));
        assert!(!r.outcomes[4].is_failure());
        assert_eq!(r.outcomes[3].sql, "SELECT \"x\"\n FROM\tt");
        assert_eq!(r.malformed_rows.len(), 1);
        assert_eq!(r.by_kind()["query"].valid_total, 3);
        let text = r.to_string();
        assert!(text.contains("TOTAL"), "{text}");
        assert!(text.contains("b [query] valid, refused"), "{text}");
        assert!(text.contains("F157 [query] disputed"), "{text}");
    }
}
