//! Error codes, challenges and what refusals quote of caller-supplied values. Moved from
//! `auth/tests.rs` unchanged.

use super::*;

#[test]
fn error_codes_are_stable_and_challenges_well_formed() {
    let all = [
        (AuthError::MissingCredentials, "auth.missing_credentials"),
        (
            AuthError::MalformedHeader("x".into()),
            "auth.malformed_header",
        ),
        (
            AuthError::MalformedToken("x".into()),
            "auth.malformed_token",
        ),
        (AuthError::TokenExpired, "auth.token_expired"),
        (AuthError::TokenNotYetValid, "auth.token_not_yet_valid"),
        (AuthError::BadSignature, "auth.bad_signature"),
        (AuthError::UnknownIssuer("i".into()), "auth.unknown_issuer"),
        (
            AuthError::WrongAudience {
                expected: "a".into(),
            },
            "auth.wrong_audience",
        ),
        (
            AuthError::UnknownKey {
                issuer: "i".into(),
                kid: "k".into(),
            },
            "auth.unknown_key",
        ),
        (
            AuthError::UnsupportedAlgorithm("x".into()),
            "auth.unsupported_algorithm",
        ),
        (
            AuthError::AlgorithmMismatch {
                token: "a".into(),
                key: "b".into(),
            },
            "auth.algorithm_mismatch",
        ),
        (
            AuthError::UnknownIdentityPool("p".into()),
            "auth.unknown_identity_pool",
        ),
        (
            AuthError::PoolIssuerMismatch {
                pool: "p".into(),
                issuer: "i".into(),
            },
            "auth.pool_issuer_mismatch",
        ),
        (
            AuthError::PoolFilterMismatch {
                pool: "p".into(),
                filter: "f".into(),
            },
            "auth.pool_filter_mismatch",
        ),
        (AuthError::MissingClaim("sub".into()), "auth.missing_claim"),
        (
            AuthError::InvalidClaim {
                claim: "c".into(),
                reason: "r".into(),
            },
            "auth.invalid_claim",
        ),
        (
            AuthError::DuplicateClaim("groups".into()),
            "auth.duplicate_claim",
        ),
        (AuthError::InvalidApiKey, "auth.invalid_api_key"),
        (
            AuthError::TooManyFailures {
                retry_after_secs: 7,
            },
            "auth.too_many_failures",
        ),
        (AuthError::VerifierBusy, "auth.busy"),
        (
            AuthError::JwksUnavailable {
                issuer: "i".into(),
                reason: "r".into(),
            },
            "auth.jwks_unavailable",
        ),
        (AuthError::Internal("x".into()), "auth.internal"),
    ];
    let mut seen = std::collections::HashSet::new();
    for (err, code) in &all {
        assert_eq!(err.code(), *code);
        assert!(seen.insert(*code), "duplicate {code}");
        let challenge = err.www_authenticate();
        assert!(
            challenge.starts_with("Bearer realm=\"sqlgate\"")
                || challenge.starts_with("Basic realm=\"sqlgate\""),
            "{challenge}"
        );
        assert!(!err.detail().is_empty());
    }
    let quoted = AuthError::MalformedHeader("a \"quoted\" \\ thing\n".into()).www_authenticate();
    assert!(
        quoted.contains("error_description=\"a 'quoted' ' thing?\""),
        "{quoted}"
    );
}

#[test]
fn caller_supplied_values_are_truncated_and_defanged() {
    let long = "x".repeat(500);
    assert_eq!(untrusted(&long).chars().count(), 97);
    assert_eq!(untrusted("a\nb\u{7}"), "a?b?");
}
