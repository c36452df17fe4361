//! TLS termination settings: turns [`TlsConfig`] into a rustls `ServerConfig`.
//!
//! Owns protocol versions (TLS 1.2 and 1.3 only: rustls supports nothing older), ALPN (`h2`,
//! `http/1.1`), certificate and key loading, optional client-certificate verification, and
//! the dev-certificate bootstrap. It does not accept connections (that is `server`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};

use crate::certs::{self, DevCertOutcome, DevCertPaths};

/// The `[tls]` section.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain presented to clients (leaf first).
    pub cert_file: PathBuf,
    /// PEM private key of the leaf (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// When set, clients must present a certificate chaining to one of these CAs (mTLS).
    pub client_ca_file: Option<PathBuf>,
    /// A peer that has not finished its handshake by then is dropped, so idle or slow peers
    /// cannot hold connection slots.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// Generate a dev CA and server certificate when `cert_file`/`key_file` are missing.
    /// Meant for development; turn it off when real certificates are configured so a typo in
    /// a path fails loudly instead of silently serving a dev certificate.
    pub generate_dev_certs: bool,
    /// Where the generated dev CA certificate goes (the file clients trust).
    pub dev_ca_file: PathBuf,
    /// Where the generated dev CA key goes.
    pub dev_ca_key_file: PathBuf,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_file: "certs/server.pem".into(),
            key_file: "certs/server.key".into(),
            client_ca_file: None,
            handshake_timeout: Duration::from_secs(10),
            generate_dev_certs: true,
            dev_ca_file: "certs/dev-ca.pem".into(),
            dev_ca_key_file: "certs/dev-ca.key".into(),
        }
    }
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or held nothing usable.
    #[error("cannot load {what} from {path}: {reason}")]
    Load {
        /// "certificate chain", "private key", "client CA".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        reason: String,
    },
    /// rustls rejected the certificate/key pair or the verifier.
    #[error("invalid TLS configuration: {0}")]
    Rustls(String),
    /// Dev certificate generation failed.
    #[error(transparent)]
    DevCerts(#[from] certs::CertGenError),
}

impl TlsConfig {
    /// Resolves relative paths against `base`.
    fn path(base: &Path, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    }

    /// Generates dev certificates when enabled and missing; returns what happened.
    pub fn prepare_dev_certs(&self, base: &Path) -> Result<Option<DevCertOutcome>, TlsError> {
        if !self.generate_dev_certs {
            return Ok(None);
        }
        let paths = DevCertPaths {
            ca_cert: Self::path(base, &self.dev_ca_file),
            ca_key: Self::path(base, &self.dev_ca_key_file),
            server_cert: Self::path(base, &self.cert_file),
            server_key: Self::path(base, &self.key_file),
        };
        Ok(Some(certs::ensure_dev_certs(&paths)?))
    }

    /// Builds the rustls server configuration (TLS 1.2/1.3, ALPN h2 and http/1.1).
    pub fn build(&self, base: &Path) -> Result<Arc<ServerConfig>, TlsError> {
        let cert_path = Self::path(base, &self.cert_file);
        let key_path = Self::path(base, &self.key_file);
        let chain = load_certs(&cert_path, "certificate chain")?;
        let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| TlsError::Load {
            what: "private key",
            path: key_path.clone(),
            reason: e.to_string(),
        })?;
        let builder = ServerConfig::builder_with_protocol_versions(&[
            &rustls::version::TLS13,
            &rustls::version::TLS12,
        ]);
        let builder = match &self.client_ca_file {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let ca_path = Self::path(base, ca);
                let mut roots = RootCertStore::empty();
                for c in load_certs(&ca_path, "client CA")? {
                    roots.add(c).map_err(|e| TlsError::Rustls(e.to_string()))?;
                }
                let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
                    .build()
                    .map_err(|e| TlsError::Rustls(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut cfg = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Rustls(e.to_string()))?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

fn load_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |reason: String| TlsError::Load {
        what,
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no certificate in file".into()));
    }
    Ok(certs)
}

/// Verifies that `chain_file`'s leaf is valid for `name` under the CA in `ca_file`.
#[cfg(test)]
pub(crate) fn verify_for_test(ca_file: &Path, chain_file: &Path, name: &str) -> Result<(), String> {
    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier;
    use rustls_pki_types::{ServerName, UnixTime};
    let mut roots = RootCertStore::empty();
    for c in load_certs(ca_file, "ca").map_err(|e| e.to_string())? {
        roots.add(c).map_err(|e| e.to_string())?;
    }
    let chain = load_certs(chain_file, "chain").map_err(|e| e.to_string())?;
    let verifier = WebPkiServerVerifier::builder(Arc::new(roots))
        .build()
        .map_err(|e| e.to_string())?;
    let server_name = ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
    verifier
        .verify_server_cert(&chain[0], &chain[1..], &server_name, &[], UnixTime::now())
        .map(|_| ())
        .map_err(|e| e.to_string())
}
