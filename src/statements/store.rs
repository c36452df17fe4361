//! Statements the gateway knows about: their spec, owner, phase and result buffer.
//!
//! Owns statement identity (unique name per environment), ownership, the phase machine and the
//! per-principal cap. It does not run anything: the pipeline spawns the task that drives a
//! statement and reports phases here.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::results::ResultBuffer;

/// The eight phases the clients accept (`FAILING` is not one of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Accepted, not yet planned.
    Pending,
    /// Producing results (or working).
    Running,
    /// Finished; results may still be read.
    Completed,
    /// Running with problems (unused by the embedded engine).
    Degraded,
    /// A stop was requested.
    Stopping,
    /// Stopped on request.
    Stopped,
    /// Failed; `detail` says why.
    Failed,
    /// Being deleted.
    Deleting,
}

impl Phase {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "PENDING",
            Phase::Running => "RUNNING",
            Phase::Completed => "COMPLETED",
            Phase::Degraded => "DEGRADED",
            Phase::Stopping => "STOPPING",
            Phase::Stopped => "STOPPED",
            Phase::Failed => "FAILED",
            Phase::Deleting => "DELETING",
        }
    }

    /// Whether the statement will not change any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Completed | Phase::Stopped | Phase::Failed)
    }
}

/// What a client sent, echoed back in `spec`.
#[derive(Debug, Clone)]
pub struct Spec {
    /// SQL text as sent.
    pub statement: String,
    /// Properties, as strings.
    pub properties: BTreeMap<String, String>,
    /// Compute pool (the default one filled in when absent).
    pub compute_pool_id: String,
}

/// Mutable part of a statement.
#[derive(Debug, Clone)]
pub struct State {
    /// Current phase.
    pub phase: Phase,
    /// Person-readable detail (always present on the wire).
    pub detail: String,
    /// `status.traits`, once planned.
    pub traits: Option<Value>,
    /// `spec.stopped`.
    pub stopped: bool,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Increments on every change.
    pub resource_version: u64,
}

/// One statement.
#[derive(Debug)]
pub struct StatementEntry {
    /// Unique name within the environment.
    pub name: String,
    /// Generated uid.
    pub uid: String,
    /// Organization id.
    pub organization_id: String,
    /// Environment id.
    pub environment_id: String,
    /// Principal id that created it; only it (and admins) may see it.
    pub owner: String,
    /// The request spec.
    pub spec: Spec,
    /// Labels as sent.
    pub labels: BTreeMap<String, String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    state: Mutex<State>,
    /// Watchers see every phase change.
    phase_tx: watch::Sender<Phase>,
    /// Rows produced by the engine.
    pub results: ResultBuffer,
    /// Cancelled by stop and delete; the driving task ends the engine work.
    pub cancel: CancellationToken,
}

impl StatementEntry {
    /// A new statement in phase PENDING.
    pub fn new(
        name: String,
        organization_id: String,
        environment_id: String,
        owner: String,
        spec: Spec,
        labels: BTreeMap<String, String>,
        result_capacity: usize,
    ) -> Self {
        let now = Utc::now();
        let (phase_tx, _) = watch::channel(Phase::Pending);
        Self {
            name,
            uid: uuid::Uuid::new_v4().to_string(),
            organization_id,
            environment_id,
            owner,
            spec,
            labels,
            created_at: now,
            state: Mutex::new(State {
                phase: Phase::Pending,
                detail: "Statement is pending".into(),
                traits: None,
                stopped: false,
                updated_at: now,
                resource_version: 1,
            }),
            phase_tx,
            results: ResultBuffer::new(result_capacity),
            cancel: CancellationToken::new(),
        }
    }

    /// A snapshot of the mutable state.
    pub fn state(&self) -> State {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-written (every update
        // is a few field assignments), so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves to `phase` unless the statement is already terminal (a stop racing a completion
    /// keeps whichever came first). Returns whether it changed.
    pub fn transition(
        &self,
        phase: Phase,
        detail: impl Into<String>,
        traits: Option<Value>,
    ) -> bool {
        let mut s = self.lock();
        if s.phase.is_terminal() {
            return false;
        }
        s.phase = phase;
        s.detail = detail.into();
        if traits.is_some() {
            s.traits = traits;
        }
        s.updated_at = Utc::now();
        s.resource_version += 1;
        drop(s);
        self.phase_tx.send_replace(phase);
        true
    }

    /// Records that a stop was requested.
    pub fn mark_stopped(&self) {
        let mut s = self.lock();
        s.stopped = true;
        s.updated_at = Utc::now();
        s.resource_version += 1;
    }

    /// Waits until the statement is terminal or `timeout` passes; returns the phase then.
    pub async fn wait_terminal(&self, timeout: std::time::Duration) -> Phase {
        let mut rx = self.phase_tx.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|p| p.is_terminal())).await;
        *rx.borrow()
    }

    /// The wire Statement object. `base` is the absolute environment URL
    /// (`https://host/sql/v1/organizations/o/environments/e`).
    pub fn to_json(&self, base: &str) -> Value {
        let s = self.state();
        let mut status = json!({
            "phase": s.phase.as_str(),
            "detail": s.detail,
        });
        if let Some(t) = &s.traits {
            status["traits"] = t.clone();
        }
        json!({
            "api_version": "sql/v1",
            "kind": "Statement",
            "name": self.name,
            "organization_id": self.organization_id,
            "environment_id": self.environment_id,
            "metadata": {
                "self": format!("{base}/statements/{}", self.name),
                "uid": self.uid,
                "resource_version": s.resource_version.to_string(),
                "created_at": timestamp(self.created_at),
                "updated_at": timestamp(s.updated_at),
                "labels": self.labels,
            },
            "spec": {
                "statement": self.spec.statement,
                "properties": self.spec.properties,
                "stopped": s.stopped,
                "compute_pool_id": self.spec.compute_pool_id,
                "principal": self.owner,
            },
            "status": status,
        })
    }
}

