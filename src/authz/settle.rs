//! Reading the policy files only once they are complete: a reload must never apply a file
//! that an editor or a copy is still writing.
//!
//! What writers do: vim (by default), `sed -i`, `git checkout`, config management tools and the
//! iam/v2 API write a new file and rename it over the old one, so a reader sees the old or the
//! new file whole. But `cp`, shell redirection (`> bindings.csv`), `vim` with
//! `backupcopy=yes`, many IDEs and network copies truncate the file and write it in place,
//! in chunks, sometimes with pauses (a slow disk, a remote editor). A file read in between is
//! a prefix of the new content: often still valid CSV, and then a wrong policy.
//!
//! So a reload looks at all three files (length, modification and change time, inode, and a
//! SHA-256 of the content read) and applies them only when a second look, at least
//! [`Settle::period`] later, sees exactly the same. A look that differs starts the wait over;
//! after [`Settle::rounds`] periods without two equal looks the reload gives up
//! ([`Settled::StillChanging`]) and the last good policy stays in force until the files
//! settle (the watcher tries again when it next sees a change or on its poll).
//!
//! A writer that pauses longer than the period in the middle of a file cannot be told from
//! one that finished; the period should exceed the longest pause of the writers in use
//! (2 s by default), and writing a new file and renaming it is always safe. The validation
//! that follows refuses what a prefix usually looks like: an empty bindings file, a cut line.
//!
//! The rule works on [`Look`]s of a [`PolicyStore`]; how a look is taken (the file metadata
//! and digests above) is the file store's business (`store.rs`).

use std::time::Duration;

use super::PolicyError;
use super::policy::{BINDINGS_FILE, POLICY_FILES, PolicyTexts};
use super::store::{FileLook, Look, PolicyStore};

/// How long the policy files must stay unchanged before a reload applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settle {
    /// Two looks at least this far apart must agree. Zero reads once (for file systems
    /// written only by atomic renames).
    pub period: Duration,
    /// How many periods a reload waits for the files to settle before giving up.
    pub rounds: u32,
}

impl Settle {
    /// Longest period the configuration accepts: a reload waits up to [`Settle::rounds`]
    /// of them, and a policy change should be in force within minutes at worst.
    pub const MAX_PERIOD: Duration = Duration::from_secs(60);
}

impl Default for Settle {
    fn default() -> Self {
        Self {
            period: Duration::from_secs(2),
            rounds: 5,
        }
    }
}

/// What [`read_settled`] found.
#[derive(Debug)]
pub(super) enum Settled {
    /// The files (or the error reading them) stayed the same for a whole period.
    Stable(Result<PolicyTexts, PolicyError>),
    /// This file was still changing when the reload gave up.
    StillChanging {
        /// Which file changed last.
        file: &'static str,
        /// How long the reload waited.
        waited: Duration,
    },
}

/// The first file whose look differs between `a` and `b`.
fn first_difference(a: &Look, b: &Look) -> &'static str {
    POLICY_FILES
        .iter()
        .zip(a.files.iter().zip(&b.files))
        .find(|(_, (x, y))| x != y || matches!(x, FileLook::Torn))
        .map(|(f, _)| *f)
        .unwrap_or(BINDINGS_FILE)
}

/// Reads the policy texts of `store` once, as they are now.
pub(super) async fn read_once(store: &dyn PolicyStore) -> Result<PolicyTexts, PolicyError> {
    store.look().await.texts()
}

/// Time as the settle rule sees it. The gateway uses tokio's clock ([`TokioClock`]); tests
/// use a scripted one that runs file writes at given instants, so the timing is exact.
pub(super) trait Clock {
    /// Time since this clock's origin.
    fn elapsed(&self) -> Duration;
    /// Returns once [`Clock::elapsed`] is at least `at`.
    fn sleep_until(&self, at: Duration) -> impl std::future::Future<Output = ()>;
}

/// Tokio's clock, from when it was made.
#[derive(Debug, Clone, Copy)]
pub(super) struct TokioClock(tokio::time::Instant);

impl TokioClock {
    /// A clock whose origin is now.
    pub(super) fn start() -> Self {
        Self(tokio::time::Instant::now())
    }
}

impl Clock for TokioClock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    async fn sleep_until(&self, at: Duration) {
        tokio::time::sleep_until(self.0 + at).await;
    }
}

