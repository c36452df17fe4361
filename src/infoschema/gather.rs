//! The rows of the views a statement reads, and only those the caller may see.
//!
//! Catalogs and databases come from the resource model, filtered by the predicate every SHOW
//! uses ([`Gateway::visibility`]). Tables come from the SHOW TABLES the gateway runs for the
//! caller (decided for the caller like any statement it sends, then filtered by the same
//! listing rule: `pipeline/listing.rs`), their columns from a DESCRIBE decided the same way,
//! on the engine of the caller's compute pool, whichever that is. A table the caller may not
//! see is never described: no row, count or error can come of it.
//!
//! A listed table's `WITH` options and distribution (`TABLE_OPTIONS`, `TABLES`, `COLUMNS`)
//! are read as the engine keeps them ([`Gateway::table_definition`]: an in-memory table's
//! metadata, a Kafka-backed table's topic), with no decision of their own: the SHOW TABLES
//! that listed the table was decided and filtered for the caller, and the predicate that
//! filtered it is the `describe` a SHOW CREATE TABLE of it would be decided on.
//!
//! Timing: a hidden object costs what SHOW costs for it (one visibility check while its
//! listing is filtered) and nothing else; the work after that (DESCRIBE, rows) is per visible
//! object, which the caller can count anyway. A hidden catalog never gets here: it fails in
//! name resolution on the code path of a catalog that does not exist.

use std::sync::Arc;

use futures::StreamExt;
use serde_json::Value;
use tracing::warn;

use super::ViewRef;
use super::views::{self, View};
use crate::catalog::{Catalogs, EXAMPLES_CATALOG, EXAMPLES_DATABASE, ObjectRef, TableRef};
use crate::engine::{EngineError, ExecContext, TableDefinition};
use crate::gateway::Gateway;
use crate::pipeline::{Request, decide};
use crate::rewrite::RewrittenStatement;
use crate::sql::SessionNames;

/// One cell of a view's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cell {
    /// A `STRING`.
    Str(String),
    /// An `INT`.
    Int(i32),
    /// NULL.
    Null,
}

/// A view's rows, for one catalog.
#[derive(Debug)]
pub(crate) struct ViewRows {
    pub(crate) view: ViewRef,
    pub(crate) def: &'static View,
    pub(crate) rows: Vec<Vec<Cell>>,
}

/// The most rows one internal listing may bring (a bound, not a feature: far above any real
/// catalog, and a listing past it fails rather than exhausting memory).
const MAX_LISTED: usize = 100_000;

fn st(s: &str) -> Cell {
    Cell::Str(s.to_string())
}

fn yes_no(b: bool) -> Cell {
    st(if b { "YES" } else { "NO" })
}

/// A visible database of a catalog: id and display name.
#[derive(Debug, Clone)]
struct Database {
    id: String,
    name: String,
}

/// One column as DESCRIBE reports it.
#[derive(Debug, Clone)]
struct Described {
    name: String,
    data_type: String,
    nullable: bool,
    key: Option<String>,
    extras: Option<String>,
    watermark: Option<String>,
}

/// A visible table and, if it could be described, its columns.
#[derive(Debug)]
struct Table {
    db: Database,
    name: String,
    columns: Vec<Described>,
    /// The `WITH` options and `DISTRIBUTED BY` clause, as the engine keeps them (SHOW CREATE
    /// TABLE shows the same); none where it keeps none or they are not read.
    options: Vec<(String, String)>,
    distribution: Option<crate::sql::ddl::Distribution>,
}

