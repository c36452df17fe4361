//! Load against the real server: statements per second with the audit file sink on versus
//! off, at 64 concurrent clients over TLS, and fsyncs per statement with it on.
//!
//! `cargo bench --bench audit_load` (environment: `LOAD_SECONDS`, default 10; `LOAD_CLIENTS`,
//! default 64). Both runs happen in the same process one after the other, so the ratio is
//! measured on the same machine state.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use sqlgate::config::Config;
use sqlgate::gateway::Gateway;

fn copy_policies(dst: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() && e.file_name() != "api-keys.toml" {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
}

struct Outcome {
    statements: u64,
    errors: u64,
    seconds: f64,
    fsyncs: u64,
    records: u64,
}

async fn run(audit: bool, clients: usize, seconds: u64) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    copy_policies(&dir.path().join("policies"));
    let mut cfg = Config::default_config().unwrap();
    cfg.server.listen = "127.0.0.1:0".parse().unwrap();
    cfg.gateway.max_statements_per_principal = usize::MAX / 2;
    cfg.audit.enabled = audit;
    let cfg = cfg.validate().unwrap();
    let gw = Gateway::build(cfg.clone(), dir.path()).await.unwrap();
    let listener = tokio::net::TcpListener::bind(cfg.server.listen)
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sqlgate::server::run(listener, gw.clone(), async {
        let _ = stop_rx.await;
    }));
    let dev = cfg.auth.dev_issuer.clone().unwrap();
    let token = sqlgate::auth::dev::mint_token(
        &dev,
        dir.path(),
        "load",
        &["developers".into()],
        Duration::from_secs(3600),
    )
    .unwrap();
    let pem = std::fs::read(dir.path().join("certs/dev-ca.pem")).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .http1_only()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let url =
        format!("https://{addr}/sql/v1/organizations/org-dev/environments/env-dev/statements");
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let before = gw.auditor().sink().stats();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, url, token, done, errors) = (
            client.clone(),
            url.clone(),
            token.clone(),
            done.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                let body = json!({"name": format!("c{c}-{i}"), "spec": {"statement": "SELECT 1", "properties": {"sql.current-catalog": "env-dev"}}});
                i += 1;
                let r = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("Confluent-Identity-Pool-Id", "pool-dev")
                    .json(&body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => done.fetch_add(1, Ordering::Relaxed),
                    _ => errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let seconds = start.elapsed().as_secs_f64();
    let after = gw.auditor().sink().stats();
    let _ = stop_tx.send(());
    let _ = server.await;
    Outcome {
        statements: done.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        seconds,
        fsyncs: after.fsyncs - before.fsyncs,
        records: after.records - before.records,
    }
}

fn main() {
    // `cargo test --benches` runs benches with `--bench`-less arguments; a quick smoke run then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let seconds = if quick { 1 } else { env("LOAD_SECONDS", 10) };
    let clients = env("LOAD_CLIENTS", 64) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let off = rt.block_on(run(false, clients, seconds));
    let on = rt.block_on(run(true, clients, seconds));
    let rate = |o: &Outcome| o.statements as f64 / o.seconds;
    println!(
        "audit_load: {clients} concurrent clients, {seconds} s each, SELECT 1 over TLS (HTTP/1.1)"
    );
    println!(
        "  audit off: {:8.1} statements/s ({} ok, {} errors)",
        rate(&off),
        off.statements,
        off.errors
    );
    println!(
        "  audit on:  {:8.1} statements/s ({} ok, {} errors); {} records, {} fsyncs = {:.3} fsyncs/statement, {:.2} records/fsync",
        rate(&on),
        on.statements,
        on.errors,
        on.records,
        on.fsyncs,
        on.fsyncs as f64 / on.statements.max(1) as f64,
        on.records as f64 / on.fsyncs.max(1) as f64,
    );
    println!(
        "  ratio on/off: {:.3}",
        rate(&on) / rate(&off).max(f64::MIN_POSITIVE)
    );
}
