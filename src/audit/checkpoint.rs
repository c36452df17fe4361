//! Signed checkpoints of the chain head: the anchor, kept apart from the log, that lets
//! [`super::verify_with`] tell a cut log from a complete one.
//!
//! Owns the checkpoint line (its fields, canonical form and Ed25519 signature), the signing key
//! (generated on first start like the dev certificates, PKCS#8 PEM, mode 0600) and its public
//! JWKS, and reading and checking checkpoint lines. The file sink's writer thread decides
//! *when* to write one ([`store`]); this module must not touch the log files.
//!
//! ## The line
//! One canonical JSON object per line of `audit.checkpoint.file` (keys sorted, no whitespace):
//!
//! ```text
//! {"file":"audit.log","hash":"<sqlgatehash of record seq>","instance":"<uuid>","kid":"<key id>",
//!  "reason":"interval","seq":4711,"sig":"<base64url Ed25519>","time":"2026-01-01T00:00:10.000Z",
//!  "type":"sqlgate.AuditCheckpoint"}
//! ```
//!
//! `sig` is the Ed25519 signature of the canonical JSON of the object without `sig`; `kid` is
//! the RFC 7638 thumbprint of the public key, which is published as a JWKS
//! (`audit.checkpoint.public_key_file`), so an auditor needs only that public file. A
//! retention checkpoint (`"reason":"retention"`) also carries
//! `"kept_from":{"file","prevhash","seq"}`: the first record the log still holds after
//! removing old files, which is where the chain may legitimately start.
//!
//! A checkpoint is written only for records that are durable (after their fsync): at startup,
//! every `audit.checkpoint.interval` and every `audit.checkpoint.every_records` records while
//! the head moves, at a retention cut, on graceful shutdown, and when the writer stops. So a
//! crash (kill -9, power loss after fsync) never leaves the log behind a checkpoint, and a log
//! that falls short of one was cut.
//!
//! ## What an attacker with write access to the audit directory can and cannot hide
//! - **Cannot** edit, delete, insert or reorder a record, or delete a whole file other than by
//!   retention, without breaking the chain at a record `verify` names; rewriting the chain
//!   from an edited record onward (recomputing every hash) contradicts the first checkpoint
//!   after the edit (`checkpoint mismatch`).
//! - **Cannot** cut records off the end alone: the newest checkpoint names a seq the log no
//!   longer reaches (`cut tail`, exit 1, naming that checkpoint's seq and time). The gateway
//!   also refuses to start on such a log.
//! - **Cannot** forge or edit a checkpoint without the signing key (`forged checkpoint`).
//! - **Can** cut the log's tail *and* the checkpoint file's tail back to an older checkpoint:
//!   the directory alone then looks like a gateway that stopped at that checkpoint. What is
//!   lost is bounded by what was written after the newest checkpoint they keep, and
//!   `verify` shows the newest checkpoint's time and whether it was a clean shutdown, which
//!   an operator can compare with when the gateway last ran. The Kafka copy of the
//!   checkpoints (`[audit.kafka]`, topic `<topic>-checkpoints`), out of their reach, makes
//!   this detectable too: `sqlgate audit verify --kafka`.
//! - **Can** delete everything (log and checkpoints); `verify` then fails with "no
//!   checkpoints", it does not pass.
//! - **Can, with the signing key**, rewrite the log and sign matching checkpoints: only the
//!   Kafka copy (or any other copy out of reach) still shows the truth. So in production the
//!   key must not live in, or be readable from, the audit directory: keep `key_file` on a
//!   separate secret mount readable only by the gateway's user (the default
//!   `certs/audit-checkpoint.key` is outside `data/audit/`), and give auditors only the
//!   public JWKS.

pub(crate) mod store;

