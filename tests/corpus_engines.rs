//! Two tests over the Flink SQL corpus.
//!
//! [`the_embedded_engine_refuses_by_name_what_it_does_not_run`] is a check, in the README's
//! test command: every valid corpus statement the embedded engine does not run is refused
//! with a detail that names what is not supported (or is the statement's own error on the
//! fixture's tables, [`OWN_ERRORS`]), and no detail shows a syntax tree, a plan or a type dump.
//!
//! [`measure_corpus_runs_on_flink_and_embedded`] is a measurement: the share of the valid statements of the Flink SQL corpus
//! (`../shared/corpus/flink_sql_corpus.tsv`, or the file `SQLGATE_CORPUS` names) that *run*
//! once their tables exist, on the Flink engine and on the embedded engine.
//!
//! For each engine: a gateway of its own (real TLS) on a Kafka broker and a registry of its
//! own (real Apache Kafka and Apicurio Registry, `scripts/dev-stack.sh`), its default pool on the shared Flink
//! or on the embedded engine. The tables of `tests/fixtures/corpus/tables.sql` are created
//! through sqlgate; then every valid corpus statement is created by an administrator (so
//! authorization is not what is measured). A statement *runs* when it reaches COMPLETED, or
//! RUNNING and is not FAILED [`HOLD`] later; it is then deleted (which stops its job).
//!
//! Order: first the statements that leave the tables as they are (queries, inserts, SHOW,
//! DESCRIBE, EXPLAIN, views of new names, …), in corpus order; then those that change or
//! create tables (ALTER, DROP, TRUNCATE, CREATE TABLE, CTAS, a view over a fixture name), each
//! on fresh tables: the table it changes re-created from the fixture, the names it creates
//! dropped first (harness statements, not counted).
//!
//! Statements that need what sqlgate does not offer (catalogs and databases of Flink's docs,
//! connectors other than Kafka, user functions, partitioned tables) are not sent: they are
//! counted apart with the reason ([`UNOFFERED`]). Refusals by name (`sql.option_not_allowed`,
//! …) are correct refusals and are counted apart too.
//!
//! `cargo test --test corpus_engines -- --ignored --nocapture`

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::flink::{self, create, phase};
use common::{Cred, TestGateway, admin, broker, registry};

/// How long a statement may take to reach RUNNING or COMPLETED (a pool slot, Flink's planner
/// and job submission on a busy machine).
const START: Duration = Duration::from_secs(45);
/// How long a RUNNING statement must stay not FAILED to count as running.
const HOLD: Duration = Duration::from_secs(3);
/// The whole measurement, both engines (statements past it are listed as not measured).
const TOTAL: Duration = Duration::from_secs(14 * 60);

/// Statements not sent, by what in their text (lower-cased) needs what sqlgate does not offer.
const UNOFFERED: &[(&str, &str)] = &[
    (
        "catalog1",
        "a catalog of Flink's docs (`catalog1`) that is no environment here",
    ),
    (
        "default_catalog",
        "Flink's `default_catalog`, which sqlgate does not declare",
    ),
    (
        "cat1",
        "a catalog of Flink's docs (`cat1`) that is no environment here",
    ),
    (
        "cat2",
        "a catalog of Flink's docs (`cat2`) that is no environment here",
    ),
    (
        "db1",
        "a database of Flink's docs (`db1`) that is no cluster here",
    ),
    (
        "'datagen'",
        "the `datagen` connector (tables are Kafka topics)",
    ),
    (
        "datagensource",
        "a `datagen` table (tables are Kafka topics)",
    ),
    ("'jdbc'", "the `jdbc` connector (tables are Kafka topics)"),
    (
        "'filesystem'",
        "the `filesystem` connector (tables are Kafka topics)",
    ),
    (
        "table_func",
        "a user table function (functions from JARs are refused)",
    ),
    (
        "pretty_print",
        "a user function (functions from JARs are refused)",
    ),
    (
        "partition (",
        "partitioned tables (Kafka topics have no partition columns)",
    ),
    (
        "show partitions",
        "partitioned tables (Kafka topics have no partition columns)",
    ),
];

/// One valid corpus statement with the corpus's hints.
#[derive(Debug, Clone)]
struct Stmt {
    id: String,
    kind: String,
    sql: String,
    reads: Vec<String>,
    writes: Vec<String>,
}

