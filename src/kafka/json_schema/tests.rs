use serde_json::{Value, json};

use super::*;

fn col(name: &str, ty: &str) -> (String, FlinkType) {
    (name.to_string(), parse_flink_type(ty).unwrap())
}

fn sql(cols: &[(String, FlinkType)]) -> Vec<(String, String)> {
    cols.iter().map(|(n, t)| (n.clone(), t.to_sql())).collect()
}

fn names_and_types(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect()
}

/// Every type family the writer supports, as declared in DDL.
const TYPES: &[&str] = &[
    "BOOLEAN",
    "TINYINT",
    "SMALLINT",
    "INT",
    "BIGINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL(10, 2)",
    "DECIMAL(38, 0)",
    "CHAR(5)",
    "VARCHAR(20)",
    "STRING",
    "BINARY(4)",
    "VARBINARY(8)",
    "BYTES",
    "DATE",
    "TIME(0)",
    "TIME(3)",
    "TIMESTAMP(3)",
    "TIMESTAMP(6)",
    "TIMESTAMP_LTZ(3)",
    "TIMESTAMP_LTZ(9)",
    "ARRAY<INT NOT NULL>",
    "ARRAY<STRING>",
    "ARRAY<ARRAY<DECIMAL(5, 1)>>",
    "MAP<STRING, BIGINT>",
    "MAP<STRING NOT NULL, ARRAY<DOUBLE> NOT NULL>",
    "MAP<INT, STRING>",
    "ROW<`a` INT NOT NULL, `b` ROW<`c` ARRAY<DOUBLE>, `d` TIMESTAMP_LTZ(3) NOT NULL>>",
];

#[test]
fn every_type_round_trips_nullable_and_not_null() {
    let mut cols = Vec::new();
    for (i, ty) in TYPES.iter().enumerate() {
        cols.push(col(&format!("n{i}"), ty));
        cols.push(col(&format!("r{i}"), &format!("{ty} NOT NULL")));
    }
    let text = to_json_schema(&cols).unwrap();
    let back = from_json_schema(&text).unwrap();
    assert_eq!(sql(&back), sql(&cols), "schema was {text}");
    assert_eq!(back, cols);
}

#[test]
fn written_shape_follows_confluent_conventions() {
    let cols = vec![
        col("id", "BIGINT NOT NULL"),
        col("price", "DECIMAL(10, 2)"),
        col("at", "TIMESTAMP_LTZ(3) NOT NULL"),
        col("name", "VARCHAR(20)"),
        col("blob", "BYTES NOT NULL"),
    ];
    let text = to_json_schema(&cols).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["$schema"],
        json!("http://json-schema.org/draft-07/schema#")
    );
    assert_eq!(v["type"], json!("object"));
    assert_eq!(v["title"], json!("Record"));
    assert_eq!(v["required"], json!(["id", "at", "blob"]));
    let p = &v["properties"];
    assert_eq!(
        p["id"],
        json!({"type": "integer", "connect.type": "int64", "connect.index": 0, "flink.type": "BIGINT"})
    );
    assert_eq!(
        p["price"],
        json!({"oneOf": [{"type": "null"}, {"type": "number"}], "connect.index": 1, "flink.type": "DECIMAL(10, 2)"})
    );
    assert_eq!(p["at"]["format"], json!("date-time"));
    assert_eq!(p["at"]["flink.type"], json!("TIMESTAMP_LTZ(3)"));
    assert_eq!(p["name"]["oneOf"][1], json!({"type": "string"}));
    assert_eq!(p["name"]["flink.type"], json!("VARCHAR(20)"));
    assert_eq!(p["blob"]["contentEncoding"], json!("base64"));
    // Properties are written in column order, not sorted.
    let pos = |k: &str| text.find(&format!("\"{k}\":{{")).unwrap();
    assert!(pos("id") < pos("price") && pos("price") < pos("at") && pos("at") < pos("name"));
    assert!(pos("name") < pos("blob"));
}