/// Gathers the rows of every view in `views` that `stmt`'s caller may see.
pub(crate) async fn tables(
    gw: &Arc<Gateway>,
    stmt: &RewrittenStatement,
    views: &[ViewRef],
) -> Result<Vec<ViewRows>, EngineError> {
    let principal = stmt.warrant().principal().to_string();
    let visible = gw.visibility(&principal);
    let catalogs = gw.catalogs();
    let mut out = Vec::new();
    // Each catalog's tables are listed once, however many of its views are read.
    let mut listed: Vec<(String, Arc<Vec<Table>>)> = Vec::new();
    for v in views {
        let def = views::find(&v.view)
            .ok_or_else(|| EngineError::Internal(format!("`{}` escaped resolution", v.view)))?;
        let cname = catalog_name(catalogs, &v.catalog);
        let databases: Vec<Database> = databases_of(catalogs, &v.catalog)
            .into_iter()
            .filter(|d| visible(&ObjectRef::Database(v.catalog.clone(), d.id.clone())))
            .collect();
        let tables = if views::needs_tables(def.name) {
            match listed.iter().find(|(c, _)| *c == v.catalog) {
                Some((_, t)) => t.clone(),
                None => {
                    let definitions = views
                        .iter()
                        .any(|v| matches!(v.view.as_str(), "TABLES" | "TABLE_OPTIONS" | "COLUMNS"));
                    let t =
                        Arc::new(list_tables(gw, stmt, &v.catalog, &databases, definitions).await?);
                    listed.push((v.catalog.clone(), t.clone()));
                    t
                }
            }
        } else {
            Arc::new(Vec::new())
        };
        let ids = |db: &Database| vec![st(&v.catalog), st(&cname), st(&db.id), st(&db.name)];
        let mut rows: Vec<Vec<Cell>> = Vec::new();
        match def.name {
            "CATALOGS" => {
                let mut all: Vec<(String, String)> = catalogs
                    .environments()
                    .iter()
                    .map(|e| (e.id.clone(), e.display_name.clone()))
                    .collect();
                all.push((EXAMPLES_CATALOG.into(), EXAMPLES_CATALOG.into()));
                for (id, name) in all {
                    if visible(&ObjectRef::Catalog(id.clone())) {
                        rows.push(vec![st(&id), st(&name)]);
                    }
                }
            }
            "INFORMATION_SCHEMA_CATALOG_NAME" => rows.push(vec![st(&v.catalog), st(&cname)]),
            "SCHEMATA" | "DATABASES" => {
                for db in &databases {
                    rows.push(ids(db));
                }
                rows.push(vec![
                    st(&v.catalog),
                    st(&cname),
                    st("db-information-schema"),
                    st(super::INFORMATION_SCHEMA),
                ]);
            }
            "TABLES" => {
                for t in tables.iter() {
                    let wm = t.columns.iter().find(|c| c.watermark.is_some());
                    let mut row = ids(&t.db);
                    row.extend([
                        st(&t.name),
                        // The gateway's views (`crate::views`) are listed with the tables.
                        st(
                            if gw
                                .catalogs()
                                .views()
                                .get(&crate::catalog::TableRef::new(
                                    &v.catalog, &t.db.id, &t.name,
                                ))
                                .is_some()
                            {
                                "VIEW"
                            } else {
                                "BASE TABLE"
                            },
                        ),
                        yes_no(t.distribution.is_some()),
                        // `DISTRIBUTED INTO n BUCKETS` names no algorithm (Flink's UNKNOWN).
                        t.distribution
                            .as_ref()
                            .filter(|d| !d.columns.is_empty())
                            .map_or(Cell::Null, |_| st("HASH")),
                        t.distribution
                            .as_ref()
                            .and_then(|d| d.buckets)
                            .map_or(Cell::Null, Cell::Int),
                        yes_no(wm.is_some()),
                        wm.map_or(Cell::Null, |c| st(&c.name)),
                        wm.and_then(|c| c.watermark.as_deref())
                            .map_or(Cell::Null, st),
                        wm.map_or(Cell::Null, |c| yes_no(is_system(c))),
                        Cell::Null,
                        yes_no(false),
                    ]);
                    rows.push(row);
                }
            }
            "TABLE_OPTIONS" => {
                for t in tables.iter() {
                    for (k, value) in &t.options {
                        let mut row = ids(&t.db);
                        row.extend([st(&t.name), st(k), st(value)]);
                        rows.push(row);
                    }
                }
            }
            "COLUMNS" => {
                for t in tables.iter() {
                    for (n, c) in t.columns.iter().enumerate() {
                        rows.push(column_row(ids(&t.db), t, n, c));
                    }
                }
            }
            "TABLE_CONSTRAINTS" | "KEY_COLUMN_USAGE" => {
                for t in tables.iter() {
                    let Some(key) = primary_key(&t.columns) else {
                        continue;
                    };
                    let constraint = format!("PK_{}", key.join("_"));
                    let head = |row: &mut Vec<Cell>| {
                        row.extend(ids(&t.db));
                        row.push(st(&constraint));
                        row.extend(ids(&t.db));
                        row.push(st(&t.name));
                    };
                    if def.name == "TABLE_CONSTRAINTS" {
                        let mut row = Vec::new();
                        head(&mut row);
                        row.extend([st("PRIMARY KEY"), yes_no(false)]);
                        rows.push(row);
                    } else {
                        for (n, k) in key.iter().enumerate() {
                            let mut row = Vec::new();
                            head(&mut row);
                            row.extend([st(k), Cell::Int(n as i32 + 1)]);
                            rows.push(row);
                        }
                    }
                }
            }
            other => {
                return Err(EngineError::Internal(format!(
                    "no rows for INFORMATION_SCHEMA view `{other}`"
                )));
            }
        }
        out.push(ViewRows {
            view: v.clone(),
            def,
            rows,
        });
    }
    Ok(out)
}

