//! The cache of verified bearer tokens (`auth.verified_token_cache`): a reused token is not
//! verified again, and the cache never accepts what a full verification would refuse: past
//! its `exp`, after its key left or changed in the JWKS, or with a pool its claims do not
//! match. Each test counts signature checks to show which answers came from the cache.

use super::*;

fn checks(auth: &Authenticator) -> u64 {
    auth.inner.jwt.signature_checks()
}

#[tokio::test]
async fn a_reused_token_is_verified_once_and_gets_the_same_principal_and_attempt() {
    let key = TestKey::ed("k");
    let (_dir, auth) = setup(&[&key]).await;
    let token = key.sign(&claims("alice", &["developers"]));
    let headers = with_pool(bearer(&token), "pool-dev");
    let (first, first_attempt) = auth.authenticate_from(&headers, None).await;
    let (second, second_attempt) = auth.authenticate_from(&headers, None).await;
    assert_eq!(
        checks(&auth),
        1,
        "the second request reused the verification"
    );
    assert_eq!(first.unwrap(), second.unwrap());
    assert_eq!(format!("{first_attempt:?}"), format!("{second_attempt:?}"));
    // The pool is still matched on every request: the same token asking for another pool
    // whose filter it does not pass is refused, from the cache too.
    let err = auth
        .authenticate(&with_pool(bearer(&token), "pool-admin"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthError::PoolFilterMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(checks(&auth), 1);
}

#[tokio::test]
async fn without_the_cache_every_request_is_verified() {
    let key = TestKey::ed("k");
    let (_dir, auth) = setup_with(&[&key], |cfg| cfg.verified_token_cache = 0).await;
    let token = key.sign(&claims("alice", &[]));
    for _ in 0..3 {
        auth.authenticate(&bearer(&token)).await.unwrap();
    }
    assert_eq!(checks(&auth), 3);
}

#[tokio::test]
async fn a_cached_token_stops_working_at_its_expiry() {
    let key = TestKey::ed("k");
    let (_dir, auth) = setup_with(&[&key], |cfg| {
        cfg.issuers[0].leeway = Duration::ZERO;
    })
    .await;
    let mut c = claims("alice", &[]);
    // Expiry is wall-clock time (the `exp` claim), so this test waits for it.
    let exp = now() + 1;
    c["exp"] = json!(exp);
    let token = key.sign(&c);
    auth.authenticate(&bearer(&token)).await.unwrap();
    auth.authenticate(&bearer(&token)).await.unwrap();
    assert_eq!(checks(&auth), 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while now() <= exp + 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the clock did not move"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let err = auth.authenticate(&bearer(&token)).await.unwrap_err();
    assert!(matches!(err, AuthError::TokenExpired), "{err:?}");
    assert_eq!(checks(&auth), 2, "past exp the token was verified again");
}

#[tokio::test]
async fn a_token_within_the_leeway_after_exp_is_verified_every_time() {
    let key = TestKey::ec("k");
    let (_dir, auth) = setup(&[&key]).await;
    let mut c = claims("alice", &[]);
    c["exp"] = json!(now() - 10);
    let token = key.sign(&c);
    auth.authenticate(&bearer(&token)).await.unwrap();
    auth.authenticate(&bearer(&token)).await.unwrap();
    assert_eq!(
        checks(&auth),
        2,
        "never answered from the cache after its exp"
    );
    c["exp"] = json!(now() - 3600);
    let expired = key.sign(&c);
    for _ in 0..2 {
        let err = auth.authenticate(&bearer(&expired)).await.unwrap_err();
        assert!(matches!(err, AuthError::TokenExpired), "{err:?}");
    }
}

/// A key removed from the JWKS, or replaced under the same `kid`, stops its cached tokens the
/// moment the gateway reloads the JWKS (here: when another token names an unknown `kid`).
#[tokio::test(start_paused = true)]
async fn a_cached_token_stops_working_when_its_key_leaves_or_changes_in_the_jwks() {
    let (a, b, c) = (TestKey::ed("a"), TestKey::ed("b"), TestKey::ec("c"));
    let interval = Duration::from_secs(30);
    let (dir, auth) = setup_with(&[&a, &b], |cfg| {
        cfg.issuers[0].jwks_refresh_min_interval = interval
    })
    .await;
    let file = dir.path().join("jwks.json");
    let by_a = a.sign(&claims("alice", &[]));
    let by_b = b.sign(&claims("bob", &[]));
    for token in [&by_a, &by_b, &by_a, &by_b] {
        auth.authenticate(&bearer(token)).await.unwrap();
    }
    assert_eq!(checks(&auth), 2);

    // `a` is removed and `b` replaced by another key with the same kid.
    tokio::time::sleep(interval).await;
    let b2 = b.impostor();
    std::fs::write(&file, jwks(&[&b2, &c])).unwrap();
    auth.authenticate(&bearer(&c.sign(&claims("carol", &[]))))
        .await
        .unwrap();
    assert_eq!(loads(&auth), 2, "the unknown kid `c` reloaded the JWKS");
    let err = auth.authenticate(&bearer(&by_a)).await.unwrap_err();
    assert!(matches!(err, AuthError::UnknownKey { .. }), "{err:?}");
    let err = auth.authenticate(&bearer(&by_b)).await.unwrap_err();
    assert!(matches!(err, AuthError::BadSignature), "{err:?}");
    // The new key's tokens work (and are cached in turn).
    let by_b2 = b2.sign(&claims("bob", &[]));
    auth.authenticate(&bearer(&by_b2)).await.unwrap();
    let before = checks(&auth);
    auth.authenticate(&bearer(&by_b2)).await.unwrap();
    assert_eq!(checks(&auth), before);
}

#[tokio::test]
async fn refused_tokens_are_not_cached() {
    let key = TestKey::ed("k");
    let (_dir, auth) = setup(&[&key]).await;
    let mut c = claims("alice", &[]);
    c["aud"] = json!("someone-else");
    let token = key.sign(&c);
    for _ in 0..2 {
        let err = auth.authenticate(&bearer(&token)).await.unwrap_err();
        assert!(matches!(err, AuthError::WrongAudience { .. }), "{err:?}");
    }
    assert_eq!(checks(&auth), 2);
}
