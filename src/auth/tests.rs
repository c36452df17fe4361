//! End-to-end tests of [`Authenticator`]: headers in, [`Principal`] or [`AuthError`] out.

mod errors;
mod jwks_reload;
mod token_cache;

use std::time::Duration;

use base64::Engine as _;
use hyper::HeaderMap;
use hyper::header::{AUTHORIZATION, HeaderValue};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use tempfile::TempDir;

use super::testutil::{AUD, ISS, JwksServer, TestKey, claims, jwks, now};
use super::*;

pub(super) fn config(jwks_file: &str) -> AuthConfig {
    let mut issuer = IssuerConfig::with_jwks_file("idp", ISS, AUD, jwks_file);
    issuer.leeway = Duration::from_secs(30);
    let pool = |id: &str, group: &str| IdentityPoolConfig {
        id: id.into(),
        issuer: "idp".into(),
        filter: ClaimFilter {
            claim: "groups".into(),
            contains: Some(group.into()),
            equals: None,
        },
    };
    AuthConfig {
        issuers: vec![issuer],
        identity_pools: vec![pool("pool-dev", "developers"), pool("pool-admin", "admins")],
        ..AuthConfig::default()
    }
}

pub(super) async fn setup(keys: &[&TestKey]) -> (TempDir, Authenticator) {
    setup_with(keys, |_| {}).await
}

pub(super) async fn setup_with(
    keys: &[&TestKey],
    tweak: impl FnOnce(&mut AuthConfig),
) -> (TempDir, Authenticator) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwks.json"), jwks(keys)).unwrap();
    let mut cfg = config("jwks.json");
    tweak(&mut cfg);
    let auth = Authenticator::build(&cfg, dir.path()).await.unwrap();
    (dir, auth)
}

pub(super) fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

pub(super) fn with_pool(mut h: HeaderMap, pool: &str) -> HeaderMap {
    h.insert(IDENTITY_POOL_HEADER, HeaderValue::from_str(pool).unwrap());
    h
}

pub(super) fn basic(key: &str, secret: &str) -> HeaderMap {
    let cred = base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"));
    raw(&format!("Basic {cred}"))
}

pub(super) fn raw(value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
    h
}

fn loads(auth: &Authenticator) -> u64 {
    auth.inner.jwt.issuer(ISS).unwrap().keys.loads()
}

// === bearer tokens ===

#[tokio::test]
async fn valid_tokens_of_every_key_type_authenticate_as_the_subject() {
    let keys = [TestKey::rsa("r"), TestKey::ec("e"), TestKey::ed("d")];
    let (_dir, auth) = setup(&keys.iter().collect::<Vec<_>>()).await;
    for key in &keys {
        let token = key.sign(&claims("alice", &["developers", "ops"]));
        let p = auth.authenticate(&bearer(&token)).await.unwrap();
        assert_eq!(
            p,
            Principal {
                id: "User:alice".into(),
                mechanism: Mechanism::Jwt,
                identity: Some("alice".into()),
                issuer: Some(ISS.into()),
                pool: None,
                groups: vec!["developers".into(), "ops".into()],
                claims: p.claims.clone(),
            },
            "{:?}",
            key.alg
        );
    }
}

#[tokio::test]
async fn expired_token_is_refused_but_leeway_covers_small_skew() {
    let key = TestKey::ec("k");
    let (_dir, auth) = setup(&[&key]).await;
    let mut c = claims("alice", &[]);
    c["exp"] = json!(now() - 3600);
    let err = auth.authenticate(&bearer(&key.sign(&c))).await.unwrap_err();
    assert!(matches!(err, AuthError::TokenExpired), "{err:?}");
    assert_eq!(err.code(), "auth.token_expired");
    assert!(err.www_authenticate().contains("error=\"invalid_token\""));
    c["exp"] = json!(now() - 10);
    auth.authenticate(&bearer(&key.sign(&c))).await.unwrap();
}

