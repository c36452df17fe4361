//! The audit record (CloudEvents 1.0, shaped after Confluent Cloud's audit log records), the
//! plain inputs its builders take, and the canonical serialization the hash chain is over.
//!
//! Our additions live under `data.sqlgate` so that a field Confluent adds later cannot collide
//! with one of ours; the chain lives in top-level extension attributes (`sqlgateseq`, …).
//! Following Confluent's schema policy, fields may be added and absent optional fields are
//! omitted rather than written as `null`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::authn::{AuthnAttempt, FailureSummary};
use super::redact::SqlForAudit;

/// CloudEvents `source` and Confluent's `serviceName` for everything we emit.
pub(crate) const SOURCE: &str = "crn://confluent.cloud/";
/// `prev_hash` of the first record of a chain.
pub(crate) const GENESIS_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";
/// Event types.
pub(crate) const TYPE_AUTHENTICATION: &str = "io.confluent.flink.server/authentication";
pub(crate) const TYPE_AUTHORIZATION: &str = "io.confluent.flink.server/authorization";
pub(crate) const TYPE_STATEMENT: &str = "io.confluent.flink.server/statement";
/// Records the gateway writes about its own log (chain recovery).
pub(crate) const TYPE_CHAIN: &str = "io.sqlgate.audit/chain";
/// Control-plane changes (policy reloads, role bindings), as Confluent types its own.
pub(crate) const TYPE_REQUEST: &str = "io.confluent.cloud/request";
/// The principal Kafka uses for a caller that did not authenticate.
pub(crate) const ANONYMOUS: &str = "User:ANONYMOUS";

// === AuditRecord ===

/// One audit record: a CloudEvents 1.0 envelope around Confluent-style `data`, plus the chain
/// attributes the file sink fills in (`None` until the record is appended).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Unique id (UUID v4).
    pub id: String,
    /// Always `crn://confluent.cloud/`.
    pub source: String,
    /// Always `1.0`.
    pub specversion: String,
    /// `io.confluent.flink.server/{authentication,authorization,statement}` or
    /// `io.sqlgate.audit/chain`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Always `application/json`.
    pub datacontenttype: String,
    /// CRN of the resource the event is about (a Flink region or a statement).
    pub subject: String,
    /// RFC 3339, UTC, milliseconds (`2024-05-01T12:00:00.123Z`).
    pub time: String,
    /// The event.
    pub data: AuditData,
    /// Position in the chain (1, 2, …); set by the sink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlgateseq: Option<u64>,
    /// Hash of the previous record (64 zeros for the first); set by the sink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlgateprevhash: Option<String>,
    /// SHA-256 of this record's canonical JSON without this attribute; set by the sink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlgatehash: Option<String>,
    /// On the first record of a file only: the name of the file this one continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlgatecontinues: Option<String>,
}

/// `data`, after Confluent's `AuditLog` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditData {
    /// Always `crn://confluent.cloud/`.
    pub service_name: String,
    /// `flink.Authenticate`, `mds.Authorize`, `flink.CreateStatement`, `flink.StatementCompleted`, …
    pub method_name: String,
    /// CRN of the resource acted on.
    pub resource_name: String,
    /// Who.
    pub authentication_info: AuthenticationInfo,
    /// The decision (authorization records only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_info: Option<AuthorizationInfo>,
    /// The request that caused the event (absent for events of the gateway itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_metadata: Option<RequestMetadata>,
    /// The outcome.
    pub result: ResultInfo,
    /// sqlgate's additions.
    pub sqlgate: SqlgateInfo,
}

/// `data.authenticationInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationInfo {
    /// `User:alice`, `User:pool-dev`, or `User:ANONYMOUS` when authentication failed.
    pub principal: String,
    /// The person behind a shared identity pool (the token's identity claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// How they authenticated.
    pub metadata: AuthnMetadata,
}

