//! Flink's types and literals on the embedded engine (issue 14 item 4), parsed as the gateway
//! parses them: every type spelling stores in an in-memory table, round-trips in Flink's JSON
//! encoding and is reported with Flink's type JSON; integer literals are INT.

use super::*;

/// Parses as the gateway does (the Flink dialect with its type folding), then runs.
async fn gw(engine: &EmbeddedEngine, sql: &str) -> Result<(Traits, Vec<Vec<Value>>), String> {
    let parsed = crate::sql::parse(sql, &crate::sql::ParseLimits::default())
        .map_err(|e| format!("parse: {e}"))?;
    assert!(!parsed.is_flink_only(), "{sql}");
    let stmt = parsed.statements().next().expect("one statement").clone();
    let exec = engine
        .execute_statement(&stmt, &ctx())
        .await
        .map_err(|e| e.detail())?;
    let batches: Vec<Vec<ResultRow>> = exec.rows.try_collect().await.map_err(|e| e.detail())?;
    Ok((
        exec.traits,
        batches.into_iter().flatten().map(|r| r.row).collect(),
    ))
}

async fn gw_ok(engine: &EmbeddedEngine, sql: &str) -> (Traits, Vec<Vec<Value>>) {
    gw(engine, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}\nfailed: {e}"))
}