#[tokio::test]
async fn token_with_nbf_in_the_future_is_not_yet_valid() {
    let key = TestKey::ed("k");
    let (_dir, auth) = setup(&[&key]).await;
    let mut c = claims("alice", &[]);
    c["nbf"] = json!(now() + 600);
    let err = auth.authenticate(&bearer(&key.sign(&c))).await.unwrap_err();
    assert!(matches!(err, AuthError::TokenNotYetValid), "{err:?}");
    c["nbf"] = json!(now() + 5);
    auth.authenticate(&bearer(&key.sign(&c))).await.unwrap();
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    let key = TestKey::rsa("k");
    let (_dir, auth) = setup(&[&key]).await;
    let mut c = claims("alice", &[]);
    c["aud"] = json!("another-service");
    let err = auth.authenticate(&bearer(&key.sign(&c))).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::WrongAudience { expected } if expected == AUD),
        "{err:?}"
    );
    c["aud"] = json!(["another-service", AUD]);
    auth.authenticate(&bearer(&key.sign(&c))).await.unwrap();
    c.as_object_mut().unwrap().remove("aud");
    let err = auth.authenticate(&bearer(&key.sign(&c))).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::MissingClaim(c) if c == "aud"),
        "{err:?}"
    );
}

#[tokio::test]
async fn unknown_issuer_is_refused() {
    let key = TestKey::ec("k");
    let (_dir, auth) = setup(&[&key]).await;
    let mut c = claims("alice", &[]);
    c["iss"] = json!("https://evil.example");
    let err = auth.authenticate(&bearer(&key.sign(&c))).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::UnknownIssuer(i) if i == "https://evil.example"),
        "{err:?}"
    );
    c.as_object_mut().unwrap().remove("iss");
    let err = auth.authenticate(&bearer(&key.sign(&c))).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::MissingClaim(c) if c == "iss"),
        "{err:?}"
    );
}

#[tokio::test]
async fn token_signed_by_another_key_with_the_same_kid_has_a_bad_signature() {
    let keys = [TestKey::rsa("r"), TestKey::ec("e"), TestKey::ed("d")];
    let (_dir, auth) = setup(&keys.iter().collect::<Vec<_>>()).await;
    for key in &keys {
        let token = key.impostor().sign(&claims("alice", &[]));
        let err = auth.authenticate(&bearer(&token)).await.unwrap_err();
        assert!(
            matches!(err, AuthError::BadSignature),
            "{:?}: {err:?}",
            key.alg
        );
    }
    // A tampered payload with the genuine signature fails the same way.
    let token = keys[1].sign(&claims("alice", &[]));
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(claims("admin", &["admins"]).to_string());
    let err = auth
        .authenticate(&bearer(&parts.join(".")))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::BadSignature), "{err:?}");
}

#[tokio::test]
async fn the_algorithm_comes_from_the_key_not_the_token() {
    let ec = TestKey::ec("k");
    let (dir, auth) = setup(&[&ec]).await;
    let c = claims("alice", &[]);

    // Signed with a real RSA key under the EC key's kid.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("k".into());
    let token = TestKey::rsa("k").sign_with(header, &c);
    let err = auth.authenticate(&bearer(&token)).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::AlgorithmMismatch { token, key } if token == "RS256" && key == "ES256"),
        "{err:?}"
    );

    // HMAC keyed with the published public key (the classic confusion attack).
    let jwks_text = std::fs::read(dir.path().join("jwks.json")).unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k".into());
    let token = jsonwebtoken::encode(&header, &c, &EncodingKey::from_secret(&jwks_text)).unwrap();
    let err = auth.authenticate(&bearer(&token)).await.unwrap_err();
    assert!(matches!(err, AuthError::UnsupportedAlgorithm(_)), "{err:?}");
    assert_eq!(err.code(), "auth.unsupported_algorithm");

    // `alg: none`.
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let token = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "kid": "k"})),
        b64(c.clone())
    );
    let err = auth.authenticate(&bearer(&token)).await.unwrap_err();
    assert!(matches!(err, AuthError::UnsupportedAlgorithm(_)), "{err:?}");
}

