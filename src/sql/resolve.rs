//! Name resolution: binds every relation to a canonical object, records the action taken on
//! it, and replaces the name in place by its canonical form, all in one pass.
//!
//! Names follow Flink: `table` uses the session's catalog and database, `db.table` the
//! session's catalog, `cat.db.table` nothing. Catalogs and databases are found by canonical id
//! or display name, case-sensitively; a table name is taken verbatim (whether it exists is the
//! engine's business, and `CREATE TABLE` must resolve a table that does not exist yet).
//!
//! The statement's own targets (INSERT target, created/dropped/described object, SHOW scope)
//! are bound explicitly with their action; every other relation anywhere in the statement
//! (FROM, JOIN, subqueries in any expression, set operations, CTE bodies, LATERAL, `TABLE t`
//! arguments of table functions) is reached by sqlparser's `VisitorMut` and is a `Read`.

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    CreateTableLikeKind, Expr, Ident, ObjectName, ObjectNamePart, ObjectType, Query,
    ShowStatementIn, ShowStatementInClause, ShowStatementOptions, Statement, TableAlias,
    TableAliasColumnDef, TableFactor, TableObject, TableVersion, Value, VisitMut, VisitorMut,
};

use super::scope::CteScopes;
use super::{Access, Action, ParsedStatement, ResolveError, SessionNames};

mod resolved;

use crate::catalog::{Catalogs, Everything, ObjectRef, TableRef, Visibility};
use crate::views::{ViewDef, ViewError, ViewUse};
pub(crate) use resolved::ResolvedParts;
pub use resolved::ResolvedStatement;

/// Binds every name of `parsed` (see the module doc).
///
/// ```
/// use sqlgate::catalog::{Catalogs, ObjectRef, TableRef};
/// use sqlgate::sql::{parse, resolve, Action, ParseLimits, SessionNames};
/// let catalogs = Catalogs::new("org-dev", "aws.us-east-2", vec![]);
/// let parsed = parse("SELECT * FROM examples.marketplace.orders", &ParseLimits::default()).unwrap();
/// let r = resolve(parsed, &catalogs, &SessionNames::default()).unwrap();
/// assert_eq!(r.accesses()[0].object, ObjectRef::Table(TableRef::new("examples", "marketplace", "orders")));
/// ```
pub fn resolve(
    parsed: ParsedStatement,
    catalogs: &Catalogs,
    session: &SessionNames,
) -> Result<ResolvedStatement, ResolveError> {
    resolve_for(parsed, catalogs, session, &Everything)
}

