//! Decision tables (`sqlgate policy test`): TOML files admins write next to the policy
//! (`policies/tests/*.toml`), each case decided by [`super::decide`], the request path's own
//! decision, with the same placement rule.
//!
//! ```toml
//! [defaults]                 # optional; each case may override
//! catalog = "env-dev"        # session catalog (`sql.current-catalog`)
//! database = "lkc-dev"       # session database (`sql.current-database`)
//! # environment = "env-dev"  # the URL's environment (default: the catalog, when it is one)
//! # compute_pool = "lfcp-dev" # default: the gateway's default pool
//!
//! [[case]]
//! name = "developers read the tables of lkc-dev"
//! principal = "User:pool-dev"
//! sql = "SELECT * FROM orders"
//! expect = "allow"           # or "deny"
//! # code = "authz.denied"    # optional: the refusal's error code must match
//! ```
//!
//! A parse or resolve error counts as a denial with that error's code.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::{Decider, Pools, Request, decide};
use crate::authz::Authorizer;
use crate::catalog::Catalogs;
use crate::config::Config;
use crate::sql::SessionNames;

/// Defaults of a decision table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDefaults {
    /// The environment the statement is submitted to.
    pub environment: Option<String>,
    /// Its compute pool.
    pub compute_pool: Option<String>,
    /// Session catalog.
    pub catalog: Option<String>,
    /// Session database.
    pub database: Option<String>,
    /// Principal.
    pub principal: Option<String>,
}

/// One decision an admin expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionCase {
    /// What the case checks, in words.
    pub name: String,
    /// `User:…` (or from the defaults).
    pub principal: Option<String>,
    /// The environment the statement is submitted to (or from the defaults; else the
    /// catalog, when it is an environment).
    pub environment: Option<String>,
    /// Its compute pool (or from the defaults; else the gateway's default pool).
    pub compute_pool: Option<String>,
    /// Session catalog (or from the defaults).
    pub catalog: Option<String>,
    /// Session database (or from the defaults).
    pub database: Option<String>,
    /// The statement.
    pub sql: String,
    /// `allow` or `deny`.
    pub expect: Expect,
    /// For `deny`: the error code the refusal must have.
    pub code: Option<String>,
}

/// The expected outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Every access granted.
    Allow,
    /// Refused (by parse, resolve or authorize).
    Deny,
}

/// A decision-table file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionTable {
    /// Defaults for every case.
    #[serde(default)]
    pub defaults: TableDefaults,
    /// The cases.
    #[serde(default)]
    pub case: Vec<DecisionCase>,
}

/// Reads and parses one decision-table file.
pub fn load_table(path: &Path) -> Result<DecisionTable, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let t: DecisionTable = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if t.case.is_empty() {
        return Err(format!("{}: no [[case]] in this file", path.display()));
    }
    Ok(t)
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseOutcome {
    /// File it came from.
    pub file: String,
    /// The case's name.
    pub name: String,
    /// Whether it matched the expectation.
    pub passed: bool,
    /// What happened: `allow (…)` or `deny code: detail`.
    pub got: String,
    /// Policy version the decision used.
    pub policy_version: u64,
}

/// The results of every case of every file.
#[derive(Debug, Clone, Default)]
pub struct TestReport {
    /// In file order, then case order.
    pub cases: Vec<CaseOutcome>,
}

impl TestReport {
    /// How many failed.
    pub fn failed(&self) -> usize {
        self.cases.iter().filter(|c| !c.passed).count()
    }
}

impl fmt::Display for TestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut file = "";
        for c in &self.cases {
            if c.file != file {
                file = &c.file;
                writeln!(f, "{file}:")?;
            }
            let verdict = if c.passed { "PASS" } else { "FAIL" };
            writeln!(f, "  {}: {verdict} ({})", c.name, c.got)?;
        }
        let total = self.cases.len();
        let failed = self.failed();
        writeln!(f, "{}", "-".repeat(80))?;
        writeln!(f, "PASS: {}/{total}", total - failed)?;
        if failed > 0 {
            writeln!(f, "FAIL: {failed}/{total}")?;
        }
        Ok(())
    }
}

