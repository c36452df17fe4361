//! The development token issuer: an Ed25519 key kept beside the dev certificates, and the
//! tokens `sqlgate token` mints with it.
//!
//! Owns generating the key (PKCS#8 PEM, mode 0600) and its public JWKS (one key with `kid` =
//! the RFC 7638 thumbprint, `alg` = `EdDSA`), and minting tokens. It must not be relied on in
//! production: anyone who can read the key file can mint any identity.

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, OctetKeyPairParameters,
    OctetKeyPairType, PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::config::{DevIssuerConfig, resolve};
use super::{AuthSetupError, api_key::write_atomically};

/// Longest lifetime `mint_token` accepts; dev tokens are for trying things out.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The public JWK (no `kid`) of an Ed25519 PKCS#8 PEM key. Done with rcgen because
/// `Jwk::from_encoding_key` only understands PKCS#8 v1 keys, and aws-lc writes v2 (which embeds
/// the public key).
pub(crate) fn ed25519_public_jwk(key_pem: &str) -> Result<Jwk, String> {
    let pair = rcgen::KeyPair::from_pem(key_pem).map_err(|e| e.to_string())?;
    if pair.algorithm() != &rcgen::PKCS_ED25519 {
        return Err("not an Ed25519 key".into());
    }
    Ok(Jwk {
        common: Default::default(),
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key_raw()),
        }),
    })
}

fn public_jwk(key_pem: &[u8], path: &Path) -> Result<(EncodingKey, Jwk), AuthSetupError> {
    let bad = |e: String| {
        AuthSetupError::invalid_file(path, format!("not an Ed25519 PKCS#8 PEM key: {e}"))
    };
    let key = EncodingKey::from_ed_pem(key_pem).map_err(|e| bad(e.to_string()))?;
    let text = std::str::from_utf8(key_pem).map_err(|e| bad(e.to_string()))?;
    let mut jwk = ed25519_public_jwk(text).map_err(bad)?;
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| AuthSetupError::Internal(format!("JWK thumbprint: {e}")))?;
    jwk.common.key_id = Some(kid);
    jwk.common.key_algorithm = Some(KeyAlgorithm::EdDSA);
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok((key, jwk))
}

/// Generates the dev issuer's key and JWKS if missing. Returns whether a new key was generated.
///
/// An existing key is never replaced; if only the JWKS is missing (or stale), it is rewritten
/// from the key. Relative paths resolve against `base_dir`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let cfg = sqlgate::auth::DevIssuerConfig::default();
/// assert!(sqlgate::auth::ensure_dev_issuer(&cfg, dir.path()).unwrap());
/// assert!(!sqlgate::auth::ensure_dev_issuer(&cfg, dir.path()).unwrap());
/// ```
pub fn ensure_dev_issuer(cfg: &DevIssuerConfig, base_dir: &Path) -> Result<bool, AuthSetupError> {
    let key_path = resolve(base_dir, &cfg.key_file);
    let jwks_path = resolve(base_dir, &cfg.jwks_file);
    let (pem, generated) = match fs::read(&key_path) {
        Ok(pem) => (pem, false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
                .map_err(|e| AuthSetupError::Internal(format!("Ed25519 key generation: {e}")))?;
            let pem = pair.serialize_pem();
            write_private_key(&key_path, pem.as_bytes())?;
            (pem.into_bytes(), true)
        }
        Err(e) => return Err(AuthSetupError::io(&key_path, e)),
    };
    let (_, jwk) = public_jwk(&pem, &key_path)?;
    let jwks = JwkSet { keys: vec![jwk] };
    let current = fs::read(&jwks_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<JwkSet>(&b).ok());
    if current.as_ref() != Some(&jwks) {
        let mut json = serde_json::to_vec_pretty(&jwks)
            .map_err(|e| AuthSetupError::Internal(format!("JWKS serialization: {e}")))?;
        json.push(b'\n');
        write_atomically(&jwks_path, &json)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            // Public material: readable by whoever runs a verifier.
            fs::set_permissions(&jwks_path, fs::Permissions::from_mode(0o644))
                .map_err(|e| AuthSetupError::io(&jwks_path, e))?;
        }
    }
    Ok(generated)
}

fn write_private_key(path: &Path, pem: &[u8]) -> Result<(), AuthSetupError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| AuthSetupError::io(dir, e))?;
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(|e| AuthSetupError::io(path, e))?;
    f.write_all(pem)
        .and_then(|()| f.sync_all())
        .map_err(|e| AuthSetupError::io(path, e))
}

#[derive(Serialize)]
struct DevClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    groups: &'a [String],
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    /// Further claims ([`mint_token_with_claims`]); never one of the above.
    #[serde(flatten)]
    extra: &'a std::collections::BTreeMap<String, String>,
}

