//! One issuer's signing keys: loading a JWKS (file or URL), pinning each key's algorithm,
//! caching keys by `kid` in moka, and the rate-limited reload an unknown `kid` triggers.
//!
//! It must never let a token choose the algorithm: each key's algorithm is fixed here, from the
//! JWK's `alg` or, when absent, from its key type and curve. Symmetric (HMAC) keys, encryption
//! keys and RSA keys shorter than 2048 bits are not usable.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::AuthError;

/// How long a JWKS URL may take to answer.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest JWKS document accepted; real ones are a few KiB, so this only stops abuse.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// The cache slot of the key used for tokens without a `kid`: only filled when the JWKS has
/// exactly one usable key, so the choice is unambiguous.
const NO_KID: &str = "";

/// A key fit for verifying signatures, with its pinned algorithm.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub(crate) alg: Algorithm,
    pub(crate) key: DecodingKey,
}

/// What a `kid` maps to: a usable key, or why the published key cannot be used (kept so such a
/// token gets a precise error instead of triggering reloads as an unknown key would).
pub(crate) type KeyEntry = Result<VerifyKey, String>;

/// A parsed JWKS: `kid` → entry (plus the no-`kid` slot when unambiguous).
pub(crate) type KeySet = Vec<(String, Arc<KeyEntry>)>;

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Where the JWKS comes from.
#[derive(Debug, Clone)]
pub(crate) enum JwksSource {
    File(PathBuf),
    Url(String),
}

impl fmt::Display for JwksSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksSource::File(p) => write!(f, "{}", p.display()),
            JwksSource::Url(u) => f.write_str(u),
        }
    }
}

/// The signing keys of one issuer.
pub(crate) struct KeyStore {
    /// Issuer name, for errors and logs.
    issuer: String,
    source: JwksSource,
    /// `kid` → key. Entries expire after the configured cache TTL, after which the next lookup
    /// reloads the JWKS; that is how rotated-out keys stop being accepted.
    cache: moka::future::Cache<String, Arc<KeyEntry>>,
    /// Serializes reloads so concurrent unknown `kid`s cause one fetch, and remembers when the
    /// last one happened to enforce the minimum interval.
    reload: Mutex<ReloadState>,
    min_interval: Duration,
    http: reqwest::Client,
    /// Number of JWKS loads attempted (startup included); for tests and debugging.
    loads: AtomicU64,
}

#[derive(Default)]
struct ReloadState {
    last_attempt: Option<Instant>,
    /// The last successfully loaded set, re-cached when a reload fails so an identity-provider
    /// outage does not reject tokens signed by keys we already know.
    last_good: Option<Arc<KeySet>>,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStore")
            .field("issuer", &self.issuer)
            .field("source", &self.source)
            .field("cached_keys", &self.cache.entry_count())
            .field("min_interval", &self.min_interval)
            .finish()
    }
}

impl KeyStore {
    pub(crate) fn new(
        issuer: String,
        source: JwksSource,
        cache_ttl: Duration,
        min_interval: Duration,
        http: reqwest::Client,
    ) -> Self {
        Self {
            issuer,
            source,
            cache: moka::future::Cache::builder()
                .max_capacity(1024)
                .time_to_live(cache_ttl)
                .build(),
            reload: Mutex::new(ReloadState::default()),
            min_interval,
            http,
            loads: AtomicU64::new(0),
        }
    }

