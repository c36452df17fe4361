//! The `auth_headers` target: request headers through credential extraction and the reading
//! of a bearer token before any key is used (`auth::read_unverified`), and the mapping of
//! claims to a principal that follows a verified signature.

use std::sync::OnceLock;

use base64::Engine as _;
use hyper::HeaderMap;
use hyper::header::{AUTHORIZATION, HeaderName, HeaderValue};

use super::assert_clean_refusal;
use crate::auth::{
    Attempt, AuthConfig, AuthError, IDENTITY_POOL_HEADER, Unverified, principal_from_claims,
    read_unverified,
};
use crate::error::ApiError;

/// A JOSE header the gateway accepts the shape of (`ES256` with a `kid`), for payloads given
/// on their own.
const ES256_HEADER: &str = r#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#;

/// The built-in configuration's `[auth]` section (the dev issuer and identity pools).
fn auth_config() -> &'static AuthConfig {
    static CONFIG: OnceLock<AuthConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        crate::config::Config::default_config()
            .expect("the built-in configuration parses")
            .auth
    })
}

/// `data` three ways: as header lines (`name: value`, one a line; a line that is not a valid
/// header is left out), as both the JOSE header and the payload of a bearer token, as the
/// payload under a well-formed header, and as a `Basic` credential.
pub fn auth_headers(data: &[u8]) {
    inspect(&header_lines(data));
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let segment = b64(data);
    for token in [
        format!("{segment}.{segment}.c2ln"),
        format!("{}.{segment}.c2ln", b64(ES256_HEADER.as_bytes())),
    ] {
        for pool in [None, Some("pool-dev"), Some("pool-nope")] {
            inspect(&bearer(&token, pool));
        }
    }
    let basic = base64::engine::general_purpose::STANDARD.encode(data);
    if let Ok(v) = HeaderValue::from_str(&format!("Basic {basic}")) {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, v);
        inspect(&headers);
    }
}

fn header_lines(data: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    headers
}

fn bearer(token: &str, pool: Option<&'static str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
        headers.insert(AUTHORIZATION, v);
    }
    if let Some(p) = pool {
        headers.insert(IDENTITY_POOL_HEADER, HeaderValue::from_static(p));
    }
    headers
}

fn inspect(headers: &HeaderMap) {
    let mut attempt = Attempt::default();
    let read = read_unverified(headers, &mut attempt);
    assert_attempt_is_safe(&attempt);
    match read {
        Err(e) => assert_clean_auth_refusal(e),
        Ok(Unverified::Basic { key }) => assert!(!key.is_empty()),
        Ok(Unverified::Bearer { pool, claims }) => {
            let cfg = auth_config();
            for issuer in &cfg.issuers {
                let asked = pool
                    .as_deref()
                    .and_then(|p| cfg.identity_pools.iter().find(|c| c.id == p));
                for pool_cfg in [None, asked] {
                    match principal_from_claims(&claims, issuer, pool_cfg) {
                        Ok(p) => {
                            let expected = pool_cfg.map(|c| format!("User:{}", c.id));
                            assert!(p.id.starts_with("User:"), "principal {:?}", p.id);
                            if let Some(expected) = expected {
                                assert_eq!(p.id, expected, "a pool's principal is the pool");
                            }
                        }
                        Err(e) => assert_clean_auth_refusal(e),
                    }
                }
            }
        }
    }
}

/// What a failed authentication records of the token is text the caller chose: at most 96
/// characters (and an ellipsis), no control characters.
fn assert_attempt_is_safe(attempt: &Attempt) {
    for v in [&attempt.issuer, &attempt.kid].into_iter().flatten() {
        assert!(
            v.chars().count() <= 97 && !v.chars().any(char::is_control),
            "unsafe text in the audit's attempt: {v:?}"
        );
    }
}

/// A 401 whose `WWW-Authenticate` challenge is a valid header value, whatever the token said.
fn assert_clean_auth_refusal(e: AuthError) {
    let challenge = e.www_authenticate();
    assert!(
        HeaderValue::from_str(&challenge).is_ok(),
        "WWW-Authenticate is not a valid header value: {challenge:?}"
    );
    assert_clean_refusal(ApiError::from(e), &challenge);
}
