//! The running gateway: every runtime object built from the configuration at startup.
//!
//! Owns startup (fail fast: certificates, keys, policy and engine are loaded before the port
//! opens), the shared handles request code uses, and readiness. Request code never sees raw
//! configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tracing::info;

use crate::audit::Auditor;
use crate::auth::Authenticator;
use crate::authz::Authorizer;
use crate::catalog::Catalogs;
use crate::config::{ComputePoolConfig, Config, GatewayConfig};
use crate::engine::EmbeddedEngine;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::server::ServerConfig;
use crate::sql::ParseLimits;
use crate::statements::store::StatementStore;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// TLS material.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// Credentials configuration.
    #[error("authentication setup failed: {0}")]
    Auth(#[from] crate::auth::AuthError),
    /// Policy files.
    #[error("policy could not be loaded: {0}")]
    Policy(#[from] crate::authz::AuthzError),
    /// Engine and data directory.
    #[error("engine could not start: {0}")]
    Engine(#[from] crate::engine::EngineError),
    /// The audit log.
    #[error("audit log could not be opened: {0}")]
    Audit(#[from] crate::audit::AuditError),
}

/// Everything request handlers share.
#[derive(Debug)]
pub struct Gateway {
    server: ServerConfig,
    gateway: GatewayConfig,
    pools: Vec<ComputePoolConfig>,
    handshake_timeout: Duration,
    tls: Arc<rustls::ServerConfig>,
    catalogs: Arc<Catalogs>,
    authenticator: Authenticator,
    authorizer: Authorizer,
    engine: EmbeddedEngine,
    auditor: Auditor,
    statements: StatementStore,
    parse_limits: ParseLimits,
    ready: AtomicBool,
    metrics: Metrics,
    base_dir: PathBuf,
}

impl Gateway {
    /// Builds every runtime object; relative paths resolve against `base_dir`. Generates dev
    /// certificates and the dev token issuer when configured and missing, and says so.
    pub async fn build(cfg: Config, base_dir: &Path) -> Result<Arc<Self>, StartupError> {
        if let Some(outcome) = cfg.tls.prepare_dev_certs(base_dir)?
            && outcome != crate::certs::DevCertOutcome::Present
        {
            info!(
                ca = %base_dir.join(&cfg.tls.dev_ca_file).display(),
                cert = %base_dir.join(&cfg.tls.cert_file).display(),
                "generated a development CA and server certificate (SANs localhost, 127.0.0.1, ::1); clients trust it with SSL_CERT_FILE"
            );
        }
        if let Some(dev) = &cfg.auth.dev_issuer
            && crate::auth::dev::ensure_dev_issuer(dev, base_dir)?
        {
            info!("generated the development token issuer key; mint tokens with `sqlgate token`");
        }
        let tls = cfg.tls.build(base_dir)?;
        let catalogs = Arc::new(Catalogs::new(
            &cfg.gateway.organization_id,
            &cfg.gateway.region,
            cfg.environments.clone(),
        ));
        let authenticator = Authenticator::build(&cfg.auth, base_dir).await?;
        let policy_dir = resolve(base_dir, &cfg.policy.dir);
        let authorizer =
            Authorizer::load_with(&policy_dir, catalogs.clone(), cfg.policy.settle()).await?;
        let engine = EmbeddedEngine::open(&cfg.engine, base_dir, catalogs.clone()).await?;
        let mut audit = cfg.audit.clone();
        audit.file = resolve(base_dir, &audit.file);
        let auditor = Auditor::start(&audit).await?;
        let gw = Arc::new(Self {
            server: cfg.server,
            handshake_timeout: cfg.tls.handshake_timeout,
            statements: StatementStore::new(cfg.gateway.max_statements_per_principal),
            gateway: cfg.gateway,
            pools: cfg.compute_pools,
            tls,
            catalogs,
            authenticator,
            authorizer,
            engine,
            auditor,
            parse_limits: ParseLimits {
                max_sql_bytes: cfg.sql.max_sql_bytes,
                recursion_limit: cfg.sql.recursion_limit,
            },
            ready: AtomicBool::new(false),
            metrics: Metrics::new(),
            base_dir: base_dir.to_path_buf(),
        });
        gw.start_policy_watcher();
        Ok(gw)
    }

    /// Listener settings.
    pub fn server_config(&self) -> &ServerConfig {
        &self.server
    }
    /// Statements API settings.
    pub fn gateway_config(&self) -> &GatewayConfig {
        &self.gateway
    }
    /// The rustls configuration.
    pub fn tls_config(&self) -> Arc<rustls::ServerConfig> {
        self.tls.clone()
    }
    /// Handshake deadline.
    pub fn tls_handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }
    /// The resource model.
    pub fn catalogs(&self) -> &Catalogs {
        &self.catalogs
    }
    /// Credential verification.
    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }
    /// RBAC decisions.
    pub fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }
    /// Runs an authorized, rewritten statement on the engine (and counts it).
    pub async fn execute(
        &self,
        stmt: &crate::sql::RewrittenStatement,
        ctx: &crate::engine::ExecContext,
    ) -> Result<crate::engine::Execution, crate::engine::EngineError> {
        self.metrics.engine_statements.inc();
        self.engine.execute(stmt, ctx).await
    }

    /// How many statements were handed to the engine since startup (tests use it to prove
    /// that refused statements never were).
    pub fn engine_calls(&self) -> u64 {
        self.metrics.engine_statements.get()
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
    /// The configured compute pools.
    pub fn compute_pools(&self) -> &[ComputePoolConfig] {
        &self.pools
    }

    /// Version of the policy in force (recorded with every decision).
    pub fn policy_version(&self) -> String {
        self.authorizer.policy_version().to_string()
    }

    /// The audit log.
    pub fn auditor(&self) -> &Auditor {
        &self.auditor
    }

    /// Statements.
    pub fn statements(&self) -> &StatementStore {
        &self.statements
    }
    /// SQL parsing limits.
    pub fn parse_limits(&self) -> &ParseLimits {
        &self.parse_limits
    }
    /// Directory relative paths resolve against.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// The compute pool a statement runs in: the named one (which must belong to `env`) or
    /// the default. Unknown pools are 404, like Confluent.
    pub fn compute_pool(
        &self,
        env: &str,
        id: Option<&str>,
    ) -> Result<&ComputePoolConfig, ApiError> {
        let id = id.unwrap_or(&self.gateway.default_compute_pool);
        self.pools
            .iter()
            .find(|p| {
                p.id == id && (p.environment == env || id == self.gateway.default_compute_pool)
            })
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "compute pool `{id}` not found in environment `{env}`"
                ))
            })
    }

    /// The predicate SHOW CATALOGS / DATABASES / TABLES filter with, for one principal:
    /// nothing is listed that the principal has no role on.
    pub fn visibility(
        self: &Arc<Self>,
        principal: &str,
    ) -> Arc<dyn Fn(&crate::catalog::ObjectRef) -> bool + Send + Sync> {
        let gw = self.clone();
        let principal = principal.to_string();
        Arc::new(move |o: &crate::catalog::ObjectRef| gw.authorizer.can_see(&principal, o))
    }

    /// Starts hot reload of the policy directory (see `authz::spawn_watcher`): each reload
    /// is counted in the metrics, logged and audited; the watcher ends with the gateway.
    fn start_policy_watcher(self: &Arc<Self>) {
        self.metrics
            .policy_version
            .set(self.authorizer.version() as i64);
        let weak = Arc::downgrade(self);
        crate::authz::spawn_watcher(
            self.authorizer.clone(),
            crate::authz::WatchConfig::default(),
            move |trigger, result| {
                let Some(gw) = weak.upgrade() else {
                    return false;
                };
                crate::authz::report_reload(gw.metrics(), trigger, result);
                gw.audit_reload(trigger, result);
                true
            },
        );
    }

    /// Writes a policy reload (applied or refused) to the audit log. Called from the
    /// watcher, which must not block: the record is appended by a task of its own.
    fn audit_reload(
        &self,
        trigger: &str,
        result: &Result<crate::authz::ReloadOutcome, crate::authz::AuthzError>,
    ) {
        use crate::authz::ReloadOutcome;
        let org = self
            .catalogs
            .crn(&crate::catalog::ObjectRef::Organization)
            .to_string();
        let record = match result {
            Ok(ReloadOutcome::Applied(v)) => crate::audit::AuditRecord::policy(
                None,
                None,
                &org,
                "sqlgate.PolicyReload",
                true,
                "policy.reloaded",
                &format!("policy files changed ({trigger}); version {v} in force"),
                Some(*v),
            ),
            Ok(ReloadOutcome::Unchanged(_) | ReloadOutcome::AlreadyRejected(_)) => return,
            Err(e) => crate::audit::AuditRecord::policy(
                None,
                None,
                &org,
                "sqlgate.PolicyReloadRejected",
                false,
                e.code(),
                &format!("{e}; the last good policy stays in force"),
                Some(self.authorizer.version()),
            ),
        };
        let auditor = self.auditor.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = auditor.record(record).await {
                    tracing::error!(error = %e, "could not audit a policy reload");
                }
            });
        }
    }

    /// Whether statements are accepted.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
    /// Flips readiness (on when serving, off while draining).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Stops every statement's work; called after the drain.
    pub async fn shutdown(&self) {
        self.statements.cancel_all();
    }
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}