/// [`resolve`] for a caller who knows only what `visible` says: a catalog or database it may
/// not know of does not resolve, and the error is the one a name that exists nowhere gets
/// (`resolve.unknown_catalog` / `resolve.unknown_database`), so refusals reveal nothing.
///
/// ```
/// use sqlgate::catalog::{Catalogs, ClusterConfig, EnvironmentConfig, ObjectRef, Visibility};
/// use sqlgate::sql::{parse, resolve_for, ParseLimits, SessionNames};
/// struct OnlyDev;
/// impl Visibility for OnlyDev {
///     fn knows(&self, o: &ObjectRef) -> bool {
///         !matches!(o, ObjectRef::Catalog(c) | ObjectRef::Database(c, _) if c == "env-prod")
///     }
/// }
/// let env = |id: &str, name: &str| EnvironmentConfig { id: id.into(), display_name: name.into(),
///     clusters: vec![ClusterConfig { id: "lkc".into(), display_name: "main".into(),
///                                    region: "r".into(), kafka: None }] };
/// let catalogs = Catalogs::new("o", "r", vec![env("env-dev", "dev"), env("env-prod", "prod")]);
/// let limits = ParseLimits::default();
/// let err = |sql: &str| resolve_for(parse(sql, &limits).unwrap(), &catalogs,
///                                   &SessionNames::default(), &OnlyDev).unwrap_err().detail();
/// assert_eq!(err("SELECT * FROM prod.main.t"), err("SELECT * FROM nosuch.main.t").replace("nosuch", "prod"));
/// ```
pub fn resolve_for(
    parsed: ParsedStatement,
    catalogs: &Catalogs,
    session: &SessionNames,
    visible: &dyn Visibility,
) -> Result<ResolvedStatement, ResolveError> {
    let quotes = super::render::may_hold_quotes(parsed.text());
    let (mut statement, flink, hints) = parsed.into_parts();
    let names = Names {
        catalogs,
        session,
        visible,
    };
    if let Some(flink) = flink {
        let resolved = super::flink::resolve(flink, &names, &hints)?;
        return Ok(ResolvedStatement::new(
            statement,
            resolved.canonical_text.clone(),
            resolved.text.clone(),
            resolved.kind,
            dedup(resolved.accesses.clone()),
            Some(resolved),
        ));
    }
    super::hints::pin(&mut statement, 0, &hints);
    let mut canonical = statement;
    let (kind, accesses, mut views) = bind_with_views(&mut canonical, &names)?;
    if let Statement::CreateView(cv) = &canonical {
        // Kept for an engine whose views the gateway keeps, which refuses it if it is not.
        views.definition = Some(match hints.is_empty() {
            true => crate::views::ddl::definition(cv).map(Box::new),
            false => Err(ViewError::Unsupported(
                "table hints (`/*+ OPTIONS(...) */`) in the view's body".into(),
            )),
        });
    }
    let text = super::render::SqlText::single(quotes, hints);
    let canonical_text = text.render(std::slice::from_ref(&canonical))?;
    Ok(
        ResolvedStatement::new(canonical, canonical_text, text, kind, dedup(accesses), None)
            .with_views(views),
    )
}

/// Binds one sqlparser statement in place (targets, then every relation) and returns its kind
/// and accesses in order of appearance.
pub(super) fn bind_statement(
    statement: &mut Statement,
    names: &Names<'_>,
) -> Result<(&'static str, Vec<Access>), ResolveError> {
    bind_with_views(statement, names).map(|(kind, accesses, _)| (kind, accesses))
}

/// [`bind_statement`], with what the statement does with views: the views it read (each
/// expanded in place into its body, see [`crate::views`]) and, for CREATE VIEW, the
/// definition to store.
fn bind_with_views(
    statement: &mut Statement,
    names: &Names<'_>,
) -> Result<(&'static str, Vec<Access>, ViewUse), ResolveError> {
    let mut binder = Binder {
        names: Names {
            catalogs: names.catalogs,
            session: names.session,
            visible: names.visible,
        },
        scopes: CteScopes::default(),
        skip: HashSet::new(),
        accesses: Vec::new(),
        info_schema: false,
        expanding: Vec::new(),
        views: ViewUse::default(),
        expand: true,
    };
    let kind = binder.bind_targets(statement)?;
    if let ControlFlow::Break(e) = statement.visit(&mut binder) {
        return Err(e);
    }
    if binder.info_schema {
        // Checked once every name is bound, so the refusal names nothing the caller could
        // not have resolved anyway.
        crate::infoschema::check_shape(kind, &binder.accesses)?;
    }
    if let ControlFlow::Break(e) = statement.visit(&mut TemporalAlias) {
        return Err(e);
    }
    Ok((kind, binder.accesses, binder.views))
}

/// Flink (Calcite) writes a temporal table's alias after its version clause,
/// `t FOR SYSTEM_TIME AS OF o.ts AS r`, but sqlparser renders `t AS r FOR SYSTEM_TIME AS OF
/// o.ts`, which Flink refuses. In the canonical statement the alias is therefore carried as
/// `Expr::Named` around the version's expression, which renders in Flink's order (and re-parses
/// to the same table, alias and version).
struct TemporalAlias;

