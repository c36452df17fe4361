//! The shapes of issue 10's reproducers and their relatives: each is refused with a clear
//! error naming its limit, or parsed, and never crashes or stalls the parser.

use std::time::{Duration, Instant};

use datafusion::sql::sqlparser::tokenizer::Tokenizer;

use super::{Bound, measure_tokens};
use crate::sql::{FlinkDialect, ParseLimits, SqlError, parse};

fn refusal(sql: &str) -> SqlError {
    parse(sql, &ParseLimits::default()).expect_err("refused")
}

fn bound_of(e: &SqlError) -> Option<Bound> {
    match e {
        SqlError::TooComplex { bound, .. } => Some(*bound),
        _ => None,
    }
}

/// Parses within a generous deadline (the unbounded parser took minutes on these).
fn parse_quickly(sql: &str) -> Result<(), SqlError> {
    let started = Instant::now();
    let result = parse(sql, &ParseLimits::default()).map(|_| ());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "parse took {:?} for {} bytes",
        started.elapsed(),
        sql.len()
    );
    result
}

fn depth_of(sql: &str) -> usize {
    let tokens = Tokenizer::new(&FlinkDialect, sql)
        .tokenize_with_location()
        .unwrap();
    measure_tokens(&tokens).depth
}

#[test]
fn long_operator_chains_are_refused_by_depth_with_the_limit_named() {
    for (what, sql) in [
        ("+", format!("SELECT {}1", "1+".repeat(1750))),
        (
            "OR",
            format!("SELECT * FROM t WHERE {}a", "a OR ".repeat(5000)),
        ),
        ("||", format!("SELECT {}'x'", "'x' || ".repeat(5000))),
        ("::", format!("SELECT 1{}", "::INT".repeat(2000))),
        (
            "AND",
            format!("SELECT * FROM t WHERE {}TRUE", "b = 1 AND ".repeat(1200)),
        ),
    ] {
        let e = refusal(&sql);
        assert_eq!(bound_of(&e), Some(Bound::Depth), "{what}: {e:?}");
        assert_eq!(e.code(), "sql.too_deep", "{what}");
        let detail = e.detail();
        assert!(
            detail.contains("the limit is 1000") && detail.contains("expression depth"),
            "{what}: {detail}"
        );
    }
}

#[test]
fn chains_within_the_limit_parse() {
    for sql in [
        format!("SELECT {}1", "1+".repeat(900)),
        format!("SELECT * FROM t WHERE {}a", "a OR ".repeat(900)),
        format!("SELECT 1 {}", "UNION ALL SELECT 1 ".repeat(500)),
    ] {
        parse_quickly(&sql).unwrap_or_else(|e| panic!("{}: {e:?}", &sql[..40]));
    }
}

#[test]
fn the_token_bound_is_close_to_the_real_depth_and_resets_at_commas() {
    assert!((100..=103).contains(&depth_of(&format!("SELECT {}1", "1+".repeat(100)))));
    // Wide but shallow: 5,000 columns of `a+b` is depth 3, not 5,000.
    let wide = format!("SELECT {}1", "a + b, ".repeat(5000));
    assert!(depth_of(&wide) < 10, "{}", depth_of(&wide));
    let unions = format!("SELECT 1 {}", "UNION ALL SELECT 1 ".repeat(500));
    assert!((500..=505).contains(&depth_of(&unions)));
    // A looser operator closes the tighter chains: each `<` is a level inside its own operand
    // only, as the parser nests them.
    let ors = format!("SELECT * FROM t WHERE {}FALSE", "price < 0 OR ".repeat(900));
    assert!((900..=905).contains(&depth_of(&ors)), "{}", depth_of(&ors));
    let mixed = format!("SELECT {}1", "a * b + ".repeat(300));
    assert!(
        (300..=305).contains(&depth_of(&mixed)),
        "{}",
        depth_of(&mixed)
    );
}

#[test]
fn deep_nesting_is_refused_before_the_parser_runs() {
    for open in ["(", "ARRAY[", "CAST(", "ROW(", "CASE WHEN x THEN "] {
        let sql = format!("SELECT {}1", open.repeat(100));
        let e = refusal(&sql);
        assert_eq!(bound_of(&e), Some(Bound::Nesting), "{open}: {e:?}");
        assert!(e.detail().contains("line 1, column"), "{}", e.detail());
    }
}

