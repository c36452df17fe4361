//! The real parts of the dev stack (Apache Kafka, Apicurio Registry) for tests and benches,
//! through `scripts/dev-stack.sh` with a state directory of their own.
//!
//! A [`Stack`] is one state directory (`SQLGATE_STACK_DIR`): ports, data, pid files and logs
//! of the components started in it. Nothing started in it outlives the test binary:
//! - dropping the [`Stack`] runs `dev-stack.sh down` and deletes the directory (also while a
//!   failed test unwinds);
//! - a watchdog (`sh`, in a process group of its own so a Ctrl-C of `cargo test` does not
//!   take it with the test binary) waits for the test binary to end, however it ends
//!   (normally, by a panic, SIGKILL), then runs `down` and deletes the directory. It is what
//!   stops the per-binary shared instances, which live in statics and are never dropped.
//!
//! Every call is bounded: `up` by [`UP_TIMEOUT`] (a cold cache downloads Kafka's jars and the
//! registry first), `down` by [`DOWN_TIMEOUT`]; a call past its bound is killed and the test
//! fails naming the component and the log to read. The watchdog's `down` waits out an `up` still
//! under way (the script serializes them per state dir).

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Bound on one `dev-stack.sh up`: readiness takes seconds, a cold download (44 MB of Kafka
/// jars, the 159 MB registry) a few minutes.
pub const UP_TIMEOUT: Duration = Duration::from_secs(900);
/// Bound on one `dev-stack.sh down` (the script itself waits 30 s, then SIGKILLs).
pub const DOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// One state directory of `scripts/dev-stack.sh`.
pub struct Stack {
    dir: PathBuf,
    watchdog: Option<Child>,
}

/// `scripts/dev-stack.sh` of this checkout.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dev-stack.sh")
}

impl Stack {
    /// A fresh, empty state directory with its watchdog. Blocking.
    pub fn new(name: &str) -> Stack {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sqlgate-stack-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the stack state dir");
        // `$1` = this process, `$2` = the state dir, `$3` = the script.
        let watch = r#"while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
SQLGATE_STACK_DIR="$2" timeout 1200 bash "$3" down >/dev/null 2>&1
rm -rf "$2""#;
        let watchdog = Command::new("sh")
            .args(["-c", watch, "sh"])
            .arg(std::process::id().to_string())
            .arg(&dir)
            .arg(script())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start the stack watchdog (sh)");
        Stack {
            dir,
            watchdog: Some(watchdog),
        }
    }

    /// The state directory (`SQLGATE_STACK_DIR`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `dev-stack.sh up COMPONENT` with `env`; the `KEY=value` lines it printed. Panics with
    /// the script's stderr if it fails or takes longer than [`UP_TIMEOUT`]. Blocking.
    pub fn up(&self, component: &str, env: &[(&str, String)]) -> BTreeMap<String, String> {
        let started = Instant::now();
        let out = self.run(&["up", component], env, UP_TIMEOUT);
        let out = out.unwrap_or_else(|e| {
            panic!(
                "dev-stack.sh up {component} failed: {e}\n(logs in {})",
                self.dir.join(component).display()
            )
        });
        eprintln!(
            "[stack] {component} up in {:.1}s ({})",
            started.elapsed().as_secs_f64(),
            self.dir.display()
        );
        out.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// `dev-stack.sh down [COMPONENT]` (all components when `None`). Blocking.
    pub fn down(&self, component: Option<&str>) {
        let mut args = vec!["down"];
        args.extend(component);
        if let Err(e) = self.run(&args, &[], DOWN_TIMEOUT) {
            panic!("dev-stack.sh {args:?} failed: {e}");
        }
    }

    /// The resident set size of a component's process in KiB (from its pid file), if it runs.
    pub fn rss_kib(&self, component: &str) -> Option<u64> {
        let pid =
            std::fs::read_to_string(self.dir.join(component).join(format!("{component}.pid")))
                .ok()?;
        let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// The component's main log so far (`<dir>/<name>/<name>.log`), for failure messages.
    pub fn log(&self, component: &str) -> String {
        std::fs::read_to_string(self.dir.join(component).join(format!("{component}.log")))
            .unwrap_or_default()
    }

    /// Runs the script on this state dir; its stdout, or why it failed.
    fn run(
        &self,
        args: &[&str],
        env: &[(&str, String)],
        limit: Duration,
    ) -> Result<String, String> {
        let out_file = self.dir.join(format!(".out-{}", unique()));
        let err_file = self.dir.join(format!(".err-{}", unique()));
        let mut child = Command::new("bash")
            .arg(script())
            .args(args)
            .env("SQLGATE_STACK_DIR", &self.dir)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_file).map_err(|e| e.to_string())?)
            .stderr(std::fs::File::create(&err_file).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("cannot run bash: {e}"))?;
        let deadline = Instant::now() + limit;
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Ok(s),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(format!("no answer within {limit:?}"));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => break Err(e.to_string()),
            }
        };
        let stdout = std::fs::read_to_string(&out_file).unwrap_or_default();
        let stderr = std::fs::read_to_string(&err_file).unwrap_or_default();
        let _ = std::fs::remove_file(&out_file);
        let _ = std::fs::remove_file(&err_file);
        match status {
            Ok(s) if s.success() => Ok(stdout),
            Ok(s) => Err(format!("{s}\n{stderr}")),
            Err(e) => Err(format!("{e}\n{stderr}")),
        }
    }
}

fn unique() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Err(e) = self.run(&["down"], &[], DOWN_TIMEOUT) {
            eprintln!("[stack] down in {} failed: {e}", self.dir.display());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(mut w) = self.watchdog.take() {
            // Ours, by pid: nothing is left for it to do.
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}
