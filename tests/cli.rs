//! The `sqlgate` binary's own commands: `token`, `api-key create`, and config errors.

mod common;

use std::process::Command;

use common::{Cred, TestGateway, detail, post_statement};
use serde_json::json;

fn sqlgate(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sqlgate"))
        .args(args)
        .current_dir(dir)
        .env_remove("SQLGATE_CONFIG")
        .output()
        .unwrap()
}

#[tokio::test]
async fn token_and_api_key_commands_produce_working_credentials() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    let out = sqlgate(
        dir.path(),
        &[
            "token",
            "--subject",
            "alice",
            "--groups",
            "developers",
            "--ttl",
            "10m",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(token.split('.').count(), 3, "not a JWT: {token}");

    let out = sqlgate(
        dir.path(),
        &["api-key", "create", "--principal", "User:sa-ci"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let (key, secret) = (field("API key:"), field("API secret:"));
    let stored = std::fs::read_to_string(dir.path().join("policies/api-keys.toml")).unwrap();
    assert!(stored.contains(&key), "the key id is stored");
    assert!(
        !stored.contains(&secret),
        "the secret itself must never be stored"
    );

    let gw = TestGateway::start_in(dir, |_| {}).await;
    let dev = Cred::Pool(token, "pool-dev".into());
    let (status, body) = post_statement(&gw, &dev, "t1", "SELECT 1", json!({})).await;
    assert_eq!(status, 200, "{body}");
    // The key authenticates (no 401) but User:sa-ci has no role by default.
    let sa = Cred::Basic(key, secret.clone());
    let (status, body) = post_statement(&gw, &sa, "t2", "SELECT 1", json!({})).await;
    assert_eq!(status, 403, "{body}");
    assert!(detail(&body).contains("User:sa-ci"), "{body}");
    let wrong = Cred::Basic("X".repeat(16), secret);
    assert_eq!(
        post_statement(&gw, &wrong, "t3", "SELECT 1", json!({}))
            .await
            .0,
        401
    );
    gw.stop().await;
}

#[test]
fn unknown_config_keys_are_refused_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[server]\nlisen = \"127.0.0.1:0\"\n").unwrap();
    let out = sqlgate(dir.path(), &["serve", "--config", cfg.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.lisen"), "{err}");
}

#[test]
fn check_explains_allow_and_deny_with_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    let out = sqlgate(
        dir.path(),
        &[
            "check",
            "--principal",
            "User:pool-dev",
            "--catalog",
            "dev",
            "--database",
            "main",
            "--sql",
            "INSERT INTO t SELECT * FROM examples.marketplace.orders",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["decision"], "allow");
    assert_eq!(report["stage"], serde_json::Value::Null);
    let actions: Vec<_> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["run", "write", "read"]);
    assert!(
        report["rewritten"]
            .as_str()
            .unwrap()
            .contains("`env-dev`.`lkc-dev`.`t`")
    );

    let out = sqlgate(
        dir.path(),
        &[
            "check",
            "--principal",
            "User:nobody",
            "--catalog",
            "dev",
            "--database",
            "main",
            "--sql",
            "SELECT * FROM t",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["decision"], "deny");
    assert_eq!(report["stage"], "authorize");
    assert_eq!(report["objects"][1]["granted"], false);
    assert!(
        report["objects"][1]["missing"]
            .as_str()
            .unwrap()
            .contains("DeveloperRead")
    );

    let out = sqlgate(
        dir.path(),
        &[
            "check",
            "--principal",
            "User:pool-dev",
            "--catalog",
            "dev",
            "--sql",
            "SELECT\n FROM FROM",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["stage"], "parse");
    assert_eq!(report["error"]["line"], 2);

    let out = sqlgate(dir.path(), &["check", "--principal", "User:x"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
    let out = sqlgate(
        dir.path(),
        &[
            "check",
            "--principal",
            "User:pool-dev",
            "--catalog",
            "dev",
            "--sql",
            "SELECT 1",
            "--format",
            "text",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ALLOW"));
}
