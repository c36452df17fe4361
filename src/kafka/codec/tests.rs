use datafusion::arrow::array::{
    Array, AsArray, BinaryArray, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{
    Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampMillisecondType,
};

use datafusion::arrow::datatypes::Field;

use super::avro::{from_avro_schema, to_avro_schema};
use super::*;
use crate::kafka::subjects::SchemaType;
use crate::sql::types::parse_flink_type;

fn cols(spec: &[(&str, &str)]) -> Vec<(String, FlinkType)> {
    spec.iter()
        .map(|(n, t)| (n.to_string(), parse_flink_type(t).unwrap()))
        .collect()
}

fn registered(id: u32, schema_type: SchemaType, schema: String) -> RegisteredSchema {
    RegisteredSchema {
        subject: "t-value".into(),
        version: 1,
        id,
        schema_type,
        schema,
    }
}

fn layout(
    columns: &[(&str, &str)],
    key: &[&str],
    key_format: Format,
    value_format: Format,
) -> TableLayout {
    TableLayout {
        topic: "t".into(),
        columns: cols(columns),
        key_columns: key.iter().map(|k| k.to_string()).collect(),
        key_format,
        value_format,
        key_schema: None,
        value_schema: None,
        upsert: false,
    }
}

fn rec<'a>(key: Option<&'a [u8]>, value: Option<&'a [u8]>, offset: i64) -> SourceRecord<'a> {
    SourceRecord {
        key,
        value,
        partition: 2,
        offset,
        timestamp_ms: Some(1_700_000_000_000 + offset),
    }
}

fn value_json(codec: &Codec, values: &[&str]) -> Result<RecordBatch, CodecError> {
    let records: Vec<SourceRecord<'_>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| rec(None, Some(v.as_bytes()), i as i64))
        .collect();
    codec.decode(&records)
}

/// Decodes what `encode` wrote, with the partition/offset/timestamp of `rec`.
fn decode_records(codec: &Codec, records: &[Record]) -> RecordBatch {
    let source: Vec<SourceRecord<'_>> = records
        .iter()
        .enumerate()
        .map(|(i, r)| rec(r.key.as_deref(), r.value.as_deref(), i as i64))
        .collect();
    codec.decode(&source).unwrap()
}

/// Compares two batches column by column, naming the first column that differs.
fn assert_same(got: &RecordBatch, want: &RecordBatch) {
    assert_eq!(got.schema(), want.schema());
    for (i, f) in want.schema().fields().iter().enumerate() {
        assert_eq!(got.column(i), want.column(i), "column `{}`", f.name());
    }
}

fn decode_error(e: CodecError) -> (i32, i64, String) {
    match e {
        CodecError::Decode {
            partition,
            offset,
            reason,
        } => (partition, offset, reason),
        other => panic!("expected a decode error, got {other}"),
    }
}

const ALL_TYPES: &[(&str, &str)] = &[
    ("id", "INT NOT NULL"),
    ("b", "BOOLEAN"),
    ("ti", "TINYINT"),
    ("si", "SMALLINT"),
    ("l", "BIGINT"),
    ("f", "FLOAT"),
    ("d", "DOUBLE"),
    ("m", "DECIMAL(10, 2)"),
    ("big", "DECIMAL(38, 9)"),
    ("c", "CHAR(3)"),
    ("s", "STRING"),
    ("bin", "BYTES"),
    ("dt", "DATE"),
    ("t", "TIME(3)"),
    ("ts", "TIMESTAMP(3)"),
    ("ltz", "TIMESTAMP_LTZ(3)"),
    ("tsu", "TIMESTAMP(6)"),
    ("a", "ARRAY<INT>"),
    ("mp", "MAP<STRING, BIGINT>"),
    ("r", "ROW<x INT, y STRING, z ARRAY<ROW<q DOUBLE>>>"),
];

const FULL_ROW: &str = r#"{"id": 1, "b": true, "ti": -5, "si": 300, "l": 9007199254740993,
    "f": 1.5, "d": 0.1, "m": 12.34, "big": "12345678901234567890.123456789", "c": "abc",
    "s": "h\u00e9llo \"q\"\n", "bin": "AQID", "dt": "2024-02-29", "t": "10:11:12.345",
    "ts": "2024-01-01T10:00:00.123", "ltz": "2024-01-01T10:00:00.123Z",
    "tsu": "2024-01-01 10:00:00.123456", "a": [1, null, 3], "mp": {"x": 1, "y": null},
    "r": {"x": 1, "y": "z", "z": [{"q": 2.5}, null]}}"#;

