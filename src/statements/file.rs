//! The durable [`StatementStore`]: one JSON file per statement under
//! `<engine.data_dir>/statements/`, so a restart keeps every statement.
//!
//! ## Format
//! `statements/<uid>.json` holds `{"format": 1, "statement": <StatementRecord>}`. Every write
//! goes to a scratch file (`.tmp-…`), is fsynced, renamed over `<uid>.json`, and the directory
//! is fsynced, so a file under its final name is always one complete version of the record:
//! the old one or the new one, never a mix. A removal unlinks the file and fsyncs the
//! directory before the statement disappears from memory.
//!
//! The directory fsyncs are shared ([`DirSync`]): a write whose rename is done waits for one
//! fsync of the directory that *started* after its rename. Concurrent writes share that fsync,
//! so under load the directory is synced about once per fsync time, not once per write, and
//! every write is still durable under its final name before it returns.
//!
//! Why a file per statement rather than an append-only log: a statement changes a handful of
//! times (PENDING → RUNNING → a terminal phase, perhaps `stopped`), its record is a few
//! kilobytes, and a store holds at most `max_statements_per_principal` per principal; one
//! file each is crash-safe by rename alone, needs no compaction, and is the shape the table
//! store next to it already uses (`engine/embedded/storage.rs`). A log would save the file's own
//! fsync per write but needs compaction and a replay; not worth it at this size.
//!
//! ## Reads and writes
//! Reads are served from an in-memory index (a [`MemoryStore`]) loaded at startup. The index
//! decides names, the cap and versions atomically; each statement's file writes hold that
//! statement's own async lock, so its writes never reorder and a failed write changes nothing
//! (an insert is rolled back, an update is committed to the index only after its file is on
//! disk). Statements do not wait for each other's fsyncs.
//!
//! ## Startup
//! Scratch files are removed. A file that does not parse, has another format or a uid other
//! than its name is renamed to `<name>.unreadable` and reported (never silently dropped, never
//! fatal: one bad file must not keep the gateway down). Two files claiming one name (a crash
//! between a delete and a re-create cannot cause this, but a hand copy can) keep the newer.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::memory::MemoryStore;
use super::record::{StatementId, StatementRecord, StatementState};
use super::store::{ListFilter, StatementStore, StoreError, Update};

/// Layout version of a record file, for future migrations.
const FORMAT: u32 = 1;
/// Extension of record files.
const EXT: &str = "json";
/// Prefix of half-written files; anything with it is removed at startup.
const SCRATCH: &str = ".tmp-";
/// Suffix given to files that could not be loaded.
const UNREADABLE: &str = "unreadable";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDisk<R> {
    format: u32,
    statement: R,
}

/// What [`FileStore::open`] found.
#[derive(Debug, Default)]
pub struct Opened {
    /// Statements loaded.
    pub loaded: usize,
    /// Files that could not be loaded, each renamed to `*.unreadable`, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
    /// Older files removed because a newer one claims the same name.
    pub superseded: Vec<PathBuf>,
}

/// Statements in files, with an in-memory index in front.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    index: MemoryStore,
    /// The shared directory fsyncs of every write and removal.
    syncs: Arc<DirSync>,
    /// One lock per statement uid, held across each write of its file, so writes of one
    /// statement are applied in order and none overtakes another.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn path_of(dir: &Path, uid: &str) -> PathBuf {
    dir.join(format!("{uid}.{EXT}"))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Group commit of directory fsyncs: [`DirSync::after`] returns once an fsync of the
/// directory that began after the call has succeeded. One caller runs the fsync; the callers
/// that arrive meanwhile wait and are covered by the next one, which runs as soon as the
/// current one ends. A failed fsync fails its runner; the callers it would have covered try
/// again with their own.
#[derive(Debug, Default)]
struct DirSync {
    state: Mutex<DirSyncState>,
    done: std::sync::Condvar,
}

#[derive(Debug, Default)]
struct DirSyncState {
    /// Tickets handed out; a caller's ticket is the count before it.
    issued: u64,
    /// Every ticket below this is covered by a finished fsync.
    covered: u64,
    /// An fsync is running.
    running: bool,
    /// Directory fsyncs run, for the tests.
    fsyncs: u64,
}