/// What happened to a statement on one engine.
#[derive(Debug, Clone)]
enum Outcome {
    /// COMPLETED, or RUNNING and not FAILED after [`HOLD`].
    Runs(&'static str),
    /// Refused by name (a correct refusal).
    RefusedByName(String),
    /// Refused at create (`status code: detail`) or FAILED (`detail`), or no start in time.
    Fails(String),
    /// Not sent: the total time bound was reached.
    NotMeasured,
}

fn corpus_path() -> String {
    std::env::var("SQLGATE_CORPUS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/flink_sql_corpus.tsv"
        )
        .to_string()
    })
}

/// The valid (and not disputed) statements, with the read/write hints of the corpus.
fn valid_statements(tsv: &str) -> Vec<Stmt> {
    let hints: BTreeMap<&str, (&str, &str)> = tsv
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 7).then(|| (f[0], (f[4], f[5])))
        })
        .collect();
    let names = |s: &str| -> Vec<String> {
        s.split(',')
            .map(|n| n.trim().trim_matches('`').to_string())
            .filter(|n| !n.is_empty())
            .collect()
    };
    sqlgate::sql::corpus::measure(tsv)
        .outcomes
        .into_iter()
        .filter(|o| o.valid && o.disputed.is_none())
        .map(|o| {
            let (r, w) = hints.get(o.id.as_str()).copied().unwrap_or(("", ""));
            Stmt {
                id: o.id,
                kind: o.kind,
                sql: o.sql,
                reads: names(r),
                writes: names(w),
            }
        })
        .collect()
}

/// Why a statement is not sent, if it needs what sqlgate does not offer.
fn unoffered(s: &Stmt) -> Option<&'static str> {
    UNOFFERED
        .iter()
        .find(|(needle, _)| s.sql.to_lowercase().contains(needle))
        .map(|(_, why)| *why)
}

/// `(table name, CREATE TABLE …)` of the fixture file.
fn fixture() -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/corpus/tables.sql"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    body.split(";\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let s = s.trim_end_matches(';').to_string();
            let name = s["CREATE TABLE ".len()..]
                .split(|c: char| c == '(' || c.is_whitespace())
                .next()
                .unwrap()
                .to_string();
            (name, s)
        })
        .collect()
}

