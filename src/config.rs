//! The configuration tree: file (TOML) → environment overrides → command-line flags.
//!
//! Owns loading, unknown-key rejection with the key's path, defaults, and validation with
//! field paths. Startup turns the validated tree into runtime objects ([`crate::gateway`]);
//! request code never reads raw configuration.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::audit::AuditConfig;
use crate::auth::AuthConfig;
use crate::authz::PolicyConfig;
use crate::catalog::EnvironmentConfig;
use crate::engine::EngineConfig;
use crate::pipeline::PipelineConfig;
use crate::server::ServerConfig;
use crate::sql::ParseLimits;
use crate::tls::TlsConfig;

/// The configuration used when `--config` is not given; kept in the repository at
/// `src/config/default.toml`. Relative paths in it resolve against the working directory.
pub const DEFAULT_CONFIG: &str = include_str!("config/default.toml");

/// Environment variable overriding `server.listen`.
pub const ENV_LISTEN: &str = "SQLGATE_LISTEN";
/// Environment variable overriding `engine.data_dir`.
pub const ENV_DATA_DIR: &str = "SQLGATE_DATA_DIR";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listener, limits, drain.
    pub server: ServerConfig,
    /// Certificates and TLS settings.
    pub tls: TlsConfig,
    /// Organization, region, statements API settings.
    pub gateway: GatewayConfig,
    /// Environments (catalogs) and their clusters (databases).
    pub environments: Vec<EnvironmentConfig>,
    /// Compute pools, each bound to one environment and region.
    pub compute_pools: Vec<ComputePoolConfig>,
    /// Credential verification.
    pub auth: AuthConfig,
    /// Where the RBAC policy lives.
    pub policy: PolicyConfig,
    /// The embedded engine.
    pub engine: EngineConfig,
    /// Further engines (Flink SQL Gateways, one per region) that compute pools name.
    pub engines: Vec<crate::engine::EngineEntry>,
    /// Bounds on the statements the parser accepts.
    pub sql: ParseLimits,
    /// The workers that parse, resolve, authorize and rewrite statements.
    pub pipeline: PipelineConfig,
    /// The audit log.
    pub audit: AuditConfig,
    /// Who may read `/metrics`.
    pub metrics: crate::metrics::MetricsConfig,
}

/// The `[gateway]` section.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// The one organization this gateway serves; other organization ids in URLs get 404.
    pub organization_id: String,
    /// The gateway's region: where statements without a compute pool run.
    pub region: String,
    /// Pool used when a statement names none.
    pub default_compute_pool: String,
    /// Statements kept per principal at most (finished ones count until deleted or
    /// expired), so one caller cannot exhaust memory.
    pub max_statements_per_principal: usize,
    /// How long a finished statement (COMPLETED, FAILED, STOPPED) is kept after its last
    /// change before the gateway deletes it. Confluent keeps statements until deleted, but
    /// clients such as dbt never delete theirs and would fill the per-principal cap; `0s`
    /// keeps them until deleted. Statements that are not finished never expire.
    #[serde(with = "humantime_serde")]
    pub statement_retention: Duration,
    /// Where statements are kept: `file` (`<engine.data_dir>/statements/`, one file each; a
    /// restart keeps them) or `memory` (a restart forgets them).
    pub statement_store: crate::statements::StoreKind,
    /// Rows buffered per statement before the engine waits for the client to read.
    pub result_buffer_rows: usize,
    /// Rows per results page.
    pub page_rows: usize,
    /// How long a create request waits for the statement to finish before answering with
    /// RUNNING (saves clients a polling round for quick statements). Clients time out at 10 s.
    #[serde(with = "humantime_serde")]
    pub create_wait: Duration,
    /// How long a results request waits for rows of a running statement before answering
    /// with an empty page.
    #[serde(with = "humantime_serde")]
    pub results_wait: Duration,
    /// The URL clients reach the gateway at (`https://sqlgate.example.com`), which every
    /// absolute link (`metadata.self`, `metadata.next`) is built from; never the request's
    /// Host header or URI, which a client can forge. Unset: `https://<listen address>`.
    pub public_url: Option<String>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            organization_id: "org-dev".into(),
            region: "aws.us-east-2".into(),
            default_compute_pool: "lfcp-dev".into(),
            max_statements_per_principal: 1000,
            statement_retention: Duration::from_secs(7 * 24 * 3600),
            statement_store: crate::statements::StoreKind::File,
            result_buffer_rows: 10_000,
            page_rows: 1000,
            create_wait: Duration::from_secs(2),
            results_wait: Duration::from_secs(1),
            public_url: None,
        }
    }
}

