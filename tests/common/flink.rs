//! Apache Flink 2.2.1 (JobManager, TaskManager, SQL Gateway) on loopback, started by
//! `scripts/dev-stack.sh up flink` in a state directory of its own, and a gateway whose
//! compute pools run on it.
//!
//! [`shared`] is one Flink per test binary (stopped by the stack's watchdog when the binary
//! ends); [`start`] is one of the caller's own (a second region, or one the test stops).
//! Each is warmed up with a `SELECT 1` straight to its SQL Gateway, so the first statement a
//! test sends does not pay Flink's planner start (10–60 s).

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlgate::config::Config;
use sqlgate::engine::EngineEntry;
use sqlgate::kafka::KafkaClusterConfig;

use super::stack::Stack;
use super::{Cred, ENV, ORG, TestGateway};

/// How long the warm-up `SELECT 1` may take (a fresh gateway on a busy machine: up to a minute).
const WARMUP: Duration = Duration::from_secs(180);

/// A running Flink cluster with its SQL Gateway.
pub struct Flink {
    /// `http://127.0.0.1:PORT` of the SQL Gateway.
    pub sql_gateway: String,
    /// `http://127.0.0.1:PORT` of the JobManager's REST API.
    pub rest: String,
    stack: Stack,
}

/// The test binary's shared Flink (started on first use).
pub async fn shared() -> &'static Flink {
    static SHARED: OnceLock<Flink> = OnceLock::new();
    tokio::task::spawn_blocking(|| SHARED.get_or_init(|| launch("flink-shared")))
        .await
        .expect("start the shared Flink")
}

/// A Flink of the caller's own; stopped when dropped.
pub async fn start(name: &'static str) -> Flink {
    tokio::task::spawn_blocking(move || launch(name))
        .await
        .expect("start a Flink")
}