/// Reads the policy texts of `store` once they have stayed unchanged for `settle.period`
/// (see the module doc), waiting on `clock`.
pub(super) async fn read_settled(
    store: &dyn PolicyStore,
    settle: Settle,
    clock: &impl Clock,
) -> Settled {
    let first = store.look().await;
    if settle.period.is_zero() {
        return Settled::Stable(first.texts());
    }
    let started = clock.elapsed();
    let deadline = started + settle.period * settle.rounds.max(1);
    // The latest look that differed from the one before it, and when it was taken.
    let (mut since, mut since_at) = (first, started);
    loop {
        clock.sleep_until(since_at + settle.period).await;
        let now = store.look().await;
        if now == since && !now.is_torn() {
            return Settled::Stable(now.texts());
        }
        let file = first_difference(&since, &now);
        let at = clock.elapsed();
        if at + settle.period > deadline {
            return Settled::StillChanging {
                file,
                waited: at - started,
            };
        }
        tracing::info!(
            file,
            period = ?settle.period,
            "a policy file changed during the settle period; the reload waits for it"
        );
        (since, since_at) = (now, at);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::cell::{Cell, RefCell};
    use std::io::Write;

    use super::*;
    use crate::authz::store::{FilePolicyStore, MAX_FILE_BYTES};

    /// A clock whose time moves only when the code under test sleeps, running each scripted
    /// action (a file write) when its instant is reached, in order.
    #[derive(Default)]
    pub(in crate::authz) struct ScriptClock {
        now: Cell<Duration>,
        script: RefCell<Vec<(Duration, Action)>>,
    }

    /// Something the script does at an instant (a file write).
    type Action = Box<dyn FnOnce()>;

    impl ScriptClock {
        /// Runs `action` at `at` (milliseconds after the start).
        pub(in crate::authz) fn at(self, ms: u64, action: impl FnOnce() + 'static) -> Self {
            self.script
                .borrow_mut()
                .push((Duration::from_millis(ms), Box::new(action)));
            self.script.borrow_mut().sort_by_key(|(t, _)| *t);
            self
        }

        /// Moves time to `t`, running what is due.
        pub(in crate::authz) fn advance_to(&self, t: Duration) {
            loop {
                let due = {
                    let mut script = self.script.borrow_mut();
                    match script.first() {
                        Some((when, _)) if *when <= t => Some(script.remove(0)),
                        _ => None,
                    }
                };
                let Some((when, action)) = due else { break };
                self.now.set(self.now.get().max(when));
                action();
            }
            self.now.set(self.now.get().max(t));
        }
    }

    impl Clock for ScriptClock {
        fn elapsed(&self) -> Duration {
            self.now.get()
        }

        async fn sleep_until(&self, at: Duration) {
            self.advance_to(at);
        }
    }

    const MODEL: &str = "model text\n";
    const ROLES: &str = "roles text\n";

    fn dir_with(bindings: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("model.conf"), MODEL).unwrap();
        std::fs::write(dir.path().join("roles.csv"), ROLES).unwrap();
        std::fs::write(dir.path().join(BINDINGS_FILE), bindings).unwrap();
        dir
    }

    fn stable_bindings(s: Settled) -> String {
        match s {
            Settled::Stable(Ok(t)) => t.bindings,
            other => panic!("not stable: {other:?}"),
        }
    }

    const SETTLE: Settle = Settle {
        period: Duration::from_secs(2),
        rounds: 5,
    };

    /// `cp`, `>`, an editor saving in place: truncate, write part, pause, write the rest.
    #[tokio::test]
    async fn a_file_written_in_place_with_a_pause_is_read_only_once_complete() {
        let dir = dir_with("old, old, old\n");
        let path = dir.path().join(BINDINGS_FILE);
        let file = std::rc::Rc::new(std::fs::File::create(&path).unwrap());
        (&*file).write_all(b"new line 1\nnew li").unwrap();
        // The reload starts (debounce passed) while the file is half-written; the rest comes
        // 1.5 s later.
        let rest = file.clone();
        let clock = ScriptClock::default().at(1500, move || (&*rest).write_all(b"ne 2\n").unwrap());
        let read = read_settled(&FilePolicyStore::new(dir.path()), SETTLE, &clock).await;
        assert_eq!(stable_bindings(read), "new line 1\nnew line 2\n");
        // Read at 2 s (differs from the half file), confirmed at 4 s.
        assert_eq!(clock.elapsed(), Duration::from_secs(4));
    }

    /// `cp` of a larger file, slowly: many chunks, each a little later.
    #[tokio::test]
    async fn a_file_written_in_chunks_is_read_only_once_complete() {
        let dir = dir_with("old\n");
        let path = dir.path().join(BINDINGS_FILE);
        let whole: String = (0..40)
            .map(|i| format!("User:sa-{i}, Role, crn\n"))
            .collect();
        let file = std::rc::Rc::new(std::fs::File::create(&path).unwrap());
        let mut clock = ScriptClock::default();
        for (i, chunk) in whole.as_bytes().chunks(64).enumerate() {
            let (f, chunk) = (file.clone(), chunk.to_vec());
            clock = clock.at(400 * i as u64, move || (&*f).write_all(&chunk).unwrap());
        }
        let last = 400 * (whole.len() / 64) as u64;
        assert!(last > 4000, "the write takes longer than two periods");
        assert_eq!(
            stable_bindings(read_settled(&FilePolicyStore::new(dir.path()), SETTLE, &clock).await),
            whole
        );
        assert!(clock.elapsed() >= Duration::from_millis(last) + SETTLE.period);
    }

    #[tokio::test]
    async fn files_that_keep_changing_are_not_read_and_the_file_is_named() {
        let dir = dir_with("v0\n");
        let mut clock = ScriptClock::default();
        for i in 1..40u64 {
            let path = dir.path().join(BINDINGS_FILE);
            clock = clock.at(900 * i, move || {
                std::fs::write(&path, format!("v{i}\n")).unwrap()
            });
        }
        match read_settled(&FilePolicyStore::new(dir.path()), SETTLE, &clock).await {
            Settled::StillChanging { file, waited } => {
                assert_eq!(file, BINDINGS_FILE);
                assert_eq!(waited, SETTLE.period * SETTLE.rounds);
            }
            other => panic!("{other:?}"),
        }
        // Another file changing is named as such.
        let dir = dir_with("b\n");
        let roles = dir.path().join("roles.csv");
        let clock = ScriptClock::default()
            .at(100, {
                let r = roles.clone();
                move || std::fs::write(r, "x\n").unwrap()
            })
            .at(2100, move || std::fs::write(roles, "y\n").unwrap());
        let short = Settle {
            period: SETTLE.period,
            rounds: 1,
        };
        assert!(matches!(
            read_settled(&FilePolicyStore::new(dir.path()), short, &clock).await,
            Settled::StillChanging {
                file: "roles.csv",
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_stable_directory_is_read_after_one_period_and_zero_reads_at_once() {
        let dir = dir_with("b\n");
        let clock = ScriptClock::default();
        assert_eq!(
            stable_bindings(read_settled(&FilePolicyStore::new(dir.path()), SETTLE, &clock).await),
            "b\n"
        );
        assert_eq!(clock.elapsed(), SETTLE.period);
        let now = Settle {
            period: Duration::ZERO,
            rounds: 5,
        };
        let clock = ScriptClock::default();
        assert_eq!(
            stable_bindings(read_settled(&FilePolicyStore::new(dir.path()), now, &clock).await),
            "b\n"
        );
        assert_eq!(clock.elapsed(), Duration::ZERO);
    }

    /// A rename over the file (vim, `sed -i`, the API) during the period is a change too.
    #[tokio::test]
    async fn a_rename_during_the_period_is_waited_for() {
        let dir = dir_with("old\n");
        let d = dir.path().to_path_buf();
        let clock = ScriptClock::default().at(500, move || {
            std::fs::write(d.join(".tmp"), "new\n").unwrap();
            std::fs::rename(d.join(".tmp"), d.join(BINDINGS_FILE)).unwrap();
        });
        assert_eq!(
            stable_bindings(read_settled(&FilePolicyStore::new(dir.path()), SETTLE, &clock).await),
            "new\n"
        );
        assert_eq!(clock.elapsed(), Duration::from_secs(4));
    }

    /// vim with `backupcopy=no`: the file is renamed away, then written anew; while it is
    /// missing the reload waits, and a file that stays missing is an error naming it.
    #[tokio::test]
    async fn a_missing_file_is_waited_for_and_then_named() {
        let dir = dir_with("old\n");
        let path = dir.path().join(BINDINGS_FILE);
        std::fs::rename(&path, dir.path().join("bindings.csv~")).unwrap();
        let p = path.clone();
        let clock = ScriptClock::default().at(1000, move || std::fs::write(&p, "new\n").unwrap());
        assert_eq!(
            stable_bindings(read_settled(&FilePolicyStore::new(dir.path()), SETTLE, &clock).await),
            "new\n"
        );
        std::fs::remove_file(&path).unwrap();
        match read_settled(
            &FilePolicyStore::new(dir.path()),
            SETTLE,
            &ScriptClock::default(),
        )
        .await
        {
            Settled::Stable(Err(e)) => {
                let e = e.to_string();
                assert!(
                    e.contains("bindings.csv") && e.contains("no such file"),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn non_utf8_and_oversized_files_are_refused_naming_the_file() {
        let dir = dir_with("ok\n");
        std::fs::write(dir.path().join("roles.csv"), b"p, a\xff, b, c\n").unwrap();
        let e = read_once(&FilePolicyStore::new(dir.path()))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("roles.csv: not UTF-8 text (invalid byte at offset 4)"),
            "{e}"
        );
        let f = std::fs::File::create(dir.path().join("roles.csv")).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        let e = read_once(&FilePolicyStore::new(dir.path()))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("roles.csv") && e.contains("larger than 64 MiB"),
            "{e}"
        );
    }
}