#[test]
fn the_remaining_flink_type_spellings_parse_and_print_back() {
    for (text, printed) in [
        ("MULTISET<INT>", "MULTISET<INT>"),
        (
            "MULTISET<STRING NOT NULL> NOT NULL",
            "MULTISET<STRING NOT NULL> NOT NULL",
        ),
        ("ROW(x INT, y STRING)", "ROW<`x` INT, `y` STRING>"),
        (
            "INTERVAL DAY(2) TO SECOND(3)",
            "INTERVAL DAY(2) TO SECOND(3)",
        ),
        ("INTERVAL DAY TO SECOND", "INTERVAL DAY(2) TO SECOND(3)"),
        ("INTERVAL SECOND(3)", "INTERVAL DAY(2) TO SECOND(3)"),
        ("INTERVAL YEAR(2) TO MONTH", "INTERVAL YEAR(2) TO MONTH"),
        ("INTERVAL MONTH", "INTERVAL YEAR(2) TO MONTH"),
        ("TIMESTAMP(3) WITH LOCAL TIME ZONE", "TIMESTAMP_LTZ(3)"),
    ] {
        let t = parse_flink_type(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(t.to_sql(), printed, "{text}");
        assert_eq!(parse_flink_type(printed).unwrap(), t, "{printed}");
        t.to_arrow().unwrap();
    }
    assert!(parse_flink_type("INTERVAL YEAR TO SECOND").is_err());
    let ms = serde_json::to_value(parse_flink_type("MULTISET<INT NOT NULL>").unwrap()).unwrap();
    assert_eq!(
        ms,
        json!({"type": "MULTISET", "nullable": true,
               "element_type": {"type": "INTEGER", "nullable": false}})
    );
}

const CREATE: &str = "CREATE TABLE `env-dev`.`lkc-dev`.`typed` (\
    id INT NOT NULL, m MAP<STRING, INT>, r ROW<x INT, y STRING>, r2 ROW(x INT, y STRING), \
    a ARRAY<INT>, ms MULTISET<STRING>, l TIMESTAMP_LTZ(3), l2 TIMESTAMP(3) WITH LOCAL TIME ZONE, \
    b BINARY(2), vb VARBINARY(4), bs BYTES, ids INTERVAL DAY(2) TO SECOND(3), \
    iym INTERVAL YEAR TO MONTH, nested MAP<STRING, ROW<a ARRAY<INT>>>, \
    PRIMARY KEY (id) NOT ENFORCED)";

#[tokio::test]
async fn every_flink_type_stores_round_trips_and_reports_flinks_type() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    gw_ok(&engine, CREATE).await;
    gw_ok(
        &engine,
        "INSERT INTO `env-dev`.`lkc-dev`.`typed` VALUES \
         (1, MAP['a', 1, 'b', 2], CAST(ROW(1, 'x') AS ROW<x INT, y STRING>), \
          (CAST((ROW(2, 'y')) AS ROW(x INT, y STRING))), ARRAY[1, 2], \
          CAST(NULL AS MULTISET<STRING>), \
          CAST(TIMESTAMP '2024-01-02 03:04:05.123' AS TIMESTAMP_LTZ(3)), \
          CAST(TIMESTAMP '2024-01-02 03:04:05' AS TIMESTAMP(3) WITH LOCAL TIME ZONE), \
          x'0102', x'ff', x'', INTERVAL '1 02:03:04.5' DAY TO SECOND, INTERVAL '1-6' YEAR TO MONTH, \
          MAP['k', CAST(ROW(ARRAY[7]) AS ROW<a ARRAY<INT>>)]), \
         (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    )
    .await;
    let (traits, rows) = gw_ok(
        &engine,
        "SELECT * FROM `env-dev`.`lkc-dev`.`typed` ORDER BY id",
    )
    .await;
    assert_eq!(
        rows,
        vec![
            vec![
                json!("1"),
                json!([["a", "1"], ["b", "2"]]),
                json!(["1", "x"]),
                json!(["2", "y"]),
                json!(["1", "2"]),
                json!(null),
                json!("2024-01-02 03:04:05.123"),
                json!("2024-01-02 03:04:05.000"),
                json!("x'0102'"),
                json!("x'ff'"),
                json!("x''"),
                json!("+1 02:03:04.500"),
                json!("+1-06"),
                json!([["k", [["7"]]]]),
            ],
            vec![json!("2")]
                .into_iter()
                .chain(std::iter::repeat_n(json!(null), 13))
                .collect(),
        ]
    );
    let int = json!({"type": "INTEGER", "nullable": true});
    let string = json!({"type": "VARCHAR", "nullable": true, "length": 2147483647});
    let row_xy = json!({"type": "ROW", "nullable": true, "fields": [
        {"name": "x", "field_type": int}, {"name": "y", "field_type": string}]});
    let want = [
        json!({"type": "INTEGER", "nullable": false}),
        json!({"type": "MAP", "nullable": true, "key_type": string, "value_type": int}),
        row_xy.clone(),
        row_xy,
        json!({"type": "ARRAY", "nullable": true, "element_type": int}),
        json!({"type": "MULTISET", "nullable": true, "element_type": string}),
        json!({"type": "TIMESTAMP_WITH_LOCAL_TIME_ZONE", "nullable": true, "precision": 3}),
        json!({"type": "TIMESTAMP_WITH_LOCAL_TIME_ZONE", "nullable": true, "precision": 3}),
        json!({"type": "BINARY", "nullable": true, "length": 2}),
        json!({"type": "VARBINARY", "nullable": true, "length": 4}),
        json!({"type": "VARBINARY", "nullable": true, "length": 2147483647}),
        json!({"type": "INTERVAL_DAY_TIME", "nullable": true, "resolution": "DAY_TO_SECOND",
               "precision": 2, "fractional_precision": 3}),
        json!({"type": "INTERVAL_YEAR_MONTH", "nullable": true, "resolution": "YEAR_TO_MONTH",
               "precision": 2}),
        json!({"type": "MAP", "nullable": true, "key_type": string, "value_type":
            {"type": "ROW", "nullable": true, "fields": [{"name": "a", "field_type":
                {"type": "ARRAY", "nullable": true, "element_type": int}}]}}),
    ];
    for (i, w) in want.iter().enumerate() {
        assert_eq!(type_json(&traits, i), *w, "column {i}");
    }
    // Access into the nested values.
    let (_, rows) = gw_ok(
        &engine,
        "SELECT m['b'], r.y, a[2], nested['k'] FROM `env-dev`.`lkc-dev`.`typed` WHERE id = 1",
    )
    .await;
    assert_eq!(
        rows,
        vec![vec![json!("2"), json!("x"), json!("2"), json!([["7"]])]]
    );
}

#[tokio::test]
async fn literals_are_typed_as_flink_types_them() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let (traits, rows) = gw_ok(
        &engine,
        "SELECT 1, -1, 2147483647, 2147483648, 1 + 1, 1.5, 1e3, TRUE, \
         MAP['a', 1], ARRAY[1, 2], ROW(1, 'x'), CAST(ROW(1, 'x') AS ROW<a INT, b STRING>)",
    )
    .await;
    let types: Vec<Value> = (0..12).map(|i| type_json(&traits, i)).collect();
    let int = json!({"type": "INTEGER", "nullable": false});
    assert_eq!(types[0], int);
    assert_eq!(types[1], int);
    assert_eq!(types[2], int);
    assert_eq!(types[3], json!({"type": "BIGINT", "nullable": false}));
    assert_eq!(types[4], int);
    assert_eq!(
        types[5],
        json!({"type": "DECIMAL", "nullable": false, "precision": 2, "scale": 1})
    );
    assert_eq!(types[7]["type"], "BOOLEAN");
    assert_eq!(types[8]["type"], "MAP");
    assert_eq!(types[8]["value_type"]["type"], "INTEGER");
    assert_eq!(types[9]["element_type"]["type"], "INTEGER");
    assert_eq!(types[10]["fields"][0]["field_type"]["type"], "INTEGER");
    assert_eq!(field_names(&types[10]), ["EXPR$0", "EXPR$1"]);
    assert_eq!(types[11]["fields"][0]["name"], "a");
    assert_eq!(types[11]["fields"][1]["field_type"]["type"], "VARCHAR");
    assert_eq!(
        rows,
        vec![vec![
            json!("1"),
            json!("-1"),
            json!("2147483647"),
            json!("2147483648"),
            json!("2"),
            json!("1.5"),
            json!("1000"),
            json!("TRUE"),
            json!([["a", "1"]]),
            json!(["1", "2"]),
            json!(["1", "x"]),
            json!(["1", "x"]),
        ]]
    );
    // INT arithmetic stays INT, as in Flink; a BIGINT operand makes it BIGINT.
    let (traits, rows) = gw_ok(&engine, "SELECT 2147483647 + 1, CAST(1 AS BIGINT) + 1").await;
    assert_eq!(type_json(&traits, 0)["type"], "INTEGER");
    assert_eq!(type_json(&traits, 1)["type"], "BIGINT");
    assert_eq!(rows, vec![vec![json!("-2147483648"), json!("2")]]);
}

