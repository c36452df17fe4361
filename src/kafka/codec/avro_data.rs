//! Avro data to column builders and Arrow rows to Avro values, for the `avro-registry`
//! format. Binary decoding and encoding themselves are the `apache-avro` crate's; this part
//! converts between its `Value`s and the columns (by field name, with unit conversion for
//! temporal logical types).

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::types::Value;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
};

use super::builder::{Col, Node, units_per_sec};
use super::json_write::{time_value, timestamp_value};
use crate::sql::FlinkType;
use crate::sql::types::Kind;

/// Which column each field of the side's Avro record feeds, worked out once per codec.
#[derive(Debug)]
pub(super) enum Shape {
    /// A record: per schema field, the index of its column among the side's columns.
    Record(Vec<Option<usize>>),
    /// A bare (non-record) schema for a side with a single column.
    Single,
}

impl Shape {
    /// The shape of `schema` for the side's column names.
    pub(super) fn new(schema: &Schema, names: &[&str]) -> Result<Self, String> {
        match schema {
            Schema::Record(r) => Ok(Shape::Record(
                r.fields
                    .iter()
                    .map(|f| names.iter().position(|n| *n == f.name))
                    .collect(),
            )),
            _ if names.len() == 1 => Ok(Shape::Single),
            _ => Err("the Avro schema of a multi-column part must be a record".into()),
        }
    }
}

/// Appends a decoded Avro datum to the side's `fields`; `seen` is scratch space.
pub(super) fn put_record(
    shape: &Shape,
    value: Value,
    fields: &mut [&mut Node],
    seen: &mut [bool],
) -> Result<(), String> {
    match (shape, value) {
        (Shape::Single, v) => {
            let f = &mut fields[0];
            put(f, v).map_err(|e| format!("field `{}`: {e}", f.name))
        }
        (Shape::Record(map), Value::Record(entries)) => {
            seen.fill(false);
            for (slot, (_, v)) in map.iter().zip(entries) {
                if let Some(i) = *slot {
                    seen[i] = true;
                    let f = &mut fields[i];
                    put(f, v).map_err(|e| format!("field `{}`: {e}", f.name))?;
                }
            }
            for (f, seen) in fields.iter_mut().zip(seen.iter()) {
                if !seen {
                    f.read_null()
                        .map_err(|_| format!("field `{}`: missing in a NOT NULL column", f.name))?;
                }
            }
            Ok(())
        }
        (Shape::Record(_), other) => Err(format!("expected an Avro record, got {}", kind(&other))),
    }
}

fn kind(v: &Value) -> String {
    format!("{:?}", apache_avro::schema::SchemaKind::from(v))
}

/// `v` (in units of `from` per second) in units of `to` per second.
fn rescale(v: i64, from: i64, to: i64) -> Option<i64> {
    if to >= from {
        v.checked_mul(to / from)
    } else {
        Some(v.div_euclid(from / to))
    }
}

/// The `i128` of big-endian two's-complement bytes (Avro's decimal form).
fn i128_from_be(bytes: &[u8]) -> Option<i128> {
    let neg = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let pad = if neg { 0xff } else { 0 };
    let (extra, rest) = bytes.split_at(bytes.len().saturating_sub(16));
    if extra.iter().any(|b| *b != pad) {
        return None;
    }
    let mut buf = [pad; 16];
    buf[16 - rest.len()..].copy_from_slice(rest);
    Some(i128::from_be_bytes(buf))
}

