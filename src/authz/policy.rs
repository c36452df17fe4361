//! The policy files and their in-memory form.
//!
//! * `model.conf`: the casbin model. A request is `(role, resource type, action)`; a policy line
//!   `p, role, type, action` grants it; `g, role, implied` makes a role imply another.
//! * `roles.csv`: the predefined roles as casbin `p` and `g` lines. Roles whose name starts
//!   with `_` are internal building blocks and cannot be bound.
//! * `bindings.csv`: role bindings, one `principal, role, crn_pattern` a line.
//!
//! Scope (which objects a binding applies to) is decided by [`CrnPattern::covers`], not by
//! casbin; casbin only answers "does this role permit this action on this type of resource".
//! Bindings are indexed by principal so a decision looks at that principal's bindings only.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

use casbin::{CoreApi, DefaultModel, Enforcer, StringAdapter};

use super::AuthzError;
use crate::catalog::CrnPattern;

/// File names inside the policy directory.
pub(super) const MODEL_FILE: &str = "model.conf";
/// See the module doc.
pub(super) const ROLES_FILE: &str = "roles.csv";
/// See the module doc.
pub(super) const BINDINGS_FILE: &str = "bindings.csv";

/// One role binding of a principal.
#[derive(Debug, Clone)]
pub(super) struct Binding {
    pub(super) role: String,
    pub(super) pattern: CrnPattern,
}

/// Roles, their permissions and every principal's bindings.
pub(super) struct Policy {
    enforcer: Enforcer,
    bindings: HashMap<String, Vec<Binding>>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("principals", &self.bindings.len())
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// Reads and validates the three files of `dir`.
    pub(super) async fn load(dir: &Path, organization_id: &str) -> Result<Self, AuthzError> {
        let model_text = read(dir, MODEL_FILE).await?;
        let roles_text = read(dir, ROLES_FILE).await?;
        let bindings_text = read(dir, BINDINGS_FILE).await?;
        Self::from_texts(&model_text, &roles_text, &bindings_text, organization_id).await
    }

    /// Builds the policy from file contents (for tests and for `load`).
    pub(super) async fn from_texts(
        model: &str,
        roles: &str,
        bindings: &str,
        organization_id: &str,
    ) -> Result<Self, AuthzError> {
        let (role_lines, bindable) = parse_roles(roles)?;
        let model = DefaultModel::from_str(model)
            .await
            .map_err(|e| policy_err(MODEL_FILE, 0, &e.to_string()))?;
        let adapter = StringAdapter::new(role_lines.join("\n"));
        let enforcer = Enforcer::new(model, adapter)
            .await
            .map_err(|e| policy_err(ROLES_FILE, 0, &e.to_string()))?;
        let bindings = parse_bindings(bindings, &bindable, organization_id)?;
        Ok(Self { enforcer, bindings })
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
}

async fn read(dir: &Path, file: &str) -> Result<String, AuthzError> {
    let path = dir.join(file);
    tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| AuthzError::Policy(format!("cannot read {}: {e}", path.display())))
}

fn policy_err(file: &str, line: usize, msg: &str) -> AuthzError {
    if line == 0 {
        AuthzError::Policy(format!("{file}: {msg}"))
    } else {
        AuthzError::Policy(format!("{file}:{line}: {msg}"))
    }
}

/// The meaningful lines of a CSV policy file: (1-based line number, trimmed fields).
fn csv_lines(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let line = line.trim();
        (!line.is_empty() && !line.starts_with('#'))
            .then(|| (i + 1, line.split(',').map(str::trim).collect()))
    })
}

/// Validates `roles.csv`; returns its lines normalized for casbin and the bindable role names.
fn parse_roles(text: &str) -> Result<(Vec<String>, BTreeSet<String>), AuthzError> {
    let mut lines = Vec::new();
    let mut roles = BTreeSet::new();
    for (n, fields) in csv_lines(text) {
        if fields.iter().any(|f| f.is_empty()) {
            return Err(policy_err(ROLES_FILE, n, "empty field"));
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
                return Err(policy_err(
                    ROLES_FILE,
                    n,
                    "expected `p, role, resource_type, action` or `g, role, implied_role`",
                ));
            }
        }
        lines.push(fields.join(", "));
    }
    if lines.is_empty() {
        return Err(policy_err(ROLES_FILE, 0, "defines no roles"));
    }
    roles.retain(|r| !r.starts_with('_'));
    Ok((lines, roles))
}

/// Validates `bindings.csv` and indexes it by principal.
fn parse_bindings(
    text: &str,
    roles: &BTreeSet<String>,
    organization_id: &str,
) -> Result<HashMap<String, Vec<Binding>>, AuthzError> {
    let mut index: HashMap<String, Vec<Binding>> = HashMap::new();
    for (n, fields) in csv_lines(text) {
        let [principal, role, pattern] = fields.as_slice() else {
            return Err(policy_err(
                BINDINGS_FILE,
                n,
                "expected `principal, role, crn_pattern`",
            ));
        };
        if principal.is_empty() {
            return Err(policy_err(BINDINGS_FILE, n, "empty principal"));
        }
        if !roles.contains(*role) {
            return Err(policy_err(
                BINDINGS_FILE,
                n,
                &format!("unknown role `{role}` (roles are defined in {ROLES_FILE})"),
            ));
        }
        let pattern: CrnPattern = pattern
            .parse()
            .map_err(|e: crate::catalog::CrnError| policy_err(BINDINGS_FILE, n, &e.to_string()))?;
        if let Some(org) = pattern.literal_value("organization")
            && org != organization_id
        {
            return Err(policy_err(
                BINDINGS_FILE,
                n,
                &format!(
                    "pattern is for organization `{org}`, this gateway serves `{organization_id}`"
                ),
            ));
        }
        index
            .entry(principal.to_string())
            .or_default()
            .push(Binding {
                role: role.to_string(),
                pattern,
            });
    }
    Ok(index)
}