/// `data.authenticationInfo.metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthnMetadata {
    /// `JWT`, `IDENTITY_POOL`, `API_KEY`, `NONE` (no credentials) or `INTERNAL`.
    pub mechanism: String,
    /// The token's identity claim or the API key id; never a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
}

/// `data.authorizationInfo`: the access that decided the outcome (the refused one on a denial,
/// the first one otherwise); every access is in `data.sqlgate.objects`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationInfo {
    /// Whether the statement was allowed.
    pub granted: bool,
    /// `Read`, `Write`, `Create`, `Alter`, `Delete`, `Describe`, `List` or `Run`.
    pub operation: String,
    /// `Topic`, `Cluster`, `Environment`, `Organization`.
    pub resource_type: String,
    /// The resource's own name (topic name, cluster id, environment id).
    pub resource_name: String,
    /// `LITERAL` or `PREFIXED`: the granting binding's pattern type (absent on a refusal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern_type: Option<String>,
    /// The role binding that granted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbac_authorization: Option<RbacAuthorization>,
    /// On a refusal: the least role that would have allowed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_role: Option<String>,
}

/// `rbacAuthorization`: the role and where it is bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RbacAuthorization {
    /// The role that granted the access.
    pub role: String,
    /// Where it is bound.
    pub scope: RbacScope,
}

/// `rbacAuthorization.scope`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RbacScope {
    /// `["organization=…", "environment=…"]`, outermost first.
    pub outer_scope: Vec<String>,
    /// `{"kafka-cluster": "lkc-…"}` when the binding is at or below a cluster.
    pub clusters: BTreeMap<String, String>,
}

/// `data.requestMetadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestMetadata {
    /// The request id (`x-request-id`), as a one-element list like Confluent's.
    pub request_id: Vec<String>,
    /// The client's address.
    pub client_address: Vec<ClientAddress>,
}

/// One `clientAddress` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAddress {
    /// IP address, without port.
    pub ip: String,
}

/// `data.result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultInfo {
    /// The outcome.
    pub status: ResultStatus,
    /// What a person needs to know (empty on plain success). Never secrets or result rows.
    pub message: String,
    /// Our stable error code (`authz.denied`, …) when the outcome is not a success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// `data.result.status`, in Confluent's (gRPC-style) spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResultStatus {
    /// It happened / it was allowed.
    Success,
    /// Credentials missing or invalid.
    Unauthenticated,
    /// Refused by policy.
    PermissionDenied,
    /// Refused for a reason no role can fix (e.g. a cross-region statement).
    FailedPrecondition,
    /// The statement failed.
    Failure,
    /// The gateway could not decide (e.g. keys unavailable).
    Unavailable,
}

/// `data.sqlgate`: what Confluent's records do not carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqlgateInfo {
    /// Statement name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    /// Environment id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Region the statement runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Compute pool id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_pool: Option<String>,
    /// Flink's statement kind (`SELECT`, `INSERT_INTO`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_kind: Option<String>,
    /// The statement's phase after a lifecycle event (`RUNNING`, `COMPLETED`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The SQL text, literals replaced by `?` unless redaction is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// `literals` (redacted), `none` (verbatim) or `omitted` (unparsable, so left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_redaction: Option<String>,
    /// Every access of the statement and its decision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectDecision>,
    /// Version of the policy the decision was made with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<String>,
    /// On a failed authentication: who the credential claimed or proved to be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<AuthnAttempt>,
    /// On a `sqlgate.AuthenticationFailures` record: the failures it stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<FailureSummary>,
    /// On a refusal: the stage that refused (`parse`, `resolve`, `region`, `authorize`,
    /// `rewrite`; on request records also `authenticate`, `admin`, `request`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// On a request record: the HTTP facts (see `audit/request.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<super::request::RequestDetails>,
}

