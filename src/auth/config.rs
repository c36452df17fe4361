//! The `[auth]` configuration section: trusted token issuers, identity pools, the API-key file
//! and the development issuer.
//!
//! Owns the serde shapes, their defaults and [`AuthConfig::validate`]. It does no I/O: turning
//! the section into a running [`Authenticator`](super::Authenticator) is
//! [`Authenticator::build`](super::Authenticator::build).

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use super::throttle::ThrottleConfig;

/// Largest accepted clock-skew allowance. A leeway is for clocks that drift, not for
/// extending token lifetimes, so anything above a few minutes is almost certainly a typo.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// The `[auth]` section.
///
/// ```toml
/// [auth]
/// api_keys_file = "policies/api-keys.toml"
///
/// [auth.dev_issuer]                     # `sqlgate token` signs with this key
///
/// [[auth.issuers]]
/// name = "dev"
/// issuer = "https://sqlgate.dev"
/// audience = "sqlgate"
/// jwks_file = "certs/dev-issuer.jwks.json"
///
/// [[auth.identity_pools]]
/// id = "pool-dev"
/// issuer = "dev"
/// filter = { claim = "groups", contains = "developers" }
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Token issuers whose bearer tokens are accepted. A token is matched to an issuer by its
    /// `iss` claim, so two entries may not share an `issuer` value.
    pub issuers: Vec<IssuerConfig>,
    /// Identity pools (Confluent BYOIDC): a client names one in the `Confluent-Identity-Pool-Id`
    /// header and is then authenticated as `User:<pool id>` if its token passes the pool's filter.
    pub identity_pools: Vec<IdentityPoolConfig>,
    /// The API-key file (argon2id hashes only). Missing means "no API keys yet"; it is re-read
    /// whenever it changes, so `sqlgate api-key create` works on a running gateway.
    pub api_keys_file: PathBuf,
    /// How many API-key secrets are checked at once (argon2id, 19 MiB each); `0` (the
    /// default) means one per CPU core. Bounds the memory and CPU a flood of wrong secrets
    /// can take: see `verify_pool`.
    pub api_key_verify_concurrency: usize,
    /// How many API-key checks may wait for a free slot (default 64); beyond that a request
    /// is answered 503 `auth.busy` at once rather than queued without bound.
    pub api_key_verify_queue: usize,
    /// Throttling of failed API-key authentications per peer and per key id
    /// (`[auth.failure_throttle]`).
    pub failure_throttle: ThrottleConfig,
    /// The development issuer's signing key. When set, [`Authenticator::build`](super::Authenticator::build)
    /// generates the key and its JWKS on first run, so an issuer entry pointing at
    /// `jwks_file` can be loaded. Leave unset in production.
    pub dev_issuer: Option<DevIssuerConfig>,
    /// How many verified bearer tokens are remembered (by SHA-256) so that a client reusing
    /// its token is not verified again on every request (default 10,000; `0` verifies every
    /// request). A remembered token is reused only while its key is still the one its issuer's
    /// JWKS gives for its `kid`, and strictly before its `exp` (see `auth::jwt`).
    pub verified_token_cache: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            identity_pools: Vec::new(),
            api_keys_file: PathBuf::from("policies/api-keys.toml"),
            api_key_verify_concurrency: 0,
            api_key_verify_queue: 64,
            failure_throttle: ThrottleConfig::default(),
            dev_issuer: None,
            verified_token_cache: 10_000,
        }
    }
}

/// One trusted token issuer (`[[auth.issuers]]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// Short name used by identity pools and in logs, e.g. `dev`.
    pub name: String,
    /// The exact `iss` claim value of this issuer's tokens.
    pub issuer: String,
    /// The `aud` value tokens must carry; tokens minted for another service are refused.
    pub audience: String,
    /// A local JWKS document. Exactly one of `jwks_file` and `jwks_url` must be set.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// An `http(s)://` JWKS endpoint, fetched with a 5 s timeout.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// The claim naming the caller when no identity pool is used (`User:<value>`).
    #[serde(default = "default_identity_claim")]
    pub identity_claim: String,
    /// The claim holding group names (array of strings or one string); recorded for the audit.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Clock-skew allowance for `exp`/`nbf`; at most [`MAX_LEEWAY`].
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
    /// An unknown `kid` triggers a JWKS reload at most this often, so a client sending random
    /// key ids cannot make the gateway hammer the identity provider.
    #[serde(default = "default_refresh_min_interval", with = "humantime_serde")]
    pub jwks_refresh_min_interval: Duration,
    /// How long keys stay cached before the JWKS is fetched again (picks up key rotation and
    /// revocation). Must not be shorter than `jwks_refresh_min_interval`.
    #[serde(default = "default_cache_ttl", with = "humantime_serde")]
    pub jwks_cache_ttl: Duration,
}

