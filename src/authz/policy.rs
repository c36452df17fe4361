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
//! roles, malformed CRN patterns, patterns for another organization, literal environment
//! or cluster ids that the gateway's [`Catalogs`] does not know, malformed principals
//! (`auth::principal_id`), roles a `g` line implies that no line defines, circles of
//! implications, unknown resource types and actions in `p` lines, a bindings file without
//! bindings that does not carry [`EMPTY_BINDINGS_MARKER`], and the model's own problems
//! (`model_check.rs`, against `model.conf` and its line).

use super::PolicyError;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use casbin::{CoreApi, DefaultModel, Enforcer, StringAdapter};
use sha2::{Digest, Sha256};

use super::data_policy::{DATA_POLICIES_FILE, DataPolicies};
use super::model_check::{self, RoleLine};
use crate::catalog::{Catalogs, CrnPattern};

/// File names inside the policy directory.
pub(super) const MODEL_FILE: &str = "model.conf";
/// See the module doc.
pub(super) const ROLES_FILE: &str = "roles.csv";
/// See the module doc.
pub(super) const BINDINGS_FILE: &str = "bindings.csv";
/// The four, in the order of [`PolicyTexts`]' fields. The last, row filters and column
/// masks, may be missing (then there are none).
pub(super) const POLICY_FILES: [&str; 4] =
    [MODEL_FILE, ROLES_FILE, BINDINGS_FILE, DATA_POLICIES_FILE];

/// The line that says a `bindings.csv` without bindings is meant to be so (a comment, so
/// older gateways read it too). Without it an empty file is refused: a truncated or
/// half-written file must not silently take everyone's access away.
pub const EMPTY_BINDINGS_MARKER: &str = "# sqlgate: empty";

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
    /// `data-policies.toml` (empty when there is none): row filters and column masks.
    pub data_policies: String,
}

impl PolicyTexts {
    /// Reads the three files of `dir` once, as they are now (startup, `policy validate`);
    /// reloads wait for them to settle first (`settle.rs`).
    pub async fn read(dir: &Path) -> Result<Self, PolicyError> {
        super::settle::read_once(&super::store::FilePolicyStore::new(dir)).await
    }

    /// The name of the first file whose text differs from `other`'s.
    pub(super) fn first_difference(&self, other: &Self) -> &'static str {
        if self.model != other.model {
            MODEL_FILE
        } else if self.roles != other.roles {
            ROLES_FILE
        } else if self.bindings != other.bindings {
            BINDINGS_FILE
        } else {
            DATA_POLICIES_FILE
        }
    }

    /// Content hash: equal texts are the same policy (reloads of unchanged files are no-ops).
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for t in [
            &self.model,
            &self.roles,
            &self.bindings,
            &self.data_policies,
        ] {
            h.update((t.len() as u64).to_le_bytes());
            h.update(t.as_bytes());
        }
        h.finalize().into()
    }
}

/// Whether validation asks the built model what `roles.csv` says (tens of milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProbeModel {
    /// Model or roles are new.
    Yes,
    /// Model and roles are those of the policy in force, which passed the probe.
    AlreadyPassed,
}

impl ProbeModel {
    /// `Yes` unless `new` has the model and roles of `old`.
    pub(super) fn unless_same(new: &PolicyTexts, old: &PolicyTexts) -> Self {
        if new.model == old.model && new.roles == old.roles {
            ProbeModel::AlreadyPassed
        } else {
            ProbeModel::Yes
        }
    }
}

