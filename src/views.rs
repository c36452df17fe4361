//! Views, kept by the gateway itself (not by an engine) and expanded by it into every statement
//! that reads one.
//!
//! Owns the view definitions of every `catalog.database`: what `CREATE [OR REPLACE] VIEW
//! [IF NOT EXISTS]` stores and `DROP VIEW [IF EXISTS]` removes ([`ViewStore`]), their files
//! (`store`), the refusals a person sees ([`ViewError`]) and the execution of view DDL by the
//! gateway (`ddl`).
//!
//! ## Why the gateway expands views
//! Name resolution ([`crate::sql::resolve_for`]) replaces every read of a view by its body, as
//! a derived table under the view's name (`(body) AS v(columns)`), and binds the body's names
//! like any other. So reading a view needs read on the view *and* on every table its body
//! reads, checked for the reader (a definer's rights are never inherited); the row filters and
//! column masks of the body's tables apply for the reader through the ordinary enforcement
//! (`rewrite/enforce.rs`); and the engine sees exactly the statement that was checked. A view
//! of a view expands recursively, at most [`MAX_DEPTH`] deep; a cycle is refused (it cannot be
//! stored: `CREATE` checks for one, and resolution checks again).
//!
//! ## Storage
//! `<engine.data_dir>/views/<catalog>/<database>.json` holds `{"format": 1, "views": [...]}`,
//! every view of that database with its canonical body text. A write goes to a scratch file,
//! is fsynced, renamed into place and the directory fsynced (as the statement and table stores
//! do), so a restart finds the old set or the new one, never a mix. One file per database:
//! views are few and small, and a database's views change together under one lock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock};

use chrono::{DateTime, Utc};
use datafusion::sql::sqlparser::ast::{ObjectName, ObjectNamePart, Query, Visit, Visitor};
use datafusion::sql::sqlparser::parser::Parser;
use serde::{Deserialize, Serialize};

use crate::catalog::TableRef;
use crate::error::ErrorCode;

pub(crate) mod ddl;
mod store;

/// How deep views may nest (a view of a view of … a table).
pub const MAX_DEPTH: usize = 16;

/// One view: its canonical name, the column names it gives its body's columns (empty: the
/// body's own), its comment and its body, every name canonical.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewDef {
    /// The view's canonical name.
    pub name: TableRef,
    /// `CREATE VIEW v (a, b) AS …`: the names of the body's columns, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// `COMMENT '…'`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The body as canonical SQL (every table name `` `catalog`.`database`.`table` ``).
    pub query: String,
    /// Who created it (informational: reading it never uses the creator's rights).
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl ViewDef {
    /// The body, parsed.
    pub fn parsed(&self) -> Result<Query, ViewError> {
        parse_body(&self.query).map_err(|_| ViewError::Unreadable(Box::new(self.name.clone())))
    }

    /// The canonical table (or view) names the body reads directly.
    pub fn reads(&self) -> Vec<TableRef> {
        self.parsed().map(|q| reads_of(&q)).unwrap_or_default()
    }

    /// `CREATE VIEW` text that re-creates this view (SHOW CREATE VIEW).
    pub fn create_text(&self) -> String {
        let mut out = format!("CREATE VIEW {}", self.name);
        if !self.columns.is_empty() {
            let cols: Vec<String> = self
                .columns
                .iter()
                .map(|c| format!("`{}`", c.replace('`', "``")))
                .collect();
            out.push_str(&format!(" ({})", cols.join(", ")));
        }
        if let Some(c) = &self.comment {
            out.push_str(&format!(" COMMENT '{}'", c.replace('\'', "''")));
        }
        out.push_str(&format!(" AS {}", self.query));
        out
    }
}

