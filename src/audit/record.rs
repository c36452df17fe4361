//! The audit record (CloudEvents 1.0, shaped after Confluent Cloud's audit log records), the
//! plain inputs its builders take, and the canonical serialization the hash chain is over.
//!
//! Our additions live under `data.sqlgate` so that a field Confluent adds later cannot collide
//! with one of ours; the chain lives in top-level extension attributes (`sqlgateseq`, …).
//! Following Confluent's schema policy, fields may be added and absent optional fields are
//! omitted rather than written as `null`.

mod builders;
mod canonical;
mod inputs;

pub(crate) use canonical::hashed_line;
pub use canonical::{canonical_json, record_hash};
pub(crate) use inputs::region_crn;
pub use inputs::{
    AuthnFailure, AuthzOutcome, PrincipalInfo, RequestInfo, StatementEvent, StatementInfo,
};

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
    /// The row filters and column masks the statement reads through (see
    /// [`super::StatementInfo::data_policies`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_policies: Vec<String>,
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
