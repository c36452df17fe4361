//! Flink's result shapes in the gateway's terms: a column's `logicalType` JSON as a
//! [`FlinkType`], a row's `kind` as the changelog op, and each value in the row encoding the
//! embedded engine uses (§5.2: every scalar a string, NULL `null`, arrays and rows arrays,
//! maps `[[k, v], …]`, timestamps `YYYY-MM-DD HH:MM:SS.fff`, binaries `x'…'`).
//!
//! TIMESTAMP_LTZ values are shown as their UTC wall-clock time, whatever the statement's
//! `sql.local-time-zone` (which applies to computation): that is the statements API's row
//! encoding (`contracts/statements-api.md`, and the `confluent-sql` driver tags these values
//! UTC). Flink writes them as UTC instants with a `Z`.
//!
//! DECIMALs are exact: Flink writes them as JSON numbers with trailing zeros stripped and
//! sometimes in exponent form (`1E+2`), so the number's text is re-scaled to the column's
//! scale digit by digit, never through a float.

use base64::Engine as _;
use serde_json::Value;

use super::json::Json;
use crate::engine::ResultRow;
use crate::engine::embedded::{day_time, year_month};
use crate::sql::FlinkType;
use crate::sql::types::{Kind, MAX_LENGTH};

/// The changelog op of a row kind: `INSERT` 0 (+I), `UPDATE_BEFORE` 1 (-U), `UPDATE_AFTER`
/// 2 (+U), `DELETE` 3 (-D).
pub(crate) fn op_of(kind: &str) -> Option<u8> {
    match kind {
        "INSERT" => Some(0),
        "UPDATE_BEFORE" => Some(1),
        "UPDATE_AFTER" => Some(2),
        "DELETE" => Some(3),
        _ => None,
    }
}

fn num(t: &Json, key: &str) -> Option<u64> {
    match t.get(key)? {
        Json::Number(n) => n.parse().ok(),
        _ => None,
    }
}

/// The gateway's type of a Flink `logicalType` object.
pub(crate) fn type_of(t: &Json) -> Result<FlinkType, String> {
    let name = t
        .get("type")
        .and_then(Json::as_str)
        .ok_or("a column type without a name")?;
    let nullable = !matches!(t.get("nullable"), Some(Json::Bool(false)));
    let precision = |default: u64| num(t, "precision").unwrap_or(default).min(9) as u8;
    let length = |default: u64| {
        num(t, "length")
            .unwrap_or(default)
            .min(u64::from(MAX_LENGTH)) as u32
    };
    let nested = |key: &str| -> Result<Box<FlinkType>, String> {
        Ok(Box::new(type_of(
            t.get(key).ok_or_else(|| format!("{name} without {key}"))?,
        )?))
    };
    let kind = match name {
        "NULL" => Kind::Null,
        "BOOLEAN" => Kind::Boolean,
        "TINYINT" => Kind::TinyInt,
        "SMALLINT" => Kind::SmallInt,
        "INTEGER" => Kind::Integer,
        "BIGINT" => Kind::BigInt,
        "FLOAT" => Kind::Float,
        "DOUBLE" => Kind::Double,
        "DECIMAL" => Kind::Decimal {
            precision: num(t, "precision").unwrap_or(10).min(38) as u8,
            scale: num(t, "scale").unwrap_or(0).min(38) as i8,
        },
        "CHAR" => Kind::Char(length(1)),
        "VARCHAR" => Kind::Varchar(length(u64::from(MAX_LENGTH))),
        "BINARY" => Kind::Binary(length(1)),
        "VARBINARY" => Kind::Varbinary(length(u64::from(MAX_LENGTH))),
        "DATE" => Kind::Date,
        "TIME_WITHOUT_TIME_ZONE" => Kind::Time(precision(0)),
        "TIMESTAMP_WITHOUT_TIME_ZONE" => Kind::Timestamp(precision(6)),
        "TIMESTAMP_WITH_LOCAL_TIME_ZONE" => Kind::TimestampLtz(precision(6)),
        "INTERVAL_DAY_TIME" => Kind::IntervalDayTime,
        "INTERVAL_YEAR_MONTH" => Kind::IntervalYearMonth,
        "ARRAY" | "MULTISET" => Kind::Array(nested("elementType")?),
        "MAP" => Kind::Map(nested("keyType")?, nested("valueType")?),
        "ROW" | "STRUCTURED_TYPE" => {
            let fields = t
                .get("fields")
                .and_then(Json::as_array)
                .ok_or("ROW without fields")?;
            Kind::Row(
                fields
                    .iter()
                    .map(|f| {
                        let n = f
                            .get("name")
                            .and_then(Json::as_str)
                            .unwrap_or("")
                            .to_string();
                        let ft = f.get("fieldType").ok_or("ROW field without fieldType")?;
                        Ok((n, type_of(ft)?))
                    })
                    .collect::<Result<_, String>>()?,
            )
        }
        // Anything else (RAW, SYMBOL, TIMESTAMP_WITH_TIME_ZONE…) is shown as its text.
        _ => Kind::Varchar(MAX_LENGTH),
    };
    Ok(FlinkType::new(kind, nullable))
}

