//! Role-binding administration: who may grant what where, and writing `bindings.csv` back.
//!
//! Delegated administration follows Confluent: a principal may create or delete a binding
//! when one of its own bindings has a role permitting `grant` (ResourceOwner and every role
//! implying it: CloudClusterAdmin, EnvironmentAdmin, OrganizationAdmin; see `roles.csv`) and
//! that binding's pattern covers the new binding's pattern entirely ([`pattern_covers`]).
//!
//! Writes hold the authorizer's admin lock from reading the file to swapping the new policy
//! in, so concurrent writes serialize and none is lost; the file is replaced atomically
//! ([`super::store::PolicyStore::write_bindings`]), and the new policy is in force when the
//! call returns. The watcher later sees the same content and does nothing.
//!
//! Binding ids are derived, not stored: `rb-` + 12 hex digits of SHA-256 over (principal,
//! role, pattern), so they survive restarts and hand edits. Lines written by the API carry a
//! `# created_at=<RFC 3339> by=<principal>` comment, which reviewers see in the diff.

use crate::error::ErrorCode;

use super::policy::{BINDINGS_FILE, Policy, PolicyTexts, ProbeModel, binding_id, check_scope};
use super::scope::pattern_covers;
use super::settle::Settled;
use super::{Authorizer, BindingRecord, State};
use crate::catalog::CrnPattern;

/// Why a role-binding change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// A field is malformed (principal, role or pattern).
    #[error("{0}")]
    Invalid(String),
    /// The caller administers no scope covering the binding.
    #[error("{actor} may not {verb} role {role} on {pattern}: {why}")]
    Forbidden {
        /// Who asked.
        actor: String,
        /// `grant` or `revoke`.
        verb: &'static str,
        /// The binding's role.
        role: String,
        /// The binding's pattern.
        pattern: String,
        /// What would be needed.
        why: String,
    },
    /// No binding with this id (or none the caller may see).
    #[error("role binding `{0}` not found")]
    NotFound(String),
    /// The same principal, role and pattern are bound already.
    #[error("principal {principal} already has role {role} on {pattern} (role binding {id})")]
    Duplicate {
        /// The existing binding's id.
        id: String,
        /// Principal.
        principal: String,
        /// Role.
        role: String,
        /// Pattern.
        pattern: String,
    },
    /// The files on disk do not validate with the change (someone's hand edit is broken).
    #[error("the policy files do not validate with this change: {0}")]
    PolicyInvalid(String),
    /// `bindings.csv` is being written on disk (by hand or a tool) and did not settle.
    #[error("{0}")]
    Busy(String),
    /// Reading or writing the file failed.
    #[error("could not write the role bindings: {0}")]
    Io(String),
}

impl BindingError {
    /// Stable error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            BindingError::Invalid(_) => ErrorCode::IamInvalidBinding,
            BindingError::Forbidden { .. } => ErrorCode::IamForbidden,
            BindingError::NotFound(_) => ErrorCode::IamBindingNotFound,
            BindingError::Duplicate { .. } => ErrorCode::IamDuplicateBinding,
            BindingError::PolicyInvalid(_) => ErrorCode::IamPolicyInvalid,
            BindingError::Busy(_) => ErrorCode::IamPolicyBusy,
            BindingError::Io(_) => ErrorCode::Internal,
        }
    }
}

/// Filters of the role-bindings list (each `None` matches everything).
#[derive(Debug, Clone, Default)]
pub struct BindingFilter {
    /// Exact principal.
    pub principal: Option<String>,
    /// Exact role name.
    pub role: Option<String>,
    /// Scope: bindings whose pattern this pattern covers entirely.
    pub scope: Option<CrnPattern>,
}

impl Authorizer {
    /// The actor's binding (role, pattern) that lets it administer `pattern`, if any.
    fn admin_binding(state: &State, actor: &str, pattern: &CrnPattern) -> Option<(String, String)> {
        let rtype = pattern
            .segments()
            .last()
            .map(|(k, _)| k.as_str())
            .unwrap_or("");
        state
            .policy
            .bindings(actor)
            .iter()
            .find(|b| {
                pattern_covers(&b.pattern, pattern) && state.policy.permits(&b.role, rtype, "grant")
            })
            .map(|b| (b.role.clone(), b.pattern.to_string()))
    }

    /// Whether `actor` may grant and revoke bindings on `pattern`.
    pub fn can_administer(&self, actor: &str, pattern: &CrnPattern) -> bool {
        Self::admin_binding(&self.state(), actor, pattern).is_some()
    }

