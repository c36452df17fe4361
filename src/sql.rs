//! Flink SQL in the gateway: parse (one statement, bounded) and resolve (every relation to a
//! canonical `catalog`.`database`.`table` plus the action taken on it, and the canonical text
//! the engine will run). Rewrite, the stage after authorization, is [`crate::rewrite`]: this
//! module imports no later stage.
//!
//! Owns the dialect, the size and recursion limits, the statement-kind allow-list, CTE scoping,
//! session defaults for catalog and database, and the canonical form of names. It does not
//! decide who may do what (that is [`crate::authz`]) and it never checks that a table exists
//! (any name in a known database is a table name: existence is the engine's job).
//!
//! The stages hand each other new types:
//! [`parse`] → [`ParsedStatement`] → [`resolve`] → [`ResolvedStatement`] →
//! [`crate::authz::Authorizer::authorize`] → [`crate::authz::AuthorizedStatement`] →
//! [`crate::rewrite::rewrite`] → [`crate::rewrite::RewrittenStatement`], which only it can build.
//!
//! Resolution canonicalizes names in the same pass that records the accesses, so the names that
//! were checked are, by construction, the names the engine gets; [`crate::rewrite`] re-walks the
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
mod render;
mod resolve;
mod scope;
mod type_tokens;
pub mod types;

#[cfg(test)]
mod guard_tests;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::Serialize;

use crate::catalog::ObjectRef;

pub use ddl::FlinkDdl;
pub use dialect::{FlinkDialect, with_parse_budget};
pub use error::{ResolveError, SqlError};
pub use guard::{SESSION_KEYS, TABLE_OPTIONS};
pub use hints::READ_OPTIONS;
pub(crate) use hints::carry_pin;
pub use literals::{scrub_literals, without_literals};
pub use parse::{ParseLimits, ParsedStatement, parse};
pub(crate) use render::SqlText;
pub(crate) use resolve::ResolvedParts;
pub use resolve::{ResolvedStatement, resolve, resolve_for};
pub(crate) use type_tokens::fold as fold_type_tokens;
pub use types::FlinkType;

pub(crate) use resolve::table_argument;

/// The SQL text of a statement rebuilt after resolution (the Flink engine's form of a
/// statement under row filters and column masks), checked to parse back to it (`render.rs`).
pub fn render_checked(
    statement: &datafusion::sql::sqlparser::ast::Statement,
) -> Result<String, ResolveError> {
    render::statement(statement, true, None)
}
pub(crate) use scope::CteScopes;

/// A plain read of `t` by its canonical name (three backtick-quoted parts), as a FROM item.
pub(crate) fn table_factor(
    t: &crate::catalog::TableRef,
) -> datafusion::sql::sqlparser::ast::TableFactor {
    use datafusion::sql::sqlparser::ast::{Ident, ObjectName, TableFactor};
    TableFactor::Table {
        name: ObjectName::from(vec![
            Ident::with_quote('`', t.catalog.as_str()),
            Ident::with_quote('`', t.database.as_str()),
            Ident::with_quote('`', t.table.as_str()),
        ]),
        alias: None,
        args: None,
        with_hints: Vec::new(),
        version: None,
        with_ordinality: false,
        partitions: Vec::new(),
        json_path: None,
        sample: None,
        index_hints: Vec::new(),
    }
}

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