/// One (object, action) of a statement and its decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDecision {
    /// Human form, e.g. ``table `env-dev`.`lkc-dev`.`orders` ``.
    pub object: String,
    /// The object's CRN.
    pub crn: String,
    /// `read`, `write`, `create`, `alter`, `drop`, `describe`, `list` (or `run` for the
    /// environment-level check).
    pub action: String,
    /// Whether this access was allowed.
    pub granted: bool,
    /// The role that granted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The CRN pattern of the binding that granted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
    /// The least role that would have allowed it, when refused for lack of a role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_role: Option<String>,
}

// === builder inputs ===

/// The request an event belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// The request id.
    pub request_id: String,
    /// The client's IP address.
    pub client_ip: Option<IpAddr>,
}

impl RequestInfo {
    /// A request with this id from this address.
    pub fn new(request_id: impl Into<String>, client_ip: Option<IpAddr>) -> Self {
        Self {
            request_id: request_id.into(),
            client_ip,
        }
    }

    pub(super) fn metadata(&self) -> RequestMetadata {
        RequestMetadata {
            request_id: vec![self.request_id.clone()],
            client_address: self
                .client_ip
                .iter()
                .map(|ip| ClientAddress { ip: ip.to_string() })
                .collect(),
        }
    }
}

/// Who: an authenticated principal, as plain strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalInfo {
    /// `User:alice`.
    pub principal: String,
    /// `JWT`, `IDENTITY_POOL`, `API_KEY`.
    pub mechanism: String,
    /// Token identity claim or API key id.
    pub identifier: Option<String>,
    /// The person behind a shared principal (identity pools).
    pub identity: Option<String>,
}

impl PrincipalInfo {
    pub(super) fn authentication_info(&self) -> AuthenticationInfo {
        AuthenticationInfo {
            principal: self.principal.clone(),
            identity: self.identity.clone(),
            metadata: AuthnMetadata {
                mechanism: self.mechanism.clone(),
                identifier: self.identifier.clone(),
            },
        }
    }
}

/// A failed authentication, as plain strings (no token, no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnFailure {
    /// The mechanism attempted (`JWT`, `API_KEY`, … or `NONE`).
    pub mechanism: String,
    /// `UNAUTHENTICATED` for bad credentials, `UNAVAILABLE` for failures on our side.
    pub status: ResultStatus,
    /// Stable code (`auth.token_expired`).
    pub code: String,
    /// What went wrong (the error's log text; it never contains credentials).
    pub message: String,
    /// Who the credential claimed or proved to be, when anything is known.
    pub attempt: Option<AuthnAttempt>,
}

/// The statement an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementInfo {
    /// Organization id.
    pub organization: String,
    /// Environment id.
    pub environment: String,
    /// Region the statement runs in.
    pub region: String,
    /// Statement name.
    pub name: String,
    /// Compute pool id.
    pub compute_pool: Option<String>,
    /// Flink statement kind, once known.
    pub sql_kind: Option<String>,
    /// The SQL as it may be recorded (see [`crate::audit::redact_sql`]); `None` to leave it out.
    pub sql: Option<SqlForAudit>,
}

impl StatementInfo {
    /// A statement without SQL, kind or pool.
    pub fn new(organization: &str, environment: &str, region: &str, name: &str) -> Self {
        Self {
            organization: organization.into(),
            environment: environment.into(),
            region: region.into(),
            name: name.into(),
            compute_pool: None,
            sql_kind: None,
            sql: None,
        }
    }

    /// `crn://confluent.cloud/organization=…/environment=…/flink-region=…/statement=…`.
    pub fn crn(&self) -> String {
        format!(
            "{}/statement={}",
            region_crn(&self.organization, &self.environment, &self.region),
            self.name
        )
    }

    fn sqlgate(&self) -> SqlgateInfo {
        SqlgateInfo {
            statement: Some(self.name.clone()),
            environment: Some(self.environment.clone()),
            region: Some(self.region.clone()),
            compute_pool: self.compute_pool.clone(),
            sql_kind: self.sql_kind.clone(),
            sql: self.sql.as_ref().and_then(|s| s.text.clone()),
            sql_redaction: self.sql.as_ref().map(|s| s.redaction.to_string()),
            ..SqlgateInfo::default()
        }
    }
}

