//! Authentication: who is calling.
//!
//! Owns credential extraction from request headers, bearer-token (JWT) verification against
//! configured issuers, Confluent-style identity pools, and API keys (`Basic key:secret`). The
//! result is a [`Principal`]; every failure is an [`AuthError`], which the HTTP layer turns
//! into a 401 with [`AuthError::www_authenticate`] and [`AuthError::detail`].
//!
//! It must not decide what a principal may do (that is `authz`), and it never logs or returns
//! a token or a secret: errors carry only non-secret facts such as a `kid` or an issuer.
//!
//! ```text
//! Authorization: Bearer <JWT>  [+ Confluent-Identity-Pool-Id: <pool>]
//!     header alg/kid -> issuer (by `iss`) -> key (JWKS, moka-cached, pinned alg)
//!     -> signature, exp/nbf (leeway), aud  -> pool filter?  -> User:<pool> | User:<claim>
//! Authorization: Basic base64(key:secret)
//!     api-keys file (reloaded on change) -> cache? -> throttle (peer, key id)
//!     -> argon2id verify (or a dummy) on a bounded pool -> User:<principal>
//! ```
//!
//! Parts: [`config`] (the `[auth]` section), `jwt` (tokens and identity pools), `jwks` (key
//! sets and their refresh), `unique_json` (duplicated claims), [`api_key`] (the key file),
//! `verify_pool` (bounded argon2id), `throttle` (failed attempts), [`Attempt`] (who tried,
//! for the audit), [`dev`] (the development issuer), `unverified` (the reading of headers and
//! claims before any key is used, for the fuzz harness).

use crate::error::ErrorCode;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use hyper::HeaderMap;
use hyper::header::{AUTHORIZATION, HeaderName};
use serde::Serialize;

pub mod api_key;
mod attempt;
pub mod config;
pub mod dev;
mod jwks;
mod jwt;
pub mod principal_id;
mod setup;
mod throttle;
mod unique_json;
mod unverified;
mod verify_pool;

#[cfg(test)]
mod hardening_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

pub use api_key::create_api_key;
pub use attempt::Attempt;
pub use config::{
    AuthConfig, AuthConfigError, ClaimFilter, DevIssuerConfig, IdentityPoolConfig, IssuerConfig,
    ThrottleConfig,
};
pub use dev::{ensure_dev_issuer, mint_token};
pub use setup::AuthSetupError;
pub(crate) use unverified::{Unverified, principal_from_claims, read_unverified};

/// The header a BYOIDC client uses to name the identity pool it wants to act as.
pub const IDENTITY_POOL_HEADER: HeaderName = HeaderName::from_static("confluent-identity-pool-id");

/// The realm announced in `WWW-Authenticate` challenges.
pub const REALM: &str = "sqlgate";

// === Principal ===

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// The id authorization works with: `User:pool-dev`, `User:alice`, `User:sa-ci`.
    pub id: String,
    /// How the caller proved who it is.
    pub mechanism: Mechanism,
    /// The token's identity claim value (e.g. `sub` = `alice`), or the API key id. Kept for the
    /// audit, in particular when the principal is a shared identity pool.
    pub identity: Option<String>,
    /// The token's `iss`; `None` for API keys.
    pub issuer: Option<String>,
    /// The identity pool used, if any.
    pub pool: Option<String>,
    /// The token's groups claim (empty when absent), for the audit.
    pub groups: Vec<String>,
    /// The verified token's top-level string, number and boolean claims, as text: what row
    /// filters and column masks substitute for `{{claims.NAME}}`. Empty for API keys. Not
    /// serialized (the audit names the policies applied, not the claims).
    #[serde(skip)]
    pub claims: std::collections::BTreeMap<String, String>,
}

/// How a [`Principal`] authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mechanism {
    /// A bearer token without an identity pool; the principal comes from a claim.
    Jwt,
    /// A bearer token plus `Confluent-Identity-Pool-Id`; the principal is the pool.
    IdentityPool,
    /// `Basic` API key and secret.
    ApiKey,
}

