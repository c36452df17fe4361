//! Generated statements of every kind the gateway accepts, wide and deep, at random sizes
//! around and past the limits of `ParseLimits`, through parse → resolve → authorize → rewrite
//! → render (the `sql_pipeline` fuzz target's function, which asserts a clean answer at every
//! stage and the canonical round trip). Refusals past a limit must be limit refusals that
//! name the limit. Everything runs on a thread with the smallest stack the gateway gives any
//! walk over a statement (`pipeline.async_stack_bytes`, 32 MiB: the engine renders and drops
//! the rewritten statement there), so the bounds are shown to keep every walk in stack.
//!
//! Also: the largest statements the default limits accept, by shape, each parsed, resolved,
//! authorized and rewritten (`cargo test --test sql_shapes -- --nocapture` prints their sizes
//! and times).

use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use sqlgate::fuzzing::{on_stack, seeds::hostile_sql, sql_pipeline};
use sqlgate::pipeline::PipelineConfig;
use sqlgate::sql::{self, ParseLimits, SqlError};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Select,
    InsertSelect,
    CreateTableAs,
    CreateTable,
    CreateView,
    Drop,
    Show,
    Describe,
    Explain,
    StatementSet,
    WindowTvf,
}

/// What to build: a statement kind and the size of each amplifier.
#[derive(Debug, Clone)]
struct Plan {
    kind: Kind,
    /// Operands of an operator chain (`a + a + …`) in the WHERE clause.
    chain: usize,
    op: &'static str,
    /// Parentheses around that expression.
    nest: usize,
    /// `CASE WHEN … THEN` nested around it.
    case_nest: usize,
    /// Derived tables nested in FROM.
    subqueries: usize,
    /// `UNION ALL` branches.
    unions: usize,
    /// Items of the select list (or columns, or statements of a set).
    width: usize,
    /// CTEs, each reading the previous one.
    ctes: usize,
    /// Joins.
    joins: usize,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(vec![
        Kind::Select,
        Kind::InsertSelect,
        Kind::CreateTableAs,
        Kind::CreateTable,
        Kind::CreateView,
        Kind::Drop,
        Kind::Show,
        Kind::Describe,
        Kind::Explain,
        Kind::StatementSet,
        Kind::WindowTvf,
    ])
}

/// Mostly small, sometimes around `limit` (a little under and a little past it).
fn around(limit: usize, small: usize) -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0..small,
        2 => limit.saturating_sub(limit / 10)..limit + limit / 10 + 2,
    ]
}

fn plan() -> impl Strategy<Value = Plan> {
    let l = ParseLimits::default();
    (
        kind(),
        (
            around(l.max_depth, 30),
            prop::sample::select(vec!["+", "OR", "AND", "||", "*", "=", "-"]),
        ),
        around(l.recursion_limit, 6),
        around(l.recursion_limit, 3),
        around(l.recursion_limit, 4),
        around(l.max_depth, 6),
        prop_oneof![6 => 0..40usize, 2 => 1000..4000usize, 1 => 49_000..51_500usize],
        around(3000, 5),
        around(2000, 5),
    )
        .prop_map(
            |(kind, (chain, op), nest, case_nest, subqueries, unions, width, ctes, joins)| Plan {
                kind,
                chain,
                op,
                nest,
                case_nest,
                subqueries,
                unions,
                width,
                ctes,
                joins,
            },
        )
}

fn list(n: usize, item: impl Fn(usize) -> String, sep: &str) -> String {
    (0..n).map(item).collect::<Vec<_>>().join(sep)
}

impl Plan {
    fn expr(&self) -> String {
        let chain = list(
            self.chain.max(1),
            |_| "a".to_string(),
            &format!(" {} ", self.op),
        );
        let nested = format!("{}{chain}{}", "(".repeat(self.nest), ")".repeat(self.nest));
        format!(
            "{}{nested}{}",
            "CASE WHEN b THEN ".repeat(self.case_nest),
            " END".repeat(self.case_nest)
        )
    }

    fn select_list(&self) -> String {
        match self.width {
            0 => "*".into(),
            w => list(w, |i| format!("c{i}"), ", "),
        }
    }

