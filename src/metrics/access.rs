//! Who may read `/metrics`: anyone who reaches the port (`open`), only holders of a bearer
//! token (`token`), or only local processes, on a separate loopback listener (`listener`).
//!
//! Owns the `[metrics]` section, loading the token (from a file or an environment variable,
//! never inline) and checking a presented token in constant time. It serves nothing itself:
//! `http::metrics` answers on the main port, `server::metrics_listener` on the loopback one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hyper::HeaderMap;
use hyper::header::AUTHORIZATION;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::EnvSource;

/// How `/metrics` is protected.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AccessMode {
    /// Served on the main port to anyone (the default, as before).
    #[default]
    Open,
    /// Served on the main port to requests bearing the configured token.
    Token,
    /// Served only on `metrics.listen` (plain HTTP, loopback only); the main port says 404.
    Listener,
}

/// The `[metrics]` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `open`, `token` or `listener`.
    pub access: AccessMode,
    /// With `token`: a file holding the token (surrounding whitespace is ignored).
    pub token_file: Option<PathBuf>,
    /// With `token`: the environment variable holding the token (instead of a file).
    pub token_env: Option<String>,
    /// With `listener`: the loopback address to serve `/metrics` on, e.g. `127.0.0.1:9464`.
    pub listen: Option<SocketAddr>,
}

/// Why the metrics configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MetricsConfigError {
    /// Inconsistent keys; `key` is the dotted path.
    #[error("invalid config at `{key}`: {message}")]
    Invalid {
        /// Dotted key path.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The token could not be read.
    #[error("cannot read the metrics token from {source_name}: {reason}")]
    Token {
        /// The file or variable.
        source_name: String,
        /// The cause.
        reason: String,
    },
}

fn invalid(key: &'static str, message: impl Into<String>) -> MetricsConfigError {
    MetricsConfigError::Invalid {
        key,
        message: message.into(),
    }
}

impl MetricsConfig {
    /// Checks that the keys fit the mode; a listener must be on a loopback address.
    pub fn validate(&self) -> Result<(), MetricsConfigError> {
        let token_keys = self.token_file.is_some() || self.token_env.is_some();
        match self.access {
            AccessMode::Open | AccessMode::Listener if token_keys => Err(invalid(
                if self.token_file.is_some() {
                    "metrics.token_file"
                } else {
                    "metrics.token_env"
                },
                "is only used with metrics.access = \"token\"",
            )),
            AccessMode::Open | AccessMode::Token if self.listen.is_some() => Err(invalid(
                "metrics.listen",
                "is only used with metrics.access = \"listener\"",
            )),
            AccessMode::Open => Ok(()),
            AccessMode::Token => match (&self.token_file, &self.token_env) {
                (Some(_), None) | (None, Some(_)) => Ok(()),
                _ => Err(invalid(
                    "metrics.access",
                    "\"token\" needs exactly one of metrics.token_file and metrics.token_env",
                )),
            },
            AccessMode::Listener => match self.listen {
                Some(addr) if addr.ip().is_loopback() => Ok(()),
                Some(addr) => Err(invalid(
                    "metrics.listen",
                    format!(
                        "{addr} is not a loopback address; the metrics listener speaks plain \
                         HTTP and is for local scrapers only (use 127.0.0.1 or ::1)"
                    ),
                )),
                None => Err(invalid(
                    "metrics.access",
                    "\"listener\" needs metrics.listen (e.g. \"127.0.0.1:9464\")",
                )),
            },
        }
    }

    /// Loads the token (relative files resolve against `base`) into the runtime form.
    pub fn build(
        &self,
        base: &Path,
        env: &impl EnvSource,
    ) -> Result<MetricsAccess, MetricsConfigError> {
        self.validate()?;
        match self.access {
            AccessMode::Open => Ok(MetricsAccess::Open),
            AccessMode::Listener => Ok(MetricsAccess::Listener),
            AccessMode::Token => {
                let (name, raw) = match (&self.token_file, &self.token_env) {
                    (Some(f), _) => {
                        let path = if f.is_absolute() {
                            f.clone()
                        } else {
                            base.join(f)
                        };
                        let name = path.display().to_string();
                        let text = std::fs::read_to_string(&path).map_err(|e| {
                            MetricsConfigError::Token {
                                source_name: name.clone(),
                                reason: e.to_string(),
                            }
                        })?;
                        (name, text)
                    }
                    (None, Some(var)) => {
                        let name = format!("environment variable {var}");
                        let text = env.get(var).ok_or_else(|| MetricsConfigError::Token {
                            source_name: name.clone(),
                            reason: "it is not set".into(),
                        })?;
                        (name, text)
                    }
                    (None, None) => unreachable_token_source()?,
                };
                let token = raw.trim();
                if token.is_empty() {
                    return Err(MetricsConfigError::Token {
                        source_name: name,
                        reason: "the token is empty".into(),
                    });
                }
                Ok(MetricsAccess::Token(MetricsToken::new(token)))
            }
        }
    }
}

