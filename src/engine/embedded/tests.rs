//! Engine unit tests: wire types and value encodings, the examples catalog, DDL, durability,
//! listing and errors. Every test runs the real embedded engine on a temp data directory.

use std::path::Path;

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use futures::TryStreamExt;
use serde_json::{Value, json};

use super::*;
use crate::catalog::ObjectRef;
use crate::sql::types::parse_flink_type;

fn catalogs() -> Arc<Catalogs> {
    Arc::new(Catalogs::new(
        "org-test",
        crate::testing::REGION,
        vec![crate::testing::dev()],
    ))
}

async fn open(dir: &Path) -> EmbeddedEngine {
    open_with(dir, EngineConfig::default()).await
}

async fn open_with(dir: &Path, cfg: EngineConfig) -> EmbeddedEngine {
    EmbeddedEngine::open(&cfg, dir, catalogs())
        .await
        .expect("engine opens")
}

fn parse(sql: &str) -> Statement {
    let mut stmts = Parser::parse_sql(&GenericDialect {}, sql).expect("test SQL parses");
    assert_eq!(stmts.len(), 1, "one statement");
    stmts.remove(0)
}

fn ctx() -> ExecContext {
    ExecContext {
        snapshot: true,
        ..ExecContext::default()
    }
}

/// Runs a statement to completion: its traits and every row.
async fn run(engine: &EmbeddedEngine, sql: &str) -> Result<(Traits, Vec<Vec<Value>>), EngineError> {
    let exec = engine.execute_statement(&parse(sql), &ctx()).await?;
    let batches: Vec<Vec<ResultRow>> = exec.rows.try_collect().await?;
    let rows = batches
        .into_iter()
        .flatten()
        .map(|r| {
            assert_eq!(r.op, 0, "append-only");
            r.row
        })
        .collect();
    Ok((exec.traits, rows))
}

async fn ok(engine: &EmbeddedEngine, sql: &str) -> (Traits, Vec<Vec<Value>>) {
    match run(engine, sql).await {
        Ok(r) => r,
        Err(e) => panic!("{sql}\nfailed: {e} / {}", e.detail()),
    }
}

fn type_json(t: &Traits, col: usize) -> Value {
    serde_json::to_value(&t.schema.as_ref().expect("has schema").columns[col].data_type).unwrap()
}

fn names(t: &Traits) -> Vec<String> {
    t.schema
        .as_ref()
        .expect("has schema")
        .columns
        .iter()
        .map(|c| c.name.clone())
        .collect()
}

#[tokio::test]
async fn select_1_is_expr0_integer_with_golden_traits() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let (traits, rows) = ok(&engine, "SELECT 1").await;
    assert_eq!(names(&traits), ["EXPR$0"]);
    let t = type_json(&traits, 0);
    assert!(t["type"] == "INTEGER" || t["type"] == "BIGINT", "{t}");
    assert_eq!(t["nullable"], false);
    assert_eq!(rows, vec![vec![json!("1")]]);
    let j = serde_json::to_value(&traits).unwrap();
    assert_eq!(j["sql_kind"], "SELECT");
    assert_eq!(j["is_bounded"], true);
    assert_eq!(j["is_append_only"], true);
    assert_eq!(j["upsert_columns"], Value::Null);
}

