//! Column builders: one [`Node`] per column (and per nested element type) that the JSON and
//! Avro readers append decoded values to, finished into Arrow arrays of the column's type.
//!
//! Owns the physical Arrow layout of every supported Flink type. It knows nothing about
//! wire formats; the readers do the conversions and call the typed builders directly.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BinaryBuilder, BooleanBuilder, Decimal128Builder, Float32Builder,
    Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder, ListArray, MapArray,
    NullBufferBuilder, StringBuilder, StructArray, make_array,
};
use datafusion::arrow::buffer::{OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{DataType, Field};

use super::CodecError;
use crate::sql::FlinkType;
use crate::sql::types::Kind;

/// Builder of one column (or nested value) plus what the readers need to convert into it.
#[derive(Debug)]
pub(super) struct Node {
    /// Column or field name, for error messages and for matching object keys.
    pub(super) name: String,
    /// Whether a NULL read from the wire is allowed here.
    pub(super) nullable: bool,
    /// The Arrow type the finished array has (Flink's mapping of the declared type).
    pub(super) dt: DataType,
    /// The typed builder.
    pub(super) col: Col,
}

/// Typed builders. Temporal values are built as their physical integers and given their
/// Arrow type when finished.
#[derive(Debug)]
pub(super) enum Col {
    /// BOOLEAN.
    Bool(BooleanBuilder),
    /// TINYINT.
    I8(Int8Builder),
    /// SMALLINT.
    I16(Int16Builder),
    /// INT.
    I32(Int32Builder),
    /// BIGINT.
    I64(Int64Builder),
    /// FLOAT.
    F32(Float32Builder),
    /// DOUBLE.
    F64(Float64Builder),
    /// DECIMAL(precision, scale).
    Decimal(Decimal128Builder, u8, i8),
    /// CHAR / VARCHAR / STRING.
    Str(StringBuilder),
    /// BINARY / VARBINARY / BYTES.
    Bin(BinaryBuilder),
    /// DATE, days since the epoch.
    Date(Int32Builder),
    /// TIME(0..=3): seconds or milliseconds of the day; the `i64` is units per second.
    Time32(Int32Builder, i64),
    /// TIME(4..=9): micro- or nanoseconds of the day; the `i64` is units per second.
    Time64(Int64Builder, i64),
    /// TIMESTAMP / TIMESTAMP_LTZ in units (per second: the `i64`) since the epoch; the flag
    /// is `true` for TIMESTAMP_LTZ.
    Ts(Int64Builder, i64, bool),
    /// ARRAY: element builder, offsets, validity.
    List(Box<Node>, Vec<i32>, NullBufferBuilder),
    /// MAP: key and value builders, offsets, validity.
    Map(Box<Node>, Box<Node>, Vec<i32>, NullBufferBuilder),
    /// ROW: field builders, validity, and a scratch "field seen" list the readers reuse.
    Row(Vec<Node>, NullBufferBuilder, Vec<bool>),
}

/// Units per second of a TIME / TIMESTAMP precision, as Flink's Arrow mapping stores it.
pub(super) fn units_per_sec(precision: u8) -> i64 {
    match precision {
        0 => 1,
        1..=3 => 1_000,
        4..=6 => 1_000_000,
        _ => 1_000_000_000,
    }
}

// === impl Node ===

impl Node {
    /// An empty builder for a value of type `ty`.
    pub(super) fn new(name: &str, ty: &FlinkType) -> Result<Self, CodecError> {
        let dt = ty.to_arrow().map_err(CodecError::Unsupported)?;
        let col = match ty.kind() {
            Kind::Boolean => Col::Bool(BooleanBuilder::new()),
            Kind::TinyInt => Col::I8(Int8Builder::new()),
            Kind::SmallInt => Col::I16(Int16Builder::new()),
            Kind::Integer => Col::I32(Int32Builder::new()),
            Kind::BigInt => Col::I64(Int64Builder::new()),
            Kind::Float => Col::F32(Float32Builder::new()),
            Kind::Double => Col::F64(Float64Builder::new()),
            Kind::Decimal { precision, scale } => {
                Col::Decimal(Decimal128Builder::new(), *precision, *scale)
            }
            Kind::Char(_) | Kind::Varchar(_) => Col::Str(StringBuilder::new()),
            Kind::Binary(_) | Kind::Varbinary(_) => Col::Bin(BinaryBuilder::new()),
            Kind::Date => Col::Date(Int32Builder::new()),
            Kind::Time(p) if *p <= 3 => Col::Time32(Int32Builder::new(), units_per_sec(*p)),
            Kind::Time(p) => Col::Time64(Int64Builder::new(), units_per_sec(*p)),
            Kind::Timestamp(p) => Col::Ts(Int64Builder::new(), units_per_sec(*p), false),
            Kind::TimestampLtz(p) => Col::Ts(Int64Builder::new(), units_per_sec(*p), true),
            Kind::Array(item) => Col::List(
                Box::new(Node::new("element", item)?),
                vec![0],
                NullBufferBuilder::new(0),
            ),
            Kind::Map(k, v) => Col::Map(
                Box::new(Node::new("key", k)?),
                Box::new(Node::new("value", v)?),
                vec![0],
                NullBufferBuilder::new(0),
            ),
            Kind::Row(fields) => Col::Row(
                fields
                    .iter()
                    .map(|(n, t)| Node::new(n, t))
                    .collect::<Result<_, _>>()?,
                NullBufferBuilder::new(0),
                vec![false; fields.len()],
            ),
            Kind::Null | Kind::IntervalDayTime | Kind::IntervalYearMonth | Kind::Multiset(_) => {
                return Err(CodecError::Unsupported(format!(
                    "column `{name}` of type {} cannot be stored in a topic",
                    ty.to_sql()
                )));
            }
        };
        Ok(Self {
            name: name.to_string(),
            nullable: ty.nullable(),
            dt,
            col,
        })
    }

    /// Appends a NULL without checking nullability (used under a NULL parent as well).
    pub(super) fn push_null(&mut self) {
        match &mut self.col {
            Col::Bool(b) => b.append_null(),
            Col::I8(b) => b.append_null(),
            Col::I16(b) => b.append_null(),
            Col::I32(b) | Col::Date(b) | Col::Time32(b, _) => b.append_null(),
            Col::I64(b) | Col::Time64(b, _) | Col::Ts(b, ..) => b.append_null(),
            Col::F32(b) => b.append_null(),
            Col::F64(b) => b.append_null(),
            Col::Decimal(b, ..) => b.append_null(),
            Col::Str(b) => b.append_null(),
            Col::Bin(b) => b.append_null(),
            Col::List(_, offsets, nulls) | Col::Map(_, _, offsets, nulls) => {
                offsets.push(*offsets.last().unwrap_or(&0));
                nulls.append_null();
            }
            Col::Row(fields, nulls, _) => {
                for f in fields {
                    f.push_null();
                }
                nulls.append_null();
            }
        }
    }

    /// Appends a NULL read from the wire: an error in a NOT NULL column.
    pub(super) fn read_null(&mut self) -> Result<(), String> {
        if !self.nullable {
            return Err("NULL in a NOT NULL column".into());
        }
        self.push_null();
        Ok(())
    }

    /// Finishes the array built so far and resets the builder.
    pub(super) fn finish(&mut self) -> Result<ArrayRef, CodecError> {
        let arrow =
            |e: datafusion::arrow::error::ArrowError| CodecError::Unsupported(e.to_string());
        let retype = |a: ArrayRef, dt: &DataType| -> Result<ArrayRef, CodecError> {
            if a.data_type() == dt {
                return Ok(a);
            }
            let data = a.into_data().into_builder().data_type(dt.clone()).build();
            Ok(make_array(data.map_err(arrow)?))
        };
        let a: ArrayRef = match &mut self.col {
            Col::Bool(b) => Arc::new(b.finish()),
            Col::I8(b) => Arc::new(b.finish()),
            Col::I16(b) => Arc::new(b.finish()),
            Col::I32(b) | Col::Date(b) | Col::Time32(b, _) => {
                retype(Arc::new(b.finish()), &self.dt)?
            }
            Col::I64(b) | Col::Time64(b, _) | Col::Ts(b, ..) => {
                retype(Arc::new(b.finish()), &self.dt)?
            }
            Col::F32(b) => Arc::new(b.finish()),
            Col::F64(b) => Arc::new(b.finish()),
            Col::Decimal(b, p, s) => {
                Arc::new(b.finish().with_precision_and_scale(*p, *s).map_err(arrow)?)
            }
            Col::Str(b) => Arc::new(b.finish()),
            Col::Bin(b) => Arc::new(b.finish()),
            Col::List(item, offsets, nulls) => {
                let DataType::List(field) = &self.dt else {
                    return Err(CodecError::Unsupported(format!("list type {}", self.dt)));
                };
                let values = item.finish()?;
                let offsets =
                    OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(offsets, vec![0])));
                Arc::new(
                    ListArray::try_new(field.clone(), offsets, values, nulls.finish())
                        .map_err(arrow)?,
                )
            }
            Col::Map(k, v, offsets, nulls) => {
                let DataType::Map(field, ordered) = &self.dt else {
                    return Err(CodecError::Unsupported(format!("map type {}", self.dt)));
                };
                let DataType::Struct(kv) = field.data_type() else {
                    return Err(CodecError::Unsupported(format!("map type {}", self.dt)));
                };
                let entries =
                    StructArray::try_new(kv.clone(), vec![k.finish()?, v.finish()?], None)
                        .map_err(arrow)?;
                let offsets =
                    OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(offsets, vec![0])));
                Arc::new(
                    MapArray::try_new(field.clone(), offsets, entries, nulls.finish(), *ordered)
                        .map_err(arrow)?,
                )
            }
            Col::Row(fields, nulls, _) => {
                let DataType::Struct(fs) = &self.dt else {
                    return Err(CodecError::Unsupported(format!("row type {}", self.dt)));
                };
                let len = nulls.len();
                let arrays = fields
                    .iter_mut()
                    .map(Node::finish)
                    .collect::<Result<Vec<_>, _>>()?;
                Arc::new(
                    StructArray::try_new_with_length(fs.clone(), arrays, nulls.finish(), len)
                        .map_err(arrow)?,
                )
            }
        };
        Ok(a)
    }
}

/// The Arrow field of a metadata column (nullable: an INSERT may leave it out).
pub(super) fn meta_field(name: &str, kind: Kind) -> Result<Field, CodecError> {
    FlinkType::new(kind, true)
        .to_field(name)
        .map_err(CodecError::Unsupported)
}
