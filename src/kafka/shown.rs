//! A Kafka-backed table as SHOW CREATE TABLE and INFORMATION_SCHEMA show it, in Confluent
//! Cloud's shape: its columns, its key as `DISTRIBUTED BY HASH(key) INTO n BUCKETS` (n = the
//! topic's partitions; `DISTRIBUTED INTO n BUCKETS` without a key), an upsert table's key as
//! its PRIMARY KEY, and the `WITH` options Confluent shows, sorted by key.
//!
//! Owns which option is read from where, and the spelling of durations and sizes (Flink's:
//! `7 d`, `2097164 bytes`), which `ddl::table_options` reads back. Every value comes from
//! what sqlgate holds or the brokers report (the layout from the registered subjects, the
//! topic's configs, how sqlgate reads a topic); an option whose value neither knows is left
//! out, never guessed.

use std::collections::BTreeMap;

use super::cluster::TopicTable;
use super::ddl::Distribution;
use crate::sql::FlinkType;

/// A Kafka-backed table's definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// Its columns, key columns first as the layout has them; metadata columns
    /// (`$rowtime`, …) are not part of a definition.
    pub columns: Vec<(String, FlinkType)>,
    /// An upsert table's key; empty for an append table.
    pub primary_key: Vec<String>,
    /// The key columns and the topic's partition count.
    pub distribution: Distribution,
    /// The `WITH` options, sorted by key.
    pub options: Vec<(String, String)>,
}

/// How every Kafka-backed table is read unless a statement says otherwise (both engines read
/// a topic from its first record; a statement's `sql.snapshot.mode` or `/*+ OPTIONS(…) */`
/// bounds its own read).
pub(crate) const SCAN_STARTUP: &str = "earliest-offset";
pub(crate) const SCAN_BOUNDED: &str = "unbounded";

/// `table`'s definition, its options read from the topic's `configs` (see
/// [`super::cluster::TABLE_CONFIGS`]).
pub fn shown(table: &TopicTable, configs: &BTreeMap<String, String>) -> Shown {
    let layout = &table.layout;
    let mut options: BTreeMap<&str, String> = BTreeMap::new();
    let changelog = if layout.upsert { "upsert" } else { "append" };
    options.insert("changelog.mode", changelog.into());
    options.insert("connector", "confluent".into());
    let config = |k: &str| configs.get(k).map(|v| v.trim());
    if let Some(p) = config("cleanup.policy").and_then(cleanup_policy) {
        options.insert("kafka.cleanup-policy", p.into());
    }
    if let Some(n) = config("max.message.bytes").and_then(|v| v.parse::<i64>().ok()) {
        options.insert("kafka.max-message-size", memory_size(n));
    }
    if let Some(t) = config("message.timestamp.type").and_then(timestamp_type) {
        options.insert("kafka.message-timestamp-type", t.into());
    }
    if let Some(n) = config("retention.bytes").and_then(|v| v.parse::<i64>().ok()) {
        // Confluent spells "no limit" (-1) as 0, which `table_options` reads back as -1.
        options.insert("kafka.retention.size", memory_size(n.max(0)));
    }
    if let Some(ms) = config("retention.ms").and_then(|v| v.parse::<i64>().ok()) {
        options.insert("kafka.retention.time", duration(ms.max(0)));
    }
    if !layout.key_columns.is_empty() {
        options.insert("key.format", layout.key_format.as_str().into());
    }
    options.insert("scan.bounded.mode", SCAN_BOUNDED.into());
    options.insert("scan.startup.mode", SCAN_STARTUP.into());
    options.insert("value.format", layout.value_format.as_str().into());
    Shown {
        columns: layout.columns.clone(),
        primary_key: if layout.upsert {
            layout.key_columns.clone()
        } else {
            Vec::new()
        },
        distribution: Distribution {
            columns: layout.key_columns.clone(),
            buckets: Some(table.topic.partitions.len() as i32),
        },
        options: options
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    }
}

/// `cleanup.policy` as Confluent's `kafka.cleanup-policy`.
fn cleanup_policy(v: &str) -> Option<&'static str> {
    let mut parts: Vec<&str> = v.split(',').map(str::trim).collect();
    parts.sort_unstable();
    match parts.as_slice() {
        ["delete"] => Some("delete"),
        ["compact"] => Some("compact"),
        ["compact", "delete"] => Some("delete-compact"),
        _ => None,
    }
}

/// `message.timestamp.type` as Confluent's `kafka.message-timestamp-type`.
fn timestamp_type(v: &str) -> Option<&'static str> {
    match v {
        "CreateTime" => Some("create-time"),
        "LogAppendTime" => Some("log-append-time"),
        _ => None,
    }
}