/// Appends one Avro value to `node`.
fn put(node: &mut Node, v: Value) -> Result<(), String> {
    let v = match v {
        Value::Union(_, inner) => *inner,
        v => v,
    };
    if matches!(v, Value::Null) {
        return node.read_null();
    }
    let shown = apache_avro::schema::SchemaKind::from(&v);
    let want = &node.dt;
    let bad = || format!("expected {want}, got Avro {shown:?}");
    match (&mut node.col, v) {
        (Col::Bool(b), Value::Boolean(x)) => b.append_value(x),
        (Col::I8(b), Value::Int(x)) => b.append_value(x.try_into().map_err(|_| bad())?),
        (Col::I16(b), Value::Int(x)) => b.append_value(x.try_into().map_err(|_| bad())?),
        (Col::I32(b), Value::Int(x)) => b.append_value(x),
        (Col::I64(b), Value::Long(x)) => b.append_value(x),
        (Col::I64(b), Value::Int(x)) => b.append_value(i64::from(x)),
        (Col::F32(b), Value::Float(x)) => b.append_value(x),
        (Col::F64(b), Value::Double(x)) => b.append_value(x),
        (Col::F64(b), Value::Float(x)) => b.append_value(f64::from(x)),
        (Col::Decimal(b, p, _), Value::Decimal(d)) => {
            let bytes: Vec<u8> = Vec::try_from(&d).map_err(|e| e.to_string())?;
            let x = i128_from_be(&bytes)
                .filter(|x| x.unsigned_abs() < 10u128.pow(u32::from(*p)))
                .ok_or_else(|| format!("decimal does not fit DECIMAL({p})"))?;
            b.append_value(x)
        }
        (Col::Str(b), Value::String(s) | Value::Enum(_, s)) => b.append_value(s),
        (Col::Str(b), Value::Uuid(u)) => b.append_value(u.to_string()),
        (Col::Bin(b), Value::Bytes(x) | Value::Fixed(_, x)) => b.append_value(x),
        (Col::Date(b), Value::Date(x) | Value::Int(x)) => b.append_value(x),
        (Col::Time32(b, per), Value::TimeMillis(ms)) => {
            let v = rescale(i64::from(ms), 1_000, *per).ok_or_else(bad)?;
            b.append_value(i32::try_from(v).map_err(|_| bad())?)
        }
        (Col::Time32(b, per), Value::TimeMicros(us)) => {
            let v = rescale(us, 1_000_000, *per).ok_or_else(bad)?;
            b.append_value(i32::try_from(v).map_err(|_| bad())?)
        }
        (Col::Time64(b, per), Value::TimeMillis(ms)) => {
            b.append_value(rescale(i64::from(ms), 1_000, *per).ok_or_else(bad)?)
        }
        (Col::Time64(b, per), Value::TimeMicros(us)) => {
            b.append_value(rescale(us, 1_000_000, *per).ok_or_else(bad)?)
        }
        (
            Col::Ts(b, per, _),
            Value::TimestampMillis(x) | Value::LocalTimestampMillis(x) | Value::Long(x),
        ) => b.append_value(rescale(x, 1_000, *per).ok_or_else(bad)?),
        (Col::Ts(b, per, _), Value::TimestampMicros(x) | Value::LocalTimestampMicros(x)) => {
            b.append_value(rescale(x, 1_000_000, *per).ok_or_else(bad)?)
        }
        (Col::Ts(b, per, _), Value::TimestampNanos(x) | Value::LocalTimestampNanos(x)) => {
            b.append_value(rescale(x, 1_000_000_000, *per).ok_or_else(bad)?)
        }
        (Col::List(item, offsets, nulls), Value::Array(items)) => {
            let n = items.len();
            for (j, x) in items.into_iter().enumerate() {
                put(item, x).map_err(|e| format!("[{j}]: {e}"))?;
            }
            push_offset(offsets, n)?;
            nulls.append_non_null();
        }
        (Col::Map(k, val, offsets, nulls), Value::Map(entries)) => {
            let n = entries.len();
            // Avro maps arrive as a hash map: sort for a deterministic entry order.
            let mut entries: Vec<(String, Value)> = entries.into_iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            for (key, x) in entries {
                put(k, Value::String(key.clone()))?;
                put(val, x).map_err(|e| format!("[{key}]: {e}"))?;
            }
            push_offset(offsets, n)?;
            nulls.append_non_null();
        }
        (Col::Row(fields, nulls, seen), Value::Record(entries)) => {
            seen.fill(false);
            for (name, x) in entries {
                if let Some(i) = fields.iter().position(|f| f.name == name) {
                    seen[i] = true;
                    put(&mut fields[i], x).map_err(|e| format!("{name}: {e}"))?;
                }
            }
            for (f, seen) in fields.iter_mut().zip(seen.iter()) {
                if !seen {
                    f.read_null().map_err(|e| format!("{}: {e}", f.name))?;
                }
            }
            nulls.append_non_null();
        }
        _ => return Err(bad()),
    }
    Ok(())
}

fn push_offset(offsets: &mut Vec<i32>, n: usize) -> Result<(), String> {
    let last = *offsets.last().unwrap_or(&0);
    let next = i32::try_from(n)
        .ok()
        .and_then(|n| last.checked_add(n))
        .ok_or("too many elements in one batch")?;
    offsets.push(next);
    Ok(())
}

