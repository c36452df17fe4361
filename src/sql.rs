//! Flink SQL in the gateway: parse (one statement, bounded), resolve (every relation to a
//! canonical `catalog`.`database`.`table` plus the action taken on it) and rewrite (render the
//! canonical statement the engine runs).
//!
//! Owns the dialect, the size and recursion limits, the statement-kind allow-list, CTE scoping,
//! session defaults for catalog and database, and the canonical form of names. It does not
//! decide who may do what (that is [`crate::authz`]) and it never checks that a table exists
//! (any name in a known database is a table name: existence is the engine's job).
//!
//! The stages hand each other new types:
//! [`parse`] → [`ParsedStatement`] → [`resolve`] → [`ResolvedStatement`] →
//! [`crate::authz::Authorizer::authorize`] → [`crate::authz::AuthorizedStatement`] →
//! [`rewrite`] → [`RewrittenStatement`], which only [`rewrite`] can build.
//!
//! Resolution canonicalizes names in the same pass that records the accesses, so the names that
//! were checked are, by construction, the names the engine gets; [`rewrite`] re-walks the
//! canonical statement and refuses it if any relation escaped that pass.
//!
//! ```
//! use sqlgate::catalog::{Catalogs, ClusterConfig, EnvironmentConfig};
//! use sqlgate::sql::{self, Action, ParseLimits, SessionNames};
//!
//! let catalogs = Catalogs::new("org-dev", "aws.us-east-2", vec![EnvironmentConfig {
//!     id: "env-dev".into(),
//!     display_name: "dev".into(),
//!     clusters: vec![ClusterConfig {
//!         id: "lkc-dev".into(),
//!         display_name: "main".into(),
//!         region: "aws.us-east-2".into(),
//!         kafka: None,
//!     }],
//! }]);
//! let parsed = sql::parse("SELECT * FROM orders", &ParseLimits::default()).unwrap();
//! let session = SessionNames { catalog: Some("dev".into()), database: Some("main".into()) };
//! let resolved = sql::resolve(parsed, &catalogs, &session).unwrap();
//! assert_eq!(resolved.sql_kind(), "SELECT");
//! assert_eq!(resolved.accesses()[0].action, Action::Read);
//! assert_eq!(resolved.canonical_sql(), "SELECT * FROM `env-dev`.`lkc-dev`.`orders`");
//! ```

pub mod bounds;
pub mod corpus;
pub mod ddl;
mod dialect;
mod error;
mod flink;
mod guard;
mod hints;
mod literals;
mod parse;
mod resolve;
mod rewrite;
mod scope;
pub mod types;

#[cfg(test)]
mod guard_tests;
#[cfg(test)]
mod tests;

use std::fmt;

use datafusion::sql::sqlparser::ast::Statement;
use serde::Serialize;

use crate::catalog::ObjectRef;

pub use ddl::FlinkDdl;
pub use dialect::{FlinkDialect, with_parse_budget};
pub use error::{ResolveError, RewriteError, SqlError};
pub use guard::{SESSION_KEYS, TABLE_OPTIONS};
pub use hints::READ_OPTIONS;
pub use literals::without_literals;
pub use parse::{ParseLimits, parse};
pub use resolve::{resolve, resolve_for};
pub use rewrite::rewrite;
pub use types::FlinkType;

/// What a statement does to one object. Authorization decides each one separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Read rows (SELECT sources, INSERT/CTAS/VIEW sources, EXPLAIN of a query, `LIKE` source).
    Read,
    /// Write rows (INSERT target).
    Write,
    /// Create the object (CREATE TABLE / CREATE VIEW).
    Create,
    /// Change the object's definition (ALTER; not produced by this slice's allow-list).
    Alter,
    /// Delete the object (DROP TABLE / DROP VIEW).
    Drop,
    /// Read the object's schema (DESCRIBE).
    Describe,
    /// List the object's children (SHOW TABLES / DATABASES / CATALOGS).
    List,
}