impl Mechanism {
    /// The stable name used in audit records: `JWT`, `IDENTITY_POOL`, `API_KEY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Jwt => "JWT",
            Mechanism::IdentityPool => "IDENTITY_POOL",
            Mechanism::ApiKey => "API_KEY",
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === AuthError ===

/// Why a request could not be authenticated (or, for the startup and CLI helpers, why the
/// authentication machinery could not be set up).
///
/// The `#[error]` text is for logs; clients get [`AuthError::detail`]. Neither ever contains a
/// token or a secret. Values taken from a token (`iss`, `kid`, `alg`, a pool id) are truncated
/// and stripped of control characters before they are stored here.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("no credentials")]
    MissingCredentials,
    /// The `Authorization` (or identity-pool) header is not well formed; says what is wrong.
    #[error("malformed header: {0}")]
    MalformedHeader(String),
    /// The bearer credential is not a JWT (segments, base64url, JSON).
    #[error("malformed token: {0}")]
    MalformedToken(String),
    /// `exp` (plus leeway) has passed.
    #[error("token expired")]
    TokenExpired,
    /// `nbf` (minus leeway) is in the future.
    #[error("token not yet valid")]
    TokenNotYetValid,
    /// The signature does not verify with the issuer's key for the token's `kid`.
    #[error("bad token signature")]
    BadSignature,
    /// No configured issuer has this `iss`.
    #[error("unknown issuer `{0}`")]
    UnknownIssuer(String),
    /// The token's `aud` does not include the issuer's configured audience.
    #[error("wrong audience (expected `{expected}`)")]
    WrongAudience {
        /// The audience this gateway requires for that issuer.
        expected: String,
    },
    /// The issuer's JWKS has no usable key with this `kid`, even after a (rate-limited) reload.
    #[error("issuer `{issuer}` has no key `{kid}`")]
    UnknownKey {
        /// Issuer name.
        issuer: String,
        /// The token's `kid` (`(none)` if it had none).
        kid: String,
    },
    /// The token's `alg` is not an asymmetric signature algorithm (`none`, HMAC, unknown), or
    /// the key for its `kid` is not usable for signatures.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// The token's `alg` differs from the algorithm pinned by its key.
    #[error("token alg `{token}` does not match key alg `{key}`")]
    AlgorithmMismatch {
        /// `alg` in the token header.
        token: String,
        /// The key's algorithm.
        key: String,
    },
    /// `Confluent-Identity-Pool-Id` names no configured pool.
    #[error("unknown identity pool `{0}`")]
    UnknownIdentityPool(String),
    /// The pool exists but trusts a different issuer than the token's.
    #[error("identity pool `{pool}` does not trust issuer `{issuer}`")]
    PoolIssuerMismatch {
        /// Pool id.
        pool: String,
        /// The token's issuer name.
        issuer: String,
    },
    /// The token is valid but does not satisfy the pool's claim filter.
    #[error("token does not satisfy the filter of identity pool `{pool}` ({filter})")]
    PoolFilterMismatch {
        /// Pool id.
        pool: String,
        /// The filter, e.g. ``claim `groups` contains "developers"``.
        filter: String,
    },
    /// A required claim is absent.
    #[error("missing claim `{0}`")]
    MissingClaim(String),
    /// A claim has the wrong shape (e.g. `sub` is not a string).
    #[error("invalid claim `{claim}`: {reason}")]
    InvalidClaim {
        /// Claim name.
        claim: String,
        /// What is wrong.
        reason: String,
    },
    /// A member name appears twice in the claim set (the dotted path of it, made safe with
    /// `untrusted`). Refused for every claim alike: which copy a reader takes is not
    /// something a decision may depend on.
    #[error("duplicated claim `{0}`")]
    DuplicateClaim(String),
    /// Unknown API key or wrong secret (deliberately indistinguishable).
    #[error("invalid API key or secret")]
    InvalidApiKey,
    /// Too many failed API-key authentications from this peer or for this key id within the
    /// throttle window; nothing was verified. Answered 429 with `Retry-After`.
    #[error("too many failed authentication attempts; retry after {retry_after_secs} s")]
    TooManyFailures {
        /// Seconds until the window that holds the failures ends.
        retry_after_secs: u64,
    },
    /// Every API-key verification slot is busy and the queue in front of them is full; the
    /// credential was not checked. Answered 503 with `Retry-After`.
    #[error("API-key verification is saturated")]
    VerifierBusy,
    /// The issuer's keys could not be loaded (server side; suggest 503 rather than 401).
    #[error("JWKS of issuer `{issuer}` unavailable: {reason}")]
    JwksUnavailable {
        /// Issuer name.
        issuer: String,
        /// Cause (file or network error).
        reason: String,
    },
    /// An unexpected internal failure (task panicked, crypto library error).
    #[error("internal authentication error: {0}")]
    Internal(String),
}

