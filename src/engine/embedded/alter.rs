//! The Flink-only statements the engine runs itself on its in-memory tables: ALTER TABLE
//! (`SET` / `RESET` options, `ADD`, `MODIFY` and `DROP` columns, `RENAME TO`) and TRUNCATE
//! TABLE; and the dispatch of the Flink-only metadata statements (`show.rs`).
//!
//! Owns the rules of each change (what may be dropped, renamed, cast) and keeping the
//! registry, the DataFusion schema and the files in step: every change is one durable
//! rewrite of the table ([`UserTable::rewrite`]) or rename, under the engine's DDL lock.
//! A Kafka-backed table is changed by `ddl.rs` (SET, ADD) or refused here by name.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, new_null_array};

use super::exec::{UserTable, completion, traits};
use super::storage::ColumnMeta;
use super::{EngineError, Inner, Output, Run};
use crate::catalog::{Catalogs, TableRef};
use crate::sql::ddl::{AlterTable, FlinkDdl};
use crate::sql::types::parse_flink_type;

/// The checked canonical table a typed statement names.
fn checked_table(name: &[String], checked: &HashSet<TableRef>) -> Result<TableRef, EngineError> {
    let [c, d, t] = name else {
        return Err(EngineError::Internal(format!(
            "not a canonical table name: {}",
            name.join(".")
        )));
    };
    let target = TableRef::new(c, d, t);
    if !checked.contains(&target) {
        return Err(EngineError::UncheckedTable(target));
    }
    Ok(target)
}

fn done(kind: &str) -> Output {
    Output {
        traits: traits(kind, None),
        rows: completion(async { Ok(()) }),
        listing: None,
    }
}

impl Inner {
    /// Runs a typed Flink-only statement this engine implements (everything but CREATE
    /// TABLE, which `ddl.rs` runs); `None` hands it back to be refused by kind. Every table it
    /// names must be one the gateway checked.
    pub(crate) async fn flink_only(
        self: &Arc<Self>,
        ddl: &FlinkDdl,
        ctx: &Run,
        checked: &HashSet<TableRef>,
    ) -> Option<Result<Output, EngineError>> {
        Some(match ddl {
            FlinkDdl::Create(_) => return None,
            FlinkDdl::Alter(alter) => match checked_table(alter.name(), checked) {
                Ok(t) => self.alter_user_table(&t, alter, checked).await,
                Err(e) => Err(e),
            },
            FlinkDdl::Truncate(name) => match checked_table(name, checked) {
                Ok(t) => self.truncate(&t).await,
                Err(e) => Err(e),
            },
            FlinkDdl::ShowCreateTable(name) => match checked_table(name, checked) {
                Ok(t) => self.show_create_table(&t).await,
                Err(e) => Err(e),
            },
            FlinkDdl::ShowColumns { name, like } => match checked_table(name, checked) {
                Ok(t) => self.show_columns(&t, like.as_ref()).await,
                Err(e) => Err(e),
            },
            FlinkDdl::ShowFunctions { user, like } => self.show_functions(*user, like.as_ref()),
            FlinkDdl::Explain { statement, details } => {
                self.explain(statement, details, ctx, Some(checked)).await
            }
        })
    }

    /// The user table behind `target`, refusing the read-only and Kafka-backed ones by name
    /// (`what` is the statement form).
    fn changeable(&self, target: &TableRef, what: &str) -> Result<Arc<UserTable>, EngineError> {
        if Catalogs::is_examples(&target.catalog) {
            return Err(EngineError::ReadOnly(target.catalog.clone()));
        }
        if self
            .kafka_cluster(&target.catalog, &target.database)
            .is_some()
        {
            return Err(EngineError::Unsupported(format!(
                "{what} is not supported on a Kafka-backed table: it would need a schema \
                 evolution or a deletion of records in the topic that sqlgate does not make \
                 (ALTER TABLE … SET and ALTER TABLE … ADD run on a Kafka-backed table)"
            )));
        }
        self.user_table(target)
    }

    /// Puts `new` in the place of the table `old` in the registry and the DataFusion schema.
    fn swap(&self, old: &TableRef, new: Arc<UserTable>) -> Result<(), EngineError> {
        let name = new.meta.table_ref();
        if let Some(schema) = self.schema_provider(&old.catalog, &old.database) {
            schema
                .deregister_table(&old.table)
                .map_err(|e| EngineError::Internal(e.to_string()))?;
        }
        let schema = self
            .schema_provider(&name.catalog, &name.database)
            .ok_or_else(|| EngineError::DatabaseNotFound {
                catalog: name.catalog.clone(),
                database: name.database.clone(),
            })?;
        schema
            .register_table(name.table.clone(), new.mem.clone())
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let mut tables = self
            .tables
            .write()
            .map_err(|_| EngineError::Internal("table registry poisoned".into()))?;
        tables.remove(old);
        tables.insert(name, new);
        Ok(())
    }

    async fn truncate(&self, target: &TableRef) -> Result<Output, EngineError> {
        let _ddl = self.ddl.lock().await;
        let table = self.changeable(target, "TRUNCATE TABLE")?;
        let new = table
            .rewrite(table.meta.clone(), |_, _| Ok(Vec::new()))
            .await?;
        self.swap(target, new)?;
        Ok(done("TRUNCATE_TABLE"))
    }

