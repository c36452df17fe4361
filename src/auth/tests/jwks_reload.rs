//! JWKS reloads: an unknown `kid` reloads a file or fetches a URL at most once per interval;
//! an unreachable or unreadable source. The file test runs on paused time (`start_paused`);
//! the URL test fetches over a real socket, so it keeps real time (paused time would
//! auto-advance past the client's timeouts while it waits on I/O).

use super::*;

/// Paused time: the interval is the rate limit's own (tokio's clock), so the test waits for it
/// without waiting, and a reload just before it is due is still refused.
#[tokio::test(start_paused = true)]
async fn unknown_kid_reloads_a_jwks_file_at_most_once_per_interval() {
    let a = TestKey::ed("a");
    let (b, c) = (TestKey::ed("b"), TestKey::ec("c"));
    let interval = Duration::from_secs(30);
    let (dir, auth) = setup_with(&[&a], |cfg| {
        cfg.issuers[0].jwks_refresh_min_interval = interval
    })
    .await;
    let file = dir.path().join("jwks.json");
    assert_eq!(loads(&auth), 1);
    tokio::time::sleep(interval).await;

    std::fs::write(&file, jwks(&[&a, &b])).unwrap();
    auth.authenticate(&bearer(&b.sign(&claims("bob", &[]))))
        .await
        .unwrap();
    assert_eq!(loads(&auth), 2, "the unknown kid `b` caused one reload");

    std::fs::write(&file, jwks(&[&a, &b, &c])).unwrap();
    for kid_key in [&c, &TestKey::ed("zzz"), &c] {
        let err = auth
            .authenticate(&bearer(&kid_key.sign(&claims("carol", &[]))))
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::UnknownKey { .. }), "{err:?}");
    }
    assert_eq!(loads(&auth), 2, "no reload within the minimum interval");
    // Known keys keep working without reloads.
    auth.authenticate(&bearer(&a.sign(&claims("alice", &[]))))
        .await
        .unwrap();
    assert_eq!(loads(&auth), 2);

    tokio::time::sleep(interval - Duration::from_millis(1)).await;
    let err = auth
        .authenticate(&bearer(&c.sign(&claims("carol", &[]))))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::UnknownKey { .. }), "{err:?}");
    assert_eq!(
        loads(&auth),
        2,
        "no reload a millisecond before the interval ends"
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
    auth.authenticate(&bearer(&c.sign(&claims("carol", &[]))))
        .await
        .unwrap();
    assert_eq!(loads(&auth), 3);
}

#[tokio::test]
async fn unknown_kid_triggers_exactly_one_fetch_of_a_jwks_url() {
    let a = TestKey::rsa("a");
    let b = TestKey::ed("b");
    let server = JwksServer::start(jwks(&[&a])).await;
    let interval = Duration::from_millis(400);
    let mut cfg = config("unused");
    cfg.issuers[0].jwks_file = None;
    cfg.issuers[0].jwks_url = Some(server.url.clone());
    cfg.issuers[0].jwks_refresh_min_interval = interval;
    let dir = tempfile::tempdir().unwrap();
    let auth = Authenticator::build(&cfg, dir.path()).await.unwrap();
    assert_eq!(server.hits(), 1, "fetched once at startup");
    auth.authenticate(&bearer(&a.sign(&claims("alice", &[]))))
        .await
        .unwrap();
    assert_eq!(server.hits(), 1, "served from the cache");

    tokio::time::sleep(interval).await;
    server.set(jwks(&[&a, &b]));
    // Many concurrent requests with unknown kids: one fetch between them.
    let tokens: Vec<String> = (0..8)
        .map(|i| {
            if i % 2 == 0 {
                b.sign(&claims("bob", &[]))
            } else {
                TestKey::ed(&format!("nope{i}")).sign(&claims("x", &[]))
            }
        })
        .collect();
    let results = futures::future::join_all(tokens.iter().map(|t| {
        let auth = auth.clone();
        async move { auth.authenticate(&bearer(t)).await }
    }))
    .await;
    assert_eq!(server.hits(), 2, "exactly one reload");
    for (i, r) in results.iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(r.as_ref().unwrap().id, "User:bob");
        } else {
            assert!(matches!(r, Err(AuthError::UnknownKey { .. })), "{r:?}");
        }
    }
    let err = auth
        .authenticate(&bearer(&TestKey::ed("c").sign(&claims("c", &[]))))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::UnknownKey { .. }));
    assert_eq!(server.hits(), 2, "rate-limited");
}

#[tokio::test]
async fn an_unreachable_jwks_url_does_not_stop_startup_but_fails_tokens() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = config("unused");
    cfg.issuers[0].jwks_file = None;
    cfg.issuers[0].jwks_url = Some(format!("http://127.0.0.1:{port}/jwks"));
    let dir = tempfile::tempdir().unwrap();
    let auth = Authenticator::build(&cfg, dir.path()).await.unwrap();
    let err = auth
        .authenticate(&bearer(&TestKey::ed("k").sign(&claims("a", &[]))))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::JwksUnavailable { .. }), "{err:?}");
    assert!(!err.is_credential_failure());
}

#[tokio::test]
async fn an_unreadable_or_empty_jwks_file_fails_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let err = Authenticator::build(&config("missing.json"), dir.path())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing.json"), "{err}");
    std::fs::write(
        dir.path().join("hmac.json"),
        r#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}"#,
    )
    .unwrap();
    let err = Authenticator::build(&config("hmac.json"), dir.path())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no usable signing key"), "{err}");
}
