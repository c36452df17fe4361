//! What the SQL stages cost per request: `cargo bench --bench pipeline`.
//!
//! * `corpus/parse` vs `corpus/full`: one pass over every valid statement of the Flink SQL
//!   corpus (`../shared/corpus/flink_sql_corpus.tsv`, or a small embedded list when it is
//!   absent) that makes it through the whole pipeline, parsed alone vs the request path's
//!   decision (`pipeline::decide`: parsed, resolved, authorized and rewritten). The principal
//!   holds a role permitting everything, so nothing is refused. `full` decides as the gateway
//!   does, with its decision memo (`pipeline/memo.rs`): the steady state of a gateway asked
//!   these statements before. `full-afresh` decides every statement through every stage
//!   (no decision memo; the authorizer's per-object memo is warm): what a statement costs the
//!   first time the gateway sees it.
//! * `authorize/{cold,cached}/{100,1000000}`: one decision (`SELECT` from one table) with 100 vs
//!   1,000,000 role bindings. Cold uses a table never asked about before in each iteration (a
//!   decision cache miss); cached asks about the same table every time. Statements are built
//!   outside the timed section.
//! * `data_policies/decide/{0,10,1000}`: the request path's decision (parse, resolve,
//!   authorize, rewrite; no decision memo) of a join of two tables with 0, 10 and 1,000 row filters and column
//!   masks in force, two of which apply (one filter, one mask).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use sqlgate::authz::Authorizer;
use sqlgate::catalog::Catalogs;
use sqlgate::metrics::MemoMetrics;
use sqlgate::pipeline::{Decider, DecisionMemo, MemoConfig, Placement, Request, decide};
use sqlgate::sql::corpus::{corpus_catalogs, corpus_session, measure};
use sqlgate::sql::{ParseLimits, ResolvedStatement, SessionNames, parse, resolve};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/corpus/flink_sql_corpus.tsv"
);
const MODEL: &str = include_str!("../policies/model.conf");
const ROLES: &str = include_str!("../policies/roles.csv");
const PRINCIPAL: &str = "User:bench";
const ENV: &str = "env-dev";
const REGION: &str = "aws.us-east-2";
const ORG_CRN: &str = "crn://confluent.cloud/organization=org-dev";
const CLUSTER_CRN: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev";

/// Used when the corpus file is absent: one statement of each main shape.
const FALLBACK: &[&str] = &[
    "SELECT * FROM orders",
    "SELECT o.id, c.name FROM orders o JOIN customers c ON o.cid = c.id WHERE o.amount > 10",
    "WITH big AS (SELECT * FROM orders WHERE amount > 100) SELECT count(*) FROM big",
    "SELECT window_start, SUM(price) FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(ts), INTERVAL '10' MINUTES)) GROUP BY window_start, window_end",
    "INSERT INTO sink SELECT id, amount FROM orders WHERE amount IN (SELECT amount FROM limits)",
    "CREATE TABLE t (id INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'kafka')",
    "ALTER TABLE t SET ('k' = 'v')",
    "SHOW TABLES",
    "DESCRIBE orders",
    "SELECT * FROM Ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES C.rowtime AS t PATTERN (A B* C) WITHIN INTERVAL '1' HOUR DEFINE B AS B.price > A.price, C AS C.price < A.price)",
];

/// Builds the authorizer in a throwaway runtime (loading is async; deciding is not).
fn authorizer(roles: &str, bindings: &str, catalogs: Catalogs) -> Authorizer {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
        .block_on(Authorizer::from_texts(
            MODEL,
            roles,
            bindings,
            Arc::new(catalogs),
        ))
        .expect("bench policy loads")
}

/// Every statement runs on the default pool of `env-dev`.
fn placement() -> Placement {
    Placement {
        environment: ENV.into(),
        compute_pool: "lfcp-dev".into(),
        region: REGION.into(),
    }
}

fn resolved(sql: &str, catalogs: &Catalogs, session: &SessionNames) -> ResolvedStatement {
    let parsed = parse(sql, &ParseLimits::default()).expect("parses");
    resolve(parsed, catalogs, session).expect("resolves")
}

// === parse alone vs the whole pipeline, over the corpus ===

