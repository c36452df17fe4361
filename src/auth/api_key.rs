//! API keys: `Authorization: Basic base64(key:secret)`.
//!
//! Owns the key file (by default `policies/api-keys.toml`), creating keys, and verifying them.
//! The file holds, per key, its id, principal, an argon2id PHC hash of the secret, the creation
//! time and an optional description; it is meant to be reviewed like any policy file:
//!
//! ```toml
//! [[keys]]
//! id = "Q7K2M4ZP0R8TX1CV"
//! principal = "User:sa-ci"
//! hash = "$argon2id$v=19$m=19456,t=2,p=1$...$..."
//! created_at = 2025-06-01T12:00:00Z
//! description = "CI pipeline"
//! ```
//!
//! Secrets are never stored or logged. Verification is argon2id with a constant-time
//! comparison, on the bounded pool of `verify_pool` (so a flood of wrong secrets costs a fixed
//! amount of memory and answers 503 `auth.busy` beyond its queue); an unknown key id is
//! verified against a dummy hash of the same cost, through the same pool, so that it costs as
//! much as a wrong secret. The file is re-read when its modification time, size or inode
//! changes. Successful verifications are cached for [`CACHE_TTL`], keyed by SHA-256 of
//! `key:secret`, so steady traffic does not pay argon2 on every request; a file change clears
//! that cache. Failures are counted per peer and per key id by `throttle`, which refuses
//! further attempts (429 `auth.too_many_failures`) before they reach argon2; a cached valid
//! pair is answered before the throttle is asked.
//!
//! Hash cost: argon2id with m = 19 MiB, t = 2, p = 1 (the OWASP baseline, argon2's defaults),
//! about 20-60 ms per verification on one core in release builds. Unit tests of this crate
//! use m = 64 KiB, t = 1 so they run quickly; the parameters are stored in each PHC string, so
//! verification always uses the cost a key was created with.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::throttle::{FailureThrottle, ThrottleConfig};
use super::verify_pool::{MAX_M_KIB, VerifyPool};
use super::{Attempt, AuthError, AuthSetupError, Mechanism, Principal};

/// How long a successful verification is remembered. Short, so a key removed from the file is
/// refused promptly even if the file change were missed.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// Length of a key id (upper-case letters and digits, like Confluent's).
pub const KEY_ID_LEN: usize = 16;
/// Length of a secret (letters and digits, about 380 bits).
pub const SECRET_LEN: usize = 64;

const KEY_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Argon2id cost `(m KiB, t, p)`; see the module documentation.
#[cfg(not(test))]
const HASH_COST: (u32, u32, u32) = (19 * 1024, 2, 1);
#[cfg(test)]
const HASH_COST: (u32, u32, u32) = (64, 1, 1);

/// One entry of the key file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyRecord {
    /// The public key id (the `key` of `key:secret`).
    pub id: String,
    /// Who the key authenticates as, e.g. `User:sa-ci`.
    pub principal: String,
    /// argon2id PHC string of the secret.
    pub hash: String,
    /// When the key was created (a TOML datetime).
    pub created_at: toml::value::Datetime,
    /// Free text for reviewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ApiKeysFile {
    #[serde(default)]
    keys: Vec<ApiKeyRecord>,
}

fn argon2() -> Argon2<'static> {
    let (m, t, p) = HASH_COST;
    let params = Params::new(m, t, p, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a secret with a fresh random salt into a PHC string.
pub fn hash_secret(secret: &str) -> Result<String, AuthSetupError> {
    let salt: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Internal(e.to_string()))?;
    argon2()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthSetupError::Internal(format!("argon2: {e}")))
}

fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// The grammar role bindings use too (`auth::principal_id`), so every key can be bound.
fn check_principal(principal: &str) -> Result<(), AuthSetupError> {
    super::principal_id::check(principal)
        .map_err(|e| AuthSetupError::InvalidArgument(e.to_string()))
}