fn launch(name: &str) -> Flink {
    let stack = Stack::new(name);
    let out = stack.up("flink", &[]);
    let get = |k: &str| {
        out.get(k)
            .unwrap_or_else(|| panic!("dev-stack.sh up flink printed no {k}: {out:?}"))
            .clone()
    };
    let flink = Flink {
        sql_gateway: get("FLINK_SQL_GATEWAY_URL"),
        rest: get("FLINK_REST_URL"),
        stack,
    };
    let started = Instant::now();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(flink.warm_up());
    eprintln!(
        "[flink] warm-up SELECT 1 in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    flink
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

impl Flink {
    /// Runs `SELECT 1` in a session of its own straight on the SQL Gateway, to its end.
    async fn warm_up(&self) {
        self.select_one_direct(&http(), Duration::from_millis(200), WARMUP)
            .await;
    }

    /// `SELECT 1` in a session of its own straight on the SQL Gateway (no sqlgate), read to
    /// its end, fetching a result that is not ready every `poll`; the session is closed
    /// after. Panics if it does not end `within`.
    pub async fn select_one_direct(&self, c: &reqwest::Client, poll: Duration, within: Duration) {
        self.direct(c, &DirectStatement::plain("SELECT 1"), poll, within)
            .await;
    }

    /// `d` straight on the SQL Gateway (no sqlgate): a session of its own with its
    /// properties, its session statements (configure-session), then the statement, read to
    /// its end (fetching a result that is not ready, or empty, every `poll`); the session is
    /// closed after. Returns the rows (each its `fields`). Panics if a call fails or the
    /// statement does not end `within`.
    pub async fn direct(
        &self,
        c: &reqwest::Client,
        d: &DirectStatement,
        poll: Duration,
        within: Duration,
    ) -> Vec<Value> {
        let gw = &self.sql_gateway;
        let deadline = Instant::now() + within;
        let call = |rb: reqwest::RequestBuilder| async move {
            let v: Value = rb.send().await.unwrap().json().await.unwrap();
            assert!(
                v.get("errors").is_none(),
                "{d:?} on Flink's SQL Gateway: {v}"
            );
            v
        };
        let sh = call(
            c.post(format!("{gw}/v2/sessions"))
                .json(&json!({ "properties": d.properties })),
        )
        .await;
        let sh = sh["sessionHandle"].as_str().unwrap().to_string();
        for s in &d.setup {
            call(
                c.post(format!("{gw}/v2/sessions/{sh}/configure-session"))
                    .json(&json!({ "statement": s })),
            )
            .await;
        }
        let op = call(
            c.post(format!("{gw}/v2/sessions/{sh}/statements"))
                .json(&json!({"statement": d.statement, "executionConfig": d.execution})),
        )
        .await;
        let op = op["operationHandle"].as_str().unwrap().to_string();
        let mut rows = Vec::new();
        let mut token = 0;
        loop {
            assert!(
                Instant::now() < deadline,
                "{} straight on Flink's SQL Gateway did not end within {within:?}",
                d.statement
            );
            let page = call(c.get(format!(
                "{gw}/v2/sessions/{sh}/operations/{op}/result/{token}?rowFormat=JSON"
            )))
            .await;
            let data = page["results"]["data"].as_array();
            let n = data.map_or(0, Vec::len);
            rows.extend(data.into_iter().flatten().map(|r| r["fields"].clone()));
            match page["resultType"].as_str() {
                Some("EOS") => break,
                Some("PAYLOAD") => token += 1,
                _ => {}
            }
            if n == 0 {
                tokio::time::sleep(poll).await;
            }
        }
        c.delete(format!("{gw}/v2/sessions/{sh}"))
            .send()
            .await
            .unwrap();
        rows
    }

    /// Stops the SQL Gateway, JobManager and TaskManager.
    pub async fn stop(&self) {
        tokio::task::block_in_place(|| self.stack.down(Some("flink")));
    }

    /// The engine entry `id` for this Flink (start timeout raised for busy machines).
    pub fn engine(&self, id: &str) -> EngineEntry {
        let mut e = EngineEntry::flink(id, &self.sql_gateway, &self.rest);
        e.start_timeout = Duration::from_secs(120);
        e.request_timeout = Duration::from_secs(20);
        e
    }

    /// Sessions the SQL Gateway opened so far (sqlgate opens one per statement), counted in
    /// its log.
    pub fn sessions_opened(&self) -> usize {
        self.gateway_log_lines(&[
            "SessionManagerImpl",
            "is opened, and the number of current sessions",
        ])
    }

    /// Sessions the SQL Gateway closed so far (closed by a client, or expired), counted in
    /// its log.
    pub fn sessions_closed(&self) -> usize {
        self.gateway_log_lines(&["SessionManagerImpl", "Session: ", " is closed."])
    }

    /// The ids of the sessions the SQL Gateway has opened so far, and of those it has closed,
    /// read from its log (a session is named by its UUID in both lines).
    pub fn session_ids(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let (mut opened, mut closed) = (BTreeSet::new(), BTreeSet::new());
        for line in self.gateway_log(&["SessionManagerImpl"]) {
            let Some(id) = line.split([' ', ',', '.', ':']).find(|w| is_uuid(w)) else {
                continue;
            };
            if line.contains("is opened") {
                opened.insert(id.to_string());
            } else if line.contains(" is closed") {
                closed.insert(id.to_string());
            }
        }
        (opened, closed)
    }

    /// The lines of the SQL Gateway's log holding every one of `needles`.
    fn gateway_log_lines(&self, needles: &[&str]) -> usize {
        self.gateway_log(needles).len()
    }

    /// The lines themselves.
    fn gateway_log(&self, needles: &[&str]) -> Vec<String> {
        let dir = self.stack.dir().join("flink").join("log");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().to_string();
                n.contains("sql-gateway") && n.ends_with(".log")
            })
            .flat_map(|e| {
                std::fs::read_to_string(e.path())
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| needles.iter().all(|n| l.contains(n)))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// `(name, state)` of every job the JobManager knows.
    pub async fn jobs(&self) -> Vec<(String, String)> {
        let v: Value = reqwest::Client::new()
            .get(format!("{}/jobs/overview", self.rest))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| {
                (
                    j["name"].as_str().unwrap_or("").to_string(),
                    j["state"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// Waits (bounded) until the job named `sqlgate:<statement>` is in `state`.
    pub async fn wait_job(&self, statement: &str, state: &str, within: Duration) {
        let name = format!("sqlgate:{statement}");
        let deadline = Instant::now() + within;
        loop {
            let jobs = self.jobs().await;
            if jobs.iter().any(|(n, s)| *n == name && s == state) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "job {name} not {state} within {within:?}: {jobs:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// A statement as sent straight to the SQL Gateway: the session's properties, the session
/// statements run before it (configure-session), the statement and its execution config.
#[derive(Debug, Clone, Default)]
pub struct DirectStatement {
    pub properties: Value,
    pub setup: Vec<String>,
    pub statement: String,
    pub execution: Value,
}

impl DirectStatement {
    /// `sql` alone, in a session with no properties.
    pub fn plain(sql: &str) -> Self {
        DirectStatement {
            properties: json!({}),
            setup: Vec::new(),
            statement: sql.to_string(),
            execution: json!({}),
        }
    }

    /// What sqlgate sent for its last statement, as a [`super::recorder`] in front of the
    /// SQL Gateway saw it: the last session opened, the session statements, the statement.
    pub fn recorded(posts: &[(String, Value)]) -> Self {
        let open = posts
            .iter()
            .rposition(|(p, _)| p == "/v2/sessions")
            .expect("sqlgate opened a session");
        let mut d = DirectStatement {
            properties: posts[open].1["properties"].clone(),
            ..Default::default()
        };
        for (path, body) in &posts[open + 1..] {
            if path.ends_with("/configure-session") {
                d.setup
                    .push(body["statement"].as_str().unwrap().to_string());
            } else if path.ends_with("/statements") {
                d.statement = body["statement"].as_str().unwrap().to_string();
                d.execution = body["executionConfig"].clone();
            }
        }
        assert!(!d.statement.is_empty(), "no statement recorded: {posts:?}");
        d
    }
}

/// The Kafka settings of a test cluster on the shared broker and registry: one partition
/// (watermarks advance with every record), replication 1.
pub fn kafka(bootstrap: &str, registry_url: &str) -> KafkaClusterConfig {
    let mut k = KafkaClusterConfig::new(bootstrap);
    k.default_partitions = 1;
    k.replication_factor = 1;
    k.request_timeout = Duration::from_secs(10);
    k.schema_registry_url = Some(registry_url.to_string());
    k
}

/// Runs the default pool `lfcp-dev` (cluster `lkc-dev`, Kafka `kafka`) on `flink`.
pub fn on_flink(c: &mut Config, kafka: KafkaClusterConfig, flink: &Flink) {
    c.environments[0].clusters[0].kafka = Some(kafka);
    c.engines.push(flink.engine("flink-us"));
    c.compute_pools[0].engine = Some("flink-us".into());
}

/// POSTs a statement (properties as given, nothing added) in compute pool `pool`.
pub async fn create(
    gw: &TestGateway,
    cred: &Cred,
    name: &str,
    sql: &str,
    pool: Option<&str>,
    properties: Value,
) -> (u16, Value) {
    let mut spec = json!({"statement": sql, "properties": properties, "stopped": false});
    if let Some(p) = pool {
        spec["compute_pool_id"] = json!(p);
    }
    let body = json!({"name": name, "organization_id": ORG, "environment_id": ENV, "spec": spec});
    let resp = cred
        .apply(gw.client().post(format!("{}/statements", gw.base())))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = resp.text().await.unwrap();
    let mut v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if let (Some(r), Some(o)) = (retry_after, v.as_object_mut()) {
        o.insert("_retry_after".into(), json!(r));
    }
    (status, v)
}

/// The statement's phase and detail.
pub async fn phase(gw: &TestGateway, cred: &Cred, name: &str) -> (String, String) {
    let (_, v) = super::get(gw, cred, &format!("/statements/{name}")).await;
    (
        v["status"]["phase"].as_str().unwrap_or("").to_string(),
        v["status"]["detail"].as_str().unwrap_or("").to_string(),
    )
}

/// Waits (bounded) until the statement is in one of `phases`; returns the statement.
pub async fn wait_phase(
    gw: &TestGateway,
    cred: &Cred,
    name: &str,
    phases: &[&str],
    within: Duration,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (_, v) = super::get(gw, cred, &format!("/statements/{name}")).await;
        let p = v["status"]["phase"].as_str().unwrap_or("");
        if phases.contains(&p) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "statement {name} not in {phases:?} within {within:?}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads result pages until `enough(rows so far)` holds or the results end; bounded.
/// Each row is `(op, row)`.
pub async fn read_until(
    gw: &TestGateway,
    cred: &Cred,
    name: &str,
    within: Duration,
    enough: impl Fn(&[(u64, Value)]) -> bool,
) -> Vec<(u64, Value)> {
    let deadline = Instant::now() + within;
    let mut rows = Vec::new();
    let mut url = format!("{}/statements/{name}/results", gw.base());
    loop {
        let resp = cred.apply(gw.client().get(&url)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "results of {name}");
        let page: Value = resp.json().await.unwrap();
        for item in page["results"]["data"].as_array().unwrap() {
            rows.push((item["op"].as_u64().unwrap_or(0), item["row"].clone()));
        }
        if enough(&rows) {
            return rows;
        }
        match page["metadata"]["next"].as_str() {
            Some(n) if !n.is_empty() => url = n.to_string(),
            _ => return rows,
        }
        assert!(
            Instant::now() < deadline,
            "results of {name} incomplete after {within:?}: {rows:?}"
        );
    }
}

/// Whether `w` is a UUID in its 8-4-4-4-12 hex form (how the SQL Gateway names sessions).
fn is_uuid(w: &str) -> bool {
    let parts: Vec<&str> = w.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}