/// Milliseconds in Flink's spelling of a duration: the largest unit that divides it
/// (`7 d`, `12 h`, `30 min`, `10 s`, `1500 ms`; zero is `0 ms`).
pub(crate) fn duration(ms: i64) -> String {
    const UNITS: [(i64, &str); 4] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "min"),
        (1_000, "s"),
    ];
    if ms != 0 {
        for (size, unit) in UNITS {
            if ms % size == 0 {
                return format!("{} {unit}", ms / size);
            }
        }
    }
    format!("{ms} ms")
}

/// Bytes in Flink's spelling of a memory size: the largest binary unit that divides it
/// (`1 mb`, `2097164 bytes`; zero is `0 bytes`).
pub(crate) fn memory_size(bytes: i64) -> String {
    const UNITS: [(i64, &str); 4] = [
        (1 << 40, "tb"),
        (1 << 30, "gb"),
        (1 << 20, "mb"),
        (1 << 10, "kb"),
    ];
    if bytes != 0 {
        for (size, unit) in UNITS {
            if bytes % size == 0 {
                return format!("{} {unit}", bytes / size);
            }
        }
    }
    format!("{bytes} bytes")
}

/// A memory size as Flink reads one: a number, optionally followed by a unit (`b`/`bytes`,
/// `k`/`kb`/`kibibytes`, `m`/`mb`/`mebibytes`, `g`/`gb`/`gibibytes`, `t`/`tb`/`tebibytes`,
/// any case, space optional). `None` if it is not one.
pub(crate) fn parse_memory_size(v: &str) -> Option<i64> {
    let v = v.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let number: i64 = number.parse().ok()?;
    let factor: i64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" | "bytes" => 1,
        "k" | "kb" | "kibibytes" => 1 << 10,
        "m" | "mb" | "mebibytes" => 1 << 20,
        "g" | "gb" | "gibibytes" => 1 << 30,
        "t" | "tb" | "tebibytes" => 1 << 40,
        _ => return None,
    };
    number.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::cluster::TopicInfo;
    use crate::kafka::codec::Codec;
    use crate::kafka::layout::{Format, TableLayout};

    #[test]
    fn durations_and_sizes_are_spelled_as_flink_does_and_read_back() {
        assert_eq!(duration(604_800_000), "7 d");
        assert_eq!(duration(3_600_000), "1 h");
        assert_eq!(duration(90_000), "90 s");
        assert_eq!(duration(1_500), "1500 ms");
        assert_eq!(duration(0), "0 ms");
        assert_eq!(memory_size(2_097_164), "2097164 bytes");
        assert_eq!(memory_size(1 << 20), "1 mb");
        assert_eq!(memory_size(0), "0 bytes");
        for s in ["2097164 bytes", "1 mb", "0 bytes", "5kb", "7"] {
            let n = parse_memory_size(s).unwrap();
            assert_eq!(parse_memory_size(&memory_size(n)), Some(n), "{s}");
        }
        assert_eq!(parse_memory_size("1 MB"), Some(1 << 20));
        assert_eq!(parse_memory_size("lots"), None);
        assert_eq!(parse_memory_size("3 parsecs"), None);
    }

    #[test]
    fn options_come_from_the_layout_and_the_topics_configs_only() {
        let layout = TableLayout {
            topic: "t".into(),
            columns: vec![
                (
                    "id".into(),
                    crate::sql::types::parse_flink_type("INT NOT NULL").unwrap(),
                ),
                ("v".into(), FlinkType::string(true)),
            ],
            key_columns: vec!["id".into()],
            key_format: Format::JsonRegistry,
            value_format: Format::Json,
            key_schema: None,
            value_schema: None,
            upsert: true,
        };
        let table = TopicTable {
            topic: TopicInfo {
                name: "t".into(),
                partitions: vec![0, 1, 2],
            },
            codec: Codec::new(&layout).unwrap(),
            layout,
        };
        let configs: BTreeMap<String, String> = [
            ("cleanup.policy", "compact,delete"),
            ("retention.ms", "-1"),
            ("retention.bytes", "-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let s = shown(&table, &configs);
        assert_eq!(s.primary_key, ["id"]);
        assert_eq!(
            s.distribution,
            Distribution {
                columns: vec!["id".into()],
                buckets: Some(3)
            }
        );
        let keys: Vec<(&str, &str)> = s
            .options
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("changelog.mode", "upsert"),
                ("connector", "confluent"),
                ("kafka.cleanup-policy", "delete-compact"),
                ("kafka.retention.size", "0 bytes"),
                ("kafka.retention.time", "0 ms"),
                ("key.format", "json-registry"),
                ("scan.bounded.mode", "unbounded"),
                ("scan.startup.mode", "earliest-offset"),
                ("value.format", "json"),
            ]
        );
    }
}
