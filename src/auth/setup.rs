//! Errors of setting authentication up: loading `[auth]`, key and API-key files at startup,
//! and the CLI's helpers (`sqlgate token`, `sqlgate api-key create`). None of them is a
//! request's answer; request-time failures are [`super::AuthError`].

use std::fmt;
use std::path::{Path, PathBuf};

use super::{AuthConfigError, AuthError};

/// Why authentication could not be set up, or a CLI helper refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    /// Invalid `[auth]` configuration.
    #[error("invalid auth configuration: {0}")]
    Config(#[from] AuthConfigError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A key, JWKS or API-key file has invalid contents.
    #[error("{}: {reason}", path.display())]
    InvalidFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A bad argument to a CLI helper (e.g. a principal without `User:`).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An issuer's keys could not be loaded at startup.
    #[error(transparent)]
    Keys(#[from] AuthError),
    /// An unexpected failure (crypto library, HTTP client).
    #[error("internal authentication setup error: {0}")]
    Internal(String),
}

impl AuthSetupError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        AuthSetupError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn invalid_file(path: &Path, reason: impl fmt::Display) -> Self {
        AuthSetupError::InvalidFile {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}
