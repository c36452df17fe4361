//! What a failed credential said about who presented it, for the audit ("who tried").
//!
//! Owns only the shape and the rules for filling it; the verifiers fill it as far as they get.
//! It never holds a token, a secret, or anything of a credential that was not meant to be
//! shown: values come from the token's header and claims (made safe with
//! [`untrusted`](super::untrusted)), from configuration, or from an API key id.

/// What the credential of a request claimed or proved, as far as verification got.
///
/// * A bearer token whose signature verified with a configured issuer's key, refused later
///   (expired, wrong audience, not yet valid, missing or invalid claim, identity pool filter
///   not satisfied, a pool that does not exist or trusts another issuer): `verified` is
///   `true` and `issuer` (the configured `iss`), `identity` (the issuer's identity claim,
///   when it is a string or number) and `pool` (the identity pool asked for, as sent) say who
///   tried. An expired token counts: its signature proves the issuer
///   issued it to that identity, whoever presents it now.
/// * A token that could not be verified (bad signature, unknown issuer or `kid`, unusable
///   algorithm, duplicated claim, malformed): `verified` is `false` and only the `issuer` and
///   `kid` it claims are kept, as text the caller chose.
/// * An API key: `key_id` is the presented key id when it has the shape of one (so a secret
///   pasted into the key field is never recorded); it is never verified on a failure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attempt {
    /// The token's signature verified with the key of a configured issuer.
    pub verified: bool,
    /// `iss`: the configured issuer's value when verified, else as the token claims it.
    pub issuer: Option<String>,
    /// The issuer's identity claim (e.g. `sub`); only when verified.
    pub identity: Option<String>,
    /// The identity pool the request asked for; only when verified.
    pub pool: Option<String>,
    /// The `kid` the token's header names; only when not verified.
    pub kid: Option<String>,
    /// The API key id presented, when it looks like one.
    pub key_id: Option<String>,
}

impl Attempt {
    /// Whether there is anything to record beyond the mechanism.
    ///
    /// ```
    /// use sqlgate::auth::Attempt;
    /// assert!(Attempt::default().is_empty());
    /// assert!(!Attempt { kid: Some("k1".into()), ..Attempt::default() }.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        !self.verified
            && self.issuer.is_none()
            && self.identity.is_none()
            && self.pool.is_none()
            && self.kid.is_none()
            && self.key_id.is_none()
    }
}