/// `view`'s body with every view it reads replaced by its own body, as resolution expands
/// them (for planning its columns; authorization is resolution's, not this).
pub(crate) fn expanded(store: &ViewStore, view: &ViewDef) -> Result<Query, ViewError> {
    use datafusion::sql::sqlparser::ast::{
        Ident, TableAlias, TableAliasColumnDef, TableFactor, VisitMut, VisitorMut,
    };
    struct Expand<'a> {
        store: &'a ViewStore,
        root: TableRef,
        depth: usize,
        error: Option<ViewError>,
    }
    impl Expand<'_> {
        fn wrap(&self, def: &ViewDef, alias: Option<TableAlias>) -> Result<TableFactor, ViewError> {
            let columns: Vec<TableAliasColumnDef> = def
                .columns
                .iter()
                .map(|c| TableAliasColumnDef {
                    name: Ident::with_quote('`', c.as_str()),
                    data_type: None,
                })
                .collect();
            let alias = match alias {
                Some(mut a) => {
                    if a.columns.is_empty() {
                        a.columns = columns;
                    }
                    a
                }
                None => TableAlias {
                    explicit: true,
                    name: Ident::with_quote('`', def.name.table.as_str()),
                    columns,
                    at: None,
                },
            };
            Ok(TableFactor::Derived {
                lateral: false,
                subquery: Box::new(def.parsed()?),
                alias: Some(alias),
                sample: None,
            })
        }
    }
    impl VisitorMut for Expand<'_> {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
            let TableFactor::Table { name, alias, .. } = factor else {
                return ControlFlow::Continue(());
            };
            let [Some(c), Some(d), Some(t)] = [0, 1, 2].map(|i| {
                name.0
                    .get(i)
                    .and_then(|p| p.as_ident())
                    .map(|x| x.value.clone())
            }) else {
                return ControlFlow::Continue(());
            };
            let Some(def) = self.store.get(&TableRef::new(&c, &d, &t)) else {
                return ControlFlow::Continue(());
            };
            self.depth += 1;
            if self.depth > MAX_DEPTH * 4 {
                self.error = Some(ViewError::TooDeep(Box::new(self.root.clone())));
                return ControlFlow::Break(());
            }
            match self.wrap(&def, alias.take()) {
                Ok(f) => *factor = f,
                Err(e) => {
                    self.error = Some(e);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut outer = crate::sql::table_factor(&view.name);
    let mut e = Expand {
        store,
        root: view.name.clone(),
        depth: 0,
        error: None,
    };
    let _ = VisitMut::visit(&mut outer, &mut e);
    if let Some(err) = e.error {
        return Err(err);
    }
    let TableFactor::Derived {
        subquery, alias, ..
    } = outer
    else {
        return Err(ViewError::NotFound(Box::new(view.name.clone())));
    };
    // `SELECT * FROM (<body>) AS v(columns)`: the view's own column names.
    let text = format!(
        "SELECT * FROM ({subquery}) AS {}",
        alias.map(|a| a.to_string()).unwrap_or_default()
    );
    parse_body(&text).map_err(|_| ViewError::Unreadable(Box::new(view.name.clone())))
}

/// Parses a view body (a query) with the gateway's dialect.
pub(crate) fn parse_body(text: &str) -> Result<Query, String> {
    let dialect = crate::sql::FlinkDialect;
    let limit = crate::sql::ParseLimits::default().recursion_limit;
    let tokens = datafusion::sql::sqlparser::tokenizer::Tokenizer::new(&dialect, text)
        .tokenize_with_location()
        .map_err(|e| e.to_string())?;
    let mut parser = Parser::new(&dialect)
        .with_recursion_limit(limit)
        .with_tokens_with_locations(crate::sql::fold_type_tokens(tokens));
    let q = parser.parse_query().map_err(|e| e.to_string())?;
    Ok(*q)
}

/// The 3-part names a query reads (CTE names and shorter names are not canonical tables).
pub(crate) fn reads_of(query: &Query) -> Vec<TableRef> {
    struct Reads(Vec<TableRef>);
    impl Visitor for Reads {
        type Break = ();
        fn pre_visit_relation(&mut self, name: &ObjectName) -> ControlFlow<()> {
            let parts: Vec<&str> = name
                .0
                .iter()
                .filter_map(|p| match p {
                    ObjectNamePart::Identifier(i) => Some(i.value.as_str()),
                    ObjectNamePart::Function(_) => None,
                })
                .collect();
            if let [c, d, t] = parts.as_slice() {
                self.0.push(TableRef::new(c, d, t));
            }
            ControlFlow::Continue(())
        }
    }
    let mut r = Reads(Vec::new());
    let _ = query.visit(&mut r);
    r.0
}

/// A view refused for a person: what, which view, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// DROP VIEW (or SHOW CREATE VIEW) of a view that does not exist.
    #[error("view {0} not found")]
    NotFound(Box<TableRef>),
    /// CREATE VIEW of a name a view already has.
    #[error("view {0} already exists")]
    Exists(Box<TableRef>),
    /// A view may not take a table's name, nor a table a view's.
    #[error("{name} is a {existing}")]
    NameTaken {
        /// The name.
        name: Box<TableRef>,
        /// What has it: `table` or `view`.
        existing: &'static str,
    },
    /// A table statement on a view (DROP TABLE, INSERT INTO, …).
    #[error("{name} is a view: {what}")]
    IsAView {
        /// The view.
        name: Box<TableRef>,
        /// What is refused, and what to do instead.
        what: &'static str,
    },
    /// DROP VIEW of a table.
    #[error("{0} is a table, not a view")]
    NotAView(Box<TableRef>),
    /// The view would read itself, directly or through other views.
    #[error("view {view} would read itself: {path}")]
    Cycle {
        /// The view.
        view: Box<TableRef>,
        /// The chain of views, `a -> b -> a`.
        path: String,
    },
    /// Views nest deeper than [`MAX_DEPTH`].
    #[error("view {0} nests views more than {MAX_DEPTH} deep")]
    TooDeep(Box<TableRef>),
    /// The view's body no longer resolves for the reader (a table it reads was dropped, or a
    /// catalog or database it names is gone or not one the reader may know of).
    #[error("view {view}'s body no longer resolves: {why}")]
    Broken {
        /// The view.
        view: Box<TableRef>,
        /// Why, naming only what the reader may know of.
        why: String,
    },
    /// A clause of CREATE VIEW the gateway does not keep.
    #[error("unsupported in CREATE VIEW: {0}")]
    Unsupported(String),
    /// The engine of the statement's compute pool does not run views.
    #[error("views are not available on engine {0}")]
    Engine(String),
    /// The stored body of a view could not be read back (a damaged file).
    #[error("view {0}'s stored definition cannot be read")]
    Unreadable(Box<TableRef>),
    /// SHOW CREATE VIEW of a view whose body names a table the caller may not see.
    #[error("view {0}'s definition names objects the caller may not see")]
    DefinitionHidden(Box<TableRef>),
    /// The view files could not be written.
    #[error("the view definitions could not be stored: {0}")]
    Storage(String),
}