/// RFC 3339 with milliseconds and `Z`, as the API shows times.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Why a statement could not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A statement of that name exists in the environment.
    #[error("statement name `{0}` is already in use in this environment")]
    AlreadyExists(String),
    /// The principal has reached its cap.
    #[error("{principal} already has {limit} statements; delete finished ones first")]
    TooMany {
        /// Who.
        principal: String,
        /// The cap.
        limit: usize,
    },
}

/// All statements, keyed by (environment id, name).
#[derive(Debug)]
pub struct StatementStore {
    map: RwLock<HashMap<(String, String), Arc<StatementEntry>>>,
    /// Cap per principal, so one caller cannot exhaust the gateway's memory with statements.
    max_per_principal: usize,
}

impl StatementStore {
    /// An empty store.
    pub fn new(max_per_principal: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            max_per_principal,
        }
    }

    fn read(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<(String, String), Arc<StatementEntry>>> {
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<(String, String), Arc<StatementEntry>>> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks that `name` is free and the owner below its cap, without inserting.
    pub fn check_free(&self, env: &str, name: &str, owner: &str) -> Result<(), StoreError> {
        let map = self.read();
        if map.contains_key(&(env.to_string(), name.to_string())) {
            return Err(StoreError::AlreadyExists(name.to_string()));
        }
        let owned = map.values().filter(|e| e.owner == owner).count();
        if owned >= self.max_per_principal {
            return Err(StoreError::TooMany {
                principal: owner.to_string(),
                limit: self.max_per_principal,
            });
        }
        Ok(())
    }

    /// Inserts a statement, refusing a duplicate name or an owner over the cap.
    pub fn insert(&self, entry: Arc<StatementEntry>) -> Result<(), StoreError> {
        let mut map = self.write();
        let key = (entry.environment_id.clone(), entry.name.clone());
        if map.contains_key(&key) {
            return Err(StoreError::AlreadyExists(entry.name.clone()));
        }
        let owned = map.values().filter(|e| e.owner == entry.owner).count();
        if owned >= self.max_per_principal {
            return Err(StoreError::TooMany {
                principal: entry.owner.clone(),
                limit: self.max_per_principal,
            });
        }
        map.insert(key, entry);
        Ok(())
    }

    /// Looks a statement up.
    pub fn get(&self, env: &str, name: &str) -> Option<Arc<StatementEntry>> {
        self.read()
            .get(&(env.to_string(), name.to_string()))
            .cloned()
    }

    /// Removes a statement, cancelling its work.
    pub fn remove(&self, env: &str, name: &str) -> Option<Arc<StatementEntry>> {
        let e = self.write().remove(&(env.to_string(), name.to_string()));
        if let Some(e) = &e {
            e.cancel.cancel();
        }
        e
    }

    /// Statements of an environment, oldest first (then by name), filtered by `keep`.
    pub fn list(
        &self,
        env: &str,
        keep: impl Fn(&StatementEntry) -> bool,
    ) -> Vec<Arc<StatementEntry>> {
        let mut v: Vec<_> = self
            .read()
            .values()
            .filter(|e| e.environment_id == env && keep(e))
            .cloned()
            .collect();
        v.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.name.cmp(&b.name))
        });
        v
    }

    /// Number of stored statements.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no statement is stored.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Cancels every statement's work (gateway shutdown).
    pub fn cancel_all(&self) {
        for e in self.read().values() {
            e.cancel.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, owner: &str) -> Arc<StatementEntry> {
        Arc::new(StatementEntry::new(
            name.into(),
            "org".into(),
            "env".into(),
            owner.into(),
            Spec {
                statement: "SELECT 1".into(),
                properties: BTreeMap::new(),
                compute_pool_id: "lfcp-dev".into(),
            },
            BTreeMap::new(),
            10,
        ))
    }

    #[test]
    fn duplicate_names_are_refused() {
        let s = StatementStore::new(10);
        s.insert(entry("a", "User:x")).unwrap();
        assert_eq!(
            s.insert(entry("a", "User:y")),
            Err(StoreError::AlreadyExists("a".into()))
        );
    }

    #[test]
    fn owners_are_capped() {
        let s = StatementStore::new(2);
        s.insert(entry("a", "User:x")).unwrap();
        s.insert(entry("b", "User:x")).unwrap();
        assert!(matches!(
            s.insert(entry("c", "User:x")),
            Err(StoreError::TooMany { .. })
        ));
        s.insert(entry("c", "User:y")).unwrap();
    }

    #[test]
    fn terminal_phases_stick() {
        let e = entry("a", "User:x");
        assert!(e.transition(Phase::Completed, "", None));
        assert!(!e.transition(Phase::Stopped, "", None));
        assert_eq!(e.state().phase, Phase::Completed);
    }

    #[test]
    fn wire_object_has_what_clients_require() {
        let e = entry("a", "User:x");
        let v = e.to_json("https://h/sql/v1/organizations/org/environments/env");
        for path in [
            "/name",
            "/metadata/uid",
            "/spec/principal",
            "/spec/compute_pool_id",
            "/status/phase",
            "/status/detail",
        ] {
            assert!(v.pointer(path).is_some(), "{path} missing");
        }
        assert_eq!(
            v["metadata"]["self"],
            "https://h/sql/v1/organizations/org/environments/env/statements/a"
        );
    }
}
