//! CREATE, ALTER and DROP TABLE on a Kafka-backed database, as topic and subject operations.
//!
//! Owns the mapping from Flink table options (`'kafka.retention.time'`, `'value.format'`, …)
//! to topic configs and formats, the `DISTRIBUTED BY … INTO n BUCKETS` clause (key columns and
//! partitions, parsed by [`crate::sql::ddl`]), and the order of Kafka calls that keeps a table whole: a CREATE makes the
//! topic, then registers its subjects, and undoes the topic (and any subject it registered)
//! if a later call fails; a DROP deletes the topic first and its subjects after.

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::ast::{CreateTableOptions, Expr, SqlOption, Value, ValueWithSpan};

use super::cluster::KafkaCluster;
use super::layout::Format;
use super::schema_of::{CHANGELOG_KEYWORD, FORMAT_KEYWORD, UPSERT};
use super::subjects::SchemaType;
use super::{KafkaError, codec, json_schema};
use crate::sql::FlinkType;

pub use crate::sql::ddl::{AlterTable, Distribution, FlinkCreate, parse_alter, parse_create};

/// What a table's WITH options ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOptions {
    /// Topic configs to set.
    pub topic_configs: BTreeMap<String, String>,
    /// `key.format`, if given.
    pub key_format: Option<Format>,
    /// `value.format`, if given.
    pub value_format: Option<Format>,
    /// `'changelog.mode' = 'append'` was given: a PRIMARY KEY is then only the record key.
    pub append: bool,
}

/// The options a Kafka-backed table accepts, for error messages.
const SUPPORTED: &str = "'connector', 'changelog.mode', 'key.format', 'value.format', \
    'kafka.retention.time', 'kafka.retention.size', 'kafka.cleanup-policy', \
    'kafka.max-message-size', 'kafka.message-timestamp-type', 'scan.startup.mode' \
    (as 'earliest-offset'), 'scan.bounded.mode' (as 'unbounded')";

/// Maps Flink table options to topic configs and formats; unknown options are refused.
pub fn table_options(options: &[(String, String)]) -> Result<TableOptions, String> {
    let mut out = TableOptions {
        topic_configs: BTreeMap::new(),
        key_format: None,
        value_format: None,
        append: false,
    };
    for (k, v) in options {
        let v = v.trim();
        let bad = || format!("invalid value '{v}' for option '{k}'");
        match k.as_str() {
            "connector" if v == "confluent" || v == "kafka" => {}
            "changelog.mode" if v == "append" => out.append = true,
            // What SHOW CREATE TABLE prints for an upsert table (a PRIMARY KEY on the record
            // key makes it one), and how every table is read: accepted as they are, so its
            // output runs as a CREATE TABLE.
            "changelog.mode" if v == "upsert" => {}
            "scan.startup.mode" if v == super::shown::SCAN_STARTUP => {}
            "scan.bounded.mode" if v == super::shown::SCAN_BOUNDED => {}
            "key.format" | "value.format" => {
                let f = Format::parse(v).filter(|f| *f != Format::Raw).ok_or_else(|| {
                    format!(
                        "option '{k}' must be 'json-registry', 'avro-registry' or 'json', not '{v}'"
                    )
                })?;
                if k == "key.format" {
                    out.key_format = Some(f);
                } else {
                    out.value_format = Some(f);
                }
            }
            "kafka.retention.time" => {
                // 0 is Confluent's "no limit", and how SHOW CREATE TABLE shows it (`0 ms`).
                let ms = match v {
                    "0" | "-1" | "infinite" => -1,
                    _ => match humantime::parse_duration(&v.replace(' ', ""))
                        .map_err(|_| bad())?
                        .as_millis() as i64
                    {
                        0 => -1,
                        ms => ms,
                    },
                };
                out.topic_configs
                    .insert("retention.ms".into(), ms.to_string());
            }
            "kafka.retention.size" => {
                // A size as SHOW CREATE TABLE shows it (`0 bytes`, `1 gb`); 0 and -1 are
                // Confluent's "no limit".
                let bytes = match super::shown::parse_memory_size(v).ok_or_else(bad)? {
                    0 | -1 => -1,
                    n if n < 0 => return Err(bad()),
                    n => n,
                };
                out.topic_configs
                    .insert("retention.bytes".into(), bytes.to_string());
            }
            "kafka.cleanup-policy" => {
                let policy = match v {
                    "delete" => "delete",
                    "compact" => "compact",
                    "delete-compact" => "compact,delete",
                    _ => return Err(bad()),
                };
                out.topic_configs
                    .insert("cleanup.policy".into(), policy.into());
            }
            "kafka.max-message-size" => {
                let bytes = super::shown::parse_memory_size(v)
                    .filter(|n| *n > 0)
                    .ok_or_else(bad)?;
                out.topic_configs
                    .insert("max.message.bytes".into(), bytes.to_string());
            }
            "kafka.message-timestamp-type" => {
                let t = match v {
                    "create-time" => "CreateTime",
                    "log-append-time" => "LogAppendTime",
                    _ => return Err(bad()),
                };
                out.topic_configs
                    .insert("message.timestamp.type".into(), t.into());
            }
            other => {
                return Err(format!(
                    "option '{other}' = '{v}' is not supported for a Kafka-backed table; \
                     supported: {SUPPORTED}"
                ));
            }
        }
    }
    Ok(out)
}