fn all_types_batch(codec: &Codec) -> RecordBatch {
    value_json(
        codec,
        &[
            FULL_ROW,
            r#"{"id": 2}"#,
            r#"{"id": 3, "a": [], "mp": {}, "r": null}"#,
        ],
    )
    .unwrap()
}

#[test]
fn schema_is_the_columns_then_nullable_metadata_columns_with_flink_types() {
    let codec = Codec::new(&layout(
        &[("id", "BIGINT NOT NULL"), ("name", "STRING")],
        &["id"],
        Format::Json,
        Format::Json,
    ))
    .unwrap();
    let schema = codec.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["id", "name", "$rowtime", "$partition", "$offset"]);
    assert!(!schema.field(0).is_nullable());
    assert!(schema.fields()[2..].iter().all(|f| f.is_nullable()));
    assert_eq!(
        schema.field(2).data_type(),
        &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
    );
    assert_eq!(
        FlinkType::from_field(schema.field(2)).unwrap().to_sql(),
        "TIMESTAMP_LTZ(3)"
    );
    assert_eq!(schema.field(3).data_type(), &DataType::Int32);
    assert_eq!(schema.field(4).data_type(), &DataType::Int64);
}

#[test]
fn raw_records_decode_with_metadata_and_round_trip() {
    let codec = Codec::new(&TableLayout::raw("t")).unwrap();
    let batch = codec
        .decode(&[rec(Some(b"k1"), Some(b"\x00\xffv"), 0), rec(None, None, 1)])
        .unwrap();
    assert_eq!(batch.num_rows(), 2);
    let key = batch
        .column(0)
        .as_any()
        .downcast_ref::<BinaryArray>()
        .unwrap();
    let val = batch
        .column(1)
        .as_any()
        .downcast_ref::<BinaryArray>()
        .unwrap();
    assert_eq!(key.value(0), b"k1");
    assert!(key.is_null(1));
    assert_eq!(val.value(0), b"\x00\xffv");
    assert!(val.is_null(1));
    let rowtime = batch
        .column(2)
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .unwrap();
    assert_eq!(rowtime.value(0), 1_700_000_000_000);
    let partition = batch
        .column(3)
        .as_any()
        .downcast_ref::<Int32Array>()
        .unwrap();
    let offset = batch
        .column(4)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!((partition.value(1), offset.value(1)), (2, 1));

    let records = codec.encode(&batch).unwrap();
    assert_eq!(
        records[0],
        Record {
            key: Some(b"k1".to_vec()),
            value: Some(b"\x00\xffv".to_vec()),
            timestamp_ms: Some(1_700_000_000_000),
        }
    );
    assert_eq!(records[1].key, None);
    assert_eq!(records[1].value, None);
    assert_same(&decode_records(&codec, &records), &batch);
}

#[test]
fn json_values_of_every_type_decode_and_round_trip_exactly() {
    let codec = Codec::new(&layout(ALL_TYPES, &[], Format::Raw, Format::Json)).unwrap();
    let batch = all_types_batch(&codec);
    assert_eq!(batch.num_rows(), 3);
    let col = |n: &str| batch.column(batch.schema().index_of(n).unwrap()).clone();
    assert!(col("b").as_boolean().value(0));
    assert_eq!(
        col("l").as_primitive::<Int64Type>().value(0),
        9_007_199_254_740_993
    );
    assert_eq!(col("d").as_primitive::<Float64Type>().value(0), 0.1);
    assert_eq!(col("m").as_primitive::<Decimal128Type>().value(0), 1234);
    assert_eq!(
        col("big").as_primitive::<Decimal128Type>().value(0),
        12_345_678_901_234_567_890_123_456_789
    );
    assert_eq!(col("s").as_string::<i32>().value(0), "héllo \"q\"\n");
    assert_eq!(col("bin").as_binary::<i32>().value(0), [1, 2, 3]);
    assert_eq!(col("dt").as_primitive::<Date32Type>().value(0), 19_782);
    assert_eq!(
        col("ltz")
            .as_primitive::<TimestampMillisecondType>()
            .value(0),
        1_704_103_200_123
    );
    assert_eq!(col("a").as_list::<i32>().value(0).len(), 3);
    assert!(col("a").is_null(1));
    assert!(!col("a").is_null(2));
    assert!(col("r").is_null(2));
    assert_eq!(col("mp").as_map().value(0).len(), 2);

    let records = codec.encode(&batch).unwrap();
    assert!(records.iter().all(|r| r.key.is_none()));
    let text = String::from_utf8(records[0].value.clone().unwrap()).unwrap();
    for expected in [
        r#""m":12.34"#,
        r#""big":12345678901234567890.123456789"#,
        r#""bin":"AQID""#,
        r#""dt":"2024-02-29""#,
        r#""t":"10:11:12.345""#,
        r#""ts":"2024-01-01T10:00:00.123""#,
        r#""ltz":"2024-01-01T10:00:00.123Z""#,
        r#""tsu":"2024-01-01T10:00:00.123456""#,
        r#""a":[1,null,3]"#,
        r#""mp":{"x":1,"y":null}"#,
        r#""r":{"x":1,"y":"z","z":[{"q":2.5},null]}"#,
    ] {
        assert!(text.contains(expected), "{expected} not in {text}");
    }
    assert_same(&decode_records(&codec, &records), &batch);
}

