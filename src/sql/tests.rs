//! Tests of the SQL stages: parse limits and allow-list, resolution of every relation
//! position, CTE scoping, canonical rewrite and its round trip.

use proptest::prelude::*;

use super::*;
use crate::catalog::ObjectRef;
use crate::testing::{Fixture, catalogs_with_prod as catalogs, dev_session as session};

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
    let cases: &[(&str, &str)] = &[
        ("", "sql.empty"),
        ("   -- only a comment\n", "sql.empty"),
        (";", "sql.empty"),
        ("SELECT 1; DROP TABLE x", "sql.multiple_statements"),
        ("SELECT 1;DROP TABLE x;", "sql.multiple_statements"),
        (
            "SELECT 1; /* hidden */ DROP TABLE x",
            "sql.multiple_statements",
        ),
        (
            "SELECT 1; garbage that does not parse",
            "sql.multiple_statements",
        ),
        ("SELECT 1 -- c\n; SELECT 2", "sql.multiple_statements"),
        ("SELECT FROM WHERE", "sql.parse_error"),
        ("SELECT 'unterminated", "sql.parse_error"),
        ("DELETE FROM orders", "sql.unsupported"),
        ("UPDATE orders SET a = 1", "sql.unsupported"),
        // Flink's ALTER TABLE ADD has no COLUMN keyword.
        ("ALTER TABLE orders ADD COLUMN b INT", "sql.parse_error"),
        ("GRANT SELECT ON orders TO bob", "sql.unsupported"),
        ("DROP SCHEMA main", "sql.unsupported"),
        ("EXPLAIN DELETE FROM a", "sql.unsupported"),
        ("SELECT * INTO newtable FROM orders", "sql.unsupported"),
        (
            "WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a",
            "sql.unsupported",
        ),
        (
            "WITH RECURSIVE a AS (SELECT 1) SELECT * FROM a",
            "sql.unsupported",
        ),
        ("CREATE MATERIALIZED VIEW v AS SELECT 1", "sql.unsupported"),
    ];
    for (sql, code) in cases {
        let got = parse(sql, &ParseLimits::default())
            .map(|_| ())
            .map_err(|e| e.code().as_str());
        assert_eq!(got, Err(*code), "{sql:?}");
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
    let cases: &[(&str, &str)] = &[
        ("SELECT * FROM orders", "read env-dev.lkc-dev.orders"),
        ("SELECT * FROM main.orders", "read env-dev.lkc-dev.orders"),
        (
            "SELECT * FROM `lkc-dev`.orders",
            "read env-dev.lkc-dev.orders",
        ),
        (
            "SELECT * FROM dev.main.orders",
            "read env-dev.lkc-dev.orders",
        ),
        (
            "SELECT * FROM `env-dev`.`lkc-dev`.`orders`",
            "read env-dev.lkc-dev.orders",
        ),
        (
            "SELECT * FROM prod.main.orders",
            "read env-prod.lkc-prod.orders",
        ),
        (
            "SELECT * FROM examples.marketplace.orders",
            "read examples.marketplace.orders",
        ),
        ("SELECT * FROM Orders", "read env-dev.lkc-dev.Orders"),
        ("SELECT * FROM `Orders`", "read env-dev.lkc-dev.Orders"),
    ];
    for (sql, want) in cases {
        assert_eq!(accesses(sql), [*want], "{sql}");
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
    let cases: &[(&str, &[&str])] = &[
        (
            "SELECT * FROM a JOIN b ON a.id = b.id LEFT JOIN c ON true",
            &[
                "read env-dev.lkc-dev.a",
                "read env-dev.lkc-dev.b",
                "read env-dev.lkc-dev.c",
            ],
        ),
        (
            "SELECT * FROM a, b",
            &["read env-dev.lkc-dev.a", "read env-dev.lkc-dev.b"],
        ),
        (
            "SELECT (SELECT max(x) FROM s) AS m FROM a",
            &["read env-dev.lkc-dev.s", "read env-dev.lkc-dev.a"],
        ),
        (
            "SELECT * FROM a WHERE x IN (SELECT y FROM s)",
            &["read env-dev.lkc-dev.a", "read env-dev.lkc-dev.s"],
        ),
        (
            "SELECT * FROM a WHERE EXISTS (SELECT 1 FROM s WHERE s.k = a.k)",
            &["read env-dev.lkc-dev.a", "read env-dev.lkc-dev.s"],
        ),
        (
            "SELECT k FROM a GROUP BY k HAVING count(*) > (SELECT count(*) FROM s)",
            &["read env-dev.lkc-dev.a", "read env-dev.lkc-dev.s"],
        ),
        (
            "SELECT * FROM (SELECT * FROM s) AS d",
            &["read env-dev.lkc-dev.s"],
        ),
        (
            "SELECT a FROM x UNION ALL SELECT a FROM y EXCEPT SELECT a FROM z",
            &[
                "read env-dev.lkc-dev.x",
                "read env-dev.lkc-dev.y",
                "read env-dev.lkc-dev.z",
            ],
        ),
        (
            "SELECT * FROM o, LATERAL (SELECT * FROM s WHERE s.k = o.k)",
            &["read env-dev.lkc-dev.o", "read env-dev.lkc-dev.s"],
        ),
        (
            "SELECT * FROM o, LATERAL TABLE(split(o.x)) AS T(w)",
            &["read env-dev.lkc-dev.o"],
        ),
        (
            "SELECT * FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '10' MINUTES))",
            &["read env-dev.lkc-dev.orders"],
        ),
        (
            "SELECT * FROM TABLE(TUMBLE(TABLE prod.main.clicks, DESCRIPTOR(ts), INTERVAL '1' HOUR))",
            &["read env-prod.lkc-prod.clicks"],
        ),
        (
            "SELECT CASE WHEN x > 0 THEN (SELECT 1 FROM s) END FROM a",
            &["read env-dev.lkc-dev.s", "read env-dev.lkc-dev.a"],
        ),
        (
            "SELECT * FROM a ORDER BY (SELECT 1 FROM s) LIMIT 1",
            &["read env-dev.lkc-dev.a", "read env-dev.lkc-dev.s"],
        ),
        ("SELECT 1", &[]),
        ("VALUES (1), (2)", &[]),
        (
            "SELECT * FROM a JOIN a ON true",
            &["read env-dev.lkc-dev.a"],
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(accesses(sql), *want, "{sql}");
    }
}

#[test]
fn cte_scoping_and_shadowing() {
    let cases: &[(&str, &[&str])] = &[
        // A CTE is not a table.
        (
            "WITH c AS (SELECT * FROM t) SELECT * FROM c",
            &["read env-dev.lkc-dev.t"],
        ),
        // A CTE named like a table hides the table inside its scope…
        (
            "WITH orders AS (SELECT * FROM src) SELECT * FROM orders",
            &["read env-dev.lkc-dev.src"],
        ),
        // …but not outside it (subquery WITH does not leak to the outer query).
        (
            "SELECT * FROM (WITH orders AS (SELECT 1 AS x) SELECT * FROM orders) d JOIN orders ON true",
            &["read env-dev.lkc-dev.orders"],
        ),
        (
            "SELECT * FROM orders WHERE x IN (WITH orders AS (SELECT 1 AS x) SELECT x FROM orders)",
            &["read env-dev.lkc-dev.orders"],
        ),
        // A CTE's own body sees the table of the same name (non-recursive WITH).
        (
            "WITH orders AS (SELECT * FROM orders) SELECT * FROM orders",
            &["read env-dev.lkc-dev.orders"],
        ),
        // A CTE sees earlier CTEs, not later ones.
        (
            "WITH a AS (SELECT * FROM t), b AS (SELECT * FROM a) SELECT * FROM b",
            &["read env-dev.lkc-dev.t"],
        ),
        (
            "WITH a AS (SELECT * FROM b), b AS (SELECT * FROM t) SELECT * FROM a",
            &["read env-dev.lkc-dev.b", "read env-dev.lkc-dev.t"],
        ),
        // Outer CTEs are visible in nested queries.
        (
            "WITH c AS (SELECT 1 AS x) SELECT * FROM t WHERE x IN (SELECT x FROM c)",
            &["read env-dev.lkc-dev.t"],
        ),
        // A qualified name is never a CTE.
        (
            "WITH orders AS (SELECT 1) SELECT * FROM main.orders",
            &["read env-dev.lkc-dev.orders"],
        ),
        // CTE names are case-sensitive like every identifier.
        (
            "WITH Orders AS (SELECT 1) SELECT * FROM orders",
            &["read env-dev.lkc-dev.orders"],
        ),
        // TABLE arguments see CTEs too.
        (
            "WITH c AS (SELECT * FROM t) SELECT * FROM TABLE(TUMBLE(TABLE c, DESCRIPTOR(ts), INTERVAL '1' MINUTE))",
            &["read env-dev.lkc-dev.t"],
        ),
        // Set operations in a CTE body and in the main body.
        (
            "WITH u AS (SELECT * FROM x UNION SELECT * FROM y) SELECT * FROM u UNION SELECT * FROM z",
            &[
                "read env-dev.lkc-dev.x",
                "read env-dev.lkc-dev.y",
                "read env-dev.lkc-dev.z",
            ],
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(accesses(sql), *want, "{sql}");
    }
}

#[test]
fn statement_kinds_and_actions() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "SELECT * FROM orders",
            "SELECT",
            &["read env-dev.lkc-dev.orders"],
        ),
        (
            "INSERT INTO sink SELECT * FROM src",
            "INSERT_INTO",
            &["write env-dev.lkc-dev.sink", "read env-dev.lkc-dev.src"],
        ),
        (
            "INSERT INTO sink VALUES (1, 'a')",
            "INSERT_INTO",
            &["write env-dev.lkc-dev.sink"],
        ),
        (
            "INSERT INTO t SELECT * FROM t",
            "INSERT_INTO",
            &["write env-dev.lkc-dev.t", "read env-dev.lkc-dev.t"],
        ),
        ("WITH c AS (SELECT 1) SELECT * FROM c", "SELECT", &[]),
        (
            "INSERT INTO sink WITH c AS (SELECT * FROM src) SELECT * FROM c",
            "INSERT_INTO",
            &["write env-dev.lkc-dev.sink", "read env-dev.lkc-dev.src"],
        ),
        (
            "CREATE TABLE t (a INT) WITH ('connector' = 'kafka')",
            "CREATE_TABLE",
            &["create env-dev.lkc-dev.t"],
        ),
        (
            "CREATE TABLE IF NOT EXISTS prod.main.t (a INT)",
            "CREATE_TABLE",
            &["create env-prod.lkc-prod.t"],
        ),
        (
            "CREATE TABLE t AS SELECT * FROM a JOIN b ON true",
            "CREATE_TABLE_AS",
            &[
                "create env-dev.lkc-dev.t",
                "read env-dev.lkc-dev.a",
                "read env-dev.lkc-dev.b",
            ],
        ),
        (
            "CREATE VIEW v AS SELECT * FROM a WHERE x IN (SELECT x FROM b)",
            "CREATE_VIEW",
            &[
                "create env-dev.lkc-dev.v",
                "read env-dev.lkc-dev.a",
                "read env-dev.lkc-dev.b",
            ],
        ),
        (
            "CREATE VIEW v AS WITH a AS (SELECT * FROM t) SELECT * FROM a",
            "CREATE_VIEW",
            &["create env-dev.lkc-dev.v", "read env-dev.lkc-dev.t"],
        ),
        ("DROP TABLE t", "DROP_TABLE", &["drop env-dev.lkc-dev.t"]),
        (
            "DROP TABLE IF EXISTS a, dev.main.b",
            "DROP_TABLE",
            &["drop env-dev.lkc-dev.a", "drop env-dev.lkc-dev.b"],
        ),
        ("DROP VIEW v", "DROP_VIEW", &["drop env-dev.lkc-dev.v"]),
        (
            "SHOW TABLES",
            "SHOW_TABLES",
            &["list database env-dev.lkc-dev"],
        ),
        (
            "SHOW TABLES FROM main",
            "SHOW_TABLES",
            &["list database env-dev.lkc-dev"],
        ),
        (
            "SHOW TABLES IN prod.main",
            "SHOW_TABLES",
            &["list database env-prod.lkc-prod"],
        ),
        (
            "SHOW DATABASES",
            "SHOW_DATABASES",
            &["list catalog env-dev"],
        ),
        (
            "SHOW DATABASES FROM examples",
            "SHOW_DATABASES",
            &["list catalog examples"],
        ),
        ("SHOW CATALOGS", "SHOW_CATALOGS", &["list organization"]),
        (
            "DESCRIBE orders",
            "DESCRIBE",
            &["describe env-dev.lkc-dev.orders"],
        ),
        (
            "DESC prod.main.orders",
            "DESCRIBE",
            &["describe env-prod.lkc-prod.orders"],
        ),
        (
            "EXPLAIN SELECT * FROM a JOIN b ON true",
            "EXPLAIN",
            &["read env-dev.lkc-dev.a", "read env-dev.lkc-dev.b"],
        ),
    ];
    for (sql, kind, want) in cases {
        let r = resolved(sql);
        assert_eq!(r.sql_kind(), *kind, "{sql}");
        assert_eq!(show(r.accesses()), *want, "{sql}");
    }
}