#[tokio::test]
async fn a_jwk_without_alg_pins_the_algorithm_from_its_curve() {
    let ec = TestKey::ec("k");
    let mut jwk = serde_json::to_value(ec.jwk()).unwrap();
    jwk.as_object_mut().unwrap().remove("alg");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("jwks.json"),
        json!({"keys": [jwk]}).to_string(),
    )
    .unwrap();
    let auth = Authenticator::build(&config("jwks.json"), dir.path())
        .await
        .unwrap();
    auth.authenticate(&bearer(&ec.sign(&claims("alice", &[]))))
        .await
        .unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k".into());
    let token = TestKey::ed("k").sign_with(header, &claims("alice", &[]));
    let err = auth.authenticate(&bearer(&token)).await.unwrap_err();
    assert!(
        matches!(err, AuthError::AlgorithmMismatch { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn tokens_without_kid_need_an_unambiguous_key() {
    let key = TestKey::ed("k");
    let header = Header::new(Algorithm::EdDSA);
    let token = key.sign_with(header, &claims("alice", &[]));
    let (_dir, auth) = setup(&[&key]).await;
    auth.authenticate(&bearer(&token)).await.unwrap();
    let (_dir, auth) = setup(&[&key, &TestKey::ed("other")]).await;
    let err = auth.authenticate(&bearer(&token)).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::UnknownKey { kid, .. } if kid == "(none)"),
        "{err:?}"
    );
}

#[tokio::test]
async fn required_claims_must_be_present() {
    let key = TestKey::ec("k");
    let (_dir, auth) = setup(&[&key]).await;
    for (claim, code) in [("sub", "auth.missing_claim"), ("exp", "auth.missing_claim")] {
        let mut c = claims("alice", &[]);
        c.as_object_mut().unwrap().remove(claim);
        let err = auth.authenticate(&bearer(&key.sign(&c))).await.unwrap_err();
        assert!(
            matches!(&err, AuthError::MissingClaim(c) if c == claim),
            "{err:?}"
        );
        assert_eq!(err.code(), code);
    }
}

// === identity pools ===

#[tokio::test]
async fn identity_pool_header_selects_a_pool_whose_filter_matches() {
    let key = TestKey::ec("k");
    let (_dir, auth) = setup(&[&key]).await;
    let token = key.sign(&claims("alice", &["developers"]));
    let p = auth
        .authenticate(&with_pool(bearer(&token), "pool-dev"))
        .await
        .unwrap();
    assert_eq!(
        p,
        Principal {
            id: "User:pool-dev".into(),
            mechanism: Mechanism::IdentityPool,
            identity: Some("alice".into()),
            issuer: Some(ISS.into()),
            pool: Some("pool-dev".into()),
            groups: vec!["developers".into()],
            claims: p.claims.clone(),
        }
    );
    assert_eq!(p.claims.get("sub").map(String::as_str), Some("alice"));
    assert_eq!(p.mechanism.as_str(), "IDENTITY_POOL");

    let err = auth
        .authenticate(&with_pool(bearer(&token), "pool-admin"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::PoolFilterMismatch { pool, .. } if pool == "pool-admin"),
        "{err:?}"
    );
    assert_eq!(err.code(), "auth.pool_filter_mismatch");
    assert!(
        err.detail().contains("pool-admin") && err.detail().contains("admins"),
        "{}",
        err.detail()
    );

    let err = auth
        .authenticate(&with_pool(bearer(&token), "pool-nope"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::UnknownIdentityPool(p) if p == "pool-nope"),
        "{err:?}"
    );

    let p = auth.authenticate(&bearer(&token)).await.unwrap();
    assert_eq!(
        (p.id.as_str(), p.mechanism, p.pool),
        ("User:alice", Mechanism::Jwt, None)
    );
}

#[tokio::test]
async fn a_pool_only_accepts_tokens_of_its_issuer() {
    let key = TestKey::ec("k");
    let other = TestKey::ed("o");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwks.json"), jwks(&[&key])).unwrap();
    std::fs::write(dir.path().join("other.json"), jwks(&[&other])).unwrap();
    let mut cfg = config("jwks.json");
    cfg.issuers.push(IssuerConfig::with_jwks_file(
        "other",
        "https://other.test",
        AUD,
        "other.json",
    ));
    let auth = Authenticator::build(&cfg, dir.path()).await.unwrap();
    let mut c = claims("alice", &["developers"]);
    c["iss"] = json!("https://other.test");
    let err = auth
        .authenticate(&with_pool(bearer(&other.sign(&c)), "pool-dev"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::PoolIssuerMismatch { issuer, .. } if issuer == "other"),
        "{err:?}"
    );
    let p = auth.authenticate(&bearer(&other.sign(&c))).await.unwrap();
    assert_eq!(p.issuer.as_deref(), Some("https://other.test"));
}

// === API keys ===

#[tokio::test]
async fn api_keys_created_on_a_running_gateway_are_picked_up_and_verified() {
    let (dir, auth) = setup(&[&TestKey::ed("k")]).await;
    let file = dir.path().join("policies/api-keys.toml");
    let err = auth
        .authenticate(&basic("NOKEYSYET0000000", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::InvalidApiKey), "{err:?}");

    let (id, secret) = create_api_key(&file, "User:sa-ci", Some("CI")).unwrap();
    let p = auth.authenticate(&basic(&id, &secret)).await.unwrap();
    assert_eq!(
        p,
        Principal {
            id: "User:sa-ci".into(),
            mechanism: Mechanism::ApiKey,
            identity: Some(id.clone()),
            issuer: None,
            pool: None,
            groups: vec![],
            claims: Default::default(),
        }
    );
    // Cached path gives the same answer.
    assert_eq!(auth.authenticate(&basic(&id, &secret)).await.unwrap(), p);

    let err = auth
        .authenticate(&basic(&id, &format!("{secret}x")))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::InvalidApiKey), "{err:?}");
    assert_eq!(
        err.www_authenticate(),
        "Basic realm=\"sqlgate\", charset=\"UTF-8\""
    );
    let err = auth
        .authenticate(&basic("UNKNOWNKEY000000", &secret))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::InvalidApiKey), "{err:?}");
    assert!(!format!("{err:?}{}{err}", err.detail()).contains(&secret));

    // A second key added later works too; removing the first revokes it despite the cache.
    let (id2, secret2) = create_api_key(&file, "User:sa-two", None).unwrap();
    auth.authenticate(&basic(&id2, &secret2)).await.unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let kept: Vec<&str> = text
        .split("\n\n")
        .filter(|block| !block.contains(&id))
        .collect();
    std::fs::write(&file, kept.join("\n\n")).unwrap();
    let err = auth.authenticate(&basic(&id, &secret)).await.unwrap_err();
    assert!(matches!(err, AuthError::InvalidApiKey), "{err:?}");
    auth.authenticate(&basic(&id2, &secret2)).await.unwrap();
}

