//! Text forms of DECIMAL, DATE, TIME and TIMESTAMP values as the JSON formats carry them:
//! parsing (lenient: `T` or space, any fraction length, optional offset) and writing (the
//! canonical form the decoder reads back exactly).
//!
//! Owns only the spelling of values; it knows neither builders nor wire framing.

use chrono::{DateTime, Datelike, NaiveDate};

const SECS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of `YYYY-MM-DD`.
pub(super) fn parse_date(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let d = NaiveDate::from_ymd_opt(
        digits(&b[0..4])? as i32,
        digits(&b[5..7])? as u32,
        digits(&b[8..10])? as u32,
    )?;
    Some(d.num_days_from_ce() - EPOCH_DAYS_FROM_CE)
}

/// `NaiveDate::from_ymd(1970, 1, 1).num_days_from_ce()`.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Seconds and nanoseconds of the day of `hh:mm:ss[.fffffffff]`.
pub(super) fn parse_time(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, sec) = (digits(&b[0..2])?, digits(&b[3..5])?, digits(&b[6..8])?);
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let nanos = fraction(&b[8..])?;
    Some(((h * 3600 + m * 60 + sec) as i64, nanos))
}

/// Seconds since the epoch and nanoseconds of `YYYY-MM-DD[T ]hh:mm:ss[.f]`, read as UTC, and
/// the rest of the text (an offset, if any).
fn parse_naive(s: &str) -> Option<(i64, u32, &str)> {
    if s.len() < 19 || !matches!(s.as_bytes()[10], b'T' | b't' | b' ') {
        return None;
    }
    let days = i64::from(parse_date(s.get(..10)?)?);
    let rest = s.get(11..)?;
    // The time ends where the fraction's digits end.
    let end = rest
        .bytes()
        .enumerate()
        .position(|(i, c)| i >= 8 && !(c == b'.' || c.is_ascii_digit()))
        .unwrap_or(rest.len());
    let (secs, nanos) = parse_time(rest.get(..end)?)?;
    Some((days * SECS_PER_DAY + secs, nanos, rest.get(end..)?))
}

/// A `TIMESTAMP` string: seconds since the epoch and nanoseconds (no offset allowed).
pub(super) fn parse_timestamp(s: &str) -> Option<(i64, u32)> {
    match parse_naive(s)? {
        (secs, nanos, "") => Some((secs, nanos)),
        _ => None,
    }
}

/// A `TIMESTAMP_LTZ` string: RFC 3339 with `Z` or `±hh[:mm]`, or without offset (UTC).
pub(super) fn parse_timestamp_ltz(s: &str) -> Option<(i64, u32)> {
    let (secs, nanos, zone) = parse_naive(s)?;
    let offset = match zone.as_bytes() {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [h1, h2] => (digits(&[*h1, *h2])?, 0),
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?)
                }
                _ => return None,
            };
            let off = (h * 3600 + m * 60) as i64;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    Some((secs - offset, nanos))
}

/// `secs`/`nanos` in `per_sec` units, or `None` on overflow.
pub(super) fn to_units(secs: i64, nanos: u32, per_sec: i64) -> Option<i64> {
    secs.checked_mul(per_sec)?
        .checked_add(i64::from(nanos) / (1_000_000_000 / per_sec))
}

fn digits(b: &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(c - b'0');
    }
    Some(n)
}

/// Nanoseconds of `.fffffffff` (empty: 0). More than 9 digits are cut.
fn fraction(b: &[u8]) -> Option<u32> {
    match b {
        [] => Some(0),
        [b'.', ds @ ..] if !ds.is_empty() && ds.iter().all(u8::is_ascii_digit) => {
            let mut n = 0u32;
            for i in 0..9 {
                n = n * 10 + ds.get(i).map_or(0, |c| u32::from(c - b'0'));
            }
            Some(n)
        }
        _ => None,
    }
}

/// Parses a decimal number (`-12.345`, `1e3`, `.5`) into an unscaled `i128` at `scale`,
/// rounding half up, and checks it fits `precision` digits.
pub(super) fn parse_decimal(s: &str, precision: u8, scale: i8) -> Result<i128, String> {
    let bad = || format!("expected a decimal number, got {}", quote(s));
    let b = s.trim().as_bytes();
    let (neg, b) = match b {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, b),
    };
    let (mantissa, exp) = match b.iter().position(|c| *c == b'e' || *c == b'E') {
        Some(i) => {
            let e = std::str::from_utf8(&b[i + 1..])
                .ok()
                .and_then(|e| e.parse::<i32>().ok())
                .ok_or_else(bad)?;
            (&b[..i], e)
        }
        None => (b, 0),
    };
    let mut value: i128 = 0;
    let mut frac_digits: i32 = 0;
    let (mut seen_digit, mut seen_point) = (false, false);
    let mut dropped_first: Option<u8> = None;
    for &c in mantissa {
        match c {
            b'.' if !seen_point => seen_point = true,
            b'0'..=b'9' => {
                seen_digit = true;
                let d = c - b'0';
                // Digits beyond the target scale only matter for rounding.
                let scale_here = if seen_point { frac_digits + 1 } else { 0 };
                if seen_point && scale_here - exp > i32::from(scale) {
                    dropped_first.get_or_insert(d);
                    continue;
                }
                value = value
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(i128::from(d)))
                    .ok_or_else(|| out_of_range(s, precision, scale))?;
                if seen_point {
                    frac_digits += 1;
                }
            }
            _ => return Err(bad()),
        }
    }
    if !seen_digit {
        return Err(bad());
    }
    // value * 10^(exp - frac_digits) rescaled to `scale`.
    let shift = i32::from(scale) - (frac_digits - exp);
    if shift >= 0 {
        value = 10i128
            .checked_pow(shift as u32)
            .and_then(|m| value.checked_mul(m))
            .ok_or_else(|| out_of_range(s, precision, scale))?;
        if dropped_first.is_some_and(|d| d >= 5) {
            value += 1;
        }
    } else {
        // Only reachable through a negative exponent on integer digits.
        let div = 10i128
            .checked_pow((-shift) as u32)
            .ok_or_else(|| out_of_range(s, precision, scale))?;
        let (q, r) = (value / div, value % div);
        value = if r * 2 >= div { q + 1 } else { q };
    }
    let limit = 10i128.pow(u32::from(precision));
    if value >= limit {
        return Err(out_of_range(s, precision, scale));
    }
    Ok(if neg { -value } else { value })
}