#[test]
fn nests_that_make_the_parser_retry_exponentially_finish_at_once() {
    // Unbounded, an error at the bottom of 62 `ARRAY[` (442 bytes) took over 20 s, and
    // `POSITION(` three times as long per level; the budget ends each in linear work.
    for open in [
        "ARRAY[",
        "CAST(",
        "POSITION(",
        "TRY_CAST(",
        "CEIL(",
        "CONVERT(",
        "OVERLAY(",
        "SUBSTRING(",
        "INTERVAL (",
    ] {
        for depth in [20, 40, 62] {
            let sql = format!("SELECT {}1", open.repeat(depth));
            let e = parse_quickly(&sql).expect_err("malformed");
            assert!(
                matches!(e, SqlError::Parse { .. } | SqlError::TooDeep { .. })
                    || bound_of(&e).is_some(),
                "{open}×{depth}: {e:?}"
            );
        }
    }
    let e = refusal(&format!("SELECT {}1", "POSITION(".repeat(40)));
    assert_eq!(bound_of(&e), Some(Bound::ParseAttempts));
    assert_eq!(e.code(), "sql.too_complex");
}

#[test]
fn valid_nests_within_the_limit_parse() {
    for (open, close) in [("CAST(", " AS INT)"), ("ARRAY[", "]"), ("(", ")")] {
        let sql = format!("SELECT {}1{}", open.repeat(30), close.repeat(30));
        parse_quickly(&sql).unwrap_or_else(|e| panic!("{open}: {e:?}"));
    }
}

#[test]
fn wide_statements_are_bounded_by_tokens_and_nodes() {
    // 100,000 columns (200 KB) took over 30 s downstream before; refused by tokens now.
    let wide = format!("SELECT {}1 FROM t", "c, ".repeat(100_000));
    assert_eq!(bound_of(&refusal(&wide)), Some(Bound::Tokens));
    let in_list = format!("SELECT * FROM t WHERE a IN ({}1)", "1, ".repeat(60_000));
    assert_eq!(bound_of(&refusal(&in_list)), Some(Bound::Tokens));
    // Under the token limit, the node count still bounds the tree.
    let limits = ParseLimits {
        max_nodes: 1_000,
        ..ParseLimits::default()
    };
    let e = parse(&format!("SELECT {}1", "c, ".repeat(2_000)), &limits).unwrap_err();
    assert_eq!(bound_of(&e), Some(Bound::Nodes));
    assert!(e.detail().contains("syntax tree nodes"), "{}", e.detail());
}

#[test]
fn wide_shapes_within_the_limits_parse() {
    for sql in [
        format!("SELECT {}1 FROM t", "c, ".repeat(10_000)),
        format!("SELECT * FROM t WHERE a IN ({}1)", "1, ".repeat(10_000)),
        format!(
            "SELECT CASE {} ELSE 0 END",
            "WHEN a = 1 THEN 1 ".repeat(2_000)
        ),
        format!("SELECT ARRAY[{}1]", "1, ".repeat(10_000)),
        format!("SELECT ROW({}1)", "1, ".repeat(10_000)),
    ] {
        parse_quickly(&sql).unwrap_or_else(|e| panic!("{}: {e:?}", &sql[..30]));
    }
}

#[test]
fn long_identifiers_are_refused_by_name() {
    let name = "t".repeat(2_000);
    let e = refusal(&format!("SELECT * FROM `{name}`"));
    assert_eq!(bound_of(&e), Some(Bound::Identifier));
    assert_eq!(e.code(), "sql.identifier_too_long");
    assert!(e.detail().contains("1024"), "{}", e.detail());
    assert!(parse_quickly(&format!("SELECT * FROM `{}`", "t".repeat(1_000))).is_ok());
}

#[test]
fn statement_sets_are_bounded_like_any_statement() {
    let body = "INSERT INTO a SELECT * FROM b; ".repeat(20_000);
    let e = refusal(&format!("EXECUTE STATEMENT SET BEGIN {body} END"));
    assert_eq!(bound_of(&e), Some(Bound::Tokens));
    let body = "INSERT INTO a SELECT * FROM b; ".repeat(200);
    parse_quickly(&format!("EXECUTE STATEMENT SET BEGIN {body} END")).unwrap();
}