impl AuthError {
    /// The stable, dotted error code (API; do not rename).
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::MissingCredentials => ErrorCode::AuthMissingCredentials,
            AuthError::MalformedHeader(_) => ErrorCode::AuthMalformedHeader,
            AuthError::MalformedToken(_) => ErrorCode::AuthMalformedToken,
            AuthError::TokenExpired => ErrorCode::AuthTokenExpired,
            AuthError::TokenNotYetValid => ErrorCode::AuthTokenNotYetValid,
            AuthError::BadSignature => ErrorCode::AuthBadSignature,
            AuthError::UnknownIssuer(_) => ErrorCode::AuthUnknownIssuer,
            AuthError::WrongAudience { .. } => ErrorCode::AuthWrongAudience,
            AuthError::UnknownKey { .. } => ErrorCode::AuthUnknownKey,
            AuthError::UnsupportedAlgorithm(_) => ErrorCode::AuthUnsupportedAlgorithm,
            AuthError::AlgorithmMismatch { .. } => ErrorCode::AuthAlgorithmMismatch,
            AuthError::UnknownIdentityPool(_) => ErrorCode::AuthUnknownIdentityPool,
            AuthError::PoolIssuerMismatch { .. } => ErrorCode::AuthPoolIssuerMismatch,
            AuthError::PoolFilterMismatch { .. } => ErrorCode::AuthPoolFilterMismatch,
            AuthError::MissingClaim(_) => ErrorCode::AuthMissingClaim,
            AuthError::InvalidClaim { .. } => ErrorCode::AuthInvalidClaim,
            AuthError::DuplicateClaim(_) => ErrorCode::AuthDuplicateClaim,
            AuthError::InvalidApiKey => ErrorCode::AuthInvalidApiKey,
            AuthError::TooManyFailures { .. } => ErrorCode::AuthTooManyFailures,
            AuthError::VerifierBusy => ErrorCode::AuthBusy,
            AuthError::JwksUnavailable { .. } => ErrorCode::AuthJwksUnavailable,
            AuthError::Internal(_) => ErrorCode::AuthInternal,
        }
    }

    /// `true` when the caller's credentials are at fault (answer 401). `false` for failures on
    /// the gateway's side ([`AuthError::JwksUnavailable`], [`AuthError::VerifierBusy`],
    /// [`AuthError::Internal`]), which deserve a 5xx even though they carry a challenge too.
    pub fn is_credential_failure(&self) -> bool {
        !matches!(
            self,
            AuthError::JwksUnavailable { .. } | AuthError::VerifierBusy | AuthError::Internal(_)
        )
    }

    /// Seconds the client should wait before retrying (`Retry-After`), for the refusals that
    /// are about load rather than the credential.
    ///
    /// ```
    /// use sqlgate::auth::AuthError;
    /// assert_eq!(AuthError::TooManyFailures { retry_after_secs: 42 }.retry_after(), Some(42));
    /// assert_eq!(AuthError::VerifierBusy.retry_after(), Some(1));
    /// assert_eq!(AuthError::InvalidApiKey.retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AuthError::TooManyFailures { retry_after_secs } => Some(*retry_after_secs),
            AuthError::VerifierBusy => Some(1),
            _ => None,
        }
    }

    /// The `WWW-Authenticate` header value (RFC 6750 for Bearer, RFC 7617 for Basic).
    ///
    /// ```
    /// use sqlgate::auth::AuthError;
    /// assert_eq!(
    ///     AuthError::TokenExpired.www_authenticate(),
    ///     r#"Bearer realm="sqlgate", error="invalid_token", error_description="token expired""#
    /// );
    /// assert_eq!(AuthError::InvalidApiKey.www_authenticate(), r#"Basic realm="sqlgate", charset="UTF-8""#);
    /// ```
    pub fn www_authenticate(&self) -> String {
        let basic = format!("Basic realm=\"{REALM}\", charset=\"UTF-8\"");
        let bearer = |error: &str, description: &str| {
            format!(
                "Bearer realm=\"{REALM}\", error=\"{error}\", error_description=\"{}\"",
                rfc6750_text(description)
            )
        };
        match self {
            AuthError::InvalidApiKey | AuthError::TooManyFailures { .. } => basic,
            AuthError::MissingCredentials => format!("Bearer realm=\"{REALM}\", {basic}"),
            AuthError::MalformedHeader(why) => {
                format!("{}, {basic}", bearer("invalid_request", why))
            }
            AuthError::MalformedToken(_) => bearer("invalid_token", "malformed token"),
            AuthError::TokenExpired => bearer("invalid_token", "token expired"),
            AuthError::TokenNotYetValid => bearer("invalid_token", "token not yet valid"),
            AuthError::BadSignature => bearer("invalid_token", "bad signature"),
            AuthError::UnknownIssuer(_) => bearer("invalid_token", "unknown issuer"),
            AuthError::WrongAudience { .. } => bearer("invalid_token", "wrong audience"),
            AuthError::UnknownKey { .. } => bearer("invalid_token", "unknown signing key"),
            AuthError::UnsupportedAlgorithm(_) => bearer("invalid_token", "unsupported algorithm"),
            AuthError::AlgorithmMismatch { .. } => {
                bearer("invalid_token", "algorithm does not match key")
            }
            AuthError::UnknownIdentityPool(_) => bearer("invalid_token", "unknown identity pool"),
            AuthError::PoolIssuerMismatch { .. } => {
                bearer("invalid_token", "issuer not trusted by identity pool")
            }
            AuthError::PoolFilterMismatch { .. } => bearer(
                "invalid_token",
                "token does not satisfy identity pool filter",
            ),
            AuthError::MissingClaim(_) => bearer("invalid_token", "missing claim"),
            AuthError::InvalidClaim { .. } => bearer("invalid_token", "invalid claim"),
            AuthError::DuplicateClaim(_) => bearer("invalid_token", "duplicated claim"),
            AuthError::JwksUnavailable { .. }
            | AuthError::VerifierBusy
            | AuthError::Internal(_) => format!("Bearer realm=\"{REALM}\", {basic}"),
        }
    }

    /// A message a person can act on. Never contains a token or a secret.
    pub fn detail(&self) -> String {
        match self {
            AuthError::MissingCredentials => {
                "No credentials were sent. Send `Authorization: Bearer <token>` \
                (optionally with `Confluent-Identity-Pool-Id: <pool>`) or `Authorization: Basic \
                base64(<api key>:<api secret>)`."
                    .to_owned()
            }
            AuthError::MalformedHeader(why) => format!(
                "The authentication headers are malformed: {why}. Expected `Authorization: Bearer \
                 <token>` or `Authorization: Basic base64(<api key>:<api secret>)`."
            ),
            AuthError::MalformedToken(why) => format!(
                "The bearer token is not a valid JWT ({why}). Send the token exactly as issued."
            ),
            AuthError::TokenExpired => {
                "The bearer token has expired. Obtain a new token from your identity provider \
                 (for the dev issuer: `sqlgate token --subject <name>`)."
                    .to_owned()
            }
            AuthError::TokenNotYetValid => "The bearer token is not valid yet (its `nbf` is in \
                 the future). Check the clocks of the token issuer and this host."
                .to_owned(),
            AuthError::BadSignature => "The bearer token's signature does not verify with the \
                 issuer's published key. The token was altered or signed by a different key."
                .to_owned(),
            AuthError::UnknownIssuer(iss) => format!(
                "Tokens from issuer `{iss}` are not accepted here. Use a token from a configured \
                 issuer (`auth.issuers`)."
            ),
            AuthError::WrongAudience { expected } => format!(
                "The bearer token was issued for a different audience. Request a token whose \
                 `aud` includes `{expected}`."
            ),
            AuthError::UnknownKey { issuer, kid } => format!(
                "Issuer `{issuer}` publishes no signing key with kid `{kid}`. If the key was just \
                 rotated, retry in a minute; otherwise the token was not issued by `{issuer}`."
            ),
            AuthError::UnsupportedAlgorithm(why) => format!(
                "The bearer token uses an unsupported signature algorithm ({why}). Accepted: \
                 RS256/384/512, PS256/384/512, ES256/384, EdDSA, as pinned by the issuer's key."
            ),
            AuthError::AlgorithmMismatch { token, key } => format!(
                "The bearer token claims algorithm `{token}` but its signing key is `{key}`. \
                 The token is not from this issuer's key."
            ),
            AuthError::UnknownIdentityPool(pool) => format!(
                "Identity pool `{pool}` (header `Confluent-Identity-Pool-Id`) does not exist. \
                 Use a configured pool id or omit the header."
            ),
            AuthError::PoolIssuerMismatch { pool, issuer } => format!(
                "Identity pool `{pool}` does not accept tokens from issuer `{issuer}`. Use a \
                 token from the pool's issuer or a different pool."
            ),
            AuthError::PoolFilterMismatch { pool, filter } => format!(
                "The token does not satisfy identity pool `{pool}`'s filter ({filter}). Use a \
                 pool whose filter your token satisfies, or ask for the needed claim."
            ),
            AuthError::MissingClaim(claim) => format!(
                "The bearer token lacks the required claim `{claim}`. Request a token that \
                 carries it."
            ),
            AuthError::InvalidClaim { claim, reason } => {
                format!("The bearer token's claim `{claim}` is invalid: {reason}.")
            }
            AuthError::DuplicateClaim(claim) => format!(
                "The bearer token's claims contain `{claim}` more than once. Tokens with a \
                 duplicated claim are refused, whichever claim it is; request a token from your \
                 identity provider as issued."
            ),
            AuthError::InvalidApiKey => "The API key or secret is wrong, or the key was \
                 deleted. Check both values (`sqlgate api-key create` prints them once)."
                .to_owned(),
            AuthError::TooManyFailures { retry_after_secs } => format!(
                "Too many failed authentication attempts; retry after {retry_after_secs} \
                 seconds. Check the API key and secret before retrying."
            ),
            AuthError::VerifierBusy => "The gateway is checking too many API-key credentials \
                 right now; retry in a second."
                .to_owned(),
            AuthError::JwksUnavailable { issuer, .. } => format!(
                "The signing keys of issuer `{issuer}` could not be loaded right now. Retry \
                 shortly; if it persists, contact the gateway operator."
            ),
            AuthError::Internal(_) => {
                "Authentication failed because of an internal error. Retry; if it persists, \
                 contact the gateway operator."
                    .to_owned()
            }
        }
    }
}

