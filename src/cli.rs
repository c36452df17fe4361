//! The `sqlgate` command line: `serve`, `token`, `api-key create`.
//!
//! Owns argument parsing and turning each subcommand into library calls. `main.rs` only calls
//! [`main`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, ProcessEnv};

mod audit_verify;

/// RBAC-aware SQL gateway for Confluent's Flink SQL statements API.
#[derive(Debug, Parser)]
#[command(name = "sqlgate", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (TLS on 127.0.0.1:8443 with the built-in defaults).
    Serve {
        /// Configuration.
        #[command(flatten)]
        config: ConfigArg,
        /// Listen address, overriding the config (e.g. 127.0.0.1:9443).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Back the default cluster with this Kafka cluster (`HOST:PORT[,HOST:PORT…]`): its
        /// topics become the tables of `dev`.`main`.
        #[arg(long, value_name = "HOST:PORT")]
        kafka: Option<String>,
        /// Keep that cluster's table schemas in this Confluent-compatible Schema Registry
        /// (e.g. `http://127.0.0.1:8081`) rather than in its `_sqlgate_schemas` topic.
        #[arg(long, value_name = "URL")]
        schema_registry: Option<String>,
        /// Run the default compute pool's statements on the Apache Flink SQL Gateway at this
        /// URL (e.g. `http://127.0.0.1:8083`); needs --flink-rest.
        #[arg(long, value_name = "URL", requires = "flink_rest")]
        flink: Option<String>,
        /// The REST URL of that Flink cluster's JobManager (e.g. `http://127.0.0.1:8081`),
        /// where INSERT jobs are watched and cancelled.
        #[arg(long, value_name = "URL", requires = "flink")]
        flink_rest: Option<String>,
    },
    /// Print a JWT signed by the development issuer that the default config trusts.
    Token {
        /// Configuration.
        #[command(flatten)]
        config: ConfigArg,
        /// The token's `sub`.
        #[arg(long)]
        subject: String,
        /// Comma-separated `groups` claim (e.g. developers,admins).
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// Lifetime (humantime, e.g. 1h, 30m).
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
    /// Decide about a statement without running it, and explain the decision: exit 0 allow,
    /// 1 deny, 2 usage error.
    Check {
        /// Configuration.
        #[command(flatten)]
        config: ConfigArg,
        /// The principal, e.g. User:pool-dev.
        #[arg(long)]
        principal: String,
        /// The environment the statement is submitted to (the URL's), id or display name;
        /// default: the current catalog.
        #[arg(long)]
        environment: Option<String>,
        /// Current catalog (id or display name).
        #[arg(long)]
        catalog: String,
        /// Current database (id or display name).
        #[arg(long)]
        database: Option<String>,
        /// The SQL text.
        #[arg(long)]
        sql: String,
        /// Compute pool the statement would run in (default: the configured default).
        #[arg(long)]
        compute_pool: Option<String>,
        /// Output format.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
        /// A claim of the principal's token, `NAME=VALUE`, for row filters and column masks
        /// that use `{{claims.NAME}}` (repeatable).
        #[arg(long = "claim", value_parser = parse_claim)]
        claims: Vec<(String, String)>,
    },
    /// Read the audit log: verify its hash chain, or query it.
    Audit {
        /// The action.
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Check, compare and test the authorization policy (security admins).
    Policy {
        /// The action.
        #[command(subcommand)]
        action: PolicyAction,
    },
    /// Manage API keys.
    ApiKey {
        /// The action.
        #[command(subcommand)]
        action: ApiKeyAction,
    },
}

/// `audit` actions.
#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Check the hash chain against the signed checkpoints; exit 0 when intact, 1 naming
    /// the first bad record, a forged checkpoint, or the checkpoint a cut log falls short of.
    Verify {
        /// Configuration (for the log's, checkpoints' and public key's locations).
        #[command(flatten)]
        config: ConfigArg,
        /// Checkpoint files (default: the configured `audit.checkpoint.file`).
        #[arg(long = "checkpoints", value_name = "FILE")]
        checkpoints: Vec<PathBuf>,
        /// Public keys (JWKS) checkpoints must be signed by (default: the configured
        /// `audit.checkpoint.public_key_file`); repeat it after a key rotation.
        #[arg(long = "public-key", value_name = "FILE")]
        public_keys: Vec<PathBuf>,
        /// Also read the checkpoints' copy on Kafka (`[audit.kafka]` of the configuration),
        /// which a cut of the checkpoint file does not reach.
        #[arg(long)]
        kafka: bool,
        /// Check the chain alone, without checkpoints (a log cut at its end then passes).
        #[arg(long, conflicts_with_all = ["checkpoints", "public_keys", "kafka"])]
        no_checkpoints: bool,
        /// Log files in chain order (default: every file of the configured log).
        files: Vec<PathBuf>,
    },
    /// Print records matching every given filter.
    Query {
        /// Configuration (for the log's location).
        #[command(flatten)]
        config: ConfigArg,
        /// Principal (`User:alice`), identity or key id.
        #[arg(long)]
        principal: Option<String>,
        /// Table: `orders`, `env-dev.lkc-dev.orders` or a CRN.
        #[arg(long)]
        table: Option<String>,
        /// Only records with an access of this action (`read`, `write`, `create`, `alter`,
        /// `drop`, `describe`, `list`, `run`), to `--table` when given.
        #[arg(long, value_parser = ["read", "write", "create", "alter", "drop", "describe", "list", "run"], ignore_case = true)]
        action: Option<String>,
        /// Only authorization decisions with this outcome.
        #[arg(long, value_parser = ["allow", "deny"])]
        decision: Option<String>,
        /// Records at or after this time: RFC 3339, or a span back from now (`30m`, `1h`, `2d`).
        #[arg(long, value_parser = parse_time_arg)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Records before this time: RFC 3339, or a span back from now (`30m`, `1h`, `2d`).
        #[arg(long, value_parser = parse_time_arg)]
        until: Option<chrono::DateTime<chrono::Utc>>,
        /// Output format.
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
    },
}