/// The field names of a ROW type in `status.traits`.
fn field_names(t: &Value) -> Vec<String> {
    t["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("not a ROW: {t}"))
        .iter()
        .map(|f| f["name"].as_str().expect("a field name").to_string())
        .collect()
}

#[tokio::test]
async fn an_unnamed_row_names_its_fields_expr_n_as_flink_does() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let (traits, rows) = gw_ok(
        &engine,
        "SELECT ROW(1, 'x'), ROW(2, ROW('a', TRUE)), \
         CAST(ROW(1, 'x') AS ROW<a INT, b STRING>), (ROW(3)), \
         CAST(ROW(4, ROW(5)) AS ROW<p INT, q ROW<z BIGINT>>)",
    )
    .await;
    let t: Vec<Value> = (0..5).map(|i| type_json(&traits, i)).collect();
    // Exactly Flink's type of `ROW(1, 'x')` (see `flink::values`' tests).
    assert_eq!(
        t[0],
        json!({"type": "ROW", "nullable": false, "fields": [
            {"name": "EXPR$0", "field_type": {"type": "INTEGER", "nullable": false}},
            {"name": "EXPR$1", "field_type": {"type": "CHAR", "nullable": false, "length": 1}}]})
    );
    assert_eq!(field_names(&t[1]), ["EXPR$0", "EXPR$1"]);
    assert_eq!(
        field_names(&t[1]["fields"][1]["field_type"]),
        ["EXPR$0", "EXPR$1"]
    );
    assert_eq!(
        t[1]["fields"][1]["field_type"]["fields"][1]["field_type"],
        json!({"type": "BOOLEAN", "nullable": false})
    );
    assert_eq!(field_names(&t[2]), ["a", "b"], "a cast names the fields");
    assert_eq!(field_names(&t[3]), ["EXPR$0"]);
    assert_eq!(field_names(&t[4]), ["p", "q"]);
    assert_eq!(field_names(&t[4]["fields"][1]["field_type"]), ["z"]);
    assert_eq!(
        t[4]["fields"][1]["field_type"]["fields"][0]["field_type"]["type"],
        "BIGINT"
    );
    assert_eq!(
        rows,
        vec![vec![
            json!(["1", "x"]),
            json!(["2", ["a", "TRUE"]]),
            json!(["1", "x"]),
            json!(["3"]),
            json!(["4", ["5"]]),
        ]]
    );
    // A row built from a table's columns, and its fields read back by name.
    let (traits, rows) = gw_ok(
        &engine,
        "SELECT r, r.EXPR$1 FROM (SELECT ROW(customer_id, name) AS r \
         FROM `examples`.`marketplace`.`customers`) ORDER BY r.EXPR$0 LIMIT 1",
    )
    .await;
    let r = type_json(&traits, 0);
    assert_eq!(field_names(&r), ["EXPR$0", "EXPR$1"]);
    let (table, _) = gw_ok(
        &engine,
        "SELECT customer_id, name FROM `examples`.`marketplace`.`customers` LIMIT 1",
    )
    .await;
    for i in 0..2 {
        assert_eq!(
            r["fields"][i]["field_type"],
            type_json(&table, i),
            "a field typed as its column"
        );
    }
    assert_eq!(rows[0][0][1], rows[0][1]);
}

