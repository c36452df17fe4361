//! Long-running statements under a changing policy: when a new policy version (a reload of
//! the policy directory, `data-policies.toml` included, or an iam/v2 write) alters the row
//! filters or column masks that apply to a table a statement reads, for the statement's
//! principal, the statement is ended: its engine work is cancelled (the Flink job too) and it
//! is recorded FAILED, audited as `flink.StatementFailed`, with a detail naming the policy
//! version, the table and the filters and masks that changed (never their text).
//!
//! Owns the task that follows the authorizer's version ([`spawn`]) and the registration of a
//! statement's reads ([`watch`]); what counts as a change is [`crate::rewrite::ReadPolicies`]'s,
//! the ending is [`crate::statements::Statements::end_for_policy`] and the driving task's.
//! Statements whose filters and masks stayed the same keep running.

use std::sync::Arc;

use tracing::info;

use crate::gateway::Gateway;
use crate::rewrite::ReadPolicies;
use crate::statements::lifecycle::policy_change;
use crate::statements::running::Running;

/// Follows the policy version in force; on each new one, ends the statements it concerns.
/// The task ends with the gateway.
pub(crate) fn spawn(gw: &Arc<Gateway>) {
    let mut versions = gw.authorizer().watch_versions();
    let weak = Arc::downgrade(gw);
    tokio::spawn(async move {
        while versions.changed().await.is_ok() {
            let Some(gw) = weak.upgrade() else {
                return;
            };
            let (version, data) = gw.authorizer().data_policies();
            for (uid, change) in gw.statements().end_for_policy(version, &data) {
                info!(
                    statement_uid = %uid,
                    policy_version = version,
                    detail = %change.detail(),
                    "policy change ends a running statement"
                );
            }
        }
    });
}

/// Records what the statement of `running` reads under which filters and masks; if a newer
/// policy is in force already (it was swapped while the statement was decided), compares
/// with it at once, so no change falls between the decision and the registration.
pub(crate) fn watch(gw: &Gateway, running: &Running, reads: ReadPolicies) {
    running.set_reads(reads);
    let (version, data) = gw.authorizer().data_policies();
    if let Some(change) = policy_change(running, version, &data) {
        running.end_for_policy(change.detail());
    }
}
