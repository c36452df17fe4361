//! The real `sqlgate` binary, started with `serve` in a directory of its own.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// A running `sqlgate serve`.
pub struct Served {
    /// The process (killed when dropped).
    pub child: Child,
    /// The address it listens on.
    pub addr: String,
    /// Its log lines up to and including the "listening" line.
    pub startup_log: Vec<String>,
    /// The rest of its log, once it exits (stderr keeps being drained so it never blocks).
    pub rest_of_log: JoinHandle<Vec<String>>,
}

/// Runs `sqlgate serve --listen 127.0.0.1:0 EXTRA…` in `dir` and waits until it listens.
pub async fn serve(dir: &Path, extra: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sqlgate"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .current_dir(dir)
        .env("SQLGATE_LOG", "info")
        .env_remove("SQLGATE_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = Vec::new();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            log.push(line.clone());
            if line.contains("sqlgate listening") {
                let at = line.find("addr=").unwrap() + 5;
                return line[at..].split_whitespace().next().unwrap().to_string();
            }
        }
        panic!("the gateway exited before listening: {log:#?}");
    })
    .await
    .expect("the gateway did not start listening");
    let rest_of_log = tokio::spawn(async move {
        let mut rest = Vec::new();
        while let Ok(Some(l)) = lines.next_line().await {
            rest.push(l);
        }
        rest
    });
    Served {
        child,
        addr,
        startup_log: log,
        rest_of_log,
    }
}