/// Creates an API key for `principal` (`User:<name>`) and appends its hash to `file`.
///
/// Returns `(key id, secret)`; the secret is not stored anywhere and cannot be shown again.
/// The file (and its directory) is created if missing; an existing file must parse, and its
/// comments and layout are kept (the new entry is appended). The write is atomic: a temporary
/// file in the same directory is written, fsynced and renamed over the original. Two concurrent
/// invocations may lose one entry; run them one at a time.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let file = dir.path().join("policies/api-keys.toml");
/// let (key, secret) = sqlgate::auth::create_api_key(&file, "User:sa-ci", Some("CI")).unwrap();
/// assert_eq!((key.len(), secret.len()), (16, 64));
/// assert!(!std::fs::read_to_string(&file).unwrap().contains(&secret));
/// ```
pub fn create_api_key(
    file: &Path,
    principal: &str,
    description: Option<&str>,
) -> Result<(String, String), AuthSetupError> {
    check_principal(principal)?;
    if let Some(d) = description
        && (d.len() > 256 || d.chars().any(|c| c.is_control()))
    {
        return Err(AuthSetupError::InvalidArgument(
            "the description must be one line of at most 256 bytes".into(),
        ));
    }
    let existing = match fs::read_to_string(file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(AuthSetupError::io(file, e)),
    };
    let parsed: ApiKeysFile = match &existing {
        Some(text) => toml::from_str(text).map_err(|e| {
            AuthSetupError::invalid_file(
                file,
                format!("not a valid API-key file, left unchanged: {e}"),
            )
        })?,
        None => ApiKeysFile::default(),
    };
    let id = loop {
        let id = random_string(KEY_ID_LEN, KEY_ID_ALPHABET);
        if !parsed.keys.iter().any(|k| k.id == id) {
            break id;
        }
    };
    let secret = random_string(
        SECRET_LEN,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    );
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let record = ApiKeyRecord {
        id: id.clone(),
        principal: principal.to_owned(),
        hash: hash_secret(&secret)?,
        created_at: now
            .parse()
            .map_err(|e| AuthError::Internal(format!("timestamp: {e}")))?,
        description: description.map(str::to_owned),
    };
    let entry = toml::to_string(&ApiKeysFile { keys: vec![record] })
        .map_err(|e| AuthError::Internal(format!("serializing the key entry: {e}")))?;
    let mut text = existing.unwrap_or_else(|| {
        "# sqlgate API keys: one [[keys]] entry per key. Secrets are stored only as argon2id\n\
         # hashes. Create keys with `sqlgate api-key create`; delete an entry to revoke a key.\n"
            .to_owned()
    });
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&entry);
    write_atomically(file, text.as_bytes())?;
    Ok((id, secret))
}

/// Writes `bytes` to `path` through a fsynced temporary file and a rename, keeping the old
/// file's permissions (0600 for a new file).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), AuthSetupError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(|e| AuthSetupError::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.tmp",
        random_string(8, b"abcdefghijklmnopqrstuvwxyz0123456789")
    ));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        if let Ok(meta) = fs::metadata(path) {
            f.set_permissions(meta.permissions())?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        // Make the rename itself durable; not every platform can fsync a directory.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        AuthSetupError::io(path, e)
    })
}

// === ApiKeyStore ===

/// Identifies one version of the key file; any change (including an atomic replace that keeps
/// the mtime, which changes the inode) triggers a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    ino: u64,
}

impl FileStamp {
    fn of(meta: &fs::Metadata) -> Self {
        Self {
            modified: meta.modified().ok(),
            len: meta.len(),
            #[cfg(unix)]
            ino: std::os::unix::fs::MetadataExt::ino(meta),
        }
    }
}

struct Loaded {
    /// `None`: the file did not exist at the last check.
    stamp: Option<FileStamp>,
    keys: Arc<HashMap<String, ApiKeyRecord>>,
}

/// The API keys of a running gateway.
pub(crate) struct ApiKeyStore {
    path: PathBuf,
    loaded: Mutex<Loaded>,
    /// SHA-256(`key:secret`) → principal, for successful verifications only.
    cache: moka::future::Cache<[u8; 32], Arc<Principal>>,
    /// A hash of a random secret, verified against when the key id is unknown. Made once,
    /// by the first request that needs it (the others wait for it, not make their own).
    dummy_hash: tokio::sync::OnceCell<String>,
    /// Where secrets are checked.
    pool: VerifyPool,
    /// Failure counters per peer and key id.
    throttle: FailureThrottle,
}

impl fmt::Debug for ApiKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.loaded.lock().map(|l| l.keys.len()).unwrap_or(0);
        f.debug_struct("ApiKeyStore")
            .field("path", &self.path)
            .field("keys", &keys)
            .field("pool", &self.pool)
            .field("throttle", &self.throttle)
            .finish()
    }
}

