//! Tests of issue 10's authentication items: duplicated claims, what a failure says about who
//! tried ([`Attempt`]), and the throttling of failed API-key attempts.

use base64::Engine as _;
use serde_json::{Value, json};

use super::tests::{basic, bearer, config, setup, setup_with, with_pool};
use super::testutil::{AUD, ISS, TestKey, claims, jwks, now};
use super::*;

/// The members of [`claims`], in order, for [`TestKey::sign_members`].
fn members(sub: &str, groups: &[&str]) -> Vec<(&'static str, Value)> {
    let Value::Object(map) = claims(sub, groups) else {
        unreachable!()
    };
    let names = ["iss", "aud", "sub", "groups", "iat", "exp"];
    names.into_iter().map(|n| (n, map[n].clone())).collect()
}

async fn fails(auth: &Authenticator, headers: &HeaderMap) -> (AuthError, Attempt) {
    let (result, attempt) = auth.authenticate_from(headers, None).await;
    (result.unwrap_err(), attempt)
}

// === duplicated claims ===

#[tokio::test]
async fn a_duplicated_groups_claim_is_refused_not_read_as_its_last_value() {
    let key = TestKey::ec("k");
    let (_dir, auth) = setup(&[&key]).await;
    // Before: the second `groups` won, so this token entered pool-admin.
    let mut m = members("mallory", &["developers"]);
    m.push(("groups", json!(["admins"])));
    let token = key.sign_members(&m);
    for headers in [bearer(&token), with_pool(bearer(&token), "pool-admin")] {
        let (err, attempt) = fails(&auth, &headers).await;
        assert!(
            matches!(&err, AuthError::DuplicateClaim(c) if c == "groups"),
            "{err:?}"
        );
        assert_eq!(err.code(), "auth.duplicate_claim");
        assert!(err.is_credential_failure(), "a 401");
        assert!(
            err.detail().contains("`groups` more than once"),
            "{}",
            err.detail()
        );
        assert!(err.www_authenticate().contains("duplicated claim"));
        // Refused before the signature was looked at: nothing verified is claimed.
        assert!(
            !attempt.verified && attempt.identity.is_none(),
            "{attempt:?}"
        );
        assert_eq!(attempt.kid.as_deref(), Some("k"));
    }
    // The same claims without the duplicate are fine.
    auth.authenticate(&bearer(
        &key.sign_members(&members("mallory", &["developers"])),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn every_duplicated_claim_a_decision_uses_is_refused_the_same_way() {
    let key = TestKey::rsa("k");
    let (_dir, auth) = setup_with(&[&key], |cfg| {
        cfg.issuers[0].identity_claim = "email".into();
        cfg.issuers[0].groups_claim = "realm_access.roles".into();
        cfg.identity_pools[0].filter.claim = "tenant".into();
        cfg.identity_pools[0].filter.contains = Some("acme".into());
    })
    .await;
    let base = || {
        let mut m = members("alice", &[]);
        m.push(("email", json!("alice@example.com")));
        m.push(("tenant", json!("acme")));
        m
    };
    auth.authenticate(&with_pool(bearer(&key.sign_members(&base())), "pool-dev"))
        .await
        .unwrap();
    let cases: Vec<(&str, Vec<(&str, Value)>)> = vec![
        ("sub", vec![("sub", json!("root"))]),
        ("exp", vec![("exp", json!(now() + 7200))]),
        ("aud", vec![("aud", json!(AUD))]),
        ("iss", vec![("iss", json!(ISS))]),
        ("nbf", vec![("nbf", json!(now())), ("nbf", json!(now()))]),
        ("email", vec![("email", json!("root@example.com"))]),
        ("tenant", vec![("tenant", json!("other"))]),
        (
            "realm_access.roles",
            vec![("realm_access", json!({"roles": ["a"]}))],
        ),
    ];
    for (claim, extra) in cases {
        let mut m = base();
        m.extend(extra);
        let token = if claim == "realm_access.roles" {
            // A nested duplicate: `{"roles": [...], "roles": [...]}` inside one object.
            let header = json!({"alg": "RS256", "kid": "k", "typ": "JWT"}).to_string();
            let mut body = Value::Object(
                base()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            )
            .to_string();
            body.pop();
            body.push_str(r#","realm_access":{"roles":["a"],"roles":["admins"]}}"#);
            let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
            format!("{}.{}.{}", b64(&header), b64(&body), b64("sig"))
        } else {
            key.sign_members(&m)
        };
        let (err, _) = fails(&auth, &with_pool(bearer(&token), "pool-dev")).await;
        assert!(
            matches!(&err, AuthError::DuplicateClaim(c) if c == claim),
            "{claim}: {err:?}"
        );
        assert_eq!(err.code(), "auth.duplicate_claim", "{claim}");
    }
}

#[tokio::test]
async fn a_duplicated_header_member_is_a_malformed_token() {
    let key = TestKey::ec("k");
    let (_dir, auth) = setup(&[&key]).await;
    let good = key.sign(&claims("alice", &[]));
    let mut parts = good.split('.');
    let (_, payload, sig) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
    let header = r#"{"alg":"ES256","kid":"k","alg":"none"}"#;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header);
    let (err, _) = fails(&auth, &bearer(&format!("{b64}.{payload}.{sig}"))).await;
    assert!(
        matches!(&err, AuthError::MalformedToken(why) if why.contains("more than one `alg`")),
        "{err:?}"
    );
}

// === who tried ===

#[tokio::test]
async fn a_validly_signed_but_refused_token_says_who_it_names() {
    let key = TestKey::ec("k");
    let (_dir, auth) = setup(&[&key]).await;
    let who = |attempt: &Attempt| {
        (
            attempt.verified,
            attempt.issuer.clone(),
            attempt.identity.clone(),
            attempt.pool.clone(),
            attempt.kid.clone(),
        )
    };
    // The pool's filter is not satisfied.
    let token = key.sign(&claims("alice", &["developers"]));
    let (err, attempt) = fails(&auth, &with_pool(bearer(&token), "pool-admin")).await;
    assert_eq!(err.code(), "auth.pool_filter_mismatch");
    assert_eq!(
        who(&attempt),
        (
            true,
            Some(ISS.into()),
            Some("alice".into()),
            Some("pool-admin".into()),
            None
        )
    );
    // Expired, not yet valid, another audience: the signature still proves who it names.
    for (field, value, code) in [
        ("exp", json!(now() - 3600), "auth.token_expired"),
        ("nbf", json!(now() + 3600), "auth.token_not_yet_valid"),
        ("aud", json!("another-service"), "auth.wrong_audience"),
    ] {
        let mut c = claims("bob", &[]);
        c[field] = value;
        let (err, attempt) = fails(&auth, &bearer(&key.sign(&c))).await;
        assert_eq!(err.code(), code);
        assert_eq!(
            who(&attempt),
            (true, Some(ISS.into()), Some("bob".into()), None, None),
            "{code}"
        );
    }
    // A pool that does not exist: the pool error, but who asked for it is known.
    // (The header is the caller's text: capped like any other.)
    let nope = format!("pool-{}", "n".repeat(200));
    let (err, attempt) = fails(&auth, &with_pool(bearer(&token), &nope)).await;
    assert_eq!(err.code(), "auth.unknown_identity_pool");
    assert_eq!(
        who(&attempt),
        (
            true,
            Some(ISS.into()),
            Some("alice".into()),
            Some(untrusted(&nope)),
            None
        )
    );
    assert_eq!(attempt.pool.unwrap().chars().count(), 97);
    // A valid signature without the identity claim: verified, no identity to name.
    let mut c = claims("x", &[]);
    c.as_object_mut().unwrap().remove("sub");
    let (err, attempt) = fails(&auth, &bearer(&key.sign(&c))).await;
    assert_eq!(err.code(), "auth.missing_claim");
    assert_eq!(who(&attempt), (true, Some(ISS.into()), None, None, None));
}

#[tokio::test]
async fn a_valid_token_used_with_another_issuers_pool_says_who_it_names() {
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
    let (err, attempt) = fails(&auth, &with_pool(bearer(&other.sign(&c)), "pool-dev")).await;
    assert_eq!(err.code(), "auth.pool_issuer_mismatch");
    assert!(attempt.verified);
    assert_eq!(attempt.issuer.as_deref(), Some("https://other.test"));
    assert_eq!(attempt.identity.as_deref(), Some("alice"));
    assert_eq!(attempt.pool.as_deref(), Some("pool-dev"));
}

#[tokio::test]
async fn an_unverifiable_token_leaves_only_its_claimed_issuer_and_kid() {
    let key = TestKey::rsa("k");
    let (_dir, auth) = setup(&[&key]).await;
    // Signed by another key under the same kid.
    let forged = key.impostor().sign(&claims("root", &["admins"]));
    let (err, attempt) = fails(&auth, &bearer(&forged)).await;
    assert_eq!(err.code(), "auth.bad_signature");
    assert_eq!(
        attempt,
        Attempt {
            issuer: Some(ISS.into()),
            kid: Some("k".into()),
            ..Attempt::default()
        }
    );
    // An issuer nobody configured, with a hostile kid: capped and defanged.
    let evil = TestKey::ec(&format!("{}\u{1b}[31m", "k".repeat(300)));
    let mut c = claims("root", &[]);
    c["iss"] = json!("https://evil.example\n");
    let (err, attempt) = fails(&auth, &bearer(&evil.sign(&c))).await;
    assert_eq!(err.code(), "auth.unknown_issuer");
    assert!(!attempt.verified);
    assert_eq!(attempt.issuer.as_deref(), Some("https://evil.example?"));
    let kid = attempt.kid.unwrap();
    assert_eq!(kid.chars().count(), 97, "{kid}");
    assert!(!kid.contains('\u{1b}'));
    assert_eq!(
        attempt.identity, None,
        "an unverified `sub` is not recorded"
    );
    // An unknown kid of the configured issuer.
    let other = TestKey::ec("nope");
    let (err, attempt) = fails(&auth, &bearer(&other.sign(&claims("root", &[])))).await;
    assert_eq!(err.code(), "auth.unknown_key");
    assert_eq!(
        (attempt.verified, attempt.kid.as_deref()),
        (false, Some("nope"))
    );
    // Not a JWT at all: nothing to say.
    let (_, attempt) = fails(&auth, &bearer("not-a-jwt")).await;
    assert!(attempt.is_empty(), "{attempt:?}");
    // Never the token, in any form.
    let (_, attempt) = fails(&auth, &bearer(&forged)).await;
    let sig = forged.rsplit('.').next().unwrap();
    assert!(!format!("{attempt:?}").contains(sig));
}

#[tokio::test]
async fn an_api_key_failure_names_the_key_id_only_if_it_looks_like_one() {
    let (dir, auth) = setup(&[&TestKey::ed("k")]).await;
    let (id, secret) =
        create_api_key(&dir.path().join("policies/api-keys.toml"), "User:sa", None).unwrap();
    let (_, attempt) = fails(&auth, &basic(&id, "wrong")).await;
    assert_eq!(attempt.key_id.as_deref(), Some(id.as_str()));
    assert!(!attempt.verified);
    // A secret pasted into the key field is never kept.
    let (_, attempt) = fails(&auth, &basic(&secret, &id)).await;
    assert_eq!(attempt.key_id, None);
}

// === throttling failed API-key attempts ===

fn retry_after(e: &AuthError) -> Option<u64> {
    match e {
        AuthError::TooManyFailures { retry_after_secs } => Some(*retry_after_secs),
        _ => None,
    }
}

#[tokio::test]
async fn wrong_secrets_for_one_key_id_are_throttled_whether_or_not_it_exists() {
    let (dir, auth) = setup_with(&[&TestKey::ed("k")], |cfg| {
        cfg.failure_throttle.max_failures_per_key = 3;
        cfg.failure_throttle.max_failures_per_peer = 1000;
    })
    .await;
    let file = dir.path().join("policies/api-keys.toml");
    let (id, secret) = create_api_key(&file, "User:sa", None).unwrap();
    let (id2, secret2) = create_api_key(&file, "User:sb", None).unwrap();
    // A client that authenticated before the guessing keeps working (cached pair).
    auth.authenticate(&basic(&id, &secret)).await.unwrap();
    let peer = |i: u8| Some(IpAddr::from([10, 0, 0, i]));
    for key in [id.as_str(), "UNKNOWNKEY000000"] {
        for i in 0..3 {
            let (r, _) = auth.authenticate_from(&basic(key, "guess"), peer(i)).await;
            assert!(matches!(r, Err(AuthError::InvalidApiKey)), "{r:?}");
        }
        // The fourth from yet another address is refused unverified, the same way for a key
        // that exists and one that does not.
        let (r, _) = auth.authenticate_from(&basic(key, "guess"), peer(9)).await;
        let e = r.unwrap_err();
        assert_eq!(e.code(), "auth.too_many_failures");
        let secs = retry_after(&e).unwrap();
        assert!((1..=60).contains(&secs), "{secs}");
        assert_eq!(e.retry_after(), Some(secs));
        assert!(
            e.detail().contains(&format!("retry after {secs} seconds")),
            "{}",
            e.detail()
        );
    }
    auth.authenticate(&basic(&id, &secret)).await.unwrap();
    // The right secret of the throttled key, not cached, is refused too until the window ends.
    auth.inner.api_keys.clear_cache();
    let e = auth.authenticate(&basic(&id, &secret)).await.unwrap_err();
    assert_eq!(e.code(), "auth.too_many_failures");
    // Other keys are not affected.
    auth.authenticate(&basic(&id2, &secret2)).await.unwrap();
}

#[tokio::test]
async fn a_peer_guessing_at_many_key_ids_is_throttled() {
    let (_dir, auth) = setup_with(&[&TestKey::ed("k")], |cfg| {
        cfg.failure_throttle.max_failures_per_key = 1000;
        cfg.failure_throttle.max_failures_per_peer = 4;
    })
    .await;
    let guesser = Some(IpAddr::from([192, 0, 2, 1]));
    for i in 0..4 {
        let (r, _) = auth
            .authenticate_from(&basic(&format!("GUESS{i:011}"), "x"), guesser)
            .await;
        assert_eq!(r.unwrap_err().code(), "auth.invalid_api_key");
    }
    let (r, _) = auth
        .authenticate_from(&basic("ANOTHERGUESS0000", "x"), guesser)
        .await;
    assert_eq!(r.unwrap_err().code(), "auth.too_many_failures");
    let (r, _) = auth
        .authenticate_from(
            &basic("ANOTHERGUESS0000", "x"),
            Some(IpAddr::from([192, 0, 2, 2])),
        )
        .await;
    assert_eq!(r.unwrap_err().code(), "auth.invalid_api_key");
    // Bearer tokens are not throttled here (verifying one is cheap and needs no secret).
    let (r, _) = auth.authenticate_from(&bearer("a.b.c"), guesser).await;
    assert_eq!(r.unwrap_err().code(), "auth.malformed_token");
}

#[tokio::test]
async fn unknown_key_ids_go_through_the_same_verification_as_wrong_secrets() {
    let (dir, auth) = setup(&[&TestKey::ed("k")]).await;
    let (id, _) =
        create_api_key(&dir.path().join("policies/api-keys.toml"), "User:sa", None).unwrap();
    let store = &auth.inner.api_keys;
    let before = store.verifications();
    auth.authenticate(&basic(&id, "wrong")).await.unwrap_err();
    auth.authenticate(&basic("UNKNOWNKEY000000", "wrong"))
        .await
        .unwrap_err();
    assert_eq!(store.verifications(), before + 2, "one argon2 run each");
    assert!(store.dummy_has_the_cost_of_new_keys().await);
}