#[test]
fn json_registry_frames_written_values_and_reads_framed_and_unframed() {
    let mut l = layout(
        &[("id", "BIGINT NOT NULL"), ("name", "STRING")],
        &["id"],
        Format::Json,
        Format::JsonRegistry,
    );
    l.value_schema = Some(registered(42, SchemaType::Json, "{}".into()));
    let codec = Codec::new(&l).unwrap();
    let framed = [&[0u8, 0, 0, 0, 42][..], br#"{"name":"a"}"#].concat();
    let batch = codec
        .decode(&[
            rec(Some(br#"{"id":1}"#), Some(&framed), 0),
            rec(Some(br#"{"id":2}"#), Some(br#"{"name":"b"}"#), 1),
        ])
        .unwrap();
    let names = batch
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!((names.value(0), names.value(1)), ("a", "b"));

    let records = codec.encode(&batch).unwrap();
    assert_eq!(records[0].key.as_deref(), Some(&br#"{"id":1}"#[..]));
    assert_eq!(records[0].value.as_deref(), Some(&framed[..]));
    assert_same(&decode_records(&codec, &records), &batch);

    // Without a registered schema there is no id to frame with.
    l.value_schema = None;
    let codec = Codec::new(&l).unwrap();
    let err = codec.encode(&batch).unwrap_err();
    assert!(
        matches!(err, CodecError::Encode(ref m) if m.contains("schema")),
        "{err}"
    );
}

#[test]
fn tombstones_make_value_columns_null_unless_not_null() {
    let codec = Codec::new(&layout(
        &[("id", "STRING"), ("v", "INT")],
        &["id"],
        Format::Raw,
        Format::Json,
    ))
    .unwrap();
    let batch = codec.decode(&[rec(Some(b"k"), None, 0)]).unwrap();
    assert_eq!(batch.column(0).as_string::<i32>().value(0), "k");
    assert!(batch.column(1).is_null(0));

    let strict = Codec::new(&layout(
        &[("v", "INT NOT NULL")],
        &[],
        Format::Raw,
        Format::Json,
    ))
    .unwrap();
    let (p, o, reason) = decode_error(strict.decode(&[rec(None, None, 5)]).unwrap_err());
    assert_eq!((p, o), (2, 5));
    assert!(
        reason.contains("value is null") && reason.contains("`v`"),
        "{reason}"
    );
}

#[test]
fn json_errors_name_the_record_and_the_field() {
    let codec = Codec::new(&layout(
        &[
            ("id", "INT NOT NULL"),
            ("price", "DOUBLE"),
            ("n", "TINYINT"),
        ],
        &[],
        Format::Raw,
        Format::Json,
    ))
    .unwrap();
    let cases = [
        (
            "x",
            "value is not valid JSON: expected value at line 1 column 1",
        ),
        ("", "value is not valid JSON: EOF while parsing a value"),
        (
            r#"{"id": 1,}"#,
            "value is not valid JSON: expected a field name at line 1 column 10",
        ),
        ("[1]", "value is not a JSON object"),
        (
            r#"{"id": 1, "price": "abc"}"#,
            r#"field `price`: expected a number, got "abc""#,
        ),
        (
            r#"{"id": 1, "n": 300}"#,
            "field `n`: expected a TINYINT, got 300",
        ),
        (r#"{"id": null}"#, "field `id`: NULL in a NOT NULL column"),
        (
            r#"{"price": 1}"#,
            "field `id`: missing in a NOT NULL column",
        ),
        (r#"{"id": 1} x"#, "trailing characters"),
    ];
    for (i, (json, expected)) in cases.iter().enumerate() {
        let records = [
            rec(None, Some(b"{\"id\": 1}"), 0),
            rec(None, Some(json.as_bytes()), 41 + i as i64),
        ];
        let err = codec.decode(&records).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("record at partition 2, offset {}", 41 + i)),
            "{err}"
        );
        let (_, _, reason) = decode_error(err);
        assert!(reason.contains(expected), "{json}: {reason}");
    }
}

#[test]
fn foreign_json_is_read_leniently() {
    let codec = Codec::new(&layout(
        &[
            ("id", "BIGINT"),
            ("note", "STRING"),
            ("at", "TIMESTAMP_LTZ(3)"),
            ("ts", "TIMESTAMP(3)"),
            ("day", "DATE"),
            ("amount", "DECIMAL(6, 2)"),
            ("flag", "BOOLEAN"),
        ],
        &[],
        Format::Raw,
        Format::Json,
    ))
    .unwrap();
    let batch = value_json(
        &codec,
        &[
            r#"{"extra": {"deep": [1, {"x": "y"}]}, "id": "17", "note": {"a": [1, 2]},
                "at": 1704103200123, "ts": 1704103200123, "day": 19782, "amount": "1.005",
                "flag": "true", "more": null}"#,
            r#"{"note": 12.50, "at": "2024-01-01T12:00:00.123+02:00", "ts": "2024-01-01 10:00:00",
                "amount": 1e2}"#,
        ],
    )
    .unwrap();
    let col = |n: &str| batch.column(batch.schema().index_of(n).unwrap()).clone();
    assert_eq!(col("id").as_primitive::<Int64Type>().value(0), 17);
    assert!(col("id").is_null(1));
    assert_eq!(col("note").as_string::<i32>().value(0), r#"{"a": [1, 2]}"#);
    assert_eq!(col("note").as_string::<i32>().value(1), "12.50");
    let at = col("at");
    assert_eq!(
        at.as_primitive::<TimestampMillisecondType>().value(0),
        1_704_103_200_123
    );
    assert_eq!(
        at.as_primitive::<TimestampMillisecondType>().value(1),
        1_704_103_200_123
    );
    assert_eq!(
        col("ts")
            .as_primitive::<TimestampMillisecondType>()
            .value(1),
        1_704_103_200_000
    );
    assert_eq!(col("day").as_primitive::<Date32Type>().value(0), 19_782);
    assert_eq!(col("amount").as_primitive::<Decimal128Type>().value(0), 101);
    assert_eq!(
        col("amount").as_primitive::<Decimal128Type>().value(1),
        10_000
    );
    assert!(col("flag").as_boolean().value(0));
}

#[test]
fn encode_takes_rowtime_and_ignores_partition_and_offset() {
    let codec = Codec::new(&layout(&[("v", "INT")], &[], Format::Raw, Format::Json)).unwrap();
    let schema = codec.schema();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int32Array::from(vec![Some(1), None])),
            Arc::new(
                TimestampMillisecondArray::from(vec![Some(1_704_103_200_123), None])
                    .with_timezone("UTC"),
            ),
            Arc::new(Int32Array::from(vec![None, Some(3)])),
            Arc::new(Int64Array::from(vec![Some(9), None])),
        ],
    )
    .unwrap();
    let records = codec.encode(&batch).unwrap();
    assert_eq!(records[0].timestamp_ms, Some(1_704_103_200_123));
    assert_eq!(records[0].value.as_deref(), Some(&br#"{"v":1}"#[..]));
    assert_eq!(records[1].timestamp_ms, None);
    assert_eq!(records[1].value.as_deref(), Some(&br#"{"v":null}"#[..]));
}

#[test]
fn encode_refuses_null_in_not_null_columns() {
    let codec = Codec::new(&layout(
        &[("v", "INT NOT NULL")],
        &[],
        Format::Raw,
        Format::Json,
    ))
    .unwrap();
    let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int32, true)]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vec![None]))]).unwrap();
    assert!(matches!(codec.encode(&batch), Err(CodecError::Encode(m)) if m.contains("`v`")));
}

fn avro_layout(columns: &[(&str, &str)], key: &[&str]) -> TableLayout {
    let mut l = layout(columns, key, Format::AvroRegistry, Format::AvroRegistry);
    let key_cols: Vec<(String, FlinkType)> = l.key_column_types().into_iter().cloned().collect();
    let value_cols: Vec<(String, FlinkType)> = l.value_columns().cloned().collect();
    l.key_schema = Some(registered(
        11,
        SchemaType::Avro,
        to_avro_schema("t_key", &key_cols).unwrap(),
    ));
    l.value_schema = Some(registered(
        12,
        SchemaType::Avro,
        to_avro_schema("t_value", &value_cols).unwrap(),
    ));
    l
}

#[test]
fn avro_values_of_every_type_round_trip() {
    let json = Codec::new(&layout(ALL_TYPES, &[], Format::Raw, Format::Json)).unwrap();
    let source = all_types_batch(&json);
    let codec = Codec::new(&avro_layout(ALL_TYPES, &["id"])).unwrap();
    let records = codec.encode(&source).unwrap();
    let key = records[0].key.as_deref().unwrap();
    assert_eq!(key[..5], [0, 0, 0, 0, 11]);
    assert_eq!(records[0].value.as_deref().unwrap()[..5], [0, 0, 0, 0, 12]);
    assert_same(&decode_records(&codec, &records), &source);
}

#[test]
fn avro_written_by_the_avro_library_decodes() {
    use apache_avro::types::Value;
    let text = r#"{"type": "record", "name": "order", "fields": [
        {"name": "id", "type": "long"},
        {"name": "status", "type": {"type": "enum", "name": "S", "symbols": ["NEW", "DONE"]}},
        {"name": "amount", "type": ["null", {"type": "bytes", "logicalType": "decimal",
            "precision": 8, "scale": 2}], "default": null},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "unused", "type": "string"}]}"#;
    let schema = AvroSchema::parse_str(text).unwrap();
    let mut columns: Vec<(String, FlinkType)> = from_avro_schema(text).unwrap();
    // The table keeps `at` at millisecond precision and drops `unused`.
    columns[3].1 = parse_flink_type("TIMESTAMP_LTZ(3) NOT NULL").unwrap();
    columns.pop();
    let l = TableLayout {
        topic: "orders".into(),
        columns,
        key_columns: vec![],
        key_format: Format::Raw,
        value_format: Format::AvroRegistry,
        key_schema: None,
        value_schema: Some(registered(7, SchemaType::Avro, text.into())),
        upsert: false,
    };
    let codec = Codec::new(&l).unwrap();
    let datum = apache_avro::to_avro_datum(
        &schema,
        Value::Record(vec![
            ("id".into(), Value::Long(5)),
            ("status".into(), Value::Enum(1, "DONE".into())),
            (
                "amount".into(),
                Value::Union(
                    1,
                    Box::new(Value::Decimal(apache_avro::Decimal::from(vec![0x04, 0xd2]))),
                ),
            ),
            ("at".into(), Value::TimestampMicros(1_704_103_200_123_456)),
            ("tags".into(), Value::Array(vec![Value::String("x".into())])),
            ("unused".into(), Value::String("u".into())),
        ]),
    )
    .unwrap();
    let framed = [&[0u8, 0, 0, 0, 7][..], &datum].concat();
    let batch = codec.decode(&[rec(None, Some(&framed), 3)]).unwrap();
    assert_eq!(batch.column(0).as_primitive::<Int64Type>().value(0), 5);
    assert_eq!(batch.column(1).as_string::<i32>().value(0), "DONE");
    assert_eq!(
        batch.column(2).as_primitive::<Decimal128Type>().value(0),
        1234
    );
    assert_eq!(
        batch
            .column(3)
            .as_primitive::<TimestampMillisecondType>()
            .value(0),
        1_704_103_200_123
    );
    assert_eq!(batch.column(4).as_list::<i32>().value(0).len(), 1);

    // Unframed data and data of another schema id are refused with the record's position.
    let (_, o, reason) = decode_error(codec.decode(&[rec(None, Some(&datum), 9)]).unwrap_err());
    assert_eq!(o, 9);
    assert!(reason.contains("wire format"), "{reason}");
    let other = [&[0u8, 0, 0, 0, 8][..], &datum].concat();
    let (_, _, reason) = decode_error(codec.decode(&[rec(None, Some(&other), 9)]).unwrap_err());
    assert!(reason.contains("schema id 8"), "{reason}");
    let truncated = &framed[..framed.len() - 3];
    assert!(codec.decode(&[rec(None, Some(truncated), 9)]).is_err());
}