fn unreachable_token_source<T>() -> Result<T, MetricsConfigError> {
    Err(invalid(
        "metrics.access",
        "\"token\" needs metrics.token_file or metrics.token_env",
    ))
}

/// `/metrics` access as the running gateway applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Anyone on the main port.
    Open,
    /// Bearer token holders on the main port.
    Token(MetricsToken),
    /// Only on the loopback listener.
    Listener,
}

/// The metrics token, kept only as its SHA-256 so comparisons take the same time whatever
/// the presented token's length or content. `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct MetricsToken([u8; 32]);

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(<redacted>)")
    }
}

impl MetricsToken {
    fn new(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(self.0.ct_eq(&digest))
    }
}

/// Why a metrics request was refused (401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MetricsDenied {
    /// No `Authorization: Bearer` header.
    #[error(
        "GET /metrics requires the metrics bearer token (metrics.access = \"token\"); the request presented none"
    )]
    Missing,
    /// A bearer token that is not the metrics token.
    #[error("GET /metrics requires the metrics bearer token; the token presented is not it")]
    Wrong,
}

impl MetricsAccess {
    /// Whether a request with `headers` may read the metrics on the main port. (`Listener`
    /// never reaches this: the main port does not serve them then.)
    ///
    /// ```
    /// use sqlgate::metrics::MetricsAccess;
    /// assert!(MetricsAccess::Open.check(&hyper::HeaderMap::new()).is_ok());
    /// ```
    pub fn check(&self, headers: &HeaderMap) -> Result<(), MetricsDenied> {
        let MetricsAccess::Token(token) = self else {
            return Ok(());
        };
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        match presented {
            None => Err(MetricsDenied::Missing),
            Some(t) if token.matches(t) => Ok(()),
            Some(_) => Err(MetricsDenied::Wrong),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(access: AccessMode) -> MetricsConfig {
        MetricsConfig {
            access,
            ..MetricsConfig::default()
        }
    }

    #[test]
    fn each_mode_takes_only_its_own_keys() {
        assert!(cfg(AccessMode::Open).validate().is_ok());
        let mut c = cfg(AccessMode::Token);
        assert!(c.validate().is_err(), "token without a source");
        c.token_env = Some("T".into());
        assert!(c.validate().is_ok());
        c.token_file = Some("t".into());
        assert!(c.validate().is_err(), "two sources");
        let mut c = cfg(AccessMode::Open);
        c.listen = Some("127.0.0.1:9464".parse().unwrap());
        assert!(c.validate().is_err());
        c.access = AccessMode::Listener;
        assert!(c.validate().is_ok());
    }

    #[test]
    fn a_listener_off_loopback_is_refused_by_name() {
        let mut c = cfg(AccessMode::Listener);
        for addr in ["0.0.0.0:9464", "10.1.2.3:9464", "[::]:9464"] {
            c.listen = Some(addr.parse().unwrap());
            let err = c.validate().unwrap_err().to_string();
            assert!(
                err.contains("metrics.listen") && err.contains("loopback"),
                "{err}"
            );
        }
        c.listen = Some("[::1]:9464".parse().unwrap());
        assert!(c.validate().is_ok());
    }

    #[test]
    fn the_token_comes_from_the_environment_and_is_checked_exactly() {
        let mut c = cfg(AccessMode::Token);
        c.token_env = Some("SQLGATE_METRICS_TOKEN".into());
        let none: HashMap<String, String> = HashMap::new();
        assert!(c.build(Path::new("."), &none).is_err());
        let env: HashMap<String, String> =
            [("SQLGATE_METRICS_TOKEN".into(), "s3cret\n".into())].into();
        let access = c.build(Path::new("."), &env).unwrap();
        assert!(!format!("{access:?}").contains("s3cret"));
        let mut h = HeaderMap::new();
        assert_eq!(access.check(&h), Err(MetricsDenied::Missing));
        for (value, ok) in [
            ("Bearer s3cret", true),
            ("bearer s3cret", true),
            ("Bearer s3cre", false),
            ("Bearer s3cret2", false),
            ("Basic s3cret", false),
        ] {
            h.insert(AUTHORIZATION, value.parse().unwrap());
            assert_eq!(access.check(&h).is_ok(), ok, "{value}");
        }
    }
}