fn corpus(c: &mut Criterion) {
    let catalogs = corpus_catalogs();
    let session = corpus_session();
    // Everything on every object: the benchmark measures the stages, not refusals.
    let roles = format!("{ROLES}\np, BenchAll, *, *\n");
    let authz = authorizer(
        &roles,
        &format!("{PRINCIPAL}, BenchAll, {ORG_CRN}\n"),
        catalogs.clone(),
    );
    let limits = ParseLimits::default();
    let candidates: Vec<String> = match std::fs::read_to_string(CORPUS) {
        Ok(tsv) => measure(&tsv)
            .outcomes
            .into_iter()
            .filter(|o| o.valid && o.disputed.is_none() && o.resolved)
            .map(|o| o.sql)
            .collect(),
        Err(_) => {
            eprintln!(
                "note: {CORPUS} not found; using {} embedded statements",
                FALLBACK.len()
            );
            FALLBACK.iter().map(|s| s.to_string()).collect()
        }
    };
    let memo = DecisionMemo::new(
        limits.clone(),
        &MemoConfig::default(),
        MemoMetrics::default(),
    )
    .expect("the default memo keeps decisions");
    let afresh = Decider {
        authorizer: &authz,
        catalogs: &catalogs,
        limits: &limits,
        redact_sql: true,
        memo: None,
    };
    let memoized = Decider {
        memo: Some(&memo),
        ..afresh
    };
    let placement = placement();
    // What the request path does with a statement, up to the engine.
    let full = |decider: &Decider<'_>, sql: &str| -> Option<String> {
        let request = Request {
            principal: PRINCIPAL.into(),
            text: sql.into(),
            session: session.clone(),
            placement: placement.clone(),
            claims: Default::default(),
        };
        Some(decide(decider, &request).outcome.ok()?.sql())
    };
    let statements: Vec<&str> = candidates
        .iter()
        .map(String::as_str)
        .filter(|sql| full(&afresh, sql).is_some())
        .collect();
    eprintln!(
        "corpus: {} of {} statements pass the whole pipeline",
        statements.len(),
        candidates.len()
    );
    let mut g = c.benchmark_group(format!("corpus ({} statements)", statements.len()));
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.bench_function("parse", |b| {
        b.iter(|| {
            for sql in &statements {
                black_box(parse(black_box(sql), &limits).ok());
            }
        })
    });
    g.bench_function("full", |b| {
        b.iter(|| {
            for sql in &statements {
                black_box(full(&memoized, black_box(sql)));
            }
        })
    });
    g.bench_function("full-afresh", |b| {
        b.iter(|| {
            for sql in &statements {
                black_box(full(&afresh, black_box(sql)));
            }
        })
    });
    g.finish();
}

// === one decision, 100 vs 1,000,000 role bindings ===

/// `total` bindings: the tested principal's two (run statements in env-dev, read its topics)
/// and one DeveloperRead binding on its own topic for each of `total - 2` other principals.
fn bindings(total: usize) -> String {
    let mut text = String::with_capacity(total * 160);
    text.push_str(&format!(
        "{PRINCIPAL}, FlinkDeveloper, {ORG_CRN}/environment=env-dev\n\
         {PRINCIPAL}, DeveloperRead, {CLUSTER_CRN}/topic=*\n"
    ));
    for i in 0..total.saturating_sub(2) {
        text.push_str(&format!(
            "User:u{i}, DeveloperRead, {CLUSTER_CRN}/topic=t{i}\n"
        ));
    }
    text
}