/// The Avro record (or bare value, for [`Shape::Single`]) of row `i` of the side's
/// `columns` (`None`: the batch has no such column, i.e. NULL).
pub(super) fn to_record(
    schema: &Schema,
    shape: &Shape,
    columns: &[(&str, &FlinkType, Option<&dyn Array>)],
    i: usize,
) -> Result<Value, String> {
    match (shape, schema) {
        (Shape::Single, _) => {
            let (name, ty, array) = &columns[0];
            value_of(schema, ty, *array, i).map_err(|e| format!("column `{name}`: {e}"))
        }
        (Shape::Record(map), Schema::Record(r)) => {
            let fields = r
                .fields
                .iter()
                .zip(map)
                .map(|(f, slot)| {
                    let v = match slot {
                        Some(c) => {
                            let (name, ty, array) = &columns[*c];
                            value_of(&f.schema, ty, *array, i)
                                .map_err(|e| format!("column `{name}`: {e}"))?
                        }
                        // A field without a column: its default, else null.
                        None => null_of(&f.schema)
                            .map_err(|e| format!("Avro field `{}`: {e}", f.name))?,
                    };
                    Ok((f.name.clone(), v))
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Value::Record(fields))
        }
        (Shape::Record(_), _) => Err("the Avro schema is not a record".into()),
    }
}

fn null_of(schema: &Schema) -> Result<Value, String> {
    match schema {
        Schema::Union(u) => u
            .variants()
            .iter()
            .position(|s| *s == Schema::Null)
            .map(|p| Value::Union(p as u32, Box::new(Value::Null)))
            .ok_or_else(|| "NULL is not allowed by the Avro schema".into()),
        Schema::Null => Ok(Value::Null),
        _ => Err("NULL is not allowed by the Avro schema".into()),
    }
}

/// The Avro value of row `i` of `array` (of Flink type `ty`) for `schema`.
fn value_of(
    schema: &Schema,
    ty: &FlinkType,
    array: Option<&dyn Array>,
    i: usize,
) -> Result<Value, String> {
    let Some(array) = array.filter(|a| !a.is_null(i)) else {
        return null_of(schema);
    };
    if let Schema::Union(u) = schema {
        let (p, s) = u
            .variants()
            .iter()
            .enumerate()
            .find(|(_, s)| **s != Schema::Null)
            .ok_or("the Avro union has no non-null type")?;
        return Ok(Value::Union(
            p as u32,
            Box::new(value_of(s, ty, Some(array), i)?),
        ));
    }
    let bad = || {
        format!(
            "{} values cannot be written as Avro {:?}",
            ty.to_sql(),
            apache_avro::schema::SchemaKind::from(schema)
        )
    };
    let int = |a: &dyn Array| -> Option<i64> {
        a.as_primitive_opt::<Int8Type>()
            .map(|a| i64::from(a.value(i)))
            .or_else(|| {
                a.as_primitive_opt::<Int16Type>()
                    .map(|a| i64::from(a.value(i)))
            })
            .or_else(|| {
                a.as_primitive_opt::<Int32Type>()
                    .map(|a| i64::from(a.value(i)))
            })
            .or_else(|| a.as_primitive_opt::<Int64Type>().map(|a| a.value(i)))
    };
    let per_sec = match ty.kind() {
        Kind::Time(p) | Kind::Timestamp(p) | Kind::TimestampLtz(p) => units_per_sec(*p),
        _ => 1,
    };
    let ts = |to: i64| -> Result<i64, String> {
        let v = timestamp_value(array, i).ok_or_else(bad)?;
        rescale(v, per_sec, to).ok_or_else(bad)
    };
    Ok(match schema {
        Schema::Boolean => Value::Boolean(array.as_boolean_opt().ok_or_else(bad)?.value(i)),
        Schema::Int => Value::Int(
            int(array)
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(bad)?,
        ),
        Schema::Long => Value::Long(int(array).ok_or_else(bad)?),
        Schema::Float => Value::Float(
            array
                .as_primitive_opt::<Float32Type>()
                .ok_or_else(bad)?
                .value(i),
        ),
        Schema::Double => Value::Double(
            array
                .as_primitive_opt::<Float64Type>()
                .map(|a| a.value(i))
                .or_else(|| {
                    array
                        .as_primitive_opt::<Float32Type>()
                        .map(|a| f64::from(a.value(i)))
                })
                .ok_or_else(bad)?,
        ),
        Schema::Decimal(d) => {
            let Kind::Decimal { scale, .. } = ty.kind() else {
                return Err(bad());
            };
            if d.scale != *scale as usize {
                return Err(format!(
                    "the Avro decimal has scale {}, the column {scale}",
                    d.scale
                ));
            }
            let v = array
                .as_primitive_opt::<Decimal128Type>()
                .ok_or_else(bad)?
                .value(i);
            Value::Decimal(apache_avro::Decimal::from(minimal_be(v)))
        }
        Schema::String => Value::String(
            array
                .as_string_opt::<i32>()
                .ok_or_else(bad)?
                .value(i)
                .to_string(),
        ),
        Schema::Enum(e) => {
            let s = array.as_string_opt::<i32>().ok_or_else(bad)?.value(i);
            let p = e
                .symbols
                .iter()
                .position(|x| x == s)
                .ok_or_else(|| format!("`{s}` is not a symbol of the Avro enum"))?;
            Value::Enum(p as u32, s.to_string())
        }
        Schema::Bytes => Value::Bytes(
            array
                .as_binary_opt::<i32>()
                .ok_or_else(bad)?
                .value(i)
                .to_vec(),
        ),
        Schema::Fixed(f) => {
            let b = array.as_binary_opt::<i32>().ok_or_else(bad)?.value(i);
            if b.len() != f.size {
                return Err(format!("{} bytes for an Avro fixed({})", b.len(), f.size));
            }
            Value::Fixed(f.size, b.to_vec())
        }
        Schema::Date => Value::Date(
            array
                .as_primitive_opt::<Date32Type>()
                .ok_or_else(bad)?
                .value(i),
        ),
        Schema::TimeMillis => {
            let v =
                rescale(time_value(array, i).ok_or_else(bad)?, per_sec, 1_000).ok_or_else(bad)?;
            Value::TimeMillis(i32::try_from(v).map_err(|_| bad())?)
        }
        Schema::TimeMicros => Value::TimeMicros(
            rescale(time_value(array, i).ok_or_else(bad)?, per_sec, 1_000_000).ok_or_else(bad)?,
        ),
        Schema::TimestampMillis => Value::TimestampMillis(ts(1_000)?),
        Schema::TimestampMicros => Value::TimestampMicros(ts(1_000_000)?),
        Schema::TimestampNanos => Value::TimestampNanos(ts(1_000_000_000)?),
        Schema::LocalTimestampMillis => Value::LocalTimestampMillis(ts(1_000)?),
        Schema::LocalTimestampMicros => Value::LocalTimestampMicros(ts(1_000_000)?),
        Schema::LocalTimestampNanos => Value::LocalTimestampNanos(ts(1_000_000_000)?),
        Schema::Array(a) => {
            let Kind::Array(item) = ty.kind() else {
                return Err(bad());
            };
            let values = array.as_list_opt::<i32>().ok_or_else(bad)?.value(i);
            Value::Array(
                (0..values.len())
                    .map(|j| value_of(&a.items, item, Some(values.as_ref()), j))
                    .collect::<Result<_, _>>()?,
            )
        }
        Schema::Map(m) => {
            let Kind::Map(_, vt) = ty.kind() else {
                return Err(bad());
            };
            let entries = array.as_map_opt().ok_or_else(bad)?.value(i);
            let keys = entries.column(0).as_string_opt::<i32>().ok_or_else(bad)?;
            let values = entries.column(1);
            let mut out = HashMap::with_capacity(entries.len());
            for j in 0..entries.len() {
                out.insert(
                    keys.value(j).to_string(),
                    value_of(&m.types, vt, Some(values.as_ref()), j)?,
                );
            }
            Value::Map(out)
        }
        Schema::Record(_) => {
            let Kind::Row(fields) = ty.kind() else {
                return Err(bad());
            };
            let st = array.as_struct_opt().ok_or_else(bad)?;
            let columns: Vec<(&str, &FlinkType, Option<&dyn Array>)> = fields
                .iter()
                .zip(st.columns())
                .map(|((n, t), c)| (n.as_str(), t, Some(c.as_ref())))
                .collect();
            let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
            let shape = Shape::new(schema, &names)?;
            to_record(schema, &shape, &columns, i)?
        }
        _ => return Err(bad()),
    })
}

/// Minimal big-endian two's-complement bytes of `v`.
fn minimal_be(v: i128) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let pad = if v < 0 { 0xff } else { 0 };
    let mut start = 0;
    // Drop a leading sign byte while the next byte still carries the sign bit.
    while start < 15 && bytes[start] == pad && (bytes[start + 1] & 0x80) == (pad & 0x80) {
        start += 1;
    }
    bytes[start..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_bytes_round_trip() {
        for v in [
            0i128,
            1,
            -1,
            127,
            128,
            -128,
            -129,
            123_456_789,
            i128::MAX,
            i128::MIN,
        ] {
            assert_eq!(i128_from_be(&minimal_be(v)), Some(v), "{v}");
        }
        assert_eq!(minimal_be(127), vec![0x7f]);
        assert_eq!(minimal_be(128), vec![0x00, 0x80]);
        assert_eq!(minimal_be(-128), vec![0x80]);
        assert_eq!(i128_from_be(&[0xff; 20]), Some(-1));
        assert_eq!(i128_from_be(&[0x01; 17]), None);
    }
}
