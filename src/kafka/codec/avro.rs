//! Flink columns to and from Avro schemas, as the `avro-registry` format registers them
//! (Confluent style: a record with one field per column; a nullable column is the union
//! `["null", T]` with default `null`).
//!
//! Timestamps follow the Avro mapping Flink's `avro-confluent` format uses (Flink 2.2 converts
//! with its legacy timestamp mapping and has no option to change it; verified against
//! `flink-sql-avro-confluent-registry` 2.2.0): `TIMESTAMP(p)` is `long` with logicalType
//! `timestamp-millis` (`-micros` past precision 3), marked with [`LOCAL_MARK`] so that it
//! reads back as `TIMESTAMP` and not as the `TIMESTAMP_LTZ` an unmarked `timestamp-*` is. The
//! data is the same either way (the wall-clock time as epoch units at UTC).
//! `local-timestamp-*` (Confluent Cloud's form of `TIMESTAMP`, and what sqlgate registered
//! before) still reads as `TIMESTAMP`; [`for_flink`] rewrites it for Flink.
//!
//! Owns the type mapping only; decoding and encoding Avro data is `avro_data`'s.

use apache_avro::Schema;
use apache_avro::schema::{DecimalSchema, RecordSchema, UnionSchema};
use serde_json::{Value, json};

use crate::sql::FlinkType;
use crate::sql::types::{Kind, MAX_LENGTH};

/// Property of an Avro `long` with logicalType `timestamp-*` saying the column is a
/// `TIMESTAMP` (wall-clock time, no time zone), not a `TIMESTAMP_LTZ`; its value is
/// [`LOCAL`]. Avro readers ignore unknown properties.
pub const LOCAL_MARK: &str = "sqlgate.type";

/// The value of [`LOCAL_MARK`].
pub const LOCAL: &str = "TIMESTAMP";

/// The Avro schema text (a record named `record_name`) registered for `columns`.
///
/// ```
/// use sqlgate::kafka::codec::avro::{from_avro_schema, to_avro_schema};
///
/// let columns = from_avro_schema(
///     r#"{"type": "record", "name": "orders", "fields": [
///         {"name": "id", "type": "long"},
///         {"name": "note", "type": ["null", "string"], "default": null}]}"#,
/// )
/// .unwrap();
/// let text = to_avro_schema("orders", &columns).unwrap();
/// assert_eq!(from_avro_schema(&text).unwrap(), columns);
/// ```
pub fn to_avro_schema(
    record_name: &str,
    columns: &[(String, FlinkType)],
) -> Result<String, String> {
    let name = avro_name(record_name);
    let schema = record(&name, columns)?;
    let text = schema.to_string();
    // The registry would refuse what the Avro library cannot parse; fail early instead.
    Schema::parse_str(&text).map_err(|e| format!("generated Avro schema is invalid: {e}"))?;
    Ok(text)
}

/// The columns an Avro record schema describes (a field per column; `["null", T]` nullable).
///
/// ```
/// use sqlgate::kafka::codec::avro::from_avro_schema;
///
/// let columns = from_avro_schema(
///     r#"{"type": "record", "name": "r", "fields": [
///         {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}"#,
/// )
/// .unwrap();
/// assert_eq!(columns[0].1.to_sql(), "TIMESTAMP_LTZ(3) NOT NULL");
/// ```
pub fn from_avro_schema(text: &str) -> Result<Vec<(String, FlinkType)>, String> {
    let schema = Schema::parse_str(text).map_err(|e| format!("invalid Avro schema: {e}"))?;
    let json: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    match &schema {
        Schema::Record(r) => record_columns(r, Some(&json)),
        other => Err(format!(
            "an Avro table schema must be a record, not {:?}",
            apache_avro::schema::SchemaKind::from(other)
        )),
    }
}

/// An Avro name from arbitrary text (a topic may contain `-` or `.`).
fn avro_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