/// One SELECT of every scalar and nested type, checked against the exact §5.2 strings.
#[tokio::test]
async fn every_type_encodes_to_its_wire_string_and_flink_type() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    // (select expression, expected type name, expected value)
    let cases: Vec<(&str, &str, Value)> = vec![
        ("CAST(-7 AS TINYINT)", "TINYINT", json!("-7")),
        ("CAST(300 AS SMALLINT)", "SMALLINT", json!("300")),
        ("CAST(-42 AS INT)", "INTEGER", json!("-42")),
        ("CAST(9000000000 AS BIGINT)", "BIGINT", json!("9000000000")),
        ("CAST(1.5 AS FLOAT)", "FLOAT", json!("1.5")),
        ("CAST(100 AS DOUBLE)", "DOUBLE", json!("100.0")),
        ("CAST(1e10 AS DOUBLE)", "DOUBLE", json!("1.0E10")),
        ("CAST(0.0001 AS DOUBLE)", "DOUBLE", json!("1.0E-4")),
        ("CAST(1234567.25 AS DOUBLE)", "DOUBLE", json!("1234567.25")),
        ("CAST('NaN' AS DOUBLE)", "DOUBLE", json!("NaN")),
        ("CAST('Infinity' AS DOUBLE)", "DOUBLE", json!("Infinity")),
        ("CAST('-Infinity' AS DOUBLE)", "DOUBLE", json!("-Infinity")),
        ("CAST(1.5 AS DECIMAL(5, 2))", "DECIMAL", json!("1.50")),
        ("CAST(-0.07 AS DECIMAL(10, 3))", "DECIMAL", json!("-0.070")),
        ("'héllo'", "CHAR", json!("héllo")),
        ("CAST(12 AS STRING)", "VARCHAR", json!("12")),
        ("TRUE", "BOOLEAN", json!("TRUE")),
        ("1 > 2", "BOOLEAN", json!("FALSE")),
        ("CAST(NULL AS INT)", "INTEGER", Value::Null),
        ("NULL", "NULL", Value::Null),
        ("DATE '2024-01-02'", "DATE", json!("2024-01-02")),
        (
            "CAST('03:04:05' AS TIME(0))",
            "TIME_WITHOUT_TIME_ZONE",
            json!("03:04:05"),
        ),
        (
            "CAST('03:04:05.123' AS TIME(3))",
            "TIME_WITHOUT_TIME_ZONE",
            json!("03:04:05.123"),
        ),
        (
            "CAST(TIMESTAMP '2024-01-02 03:04:05.123' AS TIMESTAMP(3))",
            "TIMESTAMP_WITHOUT_TIME_ZONE",
            json!("2024-01-02 03:04:05.123"),
        ),
        (
            "CAST(TIMESTAMP '2024-01-02 03:04:05.123456' AS TIMESTAMP(6))",
            "TIMESTAMP_WITHOUT_TIME_ZONE",
            json!("2024-01-02 03:04:05.123456"),
        ),
        (
            "CAST(TIMESTAMP '2024-01-02 03:04:05' AS TIMESTAMP(0))",
            "TIMESTAMP_WITHOUT_TIME_ZONE",
            json!("2024-01-02 03:04:05"),
        ),
        (
            "CAST(TIMESTAMP '2024-01-02 03:04:05.120' AS TIMESTAMP_LTZ(3))",
            "TIMESTAMP_WITH_LOCAL_TIME_ZONE",
            json!("2024-01-02 03:04:05.120"),
        ),
        (
            "CAST('2024-01-02T03:04:05.5+02:00' AS TIMESTAMP_LTZ(3))",
            "TIMESTAMP_WITH_LOCAL_TIME_ZONE",
            json!("2024-01-02 01:04:05.500"),
        ),
        (
            "INTERVAL '1 02:03:04.567' DAY TO SECOND",
            "INTERVAL_DAY_TIME",
            json!("+1 02:03:04.567"),
        ),
        (
            "INTERVAL '-15' MINUTE",
            "INTERVAL_DAY_TIME",
            json!("-0 00:15:00.000"),
        ),
        (
            "INTERVAL '1-6' YEAR TO MONTH",
            "INTERVAL_YEAR_MONTH",
            json!("+1-06"),
        ),
        ("INTERVAL '-3' MONTH", "INTERVAL_YEAR_MONTH", json!("-0-03")),
        ("X'7F0203'", "VARBINARY", json!("x'7f0203'")),
        ("CAST('ab' AS BYTES)", "VARBINARY", json!("x'6162'")),
        ("ARRAY[1, 2, NULL]", "ARRAY", json!(["1", "2", null])),
        ("ARRAY['a', 'b']", "ARRAY", json!(["a", "b"])),
        (
            "MAP {'a': 1, 'b': 2}",
            "MAP",
            json!([["a", "1"], ["b", "2"]]),
        ),
        ("named_struct('x', 1, 'y', 'z')", "ROW", json!(["1", "z"])),
        (
            "ROW(2.5, NULL, ARRAY[TRUE])",
            "ROW",
            json!(["2.5", null, ["TRUE"]]),
        ),
    ];
    let select = format!(
        "SELECT {}",
        cases.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
    );
    let (traits, rows) = ok(&engine, &select).await;
    assert_eq!(rows.len(), 1);
    for (i, (expr, ty, value)) in cases.iter().enumerate() {
        let t = type_json(&traits, i);
        assert_eq!(t["type"], *ty, "type of {expr}: {t}");
        assert_eq!(rows[0][i], *value, "value of {expr}");
        assert_eq!(names(&traits)[i], format!("EXPR${i}"));
    }
    // Parameters of the parameterised types.
    assert_eq!(
        type_json(&traits, 12),
        json!({"type": "DECIMAL", "nullable": false, "precision": 5, "scale": 2})
    );
    assert_eq!(
        type_json(&traits, 14),
        json!({"type": "CHAR", "nullable": false, "length": 5})
    );
    assert_eq!(
        type_json(&traits, 15),
        json!({"type": "VARCHAR", "nullable": false, "length": 2147483647})
    );
    assert_eq!(type_json(&traits, 18)["nullable"], true);
    assert_eq!(type_json(&traits, 22)["precision"], 3);
    assert_eq!(type_json(&traits, 23)["precision"], 3);
    assert_eq!(type_json(&traits, 26)["precision"], 3);
    let map = type_json(&traits, 36);
    assert_eq!(map["key_type"]["type"], "VARCHAR");
    assert_eq!(map["value_type"]["type"], "INTEGER");
    assert_eq!(
        type_json(&traits, 38)["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].clone())
            .collect::<Vec<_>>(),
        [json!("EXPR$0"), json!("EXPR$1"), json!("EXPR$2")],
        "an unnamed row's fields"
    );
    let row = type_json(&traits, 37);
    assert_eq!(row["fields"][0]["name"], "x");
    assert_eq!(
        row["fields"][1]["field_type"],
        json!({"type": "CHAR", "nullable": false, "length": 1})
    );
    assert_eq!(type_json(&traits, 34)["element_type"]["type"], "INTEGER");
}