use std::fs;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use jsonwebtoken::jwk::{JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AuditError;
use super::record::canonical_json;

/// The `type` of every checkpoint line.
pub const CHECKPOINT_TYPE: &str = "sqlgate.AuditCheckpoint";

/// The `[audit.checkpoint]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointConfig {
    /// Write signed checkpoints at all (default `true`). Without them a cut tail cannot be
    /// detected; turning them off is for throw-away setups.
    pub enabled: bool,
    /// The checkpoint file: append-only JSON lines, one signed checkpoint each (default
    /// `data/audit/checkpoints.log`). It may sit beside the log: what protects it is the
    /// signature, and the Kafka copy protects its tail.
    pub file: PathBuf,
    /// The Ed25519 signing key, PKCS#8 PEM (default `certs/audit-checkpoint.key`, outside the
    /// audit directory). Whoever can read it can sign checkpoints for a rewritten log: in
    /// production keep it on a secret mount readable only by the gateway's user.
    pub key_file: PathBuf,
    /// The public key as a JWKS, written from the key at startup (default
    /// `certs/audit-checkpoint.jwks.json`). Auditors verify with this file alone.
    pub public_key_file: PathBuf,
    /// Generate `key_file` when it is missing (default `true`, like the dev certificates). Set
    /// `false` in production so that a missing key is a startup error instead of a new key.
    pub generate_key: bool,
    /// While records are being written, a checkpoint at least this often (default 10 s):
    /// bounds how many records a cut of both the log and the checkpoint file can hide.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Also a checkpoint after this many records since the last one (default 10,000), so a
    /// burst of records is anchored before the interval ends.
    pub every_records: u64,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            file: PathBuf::from("data/audit/checkpoints.log"),
            key_file: PathBuf::from("certs/audit-checkpoint.key"),
            public_key_file: PathBuf::from("certs/audit-checkpoint.jwks.json"),
            generate_key: true,
            interval: Duration::from_secs(10),
            every_records: 10_000,
        }
    }
}

/// Why a checkpoint was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    /// The gateway started on a log that has records.
    Start,
    /// `interval` passed with new records.
    Interval,
    /// `every_records` records were written since the last checkpoint.
    Records,
    /// Old files were removed by retention (the checkpoint carries `kept_from`).
    Retention,
    /// Graceful shutdown, after the drain.
    Shutdown,
    /// The writer stopped (every handle to the sink was dropped).
    Close,
}

impl Reason {
    /// The word used in the line.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Start => "start",
            Reason::Interval => "interval",
            Reason::Records => "records",
            Reason::Retention => "retention",
            Reason::Shutdown => "shutdown",
            Reason::Close => "close",
        }
    }
}

/// Where the log legitimately starts after a retention cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptFrom {
    /// The first record still held.
    pub seq: u64,
    /// Its `sqlgateprevhash` (the hash of the last removed record).
    pub prevhash: String,
    /// The file it is the first record of.
    pub file: String,
}

/// One signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Always [`CHECKPOINT_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The head: the last durable record's `sqlgateseq`.
    pub seq: u64,
    /// Its `sqlgatehash`.
    pub hash: String,
    /// The file that holds it.
    pub file: String,
    /// When the checkpoint was written (RFC 3339, UTC, milliseconds).
    pub time: String,
    /// The gateway process that wrote it (a UUID per start).
    pub instance: String,
    /// Why.
    pub reason: Reason,
    /// On retention checkpoints: where the log now starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_from: Option<KeptFrom>,
    /// Key id (RFC 7638 thumbprint) of the signing key.
    pub kid: String,
    /// base64url Ed25519 signature of the canonical JSON without `sig`.
    #[serde(default)]
    pub sig: String,
}

/// The head of the chain a checkpoint states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) seq: u64,
    pub(crate) hash: String,
    pub(crate) file: String,
}

// === Signer ===

