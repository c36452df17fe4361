//! Kafka records to Arrow batches and back, for one table layout: the key's columns from the
//! key bytes, the value's from the value bytes, each per its [`Format`] (raw bytes, JSON,
//! Confluent-framed JSON, Confluent-framed Avro), then the metadata columns `$rowtime`,
//! `$partition`, `$offset`.
//!
//! Parts: `builder` (Arrow column builders), `json_read` / `json_write` (JSON text),
//! `avro_data` (Avro values) and [`avro`] (Avro schemas of a table, used by the DDL),
//! `text` (the spellings of decimals and temporal values).
//!
//! Everything a record carries is checked against the layout; a record that does not fit is a
//! [`CodecError::Decode`] naming its partition and offset. An Avro record framed with another
//! schema id than the table's (written by another producer, or before the table's latest
//! version) is read with that writer schema, resolved into the table's by Avro's rules, when
//! the caller passes it in [`WriterSchemas`] ([`Codec::foreign_avro_ids`] says which are
//! needed). The codec reads and writes bytes
//! only: consuming and producing is the scan's and the sink's.

pub mod avro;
mod avro_data;
mod builder;
mod json_read;
mod json_write;
mod text;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use apache_avro::Schema as AvroSchema;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Builder, Int64Builder, RecordBatch, RecordBatchOptions,
    TimestampMillisecondBuilder, new_null_array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Schema, SchemaRef, TimeUnit, TimestampMillisecondType,
};

use self::avro_data::Shape;
use self::builder::{Col, Node, meta_field};
use super::layout::{Format, OFFSET, PARTITION, ROWTIME, Record, SourceRecord, TableLayout};
use super::subjects::RegisteredSchema;
use crate::sql::FlinkType;
use crate::sql::types::{Kind, LTZ_ZONE};

/// The Confluent wire format's magic byte, before the 4-byte schema id.
const MAGIC: u8 = 0;
/// Magic byte plus schema id.
const HEADER_LEN: usize = 5;

/// Avro writer schemas by registry-wide schema id, for records framed with an id other than
/// the table's own.
pub type WriterSchemas = HashMap<u32, AvroSchema>;

