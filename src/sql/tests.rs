//! Tests of the SQL stages: parse limits and allow-list, resolution of every relation
//! position, CTE scoping, canonical rewrite and its round trip. The tables of statements are
//! SQL fixture files in `tests/fixtures/sql/` (read by `crate::testing::sql_cases`).

use proptest::prelude::*;

use super::*;
use crate::catalog::ObjectRef;
use crate::testing::{Fixture, catalogs_with_prod as catalogs, dev_session as session, sql_cases};

fn try_resolve(sql: &str, session: &SessionNames) -> Result<ResolvedStatement, String> {
    let parsed = parse(sql, &ParseLimits::default()).map_err(|e| e.code().to_string())?;
    resolve(parsed, &catalogs(), session).map_err(|e| e.code().to_string())
}

fn resolved(sql: &str) -> ResolvedStatement {
    try_resolve(sql, &session()).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Accesses as `"<action> <object>"` strings, e.g. `"read env-dev.lkc-dev.orders"`.
fn show(accesses: &[Access]) -> Vec<String> {
    accesses
        .iter()
        .map(|a| {
            let o = match &a.object {
                ObjectRef::Organization => "organization".to_string(),
                ObjectRef::Catalog(c) => format!("catalog {c}"),
                ObjectRef::Database(c, d) => format!("database {c}.{d}"),
                ObjectRef::Table(t) => format!("{}.{}.{}", t.catalog, t.database, t.table),
            };
            format!("{} {o}", a.action.as_str())
        })
        .collect()
}

fn accesses(sql: &str) -> Vec<String> {
    show(resolved(sql).accesses())
}

// === parse ===

#[test]
fn parse_refuses_what_it_must() {
    let refused = |sql: &str| {
        parse(sql, &ParseLimits::default())
            .map(|_| ())
            .map_err(|e| e.code().as_str())
    };
    // Texts a fixture file cannot hold: empty, and a comment only.
    for sql in ["", "   -- only a comment\n"] {
        assert_eq!(refused(sql), Err("sql.empty"), "{sql:?}");
    }
    for case in sql_cases("parse_refused.sql", &["code"]) {
        assert_eq!(refused(&case.sql), Err(case.one("code")), "{case}");
    }
}

#[test]
fn parse_accepts_one_statement_with_comments_semicolons_and_strings() {
    for sql in [
        "/* dbt */ SELECT 1;",
        "-- leading\nSELECT 1 ;  \n -- trailing\n",
        "SELECT 'a; DROP TABLE x' AS s",
        "SELECT `semi;colon` FROM orders",
        "SELECT \"a;b\" FROM orders",
        "SELECT 1;;",
    ] {
        assert!(parse(sql, &ParseLimits::default()).is_ok(), "{sql:?}");
    }
}

#[test]
fn parse_errors_keep_line_and_column() {
    let err = parse(
        "SELECT *\nFROM orders WHERE x = = 1",
        &ParseLimits::default(),
    )
    .unwrap_err();
    let SqlError::Parse { line, column, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*line, Some(2));
    assert!(column.is_some());
    let detail = err.detail();
    assert!(
        detail.starts_with("SQL parse error at line 2, column "),
        "{detail}"
    );
    assert!(!detail.contains("at Line:"), "{detail}");
    let err = parse("SELECT a b c FROM t", &ParseLimits::default()).unwrap_err();
    assert!(
        err.detail()
            .starts_with("SQL parse error at line 1, column 12: Expected"),
        "{}",
        err.detail()
    );
    let err = parse("SELECT *\nFROM orders WHERE", &ParseLimits::default()).unwrap_err();
    assert!(
        err.detail()
            .starts_with("SQL parse error at line 2, column 18: "),
        "{}",
        err.detail()
    );
}

#[test]
fn parse_enforces_size_and_depth() {
    let limits = ParseLimits {
        max_sql_bytes: 16,
        ..ParseLimits::default()
    };
    assert_eq!(
        parse("SELECT 1 FROM some_long_table", &limits).unwrap_err(),
        SqlError::TooLarge { limit: 16 }
    );
    let deep = format!("SELECT {}1{}", "(".repeat(200), ")".repeat(200));
    assert_eq!(
        parse(&deep, &ParseLimits::default()).unwrap_err().code(),
        "sql.too_deep"
    );
}

#[test]
fn flink_dialect_specifics() {
    // Flink types in CAST and column definitions.
    let r = resolved(
        "SELECT CAST(a AS STRING), CAST(b AS BYTES), CAST(c AS TIMESTAMP_LTZ(3)) FROM orders",
    );
    assert!(r.canonical_sql().contains("CAST(c AS TIMESTAMP_LTZ(3))"));
    resolved("CREATE TABLE t (a STRING, b BYTES, c TIMESTAMP_LTZ(3)) WITH ('connector' = 'kafka')");
    // `$` in identifiers.
    resolved("SELECT $rowtime, `$rowtime` FROM orders");
    // Double quotes are strings, never identifiers: this is a string literal in FROM → error.
    for sql in [
        "SELECT * FROM \"orders\"",
        "SELECT * FROM 'orders'",
        "INSERT INTO \"t\" SELECT 1",
        "SELECT * FROM main.\"orders\"",
    ] {
        let err = parse(sql, &ParseLimits::default()).unwrap_err();
        assert_eq!(err.code(), "sql.parse_error", "{sql}");
        assert!(err.detail().contains("backticks"), "{}", err.detail());
    }
    // A dot inside backticks is part of the name.
    assert_eq!(
        accesses("SELECT * FROM `a.b`"),
        ["read env-dev.lkc-dev.a.b"]
    );
    match &resolved("SELECT * FROM `a.b`").accesses()[0].object {
        ObjectRef::Table(t) => assert_eq!(t.table, "a.b"),
        other => panic!("{other:?}"),
    }
}

// === resolve ===

#[test]
fn names_resolve_by_parts_ids_and_display_names() {
    for case in sql_cases("resolve_names.sql", &["access"]) {
        assert_eq!(accesses(&case.sql), [case.one("access")], "{case}");
    }
    assert_ne!(
        accesses("SELECT * FROM Orders"),
        accesses("SELECT * FROM orders")
    );
}

#[test]
fn unresolvable_names_are_errors() {
    let none = SessionNames::default();
    let only_cat = SessionNames {
        catalog: Some("dev".into()),
        database: None,
    };
    let cases: &[(&str, &SessionNames, &str)] = &[
        (
            "SELECT * FROM nope.main.orders",
            &session(),
            "resolve.unknown_catalog",
        ),
        (
            "SELECT * FROM DEV.main.orders",
            &session(),
            "resolve.unknown_catalog",
        ),
        (
            "SELECT * FROM dev.nope.orders",
            &session(),
            "resolve.unknown_database",
        ),
        (
            "SELECT * FROM dev.lkc-prod.orders",
            &session(),
            "sql.parse_error",
        ),
        (
            "SELECT * FROM dev.`lkc-prod`.orders",
            &session(),
            "resolve.unknown_database",
        ),
        (
            "SELECT * FROM Main.orders",
            &session(),
            "resolve.unknown_database",
        ),
        (
            "SELECT * FROM examples.main.orders",
            &session(),
            "resolve.unknown_database",
        ),
        (
            "SELECT * FROM a.b.c.d",
            &session(),
            "resolve.too_many_name_parts",
        ),
        ("SELECT * FROM orders", &none, "resolve.no_current_catalog"),
        (
            "SELECT * FROM main.orders",
            &none,
            "resolve.no_current_catalog",
        ),
        (
            "SELECT * FROM orders",
            &only_cat,
            "resolve.no_current_database",
        ),
        (
            "SELECT * FROM x WHERE a IN (SELECT b FROM nope.main.t)",
            &session(),
            "resolve.unknown_catalog",
        ),
        (
            "INSERT INTO nope.main.t SELECT 1",
            &session(),
            "resolve.unknown_catalog",
        ),
        (
            "SHOW TABLES FROM nope",
            &session(),
            "resolve.unknown_database",
        ),
        (
            "SHOW DATABASES FROM nope",
            &session(),
            "resolve.unknown_catalog",
        ),
    ];
    for (sql, s, code) in cases {
        assert_eq!(
            try_resolve(sql, s).map(|r| show(r.accesses())),
            Err(code.to_string()),
            "{sql}"
        );
    }
    // Fully qualified names need no session.
    assert!(try_resolve("SELECT * FROM dev.main.orders", &none).is_ok());
    // The detail of an unknown database does not say where else it exists.
    let parsed = parse("SELECT * FROM prod.lkc.orders", &ParseLimits::default()).unwrap();
    let e = resolve(parsed, &catalogs(), &session()).unwrap_err();
    assert!(!e.detail().contains("dev"), "{}", e.detail());
}

#[test]
fn every_relation_position_is_resolved() {
    for case in sql_cases("resolve_positions.sql", &["access"]) {
        assert_eq!(accesses(&case.sql), case.all("access"), "{case}");
    }
}

#[test]
fn cte_scoping_and_shadowing() {
    for case in sql_cases("resolve_ctes.sql", &["access"]) {
        assert_eq!(accesses(&case.sql), case.all("access"), "{case}");
    }
}

#[test]
fn statement_kinds_and_actions() {
    for case in sql_cases("resolve_kinds.sql", &["kind", "access"]) {
        let r = resolved(&case.sql);
        assert_eq!(r.sql_kind(), case.one("kind"), "{case}");
        assert_eq!(show(r.accesses()), case.all("access"), "{case}");
    }
}

// === rewrite ===

#[test]
fn canonical_sql_qualifies_every_table_and_keeps_ctes_and_aliases() {
    for case in sql_cases("canonical.sql", &["canonical"]) {
        let r = resolved(&case.sql);
        assert_eq!(r.canonical_sql(), case.one("canonical"), "{case}");
        assert!(
            crate::rewrite::check_canonical(
                r.canonical_statement(),
                &crate::rewrite::objects(r.accesses())
            )
            .is_ok(),
            "{case}"
        );
    }
}

#[test]
fn canonical_check_refuses_an_unaccounted_relation() {
    let r = resolved("SELECT * FROM a");
    // Pretend resolution missed one: the canonical statement names a table not in the accesses.
    let other = resolved("SELECT * FROM b");
    assert_eq!(
        crate::rewrite::check_canonical(
            other.canonical_statement(),
            &crate::rewrite::objects(r.accesses())
        )
        .unwrap_err()
        .code(),
        "rewrite.unresolved_relation"
    );
    // And a non-canonical name is refused too.
    let (as_written, _, _) = parse("SELECT * FROM a", &ParseLimits::default())
        .unwrap()
        .into_parts();
    assert!(
        crate::rewrite::check_canonical(&as_written, &crate::rewrite::objects(r.accesses()))
            .is_err()
    );
}

/// Re-parsing the rendered canonical SQL, with no session at all, binds exactly the same
/// accesses, and canonicalizing again changes nothing.
fn assert_round_trip(sql: &str) {
    let r = resolved(sql);
    let canonical = r.canonical_sql();
    let again = try_resolve(&canonical, &SessionNames::default())
        .unwrap_or_else(|e| panic!("{sql} → {canonical}: {e}"));
    assert_eq!(again.accesses(), r.accesses(), "{sql} → {canonical}");
    assert_eq!(again.canonical_sql(), canonical, "{sql}");
    assert_eq!(again.sql_kind(), r.sql_kind());
}

#[tokio::test]
async fn rewrite_after_authorize_runs_the_canonical_statement() {
    let sql = "WITH orders AS (SELECT * FROM main.orders WHERE x IN (SELECT x FROM `Orders`)) \
               SELECT o.* FROM orders AS o JOIN examples.marketplace.customers c ON o.c = c.id";
    let rewritten = Fixture::new().await.assert_rewrites_to(
        "User:pool-dev",
        sql,
        "WITH orders AS (SELECT * FROM `env-dev`.`lkc-dev`.`orders` WHERE x IN (SELECT x FROM `env-dev`.`lkc-dev`.`Orders`)) \
         SELECT o.* FROM orders AS o JOIN `examples`.`marketplace`.`customers` c ON o.c = c.id",
    );
    assert_eq!(rewritten.sql_kind(), "SELECT");
    assert_round_trip(sql);
}

#[test]
fn round_trip_table() {
    for case in sql_cases("round_trip.sql", &[]) {
        assert_round_trip(&case.sql);
    }
}

// === property: generated queries round-trip ===

fn table_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "orders",
        "Orders",
        "`my.table`",
        "main.orders",
        "`lkc-dev`.clicks",
        "dev.main.orders",
        "`env-dev`.`lkc-dev`.`x y`",
        "prod.main.orders",
        "examples.marketplace.customers",
        "c1",
    ])
    .prop_map(str::to_string)
}

fn query() -> impl Strategy<Value = String> {
    let leaf = table_name().prop_map(|t| format!("SELECT * FROM {t}"));
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!(
                "SELECT * FROM ({a}) AS u1 UNION ALL SELECT * FROM ({b}) AS u2"
            )),
            (inner.clone(), table_name())
                .prop_map(|(a, t)| format!("SELECT * FROM ({a}) AS d JOIN {t} ON true")),
            (table_name(), inner.clone())
                .prop_map(|(t, a)| format!("SELECT * FROM {t} WHERE x IN ({a})")),
            (table_name(), inner.clone()).prop_map(|(t, a)| format!("SELECT ({a}) AS s FROM {t}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!(
                "WITH c1 AS ({a}) SELECT * FROM ({b}) AS w JOIN c1 ON true"
            )),
            (inner.clone(), table_name()).prop_map(|(a, t)| format!(
                "WITH orders AS ({a}) SELECT * FROM orders JOIN {t} ON true"
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn generated_queries_round_trip(q in query()) {
        assert_round_trip(&q);
    }

    #[test]
    fn generated_inserts_round_trip(t in table_name(), q in query()) {
        assert_round_trip(&format!("INSERT INTO {t} {q}"));
    }
}
