//! Conversions from the pipeline's types to the plain builder inputs of [`super::record`], so
//! call sites stay one line. Only this file knows those types; the record does not.

use crate::auth::{Attempt, AuthError, Principal};
use crate::authz::{AuthzError, Decision};
use crate::catalog::{Catalogs, ObjectRef};
use crate::context::RequestCtx;

use super::authn::AuthnAttempt;
use super::record::{
    AuthnFailure, AuthzOutcome, ObjectDecision, PrincipalInfo, RequestInfo, ResultStatus,
};

impl From<&RequestCtx> for RequestInfo {
    fn from(ctx: &RequestCtx) -> Self {
        RequestInfo::new(ctx.request_id.clone(), Some(ctx.peer.ip()))
    }
}

impl From<&Principal> for PrincipalInfo {
    fn from(p: &Principal) -> Self {
        PrincipalInfo {
            principal: p.id.clone(),
            mechanism: p.mechanism.as_str().into(),
            identifier: p.identity.clone(),
            // The person behind a shared pool principal; for other mechanisms the identifier
            // already names them.
            identity: p.pool.as_ref().and(p.identity.clone()),
        }
    }
}

impl From<&Attempt> for AuthnAttempt {
    fn from(a: &Attempt) -> Self {
        // The rules of `Attempt` again, so that a verifier filling a field it should not
        // cannot put an unverified value where a verified one is expected.
        AuthnAttempt {
            verified: a.verified,
            admitted: false,
            issuer: a.issuer.clone(),
            identity: a.identity.clone().filter(|_| a.verified),
            identity_pool: a.pool.clone().filter(|_| a.verified),
            kid: a.kid.clone().filter(|_| !a.verified),
            key_id: a.key_id.clone(),
        }
    }
}

impl AuthnFailure {
    /// From an authentication error and what the credential claimed or proved (`attempt`).
    /// `mechanism` is what the request attempted (`JWT`, `IDENTITY_POOL`, `API_KEY`), or
    /// `None` when it carried no credentials.
    pub fn from_auth_error(e: &AuthError, mechanism: Option<&str>, attempt: &Attempt) -> Self {
        AuthnFailure {
            attempt: (!attempt.is_empty()).then(|| attempt.into()),
            mechanism: mechanism.unwrap_or("NONE").into(),
            status: if e.is_credential_failure() {
                ResultStatus::Unauthenticated
            } else {
                ResultStatus::Unavailable
            },
            code: e.code().into(),
            message: e.to_string(),
        }
    }
}

impl ObjectDecision {
    /// From one authorization decision.
    pub fn from_decision(d: &Decision, catalogs: &Catalogs) -> Self {
        ObjectDecision {
            object: d.object.to_string(),
            crn: catalogs.crn(&d.object).to_string(),
            action: d.action.as_str().into(),
            granted: d.granted,
            role: d.role.clone(),
            binding: d.binding.clone(),
            missing_role: d.missing.clone(),
        }
    }

    fn refused(
        object: &ObjectRef,
        action: &str,
        missing_role: Option<&str>,
        catalogs: &Catalogs,
    ) -> Self {
        ObjectDecision {
            object: object.to_string(),
            crn: catalogs.crn(object).to_string(),
            action: action.into(),
            granted: false,
            role: None,
            binding: None,
            missing_role: missing_role.map(str::to_string),
        }
    }
}

impl AuthzOutcome {
    /// An allowed statement: `decisions` is `AuthorizedStatement::decisions()`.
    pub fn granted(decisions: &[Decision], catalogs: &Catalogs, policy_version: &str) -> Self {
        AuthzOutcome {
            granted: true,
            status: ResultStatus::Success,
            run: None,
            objects: decisions
                .iter()
                .map(|d| ObjectDecision::from_decision(d, catalogs))
                .collect(),
            policy_version: policy_version.into(),
            code: "authz.granted".into(),
            message: String::new(),
        }
    }

    /// A statement refused before any access was decided (at parse or resolve) or after
    /// (rewrite): no object, `FAILED_PRECONDITION` (no role would change it), the refusal's
    /// `code` and `message` (which must not carry the statement's literals).
    pub fn refused_before(code: &str, message: &str, policy_version: &str) -> Self {
        AuthzOutcome {
            granted: false,
            status: ResultStatus::FailedPrecondition,
            run: None,
            objects: Vec::new(),
            policy_version: policy_version.into(),
            code: code.into(),
            message: message.into(),
        }
    }

    /// A refused statement. The refused access is recorded; accesses checked before it are
    /// not known from the error (the authorizer stops at the first refusal).
    pub fn refused(e: &AuthzError, catalogs: &Catalogs, policy_version: &str) -> Self {
        let (run, objects, status) = match e {
            AuthzError::Denied {
                object,
                action,
                missing_role,
                ..
            } => (
                None,
                vec![ObjectDecision::refused(
                    object,
                    action.as_str(),
                    Some(missing_role),
                    catalogs,
                )],
                ResultStatus::PermissionDenied,
            ),
            AuthzError::DeniedThroughView { view, .. } => (
                None,
                vec![ObjectDecision::refused(view, "read", None, catalogs)],
                ResultStatus::PermissionDenied,
            ),
            AuthzError::NotAllowedToRun { environment, .. } => (
                Some(ObjectDecision::refused(
                    &ObjectRef::Catalog(environment.clone()),
                    "run",
                    Some("FlinkDeveloper"),
                    catalogs,
                )),
                Vec::new(),
                ResultStatus::PermissionDenied,
            ),
            AuthzError::ReadOnly { object, action } => (
                None,
                vec![ObjectDecision::refused(
                    object,
                    action.as_str(),
                    None,
                    catalogs,
                )],
                ResultStatus::PermissionDenied,
            ),
            AuthzError::WrongRegion { object, .. } => (
                None,
                vec![ObjectDecision::refused(object, "access", None, catalogs)],
                ResultStatus::FailedPrecondition,
            ),
        };
        AuthzOutcome {
            granted: false,
            status,
            run,
            objects,
            policy_version: policy_version.into(),
            code: e.code().into(),
            message: e.detail(),
        }
    }
}