#[test]
fn doubles_render_like_java() {
    use super::encode::{java_double, java_float};
    let cases = [
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (0.001, "0.001"),
        (0.000_999, "9.99E-4"),
        (9_999_999.0, "9999999.0"),
        (10_000_000.0, "1.0E7"),
        (1.234e-10, "1.234E-10"),
        (-3.5e20, "-3.5E20"),
        (f64::NAN, "NaN"),
        (f64::NEG_INFINITY, "-Infinity"),
        (0.1 + 0.2, "0.30000000000000004"),
    ];
    for (v, want) in cases {
        assert_eq!(java_double(v), want, "{v:e}");
    }
    assert_eq!(java_float(0.1), "0.1");
    assert_eq!(java_float(1.0e10), "1.0E10");
}

#[test]
fn flink_types_parse_map_to_arrow_and_print_back() {
    for text in [
        "BOOLEAN",
        "TINYINT NOT NULL",
        "INT",
        "BIGINT",
        "FLOAT",
        "DOUBLE",
        "DECIMAL(10, 2)",
        "CHAR(3)",
        "VARCHAR(20)",
        "STRING NOT NULL",
        "BINARY(4)",
        "VARBINARY(8)",
        "BYTES",
        "DATE",
        "TIME(3)",
        "TIMESTAMP(6)",
        "TIMESTAMP_LTZ(3) NOT NULL",
        "ARRAY<INT NOT NULL>",
        "MAP<STRING, ARRAY<DOUBLE>>",
        "ROW<`a` INT, `b c` STRING NOT NULL>",
    ] {
        let t = parse_flink_type(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(t.to_sql(), text);
        t.to_arrow().unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    // Other spellings of the same types.
    for (text, canonical) in [
        ("INTEGER", "INT"),
        ("DEC(5,2)", "DECIMAL(5, 2)"),
        ("NUMERIC", "DECIMAL(10, 0)"),
        ("VARCHAR", "VARCHAR(1)"),
        ("TIMESTAMP", "TIMESTAMP(6)"),
        ("TIMESTAMP(3) WITH LOCAL TIME ZONE", "TIMESTAMP_LTZ(3)"),
        ("TIMESTAMP(3) WITHOUT TIME ZONE", "TIMESTAMP(3)"),
        ("Map(STRING, INT)", "MAP<STRING, INT>"),
        ("STRUCT<a INT, b STRING>", "ROW<`a` INT, `b` STRING>"),
        ("INT[]", "ARRAY<INT>"),
        ("DOUBLE PRECISION", "DOUBLE"),
    ] {
        assert_eq!(
            parse_flink_type(text).unwrap().to_sql(),
            canonical,
            "{text}"
        );
    }
    assert!(parse_flink_type("TIMESTAMP WITH TIME ZONE").is_err());
    assert!(parse_flink_type("DECIMAL(40, 2)").is_err());
    assert!(parse_flink_type("GEOMETRY").is_err());
}

#[tokio::test]
async fn examples_are_deterministic_across_opens() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ea, eb) = (open(a.path()).await, open(b.path()).await);
    for (table, count) in [
        ("orders", 1000),
        ("customers", 200),
        ("products", 100),
        ("clicks", 1000),
    ] {
        let sql = format!("SELECT * FROM `examples`.`marketplace`.`{table}`");
        let (ta, ra) = ok(&ea, &sql).await;
        let (_, rb) = ok(&eb, &sql).await;
        assert_eq!(ra.len(), count, "{table}");
        assert_eq!(ra, rb, "{table} differs between opens");
        assert_eq!(names(&ta).last().map(String::as_str), Some("$rowtime"));
        let rowtime = type_json(&ta, names(&ta).len() - 1);
        assert_eq!(
            rowtime,
            json!({"type": "TIMESTAMP_WITH_LOCAL_TIME_ZONE", "nullable": false, "precision": 3})
        );
    }
    let (t, rows) = ok(
        &ea,
        "SELECT * FROM `examples`.`marketplace`.`orders` LIMIT 1",
    )
    .await;
    assert_eq!(
        names(&t),
        ["order_id", "customer_id", "product_id", "price", "$rowtime"]
    );
    assert!(
        rows[0][4]
            .as_str()
            .unwrap()
            .starts_with("2025-01-01 00:00:0"),
        "{:?}",
        rows[0][4]
    );
}

