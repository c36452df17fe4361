//! A statement's source idle timeout (`sql.tables.scan.idle-timeout`, Confluent's statement
//! property): after how long without records a Kafka partition stops holding back the
//! watermark of a streaming statement.
//!
//! Owns the accepted spellings and the default. Spellings are Flink's durations: a whole
//! number with an optional unit (`ms`, `s`, `min`, `h`, `d`; none means milliseconds, as in
//! Flink), `0` turning idleness off. A create request with another spelling is refused with
//! a 400 before any engine sees it. The Flink engine sets it as the session's
//! `table.exec.source.idle-timeout`; the embedded engine keeps no watermarks across
//! partitions, so it has nothing to apply it to.
//!
//! The default is 15 s, the timeout Confluent's progressive idleness starts from (inferred
//! from its documentation). A short one gives wrong answers: a source that has not fetched
//! its first records within the timeout (a slow start on a busy machine) is taken for idle,
//! the other input's watermark alone moves a join on, and rows are joined before the
//! records they should meet were read.

use std::collections::BTreeMap;
use std::time::Duration;

/// The statement property.
pub(crate) const PROPERTY: &str = "sql.tables.scan.idle-timeout";

/// Without the property.
pub(crate) const DEFAULT: Duration = Duration::from_secs(15);

/// Parses a Flink duration (see the module doc).
pub(crate) fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let digits = t.len() - t.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (n, unit) = t.split_at(digits);
    let refuse = || {
        format!(
            "'{s}' is not a duration; write a whole number and a unit, e.g. '15 s', '500 ms', '2 min', or '0' to turn idleness off"
        )
    };
    let n: u64 = n.parse().map_err(|_| refuse())?;
    let ms = match unit.trim() {
        "" | "ms" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return Err(refuse()),
    };
    n.checked_mul(ms)
        .map(Duration::from_millis)
        .ok_or_else(refuse)
}

/// Refuses a create request whose property is not a duration.
pub(crate) fn check_properties(properties: &BTreeMap<String, String>) -> Result<(), String> {
    match properties.get(PROPERTY) {
        Some(v) => parse(v)
            .map(|_| ())
            .map_err(|e| format!("property `{PROPERTY}`: {e}")),
        None => Ok(()),
    }
}

/// The timeout as Flink's `table.exec.source.idle-timeout` spells it.
pub(crate) fn flink_value(timeout: Option<Duration>) -> String {
    format!("{} ms", timeout.unwrap_or(DEFAULT).as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flink_durations_are_accepted_and_the_rest_refused() {
        for (s, ms) in [
            ("0", 0),
            ("500", 500),
            ("500 ms", 500),
            ("15 s", 15_000),
            ("15s", 15_000),
            ("2 min", 120_000),
            ("1 h", 3_600_000),
        ] {
            assert_eq!(parse(s), Ok(Duration::from_millis(ms)), "{s}");
        }
        for s in [
            "",
            "s",
            "-1 s",
            "1.5 s",
            "fast",
            "1 fortnight",
            "99999999999999999999 d",
        ] {
            let e = parse(s).unwrap_err();
            assert!(e.contains("not a duration"), "{s}: {e}");
        }
        assert_eq!(flink_value(None), "15000 ms");
        assert_eq!(flink_value(Some(Duration::ZERO)), "0 ms");
        let mut p = BTreeMap::new();
        p.insert(PROPERTY.to_string(), "soon".to_string());
        assert!(check_properties(&p).unwrap_err().contains(PROPERTY));
    }
}