/// Keeps only characters RFC 6750 allows in `error_description` (%x20-21 / %x23-5B / %x5D-7E).
fn rfc6750_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

/// Makes a caller-supplied value (an `iss`, `kid`, pool id) safe to put in errors and logs:
/// at most 96 characters, no control characters.
pub(crate) fn untrusted(s: &str) -> String {
    const MAX: usize = 96;
    let mut out: String = s
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > MAX {
        out.push('…');
    }
    out
}

// === Authenticator ===

/// Verifies request credentials. Cheap to clone (shared state behind an `Arc`).
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    jwt: jwt::JwtVerifier,
    api_keys: api_key::ApiKeyStore,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("jwt", &self.inner.jwt)
            .field("api_keys", &self.inner.api_keys)
            .finish()
    }
}

/// The credential in the `Authorization` header. The secret parts have redacting `Debug`.
enum Credentials {
    Bearer(Redacted),
    Basic { key: String, secret: Redacted },
}

/// A secret string whose `Debug` prints nothing of it.
pub(crate) struct Redacted(pub(crate) String);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Authenticator {
    /// Turns the `[auth]` section into a running authenticator.
    ///
    /// Relative paths resolve against `base_dir`. Validates the configuration, generates the
    /// dev issuer's key if `dev_issuer` is set and it is missing, loads every JWKS file (an
    /// unreadable or empty one fails the build), tries each JWKS URL once (a failure there is
    /// logged and retried on demand, so an identity provider outage does not stop startup), and
    /// loads the API-key file if it exists.
    pub async fn build(cfg: &AuthConfig, base_dir: &Path) -> Result<Self, AuthSetupError> {
        cfg.validate()?;
        if let Some(dev) = &cfg.dev_issuer
            && dev::ensure_dev_issuer(dev, base_dir)?
        {
            tracing::info!(key = %dev.key_file.display(), "generated the dev token issuer key");
        }
        let jwt = jwt::JwtVerifier::build(cfg, base_dir).await?;
        let api_keys = api_key::ApiKeyStore::open(
            config::resolve(base_dir, &cfg.api_keys_file),
            cfg.api_key_verify_concurrency,
            cfg.api_key_verify_queue,
            &cfg.failure_throttle,
        )?;
        Ok(Self {
            inner: Arc::new(Inner { jwt, api_keys }),
        })
    }