#[tokio::test]
async fn a_bare_row_is_written_into_a_row_column_by_position() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let t = "`env-dev`.`lkc-dev`.`rows`";
    gw_ok(
        &engine,
        &format!(
            "CREATE TABLE {t} (id INT NOT NULL, r ROW<x INT, y STRING>, \
             n ROW<a BIGINT, b ROW<c STRING, d DOUBLE>>)"
        ),
    )
    .await;
    gw_ok(
        &engine,
        &format!("INSERT INTO {t} VALUES (1, ROW(1, 'a'), ROW(2, ROW('c', 1.5))), (2, NULL, NULL)"),
    )
    .await;
    gw_ok(
        &engine,
        &format!("INSERT INTO {t} (id, r) VALUES (3, (ROW(3, 'b')))"),
    )
    .await;
    gw_ok(
        &engine,
        &format!("INSERT INTO {t} SELECT 4, ROW(4, 'd'), NULL"),
    )
    .await;
    let (traits, rows) = gw_ok(&engine, &format!("SELECT * FROM {t} ORDER BY id")).await;
    assert_eq!(
        rows,
        vec![
            vec![json!("1"), json!(["1", "a"]), json!(["2", ["c", "1.5"]])],
            vec![json!("2"), json!(null), json!(null)],
            vec![json!("3"), json!(["3", "b"]), json!(null)],
            vec![json!("4"), json!(["4", "d"]), json!(null)],
        ]
    );
    assert_eq!(field_names(&type_json(&traits, 1)), ["x", "y"]);
    assert_eq!(
        field_names(&type_json(&traits, 2)["fields"][1]["field_type"]),
        ["c", "d"]
    );
    let (_, rows) = gw_ok(&engine, &format!("SELECT r.y, n.b.d FROM {t} WHERE id = 1")).await;
    assert_eq!(rows, vec![vec![json!("a"), json!("1.5")]]);

    // An arity mismatch names the column and both arities, a nested one the field's path;
    // a field Flink does not convert implicitly is refused too.
    let refused = [
        (
            format!("INSERT INTO {t} VALUES (5, ROW(1, 'a', 'z'), NULL)"),
            vec!["Column 'r'", "ROW of 2 fields", "has 3 fields"],
        ),
        (
            format!("INSERT INTO {t} VALUES (5, NULL, ROW(1, ROW('c')))"),
            vec!["Column 'n.b'", "ROW of 2 fields", "has 1 field"],
        ),
        (
            format!("INSERT INTO {t} VALUES (5, ROW(1, 2), NULL)"),
            vec!["sink column 'r'", "ROW<`x` INT, `y` STRING>"],
        ),
        (
            format!("INSERT INTO {t} VALUES (5, ROW(2147483648, 'a'), NULL)"),
            vec!["sink column 'r'", "BIGINT"],
        ),
    ];
    for (sql, wants) in &refused {
        let e = gw(&engine, sql).await.unwrap_err();
        for w in wants {
            assert!(e.contains(w), "{sql}: {e}");
        }
        for dump in ["Struct(", "Utf8", "Int32", "Int64"] {
            assert!(!e.contains(dump), "{sql}: {e}");
        }
    }
    let (_, n) = gw_ok(&engine, &format!("SELECT COUNT(*) FROM {t}")).await;
    assert_eq!(n, vec![vec![json!("4")]], "a refused insert writes nothing");
}