impl VisitorMut for TemporalAlias {
    type Break = ResolveError;

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<ResolveError> {
        let TableFactor::Table {
            alias,
            version: Some(TableVersion::ForSystemTimeAsOf(expr)),
            ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let Some(a) = alias.take() else {
            return ControlFlow::Continue(());
        };
        if !a.columns.is_empty() {
            return ControlFlow::Break(ResolveError::InvalidName(format!(
                "{a} (column aliases on a FOR SYSTEM_TIME AS OF table)"
            )));
        }
        let inner = std::mem::replace(expr, Expr::Value(Value::Null.into()));
        *expr = Expr::Named {
            expr: Box::new(inner),
            name: a.name,
        };
        ControlFlow::Continue(())
    }
}

/// Flink's statement kind of a statement `parse` admits (see
/// [`super::ResolvedStatement::sql_kind`]); `None` for any other.
pub(super) fn statement_kind(statement: &Statement) -> Option<&'static str> {
    Some(match statement {
        Statement::Query(_) => "SELECT",
        Statement::Explain { .. } => "EXPLAIN",
        Statement::Insert(_) => "INSERT_INTO",
        Statement::CreateTable(ct) if ct.query.is_some() => "CREATE_TABLE_AS",
        Statement::CreateTable(_) => "CREATE_TABLE",
        Statement::CreateView(_) => "CREATE_VIEW",
        Statement::Drop {
            object_type: ObjectType::View,
            ..
        } => "DROP_VIEW",
        Statement::Drop { .. } => "DROP_TABLE",
        Statement::ExplainTable { .. } => "DESCRIBE",
        Statement::ShowTables { .. } => "SHOW_TABLES",
        Statement::ShowDatabases { .. } => "SHOW_DATABASES",
        Statement::ShowCatalogs { .. } => "SHOW_CATALOGS",
        _ => return None,
    })
}

/// Keeps the first of equal accesses, in linear time (a statement may name tens of thousands
/// of tables within the bounds).
fn dedup(all: Vec<Access>) -> Vec<Access> {
    let mut seen: HashSet<Access> = HashSet::with_capacity(all.len());
    all.into_iter().filter(|a| seen.insert(a.clone())).collect()
}

/// The canonical, backtick-quoted name of a table.
pub(super) fn canonical_name(t: &TableRef) -> ObjectName {
    ObjectName::from(vec![
        Ident::with_quote('`', t.catalog.as_str()),
        Ident::with_quote('`', t.database.as_str()),
        Ident::with_quote('`', t.table.as_str()),
    ])
}

/// Looks names up against the catalogs (as far as the caller may know of them) and the
/// session defaults.
pub(super) struct Names<'a> {
    pub(super) catalogs: &'a Catalogs,
    pub(super) session: &'a SessionNames,
    pub(super) visible: &'a dyn Visibility,
}