/// Roles, their permissions and every principal's bindings.
pub(super) struct Policy {
    enforcer: Enforcer,
    /// What each bindable role permits, asked of the enforcer once per policy: bit
    /// `t * ACTIONS.len() + a` for `RESOURCE_TYPES[t]` and `ACTIONS[a]`. A decision reads
    /// this instead of running casbin's matcher (an interpreted script, most of a cold
    /// decision's cost); anything outside the table still goes to the enforcer.
    permitted: HashMap<String, u64>,
    bindings: HashMap<String, Vec<Binding>>,
    records: Vec<BindingRecord>,
    roles: BTreeSet<String>,
    data: Arc<DataPolicies>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("principals", &self.bindings.len())
            .field("bindings", &self.records.len())
            .field("data_policies", &self.data.len())
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
    ) -> Result<Self, PolicyError> {
        Self::check(texts, organization_id, catalogs)
            .await
            .map_err(|problems| PolicyError(problems.join("; ")))
    }

    /// Like [`Policy::from_texts`] but returns every problem found, each `file:line: message`.
    pub(super) async fn check(
        texts: &PolicyTexts,
        organization_id: &str,
        catalogs: Option<&Catalogs>,
    ) -> Result<Self, Vec<String>> {
        Self::check_with(texts, organization_id, catalogs, ProbeModel::Yes).await
    }

    /// [`Policy::check`]; `probe` may skip asking the model what `roles.csv` says (see
    /// `model_check.rs`) when model and roles are those of a policy that passed it already.
    pub(super) async fn check_with(
        texts: &PolicyTexts,
        organization_id: &str,
        catalogs: Option<&Catalogs>,
        probe: ProbeModel,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let roles = parse_roles(&texts.roles, &mut problems);
        let first_g = roles.lines.iter().find_map(|l| match l {
            RoleLine::Implies(n, ..) => Some(*n),
            RoleLine::Permits(..) => None,
        });
        let model_lines = model_check::check_structure(&texts.model, first_g, &mut problems);
        let model = if problems.iter().any(|p| p.starts_with(MODEL_FILE)) {
            None
        } else {
            match DefaultModel::from_str(&texts.model).await {
                Ok(m) => Some(m),
                Err(e) => {
                    problems.push(model_check::locate_casbin_error(&e, &model_lines));
                    None
                }
            }
        };
        let (index, records) = parse_bindings(
            &texts.bindings,
            &roles.bindable,
            organization_id,
            catalogs,
            &mut problems,
        );
        let data = DataPolicies::parse(
            &texts.data_policies,
            &|p| check_scope(p, organization_id, catalogs),
            &mut problems,
        );
        let Some(model) = model else {
            return Err(problems);
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        let adapter = StringAdapter::new(roles.casbin_lines.join("\n"));
        let enforcer = Enforcer::new(model, adapter)
            .await
            .map_err(|e| vec![model_check::locate_casbin_error(&e, &model_lines)])?;
        let ask = |role: &str, t: &str, a: &str| {
            enforcer.enforce((role, t, a)).map_err(|e| e.to_string())
        };
        if probe == ProbeModel::Yes {
            model_check::probe(&ask, &roles.lines, &model_lines, &mut problems);
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let permitted = roles
            .bindable
            .iter()
            .map(|role| (role.clone(), permission_bits(&enforcer, role)))
            .collect();
        Ok(Self {
            enforcer,
            permitted,
            bindings: index,
            records,
            roles: roles.bindable,
            data: Arc::new(data),
        })
    }

    /// Whether `role` permits `action` on a resource of type `resource_type` (the innermost
    /// CRN segment kind: `organization`, `environment`, `kafka`, `topic`). Errors deny.
    pub(super) fn permits(&self, role: &str, resource_type: &str, action: &str) -> bool {
        match (
            self.permitted.get(role),
            permission_bit(resource_type, action),
        ) {
            (Some(bits), Some(bit)) => bits & bit != 0,
            _ => enforce(&self.enforcer, role, resource_type, action),
        }
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

    /// The row filters and column masks.
    pub(super) fn data_policies(&self) -> &Arc<DataPolicies> {
        &self.data
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

/// What casbin answers; errors deny.
fn enforce(enforcer: &Enforcer, role: &str, resource_type: &str, action: &str) -> bool {
    enforcer
        .enforce((role, resource_type, action))
        .unwrap_or(false)
}

/// The bit of [`Policy::permitted`] for a resource type and an action, if both are known.
fn permission_bit(resource_type: &str, action: &str) -> Option<u64> {
    let t = RESOURCE_TYPES.iter().position(|k| *k == resource_type)?;
    let a = ACTIONS.iter().position(|k| *k == action)?;
    Some(1 << (t * ACTIONS.len() + a))
}

/// Every (resource type, action) the enforcer says `role` permits, as bits.
fn permission_bits(enforcer: &Enforcer, role: &str) -> u64 {
    const _: () = assert!(RESOURCE_TYPES.len() * ACTIONS.len() <= 64);
    let mut bits = 0;
    for t in RESOURCE_TYPES {
        for a in ACTIONS {
            if enforce(enforcer, role, t, a) {
                bits |= permission_bit(t, a).unwrap_or(0);
            }
        }
    }
    bits
}

/// The stable id of a binding (see [`BindingRecord::id`]).
pub(super) fn binding_id(principal: &str, role: &str, pattern: &CrnPattern) -> String {
    id_text(binding_digest(principal, role, pattern))
}

/// What a binding's id is made of: the first 6 bytes of the SHA-256 of its principal, role
/// and pattern (each ended by a NUL). Equal digests are equal ids, so a load looks for
/// duplicates by digest and copies no id to do so (1,000,000 such copies, freed at the end of
/// the load, were strewn over the heap where every later small allocation found them).
fn binding_digest(principal: &str, role: &str, pattern: &CrnPattern) -> [u8; 6] {
    let mut h = Sha256::new();
    for part in [principal, role, &pattern.to_string()] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let mut out = [0u8; 6];
    out.copy_from_slice(&digest[..6]);
    out
}

/// `rb-` and the digest in lowercase hex.
fn id_text(digest: [u8; 6]) -> String {
    format!("rb-{}", hex::encode(digest))
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
///
/// A role is defined by a `p` line or as the first role of a `g` line; every role a `g` line
/// implies must be defined (a typo there would silently grant nothing), no role may imply
/// itself through a chain of `g` lines, and `p` lines name known resource types and actions.
fn parse_roles(text: &str, problems: &mut Vec<String>) -> Roles {
    let mut lines = Vec::new();
    let mut parsed = Vec::new();
    let mut roles = BTreeSet::new();
    // (line, role, implied role) of every `g` line.
    let mut implies: Vec<(usize, String, String)> = Vec::new();
    for CsvLine { n, fields, .. } in csv_lines(text) {
        if fields.iter().any(|f| f.is_empty()) {
            problems.push(located(ROLES_FILE, n, "empty field"));
            continue;
        }
        match fields.as_slice() {
            ["p", role, rtype, action] => {
                let known = |v: &str, list: &[&str]| v == "*" || list.contains(&v);
                if !known(rtype, RESOURCE_TYPES) {
                    problems.push(located(
                        ROLES_FILE,
                        n,
                        &format!(
                            "unknown resource type `{rtype}` (one of {}, or `*`)",
                            RESOURCE_TYPES.join(", ")
                        ),
                    ));
                    continue;
                }
                if !known(action, ACTIONS) {
                    problems.push(located(
                        ROLES_FILE,
                        n,
                        &format!(
                            "unknown action `{action}` (one of {}, or `*`)",
                            ACTIONS.join(", ")
                        ),
                    ));
                    continue;
                }
                roles.insert(role.to_string());
                parsed.push(RoleLine::Permits(
                    n,
                    role.to_string(),
                    rtype.to_string(),
                    action.to_string(),
                ));
            }
            ["g", role, implied] => {
                roles.insert(role.to_string());
                implies.push((n, role.to_string(), implied.to_string()));
                parsed.push(RoleLine::Implies(n, role.to_string(), implied.to_string()));
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
    for (n, role, implied) in &implies {
        if !roles.contains(implied) {
            problems.push(located(
                ROLES_FILE,
                *n,
                &format!(
                    "`{role}` implies `{implied}`, which no `p` or `g` line of {ROLES_FILE} defines"
                ),
            ));
        }
    }
    if let Some((n, cycle)) = implication_cycle(&implies) {
        problems.push(located(
            ROLES_FILE,
            n,
            &format!("roles imply each other in a circle: {}", cycle.join(" -> ")),
        ));
    }
    if lines.is_empty() && problems.is_empty() {
        problems.push(located(ROLES_FILE, 0, "defines no roles"));
    }
    roles.retain(|r| !r.starts_with('_'));
    Roles {
        casbin_lines: lines,
        lines: parsed,
        bindable: roles,
    }
}

/// What `roles.csv` holds.
struct Roles {
    /// Its lines normalized for casbin's adapter.
    casbin_lines: Vec<String>,
    /// Its lines parsed (for the model probe).
    lines: Vec<RoleLine>,
    /// The role names bindings may use (not `_internal`).
    bindable: BTreeSet<String>,
}

/// A chain of `g` lines leading from a role back to itself, if there is one: the line that
/// closes it and the roles along it.
fn implication_cycle(implies: &[(usize, String, String)]) -> Option<(usize, Vec<String>)> {
    let mut next: HashMap<&str, Vec<(usize, &str)>> = HashMap::new();
    for (n, role, implied) in implies {
        next.entry(role).or_default().push((*n, implied));
    }
    // Iterative depth-first search; `done` roles reach no cycle.
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for (_, start, _) in implies {
        if done.contains(start.as_str()) {
            continue;
        }
        // Stack of (role, index of the next edge to follow).
        let mut path: Vec<(&str, usize)> = vec![(start, 0)];
        while let Some(&mut (role, ref mut i)) = path.last_mut() {
            let edges = next.get(role).map(Vec::as_slice).unwrap_or(&[]);
            let Some(&(n, to)) = edges.get(*i) else {
                done.insert(role);
                path.pop();
                continue;
            };
            *i += 1;
            if let Some(at) = path.iter().position(|(r, _)| *r == to) {
                let mut cycle: Vec<String> =
                    path[at..].iter().map(|(r, _)| r.to_string()).collect();
                cycle.push(to.to_string());
                return Some((n, cycle));
            }
            if !done.contains(to) {
                path.push((to, 0));
            }
        }
    }
    None
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
    let mut seen: HashMap<[u8; 6], usize> = HashMap::new();
    let found_before = problems.len();
    for CsvLine { n, fields, comment } in csv_lines(text) {
        let mut bad = |msg: &str| problems.push(located(BINDINGS_FILE, n, msg));
        let [principal, role, pattern] = fields.as_slice() else {
            bad("expected `principal, role, crn_pattern`");
            continue;
        };
        if let Err(e) = crate::auth::principal_id::check(principal) {
            bad(&e.to_string());
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
        let digest = binding_digest(principal, role, &pattern);
        if let Some(first) = seen.insert(digest, n) {
            bad(&format!("duplicate of the binding on line {first}"));
            continue;
        }
        records.push(BindingRecord {
            id: id_text(digest),
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
    if records.is_empty() && problems.len() == found_before && !says_empty(text) {
        let what = if text.is_empty() {
            "is empty (0 bytes)".to_string()
        } else {
            format!(
                "holds no role bindings ({} lines of comments and blank lines)",
                text.lines().count()
            )
        };
        problems.push(located(
            BINDINGS_FILE,
            0,
            &format!(
                "{what}: refused, as a file cut short while being written would be; a policy \
                 that grants nothing must say so with a line `{EMPTY_BINDINGS_MARKER}`"
            ),
        ));
    }
    (index, records)
}

/// Whether the file holds [`EMPTY_BINDINGS_MARKER`] on a line of its own.
fn says_empty(text: &str) -> bool {
    text.lines().any(|l| {
        l.trim()
            .strip_prefix('#')
            .is_some_and(|c| c.split_whitespace().eq(["sqlgate:", "empty"]))
    })
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

#[cfg(test)]
mod permission_table_tests {
    use super::*;

    /// The default roles, a custom role that implies one and adds a wildcard, and a role
    /// that permits nothing of its own.
    const ROLES: &str = concat!(
        include_str!("../../policies/roles.csv"),
        "\np, Custom, *, describe\ng, Custom, DeveloperWrite\np, Lonely, kafka, run\n"
    );

    #[tokio::test]
    async fn the_table_answers_every_question_as_the_enforcer_does() {
        let texts = PolicyTexts {
            model: include_str!("../../policies/model.conf").into(),
            roles: ROLES.into(),
            bindings: EMPTY_BINDINGS_MARKER.into(),
            data_policies: String::new(),
        };
        let policy = Policy::from_texts(&texts, "org-dev", None)
            .await
            .expect("policy loads");
        assert!(policy.roles().contains("Custom") && policy.roles().len() > 5);
        let mut granted = 0;
        for role in policy.roles() {
            for t in RESOURCE_TYPES.iter().chain(&["cloud-cluster", "schema"]) {
                for a in ACTIONS.iter().chain(&["delete"]) {
                    let expected = enforce(&policy.enforcer, role, t, a);
                    assert_eq!(policy.permits(role, t, a), expected, "{role} {t} {a}");
                    granted += usize::from(expected);
                }
            }
        }
        // Not vacuous: some answers are yes, and the custom role's are what roles.csv says.
        assert!(granted > 20, "only {granted} grants");
        assert!(policy.permits("Custom", "topic", "write"));
        assert!(policy.permits("Custom", "organization", "describe"));
        assert!(!policy.permits("Custom", "topic", "read"));
        assert!(policy.permits("Lonely", "kafka", "run"));
        assert!(!policy.permits("NoSuchRole", "topic", "read"));
    }
}