#[tokio::test]
async fn an_invalid_api_key_file_edit_keeps_the_previous_keys() {
    let (dir, auth) = setup(&[&TestKey::ed("k")]).await;
    let file = dir.path().join("policies/api-keys.toml");
    let (id, secret) = create_api_key(&file, "User:sa-ci", None).unwrap();
    auth.authenticate(&basic(&id, &secret)).await.unwrap();
    std::fs::write(&file, "[[keys]\nbroken").unwrap();
    auth.inner.api_keys.clear_cache();
    auth.authenticate(&basic(&id, &secret)).await.unwrap();
}

#[tokio::test]
async fn identity_pool_header_is_refused_with_basic() {
    let (_dir, auth) = setup(&[&TestKey::ed("k")]).await;
    let err = auth
        .authenticate(&with_pool(basic("K", "s"), "pool-dev"))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::MalformedHeader(_)), "{err:?}");
}

// === headers ===

#[tokio::test]
async fn malformed_authorization_headers_are_reported_as_such() {
    let (_dir, auth) = setup(&[&TestKey::ed("k")]).await;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for value in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer a b".to_owned(),
        "Basic".to_owned(),
        "Basic !!!not-base64".to_owned(),
        format!("Basic {}", b64("no-colon")),
        format!("Basic {}", b64(":secret")),
        format!("Basic {}", b64("key:")),
        "Digest username=x".to_owned(),
    ] {
        let err = auth.authenticate(&raw(&value)).await.unwrap_err();
        assert!(
            matches!(err, AuthError::MalformedHeader(_)),
            "{value}: {err:?}"
        );
        assert_eq!(err.code(), "auth.malformed_header");
        assert!(err.www_authenticate().contains("Basic realm"));
    }
    let mut twice = raw("Bearer a.b.c");
    twice.append(AUTHORIZATION, HeaderValue::from_static("Basic eDp5"));
    let err = auth.authenticate(&twice).await.unwrap_err();
    assert!(matches!(err, AuthError::MalformedHeader(_)), "{err:?}");
    let mut non_ascii = HeaderMap::new();
    non_ascii.insert(
        AUTHORIZATION,
        HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
    );
    let err = auth.authenticate(&non_ascii).await.unwrap_err();
    assert!(matches!(err, AuthError::MalformedHeader(_)), "{err:?}");

    let err = auth
        .authenticate(&raw("bearer not-a-jwt"))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::MalformedToken(_)), "{err:?}");
    assert!(!err.detail().contains("not-a-jwt"));

    let err = auth.authenticate(&HeaderMap::new()).await.unwrap_err();
    assert!(matches!(err, AuthError::MissingCredentials), "{err:?}");
    assert_eq!(
        err.www_authenticate(),
        "Bearer realm=\"sqlgate\", Basic realm=\"sqlgate\", charset=\"UTF-8\""
    );
}