/// Mints a token for `subject` signed by the dev issuer key (which must exist; see
/// [`ensure_dev_issuer`]). `groups` becomes the `groups` claim (omitted when empty), `ttl` the
/// lifetime (1 s to [`MAX_TTL`]).
///
/// ```
/// # use std::time::Duration;
/// let dir = tempfile::tempdir().unwrap();
/// let cfg = sqlgate::auth::DevIssuerConfig::default();
/// sqlgate::auth::ensure_dev_issuer(&cfg, dir.path()).unwrap();
/// let token = sqlgate::auth::mint_token(&cfg, dir.path(), "alice", &["developers".into()],
///     Duration::from_secs(3600)).unwrap();
/// assert_eq!(token.split('.').count(), 3);
/// ```
pub fn mint_token(
    cfg: &DevIssuerConfig,
    base_dir: &Path,
    subject: &str,
    groups: &[String],
    ttl: Duration,
) -> Result<String, AuthSetupError> {
    mint_token_with_claims(cfg, base_dir, subject, groups, ttl, &Default::default())
}

/// [`mint_token`] with further string claims (e.g. `tenant`, for row filters that use
/// `{{claims.tenant}}`). A name of a standard claim the token sets itself is refused.
pub fn mint_token_with_claims(
    cfg: &DevIssuerConfig,
    base_dir: &Path,
    subject: &str,
    groups: &[String],
    ttl: Duration,
    extra: &std::collections::BTreeMap<String, String>,
) -> Result<String, AuthSetupError> {
    if let Some(k) = extra
        .keys()
        .find(|k| ["iss", "aud", "sub", "groups", "iat", "nbf", "exp", "jti"].contains(&k.as_str()))
    {
        return Err(AuthSetupError::InvalidArgument(format!(
            "claim `{k}` is set by the dev issuer itself"
        )));
    }
    if subject.is_empty() || subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AuthSetupError::InvalidArgument(
            "the subject must be non-empty without spaces".into(),
        ));
    }
    if groups
        .iter()
        .any(|g| g.is_empty() || g.chars().any(char::is_control))
    {
        return Err(AuthSetupError::InvalidArgument(
            "group names must be non-empty".into(),
        ));
    }
    if ttl < Duration::from_secs(1) || ttl > MAX_TTL {
        return Err(AuthSetupError::InvalidArgument(format!(
            "the token lifetime must be between 1s and {}",
            humantime::format_duration(MAX_TTL)
        )));
    }
    let key_path = resolve(base_dir, &cfg.key_file);
    let pem = fs::read(&key_path).map_err(|e| AuthSetupError::io(&key_path, e))?;
    let (key, jwk) = public_jwk(&pem, &key_path)?;
    let now = chrono::Utc::now().timestamp();
    let claims = DevClaims {
        iss: &cfg.issuer,
        aud: &cfg.audience,
        sub: subject,
        groups,
        iat: now,
        nbf: now,
        exp: now + ttl.as_secs() as i64,
        jti: uuid::Uuid::new_v4().to_string(),
        extra,
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = jwk.common.key_id;
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| AuthSetupError::Internal(format!("signing the dev token: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_private_and_the_jwks_public_and_both_are_stable() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DevIssuerConfig::default();
        assert!(ensure_dev_issuer(&cfg, dir.path()).unwrap());
        let key = dir.path().join("certs/dev-issuer.key");
        let jwks = dir.path().join("certs/dev-issuer.jwks.json");
        let (key_before, jwks_before) = (fs::read(&key).unwrap(), fs::read(&jwks).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                fs::metadata(&key).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let set: serde_json::Value = serde_json::from_slice(&jwks_before).unwrap();
        let k = &set["keys"][0];
        assert_eq!(
            (k["kty"].as_str(), k["crv"].as_str()),
            (Some("OKP"), Some("Ed25519"))
        );
        assert_eq!(k["alg"], "EdDSA");
        assert!(k["kid"].as_str().is_some_and(|s| s.len() == 43));
        assert!(k.get("d").is_none(), "no private part in the JWKS");

        assert!(!ensure_dev_issuer(&cfg, dir.path()).unwrap());
        assert_eq!(fs::read(&key).unwrap(), key_before);
        assert_eq!(fs::read(&jwks).unwrap(), jwks_before);

        fs::remove_file(&jwks).unwrap();
        assert!(!ensure_dev_issuer(&cfg, dir.path()).unwrap());
        assert_eq!(
            fs::read(&jwks).unwrap(),
            jwks_before,
            "JWKS rebuilt from the same key"
        );
    }

    #[test]
    fn minting_checks_its_arguments_and_needs_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DevIssuerConfig::default();
        let hour = Duration::from_secs(3600);
        assert!(matches!(
            mint_token(&cfg, dir.path(), "alice", &[], hour).unwrap_err(),
            AuthSetupError::Io { .. }
        ));
        ensure_dev_issuer(&cfg, dir.path()).unwrap();
        for (subject, ttl) in [
            ("", hour),
            ("a b", hour),
            ("alice", Duration::ZERO),
            ("alice", MAX_TTL * 2),
        ] {
            assert!(matches!(
                mint_token(&cfg, dir.path(), subject, &[], ttl).unwrap_err(),
                AuthSetupError::InvalidArgument(_)
            ));
        }
        let token = mint_token(&cfg, dir.path(), "alice", &[], hour).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(claims["iss"], "https://sqlgate.dev");
        assert_eq!(claims["aud"], "sqlgate");
        assert_eq!(claims["sub"], "alice");
        assert!(claims.get("groups").is_none());
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            3600
        );
    }
}