#[test]
fn implicit_conversions_are_flinks() {
    let t = |s: &str| parse_flink_type(s).unwrap();
    for (from, to) in [
        ("INT", "BIGINT"),
        ("TINYINT", "INT"),
        ("INT", "DECIMAL(10, 2)"),
        ("DECIMAL(2, 1)", "DOUBLE"),
        ("BIGINT", "FLOAT"),
        ("CHAR(3)", "STRING"),
        ("CHAR(1)", "CHAR(3)"),
        ("VARCHAR(5)", "VARCHAR(2)"),
        ("BINARY(2)", "BYTES"),
        ("TIMESTAMP(3)", "TIMESTAMP_LTZ(6)"),
        ("TIMESTAMP(3)", "DATE"),
        ("ARRAY<INT>", "ARRAY<BIGINT>"),
        ("ROW<a INT, b CHAR(1)>", "ROW<x BIGINT, y STRING>"),
        ("MAP<CHAR(1), INT>", "MAP<STRING, DOUBLE>"),
    ] {
        assert!(t(from).casts_implicitly_to(&t(to)), "{from} -> {to}");
    }
    for (from, to) in [
        ("BIGINT", "INT"),
        ("INT", "STRING"),
        ("STRING", "CHAR(3)"),
        ("DOUBLE", "DECIMAL(10, 2)"),
        ("DOUBLE", "FLOAT"),
        ("DATE", "TIMESTAMP(3)"),
        ("STRING", "BYTES"),
        ("ROW<a INT>", "ROW<a INT, b INT>"),
        ("ROW<a INT, b INT>", "ROW<a INT, b STRING>"),
        ("ARRAY<INT>", "INT"),
    ] {
        assert!(!t(from).casts_implicitly_to(&t(to)), "{from} -> {to}");
    }
}