impl ViewError {
    /// Stable, dotted error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ViewError::NotFound(_) => ErrorCode::ViewNotFound,
            ViewError::Exists(_) => ErrorCode::ViewExists,
            ViewError::NameTaken { .. } => ErrorCode::ViewNameTaken,
            ViewError::IsAView { .. } | ViewError::NotAView(_) => ErrorCode::ViewWrongKind,
            ViewError::Cycle { .. } => ErrorCode::ViewCycle,
            ViewError::TooDeep(_) => ErrorCode::ViewTooDeep,
            ViewError::Broken { .. } | ViewError::Unreadable(_) => ErrorCode::ViewBroken,
            ViewError::Unsupported(_) | ViewError::Engine(_) => ErrorCode::ViewUnsupported,
            ViewError::DefinitionHidden(_) => ErrorCode::ViewDefinitionHidden,
            ViewError::Storage(_) => ErrorCode::ViewStorageError,
        }
    }

    /// A message a person can act on.
    pub fn detail(&self) -> String {
        match self {
            ViewError::NotFound(t) => format!("View {t} does not exist."),
            ViewError::Exists(t) => format!(
                "View {t} already exists; use CREATE OR REPLACE VIEW to change it, or IF NOT EXISTS to keep it."
            ),
            ViewError::NameTaken { name, existing } => format!(
                "{name} is already the name of a {existing}; a table and a view cannot share a name."
            ),
            ViewError::IsAView { name, what } => format!("{name} is a view: {what}."),
            ViewError::NotAView(t) => format!("{t} is a table, not a view; use DROP TABLE."),
            ViewError::Cycle { view, path } => format!(
                "View {view} would read itself through its body ({path}); a view cannot refer to itself."
            ),
            ViewError::TooDeep(t) => format!(
                "View {t} nests views more than {MAX_DEPTH} deep; read a table rather than a view in one of them."
            ),
            ViewError::Broken { view, why } => {
                format!("View {view} cannot be read: its body no longer resolves ({why}).")
            }
            ViewError::Unsupported(what) => format!("CREATE VIEW does not support {what}."),
            ViewError::Engine(id) => format!(
                "Engine `{id}` does not run views; create and read views on a compute pool of the embedded engine."
            ),
            ViewError::Unreadable(t) => format!(
                "The stored definition of view {t} cannot be read; drop and re-create the view."
            ),
            ViewError::DefinitionHidden(t) => format!(
                "The definition of view {t} is not shown: its body reads a table you have no role on."
            ),
            ViewError::Storage(_) => "The view definitions could not be stored.".into(),
        }
    }
}