/// The `WITH (…)` options of a parsed CREATE TABLE.
pub fn create_options(options: &CreateTableOptions) -> Result<Vec<(String, String)>, String> {
    let list: &[SqlOption] = match options {
        CreateTableOptions::None => return Ok(Vec::new()),
        CreateTableOptions::With(o) => o,
        _ => return Err("only WITH ('key' = 'value', …) options are supported".into()),
    };
    list.iter()
        .map(|o| match o {
            SqlOption::KeyValue { key, value } => {
                let k = key.value.clone();
                let v = match value {
                    Expr::Value(ValueWithSpan {
                        value: Value::SingleQuotedString(s),
                        ..
                    }) => s.clone(),
                    other => return Err(format!("option '{k}' must be a string, not {other}")),
                };
                Ok((k, v))
            }
            other => Err(format!("unsupported option {other}")),
        })
        .collect()
}

/// A schema ready to register: its type and text.
fn schema_text(
    format: Format,
    record: &str,
    columns: &[(String, FlinkType)],
) -> Result<(SchemaType, String), String> {
    match format {
        Format::Json | Format::JsonRegistry => {
            let text = json_schema::to_json_schema(columns)?;
            if format == Format::Json {
                let mut v: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| e.to_string())?;
                if let Some(o) = v.as_object_mut() {
                    o.insert(FORMAT_KEYWORD.into(), format.as_str().into());
                }
                return Ok((SchemaType::Json, v.to_string()));
            }
            Ok((SchemaType::Json, text))
        }
        Format::AvroRegistry => Ok((
            SchemaType::Avro,
            codec::avro::to_avro_schema(record, columns)?,
        )),
        Format::Raw => Err("raw format is not registered".into()),
    }
}

/// A key schema's text with the upsert mark ([`CHANGELOG_KEYWORD`]) at its top level (a JSON
/// Schema and an Avro record are both JSON objects; both allow extra keywords).
fn mark_upsert(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(mut o)) => {
            o.insert(CHANGELOG_KEYWORD.into(), UPSERT.into());
            serde_json::Value::Object(o).to_string()
        }
        _ => text.to_string(),
    }
}

/// A new table, as CREATE TABLE describes it.
#[derive(Debug, Clone)]
pub struct NewTable {
    /// Topic (table) name.
    pub topic: String,
    /// Columns in order.
    pub columns: Vec<(String, FlinkType)>,
    /// Columns carried in the key.
    pub key_columns: Vec<String>,
    /// The key columns are the table's PRIMARY KEY and the topic an upsert changelog
    /// (Confluent's default for a table with a primary key, unless `'changelog.mode' =
    /// 'append'`); recorded in the key schema ([`CHANGELOG_KEYWORD`]).
    pub upsert: bool,
    /// Partitions (`None`: the cluster's default).
    pub partitions: Option<i32>,
    /// Options from WITH.
    pub options: TableOptions,
}

impl NewTable {
    /// The layout the topic gets once created, formats not given in WITH being `default`
    /// (the cluster's), with no schema registered yet.
    pub fn layout(&self, default: Format) -> super::layout::TableLayout {
        super::layout::TableLayout {
            topic: self.topic.clone(),
            columns: self.columns.clone(),
            key_columns: self.key_columns.clone(),
            key_format: self.options.key_format.unwrap_or(default),
            value_format: self.options.value_format.unwrap_or(default),
            key_schema: None,
            value_schema: None,
            upsert: self.upsert,
        }
    }
}

/// Whether a new table is an upsert table: it has a PRIMARY KEY, its record key is exactly
/// that key (a `DISTRIBUTED BY` on other columns makes it append-only), and its options do
/// not say `'changelog.mode' = 'append'`.
pub fn is_upsert(primary_key: &[String], key_columns: &[String], options: &TableOptions) -> bool {
    !primary_key.is_empty() && primary_key == key_columns && !options.append
}