/// `api-key` actions.
#[derive(Debug, Subcommand)]
pub enum ApiKeyAction {
    /// Create a key for a principal; prints the key and secret once and stores only a hash.
    Create {
        /// Configuration.
        #[command(flatten)]
        config: ConfigArg,
        /// Principal the key authenticates as, e.g. User:sa-ci.
        #[arg(long)]
        principal: String,
        /// Free text kept beside the hash.
        #[arg(long)]
        description: Option<String>,
    },
}

/// `--config PATH`, shared by every subcommand.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// Config file (TOML). Without it the built-in defaults are used, with relative paths
    /// resolved against the working directory.
    #[arg(long, short = 'c', env = "SQLGATE_CONFIG")]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// Loads, applies environment overrides and validates.
    pub fn load(&self) -> anyhow::Result<(Config, PathBuf)> {
        let (cfg, base) = match &self.config {
            Some(p) => Config::load(p)?,
            None => (Config::default_config()?, PathBuf::from(".")),
        };
        let cfg = cfg.apply_env(&ProcessEnv)?.validate()?;
        Ok((cfg, base))
    }
}

/// Runs the command line; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Serve {
            config,
            listen,
            kafka,
            schema_registry,
            flink,
            flink_rest,
        } => serve(
            &config,
            listen,
            kafka.as_deref(),
            schema_registry.as_deref(),
            flink.as_deref().zip(flink_rest.as_deref()),
        ),
        Command::Token {
            config,
            subject,
            groups,
            ttl,
        } => token(&config, &subject, &groups, ttl),
        Command::Audit { action } => return audit(action),
        Command::Check {
            config,
            principal,
            environment,
            catalog,
            database,
            sql,
            compute_pool,
            format,
            claims,
        } => {
            let req = crate::pipeline::CheckRequest {
                principal,
                environment,
                compute_pool,
                catalog,
                database,
                sql,
                claims: claims.into_iter().collect(),
            };
            return check(&config, &req, &format);
        }
        Command::Policy { action } => return policy(action),
        Command::ApiKey {
            action:
                ApiKeyAction::Create {
                    config,
                    principal,
                    description,
                },
        } => api_key_create(&config, &principal, description.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `NAME=VALUE` of `sqlgate check --claim`.
fn parse_claim(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}`: expected NAME=VALUE")),
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SQLGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn serve(
    config: &ConfigArg,
    listen: Option<std::net::SocketAddr>,
    kafka: Option<&str>,
    schema_registry: Option<&str>,
    flink: Option<(&str, &str)>,
) -> anyhow::Result<()> {
    let (mut cfg, base) = config.load()?;
    if let Some(k) = kafka {
        cfg = cfg.with_kafka(k)?;
    }
    if let Some(url) = schema_registry {
        cfg = cfg.with_schema_registry(url)?;
    }
    if let Some((gateway, jobmanager)) = flink {
        cfg = cfg.with_flink(gateway, jobmanager);
    }
    if kafka.is_some() || schema_registry.is_some() || flink.is_some() {
        cfg = cfg.validate()?;
    }
    if let Some(l) = listen {
        cfg.server.listen = l;
        // The listen address decides the default public URL: check the two together.
        cfg = cfg.validate()?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(cfg.pipeline.async_stack_bytes)
        .enable_all()
        .build()?;
    let result = rt.block_on(async move {
        let gateway = crate::gateway::Gateway::build(cfg.clone(), &base).await?;
        let listener = tokio::net::TcpListener::bind(cfg.server.listen).await?;
        tracing::info!(addr = %listener.local_addr()?, "sqlgate listening (https, HTTP/1.1 and HTTP/2)");
        crate::server::run(listener, gateway, shutdown_signal()).await;
        anyhow::Ok(())
    });
    // Work still running after the drain (cancelled statements unwinding) gets a moment, then
    // the process exits regardless.
    rt.shutdown_timeout(Duration::from_secs(5));
    tracing::info!("sqlgate stopped");
    result
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn token(
    config: &ConfigArg,
    subject: &str,
    groups: &[String],
    ttl: Duration,
) -> anyhow::Result<()> {
    let (cfg, base) = config.load()?;
    let dev = cfg
        .auth
        .dev_issuer
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the configuration has no [auth.dev_issuer]; tokens must come from your identity provider"))?;
    crate::auth::dev::ensure_dev_issuer(dev, &base)?;
    println!(
        "{}",
        crate::auth::dev::mint_token(dev, &base, subject, groups, ttl)?
    );
    Ok(())
}

fn api_key_create(
    config: &ConfigArg,
    principal: &str,
    description: Option<&str>,
) -> anyhow::Result<()> {
    let (cfg, base) = config.load()?;
    let file = resolve(&base, &cfg.auth.api_keys_file);
    let (key, secret) = crate::auth::api_key::create_api_key(&file, principal, description)?;
    println!("API key:    {key}\nAPI secret: {secret}\n");
    eprintln!(
        "The secret is shown only now; {} stores only its hash.",
        file.display()
    );
    Ok(())
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn audit_files(config: &ConfigArg, files: Vec<PathBuf>) -> anyhow::Result<Vec<PathBuf>> {
    if !files.is_empty() {
        return Ok(files);
    }
    let (cfg, base) = config.load()?;
    let files = crate::audit::log_files(&resolve(&base, &cfg.audit.file));
    if files.is_empty() {
        anyhow::bail!(
            "no audit log at {}",
            resolve(&base, &cfg.audit.file).display()
        );
    }
    Ok(files)
}

/// `audit verify` exits 1 on a broken chain (not 1-for-any-error): auditors script on it.
fn audit(action: AuditAction) -> ExitCode {
    let result = match action {
        AuditAction::Verify {
            config,
            checkpoints,
            public_keys,
            kafka,
            no_checkpoints,
            files,
        } => audit_verify::run(audit_verify::Args {
            config: &config,
            checkpoints,
            public_keys,
            kafka,
            no_checkpoints,
            files,
        }),
        AuditAction::Query {
            config,
            principal,
            table,
            action,
            decision,
            since,
            until,
            format,
        } => audit_files(&config, Vec::new()).and_then(|files| {
            let filter = crate::audit::Filter {
                principal,
                table,
                action,
                decision: decision.map(|d| {
                    if d == "allow" {
                        crate::audit::Decision::Allow
                    } else {
                        crate::audit::Decision::Deny
                    }
                }),
                since,
                until,
            };
            let records = query_with_progress(&files, &filter)?;
            let format = if format == "json" {
                crate::audit::OutputFormat::Json
            } else {
                crate::audit::OutputFormat::Table
            };
            print!("{}", crate::audit::render(&records, format));
            Ok(ExitCode::SUCCESS)
        }),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(2)
    })
}

/// `policy` actions.
#[derive(Debug, Subcommand)]
pub enum PolicyAction {
    /// Validate a policy directory whole (exit 0 valid, 1 invalid with file:line messages).
    Validate {
        /// Configuration (organization, environments and clusters bindings are checked against).
        #[command(flatten)]
        config: ConfigArg,
        /// Policy directory (default: the configured one).
        dir: Option<PathBuf>,
    },
    /// Print which principals gain or lose which access (role on pattern) from OLD to NEW.
    Diff {
        /// Configuration (for the organization id).
        #[command(flatten)]
        config: ConfigArg,
        /// The policy directory before the change.
        old: PathBuf,
        /// The policy directory after the change.
        new: PathBuf,
    },
    /// Run decision tables (TOML) against a policy; exit 1 if any case fails.
    Test {
        /// Configuration (environments, compute pools, SQL limits).
        #[command(flatten)]
        config: ConfigArg,
        /// Policy directory to test.
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
        /// Decision-table files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `policy` exits 1 when the policy is invalid or a case fails, 2 when it could not run.
fn policy(action: PolicyAction) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let result: anyhow::Result<ExitCode> = rt.block_on(async move {
        match action {
            PolicyAction::Validate { config, dir } => {
                let (cfg, base) = config.load()?;
                let dir = dir.unwrap_or_else(|| resolve(&base, &cfg.policy.dir));
                let catalogs = crate::catalog::Catalogs::new(
                    &cfg.gateway.organization_id,
                    &cfg.gateway.region,
                    cfg.environments.clone(),
                );
                match crate::authz::validate_dir(
                    &dir,
                    &cfg.gateway.organization_id,
                    Some(&catalogs),
                )
                .await
                {
                    Ok(summary) => {
                        println!("{summary}");
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(problems) => {
                        for p in problems {
                            println!("{p}");
                        }
                        Ok(ExitCode::from(1))
                    }
                }
            }
            PolicyAction::Diff { config, old, new } => {
                let (cfg, _) = config.load()?;
                match crate::authz::diff_policies(&old, &new, &cfg.gateway.organization_id).await {
                    Ok(diff) => {
                        print!("{diff}");
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(problems) => {
                        for p in problems {
                            println!("{p}");
                        }
                        Ok(ExitCode::from(1))
                    }
                }
            }
            PolicyAction::Test {
                config,
                policies,
                files,
            } => {
                let (cfg, _) = config.load()?;
                let report = crate::pipeline::tables::run_tables(&files, &policies, &cfg)
                    .await
                    .map_err(anyhow::Error::msg)?;
                print!("{report}");
                Ok(if report.failed() == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            }
        }
    });
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(2)
    })
}

/// `check`: 0 allow, 1 deny, 2 when the question itself cannot be answered (bad config,
/// unknown environment or pool, unreadable policy).
fn check(config: &ConfigArg, req: &crate::pipeline::CheckRequest, format: &str) -> ExitCode {
    let run = || -> anyhow::Result<crate::pipeline::CheckReport> {
        let (cfg, base) = config.load()?;
        let catalogs = std::sync::Arc::new(crate::catalog::Catalogs::new(
            &cfg.gateway.organization_id,
            &cfg.gateway.region,
            cfg.environments.clone(),
        ));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let authorizer = rt.block_on(crate::authz::Authorizer::load(
            &resolve(&base, &cfg.policy.dir),
            catalogs.clone(),
        ))?;
        let pools = crate::pipeline::Pools::new(
            cfg.compute_pools.clone(),
            &cfg.gateway.default_compute_pool,
        );
        let decider = crate::pipeline::Decider {
            authorizer: &authorizer,
            catalogs: &catalogs,
            limits: &cfg.sql,
            redact_sql: cfg.audit.redact_sql_literals,
            memo: None,
        };
        let mut report = crate::pipeline::check(&decider, &pools, req)?;
        // The filters and masks that do not fit their tables as they are now (the embedded
        // engine's tables, when its data directory exists; nothing is created).
        if !report.data_policies.is_empty() && base.join(&cfg.engine.data_dir).is_dir() {
            let engine = rt.block_on(crate::engine::EmbeddedEngine::open(
                &cfg.engine,
                &base,
                catalogs.clone(),
            ))?;
            let (_, data) = authorizer.data_policies();
            let fit = rt.block_on(crate::authz::TableFit::check(&engine, &data));
            crate::pipeline::policy_fit::annotate_with(&fit.misfits, &mut report);
        }
        Ok(report)
    };
    match run() {
        Ok(report) => {
            if format == "json" {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(2);
                    }
                }
            } else {
                print!("{report}");
            }
            if report.allowed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `--since`/`--until`: RFC 3339 or a span back from now.
fn parse_time_arg(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    crate::audit::parse_time(s, chrono::Utc::now())
}

/// Reads the log file by file, drawing a progress bar on stderr when it is a terminal and the
/// log is large (rotated files are at most `max_file_bytes`, so file granularity is enough).
fn query_with_progress(
    files: &[PathBuf],
    filter: &crate::audit::Filter,
) -> anyhow::Result<Vec<crate::audit::AuditRecord>> {
    use std::io::{IsTerminal, Write};
    const SHOW_ABOVE_BYTES: u64 = 16 * 1024 * 1024;
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .collect();
    let total: u64 = sizes.iter().sum();
    let show = total > SHOW_ABOVE_BYTES && std::io::stderr().is_terminal();
    let mut out = Vec::new();
    let mut read = 0u64;
    for (i, (file, size)) in files.iter().zip(&sizes).enumerate() {
        for r in crate::audit::query(std::slice::from_ref(file), filter) {
            out.push(r?);
        }
        read += size;
        if show {
            let done = (read * 40 / total.max(1)) as usize;
            eprint!(
                "\r[{}{}] {:3}% {}/{} files, {} matching",
                "#".repeat(done),
                " ".repeat(40 - done),
                read * 100 / total.max(1),
                i + 1,
                files.len(),
                out.len()
            );
            let _ = std::io::stderr().flush();
        }
    }
    if show {
        eprintln!();
    }
    Ok(out)
}