/// How a statement's rows are encoded: its column types.
#[derive(Debug, Clone)]
pub(crate) struct Decoder {
    /// The result's column types, in order.
    pub(crate) types: Vec<FlinkType>,
}

impl Decoder {
    /// Encodes one row of a result page (`{"kind": …, "fields": […]}`).
    pub(crate) fn row(&self, row: &Json) -> Result<ResultRow, String> {
        row_of(row, &self.types)
    }
}

/// Encodes one row of a result page (`{"kind": …, "fields": […]}`) against the columns.
fn row_of(row: &Json, types: &[FlinkType]) -> Result<ResultRow, String> {
    let kind = row
        .get("kind")
        .and_then(Json::as_str)
        .ok_or("a row without kind")?;
    let op = op_of(kind).ok_or_else(|| format!("unknown row kind {kind}"))?;
    let fields = row
        .get("fields")
        .and_then(Json::as_array)
        .ok_or("a row without fields")?;
    if fields.len() != types.len() {
        return Err(format!(
            "a row with {} fields for {} columns",
            fields.len(),
            types.len()
        ));
    }
    let row = fields
        .iter()
        .zip(types)
        .map(|(v, t)| value_of(v, t))
        .collect::<Result<_, _>>()?;
    Ok(ResultRow { op, row })
}

fn text(s: impl Into<String>) -> Value {
    Value::String(s.into())
}

/// Encodes one value of type `t`.
fn value_of(v: &Json, t: &FlinkType) -> Result<Value, String> {
    if *v == Json::Null {
        return Ok(Value::Null);
    }
    let bad = || format!("a {} value Flink sent cannot be read: {v:?}", t.type_name());
    Ok(match (t.kind(), v) {
        (Kind::Boolean, Json::Bool(b)) => text(if *b { "TRUE" } else { "FALSE" }),
        (Kind::Decimal { scale, .. }, Json::Number(n) | Json::Str(n)) => {
            text(rescale(n, (*scale).max(0) as usize).ok_or_else(bad)?)
        }
        (Kind::Binary(_) | Kind::Varbinary(_), Json::Str(s)) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|_| bad())?;
            let mut out = String::from("x'");
            for b in bytes {
                out.push_str(&format!("{b:02x}"));
            }
            out.push('\'');
            text(out)
        }
        (Kind::Time(p), Json::Str(s)) => text(with_fraction(s, *p)),
        (Kind::Timestamp(p), Json::Str(s)) => text(with_fraction(&s.replacen('T', " ", 1), *p)),
        (Kind::TimestampLtz(p), Json::Str(s)) => text(with_fraction(&utc_wall_clock(s)?, *p)),
        (Kind::IntervalDayTime, Json::Number(n)) => {
            text(day_time(n.parse::<i128>().map_err(|_| bad())? * 1_000_000))
        }
        (Kind::IntervalYearMonth, Json::Number(n)) => {
            text(year_month(n.parse::<i64>().map_err(|_| bad())?))
        }
        (Kind::Array(e), Json::Array(items)) => Value::Array(
            items
                .iter()
                .map(|i| value_of(i, e))
                .collect::<Result<_, _>>()?,
        ),
        (Kind::Map(k, val), Json::Object(entries)) => Value::Array(
            entries
                .iter()
                .map(|(key, item)| {
                    Ok(Value::Array(vec![
                        value_of(&Json::Str(key.clone()), k)?,
                        value_of(item, val)?,
                    ]))
                })
                .collect::<Result<_, String>>()?,
        ),
        (Kind::Row(fields), Json::Object(members)) => Value::Array(
            fields
                .iter()
                .enumerate()
                .map(|(i, (name, ft))| {
                    let m = members
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v)
                        .or_else(|| members.get(i).map(|(_, v)| v))
                        .unwrap_or(&Json::Null);
                    value_of(m, ft)
                })
                .collect::<Result<_, _>>()?,
        ),
        (Kind::Row(fields), Json::Array(items)) => Value::Array(
            fields
                .iter()
                .zip(items)
                .map(|((_, ft), v)| value_of(v, ft))
                .collect::<Result<_, _>>()?,
        ),
        (_, Json::Str(s)) => text(s.clone()),
        (_, Json::Number(n)) => text(n.clone()),
        (_, Json::Bool(b)) => text(if *b { "TRUE" } else { "FALSE" }),
        _ => return Err(bad()),
    })
}

