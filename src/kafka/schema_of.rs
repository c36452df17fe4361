//! A topic's table definition from its registered subjects, and the annotation that records
//! a table's value format in its JSON Schema.
//!
//! - No value subject: the raw layout `key BYTES, val BYTES` (a topic always appears).
//! - A JSON Schema or Avro value subject: its fields are the value columns. A key subject adds
//!   its fields (first, unless a value field has the same name) as key columns.
//! - A Protobuf subject is not decoded: the topic reads as raw bytes.

use serde_json::Value;

use super::KafkaError;
use super::layout::{Format, TableLayout};
use super::subjects::{RegisteredSchema, SchemaType};
use super::{codec, json_schema};
use crate::sql::FlinkType;

/// Top-level keyword of a registered JSON Schema naming the table's value format when it is
/// not the default `json-registry` (i.e. `json`: unframed values).
pub(crate) const FORMAT_KEYWORD: &str = "sqlgate.format";

/// Top-level keyword of a registered key schema (JSON Schema or Avro record) saying the key
/// is the table's PRIMARY KEY and the topic an upsert changelog: its value is
/// [`UPSERT`]. Written by CREATE TABLE with a primary key (`ddl`).
pub(crate) const CHANGELOG_KEYWORD: &str = "sqlgate.changelog";

/// The value of [`CHANGELOG_KEYWORD`] of an upsert table.
pub(crate) const UPSERT: &str = "upsert";

/// Whether a key schema's text carries the upsert mark.
fn marks_upsert(schema: &RegisteredSchema) -> bool {
    serde_json::from_str::<Value>(&schema.schema)
        .ok()
        .and_then(|v| {
            v.get(CHANGELOG_KEYWORD)
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .is_some_and(|m| m == UPSERT)
}

/// Columns in order with the format of the data they come from.
type Described = (Vec<(String, FlinkType)>, Format);

/// The columns a subject describes and the format of the data it governs (`None`: a kind of
/// schema the engine does not decode).
fn columns_of(schema: &RegisteredSchema) -> Result<Option<Described>, KafkaError> {
    let bad = |e: String| {
        KafkaError::Schema(format!(
            "subject {} (version {}) cannot be read as table columns: {e}",
            schema.subject, schema.version
        ))
    };
    match schema.schema_type {
        SchemaType::Json => {
            let columns = json_schema::from_json_schema(&schema.schema).map_err(bad)?;
            let plain = serde_json::from_str::<Value>(&schema.schema)
                .ok()
                .and_then(|v| {
                    v.get(FORMAT_KEYWORD)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .is_some_and(|f| f == Format::Json.as_str());
            let format = if plain {
                Format::Json
            } else {
                Format::JsonRegistry
            };
            Ok(Some((columns, format)))
        }
        SchemaType::Avro => {
            let columns = codec::avro::from_avro_schema(&schema.schema).map_err(bad)?;
            Ok(Some((columns, Format::AvroRegistry)))
        }
        SchemaType::Protobuf => Ok(None),
    }
}

/// The layout of topic `topic` given its latest key and value subjects.
pub(crate) fn layout(
    topic: &str,
    key: Option<RegisteredSchema>,
    value: Option<RegisteredSchema>,
) -> Result<TableLayout, KafkaError> {
    let Some(value_schema) = value else {
        return Ok(TableLayout::raw(topic));
    };
    let Some((value_columns, value_format)) = columns_of(&value_schema)? else {
        return Ok(TableLayout::raw(topic));
    };
    let mut columns = Vec::new();
    let mut key_columns = Vec::new();
    let mut key_format = Format::Raw;
    let mut key_schema = None;
    let mut upsert = false;
    if let Some(k) = key
        && let Some((kc, kf)) = columns_of(&k)?
    {
        upsert = marks_upsert(&k);
        for (name, t) in kc {
            if !value_columns.iter().any(|(n, _)| *n == name) {
                key_columns.push(name.clone());
                columns.push((name, t));
            }
        }
        key_format = kf;
        key_schema = Some(k);
    }
    columns.extend(value_columns);
    if columns.is_empty() {
        return Err(KafkaError::Schema(format!(
            "subject {} has no fields",
            value_schema.subject
        )));
    }
    let upsert = upsert && !key_columns.is_empty();
    Ok(TableLayout {
        topic: topic.to_string(),
        columns,
        upsert,
        key_columns,
        key_format,
        value_format,
        key_schema,
        value_schema: Some(value_schema),
    })
}