    /// The bindings `actor` may see (those it administers, and its own) matching `filter`,
    /// sorted by id, with the policy version they come from.
    pub fn list_bindings(&self, actor: &str, filter: &BindingFilter) -> (u64, Vec<BindingRecord>) {
        let state = self.state();
        let mut out: Vec<BindingRecord> = state
            .policy
            .records()
            .iter()
            .filter(|r| {
                filter.principal.as_ref().is_none_or(|p| *p == r.principal)
                    && filter.role.as_ref().is_none_or(|x| *x == r.role)
                    && filter
                        .scope
                        .as_ref()
                        .is_none_or(|s| pattern_covers(s, &r.pattern))
                    && (r.principal == actor
                        || Self::admin_binding(&state, actor, &r.pattern).is_some())
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        (state.version, out)
    }

    /// One binding, if `actor` may see it.
    pub fn get_binding(&self, actor: &str, id: &str) -> Option<BindingRecord> {
        let state = self.state();
        state
            .policy
            .records()
            .iter()
            .find(|r| r.id == id)
            .filter(|r| {
                r.principal == actor || Self::admin_binding(&state, actor, &r.pattern).is_some()
            })
            .cloned()
    }

    /// Grants `role` on `pattern` to `principal` on behalf of `actor`; the binding is in force
    /// when this returns (with the new policy version).
    pub async fn create_binding(
        &self,
        actor: &str,
        principal: &str,
        role: &str,
        pattern: &str,
        now: &str,
    ) -> Result<(BindingRecord, u64), BindingError> {
        check_principal(principal)?;
        let pattern: CrnPattern = pattern
            .trim()
            .parse()
            .map_err(|e: crate::catalog::CrnError| BindingError::Invalid(e.to_string()))?;
        let _admin = self.inner.admin.lock().await;
        let state = self.state();
        if !state.policy.roles().contains(role) {
            return Err(BindingError::Invalid(format!(
                "unknown role `{role}`; roles: {}",
                state
                    .policy
                    .roles()
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let catalogs = &self.inner.catalogs;
        check_scope(&pattern, catalogs.organization_id(), Some(catalogs))
            .map_err(BindingError::Invalid)?;
        if Self::admin_binding(&state, actor, &pattern).is_none() {
            return Err(forbidden(actor, "grant", role, &pattern));
        }
        let id = binding_id(principal, role, &pattern);
        let duplicate = || BindingError::Duplicate {
            id: id.clone(),
            principal: principal.to_string(),
            role: role.to_string(),
            pattern: pattern.to_string(),
        };
        if state.policy.records().iter().any(|r| r.id == id) {
            return Err(duplicate());
        }
        let on_disk = self.bindings_on_disk(&state).await?;
        let mut text = on_disk;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!(
            "{principal}, {role}, {pattern}  # created_at={now} by={actor}\n"
        ));
        let texts = PolicyTexts {
            model: state.texts.model.clone(),
            roles: state.texts.roles.clone(),
            bindings: text,
            data_policies: state.texts.data_policies.clone(),
        };
        let policy = self.validate_candidate(&texts).await?;
        let record = policy
            .records()
            .iter()
            .find(|r| r.id == id)
            .cloned()
            .ok_or_else(duplicate)?;
        self.inner.store.write_bindings(&texts.bindings).await?;
        let version = self.swap(policy, texts);
        Ok((record, version))
    }

    /// Deletes binding `id` on behalf of `actor`; effective when this returns.
    pub async fn delete_binding(
        &self,
        actor: &str,
        id: &str,
    ) -> Result<(BindingRecord, u64), BindingError> {
        let _admin = self.inner.admin.lock().await;
        let state = self.state();
        let record = state
            .policy
            .records()
            .iter()
            .find(|r| r.id == id)
            .cloned()
            .ok_or_else(|| BindingError::NotFound(id.to_string()))?;
        if Self::admin_binding(&state, actor, &record.pattern).is_none() {
            if record.principal != actor {
                // Bindings the caller may not see are not found, as in the list.
                return Err(BindingError::NotFound(id.to_string()));
            }
            return Err(forbidden(actor, "revoke", &record.role, &record.pattern));
        }
        let on_disk = self.bindings_on_disk(&state).await?;
        let (text, removed) = remove_binding_lines(&on_disk, id);
        if removed == 0 {
            return Err(BindingError::PolicyInvalid(format!(
                "{BINDINGS_FILE} no longer holds role binding {id}; the file was edited and not yet reloaded"
            )));
        }
        let texts = PolicyTexts {
            model: state.texts.model.clone(),
            roles: state.texts.roles.clone(),
            bindings: text,
            data_policies: state.texts.data_policies.clone(),
        };
        let policy = self.validate_candidate(&texts).await?;
        self.inner.store.write_bindings(&texts.bindings).await?;
        let version = self.swap(policy, texts);
        Ok((record, version))
    }

    /// `bindings.csv` as on disk, to write the change on top of (a hand edit not yet reloaded
    /// is kept). When it differs from the text in force it may be half-written, so it is used
    /// only once it has settled (see `settle.rs`); callers hold the admin lock.
    async fn bindings_on_disk(&self, state: &State) -> Result<String, BindingError> {
        let on_disk = self.inner.store.read_bindings().await?;
        if on_disk == state.texts.bindings {
            return Ok(on_disk);
        }
        let clock = super::settle::TokioClock::start();
        match super::settle::read_settled(&*self.inner.store, self.inner.settle, &clock).await {
            Settled::Stable(Ok(texts)) => Ok(texts.bindings),
            Settled::Stable(Err(e)) => Err(BindingError::PolicyInvalid(e.to_string())),
            Settled::StillChanging { file, waited } => Err(BindingError::Busy(format!(
                "{file} is being changed on disk (it kept changing for {}); the role binding \
                 was not changed, retry when the write has finished",
                humantime::format_duration(std::time::Duration::from_millis(
                    u64::try_from(waited.as_millis()).unwrap_or(u64::MAX)
                ))
            ))),
        }
    }

    async fn validate_candidate(&self, texts: &PolicyTexts) -> Result<Policy, BindingError> {
        let catalogs = &self.inner.catalogs;
        // Model and roles are those in force (only bindings change here).
        let probe = ProbeModel::unless_same(texts, &self.state().texts);
        Policy::check_with(texts, catalogs.organization_id(), Some(catalogs), probe)
            .await
            .map_err(|problems| BindingError::PolicyInvalid(problems.join("; ")))
    }
}

fn forbidden(actor: &str, verb: &'static str, role: &str, pattern: &CrnPattern) -> BindingError {
    BindingError::Forbidden {
        actor: actor.to_string(),
        verb,
        role: role.to_string(),
        pattern: pattern.to_string(),
        why: "that requires a binding of ResourceOwner, CloudClusterAdmin, EnvironmentAdmin or OrganizationAdmin (or another role permitting `grant`) whose pattern covers it entirely".into(),
    }
}

/// Principals follow the one grammar of `auth::principal_id` (also applied to `bindings.csv`).
fn check_principal(p: &str) -> Result<(), BindingError> {
    crate::auth::principal_id::check(p).map_err(|e| BindingError::Invalid(e.to_string()))
}

/// `text` without the lines holding binding `id`, and how many were removed. Comments and
/// every other line are kept as they are.
fn remove_binding_lines(text: &str, id: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut removed = 0;
    for line in text.split_inclusive('\n') {
        if line_binding_id(line).as_deref() == Some(id) {
            removed += 1;
        } else {
            out.push_str(line);
        }
    }
    (out, removed)
}

/// The id of the binding on a `bindings.csv` line, if it holds a well-formed one.
fn line_binding_id(line: &str) -> Option<String> {
    let data = line.split('#').next().unwrap_or("").trim();
    let fields: Vec<&str> = data.split(',').map(str::trim).collect();
    let [principal, role, pattern] = fields.as_slice() else {
        return None;
    };
    let pattern: CrnPattern = pattern.parse().ok()?;
    Some(binding_id(principal, role, &pattern))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_a_binding_keeps_every_other_line() {
        let p = "crn://confluent.cloud/organization=o/environment=e";
        let pattern: CrnPattern = p.parse().unwrap();
        let id = binding_id("User:a", "Operator", &pattern);
        let text = format!(
            "# header\nUser:a, Operator, {p}  # created_at=x by=User:z\nUser:b, Operator, {p}\n"
        );
        let (out, n) = remove_binding_lines(&text, &id);
        assert_eq!(n, 1);
        assert_eq!(out, format!("# header\nUser:b, Operator, {p}\n"));
    }

    #[test]
    fn principals_must_be_user_ids() {
        assert!(check_principal("User:u-1").is_ok());
        assert!(check_principal("User:sa-1").is_ok());
        for bad in [
            "",
            "User:",
            "u-1",
            "User:a,b",
            "User:a#b",
            "User:a\nb",
            "User:a b",
            "Group:g",
        ] {
            assert!(check_principal(bad).is_err(), "{bad:?}");
        }
    }
}