fn valid_field_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn record(name: &str, columns: &[(String, FlinkType)]) -> Result<Value, String> {
    let fields = columns
        .iter()
        .map(|(n, t)| {
            if !valid_field_name(n) {
                return Err(format!(
                    "column name `{n}` is not a valid Avro field name ([A-Za-z_][A-Za-z0-9_]*)"
                ));
            }
            let ty = avro_type(t, &format!("{name}_{n}"))?;
            Ok(if t.nullable() {
                json!({"name": n, "type": ty, "default": null})
            } else {
                json!({"name": n, "type": ty})
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(json!({"type": "record", "name": name, "fields": fields}))
}

/// The Avro type of `t`; `path` names a nested record.
fn avro_type(t: &FlinkType, path: &str) -> Result<Value, String> {
    let logical = |base: &str, logical: &str| json!({"type": base, "logicalType": logical});
    let base = match t.kind() {
        Kind::Boolean => json!("boolean"),
        Kind::TinyInt | Kind::SmallInt | Kind::Integer => json!("int"),
        Kind::BigInt => json!("long"),
        Kind::Float => json!("float"),
        Kind::Double => json!("double"),
        Kind::Decimal { precision, scale } => json!({
            "type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale
        }),
        Kind::Char(_) | Kind::Varchar(_) => json!("string"),
        Kind::Binary(_) | Kind::Varbinary(_) => json!("bytes"),
        Kind::Date => logical("int", "date"),
        Kind::Time(p) if *p <= 3 => logical("int", "time-millis"),
        Kind::Time(_) => logical("long", "time-micros"),
        Kind::Timestamp(p) => {
            json!({"type": "long", "logicalType": format!("timestamp-{}", unit(*p)), LOCAL_MARK: LOCAL})
        }
        Kind::TimestampLtz(p) => logical("long", &format!("timestamp-{}", unit(*p))),
        Kind::Array(item) => json!({"type": "array", "items": avro_type(item, path)?}),
        Kind::Map(k, v) => {
            if !matches!(k.kind(), Kind::Char(_) | Kind::Varchar(_)) {
                return Err(format!(
                    "Avro maps have string keys; {} cannot be stored",
                    t.to_sql()
                ));
            }
            json!({"type": "map", "values": avro_type(v, path)?})
        }
        Kind::Row(fields) => record(path, fields)?,
        Kind::Null | Kind::IntervalDayTime | Kind::IntervalYearMonth | Kind::Multiset(_) => {
            return Err(format!("type {} has no Avro equivalent", t.to_sql()));
        }
    };
    Ok(if t.nullable() {
        json!(["null", base])
    } else {
        base
    })
}

fn unit(precision: u8) -> &'static str {
    match precision {
        0..=3 => "millis",
        4..=6 => "micros",
        _ => "nanos",
    }
}

/// The columns of record `r`; `json` is the record's schema text (for [`LOCAL_MARK`]).
fn record_columns(
    r: &RecordSchema,
    json: Option<&Value>,
) -> Result<Vec<(String, FlinkType)>, String> {
    r.fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let j = json.and_then(|j| j.get("fields")?.get(i)?.get("type"));
            let t = flink_type_of(&f.schema, j).map_err(|e| format!("field `{}`: {e}", f.name))?;
            Ok((f.name.clone(), t))
        })
        .collect()
}

/// Whether the schema text `json` of a `timestamp-*` type carries [`LOCAL_MARK`].
fn marked_local(json: Option<&Value>) -> bool {
    json.and_then(|j| j.get(LOCAL_MARK)).and_then(Value::as_str) == Some(LOCAL)
}

/// The schema text Flink's `avro-confluent` format is given for a registered schema `text`:
/// `local-timestamp-millis` (which Flink 2.2 reads as BIGINT) becomes `timestamp-millis`
/// marked with [`LOCAL_MARK`], the same data under the form Flink reads as `TIMESTAMP(3)`;
/// anything else is unchanged. (Flink registers what it writes with: the rewritten form
/// becomes the subject's next version, which reads back the same.)
pub fn for_flink(text: &str) -> String {
    fn walk(v: &mut Value) -> bool {
        match v {
            Value::Object(o) => {
                let mut changed = false;
                if o.get("logicalType").and_then(Value::as_str) == Some("local-timestamp-millis") {
                    o.insert("logicalType".into(), json!("timestamp-millis"));
                    o.insert(LOCAL_MARK.into(), json!(LOCAL));
                    changed = true;
                }
                for x in o.values_mut() {
                    changed |= walk(x);
                }
                changed
            }
            Value::Array(a) => a.iter_mut().fold(false, |c, x| walk(x) | c),
            _ => false,
        }
    }
    match serde_json::from_str::<Value>(text) {
        Ok(mut v) => {
            if walk(&mut v) {
                v.to_string()
            } else {
                text.to_string()
            }
        }
        Err(_) => text.to_string(),
    }
}

/// The nullable form of an `["null", T]` union, else `None`.
fn nullable_variant(u: &UnionSchema) -> Option<&Schema> {
    match u.variants() {
        [Schema::Null, t] | [t, Schema::Null] => Some(t),
        _ => None,
    }
}

/// The Flink type of an Avro type (NOT NULL unless it is a union with `null`); `json` is the
/// type's schema text where known (for [`LOCAL_MARK`]).
fn flink_type_of(s: &Schema, json: Option<&Value>) -> Result<FlinkType, String> {
    let local = marked_local(json);
    let kind = match s {
        Schema::Union(u) => {
            return match nullable_variant(u) {
                Some(t) => {
                    let j = json
                        .and_then(Value::as_array)
                        .and_then(|a| a.iter().find(|x| x.as_str() != Some("null")));
                    Ok(flink_type_of(t, j)?.with_nullable(true))
                }
                None => Err("only unions of null and one type are supported".into()),
            };
        }
        Schema::Boolean => Kind::Boolean,
        Schema::Int => Kind::Integer,
        Schema::Long => Kind::BigInt,
        Schema::Float => Kind::Float,
        Schema::Double => Kind::Double,
        Schema::Bytes => Kind::Varbinary(MAX_LENGTH),
        Schema::Fixed(f) => Kind::Binary(u32::try_from(f.size).unwrap_or(MAX_LENGTH)),
        Schema::String | Schema::Enum(_) | Schema::Uuid => Kind::Varchar(MAX_LENGTH),
        Schema::Decimal(DecimalSchema {
            precision, scale, ..
        }) => {
            if !(1..=38).contains(precision) || scale > precision {
                return Err(format!(
                    "decimal({precision}, {scale}) is beyond DECIMAL(38)"
                ));
            }
            Kind::Decimal {
                precision: *precision as u8,
                scale: *scale as i8,
            }
        }
        Schema::Date => Kind::Date,
        Schema::TimeMillis => Kind::Time(3),
        Schema::TimeMicros => Kind::Time(6),
        Schema::TimestampMillis if local => Kind::Timestamp(3),
        Schema::TimestampMicros if local => Kind::Timestamp(6),
        Schema::TimestampNanos if local => Kind::Timestamp(9),
        Schema::TimestampMillis => Kind::TimestampLtz(3),
        Schema::TimestampMicros => Kind::TimestampLtz(6),
        Schema::TimestampNanos => Kind::TimestampLtz(9),
        Schema::LocalTimestampMillis => Kind::Timestamp(3),
        Schema::LocalTimestampMicros => Kind::Timestamp(6),
        Schema::LocalTimestampNanos => Kind::Timestamp(9),
        Schema::Array(a) => Kind::Array(Box::new(flink_type_of(
            &a.items,
            json.and_then(|j| j.get("items")),
        )?)),
        Schema::Map(m) => Kind::Map(
            Box::new(FlinkType::string(true)),
            Box::new(flink_type_of(&m.types, json.and_then(|j| j.get("values")))?),
        ),
        Schema::Record(r) => Kind::Row(record_columns(r, json)?),
        other => {
            return Err(format!(
                "Avro type {:?} is not supported",
                apache_avro::schema::SchemaKind::from(other)
            ));
        }
    };
    Ok(FlinkType::new(kind, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::types::parse_flink_type;

    fn cols(spec: &[(&str, &str)]) -> Vec<(String, FlinkType)> {
        spec.iter()
            .map(|(n, t)| (n.to_string(), parse_flink_type(t).unwrap()))
            .collect()
    }

    #[test]
    fn every_supported_type_round_trips_through_an_avro_schema() {
        let columns = cols(&[
            ("b", "BOOLEAN NOT NULL"),
            ("i", "INT"),
            ("l", "BIGINT NOT NULL"),
            ("f", "FLOAT"),
            ("d", "DOUBLE"),
            ("m", "DECIMAL(10, 2)"),
            ("s", "STRING NOT NULL"),
            ("y", "BYTES"),
            ("dt", "DATE"),
            ("t", "TIME(3)"),
            ("ts", "TIMESTAMP(3)"),
            ("ltz", "TIMESTAMP_LTZ(3)"),
            ("tsu", "TIMESTAMP(6)"),
            ("a", "ARRAY<INT NOT NULL>"),
            ("mp", "MAP<STRING, DOUBLE>"),
            ("r", "ROW<x INT, inner ROW<y STRING>>"),
        ]);
        let text = to_avro_schema("my-topic.v1", &columns).unwrap();
        assert_eq!(from_avro_schema(&text).unwrap(), columns);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["name"], "my_topic_v1");
        assert_eq!(v["fields"][1]["type"], json!(["null", "int"]));
        assert_eq!(v["fields"][1]["default"], Value::Null);
        assert_eq!(v["fields"][2]["type"], json!("long"));
        assert_eq!(
            v["fields"][5]["type"][1],
            json!({"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2})
        );
        assert_eq!(
            v["fields"][11]["type"][1]["logicalType"],
            "timestamp-millis"
        );
        assert_eq!(
            v["fields"][10]["type"][1],
            json!({"type": "long", "logicalType": "timestamp-millis", LOCAL_MARK: LOCAL})
        );
        assert_eq!(
            v["fields"][12]["type"][1],
            json!({"type": "long", "logicalType": "timestamp-micros", LOCAL_MARK: LOCAL})
        );
        let nested = cols(&[("r", "ROW<at TIMESTAMP(3), arr ARRAY<TIMESTAMP(3)>>")]);
        let text = to_avro_schema("n", &nested).unwrap();
        assert_eq!(from_avro_schema(&text).unwrap(), nested, "{text}");
    }

    #[test]
    fn local_timestamps_of_older_subjects_read_as_timestamp_and_are_rewritten_for_flink() {
        let old = r#"{"type":"record","name":"r","fields":[
            {"name":"at","type":["null",{"type":"long","logicalType":"local-timestamp-millis"}],"default":null},
            {"name":"m","type":{"type":"map","values":{"type":"long","logicalType":"local-timestamp-millis"}}},
            {"name":"us","type":{"type":"long","logicalType":"local-timestamp-micros"}},
            {"name":"ltz","type":{"type":"long","logicalType":"timestamp-millis"}}]}"#;
        let want = cols(&[
            ("at", "TIMESTAMP(3)"),
            ("m", "MAP<STRING, TIMESTAMP(3) NOT NULL> NOT NULL"),
            ("us", "TIMESTAMP(6) NOT NULL"),
            ("ltz", "TIMESTAMP_LTZ(3) NOT NULL"),
        ]);
        assert_eq!(from_avro_schema(old).unwrap(), want);
        let flink = for_flink(old);
        assert!(!flink.contains("local-timestamp-millis"), "{flink}");
        assert!(flink.contains("local-timestamp-micros"), "{flink}");
        assert_eq!(
            from_avro_schema(&flink).unwrap(),
            want,
            "same columns after the rewrite"
        );
        let current = to_avro_schema("r", &want).unwrap();
        assert_eq!(
            for_flink(&current),
            current,
            "current schemas pass unchanged"
        );
    }

    #[test]
    fn types_without_avro_form_are_refused() {
        assert!(to_avro_schema("r", &cols(&[("m", "MAP<INT, INT>")])).is_err());
        assert!(to_avro_schema("r", &cols(&[("bad-name", "INT")])).is_err());
        assert!(from_avro_schema(r#""string""#).is_err());
        let multi =
            r#"{"type":"record","name":"r","fields":[{"name":"u","type":["int","string"]}]}"#;
        assert!(from_avro_schema(multi).unwrap_err().contains("field `u`"));
    }

    #[test]
    fn foreign_avro_types_map_to_flink_types() {
        let text = r#"{"type":"record","name":"r","fields":[
            {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
            {"name":"fx","type":{"type":"fixed","name":"F","size":4}},
            {"name":"us","type":{"type":"long","logicalType":"timestamp-micros"}}]}"#;
        let got: Vec<String> = from_avro_schema(text)
            .unwrap()
            .iter()
            .map(|(n, t)| format!("{n} {}", t.to_sql()))
            .collect();
        assert_eq!(
            got,
            [
                "e STRING NOT NULL",
                "fx BINARY(4) NOT NULL",
                "us TIMESTAMP_LTZ(6) NOT NULL"
            ]
        );
    }
}
