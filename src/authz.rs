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
//! Decisions are memoized in a moka cache keyed by policy version, so reloading the policy
//! never serves a stale decision.
//!
//! Policy administration (this module also owns it):
//! * Versions: the policy in force is one immutable snapshot with a version number (1 at
//!   startup, +1 per change). Each decision takes one snapshot and uses it throughout, so a
//!   decision is never made against a half-loaded policy; the version is recorded in
//!   [`Warrant::policy_version`], [`Decision::policy_version`] and
//!   [`DecisionEvent`].
//! * Reload ([`Authorizer::reload`] in `reload.rs`, the watcher in `watch.rs`): the three files
//!   are read once they have stopped changing (`settle.rs`: a file written in place is never
//!   applied half-written), validated whole (`policy.rs`, `model_check.rs`), then swapped in
//!   atomically; an invalid policy is refused and the last good one stays in force
//!   ([`Authorizer::status`] shows the refusal). Reloads, API writes and
//!   swaps are serialized by one async lock; unchanged content is a no-op.
//! * Role bindings ([`Authorizer::create_binding`], [`Authorizer::delete_binding`]): delegated
//!   administration (`bindings.rs`), written back to `bindings.csv` atomically.
//! * Storage ([`PolicyStore`] in `store.rs`): reads of the three texts and the atomic bindings
//!   write go through it; [`FilePolicyStore`] is the policy directory.
//! * Tools for admins (`tools.rs`): validate, diff.

mod bindings;
mod data_policy;
mod error;
mod evaluate;
mod hooks;
mod model_check;
mod policy;
mod proof;
mod reload;
mod scope;
mod settle;
mod store;
mod tools;
mod watch;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod validation_tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use bindings::{BindingError, BindingFilter};
pub use data_policy::fit::{
    FitReport, Misfit, TableFit, TableShape, column_misfits, expression_misfit,
};
pub use data_policy::{Applying, Claims, ColumnMask, DataPolicies, RowFilter, Template};
pub use error::{AuthzError, PolicyError};
pub use evaluate::{Evaluated, Evaluation, Outcome};
pub use hooks::{AUDIT_TARGET, binding_changed, binding_refused, report_reload};
pub use policy::EMPTY_BINDINGS_MARKER;
use policy::Policy;
pub use policy::{BindingRecord, PolicyTexts};
pub use proof::{AuthorizedStatement, Warrant};
pub use scope::pattern_covers;
pub use settle::Settle;
pub use store::{FilePolicyStore, Look, PolicyStore};
pub use tools::{PolicyDiff, diff_policies, validate_dir};
pub use watch::{WatchConfig, spawn_watcher};

use crate::catalog::{Catalogs, Crn, ObjectRef, Placement, TableRef};
use crate::sql::{Action, ResolvedStatement};

/// How many decisions are memoized. A decision is small (a few strings); this bounds memory
/// while covering the working set of many principals × tables.
const DECISION_CACHE_CAPACITY: u64 = 100_000;

/// Where the policy lives and how changes to it are picked up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Directory holding `model.conf`, `roles.csv` and `bindings.csv` (default `policies`,
    /// relative to the gateway's base directory).
    pub dir: PathBuf,
    /// How long the policy files must stay unchanged (length, times and content) before a
    /// reload applies them, so a file an editor or `cp` is still writing in place is never
    /// in force. Longer than the longest pause of a writer in the middle of a file; `0s`
    /// reads at once (only for directories written by renames). A reload gives up after
    /// five periods of change (see `settle.rs`).
    #[serde(with = "humantime_serde")]
    pub reload_settle: Duration,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("policies"),
            reload_settle: Settle::default().period,
        }
    }
}

impl PolicyConfig {
    /// The settle rule of [`PolicyConfig::reload_settle`].
    pub fn settle(&self) -> Settle {
        Settle {
            period: self.reload_settle,
            ..Settle::default()
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
    /// The version of the policy the decision was made against.
    pub policy_version: u64,
}

/// One decision on a statement, granted or refused, for observers (tests, audit): the policy
/// version it was made against and what it was about. Sent to [`Authorizer::subscribe`]rs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionEvent {
    /// Version of the policy the decision used.
    pub policy_version: u64,
    /// Who asked.
    pub principal: String,
    /// The statement's environment.
    pub environment: String,
    /// Whether every access was granted.
    pub granted: bool,
    /// `authz.granted` or the refusal's error code.
    pub code: &'static str,
    /// Each access as `action object` (e.g. `read env-dev.lkc-dev.orders`).
    pub accesses: Vec<String>,
}

/// The policy in force and the outcome of the last reload attempt (for `/readyz`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyStatus {
    /// Version in force.
    pub version: u64,
    /// Why the last reload was refused; `None` when the files on disk are in force.
    pub last_error: Option<String>,
}

