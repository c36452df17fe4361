//! Why an authorized statement could not be turned into what the engine runs.

use crate::error::ErrorCode;

/// Why an authorized statement could not be turned into what the engine runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    /// A relation of the canonical statement is not canonical or was not authorized: a bug in
    /// resolution, refused rather than run.
    #[error("relation `{0}` was not resolved and authorized")]
    Unresolved(String),
    /// A read of a table under a row filter or column mask where the rewrite cannot put the
    /// filtered, masked table (refused: fail closed).
    #[error(
        "table {table} has row filters or column masks, which cannot be enforced in {position}"
    )]
    Unenforceable {
        /// The table.
        table: String,
        /// Where it is read.
        position: &'static str,
    },
    /// A row filter or column mask of the table names a column the table does not have.
    #[error("a row filter or column mask of table {table} does not match its columns")]
    PolicyMismatch {
        /// The table.
        table: String,
    },
    /// EXPLAIN of a statement that reads a table through a row filter or column mask: the
    /// plan would show the filter and mask expressions (the policy text) to the caller.
    #[error("EXPLAIN of a read of table {table}, which has row filters or column masks")]
    ExplainThroughPolicy {
        /// The table.
        table: String,
    },
    /// The rewritten statement could not be written out as SQL (see `sql/render.rs`).
    #[error(transparent)]
    Render(crate::sql::ResolveError),
}

impl RewriteError {
    /// Stable error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            RewriteError::Unresolved(_) => ErrorCode::RewriteUnresolvedRelation,
            RewriteError::Unenforceable { .. } => ErrorCode::RewriteDataPolicyUnenforceable,
            RewriteError::PolicyMismatch { .. } => ErrorCode::RewriteDataPolicyMismatch,
            RewriteError::ExplainThroughPolicy { .. } => ErrorCode::RewriteDataPolicyExplain,
            RewriteError::Render(e) => e.code(),
        }
    }

    /// Message for the client.
    pub fn detail(&self) -> String {
        match self {
            RewriteError::Unresolved(name) => format!(
                "The gateway could not account for the relation `{name}` and refused the statement."
            ),
            RewriteError::Unenforceable { table, position } => format!(
                "Table {table} is read through row filters or column masks, which the gateway \
                 cannot enforce in {position}; read it in FROM or JOIN (a subquery or CTE \
                 will do) instead."
            ),
            RewriteError::PolicyMismatch { table } => format!(
                "Table {table} has a row filter or column mask that does not match its columns; \
                 the statement was refused. A security administrator must correct the data \
                 policies."
            ),
            RewriteError::ExplainThroughPolicy { table } => format!(
                "EXPLAIN was refused: the statement reads table {table} through row filters or \
                 column masks, and its plan would show them. Run the statement itself, or ask a \
                 security administrator (`sqlgate check` shows what applies)."
            ),
            RewriteError::Render(e) => e.detail(),
        }
    }
}