// === dev issuer ===

#[tokio::test]
async fn minted_dev_tokens_verify_through_the_default_style_config() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevIssuerConfig::default();
    let cfg: AuthConfig = toml::from_str(
        r#"
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
        "#,
    )
    .unwrap();
    // The build generates the dev key on first run.
    let auth = Authenticator::build(&cfg, dir.path()).await.unwrap();
    assert!(dir.path().join("certs/dev-issuer.key").exists());
    let token = mint_token(
        &dev,
        dir.path(),
        "alice",
        &["developers".into()],
        Duration::from_secs(3600),
    )
    .unwrap();
    let p = auth.authenticate(&bearer(&token)).await.unwrap();
    assert_eq!(p.id, "User:alice");
    assert_eq!(p.issuer.as_deref(), Some("https://sqlgate.dev"));
    assert_eq!(p.groups, ["developers"]);
    let p = auth
        .authenticate(&with_pool(bearer(&token), "pool-dev"))
        .await
        .unwrap();
    assert_eq!(
        (p.id.as_str(), p.identity.as_deref()),
        ("User:pool-dev", Some("alice"))
    );
    let err = auth
        .authenticate(&with_pool(bearer(&token), "pool-admin"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthError::PoolFilterMismatch { .. }),
        "{err:?}"
    );

    // A second build reuses the key, so earlier tokens stay valid.
    let again = Authenticator::build(&cfg, dir.path()).await.unwrap();
    again.authenticate(&bearer(&token)).await.unwrap();
}
