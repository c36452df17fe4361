//! Encoding of Arrow values into the statements API's row format (§5.2): every scalar a JSON
//! string, NULL a JSON `null` at any depth, arrays and rows JSON arrays, maps `[[k, v], …]`.
//!
//! Owns the exact wire spelling of every type (Java-style doubles, `x'..'` binaries, UTC
//! timestamps). It does not decide the reported types (that is `types`).

use chrono::{DateTime, NaiveDate, NaiveTime};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    IntervalDayTimeType, IntervalMonthDayNanoType, IntervalUnit, IntervalYearMonthType,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use serde_json::Value;

use super::{EngineError, ResultRow};

const NANOS_PER_SEC: i128 = 1_000_000_000;
const NANOS_PER_DAY: i128 = 86_400 * NANOS_PER_SEC;
/// A month inside a month-day-nano interval counts as 30 days when it has to be shown as
/// `INTERVAL DAY TO SECOND` (Flink has no mixed interval type).
const DAYS_PER_MONTH: i128 = 30;

/// Encodes every row of a batch (op 0, append-only).
pub(crate) fn encode_batch(batch: &RecordBatch) -> Result<Vec<ResultRow>, EngineError> {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Dictionary(_, v) => {
                cast(c, v).map_err(|e| EngineError::Execution(e.to_string()))
            }
            _ => Ok(c.clone()),
        })
        .collect::<Result<_, _>>()?;
    (0..batch.num_rows())
        .map(|i| {
            let row = columns
                .iter()
                .map(|c| encode_value(c.as_ref(), i))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ResultRow { op: 0, row })
        })
        .collect()
}

fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