/// The signing half: the private key, its key id and this process's instance id.
pub(crate) struct Signer {
    key: EncodingKey,
    kid: String,
    instance: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Loads `key_file` (generating it when missing and `generate_key`), and (re)writes the
    /// public JWKS when it is missing or stale. Paths are used as given (already resolved).
    pub(crate) fn load_or_generate(cfg: &CheckpointConfig) -> Result<Self, AuditError> {
        let io = |op: &'static str, path: &Path, e: std::io::Error| AuditError::Io {
            op,
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let pem = match fs::read(&cfg.key_file) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && cfg.generate_key => {
                let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
                    .map_err(|e| AuditError::Checkpoint(format!("Ed25519 key generation: {e}")))?;
                let pem = pair.serialize_pem();
                write_new_private(&cfg.key_file, pem.as_bytes())
                    .map_err(|e| io("write checkpoint key", &cfg.key_file, e))?;
                tracing::info!(target: "sqlgate::audit", key = %cfg.key_file.display(),
                    public = %cfg.public_key_file.display(),
                    "generated the audit checkpoint signing key; give auditors the public JWKS and keep the key off the audit volume");
                pem.into_bytes()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(AuditError::Checkpoint(format!(
                    "checkpoint signing key `{}` is missing (audit.checkpoint.generate_key = false)",
                    cfg.key_file.display()
                )));
            }
            Err(e) => return Err(io("read checkpoint key", &cfg.key_file, e)),
        };
        let bad = |e: String| {
            AuditError::Checkpoint(format!(
                "`{}` is not an Ed25519 PKCS#8 PEM key: {e}",
                cfg.key_file.display()
            ))
        };
        let key = EncodingKey::from_ed_pem(&pem).map_err(|e| bad(e.to_string()))?;
        let text = std::str::from_utf8(&pem).map_err(|e| bad(e.to_string()))?;
        let mut jwk = crate::auth::dev::ed25519_public_jwk(text).map_err(bad)?;
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| AuditError::Checkpoint(format!("JWK thumbprint: {e}")))?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.key_algorithm = Some(KeyAlgorithm::EdDSA);
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let jwks = JwkSet { keys: vec![jwk] };
        let current = fs::read(&cfg.public_key_file)
            .ok()
            .and_then(|b| serde_json::from_slice::<JwkSet>(&b).ok());
        if current.as_ref() != Some(&jwks) {
            let mut json = serde_json::to_vec_pretty(&jwks)
                .map_err(|e| AuditError::Serialize(e.to_string()))?;
            json.push(b'\n');
            write_public(&cfg.public_key_file, &json)
                .map_err(|e| io("write checkpoint public key", &cfg.public_key_file, e))?;
        }
        Ok(Self {
            key,
            kid,
            instance: uuid::Uuid::new_v4().to_string(),
        })
    }

    /// The key id checkpoints carry.
    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// A signed checkpoint of `head`, and its line (canonical JSON, no `\n`).
    pub(crate) fn sign(
        &self,
        head: &Head,
        reason: Reason,
        kept_from: Option<KeptFrom>,
    ) -> Result<(Checkpoint, String), AuditError> {
        let mut cp = Checkpoint {
            kind: CHECKPOINT_TYPE.into(),
            seq: head.seq,
            hash: head.hash.clone(),
            file: head.file.clone(),
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            instance: self.instance.clone(),
            reason,
            kept_from,
            kid: self.kid.clone(),
            sig: String::new(),
        };
        let message = signed_bytes(&cp)?;
        cp.sig = jsonwebtoken::crypto::sign(message.as_bytes(), &self.key, Algorithm::EdDSA)
            .map_err(|e| AuditError::Checkpoint(format!("sign a checkpoint: {e}")))?;
        let value = serde_json::to_value(&cp).map_err(|e| AuditError::Serialize(e.to_string()))?;
        Ok((cp, canonical_json(&value)))
    }
}

