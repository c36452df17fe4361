//! Bearer tokens: picking the issuer, verifying the JWT with the key its `kid` names, and
//! turning the claims into a [`Principal`] (directly, or through an identity pool).
//!
//! The token never chooses how it is verified: the issuer comes from configuration (matched by
//! `iss`), the key from that issuer's JWKS, and the algorithm from the key. `none` and HMAC are
//! refused before any key lookup, and so are headers and claim sets with a duplicated member
//! name (`auth.duplicate_claim` for claims), whichever claim it is.
//!
//! A token whose signature and claims verified is remembered by its SHA-256
//! (`auth.verified_token_cache` tokens; see [`Checked`]), so a client reusing its token is not
//! verified again on every request. A remembered token is used only while the key that
//! verified it is still the key its issuer's JWKS gives for its `kid` (the same lookup as
//! without the cache, so a key rotated out, removed or replaced stops its tokens as before) and
//! strictly before its `exp` and not before its `nbf` (without the leeway); otherwise it is
//! verified in full, which gives exactly the answer the gateway would give without the cache.
//! Identity pools are still matched on every request.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::config::{AuthConfig, ClaimFilter, IdentityPoolConfig, IssuerConfig, resolve};
use super::jwks::{FETCH_TIMEOUT, JwksSource, KeyEntry, KeyStore};
use super::unique_json::{self, UniqueJsonError};
use super::{Attempt, AuthError, AuthSetupError, Mechanism, Principal, untrusted};

/// Largest bearer token accepted. Real tokens are a few KiB; this bounds the work an
/// unauthenticated client can cause.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A configured issuer with its keys.
#[derive(Debug)]
pub(crate) struct Issuer {
    pub(crate) cfg: IssuerConfig,
    pub(crate) keys: KeyStore,
}

/// All issuers and identity pools.
pub(crate) struct JwtVerifier {
    /// Keyed by `iss`.
    issuers: HashMap<String, Arc<Issuer>>,
    /// Keyed by pool id.
    pools: HashMap<String, IdentityPoolConfig>,
    /// SHA-256 of a token → what its full verification established (successes only).
    verified: Option<VerifiedTokens>,
    /// Signature verifications done (tokens not answered from `verified`).
    signature_checks: AtomicU64,
}

/// SHA-256 of a token → what its full verification established.
type VerifiedTokens = moka::sync::Cache<[u8; 32], Arc<Checked>>;

/// A token that verified (signature, `exp`, `nbf`, `iss`, `aud`), and everything the full
/// path would establish again, for as long as it may be reused (see the module doc).
struct Checked {
    issuer: Arc<Issuer>,
    kid: Option<String>,
    /// The key that verified it: reused only while its `kid` still gives this very entry.
    key: Arc<KeyEntry>,
    claims: Arc<Map<String, Value>>,
    /// Reused only strictly before this (seconds since the epoch; the leeway is not used).
    exp: u64,
    /// Reused only from this on.
    nbf: Option<u64>,
    /// `Attempt::identity` as the full path sets it.
    identity: Option<String>,
}

impl Checked {
    /// Whether the token may be answered from here at `now` with `key` being what its `kid`
    /// gives now.
    fn reusable(&self, key: &Arc<KeyEntry>, now: u64) -> bool {
        Arc::ptr_eq(key, &self.key) && now < self.exp && self.nbf.is_none_or(|nbf| nbf <= now)
    }
}

