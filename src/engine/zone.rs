//! A statement's local time zone (`sql.local-time-zone`): which spellings are accepted.
//!
//! The accepted spellings are exactly the ones Flink's `table.local-time-zone` accepts
//! (checked against Flink 2.2.1, which refuses the rest with "Invalid time zone"): a Time Zone
//! Database id, case as written (`Europe/Berlin`, `UTC`, `GMT`, `Etc/GMT-2`), or a fixed
//! offset `GMT+H`, `GMT+HH`, `GMT+HH:MM`, `GMT+HHMM` (either sign, at most 18 hours). Bare
//! offsets (`+02:00`), `UTC+2`, and Java's three-letter aliases (`PST`, `EST`) are refused.
//! A create request naming another zone is refused with a 400 before any engine sees it.

use std::collections::BTreeMap;

#[cfg(test)]
use chrono::NaiveDateTime;
use chrono::{FixedOffset, TimeZone};

/// The statement property naming the zone.
pub(crate) const PROPERTY: &str = "sql.local-time-zone";

/// What a refusal tells the client it may write instead.
const ACCEPTED: &str = "a Time Zone Database id such as 'Europe/Berlin', 'UTC', or a fixed \
    offset such as 'GMT+02:00' or 'GMT-3'";

/// Tz database ids Flink refuses: Java resolves them through its short-id table to a fixed
/// offset, not to the region of the same name, and Flink requires both to agree.
const JAVA_SHORT_IDS: [&str; 3] = ["EST", "MST", "HST"];

/// A parsed zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LocalZone {
    /// A region of the Time Zone Database (daylight saving time included).
    Region(chrono_tz::Tz),
    /// A fixed offset from UTC.
    Fixed(FixedOffset),
}

impl LocalZone {
    /// Parses a zone as Flink accepts it (see the module doc).
    pub(crate) fn parse(s: &str) -> Result<LocalZone, String> {
        let refuse = || format!("'{s}' is not a time zone; use {ACCEPTED}");
        if let Some(offset) = s.strip_prefix("GMT").filter(|o| !o.is_empty()) {
            return fixed(offset).map(LocalZone::Fixed).ok_or_else(refuse);
        }
        if JAVA_SHORT_IDS.contains(&s) {
            return Err(refuse());
        }
        s.parse::<chrono_tz::Tz>()
            .map(LocalZone::Region)
            .map_err(|_| refuse())
    }

    /// Whether this zone is UTC under another name (zero offset in winter and in summer).
    pub(crate) fn is_utc(&self) -> bool {
        match self {
            LocalZone::Fixed(off) => off.local_minus_utc() == 0,
            LocalZone::Region(tz) => [(2024, 1), (2024, 7)].iter().all(|&(y, m)| {
                chrono::NaiveDate::from_ymd_opt(y, m, 1)
                    .and_then(|d| d.and_hms_opt(12, 0, 0))
                    .is_some_and(|t| {
                        use chrono::Offset;
                        tz.offset_from_utc_datetime(&t).fix().local_minus_utc() == 0
                    })
            }),
        }
    }

    /// The wall-clock time in this zone of the instant whose UTC wall-clock time is `utc`.
    #[cfg(test)]
    pub(crate) fn wall_clock(&self, utc: NaiveDateTime) -> NaiveDateTime {
        match self {
            LocalZone::Region(tz) => tz.from_utc_datetime(&utc).naive_local(),
            LocalZone::Fixed(off) => off.from_utc_datetime(&utc).naive_local(),
        }
    }
}

/// `+H`, `+HH`, `+HH:MM` or `+HHMM` (either sign) as an offset of at most 18 hours.
fn fixed(s: &str) -> Option<FixedOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if !rest.bytes().all(|b| b.is_ascii_digit() || b == b':') {
        return None;
    }
    let (h, m) = match (rest.len(), rest.find(':')) {
        (1 | 2, None) => (rest, "00"),
        (4, None) => rest.split_at(2),
        (4 | 5, Some(i)) if i == rest.len() - 3 => (&rest[..i], &rest[i + 1..]),
        _ => return None,
    };
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    let seconds = h * 3600 + m * 60;
    if m > 59 || seconds > 18 * 3600 {
        return None;
    }
    FixedOffset::east_opt(sign * seconds)
}

/// Refuses a create request whose `sql.local-time-zone` is not a zone (see the module doc).
pub(crate) fn check_properties(properties: &BTreeMap<String, String>) -> Result<(), String> {
    match properties.get(PROPERTY) {
        Some(z) => LocalZone::parse(z)
            .map(|_| ())
            .map_err(|e| format!("property `{PROPERTY}`: {e}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zones_flink_accepts_are_accepted_and_the_others_refused() {
        let epoch = NaiveDateTime::default();
        for (z, wall) in [
            ("UTC", "1970-01-01 00:00:00"),
            ("GMT", "1970-01-01 00:00:00"),
            ("Europe/Berlin", "1970-01-01 01:00:00"),
            ("Asia/Tokyo", "1970-01-01 09:00:00"),
            ("Etc/GMT-2", "1970-01-01 02:00:00"),
            ("GMT+2", "1970-01-01 02:00:00"),
            ("GMT+02:00", "1970-01-01 02:00:00"),
            ("GMT+0230", "1970-01-01 02:30:00"),
            ("GMT-3", "1969-12-31 21:00:00"),
            ("GMT+15", "1970-01-01 15:00:00"),
            ("GMT-0", "1970-01-01 00:00:00"),
        ] {
            let zone = LocalZone::parse(z).unwrap_or_else(|e| panic!("{z}: {e}"));
            assert_eq!(zone.wall_clock(epoch).to_string(), wall, "{z}");
        }
        // Each of these Flink 2.2.1 refused with "Invalid time zone".
        for z in [
            "+02:00",
            "UTC+2",
            "UTC+02:00",
            "PST",
            "EST",
            "Z",
            "Nope/Zone",
            "gmt+2",
            "europe/berlin",
            "America/New_York ",
            "GMT+19",
            "GMT+2:5",
            "GMT+",
            "",
        ] {
            let e = LocalZone::parse(z).unwrap_err();
            assert!(
                e.contains(&format!("'{z}'")) && e.contains("GMT+02:00"),
                "{e}"
            );
        }
    }

    #[test]
    fn summer_time_follows_the_region() {
        let zone = LocalZone::parse("Europe/Berlin").unwrap();
        let july = NaiveDateTime::parse_from_str("2024-07-01 12:00:00", "%Y-%m-%d %H:%M:%S");
        assert_eq!(
            zone.wall_clock(july.unwrap()).to_string(),
            "2024-07-01 14:00:00"
        );
    }

    #[test]
    fn a_create_request_with_an_unknown_zone_is_refused() {
        let mut p = BTreeMap::new();
        assert!(check_properties(&p).is_ok());
        p.insert(PROPERTY.to_string(), "Europe/Berlin".to_string());
        assert!(check_properties(&p).is_ok());
        p.insert(PROPERTY.to_string(), "Mars/Olympus".to_string());
        let e = check_properties(&p).unwrap_err();
        assert!(
            e.contains("sql.local-time-zone") && e.contains("Mars/Olympus"),
            "{e}"
        );
    }
}