impl Names<'_> {
    /// The canonical id of an existing catalog the caller knows of.
    pub(super) fn known_catalog(&self, name: &str) -> Option<String> {
        self.catalogs
            .catalog_id(name)
            .filter(|id| self.visible.knows(&ObjectRef::Catalog(id.clone())))
    }

    /// The canonical id of an existing database the caller knows of.
    pub(super) fn known_database(&self, catalog_id: &str, name: &str) -> Option<String> {
        self.catalogs.database_id(catalog_id, name).filter(|id| {
            self.visible
                .knows(&ObjectRef::Database(catalog_id.to_string(), id.clone()))
        })
    }

    pub(super) fn catalog(&self, name: &str) -> Result<String, ResolveError> {
        self.known_catalog(name)
            .ok_or_else(|| ResolveError::UnknownCatalog(name.to_string()))
    }

    pub(super) fn database(&self, catalog_id: &str, name: &str) -> Result<String, ResolveError> {
        self.known_database(catalog_id, name)
            .ok_or_else(|| ResolveError::UnknownDatabase {
                catalog: catalog_id.to_string(),
                database: name.to_string(),
            })
    }

    pub(super) fn session_catalog(&self, written: &ObjectName) -> Result<String, ResolveError> {
        let name = self
            .session
            .catalog
            .as_deref()
            .ok_or_else(|| ResolveError::NoCurrentCatalog(written.to_string()))?;
        self.catalog(name)
    }

    pub(super) fn session_database(
        &self,
        catalog_id: &str,
        written: &ObjectName,
    ) -> Result<String, ResolveError> {
        let name = self
            .session
            .database
            .as_deref()
            .ok_or_else(|| ResolveError::NoCurrentDatabase(written.to_string()))?;
        self.database(catalog_id, name)
    }

    /// `table`, `db.table` or `cat.db.table`.
    pub(super) fn table(&self, name: &ObjectName) -> Result<TableRef, ResolveError> {
        match parts(name)?.as_slice() {
            [t] => {
                let c = self.session_catalog(name)?;
                let d = self.session_database(&c, name)?;
                Ok(TableRef::new(&c, &d, t))
            }
            [d, t] => {
                let c = self.session_catalog(name)?;
                let d = self.database(&c, d)?;
                Ok(TableRef::new(&c, &d, t))
            }
            [c, d, t] => {
                let c = self.catalog(c)?;
                let d = self.database(&c, d)?;
                Ok(TableRef::new(&c, &d, t))
            }
            _ => Err(ResolveError::TooManyNameParts(name.to_string())),
        }
    }

    /// `db` or `cat.db` (SHOW TABLES FROM), or the session's database.
    pub(super) fn database_ref(
        &self,
        name: Option<&ObjectName>,
    ) -> Result<(String, String), ResolveError> {
        let Some(name) = name else {
            let written = ObjectName::from(Vec::<Ident>::new());
            let c = self.session_catalog(&written)?;
            let d = self.session_database(&c, &written)?;
            return Ok((c, d));
        };
        match parts(name)?.as_slice() {
            [d] => {
                let c = self.session_catalog(name)?;
                let d = self.database(&c, d)?;
                Ok((c, d))
            }
            [c, d] => {
                let c = self.catalog(c)?;
                let d = self.database(&c, d)?;
                Ok((c, d))
            }
            _ => Err(ResolveError::TooManyNameParts(name.to_string())),
        }
    }

    /// `cat` (SHOW DATABASES FROM), or the session's catalog.
    pub(super) fn catalog_ref(&self, name: Option<&ObjectName>) -> Result<String, ResolveError> {
        let Some(name) = name else {
            return self.session_catalog(&ObjectName::from(Vec::<Ident>::new()));
        };
        match parts(name)?.as_slice() {
            [c] => self.catalog(c),
            _ => Err(ResolveError::TooManyNameParts(name.to_string())),
        }
    }
}

/// The identifier values of a name (verbatim: quoting only decides what may be written).
pub(super) fn parts(name: &ObjectName) -> Result<Vec<&str>, ResolveError> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => Ok(i.value.as_str()),
            ObjectNamePart::Function(_) => Err(ResolveError::InvalidName(name.to_string())),
        })
        .collect()
}

/// The resolving visitor.
struct Binder<'a> {
    names: Names<'a>,
    scopes: CteScopes,
    /// Names already bound (the statement's targets, and every relation once bound); the
    /// visitor leaves them alone. Compared by address only; a set, since a statement may name
    /// tens of thousands of tables within the bounds.
    skip: HashSet<*const ObjectName>,
    accesses: Vec<Access>,
    /// Whether a relation named an INFORMATION_SCHEMA view.
    info_schema: bool,
    /// The views being expanded, outermost first, each with the address of the body that
    /// replaced it (popped when the visitor leaves that body).
    expanding: Vec<(TableRef, *const Query)>,
    /// What the statement did with views.
    views: ViewUse,
    /// Whether reads of views are expanded (not in CREATE VIEW's own body, which is stored
    /// as written and expanded when read).
    expand: bool,
}

