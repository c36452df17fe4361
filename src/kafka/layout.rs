//! A table's layout on a topic: its columns, which of them travel in the record key, and how
//! key and value are serialized. Shared by the codec (records ↔ Arrow), the DDL (what to
//! register) and the scan (what schema DataFusion sees).
//!
//! Every topic table also has three read-only metadata columns, appended after its own
//! columns: [`ROWTIME`] (the record timestamp), [`PARTITION`] and [`OFFSET`].

use super::subjects::RegisteredSchema;
use crate::sql::FlinkType;

/// Record timestamp column, `TIMESTAMP_LTZ(3)` (Confluent Cloud's system column name).
pub const ROWTIME: &str = "$rowtime";
/// Partition column, `INT`.
pub const PARTITION: &str = "$partition";
/// Offset column, `BIGINT`.
pub const OFFSET: &str = "$offset";
/// Column holding the raw key of a topic without a key schema (`BYTES`).
pub const RAW_KEY: &str = "key";
/// Column holding the raw value of a topic without a value schema (`BYTES`).
pub const RAW_VALUE: &str = "val";

/// How a key or a value is serialized (Flink's `key.format` / `value.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The bytes as they are, in a single `BYTES` column.
    Raw,
    /// A JSON object, one field per column, no framing (`'json'`).
    Json,
    /// Confluent wire format: magic byte 0, 4-byte big-endian schema id, then JSON
    /// (`'json-registry'`).
    JsonRegistry,
    /// Confluent wire format with Avro binary (`'avro-registry'`).
    AvroRegistry,
}

impl Format {
    /// Parses a Flink format option value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "raw" => Some(Format::Raw),
            "json" => Some(Format::Json),
            "json-registry" => Some(Format::JsonRegistry),
            "avro-registry" => Some(Format::AvroRegistry),
            _ => None,
        }
    }

    /// The option value spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Json => "json",
            Format::JsonRegistry => "json-registry",
            Format::AvroRegistry => "avro-registry",
        }
    }
}

/// A table's columns and how they map onto a topic's records.
#[derive(Debug, Clone)]
pub struct TableLayout {
    /// The topic (also the table name).
    pub topic: String,
    /// The table's own columns in order, metadata columns excluded.
    pub columns: Vec<(String, FlinkType)>,
    /// Names of the columns carried in the record key (a subset of `columns`, in key order).
    /// The other columns travel in the value. Empty: records are written without a key.
    pub key_columns: Vec<String>,
    /// Serialization of the key. With [`Format::Raw`], `key_columns` is one `BYTES` column.
    pub key_format: Format,
    /// Serialization of the value. With [`Format::Raw`], the value columns are one `BYTES`
    /// column.
    pub value_format: Format,
    /// The registered key schema (`<topic>-key`), if any; its id frames written keys.
    pub key_schema: Option<RegisteredSchema>,
    /// The registered value schema (`<topic>-value`), if any; its id frames written values.
    pub value_schema: Option<RegisteredSchema>,
    /// The key columns are the table's `PRIMARY KEY` and the topic is an upsert changelog
    /// (Confluent's `changelog.mode` = 'upsert', the default of a table created with a
    /// primary key): the Flink engine declares the table as a versioned table, and a record
    /// is the latest row of its key. Recorded in the key subject's schema (`schema_of`).
    pub upsert: bool,
}

impl TableLayout {
    /// The layout of a topic with no registered schema: `key BYTES, val BYTES`.
    pub fn raw(topic: &str) -> Self {
        Self {
            topic: topic.to_string(),
            columns: vec![
                (RAW_KEY.to_string(), FlinkType::bytes(true)),
                (RAW_VALUE.to_string(), FlinkType::bytes(true)),
            ],
            key_columns: vec![RAW_KEY.to_string()],
            key_format: Format::Raw,
            value_format: Format::Raw,
            key_schema: None,
            value_schema: None,
            upsert: false,
        }
    }

    /// The columns carried in the value, in table order.
    pub fn value_columns(&self) -> impl Iterator<Item = &(String, FlinkType)> {
        self.columns
            .iter()
            .filter(|(n, _)| !self.key_columns.contains(n))
    }

    /// The columns carried in the key, in key order.
    pub fn key_column_types(&self) -> Vec<&(String, FlinkType)> {
        self.key_columns
            .iter()
            .filter_map(|k| self.columns.iter().find(|(n, _)| n == k))
            .collect()
    }
}

/// One record read from a topic, as the codec decodes it.
#[derive(Debug, Clone, Copy)]
pub struct SourceRecord<'a> {
    /// The key bytes (`None` for a null key).
    pub key: Option<&'a [u8]>,
    /// The value bytes (`None` for a tombstone).
    pub value: Option<&'a [u8]>,
    /// Partition the record was read from.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its timestamp in milliseconds since the epoch, if the record has one.
    pub timestamp_ms: Option<i64>,
}

/// One record to produce, as the codec encodes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Key bytes (`None`: no key).
    pub key: Option<Vec<u8>>,
    /// Value bytes.
    pub value: Option<Vec<u8>>,
    /// Timestamp to give the record (`None`: the producer's clock).
    pub timestamp_ms: Option<i64>,
}