#[test]
fn written_schema_validates_matching_documents() {
    let cols = vec![
        col("id", "INT NOT NULL"),
        col("tags", "ARRAY<STRING NOT NULL>"),
        col("attrs", "MAP<STRING, DOUBLE>"),
        col("addr", "ROW<`city` STRING NOT NULL, `zip` INT>"),
        col("day", "DATE"),
    ];
    let schema: Value = serde_json::from_str(&to_json_schema(&cols).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let good = json!({"id": 1, "tags": ["a"], "attrs": {"x": 1.5, "y": null},
        "addr": {"city": "Oslo", "zip": null}, "day": "2024-01-31"});
    assert!(validator.is_valid(&good));
    assert!(validator.is_valid(&json!({"id": 2, "tags": null})));
    for bad in [
        json!({"tags": []}),
        json!({"id": null}),
        json!({"id": "1"}),
        json!({"id": 1, "tags": [null]}),
        json!({"id": 1, "addr": {"zip": 1}}),
        json!({"id": 1, "attrs": {"x": "y"}}),
    ] {
        assert!(!validator.is_valid(&bad), "{bad} should not validate");
    }
}

#[test]
fn foreign_schema_without_flink_type_is_derived() {
    let text = r#"{
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "z_id": {"type": "integer"},
            "small": {"type": "integer", "connect.type": "int16"},
            "ratio": {"type": ["null", "number"]},
            "f": {"type": "number", "connect.type": "float32"},
            "amount": {"type": "number", "title": "org.apache.kafka.connect.data.Decimal",
                "connect.parameters": {"scale": "2", "connect.decimal.precision": "12"}},
            "name": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "day": {"type": "string", "format": "date"},
            "at": {"type": "string", "format": "date-time"},
            "clock": {"type": "string", "format": "time"},
            "raw": {"type": "string", "contentEncoding": "base64"},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "any_list": {"type": "array"},
            "labels": {"type": "object", "additionalProperties": {"type": ["integer", "null"]}},
            "addr": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            "blob": {"type": "object"},
            "either": {"type": ["string", "integer"]},
            "combo": {"allOf": [{"type": "string"}]},
            "free": {}
        },
        "required": ["z_id", "small", "ratio", "day", "tags", "addr"]
    }"#;
    let cols = from_json_schema(text).unwrap();
    // Without connect.index the document order is kept.
    assert_eq!(
        sql(&cols),
        names_and_types(&[
            ("z_id", "BIGINT NOT NULL"),
            ("small", "SMALLINT NOT NULL"),
            ("ratio", "DOUBLE"),
            ("f", "FLOAT"),
            ("amount", "DECIMAL(12, 2)"),
            ("name", "STRING"),
            ("day", "DATE NOT NULL"),
            ("at", "TIMESTAMP(3)"),
            ("clock", "TIME(3)"),
            ("raw", "BYTES"),
            ("ok", "BOOLEAN"),
            ("tags", "ARRAY<STRING NOT NULL> NOT NULL"),
            ("any_list", "ARRAY<STRING>"),
            ("labels", "MAP<STRING, BIGINT>"),
            ("addr", "ROW<`city` STRING NOT NULL> NOT NULL"),
            ("blob", "STRING"),
            ("either", "STRING"),
            ("combo", "STRING"),
            ("free", "STRING"),
        ])
    );
}

#[test]
fn columns_follow_connect_index_when_every_property_has_one() {
    let text = r#"{"type": "object", "properties": {
        "b": {"type": "string", "connect.index": 1},
        "a": {"type": "integer", "connect.type": "int32", "connect.index": 0}}}"#;
    assert_eq!(
        sql(&from_json_schema(text).unwrap()),
        names_and_types(&[("a", "INT"), ("b", "STRING")])
    );
    let partial = r#"{"type": "object", "properties": {
        "b": {"type": "string", "connect.index": 1}, "a": {"type": "integer"}}}"#;
    assert_eq!(
        sql(&from_json_schema(partial).unwrap()),
        names_and_types(&[("b", "STRING"), ("a", "BIGINT")])
    );
}

#[test]
fn flink_type_that_disagrees_with_the_json_type_is_ignored() {
    // Confluent Cloud's Flink writes its own `flink.type` values on Connect-style schemas.
    let text = r#"{"type": "object", "properties": {
        "ts": {"type": "number", "flink.type": "timestamp", "connect.type": "int64"},
        "bad": {"type": "string", "flink.type": "NOT A TYPE"},
        "n": {"type": "integer", "flink.type": "SMALLINT"}},
        "required": ["ts", "n"]}"#;
    assert_eq!(
        sql(&from_json_schema(text).unwrap()),
        names_and_types(&[
            ("ts", "DOUBLE NOT NULL"),
            ("bad", "STRING"),
            ("n", "SMALLINT NOT NULL")
        ])
    );
}

#[test]
fn nullability_comes_from_null_branches_and_required() {
    let text = r#"{"type": "object", "properties": {
        "a": {"oneOf": [{"type": "null"}, {"type": "integer"}]},
        "b": {"type": ["integer", "null"]},
        "c": {"type": "integer"},
        "d": {"type": "integer"}},
        "required": ["a", "b", "c"]}"#;
    assert_eq!(
        sql(&from_json_schema(text).unwrap()),
        names_and_types(&[
            ("a", "BIGINT"),
            ("b", "BIGINT"),
            ("c", "BIGINT NOT NULL"),
            ("d", "BIGINT"),
        ])
    );
}

#[test]
fn unusable_schemas_are_refused_with_a_reason() {
    for (text, want) in [
        ("not json", "not valid JSON"),
        (r#"{"type": "string"}"#, "object with properties"),
        (r#"{"type": "object"}"#, "object with properties"),
        (
            r#"{"type": "object", "properties": {}}"#,
            "object with properties",
        ),
        (r#"[1, 2]"#, "object with properties"),
        (
            r##"{"$ref": "#/definitions/R", "definitions": {}}"##,
            "$ref",
        ),
        (
            r##"{"type": "object", "properties": {"a": {"$ref": "#/x"}}}"##,
            "$ref",
        ),
        (
            r#"{"type": "object", "properties": {"a": {"type": "string"}, "a": {"type": "integer"}}}"#,
            "duplicate",
        ),
    ] {
        let err = from_json_schema(text).unwrap_err();
        assert!(err.contains(want), "{text}: {err}");
    }
}

#[test]
fn a_property_named_ref_is_just_a_column() {
    let text = r#"{"type": "object", "properties": {"$ref": {"type": "string"}}}"#;
    assert_eq!(
        sql(&from_json_schema(text).unwrap()),
        names_and_types(&[("$ref", "STRING")])
    );
}

#[test]
fn columns_without_a_json_form_are_refused() {
    assert!(to_json_schema(&[]).unwrap_err().contains("at least one"));
    let interval = vec![("d".to_string(), FlinkType::new(Kind::IntervalDayTime, true))];
    assert!(
        to_json_schema(&interval)
            .unwrap_err()
            .contains("column `d`")
    );
    let dup = vec![col("a", "INT"), col("a", "STRING")];
    assert!(
        to_json_schema(&dup)
            .unwrap_err()
            .contains("duplicate column `a`")
    );
}
