//! Hot reload: watches the policy directory and reloads when a policy file changes.
//!
//! Events from `notify` are debounced (editors write a file in several steps, `git checkout`
//! touches several files), then [`Authorizer::reload`] waits for the files to settle (no
//! change for `policy.reload_settle`, see `settle.rs`: the debounce alone would apply a file
//! written in place with a pause), validates the whole policy and swaps it in or refuses it. As a fallback for file systems without change events, the files'
//! modification times and sizes are polled. Only `model.conf`, `roles.csv` and `bindings.csv`
//! matter: other files in the directory (API keys, decision tables, temp files) are ignored.
//! Content already in force is not applied twice ([`ReloadOutcome::Unchanged`]).

use super::PolicyError;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use notify::Watcher;
use tokio::sync::mpsc;

use super::policy::POLICY_FILES;
use super::{Authorizer, ReloadOutcome};

/// Timing of the watcher.
#[derive(Debug, Clone, Copy)]
pub struct WatchConfig {
    /// Quiet time after the last change event before reloading.
    pub debounce: Duration,
    /// How often modification times are compared (fallback when events are lost).
    pub poll: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(200),
            poll: Duration::from_secs(2),
        }
    }
}

/// What the watched files looked like at the last look: (mtime, length) of each.
type Fingerprint = Vec<Option<(SystemTime, u64)>>;

/// Starts watching `authorizer`'s directory. After each reload attempt `report` is called
/// with what caused it (`watch` or `poll`) and the outcome. The task ends when `report`
/// returns `false` (its owner is gone).
pub fn spawn_watcher<F>(
    authorizer: Authorizer,
    config: WatchConfig,
    report: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(&str, &Result<ReloadOutcome, PolicyError>) -> bool + Send + 'static,
{
    let dir = authorizer.dir().to_path_buf();
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res
            && ev.paths.iter().any(|p| is_policy_file(p))
        {
            let _ = tx.send(());
        }
    })
    .and_then(|mut w| {
        w.watch(&dir, notify::RecursiveMode::NonRecursive)
            .map(|()| w)
    });
    let watcher = match watcher {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, dir = %authorizer.dir().display(), "cannot watch the policy directory; polling only");
            None
        }
    };
    tokio::spawn(async move {
        // Kept alive for as long as the task runs.
        let _watcher = watcher;
        let dir = authorizer.dir().to_path_buf();
        let mut events_open = _watcher.is_some();
        let mut seen = fingerprint(&dir).await;
        let mut poll = tokio::time::interval(config.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let trigger = tokio::select! {
                ev = rx.recv(), if events_open => {
                    if ev.is_none() {
                        events_open = false;
                        continue;
                    } else {
                        // Debounce: wait until no event came for `debounce`.
                        while let Ok(Some(())) =
                            tokio::time::timeout(config.debounce, rx.recv()).await
                        {}
                        "watch"
                    }
                }
                _ = poll.tick() => {
                    let now = fingerprint(&dir).await;
                    if now == seen {
                        if !report("poll", &Ok(ReloadOutcome::Unchanged(authorizer.version()))) {
                            return;
                        }
                        continue;
                    }
                    "poll"
                }
            };
            seen = fingerprint(&dir).await;
            let result = authorizer.reload().await;
            if !report(trigger, &result) {
                return;
            }
        }
    })
}

fn is_policy_file(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| POLICY_FILES.contains(&n))
}

async fn fingerprint(dir: &Path) -> Fingerprint {
    let mut out = Vec::with_capacity(POLICY_FILES.len());
    for f in POLICY_FILES {
        let p: PathBuf = dir.join(f);
        out.push(
            tokio::fs::metadata(&p)
                .await
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len()))),
        );
    }
    out
}