/// Encodes the value at `i` of `array`.
pub(crate) fn encode_value(array: &dyn Array, i: usize) -> Result<Value, EngineError> {
    if array.is_null(i) {
        return Ok(Value::Null);
    }
    let v = match array.data_type() {
        DataType::Null => Value::Null,
        DataType::Boolean => s(if array.as_boolean().value(i) {
            "TRUE"
        } else {
            "FALSE"
        }),
        DataType::Int8 => s(array.as_primitive::<Int8Type>().value(i).to_string()),
        DataType::Int16 => s(array.as_primitive::<Int16Type>().value(i).to_string()),
        DataType::Int32 => s(array.as_primitive::<Int32Type>().value(i).to_string()),
        DataType::Int64 => s(array.as_primitive::<Int64Type>().value(i).to_string()),
        DataType::UInt8 => s(array.as_primitive::<UInt8Type>().value(i).to_string()),
        DataType::UInt16 => s(array.as_primitive::<UInt16Type>().value(i).to_string()),
        DataType::UInt32 => s(array.as_primitive::<UInt32Type>().value(i).to_string()),
        DataType::UInt64 => s(array.as_primitive::<UInt64Type>().value(i).to_string()),
        DataType::Float16 => s(java_float(
            array.as_primitive::<Float16Type>().value(i).to_f32(),
        )),
        DataType::Float32 => s(java_float(array.as_primitive::<Float32Type>().value(i))),
        DataType::Float64 => s(java_double(array.as_primitive::<Float64Type>().value(i))),
        DataType::Decimal32(..) => s(array.as_primitive::<Decimal32Type>().value_as_string(i)),
        DataType::Decimal64(..) => s(array.as_primitive::<Decimal64Type>().value_as_string(i)),
        DataType::Decimal128(..) => s(array.as_primitive::<Decimal128Type>().value_as_string(i)),
        DataType::Decimal256(..) => s(array.as_primitive::<Decimal256Type>().value_as_string(i)),
        DataType::Utf8 => s(array.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => s(array.as_string::<i64>().value(i)),
        DataType::Utf8View => s(array.as_string_view().value(i)),
        DataType::Binary => s(binary(array.as_binary::<i32>().value(i))),
        DataType::LargeBinary => s(binary(array.as_binary::<i64>().value(i))),
        DataType::BinaryView => s(binary(array.as_binary_view().value(i))),
        DataType::FixedSizeBinary(_) => s(binary(array.as_fixed_size_binary().value(i))),
        DataType::Date32 => s(date(i64::from(
            array.as_primitive::<Date32Type>().value(i),
        ))?),
        DataType::Date64 => s(date(
            array
                .as_primitive::<Date64Type>()
                .value(i)
                .div_euclid(86_400_000),
        )?),
        DataType::Time32(TimeUnit::Second) => s(time(
            i64::from(array.as_primitive::<Time32SecondType>().value(i)),
            &TimeUnit::Second,
        )?),
        DataType::Time32(u) => s(time(
            i64::from(array.as_primitive::<Time32MillisecondType>().value(i)),
            u,
        )?),
        DataType::Time64(TimeUnit::Microsecond) => s(time(
            array.as_primitive::<Time64MicrosecondType>().value(i),
            &TimeUnit::Microsecond,
        )?),
        DataType::Time64(u) => s(time(
            array.as_primitive::<Time64NanosecondType>().value(i),
            u,
        )?),
        DataType::Timestamp(u, _) => {
            let v = match u {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(i),
                TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(i),
                TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(i),
            };
            // Zoned (LTZ) values are UTC instants; they are shown as UTC wall-clock time.
            s(timestamp(v, u)?)
        }
        DataType::Interval(IntervalUnit::YearMonth) => s(year_month(i64::from(
            array.as_primitive::<IntervalYearMonthType>().value(i),
        ))),
        DataType::Interval(IntervalUnit::DayTime) => {
            let v = array.as_primitive::<IntervalDayTimeType>().value(i);
            s(day_time(
                i128::from(v.days) * NANOS_PER_DAY + i128::from(v.milliseconds) * 1_000_000,
            ))
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            let v = array.as_primitive::<IntervalMonthDayNanoType>().value(i);
            s(day_time(
                (i128::from(v.months) * DAYS_PER_MONTH + i128::from(v.days)) * NANOS_PER_DAY
                    + i128::from(v.nanoseconds),
            ))
        }
        DataType::Duration(u) => {
            let (v, scale) = match u {
                TimeUnit::Second => (
                    array.as_primitive::<DurationSecondType>().value(i),
                    NANOS_PER_SEC,
                ),
                TimeUnit::Millisecond => (
                    array.as_primitive::<DurationMillisecondType>().value(i),
                    1_000_000,
                ),
                TimeUnit::Microsecond => (
                    array.as_primitive::<DurationMicrosecondType>().value(i),
                    1_000,
                ),
                TimeUnit::Nanosecond => {
                    (array.as_primitive::<DurationNanosecondType>().value(i), 1)
                }
            };
            s(day_time(i128::from(v) * scale))
        }
        DataType::List(_) => list(array.as_list::<i32>().value(i).as_ref())?,
        DataType::LargeList(_) => list(array.as_list::<i64>().value(i).as_ref())?,
        DataType::FixedSizeList(..) => list(array.as_fixed_size_list().value(i).as_ref())?,
        DataType::Struct(_) => {
            let st = array.as_struct();
            Value::Array(
                st.columns()
                    .iter()
                    .map(|c| encode_value(c.as_ref(), i))
                    .collect::<Result<_, _>>()?,
            )
        }
        DataType::Map(..) => {
            let entries = array.as_map().value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            Value::Array(
                (0..entries.len())
                    .map(|j| {
                        Ok(Value::Array(vec![
                            encode_value(keys.as_ref(), j)?,
                            encode_value(values.as_ref(), j)?,
                        ]))
                    })
                    .collect::<Result<_, EngineError>>()?,
            )
        }
        DataType::Dictionary(_, v) => {
            let plain =
                cast(&array.slice(i, 1), v).map_err(|e| EngineError::Execution(e.to_string()))?;
            encode_value(plain.as_ref(), 0)?
        }
        other => {
            return Err(EngineError::Unsupported(format!(
                "values of type {other} cannot be encoded in a result"
            )));
        }
    };
    Ok(v)
}

fn list(values: &dyn Array) -> Result<Value, EngineError> {
    Ok(Value::Array(
        (0..values.len())
            .map(|j| encode_value(values, j))
            .collect::<Result<_, _>>()?,
    ))
}

fn out_of_range(what: &str, v: impl std::fmt::Display) -> EngineError {
    EngineError::Execution(format!("{what} value {v} is out of the supported range"))
}

/// `x'7f0203'`, lower-case hex.
pub(crate) fn binary(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2 + 3);
    out.push_str("x'");
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out.push('\'');
    out
}

