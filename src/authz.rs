//! Authorization: Confluent Cloud RBAC for Flink statements, with casbin for role semantics.
//!
//! Owns the policy files (casbin model, predefined roles, role bindings), the decision for each
//! (principal, object, action), the region rule, the read-only `examples` catalog, and the
//! [`AuthorizedStatement`] proof type that only this module can build. It does not parse or
//! resolve SQL (that is [`crate::sql`]) and it does not filter result rows.
//!
//! Rules:
//! 1. Running any statement needs FlinkDeveloper (or a role implying it: FlinkAdmin,
//!    EnvironmentAdmin, OrganizationAdmin) bound on the statement's environment, else
//!    [`AuthzError::NotAllowedToRun`].
//! 2. An object in a cluster of another region than the statement's → [`AuthzError::WrongRegion`],
//!    whatever the roles (the `examples` catalog has no region and is always fine).
//! 3. `examples` tables may be read, described and listed by anyone allowed to run statements;
//!    any write or DDL on them → [`AuthzError::ReadOnly`].
//! 4. Otherwise a binding of the principal whose CRN pattern covers the object's CRN must have a
//!    role that permits the action on that type of resource: DeveloperRead to read,
//!    DeveloperWrite to write, DeveloperManage to create/alter/drop (ResourceOwner and the admin
//!    roles imply them), any role to describe or list. Else [`AuthzError::Denied`].
//!
//! Decisions are memoized in a moka cache keyed by policy generation, so reloading the policy
//! never serves a stale decision.

mod error;
mod policy;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

pub use error::AuthzError;
use policy::Policy;

use crate::catalog::{Catalogs, Crn, ObjectRef, TableRef};
use crate::sql::{Action, ResolvedStatement};

/// How many decisions are memoized. A decision is small (a few strings); this bounds memory
/// while covering the working set of many principals × tables.
const DECISION_CACHE_CAPACITY: u64 = 100_000;

/// Where the policy lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Directory holding `model.conf`, `roles.csv` and `bindings.csv` (default `policies`,
    /// relative to the gateway's base directory).
    pub dir: PathBuf,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("policies"),
        }
    }
}

/// The outcome for one access, kept for logs and audit records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The object.
    pub object: ObjectRef,
    /// The action on it.
    pub action: Action,
    /// Whether it was allowed (an [`AuthorizedStatement`] holds only granted decisions).
    pub granted: bool,
    /// The role that granted it.
    pub role: Option<String>,
    /// The CRN pattern of the binding that granted it.
    pub binding: Option<String>,
    /// The role that was missing, when refused.
    pub missing: Option<String>,
}

/// A statement every access of which was allowed. Only [`Authorizer::authorize`] builds one.
#[derive(Debug, Clone)]
pub struct AuthorizedStatement {
    resolved: ResolvedStatement,
    decisions: Vec<Decision>,
    _proof: (),
}

impl AuthorizedStatement {
    /// The resolved statement that was authorized.
    pub fn resolved(&self) -> &ResolvedStatement {
        &self.resolved
    }

    /// One granted decision per access, in the order of [`ResolvedStatement::accesses`].
    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// Flink's statement kind.
    pub fn sql_kind(&self) -> &'static str {
        self.resolved.sql_kind()
    }

    /// Takes the statement apart (for `sql::rewrite`).
    pub fn into_parts(self) -> (ResolvedStatement, Vec<Decision>) {
        (self.resolved, self.decisions)
    }
}

/// A role and binding that granted something.
type Grant = Option<(String, String)>;

