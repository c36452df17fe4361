//! Statements about the client's session that the gateway answers itself, for every engine:
//! `SHOW CURRENT CATALOG`, `SHOW CURRENT DATABASE`, `USE CATALOG c`, `USE d`. A statement of
//! the statements API has no server-side session: its catalog and database are its properties
//! `sql.current-catalog` and `sql.current-database`. So, as Confluent Cloud documents for USE
//! ("a client-side setting statement"), USE changes nothing on the server; it answers with the
//! property and value the client attaches to its later statements, once the name resolved and
//! was authorized like any other. SHOW CURRENT answers with the names the statement's own
//! properties resolve to (display names, as SHOW CATALOGS and SHOW DATABASES show them).
//!
//! The names come from the statement's resolved accesses (resolution binds the session's
//! catalog or database, or the written one, as a `describe`), never from the text.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream;
use serde_json::Value;

use crate::catalog::{Catalogs, EXAMPLES_CATALOG, ObjectRef};
use crate::engine::{Cancel, Column, EngineError, Execution, ResultRow, Schema, Traits};
use crate::rewrite::RewrittenStatement;
use crate::sql::FlinkType;

/// The statement kinds answered here.
const KINDS: &[&str] = &[
    "SHOW_CURRENT_CATALOG",
    "SHOW_CURRENT_DATABASE",
    "USE_CATALOG",
    "USE",
];

/// Whether the gateway answers `stmt` itself (see the module doc).
pub(crate) fn answers(stmt: &RewrittenStatement) -> bool {
    KINDS.contains(&stmt.sql_kind())
}

#[derive(Debug)]
struct Done;

impl Cancel for Done {
    fn cancel(&self) {}
}

/// The answer to a statement [`answers`] accepts.
pub(crate) fn answer(
    catalogs: &Catalogs,
    stmt: &RewrittenStatement,
) -> Result<Execution, EngineError> {
    let kind = stmt.sql_kind();
    let object = stmt
        .accesses()
        .iter()
        .map(|a| &a.object)
        .find(|o| matches!(o, ObjectRef::Catalog(_) | ObjectRef::Database(..)))
        .ok_or_else(|| {
            EngineError::Internal(format!(
                "{kind} was resolved without its catalog or database"
            ))
        })?;
    let (header, rows): (Vec<&str>, Vec<Vec<String>>) = match (kind, object) {
        ("SHOW_CURRENT_CATALOG", ObjectRef::Catalog(c)) => (
            vec!["current catalog name"],
            vec![vec![catalog_name(catalogs, c)]],
        ),
        ("SHOW_CURRENT_DATABASE", ObjectRef::Database(c, d)) => (
            vec!["current database name"],
            vec![vec![database_name(catalogs, c, d)]],
        ),
        ("USE_CATALOG", ObjectRef::Catalog(c)) => (
            vec!["Key", "Value"],
            vec![vec![
                "sql.current-catalog".into(),
                catalog_name(catalogs, c),
            ]],
        ),
        ("USE", ObjectRef::Database(c, d)) => (
            vec!["Key", "Value"],
            vec![
                vec!["sql.current-catalog".into(), catalog_name(catalogs, c)],
                vec!["sql.current-database".into(), database_name(catalogs, c, d)],
            ],
        ),
        _ => {
            return Err(EngineError::Internal(format!(
                "{kind} was resolved to {object:?}"
            )));
        }
    };
    let columns = header
        .iter()
        .map(|name| Column {
            name: name.to_string(),
            data_type: FlinkType::string(false),
        })
        .collect();
    let rows: Vec<ResultRow> = rows
        .into_iter()
        .map(|r| ResultRow {
            op: 0,
            row: r.into_iter().map(Value::String).collect(),
        })
        .collect();
    Ok(Execution {
        traits: Traits {
            sql_kind: kind.to_string(),
            is_bounded: true,
            is_append_only: true,
            upsert_columns: None,
            schema: Some(Schema { columns }),
        },
        rows: stream::once(async move { Ok(rows) }).boxed(),
        cancel: Arc::new(Done),
        listing: None,
    })
}

fn catalog_name(catalogs: &Catalogs, id: &str) -> String {
    if Catalogs::is_examples(id) {
        return EXAMPLES_CATALOG.into();
    }
    catalogs
        .environment(id)
        .map_or_else(|| id.to_string(), |e| e.display_name.clone())
}

fn database_name(catalogs: &Catalogs, catalog: &str, id: &str) -> String {
    catalogs
        .cluster(catalog, id)
        .map_or_else(|| id.to_string(), |c| c.display_name.clone())
}
