//! Test helpers: signing keys of each supported type, token minting with arbitrary headers and
//! claims, and a tiny JWKS HTTP server that counts its requests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use jsonwebtoken::jwk::{Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

pub(crate) const ISS: &str = "https://idp.test";
pub(crate) const AUD: &str = "sqlgate";

/// A private key with its kid and algorithm.
#[derive(Clone)]
pub(crate) struct TestKey {
    pub(crate) kid: String,
    pub(crate) alg: Algorithm,
    pem: String,
}

/// RSA generation is slow, so the two RSA keys tests need are generated once.
fn rsa_pem(slot: usize) -> String {
    static KEYS: OnceLock<[String; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let gen_one = || {
            rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
                .unwrap()
                .serialize_pem()
        };
        [gen_one(), gen_one()]
    })[slot]
        .clone()
}

impl TestKey {
    pub(crate) fn rsa(kid: &str) -> Self {
        Self::from_pem(kid, Algorithm::RS256, rsa_pem(0))
    }
    pub(crate) fn ec(kid: &str) -> Self {
        let pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .unwrap()
            .serialize_pem();
        Self::from_pem(kid, Algorithm::ES256, pem)
    }
    pub(crate) fn ed(kid: &str) -> Self {
        let pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
            .unwrap()
            .serialize_pem();
        Self::from_pem(kid, Algorithm::EdDSA, pem)
    }
    fn from_pem(kid: &str, alg: Algorithm, pem: String) -> Self {
        Self {
            kid: kid.to_owned(),
            alg,
            pem,
        }
    }
    /// A new key of the same type under the same kid.
    pub(crate) fn impostor(&self) -> Self {
        match self.alg {
            Algorithm::RS256 => {
                let other = if self.pem == rsa_pem(0) { 1 } else { 0 };
                Self::from_pem(&self.kid, self.alg, rsa_pem(other))
            }
            Algorithm::ES256 => Self::ec(&self.kid),
            _ => Self::ed(&self.kid),
        }
    }

    pub(crate) fn encoding_key(&self) -> EncodingKey {
        match self.alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(self.pem.as_bytes()).unwrap(),
            Algorithm::ES256 => EncodingKey::from_ec_pem(self.pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_ed_pem(self.pem.as_bytes()).unwrap(),
        }
    }

    /// The public JWK, with `kid` and `alg`.
    pub(crate) fn jwk(&self) -> Jwk {
        let mut jwk = match self.alg {
            Algorithm::EdDSA => crate::auth::dev::ed25519_public_jwk(&self.pem).unwrap(),
            _ => Jwk::from_encoding_key(&self.encoding_key(), self.alg).unwrap(),
        };
        jwk.common.key_id = Some(self.kid.clone());
        jwk.common.key_algorithm = Some(KeyAlgorithm::from(self.alg));
        jwk
    }

    /// Signs `claims` with this key's algorithm and kid.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        self.sign_with(header, claims)
    }

    pub(crate) fn sign_with(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.encoding_key()).unwrap()
    }

    /// Signs a claim set given as members in order, so that a name may appear twice (a
    /// `serde_json::Value` cannot hold that).
    pub(crate) fn sign_members(&self, members: &[(&str, Value)]) -> String {
        struct Members<'a>(&'a [(&'a str, Value)]);
        impl serde::Serialize for Members<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap as _;
                let mut map = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &Members(members), &self.encoding_key()).unwrap()
    }
}

/// A JWKS document for `keys`.
pub(crate) fn jwks(keys: &[&TestKey]) -> String {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() }).to_string()
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims that pass validation for [`ISS`]/[`AUD`], valid for an hour.
pub(crate) fn claims(sub: &str, groups: &[&str]) -> Value {
    json!({
        "iss": ISS, "aud": AUD, "sub": sub, "groups": groups,
        "iat": now(), "exp": now() + 3600,
    })
}

/// An HTTP server on 127.0.0.1:0 answering every request with the current JWKS body.
pub(crate) struct JwksServer {
    pub(crate) url: String,
    pub(crate) body: Arc<Mutex<String>>,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    pub(crate) async fn start(body: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let body = Arc::new(Mutex::new(body));
        let hits = Arc::new(AtomicUsize::new(0));
        let (b, h) = (body.clone(), hits.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let (b, h) = (b.clone(), h.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    h.fetch_add(1, Ordering::SeqCst);
                    let body = b.lock().unwrap().clone();
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self {
            url,
            body,
            hits,
            task,
        }
    }

    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub(crate) fn set(&self, body: String) {
        *self.body.lock().unwrap() = body;
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