impl Binder<'_> {
    /// Binds a table target in place and records `action` on it.
    fn bind_table(&mut self, name: &mut ObjectName, action: Action) -> Result<(), ResolveError> {
        if self.bind_info_schema(name, action)? {
            return Ok(());
        }
        let t = match self.names.table(name) {
            Ok(t) => t,
            // Inside a view's body: the reader is told about the view it named, never about
            // the names of a body it may not know of.
            Err(_) if !self.expanding.is_empty() => {
                return Err(self.broken(
                    "it names a catalog or database that does not exist or that you may not know of",
                ));
            }
            Err(e) => return Err(e),
        };
        let canonical = canonical_name(&t);
        // A hint on the table stays pinned to it (`sql/hints.rs`).
        let written = std::mem::replace(name, canonical);
        super::hints::carry_pin(&written, name);
        self.skip.insert(name as *const ObjectName);
        self.note_read(&t, action);
        self.accesses.push(Access {
            object: ObjectRef::Table(t),
            action,
        });
        Ok(())
    }

    /// Records whether a read of `t` is the statement's own or through a view.
    fn note_read(&mut self, t: &TableRef, action: Action) {
        if action != Action::Read {
            return;
        }
        match self.expanding.first() {
            Some((outer, _)) => self.views.through.push((outer.clone(), t.clone())),
            None => {
                self.views.direct.insert(t.clone());
            }
        }
    }

    /// The refusal of a view (the outermost being expanded) whose body does not resolve.
    fn broken(&self, why: &str) -> ResolveError {
        let view = self
            .expanding
            .first()
            .map(|(v, _)| v.clone())
            .unwrap_or_else(|| TableRef::new("", "", ""));
        ResolveError::View(ViewError::Broken {
            view: Box::new(view),
            why: why.to_string(),
        })
    }

    /// Replaces `factor`, a read of view `t`, by its body under the view's name (see
    /// [`crate::views`]), and records the read of the view itself.
    fn expand_view(
        &mut self,
        factor: &mut TableFactor,
        t: TableRef,
        def: &ViewDef,
    ) -> Result<(), ResolveError> {
        let outer = self.expanding.first().map(|(v, _)| v.clone());
        if let Some(i) = self.expanding.iter().position(|(v, _)| *v == t) {
            let mut chain: Vec<String> = self.expanding[i..]
                .iter()
                .map(|(v, _)| v.table.clone())
                .collect();
            chain.push(t.table.clone());
            return Err(ResolveError::View(ViewError::Cycle {
                view: Box::new(outer.unwrap_or(t)),
                path: chain.join(" -> "),
            }));
        }
        if self.expanding.len() >= crate::views::MAX_DEPTH {
            return Err(ResolveError::View(ViewError::TooDeep(Box::new(
                outer.unwrap_or(t),
            ))));
        }
        let TableFactor::Table {
            alias,
            args,
            with_hints,
            version,
            with_ordinality,
            partitions,
            json_path,
            sample,
            index_hints,
            ..
        } = factor
        else {
            return Ok(());
        };
        if args.is_some()
            || !with_hints.is_empty()
            || version.is_some()
            || *with_ordinality
            || !partitions.is_empty()
            || json_path.is_some()
            || sample.is_some()
            || !index_hints.is_empty()
        {
            return Err(ResolveError::View(ViewError::IsAView {
                name: Box::new(t),
                what: "it can only be read as a plain relation (no FOR SYSTEM_TIME AS OF, \
                       sample, partitions or hints)",
            }));
        }
        let body = match def.parsed() {
            Ok(q) => q,
            Err(e) => return Err(ResolveError::View(e)),
        };
        let columns: Vec<TableAliasColumnDef> = def
            .columns
            .iter()
            .map(|c| TableAliasColumnDef {
                name: Ident::with_quote('`', c.as_str()),
                data_type: None,
            })
            .collect();
        let alias = match alias.take() {
            Some(mut a) => {
                if a.columns.is_empty() {
                    a.columns = columns;
                }
                a
            }
            None => TableAlias {
                explicit: true,
                name: Ident::with_quote('`', t.table.as_str()),
                columns,
                at: None,
            },
        };
        self.note_read(&t, Action::Read);
        self.accesses.push(Access {
            object: ObjectRef::Table(t.clone()),
            action: Action::Read,
        });
        *factor = TableFactor::Derived {
            lateral: false,
            subquery: Box::new(body),
            alias: Some(alias),
            sample: None,
        };
        if let TableFactor::Derived { subquery, .. } = factor {
            self.expanding.push((t, &**subquery as *const Query));
        }
        Ok(())
    }

    /// Binds `[catalog.]INFORMATION_SCHEMA.view` in place, if `name` is one: the catalog is
    /// found exactly as any other (a catalog the caller may not know of gets the error one
    /// that does not exist gets), and reading a view is listing its catalog (the global
    /// `CATALOGS` view: listing the organization), as SHOW DATABASES / SHOW CATALOGS are.
    fn bind_info_schema(
        &mut self,
        name: &mut ObjectName,
        action: Action,
    ) -> Result<bool, ResolveError> {
        use crate::infoschema::{self, INFORMATION_SCHEMA};
        let catalog = match parts(name)?.as_slice() {
            [s, _] if *s == INFORMATION_SCHEMA => self.names.session_catalog(name)?,
            [c, s, _] if *s == INFORMATION_SCHEMA => self.names.catalog(c)?,
            _ => return Ok(false),
        };
        let view = parts(name)?
            .last()
            .map(|v| v.to_string())
            .unwrap_or_default();
        if action != Action::Read {
            return Err(ResolveError::InfoSchemaUnsupported(
                "its views can only be read".into(),
            ));
        }
        let object = infoschema::listed_by(&view, &catalog)?;
        *name = ObjectName::from(vec![
            Ident::with_quote('`', catalog.as_str()),
            Ident::with_quote('`', INFORMATION_SCHEMA),
            Ident::with_quote('`', view.as_str()),
        ]);
        self.skip.insert(name as *const ObjectName);
        self.info_schema = true;
        self.accesses.push(Access {
            object,
            action: Action::List,
        });
        Ok(true)
    }

    /// Binds the statement's own targets and returns Flink's statement kind. Relations inside
    /// the statement's queries are left to the visitor.
    fn bind_targets(&mut self, statement: &mut Statement) -> Result<&'static str, ResolveError> {
        // `parse` admits nothing else; refuse rather than guess if that ever changes.
        let kind = statement_kind(statement)
            .ok_or_else(|| ResolveError::InvalidName(statement.to_string()))?;
        match statement {
            Statement::Insert(insert) => {
                if let TableObject::TableName(name) = &mut insert.table {
                    self.bind_table(name, Action::Write)?;
                }
            }
            Statement::CreateTable(ct) => {
                self.bind_table(&mut ct.name, Action::Create)?;
                if let Some(
                    CreateTableLikeKind::Plain(like) | CreateTableLikeKind::Parenthesized(like),
                ) = &mut ct.like
                {
                    self.bind_table(&mut like.name, Action::Read)?;
                }
            }
            Statement::CreateView(cv) => {
                self.bind_table(&mut cv.name, Action::Create)?;
                self.expand = false;
            }
            Statement::Drop { names, .. } => {
                for name in names.iter_mut() {
                    self.bind_table(name, Action::Drop)?;
                }
            }
            Statement::ExplainTable { table_name, .. } => {
                self.bind_table(table_name, Action::Describe)?;
            }
            Statement::ShowTables { show_options, .. } => {
                let name = show_parent(show_options);
                let (c, d) = self.names.database_ref(name.as_ref())?;
                let canonical = ObjectName::from(vec![
                    Ident::with_quote('`', c.as_str()),
                    Ident::with_quote('`', d.as_str()),
                ]);
                self.set_show_parent(show_options, canonical);
                self.accesses.push(Access {
                    object: ObjectRef::Database(c, d),
                    action: Action::List,
                });
            }
            Statement::ShowDatabases { show_options, .. } => {
                let name = show_parent(show_options);
                let c = self.names.catalog_ref(name.as_ref())?;
                let canonical = ObjectName::from(vec![Ident::with_quote('`', c.as_str())]);
                self.set_show_parent(show_options, canonical);
                self.accesses.push(Access {
                    object: ObjectRef::Catalog(c),
                    action: Action::List,
                });
            }
            Statement::ShowCatalogs { .. } => {
                self.accesses.push(Access {
                    object: ObjectRef::Organization,
                    action: Action::List,
                });
            }
            // No target of its own: every relation is a read, found by the visitor.
            _ => {}
        }
        Ok(kind)
    }

    /// Makes the SHOW scope explicit (`FROM <canonical>`), so the engine does not fall back
    /// on a session default of its own.
    fn set_show_parent(&mut self, options: &mut ShowStatementOptions, canonical: ObjectName) {
        let show_in = options.show_in.get_or_insert(ShowStatementIn {
            clause: ShowStatementInClause::FROM,
            parent_type: None,
            parent_name: None,
        });
        let name = show_in.parent_name.insert(canonical);
        self.skip.insert(name as *const ObjectName);
    }
}

