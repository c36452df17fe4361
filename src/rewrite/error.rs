//! Why an authorized statement could not be turned into what the engine runs.

use crate::error::ErrorCode;

/// Why an authorized statement could not be turned into what the engine runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    /// A relation of the canonical statement is not canonical or was not authorized: a bug in
    /// resolution, refused rather than run.
    #[error("relation `{0}` was not resolved and authorized")]
    Unresolved(String),
}

impl RewriteError {
    /// Stable error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            RewriteError::Unresolved(_) => ErrorCode::RewriteUnresolvedRelation,
        }
    }

    /// Message for the client.
    pub fn detail(&self) -> String {
        match self {
            RewriteError::Unresolved(name) => format!(
                "The gateway could not account for the relation `{name}` and refused the statement."
            ),
        }
    }
}
