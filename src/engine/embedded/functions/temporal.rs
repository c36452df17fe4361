//! Flink's temporal functions the embedded engine lacks or DataFusion spells differently:
//! `DATE_FORMAT` (Java patterns, where DataFusion's would print the pattern back),
//! `TIMESTAMPDIFF`, `TIMESTAMPADD`, `FROM_UNIXTIME` (a string, as Flink), `UNIX_TIMESTAMP`,
//! `TO_TIMESTAMP_LTZ`. UTC throughout (see the parent module).

use std::sync::Arc;

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, TimeDelta, Timelike};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use datafusion::common::Result as DfResult;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::{arrays, int_at, result, str_at};

pub(super) fn register(ctx: &SessionContext) {
    for f in [
        Temporal::new("date_format", 2, 2, Volatility::Immutable),
        Temporal::new("timestampdiff", 3, 3, Volatility::Immutable),
        Temporal::new("timestampadd", 3, 3, Volatility::Immutable),
        Temporal::new("from_unixtime", 1, 2, Volatility::Immutable),
        Temporal::new("unix_timestamp", 0, 2, Volatility::Volatile),
        Temporal::new("to_timestamp_ltz", 1, 2, Volatility::Immutable),
    ] {
        ctx.register_udf(ScalarUDF::from(f));
    }
}

/// One of the functions of this module, by name.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Temporal {
    name: &'static str,
    signature: Signature,
}

impl Temporal {
    fn new(name: &'static str, min: usize, max: usize, volatility: Volatility) -> Self {
        let sigs = (min..=max)
            .map(|n| {
                if n == 0 {
                    datafusion::logical_expr::TypeSignature::Nullary
                } else {
                    datafusion::logical_expr::TypeSignature::Any(n)
                }
            })
            .collect();
        Self {
            name,
            signature: Signature::one_of(sigs, volatility),
        }
    }
}

