//! Which engine runs a statement: the configured engines (`[[engines]]`) by id, and the
//! engine of each compute pool (`engine = "<id>"` on `[[compute_pools]]`).
//!
//! Owns the engine entries' configuration and validation, building one engine per id at
//! startup, and the lookup by pool. The embedded engine always exists (id [`EMBEDDED`]): it
//! is the default of a pool that names no engine, and Flink engines hand it what sqlgate does
//! itself (CREATE / DROP / ALTER TABLE on Kafka, SHOW, DESCRIBE). A statement runs on the
//! engine of its placement's pool and on no other.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{EmbeddedEngine, Engine, EngineConfig, EngineError};
use crate::catalog::Catalogs;
use crate::config::ComputePoolConfig;

/// Id of the built-in embedded engine, the engine of every pool that names none.
pub const EMBEDDED: &str = "embedded";

/// What an engine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// DataFusion in-process (`[engine]` settings; there is one, shared by every entry of
    /// this kind).
    Embedded,
    /// An Apache Flink SQL Gateway (REST v2+) and the JobManager behind it.
    Flink,
}

/// One `[[engines]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EngineEntry {
    /// The id pools name in `engine = "…"`.
    pub id: String,
    /// `embedded` or `flink`.
    pub kind: EngineKind,
    /// Flink: the SQL Gateway's REST base URL (`http://127.0.0.1:8083`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_gateway_url: Option<String>,
    /// Flink: the JobManager's REST base URL (`http://127.0.0.1:8081`), where INSERT jobs
    /// are cancelled and watched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobmanager_url: Option<String>,
    /// Flink: bound on one REST call; a gateway that does not answer within it is
    /// unavailable (503, nothing left running).
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Flink: how long a statement's start may take while it shows PENDING (declarations,
    /// planning, job submission, first result page; the first statement of a fresh SQL
    /// Gateway takes 10–60 s). Beyond it the statement is FAILED and what it opened is
    /// closed.
    #[serde(default = "default_start_timeout", with = "humantime_serde")]
    pub start_timeout: Duration,
    /// Flink: pause between result fetches that returned no rows.
    #[serde(default = "default_poll_interval", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Flink: heartbeat period of a statement's session (must be well below the SQL
    /// Gateway's `sql-gateway.session.idle-timeout`, 10 min by default).
    #[serde(default = "default_heartbeat_interval", with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// Flink: how long a stop waits for a cancelled job to reach CANCELED.
    #[serde(default = "default_cancel_timeout", with = "humantime_serde")]
    pub cancel_timeout: Duration,
    /// Flink: `parallelism.default` of every job, i.e. task slots one statement takes.
    #[serde(default = "default_parallelism")]
    pub parallelism: u32,
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_start_timeout() -> Duration {
    Duration::from_secs(120)
}
fn default_poll_interval() -> Duration {
    Duration::from_millis(200)
}
fn default_heartbeat_interval() -> Duration {
    Duration::from_secs(30)
}
fn default_cancel_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_parallelism() -> u32 {
    1
}

impl EngineEntry {
    /// A Flink engine entry with the default timeouts.
    ///
    /// ```
    /// let e = sqlgate::engine::EngineEntry::flink("eu", "http://127.0.0.1:8083", "http://127.0.0.1:8081");
    /// assert_eq!(e.parallelism, 1);
    /// assert!(e.validate("engines[0]").is_ok());
    /// ```
    pub fn flink(id: &str, sql_gateway_url: &str, jobmanager_url: &str) -> Self {
        Self {
            id: id.to_string(),
            kind: EngineKind::Flink,
            sql_gateway_url: Some(sql_gateway_url.to_string()),
            jobmanager_url: Some(jobmanager_url.to_string()),
            request_timeout: default_request_timeout(),
            start_timeout: default_start_timeout(),
            poll_interval: default_poll_interval(),
            heartbeat_interval: default_heartbeat_interval(),
            cancel_timeout: default_cancel_timeout(),
            parallelism: default_parallelism(),
        }
    }