/// What a reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// A new policy is in force, with this version.
    Applied(u64),
    /// The files hold the policy already in force (this version).
    Unchanged(u64),
    /// The files hold the same invalid content that was refused before; still this version.
    AlreadyRejected(u64),
}

/// A role and binding that granted something.
type Grant = Option<(String, String)>;

/// Memo key: policy version, principal, object CRN, action.
type Key = (u64, String, String, &'static str);

/// A [`Key`] by reference, so a memo hit copies neither the principal's id nor the CRN's
/// text ([`Crn::as_str`]) into an owned key. It hashes as the tuple does (each
/// field in order), which moka's lookup by [`moka::Equivalent`] requires.
struct KeyRef<'a>(u64, &'a str, &'a str, &'static str);

impl std::hash::Hash for KeyRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.hash(h);
        self.1.hash(h);
        self.2.hash(h);
        self.3.hash(h);
    }
}

impl moka::Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.0 == key.0 && self.1 == key.1 && self.2 == key.2 && self.3 == key.3
    }
}

/// How many decision events are buffered for a slow subscriber before it starts missing some.
const DECISION_EVENTS_CAPACITY: usize = 16_384;

/// One loaded policy, immutable, with its version and the texts it was built from.
#[derive(Debug)]
struct State {
    version: u64,
    policy: Policy,
    texts: PolicyTexts,
    digest: [u8; 32],
}

/// Serialized by [`Inner::admin`]: what reloads and API writes need to remember.
#[derive(Debug, Default)]
struct AdminState {
    /// Digest of the last content refused, so a content refused once is not reported again
    /// by every watcher event or poll.
    rejected: Option<[u8; 32]>,
}

/// Decides statements against the policy. Cheap to clone and share.
#[derive(Clone)]
pub struct Authorizer {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    /// Where the texts are read from and the bindings written to (the files of `dir`).
    store: Arc<dyn PolicyStore>,
    catalogs: Arc<Catalogs>,
    /// How long files must stay unchanged before a reload (or an API write on top of a hand
    /// edit) uses them.
    settle: Settle,
    /// The policy in force. Readers clone the `Arc` and drop the lock at once, so a decision
    /// never waits for a reload and always sees one whole policy.
    state: RwLock<Arc<State>>,
    cache: moka::sync::Cache<Key, Grant>,
    /// Serializes reloads and role-binding writes (read files → validate → write → swap), so
    /// concurrent API writes lose nothing and the watcher never races an API write.
    admin: tokio::sync::Mutex<AdminState>,
    /// Why the last reload was refused (cleared when the files on disk are in force).
    last_error: RwLock<Option<String>>,
    /// Decision events for observers; sending without subscribers costs nothing.
    events: tokio::sync::broadcast::Sender<DecisionEvent>,
    /// The version in force, sent on every swap (reloads and iam/v2 writes alike).
    versions: tokio::sync::watch::Sender<u64>,
    /// The tables reloads check new data-policy entries against, once the engines are open.
    fit: std::sync::OnceLock<Arc<dyn TableFit>>,
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
    /// Loads and validates `model.conf`, `roles.csv` and `bindings.csv` from `dir`
    /// (version 1); reloads wait for the default [`Settle`].
    pub async fn load(dir: &Path, catalogs: Arc<Catalogs>) -> Result<Self, PolicyError> {
        Self::load_with(dir, catalogs, Settle::default()).await
    }

    /// [`Authorizer::load`] with the settle rule reloads use. The files are read once: at
    /// startup there is no last good policy to keep, and what a cut file usually looks like
    /// (empty, a broken last line) is refused by validation.
    pub async fn load_with(
        dir: &Path,
        catalogs: Arc<Catalogs>,
        settle: Settle,
    ) -> Result<Self, PolicyError> {
        let texts = PolicyTexts::read(dir).await?;
        let policy =
            Policy::from_texts(&texts, catalogs.organization_id(), Some(&catalogs)).await?;
        Ok(Self::with_policy(dir, catalogs, policy, texts, settle))
    }

    /// Builds an authorizer from policy texts instead of files (tests, embedding).
    pub async fn from_texts(
        model: &str,
        roles: &str,
        bindings: &str,
        catalogs: Arc<Catalogs>,
    ) -> Result<Self, PolicyError> {
        let texts = PolicyTexts {
            model: model.to_string(),
            roles: roles.to_string(),
            bindings: bindings.to_string(),
            data_policies: String::new(),
        };
        let policy =
            Policy::from_texts(&texts, catalogs.organization_id(), Some(&catalogs)).await?;
        Ok(Self::with_policy(
            Path::new(""),
            catalogs,
            policy,
            texts,
            Settle::default(),
        ))
    }