/// `crn://confluent.cloud/organization=…/environment=…/flink-region=…`: the subject of
/// authentication events, as in Confluent's Flink region authentication records.
pub(crate) fn region_crn(organization: &str, environment: &str, region: &str) -> String {
    format!("{SOURCE}organization={organization}/environment={environment}/flink-region={region}")
}

/// The outcome of authorizing one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthzOutcome {
    /// Whether the statement may run.
    pub granted: bool,
    /// `SUCCESS`, `PERMISSION_DENIED` or `FAILED_PRECONDITION`.
    pub status: ResultStatus,
    /// The environment-level check (running statements at all), first.
    pub run: Option<ObjectDecision>,
    /// Every access decided, in statement order; on a refusal the refused one is last.
    pub objects: Vec<ObjectDecision>,
    /// Version of the policy used.
    pub policy_version: String,
    /// Stable code (`authz.granted`, `authz.denied`, …).
    pub code: String,
    /// Explanation for a person.
    pub message: String,
}

impl AuthzOutcome {
    /// The access that decided the outcome: the first refused one, else the first object,
    /// else the environment-level check.
    fn decisive(&self) -> Option<&ObjectDecision> {
        let all = || self.run.iter().chain(self.objects.iter());
        all()
            .find(|d| !d.granted)
            .or_else(|| self.objects.first())
            .or(self.run.as_ref())
    }
}

/// A statement lifecycle change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatementEvent {
    /// Accepted and stored (`flink.CreateStatement`).
    Created,
    /// The engine started it (`flink.StatementRunning`).
    Running,
    /// Finished (`flink.StatementCompleted`).
    Completed,
    /// Failed (`flink.StatementFailed`).
    Failed,
    /// Stopped on request (`flink.StatementStopped`).
    Stopped,
    /// Deleted on request (`flink.DeleteStatement`).
    Deleted,
}

impl StatementEvent {
    /// Confluent-style method name.
    pub fn method_name(self) -> &'static str {
        match self {
            StatementEvent::Created => "flink.CreateStatement",
            StatementEvent::Running => "flink.StatementRunning",
            StatementEvent::Completed => "flink.StatementCompleted",
            StatementEvent::Failed => "flink.StatementFailed",
            StatementEvent::Stopped => "flink.StatementStopped",
            StatementEvent::Deleted => "flink.DeleteStatement",
        }
    }

    /// The phase the statement is in after the event (wire spelling).
    pub fn phase(self) -> &'static str {
        match self {
            StatementEvent::Created => "PENDING",
            StatementEvent::Running => "RUNNING",
            StatementEvent::Completed => "COMPLETED",
            StatementEvent::Failed => "FAILED",
            StatementEvent::Stopped => "STOPPED",
            StatementEvent::Deleted => "DELETED",
        }
    }

    /// The event for a phase the statement moved to (`"RUNNING"` → `Running`); `None` for
    /// phases that are not audited (`PENDING`, `DEGRADED`, `STOPPING`, `DELETING`).
    ///
    /// ```
    /// use sqlgate::audit::StatementEvent;
    /// assert_eq!(StatementEvent::from_phase("COMPLETED"), Some(StatementEvent::Completed));
    /// assert_eq!(StatementEvent::from_phase("STOPPING"), None);
    /// ```
    pub fn from_phase(phase: &str) -> Option<Self> {
        match phase {
            "RUNNING" => Some(StatementEvent::Running),
            "COMPLETED" => Some(StatementEvent::Completed),
            "FAILED" => Some(StatementEvent::Failed),
            "STOPPED" => Some(StatementEvent::Stopped),
            _ => None,
        }
    }
}

// === builders ===

