//! Arrow rows to JSON text, in exactly the spellings `json_read` accepts: numbers for numeric
//! types (DECIMAL with its exact digits), base64 for bytes, ISO-8601 strings for temporal
//! types (`Z` for TIMESTAMP_LTZ), objects for ROW and MAP, `NaN`/`Infinity` as strings.
//!
//! Writes straight into a byte buffer; arrays have already been cast to the column types.

use std::io::Write as _;

use base64::Engine as _;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{
    Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
};

use super::builder::units_per_sec;
use super::text;
use crate::sql::FlinkType;
use crate::sql::types::Kind;

/// Writes the object `{"name": value, …}` of row `i` of `columns`.
pub(super) fn write_object(
    out: &mut Vec<u8>,
    columns: &[(&str, &FlinkType, &dyn Array)],
    i: usize,
) -> Result<(), String> {
    out.push(b'{');
    for (n, (name, ty, array)) in columns.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_str(out, name);
        out.push(b':');
        write_value(out, ty, *array, i).map_err(|e| format!("column `{name}`: {e}"))?;
    }
    out.push(b'}');
    Ok(())
}

fn mismatch(ty: &FlinkType, array: &dyn Array) -> String {
    format!(
        "expected {} values, got Arrow {}",
        ty.to_sql(),
        array.data_type()
    )
}