fn default_identity_claim() -> String {
    "sub".to_owned()
}
fn default_groups_claim() -> String {
    "groups".to_owned()
}
fn default_leeway() -> Duration {
    Duration::from_secs(30)
}
fn default_refresh_min_interval() -> Duration {
    Duration::from_secs(30)
}
fn default_cache_ttl() -> Duration {
    Duration::from_secs(600)
}

impl IssuerConfig {
    /// An issuer with the given name, `iss` and audience, a JWKS file and default settings.
    pub fn with_jwks_file(
        name: impl Into<String>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        jwks_file: impl Into<PathBuf>,
    ) -> Self {
        Self {
            name: name.into(),
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_file: Some(jwks_file.into()),
            jwks_url: None,
            identity_claim: default_identity_claim(),
            groups_claim: default_groups_claim(),
            leeway: default_leeway(),
            jwks_refresh_min_interval: default_refresh_min_interval(),
            jwks_cache_ttl: default_cache_ttl(),
        }
    }
}

/// One identity pool (`[[auth.identity_pools]]`), like a Confluent Cloud BYOIDC pool.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityPoolConfig {
    /// The id clients send in `Confluent-Identity-Pool-Id`; the principal becomes `User:<id>`.
    pub id: String,
    /// The [`IssuerConfig::name`] whose tokens this pool accepts.
    pub issuer: String,
    /// Which tokens of that issuer may use the pool.
    pub filter: ClaimFilter,
}

/// A declarative test on one token claim. Exactly one of `contains` and `equals` is set.
///
/// * `claim` is a top-level claim name (names containing dots, such as
///   `https://example.com/groups`, are looked up verbatim first) or, failing that, a dotted
///   path into nested objects (`realm_access.roles`).
/// * `contains = "x"` matches an array claim with a string element `x`, or a string claim whose
///   space-separated words include `x` (the OAuth `scope` convention).
/// * `equals = "x"` matches a string claim equal to `x` (numbers and booleans compare by their
///   JSON text, so `equals = "true"` matches `true`).
///
/// ```toml
/// filter = { claim = "groups", contains = "developers" }
/// filter = { claim = "email_verified", equals = "true" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimFilter {
    /// Claim name or dotted path.
    pub claim: String,
    /// The claim (array or space-separated string) must include this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// The claim must equal this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
}

impl fmt::Display for ClaimFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.contains, &self.equals) {
            (Some(v), _) => write!(f, "claim `{}` contains \"{v}\"", self.claim),
            (None, Some(v)) => write!(f, "claim `{}` equals \"{v}\"", self.claim),
            (None, None) => write!(f, "claim `{}` (no condition)", self.claim),
        }
    }
}

/// Where the development issuer keeps its Ed25519 signing key (`[auth.dev_issuer]`).
///
/// Paths are relative to the gateway's base directory. The key never leaves `key_file`
/// (mode 0600); `jwks_file` holds only the public key and is what an issuer entry trusts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevIssuerConfig {
    /// PKCS#8 PEM private key.
    pub key_file: PathBuf,
    /// Public JWKS (one key, with `kid` and `alg`).
    pub jwks_file: PathBuf,
    /// `iss` of minted tokens.
    pub issuer: String,
    /// `aud` of minted tokens.
    pub audience: String,
}

impl Default for DevIssuerConfig {
    fn default() -> Self {
        Self {
            key_file: PathBuf::from("certs/dev-issuer.key"),
            jwks_file: PathBuf::from("certs/dev-issuer.jwks.json"),
            issuer: "https://sqlgate.dev".to_owned(),
            audience: "sqlgate".to_owned(),
        }
    }
}

impl DevIssuerConfig {
    /// The issuer entry that trusts this dev issuer's tokens, named `name`.
    pub fn issuer_config(&self, name: &str) -> IssuerConfig {
        IssuerConfig::with_jwks_file(name, &self.issuer, &self.audience, &self.jwks_file)
    }
}

/// Why the `[auth]` section is invalid: the offending field (relative to `auth`) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct AuthConfigError {
    /// Field path relative to the `[auth]` section, e.g. `issuers[1].jwks_url`.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> AuthConfigError {
    AuthConfigError {
        path: path.into(),
        message: message.into(),
    }
}