impl AuditRecord {
    pub(super) fn envelope(event_type: &str, subject: String, data: AuditData) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            source: SOURCE.into(),
            specversion: "1.0".into(),
            event_type: event_type.into(),
            datacontenttype: "application/json".into(),
            subject,
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            data,
            sqlgateseq: None,
            sqlgateprevhash: None,
            sqlgatehash: None,
            sqlgatecontinues: None,
        }
    }

    /// A successful authentication (`flink.Authenticate`) on the Flink region
    /// `organization/environment/region` (the environment from the URL).
    pub fn authenticated(
        req: &RequestInfo,
        principal: &PrincipalInfo,
        organization: &str,
        environment: &str,
        region: &str,
    ) -> Self {
        let subject = region_crn(organization, environment, region);
        Self::envelope(
            TYPE_AUTHENTICATION,
            subject.clone(),
            AuditData {
                service_name: SOURCE.into(),
                method_name: "flink.Authenticate".into(),
                resource_name: subject,
                authentication_info: principal.authentication_info(),
                authorization_info: None,
                request_metadata: Some(req.metadata()),
                result: ResultInfo {
                    status: ResultStatus::Success,
                    message: String::new(),
                    code: None,
                },
                sqlgate: SqlgateInfo {
                    environment: Some(environment.into()),
                    region: Some(region.into()),
                    ..SqlgateInfo::default()
                },
            },
        )
    }

    /// A failed authentication; the principal is `User:ANONYMOUS` (nobody was let in). The
    /// attempt, if known, is in `data.sqlgate.attempt`; a verified token's identity claim is
    /// also the `identifier`, as on a successful authentication.
    pub fn authentication_failed(
        req: &RequestInfo,
        failure: &AuthnFailure,
        organization: &str,
        environment: &str,
        region: &str,
    ) -> Self {
        let subject = region_crn(organization, environment, region);
        Self::envelope(
            TYPE_AUTHENTICATION,
            subject.clone(),
            AuditData {
                service_name: SOURCE.into(),
                method_name: "flink.Authenticate".into(),
                resource_name: subject,
                authentication_info: AuthenticationInfo {
                    principal: ANONYMOUS.into(),
                    identity: None,
                    metadata: AuthnMetadata {
                        mechanism: failure.mechanism.clone(),
                        identifier: failure
                            .attempt
                            .as_ref()
                            .filter(|a| a.verified)
                            .and_then(|a| a.identity.clone()),
                    },
                },
                authorization_info: None,
                request_metadata: Some(req.metadata()),
                result: ResultInfo {
                    status: failure.status,
                    message: failure.message.clone(),
                    code: Some(failure.code.clone()),
                },
                sqlgate: SqlgateInfo {
                    environment: Some(environment.into()),
                    region: Some(region.into()),
                    attempt: failure.attempt.clone(),
                    ..SqlgateInfo::default()
                },
            },
        )
    }

    /// The authorization decision for a statement (`mds.Authorize`).
    pub fn authorization(
        req: &RequestInfo,
        principal: &PrincipalInfo,
        statement: &StatementInfo,
        outcome: &AuthzOutcome,
    ) -> Self {
        let subject = statement.crn();
        let authorization_info = outcome
            .decisive()
            .map(|d| authorization_info(outcome.granted, d));
        let mut sqlgate = statement.sqlgate();
        sqlgate.objects = outcome
            .run
            .iter()
            .chain(outcome.objects.iter())
            .cloned()
            .collect();
        sqlgate.policy_version = Some(outcome.policy_version.clone());
        Self::envelope(
            TYPE_AUTHORIZATION,
            subject.clone(),
            AuditData {
                service_name: SOURCE.into(),
                method_name: "mds.Authorize".into(),
                resource_name: authorization_info
                    .as_ref()
                    .and_then(|_| outcome.decisive().map(|d| d.crn.clone()))
                    .unwrap_or(subject),
                authentication_info: principal.authentication_info(),
                authorization_info,
                request_metadata: Some(req.metadata()),
                result: ResultInfo {
                    status: outcome.status,
                    message: outcome.message.clone(),
                    code: Some(outcome.code.clone()),
                },
                sqlgate,
            },
        )
    }

    /// A statement lifecycle change. `req` is the request that caused it (create, stop,
    /// delete), or the create request for changes the engine causes (running, completed,
    /// failed). `message` is the statement's status detail.
    pub fn statement(
        req: Option<&RequestInfo>,
        principal: &PrincipalInfo,
        statement: &StatementInfo,
        event: StatementEvent,
        message: &str,
    ) -> Self {
        let subject = statement.crn();
        let mut sqlgate = statement.sqlgate();
        sqlgate.phase = Some(event.phase().into());
        let failed = event == StatementEvent::Failed;
        Self::envelope(
            TYPE_STATEMENT,
            subject.clone(),
            AuditData {
                service_name: SOURCE.into(),
                method_name: event.method_name().into(),
                resource_name: subject,
                authentication_info: principal.authentication_info(),
                authorization_info: None,
                request_metadata: req.map(RequestInfo::metadata),
                result: ResultInfo {
                    status: if failed {
                        ResultStatus::Failure
                    } else {
                        ResultStatus::Success
                    },
                    message: message.into(),
                    code: failed.then(|| "statement.failed".to_string()),
                },
                sqlgate,
            },
        )
    }

    /// A policy-administration event: a reload of the policy files (applied or refused), or
    /// a role binding created, deleted or refused through the iam/v2 API. `actor` is who asked
    /// (`None` for a reload the file watcher made); `subject` the CRN it is about.
    #[allow(clippy::too_many_arguments)]
    pub fn policy(
        req: Option<&RequestInfo>,
        actor: Option<&PrincipalInfo>,
        subject: &str,
        method: &str,
        ok: bool,
        code: &str,
        message: &str,
        policy_version: Option<u64>,
    ) -> Self {
        let authentication_info = match actor {
            Some(p) => p.authentication_info(),
            None => AuthenticationInfo {
                principal: "User:sqlgate".into(),
                identity: None,
                metadata: AuthnMetadata {
                    mechanism: "INTERNAL".into(),
                    identifier: None,
                },
            },
        };
        Self::envelope(
            TYPE_REQUEST,
            subject.into(),
            AuditData {
                service_name: SOURCE.into(),
                method_name: method.into(),
                resource_name: subject.into(),
                authentication_info,
                authorization_info: None,
                request_metadata: req.map(RequestInfo::metadata),
                result: ResultInfo {
                    status: if ok {
                        ResultStatus::Success
                    } else {
                        ResultStatus::Failure
                    },
                    message: message.into(),
                    code: Some(code.into()),
                },
                sqlgate: SqlgateInfo {
                    policy_version: policy_version.map(|v| v.to_string()),
                    ..SqlgateInfo::default()
                },
            },
        )
    }

    /// The gateway's own record that it repaired the log's tail before continuing the chain.
    pub(crate) fn chain_recovered(message: String) -> Self {
        Self::envelope(
            TYPE_CHAIN,
            SOURCE.into(),
            AuditData {
                service_name: SOURCE.into(),
                method_name: "sqlgate.ChainRecovered".into(),
                resource_name: SOURCE.into(),
                authentication_info: AuthenticationInfo {
                    principal: "User:sqlgate".into(),
                    identity: None,
                    metadata: AuthnMetadata {
                        mechanism: "INTERNAL".into(),
                        identifier: None,
                    },
                },
                authorization_info: None,
                request_metadata: None,
                result: ResultInfo {
                    status: ResultStatus::Success,
                    message,
                    code: Some("audit.chain_recovered".into()),
                },
                sqlgate: SqlgateInfo::default(),
            },
        )
    }

    /// The gateway's own record that retention removed old files of the log (the cut is
    /// anchored by a signed retention checkpoint; this record tells a reader of the log).
    pub(crate) fn retention_cut(message: String) -> Self {
        let mut record = Self::chain_recovered(message);
        record.data.method_name = "sqlgate.RetentionCut".into();
        record.data.result.code = Some("audit.retention_cut".into());
        record
    }

    /// The same record with another `time` (tests, replays).
    pub fn with_time(mut self, time: &str) -> Self {
        self.time = time.into();
        self
    }
}