/// `1970-01-01T00:00:00[.fff…]Z` (a UTC instant) as `1970-01-01 00:00:00[.fff…]`; a value
/// without the `Z` is refused (it would not be an instant).
fn utc_wall_clock(s: &str) -> Result<String, String> {
    let utc = s
        .strip_suffix('Z')
        .ok_or_else(|| format!("a TIMESTAMP_LTZ value Flink sent cannot be read: {s:?}"))?;
    Ok(utc.replacen('T', " ", 1))
}

/// Pads or cuts the fraction of `HH:MM:SS[.f…]` (also inside a timestamp) to the digits the
/// row encoding shows for precision `p`: none for 0, 3 up to 3, else 6.
fn with_fraction(s: &str, p: u8) -> String {
    let digits = match p {
        0 => 0,
        1..=3 => 3,
        _ => 6,
    };
    let (whole, frac) = match s.rsplit_once('.') {
        Some((w, f)) if f.chars().all(|c| c.is_ascii_digit()) => (w, f),
        _ => (s, ""),
    };
    if digits == 0 {
        return whole.to_string();
    }
    let mut f: String = frac.chars().take(digits).collect();
    while f.len() < digits {
        f.push('0');
    }
    format!("{whole}.{f}")
}

/// The decimal number `n` (`-12.5`, `1E+2`, `1.5e-3`) with exactly `scale` fraction digits,
/// without rounding through a float; `None` if it is not a number. Digits beyond `scale` are
/// cut (Flink never sends more than the column's scale).
///
/// ```ignore
/// assert_eq!(rescale("1E+2", 2).unwrap(), "100.00");
/// ```
pub(crate) fn rescale(n: &str, scale: usize) -> Option<String> {
    let n = n.trim();
    let (neg, body) = match n.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, n.strip_prefix('+').unwrap_or(n)),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
        || exp.unsigned_abs() > 1000
    {
        return None;
    }
    // All digits, and where the decimal point sits among them.
    let digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let point = int.len() as i64 + exp;
    let mut int_part = String::new();
    let mut frac_part = String::new();
    for (i, d) in digits.iter().enumerate() {
        if (i as i64) < point {
            int_part.push(*d as char);
        } else {
            frac_part.push(*d as char);
        }
    }
    if point > digits.len() as i64 {
        int_part.extend(std::iter::repeat_n(
            '0',
            (point - digits.len() as i64) as usize,
        ));
    }
    if point < 0 {
        frac_part = format!("{}{frac_part}", "0".repeat((-point) as usize));
    }
    let int_part = int_part.trim_start_matches('0');
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    let mut frac_part: String = frac_part.chars().take(scale).collect();
    while frac_part.len() < scale {
        frac_part.push('0');
    }
    let zero = int_part == "0" && frac_part.chars().all(|c| c == '0');
    let sign = if neg && !zero { "-" } else { "" };
    Some(match scale {
        0 => format!("{sign}{int_part}"),
        _ => format!("{sign}{int_part}.{frac_part}"),
    })
}

#[cfg(test)]
mod tests {
    use super::super::json::parse;
    use super::*;

