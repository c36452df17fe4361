//! The policy files and their in-memory form.
//!
//! * `model.conf`: the casbin model. A request is `(role, resource type, action)`; a policy line
//!   `p, role, type, action` grants it; `g, role, implied` makes a role imply another.
//! * `roles.csv`: the predefined and custom roles as casbin `p` and `g` lines. Roles whose name
//!   starts with `_` are internal building blocks and cannot be bound.
//! * `bindings.csv`: role bindings, one `principal, role, crn_pattern` a line, optionally
//!   followed by a `# created_at=… by=…` comment (the iam/v2 API writes one).
//!
//! Scope (which objects a binding applies to) is decided by [`CrnPattern::covers`], not by
//! casbin; casbin only answers "does this role permit this action on this type of resource".
//! Bindings are indexed by principal so a decision looks at that principal's bindings only.
//!
//! Validation is whole-policy and reports every problem with `file:line`: syntax, unknown
//! roles, malformed CRN patterns, patterns for another organization, and literal environment
//! or cluster ids that the gateway's [`Catalogs`] does not know.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

use casbin::{CoreApi, DefaultModel, Enforcer, StringAdapter};
use sha2::{Digest, Sha256};

use super::AuthzError;
use crate::catalog::{Catalogs, CrnPattern};

/// File names inside the policy directory.
pub(super) const MODEL_FILE: &str = "model.conf";
/// See the module doc.
pub(super) const ROLES_FILE: &str = "roles.csv";
/// See the module doc.
pub(super) const BINDINGS_FILE: &str = "bindings.csv";

/// Resource types the model knows (innermost CRN segment kinds the gateway decides on).
pub(super) const RESOURCE_TYPES: &[&str] = &["organization", "environment", "kafka", "topic"];
/// Actions the gateway asks casbin about.
pub(super) const ACTIONS: &[&str] = &[
    "read",
    "write",
    "create",
    "alter",
    "drop",
    "describe",
    "list",
    "run",
    "admin",
    "grant",
    "audit_read",
];

/// One role binding of a principal.
#[derive(Debug, Clone)]
pub(super) struct Binding {
    pub(super) role: String,
    pub(super) pattern: CrnPattern,
}

/// One line of `bindings.csv`, as the iam/v2 API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingRecord {
    /// `rb-` + 12 hex digits of SHA-256 over (principal, role, pattern): stable across
    /// restarts and across hand edits that keep the line.
    pub id: String,
    /// `User:…`.
    pub principal: String,
    /// Role name (defined in `roles.csv`).
    pub role: String,
    /// Where the role applies.
    pub pattern: CrnPattern,
    /// 1-based line in `bindings.csv`.
    pub line: usize,
    /// From the line's `# created_at=…` comment, when it has one (RFC 3339).
    pub created_at: Option<String>,
}

/// The three files' contents, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyTexts {
    /// `model.conf`.
    pub model: String,
    /// `roles.csv`.
    pub roles: String,
    /// `bindings.csv`.
    pub bindings: String,
}

impl PolicyTexts {
    /// Reads the three files of `dir`.
    pub async fn read(dir: &Path) -> Result<Self, AuthzError> {
        Ok(Self {
            model: read(dir, MODEL_FILE).await?,
            roles: read(dir, ROLES_FILE).await?,
            bindings: read(dir, BINDINGS_FILE).await?,
        })
    }

    /// Content hash: equal texts are the same policy (reloads of unchanged files are no-ops).
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for t in [&self.model, &self.roles, &self.bindings] {
            h.update((t.len() as u64).to_le_bytes());
            h.update(t.as_bytes());
        }
        h.finalize().into()
    }
}

/// Roles, their permissions and every principal's bindings.
pub(super) struct Policy {
    enforcer: Enforcer,
    bindings: HashMap<String, Vec<Binding>>,
    records: Vec<BindingRecord>,
    roles: BTreeSet<String>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("principals", &self.bindings.len())
            .field("bindings", &self.records.len())
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// Builds the policy from file contents, reporting the first problems in one error.
    /// `catalogs: None` skips the environment/cluster check (diffs of historical policies).
    pub(super) async fn from_texts(
        texts: &PolicyTexts,
        organization_id: &str,
        catalogs: Option<&Catalogs>,
    ) -> Result<Self, AuthzError> {
        Self::check(texts, organization_id, catalogs)
            .await
            .map_err(|problems| AuthzError::Policy(problems.join("; ")))
    }