/// Creates the topic and registers its subjects; on any failure removes what it made.
pub async fn create(cluster: &KafkaCluster, t: &NewTable) -> Result<(), KafkaError> {
    let definition = |m: String| KafkaError::Schema(m);
    if super::cluster::is_internal(&t.topic) {
        return Err(definition(format!(
            "table names starting with `_` are reserved for internal topics: `{}`",
            t.topic
        )));
    }
    for k in &t.key_columns {
        if !t.columns.iter().any(|(n, _)| n == k) {
            return Err(definition(format!(
                "key column '{k}' is not a column of the table"
            )));
        }
    }
    let key_cols: Vec<(String, FlinkType)> = t
        .key_columns
        .iter()
        .filter_map(|k| t.columns.iter().find(|(n, _)| n == k).cloned())
        .collect();
    let value_cols: Vec<(String, FlinkType)> = t
        .columns
        .iter()
        .filter(|(n, _)| !t.key_columns.contains(n))
        .cloned()
        .collect();
    if value_cols.is_empty() {
        return Err(definition(
            "every column is a key column; a Kafka-backed table needs at least one value column"
                .into(),
        ));
    }
    let default = cluster.config().create_format();
    let layout = t.layout(default);
    let (value_format, key_format) = (layout.value_format, layout.key_format);
    // Build both schemas before touching Kafka, so a bad definition changes nothing.
    let value = schema_text(value_format, "record", &value_cols).map_err(definition)?;
    let key = if key_cols.is_empty() {
        None
    } else {
        let (kind, text) = schema_text(key_format, "key", &key_cols).map_err(definition)?;
        Some((kind, if t.upsert { mark_upsert(&text) } else { text }))
    };
    let partitions = t.partitions.unwrap_or(cluster.config().default_partitions);
    cluster
        .create_topic(&t.topic, partitions, &t.options.topic_configs)
        .await?;
    let mut registered: Vec<String> = Vec::new();
    let mut result = Ok(());
    for (suffix, schema) in [("value", Some(value)), ("key", key)] {
        let Some((kind, text)) = schema else { continue };
        let subject = format!("{}-{suffix}", t.topic);
        match cluster.subjects().register(&subject, kind, &text).await {
            Ok(_) => registered.push(subject),
            Err(e) => {
                result = Err(KafkaError::from(e));
                break;
            }
        }
    }
    if let Err(e) = result {
        undo(cluster, &t.topic, &registered).await;
        return Err(e);
    }
    cluster.invalidate(&t.topic).await;
    Ok(())
}

/// Best-effort removal of a half-made table; failures are logged, the original error wins.
async fn undo(cluster: &KafkaCluster, topic: &str, subjects: &[String]) {
    for s in subjects {
        if let Err(e) = cluster.subjects().delete(s).await {
            tracing::warn!(subject = %s, error = %e, "could not remove the subject of a failed CREATE TABLE");
        }
    }
    if let Err(e) = cluster.delete_topic(topic).await {
        tracing::warn!(topic, error = %e, "could not remove the topic of a failed CREATE TABLE");
    }
}

/// Deletes the topic, then its subjects. `Ok(false)` if the topic did not exist.
pub async fn drop(cluster: &KafkaCluster, topic: &str) -> Result<bool, KafkaError> {
    if cluster.topic(topic).await?.is_none() {
        return Ok(false);
    }
    cluster.delete_topic(topic).await?;
    for suffix in ["value", "key"] {
        let subject = format!("{topic}-{suffix}");
        if let Err(e) = cluster.subjects().delete(&subject).await {
            // The table is gone; a leftover subject is replaced by the next CREATE.
            tracing::warn!(%subject, error = %e, "topic deleted but its subject was not");
        }
    }
    cluster.invalidate(topic).await;
    Ok(true)
}