/// What one statement does with views, found by name resolution.
#[derive(Debug, Clone, Default)]
pub struct ViewUse {
    /// CREATE VIEW: what to store, or why the gateway would not store it (refused when an
    /// engine whose views the gateway keeps runs it).
    pub definition: Option<Result<Box<Definition>, ViewError>>,
    /// Every table (or view) read through a view, with the outermost view the statement
    /// itself named: a refusal names that view.
    pub through: Vec<(TableRef, TableRef)>,
    /// Every table (or view) the statement reads itself, outside any view's body.
    pub direct: HashSet<TableRef>,
}

impl ViewUse {
    /// The view the statement named through which it reads `t`, when it reads `t` only
    /// through views (`None` if it names `t` itself, or does not read it).
    pub fn only_through(&self, t: &TableRef) -> Option<&TableRef> {
        if self.direct.contains(t) {
            return None;
        }
        self.through.iter().find(|(_, x)| x == t).map(|(v, _)| v)
    }
}

/// A CREATE VIEW's definition and its clauses.
#[derive(Debug, Clone)]
pub struct Definition {
    /// The view (`created_by` / `created_at` are set when it is stored).
    pub view: ViewDef,
    /// `CREATE OR REPLACE VIEW`.
    pub or_replace: bool,
    /// `CREATE VIEW IF NOT EXISTS`.
    pub if_not_exists: bool,
}

/// What a CREATE VIEW did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// A new view.
    New,
    /// OR REPLACE replaced an existing one.
    Replaced,
    /// IF NOT EXISTS kept the existing one.
    Kept,
}

/// Every view the gateway keeps, in memory and (once [`ViewStore::open`]ed) on disk.
#[derive(Debug, Default)]
pub struct ViewStore {
    /// `<data_dir>/views`, once opened; without it views live in memory only (tools, tests).
    dir: OnceLock<PathBuf>,
    views: RwLock<HashMap<TableRef, Arc<ViewDef>>>,
    /// Held by every change, so a database's file is written by one change at a time.
    ddl: tokio::sync::Mutex<()>,
    /// Counts the changes to `views`: a decision made while it held one value may be answered
    /// again while it still does (the decision memo, `pipeline/memo.rs`).
    generation: std::sync::atomic::AtomicU64,
}

impl ViewStore {
    /// An empty store, in memory only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads the views of `<data_dir>/views` and keeps them there from now on. Returns how
    /// many views were loaded; a file that cannot be read stops the start (it would otherwise
    /// lose views silently).
    pub fn open(&self, data_dir: &std::path::Path) -> Result<usize, ViewError> {
        let dir = data_dir.join("views");
        let loaded = store::load(&dir).map_err(|e| ViewError::Storage(e.to_string()))?;
        let n = loaded.len();
        if let Ok(mut views) = self.views.write() {
            for v in loaded {
                views.insert(v.name.clone(), Arc::new(v));
            }
            self.changed();
        }
        let _ = self.dir.set(dir);
        Ok(n)
    }

