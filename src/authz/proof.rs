//! The proof of stage 4: [`AuthorizedStatement`], a statement every access of which was
//! granted, and the [`Warrant`] saying for whom, where and under which policy it was.
//!
//! Owns both types and the one way to make them, [`conclude`], which turns an [`Evaluation`]
//! into the decision. `conclude` is `pub(super)`, so only `authz` (in practice
//! [`super::Authorizer::authorize_explained`]) can make a proof; the fields are private to this
//! file. Neither type is `Clone`: a proof is used once, by the rewrite it feeds.

use std::sync::Arc;

use super::data_policy::DataPolicies;
use super::evaluate::{Evaluation, Outcome};
use super::{AuthzError, Decision};
use crate::catalog::Placement;
use crate::sql::ResolvedStatement;

/// For whom, where and under which policy version a proof holds. Made only with an
/// [`AuthorizedStatement`], and handed on by `rewrite::rewrite` to the statement the engine runs.
#[derive(Debug, PartialEq, Eq)]
pub struct Warrant {
    principal: String,
    placement: Placement,
    policy_version: u64,
}

// Its accessors are `pub`: they are what an engine reads to know whose statement it runs and
// where (the region a remote engine routes to), from outside `authz`.
impl Warrant {
    /// The id of the principal the statement was authorized for (`User:pool-dev`).
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// Where the statement was authorized to run.
    pub fn placement(&self) -> &Placement {
        &self.placement
    }

    /// The version of the policy every decision was made against.
    pub fn policy_version(&self) -> u64 {
        self.policy_version
    }
}

/// A statement every access of which was allowed. Only [`super::Authorizer`] makes one.
#[derive(Debug)]
pub struct AuthorizedStatement {
    resolved: ResolvedStatement,
    decisions: Vec<Decision>,
    warrant: Warrant,
    /// The row filters and column masks of the policy version that decided.
    data: Arc<DataPolicies>,
}

impl AuthorizedStatement {
    /// One granted decision per access, in the order of [`ResolvedStatement::accesses`] (what the
    /// audit and the fuzz targets read; the rewrite takes them over).
    pub(crate) fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// Takes the statement apart (for `rewrite::rewrite`).
    pub(crate) fn into_parts(
        self,
    ) -> (ResolvedStatement, Vec<Decision>, Warrant, Arc<DataPolicies>) {
        (self.resolved, self.decisions, self.warrant, self.data)
    }
}

/// The decision `ev` implies for `resolved`, placed at `placement`: the first access not
/// granted (statement order) is the refusal; if there is none, the proof.
pub(super) fn conclude(
    ev: &Evaluation,
    resolved: ResolvedStatement,
    placement: &Placement,
    data: Arc<DataPolicies>,
) -> Result<AuthorizedStatement, AuthzError> {
    let principal_id = ev.principal.as_str();
    if ev.run.is_none() {
        return Err(AuthzError::NotAllowedToRun {
            principal: principal_id.to_string(),
            environment: ev.environment.clone(),
            crn: ev.environment_crn.clone(),
        });
    }
    let mut decisions = Vec::with_capacity(ev.accesses.len());
    for item in &ev.accesses {
        let object = item.object.clone();
        let action = item.action;
        match &item.outcome {
            Outcome::Granted { role, binding } => decisions.push(Decision {
                object,
                action,
                granted: true,
                role: Some(role.clone()),
                binding: Some(binding.clone()),
                missing: None,
                policy_version: ev.version,
            }),
            Outcome::WrongRegion { object_region } => {
                return Err(AuthzError::WrongRegion {
                    object: Box::new(object),
                    object_region: object_region.clone(),
                    statement_region: ev.region.clone(),
                });
            }
            Outcome::ReadOnly => {
                return Err(AuthzError::ReadOnly {
                    object: Box::new(object),
                    action,
                });
            }
            Outcome::Denied { missing_role, crn } => {
                return Err(AuthzError::Denied {
                    principal: principal_id.to_string(),
                    object: Box::new(object),
                    action,
                    missing_role: missing_role.clone(),
                    crn: crn.clone(),
                });
            }
        }
    }
    Ok(AuthorizedStatement {
        resolved,
        decisions,
        warrant: Warrant {
            principal: principal_id.to_string(),
            placement: placement.clone(),
            policy_version: ev.version,
        },
        data,
    })
}
