//! Tools for security admins (the `sqlgate policy` subcommands): validate a policy directory,
//! diff two of them in terms of who gains or loses which access, and run decision tables.
//!
//! Decision tables are TOML files admins write next to the policy (`policies/tests/*.toml`):
//!
//! ```toml
//! [defaults]                 # optional; each case may override
//! catalog = "env-dev"        # session catalog (`sql.current-catalog`)
//! database = "lkc-dev"       # session database (`sql.current-database`)
//!
//! [[case]]
//! name = "developers read the tables of lkc-dev"
//! principal = "User:pool-dev"
//! sql = "SELECT * FROM orders"
//! expect = "allow"           # or "deny"
//! # code = "authz.denied"    # optional: the refusal's error code must match
//! ```
//!
//! Each case goes through the real stages: `sql::parse` → `sql::resolve` →
//! [`Authorizer::authorize`], with the statement's environment being the session catalog's
//! environment (the default compute pool's, for `examples`) and its region the default compute
//! pool's region. A parse or resolve error counts as a denial with that error's code.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::Authorizer;
use super::policy::{Policy, PolicyTexts};
use crate::catalog::Catalogs;
use crate::config::Config;
use crate::sql::{self, SessionNames};

/// Validates the policy of `dir` whole; `Ok` carries a one-line summary, `Err` every problem
/// as `file:line: message`. Without `catalogs` environment and cluster ids are not checked.
pub async fn validate_dir(
    dir: &Path,
    organization_id: &str,
    catalogs: Option<&Catalogs>,
) -> Result<String, Vec<String>> {
    let texts = PolicyTexts::read(dir)
        .await
        .map_err(|e| vec![e.to_string()])?;
    let policy = Policy::check(&texts, organization_id, catalogs).await?;
    Ok(format!(
        "{}: valid ({} bindable roles, {} role bindings)",
        dir.display(),
        policy.roles().len(),
        policy.records().len()
    ))
}

/// Who gains or loses what between two policies, by principal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyDiff {
    /// Principal → readable changes (`+ gains …`, `- loses …`, `~ …`).
    pub changes: BTreeMap<String, Vec<String>>,
}

impl PolicyDiff {
    /// Whether nobody's access changes.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

impl fmt::Display for PolicyDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            return writeln!(f, "no principal gains or loses access");
        }
        for (principal, lines) in &self.changes {
            writeln!(f, "{principal}")?;
            for l in lines {
                writeln!(f, "  {l}")?;
            }
        }
        Ok(())
    }
}

/// Compares the policies of two directories (each must be valid on its own; environment ids
/// are not checked, so historical policies can be compared).
pub async fn diff_policies(
    old: &Path,
    new: &Path,
    organization_id: &str,
) -> Result<PolicyDiff, Vec<String>> {
    let load = |dir: PathBuf| async move {
        let texts = PolicyTexts::read(&dir)
            .await
            .map_err(|e| vec![e.to_string()])?;
        Policy::check(&texts, organization_id, None)
            .await
            .map_err(|p| {
                p.into_iter()
                    .map(|m| format!("{}: {m}", dir.display()))
                    .collect::<Vec<_>>()
            })
    };
    let (a, b) = (
        load(old.to_path_buf()).await?,
        load(new.to_path_buf()).await?,
    );
    Ok(diff(&a, &b))
}