fn out_of_range(s: &str, precision: u8, scale: i8) -> String {
    format!("{} does not fit DECIMAL({precision}, {scale})", quote(s))
}

/// A value as quoted in an error message, cut to a readable length.
pub(super) fn quote(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Writes `YYYY-MM-DD` of days since the epoch.
pub(super) fn write_date(out: &mut String, days: i64) -> Result<(), String> {
    let d = DateTime::from_timestamp(days.saturating_mul(SECS_PER_DAY), 0)
        .ok_or_else(|| format!("DATE {days} out of range"))?
        .date_naive();
    push_ymd(out, d.year(), d.month(), d.day());
    Ok(())
}

fn push_ymd(out: &mut String, y: i32, m: u32, d: u32) {
    use std::fmt::Write;
    let _ = write!(out, "{y:04}-{m:02}-{d:02}");
}

/// Writes `hh:mm:ss` plus the fraction digits of the unit (none, 3, 6 or 9).
fn push_time(out: &mut String, secs_of_day: i64, sub: i64, per_sec: i64) {
    use std::fmt::Write;
    let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    let _ = write!(out, "{h:02}:{m:02}:{s:02}");
    let _ = match per_sec {
        1 => Ok(()),
        1_000 => write!(out, ".{sub:03}"),
        1_000_000 => write!(out, ".{sub:06}"),
        _ => write!(out, ".{sub:09}"),
    };
}

/// Writes a TIME of `v` units of the day.
pub(super) fn write_time(out: &mut String, v: i64, per_sec: i64) {
    push_time(out, v.div_euclid(per_sec), v.rem_euclid(per_sec), per_sec);
}

/// Writes `YYYY-MM-DDThh:mm:ss[.f]` of `v` units since the epoch (`Z` appended for LTZ).
pub(super) fn write_timestamp(
    out: &mut String,
    v: i64,
    per_sec: i64,
    ltz: bool,
) -> Result<(), String> {
    let (secs, sub) = (v.div_euclid(per_sec), v.rem_euclid(per_sec));
    let dt = DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| format!("TIMESTAMP {v} out of range"))?
        .naive_utc();
    push_ymd(out, dt.year(), dt.month(), dt.day());
    out.push('T');
    push_time(out, secs.rem_euclid(SECS_PER_DAY), sub, per_sec);
    if ltz {
        out.push('Z');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_with_rounding_and_exponents() {
        assert_eq!(parse_decimal("12.345", 10, 2), Ok(1235));
        assert_eq!(parse_decimal("-12.344", 10, 2), Ok(-1234));
        assert_eq!(parse_decimal("1e3", 10, 2), Ok(100_000));
        assert_eq!(parse_decimal(".5", 10, 0), Ok(1));
        assert_eq!(parse_decimal("1250e-2", 10, 1), Ok(125));
        assert_eq!(parse_decimal("125e-3", 10, 1), Ok(1));
        assert!(parse_decimal("abc", 10, 2).is_err());
        assert!(parse_decimal("1000", 3, 0).is_err());
        assert_eq!(
            parse_decimal("12345678901234567890.123456789", 38, 9),
            Ok(12_345_678_901_234_567_890_123_456_789)
        );
    }

    #[test]
    fn timestamps_parse_in_every_accepted_spelling() {
        let base = 1_704_103_200; // 2024-01-01T10:00:00Z
        assert_eq!(parse_timestamp("2024-01-01T10:00:00"), Some((base, 0)));
        assert_eq!(
            parse_timestamp("2024-01-01 10:00:00.5"),
            Some((base, 500_000_000))
        );
        assert_eq!(parse_timestamp("2024-01-01 10:00:00Z"), None);
        assert_eq!(parse_timestamp_ltz("2024-01-01T10:00:00Z"), Some((base, 0)));
        assert_eq!(
            parse_timestamp_ltz("2024-01-01T12:00:00.123+02:00"),
            Some((base, 123_000_000))
        );
        assert_eq!(parse_timestamp_ltz("2024-01-01 10:00:00"), Some((base, 0)));
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_time("23:59:59.999"), Some((86_399, 999_000_000)));
        assert_eq!(parse_time("24:00:00"), None);
    }

    #[test]
    fn written_temporals_read_back() {
        let mut s = String::new();
        write_timestamp(&mut s, 1_704_103_200_123, 1_000, true).unwrap();
        assert_eq!(s, "2024-01-01T10:00:00.123Z");
        s.clear();
        write_timestamp(&mut s, -1, 1_000, false).unwrap();
        assert_eq!(s, "1969-12-31T23:59:59.999");
        assert_eq!(parse_timestamp(&s), Some((-1, 999_000_000)));
        s.clear();
        write_date(&mut s, -1).unwrap();
        assert_eq!(s, "1969-12-31");
    }
}