    /// How many times the views changed (see the field): bumped under the write lock, after
    /// the change, so a reader that saw it unchanged around a decision saw no change.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Counts one change (called with `views` write-locked, after changing it).
    fn changed(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// The view of that canonical name.
    pub fn get(&self, name: &TableRef) -> Option<Arc<ViewDef>> {
        self.views.read().ok()?.get(name).cloned()
    }

    /// Whether any view exists (resolution skips its look-ups when none does).
    pub fn is_empty(&self) -> bool {
        self.views.read().map(|v| v.is_empty()).unwrap_or(true)
    }

    /// The views of one database, by name.
    pub fn in_database(&self, catalog: &str, database: &str) -> Vec<Arc<ViewDef>> {
        let Ok(views) = self.views.read() else {
            return Vec::new();
        };
        let mut out: Vec<Arc<ViewDef>> = views
            .values()
            .filter(|v| v.name.catalog == catalog && v.name.database == database)
            .cloned()
            .collect();
        out.sort_by(|a, b| a.name.table.cmp(&b.name.table));
        out
    }

    /// Stores `def`: refused if the name is a view already (unless `or_replace`, or kept
    /// with `if_not_exists`), or if its body would read the view itself or nest too deep.
    pub async fn create(
        &self,
        def: ViewDef,
        or_replace: bool,
        if_not_exists: bool,
    ) -> Result<Created, ViewError> {
        let _ddl = self.ddl.lock().await;
        let existing = self.get(&def.name);
        if existing.is_some() && !or_replace {
            return if if_not_exists {
                Ok(Created::Kept)
            } else {
                Err(ViewError::Exists(Box::new(def.name)))
            };
        }
        self.check_acyclic(&def)?;
        let name = def.name.clone();
        let mut next = self.database_views(&name.catalog, &name.database);
        next.insert(name.table.clone(), def.clone());
        self.write(&name.catalog, &name.database, &next).await?;
        if let Ok(mut views) = self.views.write() {
            views.insert(name, Arc::new(def));
            self.changed();
        }
        Ok(match existing {
            Some(_) => Created::Replaced,
            None => Created::New,
        })
    }

    /// Removes a view; `Ok(false)` if there was none and `if_exists`.
    pub async fn drop_view(&self, name: &TableRef, if_exists: bool) -> Result<bool, ViewError> {
        let _ddl = self.ddl.lock().await;
        if self.get(name).is_none() {
            return if if_exists {
                Ok(false)
            } else {
                Err(ViewError::NotFound(Box::new(name.clone())))
            };
        }
        let mut next = self.database_views(&name.catalog, &name.database);
        next.remove(&name.table);
        self.write(&name.catalog, &name.database, &next).await?;
        if let Ok(mut views) = self.views.write() {
            views.remove(name);
            self.changed();
        }
        Ok(true)
    }

    /// Refuses `def` if, with it stored, its body would reach it again, or nest more than
    /// [`MAX_DEPTH`] views.
    fn check_acyclic(&self, def: &ViewDef) -> Result<(), ViewError> {
        let start = def.reads();
        let mut path = vec![def.name.clone()];
        self.walk(&def.name, start, &mut path, &mut HashSet::new())
    }

    fn walk(
        &self,
        root: &TableRef,
        reads: Vec<TableRef>,
        path: &mut Vec<TableRef>,
        done: &mut HashSet<TableRef>,
    ) -> Result<(), ViewError> {
        for t in reads {
            if &t == root {
                path.push(t);
                let chain: Vec<String> = path.iter().map(|p| p.table.clone()).collect();
                return Err(ViewError::Cycle {
                    view: Box::new(root.clone()),
                    path: chain.join(" -> "),
                });
            }
            let Some(v) = self.get(&t) else { continue };
            if done.contains(&t) {
                continue;
            }
            if path.len() >= MAX_DEPTH {
                return Err(ViewError::TooDeep(Box::new(root.clone())));
            }
            path.push(t.clone());
            self.walk(root, v.reads(), path, done)?;
            path.pop();
            done.insert(t);
        }
        Ok(())
    }

    fn database_views(&self, catalog: &str, database: &str) -> BTreeMap<String, ViewDef> {
        self.in_database(catalog, database)
            .into_iter()
            .map(|v| (v.name.table.clone(), (*v).clone()))
            .collect()
    }

    async fn write(
        &self,
        catalog: &str,
        database: &str,
        views: &BTreeMap<String, ViewDef>,
    ) -> Result<(), ViewError> {
        let Some(dir) = self.dir.get().cloned() else {
            return Ok(());
        };
        let (catalog, database) = (catalog.to_string(), database.to_string());
        let views: Vec<ViewDef> = views.values().cloned().collect();
        tokio::task::spawn_blocking(move || store::write(&dir, &catalog, &database, &views))
            .await
            .map_err(|e| ViewError::Storage(e.to_string()))?
            .map_err(|e| ViewError::Storage(e.to_string()))
    }
}