fn perm_list(perms: &BTreeSet<(&str, &str)>) -> String {
    perms
        .iter()
        .map(|(t, a)| format!("{a} on {t}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn diff(a: &Policy, b: &Policy) -> PolicyDiff {
    let mut d = PolicyDiff::default();
    let key =
        |r: &super::BindingRecord| (r.principal.clone(), r.role.clone(), r.pattern.to_string());
    let old: BTreeSet<_> = a.records().iter().map(key).collect();
    let new: BTreeSet<_> = b.records().iter().map(key).collect();
    for (p, role, pat) in old.difference(&new) {
        d.changes
            .entry(p.clone())
            .or_default()
            .push(format!("- loses {role} on {pat}"));
    }
    for (p, role, pat) in new.difference(&old) {
        d.changes
            .entry(p.clone())
            .or_default()
            .push(format!("+ gains {role} on {pat}"));
    }
    // Bindings kept whose role now permits something else.
    for (p, role, pat) in old.intersection(&new) {
        let (before, after) = (a.permissions(role), b.permissions(role));
        if before == after {
            continue;
        }
        let gained: BTreeSet<_> = after.difference(&before).copied().collect();
        let lost: BTreeSet<_> = before.difference(&after).copied().collect();
        let mut msg = format!("~ {role} on {pat} (role changed):");
        if !gained.is_empty() {
            msg.push_str(&format!(" now permits {}", perm_list(&gained)));
        }
        if !lost.is_empty() {
            if !gained.is_empty() {
                msg.push(';');
            }
            msg.push_str(&format!(" no longer permits {}", perm_list(&lost)));
        }
        d.changes.entry(p.clone()).or_default().push(msg);
    }
    d
}

/// Defaults of a decision table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDefaults {
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
    let pool = cfg
        .compute_pools
        .iter()
        .find(|p| p.id == cfg.gateway.default_compute_pool);
    let region = pool.map_or(cfg.gateway.region.as_str(), |p| p.region.as_str());
    let limits = cfg.sql.clone();
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
            let env = session
                .catalog
                .as_deref()
                .and_then(|c| catalogs.environment(c))
                .map(|e| e.id.clone())
                .or_else(|| pool.map(|p| p.environment.clone()))
                .unwrap_or_default();
            let version = authorizer.version();
            let decided = sql::parse(&case.sql, &limits)
                .map_err(|e| (e.code(), e.detail()))
                .and_then(|p| {
                    authorizer
                        .check_run(&principal, &env)
                        .map_err(|e| (e.code(), e.detail()))?;
                    sql::resolve_for(p, &catalogs, &session, &authorizer.view(&principal))
                        .map_err(|e| (e.code(), e.detail()))
                })
                .and_then(|r| {
                    authorizer
                        .authorize(&principal, r, &env, region)
                        .map_err(|e| (e.code(), e.detail()))
                });
            let (passed, got) = match (&decided, case.expect) {
                (Ok(a), want) => {
                    let via: Vec<String> = a
                        .decisions()
                        .iter()
                        .map(|d| {
                            format!(
                                "{} {} via {}",
                                d.action.as_str(),
                                d.object,
                                d.role.as_deref().unwrap_or("-")
                            )
                        })
                        .collect();
                    (want == Expect::Allow, format!("allow: {}", via.join("; ")))
                }
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

    fn catalogs(cfg: &Config) -> Catalogs {
        Catalogs::new(
            &cfg.gateway.organization_id,
            &cfg.gateway.region,
            cfg.environments.clone(),
        )
    }

    /// A copy of the shipped policy with `bindings` appended and `roles` appended.
    fn variant(extra_bindings: &str, extra_roles: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in ["model.conf", "roles.csv", "bindings.csv"] {
            std::fs::copy(shipped().join(f), dir.path().join(f)).unwrap();
        }
        let append = |f: &str, text: &str| {
            let p = dir.path().join(f);
            let mut s = std::fs::read_to_string(&p).unwrap();
            s.push_str(text);
            std::fs::write(p, s).unwrap();
        };
        append("bindings.csv", extra_bindings);
        append("roles.csv", extra_roles);
        dir
    }

    #[tokio::test]
    async fn validate_accepts_the_shipped_policy_and_lists_every_problem() {
        let cfg = config();
        let cats = catalogs(&cfg);
        let ok = validate_dir(&shipped(), "org-dev", Some(&cats))
            .await
            .unwrap();
        assert!(ok.contains("valid"), "{ok}");
        let bad = variant(
            "User:x, Nope, crn://confluent.cloud/organization=org-dev\nUser:y, Operator, crn://confluent.cloud/organization=org-dev/environment=env-zzz\n",
            "",
        );
        let problems = validate_dir(bad.path(), "org-dev", Some(&cats))
            .await
            .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("bindings.csv:") && problems[0].contains("unknown role `Nope`")
        );
        assert!(problems[1].contains("unknown environment `env-zzz`"));
        // Without catalogs, only syntax and roles are checked.
        let problems = validate_dir(bad.path(), "org-dev", None).await.unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[tokio::test]
    async fn diff_names_who_gains_and_loses_what() {
        let old = variant(
            "User:bob, DataSteward, crn://confluent.cloud/organization=org-dev/environment=env-dev\nUser:carol, Operator, crn://confluent.cloud/organization=org-dev\n",
            "",
        );
        let new = variant(
            "User:bob, DataSteward, crn://confluent.cloud/organization=org-dev/environment=env-dev\nUser:alice, DeveloperRead, crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=orders-*\n",
            "p, DataSteward, topic, write\n",
        );
        let d = diff_policies(old.path(), new.path(), "org-dev")
            .await
            .unwrap();
        let text = d.to_string();
        assert_eq!(d.changes.len(), 3, "{text}");
        assert!(text.contains("User:alice\n  + gains DeveloperRead on crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=orders-*"), "{text}");
        assert!(
            text.contains(
                "User:carol\n  - loses Operator on crn://confluent.cloud/organization=org-dev"
            ),
            "{text}"
        );
        assert!(text.contains("User:bob\n  ~ DataSteward on crn://confluent.cloud/organization=org-dev/environment=env-dev (role changed): now permits write on topic"), "{text}");
        let same = diff_policies(old.path(), old.path(), "org-dev")
            .await
            .unwrap();
        assert!(same.is_empty());
        assert_eq!(same.to_string(), "no principal gains or loses access\n");
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
