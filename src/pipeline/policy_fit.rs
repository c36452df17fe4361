//! The data policies in force against the tables as they are now, for the administrator: a
//! table created, replaced, altered or dropped and created again through the gateway may no
//! longer fit a row filter or column mask that covers it. Reads through such an entry are
//! refused by the engine (fail closed, `rewrite.data_policy_mismatch`); this module makes it
//! visible: a WARN log line per misfit (entry, table, column; never the expression), the
//! gauge `sqlgate_data_policy_mismatches`, and the misfits in `POST /sqlgate/v1/check`'s
//! `data_policies[].mismatches`.
//!
//! One task per gateway checks again at start, on every new policy version and after every
//! table DDL statement ([`changed`]); requests never wait for it.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use tracing::{info, warn};

use super::explain::CheckReport;
use crate::authz::Misfit;
use crate::gateway::Gateway;

/// The last check's result and the trigger of the next one.
#[derive(Debug, Default)]
pub(crate) struct FitState {
    misfits: RwLock<Vec<Misfit>>,
    again: tokio::sync::Notify,
}

/// Statement kinds after which the tables' columns may have changed.
const TABLE_DDL: [&str; 4] = [
    "CREATE_TABLE",
    "CREATE_TABLE_AS",
    "ALTER_TABLE",
    "DROP_TABLE",
];

/// Asks for a check after `stmt` ran, when it may have changed a table.
pub(crate) fn changed(gw: &Gateway, stmt: &crate::rewrite::RewrittenStatement) {
    if TABLE_DDL.contains(&stmt.sql_kind()) {
        gw.policy_fit().again.notify_one();
    }
}

/// Starts the task that checks the policies in force against the tables.
pub(crate) fn spawn(gw: &Arc<Gateway>) {
    let weak = Arc::downgrade(gw);
    let mut versions = gw.authorizer().watch_versions();
    // The state, not the gateway: the task must not keep the gateway alive.
    let state = gw.policy_fit().clone();
    tokio::spawn(async move {
        loop {
            {
                let Some(gw) = weak.upgrade() else {
                    return;
                };
                recheck(&gw).await;
            }
            tokio::select! {
                r = versions.changed() => if r.is_err() { return },
                () = state.again.notified() => {}
            }
        }
    });
}

/// One check: logs the misfits not seen by the last one, sets the gauges, remembers them.
async fn recheck(gw: &Gateway) {
    let Some((version, report)) = gw.authorizer().data_policy_fit().await else {
        return;
    };
    let state = gw.policy_fit();
    let before: BTreeSet<String> = state
        .misfits
        .read()
        .map(|m| m.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    for m in &report.misfits {
        if !before.contains(&m.to_string()) {
            warn!(
                policy_version = version,
                kind = m.kind,
                entry = %m.entry,
                table = %m.table,
                column = m.column.as_deref().unwrap_or(""),
                problem = %m.problem,
                "a data policy does not fit its table; reads of the table through it are \
                 refused until the data policies or the table are corrected"
            );
        }
    }
    if report.misfits.is_empty() && !before.is_empty() {
        info!(
            policy_version = version,
            "every data policy fits its tables again"
        );
    }
    for source in &report.unreached {
        warn!(source = %source, "data policies: tables not checked (not reached in time)");
    }
    let metrics = gw.metrics();
    metrics
        .data_policy_mismatches
        .set(i64::try_from(report.misfits.len()).unwrap_or(i64::MAX));
    metrics
        .data_policy_unreached
        .set(i64::try_from(report.unreached.len()).unwrap_or(i64::MAX));
    if let Ok(mut m) = state.misfits.write() {
        *m = report.misfits;
    }
}

/// Adds the last check's misfits to the tables of an administrator's check report.
pub(crate) fn annotate(gw: &Gateway, report: &mut CheckReport) {
    if let Ok(misfits) = gw.policy_fit().misfits.read() {
        annotate_with(&misfits, report);
    }
}

/// Adds `misfits` to the tables of a check report (`sqlgate check` computes its own).
pub(crate) fn annotate_with(misfits: &[Misfit], report: &mut CheckReport) {
    for p in &mut report.data_policies {
        p.mismatches = misfits
            .iter()
            .filter(|m| m.table.to_string() == p.table)
            .map(ToString::to_string)
            .collect();
    }
}