impl ScalarUDFImpl for Temporal {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        Ok(match self.name {
            "date_format" | "from_unixtime" => DataType::Utf8,
            "timestampdiff" => DataType::Int32,
            "unix_timestamp" => DataType::Int64,
            "to_timestamp_ltz" => DataType::Timestamp(
                TimeUnit::Millisecond,
                Some(crate::sql::types::LTZ_ZONE.into()),
            ),
            "timestampadd" => match args.get(2) {
                Some(t @ DataType::Timestamp(..)) => t.clone(),
                Some(DataType::Date32) => DataType::Date32,
                other => {
                    return Err(DataFusionError::Plan(format!(
                        "TIMESTAMPADD needs a TIMESTAMP or DATE, not {}",
                        flink_type_name(other)
                    )));
                }
            },
            _ => DataType::Null,
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        if self.name == "unix_timestamp" && args.args.is_empty() {
            let now = chrono::Utc::now().timestamp();
            return Ok(ColumnarValue::Scalar(
                datafusion::common::ScalarValue::Int64(Some(now)),
            ));
        }
        let (a, scalar) = arrays(&args)?;
        let rows = a[0].len();
        let out: ArrayRef = match self.name {
            "date_format" => {
                let mut b = StringBuilder::new();
                for i in 0..rows {
                    match (datetime_at(&a[0], i)?, str_at(&a[1], i)) {
                        (Some(t), Some(p)) => b.append_value(format_java(&t, p)?),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            "from_unixtime" => {
                let mut b = StringBuilder::new();
                for i in 0..rows {
                    let secs = int_at(&a[0], i);
                    let pattern = match a.get(1) {
                        Some(p) => str_at(p, i),
                        None => Some("yyyy-MM-dd HH:mm:ss"),
                    };
                    match (secs.and_then(|s| DateTime::from_timestamp(s, 0)), pattern) {
                        (Some(t), Some(p)) => b.append_value(format_java(&t.naive_utc(), p)?),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            "unix_timestamp" => {
                let mut b = Int64Builder::new();
                for i in 0..rows {
                    let pattern = match a.get(1) {
                        Some(p) => str_at(p, i),
                        None => Some("yyyy-MM-dd HH:mm:ss"),
                    };
                    match (str_at(&a[0], i), pattern) {
                        (Some(s), Some(p)) => {
                            let fmt = chrono_pattern(p)?;
                            b.append_value(
                                NaiveDateTime::parse_from_str(s, &fmt)
                                    .ok()
                                    .or_else(|| {
                                        NaiveDate::parse_from_str(s, &fmt)
                                            .ok()
                                            .and_then(|d| d.and_hms_opt(0, 0, 0))
                                    })
                                    .map(|t| t.and_utc().timestamp())
                                    // Flink's documented value for a string it cannot parse.
                                    .unwrap_or(i64::MIN),
                            )
                        }
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            "to_timestamp_ltz" => {
                let mut v = Vec::with_capacity(rows);
                for i in 0..rows {
                    let precision = match a.get(1) {
                        Some(p) => int_at(p, i),
                        None => Some(3),
                    };
                    v.push(match (int_at(&a[0], i), precision) {
                        (Some(n), Some(0)) => Some(n.saturating_mul(1000)),
                        (Some(n), Some(3)) => Some(n),
                        (Some(_), Some(p)) => {
                            return Err(DataFusionError::Plan(format!(
                                "TO_TIMESTAMP_LTZ takes precision 0 or 3, not {p}"
                            )));
                        }
                        _ => None,
                    });
                }
                Arc::new(
                    TimestampMillisecondArray::from(v).with_timezone(crate::sql::types::LTZ_ZONE),
                )
            }
            "timestampdiff" => {
                let mut b = Int32Builder::new();
                for i in 0..rows {
                    match (
                        str_at(&a[0], i),
                        datetime_at(&a[1], i)?,
                        datetime_at(&a[2], i)?,
                    ) {
                        (Some(u), Some(t1), Some(t2)) => b.append_value(diff(u, t1, t2)?),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            "timestampadd" => add(&a, rows)?,
            other => {
                return Err(DataFusionError::Internal(format!("no function {other}")));
            }
        };
        result(out, scalar)
    }
}

fn flink_type_name(t: Option<&DataType>) -> String {
    t.and_then(|t| crate::sql::FlinkType::from_arrow(t, true).ok())
        .map_or_else(|| "this type".into(), |t| t.to_sql())
}

/// A TIMESTAMP (any precision; a zoned one as its UTC wall time), DATE or timestamp string.
fn datetime_at(array: &ArrayRef, i: usize) -> DfResult<Option<NaiveDateTime>> {
    if array.is_null(i) {
        return Ok(None);
    }
    let from_units = |v: i64, per_sec: i64| {
        DateTime::from_timestamp(
            v.div_euclid(per_sec),
            (v.rem_euclid(per_sec) * (1_000_000_000 / per_sec)) as u32,
        )
        .map(|t| t.naive_utc())
    };
    Ok(match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            from_units(array.as_primitive::<TimestampSecondType>().value(i), 1)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => from_units(
            array.as_primitive::<TimestampMillisecondType>().value(i),
            1_000,
        ),
        DataType::Timestamp(TimeUnit::Microsecond, _) => from_units(
            array.as_primitive::<TimestampMicrosecondType>().value(i),
            1_000_000,
        ),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => from_units(
            array.as_primitive::<TimestampNanosecondType>().value(i),
            1_000_000_000,
        ),
        DataType::Date32 => NaiveDate::from_num_days_from_ce_opt(
            array.as_primitive::<Date32Type>().value(i) + 719_163,
        )
        .and_then(|d| d.and_hms_opt(0, 0, 0)),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let s = str_at(array, i).unwrap_or_default().trim();
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
                .ok()
                .or_else(|| {
                    NaiveDate::parse_from_str(s, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                })
        }
        other => {
            return Err(DataFusionError::Plan(format!(
                "a time function was given {}, not a TIMESTAMP, DATE or STRING",
                flink_type_name(Some(other))
            )));
        }
    })
}

/// A Java `DateTimeFormatter`/`SimpleDateFormat` pattern as a chrono format string, for the
/// letters Flink's users write; another letter is refused by name.
pub(crate) fn chrono_pattern(java: &str) -> DfResult<String> {
    let chars: Vec<char> = java.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal text; '' is a quote.
            i += 1;
            if chars.get(i) == Some(&'\'') {
                out.push('\'');
                i += 1;
                continue;
            }
            while i < chars.len() && chars[i] != '\'' {
                push_literal(&mut out, chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            push_literal(&mut out, c);
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        let spec = match (c, n) {
            ('y' | 'u', 2) => "%y",
            ('y' | 'u', _) => "%Y",
            ('M', 1) => "%-m",
            ('M', 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', 1) => "%-d",
            ('d', _) => "%d",
            ('D', _) => "%j",
            ('H', 1) => "%-H",
            ('H', _) => "%H",
            ('h', 1) => "%-I",
            ('h', _) => "%I",
            ('m', 1) => "%-M",
            ('m', _) => "%M",
            ('s', 1) => "%-S",
            ('s', _) => "%S",
            ('S', 3) => "%3f",
            ('S', 6) => "%6f",
            ('S', 9) => "%9f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('Z', _) => "%z",
            ('X', 1 | 2) => "%z",
            ('X', _) => "%:z",
            _ => {
                return Err(DataFusionError::Plan(format!(
                    "the embedded engine does not support the date pattern letter `{}` (in `{java}`)",
                    c.to_string().repeat(n)
                )));
            }
        };
        out.push_str(spec);
        i += n;
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

fn format_java(t: &NaiveDateTime, pattern: &str) -> DfResult<String> {
    let fmt = chrono_pattern(pattern)?;
    let mut s = String::new();
    use std::fmt::Write;
    write!(s, "{}", t.format(&fmt))
        .map_err(|_| DataFusionError::Execution(format!("cannot format with `{pattern}`")))?;
    Ok(s)
}

fn unit_of(u: &str) -> DfResult<&'static str> {
    let u = u.trim().to_ascii_uppercase();
    Ok(match u.trim_start_matches("SQL_TSI_") {
        "SECOND" => "SECOND",
        "MINUTE" => "MINUTE",
        "HOUR" => "HOUR",
        "DAY" => "DAY",
        "WEEK" => "WEEK",
        "MONTH" => "MONTH",
        "QUARTER" => "QUARTER",
        "YEAR" => "YEAR",
        _ => {
            return Err(DataFusionError::Plan(format!(
                "unknown time unit `{u}` (SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER, YEAR)"
            )));
        }
    })
}

/// Whole months from `t1` to `t2`, as Calcite counts them (a month is complete once the day
/// and time of month are reached again).
fn months_between(t1: NaiveDateTime, t2: NaiveDateTime) -> i64 {
    let months =
        i64::from(t2.year() - t1.year()) * 12 + i64::from(t2.month()) - i64::from(t1.month());
    let key = |t: NaiveDateTime| (t.day(), t.num_seconds_from_midnight(), t.nanosecond());
    if months > 0 && key(t2) < key(t1) {
        months - 1
    } else if months < 0 && key(t2) > key(t1) {
        months + 1
    } else {
        months
    }
}

/// `TIMESTAMPDIFF(unit, t1, t2)`: whole units from `t1` to `t2`, truncated toward zero.
fn diff(unit: &str, t1: NaiveDateTime, t2: NaiveDateTime) -> DfResult<i32> {
    let d = t2 - t1;
    let n = match unit_of(unit)? {
        "SECOND" => d.num_seconds(),
        "MINUTE" => d.num_minutes(),
        "HOUR" => d.num_hours(),
        "DAY" => d.num_days(),
        "WEEK" => d.num_weeks(),
        "MONTH" => months_between(t1, t2),
        "QUARTER" => months_between(t1, t2) / 3,
        _ => months_between(t1, t2) / 12,
    };
    i32::try_from(n)
        .map_err(|_| DataFusionError::Execution(format!("TIMESTAMPDIFF result {n} overflows INT")))
}

/// `TIMESTAMPADD(unit, n, t)`, of the type of `t`.
fn add(a: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let target = a[2].data_type().clone();
    let mut out: Vec<Option<NaiveDateTime>> = Vec::with_capacity(rows);
    for i in 0..rows {
        let (Some(u), Some(n), Some(t)) =
            (str_at(&a[0], i), int_at(&a[1], i), datetime_at(&a[2], i)?)
        else {
            out.push(None);
            continue;
        };
        let overflow = || DataFusionError::Execution("TIMESTAMPADD overflows".into());
        let months = |m: i64| -> DfResult<NaiveDateTime> {
            let m32 = u32::try_from(m.unsigned_abs()).map_err(|_| overflow())?;
            if m >= 0 {
                t.checked_add_months(Months::new(m32))
            } else {
                t.checked_sub_months(Months::new(m32))
            }
            .ok_or_else(overflow)
        };
        let secs = |s: i64| -> DfResult<NaiveDateTime> {
            TimeDelta::try_seconds(s)
                .and_then(|d| t.checked_add_signed(d))
                .ok_or_else(overflow)
        };
        out.push(Some(match unit_of(u)? {
            "SECOND" => secs(n)?,
            "MINUTE" => secs(n.saturating_mul(60))?,
            "HOUR" => secs(n.saturating_mul(3600))?,
            "DAY" => secs(n.saturating_mul(86_400))?,
            "WEEK" => secs(n.saturating_mul(604_800))?,
            "MONTH" => months(n)?,
            "QUARTER" => months(n.saturating_mul(3))?,
            _ => months(n.saturating_mul(12))?,
        }));
    }
    // Back to `t`'s own type.
    let nanos: Vec<Option<i64>> = out
        .iter()
        .map(|t| t.and_then(|t| t.and_utc().timestamp_nanos_opt()))
        .collect();
    let array: ArrayRef = Arc::new(datafusion::arrow::array::TimestampNanosecondArray::from(
        nanos,
    ));
    Ok(datafusion::arrow::compute::cast(&array, &target)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn java_patterns_map_to_chrono() {
        let ts = t("2024-01-02 03:04:05");
        assert_eq!(
            format_java(&ts, "yyyy-MM-dd HH:mm:ss").unwrap(),
            "2024-01-02 03:04:05"
        );
        assert_eq!(format_java(&ts, "yyyyMMdd'T'HH").unwrap(), "20240102T03");
        assert_eq!(format_java(&ts, "d/M/yy 100%").unwrap(), "2/1/24 100%");
        assert!(chrono_pattern("yyyy-ww").is_err());
    }

    #[test]
    fn timestampdiff_counts_whole_units() {
        let (a, b) = (t("2024-01-31 10:00:00"), t("2024-02-29 09:59:59"));
        assert_eq!(diff("DAY", a, b).unwrap(), 28);
        assert_eq!(diff("MONTH", a, b).unwrap(), 0);
        assert_eq!(diff("MONTH", a, t("2024-03-31 10:00:00")).unwrap(), 2);
        assert_eq!(diff("HOUR", b, a).unwrap(), -695);
        assert_eq!(
            diff("YEAR", t("2020-02-29 00:00:00"), t("2024-02-28 00:00:00")).unwrap(),
            3
        );
        assert!(diff("FORTNIGHT", a, b).is_err());
    }
}