    #[test]
    fn decimals_are_rescaled_exactly_from_any_notation() {
        for (n, scale, want) in [
            ("1E+2", 18, "100.000000000000000000"),
            ("1E+2", 0, "100"),
            ("1E-18", 18, "0.000000000000000001"),
            ("1.5", 2, "1.50"),
            ("-0.5", 1, "-0.5"),
            (
                "-12345678901234567890.123456789012345678",
                18,
                "-12345678901234567890.123456789012345678",
            ),
            (
                "99999999999999999999.999999999999999999",
                18,
                "99999999999999999999.999999999999999999",
            ),
            ("0", 2, "0.00"),
            ("-0.0", 1, "0.0"),
            ("1.25E1", 1, "12.5"),
        ] {
            assert_eq!(
                rescale(n, scale).as_deref(),
                Some(want),
                "{n} scale {scale}"
            );
        }
        for bad in ["", "x", "1.2.3", "1E", "--1", "1E99999"] {
            assert_eq!(rescale(bad, 2), None, "{bad}");
        }
    }

    #[test]
    fn the_values_flink_sends_are_encoded_like_the_embedded_engine_does() {
        let cols = parse(
            r#"[{"type":"DECIMAL","nullable":true,"precision":38,"scale":18},
                {"type":"TIMESTAMP_WITHOUT_TIME_ZONE","nullable":false,"precision":3},
                {"type":"TIMESTAMP_WITH_LOCAL_TIME_ZONE","nullable":true,"precision":3},
                {"type":"BINARY","nullable":false,"length":3},
                {"type":"BOOLEAN","nullable":true},
                {"type":"INTERVAL_DAY_TIME","nullable":false,"precision":2,"fractionalPrecision":3,"resolution":"SECOND"},
                {"type":"MAP","nullable":false,"keyType":{"type":"CHAR","nullable":false,"length":1},"valueType":{"type":"INTEGER","nullable":false}},
                {"type":"ROW","nullable":false,"fields":[{"name":"EXPR$0","fieldType":{"type":"INTEGER","nullable":false}},{"name":"EXPR$1","fieldType":{"type":"CHAR","nullable":false,"length":1}}]},
                {"type":"BIGINT","nullable":true}]"#,
        )
        .unwrap();
        let types: Vec<FlinkType> = cols
            .as_array()
            .unwrap()
            .iter()
            .map(|c| type_of(c).unwrap())
            .collect();
        assert_eq!(types[2].type_name(), "TIMESTAMP_WITH_LOCAL_TIME_ZONE");
        let row = parse(
            r#"{"kind":"UPDATE_AFTER","fields":[1E+2,"2024-01-02T03:04:05","1970-01-01T00:00:01.5Z","AQL/",true,86400000,{"k":1},{"EXPR$0":1,"EXPR$1":"x"},null]}"#,
        )
        .unwrap();
        let r = row_of(&row, &types).unwrap();
        assert_eq!(r.op, 2);
        assert_eq!(
            serde_json::to_value(&r.row).unwrap(),
            serde_json::json!([
                "100.000000000000000000",
                "2024-01-02 03:04:05.000",
                "1970-01-01 00:00:01.500",
                "x'0102ff'",
                "TRUE",
                "+1 00:00:00.000",
                [["k", "1"]],
                ["1", "x"],
                null
            ])
        );
        let nope = parse(r#"{"kind":"NOPE","fields":[]}"#).unwrap();
        assert!(row_of(&nope, &[]).is_err());
    }

    #[test]
    fn timestamp_ltz_values_are_shown_as_utc_wall_clock_time() {
        let ltz = |p: u64| {
            type_of(
                &parse(&format!(
                    r#"{{"type":"TIMESTAMP_WITH_LOCAL_TIME_ZONE","nullable":true,"precision":{p}}}"#
                ))
                .unwrap(),
            )
            .unwrap()
        };
        let show = |v: &str, p: u64| {
            let d = Decoder {
                types: vec![ltz(p)],
            };
            let row = parse(&format!(r#"{{"kind":"INSERT","fields":["{v}"]}}"#)).unwrap();
            d.row(&row).map(|r| r.row[0].clone())
        };
        assert_eq!(
            show("2024-07-01T23:30:00.5Z", 3).unwrap(),
            "2024-07-01 23:30:00.500"
        );
        assert_eq!(
            show("1970-01-01T00:00:00.123456Z", 6).unwrap(),
            "1970-01-01 00:00:00.123456"
        );
        assert_eq!(
            show("1970-01-01T00:00:00Z", 0).unwrap(),
            "1970-01-01 00:00:00"
        );
        assert!(
            show("1970-01-01T00:00:00", 3).is_err(),
            "a value that is not a UTC instant"
        );
    }
}
