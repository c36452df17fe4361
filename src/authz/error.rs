//! Authorization refusals and policy-loading failures.

use crate::error::ErrorCode;

use crate::catalog::ObjectRef;
use crate::sql::Action;

/// Why a statement (or the policy) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthzError {
    /// The principal lacks the role an access needs.
    #[error("{principal} may not {action} {object}: requires {missing_role} on {crn}")]
    Denied {
        /// Who asked.
        principal: String,
        /// What they asked for (boxed to keep the error small).
        object: Box<ObjectRef>,
        /// What they wanted to do with it.
        action: Action,
        /// The least role that would allow it.
        missing_role: String,
        /// The object's CRN (where the role would have to be bound).
        crn: String,
    },
    /// A table a view's body reads is not readable by the reader, who may not know of the
    /// table: the refusal names the view the reader named, never the table.
    #[error("{principal} may not read view {view}: a table its body reads is not granted")]
    DeniedThroughView {
        /// Who asked.
        principal: String,
        /// The view the statement named (boxed to keep the error small).
        view: Box<ObjectRef>,
    },
    /// The principal may not run statements in the environment at all.
    #[error("{principal} may not run statements in environment {environment}")]
    NotAllowedToRun {
        /// Who asked.
        principal: String,
        /// The environment of the statement (from the URL).
        environment: String,
        /// The environment's CRN.
        crn: String,
    },
    /// A write or DDL on a read-only catalog (`examples`).
    #[error("{object} is read-only")]
    ReadOnly {
        /// The object (boxed to keep the error small).
        object: Box<ObjectRef>,
        /// What was attempted.
        action: Action,
    },
    /// The object lives in another region than the statement's compute pool.
    #[error("{object} is in region {object_region}, the statement runs in {statement_region}")]
    WrongRegion {
        /// The object (boxed to keep the error small).
        object: Box<ObjectRef>,
        /// Its region.
        object_region: String,
        /// The statement's region.
        statement_region: String,
    },
}

/// Why the policy files could not be loaded or reloaded (startup, hot reload, `policy
/// validate`); never a request's answer: requests are decided by the last good policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy: {0}")]
pub struct PolicyError(pub String);

impl PolicyError {
    /// The code audit records of refused reloads carry.
    pub const AUDIT_CODE: &'static str = "authz.policy";
}

impl AuthzError {
    /// Stable error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthzError::Denied { .. } | AuthzError::DeniedThroughView { .. } => {
                ErrorCode::AuthzDenied
            }
            AuthzError::NotAllowedToRun { .. } => ErrorCode::AuthzNotAllowedToRun,
            AuthzError::ReadOnly { .. } => ErrorCode::AuthzReadOnly,
            AuthzError::WrongRegion { .. } => ErrorCode::AuthzRegion,
        }
    }

    /// Message for the client: who, what, which action, and what is missing.
    pub fn detail(&self) -> String {
        match self {
            AuthzError::DeniedThroughView { principal, view } => format!(
                "{principal} may not read view {view}: reading a view requires read on the view \
                 and on every table its body reads, checked for the reader (the view's creator's \
                 rights are not inherited), and one of those tables is not readable by {principal}"
            ),
            AuthzError::Denied {
                principal,
                object,
                action,
                missing_role,
                crn,
            } => format!(
                "{principal} may not {action} {object}: requires {missing_role} (or a role that implies it) on {crn}"
            ),
            AuthzError::NotAllowedToRun {
                principal,
                environment,
                crn,
            } => format!(
                "{principal} may not run statements in environment {environment}: requires FlinkDeveloper (or FlinkAdmin, EnvironmentAdmin, OrganizationAdmin) on {crn}"
            ),
            AuthzError::ReadOnly { object, action } => {
                format!("{object} is read-only: it cannot be the target of {action}")
            }
            AuthzError::WrongRegion {
                object,
                object_region,
                statement_region,
            } => format!(
                "{object} is in region {object_region}, but the statement runs in region {statement_region}; use a compute pool in {object_region}"
            ),
        }
    }
}