    /// [`Authorizer::from_texts`] with every text given, `data-policies.toml` included.
    pub async fn from_policy_texts(
        texts: PolicyTexts,
        catalogs: Arc<Catalogs>,
    ) -> Result<Self, PolicyError> {
        let policy =
            Policy::from_texts(&texts, catalogs.organization_id(), Some(&catalogs)).await?;
        Ok(Self::with_policy(
            Path::new(""),
            catalogs,
            policy,
            texts,
            Settle::default(),
        ))
    }

    /// The row filters and column masks in force, with their policy version.
    pub fn data_policies(&self) -> (u64, Arc<DataPolicies>) {
        let state = self.state();
        (state.version, state.policy.data_policies().clone())
    }

    fn with_policy(
        dir: &Path,
        catalogs: Arc<Catalogs>,
        policy: Policy,
        texts: PolicyTexts,
        settle: Settle,
    ) -> Self {
        let digest = texts.digest();
        Self {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                store: Arc::new(FilePolicyStore::new(dir)),
                catalogs,
                settle,
                state: RwLock::new(Arc::new(State {
                    version: 1,
                    policy,
                    texts,
                    digest,
                })),
                cache: moka::sync::Cache::new(DECISION_CACHE_CAPACITY),
                admin: tokio::sync::Mutex::new(AdminState::default()),
                last_error: RwLock::new(None),
                events: tokio::sync::broadcast::channel(DECISION_EVENTS_CAPACITY).0,
                versions: tokio::sync::watch::channel(1).0,
                fit: std::sync::OnceLock::new(),
            }),
        }
    }

    /// From now on, reloads refuse a new or changed row filter or column mask that does not
    /// fit a table `fit` knows and the entry covers (the first call wins).
    pub fn check_tables_with(&self, fit: Arc<dyn TableFit>) {
        let _ = self.inner.fit.set(fit);
    }

    /// How the data policies in force fit the tables now (`None` before
    /// [`Authorizer::check_tables_with`]).
    pub async fn data_policy_fit(&self) -> Option<(u64, FitReport)> {
        let fit = self.inner.fit.get()?.clone();
        let (version, data) = self.data_policies();
        Some((version, fit.check(&data).await))
    }

    /// The policy directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The resource model bindings are checked against.
    pub fn catalogs(&self) -> &Arc<Catalogs> {
        &self.inner.catalogs
    }

    /// The version of the policy in force. To know the version a given decision used, read
    /// its [`Warrant::policy_version`] or [`Authorizer::authorize_versioned`]: the policy may
    /// change between two calls.
    pub fn version(&self) -> u64 {
        self.state().version
    }

    /// Version in force and the last reload refusal, for `/readyz`.
    pub fn status(&self) -> PolicyStatus {
        PolicyStatus {
            version: self.version(),
            last_error: self
                .inner
                .last_error
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    /// Whether anyone is subscribed to the decision events ([`Self::subscribe`]): then every
    /// decision must be made, none answered from a memo, so each one is seen.
    pub fn observed(&self) -> bool {
        self.inner.events.receiver_count() > 0
    }

    /// Every decision from now on, with the policy version it used.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<DecisionEvent> {
        self.inner.events.subscribe()
    }

    /// Puts `policy` in force as the next version; memoized decisions of the old one are
    /// dropped. Callers hold [`Inner::admin`].
    fn swap(&self, policy: Policy, texts: PolicyTexts) -> u64 {
        let digest = texts.digest();
        let version = {
            let mut guard = self
                .inner
                .state
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let version = guard.version + 1;
            *guard = Arc::new(State {
                version,
                policy,
                texts,
                digest,
            });
            version
        };
        self.inner.cache.invalidate_all();
        self.inner.versions.send_replace(version);
        version
    }

    /// The version in force, changing with every new policy (a reload of the policy
    /// directory or an iam/v2 write): what stops the running statements a change of their
    /// row filters or column masks concerns.
    pub fn watch_versions(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.versions.subscribe()
    }

    fn set_last_error(&self, e: Option<String>) {
        *self
            .inner
            .last_error
            .write()
            .unwrap_or_else(|p| p.into_inner()) = e;
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
        let crn_text = crn.as_str();
        let key = KeyRef(state.version, principal, crn_text, action);
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
        self.inner.cache.insert(
            (
                state.version,
                principal.to_string(),
                crn_text.to_string(),
                action,
            ),
            found.clone(),
        );
        found
    }

    /// Checks every access of `resolved` for `principal_id`, for a statement placed at
    /// `placement` (submitted to its environment, running in its region: see the module doc),
    /// against one policy snapshot, and returns the evaluation that decided with the decision:
    /// what `sqlgate check` explains is, by construction, what enforcement concluded.
    pub fn authorize_explained(
        &self,
        principal_id: &str,
        resolved: ResolvedStatement,
        placement: &Placement,
    ) -> Authorization {
        let state = self.state();
        let statement_env = placement.environment.as_str();
        let evaluation = self.evaluate(
            &state,
            principal_id,
            &resolved,
            statement_env,
            &placement.region,
        );
        let accesses = (self.inner.events.receiver_count() > 0).then(|| {
            resolved
                .accesses()
                .iter()
                .map(|a| format!("{} {}", a.action.as_str(), a.object))
                .collect::<Vec<_>>()
        });
        let result = proof::conclude(
            &evaluation,
            resolved,
            placement,
            state.policy.data_policies().clone(),
        );
        if let Some(accesses) = accesses {
            let _ = self.inner.events.send(DecisionEvent {
                policy_version: state.version,
                principal: principal_id.to_string(),
                environment: statement_env.to_string(),
                granted: result.is_ok(),
                code: result
                    .as_ref()
                    .map_or_else(|e| e.code().as_str(), |_| "authz.granted"),
                accesses,
            });
        }
        Authorization {
            version: state.version,
            evaluation,
            result,
        }
    }

    /// [`Authorizer::authorize_explained`] without the evaluation: the version and the
    /// decision.
    pub fn authorize_versioned(
        &self,
        principal_id: &str,
        resolved: ResolvedStatement,
        placement: &Placement,
    ) -> (u64, Result<AuthorizedStatement, AuthzError>) {
        let a = self.authorize_explained(principal_id, resolved, placement);
        (a.version, a.result)
    }

    /// [`Authorizer::authorize_explained`], the decision alone.
    pub fn authorize(
        &self,
        principal_id: &str,
        resolved: ResolvedStatement,
        placement: &Placement,
    ) -> Result<AuthorizedStatement, AuthzError> {
        self.authorize_explained(principal_id, resolved, placement)
            .result
    }

    /// Whether the principal may read the audit log (AuditLogReader or OrganizationAdmin on
    /// the organization).
    pub fn can_read_audit(&self, principal_id: &str) -> bool {
        let state = self.state();
        let org = self.inner.catalogs.crn(&ObjectRef::Organization);
        self.grant(&state, principal_id, &org, "audit_read")
            .is_some()
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

impl Authorizer {
    /// Whether the principal may know that `object` exists: one of its bindings covers it, or
    /// lies below it (a binding on one topic makes its cluster and environment known).
    /// `examples` is built into every gateway, so it is no secret. Name resolution uses this
    /// (see [`PrincipalView`]), so what a principal may not know of does not resolve.
    pub fn knows(&self, principal_id: &str, object: &ObjectRef) -> bool {
        if is_examples(object) {
            return true;
        }
        let crn = self.inner.catalogs.crn(object);
        let state = self.state();
        state
            .policy
            .bindings(principal_id)
            .iter()
            .any(|b| b.pattern.covers(&crn) || b.pattern.lies_within(&crn))
    }

    /// Refuses a principal who may not run statements in `environment` at all. Checked before
    /// names are resolved: such a principal knows nothing, so its refusal must not depend on
    /// which names exist.
    pub fn check_run(&self, principal_id: &str, environment: &str) -> Result<(), AuthzError> {
        let crn = self
            .inner
            .catalogs
            .crn(&ObjectRef::Catalog(environment.to_string()));
        match self.grant(&self.state(), principal_id, &crn, "run") {
            Some(_) => Ok(()),
            None => Err(AuthzError::NotAllowedToRun {
                principal: principal_id.to_string(),
                environment: environment.to_string(),
                crn: crn.to_string(),
            }),
        }
    }

    /// The catalogs and databases `principal_id` may know of, for name resolution.
    pub fn view<'a>(&'a self, principal_id: &'a str) -> PrincipalView<'a> {
        PrincipalView {
            authorizer: self,
            principal: principal_id,
        }
    }
}

/// One principal's view of the resource model (see [`Authorizer::knows`]).
#[derive(Debug, Clone, Copy)]
pub struct PrincipalView<'a> {
    authorizer: &'a Authorizer,
    principal: &'a str,
}

impl crate::catalog::Visibility for PrincipalView<'_> {
    fn knows(&self, object: &ObjectRef) -> bool {
        self.authorizer.knows(self.principal, object)
    }
}

/// One decision with the evaluation it was derived from.
#[derive(Debug)]
pub struct Authorization {
    /// The policy version that decided.
    pub version: u64,
    /// Every verdict, as `sqlgate check` shows them.
    pub evaluation: Evaluation,
    /// The decision: the first access not granted (statement order) is the refusal.
    pub result: Result<AuthorizedStatement, AuthzError>,
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