// === rewrite ===

#[test]
fn canonical_sql_qualifies_every_table_and_keeps_ctes_and_aliases() {
    let cases: &[(&str, &str)] = &[
        (
            "SELECT * FROM orders",
            "SELECT * FROM `env-dev`.`lkc-dev`.`orders`",
        ),
        (
            "SELECT o.id FROM dev.main.orders AS o",
            "SELECT o.id FROM `env-dev`.`lkc-dev`.`orders` AS o",
        ),
        (
            "WITH c AS (SELECT * FROM t) SELECT * FROM c",
            "WITH c AS (SELECT * FROM `env-dev`.`lkc-dev`.`t`) SELECT * FROM c",
        ),
        (
            "INSERT INTO sink SELECT * FROM src",
            "INSERT INTO `env-dev`.`lkc-dev`.`sink` SELECT * FROM `env-dev`.`lkc-dev`.`src`",
        ),
        (
            "SELECT * FROM `we``ird`",
            "SELECT * FROM `env-dev`.`lkc-dev`.`we``ird`",
        ),
        ("SHOW TABLES", "SHOW TABLES FROM `env-dev`.`lkc-dev`"),
        ("SHOW DATABASES", "SHOW DATABASES FROM `env-dev`"),
        ("DROP TABLE a", "DROP TABLE `env-dev`.`lkc-dev`.`a`"),
        ("DESCRIBE a", "DESCRIBE `env-dev`.`lkc-dev`.`a`"),
        (
            "SELECT * FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '10' MINUTES))",
            "SELECT * FROM TABLE(TUMBLE(TABLE `env-dev`.`lkc-dev`.`orders`, DESCRIPTOR(ts), INTERVAL '10' MINUTES))",
        ),
    ];
    for (sql, want) in cases {
        let r = resolved(sql);
        assert_eq!(r.canonical_sql(), *want, "{sql}");
        assert!(
            crate::rewrite::check_canonical(
                r.canonical_statement(),
                &crate::rewrite::objects(r.accesses())
            )
            .is_ok(),
            "{sql}"
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
    for sql in [
        "SELECT * FROM orders",
        "WITH orders AS (SELECT * FROM orders) SELECT * FROM orders",
        "INSERT INTO prod.main.sink SELECT * FROM `Orders` UNION SELECT * FROM examples.marketplace.orders",
        "CREATE TABLE t AS SELECT * FROM a",
        "CREATE VIEW v AS SELECT * FROM a",
        "DROP VIEW IF EXISTS v",
        "SHOW TABLES",
        "SHOW DATABASES",
        "SHOW CATALOGS",
        "DESCRIBE `a.b`",
        "EXPLAIN SELECT * FROM (SELECT * FROM a) x",
        "SELECT * FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '10' MINUTES))",
    ] {
        assert_round_trip(sql);
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
