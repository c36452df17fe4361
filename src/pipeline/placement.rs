//! Where a statement runs: the one rule, used by the request path, `sqlgate check`,
//! `POST /sqlgate/v1/check` and `sqlgate policy test` alike.
//!
//! As in Confluent Cloud, a statement runs in the environment of the URL it is submitted to,
//! in its compute pool (the one it names, else the gateway's default pool), and in that pool's
//! region. `sql.current-catalog` and `sql.current-database` only qualify the names the SQL
//! leaves short; they never move the statement. So the run permission is checked on the URL's
//! environment, and every object must be in the pool's region.

use crate::catalog::Catalogs;
use crate::config::ComputePoolConfig;

/// Where one statement runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Canonical id of the environment the statement is submitted to.
    pub environment: String,
    /// Its compute pool.
    pub compute_pool: String,
    /// The pool's region: the only region the statement may read or write.
    pub region: String,
}

/// Why a statement cannot be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// No such environment (an unknown URL environment is a 404 before this).
    #[error("environment `{0}` not found")]
    UnknownEnvironment(String),
    /// No such pool, or one of another environment.
    #[error("compute pool `{pool}` not found in environment `{environment}`")]
    UnknownPool {
        /// The pool asked for.
        pool: String,
        /// The statement's environment.
        environment: String,
    },
}

/// The compute pools and the default one: what placement needs of the configuration.
#[derive(Debug, Clone)]
pub struct Pools {
    pools: Vec<ComputePoolConfig>,
    default_pool: String,
}

impl Pools {
    /// The configured pools; `default_pool` serves statements that name none, in any
    /// environment.
    pub fn new(pools: Vec<ComputePoolConfig>, default_pool: &str) -> Self {
        Self {
            pools,
            default_pool: default_pool.to_string(),
        }
    }

    /// All pools.
    pub fn all(&self) -> &[ComputePoolConfig] {
        &self.pools
    }

    /// Places a statement submitted to `environment` (id or display name) with compute pool
    /// `pool` (none: the default pool). A named pool must belong to the environment; the
    /// default pool serves every environment.
    ///
    /// ```
    /// use sqlgate::catalog::{Catalogs, EnvironmentConfig};
    /// use sqlgate::config::ComputePoolConfig;
    /// use sqlgate::pipeline::Pools;
    /// let env = |id: &str| EnvironmentConfig { id: id.into(), display_name: id.into(), clusters: vec![] };
    /// let catalogs = Catalogs::new("o", "r1", vec![env("env-a"), env("env-b")]);
    /// let pool = |id: &str, e: &str, r: &str| ComputePoolConfig { id: id.into(), environment: e.into(), region: r.into(), engine: None };
    /// let pools = Pools::new(vec![pool("lfcp-a", "env-a", "r1"), pool("lfcp-b", "env-b", "r2")], "lfcp-a");
    /// assert_eq!(pools.place(&catalogs, "env-b", Some("lfcp-b")).unwrap().region, "r2");
    /// assert_eq!(pools.place(&catalogs, "env-b", None).unwrap().region, "r1");
    /// assert!(pools.place(&catalogs, "env-a", Some("lfcp-b")).is_err());
    /// ```
    pub fn place(
        &self,
        catalogs: &Catalogs,
        environment: &str,
        pool: Option<&str>,
    ) -> Result<Placement, PlacementError> {
        let environment = catalogs
            .environment(environment)
            .map(|e| e.id.clone())
            .ok_or_else(|| PlacementError::UnknownEnvironment(environment.to_string()))?;
        let id = pool.unwrap_or(&self.default_pool);
        let found = self
            .pools
            .iter()
            .find(|p| p.id == id && (p.environment == environment || id == self.default_pool))
            .ok_or_else(|| PlacementError::UnknownPool {
                pool: id.to_string(),
                environment: environment.clone(),
            })?;
        Ok(Placement {
            environment,
            compute_pool: found.id.clone(),
            region: found.region.clone(),
        })
    }
}