/// One compute pool.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ComputePoolConfig {
    /// Pool id, e.g. `lfcp-dev`.
    pub id: String,
    /// Environment id the pool belongs to.
    pub environment: String,
    /// Region the pool runs in; its statements may only touch data of this region.
    pub region: String,
    /// Task slots the pool's statements may hold at once: sqlgate's analogue of Confluent's
    /// `max_cfu`. Every statement the engine works on for its lifetime (a query while it
    /// runs, an `INSERT`, a `CREATE TABLE … AS`) holds one; DDL, `SHOW`/`DESCRIBE`/`EXPLAIN`
    /// and dry runs hold none. A statement beyond it waits PENDING (`POOL_EXHAUSTED`).
    /// The default, 50, is the maximum of Confluent's default compute pools.
    #[serde(default = "default_max_slots")]
    pub max_slots: u32,
    /// Statements that may wait PENDING for a slot of the pool at once; a create beyond it
    /// is refused with 429 `compute_pool.queue_full` (so waiting statements cannot grow
    /// without bound). `0`: a statement beyond `max_slots` is refused at once.
    #[serde(default = "default_max_pending")]
    pub max_pending: usize,
    /// Id of the engine its statements run on (an `[[engines]]` entry); unset: the
    /// embedded engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

fn default_max_slots() -> u32 {
    50
}

fn default_max_pending() -> usize {
    100
}

impl Default for ComputePoolConfig {
    /// A pool with empty names and the default limits (for struct-update syntax).
    fn default() -> Self {
        Self {
            id: String::new(),
            environment: String::new(),
            region: String::new(),
            max_slots: default_max_slots(),
            max_pending: default_max_pending(),
            engine: None,
        }
    }
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key or a wrong type; `path` is the key's dotted path.
    #[error("invalid config at `{path}`: {message}")]
    Parse {
        /// Dotted key path, e.g. `server.lisen`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A value is inconsistent with the rest.
    #[error("invalid config at `{path}`: {message}")]
    Invalid {
        /// Dotted key path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

/// Where environment overrides come from (a trait so tests need not touch the process env).
pub trait EnvSource {
    /// The variable's value, if set.
    fn get(&self, key: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl EnvSource for std::collections::HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        std::collections::HashMap::get(self, key).cloned()
    }
}

impl Config {
    /// Parses TOML, rejecting unknown keys with their path. Pure: no I/O, no validation.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let de = toml::Deserializer::parse(text).map_err(|e| ConfigError::Parse {
            path: String::new(),
            message: e.to_string(),
        })?;
        serde_path_to_error::deserialize(de).map_err(|e| ConfigError::Parse {
            path: e.path().to_string(),
            message: e.inner().message().to_string(),
        })
    }