    /// Like [`Policy::from_texts`] but returns every problem found, each `file:line: message`.
    pub(super) async fn check(
        texts: &PolicyTexts,
        organization_id: &str,
        catalogs: Option<&Catalogs>,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let (role_lines, bindable) = parse_roles(&texts.roles, &mut problems);
        let model = match DefaultModel::from_str(&texts.model).await {
            Ok(m) => Some(m),
            Err(e) => {
                problems.push(located(MODEL_FILE, 0, &e.to_string()));
                None
            }
        };
        let (index, records) = parse_bindings(
            &texts.bindings,
            &bindable,
            organization_id,
            catalogs,
            &mut problems,
        );
        let Some(model) = model else {
            return Err(problems);
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        let adapter = StringAdapter::new(role_lines.join("\n"));
        let enforcer = Enforcer::new(model, adapter)
            .await
            .map_err(|e| vec![located(ROLES_FILE, 0, &e.to_string())])?;
        Ok(Self {
            enforcer,
            bindings: index,
            records,
            roles: bindable,
        })
    }

    /// Whether `role` permits `action` on a resource of type `resource_type` (the innermost
    /// CRN segment kind: `organization`, `environment`, `kafka`, `topic`). Errors deny.
    pub(super) fn permits(&self, role: &str, resource_type: &str, action: &str) -> bool {
        self.enforcer
            .enforce((role, resource_type, action))
            .unwrap_or(false)
    }

    /// The bindings of one principal.
    pub(super) fn bindings(&self, principal: &str) -> &[Binding] {
        self.bindings
            .get(principal)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Every binding, in file order.
    pub(super) fn records(&self) -> &[BindingRecord] {
        &self.records
    }

    /// The bindable role names.
    pub(super) fn roles(&self) -> &BTreeSet<String> {
        &self.roles
    }

    /// Every (resource type, action) `role` permits, for diffs.
    pub(super) fn permissions(&self, role: &str) -> BTreeSet<(&'static str, &'static str)> {
        let mut out = BTreeSet::new();
        for t in RESOURCE_TYPES {
            for a in ACTIONS {
                if self.permits(role, t, a) {
                    out.insert((*t, *a));
                }
            }
        }
        out
    }
}

/// The stable id of a binding (see [`BindingRecord::id`]).
pub(super) fn binding_id(principal: &str, role: &str, pattern: &CrnPattern) -> String {
    let mut h = Sha256::new();
    for part in [principal, role, &pattern.to_string()] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    format!("rb-{}", &hex::encode(digest)[..12])
}

async fn read(dir: &Path, file: &str) -> Result<String, AuthzError> {
    let path = dir.join(file);
    tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| AuthzError::Policy(format!("cannot read {}: {e}", path.display())))
}

fn located(file: &str, line: usize, msg: &str) -> String {
    if line == 0 {
        format!("{file}: {msg}")
    } else {
        format!("{file}:{line}: {msg}")
    }
}

/// One meaningful line of a CSV policy file.
struct CsvLine<'a> {
    /// 1-based line number.
    n: usize,
    /// Trimmed fields.
    fields: Vec<&'a str>,
    /// The trailing `# …` comment, if any.
    comment: Option<&'a str>,
}

/// The meaningful lines of a CSV policy file. `#` starts a comment anywhere on a line (no
/// field, role name or CRN contains one).
fn csv_lines(text: &str) -> impl Iterator<Item = CsvLine<'_>> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let (data, comment) = match line.split_once('#') {
            Some((d, c)) => (d, Some(c.trim())),
            None => (line, None),
        };
        let data = data.trim();
        (!data.is_empty()).then(|| CsvLine {
            n: i + 1,
            fields: data.split(',').map(str::trim).collect(),
            comment,
        })
    })
}

