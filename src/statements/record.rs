//! A statement as it is stored: everything durable and shareable about it, and nothing that
//! only the process running it has (rows, cancel token, watchers: see [`super::running`]).
//!
//! Owns the record's fields, its serialized form and the phase machine's one rule (a terminal
//! statement does not change phase). It does no I/O and renders no wire JSON
//! ([`super::wire::statement`] does).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The eight phases the clients accept (`FAILING` is not one of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// SQL text as sent.
    pub statement: String,
    /// Properties, as strings.
    pub properties: BTreeMap<String, String>,
    /// Compute pool (the default one filled in when absent).
    pub compute_pool_id: String,
}

/// The part of a statement that changes, replaced as a whole by a conditional update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementState {
    /// Current phase.
    pub phase: Phase,
    /// Person-readable detail (always present on the wire).
    pub detail: String,
    /// `status.traits`, once planned.
    pub traits: Option<Value>,
    /// `spec.stopped`.
    pub stopped: bool,
    /// Last change; retention counts from here.
    pub updated_at: DateTime<Utc>,
    /// Increments on every change; a conditional update names the version it read.
    pub resource_version: u64,
    /// PENDING because its compute pool has no free task slot (`scaling_status` says
    /// `POOL_EXHAUSTED`); every phase change clears it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pool_exhausted: bool,
    /// PENDING because its engine is starting it in the background (a Flink submission);
    /// every phase change clears it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub starting: bool,
}

/// Which statement: the API addresses it by environment and name, and `uid` tells a statement
/// apart from a later one that reused the name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatementId {
    /// Environment id.
    pub environment_id: String,
    /// Name, unique within the environment.
    pub name: String,
    /// The generated uid.
    pub uid: String,
}

/// One statement, as a store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementRecord {
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
    /// Phase, detail, traits, `stopped` and version.
    pub state: StatementState,
}

impl StatementRecord {
    /// A new statement in phase PENDING, created `now`, with a fresh uid.
    pub fn new(
        name: String,
        organization_id: String,
        environment_id: String,
        owner: String,
        spec: Spec,
        labels: BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            name,
            uid: uuid::Uuid::new_v4().to_string(),
            organization_id,
            environment_id,
            owner,
            spec,
            labels,
            created_at: now,
            state: StatementState {
                phase: Phase::Pending,
                detail: "Statement is pending".into(),
                traits: None,
                stopped: false,
                updated_at: now,
                resource_version: 1,
                pool_exhausted: false,
                starting: false,
            },
        }
    }

    /// Its identity.
    pub fn id(&self) -> StatementId {
        StatementId {
            environment_id: self.environment_id.clone(),
            name: self.name.clone(),
            uid: self.uid.clone(),
        }
    }

    /// The state after moving to `phase`, or `None` when the statement is already terminal
    /// (a stop racing a completion keeps whichever came first). `traits` replace the old ones
    /// only when given.
    pub fn next_state(
        &self,
        phase: Phase,
        detail: impl Into<String>,
        traits: Option<Value>,
        now: DateTime<Utc>,
    ) -> Option<StatementState> {
        let s = &self.state;
        if s.phase.is_terminal() {
            return None;
        }
        Some(StatementState {
            phase,
            detail: detail.into(),
            traits: traits.or_else(|| s.traits.clone()),
            stopped: s.stopped,
            updated_at: now,
            resource_version: s.resource_version + 1,
            pool_exhausted: false,
            starting: false,
        })
    }

    /// Applies [`StatementRecord::next_state`] to this copy (for a record no store holds,
    /// such as a dry run's). Returns whether it changed.
    pub fn transition(
        &mut self,
        phase: Phase,
        detail: impl Into<String>,
        traits: Option<Value>,
        now: DateTime<Utc>,
    ) -> bool {
        match self.next_state(phase, detail, traits, now) {
            Some(s) => {
                self.state = s;
                true
            }
            None => false,
        }
    }

    /// Whether the statement has results a client could still want (a query's rows), judged
    /// from its traits: a schema with at least one column.
    pub fn has_result_schema(&self) -> bool {
        self.state
            .traits
            .as_ref()
            .and_then(|t| t.pointer("/schema/columns"))
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty())
    }
}
