//! Dry-run decisions for security admins: `sqlgate check` and `POST /sqlgate/v1/check`.
//!
//! Owns turning (principal, catalog, database, SQL) into a [`CheckReport`]: the decision, the
//! stage that refused, each object with its action and the binding that granted it or the role
//! that is missing, the region check, and the SQL the engine would receive. It runs the same
//! parse, resolve and authorization code as the request path and never runs a statement.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::authz::{Authorizer, Outcome};
use crate::catalog::Catalogs;
use crate::sql::{self, ParseLimits, SessionNames, SqlError};

/// What to decide about.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The principal, e.g. `User:pool-dev`.
    pub principal: String,
    /// Current catalog (`sql.current-catalog`), id or display name.
    pub catalog: String,
    /// Current database (`sql.current-database`), id or display name.
    #[serde(default)]
    pub database: Option<String>,
    /// The SQL text.
    pub sql: String,
}

/// Where the statement would run.
#[derive(Debug, Clone)]
pub struct Placement {
    /// Environment the statement is submitted to.
    pub environment: String,
    /// Region of its compute pool.
    pub region: String,
}

/// One object of the statement and its verdict.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckedObject {
    /// e.g. ``table `env-dev`.`lkc-dev`.`orders` ``.
    pub name: String,
    /// `read`, `write`, `create`, … or `run` for the environment.
    pub action: String,
    /// Whether it is allowed.
    pub granted: bool,
    /// What granted it: `ROLE on PATTERN`.
    pub by: Option<String>,
    /// Why not: the missing role and where, the region, or read-only.
    pub missing: Option<String>,
}

/// Why the statement was refused before authorization.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckError {
    /// Stable error code.
    pub code: String,
    /// For people.
    pub message: String,
    /// 1-based line of a parse error.
    pub line: Option<u64>,
    /// 1-based column of a parse error.
    pub column: Option<u64>,
}

/// The decision and its explanation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckReport {
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// Where it was refused: `parse`, `resolve`, `region`, `authorize`; `None` when allowed.
    pub stage: Option<&'static str>,
    /// The principal.
    pub principal: String,
    /// Environment and region the statement would run in.
    pub environment: String,
    /// The statement's region.
    pub region: String,
    /// Flink's statement kind, once parsed.
    pub sql_kind: Option<String>,
    /// Every object with its verdict (the run permission first).
    pub objects: Vec<CheckedObject>,
    /// The SQL the engine would receive, when allowed.
    pub rewritten: Option<String>,
    /// Parse, resolve or authorization error.
    pub error: Option<CheckError>,
    /// Policy version decided with.
    pub policy_version: Option<u64>,
}

impl CheckReport {
    /// Whether the statement would be allowed.
    pub fn allowed(&self) -> bool {
        self.decision == "allow"
    }
}