#[tokio::test]
async fn examples_support_joins_aggregates_and_upper_case_functions() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let (t, rows) = ok(
        &engine,
        "SELECT c.city, COUNT(*) AS n, SUM(o.price), MAX(UPPER(p.brand)) \
         FROM `examples`.`marketplace`.`orders` AS o \
         JOIN `examples`.`marketplace`.`customers` AS c ON o.customer_id = c.customer_id \
         JOIN `examples`.`marketplace`.`products` AS p ON o.product_id = p.product_id \
         GROUP BY c.city ORDER BY c.city",
    )
    .await;
    assert_eq!(names(&t), ["city", "n", "EXPR$2", "EXPR$3"]);
    let total: i64 = rows
        .iter()
        .map(|r| r[1].as_str().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, 1000, "every order has a customer and a product");
    assert!(
        rows.iter()
            .all(|r| r[3].as_str().unwrap() == r[3].as_str().unwrap().to_uppercase())
    );
    let (_, clicks) = ok(
        &engine,
        "SELECT COUNT(DISTINCT user_id) FROM `examples`.`marketplace`.`clicks` WHERE view_time >= 10",
    )
    .await;
    assert!(clicks[0][0].as_str().unwrap().parse::<i64>().unwrap() > 100);
}

const CREATE_T: &str = "CREATE TABLE `env-dev`.`lkc-dev`.`t` (\
    id INT NOT NULL, name STRING, code CHAR(3), price DECIMAL(10, 2), ts TIMESTAMP(3), \
    ltz TIMESTAMP_LTZ(3), tags ARRAY<STRING>, attrs MAP(STRING, INT), r STRUCT<a INT, b STRING>, \
    raw BYTES, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'kafka')";

const INSERT_T: &str = "INSERT INTO `env-dev`.`lkc-dev`.`t` VALUES \
    (1, 'one', 'abc', 1.5, TIMESTAMP '2024-01-02 03:04:05.123', TIMESTAMP '2024-01-02 03:04:05.123', \
     ARRAY['x', 'y'], MAP {'k': 1}, named_struct('a', 7, 'b', 'bee'), X'00ff'), \
    (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)";

