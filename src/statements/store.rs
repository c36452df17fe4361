//! The statement store seam: where [`StatementRecord`]s live, behind one trait.
//!
//! Owns the contract every store keeps: statement names are unique per environment, and the
//! name check and the per-principal cap are decided *with* the insert, atomically
//! ([`StatementStore::insert_if_absent`]), never check-then-insert across an await; state
//! changes are conditional on the version the caller read ([`StatementStore::update_state`]).
//! Implementations: [`super::memory::MemoryStore`] (forgets on restart) and
//! [`super::file::FileStore`] (one file per statement in the data directory).
//!
//! A store holds records only. Rows, cancel tokens and phase watchers are process-local and
//! live in [`super::running`]; the phase machine on top of both is [`super::lifecycle`].

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::record::{StatementId, StatementRecord, StatementState};

/// Why a store refused or failed an operation.
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
    /// The store could not be read or written; what was asked did not happen. The text names
    /// files and OS errors, so it is for the gateway's log only.
    #[error("the statement store failed: {0}")]
    Unavailable(String),
}

/// The filters of the list route, applied by the store.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this environment (`None`: every environment; startup recovery).
    pub environment: Option<String>,
    /// Only statements of this principal (`None`: everyone's, for administrators).
    pub owner: Option<String>,
    /// Only statements carrying this label with the value `"true"`.
    pub label: Option<String>,
    /// Only statements in this compute pool.
    pub compute_pool: Option<String>,
    /// Only statements whose name contains this.
    pub name_contains: Option<String>,
}

impl ListFilter {
    /// Whether `r` passes every filter.
    pub fn matches(&self, r: &StatementRecord) -> bool {
        self.environment
            .as_ref()
            .is_none_or(|e| &r.environment_id == e)
            && self.owner.as_ref().is_none_or(|o| &r.owner == o)
            && self
                .label
                .as_ref()
                .is_none_or(|l| r.labels.get(l).is_some_and(|v| v == "true"))
            && self
                .compute_pool
                .as_ref()
                .is_none_or(|p| &r.spec.compute_pool_id == p)
            && self
                .name_contains
                .as_ref()
                .is_none_or(|s| r.name.contains(s.as_str()))
    }
}

/// What a conditional update found.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// The state was replaced; this is the record now.
    Updated(StatementRecord),
    /// Someone changed the statement since the caller read it; this is the record now.
    Conflict(StatementRecord),
    /// No such statement (deleted, or its name now belongs to a newer statement).
    Missing,
}

/// Where statement records are kept.
#[async_trait]
pub trait StatementStore: fmt::Debug + Send + Sync {
    /// Stores `record` unless its name is taken in its environment or its owner already has
    /// `max_owned` statements, both decided atomically with the insert.
    async fn insert_if_absent(
        &self,
        record: StatementRecord,
        max_owned: usize,
    ) -> Result<(), StoreError>;

    /// The statement named `name` in `environment`.
    async fn get(
        &self,
        environment: &str,
        name: &str,
    ) -> Result<Option<StatementRecord>, StoreError>;

    /// The statements passing `filter`, oldest first (then by name).
    async fn list(&self, filter: &ListFilter) -> Result<Vec<StatementRecord>, StoreError>;

    /// Replaces the state of statement `id` with `state` if its version is still
    /// `expected_version`; the stored version becomes `expected_version + 1`.
    async fn update_state(
        &self,
        id: &StatementId,
        expected_version: u64,
        state: StatementState,
    ) -> Result<Update, StoreError>;

    /// Removes the statement named `name` in `environment` (only if its uid is `uid`, when
    /// given) and returns it.
    async fn remove(
        &self,
        environment: &str,
        name: &str,
        uid: Option<&str>,
    ) -> Result<Option<StatementRecord>, StoreError>;

    /// How many statements `owner` has.
    async fn count_owned(&self, owner: &str) -> Result<usize, StoreError>;

    /// How many statements are stored.
    async fn count(&self) -> Result<usize, StoreError>;

    /// Removes every terminal statement last changed before `cutoff` and returns them.
    /// Statements that are not terminal never expire.
    async fn expire(&self, cutoff: DateTime<Utc>) -> Result<Vec<StatementRecord>, StoreError>;
}

/// Sorts as [`StatementStore::list`] promises: oldest first, then by name.
pub(super) fn sort_for_listing(v: &mut [StatementRecord]) {
    v.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// Whether `r` has expired at `cutoff`.
pub(super) fn expired(r: &StatementRecord, cutoff: DateTime<Utc>) -> bool {
    r.state.phase.is_terminal() && r.state.updated_at < cutoff
}
