//! Flink's types and literals through the statements API over TLS (issue 14 item 4): a table
//! of each type spelling on the embedded engine's in-memory tables, written with Flink's
//! literals, read back in Flink's JSON encoding with Flink's type JSON in `status.traits`.

mod common;

use serde_json::{Value, json};

use common::{TestGateway, developer, get, run_query};

#[tokio::test]
async fn flink_types_and_literals_round_trip_through_the_statements_api() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    run_query(
        &gw,
        &dev,
        "create",
        "CREATE TABLE typed (id INT NOT NULL, m MAP<STRING, INT>, r ROW<x INT, y STRING>, \
         r2 ROW(x INT, y STRING), a ARRAY<INT>, ms MULTISET<STRING>, \
         l TIMESTAMP(3) WITH LOCAL TIME ZONE, b BINARY(2), bs BYTES, \
         ids INTERVAL DAY(2) TO SECOND(3), iym INTERVAL YEAR TO MONTH)",
    )
    .await
    .expect("CREATE TABLE");
    run_query(
        &gw,
        &dev,
        "insert",
        "INSERT INTO typed VALUES (1, MAP['a', 1, 'b', 2], CAST(ROW(1, 'x') AS ROW<x INT, y STRING>), \
         CAST(ROW(2, 'y') AS ROW(x INT, y STRING)), ARRAY[1, 2], CAST(NULL AS MULTISET<STRING>), \
         CAST(TIMESTAMP '2024-01-02 03:04:05.123' AS TIMESTAMP_LTZ(3)), x'0102', x'ff', \
         INTERVAL '1 02:03:04.5' DAY TO SECOND, INTERVAL '1-6' YEAR TO MONTH)",
    )
    .await
    .expect("INSERT");
    let rows = run_query(&gw, &dev, "read", "SELECT * FROM typed")
        .await
        .expect("SELECT");
    assert_eq!(
        rows,
        vec![json!([
            "1",
            [["a", "1"], ["b", "2"]],
            ["1", "x"],
            ["2", "y"],
            ["1", "2"],
            null,
            "2024-01-02 03:04:05.123",
            "x'0102'",
            "x'ff'",
            "+1 02:03:04.500",
            "+1-06"
        ])]
    );
    let (status, st) = get(&gw, &dev, "/statements/read").await;
    assert_eq!(status, 200, "{st}");
    let types: Vec<Value> = st["status"]["traits"]["schema"]["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["type"].clone())
        .collect();
    let int = json!({"type": "INTEGER", "nullable": true});
    let string = json!({"type": "VARCHAR", "nullable": true, "length": 2147483647});
    let row_xy = json!({"type": "ROW", "nullable": true, "fields": [
        {"name": "x", "field_type": int}, {"name": "y", "field_type": string}]});
    assert_eq!(
        types,
        vec![
            json!({"type": "INTEGER", "nullable": false}),
            json!({"type": "MAP", "nullable": true, "key_type": string, "value_type": int}),
            row_xy.clone(),
            row_xy,
            json!({"type": "ARRAY", "nullable": true, "element_type": int}),
            json!({"type": "MULTISET", "nullable": true, "element_type": string}),
            json!({"type": "TIMESTAMP_WITH_LOCAL_TIME_ZONE", "nullable": true, "precision": 3}),
            json!({"type": "BINARY", "nullable": true, "length": 2}),
            json!({"type": "VARBINARY", "nullable": true, "length": 2147483647}),
            json!({"type": "INTERVAL_DAY_TIME", "nullable": true, "resolution": "DAY_TO_SECOND",
                   "precision": 2, "fractional_precision": 3}),
            json!({"type": "INTERVAL_YEAR_MONTH", "nullable": true, "resolution": "YEAR_TO_MONTH",
                   "precision": 2}),
        ]
    );
    // Literal typing: `1` is INT, a literal past 32 bits BIGINT, `1.5` DECIMAL(2, 1), `'abc'`
    // CHAR(3).
    let rows = run_query(
        &gw,
        &dev,
        "lits",
        "SELECT 1, 2147483648, 1.5, MAP['k', 1], 'abc'",
    )
    .await
    .expect("literals");
    assert_eq!(
        rows,
        vec![json!(["1", "2147483648", "1.5", [["k", "1"]], "abc"])]
    );
    let (_, st) = get(&gw, &dev, "/statements/lits").await;
    let cols = &st["status"]["traits"]["schema"]["columns"];
    assert_eq!(
        cols[0]["type"],
        json!({"type": "INTEGER", "nullable": false})
    );
    assert_eq!(
        cols[1]["type"],
        json!({"type": "BIGINT", "nullable": false})
    );
    assert_eq!(
        cols[2]["type"],
        json!({"type": "DECIMAL", "nullable": false, "precision": 2, "scale": 1})
    );
    assert_eq!(cols[3]["type"]["value_type"]["type"], "INTEGER");
    assert_eq!(
        cols[4]["type"],
        json!({"type": "CHAR", "nullable": false, "length": 3})
    );

    // A bare ROW(…): Flink's field names `EXPR$<i>`, and written into a ROW column by position.
    run_query(
        &gw,
        &dev,
        "bare",
        "INSERT INTO typed (id, r) VALUES (2, ROW(3, 'z'))",
    )
    .await
    .expect("INSERT a bare ROW");
    let rows = run_query(
        &gw,
        &dev,
        "rows",
        "SELECT r, ROW(id, 'k') FROM typed WHERE id = 2",
    )
    .await
    .expect("SELECT rows");
    assert_eq!(rows, vec![json!([["3", "z"], ["2", "k"]])]);
    let (_, st) = get(&gw, &dev, "/statements/rows").await;
    let cols = &st["status"]["traits"]["schema"]["columns"];
    let names = |t: &Value| -> Vec<Value> {
        t["fields"]
            .as_array()
            .expect("a ROW")
            .iter()
            .map(|f| f["name"].clone())
            .collect()
    };
    assert_eq!(names(&cols[0]["type"]), [json!("x"), json!("y")]);
    assert_eq!(names(&cols[1]["type"]), [json!("EXPR$0"), json!("EXPR$1")]);
    let (_, body) = run_query(
        &gw,
        &dev,
        "arity",
        "INSERT INTO typed (id, r) VALUES (3, ROW(1, 'a', 'b'))",
    )
    .await
    .expect_err("a row of another arity");
    let detail = body.to_string();
    assert!(
        detail.contains("Column 'r' is a ROW of 2 fields") && detail.contains("has 3 fields"),
        "{detail}"
    );
    assert!(!detail.contains("Struct("), "{detail}");
    gw.stop().await;
}