    /// The initial load. For a file, failure is an error (fail fast at startup); for a URL it is
    /// logged and the next token will retry.
    pub(crate) async fn prime(&self) -> Result<(), AuthError> {
        let mut st = self.reload.lock().await;
        match self.load().await {
            Ok(set) => {
                if !set.iter().any(|(_, e)| e.is_ok()) {
                    return Err(AuthError::JwksUnavailable {
                        issuer: self.issuer.clone(),
                        reason: format!("{} contains no usable signing key", self.source),
                    });
                }
                st.last_attempt = Some(Instant::now());
                self.install(&mut st, set).await;
                Ok(())
            }
            Err(e) if matches!(self.source, JwksSource::File(_)) => Err(e),
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "JWKS not loaded at startup; will retry when a token arrives");
                Ok(())
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// The key for `kid` (`None`: the token has no `kid`). A miss reloads the JWKS unless a
    /// reload happened less than `min_interval` ago.
    pub(crate) async fn key(&self, kid: Option<&str>) -> Result<Arc<KeyEntry>, AuthError> {
        let slot = kid.unwrap_or(NO_KID);
        if let Some(entry) = self.cache.get(slot).await {
            return Ok(entry);
        }
        let unknown = || AuthError::UnknownKey {
            issuer: self.issuer.clone(),
            kid: kid.map_or_else(|| "(none)".to_owned(), super::untrusted),
        };
        let mut st = self.reload.lock().await;
        // Another task may have reloaded while we waited for the lock.
        if let Some(entry) = self.cache.get(slot).await {
            return Ok(entry);
        }
        let now = Instant::now();
        if st
            .last_attempt
            .is_some_and(|last| now.duration_since(last) < self.min_interval)
        {
            return Err(unknown());
        }
        st.last_attempt = Some(now);
        match self.load().await {
            Ok(set) => self.install(&mut st, set).await,
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "JWKS reload failed");
                match st.last_good.clone() {
                    Some(good) => self.reinsert(&good).await,
                    None => return Err(e),
                }
            }
        }
        self.cache.get(slot).await.ok_or_else(unknown)
    }

    async fn install(&self, st: &mut ReloadState, set: KeySet) {
        // Keys removed from the JWKS must stop working, so drop everything first. moka applies
        // `invalidate_all` only to entries inserted before the call.
        self.cache.invalidate_all();
        let set = Arc::new(set);
        self.reinsert(&set).await;
        st.last_good = Some(set);
    }

    async fn reinsert(&self, set: &[(String, Arc<KeyEntry>)]) {
        for (kid, entry) in set {
            self.cache.insert(kid.clone(), entry.clone()).await;
        }
    }

    async fn load(&self) -> Result<KeySet, AuthError> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        let unavailable = |reason: String| AuthError::JwksUnavailable {
            issuer: self.issuer.clone(),
            reason,
        };
        let bytes = match &self.source {
            JwksSource::File(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || std::fs::read(&path))
                    .await
                    .map_err(|e| AuthError::Internal(e.to_string()))?
                    .map_err(|e| unavailable(format!("cannot read {}: {e}", self.source)))?
            }
            JwksSource::Url(url) => self.fetch(url).await.map_err(unavailable)?,
        };
        let set = parse_jwks(&bytes).map_err(|e| unavailable(format!("{}: {e}", self.source)))?;
        for (kid, entry) in &set {
            if let Err(why) = entry.as_ref() {
                tracing::warn!(issuer = %self.issuer, kid, why, "JWKS key not usable");
            }
        }
        tracing::debug!(issuer = %self.issuer, keys = set.len(), "JWKS loaded");
        Ok(set)
    }

    async fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut resp = self
            .http
            .get(url)
            .header(hyper::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", resp.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!(
                    "GET {url}: response larger than {MAX_JWKS_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Parses a JWKS document into `kid` → entry. Keys are parsed one by one so one exotic key
/// does not make the whole set unusable. If exactly one key is usable it is also stored under
/// the no-`kid` slot.
pub(crate) fn parse_jwks(bytes: &[u8]) -> Result<KeySet, String> {
    #[derive(serde::Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let raw: RawSet =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut out = Vec::new();
    let mut usable = Vec::new();
    for value in raw.keys {
        let kid = value.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
        let entry = match serde_json::from_value::<Jwk>(value) {
            Ok(jwk) => verify_key(&jwk),
            Err(e) => Err(format!("unparseable JWK: {e}")),
        };
        let entry = Arc::new(entry);
        if entry.is_ok() {
            usable.push(entry.clone());
        }
        if let Some(kid) = kid.filter(|k| !k.is_empty()) {
            out.push((kid, entry));
        }
    }
    if let [only] = usable.as_slice() {
        out.push((NO_KID.to_owned(), only.clone()));
    }
    Ok(out)
}

/// Pins the algorithm of a JWK and builds its verification key.
pub(crate) fn verify_key(jwk: &Jwk) -> KeyEntry {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Err("key is for encryption (`use` = `enc`)".into());
    }
    let declared = jwk.common.key_algorithm;
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(rsa.n.trim_end_matches('='))
                .map_err(|_| "RSA modulus is not base64url".to_owned())?;
            let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
            if bits < 2048 {
                return Err(format!(
                    "RSA key of about {bits} bits; at least 2048 required"
                ));
            }
            match declared {
                None => Algorithm::RS256,
                Some(KeyAlgorithm::RS256) => Algorithm::RS256,
                Some(KeyAlgorithm::RS384) => Algorithm::RS384,
                Some(KeyAlgorithm::RS512) => Algorithm::RS512,
                Some(KeyAlgorithm::PS256) => Algorithm::PS256,
                Some(KeyAlgorithm::PS384) => Algorithm::PS384,
                Some(KeyAlgorithm::PS512) => Algorithm::PS512,
                Some(other) => return Err(format!("alg `{other}` cannot be used with an RSA key")),
            }
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            let by_curve = match &ec.curve {
                EllipticCurve::P256 => Algorithm::ES256,
                EllipticCurve::P384 => Algorithm::ES384,
                other => return Err(format!("EC curve {other:?} is not supported")),
            };
            match declared {
                None => by_curve,
                Some(d) if KeyAlgorithm::from(by_curve) == d => by_curve,
                Some(d) => return Err(format!("alg `{d}` does not match curve {:?}", ec.curve)),
            }
        }
        AlgorithmParameters::OctetKeyPair(okp) => match (okp.curve.clone(), declared) {
            (EllipticCurve::Ed25519, None | Some(KeyAlgorithm::EdDSA)) => Algorithm::EdDSA,
            (EllipticCurve::Ed25519, Some(d)) => {
                return Err(format!("alg `{d}` cannot be used with an Ed25519 key"));
            }
            (other, _) => return Err(format!("OKP curve {other:?} is not supported")),
        },
        AlgorithmParameters::OctetKey(_) => {
            return Err("symmetric (HMAC) keys are not accepted".into());
        }
        _ => return Err("unsupported key type".into()),
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("invalid key material: {e}"))?;
    Ok(VerifyKey { alg, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::testutil::TestKey;

    fn jwk_json(key: &TestKey) -> serde_json::Value {
        serde_json::to_value(key.jwk()).unwrap()
    }

    #[test]
    fn algorithms_are_pinned_by_key_type() {
        for (key, alg) in [
            (TestKey::rsa("r"), Algorithm::RS256),
            (TestKey::ec("e"), Algorithm::ES256),
            (TestKey::ed("d"), Algorithm::EdDSA),
        ] {
            let mut jwk = key.jwk();
            jwk.common.key_algorithm = None;
            assert_eq!(verify_key(&jwk).unwrap().alg, alg);
        }
    }

    #[test]
    fn a_declared_alg_that_does_not_fit_the_key_is_refused() {
        let mut jwk = TestKey::ec("e").jwk();
        jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
        assert!(verify_key(&jwk).unwrap_err().contains("does not match"));
        let mut jwk = TestKey::rsa("r").jwk();
        jwk.common.key_algorithm = Some(KeyAlgorithm::HS256);
        assert!(verify_key(&jwk).is_err());
        let mut jwk = TestKey::rsa("r").jwk();
        jwk.common.key_algorithm = Some(KeyAlgorithm::PS256);
        assert_eq!(verify_key(&jwk).unwrap().alg, Algorithm::PS256);
    }

    #[test]
    fn hmac_and_encryption_keys_are_not_usable() {
        let set = serde_json::json!({"keys": [
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0", "alg": "HS256"},
            {"kty": "EC", "kid": "enc", "use": "enc", "crv": "P-256",
             "x": jwk_json(&TestKey::ec("x"))["x"], "y": jwk_json(&TestKey::ec("x"))["y"]},
        ]});
        let parsed = parse_jwks(set.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.len(), 2, "no no-kid slot without a usable key");
        assert!(parsed[0].1.as_ref().as_ref().unwrap_err().contains("HMAC"));
        assert!(
            parsed[1]
                .1
                .as_ref()
                .as_ref()
                .unwrap_err()
                .contains("encryption")
        );
    }

    #[test]
    fn a_single_usable_key_also_serves_tokens_without_kid() {
        let set = serde_json::json!({"keys": [jwk_json(&TestKey::ed("only")), {"kty": "weird"}]});
        let parsed = parse_jwks(set.to_string().as_bytes()).unwrap();
        let kids: Vec<_> = parsed.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kids, ["only", NO_KID]);
    }

    #[test]
    fn short_rsa_keys_are_refused() {
        let set =
            serde_json::json!({"keys": [{"kty": "RSA", "kid": "s", "n": "AQAB", "e": "AQAB"}]});
        let parsed = parse_jwks(set.to_string().as_bytes()).unwrap();
        assert!(parsed[0].1.as_ref().as_ref().unwrap_err().contains("2048"));
    }

    #[test]
    fn garbage_is_not_a_jwks() {
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"nope").is_err());
    }
}