    fn from(&self) -> String {
        let mut from = format!(
            "{}orders{}",
            "(SELECT * FROM ".repeat(self.subqueries),
            ") AS d".repeat(self.subqueries)
        );
        for i in 0..self.joins {
            from.push_str(&format!(" JOIN t{i} ON t{i}.k = orders.k"));
        }
        from
    }

    fn query(&self) -> String {
        let mut q = format!(
            "SELECT {} FROM {} WHERE {}",
            self.select_list(),
            self.from(),
            self.expr()
        );
        q.push_str(&" UNION ALL SELECT a FROM examples.marketplace.orders".repeat(self.unions));
        if self.ctes > 0 {
            let ctes = list(
                self.ctes,
                |i| match i {
                    0 => "c0 AS (SELECT * FROM orders)".to_string(),
                    i => format!("c{i} AS (SELECT * FROM c{})", i - 1),
                },
                ", ",
            );
            q = format!("WITH {ctes} {q}");
        }
        q
    }

    fn statement(&self) -> String {
        match self.kind {
            Kind::Select => self.query(),
            Kind::InsertSelect => format!("INSERT INTO sink {}", self.query()),
            Kind::CreateTableAs => format!("CREATE TABLE copy AS {}", self.query()),
            Kind::CreateView => format!("CREATE VIEW v AS {}", self.query()),
            Kind::Explain => format!("EXPLAIN {}", self.query()),
            Kind::CreateTable => {
                let types = [
                    "INT",
                    "STRING",
                    "DECIMAL(10, 2)",
                    "ARRAY<INT>",
                    "ROW<x INT, y STRING>",
                    "MAP<STRING, INT>",
                    "TIMESTAMP_LTZ(3)",
                ];
                let deep = format!("{}INT{}", "ARRAY<".repeat(self.nest), ">".repeat(self.nest));
                format!(
                    "CREATE TABLE t (k {deep}, {}) WITH ('connector' = 'kafka')",
                    list(
                        self.width.max(1),
                        |i| format!("c{i} {}", types[i % types.len()]),
                        ", "
                    )
                )
            }
            Kind::Drop => [
                "DROP TABLE IF EXISTS orders",
                "DROP VIEW v",
                "DROP TABLE main.t",
            ][self.width % 3]
                .into(),
            Kind::Show => [
                "SHOW TABLES",
                "SHOW DATABASES",
                "SHOW CATALOGS",
                "SHOW VIEWS",
                "SHOW FUNCTIONS",
                "SHOW CREATE TABLE orders",
                "SHOW TABLES FROM dev.main",
            ][self.width % 7]
                .into(),
            Kind::Describe => [
                "DESCRIBE orders",
                "DESCRIBE examples.marketplace.orders",
                "DESC EXTENDED `env-dev`.`lkc-dev`.t",
            ][self.width % 3]
                .into(),
            Kind::StatementSet => format!(
                "EXECUTE STATEMENT SET BEGIN {} END",
                list(
                    self.width.clamp(1, 20_000),
                    |i| format!(
                        "INSERT INTO s{i} SELECT * FROM {} WHERE {};",
                        self.from(),
                        if i == 0 { self.expr() } else { "TRUE".into() }
                    ),
                    " "
                )
            ),
            Kind::WindowTvf => format!(
                "SELECT window_start, {} FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR($rowtime), INTERVAL '10' MINUTES)) WHERE {} GROUP BY window_start, window_end",
                self.select_list(),
                self.expr()
            ),
        }
    }

    /// Whether the statement is certainly past a limit (with a margin for what surrounds the
    /// amplifier), and so must be refused with a limit refusal.
    fn certainly_past_a_limit(&self) -> bool {
        let l = ParseLimits::default();
        let has_query = !matches!(
            self.kind,
            Kind::Drop | Kind::Show | Kind::Describe | Kind::CreateTable
        );
        // Which amplifiers the kind's text uses: unions only where the whole query is used,
        // subqueries wherever `from()` is.
        let uses_query = matches!(
            self.kind,
            Kind::Select
                | Kind::InsertSelect
                | Kind::CreateTableAs
                | Kind::CreateView
                | Kind::Explain
        );
        let uses_from = uses_query || matches!(self.kind, Kind::StatementSet);
        let subqueries = if uses_from { self.subqueries } else { 0 };
        let unions = if uses_query { self.unions } else { 0 };
        let nesting = self.nest.max(self.case_nest).max(subqueries);
        let tokens_per_item = if matches!(self.kind, Kind::CreateTable) {
            3
        } else {
            2
        };
        (has_query
            && (self.chain > l.max_depth + 10
                || nesting > l.recursion_limit
                || unions > l.max_depth + 10))
            || (matches!(self.kind, Kind::CreateTable) && self.nest > l.max_depth)
            || (!matches!(
                self.kind,
                Kind::Drop | Kind::Show | Kind::Describe | Kind::StatementSet
            ) && self.width * tokens_per_item > l.max_tokens + 1000)
    }
}

