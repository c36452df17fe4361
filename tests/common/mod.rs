//! Test harness: a real gateway (real TLS, real embedded engine, real policy files) on an
//! ephemeral loopback port, plus clients that talk to it.
#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod binary;
pub mod broker;
pub mod conn;
pub mod data_policies;
pub mod flink;
pub mod peers;
pub mod python;
pub mod recorder;
pub mod refusal;
pub mod registry;
pub mod stack;
pub mod tamper;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sqlgate::config::Config;
use sqlgate::gateway::Gateway;
use tokio::sync::oneshot;

pub const ORG: &str = "org-dev";
pub const ENV: &str = "env-dev";

/// A running gateway and its files.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub gateway: Arc<Gateway>,
    pub config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Copies the repository's `policies/` into `dst` so tests can change them freely.
pub fn copy_policies(dst: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        // API keys created on the developer's machine are not part of the test fixture.
        if entry.file_type().unwrap().is_file() && name != "api-keys.toml" {
            std::fs::copy(entry.path(), dst.join(name)).unwrap();
        }
    }
}

impl TestGateway {
    /// Starts a gateway with the default configuration, in a fresh temp directory.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a gateway after `tweak` adjusts the default configuration.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_policies(&dir.path().join("policies"));
        Self::start_in(dir, tweak).await
    }

    /// Starts a gateway whose relative paths resolve in `dir` (which must hold `policies/`).
    pub async fn start_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_in_with_clock(dir, Arc::new(sqlgate::statements::SystemClock), tweak).await
    }

    /// [`TestGateway::start_in`] with the clock statements are timed by.
    pub async fn start_in_with_clock(
        dir: tempfile::TempDir,
        clock: Arc<dyn sqlgate::statements::Clock>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::default_config().unwrap();
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.server.shutdown_grace = Duration::from_secs(5);
        tweak(&mut config);
        let config = config.validate().unwrap();
        let gateway = Gateway::build_with(config.clone(), dir.path(), clock)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let gw = gateway.clone();
        let task = tokio::spawn(async move {
            sqlgate::server::run(listener, gw, async {
                let _ = rx.await;
            })
            .await;
        });
        Self {
            addr,
            dir,
            gateway,
            config,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Signals shutdown and waits for the drain to finish.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        // Give the engine a moment to release files before a restart reuses the directory.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join(&self.config.tls.dev_ca_file)
    }

    pub fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    pub fn base(&self) -> String {
        format!(
            "{}/sql/v1/organizations/{ORG}/environments/{ENV}",
            self.endpoint()
        )
    }

    /// A JWT from the dev issuer.
    pub fn token(&self, subject: &str, groups: &[&str]) -> String {
        let dev = self.config.auth.dev_issuer.as_ref().unwrap();
        let groups: Vec<String> = groups.iter().map(|s| s.to_string()).collect();
        sqlgate::auth::dev::mint_token(
            dev,
            self.dir.path(),
            subject,
            &groups,
            Duration::from_secs(3600),
        )
        .unwrap()
    }

    /// Creates an API key for `principal`; returns (key, secret).
    pub fn api_key(&self, principal: &str) -> (String, String) {
        let file = self.dir.path().join(&self.config.auth.api_keys_file);
        sqlgate::auth::api_key::create_api_key(&file, principal, None).unwrap()
    }

    /// An HTTPS client trusting the dev CA (HTTP/1.1 and HTTP/2 by ALPN).
    pub fn client(&self) -> reqwest::Client {
        client_trusting(&self.ca_file())
    }

    /// How many statements the engine was asked to run so far.
    pub fn engine_calls(&self) -> u64 {
        self.gateway.engine_calls()
    }
}

/// Credentials as a client sends them.
#[derive(Clone, Debug)]
pub enum Cred {
    /// Bearer token plus identity pool header.
    Pool(String, String),
    /// Bearer token alone.
    Bearer(String),
    /// API key and secret.
    Basic(String, String),
}

impl Cred {
    pub fn apply(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Cred::Pool(t, p) => rb.bearer_auth(t).header("Confluent-Identity-Pool-Id", p),
            Cred::Bearer(t) => rb.bearer_auth(t),
            Cred::Basic(k, s) => rb.basic_auth(k, Some(s)),
        }
    }
}