fn column_row(mut row: Vec<Cell>, t: &Table, n: usize, c: &Described) -> Vec<Cell> {
    let extras = c.extras.as_deref().unwrap_or("");
    let metadata = extras.starts_with("METADATA");
    let generated = extras.strip_prefix("AS ");
    let virtual_ = extras.contains("VIRTUAL");
    row.extend([
        st(&t.name),
        st(&c.name),
        Cell::Int(n as i32 + 1),
        yes_no(c.nullable),
        st(&root_of(&c.data_type)),
        st(&full_type(&c.data_type)),
        yes_no(is_system(c)),
        yes_no(generated.is_some()),
        generated.map_or(Cell::Null, st),
        yes_no(metadata),
        metadata_key(extras).map_or(Cell::Null, |k| st(&k)),
        yes_no(generated.is_none() && !(metadata && virtual_)),
        t.distribution
            .as_ref()
            .and_then(|d| d.columns.iter().position(|k| *k == c.name))
            .map_or(Cell::Null, |i| Cell::Int(i as i32 + 1)),
        Cell::Null,
    ]);
    row
}

/// A system column (`$rowtime`): DESCRIBE marks it `SYSTEM`.
fn is_system(c: &Described) -> bool {
    c.extras.as_deref().is_some_and(|e| e.contains("SYSTEM"))
}

/// `METADATA FROM 'key' …` → `key`.
fn metadata_key(extras: &str) -> Option<String> {
    let rest = extras.strip_prefix("METADATA FROM '")?;
    rest.split_once('\'').map(|(k, _)| k.to_string())
}

/// The primary key's columns, in key order, from DESCRIBE's `PRI(a, b)`.
fn primary_key(columns: &[Described]) -> Option<Vec<String>> {
    let key = columns.iter().find_map(|c| c.key.as_deref())?;
    let inner = key.strip_prefix("PRI(")?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|k| k.trim().trim_matches('`').to_string())
            .filter(|k| !k.is_empty())
            .collect(),
    )
}

/// Flink's serializable spelling of a type as DESCRIBE shows it (`STRING` is
/// `VARCHAR(2147483647)`, `BYTES` `VARBINARY(2147483647)`).
pub(crate) fn full_type(t: &str) -> String {
    t.replace("STRING", "VARCHAR(2147483647)")
        .replace("BYTES", "VARBINARY(2147483647)")
}

/// The type's root as Confluent's `DATA_TYPE` names it (`VARCHAR`, `INTEGER`, `ROW`,
/// `TIMESTAMP_LTZ`, …).
pub(crate) fn root_of(t: &str) -> String {
    let t = t.trim();
    if t.contains("WITH LOCAL TIME ZONE") || t.starts_with("TIMESTAMP_LTZ") {
        return "TIMESTAMP_LTZ".into();
    }
    let head: String = t
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    match head.as_str() {
        "STRING" => "VARCHAR",
        "BYTES" => "VARBINARY",
        "INT" => "INTEGER",
        "DEC" | "NUMERIC" => "DECIMAL",
        "TIMESTAMP_WITHOUT_TIME_ZONE" => "TIMESTAMP",
        _ => return head,
    }
    .into()
}

fn catalog_name(catalogs: &Catalogs, id: &str) -> String {
    if Catalogs::is_examples(id) {
        return EXAMPLES_CATALOG.into();
    }
    catalogs
        .environment(id)
        .map(|e| e.display_name.clone())
        .unwrap_or_else(|| id.to_string())
}