/// Seconds since the epoch, as `jsonwebtoken` reads the clock.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuers", &self.issuers.values().collect::<Vec<_>>())
            .field("pools", &self.pools.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl JwtVerifier {
    pub(crate) async fn build(cfg: &AuthConfig, base_dir: &Path) -> Result<Self, AuthSetupError> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("sqlgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AuthError::Internal(format!("cannot build the JWKS HTTP client: {e}")))?;
        let mut issuers = HashMap::new();
        for ic in &cfg.issuers {
            let source = match (&ic.jwks_file, &ic.jwks_url) {
                (Some(f), _) => JwksSource::File(resolve(base_dir, f)),
                (None, Some(u)) => JwksSource::Url(u.clone()),
                (None, None) => unreachable!("validated: one JWKS source per issuer"),
            };
            let keys = KeyStore::new(
                ic.name.clone(),
                source,
                ic.jwks_cache_ttl,
                ic.jwks_refresh_min_interval,
                http.clone(),
            );
            keys.prime().await?;
            issuers.insert(
                ic.issuer.clone(),
                Arc::new(Issuer {
                    cfg: ic.clone(),
                    keys,
                }),
            );
        }
        let pools = cfg
            .identity_pools
            .iter()
            .map(|p| (p.id.clone(), p.clone()))
            .collect();
        let verified = (cfg.verified_token_cache > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(cfg.verified_token_cache)
                .build()
        });
        Ok(Self {
            issuers,
            pools,
            verified,
            signature_checks: AtomicU64::new(0),
        })
    }

    /// Signature verifications done so far (tokens not answered from the cache).
    #[cfg(test)]
    pub(crate) fn signature_checks(&self) -> u64 {
        self.signature_checks.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub(crate) fn issuer(&self, iss: &str) -> Option<&Arc<Issuer>> {
        self.issuers.get(iss)
    }

    /// Verifies `token` (and the identity pool named by the request, if any). Fills `attempt`
    /// as far as it gets, for the audit of a failure: the claimed `iss` and `kid` while the
    /// token is unverified, then the issuer, identity claim and pool once its signature has
    /// verified (see [`Attempt`]). The token is checked even when the pool is refused, so
    /// that the audit can say who asked for it.
    pub(crate) async fn verify(
        &self,
        token: &str,
        pool: Option<&str>,
        attempt: &mut Attempt,
    ) -> Result<Principal, AuthError> {
        check_length(token)?;
        let pool_cfg = pool.map(|id| {
            self.pools
                .get(id)
                .ok_or_else(|| AuthError::UnknownIdentityPool(untrusted(id)))
        });
        let checked = self.check(token, attempt).await;
        if attempt.verified {
            attempt.pool = pool.map(untrusted);
        }
        // A typo in the pool header is the more useful error, so it comes first.
        let pool_cfg = pool_cfg.transpose()?;
        let (claims, issuer) = checked?;
        if let Some(p) = pool_cfg
            && p.issuer != issuer.cfg.name
        {
            return Err(AuthError::PoolIssuerMismatch {
                pool: p.id.clone(),
                issuer: issuer.cfg.name.clone(),
            });
        }
        principal(&claims, &issuer.cfg, pool_cfg)
    }

    /// The token's signature and claims, with the issuer that verified them: from the cache
    /// of verified tokens when it may be (see the module doc), else verified in full.
    async fn check(
        &self,
        token: &str,
        attempt: &mut Attempt,
    ) -> Result<(Arc<Map<String, Value>>, &Issuer), AuthError> {
        let Some(cache) = &self.verified else {
            return self.check_fully(token, attempt, None).await;
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(hit) = cache.get(&digest)
            && let Some(issuer) = self.issuers.get(&hit.issuer.cfg.issuer)
            && Arc::ptr_eq(issuer, &hit.issuer)
            && let Ok(key) = issuer.keys.key(hit.kid.as_deref()).await
            && hit.reusable(&key, unix_now())
        {
            // What the full path leaves in `attempt` for a token that verified.
            attempt.verified = true;
            attempt.kid = None;
            attempt.issuer = Some(issuer.cfg.issuer.clone());
            attempt.identity = hit.identity.clone();
            return Ok((hit.claims.clone(), issuer));
        }
        self.check_fully(token, attempt, Some((cache, digest)))
            .await
    }

    /// The full verification; a token that passes is remembered in `remember`, if given.
    async fn check_fully(
        &self,
        token: &str,
        attempt: &mut Attempt,
        remember: Option<(&VerifiedTokens, [u8; 32])>,
    ) -> Result<(Arc<Map<String, Value>>, &Issuer), AuthError> {
        let (header, claims) = read_unverified(token, attempt)?;
        let iss = unverified_issuer(&claims)?;
        let issuer = self
            .issuers
            .get(iss)
            .ok_or_else(|| AuthError::UnknownIssuer(untrusted(iss)))?;
        let entry = issuer.keys.key(header.kid.as_deref()).await?;
        let key = entry.as_ref().as_ref().map_err(|why| {
            AuthError::UnsupportedAlgorithm(format!(
                "the issuer's key `{}` is not usable: {why}",
                header.kid.as_deref().map_or("(none)".into(), untrusted)
            ))
        })?;
        if header.alg != key.alg {
            return Err(AuthError::AlgorithmMismatch {
                token: format!("{:?}", header.alg),
                key: format!("{:?}", key.alg),
            });
        }
        self.signature_checks.fetch_add(1, Ordering::Relaxed);
        let verified = verify_with(token, &key.key, key.alg, &issuer.cfg);
        if verified.signature_ok {
            // The payload is the issuer's own statement now, even if a claim check failed.
            attempt.verified = true;
            attempt.kid = None;
            attempt.issuer = Some(issuer.cfg.issuer.clone());
            attempt.identity = identity(&claims, &issuer.cfg.identity_claim)
                .ok()
                .map(|who| untrusted(&who));
        }
        let claims = Arc::new(verified.claims?);
        // Only a token with a numeric `exp` (and `nbf`, if it has one) is remembered.
        let exp = claims.get("exp").and_then(Value::as_u64);
        let nbf = match claims.get("nbf") {
            None => Some(None),
            Some(v) => v.as_u64().map(Some),
        };
        if let (Some((cache, digest)), Some(exp), Some(nbf)) = (remember, exp, nbf) {
            let checked = Checked {
                issuer: issuer.clone(),
                kid: header.kid.clone(),
                key: entry.clone(),
                claims: claims.clone(),
                exp,
                nbf,
                identity: attempt.identity.clone(),
            };
            cache.insert(digest, Arc::new(checked));
        }
        Ok((claims, issuer))
    }
}

/// Refuses a token longer than [`MAX_TOKEN_BYTES`] before anything else reads it.
pub(crate) fn check_length(token: &str) -> Result<(), AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::MalformedToken(format!(
            "longer than {MAX_TOKEN_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The token as it states itself, before any key is used: its JOSE header and its claims
/// (both refusing duplicated members), with the `kid` and `iss` it claims noted in `attempt`
/// for the audit of a failure.
pub(crate) fn read_unverified(
    token: &str,
    attempt: &mut Attempt,
) -> Result<(TokenHeader, Map<String, Value>), AuthError> {
    let header = TokenHeader::parse(token)?;
    attempt.kid = header.kid.as_deref().map(untrusted);
    let claims = unverified_claims(token)?;
    if let Some(Value::String(iss)) = claims.get("iss") {
        attempt.issuer = Some(untrusted(iss));
    }
    Ok((header, claims))
}

/// The parts of the JOSE header we act on, parsed by hand so `none`, HMAC and unknown
/// algorithms get a precise error rather than a JSON error.
pub(crate) struct TokenHeader {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
}

fn segment(token: &str, index: usize, what: &str) -> Result<Vec<u8>, AuthError> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(AuthError::MalformedToken(format!(
            "expected 3 dot-separated parts, found {}",
            parts.len()
        )));
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[index])
        .map_err(|_| AuthError::MalformedToken(format!("the {what} is not base64url")))
}

impl TokenHeader {
    fn parse(token: &str) -> Result<Self, AuthError> {
        let bytes = segment(token, 0, "header")?;
        let header = unique_json::parse_object(&bytes).map_err(|e| match e {
            UniqueJsonError::NotAnObject => {
                AuthError::MalformedToken("the header is not a JSON object".into())
            }
            UniqueJsonError::Duplicate(name) => {
                AuthError::MalformedToken(format!("the header has more than one `{name}`"))
            }
        })?;
        let alg = match header.get("alg") {
            Some(Value::String(s)) => s.as_str(),
            _ => return Err(AuthError::MalformedToken("the header has no `alg`".into())),
        };
        let alg = match alg {
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "EdDSA" => Algorithm::EdDSA,
            "none" | "None" | "NONE" => {
                return Err(AuthError::UnsupportedAlgorithm(
                    "unsigned tokens (`alg: none`) are refused".into(),
                ));
            }
            hs if hs.starts_with("HS") => {
                return Err(AuthError::UnsupportedAlgorithm(format!(
                    "`{}` (HMAC) is refused; tokens must be signed with the issuer's public-key algorithm",
                    untrusted(hs)
                )));
            }
            other => {
                return Err(AuthError::UnsupportedAlgorithm(format!(
                    "`{}`",
                    untrusted(other)
                )));
            }
        };
        if header.contains_key("crit") {
            return Err(AuthError::MalformedToken(
                "critical header extensions (`crit`) are not supported".into(),
            ));
        }
        let kid = match header.get("kid") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(AuthError::MalformedToken("`kid` is not a string".into())),
        };
        Ok(Self { alg, kid })
    }
}

/// The claims as the token states them, before verification: for choosing the issuer, for
/// the audit, and to refuse duplicated claims (see [`unique_json`]) before any key is used.
fn unverified_claims(token: &str) -> Result<Map<String, Value>, AuthError> {
    let bytes = segment(token, 1, "payload")?;
    unique_json::parse_object(&bytes).map_err(|e| match e {
        UniqueJsonError::NotAnObject => {
            AuthError::MalformedToken("the payload is not a JSON object".into())
        }
        UniqueJsonError::Duplicate(claim) => AuthError::DuplicateClaim(claim),
    })
}

/// Reads `iss` before verification, only to choose which issuer's keys to verify with. The
/// verification then requires `iss` to equal that issuer's value.
fn unverified_issuer(claims: &Map<String, Value>) -> Result<&str, AuthError> {
    match claims.get("iss") {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(AuthError::InvalidClaim {
            claim: "iss".into(),
            reason: "not a string".into(),
        }),
        None => Err(AuthError::MissingClaim("iss".into())),
    }
}

/// The result of [`verify_with`]: the verified claims or why not, and whether the signature
/// itself verified (true also when a claim check such as `exp` failed afterwards).
struct Verified {
    claims: Result<Map<String, Value>, AuthError>,
    signature_ok: bool,
}

/// Signature, `exp`, `nbf`, `iss`, `aud`, with the algorithm pinned to the key's.
fn verify_with(
    token: &str,
    key: &jsonwebtoken::DecodingKey,
    alg: Algorithm,
    cfg: &IssuerConfig,
) -> Verified {
    let mut v = Validation::new(alg);
    v.leeway = cfg.leeway.as_secs();
    v.validate_exp = true;
    v.validate_nbf = true;
    v.validate_aud = true;
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    v.set_issuer(&[&cfg.issuer]);
    v.set_audience(&[&cfg.audience]);
    let e = match jsonwebtoken::decode::<Map<String, Value>>(token, key, &v) {
        Ok(data) => {
            return Verified {
                claims: Ok(data.claims),
                signature_ok: true,
            };
        }
        Err(e) => e.into_kind(),
    };
    // jsonwebtoken checks the signature first and the claims after (`decode`, then
    // `validate`); these kinds come only from the claim checks, so the signature verified.
    // Decoding errors can come from either side and count as unverified.
    let signature_ok = matches!(
        e,
        ErrorKind::ExpiredSignature
            | ErrorKind::ImmatureSignature
            | ErrorKind::InvalidAudience
            | ErrorKind::InvalidIssuer
            | ErrorKind::InvalidSubject
            | ErrorKind::MissingRequiredClaim(_)
            | ErrorKind::InvalidClaimFormat(_)
    );
    let err = match e {
        ErrorKind::ExpiredSignature => AuthError::TokenExpired,
        ErrorKind::ImmatureSignature => AuthError::TokenNotYetValid,
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => AuthError::BadSignature,
        ErrorKind::InvalidAudience => AuthError::WrongAudience {
            expected: cfg.audience.clone(),
        },
        ErrorKind::InvalidIssuer => AuthError::UnknownIssuer(cfg.issuer.clone()),
        ErrorKind::MissingRequiredClaim(c) => AuthError::MissingClaim(c),
        ErrorKind::InvalidClaimFormat(c) => AuthError::InvalidClaim {
            claim: c,
            reason: "wrong type".into(),
        },
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => AuthError::AlgorithmMismatch {
            token: "?".into(),
            key: format!("{alg:?}"),
        },
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => AuthError::MalformedToken("cannot decode".into()),
        other => AuthError::Internal(format!("token verification: {other:?}")),
    };
    Verified {
        claims: Err(err),
        signature_ok,
    }
}

/// Looks a claim up by exact name, then as a dotted path into nested objects.
pub(crate) fn claim<'c>(claims: &'c Map<String, Value>, name: &str) -> Option<&'c Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut cur = claims.get(parts.next()?)?;
    for part in parts {
        cur = cur.as_object()?.get(part)?;
    }
    Some(cur)
}

