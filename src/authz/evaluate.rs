//! The one evaluation of a statement's accesses against a policy snapshot.
//!
//! Both enforcement ([`Authorizer::authorize`]) and explanation ([`Authorizer::explain`],
//! behind `sqlgate check`) read the same [`Evaluation`], so what an admin is shown is exactly
//! what the gateway enforces: the first access that is not granted is the refusal.

use serde::Serialize;

use super::{Authorizer, State, is_examples, missing_role, region_of};
use crate::catalog::ObjectRef;
use crate::sql::{Action, ResolvedStatement};

/// How one access fares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A binding grants it.
    Granted {
        /// The role that grants it.
        role: String,
        /// The binding's CRN pattern.
        binding: String,
    },
    /// The object lives in another region than the statement runs in.
    WrongRegion {
        /// The object's region.
        object_region: String,
    },
    /// A change to the read-only `examples` catalog.
    ReadOnly,
    /// No binding grants it.
    Denied {
        /// The least role that would.
        missing_role: String,
        /// The CRN a binding would have to cover.
        crn: String,
    },
}

impl Outcome {
    /// Whether the access is allowed.
    pub fn is_granted(&self) -> bool {
        matches!(self, Outcome::Granted { .. })
    }
}

/// One access and how it fares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluated {
    /// The object.
    pub object: ObjectRef,
    /// The action on it.
    pub action: Action,
    /// The verdict.
    pub outcome: Outcome,
}

/// Every verdict for one statement, made against one policy version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The policy version used.
    pub version: u64,
    /// The principal.
    pub principal: String,
    /// The statement's environment.
    pub environment: String,
    /// The environment's CRN (where the run permission is checked).
    pub environment_crn: String,
    /// The statement's region.
    pub region: String,
    /// The role and binding that let the principal run statements there, if any.
    pub run: Option<(String, String)>,
    /// Each access in statement order.
    pub accesses: Vec<Evaluated>,
}

impl Evaluation {
    /// Whether the statement would be allowed.
    pub fn allowed(&self) -> bool {
        self.run.is_some() && self.accesses.iter().all(|a| a.outcome.is_granted())
    }
}

impl Authorizer {
    /// Explains what the policy in force says about a resolved statement, without refusing
    /// or running anything (for `sqlgate check` and the admins' HTTP check).
    pub fn explain(
        &self,
        principal_id: &str,
        resolved: &ResolvedStatement,
        statement_env: &str,
        statement_region: &str,
    ) -> Evaluation {
        let state = self.state();
        self.evaluate(
            &state,
            principal_id,
            resolved,
            statement_env,
            statement_region,
        )
    }

    pub(super) fn evaluate(
        &self,
        state: &State,
        principal_id: &str,
        resolved: &ResolvedStatement,
        statement_env: &str,
        statement_region: &str,
    ) -> Evaluation {
        let catalogs = &self.inner.catalogs;
        let env_crn = catalogs.crn(&ObjectRef::Catalog(statement_env.to_string()));
        let run = self.grant(state, principal_id, &env_crn, "run");
        let accesses = resolved
            .accesses()
            .iter()
            .map(|access| {
                let (object, action) = (&access.object, access.action);
                // A principal learns an object's region only from a refusal of something it
                // may otherwise do: the grant is decided first, the region after.
                let outcome = if is_examples(object) {
                    // Readable by anyone who may run statements; never changed.
                    match (action, &run) {
                        (Action::Read | Action::Describe | Action::List, Some((role, binding))) => {
                            Outcome::Granted {
                                role: role.clone(),
                                binding: binding.clone(),
                            }
                        }
                        (Action::Read | Action::Describe | Action::List, None) => Outcome::Denied {
                            missing_role: "FlinkDeveloper".into(),
                            crn: env_crn.to_string(),
                        },
                        _ => Outcome::ReadOnly,
                    }
                } else {
                    let crn = catalogs.crn(object);
                    match self.grant(state, principal_id, &crn, action.as_str()) {
                        Some((role, binding)) => Outcome::Granted { role, binding },
                        // Listing catalogs is part of running statements; what is listed is
                        // filtered with `can_see`.
                        None if *object == ObjectRef::Organization && action == Action::List => {
                            match &run {
                                Some((role, binding)) => Outcome::Granted {
                                    role: role.clone(),
                                    binding: binding.clone(),
                                },
                                None => Outcome::Denied {
                                    missing_role: "FlinkDeveloper".into(),
                                    crn: env_crn.to_string(),
                                },
                            }
                        }
                        None => Outcome::Denied {
                            missing_role: missing_role(action).to_string(),
                            crn: crn.to_string(),
                        },
                    }
                };
                let outcome = match (outcome, region_of(catalogs, object)) {
                    (Outcome::Granted { .. }, Some(region))
                        if !region.eq_ignore_ascii_case(statement_region) =>
                    {
                        Outcome::WrongRegion {
                            object_region: region.to_string(),
                        }
                    }
                    (outcome, _) => outcome,
                };
                Evaluated {
                    object: object.clone(),
                    action,
                    outcome,
                }
            })
            .collect();
        Evaluation {
            version: state.version,
            principal: principal_id.to_string(),
            environment: statement_env.to_string(),
            environment_crn: env_crn.to_string(),
            region: statement_region.to_string(),
            run,
            accesses,
        }
    }
}