/// Decides about `req` without running anything.
pub fn check(
    authorizer: &Authorizer,
    catalogs: &Catalogs,
    limits: &ParseLimits,
    placement: &Placement,
    req: &CheckRequest,
) -> CheckReport {
    let mut report = CheckReport {
        decision: "deny",
        stage: None,
        principal: req.principal.clone(),
        environment: placement.environment.clone(),
        region: placement.region.clone(),
        sql_kind: None,
        objects: Vec::new(),
        rewritten: None,
        error: None,
        policy_version: None,
    };
    let parsed = match sql::parse(&req.sql, limits) {
        Ok(p) => p,
        Err(e) => {
            let (line, column) = match &e {
                SqlError::Parse { line, column, .. } => (*line, *column),
                _ => (None, None),
            };
            report.stage = Some("parse");
            report.error = Some(CheckError {
                code: e.code().into(),
                message: e.detail(),
                line,
                column,
            });
            return report;
        }
    };
    let session = SessionNames {
        catalog: Some(req.catalog.clone()),
        database: req.database.clone(),
    };
    // As on the request path: a principal who may not run statements here is refused before
    // its names are resolved (the report still lists the objects, resolved for the admin).
    let may_run = authorizer.check_run(&req.principal, &placement.environment);
    let view = authorizer.view(&req.principal);
    let visible: &dyn crate::catalog::Visibility = match &may_run {
        Ok(()) => &view,
        Err(_) => &crate::catalog::Everything,
    };
    let resolved = match sql::resolve_for(parsed, catalogs, &session, visible) {
        Ok(r) => r,
        Err(e) => {
            let (stage, code, message) = match may_run {
                Err(refused) => ("authorize", refused.code(), refused.detail()),
                Ok(()) => ("resolve", e.code(), e.detail()),
            };
            report.stage = Some(stage);
            report.error = Some(CheckError {
                code: code.into(),
                message,
                line: None,
                column: None,
            });
            return report;
        }
    };
    report.sql_kind = Some(resolved.sql_kind().to_string());
    let ev = authorizer.explain(
        &req.principal,
        &resolved,
        &placement.environment,
        &placement.region,
    );
    report.policy_version = Some(ev.version);
    report.objects.push(CheckedObject {
        name: format!("environment {}", ev.environment),
        action: "run".into(),
        granted: ev.run.is_some(),
        by: ev.run.as_ref().map(|(role, b)| format!("{role} on {b}")),
        missing: ev.run.is_none().then(|| {
            format!(
                "FlinkDeveloper (or FlinkAdmin, EnvironmentAdmin, OrganizationAdmin) on {}",
                ev.environment_crn
            )
        }),
    });
    for a in &ev.accesses {
        let (by, missing) = match &a.outcome {
            Outcome::Granted { role, binding } => (Some(format!("{role} on {binding}")), None),
            Outcome::WrongRegion { object_region } => (
                None,
                Some(format!(
                    "region: the object is in {object_region}, the statement runs in {}",
                    ev.region
                )),
            ),
            Outcome::ReadOnly => (
                None,
                Some("read-only: the examples catalog cannot be changed".into()),
            ),
            Outcome::Denied { missing_role, crn } => (
                None,
                Some(format!(
                    "{missing_role} (or a role that implies it) on {crn}"
                )),
            ),
        };
        report.objects.push(CheckedObject {
            name: a.object.to_string(),
            action: a.action.as_str().into(),
            granted: a.outcome.is_granted(),
            by,
            missing,
        });
    }
    // The same code the request path runs decides; the evaluation above only explains it.
    match authorizer.authorize(
        &req.principal,
        resolved,
        &placement.environment,
        &placement.region,
    ) {
        Ok(authorized) => match sql::rewrite(authorized) {
            Ok(rewritten) => {
                report.decision = "allow";
                report.rewritten = Some(rewritten.sql());
            }
            Err(e) => {
                report.stage = Some("authorize");
                report.error = Some(CheckError {
                    code: e.code().into(),
                    message: e.detail(),
                    line: None,
                    column: None,
                });
            }
        },
        Err(e) => {
            report.stage = Some(match e {
                crate::authz::AuthzError::WrongRegion { .. } => "region",
                _ => "authorize",
            });
            report.error = Some(CheckError {
                code: e.code().into(),
                message: e.detail(),
                line: None,
                column: None,
            });
        }
    }
    report
}

/// The human-readable form printed by `sqlgate check --format text`.
impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.allowed() { "ALLOW" } else { "DENY" };
        write!(f, "{verdict}")?;
        if let Some(stage) = self.stage {
            write!(f, " (refused at {stage})")?;
        }
        writeln!(
            f,
            ": {} in environment {} (region {})",
            self.principal, self.environment, self.region
        )?;
        if let Some(kind) = &self.sql_kind {
            writeln!(f, "  statement kind: {kind}")?;
        }
        if let Some(v) = self.policy_version {
            writeln!(f, "  policy version: {v}")?;
        }
        for o in &self.objects {
            let mark = if o.granted { "✓" } else { "✗" };
            write!(f, "  {mark} {} {}", o.action, o.name)?;
            if let Some(by) = &o.by {
                write!(f, "  — granted by {by}")?;
            }
            if let Some(m) = &o.missing {
                write!(f, "  — missing: {m}")?;
            }
            writeln!(f)?;
        }
        if let Some(e) = &self.error {
            write!(f, "  error {}: {}", e.code, e.message)?;
            if let (Some(l), Some(c)) = (e.line, e.column) {
                write!(f, " (line {l}, column {c})")?;
            }
            writeln!(f)?;
        }
        if let Some(sql) = &self.rewritten {
            writeln!(f, "  engine receives: {sql}")?;
        }
        Ok(())
    }
}

/// Where a statement on `catalog` would run: the environment is the catalog's when it is an
/// environment (otherwise, as for `examples`, the compute pool's), the region the pool's.
pub fn placement(
    catalogs: &Catalogs,
    pools: &[crate::config::ComputePoolConfig],
    default_pool: &str,
    catalog: &str,
    pool: Option<&str>,
) -> Result<Placement, String> {
    let pool_id = pool.unwrap_or(default_pool);
    let pool = pools
        .iter()
        .find(|p| p.id == pool_id)
        .ok_or_else(|| format!("compute pool `{pool_id}` is not configured"))?;
    let environment = catalogs
        .environment(catalog)
        .map(|e| e.id.clone())
        .unwrap_or_else(|| pool.environment.clone());
    Ok(Placement {
        environment,
        region: pool.region.clone(),
    })
}
