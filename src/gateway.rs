//! The running gateway: every runtime object built from the configuration at startup.
//!
//! Owns startup (fail fast: certificates, keys, policy and engine are loaded before the port
//! opens), the shared handles request code uses, and readiness. Request code never sees raw
//! configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tracing::info;

use crate::audit::Auditor;
use crate::auth::Authenticator;
use crate::authz::Authorizer;
use crate::catalog::Catalogs;
use crate::config::{Config, GatewayConfig};
use crate::engine::Engines;
use crate::error::ApiError;
use crate::metrics::{Metrics, MetricsAccess};
use crate::pipeline::{Decider, Placement, Pools, Workers};
use crate::server::ServerConfig;
use crate::sql::ParseLimits;
use crate::statements::pool_slots::PoolSlots;
use crate::statements::{Clock, Limits, StatementRecord, Statements, StoreError, SystemClock};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// TLS material.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// Credentials configuration.
    #[error("authentication setup failed: {0}")]
    Auth(#[from] crate::auth::AuthSetupError),
    /// Policy files.
    #[error("policy could not be loaded: {0}")]
    Policy(#[from] crate::authz::PolicyError),
    /// Engine and data directory.
    #[error("engine could not start: {0}")]
    Engine(#[from] crate::engine::EngineError),
    /// The audit log.
    #[error("audit log could not be opened: {0}")]
    Audit(#[from] crate::audit::AuditError),
    /// The decision worker threads.
    #[error("decision workers could not start: {0}")]
    Workers(std::io::Error),
    /// The statement store.
    #[error("statements could not be loaded: {0}")]
    Statements(#[from] StoreError),
    /// The view definitions.
    #[error("views could not be loaded: {0}")]
    Views(#[from] crate::views::ViewError),
    /// The metrics token or listener.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::access::MetricsConfigError),
    /// The metrics listener could not be bound.
    #[error("cannot listen for metrics on {addr}: {source}")]
    MetricsListen {
        /// `metrics.listen`.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// Everything request handlers share.
#[derive(Debug)]
pub struct Gateway {
    server: ServerConfig,
    gateway: GatewayConfig,
    pools: Pools,
    /// Each compute pool's task slots and the statements waiting for one.
    pool_slots: PoolSlots,
    handshake_timeout: Duration,
    tls: Arc<rustls::ServerConfig>,
    catalogs: Arc<Catalogs>,
    authenticator: Authenticator,
    authorizer: Authorizer,
    /// One engine per configured id; a statement runs on its pool's.
    engines: Engines,
    auditor: Auditor,
    statements: Arc<Statements>,
    parse_limits: ParseLimits,
    /// The granted decisions kept to be answered again (`pipeline/memo.rs`).
    /// `None` when `pipeline.decision_memo.max_bytes` is 0.
    decision_memo: Option<crate::pipeline::DecisionMemo>,
    workers: Workers,
    ready: AtomicBool,
    metrics: Metrics,
    metrics_access: MetricsAccess,
    /// The bound loopback metrics listener, until `server::run` takes it.
    metrics_listener: Mutex<Option<tokio::net::TcpListener>>,
    metrics_addr: Option<SocketAddr>,
    /// Where the main listener is bound (set by `server::run`; the default public URL).
    local_addr: OnceLock<SocketAddr>,
    base_dir: PathBuf,
    /// The data policies against the tables (`pipeline::policy_fit`).
    policy_fit: Arc<crate::pipeline::policy_fit::FitState>,
}

impl Gateway {
    /// Builds every runtime object; relative paths resolve against `base_dir`. Generates dev
    /// certificates and the dev token issuer when configured and missing, and says so.
    pub async fn build(cfg: Config, base_dir: &Path) -> Result<Arc<Self>, StartupError> {
        Self::build_with(cfg, base_dir, Arc::new(SystemClock)).await
    }

    /// [`Gateway::build`] with the clock statements are timed by (tests move it to see
    /// retention act).
    pub async fn build_with(
        cfg: Config,
        base_dir: &Path,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, StartupError> {
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
        let views_loaded = catalogs
            .views()
            .open(&resolve(base_dir, &cfg.engine.data_dir))?;
        if views_loaded > 0 {
            info!(views = views_loaded, "views loaded");
        }
        let engines = Engines::open(
            &cfg.engine,
            &cfg.engines,
            &cfg.compute_pools,
            base_dir,
            catalogs.clone(),
        )
        .await?;
        // Reloads check new row filters and column masks against the tables that exist.
        authorizer.check_tables_with(engines.table_fit());
        let metrics_access = cfg.metrics.build(base_dir, &crate::config::ProcessEnv)?;
        let (metrics_listener, metrics_addr) = match (&metrics_access, cfg.metrics.listen) {
            (MetricsAccess::Listener, Some(addr)) => {
                let l = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::MetricsListen { addr, source })?;
                let bound = l.local_addr().ok();
                (Some(l), bound)
            }
            _ => (None, None),
        };
        let auditor = Auditor::start(&cfg.audit.resolved(base_dir)).await?;
        let workers = Workers::start(&cfg.pipeline).map_err(StartupError::Workers)?;
        let metrics = Metrics::new();
        let decision_memo = crate::pipeline::DecisionMemo::new(
            cfg.sql.clone(),
            &cfg.pipeline.decision_memo,
            metrics.decision_memo.clone(),
        );
        let statements = open_statements(&cfg, base_dir, clock).await?;
        let recovered = statements.recover().await?;
        let pool_slots = PoolSlots::new(&cfg.compute_pools);
        let pools = Pools::new(cfg.compute_pools, &cfg.gateway.default_compute_pool);
        let gw = Arc::new(Self {
            server: cfg.server,
            handshake_timeout: cfg.tls.handshake_timeout,
            statements,
            gateway: cfg.gateway,
            pools,
            pool_slots,
            tls,
            catalogs,
            authenticator,
            authorizer,
            engines,
            auditor,
            parse_limits: cfg.sql.clone(),
            decision_memo,
            workers,
            ready: AtomicBool::new(false),
            metrics,
            metrics_access,
            metrics_listener: Mutex::new(metrics_listener),
            metrics_addr,
            local_addr: OnceLock::new(),
            base_dir: base_dir.to_path_buf(),
            policy_fit: Arc::default(),
        });
        // What the restart ended and what expired while the gateway was down are audited
        // before the port opens, like every other change of a statement.
        for r in &recovered.ended {
            let event = match r.state.phase {
                crate::statements::Phase::Stopped => crate::audit::StatementEvent::Stopped,
                _ => crate::audit::StatementEvent::Failed,
            };
            gw.audit_statement(r, event, &r.state.detail).await?;
        }
        if !recovered.ended.is_empty() || recovered.results_gone > 0 {
            info!(
                ended = recovered.ended.len(),
                results_gone = recovered.results_gone,
                "statements the restart interrupted are FAILED (or STOPPED); finished queries say their results are gone"
            );
        }
        gw.expire_statements().await;
        gw.start_policy_watcher();
        crate::pipeline::policy_change::spawn(&gw);
        crate::pipeline::policy_fit::spawn(&gw);
        gw.start_authn_failure_flusher();
        gw.start_statement_sweeper();
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
    /// The threads the SQL stages run on.
    pub fn workers(&self) -> &Workers {
        &self.workers
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
    /// The data policies against the tables (`pipeline::policy_fit`).
    pub(crate) fn policy_fit(&self) -> &Arc<crate::pipeline::policy_fit::FitState> {
        &self.policy_fit
    }
    /// Runs an authorized, rewritten statement on the engine of the compute pool it was
    /// authorized for (the placement its warrant carries), and only there (and counts it).
    /// A read of INFORMATION_SCHEMA is answered by the gateway itself, whatever the engine
    /// (see [`crate::infoschema`]): it is never handed to one; so are the session statements
    /// of [`crate::session_info`] (SHOW CURRENT, USE).
    pub async fn execute(
        self: &Arc<Self>,
        stmt: &crate::rewrite::RewrittenStatement,
        ctx: &crate::engine::ExecContext,
    ) -> Result<crate::engine::Execution, crate::engine::EngineError> {
        if let Some(views) = crate::infoschema::views_of(stmt.statement()) {
            return crate::infoschema::answer(self, stmt, views, ctx).await;
        }
        if crate::session_info::answers(stmt) {
            return crate::session_info::answer(&self.catalogs, stmt);
        }
        if let Some(done) = self.views_first(stmt).await {
            return done;
        }
        let done = self
            .execute_on_engine(stmt, ctx)
            .await
            .map_err(|e| crate::views::ddl::explain_missing(stmt, e));
        if done.is_ok() {
            crate::pipeline::policy_fit::changed(self, stmt);
        }
        done
    }

    /// A view statement the gateway runs itself, or a table statement on a view it refuses
    /// (see [`crate::views::ddl`]); `None` for anything the engine runs.
    async fn views_first(
        self: &Arc<Self>,
        stmt: &crate::rewrite::RewrittenStatement,
    ) -> Option<Result<crate::engine::Execution, crate::engine::EngineError>> {
        let pool = &stmt.warrant().placement().compute_pool;
        crate::views::ddl::intercept(
            self.catalogs.views(),
            self.engines.of_pool(pool).as_ref(),
            self.engines.id_of_pool(pool),
            stmt,
            self.visibility(stmt.warrant().principal()),
        )
        .await
    }

    /// [`Gateway::execute`] on the statement's engine, for what the gateway itself composes
    /// (INFORMATION_SCHEMA's listings).
    pub(crate) async fn execute_on_engine(
        &self,
        stmt: &crate::rewrite::RewrittenStatement,
        ctx: &crate::engine::ExecContext,
    ) -> Result<crate::engine::Execution, crate::engine::EngineError> {
        self.hand_over(stmt).execute(stmt, ctx).await
    }

    /// Like [`Gateway::execute`], for the statements API: a statement of an engine that is
    /// slow to start comes back [`crate::engine::Start::Pending`] (see [`Engine::start`]).
    ///
    /// [`Engine::start`]: crate::engine::Engine::start
    pub async fn start(
        self: &Arc<Self>,
        stmt: &Arc<crate::rewrite::RewrittenStatement>,
        ctx: &crate::engine::ExecContext,
    ) -> Result<crate::engine::Start, crate::engine::EngineError> {
        if let Some(views) = crate::infoschema::views_of(stmt.statement()) {
            let execution = crate::infoschema::answer(self, stmt, views, ctx).await?;
            return Ok(crate::engine::Start::Running(execution));
        }
        if crate::session_info::answers(stmt) {
            let execution = crate::session_info::answer(&self.catalogs, stmt)?;
            return Ok(crate::engine::Start::Running(execution));
        }
        if let Some(done) = self.views_first(stmt).await {
            return done.map(crate::engine::Start::Running);
        }
        let started = self
            .hand_over(stmt)
            .start(stmt, ctx)
            .await
            .map_err(|e| crate::views::ddl::explain_missing(stmt, e));
        if started.is_ok() {
            crate::pipeline::policy_fit::changed(self, stmt);
        }
        started
    }

    /// The options and distribution `stmt`'s engine keeps for `table` (see
    /// [`crate::engine::Engine::table_definition`]), for INFORMATION_SCHEMA: only for a
    /// table the caller's listing showed it. Not a statement, so not counted as a hand-over.
    pub(crate) async fn table_definition(
        &self,
        stmt: &crate::rewrite::RewrittenStatement,
        table: &crate::catalog::TableRef,
    ) -> Result<Option<crate::engine::TableDefinition>, crate::engine::EngineError> {
        let pool = &stmt.warrant().placement().compute_pool;
        self.engines.of_pool(pool).table_definition(table).await
    }

    /// The engine of the compute pool `stmt`'s warrant places it in, with the statement
    /// counted as handed to an engine.
    fn hand_over(
        &self,
        stmt: &crate::rewrite::RewrittenStatement,
    ) -> &Arc<dyn crate::engine::Engine> {
        let pool = &stmt.warrant().placement().compute_pool;
        self.metrics.engine_statements.inc();
        tracing::debug!(
            pool = %pool,
            engine = self.engines.id_of_pool(pool),
            "statement handed to its pool's engine"
        );
        self.engines.of_pool(pool)
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
    /// Who may read `/metrics` on the main port.
    pub fn metrics_access(&self) -> &MetricsAccess {
        &self.metrics_access
    }
    /// Where the loopback metrics listener is bound (`metrics.access = "listener"`).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }
    /// Hands the bound metrics listener to the server (once).
    pub(crate) fn take_metrics_listener(&self) -> Option<tokio::net::TcpListener> {
        self.metrics_listener
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// Records where the main listener is bound (the default public URL).
    pub(crate) fn set_local_addr(&self, addr: SocketAddr) {
        let _ = self.local_addr.set(addr);
    }

    /// `scheme://host[:port]` that absolute links start with: `gateway.public_url`, else
    /// `https://` and the address the gateway listens on. Never the request's Host header.
    pub fn public_origin(&self) -> String {
        match &self.gateway.public_url {
            Some(url) => url.clone(),
            None => format!(
                "https://{}",
                self.local_addr.get().copied().unwrap_or(self.server.listen)
            ),
        }
    }
    /// The compute pools and the placement rule.
    pub fn pools(&self) -> &Pools {
        &self.pools
    }

    /// Each compute pool's task slots and queue (see [`PoolSlots`]).
    pub fn pool_slots(&self) -> &PoolSlots {
        &self.pool_slots
    }

    /// What [`crate::pipeline::decide`] needs of this gateway.
    pub fn decider(&self) -> Decider<'_> {
        Decider {
            authorizer: &self.authorizer,
            catalogs: &self.catalogs,
            limits: &self.parse_limits,
            redact_sql: self.auditor.redacts_sql(),
            memo: self.decision_memo.as_ref(),
        }
    }

    /// The audit log.
    pub fn auditor(&self) -> &Auditor {
        &self.auditor
    }

    /// Statements: their store and the handles of those this gateway runs.
    pub fn statements(&self) -> &Arc<Statements> {
        &self.statements
    }

    /// Records a change the gateway itself made to a statement (not a request: startup
    /// recovery, expiry), as `User:sqlgate` with mechanism `INTERNAL`.
    async fn audit_statement(
        &self,
        r: &StatementRecord,
        event: crate::audit::StatementEvent,
        message: &str,
    ) -> Result<(), crate::audit::AuditError> {
        let region = self
            .place(&r.environment_id, Some(&r.spec.compute_pool_id))
            .map(|p| p.region)
            .unwrap_or_else(|_| self.gateway.region.clone());
        let mut info = crate::audit::StatementInfo::new(
            &r.organization_id,
            &r.environment_id,
            &region,
            &r.name,
        );
        info.compute_pool = Some(r.spec.compute_pool_id.clone());
        let gateway = crate::audit::PrincipalInfo {
            principal: "User:sqlgate".into(),
            mechanism: "INTERNAL".into(),
            identifier: None,
            identity: None,
        };
        let record = crate::audit::AuditRecord::statement(None, &gateway, &info, event, message);
        self.auditor.record(record).await.map(|_| ())
    }

    /// Deletes the finished statements past `gateway.statement_retention` and audits each
    /// as a deletion by the gateway; returns them. Runs at startup and every sweep; a failure
    /// is logged and the next sweep tries again.
    pub async fn expire_statements(&self) -> Vec<StatementRecord> {
        let expired = match self.statements.expire().await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "could not expire statements; trying again later");
                return Vec::new();
            }
        };
        let why = format!(
            "expired: finished for longer than gateway.statement_retention ({})",
            humantime::format_duration(self.statements.retention())
        );
        for r in &expired {
            if let Err(e) = self
                .audit_statement(r, crate::audit::StatementEvent::Deleted, &why)
                .await
            {
                tracing::error!(statement = %r.name, error = %e, "could not audit an expired statement");
            }
        }
        if !expired.is_empty() {
            info!(
                count = expired.len(),
                "deleted finished statements past gateway.statement_retention"
            );
        }
        expired
    }

    /// Every [`SWEEP_EVERY`] (or the retention, if shorter), deletes the finished statements
    /// past `gateway.statement_retention`; none with a retention of zero. The task ends with
    /// the gateway.
    fn start_statement_sweeper(self: &Arc<Self>) {
        let retention = self.statements.retention();
        if retention.is_zero() {
            return;
        }
        let period = retention.clamp(Duration::from_millis(100), SWEEP_EVERY);
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(gw) = weak.upgrade() else {
                    return;
                };
                gw.expire_statements().await;
            }
        });
    }

    /// SQL parsing limits.
    pub fn parse_limits(&self) -> &ParseLimits {
        &self.parse_limits
    }
    /// Directory relative paths resolve against.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// Where a statement submitted to `env` with compute pool `pool` runs (see
    /// [`Pools::place`]); an unknown pool is 404, like Confluent.
    pub fn place(&self, env: &str, pool: Option<&str>) -> Result<Placement, ApiError> {
        self.pools
            .place(&self.catalogs, env, pool)
            .map_err(|e| ApiError::not_found(e.to_string()))
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

    /// Every `audit.authn_failure_interval`, writes the summaries of the failed
    /// authentications counted in the interval; the task ends with the gateway.
    fn start_authn_failure_flusher(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let period = self.auditor.authn_failure_interval();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(gw) = weak.upgrade() else {
                    return;
                };
                if let Err(e) = gw.auditor.flush_authn_failures().await {
                    tracing::error!(error = %e, "could not audit the failed authentications of an interval");
                }
            }
        });
    }

    /// Writes a policy reload (applied or refused) to the audit log. Called from the
    /// watcher, which must not block: the record is appended by a task of its own.
    fn audit_reload(
        &self,
        trigger: &str,
        result: &Result<crate::authz::ReloadOutcome, crate::authz::PolicyError>,
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
                crate::authz::PolicyError::AUDIT_CODE,
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

    /// What `GET /readyz` answers: 503 while starting or draining, or when the audit log
    /// refuses records (every statement would get 503); otherwise 200, `ready` or `degraded`
    /// (a warning such as low disk space for the audit log, before it becomes refusals).
    pub fn readiness(&self) -> (hyper::StatusCode, serde_json::Value) {
        use serde_json::json;
        let audit = self.auditor.health();
        if !self.is_ready() {
            return (
                hyper::StatusCode::SERVICE_UNAVAILABLE,
                json!({"status": "not ready", "detail": "the gateway is starting or draining"}),
            );
        }
        if let Some(why) = &audit.unusable {
            return (
                hyper::StatusCode::SERVICE_UNAVAILABLE,
                json!({"status": "not ready", "detail": format!("the audit log cannot be written ({why}); statements are refused until the gateway restarts"), "audit": audit}),
            );
        }
        let status = if audit.warnings.is_empty() {
            "ready"
        } else {
            "degraded"
        };
        // The policy's version and last reload refusal are detail: the gateway keeps serving
        // with the last good policy, so it stays ready.
        (
            hyper::StatusCode::OK,
            json!({"status": status, "policy": self.authorizer.status(), "audit": audit}),
        )
    }

    /// Copies the audit log's disk and checkpoint figures into the metrics (before a scrape).
    pub fn refresh_metrics(&self) {
        let h = self.auditor.health();
        let m = &self.metrics;
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        m.audit_used_bytes.set(gauge(h.used_bytes));
        m.audit_free_bytes.set(h.free_bytes.map_or(-1, gauge));
        m.audit_last_seq.set(gauge(h.last_seq));
        m.audit_checkpoint_seq.set(gauge(h.checkpoint_seq));
        m.statements.set(gauge(self.statements.stored() as u64));
        if let Some(memo) = &self.decision_memo {
            memo.refresh_metrics();
        }
        self.refresh_pool_metrics();
    }

    /// Copies each configured pool's slots, queue and statements by phase into the metrics.
    fn refresh_pool_metrics(&self) {
        use crate::metrics::pools::{PoolLabels, PoolPhaseLabels};
        let m = &self.metrics.pools;
        let usage = self.pool_slots.usage();
        for pool in self.pools.all() {
            let labels = PoolLabels {
                compute_pool: pool.id.clone(),
                environment: pool.environment.clone(),
                region: pool.region.clone(),
            };
            if let Some(u) = usage.iter().find(|u| u.pool == pool.id) {
                m.slots_limit
                    .get_or_create(&labels)
                    .set(i64::from(u.max_slots));
                m.slots_in_use
                    .get_or_create(&labels)
                    .set(i64::from(u.in_use));
                m.statements_running
                    .get_or_create(&labels)
                    .set(i64::from(u.holders));
                m.statements_queued
                    .get_or_create(&labels)
                    .set(i64::try_from(u.queued).unwrap_or(i64::MAX));
            }
            // Counted where it happens; shown at 0 before the first refusal.
            drop(m.statements_refused.get_or_create(&labels));
            let counts = self.statements.tally().of(&pool.id);
            for (phase, n) in crate::statements::tally::PHASES.iter().zip(counts) {
                m.statements
                    .get_or_create(&PoolPhaseLabels {
                        compute_pool: labels.compute_pool.clone(),
                        environment: labels.environment.clone(),
                        region: labels.region.clone(),
                        phase: phase.as_str().to_string(),
                    })
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
    }

    /// Stops every statement's work, writes the pending failed-authentication summaries, then
    /// checkpoints the audit log (and ships that checkpoint to Kafka); called after the drain.
    pub async fn shutdown(&self) {
        self.statements.shutdown();
        if let Err(e) = self.auditor.flush_authn_failures().await {
            tracing::error!(error = %e, "could not audit the failed authentications at shutdown");
        }
        self.auditor.close().await;
    }
}

/// How often expired statements are looked for, at most.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Opens the statement store `gateway.statement_store` names (in `<engine.data_dir>`), saying
/// what it found.
async fn open_statements(
    cfg: &Config,
    base_dir: &Path,
    clock: Arc<dyn Clock>,
) -> Result<Arc<Statements>, StartupError> {
    let data_dir = resolve(base_dir, &cfg.engine.data_dir);
    let (store, opened) =
        crate::statements::lifecycle::open_store(cfg.gateway.statement_store, &data_dir).await?;
    if let Some(o) = &opened {
        for (file, why) in &o.unreadable {
            tracing::error!(file = %file.display(), %why, "a statement file could not be loaded; it was set aside");
        }
        for file in &o.superseded {
            tracing::warn!(file = %file.display(), "removed a statement file superseded by a newer one of the same name");
        }
    }
    let limits = Limits {
        max_per_principal: cfg.gateway.max_statements_per_principal,
        result_buffer_rows: cfg.gateway.result_buffer_rows,
        retention: cfg.gateway.statement_retention,
    };
    Ok(Arc::new(Statements::new(store, clock, limits).await?))
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}
