//! What authentication reads from request headers before any key or secret is used: the
//! identity-pool header, the credential and, for a bearer token, its JOSE header and claims as
//! the token states them. [`Authenticator::authenticate`](super::Authenticator::authenticate)
//! runs the same functions; this entry point exists so the fuzz harness ([`crate::fuzzing`])
//! can drive them with arbitrary headers without keys, files or a network. It verifies nothing
//! and must not be used to admit anyone.

use hyper::HeaderMap;
use serde_json::{Map, Value};

use super::config::{IdentityPoolConfig, IssuerConfig};
use super::{Attempt, AuthError, Credentials, Principal, credentials, identity_pool_header, jwt};

/// The credential as read, unverified.
#[derive(Debug)]
pub(crate) enum Unverified {
    /// A bearer token.
    Bearer {
        /// The identity pool the request names.
        pool: Option<String>,
        /// The claims as the token states them (no duplicated member anywhere).
        claims: Map<String, Value>,
    },
    /// An API key id and secret (the secret is not kept).
    Basic {
        /// The key id as sent.
        key: String,
    },
}

/// Reads `headers` as authentication does up to the first use of a key (see the module
/// doc); `attempt` gets what a failed authentication would record of the token's claims.
pub(crate) fn read_unverified(
    headers: &HeaderMap,
    attempt: &mut Attempt,
) -> Result<Unverified, AuthError> {
    let pool = identity_pool_header(headers)?;
    match credentials(headers)? {
        Credentials::Bearer(token) => {
            jwt::check_length(&token.0)?;
            let (_, claims) = jwt::read_unverified(&token.0, attempt)?;
            Ok(Unverified::Bearer { pool, claims })
        }
        Credentials::Basic { key, .. } => Ok(Unverified::Basic { key }),
    }
}

/// The principal `claims` would give once their signature verified with `issuer`'s key,
/// through `pool` when the request names one.
pub(crate) fn principal_from_claims(
    claims: &Map<String, Value>,
    issuer: &IssuerConfig,
    pool: Option<&IdentityPoolConfig>,
) -> Result<Principal, AuthError> {
    jwt::principal(claims, issuer, pool)
}