#[tokio::test]
async fn string_literals_are_typed_char_as_flink_types_them() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let chars = |n: u32| json!({"type": "CHAR", "nullable": false, "length": n});
    let varchar = |n: u32| json!({"type": "VARCHAR", "nullable": false, "length": n});
    let cases = [
        ("'abc'", chars(3), json!("abc")),
        ("'héllo'", chars(5), json!("héllo")),
        ("'it''s'", chars(4), json!("it's")),
        ("'a' || 'bc'", chars(3), json!("abc")),
        ("('a' || 'bc') || 'de'", chars(5), json!("abcde")),
        (
            "CASE WHEN 1 = 1 THEN 'a' ELSE 'bc' END",
            varchar(2),
            json!("a"),
        ),
        (
            "CASE WHEN 1 = 1 THEN 'ab' ELSE 'cd' END",
            chars(2),
            json!("ab"),
        ),
        (
            "CASE WHEN 1 = 1 THEN 'ab' ELSE 'c' || 'de' END",
            varchar(3),
            json!("ab"),
        ),
        ("COALESCE('a', 'bc')", varchar(2), json!("a")),
        ("COALESCE('ab', 'cd')", chars(2), json!("ab")),
        ("CONCAT('a', 'b')", varchar(2147483647), json!("ab")),
        ("CAST('a' AS STRING)", varchar(2147483647), json!("a")),
        ("UPPER('a')", json!(null), json!("A")),
    ];
    let select = format!(
        "SELECT {}",
        cases.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
    );
    let (traits, rows) = gw_ok(&engine, &select).await;
    for (i, (expr, ty, value)) in cases.iter().enumerate() {
        let got = type_json(&traits, i);
        if ty.is_null() {
            // Not a case Flink's typing is read for: the type stays STRING.
            assert_eq!(got["type"], "VARCHAR", "{expr}: {got}");
            assert_eq!(got["length"], 2147483647, "{expr}: {got}");
        } else {
            assert_eq!(got, *ty, "{expr}");
        }
        assert_eq!(rows[0][i], *value, "{expr}");
    }
    // A CASE without ELSE may be NULL; the length is still the literal's.
    let (traits, _) = gw_ok(&engine, "SELECT CASE WHEN 1 = 2 THEN 'ab' END").await;
    assert_eq!(
        type_json(&traits, 0),
        json!({"type": "CHAR", "nullable": true, "length": 2})
    );
    // Through subqueries, unions and VALUES; a table's columns keep their own type.
    for (sql, want) in [
        (
            "SELECT x FROM (SELECT 'abc' AS x) AS s ORDER BY x",
            chars(3),
        ),
        ("SELECT 'a' UNION ALL SELECT 'bc'", varchar(2)),
        ("SELECT 'ab' UNION SELECT 'cd'", chars(2)),
        ("SELECT x FROM (VALUES ('a'), ('bc')) AS v(x)", varchar(2)),
        (
            "SELECT x FROM (VALUES ('ab'), ('cd')) AS v(x) WHERE x <> 'zz' LIMIT 5",
            chars(2),
        ),
    ] {
        let (traits, _) = gw_ok(&engine, sql).await;
        assert_eq!(type_json(&traits, 0), want, "{sql}");
    }
    let customers = "`examples`.`marketplace`.`customers`";
    let (before, _) = gw_ok(&engine, &format!("SELECT name FROM {customers} LIMIT 1")).await;
    let (traits, _) = gw_ok(
        &engine,
        &format!("SELECT name, name || 'x', 'x' || name FROM {customers} LIMIT 1"),
    )
    .await;
    for i in 0..3 {
        assert_eq!(
            type_json(&traits, i)["type"],
            type_json(&before, 0)["type"],
            "{i}"
        );
    }
}

#[tokio::test]
async fn positions_counts_and_frame_offsets_keep_their_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let orders = "`examples`.`marketplace`.`customers`";
    let (_, rows) = gw_ok(
        &engine,
        &format!("SELECT customer_id, name FROM {orders} ORDER BY 1 DESC LIMIT 2 OFFSET 1"),
    )
    .await;
    assert_eq!(rows.len(), 2);
    let (_, all) = gw_ok(
        &engine,
        &format!("SELECT customer_id FROM {orders} ORDER BY customer_id DESC LIMIT 3"),
    )
    .await;
    assert_eq!(rows[0][0], all[1][0]);
    assert_eq!(rows[1][0], all[2][0]);
    let (_, rows) = gw_ok(
        &engine,
        "SELECT x, COUNT(*) FROM (VALUES (1), (1), (2)) AS v(x) GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert_eq!(
        rows,
        vec![vec![json!("1"), json!("2")], vec![json!("2"), json!("1")]]
    );
    let (_, rows) = gw_ok(
        &engine,
        "SELECT x, SUM(x) OVER (ORDER BY x ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) \
         FROM (VALUES (1), (2), (3)) AS v(x) ORDER BY x",
    )
    .await;
    assert_eq!(
        rows.iter().map(|r| r[1].clone()).collect::<Vec<_>>(),
        vec![json!("1"), json!("3"), json!("5")]
    );
}

#[tokio::test]
async fn a_multiset_constructor_and_an_odd_map_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let e = gw(&engine, "SELECT MULTISET[1, 1, 2]").await.unwrap_err();
    assert!(
        e.contains("MULTISET[…] value constructor is not supported"),
        "{e}"
    );
    let e = gw(&engine, "SELECT MAP['a', 1, 'b']").await.unwrap_err();
    assert!(e.contains("MAP[…] takes keys and values in pairs"), "{e}");
}