/// Both cases time each decision alone (`BatchSize::PerIteration`): in batches, criterion
/// moves every output (an `AuthorizedStatement`, which carries the resolved AST) into a fresh
/// vector inside the timed section, and the page faults on that memory (more of them on the
/// heap a 1,000,000-binding policy leaves) were most of what a cached decision seemed to cost.
fn authorize(c: &mut Criterion) {
    let catalogs = corpus_catalogs();
    let session = corpus_session();
    let mut g = c.benchmark_group("authorize");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let placement = placement();
    for total in [100usize, 1_000_000] {
        let authz = authorizer(ROLES, &bindings(total), catalogs.clone());
        // Cold: a table nobody asked about before, so the decision cache misses.
        let next = AtomicU64::new(0);
        g.bench_with_input(BenchmarkId::new("cold", total), &total, |b, _| {
            b.iter_batched(
                || {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    resolved(&format!("SELECT * FROM cold_{n}"), &catalogs, &session)
                },
                |r| black_box(authz.authorize(PRINCIPAL, r, &placement).expect("granted")),
                BatchSize::PerIteration,
            )
        });
        // Cached: the same table every time (a resolved statement is not `Clone`: the setup,
        // which is not measured, resolves it again).
        let warm = || resolved("SELECT * FROM orders", &catalogs, &session);
        authz
            .authorize(PRINCIPAL, warm(), &placement)
            .expect("granted");
        g.bench_with_input(BenchmarkId::new("cached", total), &total, |b, _| {
            b.iter_batched(
                warm,
                |r| black_box(authz.authorize(PRINCIPAL, r, &placement).expect("granted")),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

// === decision + rewrite with 0, 10 and 1,000 data policies ===

/// `total` data policies: a row filter on `orders` and a mask on `customers` that apply to
/// the principal, and `total - 2` others, alternately filters and masks on other topics.
fn data_policies(total: usize) -> String {
    let mut text = String::new();
    if total >= 2 {
        text.push_str(&format!(
            "[[row_filter]]\nname = \"orders\"\ntable = \"{CLUSTER_CRN}/topic=orders\"\n\
             principals = [\"*\"]\nfilter = \"region = 'EU' AND tenant = {{{{claims.tenant}}}}\"\n\n\
             [[column_mask]]\nname = \"email\"\ntable = \"{CLUSTER_CRN}/topic=customers\"\n\
             column = \"name\"\nprincipals = [\"*\"]\nmask = \"CONCAT('***', SUBSTRING(name FROM 4))\"\n\n"
        ));
    }
    for i in 0..total.saturating_sub(2) {
        if i % 2 == 0 {
            text.push_str(&format!(
                "[[row_filter]]\nname = \"f{i}\"\ntable = \"{CLUSTER_CRN}/topic=t{i}\"\n\
                 principals = [\"User:u{i}\"]\nfilter = \"tenant = {{{{claims.tenant}}}}\"\n\n"
            ));
        } else {
            text.push_str(&format!(
                "[[column_mask]]\nname = \"m{i}\"\ntable = \"{CLUSTER_CRN}/topic=t{i}\"\n\
                 column = \"c\"\nprincipals = [\"*\"]\nmask = \"NULL\"\n\n"
            ));
        }
    }
    text
}

fn with_data_policies(c: &mut Criterion) {
    let catalogs = corpus_catalogs();
    let session = corpus_session();
    let limits = ParseLimits::default();
    let placement = placement();
    let mut g = c.benchmark_group("data_policies");
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let sql =
        "SELECT o.id, c.name FROM orders o JOIN customers c ON o.cid = c.id WHERE o.amount > 10";
    for total in [0usize, 10, 1_000] {
        let texts = sqlgate::authz::PolicyTexts {
            model: MODEL.into(),
            roles: ROLES.into(),
            bindings: bindings(2),
            data_policies: data_policies(total),
        };
        let authz = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime")
            .block_on(Authorizer::from_policy_texts(
                texts,
                Arc::new(catalogs.clone()),
            ))
            .expect("bench policy loads");
        assert_eq!(authz.data_policies().1.len(), total);
        let decider = Decider {
            authorizer: &authz,
            catalogs: &catalogs,
            limits: &limits,
            redact_sql: true,
            // Every stage each time: what the policies cost, not the memo.
            memo: None,
        };
        let request = Request {
            principal: PRINCIPAL.into(),
            text: sql.into(),
            session: session.clone(),
            placement: placement.clone(),
            claims: [("tenant".to_string(), "t1".to_string())].into(),
        };
        let applied = decide(&decider, &request)
            .outcome
            .expect("allowed")
            .data_policies()
            .len();
        assert_eq!(applied, if total == 0 { 0 } else { 2 });
        g.bench_with_input(BenchmarkId::new("decide", total), &total, |b, _| {
            b.iter(|| black_box(decide(&decider, black_box(&request)).outcome.is_ok()))
        });
    }
    g.finish();
}

criterion_group!(benches, corpus, authorize, with_data_policies);
criterion_main!(benches);