/// A developer in `pool-dev`.
pub fn developer(gw: &TestGateway) -> Cred {
    Cred::Pool(gw.token("alice", &["developers"]), "pool-dev".into())
}

/// An administrator in `pool-admin`.
pub fn admin(gw: &TestGateway) -> Cred {
    Cred::Pool(gw.token("root", &["admins"]), "pool-admin".into())
}

/// POSTs a statement; returns (status, body).
pub async fn post_statement(
    gw: &TestGateway,
    cred: &Cred,
    name: &str,
    sql: &str,
    props: Value,
) -> (u16, Value) {
    let mut properties = json!({"sql.current-catalog": ENV, "sql.current-database": "lkc-dev", "sql.snapshot.mode": "now"});
    if let (Some(p), Some(extra)) = (properties.as_object_mut(), props.as_object()) {
        for (k, v) in extra {
            // A null removes a default property (e.g. `sql.snapshot.mode` for a stream).
            if v.is_null() {
                p.remove(k);
            } else {
                p.insert(k.clone(), v.clone());
            }
        }
    }
    let body = json!({"name": name, "organization_id": ORG, "environment_id": ENV, "spec": {"statement": sql, "properties": properties, "stopped": false}});
    let resp = cred
        .apply(gw.client().post(format!("{}/statements", gw.base())))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Runs a statement to completion and returns its rows (each the `row` array).
pub async fn run_query(
    gw: &TestGateway,
    cred: &Cred,
    name: &str,
    sql: &str,
) -> Result<Vec<Value>, (u16, Value)> {
    let (status, body) = post_statement(gw, cred, name, sql, json!({})).await;
    if status != 200 || body["status"]["phase"] == "FAILED" {
        return Err((status, body));
    }
    let client = gw.client();
    // Wait for a terminal phase (or RUNNING with traits: rows stream meanwhile).
    let mut rows = Vec::new();
    let mut url = format!("{}/statements/{name}/results", gw.base());
    loop {
        let resp = cred.apply(client.get(&url)).send().await.unwrap();
        let status = resp.status().as_u16();
        let page: Value = resp.json().await.unwrap();
        if status != 200 {
            return Err((status, page));
        }
        for item in page["results"]["data"].as_array().unwrap() {
            rows.push(item["row"].clone());
        }
        match page["metadata"]["next"].as_str() {
            Some(n) if !n.is_empty() => url = n.to_string(),
            _ => break,
        }
    }
    Ok(rows)
}

/// GETs a path under the environment base.
pub async fn get(gw: &TestGateway, cred: &Cred, path: &str) -> (u16, Value) {
    let resp = cred
        .apply(gw.client().get(format!("{}{path}", gw.base())))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The `detail` of the first error in an error body.
pub fn detail(body: &Value) -> String {
    body["errors"][0]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Appends role bindings to a policy directory's `bindings.csv`.
pub fn bind(policies: &Path, lines: &[(&str, &str, &str)]) {
    let file = policies.join("bindings.csv");
    let mut text = std::fs::read_to_string(&file).unwrap();
    for (principal, role, crn) in lines {
        text.push_str(&format!("\n{principal}, {role}, {crn}\n"));
    }
    std::fs::write(file, text).unwrap();
}

pub const ENV_CRN: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev";
pub const TOPICS_CRN: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=*";

/// Gives `principal` what `pool-dev` has: FlinkDeveloper on env-dev and every topic of lkc-dev.
pub fn grant_developer(policies: &Path, principal: &str) {
    bind(
        policies,
        &[
            (principal, "FlinkDeveloper", ENV_CRN),
            (principal, "ResourceOwner", TOPICS_CRN),
        ],
    );
}

/// A dev-issuer token for a gateway started (as a binary) in `dir` with the default config.
pub fn token_in(dir: &Path, subject: &str, groups: &[&str]) -> String {
    let dev = Config::default_config().unwrap().auth.dev_issuer.unwrap();
    let groups: Vec<String> = groups.iter().map(|s| s.to_string()).collect();
    sqlgate::auth::dev::mint_token(&dev, dir, subject, &groups, Duration::from_secs(600)).unwrap()
}

/// An HTTPS client trusting the CA in `ca_file` (HTTP/1.1 and HTTP/2 by ALPN).
pub fn client_trusting(ca_file: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca_file).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}
