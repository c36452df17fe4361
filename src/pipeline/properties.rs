//! Which statement properties (`spec.properties` of a create) the gateway accepts: the ones it
//! applies. Confluent's other documented `sql.*` properties are refused by name, saying that
//! sqlgate does not apply them, and any other key as unknown, so that no property a client sets
//! is silently ignored. The values of the accepted ones are checked by their owners
//! (`engine::zone`, `engine::idle`, the snapshot and dry-run switches of `pipeline`).

use std::collections::BTreeMap;

/// The properties sqlgate applies, with what each does (the README's statement-properties table).
pub const APPLIED: &[(&str, &str)] = &[
    (
        "sql.current-catalog",
        "the catalog (environment) of unqualified names",
    ),
    (
        "sql.current-database",
        "the database (Kafka cluster) of unqualified names",
    ),
    ("sql.dry-run", "decide and plan the statement, run nothing"),
    ("sql.snapshot.mode", "`now`: read a bounded snapshot"),
    (
        "sql.local-time-zone",
        "the session time zone (applied on the Flink engine)",
    ),
    (
        "sql.tables.scan.idle-timeout",
        "when a source with no records stops holding back watermarks (Flink engine)",
    ),
];

/// Confluent's documented statement properties that sqlgate does not apply (yet): refused by
/// name rather than accepted and ignored.
const NOT_APPLIED: &[&str] = &[
    "sql.inline-result",
    "sql.snapshot.write-mode",
    "sql.state-ttl",
    "sql.tables.initial-offset-from",
    "sql.tables.scan.bounded.mode",
    "sql.tables.scan.bounded.timestamp-millis",
    "sql.tables.scan.source-operator-parallelism",
    "sql.tables.scan.startup.mode",
    "sql.tables.scan.startup.specific-offsets",
    "sql.tables.scan.startup.timestamp-millis",
    "sql.tables.scan.watermark-alignment.max-allowed-drift",
];

/// Refuses a property the gateway would not apply, naming it.
pub fn check(properties: &BTreeMap<String, String>) -> Result<(), String> {
    for key in properties.keys() {
        if APPLIED.iter().any(|(k, _)| k == key) {
            continue;
        }
        let accepted = APPLIED
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>()
            .join(", ");
        let shown: String = key.chars().take(100).collect();
        return Err(if NOT_APPLIED.contains(&key.as_str()) {
            format!(
                "statement property `{shown}` is not supported: sqlgate does not apply it, so it \
                 is refused rather than ignored; the properties it applies are {accepted}"
            )
        } else {
            format!(
                "unknown statement property `{shown}`; the properties sqlgate applies are {accepted}"
            )
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(keys: &[&str]) -> BTreeMap<String, String> {
        keys.iter().map(|k| (k.to_string(), "x".into())).collect()
    }

    #[test]
    fn applied_properties_pass_and_others_are_refused_by_name() {
        let all: Vec<&str> = APPLIED.iter().map(|(k, _)| *k).collect();
        assert!(check(&props(&all)).is_ok());
        let e = check(&props(&["sql.current-catalog", "sql.bogus"])).unwrap_err();
        assert!(e.contains("unknown statement property `sql.bogus`"), "{e}");
        assert!(e.contains("sql.dry-run"), "{e}");
        let e = check(&props(&["sql.state-ttl"])).unwrap_err();
        assert!(
            e.contains("`sql.state-ttl` is not supported") && e.contains("refused rather than"),
            "{e}"
        );
        // Flink's own keys are not statement properties of this API.
        assert!(check(&props(&["table.exec.state.ttl"])).is_err());
        assert!(check(&props(&["pipeline.classpaths"])).is_err());
    }

    #[test]
    fn a_long_key_is_shortened_in_the_message() {
        let long = "k".repeat(10_000);
        let e = check(&props(&[long.as_str()])).unwrap_err();
        assert!(e.len() < 1_000, "{}", e.len());
    }
}