/// Validates `roles.csv`; returns its lines normalized for casbin and the bindable role names.
fn parse_roles(text: &str, problems: &mut Vec<String>) -> (Vec<String>, BTreeSet<String>) {
    let mut lines = Vec::new();
    let mut roles = BTreeSet::new();
    for CsvLine { n, fields, .. } in csv_lines(text) {
        if fields.iter().any(|f| f.is_empty()) {
            problems.push(located(ROLES_FILE, n, "empty field"));
            continue;
        }
        match fields.as_slice() {
            ["p", role, _rtype, _action] => {
                roles.insert(role.to_string());
            }
            ["g", role, implied] => {
                roles.insert(role.to_string());
                roles.insert(implied.to_string());
            }
            _ => {
                problems.push(located(
                    ROLES_FILE,
                    n,
                    "expected `p, role, resource_type, action` or `g, role, implied_role`",
                ));
                continue;
            }
        }
        lines.push(fields.join(", "));
    }
    if lines.is_empty() && problems.is_empty() {
        problems.push(located(ROLES_FILE, 0, "defines no roles"));
    }
    roles.retain(|r| !r.starts_with('_'));
    (lines, roles)
}

/// Validates `bindings.csv` and indexes it by principal.
fn parse_bindings(
    text: &str,
    roles: &BTreeSet<String>,
    organization_id: &str,
    catalogs: Option<&Catalogs>,
    problems: &mut Vec<String>,
) -> (HashMap<String, Vec<Binding>>, Vec<BindingRecord>) {
    let mut index: HashMap<String, Vec<Binding>> = HashMap::new();
    let mut records: Vec<BindingRecord> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for CsvLine { n, fields, comment } in csv_lines(text) {
        let mut bad = |msg: &str| problems.push(located(BINDINGS_FILE, n, msg));
        let [principal, role, pattern] = fields.as_slice() else {
            bad("expected `principal, role, crn_pattern`");
            continue;
        };
        if principal.is_empty() {
            bad("empty principal");
            continue;
        }
        if !roles.contains(*role) {
            bad(&format!(
                "unknown role `{role}` (roles are defined in {ROLES_FILE})"
            ));
            continue;
        }
        let pattern: CrnPattern = match pattern.parse() {
            Ok(p) => p,
            Err(e) => {
                bad(&e.to_string());
                continue;
            }
        };
        if let Err(msg) = check_scope(&pattern, organization_id, catalogs) {
            bad(&msg);
            continue;
        }
        let id = binding_id(principal, role, &pattern);
        if let Some(first) = seen.insert(id.clone(), n) {
            bad(&format!("duplicate of the binding on line {first}"));
            continue;
        }
        records.push(BindingRecord {
            id,
            principal: principal.to_string(),
            role: role.to_string(),
            pattern: pattern.clone(),
            line: n,
            created_at: comment.and_then(created_at),
        });
        index
            .entry(principal.to_string())
            .or_default()
            .push(Binding {
                role: role.to_string(),
                pattern,
            });
    }
    (index, records)
}

/// `created_at=<rfc3339>` from a trailing comment.
fn created_at(comment: &str) -> Option<String> {
    comment
        .split_whitespace()
        .find_map(|w| w.strip_prefix("created_at="))
        .map(str::to_string)
}

/// The pattern's organization must be ours; its literal environment and cluster ids must be
/// configured (a binding to an environment that does not exist is a typo that would silently
/// grant nothing, or grant something later when an environment of that id is added).
pub(super) fn check_scope(
    pattern: &CrnPattern,
    organization_id: &str,
    catalogs: Option<&Catalogs>,
) -> Result<(), String> {
    if let Some(org) = pattern.literal_value("organization")
        && org != organization_id
    {
        return Err(format!(
            "pattern is for organization `{org}`, this gateway serves `{organization_id}`"
        ));
    }
    let Some(catalogs) = catalogs else {
        return Ok(());
    };
    let Some(env) = pattern.literal_value("environment") else {
        return Ok(());
    };
    if !catalogs.environments().iter().any(|e| e.id == env) {
        return Err(format!(
            "unknown environment `{env}` (configured: {})",
            catalogs
                .environments()
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let cloud = pattern.literal_value("cloud-cluster");
    let kafka = pattern.literal_value("kafka");
    if let (Some(c), Some(k)) = (cloud, kafka)
        && c != k
    {
        return Err(format!(
            "cloud-cluster `{c}` and kafka `{k}` differ (a cluster CRN repeats its id)"
        ));
    }
    if let Some(cluster) = cloud.or(kafka)
        && catalogs.cluster(env, cluster).is_none()
    {
        return Err(format!(
            "unknown cluster `{cluster}` in environment `{env}`"
        ));
    }
    Ok(())
}
