//! View statements run by the gateway itself, after authorization and before any engine:
//! CREATE [OR REPLACE] VIEW [IF NOT EXISTS], DROP VIEW [IF EXISTS], SHOW CREATE VIEW, and the
//! checks that keep tables and views apart (a CREATE TABLE, DROP TABLE or INSERT INTO that
//! names a view is refused by name). Also the definition CREATE VIEW stores, taken from the
//! resolved statement (`definition`).

use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{CreateTableOptions, CreateView, Statement, TableObject};
use futures::StreamExt;
use futures::stream;

use super::{Created, Definition, ViewDef, ViewError, ViewStore, parse_body};
use crate::catalog::{ObjectRef, TableRef};
use crate::engine::{Cancel, Column, Engine, EngineError, Execution, ResultRow, Schema, Traits};
use crate::pipeline::listing::Visible;
use crate::rewrite::RewrittenStatement;
use crate::sql::{FlinkType, ResolveError};

/// The definition a resolved CREATE VIEW stores: its canonical name, columns, comment and
/// body (names canonical, views in it not expanded). Refuses the clauses it would not keep.
pub(crate) fn definition(cv: &CreateView) -> Result<Definition, ViewError> {
    let refuse = |what: &str| Err(ViewError::Unsupported(what.into()));
    if cv.temporary {
        return refuse("TEMPORARY (the gateway keeps views for every session)");
    }
    if cv.or_alter || cv.secure || cv.params.is_some() || cv.to.is_some() || cv.copy_grants {
        return refuse(
            "clauses of other SQL dialects (OR ALTER, SECURE, ALGORITHM, TO, COPY GRANTS)",
        );
    }
    if !matches!(cv.options, CreateTableOptions::None) || !cv.cluster_by.is_empty() {
        return refuse("WITH options or CLUSTER BY");
    }
    if cv.with_no_schema_binding {
        return refuse("WITH NO SCHEMA BINDING");
    }
    let mut columns = Vec::with_capacity(cv.columns.len());
    for c in &cv.columns {
        if c.data_type.is_some() || c.options.is_some() {
            return refuse("column types or options in the column list (name the columns only)");
        }
        columns.push(c.name.value.clone());
    }
    let name = view_name(&cv.name).map_err(|_| ViewError::Unsupported("that name".into()))?;
    let query = cv.query.to_string();
    // What is stored must read back as the same body.
    match parse_body(&query) {
        Ok(q) if q == *cv.query => {}
        _ => {
            return refuse(
                "this body: written out as SQL text it would read differently (doubled quotes \
                 in a quoted name, or directly nested signs such as `- -x`)",
            );
        }
    }
    Ok(Definition {
        view: ViewDef {
            name,
            columns,
            comment: cv.comment.clone(),
            query,
            created_by: String::new(),
            created_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        },
        or_replace: cv.or_replace,
        if_not_exists: cv.if_not_exists,
    })
}

/// The canonical 3-part name resolution gave an object.
fn view_name(name: &datafusion::sql::sqlparser::ast::ObjectName) -> Result<TableRef, ResolveError> {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident().map(|i| i.value.clone()))
        .collect();
    match parts.as_slice() {
        [c, d, t] => Ok(TableRef::new(c, d, t)),
        _ => Err(ResolveError::InvalidName(name.to_string())),
    }
}

struct Done;

impl std::fmt::Debug for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ViewDdlDone")
    }
}

impl Cancel for Done {
    fn cancel(&self) {}
}

fn traits(kind: &str, schema: Option<Schema>) -> Traits {
    Traits {
        sql_kind: kind.into(),
        is_bounded: true,
        is_append_only: true,
        upsert_columns: None,
        schema,
    }
}

/// An execution with no rows (a finished DDL statement).
fn finished(kind: &str) -> Execution {
    Execution {
        traits: traits(kind, None),
        rows: stream::empty().boxed(),
        cancel: Arc::new(Done),
        listing: None,
    }
}