/// Why records could not be decoded or encoded.
#[derive(thiserror::Error, Debug)]
pub enum CodecError {
    /// A record does not match the table's layout.
    #[error("record at partition {partition}, offset {offset}: {reason}")]
    Decode {
        /// Partition of the record.
        partition: i32,
        /// Offset of the record.
        offset: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// A row could not be encoded.
    #[error("cannot encode row: {0}")]
    Encode(String),
    /// The layout uses a type or format the codec does not handle.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// Decoder and encoder for one table layout.
#[derive(Debug)]
pub struct Codec {
    schema: SchemaRef,
    /// The table's own columns, in table order.
    columns: Vec<(String, FlinkType)>,
    key: Side,
    value: Side,
}

/// How one part of a record (key or value) maps onto columns.
#[derive(Debug)]
struct Side {
    /// `"key"` or `"value"`, for messages.
    what: &'static str,
    format: Format,
    /// Indices into the table's columns of the columns this part carries (key order for
    /// the key, table order for the value).
    members: Vec<usize>,
    /// The registered schema's id, written into the header of framed encodings.
    schema_id: Option<u32>,
    /// The registered Avro schema (the writer schema of every record) and which column each
    /// of its fields feeds, for [`Format::AvroRegistry`].
    avro: Option<(AvroSchema, Shape)>,
}

// === impl Codec ===

impl Codec {
    /// Prepares the codec of `layout`.
    pub fn new(layout: &TableLayout) -> Result<Self, CodecError> {
        let mut fields = layout
            .columns
            .iter()
            .map(|(n, t)| {
                // Fails early on types no builder exists for.
                Node::new(n, t)?;
                t.to_field(n).map_err(CodecError::Unsupported)
            })
            .collect::<Result<Vec<_>, _>>()?;
        fields.push(meta_field(ROWTIME, Kind::TimestampLtz(3))?);
        fields.push(meta_field(PARTITION, Kind::Integer)?);
        fields.push(meta_field(OFFSET, Kind::BigInt)?);

        let index = |name: &String| {
            layout
                .columns
                .iter()
                .position(|(n, _)| n == name)
                .ok_or_else(|| {
                    CodecError::Unsupported(format!("key column `{name}` is not a column"))
                })
        };
        let key_members = layout
            .key_columns
            .iter()
            .map(index)
            .collect::<Result<Vec<_>, _>>()?;
        let value_members = (0..layout.columns.len())
            .filter(|i| !key_members.contains(i))
            .collect();
        let key = Side::new(
            "key",
            layout.key_format,
            key_members,
            layout.key_schema.as_ref(),
            &layout.columns,
        )?;
        let value = Side::new(
            "value",
            layout.value_format,
            value_members,
            layout.value_schema.as_ref(),
            &layout.columns,
        )?;
        Ok(Self {
            schema: Arc::new(Schema::new(fields)),
            columns: layout.columns.clone(),
            key,
            value,
        })
    }

    /// The table's Arrow schema: its columns, then `$rowtime`, `$partition`, `$offset`.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Decodes records into one batch of [`Codec::schema`].
    pub fn decode(&self, records: &[SourceRecord<'_>]) -> Result<RecordBatch, CodecError> {
        self.decode_with(records, &WriterSchemas::new())
    }

    /// The schema ids of Avro-framed keys and values in `records` that are neither the
    /// table's own nor in `known`: what [`Codec::decode_with`] needs looked up.
    pub fn foreign_avro_ids(
        &self,
        records: &[SourceRecord<'_>],
        known: &WriterSchemas,
    ) -> BTreeSet<u32> {
        let mut ids = BTreeSet::new();
        for r in records {
            for (side, bytes) in [(&self.key, r.key), (&self.value, r.value)] {
                if let Some(id) = side.foreign_avro_id(bytes)
                    && !known.contains_key(&id)
                {
                    ids.insert(id);
                }
            }
        }
        ids
    }

    /// Decodes records into one batch of [`Codec::schema`], reading Avro framed with a
    /// foreign schema id with its writer schema from `writers`.
    pub fn decode_with(
        &self,
        records: &[SourceRecord<'_>],
        writers: &WriterSchemas,
    ) -> Result<RecordBatch, CodecError> {
        let mut nodes = self
            .columns
            .iter()
            .map(|(n, t)| Node::new(n, t))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rowtime =
            TimestampMillisecondBuilder::with_capacity(records.len()).with_timezone(LTZ_ZONE);
        let mut partition = Int32Builder::with_capacity(records.len());
        let mut offset = Int64Builder::with_capacity(records.len());
        {
            let mut slots: Vec<Option<&mut Node>> = nodes.iter_mut().map(Some).collect();
            let mut key_nodes = self.key.take_nodes(&mut slots)?;
            let mut value_nodes = self.value.take_nodes(&mut slots)?;
            let mut key_seen = vec![false; key_nodes.len()];
            let mut value_seen = vec![false; value_nodes.len()];
            for r in records {
                let at = |reason| CodecError::Decode {
                    partition: r.partition,
                    offset: r.offset,
                    reason,
                };
                self.key
                    .decode(r.key, &mut key_nodes, &mut key_seen, writers)
                    .map_err(at)?;
                self.value
                    .decode(r.value, &mut value_nodes, &mut value_seen, writers)
                    .map_err(at)?;
                rowtime.append_option(r.timestamp_ms);
                partition.append_value(r.partition);
                offset.append_value(r.offset);
            }
        }
        let mut arrays = nodes
            .iter_mut()
            .map(Node::finish)
            .collect::<Result<Vec<ArrayRef>, _>>()?;
        arrays.push(Arc::new(rowtime.finish()));
        arrays.push(Arc::new(partition.finish()));
        arrays.push(Arc::new(offset.finish()));
        let options = RecordBatchOptions::new().with_row_count(Some(records.len()));
        RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options)
            .map_err(|e| CodecError::Unsupported(format!("decoded batch: {e}")))
    }

    /// Encodes every row of `batch` (columns matched by name; metadata columns ignored except
    /// a non-null `$rowtime`, which becomes the record timestamp).
    pub fn encode(&self, batch: &RecordBatch) -> Result<Vec<Record>, CodecError> {
        let rows = batch.num_rows();
        let encode_err =
            |e: datafusion::arrow::error::ArrowError| CodecError::Encode(e.to_string());
        let arrays = self
            .columns
            .iter()
            .map(|(name, ty)| {
                let dt = ty.to_arrow().map_err(CodecError::Unsupported)?;
                let a = match batch.schema().index_of(name) {
                    Ok(i) if batch.column(i).data_type() == &dt => batch.column(i).clone(),
                    Ok(i) => cast(batch.column(i), &dt).map_err(encode_err)?,
                    Err(_) => new_null_array(&dt, rows),
                };
                if !ty.nullable() && a.null_count() > 0 {
                    return Err(CodecError::Encode(format!(
                        "column `{name}` is NOT NULL but a row has NULL"
                    )));
                }
                Ok(a)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let rowtime = match batch.schema().index_of(ROWTIME) {
            Ok(i) => Some(
                cast(
                    batch.column(i),
                    &DataType::Timestamp(TimeUnit::Millisecond, Some(LTZ_ZONE.into())),
                )
                .map_err(encode_err)?,
            ),
            Err(_) => None,
        };
        let rowtime = rowtime
            .as_ref()
            .and_then(|a| a.as_primitive_opt::<TimestampMillisecondType>());
        let key_cols = self.key.columns(&self.columns, &arrays);
        let value_cols = self.value.columns(&self.columns, &arrays);
        let mut out = Vec::with_capacity(rows);
        for i in 0..rows {
            let row = |e: String| CodecError::Encode(format!("row {i}: {e}"));
            out.push(Record {
                key: self.key.encode(&key_cols, i).map_err(row)?,
                value: self.value.encode(&value_cols, i).map_err(row)?,
                timestamp_ms: rowtime.filter(|a| a.is_valid(i)).map(|a| a.value(i)),
            });
        }
        Ok(out)
    }
}

// === impl Side ===

impl Side {
    fn new(
        what: &'static str,
        format: Format,
        members: Vec<usize>,
        registered: Option<&RegisteredSchema>,
        columns: &[(String, FlinkType)],
    ) -> Result<Self, CodecError> {
        let names: Vec<&str> = members.iter().map(|&i| columns[i].0.as_str()).collect();
        if format == Format::Raw && !members.is_empty() {
            let ok = members.len() == 1
                && matches!(
                    columns[members[0]].1.kind(),
                    Kind::Binary(_) | Kind::Varbinary(_) | Kind::Char(_) | Kind::Varchar(_)
                );
            if !ok {
                return Err(CodecError::Unsupported(format!(
                    "the raw {what} format needs exactly one BYTES or STRING column, got {}",
                    names.join(", ")
                )));
            }
        }
        let avro = match format {
            Format::AvroRegistry if !members.is_empty() => {
                let registered = registered.ok_or_else(|| {
                    CodecError::Unsupported(format!(
                        "the avro-registry {what} format needs a registered {what} schema"
                    ))
                })?;
                let schema = AvroSchema::parse_str(&registered.schema).map_err(|e| {
                    CodecError::Unsupported(format!("registered {what} schema: {e}"))
                })?;
                let shape = Shape::new(&schema, &names).map_err(CodecError::Unsupported)?;
                Some((schema, shape))
            }
            _ => None,
        };
        Ok(Self {
            what,
            format,
            members,
            schema_id: registered.map(|s| s.id),
            avro,
        })
    }

    /// This part's builders, taken out of the table's, in member order.
    fn take_nodes<'n>(
        &self,
        slots: &mut [Option<&'n mut Node>],
    ) -> Result<Vec<&'n mut Node>, CodecError> {
        self.members
            .iter()
            .map(|&i| {
                slots.get_mut(i).and_then(Option::take).ok_or_else(|| {
                    CodecError::Unsupported(format!("column {i} is in both key and value"))
                })
            })
            .collect()
    }

    /// The schema id of these Avro-framed bytes when it is not this part's own.
    fn foreign_avro_id(&self, bytes: Option<&[u8]>) -> Option<u32> {
        if self.format != Format::AvroRegistry || self.members.is_empty() {
            return None;
        }
        match bytes? {
            [MAGIC, a, b, c, d, ..] => {
                let id = u32::from_be_bytes([*a, *b, *c, *d]);
                (self.schema_id != Some(id)).then_some(id)
            }
            _ => None,
        }
    }

    /// Decodes this part of one record into `nodes`.
    fn decode(
        &self,
        bytes: Option<&[u8]>,
        nodes: &mut [&mut Node],
        seen: &mut [bool],
        writers: &WriterSchemas,
    ) -> Result<(), String> {
        if nodes.is_empty() {
            return Ok(());
        }
        let what = self.what;
        let Some(bytes) = bytes else {
            for n in nodes.iter_mut() {
                n.read_null()
                    .map_err(|_| format!("{what} is null but column `{}` is NOT NULL", n.name))?;
            }
            return Ok(());
        };
        match self.format {
            Format::Raw => {
                match &mut nodes[0].col {
                    Col::Bin(b) => b.append_value(bytes),
                    Col::Str(b) => b.append_value(
                        std::str::from_utf8(bytes)
                            .map_err(|e| format!("{what} is not valid UTF-8: {e}"))?,
                    ),
                    _ => return Err(format!("the raw {what} column is not BYTES or STRING")),
                }
                Ok(())
            }
            Format::Json | Format::JsonRegistry => {
                // Framed or not: JSON never starts with a 0 byte.
                let body = match bytes {
                    [MAGIC, ..] if bytes.len() >= HEADER_LEN => &bytes[HEADER_LEN..],
                    [MAGIC, ..] => return Err(format!("{what} has a truncated schema header")),
                    _ => bytes,
                };
                let text = std::str::from_utf8(body)
                    .map_err(|e| format!("{what} is not valid JSON: invalid UTF-8 ({e})"))?;
                json_read::read_record(what, text, nodes, seen)
            }
            Format::AvroRegistry => {
                let Some((schema, shape)) = &self.avro else {
                    return Err(format!("no Avro schema for the {what}"));
                };
                let (id, mut body) = match bytes {
                    [MAGIC, a, b, c, d, rest @ ..] => (u32::from_be_bytes([*a, *b, *c, *d]), rest),
                    _ => {
                        return Err(format!(
                            "{what} is not in the Schema Registry wire format (magic byte 0, schema id)"
                        ));
                    }
                };
                let value = match self.schema_id.filter(|e| *e != id) {
                    None => apache_avro::from_avro_datum(schema, &mut body, None)
                        .map_err(|e| format!("{what} is not valid Avro for schema id {id}: {e}"))?,
                    Some(expected) => {
                        let writer = writers.get(&id).ok_or_else(|| {
                            format!(
                                "{what} was written with schema id {id}, which the schema store \
                                 does not hold as an Avro schema (the table's {what} schema is id {expected})"
                            )
                        })?;
                        apache_avro::from_avro_datum(writer, &mut body, Some(schema)).map_err(
                            |e| {
                                format!(
                                    "{what} written with schema id {id} cannot be read as the \
                                     table's {what} schema (id {expected}): {e}"
                                )
                            },
                        )?
                    }
                };
                if !body.is_empty() {
                    return Err(format!(
                        "{what} has {} bytes after its Avro datum (schema id {id})",
                        body.len()
                    ));
                }
                avro_data::put_record(shape, value, nodes, seen)
            }
        }
    }

    /// This part's columns for encoding: name, type and (cast) array.
    fn columns<'a>(
        &self,
        columns: &'a [(String, FlinkType)],
        arrays: &'a [ArrayRef],
    ) -> Vec<(&'a str, &'a FlinkType, &'a dyn Array)> {
        self.members
            .iter()
            .map(|&i| (columns[i].0.as_str(), &columns[i].1, arrays[i].as_ref()))
            .collect()
    }

    /// The Confluent header with this part's registered schema id.
    fn header(&self) -> Result<[u8; HEADER_LEN], String> {
        let id = self.schema_id.ok_or_else(|| {
            format!(
                "the {} format needs the registered {} schema's id",
                self.format.as_str(),
                self.what
            )
        })?;
        let [a, b, c, d] = id.to_be_bytes();
        Ok([MAGIC, a, b, c, d])
    }

    /// Encodes this part of row `i` (`None`: no bytes, for a part without columns or a
    /// NULL raw column).
    fn encode(
        &self,
        cols: &[(&str, &FlinkType, &dyn Array)],
        i: usize,
    ) -> Result<Option<Vec<u8>>, String> {
        if cols.is_empty() {
            return Ok(None);
        }
        match self.format {
            Format::Raw => {
                let a = cols[0].2;
                if a.is_null(i) {
                    return Ok(None);
                }
                let bytes = match (a.as_binary_opt::<i32>(), a.as_string_opt::<i32>()) {
                    (Some(b), _) => b.value(i).to_vec(),
                    (_, Some(s)) => s.value(i).as_bytes().to_vec(),
                    _ => return Err(format!("raw {} column is not BYTES", self.what)),
                };
                Ok(Some(bytes))
            }
            Format::Json | Format::JsonRegistry => {
                let mut out = Vec::with_capacity(64);
                if self.format == Format::JsonRegistry {
                    out.extend_from_slice(&self.header()?);
                }
                json_write::write_object(&mut out, cols, i)?;
                Ok(Some(out))
            }
            Format::AvroRegistry => {
                let Some((schema, shape)) = &self.avro else {
                    return Err(format!("no Avro schema for the {}", self.what));
                };
                let header = self.header()?;
                let with_arrays: Vec<(&str, &FlinkType, Option<&dyn Array>)> =
                    cols.iter().map(|(n, t, a)| (*n, *t, Some(*a))).collect();
                let value = avro_data::to_record(schema, shape, &with_arrays, i)?;
                let datum = apache_avro::to_avro_datum(schema, value)
                    .map_err(|e| format!("{} does not fit its Avro schema: {e}", self.what))?;
                let mut out = Vec::with_capacity(HEADER_LEN + datum.len());
                out.extend_from_slice(&header);
                out.extend_from_slice(&datum);
                Ok(Some(out))
            }
        }
    }
}
