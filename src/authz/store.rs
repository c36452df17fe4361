//! Where the policy texts are kept, behind one trait: [`PolicyStore`] takes looks at the
//! three texts (what a reload reads, and compares to tell whether a writer is still at work:
//! `settle.rs`) and replaces the role bindings atomically (the iam/v2 API's writes).
//!
//! Owns the file implementation, [`FilePolicyStore`]: the policy directory with `model.conf`,
//! `roles.csv` and `bindings.csv`. A look reads each file with its length, times and inode
//! before and after (a file written in place shows as torn or changed); a bindings write goes
//! to a temp file in the same directory, is fsynced, renamed over `bindings.csv`, and the
//! directory is fsynced, so readers and a crash see the old or the new file whole. It decides
//! nothing about the texts (validation is `policy.rs`, settling `settle.rs`).
//!
//! Still file-specific outside this trait: the watcher (`watch.rs`, which asks the file system
//! for change events and polls file metadata) and [`super::Authorizer::dir`].

use std::fmt;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::data_policy::DATA_POLICIES_FILE;
use super::policy::{BINDINGS_FILE, POLICY_FILES, PolicyTexts};
use super::{BindingError, PolicyError};

/// Largest policy file read: far above any real policy (a binding is ~150 bytes), low enough
/// that a mistaken write of something else cannot exhaust memory.
pub(super) const MAX_FILE_BYTES: u64 = 64 << 20;

/// Where the policy texts are kept.
#[async_trait]
pub trait PolicyStore: fmt::Debug + Send + Sync {
    /// Where, for messages (the policy directory).
    fn location(&self) -> &Path;

    /// One look at the three texts as they are now.
    async fn look(&self) -> Look;

    /// The bindings text as stored now (empty when there is none), without waiting for it to
    /// settle.
    async fn read_bindings(&self) -> Result<String, BindingError>;

    /// Replaces the bindings text so that readers (and a crash) see the old or the new text,
    /// never a part.
    async fn write_bindings(&self, text: &str) -> Result<(), BindingError>;

    /// The three texts as they are now, or why they cannot be used.
    async fn read(&self) -> Result<PolicyTexts, PolicyError> {
        self.look().await.texts()
    }
}

/// One look at the three texts, in [`POLICY_FILES`] order. Two looks are equal when nothing
/// changed in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Look {
    location: PathBuf,
    pub(super) files: Vec<FileLook>,
}

impl Look {
    /// Whether a text changed while it was being read.
    pub(super) fn is_torn(&self) -> bool {
        self.files.iter().any(|l| matches!(l, FileLook::Torn))
    }

    /// The texts of the look, or why they cannot be used (naming the file).
    pub(super) fn texts(self) -> Result<PolicyTexts, PolicyError> {
        let mut texts = Vec::with_capacity(POLICY_FILES.len());
        for (file, look) in POLICY_FILES.iter().zip(self.files) {
            let path = self.location.join(file);
            let refuse =
                |why: String| PolicyError(format!("cannot read {}: {why}", path.display()));
            match look {
                FileLook::Missing if *file == DATA_POLICIES_FILE => texts.push(String::new()),
                FileLook::Missing => return Err(refuse("no such file".into())),
                FileLook::Unreadable(e) => return Err(refuse(e)),
                FileLook::Torn => return Err(refuse("it changed while being read".into())),
                FileLook::Read { bytes, .. } => match String::from_utf8(bytes) {
                    Ok(t) => texts.push(t),
                    Err(e) => {
                        return Err(PolicyError(format!(
                            "{file}: not UTF-8 text (invalid byte at offset {})",
                            e.utf8_error().valid_up_to()
                        )));
                    }
                },
            }
        }
        let [model, roles, bindings, data_policies]: [String; 4] = texts
            .try_into()
            .map_err(|_| PolicyError("internal: policy file count".into()))?;
        Ok(PolicyTexts {
            model,
            roles,
            bindings,
            data_policies,
        })
    }
}

/// One file at one look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FileLook {
    /// Not there (an editor may be between removing and recreating it).
    Missing,
    /// Could not be opened or read (`ErrorKind` and message, for the refusal).
    Unreadable(String),
    /// Its length or times changed while it was being read: certainly being written.
    Torn,
    /// Read whole.
    Read {
        /// Identity and times: a rename shows as a new inode, a write as new times.
        meta: Meta,
        /// SHA-256 of the bytes read.
        digest: [u8; 32],
        /// The bytes read.
        bytes: Vec<u8>,
    },
}

