//! The request-level record: one per request to an authenticated route, written by the
//! request's audit hook when the request ends (`crate::context::AuditGuard`), whatever the
//! exit. It says who asked (principal, client address, TLS client certificate), what (the
//! route's operation and resource), and how it ended (HTTP status, stable code, the stage that
//! refused, time taken). Stage records (the authorization decision, statement lifecycle
//! changes) keep their own shapes in [`super::record`]; a failed authentication's request
//! record is its `flink.Authenticate` record ([`AuditRecord::authentication_failed`]).
//!
//! Plain inputs only, like every builder of this module: the hook turns routes, principals
//! and errors into [`RequestOutcome`].

use serde::{Deserialize, Serialize};

use super::record::{
    ANONYMOUS, AuditData, AuditRecord, AuthenticationInfo, AuthnMetadata, PrincipalInfo,
    RequestInfo, ResultInfo, ResultStatus, SOURCE, SqlgateInfo, TYPE_REQUEST,
};

/// How one request ended, as plain facts for [`AuditRecord::request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOutcome {
    /// The operation (`sql.CreateStatement`, `iam.DeleteRoleBinding`, `sqlgate.Check`, …).
    pub method_name: String,
    /// CRN of the resource the request is about.
    pub resource: String,
    /// The HTTP request line, without the query string (it may carry filter values).
    pub http_method: String,
    /// The path.
    pub path: String,
    /// The HTTP status answered; `None` when the client went away before the answer.
    pub http_status: Option<u16>,
    /// Stable error code of a refusal or failure, or a success code (`iam.created`).
    pub code: Option<String>,
    /// What a person needs to know (empty on plain success). Never secrets, tokens, rows or
    /// SQL literals.
    pub message: String,
    /// The stage that refused (`authenticate`, `parse`, `resolve`, `region`, `authorize`,
    /// `rewrite`, `admin`, `engine`, `audit`, …), on a refusal.
    pub stage: Option<String>,
    /// Time from the request's arrival to its end.
    pub duration_ms: u64,
    /// The environment of the URL (statement routes).
    pub environment: Option<String>,
    /// The policy version a change put in force (role bindings).
    pub policy_version: Option<u64>,
}

/// `data.sqlgate.request`: the HTTP facts of a request record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestDetails {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The HTTP status answered; absent when the client went away first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Milliseconds from arrival to the end of the request.
    pub duration_ms: u64,
    /// The subject of the TLS client certificate (mTLS), e.g. `CN=ci,O=Example`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<String>,
}

impl AuditRecord {
    /// The request-level record of a request (see the module doc). `principal` is `None` when
    /// the request ended before anyone was authenticated (recorded as `User:ANONYMOUS`,
    /// mechanism `NONE`); `client_certificate` is the TLS client certificate's subject.
    pub fn request(
        req: &RequestInfo,
        principal: Option<&PrincipalInfo>,
        client_certificate: Option<&str>,
        outcome: &RequestOutcome,
    ) -> Self {
        let authentication_info = match principal {
            Some(p) => p.authentication_info(),
            None => AuthenticationInfo {
                principal: ANONYMOUS.into(),
                identity: None,
                metadata: AuthnMetadata {
                    mechanism: "NONE".into(),
                    identifier: None,
                },
            },
        };
        let (status, code) = match outcome.http_status {
            None => (
                ResultStatus::Failure,
                Some(
                    outcome
                        .code
                        .clone()
                        .unwrap_or_else(|| "request.cancelled".into()),
                ),
            ),
            Some(s) => (status_of(s), outcome.code.clone()),
        };
        Self::envelope(
            TYPE_REQUEST,
            outcome.resource.clone(),
            AuditData {
                service_name: SOURCE.into(),
                method_name: outcome.method_name.clone(),
                resource_name: outcome.resource.clone(),
                authentication_info,
                authorization_info: None,
                request_metadata: Some(req.metadata()),
                result: ResultInfo {
                    status,
                    message: outcome.message.clone(),
                    code,
                },
                sqlgate: SqlgateInfo {
                    environment: outcome.environment.clone(),
                    policy_version: outcome.policy_version.map(|v| v.to_string()),
                    stage: outcome.stage.clone(),
                    request: Some(RequestDetails {
                        method: outcome.http_method.clone(),
                        path: outcome.path.clone(),
                        status: outcome.http_status,
                        duration_ms: outcome.duration_ms,
                        client_certificate: client_certificate.map(str::to_string),
                    }),
                    ..SqlgateInfo::default()
                },
            },
        )
    }

    /// The same record saying which stage refused it (`parse`, `resolve`, `region`,
    /// `authorize`, `rewrite`).
    pub fn refused_at(mut self, stage: &str) -> Self {
        self.data.sqlgate.stage = Some(stage.into());
        self
    }
}

/// `result.status` of a request record: success below 400; `UNAUTHENTICATED` for 401,
/// `UNAVAILABLE` for 503, `FAILURE` (with the code saying why) for the other refusals and
/// failures, as the role-binding records always said.
fn status_of(http: u16) -> ResultStatus {
    match http {
        0..=399 => ResultStatus::Success,
        401 => ResultStatus::Unauthenticated,
        503 => ResultStatus::Unavailable,
        _ => ResultStatus::Failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: Option<u16>) -> RequestOutcome {
        RequestOutcome {
            method_name: "sqlgate.Check".into(),
            resource: "crn://confluent.cloud/organization=org-dev".into(),
            http_method: "POST".into(),
            path: "/sqlgate/v1/check".into(),
            http_status: status,
            code: status
                .filter(|s| *s >= 400)
                .map(|_| "authz.admin_required".into()),
            message: String::new(),
            stage: None,
            duration_ms: 3,
            environment: None,
            policy_version: None,
        }
    }

    #[test]
    fn a_request_record_says_who_what_and_how_it_ended() {
        let req = RequestInfo::new("r-1", Some("10.0.0.7".parse().unwrap()));
        let who = PrincipalInfo {
            principal: "User:alice".into(),
            mechanism: "JWT".into(),
            identifier: Some("alice".into()),
            identity: None,
        };
        let r = AuditRecord::request(&req, Some(&who), Some("CN=ci"), &outcome(Some(403)));
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["type"], "io.confluent.cloud/request");
        assert_eq!(v["data"]["methodName"], "sqlgate.Check");
        assert_eq!(v["data"]["authenticationInfo"]["principal"], "User:alice");
        assert_eq!(v["data"]["requestMetadata"]["requestId"][0], "r-1");
        assert_eq!(v["data"]["result"]["status"], "FAILURE");
        assert_eq!(v["data"]["result"]["code"], "authz.admin_required");
        assert_eq!(
            v["data"]["sqlgate"]["request"],
            serde_json::json!({"method": "POST", "path": "/sqlgate/v1/check", "status": 403,
                               "durationMs": 3, "clientCertificate": "CN=ci"})
        );
        let anonymous = AuditRecord::request(&req, None, None, &outcome(None));
        assert_eq!(
            anonymous.data.authentication_info.principal,
            "User:ANONYMOUS"
        );
        assert_eq!(
            anonymous.data.result.code.as_deref(),
            Some("request.cancelled")
        );
        assert_eq!(status_of(200), ResultStatus::Success);
        assert_eq!(status_of(401), ResultStatus::Unauthenticated);
        assert_eq!(status_of(503), ResultStatus::Unavailable);
        assert_eq!(status_of(404), ResultStatus::Failure);
    }
}