fn authorization_info(granted: bool, d: &ObjectDecision) -> AuthorizationInfo {
    let (resource_type, resource_name) = crn_resource(&d.crn);
    let rbac = d
        .binding
        .as_ref()
        .zip(d.role.as_ref())
        .filter(|_| d.granted);
    AuthorizationInfo {
        granted,
        operation: operation(&d.action).into(),
        resource_type,
        resource_name,
        pattern_type: rbac.map(|(b, _)| {
            if b.ends_with('*') {
                "PREFIXED".to_string()
            } else {
                "LITERAL".to_string()
            }
        }),
        rbac_authorization: rbac.map(|(binding, role)| RbacAuthorization {
            role: role.clone(),
            scope: binding_scope(binding),
        }),
        missing_role: if d.granted {
            None
        } else {
            d.missing_role.clone()
        },
    }
}

/// Kafka-style operation name for an action.
fn operation(action: &str) -> &str {
    match action {
        "read" => "Read",
        "write" => "Write",
        "create" => "Create",
        "alter" => "Alter",
        "drop" => "Delete",
        "describe" => "Describe",
        "list" => "List",
        "run" => "Run",
        other => other,
    }
}

fn crn_segments(crn: &str) -> Vec<(&str, &str)> {
    crn.strip_prefix(SOURCE)
        .unwrap_or(crn)
        .split('/')
        .filter_map(|s| s.split_once('='))
        .collect()
}