    /// Authenticates one request from its headers.
    ///
    /// `Bearer` tokens go through the issuers (and the identity pool named by
    /// `Confluent-Identity-Pool-Id`, if sent); `Basic` credentials through the API keys. The
    /// identity-pool header is refused with `Basic`, since pools are a token concept. Failed
    /// API-key attempts are throttled per key id only; see [`Authenticator::authenticate_from`].
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        self.authenticate_from(headers, None).await.0
    }

    /// [`Authenticator::authenticate`] for a request from `peer`: failed API-key attempts are
    /// throttled per peer as well as per key id, and the [`Attempt`] says, for the audit of a
    /// failure, who the credential claimed or proved to be.
    pub async fn authenticate_from(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> (Result<Principal, AuthError>, Attempt) {
        let mut attempt = Attempt::default();
        let result = self.authenticate_inner(headers, peer, &mut attempt).await;
        if let Err(e) = &result {
            tracing::debug!(code = e.code().as_str(), error = %e, "authentication failed");
        }
        (result, attempt)
    }

    async fn authenticate_inner(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
        attempt: &mut Attempt,
    ) -> Result<Principal, AuthError> {
        let pool = identity_pool_header(headers)?;
        match credentials(headers)? {
            Credentials::Bearer(token) => {
                self.inner
                    .jwt
                    .verify(&token.0, pool.as_deref(), attempt)
                    .await
            }
            Credentials::Basic { key, secret } => {
                if pool.is_some() {
                    return Err(AuthError::MalformedHeader(
                        "`Confluent-Identity-Pool-Id` requires a Bearer token, not Basic".into(),
                    ));
                }
                self.inner
                    .api_keys
                    .verify(&key, &secret.0, peer, attempt)
                    .await
            }
        }
    }
}

fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
    label: &str,
) -> Result<Option<&'h str>, AuthError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::MalformedHeader(format!(
            "more than one `{label}` header"
        )));
    }
    first
        .to_str()
        .map(|s| Some(s.trim()))
        .map_err(|_| AuthError::MalformedHeader(format!("`{label}` is not visible ASCII")))
}

fn identity_pool_header(headers: &HeaderMap) -> Result<Option<String>, AuthError> {
    match single_header(headers, &IDENTITY_POOL_HEADER, "Confluent-Identity-Pool-Id")? {
        None => Ok(None),
        Some("") => Err(AuthError::MalformedHeader(
            "`Confluent-Identity-Pool-Id` is empty".into(),
        )),
        Some(pool) => Ok(Some(pool.to_owned())),
    }
}

fn credentials(headers: &HeaderMap) -> Result<Credentials, AuthError> {
    let Some(value) = single_header(headers, &AUTHORIZATION, "Authorization")? else {
        return Err(AuthError::MissingCredentials);
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let credential = rest.trim_start_matches(' ');
    if credential.is_empty() {
        return Err(AuthError::MalformedHeader(format!(
            "`{}` scheme without a credential",
            untrusted(scheme)
        )));
    }
    if credential.contains([' ', '\t']) {
        return Err(AuthError::MalformedHeader(
            "the credential contains spaces".into(),
        ));
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Credentials::Bearer(Redacted(credential.to_owned())));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthError::MalformedHeader(format!(
            "unsupported scheme `{}`; use Bearer or Basic",
            untrusted(scheme)
        )));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credential)
        .map_err(|_| AuthError::MalformedHeader("the Basic credential is not base64".into()))?;
    let decoded = String::from_utf8(decoded)
        .map_err(|_| AuthError::MalformedHeader("the Basic credential is not UTF-8".into()))?;
    let Some((key, secret)) = decoded.split_once(':') else {
        return Err(AuthError::MalformedHeader(
            "the Basic credential must be base64(<api key>:<api secret>)".into(),
        ));
    };
    if key.is_empty() || secret.is_empty() {
        return Err(AuthError::MalformedHeader(
            "the API key or the secret is empty".into(),
        ));
    }
    Ok(Credentials::Basic {
        key: key.to_owned(),
        secret: Redacted(secret.to_owned()),
    })
}
