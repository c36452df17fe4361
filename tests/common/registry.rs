//! A real Confluent-compatible Schema Registry: Apicurio Registry 3.x and its Confluent API
//! (`/apis/ccompat/v7`), in-memory storage, started by `scripts/dev-stack.sh up registry`
//! (installed into `~/.cache/sqlgate/stack` on first use; Java 21+, else the script falls
//! back to Apicurio 3.0.9 on Java 17). Global compatibility is BACKWARD, Confluent's default.
//!
//! [`shared`] is one registry per test binary (tests on it use subject names of their own);
//! [`start`] one of the calling test's own, stopped when dropped (for outage tests).
//! A restarted registry is empty: its storage is in memory.

use std::sync::OnceLock;
use std::time::Duration;

use super::stack::Stack;

/// A running registry.
pub struct Registry {
    /// `http://127.0.0.1:PORT/apis/ccompat/v7`, for `schema_registry_url`.
    pub url: String,
    stack: Stack,
}

/// The test binary's shared registry (started on first use).
pub async fn shared() -> &'static Registry {
    static SHARED: OnceLock<Registry> = OnceLock::new();
    tokio::task::spawn_blocking(|| SHARED.get_or_init(|| launch("registry-shared")))
        .await
        .expect("start the shared registry")
}

/// A registry of the caller's own; stopped when dropped.
pub async fn start() -> Registry {
    tokio::task::spawn_blocking(|| launch("registry"))
        .await
        .expect("start a registry")
}

/// The registry's JVM: only the C1 JIT (it starts in about half the time and uses less
/// memory).
fn env() -> Vec<(&'static str, String)> {
    vec![("SCHEMA_REGISTRY_JVM_OPTS", "-XX:TieredStopAtLevel=1".into())]
}

fn launch(name: &str) -> Registry {
    let stack = Stack::new(name);
    let out = stack.up("registry", &env());
    let url = out
        .get("SCHEMA_REGISTRY_URL")
        .unwrap_or_else(|| {
            panic!("dev-stack.sh up registry printed no SCHEMA_REGISTRY_URL: {out:?}")
        })
        .clone();
    Registry { url, stack }
}

impl Registry {
    /// Live (not deleted) subjects, sorted, as `GET /subjects` answers.
    pub async fn subjects(&self) -> Vec<String> {
        let resp = reqwest::Client::new()
            .get(format!("{}/subjects", self.url))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("GET /subjects");
        assert!(
            resp.status().is_success(),
            "GET /subjects: {}",
            resp.status()
        );
        let mut subjects: Vec<String> = resp.json().await.expect("a JSON list of subjects");
        subjects.sort();
        subjects
    }

    /// Live subjects starting with `prefix` (a test's own on a shared registry), sorted.
    pub async fn subjects_with(&self, prefix: &str) -> Vec<String> {
        let mut s = self.subjects().await;
        s.retain(|s| s.starts_with(prefix));
        s
    }

    /// Stops the registry (its subjects are lost: in-memory storage).
    pub async fn stop(&self) {
        tokio::task::block_in_place(|| self.stack.down(Some("registry")));
    }

    /// Starts the stopped registry again on the same port (empty).
    pub async fn restart(&self) {
        let port = self
            .url
            .split(':')
            .nth(2)
            .and_then(|p| p.split('/').next())
            .and_then(|p| p.parse::<u16>().ok())
            .expect("the registry URL has a port");
        tokio::task::block_in_place(|| {
            let mut env = env();
            env.push(("SCHEMA_REGISTRY_PORT", port.to_string()));
            let out = self.stack.up("registry", &env);
            assert_eq!(out.get("SCHEMA_REGISTRY_URL"), Some(&self.url));
        });
    }

    /// Resident set size of the registry's JVM in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        self.stack.rss_kib("registry")
    }
}