fn identity(claims: &Map<String, Value>, name: &str) -> Result<String, AuthError> {
    match claim(claims, name) {
        None | Some(Value::Null) => Err(AuthError::MissingClaim(name.to_owned())),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(AuthError::InvalidClaim {
            claim: name.to_owned(),
            reason: "must be a non-empty string".into(),
        }),
    }
}

fn groups(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match claim(claims, name) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Whether the claims satisfy a pool filter (see [`ClaimFilter`] for the semantics).
pub(crate) fn matches(claims: &Map<String, Value>, filter: &ClaimFilter) -> bool {
    let Some(value) = claim(claims, &filter.claim) else {
        return false;
    };
    if let Some(want) = &filter.contains {
        return match value {
            Value::Array(items) => items.iter().any(|v| v.as_str() == Some(want.as_str())),
            Value::String(s) => s.split(' ').any(|w| w == want),
            _ => false,
        };
    }
    if let Some(want) = &filter.equals {
        return match value {
            Value::String(s) => s == want,
            Value::Number(n) => n.to_string() == want.as_str(),
            Value::Bool(b) => (if *b { "true" } else { "false" }) == want,
            _ => false,
        };
    }
    false
}

pub(crate) fn principal(
    claims: &Map<String, Value>,
    cfg: &IssuerConfig,
    pool: Option<&IdentityPoolConfig>,
) -> Result<Principal, AuthError> {
    let who = identity(claims, &cfg.identity_claim)?;
    let groups = groups(claims, &cfg.groups_claim);
    let scalars = scalar_claims(claims);
    match pool {
        Some(p) => {
            if !matches(claims, &p.filter) {
                return Err(AuthError::PoolFilterMismatch {
                    pool: p.id.clone(),
                    filter: p.filter.to_string(),
                });
            }
            Ok(Principal {
                id: format!("User:{}", p.id),
                mechanism: Mechanism::IdentityPool,
                identity: Some(who),
                issuer: Some(cfg.issuer.clone()),
                pool: Some(p.id.clone()),
                groups,
                claims: scalars,
            })
        }
        None => Ok(Principal {
            id: format!("User:{who}"),
            mechanism: Mechanism::Jwt,
            identity: Some(who),
            issuer: Some(cfg.issuer.clone()),
            pool: None,
            groups,
            claims: scalars,
        }),
    }
}

/// The top-level claims with a string, number or boolean value, as text (see
/// [`Principal::claims`]).
fn scalar_claims(claims: &Map<String, Value>) -> std::collections::BTreeMap<String, String> {
    claims
        .iter()
        .filter_map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn filter(claim: &str, contains: Option<&str>, equals: Option<&str>) -> ClaimFilter {
        ClaimFilter {
            claim: claim.into(),
            contains: contains.map(Into::into),
            equals: equals.map(Into::into),
        }
    }

    #[test]
    fn contains_matches_arrays_and_space_separated_strings() {
        let c = claims(json!({"groups": ["developers", "ops"], "scope": "read write", "n": 3}));
        assert!(matches(&c, &filter("groups", Some("developers"), None)));
        assert!(!matches(&c, &filter("groups", Some("admins"), None)));
        assert!(!matches(&c, &filter("groups", Some("dev"), None)));
        assert!(matches(&c, &filter("scope", Some("write"), None)));
        assert!(!matches(&c, &filter("n", Some("3"), None)));
        assert!(!matches(&c, &filter("missing", Some("x"), None)));
    }

    #[test]
    fn equals_matches_strings_numbers_and_booleans() {
        let c = claims(json!({"tenant": "acme", "email_verified": true, "level": 2}));
        assert!(matches(&c, &filter("tenant", None, Some("acme"))));
        assert!(!matches(&c, &filter("tenant", None, Some("acm"))));
        assert!(matches(&c, &filter("email_verified", None, Some("true"))));
        assert!(matches(&c, &filter("level", None, Some("2"))));
    }

    #[test]
    fn claims_are_found_verbatim_then_by_dotted_path() {
        let c = claims(json!({
            "https://example.com/groups": ["a"],
            "realm_access": {"roles": ["admins"]}
        }));
        assert!(matches(
            &c,
            &filter("https://example.com/groups", Some("a"), None)
        ));
        assert!(matches(
            &c,
            &filter("realm_access.roles", Some("admins"), None)
        ));
        assert!(claim(&c, "realm_access.nope").is_none());
    }

    #[test]
    fn identity_must_be_a_non_empty_string_or_number() {
        assert_eq!(
            identity(&claims(json!({"sub": "alice"})), "sub").unwrap(),
            "alice"
        );
        assert_eq!(identity(&claims(json!({"uid": 42})), "uid").unwrap(), "42");
        assert!(matches!(
            identity(&claims(json!({})), "sub"),
            Err(AuthError::MissingClaim(c)) if c == "sub"
        ));
        assert!(matches!(
            identity(&claims(json!({"sub": ""})), "sub"),
            Err(AuthError::InvalidClaim { .. })
        ));
        assert!(matches!(
            identity(&claims(json!({"sub": ["a"]})), "sub"),
            Err(AuthError::InvalidClaim { .. })
        ));
    }

    #[test]
    fn none_and_hmac_headers_are_refused_before_any_key_lookup() {
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        for alg in ["none", "HS256", "HS512", "XX1"] {
            let token = format!("{}.{}.", b64(json!({"alg": alg})), b64(json!({})));
            assert!(
                matches!(
                    TokenHeader::parse(&token),
                    Err(AuthError::UnsupportedAlgorithm(_))
                ),
                "{alg}"
            );
        }
        let token = format!("{}.e30.sig", b64(json!({"alg": "ES256", "crit": ["x"]})));
        assert!(matches!(
            TokenHeader::parse(&token),
            Err(AuthError::MalformedToken(_))
        ));
        assert!(matches!(
            TokenHeader::parse("a.b"),
            Err(AuthError::MalformedToken(_))
        ));
        assert!(matches!(
            TokenHeader::parse("!!.b.c"),
            Err(AuthError::MalformedToken(_))
        ));
    }
}