/// The metadata a write or a rename changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Meta {
    len: u64,
    ino: u64,
    modified: Option<SystemTime>,
    ctime: (i64, i64),
}

impl Meta {
    fn of(m: &std::fs::Metadata) -> Self {
        Self {
            len: m.len(),
            ino: m.ino(),
            modified: m.modified().ok(),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// Looks at one file: metadata, content, metadata again (same open file), and the path's
/// metadata (a rename in between shows as another inode).
fn look_at(path: &Path) -> FileLook {
    use std::io::Read;
    let open = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return FileLook::Missing,
        Err(e) => return FileLook::Unreadable(e.to_string()),
    };
    let result = (|| -> std::io::Result<FileLook> {
        let mut f = open;
        let before = Meta::of(&f.metadata()?);
        if before.len > MAX_FILE_BYTES {
            return Ok(FileLook::Unreadable(format!(
                "larger than {} MiB ({} bytes); not a policy file",
                MAX_FILE_BYTES >> 20,
                before.len
            )));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(before.len).unwrap_or(0));
        (&mut f).take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
        let after = Meta::of(&f.metadata()?);
        let at_path = std::fs::metadata(path).map(|m| Meta::of(&m)).ok();
        if before != after || bytes.len() as u64 != after.len || at_path != Some(after) {
            return Ok(FileLook::Torn);
        }
        let digest = Sha256::digest(&bytes).into();
        Ok(FileLook::Read {
            meta: after,
            digest,
            bytes,
        })
    })();
    result.unwrap_or_else(|e| FileLook::Unreadable(e.to_string()))
}

/// The policy directory.
#[derive(Debug, Clone)]
pub struct FilePolicyStore {
    dir: PathBuf,
}

impl FilePolicyStore {
    /// The store of the policy files in `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }
}

#[async_trait]
impl PolicyStore for FilePolicyStore {
    fn location(&self) -> &Path {
        &self.dir
    }

    async fn look(&self) -> Look {
        let dir = self.dir.clone();
        let files = tokio::task::spawn_blocking(move || {
            POLICY_FILES.iter().map(|f| look_at(&dir.join(f))).collect()
        })
        .await
        .unwrap_or_else(|e| vec![FileLook::Unreadable(e.to_string()); POLICY_FILES.len()]);
        Look {
            location: self.dir.clone(),
            files,
        }
    }

    async fn read_bindings(&self) -> Result<String, BindingError> {
        let path = self.dir.join(BINDINGS_FILE);
        match tokio::fs::read_to_string(&path).await {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(BindingError::Io(format!("{}: {e}", path.display()))),
        }
    }

    async fn write_bindings(&self, text: &str) -> Result<(), BindingError> {
        write_atomically(&self.dir.join(BINDINGS_FILE), text).await
    }
}

/// Replaces `path` with `text` so that readers (and a crash) see the old or the new file,
/// never a part: temp file in the same directory, fsync, rename, fsync the directory.
async fn write_atomically(path: &Path, text: &str) -> Result<(), BindingError> {
    let path = path.to_path_buf();
    let text = text.to_string();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let tmp = dir.join(format!(".{name}.tmp-{}", uuid::Uuid::new_v4().simple()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            if let Ok(meta) = std::fs::metadata(&path) {
                let _ = f.set_permissions(meta.permissions());
            }
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    })
    .await
    .map_err(|e| BindingError::Io(e.to_string()))?
    .map_err(|e| BindingError::Io(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bindings_are_replaced_whole_and_the_texts_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = FilePolicyStore::new(dir.path());
        assert_eq!(store.read_bindings().await.unwrap(), "");
        std::fs::write(dir.path().join("model.conf"), "m\n").unwrap();
        std::fs::write(dir.path().join("roles.csv"), "r\n").unwrap();
        let e = store.read().await.unwrap_err().to_string();
        assert!(
            e.contains("bindings.csv") && e.contains("no such file"),
            "{e}"
        );
        store.write_bindings("User:a, Operator, x\n").await.unwrap();
        store.write_bindings("User:b, Operator, y\n").await.unwrap();
        let texts = store.read().await.unwrap();
        assert_eq!(
            (texts.model.as_str(), texts.bindings.as_str()),
            ("m\n", "User:b, Operator, y\n")
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 3, "no temp file is left behind: {names:?}");
        assert_eq!(store.look().await, store.look().await);
    }
}