impl ApiKeyStore {
    /// Opens the store and starts its verification pool of `slots` threads (`0`: one per
    /// core) with `queue` places; a file that exists must parse (fail fast at startup).
    pub(crate) fn open(
        path: PathBuf,
        slots: usize,
        queue: usize,
        throttle: &ThrottleConfig,
    ) -> Result<Self, AuthSetupError> {
        let slots = match slots {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let (stamp, keys) = match fs::metadata(&path) {
            Ok(meta) => (Some(FileStamp::of(&meta)), read_keys(&path)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, HashMap::new()),
            Err(e) => return Err(AuthSetupError::io(&path, e)),
        };
        Ok(Self {
            path,
            loaded: Mutex::new(Loaded {
                stamp,
                keys: Arc::new(keys),
            }),
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
            dummy_hash: tokio::sync::OnceCell::new(),
            pool: VerifyPool::start(slots, queue)?,
            throttle: FailureThrottle::new(throttle),
        })
    }

    /// The current keys, re-reading the file if it changed. A file that no longer parses is
    /// logged and the previous keys stay in force, so a bad edit does not lock every client
    /// out; deleting the file removes all keys.
    fn current(&self) -> Arc<HashMap<String, ApiKeyRecord>> {
        let stamp = match fs::metadata(&self.path) {
            Ok(meta) => Some(FileStamp::of(&meta)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot stat the API-key file; keeping the loaded keys");
                return self.lock().keys.clone();
            }
        };
        let mut loaded = self.lock();
        if loaded.stamp == stamp {
            return loaded.keys.clone();
        }
        let keys = match stamp {
            None => Ok(HashMap::new()),
            Some(_) => read_keys(&self.path),
        };
        match keys {
            Ok(keys) => {
                tracing::info!(path = %self.path.display(), keys = keys.len(), "API-key file reloaded");
                loaded.keys = Arc::new(keys);
                self.cache.invalidate_all();
            }
            Err(e) => {
                tracing::error!(error = %e, "API-key file changed but is invalid; keeping the previous keys");
            }
        }
        // Also on error: do not re-parse a broken file on every request, only after it changes.
        loaded.stamp = stamp;
        loaded.keys.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Verifies `key:secret` from `peer` (`None`: not throttled per peer). Fills
    /// `attempt.key_id` when `key` looks like a key id.
    pub(crate) async fn verify(
        &self,
        key: &str,
        secret: &str,
        peer: Option<IpAddr>,
        attempt: &mut Attempt,
    ) -> Result<Principal, AuthError> {
        let keys = self.current();
        let fingerprint: [u8; 32] = Sha256::new()
            .chain_update(key.as_bytes())
            .chain_update(b":")
            .chain_update(secret.as_bytes())
            .finalize()
            .into();
        if let Some(p) = self.cache.get(&fingerprint).await {
            return Ok((*p).clone());
        }
        if looks_like_key_id(key) {
            attempt.key_id = Some(key.to_owned());
        }
        self.throttle.check(peer, key, Instant::now())?;
        let record = keys.get(key).cloned();
        let hash = match &record {
            Some(r) => r.hash.clone(),
            None => self.dummy_hash().await?,
        };
        let ok = self.pool.verify(hash, secret).await?;
        let record = match (ok, record) {
            (true, Some(r)) => r,
            _ => {
                self.throttle.record_failure(peer, key, Instant::now());
                return Err(AuthError::InvalidApiKey);
            }
        };
        let principal = Principal {
            id: record.principal,
            mechanism: Mechanism::ApiKey,
            identity: Some(record.id),
            issuer: None,
            pool: None,
            groups: Vec::new(),
            claims: Default::default(),
        };
        self.cache
            .insert(fingerprint, Arc::new(principal.clone()))
            .await;
        Ok(principal)
    }

    #[cfg(test)]
    pub(crate) fn clear_cache(&self) {
        self.cache.invalidate_all();
    }

    /// How many secrets have been checked with argon2 since startup.
    #[cfg(test)]
    pub(crate) fn verifications(&self) -> u64 {
        self.pool.verifications()
    }

    /// Whether the dummy hash (for unknown key ids) has the parameters new keys get.
    #[cfg(test)]
    pub(crate) async fn dummy_has_the_cost_of_new_keys(&self) -> bool {
        let dummy = self.dummy_hash().await.unwrap();
        let fresh = hash_secret("x").unwrap();
        let params = |h: &str| PasswordHash::new(h).unwrap().params.to_string();
        params(&dummy) == params(&fresh)
            && params(&fresh) == format!("m={},t={},p={}", HASH_COST.0, HASH_COST.1, HASH_COST.2)
    }

    async fn dummy_hash(&self) -> Result<String, AuthError> {
        self.dummy_hash
            .get_or_try_init(|| async {
                tokio::task::spawn_blocking(|| {
                    hash_secret(&random_string(SECRET_LEN, KEY_ID_ALPHABET))
                })
                .await
                .map_err(|e| AuthError::Internal(format!("argon2 task: {e}")))?
                .map_err(|e| AuthError::Internal(e.to_string()))
            })
            .await
            .cloned()
    }
}

/// Whether `key` has the shape of the key ids [`create_api_key`] makes (so it may be recorded;
/// a secret never has this shape, being longer).
fn looks_like_key_id(key: &str) -> bool {
    key.len() == KEY_ID_LEN && key.bytes().all(|b| KEY_ID_ALPHABET.contains(&b))
}

/// Reads and checks the key file. Entries with an unusable principal or hash are skipped with a
/// warning (they could never authenticate); duplicate ids are an error, since which one wins
/// would be arbitrary.
fn read_keys(path: &Path) -> Result<HashMap<String, ApiKeyRecord>, AuthSetupError> {
    let text = fs::read_to_string(path).map_err(|e| AuthSetupError::io(path, e))?;
    let file: ApiKeysFile =
        toml::from_str(&text).map_err(|e| AuthSetupError::invalid_file(path, e))?;
    let mut keys = HashMap::new();
    for (i, k) in file.keys.into_iter().enumerate() {
        if let Err(e) = check_principal(&k.principal) {
            tracing::warn!(path = %path.display(), entry = i, key = %k.id, error = %e, "API key skipped");
            continue;
        }
        match PasswordHash::new(&k.hash) {
            Ok(h)
                if h.algorithm.as_str() == "argon2id"
                    && Params::try_from(&h).is_ok_and(|p| p.m_cost() <= MAX_M_KIB) => {}
            _ => {
                tracing::warn!(path = %path.display(), entry = i, key = %k.id, "API key skipped: `hash` is not an argon2id PHC string with m at most 256 MiB");
                continue;
            }
        }
        if keys.contains_key(&k.id) {
            return Err(AuthSetupError::invalid_file(
                path,
                format!("key id `{}` appears twice", k.id),
            ));
        }
        keys.insert(k.id.clone(), k);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier as _;

    #[test]
    fn created_keys_look_like_confluent_keys_and_only_the_hash_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policies/api-keys.toml");
        let (id, secret) = create_api_key(&file, "User:sa-ci", Some("CI \"main\"")).unwrap();
        assert_eq!(id.len(), KEY_ID_LEN);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert_eq!(secret.len(), SECRET_LEN);
        let text = fs::read_to_string(&file).unwrap();
        assert!(!text.contains(&secret));
        assert!(text.starts_with("# sqlgate API keys"));
        let keys = read_keys(&file).unwrap();
        let rec = &keys[&id];
        assert_eq!(rec.principal, "User:sa-ci");
        assert_eq!(rec.description.as_deref(), Some("CI \"main\""));
        assert!(rec.hash.starts_with("$argon2id$v=19$"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn appending_keeps_comments_and_existing_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("api-keys.toml");
        fs::write(&file, "# reviewed by ops\n").unwrap();
        let (a, _) = create_api_key(&file, "User:a", None).unwrap();
        let (b, _) = create_api_key(&file, "User:b", None).unwrap();
        let text = fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("# reviewed by ops\n"));
        let keys = read_keys(&file).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[&a].principal, "User:a");
        assert_eq!(keys[&b].principal, "User:b");
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_broken_file_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("api-keys.toml");
        fs::write(&file, "[[keys]\n").unwrap();
        let err = create_api_key(&file, "User:a", None).unwrap_err();
        assert!(matches!(err, AuthSetupError::InvalidFile { .. }), "{err}");
        assert_eq!(fs::read_to_string(&file).unwrap(), "[[keys]\n");
    }

    #[test]
    fn principals_must_be_users() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k.toml");
        for bad in [
            "sa-ci", "User:", "User:a b", "Group:x", "User:a,b", "User:*",
        ] {
            assert!(matches!(
                create_api_key(&file, bad, None),
                Err(AuthSetupError::InvalidArgument(_))
            ));
        }
        assert!(!file.exists());
    }

    #[test]
    fn hashes_verify_only_the_right_secret() {
        let h = hash_secret("s3cret").unwrap();
        let parsed = PasswordHash::new(&h).unwrap();
        assert!(argon2().verify_password(b"s3cret", &parsed).is_ok());
        assert!(argon2().verify_password(b"s3creT", &parsed).is_err());
        assert_ne!(h, hash_secret("s3cret").unwrap(), "salted");
    }

    #[test]
    fn unusable_entries_are_skipped_and_duplicates_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k.toml");
        let good = hash_secret("x").unwrap();
        fs::write(
            &file,
            format!(
                "[[keys]]\nid='A'\nprincipal='User:a'\nhash='plain'\ncreated_at=2025-01-01T00:00:00Z\n\
                 [[keys]]\nid='B'\nprincipal='b'\nhash='{good}'\ncreated_at=2025-01-01T00:00:00Z\n\
                 [[keys]]\nid='C'\nprincipal='User:c'\nhash='{good}'\ncreated_at=2025-01-01T00:00:00Z\n"
            ),
        )
        .unwrap();
        let keys = read_keys(&file).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["C"]);
        let mut text = fs::read_to_string(&file).unwrap();
        text.push_str(&format!(
            "[[keys]]\nid='C'\nprincipal='User:d'\nhash='{good}'\ncreated_at=2025-01-01T00:00:00Z\n"
        ));
        fs::write(&file, text).unwrap();
        assert!(read_keys(&file).unwrap_err().to_string().contains("twice"));
    }
}