/// Runs decision tables against the policy of `policies`, with the catalogs, compute pools and
/// parse limits of `cfg`. `Err` when a file or the policy cannot be loaded at all.
pub async fn run_tables(
    files: &[PathBuf],
    policies: &Path,
    cfg: &Config,
) -> Result<TestReport, String> {
    let catalogs = Arc::new(Catalogs::new(
        &cfg.gateway.organization_id,
        &cfg.gateway.region,
        cfg.environments.clone(),
    ));
    let authorizer = Authorizer::load(policies, catalogs.clone())
        .await
        .map_err(|e| e.to_string())?;
    let pools = Pools::new(cfg.compute_pools.clone(), &cfg.gateway.default_compute_pool);
    let decider = Decider {
        authorizer: &authorizer,
        catalogs: &catalogs,
        limits: &cfg.sql,
        redact_sql: cfg.audit.redact_sql_literals,
        memo: None,
    };
    let mut report = TestReport::default();
    for file in files {
        let table = load_table(file)?;
        for case in &table.case {
            let d = &table.defaults;
            let principal = case
                .principal
                .clone()
                .or_else(|| d.principal.clone())
                .ok_or_else(|| {
                    format!("{}: case `{}` has no principal", file.display(), case.name)
                })?;
            let session = SessionNames {
                catalog: case.catalog.clone().or_else(|| d.catalog.clone()),
                database: case.database.clone().or_else(|| d.database.clone()),
            };
            let environment = case
                .environment
                .clone()
                .or_else(|| d.environment.clone())
                .or_else(|| session.catalog.clone())
                .unwrap_or_default();
            let pool = case.compute_pool.clone().or_else(|| d.compute_pool.clone());
            let placement = pools
                .place(&catalogs, &environment, pool.as_deref())
                .map_err(|e| format!("{}: case `{}`: {e}", file.display(), case.name))?;
            let decided = decide(
                &decider,
                &Request {
                    principal,
                    text: case.sql.clone(),
                    session,
                    placement,
                    claims: Default::default(),
                },
            );
            let version = decided
                .policy_version
                .unwrap_or_else(|| authorizer.version());
            let decided = decided.outcome.map_err(|r| r.code_and_detail());
            let (passed, got) = match (&decided, case.expect) {
                (Ok(a), want) => (
                    want == Expect::Allow,
                    format!("allow: {}", super::describe(a.decisions())),
                ),
                (Err((code, detail)), want) => (
                    want == Expect::Deny && case.code.as_deref().is_none_or(|c| *code == c),
                    format!("deny {code}: {detail}"),
                ),
            };
            let got = if passed {
                got
            } else {
                let want = match (case.expect, &case.code) {
                    (Expect::Allow, _) => "allow".to_string(),
                    (Expect::Deny, Some(c)) => format!("deny {c}"),
                    (Expect::Deny, None) => "deny".to_string(),
                };
                format!("expected {want}, got {got}")
            };
            report.cases.push(CaseOutcome {
                file: file.display().to_string(),
                name: case.name.clone(),
                passed,
                got,
                policy_version: version,
            });
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
    }

    fn config() -> Config {
        Config::default_config().unwrap()
    }

    #[tokio::test]
    async fn shipped_decision_tables_pass() {
        let files: Vec<PathBuf> = std::fs::read_dir(shipped().join("tests"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        assert!(!files.is_empty());
        let report = run_tables(&files, &shipped(), &config()).await.unwrap();
        assert_eq!(report.failed(), 0, "{report}");
        assert!(report.cases.len() >= 10);
        assert!(report.to_string().contains("PASS: "));
    }

    #[tokio::test]
    async fn failing_cases_are_reported_with_what_happened() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            r#"
[defaults]
catalog = "env-dev"
database = "lkc-dev"
principal = "User:pool-dev"

[[case]]
name = "wrongly expects a denial"
sql = "SELECT * FROM orders"
expect = "deny"

[[case]]
name = "wrong code"
principal = "User:stranger"
sql = "SELECT 1"
expect = "deny"
code = "authz.denied"

[[case]]
name = "right"
principal = "User:stranger"
sql = "SELECT 1"
expect = "deny"
"#,
        )
        .unwrap();
        let report = run_tables(std::slice::from_ref(&file), &shipped(), &config())
            .await
            .unwrap();
        assert_eq!(report.failed(), 2, "{report}");
        let text = report.to_string();
        assert!(
            text.contains("wrongly expects a denial: FAIL (expected deny, got allow: read"),
            "{text}"
        );
        assert!(
            text.contains(
                "wrong code: FAIL (expected deny authz.denied, got deny authz.not_allowed_to_run"
            ),
            "{text}"
        );
        assert!(text.contains("right: PASS"), "{text}");
        assert!(text.contains("FAIL: 2/3"), "{text}");
        // Malformed tables are errors, not failures.
        std::fs::write(&file, "[[case]]\nname = 1\n").unwrap();
        assert!(run_tables(&[file], &shipped(), &config()).await.is_err());
    }
}
