//! Clients that come from a chosen loopback address, and tokens signed with the dev issuer's
//! key but claims of the test's choosing (expired ones, say).
#![allow(dead_code)]

use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;

use super::TestGateway;

/// An HTTPS client trusting the gateway's dev CA whose connections come from `local`
/// (any 127.0.0.0/8 address on Linux), so the gateway sees a different peer.
pub fn client_from(gw: &TestGateway, local: IpAddr) -> reqwest::Client {
    let pem = std::fs::read(gw.ca_file()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .local_address(local)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A token signed by the dev issuer's key (so its signature verifies) with exactly `claims`.
pub fn dev_signed(gw: &TestGateway, claims: &Value) -> String {
    let dev = gw.config.auth.dev_issuer.as_ref().unwrap();
    let pem = std::fs::read(gw.dir.path().join(&dev.key_file)).unwrap();
    let jwks: Value =
        serde_json::from_slice(&std::fs::read(gw.dir.path().join(&dev.jwks_file)).unwrap())
            .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = jwks["keys"][0]["kid"].as_str().map(str::to_string);
    let key = jsonwebtoken::EncodingKey::from_ed_pem(&pem).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// `VmRSS` of this process (the gateway under test runs in it), in KiB.
pub fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

/// `VmHWM` (peak RSS) of this process, in KiB.
pub fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}