/// Whether a statement changes or creates tables (run last, each on fresh tables).
fn changes_tables(s: &Stmt, fixture: &BTreeSet<String>) -> bool {
    matches!(s.kind.as_str(), "alter" | "drop" | "create_table" | "ctas")
        || (matches!(s.kind.as_str(), "create_view" | "other")
            && s.writes.iter().any(|w| fixture.contains(w)))
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    match line.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

/// One engine's gateway, its administrator and the tables that exist.
struct Run {
    gw: TestGateway,
    cred: Cred,
    label: &'static str,
    fixture: Vec<(String, String)>,
    n: usize,
}

fn props() -> Value {
    json!({"sql.current-catalog": "env-dev", "sql.current-database": "lkc-dev"})
}

impl Run {
    async fn delete(&self, name: &str) {
        let url = format!("{}/statements/{name}", self.gw.base());
        let _ = self.cred.apply(self.gw.client().delete(url)).send().await;
    }

    /// Creates statement `sql` and follows it (see the module doc); deletes it after.
    async fn run(&mut self, sql: &str) -> Outcome {
        self.n += 1;
        let name = format!("{}-{}", self.label, self.n);
        let (status, v) = create(&self.gw, &self.cred, &name, sql, None, props()).await;
        if status != 200 {
            let code = v["errors"][0]["code"].as_str().unwrap_or("").to_string();
            let detail = common::detail(&v);
            if matches!(
                code.as_str(),
                "sql.option_not_allowed" | "sql.statement_not_allowed" | "sql.hint_not_allowed"
            ) {
                return Outcome::RefusedByName(format!("{code}: {detail}"));
            }
            return Outcome::Fails(format!("refused {status} {code}: {detail}"));
        }
        let deadline = Instant::now() + START;
        let outcome = loop {
            let (p, detail) = phase(&self.gw, &self.cred, &name).await;
            match p.as_str() {
                "COMPLETED" => break Outcome::Runs("COMPLETED"),
                "FAILED" | "STOPPED" => break Outcome::Fails(detail),
                "RUNNING" => {
                    tokio::time::sleep(HOLD).await;
                    let (p, detail) = phase(&self.gw, &self.cred, &name).await;
                    break match p.as_str() {
                        "FAILED" => Outcome::Fails(detail),
                        "COMPLETED" => Outcome::Runs("COMPLETED"),
                        _ => Outcome::Runs("RUNNING"),
                    };
                }
                _ if Instant::now() > deadline => {
                    break Outcome::Fails(format!(
                        "not RUNNING within {START:?} ({p}: {})",
                        first_line(&detail)
                    ));
                }
                _ => tokio::time::sleep(Duration::from_millis(150)).await,
            }
        };
        self.delete(&name).await;
        outcome
    }

    /// A harness statement (fixture DDL); prints what did not work.
    async fn setup(&mut self, sql: &str) -> bool {
        match self.run(sql).await {
            Outcome::Runs(_) => true,
            o => {
                eprintln!(
                    "[{}] setup `{}` did not run: {o:?}",
                    self.label,
                    first_line(sql)
                );
                false
            }
        }
    }

    fn fixture_ddl(&self, table: &str) -> Option<String> {
        self.fixture
            .iter()
            .find(|(n, _)| n == table)
            .map(|(_, ddl)| ddl.clone())
    }

    /// Fresh tables for a statement that changes tables: the table it changes (its first
    /// written name, for ALTER/DROP/TRUNCATE) re-created from the fixture, the names it
    /// creates or renames to dropped, the tables it reads present.
    async fn fresh_tables(&mut self, s: &Stmt, exists: &mut BTreeSet<String>) {
        let creates = matches!(s.kind.as_str(), "create_table" | "ctas" | "create_view");
        for (i, w) in s.writes.iter().enumerate() {
            if exists.remove(w) {
                self.setup(&format!("DROP TABLE `{w}`")).await;
            }
            if !creates
                && i == 0
                && let Some(ddl) = self.fixture_ddl(w)
                && self.setup(&ddl).await
            {
                exists.insert(w.clone());
            }
        }
        for r in &s.reads {
            if !exists.contains(r)
                && let Some(ddl) = self.fixture_ddl(r)
                && self.setup(&ddl).await
            {
                exists.insert(r.clone());
            }
        }
    }

    /// Runs the fixture, then the statements (see the module doc).
    async fn measure(&mut self, stmts: &[Stmt], until: Instant) -> Vec<(Stmt, Outcome)> {
        let started = Instant::now();
        let mut exists = BTreeSet::new();
        for (name, ddl) in self.fixture.clone() {
            if self.setup(&ddl).await {
                exists.insert(name);
            }
        }
        eprintln!(
            "[{}] {} of {} fixture tables in {:.0}s",
            self.label,
            exists.len(),
            self.fixture.len(),
            started.elapsed().as_secs_f64()
        );
        let names: BTreeSet<String> = self.fixture.iter().map(|(n, _)| n.clone()).collect();
        let (later, first): (Vec<&Stmt>, Vec<&Stmt>) =
            stmts.iter().partition(|s| changes_tables(s, &names));
        let mut out = Vec::new();
        for s in first.into_iter().chain(later) {
            let o = if Instant::now() > until {
                Outcome::NotMeasured
            } else {
                if changes_tables(s, &names) {
                    self.fresh_tables(s, &mut exists).await;
                }
                let o = self.run(&s.sql).await;
                if matches!(o, Outcome::Runs(_)) {
                    // What it created now exists; a DROP or RENAME took its table away.
                    let creates = matches!(s.kind.as_str(), "create_table" | "ctas");
                    for (i, w) in s.writes.iter().enumerate() {
                        if creates || (s.kind == "alter" && i > 0) {
                            exists.insert(w.clone());
                        } else if s.kind == "drop" || s.kind == "alter" && s.writes.len() > 1 {
                            exists.remove(w);
                        }
                    }
                }
                o
            };
            out.push((s.clone(), o));
        }
        eprintln!(
            "[{}] measured in {:.0}s",
            self.label,
            started.elapsed().as_secs_f64()
        );
        out
    }
}

/// Prints one engine's figures: runs / valid, refused by name, fails grouped by detail.
fn report(label: &str, valid: usize, apart: usize, outcomes: &[(Stmt, Outcome)]) {
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
    let runs = count(|o| matches!(o, Outcome::Runs(_)));
    let completed = count(|o| matches!(o, Outcome::Runs("COMPLETED")));
    let by_name = count(|o| matches!(o, Outcome::RefusedByName(_)));
    let fails = count(|o| matches!(o, Outcome::Fails(_)));
    let unmeasured = count(|o| matches!(o, Outcome::NotMeasured));
    println!(
        "\n== {label}: runs {runs}/{valid} valid statements ({:.0}%; {runs}/{} of those sent; \
         {completed} COMPLETED, {} RUNNING); refused by name {by_name}; needs what sqlgate does \
         not offer {apart}; fails {fails}; not measured (time) {unmeasured}",
        100.0 * runs as f64 / valid as f64,
        outcomes.len(),
        runs - completed
    );
    let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut refused: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut kinds: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (s, o) in outcomes {
        let k = kinds.entry(s.kind.as_str()).or_default();
        k.1 += 1;
        match o {
            Outcome::Runs(_) => k.0 += 1,
            Outcome::Fails(d) => groups.entry(first_line(d)).or_default().push(&s.id),
            Outcome::RefusedByName(d) => refused.entry(first_line(d)).or_default().push(&s.id),
            Outcome::NotMeasured => {}
        }
    }
    let kinds: Vec<String> = kinds
        .iter()
        .map(|(k, (r, n))| format!("{k} {r}/{n}"))
        .collect();
    println!("runs by kind (of those sent): {}", kinds.join(", "));
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by_key(|(_, ids)| std::cmp::Reverse(ids.len()));
    println!("fails, by status.detail:");
    for (detail, ids) in groups {
        println!("  {:>3}  {detail}\n       {}", ids.len(), ids.join(" "));
    }
    println!("refused by name:");
    for (detail, ids) in refused {
        println!("  {:>3}  {detail}\n       {}", ids.len(), ids.join(" "));
    }
}

/// The valid corpus statements sqlgate offers what they need (the others counted apart).
fn sent_statements(stmts: &[Stmt]) -> Vec<Stmt> {
    stmts
        .iter()
        .filter(|s| unoffered(s).is_none())
        .cloned()
        .collect()
}

/// Runs `sent` on a gateway of its own whose default pool is `label`'s engine (`flink` or
/// `embedded`), on a Kafka broker and registry of its own.
async fn measure_engine(
    label: &'static str,
    sent: &[Stmt],
    until: Instant,
) -> Vec<(Stmt, Outcome)> {
    let kafka = broker::start().await;
    let reg = registry::start().await;
    let k = flink::kafka(&kafka.bootstrap, &reg.url);
    let f = match label {
        "flink" => Some(flink::shared().await),
        _ => None,
    };
    let gw = TestGateway::start_with(|c| match f {
        Some(f) => flink::on_flink(c, k, f),
        None => c.environments[0].clusters[0].kafka = Some(k),
    })
    .await;
    let cred = admin(&gw);
    let mut run = Run {
        gw,
        cred,
        label,
        fixture: fixture(),
        n: 0,
    };
    let outcomes = run.measure(sent, until).await;
    run.gw.stop().await;
    drop((kafka, reg));
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement; run it with --ignored --nocapture"]
async fn measure_corpus_runs_on_flink_and_embedded() {
    let path = corpus_path();
    let tsv = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (set SQLGATE_CORPUS to the corpus TSV)"));
    let stmts = valid_statements(&tsv);
    let (apart, sent): (Vec<&Stmt>, Vec<&Stmt>) =
        stmts.iter().partition(|s| unoffered(s).is_some());
    let sent: Vec<Stmt> = sent.into_iter().cloned().collect();
    println!(
        "{} valid statements (disputed ones excepted); {} need what sqlgate does not offer:",
        stmts.len(),
        apart.len()
    );
    let mut why: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in &apart {
        why.entry(unoffered(s).unwrap()).or_default().push(&s.id);
    }
    for (reason, ids) in &why {
        println!("  {:>3}  {reason}\n       {}", ids.len(), ids.join(" "));
    }

    let until = Instant::now() + TOTAL;
    // `SQLGATE_CORPUS_ENGINES=embedded` measures the embedded engine alone (no Flink needed).
    let engines =
        std::env::var("SQLGATE_CORPUS_ENGINES").unwrap_or_else(|_| "flink,embedded".into());
    let mut results = Vec::new();
    for label in ["flink", "embedded"] {
        if !engines.split(',').any(|e| e.trim() == label) {
            continue;
        }
        // Flink gets two thirds of the time bound when both run, the embedded engine the rest.
        let engine_until = match label {
            "flink" if engines.contains("embedded") => until - TOTAL / 3,
            _ => until,
        };
        results.push((label, measure_engine(label, &sent, engine_until).await));
    }
    for (label, outcomes) in &results {
        report(label, stmts.len(), apart.len(), outcomes);
    }
}

/// Corpus statements that fail on the embedded engine because of what they say, not because
/// of what it lacks: the statement is wrong for the fixture's tables (and would be on Flink).
const OWN_ERRORS: &[(&str, &str)] = &[
    (
        "F145",
        "3 values for the docs' 3-column Orders; the fixture's Orders has more columns",
    ),
    (
        "F268",
        "2 columns into the docs' my_ctas_table, which the fixture gives 6",
    ),
    (
        "F019",
        "3 columns into the docs' my_ctas_table, which the fixture gives 6",
    ),
    (
        "F023",
        "3 columns into the docs' my_rtas_table, which the fixture gives 6",
    ),
    (
        "F089",
        "SHOW COLUMNS of the docs' `orders`, F087's datagen table that sqlgate does not create; \
         the fixture's is `Orders` (names are case-sensitive, so Flink does not find it either)",
    ),
    (
        "F090",
        "SHOW COLUMNS … LIKE of the docs' `orders` (F089's reason)",
    ),
];

/// Signs of a Rust debug dump, a DataFusion plan or a syntax tree in a detail.
const DUMPS: &[&str] = &[
    " { ",
    "Some(",
    "Ident",
    "ObjectName",
    "quote_style",
    "span:",
    "Exec {",
    "Column {",
    "Utf8",
    "Int64",
    "LogicalPlan",
    "TableScan:",
    "Projection:",
];

/// What a detail says when it names what is not supported or not allowed.
const NAMES_WHAT: &[&str] = &[
    "does not support",
    "does not run",
    "has no function",
    "is not supported",
    "is not allowed",
    "not allowed through this gateway",
    " may not ",
    "cannot be",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_embedded_engine_refuses_by_name_what_it_does_not_run() {
    let tsv = std::fs::read_to_string(corpus_path()).expect("the corpus TSV");
    let stmts = valid_statements(&tsv);
    let sent = sent_statements(&stmts);
    assert!(sent.len() > 100, "{} statements", sent.len());
    let outcomes = measure_engine("embedded", &sent, Instant::now() + TOTAL).await;
    report("embedded", stmts.len(), stmts.len() - sent.len(), &outcomes);
    let mut bad = Vec::new();
    for (s, o) in &outcomes {
        let detail = match o {
            Outcome::Runs(_) => continue,
            Outcome::NotMeasured => {
                bad.push(format!("{}: not measured within {TOTAL:?}", s.id));
                continue;
            }
            Outcome::Fails(d) | Outcome::RefusedByName(d) => d,
        };
        if let Some(dump) = DUMPS.iter().find(|d| detail.contains(*d)) {
            bad.push(format!("{}: a dump (`{dump}`) in: {detail}", s.id));
        } else if !NAMES_WHAT.iter().any(|w| detail.contains(w))
            && !OWN_ERRORS.iter().any(|(id, _)| *id == s.id)
        {
            bad.push(format!(
                "{}: does not name what is unsupported: {detail}",
                s.id
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} statements:\n{}",
        bad.len(),
        bad.join("\n")
    );
    // The statements the fixture excuses do fail (else they belong in the count of runs).
    for (id, why) in OWN_ERRORS {
        let o = outcomes.iter().find(|(s, _)| s.id == *id);
        assert!(
            matches!(o, Some((_, Outcome::Fails(_)))),
            "{id} ({why}) no longer fails: {o:?}"
        );
    }
}