fn databases_of(catalogs: &Catalogs, id: &str) -> Vec<Database> {
    if Catalogs::is_examples(id) {
        return vec![Database {
            id: EXAMPLES_DATABASE.into(),
            name: EXAMPLES_DATABASE.into(),
        }];
    }
    catalogs
        .environment(id)
        .map(|e| {
            e.clusters
                .iter()
                .map(|c| Database {
                    id: c.id.clone(),
                    name: c.display_name.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The visible tables of the visible `databases`, each described.
async fn list_tables(
    gw: &Arc<Gateway>,
    stmt: &RewrittenStatement,
    catalog: &str,
    databases: &[Database],
    definitions: bool,
) -> Result<Vec<Table>, EngineError> {
    let mut out = Vec::new();
    for db in databases {
        let show = format!("SHOW TABLES FROM {}.{}", quote(catalog), quote(&db.id));
        let Some(rows) = internal(gw, stmt, show).await? else {
            continue;
        };
        let mut names: Vec<String> = rows
            .iter()
            .filter_map(|r| r.first().and_then(Value::as_str).map(str::to_string))
            .collect();
        names.sort();
        for name in names {
            let describe = format!(
                "DESCRIBE {}.{}.{}",
                quote(catalog),
                quote(&db.id),
                quote(&name)
            );
            let columns = match internal(gw, stmt, describe).await {
                Ok(Some(rows)) => rows.iter().filter_map(|r| described(r)).collect(),
                Ok(None) => Vec::new(),
                // One table that cannot be described (a topic without a schema) does not
                // hide the others.
                Err(e) => {
                    warn!(table = %name, error = %e, "INFORMATION_SCHEMA could not describe a table");
                    Vec::new()
                }
            };
            let definition = if definitions {
                let table = TableRef::new(catalog, &db.id, &name);
                match gw.table_definition(stmt, &table).await {
                    Ok(d) => d.unwrap_or_default(),
                    // As for DESCRIBE: one table whose topic configs cannot be read does not
                    // hide the others.
                    Err(e) => {
                        warn!(table = %name, error = %e, "INFORMATION_SCHEMA could not read a table's options");
                        Default::default()
                    }
                }
            } else {
                TableDefinition::default()
            };
            out.push(Table {
                db: db.clone(),
                name,
                columns,
                options: definition.options,
                distribution: definition.distribution,
            });
        }
    }
    Ok(out)
}

fn described(r: &[Value]) -> Option<Described> {
    let text = |i: usize| r.get(i).and_then(Value::as_str).map(str::to_string);
    let nullable = match r.get(2)? {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => true,
    };
    Some(Described {
        name: text(0)?,
        data_type: text(1)?,
        nullable,
        key: text(3),
        extras: text(4),
        watermark: text(5),
    })
}

/// A backtick-quoted identifier.
fn quote(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// Runs a listing the gateway composes (SHOW TABLES, DESCRIBE) for the caller of `stmt`:
/// decided for that caller and placement like any statement, on its pool's engine, with a
/// listing's rows filtered as every SHOW's are. `None`: the caller may not run it.
async fn internal(
    gw: &Arc<Gateway>,
    stmt: &RewrittenStatement,
    text: String,
) -> Result<Option<Vec<Vec<Value>>>, EngineError> {
    let principal = stmt.warrant().principal().to_string();
    let request = Request {
        principal: principal.clone(),
        text,
        session: SessionNames::default(),
        placement: stmt.warrant().placement().clone(),
        // The caller's claims: a DESCRIBE shows a masked column's type for this caller (a
        // listing reads no rows, so no row filter applies to it).
        claims: stmt.claims().clone(),
    };
    let on_worker = gw.clone();
    let decided = gw
        .workers()
        .run(move || decide(&on_worker.decider(), &request).outcome)
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    let Ok(rewritten) = decided else {
        return Ok(None);
    };
    let ctx = ExecContext {
        snapshot: true,
        ..ExecContext::default()
    };
    let execution = gw.execute_on_engine(&rewritten, &ctx).await?;
    let execution =
        crate::pipeline::listing::visible_only(&rewritten, execution, gw.visibility(&principal))?;
    let mut rows = Vec::new();
    let mut stream = execution.rows;
    while let Some(batch) = stream.next().await {
        for r in batch? {
            rows.push(r.row);
            if rows.len() > MAX_LISTED {
                return Err(EngineError::Execution(format!(
                    "an INFORMATION_SCHEMA listing has more than {MAX_LISTED} rows"
                )));
            }
        }
    }
    Ok(Some(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_spelled_as_confluent_does() {
        assert_eq!(root_of("STRING"), "VARCHAR");
        assert_eq!(full_type("STRING"), "VARCHAR(2147483647)");
        assert_eq!(root_of("INT"), "INTEGER");
        assert_eq!(root_of("DECIMAL(10, 2)"), "DECIMAL");
        assert_eq!(
            root_of("TIMESTAMP(3) WITH LOCAL TIME ZONE"),
            "TIMESTAMP_LTZ"
        );
        assert_eq!(root_of("TIMESTAMP_LTZ(3)"), "TIMESTAMP_LTZ");
        assert_eq!(root_of("ROW<`a` INT>"), "ROW");
        assert_eq!(full_type("ARRAY<STRING>"), "ARRAY<VARCHAR(2147483647)>");
    }

    #[test]
    fn the_primary_key_is_read_in_key_order() {
        let c = |name: &str, key: Option<&str>| Described {
            name: name.into(),
            data_type: "INT".into(),
            nullable: false,
            key: key.map(str::to_string),
            extras: None,
            watermark: None,
        };
        let cols = [
            c("a", Some("PRI(b, a)")),
            c("b", Some("PRI(b, a)")),
            c("x", None),
        ];
        assert_eq!(
            primary_key(&cols),
            Some(vec!["b".to_string(), "a".to_string()])
        );
        assert_eq!(primary_key(&[c("x", None)]), None);
    }
}
