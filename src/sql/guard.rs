//! What a client may not say to the engine, refused by name while parsing (before any
//! engine sees the statement): anything that could change *which* data a statement reads or
//! writes, or load code.
//!
//! * Table options (`CREATE TABLE … WITH (…)`, `ALTER TABLE … SET / RESET (…)`): only the
//!   options sqlgate itself owns, [`TABLE_OPTIONS`] (the Confluent table options it maps to
//!   topic configs and formats), and `'connector'` only as `'confluent'` or `'kafka'` (which
//!   name the topic sqlgate declares). The engine's connector options (`topic`,
//!   `properties.*`, format fields, another connector) are the gateway's to generate.
//! * `CREATE TABLE … LIKE`: copies another table's options, connector included.
//! * `SET` / `RESET`: only the session keys of [`SESSION_KEYS`]; a bare `SET` (which lists the
//!   engine session's whole configuration) is refused too.
//! * `ADD JAR`, `CREATE FUNCTION … USING JAR`, `CREATE CATALOG`: load code, or connect the
//!   engine to storage the gateway does not know, for everybody (administrators included:
//!   code in the engine runs with the engine's credentials, beyond what any role grants).
//!
//! Dynamic table options in hints (`/*+ OPTIONS(…) */`) are checked in `hints.rs`.

use super::SqlError;

/// Table options a CREATE or ALTER TABLE may set: the ones sqlgate maps itself (see
/// `kafka::ddl::table_options`).
pub const TABLE_OPTIONS: &[&str] = &[
    "connector",
    "changelog.mode",
    "key.format",
    "value.format",
    "kafka.retention.time",
    "kafka.retention.size",
    "kafka.cleanup-policy",
    "kafka.max-message-size",
    "kafka.message-timestamp-type",
    "scan.startup.mode",
    "scan.bounded.mode",
];

/// The values `'connector'` may have: both mean the topic sqlgate declares for the table.
const CONNECTORS: &[&str] = &["confluent", "kafka"];

/// Session keys `SET` / `RESET` may name: Confluent's statement properties that change how a
/// statement runs, never which tables or code it uses, and their Flink counterparts.
/// Parallelism, resources, checkpoint and savepoint paths, `pipeline.*` (jars, classpaths) and
/// the SQL dialect are not among them.
pub const SESSION_KEYS: &[&str] = &[
    "sql.current-catalog",
    "sql.current-database",
    "sql.local-time-zone",
    "sql.state-ttl",
    "sql.snapshot.mode",
    "sql.dry-run",
    "sql.inline-result",
    "sql.tables.scan.idle-timeout",
    "sql.tables.scan.startup.mode",
    "sql.tables.scan.bounded.mode",
    "client.statement-name",
    "client.output-format",
    "client.results-timeout",
    "table.local-time-zone",
    "table.exec.state.ttl",
    "table.exec.source.idle-timeout",
    "table.exec.mini-batch.enabled",
    "table.exec.mini-batch.allow-latency",
    "table.exec.mini-batch.size",
];

/// The table options of a CREATE / ALTER TABLE (`value` is `None` for `RESET`).
pub(super) fn table_option(key: &str, value: Option<&str>) -> Result<(), SqlError> {
    let refuse = |reason: String| {
        Err(SqlError::OptionNotAllowed {
            option: key.to_string(),
            context: "table option",
            reason,
        })
    };
    if !TABLE_OPTIONS.contains(&key) {
        return refuse(format!(
            "sqlgate declares each table's connector, topic and formats itself; the options \
             a table may set are {}",
            TABLE_OPTIONS.join(", ")
        ));
    }
    // How every table is read, as SHOW CREATE TABLE prints it; a statement reads otherwise
    // with a hint or a `sql.tables.scan.*` property, never by the table's definition.
    let read_as = match key {
        "scan.startup.mode" => Some(crate::kafka::shown::SCAN_STARTUP),
        "scan.bounded.mode" => Some(crate::kafka::shown::SCAN_BOUNDED),
        _ => None,
    };
    if let (Some(default), Some(v)) = (read_as, value)
        && v.trim() != default
    {
        return refuse(format!(
            "every table is read with '{key}' = '{default}'; a statement that reads otherwise              says so itself, with /*+ OPTIONS('{key}'='…') */ on the table or the statement              property 'sql.tables.{key}'"
        ));
    }
    if key == "connector"
        && let Some(v) = value
        && !CONNECTORS.contains(&v.trim())
    {
        return refuse(
            "a table's connector is the topic sqlgate declares ('confluent' or 'kafka'); \
             other connectors are not supported"
                .into(),
        );
    }
    Ok(())
}

/// `SET 'key' = '…'` / `RESET 'key'`; `None` for a bare `SET` / `RESET`.
pub(super) fn session_key(statement: &'static str, key: Option<&str>) -> Result<(), SqlError> {
    match key {
        None if statement == "RESET" => Ok(()),
        None => Err(SqlError::StatementNotAllowed {
            what: "SET without a key".into(),
            reason: "it lists the engine session's whole configuration; SET 'key' = 'value' \
                     for one of the allowed keys"
                .into(),
        }),
        Some(k) if SESSION_KEYS.contains(&k) => Ok(()),
        Some(k) => Err(SqlError::OptionNotAllowed {
            option: k.to_string(),
            context: if statement == "SET" {
                "session option (SET)"
            } else {
                "session option (RESET)"
            },
            reason: format!(
                "the session keys a statement may set are {}",
                SESSION_KEYS.join(", ")
            ),
        }),
    }
}

/// A statement or clause refused whoever sends it (see the module doc).
pub(super) fn refuse(what: &str) -> SqlError {
    let reason = match what {
        "ADD JAR" => {
            "it loads code into the engine, where it runs with the engine's credentials \
             beyond any role; UDF jars are installed with the engine by its operator"
        }
        "CREATE FUNCTION ... USING JAR" => {
            "it loads code into the engine, where it runs with the engine's credentials \
             beyond any role; create functions from classes installed with the engine"
        }
        "CREATE CATALOG" => {
            "catalogs are the gateway's environments; a catalog of the client's would connect \
             the engine to storage no role covers"
        }
        "CREATE TABLE ... LIKE" => {
            "it copies another table's options, connector and topic included; declare the \
             columns and options instead"
        }
        _ => "it could change which data is read or written",
    };
    SqlError::StatementNotAllowed {
        what: what.to_string(),
        reason: reason.into(),
    }
}