/// The smallest stack the gateway gives a walk over a statement.
fn smallest_gateway_stack() -> usize {
    let p = PipelineConfig::default();
    p.worker_stack_bytes.min(p.async_stack_bytes)
}

fn is_limit_refusal(e: &SqlError) -> bool {
    match e {
        SqlError::TooLarge { .. } | SqlError::TooDeep { .. } => e.detail().contains("limit"),
        SqlError::TooComplex { limit, .. } => {
            e.detail().contains(&format!("limit is {limit}"))
                || e.detail().contains("too complex to parse")
        }
        _ => false,
    }
}

#[test]
fn generated_statements_of_every_kind_get_a_clean_answer_and_limits_are_named() {
    on_stack(smallest_gateway_stack(), || {
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/proptest-regressions/sql_shapes.txt"
            )))),
            ..Config::default()
        });
        let result = runner.run(&plan(), |p| {
            let text = p.statement();
            // Every stage answers cleanly (asserted inside, with the round trip).
            sql_pipeline(text.as_bytes());
            if p.certainly_past_a_limit() {
                match sql::parse(&text, &ParseLimits::default()) {
                    Ok(_) => prop_assert!(false, "accepted past a limit: {p:?}"),
                    Err(e) => prop_assert!(
                        is_limit_refusal(&e),
                        "refused past a limit without naming it: {} for {p:?}",
                        e.detail()
                    ),
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    });
}

/// The largest statements the default limits accept, one per shape (`largest-*` of the
/// hostile shapes: a 1 MiB string literal, 49,990 columns, 50 chains of 990 terms, 1,000
/// identifiers of 1,024 bytes, 991 UNION branches of 49 columns, 33,000 tables, 3,000
/// MATCH_RECOGNIZE … WITHIN, 12,000 INSERTs in a statement set, 9,000 CTEs): each is
/// parsed, resolved, authorized for an administrator and rewritten.
#[test]
fn the_largest_statements_within_the_limits_are_accepted() {
    on_stack(smallest_gateway_stack(), || {
        let catalogs = sqlgate::sql::corpus::corpus_catalogs();
        let session = sqlgate::sql::corpus::corpus_session();
        let limits = ParseLimits::default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let authorizer = rt
            .block_on(sqlgate::authz::Authorizer::load(
                &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
                std::sync::Arc::new(catalogs.clone()),
            ))
            .unwrap();
        let shapes: Vec<(&str, String)> = hostile_sql()
            .into_iter()
            .filter(|(n, _)| n.starts_with("largest-") || *n == "string-literal-1mib")
            .collect();
        assert!(shapes.len() >= 9);
        let placement = sqlgate::catalog::Placement {
            environment: "env-dev".into(),
            compute_pool: "lfcp-dev".into(),
            region: "aws.us-east-2".into(),
        };
        for (name, text) in shapes {
            let started = Instant::now();
            let parsed = sql::parse(&text, &limits)
                .unwrap_or_else(|e| panic!("{name} refused: {}", e.detail()));
            let resolved = sql::resolve(parsed, &catalogs, &session)
                .unwrap_or_else(|e| panic!("{name}: {}", e.detail()));
            let accesses = resolved.accesses().len();
            let authorized = authorizer
                .authorize("User:pool-admin", resolved, &placement)
                .unwrap_or_else(|e| panic!("{name}: {}", e.detail()));
            let rendered = sqlgate::rewrite::rewrite(authorized).unwrap().sql();
            println!(
                "{name}: {} bytes, {accesses} accesses, rendered {} bytes, {:?} (debug build)",
                text.len(),
                rendered.len(),
                started.elapsed()
            );
        }
    });
}