/// `ALTER TABLE … ADD`: registers a new value schema version with the added columns
/// (nullable, so records written before still decode).
pub async fn add_columns(
    cluster: &KafkaCluster,
    topic: &str,
    added: &[(String, FlinkType)],
) -> Result<(), KafkaError> {
    let Some(table) = cluster.table(topic).await? else {
        return Err(KafkaError::TopicNotFound(topic.to_string()));
    };
    let layout = &table.layout;
    let Some(value) = &layout.value_schema else {
        return Err(KafkaError::Schema(format!(
            "table {topic} has no registered value schema; columns cannot be added to raw \
             key/val"
        )));
    };
    let mut value_cols: Vec<(String, FlinkType)> = layout.value_columns().cloned().collect();
    for (n, t) in added {
        if layout.columns.iter().any(|(c, _)| c == n) {
            return Err(KafkaError::Schema(format!("column '{n}' already exists")));
        }
        value_cols.push((n.clone(), t.clone().with_nullable(true)));
    }
    let (kind, text) =
        schema_text(layout.value_format, "record", &value_cols).map_err(KafkaError::Schema)?;
    cluster
        .subjects()
        .register(&value.subject, kind, &text)
        .await?;
    cluster.invalidate(topic).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::ast::Statement;

    #[test]
    fn distribution_is_split_off_and_the_rest_parses() {
        let c = parse_create(
            "CREATE TABLE `e`.`d`.`t` (id INT, v STRING) DISTRIBUTED BY HASH(id) INTO 4 BUCKETS WITH ('value.format' = 'json')",
        )
        .unwrap();
        assert_eq!(
            c.distribution,
            Some(Distribution {
                columns: vec!["id".into()],
                buckets: Some(4)
            })
        );
        let Statement::CreateTable(ct) = c.statement else {
            panic!("not a CREATE TABLE")
        };
        assert_eq!(ct.columns.len(), 2);
        assert_eq!(
            create_options(&ct.table_options).unwrap(),
            [("value.format".to_string(), "json".to_string())]
        );
        let c = parse_create("CREATE TABLE t (a INT) DISTRIBUTED INTO 3 BUCKETS").unwrap();
        assert_eq!(
            c.distribution,
            Some(Distribution {
                columns: vec![],
                buckets: Some(3)
            })
        );
        let c = parse_create("CREATE TABLE t (a INT, b INT) DISTRIBUTED BY (a, b)").unwrap();
        assert_eq!(c.distribution.unwrap().columns, ["a", "b"]);
        assert!(parse_create("CREATE TABLE t (a INT) DISTRIBUTED INTO 0 BUCKETS").is_err());
        assert!(
            parse_create("CREATE TABLE t (a INT)")
                .unwrap()
                .distribution
                .is_none()
        );
    }

    #[test]
    fn alter_forms() {
        match parse_alter("ALTER TABLE `e`.`d`.`t` SET ('kafka.retention.time' = '1 d')").unwrap() {
            AlterTable::Set { name, options } => {
                assert_eq!(name, ["e", "d", "t"]);
                assert_eq!(options, [("kafka.retention.time".into(), "1 d".into())]);
            }
            other => panic!("{other:?}"),
        }
        match parse_alter("ALTER TABLE t ADD (a INT, b STRING)").unwrap() {
            AlterTable::Add { columns, .. } => {
                assert_eq!(
                    columns,
                    [("a".into(), "INT".into()), ("b".into(), "STRING".into())]
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_alter("ALTER TABLE t DROP WATERMARK").is_err());
    }

    #[test]
    fn options_map_to_topic_configs_and_unknown_ones_are_refused() {
        let o = table_options(&[
            ("kafka.retention.time".into(), "7 d".into()),
            ("kafka.cleanup-policy".into(), "delete-compact".into()),
            ("value.format".into(), "avro-registry".into()),
        ])
        .unwrap();
        assert_eq!(
            o.topic_configs["retention.ms"],
            (7 * 86_400_000i64).to_string()
        );
        assert_eq!(o.topic_configs["cleanup.policy"], "compact,delete");
        assert_eq!(o.value_format, Some(Format::AvroRegistry));
        let e = table_options(&[("connector".into(), "filesystem".into())]).unwrap_err();
        assert!(
            e.contains("not supported") && e.contains("kafka.retention.time"),
            "{e}"
        );
        assert!(table_options(&[("kafka.retention.time".into(), "soon".into())]).is_err());
        // What SHOW CREATE TABLE shows reads back to the same topic configs.
        let o = table_options(&[
            ("kafka.retention.time".into(), "0 ms".into()),
            ("kafka.retention.size".into(), "0 bytes".into()),
            ("kafka.max-message-size".into(), "2097164 bytes".into()),
        ])
        .unwrap();
        assert_eq!(o.topic_configs["retention.ms"], "-1");
        assert_eq!(o.topic_configs["retention.bytes"], "-1");
        assert_eq!(o.topic_configs["max.message.bytes"], "2097164");
        let o = table_options(&[("kafka.retention.size".into(), "1 gb".into())]).unwrap();
        assert_eq!(o.topic_configs["retention.bytes"], (1i64 << 30).to_string());
    }
}