/// Writes value `i` of `array`, of Flink type `ty`.
pub(super) fn write_value(
    out: &mut Vec<u8>,
    ty: &FlinkType,
    array: &dyn Array,
    i: usize,
) -> Result<(), String> {
    if array.is_null(i) {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    let bad = || mismatch(ty, array);
    // Writing to a Vec cannot fail.
    let _ = match ty.kind() {
        Kind::Boolean => {
            let v = array.as_boolean_opt().ok_or_else(bad)?.value(i);
            out.extend_from_slice(if v { b"true" } else { b"false" });
            Ok(())
        }
        Kind::TinyInt => write!(out, "{}", prim::<Int8Type>(array).ok_or_else(bad)?.value(i)),
        Kind::SmallInt => write!(
            out,
            "{}",
            prim::<Int16Type>(array).ok_or_else(bad)?.value(i)
        ),
        Kind::Integer => write!(
            out,
            "{}",
            prim::<Int32Type>(array).ok_or_else(bad)?.value(i)
        ),
        Kind::BigInt => write!(
            out,
            "{}",
            prim::<Int64Type>(array).ok_or_else(bad)?.value(i)
        ),
        Kind::Float => {
            let v = prim::<Float32Type>(array).ok_or_else(bad)?.value(i);
            write_float(out, f64::from(v), &v.to_string());
            Ok(())
        }
        Kind::Double => {
            let v = prim::<Float64Type>(array).ok_or_else(bad)?.value(i);
            write_float(out, v, &v.to_string());
            Ok(())
        }
        Kind::Decimal { .. } => {
            let a = prim::<Decimal128Type>(array).ok_or_else(bad)?;
            out.extend_from_slice(a.value_as_string(i).as_bytes());
            Ok(())
        }
        Kind::Char(_) | Kind::Varchar(_) => {
            write_str(out, array.as_string_opt::<i32>().ok_or_else(bad)?.value(i));
            Ok(())
        }
        Kind::Binary(_) | Kind::Varbinary(_) => {
            let v = array.as_binary_opt::<i32>().ok_or_else(bad)?.value(i);
            out.push(b'"');
            out.extend_from_slice(
                base64::engine::general_purpose::STANDARD
                    .encode(v)
                    .as_bytes(),
            );
            out.push(b'"');
            Ok(())
        }
        Kind::Date => {
            let days = prim::<datafusion::arrow::datatypes::Date32Type>(array)
                .ok_or_else(bad)?
                .value(i);
            let mut s = String::with_capacity(10);
            text::write_date(&mut s, i64::from(days))?;
            write_str(out, &s);
            Ok(())
        }
        Kind::Time(p) => {
            let v = time_value(array, i).ok_or_else(bad)?;
            let mut s = String::with_capacity(18);
            text::write_time(&mut s, v, units_per_sec(*p));
            write_str(out, &s);
            Ok(())
        }
        Kind::Timestamp(p) | Kind::TimestampLtz(p) => {
            let v = timestamp_value(array, i).ok_or_else(bad)?;
            let ltz = matches!(ty.kind(), Kind::TimestampLtz(_));
            let mut s = String::with_capacity(32);
            text::write_timestamp(&mut s, v, units_per_sec(*p), ltz)?;
            write_str(out, &s);
            Ok(())
        }
        Kind::Array(item) => {
            let values = array.as_list_opt::<i32>().ok_or_else(bad)?.value(i);
            out.push(b'[');
            for j in 0..values.len() {
                if j > 0 {
                    out.push(b',');
                }
                write_value(out, item, values.as_ref(), j)?;
            }
            out.push(b']');
            Ok(())
        }
        Kind::Map(k, v) => {
            let entries = array.as_map_opt().ok_or_else(bad)?.value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            out.push(b'{');
            let mut key = Vec::new();
            for j in 0..entries.len() {
                if j > 0 {
                    out.push(b',');
                }
                // Object keys are strings: a non-string key is written as its JSON text.
                key.clear();
                write_value(&mut key, k, keys.as_ref(), j)?;
                if key.first() == Some(&b'"') {
                    out.extend_from_slice(&key);
                } else {
                    write_str(out, &String::from_utf8_lossy(&key));
                }
                out.push(b':');
                write_value(out, v, values.as_ref(), j)?;
            }
            out.push(b'}');
            Ok(())
        }
        Kind::Row(fields) => {
            let st = array.as_struct_opt().ok_or_else(bad)?;
            let columns: Vec<(&str, &FlinkType, &dyn Array)> = fields
                .iter()
                .zip(st.columns())
                .map(|((n, t), c)| (n.as_str(), t, c.as_ref()))
                .collect();
            write_object(out, &columns, i)?;
            Ok(())
        }
        Kind::Null | Kind::IntervalDayTime | Kind::IntervalYearMonth | Kind::Multiset(_) => {
            return Err(format!("type {} cannot be written as JSON", ty.to_sql()));
        }
    };
    Ok(())
}

fn prim<T: datafusion::arrow::datatypes::ArrowPrimitiveType>(
    array: &dyn Array,
) -> Option<&datafusion::arrow::array::PrimitiveArray<T>> {
    array.as_primitive_opt::<T>()
}

/// A TIME value as its integer units, whatever the Arrow time unit.
pub(super) fn time_value(array: &dyn Array, i: usize) -> Option<i64> {
    use datafusion::arrow::datatypes::{
        Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    };
    prim::<Time32SecondType>(array)
        .map(|a| i64::from(a.value(i)))
        .or_else(|| prim::<Time32MillisecondType>(array).map(|a| i64::from(a.value(i))))
        .or_else(|| prim::<Time64MicrosecondType>(array).map(|a| a.value(i)))
        .or_else(|| prim::<Time64NanosecondType>(array).map(|a| a.value(i)))
}

/// A TIMESTAMP value as its integer units, whatever the Arrow time unit.
pub(super) fn timestamp_value(array: &dyn Array, i: usize) -> Option<i64> {
    use datafusion::arrow::datatypes::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    };
    prim::<TimestampSecondType>(array)
        .map(|a| a.value(i))
        .or_else(|| prim::<TimestampMillisecondType>(array).map(|a| a.value(i)))
        .or_else(|| prim::<TimestampMicrosecondType>(array).map(|a| a.value(i)))
        .or_else(|| prim::<TimestampNanosecondType>(array).map(|a| a.value(i)))
}

/// A finite float as its shortest round-trip digits; NaN and infinities as strings.
fn write_float(out: &mut Vec<u8>, v: f64, shortest: &str) {
    if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
    } else {
        out.extend_from_slice(shortest.as_bytes());
    }
}

/// Writes a JSON string literal.
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                let _ = write!(out, "\\u{c:04x}");
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}