    /// Checks one entry; `at` is its path (`engines[2]`). Errors are `(key path, message)`.
    pub fn validate(&self, at: &str) -> Result<(), (String, String)> {
        let bad = |k: &str, m: String| Err((format!("{at}.{k}"), m));
        if self.id.trim().is_empty() {
            return bad("id", "must not be empty".into());
        }
        match self.kind {
            EngineKind::Embedded => {
                for (k, v) in [
                    ("sql_gateway_url", &self.sql_gateway_url),
                    ("jobmanager_url", &self.jobmanager_url),
                ] {
                    if v.is_some() {
                        return bad(k, "is only for engines of kind \"flink\"".into());
                    }
                }
            }
            EngineKind::Flink => {
                if self.id == EMBEDDED {
                    return bad("id", format!("`{EMBEDDED}` is the embedded engine's id"));
                }
                for (k, v) in [
                    ("sql_gateway_url", &self.sql_gateway_url),
                    ("jobmanager_url", &self.jobmanager_url),
                ] {
                    let Some(v) = v else {
                        return bad(k, "is required for an engine of kind \"flink\"".into());
                    };
                    match url::Url::parse(v) {
                        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {}
                        _ => return bad(k, format!("`{v}` is not an http(s) URL")),
                    }
                }
                for (k, d) in [
                    ("request_timeout", self.request_timeout),
                    ("start_timeout", self.start_timeout),
                    ("poll_interval", self.poll_interval),
                    ("heartbeat_interval", self.heartbeat_interval),
                    ("cancel_timeout", self.cancel_timeout),
                ] {
                    if d.is_zero() {
                        return bad(k, "must be longer than 0 s".into());
                    }
                }
                if self.parallelism == 0 {
                    return bad("parallelism", "must be at least 1".into());
                }
            }
        }
        Ok(())
    }
}

/// Checks the engine entries and the pools' engine names together. Errors are
/// `(key path, message)`.
pub fn validate(
    entries: &[EngineEntry],
    pools: &[ComputePoolConfig],
) -> Result<(), (String, String)> {
    let mut ids = std::collections::HashSet::from([EMBEDDED.to_string()]);
    for (i, e) in entries.iter().enumerate() {
        let at = format!("engines[{i}]");
        e.validate(&at)?;
        if e.kind == EngineKind::Flink && !ids.insert(e.id.clone()) {
            return Err((
                format!("{at}.id"),
                format!("engine `{}` is configured twice", e.id),
            ));
        }
        ids.insert(e.id.clone());
    }
    for (i, p) in pools.iter().enumerate() {
        if let Some(id) = &p.engine
            && !ids.contains(id)
        {
            let mut known: Vec<&String> = ids.iter().collect();
            known.sort();
            return Err((
                format!("compute_pools[{i}].engine"),
                format!(
                    "unknown engine `{id}` (configured: {})",
                    known
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The engine of a pool's entry: its kind (`None`: unknown id; validation refuses that).
pub fn kind_of(entries: &[EngineEntry], pool: &ComputePoolConfig) -> Option<EngineKind> {
    match pool.engine.as_deref() {
        None | Some(EMBEDDED) => Some(EngineKind::Embedded),
        Some(id) => entries.iter().find(|e| e.id == id).map(|e| e.kind),
    }
}

/// Every engine by id and the engine of every pool.
#[derive(Debug, Clone)]
pub struct Engines {
    embedded: Arc<dyn Engine>,
    /// The embedded engine as what data policies are checked against.
    fit: Arc<dyn crate::authz::TableFit>,
    by_id: HashMap<String, Arc<dyn Engine>>,
    /// Pool id → engine id.
    pools: HashMap<String, String>,
}

impl Engines {
    /// Builds the embedded engine and one engine per `[[engines]]` entry of kind `flink`.
    pub async fn open(
        cfg: &EngineConfig,
        entries: &[EngineEntry],
        pools: &[ComputePoolConfig],
        base_dir: &Path,
        catalogs: Arc<Catalogs>,
    ) -> Result<Self, EngineError> {
        let embedded = Arc::new(EmbeddedEngine::open(cfg, base_dir, catalogs.clone()).await?);
        let mut by_id: HashMap<String, Arc<dyn Engine>> = HashMap::new();
        by_id.insert(EMBEDDED.to_string(), embedded.clone());
        for e in entries {
            let engine: Arc<dyn Engine> = match e.kind {
                EngineKind::Embedded => embedded.clone(),
                EngineKind::Flink => Arc::new(super::flink::FlinkEngine::new(e, embedded.clone())?),
            };
            by_id.insert(e.id.clone(), engine);
        }
        let pools = pools
            .iter()
            .map(|p| {
                let id = p.engine.clone().unwrap_or_else(|| EMBEDDED.to_string());
                (p.id.clone(), id)
            })
            .collect();
        Ok(Self {
            fit: embedded.clone(),
            embedded,
            by_id,
            pools,
        })
    }

    /// What the data policies are checked against: the embedded engine's in-memory tables
    /// and Kafka-backed ones (the tables every engine reads).
    pub fn table_fit(&self) -> Arc<dyn crate::authz::TableFit> {
        self.fit.clone()
    }

    /// The engine of compute pool `pool` (the embedded engine for a pool not configured).
    pub fn of_pool(&self, pool: &str) -> &Arc<dyn Engine> {
        let id = self.pools.get(pool).map(String::as_str).unwrap_or(EMBEDDED);
        self.by_id.get(id).unwrap_or(&self.embedded)
    }

    /// The id of the engine of compute pool `pool`.
    pub fn id_of_pool(&self, pool: &str) -> &str {
        self.pools.get(pool).map(String::as_str).unwrap_or(EMBEDDED)
    }
}