#[test]
fn avro_of_another_schema_version_decodes_with_its_writer_schema() {
    // Version 1 (id 3) had `id` and `name`; the table is at version 2 (id 12), which adds a
    // nullable `note`.
    let l = avro_layout(
        &[("id", "BIGINT"), ("name", "STRING"), ("note", "STRING")],
        &[],
    );
    let codec = Codec::new(&l).unwrap();
    let v1_text =
        to_avro_schema("t_value", &cols(&[("id", "BIGINT"), ("name", "STRING")])).unwrap();
    let v1 = AvroSchema::parse_str(&v1_text).unwrap();
    let v1_codec = Codec::new(&TableLayout {
        value_schema: Some(registered(3, SchemaType::Avro, v1_text)),
        ..avro_layout(&[("id", "BIGINT"), ("name", "STRING")], &[])
    })
    .unwrap();
    let old = Codec::new(&layout(
        &[("id", "BIGINT"), ("name", "STRING")],
        &[],
        Format::Raw,
        Format::Json,
    ))
    .unwrap();
    let written = v1_codec
        .encode(&value_json(&old, &[r#"{"id": 7, "name": "seven"}"#]).unwrap())
        .unwrap();
    let value = written[0].value.as_deref().unwrap();
    assert_eq!(value[..5], [0, 0, 0, 0, 3]);
    let records = [rec(None, Some(value), 4)];

    // Without the writer schema: refused, naming the id.
    assert_eq!(
        codec.foreign_avro_ids(&records, &WriterSchemas::new()),
        BTreeSet::from([3])
    );
    let (_, o, reason) = decode_error(codec.decode(&records).unwrap_err());
    assert_eq!(o, 4);
    assert!(reason.contains("schema id 3"), "{reason}");

    // With it: resolved into the table's columns, the new one NULL.
    let writers = WriterSchemas::from([(3, v1)]);
    assert!(codec.foreign_avro_ids(&records, &writers).is_empty());
    let batch = codec.decode_with(&records, &writers).unwrap();
    assert_eq!(batch.column(0).as_primitive::<Int64Type>().value(0), 7);
    assert_eq!(batch.column(1).as_string::<i32>().value(0), "seven");
    assert!(batch.column(2).is_null(0));

    // A writer schema that cannot be read as the table's (a field changed type): refused.
    let clash = AvroSchema::parse_str(
        r#"{"type":"record","name":"t_value","fields":[{"name":"id","type":"string"}]}"#,
    )
    .unwrap();
    let datum = apache_avro::to_avro_datum(
        &clash,
        apache_avro::types::Value::Record(vec![(
            "id".into(),
            apache_avro::types::Value::String("x".into()),
        )]),
    )
    .unwrap();
    let framed = [&[0u8, 0, 0, 0, 5][..], &datum].concat();
    let writers = WriterSchemas::from([(5, clash)]);
    let (_, _, reason) = decode_error(
        codec
            .decode_with(&[rec(None, Some(&framed), 5)], &writers)
            .unwrap_err(),
    );
    assert!(
        reason.contains("cannot be read as the table's value schema"),
        "{reason}"
    );
}

#[test]
fn layouts_the_codec_cannot_serve_are_unsupported() {
    let raw_int = layout(&[("v", "INT")], &[], Format::Raw, Format::Raw);
    assert!(matches!(
        Codec::new(&raw_int),
        Err(CodecError::Unsupported(_))
    ));
    let avro_without_schema = layout(&[("v", "INT")], &[], Format::Raw, Format::AvroRegistry);
    assert!(matches!(
        Codec::new(&avro_without_schema),
        Err(CodecError::Unsupported(_))
    ));
    let unknown_key = layout(&[("v", "INT")], &["k"], Format::Json, Format::Json);
    assert!(Codec::new(&unknown_key).is_err());
}

#[test]
fn codec_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + std::fmt::Debug>() {}
    assert_send_sync::<Codec>();
}