#[tokio::test]
async fn create_insert_select_with_flink_types() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let (t, rows) = ok(&engine, CREATE_T).await;
    assert_eq!(t.sql_kind, "CREATE_TABLE");
    assert!(t.schema.is_none() && rows.is_empty());
    let (t, rows) = ok(&engine, INSERT_T).await;
    assert_eq!(t.sql_kind, "INSERT_INTO");
    assert!(t.schema.is_none() && rows.is_empty());

    let (t, rows) = ok(&engine, "SELECT * FROM `env-dev`.`lkc-dev`.`t` ORDER BY id").await;
    assert_eq!(
        names(&t),
        [
            "id", "name", "code", "price", "ts", "ltz", "tags", "attrs", "r", "raw"
        ]
    );
    assert_eq!(
        type_json(&t, 0),
        json!({"type": "INTEGER", "nullable": false})
    );
    assert_eq!(
        type_json(&t, 2),
        json!({"type": "CHAR", "nullable": true, "length": 3})
    );
    assert_eq!(
        type_json(&t, 3),
        json!({"type": "DECIMAL", "nullable": true, "precision": 10, "scale": 2})
    );
    assert_eq!(type_json(&t, 4)["type"], "TIMESTAMP_WITHOUT_TIME_ZONE");
    assert_eq!(type_json(&t, 5)["type"], "TIMESTAMP_WITH_LOCAL_TIME_ZONE");
    assert_eq!(
        type_json(&t, 9),
        json!({"type": "VARBINARY", "nullable": true, "length": 2147483647})
    );
    assert_eq!(
        rows[0],
        vec![
            json!("1"),
            json!("one"),
            json!("abc"),
            json!("1.50"),
            json!("2024-01-02 03:04:05.123"),
            json!("2024-01-02 03:04:05.123"),
            json!(["x", "y"]),
            json!([["k", "1"]]),
            json!(["7", "bee"]),
            json!("x'00ff'"),
        ]
    );
    assert_eq!(rows[1][0], json!("2"));
    assert!(rows[1][1..].iter().all(Value::is_null), "{:?}", rows[1]);

    // NOT NULL is enforced (the primary key column is NOT NULL too).
    let err = run(
        &engine,
        "INSERT INTO `env-dev`.`lkc-dev`.`t` (id) VALUES (NULL)",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, EngineError::Execution(_) | EngineError::Plan(_)),
        "{err:?}"
    );
    let (_, n) = ok(&engine, "SELECT COUNT(*) FROM `env-dev`.`lkc-dev`.`t`").await;
    assert_eq!(n[0][0], json!("2"), "failed insert left nothing behind");

    // Creating it again fails; IF NOT EXISTS is a no-op.
    assert!(matches!(
        run(&engine, CREATE_T).await,
        Err(EngineError::TableExists(_))
    ));
    ok(
        &engine,
        &CREATE_T.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"),
    )
    .await;
}

#[tokio::test]
async fn inserted_rows_survive_reopening_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let engine = open(dir.path()).await;
        ok(&engine, CREATE_T).await;
        ok(&engine, INSERT_T).await;
        ok(&engine, "INSERT INTO `env-dev`.`lkc-dev`.`t` (id, name) SELECT customer_id, name FROM `examples`.`marketplace`.`customers` WHERE customer_id < 3005").await;
        ok(&engine, "SELECT * FROM `env-dev`.`lkc-dev`.`t` ORDER BY id")
            .await
            .1
    };
    assert_eq!(before.len(), 7);
    let engine = open(dir.path()).await;
    assert_eq!(
        engine.user_tables(),
        [TableRef::new("env-dev", "lkc-dev", "t")]
    );
    let (t, after) = ok(&engine, "SELECT * FROM `env-dev`.`lkc-dev`.`t` ORDER BY id").await;
    assert_eq!(after, before);
    assert_eq!(
        type_json(&t, 2)["type"],
        "CHAR",
        "declared types survive too"
    );
    // And writes continue after the reopen.
    ok(
        &engine,
        "INSERT INTO `env-dev`.`lkc-dev`.`t` (id) VALUES (99)",
    )
    .await;
    drop(engine);
    let engine = open(dir.path()).await;
    let (_, n) = ok(&engine, "SELECT COUNT(*) FROM `env-dev`.`lkc-dev`.`t`").await;
    assert_eq!(n[0][0], json!("8"));
}

