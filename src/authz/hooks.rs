//! What policy administration reports: metrics, the log, and the audit trail.
//!
//! AUDIT HOOK: every policy change and every refused change goes through the functions of
//! this file, which emit `tracing` events with target `sqlgate::audit` (fields below). The
//! audit module connects here: replace or extend the `tracing::event!` calls with
//! `crate::audit` records. Nothing else in authz or iam emits policy-administration audit.

use super::PolicyError;
use super::{BindingRecord, ReloadOutcome};
use crate::metrics::{Metrics, ReloadLabels};

/// Target of the audit events of policy administration.
pub const AUDIT_TARGET: &str = "sqlgate::audit";

/// Records a reload attempt: counts `sqlgate_policy_reloads_total{outcome="ok"|"rejected"}`,
/// sets `sqlgate_policy_version`, logs, and emits the audit event (`policy.reload` or
/// `policy.reload_rejected`). Unchanged content and repeats of a refused content are not
/// counted again. `trigger` says what caused it (`watch`, `poll`, `startup`, `manual`).
pub fn report_reload(
    metrics: &Metrics,
    trigger: &str,
    result: &Result<ReloadOutcome, PolicyError>,
) {
    match result {
        Ok(ReloadOutcome::Applied(version)) => {
            metrics
                .policy_reloads
                .get_or_create(&ReloadLabels {
                    outcome: "ok".into(),
                })
                .inc();
            metrics.policy_version.set(*version as i64);
            tracing::info!(version, trigger, "policy reloaded");
            // AUDIT HOOK: policy.reload
            tracing::info!(
                target: "sqlgate::audit",
                event = "policy.reload",
                outcome = "applied",
                policy_version = version,
                trigger,
            );
        }
        Ok(ReloadOutcome::Unchanged(version) | ReloadOutcome::AlreadyRejected(version)) => {
            metrics.policy_version.set(*version as i64);
        }
        Err(e) => {
            metrics
                .policy_reloads
                .get_or_create(&ReloadLabels {
                    outcome: "rejected".into(),
                })
                .inc();
            tracing::error!(error = %e, trigger, "policy reload refused; the last good policy stays in force");
            // AUDIT HOOK: policy.reload_rejected
            tracing::warn!(
                target: "sqlgate::audit",
                event = "policy.reload_rejected",
                outcome = "rejected",
                error = %e,
                trigger,
            );
        }
    }
}

/// Records a role binding created or deleted through the iam/v2 API (`op` is `create` or
/// `delete`), with the policy version that has it in force. Also counts the change as an
/// applied reload, since a new policy version is in force.
pub fn binding_changed(
    metrics: &Metrics,
    actor: &str,
    op: &'static str,
    record: &BindingRecord,
    version: u64,
) {
    report_reload(metrics, "iam", &Ok(ReloadOutcome::Applied(version)));
    // AUDIT HOOK: iam.role_binding.create / iam.role_binding.delete
    tracing::info!(
        target: "sqlgate::audit",
        event = if op == "create" { "iam.role_binding.create" } else { "iam.role_binding.delete" },
        actor,
        binding_id = %record.id,
        principal = %record.principal,
        role_name = %record.role,
        crn_pattern = %record.pattern,
        pattern_type = record.pattern.pattern_type(),
        policy_version = version,
    );
}

/// Records a refused role-binding change (403, 409, 400…), with who asked and why.
pub fn binding_refused(actor: &str, op: &'static str, code: &str, detail: &str) {
    // AUDIT HOOK: iam.role_binding.refused
    tracing::warn!(
        target: "sqlgate::audit",
        event = "iam.role_binding.refused",
        actor,
        op,
        code,
        detail,
    );
}
