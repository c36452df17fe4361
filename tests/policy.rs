//! Policy administration against the real server: hot reload under load, refusal of a broken
//! policy (log, /readyz, metrics), and the `sqlgate policy` commands.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Cred, ENV_CRN, TestGateway, bind, developer, post_statement};
use serde_json::{Value, json};

const TOPICS: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=";

/// `policy.reload_settle` for these tests (the default is 2 s). They replace files whole
/// (write + rename), so settling is not what they test (`policy_editors.rs` tests it with the
/// default); each reload would otherwise wait the full 2 s.
const SETTLE: Duration = Duration::from_millis(100);

/// A gateway whose policy reloads settle after [`SETTLE`].
async fn start() -> TestGateway {
    TestGateway::start_with(|c| c.policy.reload_settle = SETTLE).await
}

/// Replaces a file the way editors and `git checkout` on most setups do (write + rename).
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp-test");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn readyz(gw: &TestGateway) -> (u16, Value) {
    let r = gw
        .client()
        .get(format!("{}/readyz", gw.endpoint()))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn metrics(gw: &TestGateway) -> String {
    gw.client()
        .get(format!("{}/metrics", gw.endpoint()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reload_under_concurrent_load_never_mixes_two_policies() {
    let gw = start().await;
    let file = gw.dir.path().join("policies/bindings.csv");
    let base = std::fs::read_to_string(&file).unwrap();
    // Policy A lets `flip` read orders, policy B clicks; both let it run statements.
    let policy = |table: &str| {
        format!(
            "{base}\nUser:flip, FlinkDeveloper, {ENV_CRN}\nUser:flip, DeveloperRead, {TOPICS}{table}\n"
        )
    };
    let (a, b) = (policy("orders"), policy("clicks"));
    replace(&file, &a);
    let authz = gw.gateway.authorizer().clone();
    wait_for("policy A", || authz.version() == 2).await;
    let mut events = authz.subscribe();
    let mut orders_allowed_in: HashMap<u64, bool> = HashMap::from([(2, true)]);

    let gw = Arc::new(gw);
    let flip = Cred::Bearer(gw.token("flip", &[]));
    let done = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (gw, flip, done) = (gw.clone(), flip.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let mut allowed = 0u64;
            let mut n = 0;
            while !done.load(Ordering::SeqCst) {
                let table = if n % 2 == 0 { "orders" } else { "clicks" };
                let (s, body) = post_statement(
                    &gw,
                    &flip,
                    &format!("w{w}-{n}"),
                    &format!("SELECT * FROM {table}"),
                    json!({"sql.dry-run": "true"}),
                )
                .await;
                assert!(s == 200 || s == 403, "{s} {body}");
                allowed += u64::from(s == 200);
                n += 1;
            }
            allowed
        }));
    }
    for round in 0..6 {
        let to_a = round % 2 == 1;
        let want = authz.version() + 1;
        replace(&file, if to_a { &a } else { &b });
        wait_for("the flip", || authz.version() == want).await;
        orders_allowed_in.insert(want, to_a);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    done.store(true, Ordering::SeqCst);
    let mut http_allowed = 0;
    for w in workers {
        http_allowed += w.await.unwrap();
    }
    let mut checked = 0;
    let mut granted = 0;
    let mut versions_seen = std::collections::BTreeSet::new();
    while let Ok(ev) = events.try_recv() {
        if ev.principal != "User:flip" {
            continue;
        }
        let orders_ok = orders_allowed_in[&ev.policy_version];
        let reads_orders = ev.accesses.iter().any(|a| a.contains("orders"));
        let want = if reads_orders { orders_ok } else { !orders_ok };
        assert_eq!(
            ev.granted, want,
            "decision does not match policy version {}: {ev:?}",
            ev.policy_version
        );
        checked += 1;
        granted += u64::from(ev.granted);
        versions_seen.insert(ev.policy_version);
    }
    assert!(checked > 50, "only {checked} decisions");
    assert!(
        versions_seen.len() >= 3,
        "decisions spanned too few versions: {versions_seen:?}"
    );
    assert_eq!(
        granted, http_allowed,
        "every granted decision and only those answered 200"
    );
    Arc::into_inner(gw).unwrap().stop().await;
}

#[tokio::test]
async fn a_corrupt_file_keeps_the_last_good_policy_and_says_why() {
    let gw = start().await;
    let dev = developer(&gw);
    let policies = gw.dir.path().join("policies");
    let (s, body) = readyz(&gw).await;
    assert_eq!(s, 200);
    assert_eq!(body["policy"], json!({"version": 1, "last_error": null}));

    // An unknown role on a new line: refused whole, even though the other lines are fine.
    bind(
        &policies,
        &[
            ("User:eve", "FlinkDeveloper", ENV_CRN),
            ("User:eve", "Foo", ENV_CRN),
        ],
    );
    let lines = std::fs::read_to_string(policies.join("bindings.csv"))
        .unwrap()
        .lines()
        .count();
    let mut body = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(15);
    while body["policy"]["last_error"].is_null() {
        assert!(
            Instant::now() < deadline,
            "the refusal never showed in /readyz"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (s, b) = readyz(&gw).await;
        assert_eq!(s, 200, "a refused policy must not make the gateway unready");
        body = b;
    }
    let err = body["policy"]["last_error"].as_str().unwrap();
    assert!(
        err.contains(&format!("bindings.csv:{lines}: unknown role `Foo`")),
        "{err}"
    );
    assert_eq!(body["policy"]["version"], 1);
    // The last good policy is in force: the developer still runs, eve still cannot.
    let (s, _) = post_statement(&gw, &dev, "still", "SELECT 1", json!({})).await;
    assert_eq!(s, 200);
    let eve = Cred::Bearer(gw.token("eve", &[]));
    let (s, _) = post_statement(&gw, &eve, "eve", "SELECT 1", json!({})).await;
    assert_eq!(s, 403);
    let m = metrics(&gw).await;
    assert!(
        m.contains("sqlgate_policy_reloads_total{outcome=\"rejected\"} 1"),
        "{m}"
    );
    assert!(m.contains("sqlgate_policy_version 1"), "{m}");

    // Fixing the file applies it and clears the error.
    let text = std::fs::read_to_string(policies.join("bindings.csv")).unwrap();
    replace(
        &policies.join("bindings.csv"),
        &text.replace(", Foo,", ", Operator,"),
    );
    let authz = gw.gateway.authorizer().clone();
    wait_for("the fixed policy", || authz.version() == 2).await;
    let (_, body) = readyz(&gw).await;
    assert_eq!(body["policy"], json!({"version": 2, "last_error": null}));
    let (s, body) = post_statement(&gw, &eve, "eve2", "SELECT 1", json!({})).await;
    assert_eq!(s, 200, "{body}");
    let m = metrics(&gw).await;
    assert!(
        m.contains("sqlgate_policy_reloads_total{outcome=\"ok\"} 1"),
        "{m}"
    );
    assert!(m.contains("sqlgate_policy_version 2"), "{m}");
    // Other files in the directory do not cause reloads: the wait is well past the watcher's
    // debounce and the settle period.
    std::fs::write(policies.join("notes.txt"), "hello").unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(authz.version(), 2);
    gw.stop().await;
}

fn sqlgate(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sqlgate"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("SQLGATE_CONFIG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn policy_commands_exit_with_the_verdict() {
    let (code, out) = sqlgate(&["policy", "validate", "policies"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("valid"), "{out}");

    let broken = tempfile::tempdir().unwrap();
    common::copy_policies(broken.path());
    bind(
        broken.path(),
        &[(
            "User:x",
            "DeveloperRead",
            "crn://confluent.cloud/organization=org-dev/environment=env-typo",
        )],
    );
    let dir = broken.path().to_str().unwrap();
    let (code, out) = sqlgate(&["policy", "validate", dir]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("bindings.csv:") && out.contains("unknown environment `env-typo`"),
        "{out}"
    );

    let grown = tempfile::tempdir().unwrap();
    common::copy_policies(grown.path());
    bind(
        grown.path(),
        &[("User:alice", "DeveloperRead", &format!("{TOPICS}orders"))],
    );
    let (code, out) = sqlgate(&["policy", "diff", "policies", grown.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        format!("User:alice\n  + gains DeveloperRead on {TOPICS}orders\n")
    );

    let (code, out) = sqlgate(&["policy", "test", "policies/tests/default.toml"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("PASS: ") && !out.contains("FAIL"), "{out}");
    // The same tables against a policy where pool-dev lost its topics fail.
    let shrunk = tempfile::tempdir().unwrap();
    common::copy_policies(shrunk.path());
    let f = shrunk.path().join("bindings.csv");
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(
        &f,
        text.lines()
            .filter(|l| !l.contains("ResourceOwner"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let (code, out) = sqlgate(&[
        "policy",
        "test",
        "--policies",
        shrunk.path().to_str().unwrap(),
        "policies/tests/default.toml",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "developers read tables of lkc-dev: FAIL (expected allow, got deny authz.denied"
        ),
        "{out}"
    );
}