#[tokio::test]
async fn drop_table_removes_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    ok(&engine, CREATE_T).await;
    ok(&engine, INSERT_T).await;
    let table_dir = engine
        .inner
        .store
        .dir_of(&TableRef::new("env-dev", "lkc-dev", "t"));
    assert!(table_dir.join("schema.json").exists());
    let (t, _) = ok(&engine, "DROP TABLE `env-dev`.`lkc-dev`.`t`").await;
    assert_eq!(t.sql_kind, "DROP_TABLE");
    assert!(!table_dir.exists(), "directory removed");
    let err = run(&engine, "SELECT * FROM `env-dev`.`lkc-dev`.`t`")
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::TableNotFound(_)), "{err:?}");
    assert!(matches!(
        run(&engine, "DROP TABLE `env-dev`.`lkc-dev`.`t`").await,
        Err(EngineError::TableNotFound(_))
    ));
    ok(&engine, "DROP TABLE IF EXISTS `env-dev`.`lkc-dev`.`t`").await;
    drop(engine);
    let engine = open(dir.path()).await;
    assert!(engine.user_tables().is_empty());
    // The name is free again, and the new table starts empty.
    ok(&engine, CREATE_T).await;
    let (_, rows) = ok(&engine, "SELECT * FROM `env-dev`.`lkc-dev`.`t`").await;
    assert!(rows.is_empty());
}

#[tokio::test]
async fn create_table_as_select_takes_the_query_schema_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let (t, rows) = ok(
        &engine,
        "CREATE TABLE `env-dev`.`lkc-dev`.`by_customer` AS \
         SELECT customer_id, COUNT(*) AS orders, SUM(price) AS total \
         FROM `examples`.`marketplace`.`orders` GROUP BY customer_id",
    )
    .await;
    assert_eq!(t.sql_kind, "CREATE_TABLE_AS");
    assert!(t.schema.is_none() && rows.is_empty());
    let (t, rows) = ok(
        &engine,
        "SELECT SUM(orders), COUNT(*) FROM `env-dev`.`lkc-dev`.`by_customer`",
    )
    .await;
    assert_eq!(rows[0][0], json!("1000"));
    assert!(rows[0][1].as_str().unwrap().parse::<i64>().unwrap() <= 200);
    assert_eq!(type_json(&t, 0)["type"], "BIGINT");
    let (t, _) = ok(&engine, "SELECT * FROM `env-dev`.`lkc-dev`.`by_customer`").await;
    assert_eq!(names(&t), ["customer_id", "orders", "total"]);
    assert_eq!(type_json(&t, 0)["type"], "INTEGER");
    assert_eq!(type_json(&t, 2)["type"], "DOUBLE");
    drop(engine);
    let engine = open(dir.path()).await;
    let (_, rows) = ok(
        &engine,
        "SELECT SUM(orders) FROM `env-dev`.`lkc-dev`.`by_customer`",
    )
    .await;
    assert!(
        rows[0][0] == json!("1000"),
        "CTAS rows are durable: {rows:?}"
    );
    // A literal column gets the literal's type, as in Flink: CHAR(3) NOT NULL.
    ok(
        &engine,
        "CREATE TABLE `env-dev`.`lkc-dev`.`tagged` AS SELECT 'abc' AS tag, customer_id \
         FROM `env-dev`.`lkc-dev`.`by_customer`",
    )
    .await;
    let (t, _) = ok(&engine, "SELECT tag FROM `env-dev`.`lkc-dev`.`tagged`").await;
    assert_eq!(
        type_json(&t, 0),
        json!({"type": "CHAR", "nullable": false, "length": 3})
    );
}

#[tokio::test]
async fn describe_reports_flink_types_nullability_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    ok(&engine, CREATE_T).await;
    let (t, rows) = ok(&engine, "DESCRIBE `env-dev`.`lkc-dev`.`t`").await;
    assert_eq!(t.sql_kind, "DESCRIBE");
    assert_eq!(
        names(&t),
        ["name", "type", "null", "key", "extras", "watermark"]
    );
    assert_eq!(
        rows[0][..4],
        [json!("id"), json!("INT"), json!("FALSE"), json!("PRI(id)")]
    );
    assert_eq!(
        rows[1][..4],
        [json!("name"), json!("STRING"), json!("TRUE"), Value::Null]
    );
    assert_eq!(rows[5][1], json!("TIMESTAMP_LTZ(3)"));
    assert_eq!(rows[7][1], json!("MAP<STRING, INT>"));
    let (_, rows) = ok(&engine, "DESCRIBE `examples`.`marketplace`.`orders`").await;
    assert_eq!(
        rows[4][..3],
        [json!("$rowtime"), json!("TIMESTAMP_LTZ(3)"), json!("FALSE")]
    );
}

