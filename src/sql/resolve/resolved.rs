//! The proof of stage 3: [`ResolvedStatement`], every relation bound to a canonical object,
//! with the accesses the statement needs.
//!
//! Owns the type and its one constructor, which only `sql::resolve` can call (`pub(super)`
//! here). It carries no principal, placement or policy version: resolution names objects (in
//! a principal's view when `resolve_for` is given one) but decides nothing; the principal,
//! placement and policy version enter the proof chain at authorization.

use datafusion::sql::sqlparser::ast::Statement;

use crate::sql::Access;
use crate::sql::SqlText;
use crate::sql::flink::ResolvedFlink;
use crate::views::ViewUse;

/// A statement whose every relation is bound to a canonical object, with the accesses it needs.
#[derive(Debug)]
pub struct ResolvedStatement {
    /// The same statement with every table reference replaced by its canonical, backtick-quoted,
    /// fully qualified name (built in the pass that recorded `accesses`).
    canonical: Statement,
    /// `canonical` as SQL text that parses back to it (`sql/render.rs`), or the canonical
    /// text of a Flink-only statement.
    canonical_text: String,
    /// How `canonical_text` is made from the canonical statement(s), for the rewrite.
    text: SqlText,
    kind: &'static str,
    accesses: Vec<Access>,
    /// Set for a Flink-only statement: `canonical` is then a stand-in and the canonical text
    /// is here.
    flink: Option<ResolvedFlink>,
    /// What the statement does with views (see [`crate::views`]).
    views: ViewUse,
}

/// [`ResolvedStatement`] taken apart for [`crate::rewrite`].
pub(crate) struct ResolvedParts {
    /// The canonical statement (a stand-in for a Flink-only statement).
    pub(crate) canonical: Statement,
    /// Its text as resolved.
    pub(crate) canonical_text: String,
    /// How that text is made from the canonical statement(s).
    pub(crate) text: SqlText,
    /// Flink's statement kind.
    pub(crate) kind: &'static str,
    /// What it accesses.
    pub(crate) accesses: Vec<Access>,
    /// Its Flink-only form.
    pub(crate) flink: Option<ResolvedFlink>,
}

impl ResolvedStatement {
    /// The one constructor: `sql::resolve`, once every relation was bound. `canonical` is the
    /// parsed statement with every name canonical; for a Flink-only statement it is the
    /// stand-in and `flink` holds the canonical text.
    pub(super) fn new(
        canonical: Statement,
        canonical_text: String,
        text: SqlText,
        kind: &'static str,
        accesses: Vec<Access>,
        flink: Option<ResolvedFlink>,
    ) -> Self {
        Self {
            canonical,
            canonical_text,
            text,
            kind,
            accesses,
            flink,
            views: ViewUse::default(),
        }
    }

    /// The views the statement read (expanded in place) and, for CREATE VIEW, what to store.
    pub(super) fn with_views(mut self, views: ViewUse) -> Self {
        self.views = views;
        self
    }

    /// What the statement does with views: the views it reads, the tables it reads only
    /// through them, and for CREATE VIEW the definition to store.
    pub fn views(&self) -> &ViewUse {
        &self.views
    }

    /// Takes the statement apart for [`crate::rewrite`]: the canonical statement, its text
    /// and how that is made, its kind, its accesses and its Flink-only form.
    pub(crate) fn into_parts(self) -> ResolvedParts {
        ResolvedParts {
            canonical: self.canonical,
            canonical_text: self.canonical_text,
            text: self.text,
            kind: self.kind,
            accesses: self.accesses,
            flink: self.flink,
        }
    }

    /// The canonical statement itself (tests of the rewrite's check).
    #[cfg(test)]
    pub(in crate::sql) fn canonical_statement(&self) -> &Statement {
        &self.canonical
    }

    /// Whether the statement is Flink-only (see [`crate::sql::ParsedStatement`]). (Tests; the
    /// rewrite reads the form itself.)
    #[cfg(test)]
    pub(crate) fn is_flink_only(&self) -> bool {
        self.flink.is_some()
    }

    /// Flink's statement kind: `SELECT`, `INSERT_INTO`, `CREATE_TABLE`, `CREATE_TABLE_AS`,
    /// `CREATE_VIEW`, `DROP_TABLE`, `DROP_VIEW`, `SHOW_TABLES`, `SHOW_CATALOGS`,
    /// `SHOW_DATABASES`, `DESCRIBE` or `EXPLAIN`; and, for Flink-only statements
    /// ([`Self::is_flink_only`]), also `REPLACE_TABLE_AS`, `ALTER_TABLE`, `ALTER_VIEW`,
    /// `ALTER_DATABASE`, `ALTER_CATALOG`, `ALTER_FUNCTION`, `CREATE_CATALOG`, `CREATE_DATABASE`,
    /// `CREATE_FUNCTION`, `DROP_CATALOG`, `DROP_DATABASE`, `DROP_FUNCTION`, `SHOW_VIEWS`,
    /// `SHOW_FUNCTIONS`, `SHOW_PROCEDURES`, `SHOW_COLUMNS`, `SHOW_PARTITIONS`,
    /// `SHOW_CREATE_TABLE`, `SHOW_CREATE_VIEW`, `SHOW_CREATE_CATALOG`, `SHOW_CURRENT_CATALOG`,
    /// `SHOW_CURRENT_DATABASE`, `SHOW_JARS`, `SHOW_MODULES`, `DESCRIBE_CATALOG`, `USE`,
    /// `USE_CATALOG`, `SET`, `RESET`, `ANALYZE_TABLE`, `TRUNCATE_TABLE`, `STATEMENT_SET`,
    /// `ADD_JAR` and `REMOVE_JAR` (no table access: `alter` on the session's catalog, which
    /// only administrators hold). A statement with `MATCH_RECOGNIZE … WITHIN` is Flink-only
    /// and keeps its sqlparser kind (`SELECT`, `INSERT_INTO`, …).
    pub fn sql_kind(&self) -> &'static str {
        self.kind
    }

    /// Every (object, action) the statement needs, deduplicated, in order of first appearance.
    pub fn accesses(&self) -> &[Access] {
        &self.accesses
    }

    /// The canonical statement as SQL (what [`crate::rewrite::rewrite`] will hand to the engine).
    pub fn canonical_sql(&self) -> String {
        self.canonical_text.clone()
    }
}
