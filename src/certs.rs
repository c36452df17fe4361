//! Development certificates: a private CA and a server certificate it signs.
//!
//! Owns generating `certs/dev-ca.pem` (+ its key) and `certs/server.pem` / `certs/server.key`
//! when they are missing, so the first `sqlgate serve` on a fresh checkout serves TLS that a
//! client can verify with `SSL_CERT_FILE=certs/dev-ca.pem`. It never overwrites a file that
//! exists, and it is not used at all when the operator configures real certificates.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// Subject alternative names of the generated server certificate. The IP SANs matter: Python
/// clients refuse a CN match for `127.0.0.1`.
pub const DEV_SANS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Why dev certificates could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CertGenError {
    /// Reading or writing a file failed.
    #[error("cannot write dev certificate file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// rcgen refused the parameters or the key.
    #[error("cannot generate dev certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
}

/// Where the dev CA and server certificate live.
#[derive(Debug, Clone)]
pub struct DevCertPaths {
    /// CA certificate (the file clients trust).
    pub ca_cert: PathBuf,
    /// CA private key (kept so a deleted server certificate can be re-issued by the same CA).
    pub ca_key: PathBuf,
    /// Server certificate chain (leaf then CA).
    pub server_cert: PathBuf,
    /// Server private key.
    pub server_key: PathBuf,
}

/// What [`ensure_dev_certs`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevCertOutcome {
    /// Everything was already there.
    Present,
    /// A new CA and server certificate were written.
    GeneratedCaAndServer,
    /// The existing CA issued a new server certificate.
    GeneratedServer,
}

/// Generates whatever is missing. Existing files are left untouched.
pub fn ensure_dev_certs(paths: &DevCertPaths) -> Result<DevCertOutcome, CertGenError> {
    if paths.server_cert.exists() && paths.server_key.exists() {
        return Ok(DevCertOutcome::Present);
    }
    let (issuer, ca_pem, outcome) = match (read(&paths.ca_cert), read(&paths.ca_key)) {
        (Some(cert), Some(key)) => {
            // The CA's subject is fixed by `ca_params`, and the authority key identifier
            // comes from the key, so the same key and parameters reproduce the issuer.
            let key = KeyPair::from_pem(&key)?;
            (
                Issuer::new(ca_params(), key),
                cert,
                DevCertOutcome::GeneratedServer,
            )
        }
        _ => {
            let key = KeyPair::generate()?;
            let params = ca_params();
            let cert = params.self_signed(&key)?;
            write(&paths.ca_key, &key.serialize_pem(), true)?;
            write(&paths.ca_cert, &cert.pem(), false)?;
            (
                Issuer::new(params, key),
                cert.pem(),
                DevCertOutcome::GeneratedCaAndServer,
            )
        }
    };
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(DEV_SANS.map(String::from).to_vec())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "sqlgate dev server");
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, &issuer)?;
    write(&paths.server_key, &key.serialize_pem(), true)?;
    write(
        &paths.server_cert,
        &format!("{}{}", cert.pem(), ca_pem),
        false,
    )?;
    Ok(outcome)
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "sqlgate dev CA");
    dn.push(DnType::OrganizationName, "sqlgate development");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn read(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

/// Writes a new file (never replacing one); keys get mode 0600.
fn write(path: &Path, contents: &str, secret: bool) -> Result<(), CertGenError> {
    let io = |source| CertGenError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io)?;
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(contents.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(dir: &Path) -> DevCertPaths {
        DevCertPaths {
            ca_cert: dir.join("dev-ca.pem"),
            ca_key: dir.join("dev-ca.key"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        }
    }

    #[test]
    fn generates_once_then_leaves_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        assert_eq!(
            ensure_dev_certs(&p).unwrap(),
            DevCertOutcome::GeneratedCaAndServer
        );
        let before = fs::read(&p.server_cert).unwrap();
        assert_eq!(ensure_dev_certs(&p).unwrap(), DevCertOutcome::Present);
        assert_eq!(fs::read(&p.server_cert).unwrap(), before);
    }

    #[test]
    fn missing_server_cert_is_reissued_by_the_existing_ca() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        ensure_dev_certs(&p).unwrap();
        let ca = fs::read(&p.ca_cert).unwrap();
        fs::remove_file(&p.server_cert).unwrap();
        assert_eq!(
            ensure_dev_certs(&p).unwrap(),
            DevCertOutcome::GeneratedServer
        );
        assert_eq!(fs::read(&p.ca_cert).unwrap(), ca);
    }

    #[test]
    fn server_certificate_chains_to_the_ca_and_names_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        ensure_dev_certs(&p).unwrap();
        let tls = crate::tls::TlsConfig {
            cert_file: p.server_cert.clone(),
            key_file: p.server_key.clone(),
            ..Default::default()
        };
        // The rustls server config accepts the pair, and a webpki verifier rooted at the CA
        // accepts the leaf for 127.0.0.1 and localhost.
        tls.build(dir.path()).unwrap();
        crate::tls::verify_for_test(&p.ca_cert, &p.server_cert, "127.0.0.1").unwrap();
        crate::tls::verify_for_test(&p.ca_cert, &p.server_cert, "localhost").unwrap();
        assert!(crate::tls::verify_for_test(&p.ca_cert, &p.server_cert, "example.com").is_err());
    }
}