    /// Reads a config file. Returns the config and the directory its relative paths resolve
    /// against (the file's directory).
    pub fn load(path: &Path) -> Result<(Self, PathBuf), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg = Self::from_toml(&text)?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Ok((cfg, base))
    }

    /// The built-in default configuration.
    pub fn default_config() -> Result<Self, ConfigError> {
        Self::from_toml(DEFAULT_CONFIG)
    }

    /// Applies `SQLGATE_*` environment overrides.
    pub fn apply_env(mut self, env: &impl EnvSource) -> Result<Self, ConfigError> {
        if let Some(v) = env.get(ENV_LISTEN) {
            self.server.listen = v
                .parse::<SocketAddr>()
                .map_err(|e| invalid(format!("{ENV_LISTEN} (server.listen)"), e.to_string()))?;
        }
        if let Some(v) = env.get(ENV_DATA_DIR) {
            self.engine.data_dir = PathBuf::from(v);
        }
        Ok(self)
    }

    /// Backs the default environment's first cluster (the dev cluster of the built-in
    /// config) with the Kafka cluster at `bootstrap` (`sqlgate serve --kafka HOST:PORT`).
    /// Other Kafka settings of that cluster are kept if it has some.
    pub fn with_kafka(mut self, bootstrap: &str) -> Result<Self, ConfigError> {
        let Some(cluster) = self
            .environments
            .first_mut()
            .and_then(|e| e.clusters.first_mut())
        else {
            return Err(invalid(
                "environments",
                "--kafka needs an environment with at least one cluster",
            ));
        };
        match &mut cluster.kafka {
            Some(k) => k.bootstrap_servers = bootstrap.to_string(),
            None => cluster.kafka = Some(crate::kafka::KafkaClusterConfig::new(bootstrap)),
        }
        Ok(self)
    }

    /// Keeps the schemas of the default environment's first cluster in the Schema Registry at
    /// `url` (`sqlgate serve --schema-registry URL`, e.g. with `--kafka`). That cluster must be
    /// Kafka-backed (by `--kafka` or its config).
    pub fn with_schema_registry(mut self, url: &str) -> Result<Self, ConfigError> {
        let kafka = self
            .environments
            .first_mut()
            .and_then(|e| e.clusters.first_mut())
            .and_then(|c| c.kafka.as_mut());
        let Some(kafka) = kafka else {
            return Err(invalid(
                "environments",
                "--schema-registry needs a Kafka-backed cluster: give --kafka HOST:PORT too \
                 (or an [environments.clusters.kafka] section)",
            ));
        };
        kafka.schema_registry_url = Some(url.to_string());
        Ok(self)
    }

    /// Runs the default compute pool on the Flink SQL Gateway at `sql_gateway_url` with its
    /// JobManager at `jobmanager_url` (`sqlgate serve --flink URL --flink-rest URL`): adds
    /// (or updates) the engine `flink` and names it on the default pool.
    pub fn with_flink(mut self, sql_gateway_url: &str, jobmanager_url: &str) -> Self {
        const ID: &str = "flink";
        match self.engines.iter_mut().find(|e| e.id == ID) {
            Some(e) => {
                e.kind = crate::engine::EngineKind::Flink;
                e.sql_gateway_url = Some(sql_gateway_url.to_string());
                e.jobmanager_url = Some(jobmanager_url.to_string());
            }
            None => self.engines.push(crate::engine::EngineEntry::flink(
                ID,
                sql_gateway_url,
                jobmanager_url,
            )),
        }
        let default = self.gateway.default_compute_pool.clone();
        for p in self.compute_pools.iter_mut().filter(|p| p.id == default) {
            p.engine = Some(ID.to_string());
        }
        self
    }

    /// Picks the create format of Kafka clusters a Flink engine serves when none is
    /// configured (`avro-registry` with a Schema Registry, else `json`), and refuses
    /// `json-registry` on them: Flink cannot read Confluent-framed JSON.
    fn flink_formats(&mut self) -> Result<(), ConfigError> {
        use crate::engine::EngineKind;
        let flink: Vec<(String, String)> = self
            .compute_pools
            .iter()
            .filter(|p| {
                crate::engine::registry::kind_of(&self.engines, p) == Some(EngineKind::Flink)
            })
            .map(|p| (p.environment.clone(), p.region.clone()))
            .collect();
        for (i, e) in self.environments.iter_mut().enumerate() {
            for (j, c) in e.clusters.iter_mut().enumerate() {
                let served = flink.iter().any(|(env, r)| *env == e.id && *r == c.region);
                let Some(k) = c.kafka.as_mut().filter(|_| served) else {
                    continue;
                };
                match k.default_format.as_deref() {
                    None => {
                        let f = match k.schema_registry_url {
                            Some(_) => crate::kafka::Format::AvroRegistry,
                            None => crate::kafka::Format::Json,
                        };
                        k.default_format = Some(f.as_str().to_string());
                    }
                    Some("json-registry") => {
                        return Err(invalid(
                            format!("environments[{i}].clusters[{j}].kafka.default_format"),
                            "'json-registry' (Confluent-framed JSON) cannot be read by the Flink \
                             engine that serves this cluster; use 'avro-registry' or 'json'",
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Checks cross-field consistency, naming the offending key.
    pub fn validate(self) -> Result<Self, ConfigError> {
        let g = &self.gateway;
        if g.organization_id.is_empty() {
            return Err(invalid("gateway.organization_id", "must not be empty"));
        }
        if g.region.is_empty() {
            return Err(invalid("gateway.region", "must not be empty"));
        }
        for (name, v) in [
            ("gateway.page_rows", g.page_rows),
            ("gateway.result_buffer_rows", g.result_buffer_rows),
            (
                "gateway.max_statements_per_principal",
                g.max_statements_per_principal,
            ),
            ("server.max_connections", self.server.max_connections),
            ("server.max_body_bytes", self.server.max_body_bytes),
            (
                "audit.authn_failure_max_peers",
                self.audit.authn_failure_max_peers,
            ),
        ] {
            if v == 0 {
                return Err(invalid(name, "must be greater than 0"));
            }
        }
        if self.audit.authn_failure_interval.is_zero() {
            return Err(invalid(
                "audit.authn_failure_interval",
                "must be longer than 0 s",
            ));
        }
        if self.policy.reload_settle > crate::authz::Settle::MAX_PERIOD {
            return Err(invalid(
                "policy.reload_settle",
                format!(
                    "must be at most {} (a reload waits up to five periods)",
                    humantime::format_duration(crate::authz::Settle::MAX_PERIOD)
                ),
            ));
        }
        let mut env_names = HashSet::new();
        for (i, e) in self.environments.iter().enumerate() {
            let at = format!("environments[{i}]");
            if e.id.is_empty() || e.id == crate::catalog::EXAMPLES_CATALOG {
                return Err(invalid(
                    format!("{at}.id"),
                    "must be non-empty and not `examples`",
                ));
            }
            let own: HashSet<&String> = [&e.id, &e.display_name].into_iter().collect();
            for n in own {
                if !env_names.insert(n.clone()) {
                    return Err(invalid(
                        at.clone(),
                        format!("environment name `{n}` is used twice"),
                    ));
                }
            }
            let mut cl = HashSet::new();
            for (j, c) in e.clusters.iter().enumerate() {
                let cat = format!("{at}.clusters[{j}]");
                if c.id.is_empty() || c.region.is_empty() {
                    return Err(invalid(cat, "id and region must not be empty"));
                }
                if let Some(k) = &c.kafka {
                    let at = format!("{cat}.kafka");
                    k.validate(&at).map_err(|m| invalid(at, m))?;
                }
                if !cl.insert(c.id.clone())
                    || (c.display_name != c.id && !cl.insert(c.display_name.clone()))
                {
                    return Err(invalid(cat, format!("cluster `{}` is named twice", c.id)));
                }
            }
        }
        for (i, p) in self.compute_pools.iter().enumerate() {
            if !self.environments.iter().any(|e| e.id == p.environment) {
                return Err(invalid(
                    format!("compute_pools[{i}].environment"),
                    format!("unknown environment `{}`", p.environment),
                ));
            }
            if p.max_slots == 0 {
                return Err(invalid(
                    format!("compute_pools[{i}].max_slots"),
                    "must be greater than 0 (a pool without slots would run nothing)",
                ));
            }
        }
        if !self
            .compute_pools
            .iter()
            .any(|p| p.id == g.default_compute_pool)
        {
            return Err(invalid(
                "gateway.default_compute_pool",
                format!("no compute pool `{}` is configured", g.default_compute_pool),
            ));
        }
        crate::engine::registry::validate(&self.engines, &self.compute_pools)
            .map_err(|(path, m)| invalid(path, m))?;
        self.auth
            .validate()
            .map_err(|m| invalid("auth", m.to_string()))?;
        self.server
            .validate()
            .map_err(|(path, m)| invalid(path, m))?;
        self.metrics.validate().map_err(|e| match e {
            crate::metrics::access::MetricsConfigError::Invalid { key, message } => {
                invalid(key, message)
            }
            other => invalid("metrics", other.to_string()),
        })?;
        let mut cfg = self;
        cfg.flink_formats()?;
        cfg.gateway.public_url =
            public_origin(cfg.gateway.public_url.as_deref(), cfg.server.listen)?;
        Ok(cfg)
    }
}

/// Checks `gateway.public_url` and reduces it to its origin (`scheme://host[:port]`). Unset
/// is fine unless the listen address is one clients cannot use (0.0.0.0, ::).
fn public_origin(url: Option<&str>, listen: SocketAddr) -> Result<Option<String>, ConfigError> {
    const KEY: &str = "gateway.public_url";
    let Some(text) = url else {
        if listen.ip().is_unspecified() {
            return Err(invalid(
                KEY,
                format!(
                    "must be set when server.listen is {listen}: links in responses are built                      from it, and {listen} is not an address clients can use"
                ),
            ));
        }
        return Ok(None);
    };
    let parsed = url::Url::parse(text).map_err(|e| invalid(KEY, format!("`{text}`: {e}")))?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
        return Err(invalid(
            KEY,
            format!("`{text}` must be an https:// (or http://) URL with a host"),
        ));
    }
    if !parsed.username().is_empty()
        || parsed.password().is_some()
        || !matches!(parsed.path(), "" | "/")
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(invalid(
            KEY,
            format!("`{text}` must be scheme, host and port only (no path, query or credentials)"),
        ));
    }
    Ok(Some(parsed.origin().ascii_serialization()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_is_valid() {
        let cfg = Config::default_config().unwrap().validate().unwrap();
        assert_eq!(cfg.server.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(cfg.gateway.organization_id, "org-dev");
        assert_eq!(cfg.environments[0].id, "env-dev");
        assert_eq!(cfg.environments[0].clusters[0].region, "aws.us-east-2");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_path() {
        let err = Config::from_toml("[server]\nlisen = \"127.0.0.1:1\"\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("server.lisen"), "{msg}");
        let err = Config::from_toml("[[environments]]\nid='e'\ndisplay_name='d'\nregoin='x'\n")
            .unwrap_err();
        assert!(err.to_string().contains("environments[0].regoin"), "{err}");
    }

    #[test]
    fn env_overrides_win_over_the_file() {
        let env: std::collections::HashMap<String, String> =
            [(ENV_LISTEN.to_string(), "127.0.0.1:9999".to_string())].into();
        let cfg = Config::default_config().unwrap().apply_env(&env).unwrap();
        assert_eq!(cfg.server.listen.port(), 9999);
        let bad: std::collections::HashMap<String, String> =
            [(ENV_LISTEN.to_string(), "nope".to_string())].into();
        assert!(Config::default_config().unwrap().apply_env(&bad).is_err());
    }

    #[test]
    fn the_public_url_is_reduced_to_its_origin_and_required_for_a_wildcard_listen() {
        let mut cfg = Config::default_config().unwrap();
        cfg.gateway.public_url = Some("https://sqlgate.example.com:9443/".into());
        let cfg = cfg.validate().unwrap();
        assert_eq!(
            cfg.gateway.public_url.as_deref(),
            Some("https://sqlgate.example.com:9443")
        );
        for bad in [
            "sqlgate.example.com",
            "ftp://x",
            "https://x/sql/v1",
            "https://u:p@x",
        ] {
            let mut cfg = Config::default_config().unwrap();
            cfg.gateway.public_url = Some(bad.into());
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains("gateway.public_url"), "{bad}: {err}");
        }
        let mut cfg = Config::default_config().unwrap();
        cfg.server.listen = "0.0.0.0:8443".parse().unwrap();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("gateway.public_url"), "{err}");
    }

    #[test]
    fn a_pool_in_an_unknown_environment_is_refused() {
        let mut cfg = Config::default_config().unwrap();
        cfg.compute_pools[0].environment = "env-nope".into();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("compute_pools[0].environment"), "{err}");
    }

    #[test]
    fn a_pool_without_slots_is_refused_and_the_limits_have_defaults() {
        let cfg = Config::default_config().unwrap();
        assert_eq!(cfg.compute_pools[0].max_slots, 50);
        assert_eq!(cfg.compute_pools[0].max_pending, 100);
        let mut cfg = Config::default_config().unwrap();
        cfg.compute_pools[0].max_slots = 0;
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("compute_pools[0].max_slots"), "{err}");
    }

    #[test]
    fn a_pool_naming_an_unknown_engine_is_refused_with_the_engines_known() {
        let mut cfg = Config::default_config().unwrap();
        cfg.compute_pools[0].engine = Some("flink-eu".into());
        let err = cfg.validate().unwrap_err().to_string();
        assert!(
            err.contains("compute_pools[0].engine") && err.contains("unknown engine `flink-eu`"),
            "{err}"
        );
        let toml = format!(
            "{DEFAULT_CONFIG}\n[[engines]]\nid = \"eu\"\nkind = \"flink\"\nsql_gateway_url = \"http://127.0.0.1:1\"\n"
        );
        let err = Config::from_toml(&toml)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("engines[0].jobmanager_url") && err.contains("required"),
            "{err}"
        );
        let err = Config::from_toml(&format!(
            "{DEFAULT_CONFIG}\n[[engines]]\nid = \"x\"\nkind = \"spark\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("engines[0].kind"), "{err}");
    }

    #[test]
    fn the_flink_flag_runs_the_default_pool_on_flink_and_picks_a_format_flink_reads() {
        let cfg = Config::default_config()
            .unwrap()
            .with_kafka("127.0.0.1:9092")
            .and_then(|c| c.with_schema_registry("http://127.0.0.1:8081"))
            .unwrap()
            .with_flink("http://127.0.0.1:8083", "http://127.0.0.1:8081")
            .validate()
            .unwrap();
        assert_eq!(cfg.compute_pools[0].engine.as_deref(), Some("flink"));
        assert_eq!(cfg.engines[0].kind, crate::engine::EngineKind::Flink);
        let k = cfg.environments[0].clusters[0].kafka.as_ref().unwrap();
        assert_eq!(k.create_format(), crate::kafka::Format::AvroRegistry);

        let plain = Config::default_config()
            .unwrap()
            .with_kafka("127.0.0.1:9092")
            .unwrap()
            .with_flink("http://127.0.0.1:8083", "http://127.0.0.1:8081")
            .validate()
            .unwrap();
        let k = plain.environments[0].clusters[0].kafka.as_ref().unwrap();
        assert_eq!(
            k.create_format(),
            crate::kafka::Format::Json,
            "no registry: plain JSON"
        );

        let mut framed = Config::default_config()
            .unwrap()
            .with_kafka("127.0.0.1:9092")
            .unwrap()
            .with_flink("http://127.0.0.1:8083", "http://127.0.0.1:8081");
        if let Some(k) = framed.environments[0].clusters[0].kafka.as_mut() {
            k.default_format = Some("json-registry".into());
        }
        let err = framed.validate().unwrap_err().to_string();
        assert!(
            err.contains("default_format") && err.contains("json-registry"),
            "{err}"
        );

        // Without Flink nothing changes: json-registry stays the default.
        let embedded = Config::default_config()
            .unwrap()
            .with_kafka("127.0.0.1:9092")
            .and_then(Config::validate)
            .unwrap();
        let k = embedded.environments[0].clusters[0].kafka.as_ref().unwrap();
        assert_eq!(k.create_format(), crate::kafka::Format::JsonRegistry);
    }

    #[test]
    fn the_schema_registry_flag_needs_a_kafka_backed_default_cluster() {
        let err = Config::default_config()
            .unwrap()
            .with_schema_registry("http://127.0.0.1:8081")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--schema-registry") && err.contains("--kafka"),
            "{err}"
        );
        let cfg = Config::default_config()
            .unwrap()
            .with_kafka("127.0.0.1:9092")
            .and_then(|c| c.with_schema_registry("http://127.0.0.1:8081/apis/ccompat/v7"))
            .and_then(Config::validate)
            .unwrap();
        let kafka = cfg.environments[0].clusters[0].kafka.as_ref().unwrap();
        assert_eq!(
            kafka.schema_registry_url.as_deref(),
            Some("http://127.0.0.1:8081/apis/ccompat/v7")
        );
        let bad = Config::default_config()
            .unwrap()
            .with_kafka("127.0.0.1:9092")
            .and_then(|c| c.with_schema_registry("not a url"))
            .and_then(Config::validate);
        assert!(bad.is_err());
    }
}