/// Memo key: policy generation, principal, object CRN, action.
type Key = (u64, String, String, &'static str);

/// One loaded policy and its generation number.
#[derive(Debug)]
struct State {
    generation: u64,
    policy: Policy,
}

/// Decides statements against the policy. Cheap to clone and share.
#[derive(Clone)]
pub struct Authorizer {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    catalogs: Arc<Catalogs>,
    state: RwLock<Arc<State>>,
    cache: moka::sync::Cache<Key, Grant>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("dir", &self.inner.dir)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    /// Loads and validates `model.conf`, `roles.csv` and `bindings.csv` from `dir`.
    pub async fn load(dir: &Path, catalogs: Arc<Catalogs>) -> Result<Self, AuthzError> {
        let policy = Policy::load(dir, catalogs.organization_id()).await?;
        Ok(Self::with_policy(dir, catalogs, policy))
    }

    /// Builds an authorizer from policy texts instead of files (tests, embedding).
    pub async fn from_texts(
        model: &str,
        roles: &str,
        bindings: &str,
        catalogs: Arc<Catalogs>,
    ) -> Result<Self, AuthzError> {
        let policy = Policy::from_texts(model, roles, bindings, catalogs.organization_id()).await?;
        Ok(Self::with_policy(Path::new(""), catalogs, policy))
    }

    fn with_policy(dir: &Path, catalogs: Arc<Catalogs>, policy: Policy) -> Self {
        Self {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                catalogs,
                state: RwLock::new(Arc::new(State {
                    generation: 0,
                    policy,
                })),
                cache: moka::sync::Cache::new(DECISION_CACHE_CAPACITY),
            }),
        }
    }

    /// Re-reads the policy directory and swaps the policy in atomically; on error the old
    /// policy stays. Memoized decisions of the old policy are dropped.
    pub async fn reload(&self) -> Result<(), AuthzError> {
        let policy = Policy::load(&self.inner.dir, self.inner.catalogs.organization_id()).await?;
        {
            let mut guard = self
                .inner
                .state
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let generation = guard.generation + 1;
            *guard = Arc::new(State { generation, policy });
        }
        self.inner.cache.invalidate_all();
        Ok(())
    }

    fn state(&self) -> Arc<State> {
        self.inner
            .state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The first binding of `principal` that covers `crn` and whose role permits `action`.
    fn grant(&self, state: &State, principal: &str, crn: &Crn, action: &'static str) -> Grant {
        let key = (
            state.generation,
            principal.to_string(),
            crn.to_string(),
            action,
        );
        if let Some(hit) = self.inner.cache.get(&key) {
            return hit;
        }
        let resource_type = crn.resource_type();
        let found = state
            .policy
            .bindings(principal)
            .iter()
            .find(|b| b.pattern.covers(crn) && state.policy.permits(&b.role, resource_type, action))
            .map(|b| (b.role.clone(), b.pattern.to_string()));
        self.inner.cache.insert(key, found.clone());
        found
    }

    /// Checks every access of `resolved` for `principal_id`, for a statement submitted to
    /// environment `statement_env` and running in `statement_region` (see the module doc).
    pub fn authorize(
        &self,
        principal_id: &str,
        resolved: ResolvedStatement,
        statement_env: &str,
        statement_region: &str,
    ) -> Result<AuthorizedStatement, AuthzError> {
        let state = self.state();
        let catalogs = &self.inner.catalogs;
        let env_crn = catalogs.crn(&ObjectRef::Catalog(statement_env.to_string()));
        let Some(run) = self.grant(&state, principal_id, &env_crn, "run") else {
            return Err(AuthzError::NotAllowedToRun {
                principal: principal_id.to_string(),
                environment: statement_env.to_string(),
                crn: env_crn.to_string(),
            });
        };
        let mut decisions = Vec::with_capacity(resolved.accesses().len());
        for access in resolved.accesses() {
            let object = &access.object;
            let action = access.action;
            if let Some(region) = region_of(catalogs, object)
                && !region.eq_ignore_ascii_case(statement_region)
            {
                return Err(AuthzError::WrongRegion {
                    object: Box::new(object.clone()),
                    object_region: region.to_string(),
                    statement_region: statement_region.to_string(),
                });
            }
            let by_run_role = || Decision {
                object: object.clone(),
                action,
                granted: true,
                role: Some(run.0.clone()),
                binding: Some(run.1.clone()),
                missing: None,
            };
            if is_examples(object) {
                if !matches!(action, Action::Read | Action::Describe | Action::List) {
                    return Err(AuthzError::ReadOnly {
                        object: Box::new(object.clone()),
                        action,
                    });
                }
                decisions.push(by_run_role());
                continue;
            }
            let crn = catalogs.crn(object);
            if let Some((role, binding)) = self.grant(&state, principal_id, &crn, action.as_str()) {
                decisions.push(Decision {
                    object: object.clone(),
                    action,
                    granted: true,
                    role: Some(role),
                    binding: Some(binding),
                    missing: None,
                });
            } else if *object == ObjectRef::Organization && action == Action::List {
                // Listing catalogs is part of running statements; what is listed is filtered
                // with `can_see`.
                decisions.push(by_run_role());
            } else {
                return Err(AuthzError::Denied {
                    principal: principal_id.to_string(),
                    object: Box::new(object.clone()),
                    action,
                    missing_role: missing_role(action).to_string(),
                    crn: crn.to_string(),
                });
            }
        }
        Ok(AuthorizedStatement {
            resolved,
            decisions,
            _proof: (),
        })
    }

    /// Whether the principal is OrganizationAdmin of the organization (may see every
    /// principal's statements).
    pub fn is_admin(&self, principal_id: &str) -> bool {
        let state = self.state();
        let org = self.inner.catalogs.crn(&ObjectRef::Organization);
        self.grant(&state, principal_id, &org, "admin").is_some()
    }

    /// Whether the principal has any role on the table (SHOW TABLES filtering). Tables of
    /// `examples` are visible to anyone who may run statements somewhere.
    pub fn can_see_table(&self, principal_id: &str, t: &TableRef) -> bool {
        self.can_see(principal_id, &ObjectRef::Table(t.clone()))
    }

    /// Whether the principal has any role on the object (SHOW CATALOGS / DATABASES / TABLES
    /// filtering, DESCRIBE).
    pub fn can_see(&self, principal_id: &str, object: &ObjectRef) -> bool {
        let state = self.state();
        if is_examples(object) {
            let catalogs = &self.inner.catalogs;
            return catalogs.environments().iter().any(|e| {
                let crn = catalogs.crn(&ObjectRef::Catalog(e.id.clone()));
                self.grant(&state, principal_id, &crn, "run").is_some()
            });
        }
        let crn = self.inner.catalogs.crn(object);
        self.grant(&state, principal_id, &crn, Action::Describe.as_str())
            .is_some()
    }
}

/// The region of the cluster an object lives in; `None` for objects above clusters and for
/// `examples`.
fn region_of<'c>(catalogs: &'c Catalogs, object: &ObjectRef) -> Option<&'c str> {
    match object {
        ObjectRef::Table(t) => catalogs.region_of(&t.catalog, &t.database),
        ObjectRef::Database(c, d) => catalogs.region_of(c, d),
        ObjectRef::Organization | ObjectRef::Catalog(_) => None,
    }
}

fn is_examples(object: &ObjectRef) -> bool {
    match object {
        ObjectRef::Table(t) => Catalogs::is_examples(&t.catalog),
        ObjectRef::Database(c, _) | ObjectRef::Catalog(c) => Catalogs::is_examples(c),
        ObjectRef::Organization => false,
    }
}

/// The least predefined role that permits `action` (for refusal messages).
fn missing_role(action: Action) -> &'static str {
    match action {
        Action::Read => "DeveloperRead",
        Action::Write => "DeveloperWrite",
        Action::Create | Action::Alter | Action::Drop => "DeveloperManage",
        Action::Describe | Action::List => "any role (e.g. Operator)",
    }
}
