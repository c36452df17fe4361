//! DDL and metadata statements the engine implements itself (not DataFusion's): CREATE TABLE
//! with Flink types, DROP TABLE, SHOW CATALOGS / DATABASES / TABLES and DESCRIBE.
//!
//! Owns the Flink column-definition rules (types, NOT NULL, PRIMARY KEY … NOT ENFORCED) and
//! the shape of metadata results. Listings return every row with a [`Listing`] saying what
//! the rows name: the gateway, not the engine, drops what the caller may not see.

use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{
    ColumnOption, CreateTable, ObjectName, ShowStatementFilter, ShowStatementFilterPosition,
    ShowStatementOptions, Statement,
};
use futures::StreamExt;
use futures::stream;
use serde_json::Value;

use super::exec::{UserTable, completion, table_ref_of, traits};
use super::storage::{ColumnMeta, StoredDistribution, TableMeta};
use super::{Column, EngineError, Inner, Output, ResultRow, Run, Schema};
use super::{kafka_error, kafka_table_error};
use crate::catalog::{Catalogs, EXAMPLES_CATALOG, EXAMPLES_DATABASE, ObjectRef, TableRef};
use crate::engine::Listing;
use crate::kafka::ddl::{NewTable, table_options};
use crate::kafka::layout::{OFFSET, PARTITION, ROWTIME};
use crate::sql::ddl::{AlterTable, FlinkDdl};
use crate::sql::types::{FlinkType, parse_flink_type};

/// Column names with their Flink types, in table order.
type Columns = Vec<(String, FlinkType)>;

/// `schema.json` layout version written by this build.
const META_FORMAT: u32 = 1;

pub(super) fn rows_execution(
    kind: &str,
    names: &[&str],
    types: Vec<FlinkType>,
    rows: Vec<Vec<Value>>,
    listing: Option<Listing>,
) -> Output {
    let columns = names
        .iter()
        .zip(types)
        .map(|(n, t)| Column {
            name: (*n).to_string(),
            data_type: t,
        })
        .collect();
    let rows: Vec<ResultRow> = rows
        .into_iter()
        .map(|row| ResultRow { op: 0, row })
        .collect();
    let stream = if rows.is_empty() {
        stream::empty().boxed()
    } else {
        stream::once(async move { Ok(rows) }).boxed()
    };
    Output {
        traits: traits(kind, Some(Schema { columns })),
        rows: stream,
        listing,
    }
}

fn text(s: &str) -> Value {
    Value::String(s.to_string())
}

