//! Reloading the policy directory: wait for the files to settle, validate them whole, swap the
//! new policy in or refuse it (the last good one stays in force), and remember the outcome for
//! `/readyz`. Callers report it (metrics, log, audit: `hooks.rs` and the gateway).

use super::PolicyError;
use std::time::Duration;

use super::policy::{self, Policy};
use super::settle::{self, Settled};
use super::{Authorizer, ReloadOutcome};

impl Authorizer {
    /// Re-reads the policy directory once its files have settled (see [`Settle`]), validates
    /// it whole and swaps it in atomically. On error the old policy stays in force and
    /// [`Authorizer::status`] reports the error. Reading the same content as the policy in
    /// force (or as the last refused one) changes nothing. Files still changing after the
    /// settle rounds are not applied (an error saying which file), and not remembered as
    /// refused: the next reload tries them again.
    pub async fn reload(&self) -> Result<ReloadOutcome, PolicyError> {
        self.reload_on(&settle::TokioClock::start()).await
    }

    /// [`Authorizer::reload`], waiting on `clock` (tests script it).
    pub(super) async fn reload_on(
        &self,
        clock: &impl settle::Clock,
    ) -> Result<ReloadOutcome, PolicyError> {
        let settle = self.inner.settle;
        // Settling runs without the admin lock (an API write must not wait for an editor);
        // under the lock the files must still be what settled, else the wait starts over.
        let mut attempts = 0;
        let (mut admin, texts) = loop {
            attempts += 1;
            let settled = match settle::read_settled(&*self.inner.store, settle, clock).await {
                Settled::Stable(r) => r,
                Settled::StillChanging { file, waited } => {
                    return Err(self.still_changing(file, waited));
                }
            };
            let admin = self.inner.admin.lock().await;
            if settle.period.is_zero() {
                break (admin, settled);
            }
            let now = self.inner.store.read().await;
            let in_force = now
                .as_ref()
                .is_ok_and(|t| t.digest() == self.state().digest);
            if now == settled || in_force {
                break (admin, now);
            }
            drop(admin);
            if attempts >= 3 {
                let file = match (&now, &settled) {
                    (Ok(a), Ok(b)) => a.first_difference(b),
                    _ => "a policy file",
                };
                return Err(self.still_changing(file, settle.period * 3));
            }
        };
        let texts = match texts {
            Ok(t) => t,
            Err(e) => {
                self.set_last_error(Some(e.to_string()));
                return Err(e);
            }
        };
        let digest = texts.digest();
        let current = self.state();
        if digest == current.digest {
            admin.rejected = None;
            self.set_last_error(None);
            return Ok(ReloadOutcome::Unchanged(current.version));
        }
        if admin.rejected == Some(digest) {
            return Ok(ReloadOutcome::AlreadyRejected(current.version));
        }
        let catalogs = &self.inner.catalogs;
        let probe = policy::ProbeModel::unless_same(&texts, &current.texts);
        let mut checked =
            Policy::check_with(&texts, catalogs.organization_id(), Some(catalogs), probe).await;
        if let Ok(policy) = &checked {
            let problems = self.new_misfits(policy, &current.policy).await;
            if !problems.is_empty() {
                checked = Err(problems);
            }
        }
        match checked.map_err(|problems| PolicyError(problems.join("; "))) {
            Ok(policy) => {
                admin.rejected = None;
                self.set_last_error(None);
                Ok(ReloadOutcome::Applied(self.swap(policy, texts)))
            }
            Err(e) => {
                admin.rejected = Some(digest);
                self.set_last_error(Some(e.to_string()));
                Err(e)
            }
        }
    }

    /// The row filters and column masks of `policy` that are new or changed against `old`
    /// and do not fit a table that exists and that they cover (see [`super::TableFit`]), as
    /// problems. Entries already in force that stopped fitting (a table changed) are not
    /// the reload's to refuse; what could not be reached in time is logged and skipped, so
    /// an unreachable registry never makes a good file invalid.
    async fn new_misfits(&self, policy: &Policy, old: &Policy) -> Vec<String> {
        let Some(fit) = self.inner.fit.get() else {
            return Vec::new();
        };
        let data = policy.data_policies();
        if data.is_empty() {
            return Vec::new();
        }
        let report = fit.check(data).await;
        for source in &report.unreached {
            tracing::warn!(
                source = %source,
                "data policies: tables not checked at reload (not reached in time); reads \
                 through a policy that does not fit them are still refused"
            );
        }
        let in_force = old.data_policies().fit_keys();
        report
            .misfits
            .iter()
            .filter(|m| !in_force.contains(&m.key))
            .map(|m| format!("{}: {m}", super::data_policy::DATA_POLICIES_FILE))
            .collect()
    }

    /// The refusal of files that did not settle (recorded for `/readyz`).
    fn still_changing(&self, file: &str, waited: Duration) -> PolicyError {
        let e = PolicyError(format!(
            "{file}: still changing after {} (policy.reload_settle is {}); not applied, the \
             last good policy stays in force until it stops changing. Write policy files whole \
             and rename them into place",
            humantime::format_duration(round_ms(waited)),
            humantime::format_duration(self.inner.settle.period),
        ));
        self.set_last_error(Some(e.to_string()));
        e
    }
}

/// `d` to whole milliseconds, for messages.
fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
