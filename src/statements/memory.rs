//! The in-memory [`StatementStore`]: a map under one lock, and the index the file store keeps
//! in front of its files.
//!
//! Every operation takes the lock once and never awaits while holding it, so the name check,
//! the per-principal cap (a counter, not a scan) and the insert are one atomic step. Forgets
//! everything on restart (`gateway.statement_store = "memory"`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::record::{StatementId, StatementRecord, StatementState};
use super::store::{ListFilter, StatementStore, StoreError, Update, expired, sort_for_listing};

type Key = (String, String);

#[derive(Debug, Default)]
struct Inner {
    /// By (environment id, name).
    map: HashMap<Key, StatementRecord>,
    /// Statements per owner, kept with every insert and removal (the cap's counter).
    owned: HashMap<String, usize>,
}

impl Inner {
    fn put(&mut self, record: StatementRecord) {
        let key = (record.environment_id.clone(), record.name.clone());
        *self.owned.entry(record.owner.clone()).or_default() += 1;
        if let Some(old) = self.map.insert(key, record) {
            self.forget_owner(&old.owner);
        }
    }

    fn take(&mut self, key: &Key) -> Option<StatementRecord> {
        let r = self.map.remove(key)?;
        self.forget_owner(&r.owner);
        Some(r)
    }

    fn forget_owner(&mut self, owner: &str) {
        if let Some(n) = self.owned.get_mut(owner) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.owned.remove(owner);
            }
        }
    }
}

/// Statements in memory only.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

fn key(environment: &str, name: &str) -> Key {
    (environment.to_string(), name.to_string())
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change is a few map operations that cannot panic halfway, so a poisoned
        // lock still guards a consistent map.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Atomic name check, cap check and insert.
    pub(super) fn insert_now(
        &self,
        record: StatementRecord,
        max_owned: usize,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let k = key(&record.environment_id, &record.name);
        if inner.map.contains_key(&k) {
            return Err(StoreError::AlreadyExists(record.name));
        }
        if inner.owned.get(&record.owner).copied().unwrap_or(0) >= max_owned {
            return Err(StoreError::TooMany {
                principal: record.owner,
                limit: max_owned,
            });
        }
        inner.put(record);
        Ok(())
    }

    /// Puts a record loaded at startup, whatever the cap (a lowered cap must not lose
    /// statements); a record of the same name is replaced.
    pub(super) fn load(&self, record: StatementRecord) {
        self.lock().put(record);
    }

    /// The statement `id` (same name and uid).
    pub(super) fn get_id(&self, id: &StatementId) -> Option<StatementRecord> {
        self.lock()
            .map
            .get(&key(&id.environment_id, &id.name))
            .filter(|r| r.uid == id.uid)
            .cloned()
    }

    /// The conditional update, decided under the lock.
    pub(super) fn update_now(
        &self,
        id: &StatementId,
        expected_version: u64,
        mut state: StatementState,
    ) -> Update {
        let mut inner = self.lock();
        let Some(r) = inner
            .map
            .get_mut(&key(&id.environment_id, &id.name))
            .filter(|r| r.uid == id.uid)
        else {
            return Update::Missing;
        };
        if r.state.resource_version != expected_version {
            return Update::Conflict(r.clone());
        }
        state.resource_version = expected_version + 1;
        r.state = state;
        Update::Updated(r.clone())
    }

    /// Removes `name` (if its uid is `uid`, when given).
    pub(super) fn remove_now(
        &self,
        environment: &str,
        name: &str,
        uid: Option<&str>,
    ) -> Option<StatementRecord> {
        let mut inner = self.lock();
        let k = key(environment, name);
        if uid.is_some_and(|u| inner.map.get(&k).is_some_and(|r| r.uid != u)) {
            return None;
        }
        inner.take(&k)
    }

    /// The records [`StatementStore::expire`] would remove now (nothing is removed).
    pub(super) fn expired_at(&self, cutoff: DateTime<Utc>) -> Vec<StatementRecord> {
        self.lock()
            .map
            .values()
            .filter(|r| expired(r, cutoff))
            .cloned()
            .collect()
    }

    fn get_now(&self, environment: &str, name: &str) -> Option<StatementRecord> {
        self.lock().map.get(&key(environment, name)).cloned()
    }

    fn list_now(&self, filter: &ListFilter) -> Vec<StatementRecord> {
        let mut v: Vec<_> = self
            .lock()
            .map
            .values()
            .filter(|r| filter.matches(r))
            .cloned()
            .collect();
        sort_for_listing(&mut v);
        v
    }

    fn count_owned_now(&self, owner: &str) -> usize {
        self.lock().owned.get(owner).copied().unwrap_or(0)
    }

    fn count_now(&self) -> usize {
        self.lock().map.len()
    }

    fn expire_now(&self, cutoff: DateTime<Utc>) -> Vec<StatementRecord> {
        let mut inner = self.lock();
        let keys: Vec<Key> = inner
            .map
            .iter()
            .filter(|(_, r)| expired(r, cutoff))
            .map(|(k, _)| k.clone())
            .collect();
        keys.iter().filter_map(|k| inner.take(k)).collect()
    }
}

#[async_trait]
impl StatementStore for MemoryStore {
    async fn insert_if_absent(
        &self,
        record: StatementRecord,
        max_owned: usize,
    ) -> Result<(), StoreError> {
        self.insert_now(record, max_owned)
    }

    async fn get(
        &self,
        environment: &str,
        name: &str,
    ) -> Result<Option<StatementRecord>, StoreError> {
        Ok(self.get_now(environment, name))
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<StatementRecord>, StoreError> {
        Ok(self.list_now(filter))
    }

    async fn update_state(
        &self,
        id: &StatementId,
        expected_version: u64,
        state: StatementState,
    ) -> Result<Update, StoreError> {
        Ok(self.update_now(id, expected_version, state))
    }

    async fn remove(
        &self,
        environment: &str,
        name: &str,
        uid: Option<&str>,
    ) -> Result<Option<StatementRecord>, StoreError> {
        Ok(self.remove_now(environment, name, uid))
    }

    async fn count_owned(&self, owner: &str) -> Result<usize, StoreError> {
        Ok(self.count_owned_now(owner))
    }

    async fn count(&self) -> Result<usize, StoreError> {
        Ok(self.count_now())
    }

    async fn expire(&self, cutoff: DateTime<Utc>) -> Result<Vec<StatementRecord>, StoreError> {
        Ok(self.expire_now(cutoff))
    }
}