/// SQL `LIKE` with `%` and `_` (no escapes), as SHOW … LIKE uses it.
pub(super) fn like(pattern: &str, s: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('%', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some(('_', rest)) => !s.is_empty() && go(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    go(
        &pattern.chars().collect::<Vec<_>>(),
        &s.chars().collect::<Vec<_>>(),
    )
}

/// The LIKE pattern of a SHOW statement, if any (other filters are refused).
fn like_filter(opts: &ShowStatementOptions) -> Result<Option<String>, EngineError> {
    let filter = match &opts.filter_position {
        None => return Ok(None),
        Some(ShowStatementFilterPosition::Infix(f) | ShowStatementFilterPosition::Suffix(f)) => f,
    };
    match filter {
        ShowStatementFilter::Like(p) => Ok(Some(p.clone())),
        other => Err(EngineError::Unsupported(format!("SHOW … {other}"))),
    }
}

impl Inner {
    /// Resolves the `catalog.database` a SHOW TABLES names to canonical ids (the gateway
    /// always names it: it makes the session's scope explicit before the engine sees it).
    fn resolve_database(&self, name: Option<&ObjectName>) -> Result<(String, String), EngineError> {
        let parts: Vec<String> = match name {
            Some(n) => {
                n.0.iter()
                    .filter_map(|p| p.as_ident().map(|i| i.value.clone()))
                    .collect()
            }
            None => Vec::new(),
        };
        let [catalog, database] = parts.as_slice() else {
            return Err(EngineError::Plan(format!(
                "Invalid database name `{}`; name one as SHOW TABLES FROM `catalog`.`database`",
                parts.join(".")
            )));
        };
        let not_found = || EngineError::DatabaseNotFound {
            catalog: catalog.clone(),
            database: database.clone(),
        };
        let cat = self.catalogs.catalog_id(catalog).ok_or_else(not_found)?;
        let db = self
            .catalogs
            .database_id(&cat, database)
            .ok_or_else(not_found)?;
        Ok((cat, db))
    }

    /// Parses column definitions and constraints of a CREATE TABLE into Flink columns and
    /// primary key (whose columns become NOT NULL, as in Flink).
    fn columns_of_ddl(ct: &CreateTable) -> Result<(Columns, Vec<String>), EngineError> {
        let mut primary_key = Vec::new();
        let mut columns = Vec::new();
        for col in &ct.columns {
            let name = col.name.value.clone();
            if columns
                .iter()
                .any(|(n, _): &(String, FlinkType)| *n == name)
            {
                return Err(EngineError::Plan(format!("Duplicate column name '{name}'")));
            }
            let mut t = parse_flink_type(&col.data_type.to_string())
                .map_err(|e| EngineError::Plan(format!("Invalid type of column '{name}': {e}")))?;
            for opt in &col.options {
                match &opt.option {
                    ColumnOption::NotNull => t = t.with_nullable(false),
                    ColumnOption::Null => {}
                    ColumnOption::PrimaryKey(_) => primary_key.push(name.clone()),
                    ColumnOption::Comment(_) => {}
                    other => {
                        return Err(EngineError::Unsupported(format!("column option {other}")));
                    }
                }
            }
            columns.push((name, t));
        }
        primary_key.extend(Self::primary_key_of(ct)?);
        for k in &primary_key {
            let Some((_, t)) = columns.iter_mut().find(|(n, _)| n == k) else {
                return Err(EngineError::Plan(format!(
                    "Primary key column '{k}' is not a column of the table"
                )));
            };
            *t = t.clone().with_nullable(false);
        }
        Ok((columns, primary_key))
    }

    pub(crate) async fn create_table(
        self: &Arc<Self>,
        ct: &CreateTable,
        stmt: &Statement,
        distribution: Option<crate::kafka::ddl::Distribution>,
    ) -> Result<Output, EngineError> {
        if ct.or_replace || ct.like.is_some() || ct.clone.is_some() {
            return Err(EngineError::Unsupported(
                "CREATE OR REPLACE / LIKE / CLONE".into(),
            ));
        }
        let target = table_ref_of(&ct.name)?;
        let (columns, primary_key) = Self::columns_of_ddl(ct)?;
        if columns.is_empty() {
            return Err(EngineError::Plan(
                "A table needs at least one column".into(),
            ));
        }
        if let Some(kc) = self.kafka_cluster(&target.catalog, &target.database) {
            let new = Self::new_topic_table(ct, &target, columns, &primary_key, distribution)?;
            self.create_topic_table(&kc, &target, &new, ct.if_not_exists)
                .await?;
            return Ok(Output {
                traits: traits("CREATE_TABLE", None),
                rows: completion(async { Ok(()) }),
                listing: None,
            });
        }
        // Outside Kafka the options and the distribution are the table's metadata, as
        // INFORMATION_SCHEMA and SHOW CREATE TABLE report them.
        let options =
            crate::kafka::ddl::create_options(&ct.table_options).map_err(EngineError::Plan)?;
        let distribution = match distribution {
            Some(d) => {
                if let Some(c) = d
                    .columns
                    .iter()
                    .find(|c| !columns.iter().any(|(n, _)| n == *c))
                {
                    return Err(EngineError::Plan(format!(
                        "Distribution column '{c}' is not a column of the table"
                    )));
                }
                Some(StoredDistribution {
                    columns: d.columns,
                    buckets: d.buckets,
                })
            }
            None => None,
        };
        self.create_user_table(
            &target,
            columns,
            primary_key,
            stmt.to_string(),
            ct.if_not_exists,
            (options, distribution),
        )
        .await?;
        Ok(Output {
            traits: traits("CREATE_TABLE", None),
            rows: completion(async { Ok(()) }),
            listing: None,
        })
    }

    /// The topic table a CREATE TABLE of a Kafka-backed database describes.
    fn new_topic_table(
        ct: &CreateTable,
        target: &TableRef,
        columns: Columns,
        primary_key: &[String],
        distribution: Option<crate::kafka::ddl::Distribution>,
    ) -> Result<NewTable, EngineError> {
        let partitions = distribution.as_ref().and_then(|d| d.buckets);
        let key_columns = match distribution {
            Some(d) if !d.columns.is_empty() => d.columns,
            _ => primary_key.to_vec(),
        };
        let options = Self::kafka_options(ct)?;
        Ok(NewTable {
            topic: target.table.clone(),
            columns,
            upsert: crate::kafka::ddl::is_upsert(primary_key, &key_columns, &options),
            key_columns,
            partitions,
            options,
        })
    }

    /// The layout the topic of a CREATE TABLE (without AS) in a Kafka-backed database would
    /// get, and its cluster, before anything is created; `None` for any other statement and
    /// for an invalid one (running it says why).
    pub(crate) fn planned_topic_table(
        &self,
        ct: &CreateTable,
        distribution: Option<crate::kafka::ddl::Distribution>,
    ) -> Option<(
        TableRef,
        crate::kafka::layout::TableLayout,
        Arc<crate::kafka::KafkaCluster>,
    )> {
        if ct.query.is_some() {
            return None;
        }
        let target = table_ref_of(&ct.name).ok()?;
        let kc = self.kafka_cluster(&target.catalog, &target.database)?;
        let (columns, primary_key) = Self::columns_of_ddl(ct).ok()?;
        let new = Self::new_topic_table(ct, &target, columns, &primary_key, distribution).ok()?;
        let layout = new.layout(kc.config().create_format());
        Some((target, layout, kc))
    }

    /// Creates, persists and registers a table. `Ok(None)` when it exists and `if_not_exists`.
    pub(crate) async fn create_user_table(
        &self,
        target: &TableRef,
        columns: Vec<(String, FlinkType)>,
        primary_key: Vec<String>,
        ddl: String,
        if_not_exists: bool,
        (options, distribution): (Vec<(String, String)>, Option<StoredDistribution>),
    ) -> Result<Option<Arc<UserTable>>, EngineError> {
        if Catalogs::is_examples(&target.catalog) {
            return Err(EngineError::ReadOnly(target.catalog.clone()));
        }
        let Some(schema) = self.schema_provider(&target.catalog, &target.database) else {
            return Err(EngineError::DatabaseNotFound {
                catalog: target.catalog.clone(),
                database: target.database.clone(),
            });
        };
        let _ddl = self.ddl.lock().await;
        if schema.table_exist(&target.table) {
            return if if_not_exists {
                Ok(None)
            } else {
                Err(EngineError::TableExists(target.clone()))
            };
        }
        let meta = TableMeta {
            format: META_FORMAT,
            catalog: target.catalog.clone(),
            database: target.database.clone(),
            table: target.table.clone(),
            columns: columns
                .iter()
                .map(|(n, t)| ColumnMeta {
                    name: n.clone(),
                    data_type: t.to_sql(),
                })
                .collect(),
            primary_key,
            ddl,
            options,
            distribution,
            first_seq: 0,
        };
        // Validate the types before anything touches the disk.
        let probe = UserTable::new(meta.clone(), std::path::PathBuf::new(), Vec::new(), 1)?;
        drop(probe);
        let store = self.store.clone();
        let on_disk = meta.clone();
        let dir = tokio::task::spawn_blocking(move || store.create(&on_disk))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => EngineError::TableExists(target.clone()),
                _ => EngineError::Storage(e),
            })?;
        let table = Arc::new(UserTable::new(meta, dir, Vec::new(), 1)?);
        schema
            .register_table(target.table.clone(), table.mem.clone())
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        self.tables
            .write()
            .map_err(|_| EngineError::Internal("table registry poisoned".into()))?
            .insert(target.clone(), table.clone());
        Ok(Some(table))
    }

    pub(crate) async fn drop_tables(
        &self,
        names: &[ObjectName],
        if_exists: bool,
    ) -> Result<Output, EngineError> {
        let targets = names
            .iter()
            .map(table_ref_of)
            .collect::<Result<Vec<_>, _>>()?;
        let _ddl = self.ddl.lock().await;
        for target in targets {
            if Catalogs::is_examples(&target.catalog) {
                return Err(EngineError::ReadOnly(target.catalog));
            }
            if let Some(kc) = self.kafka_cluster(&target.catalog, &target.database) {
                let dropped = crate::kafka::ddl::drop(&kc, &target.table)
                    .await
                    .map_err(|e| kafka_table_error(e, &target))?;
                if !dropped && !if_exists {
                    return Err(EngineError::TableNotFound(target));
                }
                continue;
            }
            let table = match self.user_table(&target) {
                Ok(t) => t,
                Err(EngineError::TableNotFound(_)) if if_exists => continue,
                Err(e) => return Err(e),
            };
            table.remove(&self.store).await?;
            if let Some(schema) = self.schema_provider(&target.catalog, &target.database) {
                schema
                    .deregister_table(&target.table)
                    .map_err(|e| EngineError::Internal(e.to_string()))?;
            }
            self.tables
                .write()
                .map_err(|_| EngineError::Internal("table registry poisoned".into()))?
                .remove(&target);
        }
        Ok(Output {
            traits: traits("DROP_TABLE", None),
            rows: completion(async { Ok(()) }),
            listing: None,
        })
    }

    pub(crate) async fn show_tables(
        &self,
        opts: &ShowStatementOptions,
    ) -> Result<Output, EngineError> {
        let parent = opts.show_in.as_ref().and_then(|i| i.parent_name.as_ref());
        let (catalog, database) = self.resolve_database(parent)?;
        let pattern = like_filter(opts)?;
        let schema = self.schema_provider(&catalog, &database).ok_or_else(|| {
            EngineError::DatabaseNotFound {
                catalog: catalog.clone(),
                database: database.clone(),
            }
        })?;
        let mut names = match self.kafka_cluster(&catalog, &database) {
            // Internal topics are not in the list.
            Some(kc) => kc
                .topics()
                .await
                .map_err(kafka_error)?
                .keys()
                .cloned()
                .collect(),
            None => schema.table_names(),
        };
        // The gateway's views are listed with the tables (see `crate::views`).
        names.extend(
            self.catalogs
                .views()
                .in_database(&catalog, &database)
                .iter()
                .map(|v| v.name.table.clone()),
        );
        names.sort();
        let rows = names
            .into_iter()
            .filter(|t| pattern.as_deref().is_none_or(|p| like(p, t)))
            .map(|t| vec![text(&t)])
            .collect();
        Ok(rows_execution(
            "SHOW_TABLES",
            &["table name"],
            vec![FlinkType::string(false)],
            rows,
            Some(Listing {
                parent: ObjectRef::Database(catalog, database),
                column: 0,
            }),
        ))
    }

    pub(crate) fn show_catalogs(&self) -> Result<Output, EngineError> {
        let mut rows: Vec<Vec<Value>> = self
            .catalogs
            .environments()
            .iter()
            .map(|e| vec![text(&e.display_name), text(&e.id)])
            .collect();
        rows.push(vec![text(EXAMPLES_CATALOG), text(EXAMPLES_CATALOG)]);
        Ok(rows_execution(
            "SHOW_CATALOGS",
            &["catalog name", "catalog id"],
            vec![FlinkType::string(false), FlinkType::string(false)],
            rows,
            Some(Listing {
                parent: ObjectRef::Organization,
                column: 1,
            }),
        ))
    }

    pub(crate) fn show_databases(
        &self,
        opts: &ShowStatementOptions,
    ) -> Result<Output, EngineError> {
        let named = opts
            .show_in
            .as_ref()
            .and_then(|i| i.parent_name.as_ref())
            .and_then(|n| n.0.first())
            .and_then(|p| p.as_ident())
            .map(|i| i.value.clone());
        // The gateway always names the catalog (it makes the session's scope explicit).
        let Some(catalog) = named else {
            return Err(EngineError::Plan(
                "No catalog is named; name one: SHOW DATABASES FROM `catalog`".into(),
            ));
        };
        let pattern = like_filter(opts)?;
        let id =
            self.catalogs
                .catalog_id(&catalog)
                .ok_or_else(|| EngineError::DatabaseNotFound {
                    catalog: catalog.clone(),
                    database: "*".into(),
                })?;
        let dbs: Vec<(String, String)> = if Catalogs::is_examples(&id) {
            vec![(EXAMPLES_DATABASE.into(), EXAMPLES_DATABASE.into())]
        } else {
            self.catalogs
                .environment(&id)
                .map(|e| {
                    e.clusters
                        .iter()
                        .map(|c| (c.display_name.clone(), c.id.clone()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let rows = dbs
            .into_iter()
            .filter(|(n, i)| pattern.as_deref().is_none_or(|p| like(p, n) || like(p, i)))
            .map(|(n, i)| vec![text(&n), text(&i)])
            .collect();
        Ok(rows_execution(
            "SHOW_DATABASES",
            &["database name", "database id"],
            vec![FlinkType::string(false), FlinkType::string(false)],
            rows,
            Some(Listing {
                parent: ObjectRef::Catalog(id),
                column: 1,
            }),
        ))
    }

    /// DESCRIBE: Flink's columns `name, type, null, key, extras, watermark`; a column in
    /// `masked` is reported with that type and nullability (a column mask's, as the caller
    /// reads it).
    pub(crate) async fn describe(
        &self,
        name: &ObjectName,
        masked: &std::collections::BTreeMap<String, FlinkType>,
    ) -> Result<Output, EngineError> {
        let target = table_ref_of(name)?;
        let provider = match self.schema_provider(&target.catalog, &target.database) {
            Some(s) => s
                .table(&target.table)
                .await
                .map_err(super::exec::plan_error)?,
            None => None,
        };
        // A view's columns as a read of it types them (Flink's CHAR(n) of its literals).
        let (schema, shapes) = match (provider, self.catalogs.views().get(&target)) {
            (Some(p), _) => (p.schema(), Vec::new()),
            (None, Some(view)) => self.view_schema(&view).await?,
            (None, None) => return Err(EngineError::TableNotFound(target)),
        };
        let primary_key = self
            .user_table(&target)
            .map(|t| t.meta.primary_key.clone())
            .unwrap_or_default();
        let examples = Catalogs::is_examples(&target.catalog);
        let topic = self
            .kafka_cluster(&target.catalog, &target.database)
            .is_some();
        let mut rows = Vec::new();
        for (i, field) in schema.fields().iter().enumerate() {
            let t = match masked.get(field.name()) {
                Some(t) => t.clone(),
                None => super::char_types::narrowed(
                    FlinkType::from_field(field).map_err(EngineError::Internal)?,
                    shapes.get(i).and_then(Option::as_ref),
                ),
            };
            let key = if primary_key.contains(field.name()) {
                text(&format!("PRI({})", primary_key.join(", ")))
            } else {
                Value::Null
            };
            let system = (examples || topic) && field.name() == ROWTIME;
            let metadata = topic && [PARTITION, OFFSET].contains(&field.name().as_str());
            rows.push(vec![
                text(field.name()),
                text(&t.clone().with_nullable(true).to_sql()),
                text(if t.nullable() { "TRUE" } else { "FALSE" }),
                key,
                if system {
                    text("METADATA VIRTUAL, SYSTEM")
                } else if metadata {
                    text("METADATA VIRTUAL")
                } else {
                    Value::Null
                },
                if system {
                    text("`SOURCE_WATERMARK`()")
                } else {
                    Value::Null
                },
            ]);
        }
        let s = || FlinkType::string(false);
        let n = || FlinkType::string(true);
        Ok(rows_execution(
            "DESCRIBE",
            &["name", "type", "null", "key", "extras", "watermark"],
            vec![
                s(),
                s(),
                FlinkType::new(crate::sql::types::Kind::Boolean, false),
                n(),
                n(),
                n(),
            ],
            rows,
            None,
        ))
    }
}

impl Inner {
    /// Runs a Flink-only CREATE TABLE (`DISTRIBUTED BY …`) or ALTER TABLE on a Kafka-backed
    /// database, from the typed clauses the gateway parsed. `None` when it is on another
    /// database, so the caller refuses it as every other Flink-only statement.
    pub(crate) async fn kafka_flink_ddl(
        self: &Arc<Self>,
        ddl: &FlinkDdl,
        ctx: &Run,
        guard: super::exec::Guard<'_>,
    ) -> Option<Result<Output, EngineError>> {
        match ddl {
            FlinkDdl::Create(create) => {
                let Statement::CreateTable(ct) = &create.statement else {
                    return None;
                };
                let target = table_ref_of(&ct.name).ok()?;
                // What the clauses name must be what was authorized.
                if guard.is_some_and(|checked| !checked.contains(&target)) {
                    return Some(Err(EngineError::UncheckedTable(target)));
                }
                let distribution = create.distribution.clone();
                if self
                    .kafka_cluster(&target.catalog, &target.database)
                    .is_none()
                    && ct.query.is_some()
                {
                    // CREATE TABLE … DISTRIBUTED BY … AS outside Kafka: refused by kind.
                    return None;
                }
                Some(if ct.query.is_some() {
                    self.create_table_as(ct, distribution, ctx, guard).await
                } else {
                    self.create_table(ct, &create.statement, distribution).await
                })
            }
            FlinkDdl::Alter(alter) => {
                let [c, d, t] = alter.name() else {
                    return None;
                };
                let target = TableRef::new(c, d, t);
                let kc = self.kafka_cluster(c, d)?;
                if guard.is_some_and(|checked| !checked.contains(&target)) {
                    return Some(Err(EngineError::UncheckedTable(target)));
                }
                if !matches!(alter, AlterTable::Set { .. } | AlterTable::Add { .. }) {
                    return Some(Err(EngineError::Unsupported(format!(
                        "{} is not supported on a Kafka-backed table: it would need a schema \
                         evolution in the registry that sqlgate does not make (ALTER TABLE … SET \
                         and ALTER TABLE … ADD run on a Kafka-backed table)",
                        alter.form()
                    ))));
                }
                Some(self.alter_topic_table(&kc, &target, alter.clone()).await)
            }
            _ => None,
        }
    }

    async fn alter_topic_table(
        &self,
        kc: &crate::kafka::KafkaCluster,
        target: &TableRef,
        alter: AlterTable,
    ) -> Result<Output, EngineError> {
        let _ddl = self.ddl.lock().await;
        if kc
            .topic(&target.table)
            .await
            .map_err(|e| kafka_table_error(e, target))?
            .is_none()
        {
            return Err(EngineError::TableNotFound(target.clone()));
        }
        match alter {
            AlterTable::Reset { .. }
            | AlterTable::Modify { .. }
            | AlterTable::DropColumns { .. }
            | AlterTable::Rename { .. } => {
                return Err(EngineError::Unsupported(format!(
                    "{} is not supported on a Kafka-backed table",
                    alter.form()
                )));
            }
            AlterTable::Set { options, .. } => {
                let o = table_options(&options).map_err(EngineError::Plan)?;
                if o.key_format.is_some() || o.value_format.is_some() {
                    return Err(EngineError::Unsupported(
                        "changing 'key.format' or 'value.format' of an existing table".into(),
                    ));
                }
                if !o.topic_configs.is_empty() {
                    kc.alter_topic(&target.table, &o.topic_configs)
                        .await
                        .map_err(|e| kafka_table_error(e, target))?;
                }
            }
            AlterTable::Add { columns, .. } => {
                let added = columns
                    .iter()
                    .map(|(n, t)| {
                        parse_flink_type(t).map(|t| (n.clone(), t)).map_err(|e| {
                            EngineError::Plan(format!("Invalid type of column '{n}': {e}"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                crate::kafka::ddl::add_columns(kc, &target.table, &added)
                    .await
                    .map_err(|e| kafka_table_error(e, target))?;
            }
        }
        Ok(Output {
            traits: traits("ALTER_TABLE", None),
            rows: completion(async { Ok(()) }),
            listing: None,
        })
    }
}

/// For a Flink-only CREATE TABLE this engine does not hold, the clause that makes it so
/// (`a WATERMARK clause`, `metadata columns`, …), found on the statement's tokens outside
/// strings and quoted names; `None` for any other statement.
pub(crate) fn unheld_clause(kind: &str, sql: &str) -> Option<&'static str> {
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    if !matches!(kind, "CREATE_TABLE" | "CREATE_TABLE_AS") {
        return None;
    }
    let tokens = Tokenizer::new(&crate::sql::FlinkDialect, sql)
        .tokenize()
        .ok()?;
    let word = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    let mut depth = 0i32;
    let mut found = None;
    for t in &tokens {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth == 1 && word(t, "WATERMARK") => {
                return Some("a WATERMARK clause (its in-memory tables carry no event time)");
            }
            _ if depth == 1 && word(t, "METADATA") => found = Some("metadata columns"),
            _ if depth == 0 && word(t, "LIKE") => found = found.or(Some("LIKE")),
            _ => {}
        }
    }
    found.or(Some(
        "a column or clause it does not hold (computed columns, …)",
    ))
}