impl AuthConfig {
    /// Checks everything that can be checked without I/O: unique names, references between
    /// pools and issuers, exactly one JWKS source, URL schemes, duration bounds and filters.
    ///
    /// ```
    /// let mut cfg = sqlgate::auth::AuthConfig::default();
    /// cfg.issuers.push(sqlgate::auth::IssuerConfig::with_jwks_file(
    ///     "dev", "https://sqlgate.dev", "sqlgate", "certs/dev-issuer.jwks.json",
    /// ));
    /// assert!(cfg.validate().is_ok());
    /// cfg.issuers[0].jwks_url = Some("https://idp.example/jwks".into());
    /// assert_eq!(cfg.validate().unwrap_err().path, "issuers[0]");
    /// ```
    pub fn validate(&self) -> Result<(), AuthConfigError> {
        let mut names = HashSet::new();
        let mut isses = HashSet::new();
        for (i, iss) in self.issuers.iter().enumerate() {
            let at = |field: &str| format!("issuers[{i}].{field}");
            if iss.name.trim().is_empty() {
                return Err(invalid(at("name"), "must not be empty"));
            }
            if !names.insert(iss.name.as_str()) {
                return Err(invalid(
                    at("name"),
                    format!("issuer `{}` is defined twice", iss.name),
                ));
            }
            if iss.issuer.is_empty() {
                return Err(invalid(
                    at("issuer"),
                    "must be the `iss` value of the tokens",
                ));
            }
            if !isses.insert(iss.issuer.as_str()) {
                return Err(invalid(
                    at("issuer"),
                    format!(
                        "another issuer already uses `{}`; tokens are matched to issuers by `iss`",
                        iss.issuer
                    ),
                ));
            }
            if iss.audience.is_empty() {
                return Err(invalid(at("audience"), "must not be empty"));
            }
            match (&iss.jwks_file, &iss.jwks_url) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(invalid(
                        format!("issuers[{i}]"),
                        "set exactly one of `jwks_file` and `jwks_url`",
                    ));
                }
                (Some(f), None) if f.as_os_str().is_empty() => {
                    return Err(invalid(at("jwks_file"), "must not be empty"));
                }
                (None, Some(u)) => match url::Url::parse(u) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                    Ok(_) => return Err(invalid(at("jwks_url"), "must be an http(s):// URL")),
                    Err(e) => return Err(invalid(at("jwks_url"), format!("not a URL: {e}"))),
                },
                _ => {}
            }
            if iss.identity_claim.is_empty() {
                return Err(invalid(at("identity_claim"), "must not be empty"));
            }
            if iss.groups_claim.is_empty() {
                return Err(invalid(at("groups_claim"), "must not be empty"));
            }
            if iss.leeway > MAX_LEEWAY {
                return Err(invalid(
                    at("leeway"),
                    format!(
                        "at most {} (a leeway covers clock skew)",
                        humantime::format_duration(MAX_LEEWAY)
                    ),
                ));
            }
            if iss.jwks_cache_ttl.is_zero() {
                return Err(invalid(at("jwks_cache_ttl"), "must be positive"));
            }
            if iss.jwks_cache_ttl < iss.jwks_refresh_min_interval {
                return Err(invalid(
                    at("jwks_cache_ttl"),
                    "must not be shorter than `jwks_refresh_min_interval`",
                ));
            }
        }
        let mut pools = HashSet::new();
        for (i, p) in self.identity_pools.iter().enumerate() {
            let at = |field: &str| format!("identity_pools[{i}].{field}");
            if p.id.trim().is_empty() || p.id.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(at("id"), "must be non-empty without spaces"));
            }
            if !pools.insert(p.id.as_str()) {
                return Err(invalid(
                    at("id"),
                    format!("pool `{}` is defined twice", p.id),
                ));
            }
            if !names.contains(p.issuer.as_str()) {
                return Err(invalid(
                    at("issuer"),
                    format!("no issuer named `{}` in `auth.issuers`", p.issuer),
                ));
            }
            if p.filter.claim.is_empty() {
                return Err(invalid(at("filter.claim"), "must not be empty"));
            }
            if p.filter.contains.is_some() == p.filter.equals.is_some() {
                return Err(invalid(
                    at("filter"),
                    "set exactly one of `contains` and `equals`",
                ));
            }
        }
        if self.api_keys_file.as_os_str().is_empty() {
            return Err(invalid("api_keys_file", "must not be empty"));
        }
        if let Some((field, why)) = self.failure_throttle.problem() {
            return Err(invalid(format!("failure_throttle.{field}"), why));
        }
        if let Some(dev) = &self.dev_issuer {
            for (field, empty) in [
                ("key_file", dev.key_file.as_os_str().is_empty()),
                ("jwks_file", dev.jwks_file.as_os_str().is_empty()),
                ("issuer", dev.issuer.is_empty()),
                ("audience", dev.audience.is_empty()),
            ] {
                if empty {
                    return Err(invalid(format!("dev_issuer.{field}"), "must not be empty"));
                }
            }
            if dev.key_file == dev.jwks_file {
                return Err(invalid(
                    "dev_issuer.jwks_file",
                    "must differ from `key_file` (the private key must stay private)",
                ));
            }
        }
        Ok(())
    }
}