    async fn alter_user_table(
        &self,
        target: &TableRef,
        alter: &AlterTable,
        checked: &HashSet<TableRef>,
    ) -> Result<Output, EngineError> {
        let _ddl = self.ddl.lock().await;
        let table = self.changeable(target, alter.form())?;
        let mut meta = table.meta.clone();
        let has =
            |meta: &super::storage::TableMeta, n: &str| meta.columns.iter().any(|c| c.name == n);
        let new = match alter {
            AlterTable::Set { options, .. } => {
                for (k, v) in options {
                    match meta.options.iter_mut().find(|(x, _)| x == k) {
                        Some(entry) => entry.1 = v.clone(),
                        None => meta.options.push((k.clone(), v.clone())),
                    }
                }
                table.rewrite(meta, |rows, _| Ok(rows)).await?
            }
            AlterTable::Reset { keys, .. } => {
                meta.options.retain(|(k, _)| !keys.contains(k));
                table.rewrite(meta, |rows, _| Ok(rows)).await?
            }
            AlterTable::Add { columns, .. } => {
                let before = meta.columns.len();
                for (n, t) in columns {
                    if has(&meta, n) {
                        return Err(EngineError::Plan(format!(
                            "Try to add a column `{n}` which already exists in the table"
                        )));
                    }
                    let t = parse_flink_type(t).map_err(|e| {
                        EngineError::Plan(format!("Invalid type of column '{n}': {e}"))
                    })?;
                    meta.columns.push(ColumnMeta {
                        name: n.clone(),
                        data_type: t.to_sql(),
                    });
                }
                // Existing rows read NULL in the new columns.
                table
                    .rewrite(meta, move |rows, schema| {
                        rows.into_iter()
                            .map(|b| {
                                let mut cols = b.columns().to_vec();
                                for f in &schema.fields()[before..] {
                                    cols.push(new_null_array(f.data_type(), b.num_rows()));
                                }
                                RecordBatch::try_new(schema.clone(), cols)
                                    .map_err(|e| EngineError::Execution(e.to_string()))
                            })
                            .collect()
                    })
                    .await?
            }
            AlterTable::Modify { columns, .. } => {
                for (n, t) in columns {
                    let Some(c) = meta.columns.iter_mut().find(|c| c.name == *n) else {
                        return Err(EngineError::Plan(format!(
                            "Try to modify a column `{n}` which does not exist in the table"
                        )));
                    };
                    let mut t = parse_flink_type(t).map_err(|e| {
                        EngineError::Plan(format!("Invalid type of column '{n}': {e}"))
                    })?;
                    if meta.primary_key.contains(n) {
                        t = t.with_nullable(false);
                    }
                    c.data_type = t.to_sql();
                }
                // Each stored value is cast to its column's new type; one that does not cast
                // fails the statement and changes nothing.
                table.rewrite(meta, |rows, _| Ok(rows)).await?
            }
            AlterTable::DropColumns { columns, .. } => {
                for n in columns {
                    if !has(&meta, n) {
                        return Err(EngineError::Plan(format!(
                            "The column `{n}` does not exist in the table"
                        )));
                    }
                    if meta.primary_key.contains(n) {
                        return Err(EngineError::Plan(format!(
                            "The column `{n}` is referenced by the primary key and cannot be \
                             dropped"
                        )));
                    }
                    if meta
                        .distribution
                        .as_ref()
                        .is_some_and(|d| d.columns.contains(n))
                    {
                        return Err(EngineError::Plan(format!(
                            "The column `{n}` is a distribution key and cannot be dropped"
                        )));
                    }
                }
                let kept: Vec<usize> = meta
                    .columns
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !columns.contains(&c.name))
                    .map(|(i, _)| i)
                    .collect();
                if kept.is_empty() {
                    return Err(EngineError::Plan(
                        "A table needs at least one column; it cannot drop all of them".into(),
                    ));
                }
                meta.columns.retain(|c| !columns.contains(&c.name));
                table
                    .rewrite(meta, move |rows, _| {
                        rows.into_iter()
                            .map(|b| {
                                b.project(&kept)
                                    .map_err(|e| EngineError::Execution(e.to_string()))
                            })
                            .collect()
                    })
                    .await?
            }
            AlterTable::Rename { to, .. } => {
                let to = checked_table(to, checked)?;
                if Catalogs::is_examples(&to.catalog) {
                    return Err(EngineError::ReadOnly(to.catalog));
                }
                if self.kafka_cluster(&to.catalog, &to.database).is_some() {
                    return Err(EngineError::Unsupported(
                        "ALTER TABLE … RENAME TO into a Kafka-backed database is not supported"
                            .into(),
                    ));
                }
                let Some(schema) = self.schema_provider(&to.catalog, &to.database) else {
                    return Err(EngineError::DatabaseNotFound {
                        catalog: to.catalog,
                        database: to.database,
                    });
                };
                if schema.table_exist(&to.table) || self.catalogs.views().get(&to).is_some() {
                    return Err(EngineError::TableExists(to));
                }
                meta.catalog = to.catalog.clone();
                meta.database = to.database.clone();
                meta.table = to.table.clone();
                table.renamed(&self.store, meta).await?
            }
        };
        self.swap(target, new)?;
        Ok(done("ALTER_TABLE"))
    }
}
