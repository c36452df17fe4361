//! Dry-run decisions for security admins: `sqlgate check` and `POST /sqlgate/v1/check`.
//!
//! Owns turning (principal, environment, compute pool, catalog, database, SQL) into a
//! [`CheckReport`]: the decision, the stage that refused, each object with its action and the
//! binding that granted it or the role that is missing, the region check, and the SQL the engine
//! would receive. The decision is [`super::decide`]'s, the very function the request path
//! runs, with the same [`super::Pools::place`] rule; the objects come from the evaluation that
//! decided. It never runs a statement.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::decide::{self, Decided, Decider, Refusal, Request};
use super::placement::{PlacementError, Pools};
use crate::authz::{Claims, Evaluation, Outcome};
use crate::sql::{SessionNames, SqlError};

/// What to decide about.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The principal, e.g. `User:pool-dev`.
    pub principal: String,
    /// The environment the statement is submitted to (the URL's `{env}` on the request path),
    /// id or display name. Default: the current catalog, when it is an environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// The compute pool (`spec.compute_pool_id`); default: the gateway's default pool.
    #[serde(default)]
    pub compute_pool: Option<String>,
    /// Current catalog (`sql.current-catalog`), id or display name.
    pub catalog: String,
    /// Current database (`sql.current-database`), id or display name.
    #[serde(default)]
    pub database: Option<String>,
    /// The SQL text.
    pub sql: String,
    /// The claims the principal's token would carry, for row filters and column masks that
    /// use `{{claims.NAME}}` (default none: such a filter is then false).
    #[serde(default)]
    pub claims: Claims,
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

/// The row filters and column masks applied to one table.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckedDataPolicies {
    /// e.g. `` `env-dev`.`lkc-dev`.`orders` ``.
    pub table: String,
    /// The row filters' names (ANDed).
    pub row_filters: Vec<String>,
    /// The column masks: name and column.
    pub column_masks: Vec<CheckedMask>,
    /// The filters and masks on the table that do not fit it as it is now (a table changed
    /// after the policy loaded): reads through them are refused. Empty when all fit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<String>,
}

/// One column mask applied.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckedMask {
    /// The mask's name.
    pub name: String,
    /// The column it masks.
    pub column: String,
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
    /// The row filters and column masks applied to each table read, by name, when allowed.
    pub data_policies: Vec<CheckedDataPolicies>,
    /// The SQL the engine would receive, when allowed (with the row filters and column masks
    /// in it: for administrators, never shown to callers).
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

/// Decides about `req` without running anything. `Err` when it cannot be placed (an unknown
/// environment or compute pool), which the request path answers with 404.
pub fn check(
    d: &Decider<'_>,
    pools: &Pools,
    req: &CheckRequest,
) -> Result<CheckReport, PlacementError> {
    let environment = req
        .environment
        .clone()
        .unwrap_or_else(|| req.catalog.clone());
    let placement = pools.place(d.catalogs, &environment, req.compute_pool.as_deref())?;
    let request = Request {
        principal: req.principal.clone(),
        text: req.sql.clone(),
        session: SessionNames {
            catalog: Some(req.catalog.clone()),
            database: req.database.clone(),
        },
        placement,
        claims: req.claims.clone(),
    };
    let decided = decide::decide(d, &request);
    Ok(report(d, &request, decided))
}

fn report(d: &Decider<'_>, req: &Request, decided: Decided) -> CheckReport {
    let mut report = CheckReport {
        decision: "deny",
        stage: None,
        principal: req.principal.clone(),
        environment: req.placement.environment.clone(),
        region: req.placement.region.clone(),
        sql_kind: decided.kind.map(str::to_string),
        objects: Vec::new(),
        data_policies: Vec::new(),
        rewritten: None,
        error: None,
        policy_version: decided.policy_version,
    };
    let evaluation = match (&decided.evaluation, &decided.outcome) {
        (Some(_), _) => decided.evaluation,
        // Refused before authorization ran (a non-runner): list the objects anyway.
        (None, Err(Refusal::Authorize(_))) => decide::objects_for_report(d, req, false),
        (None, _) => None,
    };
    if let Some(ev) = &evaluation {
        report.objects = objects(ev);
    }
    match decided.outcome {
        Ok(rewritten) => {
            report.decision = "allow";
            report.rewritten = Some(rewritten.sql());
            report.data_policies = rewritten
                .data_policies()
                .iter()
                .map(|a| CheckedDataPolicies {
                    table: a.table.to_string(),
                    row_filters: a.row_filters.clone(),
                    column_masks: a
                        .column_masks
                        .iter()
                        .map(|(name, column)| CheckedMask {
                            name: name.clone(),
                            column: column.clone(),
                        })
                        .collect(),
                    mismatches: Vec::new(),
                })
                .collect();
        }
        Err(refusal) => {
            if report.objects.is_empty() && matches!(refusal, Refusal::Authorize(_)) {
                report.objects.push(run_object(req, None));
            }
            let (line, column) = match &refusal {
                Refusal::Parse(SqlError::Parse { line, column, .. }) => (*line, *column),
                _ => (None, None),
            };
            let (code, message) = refusal.code_and_detail();
            report.stage = Some(refusal.stage());
            report.error = Some(CheckError {
                code: code.into(),
                message,
                line,
                column,
            });
        }
    }
    report
}

/// The run permission on the environment, then every access, as the evaluation judged them.
fn objects(ev: &Evaluation) -> Vec<CheckedObject> {
    let mut out = vec![CheckedObject {
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
    }];
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
        out.push(CheckedObject {
            name: a.object.to_string(),
            action: a.action.as_str().into(),
            granted: a.outcome.is_granted(),
            by,
            missing,
        });
    }
    out
}

/// The run permission alone, refused (when nothing could be resolved to list).
fn run_object(req: &Request, by: Option<String>) -> CheckedObject {
    CheckedObject {
        name: format!("environment {}", req.placement.environment),
        action: "run".into(),
        granted: by.is_some(),
        by,
        missing: Some("FlinkDeveloper (or FlinkAdmin, EnvironmentAdmin, OrganizationAdmin)".into()),
    }
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
        for p in &self.data_policies {
            writeln!(f, "  data policies on {}:", p.table)?;
            for name in &p.row_filters {
                writeln!(f, "    row filter {name}")?;
            }
            for m in &p.column_masks {
                writeln!(f, "    column mask {} on {}", m.name, m.column)?;
            }
            for m in &p.mismatches {
                writeln!(f, "    MISMATCH (reads refused): {m}")?;
            }
        }
        if let Some(sql) = &self.rewritten {
            writeln!(f, "  engine receives: {sql}")?;
        }
        Ok(())
    }
}