/// The canonical JSON of `cp` without `sig`: what is signed.
fn signed_bytes(cp: &Checkpoint) -> Result<String, AuditError> {
    let mut value = serde_json::to_value(cp).map_err(|e| AuditError::Serialize(e.to_string()))?;
    if let Value::Object(map) = &mut value {
        map.remove("sig");
    }
    Ok(canonical_json(&value))
}

fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn write_public(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // Public material: readable by whoever runs a verifier.
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644))?;
    }
    fs::rename(&tmp, path)
}

// === CheckpointKeys ===

/// The public keys checkpoints are checked against (one or more JWKS files: more than one
/// after a key rotation).
#[derive(Clone, Default)]
pub struct CheckpointKeys {
    keys: Vec<(String, DecodingKey)>,
}

impl std::fmt::Debug for CheckpointKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<_> = self.keys.iter().map(|(k, _)| k).collect();
        f.debug_struct("CheckpointKeys")
            .field("kids", &kids)
            .finish()
    }
}

impl CheckpointKeys {
    /// Reads every Ed25519 key of the JWKS files `paths`.
    pub fn load(paths: &[PathBuf]) -> Result<Self, String> {
        let mut keys = Vec::new();
        for path in paths {
            let bytes =
                fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            let set: JwkSet = serde_json::from_slice(&bytes)
                .map_err(|e| format!("`{}` is not a JWKS: {e}", path.display()))?;
            for jwk in &set.keys {
                let kid = match &jwk.common.key_id {
                    Some(k) => k.clone(),
                    None => jwk
                        .thumbprint(ThumbprintHash::SHA256)
                        .map_err(|e| format!("`{}`: JWK thumbprint: {e}", path.display()))?,
                };
                let key = DecodingKey::from_jwk(jwk)
                    .map_err(|e| format!("`{}`: key {kid}: {e}", path.display()))?;
                keys.push((kid, key));
            }
        }
        if keys.is_empty() {
            return Err("no public keys given".into());
        }
        Ok(Self { keys })
    }

    /// Parses `line` and checks that it is a canonical checkpoint signed by one of the keys;
    /// says what is wrong otherwise (edited, forged, unknown key, malformed).
    pub fn check(&self, line: &str) -> Result<Checkpoint, String> {
        let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
        if canonical_json(&value) != line {
            return Err("not in canonical form (edited)".into());
        }
        let cp: Checkpoint =
            serde_json::from_value(value).map_err(|e| format!("not a checkpoint: {e}"))?;
        if cp.kind != CHECKPOINT_TYPE {
            return Err(format!("type is `{}`, not {CHECKPOINT_TYPE}", cp.kind));
        }
        let Some((_, key)) = self.keys.iter().find(|(kid, _)| *kid == cp.kid) else {
            return Err(format!(
                "signed with key `{}`, which is not among the public keys given",
                cp.kid
            ));
        };
        let message = signed_bytes(&cp).map_err(|e| e.to_string())?;
        let valid =
            jsonwebtoken::crypto::verify(&cp.sig, message.as_bytes(), key, Algorithm::EdDSA)
                .unwrap_or(false);
        if !valid {
            return Err("signature does not verify (forged or edited)".into());
        }
        Ok(cp)
    }
}

/// The complete lines of a checkpoint file with their 1-based line numbers. A final line
/// without `\n` (a write interrupted by a crash, which the next start cuts off) is skipped:
/// ignoring it loses nothing an attacker could not also get by deleting it. A missing file
/// yields no lines.
pub fn read_checkpoint_lines(path: &Path) -> std::io::Result<Vec<(u64, String)>> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut reader = BufReader::new(file);
    let mut out = Vec::new();
    let mut raw = Vec::new();
    let mut n = 0u64;
    loop {
        raw.clear();
        if reader.read_until(b'\n', &mut raw)? == 0 {
            break;
        }
        n += 1;
        let Some(body) = raw.strip_suffix(b"\n") else {
            break;
        };
        out.push((n, String::from_utf8_lossy(body).into_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