/// Resolves `p` against `base_dir` unless it is absolute.
pub(crate) fn resolve(base_dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT_SNIPPET: &str = r#"
        api_keys_file = "policies/api-keys.toml"

        [dev_issuer]

        [[issuers]]
        name = "dev"
        issuer = "https://sqlgate.dev"
        audience = "sqlgate"
        jwks_file = "certs/dev-issuer.jwks.json"

        [[identity_pools]]
        id = "pool-dev"
        issuer = "dev"
        filter = { claim = "groups", contains = "developers" }

        [[identity_pools]]
        id = "pool-admin"
        issuer = "dev"
        filter = { claim = "groups", contains = "admins" }
    "#;

    #[test]
    fn the_default_snippet_parses_with_defaults_and_validates() {
        let cfg: AuthConfig = toml::from_str(DEFAULT_SNIPPET).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.dev_issuer, Some(DevIssuerConfig::default()));
        let iss = &cfg.issuers[0];
        assert_eq!(iss, &DevIssuerConfig::default().issuer_config("dev"));
        assert_eq!(iss.identity_claim, "sub");
        assert_eq!(iss.leeway, Duration::from_secs(30));
        assert_eq!(iss.jwks_cache_ttl, Duration::from_secs(600));
        assert_eq!(
            cfg.identity_pools[1].filter.contains.as_deref(),
            Some("admins")
        );
    }

    #[test]
    fn an_empty_section_is_the_default_and_valid() {
        let cfg: AuthConfig = toml::from_str("").unwrap();
        assert_eq!(cfg, AuthConfig::default());
        cfg.validate().unwrap();
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<AuthConfig>(
            "[[issuers]]\nname='a'\nissuer='b'\naudience='c'\njwks_fil='x'\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("jwks_fil"), "{err}");
    }

    fn base() -> AuthConfig {
        toml::from_str(DEFAULT_SNIPPET).unwrap()
    }

    #[test]
    fn validation_reports_field_paths() {
        type Mutation = Box<dyn Fn(&mut AuthConfig)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|c| c.issuers[0].jwks_file = None), "issuers[0]"),
            (
                Box::new(|c| c.issuers[0].jwks_url = Some("x".into())),
                "issuers[0]",
            ),
            (
                Box::new(|c| {
                    c.issuers[0].jwks_file = None;
                    c.issuers[0].jwks_url = Some("ftp://idp/jwks".into());
                }),
                "issuers[0].jwks_url",
            ),
            (
                Box::new(|c| c.issuers.push(c.issuers[0].clone())),
                "issuers[1].name",
            ),
            (
                Box::new(|c| {
                    let mut second = c.issuers[0].clone();
                    second.name = "other".into();
                    c.issuers.push(second);
                }),
                "issuers[1].issuer",
            ),
            (
                Box::new(|c| c.issuers[0].leeway = Duration::from_secs(3600)),
                "issuers[0].leeway",
            ),
            (
                Box::new(|c| c.issuers[0].jwks_cache_ttl = Duration::from_secs(1)),
                "issuers[0].jwks_cache_ttl",
            ),
            (
                Box::new(|c| c.identity_pools[0].issuer = "nope".into()),
                "identity_pools[0].issuer",
            ),
            (
                Box::new(|c| c.identity_pools[1].id = "pool-dev".into()),
                "identity_pools[1].id",
            ),
            (
                Box::new(|c| c.identity_pools[0].filter.equals = Some("x".into())),
                "identity_pools[0].filter",
            ),
            (
                Box::new(|c| c.identity_pools[0].filter.contains = None),
                "identity_pools[0].filter",
            ),
            (
                Box::new(|c| c.api_keys_file = PathBuf::new()),
                "api_keys_file",
            ),
            (
                Box::new(|c| {
                    if let Some(d) = c.dev_issuer.as_mut() {
                        d.jwks_file = d.key_file.clone();
                    }
                }),
                "dev_issuer.jwks_file",
            ),
        ];
        for (i, (mutate, path)) in cases.into_iter().enumerate() {
            let mut cfg = base();
            mutate(&mut cfg);
            let err = cfg.validate().expect_err(&format!("case {i} should fail"));
            assert_eq!(err.path, path, "case {i}: {err}");
        }
    }

    #[test]
    fn filters_describe_themselves() {
        let f = ClaimFilter {
            claim: "groups".into(),
            contains: Some("developers".into()),
            equals: None,
        };
        assert_eq!(f.to_string(), "claim `groups` contains \"developers\"");
    }
}