fn date(days: i64) -> Result<String, EngineError> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).ok_or_else(|| out_of_range("DATE", days))?;
    let d = epoch
        .checked_add_signed(
            chrono::Duration::try_days(days).ok_or_else(|| out_of_range("DATE", days))?,
        )
        .ok_or_else(|| out_of_range("DATE", days))?;
    Ok(d.format("%Y-%m-%d").to_string())
}

/// Fraction digits shown for a unit: 0, 3 or 6 (the contract allows no others).
fn fraction(nanos: u32, unit: &TimeUnit) -> String {
    match unit {
        TimeUnit::Second => String::new(),
        TimeUnit::Millisecond => format!(".{:03}", nanos / 1_000_000),
        TimeUnit::Microsecond | TimeUnit::Nanosecond => format!(".{:06}", nanos / 1_000),
    }
}

fn split(v: i64, unit: &TimeUnit) -> (i64, u32) {
    let per_sec = match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    let secs = v.div_euclid(per_sec);
    let sub = v.rem_euclid(per_sec) * (1_000_000_000 / per_sec);
    (secs, sub as u32)
}

fn time(v: i64, unit: &TimeUnit) -> Result<String, EngineError> {
    let (secs, nanos) = split(v, unit);
    let t = u32::try_from(secs)
        .ok()
        .and_then(|s| NaiveTime::from_num_seconds_from_midnight_opt(s, 0))
        .ok_or_else(|| out_of_range("TIME", v))?;
    Ok(format!("{}{}", t.format("%H:%M:%S"), fraction(nanos, unit)))
}

fn timestamp(v: i64, unit: &TimeUnit) -> Result<String, EngineError> {
    let (secs, nanos) = split(v, unit);
    let dt = DateTime::from_timestamp(secs, 0).ok_or_else(|| out_of_range("TIMESTAMP", v))?;
    Ok(format!(
        "{}{}",
        dt.naive_utc().format("%Y-%m-%d %H:%M:%S"),
        fraction(nanos, unit)
    ))
}

/// `+1-06` / `-0-03` (the statements API's spelling, also the Flink engine's).
pub(crate) fn year_month(months: i64) -> String {
    let sign = if months < 0 { '-' } else { '+' };
    let m = months.unsigned_abs();
    format!("{sign}{}-{:02}", m / 12, m % 12)
}

/// `+1 02:03:04.567`: 3 fraction digits, 6 when there is a sub-millisecond part (the
/// statements API's spelling, also the Flink engine's).
pub(crate) fn day_time(total_nanos: i128) -> String {
    let sign = if total_nanos < 0 { '-' } else { '+' };
    let n = total_nanos.unsigned_abs();
    let day = NANOS_PER_DAY as u128;
    let (days, rest) = (n / day, n % day);
    let (secs, sub) = (rest / 1_000_000_000, rest % 1_000_000_000);
    let frac = if sub % 1_000_000 == 0 {
        format!("{:03}", sub / 1_000_000)
    } else {
        format!("{:06}", sub / 1_000)
    };
    format!(
        "{sign}{days} {:02}:{:02}:{:02}.{frac}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Java's `Double.toString`: plain between 1e-3 and 1e7, else `1.0E10`; always a fraction.
pub(crate) fn java_double(v: f64) -> String {
    java_style(
        v.is_nan(),
        v.is_infinite(),
        v.is_sign_negative(),
        v.abs(),
        format!("{v}"),
        format!("{v:e}"),
        v == 0.0,
    )
}

/// Java's `Float.toString` (shortest digits of the `f32`).
pub(crate) fn java_float(v: f32) -> String {
    java_style(
        v.is_nan(),
        v.is_infinite(),
        v.is_sign_negative(),
        f64::from(v.abs()),
        format!("{v}"),
        format!("{v:e}"),
        v == 0.0,
    )
}

fn java_style(
    nan: bool,
    inf: bool,
    neg: bool,
    abs: f64,
    plain: String,
    sci: String,
    zero: bool,
) -> String {
    if nan {
        return "NaN".into();
    }
    if inf {
        return if neg { "-Infinity" } else { "Infinity" }.into();
    }
    if zero {
        return if neg { "-0.0" } else { "0.0" }.into();
    }
    if (1e-3..1e7).contains(&abs) {
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        if mantissa.contains('.') {
            format!("{mantissa}E{exp}")
        } else {
            format!("{mantissa}.0E{exp}")
        }
    }
}
