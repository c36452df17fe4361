//! The plain inputs the record builders take: the request, the principal, the statement, an
//! authorization outcome and a statement event. Moved from `record.rs` unchanged.

use super::*;

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

    pub(in crate::audit) fn metadata(&self) -> RequestMetadata {
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
    pub(in crate::audit) fn authentication_info(&self) -> AuthenticationInfo {
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
    /// The row filters and column masks the statement reads through, by name and table
    /// (`row_filter NAME on TABLE`, `column_mask NAME (COLUMN) on TABLE`), of the record's
    /// policy version.
    pub data_policies: Vec<String>,
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
            data_policies: Vec::new(),
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

    pub(super) fn sqlgate(&self) -> SqlgateInfo {
        SqlgateInfo {
            statement: Some(self.name.clone()),
            environment: Some(self.environment.clone()),
            region: Some(self.region.clone()),
            compute_pool: self.compute_pool.clone(),
            sql_kind: self.sql_kind.clone(),
            sql: self.sql.as_ref().and_then(|s| s.text.clone()),
            sql_redaction: self.sql.as_ref().map(|s| s.redaction.to_string()),
            data_policies: self.data_policies.clone(),
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
    pub(super) fn decisive(&self) -> Option<&ObjectDecision> {
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
