//! Tools for security admins (`sqlgate policy validate | diff`): validate a policy directory,
//! and diff two of them in terms of who gains or loses which access. Decision tables
//! (`policy test`) run through the request path's decision: `crate::pipeline::tables`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use super::policy::{Policy, PolicyTexts};
use crate::catalog::Catalogs;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

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
}