/// The canonical names a DROP / CREATE TABLE / INSERT names as its target.
fn targets(stmt: &RewrittenStatement) -> Vec<TableRef> {
    let names = match (stmt.ddl(), stmt.statement()) {
        (Some(crate::sql::FlinkDdl::Create(c)), _) => match &c.statement {
            Statement::CreateTable(ct) => vec![ct.name.clone()],
            _ => Vec::new(),
        },
        (_, Statement::Drop { names, .. }) => names.clone(),
        (_, Statement::CreateTable(ct)) => vec![ct.name.clone()],
        (_, Statement::CreateView(cv)) => vec![cv.name.clone()],
        (_, Statement::Insert(i)) => match &i.table {
            TableObject::TableName(n) => vec![n.clone()],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    names.iter().filter_map(|n| view_name(n).ok()).collect()
}

/// Runs `stmt` if it is the gateway's to run (view DDL) or to refuse (a table statement
/// naming a view); `None` hands it on to `engine`. `engine_id` names the engine in refusals.
pub(crate) async fn intercept(
    views: &ViewStore,
    engine: &dyn Engine,
    engine_id: &str,
    stmt: &RewrittenStatement,
    visible: Visible,
) -> Option<Result<Execution, EngineError>> {
    let kind = stmt.sql_kind();
    let result = match kind {
        "CREATE_VIEW" | "DROP_VIEW" if !engine.runs_gateway_views() => {
            // An engine whose catalog the gateway does not keep views for refuses, as before.
            return Some(Err(ViewError::Engine(engine_id.to_string()).into()));
        }
        "CREATE_VIEW" => create(views, engine, stmt).await,
        "DROP_VIEW" => drop_views(views, engine, stmt).await,
        "SHOW_CREATE_VIEW" => show_create(views, stmt, &visible),
        "SHOW_VIEWS" => show_views(views, stmt, &visible),
        "DROP_TABLE" => refuse_views(views, stmt, |name| ViewError::IsAView {
            name,
            what: "DROP TABLE does not drop views; use DROP VIEW",
        })?,
        "INSERT_INTO" => refuse_views(views, stmt, |name| ViewError::IsAView {
            name,
            what: "a view cannot be written; INSERT INTO the tables it reads",
        })?,
        "CREATE_TABLE" | "CREATE_TABLE_AS" => {
            refuse_views(views, stmt, |name| ViewError::NameTaken {
                name,
                existing: "view",
            })?
        }
        _ => return None,
    };
    Some(result)
}

/// The refusal of a table statement whose target is a view (`None`: it names none).
fn refuse_views(
    views: &ViewStore,
    stmt: &RewrittenStatement,
    why: impl Fn(Box<TableRef>) -> ViewError,
) -> Option<Result<Execution, EngineError>> {
    let t = targets(stmt).into_iter().find(|t| views.get(t).is_some())?;
    Some(Err(why(Box::new(t)).into()))
}

async fn create(
    views: &ViewStore,
    engine: &dyn Engine,
    stmt: &RewrittenStatement,
) -> Result<Execution, EngineError> {
    let d = match &stmt.views().definition {
        Some(Ok(d)) => d,
        Some(Err(e)) => return Err(e.clone().into()),
        // A Flink-only form (TEMPORARY, MATCH_RECOGNIZE … WITHIN in the body).
        None => {
            return Err(ViewError::Unsupported(
                "this form on the embedded engine (TEMPORARY views and Flink-only clauses in the \
                 body are not kept by the gateway)"
                    .into(),
            )
            .into());
        }
    };
    if engine.table_exists(&d.view.name).await? {
        return Err(ViewError::NameTaken {
            name: Box::new(d.view.name.clone()),
            existing: "table",
        }
        .into());
    }
    let mut view = d.view.clone();
    view.created_by = stmt.warrant().principal().to_string();
    view.created_at = chrono::Utc::now();
    let created = views.create(view, d.or_replace, d.if_not_exists).await?;
    if created != Created::Kept {
        tracing::info!(view = %d.view.name, ?created, "view stored");
    }
    Ok(finished("CREATE_VIEW"))
}

async fn drop_views(
    views: &ViewStore,
    engine: &dyn Engine,
    stmt: &RewrittenStatement,
) -> Result<Execution, EngineError> {
    let if_exists = matches!(
        stmt.statement(),
        Statement::Drop {
            if_exists: true,
            ..
        }
    );
    for t in targets(stmt) {
        if views.get(&t).is_none() && engine.table_exists(&t).await? {
            return Err(ViewError::NotAView(Box::new(t)).into());
        }
        views.drop_view(&t, if_exists).await?;
    }
    Ok(finished("DROP_VIEW"))
}

/// SHOW VIEWS [FROM|IN db]: the database's views the caller may see.
fn show_views(
    views: &ViewStore,
    stmt: &RewrittenStatement,
    visible: &Visible,
) -> Result<Execution, EngineError> {
    let Some((c, d)) = stmt.accesses().iter().find_map(|a| match &a.object {
        ObjectRef::Database(c, d) if a.action == crate::sql::Action::List => Some((c, d)),
        _ => None,
    }) else {
        return Err(EngineError::Internal(
            "SHOW VIEWS without its database".into(),
        ));
    };
    let upper = stmt.sql().to_ascii_uppercase();
    if upper
        .split_whitespace()
        .any(|w| w == "LIKE" || w == "ILIKE")
    {
        return Err(EngineError::Unsupported(
            "SHOW VIEWS with LIKE; SHOW TABLES LIKE lists views with the tables".into(),
        ));
    }
    let rows: Vec<ResultRow> = views
        .in_database(c, d)
        .iter()
        .filter(|v| visible(&ObjectRef::Table(v.name.clone())))
        .map(|v| ResultRow {
            op: 0,
            row: vec![serde_json::Value::String(v.name.table.clone())],
        })
        .collect();
    Ok(one_column("SHOW_VIEWS", "view name", rows))
}

fn one_column(kind: &str, column: &str, rows: Vec<ResultRow>) -> Execution {
    let schema = Schema {
        columns: vec![Column {
            name: column.into(),
            data_type: FlinkType::string(false),
        }],
    };
    let rows = match rows.is_empty() {
        true => stream::empty().boxed(),
        false => stream::iter(vec![Ok(rows)]).boxed(),
    };
    Execution {
        traits: traits(kind, Some(schema)),
        rows,
        cancel: Arc::new(Done),
        listing: None,
    }
}

/// SHOW CREATE VIEW: the view's definition, unless its body names a table the caller may
/// not see (the definition would name it).
fn show_create(
    views: &ViewStore,
    stmt: &RewrittenStatement,
    visible: &Visible,
) -> Result<Execution, EngineError> {
    let Some(t) = stmt.accesses().iter().find_map(|a| match &a.object {
        crate::catalog::ObjectRef::Table(t) => Some(t.clone()),
        _ => None,
    }) else {
        return Err(EngineError::Internal(
            "SHOW CREATE VIEW without its view".into(),
        ));
    };
    let Some(v) = views.get(&t) else {
        return Err(ViewError::NotFound(Box::new(t)).into());
    };
    if v.reads()
        .iter()
        .any(|r| !visible(&ObjectRef::Table(r.clone())))
    {
        return Err(ViewError::DefinitionHidden(Box::new(t)).into());
    }
    let row = ResultRow {
        op: 0,
        row: vec![serde_json::Value::String(v.create_text())],
    };
    Ok(one_column("SHOW_CREATE_VIEW", "result", vec![row]))
}

/// `e` for a statement that read views: a table its views' bodies read but the statement
/// does not name itself, reported missing, is the view's broken body (the reader was granted
/// read on that table, so naming it reveals nothing).
pub(crate) fn explain_missing(stmt: &RewrittenStatement, e: EngineError) -> EngineError {
    match e {
        EngineError::TableNotFound(t) => match stmt.views().only_through(&t) {
            Some(view) => ViewError::Broken {
                view: Box::new(view.clone()),
                why: format!("it reads {t}, which does not exist"),
            }
            .into(),
            None => EngineError::TableNotFound(t),
        },
        other => other,
    }
}