impl Action {
    /// Lower-case name, used in policy files, logs and audit records (`"read"`, `"write"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Create => "create",
            Action::Alter => "alter",
            Action::Drop => "drop",
            Action::Describe => "describe",
            Action::List => "list",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One (object, action) pair a statement needs permission for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Access {
    /// The canonical object.
    pub object: ObjectRef,
    /// What the statement does to it.
    pub action: Action,
}

/// Session defaults for unqualified names, from the statement's `sql.current-catalog` and
/// `sql.current-database` properties (each a canonical id or a display name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionNames {
    /// Default catalog (environment) for 1- and 2-part names.
    pub catalog: Option<String>,
    /// Default database (Kafka cluster) for 1-part names.
    pub database: Option<String>,
}

/// Exactly one allowed statement, as parsed, with its original text.
#[derive(Debug, Clone)]
pub struct ParsedStatement {
    /// For a Flink-only statement, a stand-in (see [`ParsedStatement::is_flink_only`]).
    statement: Statement,
    /// A statement sqlparser's AST cannot hold, kept as text and name sites.
    flink: Option<flink::FlinkStatement>,
    text: String,
    /// The text without literals or comments (see [`without_literals`]), for audit records.
    literal_free: String,
    /// The `/*+ … */` hints, checked and placed on [`Self::statements`] (see `sql/hints.rs`).
    hints: Vec<hints::Placed>,
}

impl ParsedStatement {
    /// The parsed statement. For a Flink-only statement (see [`Self::is_flink_only`]) this is a
    /// stand-in, `ASSERT false, 'Flink statement <KIND> has no sqlparser form'`.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }

    /// Whether sqlparser's AST cannot hold the statement (Flink-only DDL, SHOW, SET, …): it is
    /// then carried as text whose names resolution rewrites.
    pub fn is_flink_only(&self) -> bool {
        self.flink.is_some()
    }

    /// Flink's statement kind when it is Flink-only (`ALTER_TABLE`, `SHOW_VIEWS`, …).
    pub fn flink_kind(&self) -> Option<&'static str> {
        self.flink.as_ref().map(|f| f.kind())
    }

    /// The text it was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text with every literal replaced by `?` and comments dropped (see
    /// [`without_literals`]): what an audit record may carry.
    pub fn literal_free_text(&self) -> &str {
        &self.literal_free
    }

    /// Every sqlparser statement it holds: the statement itself, or for a Flink-only statement
    /// the embedded ones (CTAS and view bodies, the INSERTs of a statement set, …).
    pub(crate) fn statements(&self) -> Box<dyn Iterator<Item = &Statement> + '_> {
        match &self.flink {
            Some(f) => Box::new(f.statements()),
            None => Box::new(std::iter::once(&self.statement)),
        }
    }
}

/// A statement whose every relation is bound to a canonical object, with the accesses it needs.
#[derive(Debug, Clone)]
pub struct ResolvedStatement {
    /// As parsed (what the client wrote).
    original: Statement,
    /// The same statement with every table reference replaced by its canonical, backtick-quoted,
    /// fully qualified name (built in the pass that recorded `accesses`).
    canonical: Statement,
    text: String,
    kind: &'static str,
    accesses: Vec<Access>,
    /// Set for a Flink-only statement: `original` and `canonical` are then stand-ins and the
    /// canonical text is here.
    flink: Option<flink::ResolvedFlink>,
    /// The checked hints, rendered into `canonical` (those of a Flink-only statement are in
    /// its canonical text already).
    hints: Vec<hints::Placed>,
}

impl ResolvedStatement {
    /// The statement as the client wrote it (a stand-in when [`Self::is_flink_only`]).
    pub fn statement(&self) -> &Statement {
        &self.original
    }

    /// Whether the statement is Flink-only (see [`ParsedStatement::is_flink_only`]).
    pub fn is_flink_only(&self) -> bool {
        self.flink.is_some()
    }