fn show_parent(options: &ShowStatementOptions) -> Option<ObjectName> {
    options.show_in.as_ref().and_then(|s| s.parent_name.clone())
}

impl VisitorMut for Binder<'_> {
    type Break = ResolveError;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<ResolveError> {
        self.scopes.enter(query);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<ResolveError> {
        self.scopes.exit(query);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<ResolveError> {
        let views = self.names.catalogs.views();
        if !self.expand || views.is_empty() {
            return ControlFlow::Continue(());
        }
        let TableFactor::Table { name, .. } = factor else {
            return ControlFlow::Continue(());
        };
        if self.skip.contains(&(name as *const ObjectName)) || self.scopes.is_cte(name) {
            return ControlFlow::Continue(());
        }
        // A name that does not resolve is reported when the visitor binds it.
        let Ok(t) = self.names.table(name) else {
            return ControlFlow::Continue(());
        };
        let Some(def) = views.get(&t) else {
            return ControlFlow::Continue(());
        };
        match self.expand_view(factor, t, &def) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<ResolveError> {
        if let TableFactor::Derived { subquery, .. } = factor
            && self
                .expanding
                .last()
                .is_some_and(|(_, body)| std::ptr::eq(*body, &**subquery))
        {
            self.expanding.pop();
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &mut ObjectName) -> ControlFlow<ResolveError> {
        let addr = relation as *const ObjectName;
        if self.skip.contains(&addr) || self.scopes.is_cte(relation) {
            return ControlFlow::Continue(());
        }
        match self.bind_table(relation, Action::Read) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<ResolveError> {
        let Some(idents) = table_argument(expr) else {
            return ControlFlow::Continue(());
        };
        let name = ObjectName::from(idents);
        if self.scopes.is_cte(&name) {
            return ControlFlow::Continue(());
        }
        match self.names.table(&name) {
            Ok(t) if self.names.catalogs.views().get(&t).is_some() => {
                ControlFlow::Break(ResolveError::View(ViewError::IsAView {
                    name: Box::new(t),
                    what: "a view cannot be the TABLE argument of a table function; \
                           use its body's table, or a CTE",
                }))
            }
            Ok(t) => {
                let canonical = canonical_name(&t);
                if let Expr::Prefixed { value, .. } = expr {
                    **value = Expr::CompoundIdentifier(
                        canonical
                            .0
                            .into_iter()
                            .filter_map(|p| p.as_ident().cloned())
                            .collect(),
                    );
                }
                self.accesses.push(Access {
                    object: ObjectRef::Table(t),
                    action: Action::Read,
                });
                ControlFlow::Continue(())
            }
            Err(e) => ControlFlow::Break(e),
        }
    }
}

/// The name of a `TABLE t` table-function argument (see `dialect.rs`), if `expr` is one.
pub(crate) fn table_argument(expr: &Expr) -> Option<Vec<Ident>> {
    let Expr::Prefixed { prefix, value } = expr else {
        return None;
    };
    if prefix.quote_style.is_some() || !prefix.value.eq_ignore_ascii_case("TABLE") {
        return None;
    }
    match &**value {
        Expr::Identifier(i) => Some(vec![i.clone()]),
        Expr::CompoundIdentifier(is) => Some(is.clone()),
        _ => None,
    }
}