/// `(resourceType, resourceName)` of the innermost CRN segment.
fn crn_resource(crn: &str) -> (String, String) {
    let segments = crn_segments(crn);
    let Some((kind, name)) = segments.last() else {
        return ("Unknown".into(), crn.into());
    };
    let kind = match *kind {
        "topic" => "Topic",
        "kafka" | "cloud-cluster" => "Cluster",
        "environment" => "Environment",
        "organization" => "Organization",
        "statement" => "Statement",
        other => other,
    };
    (kind.into(), (*name).into())
}

/// `scope` of a binding pattern: org and environment segments, plus the cluster if any.
fn binding_scope(pattern: &str) -> RbacScope {
    let mut scope = RbacScope {
        outer_scope: Vec::new(),
        clusters: BTreeMap::new(),
    };
    for (kind, value) in crn_segments(pattern) {
        match kind {
            "organization" | "environment" => scope.outer_scope.push(format!("{kind}={value}")),
            "kafka" => {
                scope
                    .clusters
                    .insert("kafka-cluster".into(), value.trim_end_matches('*').into());
            }
            _ => {}
        }
    }
    scope
}

// === canonical form and hash ===

/// The canonical JSON of a value: object keys sorted (by UTF-8 bytes), no whitespace, strings
/// and numbers as `serde_json` writes them. The file sink writes every line in this form, and
/// the chain hash is over it, so a line can be checked byte for byte.
///
/// ```
/// let v = serde_json::json!({"b": 1, "a": {"d": [true, null], "c": "x"}});
/// assert_eq!(sqlgate::audit::canonical_json(&v), r#"{"a":{"c":"x","d":[true,null]},"b":1}"#);
/// ```
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The chain hash of a record given as JSON: hex SHA-256 of [`canonical_json`] of the record
/// without its `sqlgatehash` attribute.
pub fn record_hash(record: &Value) -> String {
    let mut without = record.clone();
    if let Value::Object(map) = &mut without {
        map.remove("sqlgatehash");
    }
    hex::encode(Sha256::digest(canonical_json(&without).as_bytes()))
}