#[tokio::test]
async fn planning_errors_fail_before_any_row() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let err = engine
        .execute_statement(
            &parse("SELECT nope FROM `examples`.`marketplace`.`orders`"),
            &ctx(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Plan(_)), "{err:?}");
    assert_eq!(err.code(), "engine.plan_error");
    assert!(
        err.detail().starts_with("SQL validation failed. "),
        "{}",
        err.detail()
    );
    assert!(err.detail().contains("nope"), "{}", err.detail());

    let err = engine
        .execute_statement(
            &parse("SELECT * FROM `env-dev`.`lkc-dev`.`missing`"),
            &ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "engine.table_not_found");
    assert_eq!(
        err.detail(),
        "SQL validation failed. Table `env-dev`.`lkc-dev`.`missing` not found"
    );

    let err = engine
        .execute_statement(&parse("SELECT 'a' + 1"), &ctx())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Plan(_)), "{err:?}");
    let err = engine
        .execute_statement(&parse("CREATE VIEW v AS SELECT 1"), &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "engine.unsupported");
}

#[tokio::test]
async fn writes_to_examples_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    for sql in [
        "INSERT INTO `examples`.`marketplace`.`orders` SELECT * FROM `examples`.`marketplace`.`orders`",
        "CREATE TABLE `examples`.`marketplace`.`mine` (x INT)",
        "CREATE TABLE `examples`.`marketplace`.`mine` AS SELECT 1",
        "DROP TABLE `examples`.`marketplace`.`orders`",
    ] {
        let err = engine
            .execute_statement(&parse(sql), &ctx())
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::ReadOnly(_)), "{sql}: {err:?}");
        assert_eq!(err.code(), "engine.read_only");
    }
    let (_, n) = ok(
        &engine,
        "SELECT COUNT(*) FROM `examples`.`marketplace`.`orders`",
    )
    .await;
    assert_eq!(n[0][0], json!("1000"));
}

#[tokio::test]
async fn results_beyond_the_row_limit_fail_with_a_clear_detail() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EngineConfig {
        max_result_rows: 10,
        batch_size: 4,
        ..EngineConfig::default()
    };
    let engine = open_with(dir.path(), cfg).await;
    let (_, rows) = ok(
        &engine,
        "SELECT * FROM `examples`.`marketplace`.`orders` LIMIT 10",
    )
    .await;
    assert_eq!(rows.len(), 10);
    let err = run(&engine, "SELECT * FROM `examples`.`marketplace`.`orders`")
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::ResultTooLarge { limit: 10 }),
        "{err:?}"
    );
    assert!(err.detail().contains("10 rows"), "{}", err.detail());
}

#[test]
fn config_defaults_and_error_codes_are_stable() {
    let cfg: EngineConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(cfg.data_dir, Path::new("data"));
    assert_eq!(cfg.max_result_rows, 1_000_000);
    assert_eq!(cfg.batch_size, 8192);
    assert!(serde_json::from_str::<EngineConfig>(r#"{"bogus": 1}"#).is_err());
    let t = TableRef::new("c", "d", "t");
    let codes = [
        (EngineError::Plan(String::new()), "engine.plan_error"),
        (
            EngineError::Execution(String::new()),
            "engine.execution_error",
        ),
        (EngineError::TableExists(t.clone()), "engine.table_exists"),
        (EngineError::TableNotFound(t), "engine.table_not_found"),
        (
            EngineError::DatabaseNotFound {
                catalog: "c".into(),
                database: "d".into(),
            },
            "engine.database_not_found",
        ),
        (EngineError::ReadOnly("examples".into()), "engine.read_only"),
        (
            EngineError::Unsupported(String::new()),
            "engine.unsupported",
        ),
        (
            EngineError::Storage(std::io::Error::other("x")),
            "engine.storage_error",
        ),
        (
            EngineError::ResultTooLarge { limit: 1 },
            "engine.result_too_large",
        ),
        (EngineError::Internal(String::new()), "engine.internal"),
    ];
    for (e, code) in codes {
        assert_eq!(e.code(), code);
    }
}

mod conformance;
mod seam;
mod types;