impl DirSync {
    fn after(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let ticket = s.issued;
        s.issued += 1;
        loop {
            if s.covered > ticket {
                return Ok(());
            }
            if s.running {
                s = self.done.wait(s).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            s.running = true;
            let covers = s.issued;
            drop(s);
            let result = sync_dir(dir);
            s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            s.running = false;
            s.fsyncs += 1;
            if result.is_ok() {
                s.covered = s.covered.max(covers);
            }
            self.done.notify_all();
            result?;
        }
    }

    #[cfg(test)]
    fn fsyncs(&self) -> u64 {
        self.state.lock().unwrap().fsyncs
    }
}

fn write_record(dir: &Path, syncs: &DirSync, record: &StatementRecord) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(&OnDisk {
        format: FORMAT,
        statement: record,
    })
    .map_err(io::Error::other)?;
    let tmp = dir.join(format!("{SCRATCH}{}", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path_of(dir, &record.uid))?;
        syncs.after(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn delete_record(dir: &Path, syncs: &DirSync, uid: &str) -> io::Result<()> {
    match fs::remove_file(path_of(dir, uid)) {
        Ok(()) => syncs.after(dir),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn read_record(path: &Path, stem: &str) -> Result<StatementRecord, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
    let on_disk: OnDisk<StatementRecord> =
        serde_json::from_slice(&bytes).map_err(|e| format!("is not a statement record: {e}"))?;
    if on_disk.format != FORMAT {
        return Err(format!(
            "has format {}, this gateway reads format {FORMAT}",
            on_disk.format
        ));
    }
    if on_disk.statement.uid != stem {
        return Err(format!(
            "holds statement uid {} under another name",
            on_disk.statement.uid
        ));
    }
    Ok(on_disk.statement)
}

fn unavailable(what: &str, dir: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{what} in {}: {e}", dir.display()))
}

impl FileStore {
    /// Opens (creating) `dir` and loads every statement in it. Blocking: call it from
    /// `spawn_blocking` or before the runtime serves requests.
    pub fn open(dir: &Path) -> io::Result<(Self, Opened)> {
        fs::create_dir_all(dir)?;
        let index = MemoryStore::new();
        let mut opened = Opened::default();
        let mut by_name: HashMap<(String, String), (StatementRecord, PathBuf)> = HashMap::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(SCRATCH) {
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some(stem) = name.strip_suffix(&format!(".{EXT}")) else {
                continue;
            };
            if !entry.file_type()?.is_file() {
                continue;
            }
            let record = match read_record(&path, stem) {
                Ok(r) => r,
                Err(why) => {
                    let aside = dir.join(format!("{name}.{UNREADABLE}"));
                    fs::rename(&path, &aside)?;
                    opened.unreadable.push((aside, why));
                    continue;
                }
            };
            let key = (record.environment_id.clone(), record.name.clone());
            match by_name.remove(&key) {
                Some((other, other_path)) if other.created_at > record.created_at => {
                    opened.superseded.push(path);
                    by_name.insert(key, (other, other_path));
                }
                Some((_, other_path)) => {
                    opened.superseded.push(other_path);
                    by_name.insert(key, (record, path));
                }
                None => {
                    by_name.insert(key, (record, path));
                }
            }
        }
        for p in &opened.superseded {
            fs::remove_file(p)?;
        }
        if !opened.unreadable.is_empty() || !opened.superseded.is_empty() {
            sync_dir(dir)?;
        }
        opened.loaded = by_name.len();
        for (record, _) in by_name.into_values() {
            index.load(record);
        }
        Ok((
            Self {
                dir: dir.to_path_buf(),
                index,
                syncs: Arc::default(),
                locks: Mutex::new(HashMap::new()),
            },
            opened,
        ))
    }

    /// The directory the records are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Directory fsyncs run so far.
    #[cfg(test)]
    pub(super) fn dir_fsyncs(&self) -> u64 {
        self.syncs.fsyncs()
    }

    fn lock_for(&self, uid: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(uid.to_string())
            .or_default()
            .clone()
    }

    fn drop_lock(&self, uid: &str) {
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uid);
    }

    async fn write(&self, record: StatementRecord) -> Result<(), StoreError> {
        let (dir, syncs) = (self.dir.clone(), self.syncs.clone());
        tokio::task::spawn_blocking(move || write_record(&dir, &syncs, &record))
            .await
            .map_err(|e| unavailable("a statement write did not finish", &self.dir, e))?
            .map_err(|e| unavailable("cannot write a statement", &self.dir, e))
    }

    async fn delete(&self, uid: &str) -> Result<(), StoreError> {
        let (dir, syncs) = (self.dir.clone(), self.syncs.clone());
        let uid = uid.to_string();
        tokio::task::spawn_blocking(move || delete_record(&dir, &syncs, &uid))
            .await
            .map_err(|e| unavailable("a statement removal did not finish", &self.dir, e))?
            .map_err(|e| unavailable("cannot remove a statement", &self.dir, e))
    }

    /// Removes `record` (file, then index) while holding its lock; `still` re-checks, under
    /// the lock, that it should still go.
    async fn remove_locked(
        &self,
        record: &StatementRecord,
        still: impl Fn(&StatementRecord) -> bool,
    ) -> Result<Option<StatementRecord>, StoreError> {
        let lock = self.lock_for(&record.uid);
        let guard = lock.lock().await;
        let Some(current) = self.index.get_id(&record.id()).filter(|r| still(r)) else {
            return Ok(None);
        };
        self.delete(&current.uid).await?;
        self.index
            .remove_now(&current.environment_id, &current.name, Some(&current.uid));
        drop(guard);
        self.drop_lock(&current.uid);
        Ok(Some(current))
    }
}

#[async_trait]
impl StatementStore for FileStore {
    async fn insert_if_absent(
        &self,
        record: StatementRecord,
        max_owned: usize,
    ) -> Result<(), StoreError> {
        let lock = self.lock_for(&record.uid);
        let guard = lock.lock().await;
        let id = record.id();
        if let Err(e) = self.index.insert_now(record.clone(), max_owned) {
            drop(guard);
            self.drop_lock(&id.uid);
            return Err(e);
        }
        if let Err(e) = self.write(record).await {
            self.index
                .remove_now(&id.environment_id, &id.name, Some(&id.uid));
            drop(guard);
            self.drop_lock(&id.uid);
            return Err(e);
        }
        Ok(())
    }

    async fn get(
        &self,
        environment: &str,
        name: &str,
    ) -> Result<Option<StatementRecord>, StoreError> {
        self.index.get(environment, name).await
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<StatementRecord>, StoreError> {
        self.index.list(filter).await
    }

    async fn update_state(
        &self,
        id: &StatementId,
        expected_version: u64,
        state: StatementState,
    ) -> Result<Update, StoreError> {
        let lock = self.lock_for(&id.uid);
        let guard = lock.lock().await;
        let Some(mut next) = self.index.get_id(id) else {
            drop(guard);
            self.drop_lock(&id.uid);
            return Ok(Update::Missing);
        };
        if next.state.resource_version != expected_version {
            return Ok(Update::Conflict(next));
        }
        next.state = state;
        next.state.resource_version = expected_version + 1;
        self.write(next.clone()).await?;
        // Every writer of this statement holds its lock, so the index still has the version
        // that was checked: this commits.
        Ok(self.index.update_now(id, expected_version, next.state))
    }

    async fn remove(
        &self,
        environment: &str,
        name: &str,
        uid: Option<&str>,
    ) -> Result<Option<StatementRecord>, StoreError> {
        let Some(found) = self
            .index
            .get(environment, name)
            .await?
            .filter(|r| uid.is_none_or(|u| r.uid == u))
        else {
            return Ok(None);
        };
        self.remove_locked(&found, |_| true).await
    }

    async fn count_owned(&self, owner: &str) -> Result<usize, StoreError> {
        self.index.count_owned(owner).await
    }

    async fn count(&self) -> Result<usize, StoreError> {
        self.index.count().await
    }

    async fn expire(&self, cutoff: DateTime<Utc>) -> Result<Vec<StatementRecord>, StoreError> {
        let mut removed = Vec::new();
        let mut failure = None;
        for r in self.index.expired_at(cutoff) {
            match self
                .remove_locked(&r, |now| super::store::expired(now, cutoff))
                .await
            {
                Ok(Some(gone)) => removed.push(gone),
                Ok(None) => {}
                Err(e) => failure = Some(e),
            }
        }
        match failure {
            // What could be removed was; the rest is tried again at the next sweep.
            Some(e) if removed.is_empty() => Err(e),
            Some(e) => {
                tracing::warn!(error = %e, "some expired statements could not be removed yet");
                Ok(removed)
            }
            None => Ok(removed),
        }
    }
}