    /// The original SQL text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Flink's statement kind: `SELECT`, `INSERT_INTO`, `CREATE_TABLE`, `CREATE_TABLE_AS`,
    /// `CREATE_VIEW`, `DROP_TABLE`, `DROP_VIEW`, `SHOW_TABLES`, `SHOW_CATALOGS`,
    /// `SHOW_DATABASES`, `DESCRIBE` or `EXPLAIN`; and, for Flink-only statements
    /// ([`Self::is_flink_only`]), also `REPLACE_TABLE_AS`, `ALTER_TABLE`, `ALTER_VIEW`,
    /// `ALTER_DATABASE`, `ALTER_CATALOG`, `ALTER_FUNCTION`, `CREATE_DATABASE`,
    /// `CREATE_FUNCTION`, `DROP_CATALOG`, `DROP_DATABASE`, `DROP_FUNCTION`, `SHOW_VIEWS`,
    /// `SHOW_FUNCTIONS`, `SHOW_PROCEDURES`, `SHOW_COLUMNS`, `SHOW_PARTITIONS`,
    /// `SHOW_CREATE_TABLE`, `SHOW_CREATE_VIEW`, `SHOW_CREATE_CATALOG`, `SHOW_CURRENT_CATALOG`,
    /// `SHOW_CURRENT_DATABASE`, `SHOW_JARS`, `SHOW_MODULES`, `DESCRIBE_CATALOG`, `USE`,
    /// `USE_CATALOG`, `SET`, `RESET`, `ANALYZE_TABLE`, `TRUNCATE_TABLE`, `STATEMENT_SET` and
    /// `REMOVE_JAR` (no table access: `alter` on the session's catalog, which only
    /// administrators hold). `CREATE_CATALOG` and `ADD_JAR` never get here: they are refused
    /// by name while parsing (see `sql/guard.rs`). A statement with `MATCH_RECOGNIZE …
    /// WITHIN` is Flink-only and keeps its sqlparser kind (`SELECT`, `INSERT_INTO`, …).
    pub fn sql_kind(&self) -> &'static str {
        self.kind
    }

    /// Every (object, action) the statement needs, deduplicated, in order of first appearance.
    pub fn accesses(&self) -> &[Access] {
        &self.accesses
    }

    /// The canonical statement as SQL (what [`rewrite`] will hand to the engine).
    pub fn canonical_sql(&self) -> String {
        match &self.flink {
            Some(f) => f.canonical_text.clone(),
            None => hints::render(&self.canonical, 0, &self.hints),
        }
    }
}

/// The statement the engine runs: canonical names only, built by [`rewrite`] from an
/// [`crate::authz::AuthorizedStatement`]. The private field keeps other modules from building one.
#[derive(Debug, Clone)]
pub struct RewrittenStatement {
    statement: Statement,
    /// The canonical text of a Flink-only statement (then `statement` is a stand-in).
    flink_sql: Option<String>,
    /// A Flink-only CREATE / ALTER TABLE as data, parsed from `flink_sql`.
    ddl: Option<FlinkDdl>,
    kind: &'static str,
    accesses: Vec<Access>,
    decisions: Vec<crate::authz::Decision>,
    /// The checked hints, written into the rendering of `statement` by [`Self::sql`].
    hints: Vec<hints::Placed>,
    _proof: (),
}

impl RewrittenStatement {
    /// The canonical statement: every table reference is `` `catalog`.`database`.`table` ``;
    /// CTE names and aliases are as written.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }

    /// Whether the statement is Flink-only: [`Self::statement`] is then a stand-in that an
    /// engine running sqlparser statements must refuse, and [`Self::sql`] is the statement.
    pub fn is_flink_only(&self) -> bool {
        self.flink_sql.is_some()
    }

    /// The canonical statement rendered as SQL, with its checked hints in canonical form and
    /// no comments (for a Flink-only statement, the client's text with every name canonical,
    /// each embedded statement rendered, and comments cut).
    pub fn sql(&self) -> String {
        match &self.flink_sql {
            Some(sql) => sql.clone(),
            None => hints::render(&self.statement, 0, &self.hints),
        }
    }

    /// Flink's statement kind (see [`ResolvedStatement::sql_kind`]).
    pub fn sql_kind(&self) -> &'static str {
        self.kind
    }

    /// A Flink-only CREATE / ALTER TABLE as typed clauses (`DISTRIBUTED BY`, WITH options,
    /// columns), every name canonical: what an engine runs instead of parsing [`Self::sql`].
    pub fn ddl(&self) -> Option<&FlinkDdl> {
        self.ddl.as_ref()
    }

    /// The accesses that were authorized.
    pub fn accesses(&self) -> &[Access] {
        &self.accesses
    }

    /// The authorization decisions, one per access.
    pub fn decisions(&self) -> &[crate::authz::Decision] {
        &self.decisions
    }
}
