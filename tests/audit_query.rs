//! The auditor's tools against a real log: `sqlgate audit query` (the real binary) shows who
//! is behind a pool principal and tables by catalog.database.table, filters by action and by
//! relative time; `GET /sqlgate/v1/audit` refuses parameters it does not take, pages with an
//! opaque cursor and says when a page was cut.

mod common;

use std::collections::HashSet;

use common::{Cred, TestGateway, developer, post_statement, run_query};
use serde_json::{Value, json};

fn cli(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sqlgate"))
        .args(args)
        .current_dir(dir)
        .env_remove("SQLGATE_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Data rows of a table (the header line left out).
fn rows(table: &str) -> Vec<&str> {
    table.lines().skip(1).collect()
}

#[tokio::test]
async fn audit_query_shows_identity_and_catalog_names_and_filters_by_action_and_relative_time() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    // Allowed (the engine has no rows for it; the decision is what is audited).
    let (status, body) =
        post_statement(&gw, &dev, "reads-orders", "SELECT * FROM orders", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = post_statement(
        &gw,
        &dev,
        "writes-orders",
        "INSERT INTO clicks SELECT * FROM clicks",
        json!({}),
    )
    .await;
    assert!(status < 500, "{status}");
    let dir = gw.stop().await;

    let (code, table, err) = cli(
        dir.path(),
        &["audit", "query", "--action", "read", "--since", "1h"],
    );
    assert_eq!(code, Some(0), "{err}");
    let header = table.lines().next().unwrap();
    assert!(
        header.contains("PRINCIPAL") && header.contains("IDENTITY"),
        "{header}"
    );
    let ours: Vec<&str> = rows(&table)
        .into_iter()
        .filter(|r| r.contains("reads-orders"))
        .collect();
    assert!(!ours.is_empty(), "{table}");
    for row in &ours {
        assert!(
            row.contains("User:pool-dev") && row.contains(" alice "),
            "the pool principal and the person behind it: {row}"
        );
        assert!(
            row.contains("read:env-dev.lkc-dev.orders"),
            "the table with its catalog and database: {row}"
        );
    }
    assert!(
        rows(&table).iter().all(|r| r.contains("read:")),
        "--action read shows only records with a read: {table}"
    );

    let (code, table, err) = cli(dir.path(), &["audit", "query", "--action", "WRITE"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!table.contains("reads-orders"), "{table}");

    // A span back from now, in each unit; and an absolute time still works.
    for since in ["30m", "2d", "1h", "2000-01-01T00:00:00Z"] {
        let (code, table, err) = cli(
            dir.path(),
            &[
                "audit",
                "query",
                "--since",
                since,
                "--principal",
                "User:pool-dev",
            ],
        );
        assert_eq!(code, Some(0), "{since}: {err}");
        assert!(table.contains("reads-orders"), "{since}: {table}");
    }
    // Nothing was written an hour ago or earlier.
    let (code, table, _) = cli(dir.path(), &["audit", "query", "--until", "1h"]);
    assert_eq!(code, Some(0));
    assert_eq!(rows(&table).len(), 0, "{table}");
    let (code, _, err) = cli(dir.path(), &["audit", "query", "--since", "yesterday"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("RFC 3339") && err.contains("1h"), "{err}");
}

async fn get(gw: &TestGateway, cred: &Cred, url: &str) -> (u16, Value) {
    let r = cred.apply(gw.client().get(url)).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn the_audit_api_refuses_unknown_parameters_and_pages_with_a_cursor() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    common::bind(
        &dir.path().join("policies"),
        &[(
            "User:sa-auditor",
            "AuditLogReader",
            "crn://confluent.cloud/organization=org-dev",
        )],
    );
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let dev = developer(&gw);
    for i in 0..3 {
        run_query(&gw, &dev, &format!("page-{i}"), "SELECT 1")
            .await
            .unwrap();
    }
    let (key, secret) = gw.api_key("User:sa-auditor");
    let auditor = Cred::Basic(key, secret);
    let api = format!("{}/sqlgate/v1/audit", gw.endpoint());

    // Unknown or repeated parameters: a 400 naming them. The check comes after the role
    // check, so a caller who may not read the log learns nothing from it.
    for (query, named) in [
        ("limt=5", "`limt`"),
        ("principal=User:pool-dev&principal=User:x", "`principal`"),
        ("decision=deny&sort=time", "`sort`"),
    ] {
        let (status, body) = get(&gw, &auditor, &format!("{api}?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["errors"][0]["code"], "request.invalid", "{body}");
        assert!(common::detail(&body).contains(named), "{query}: {body}");
        let (status, _) = get(&gw, &dev, &format!("{api}?{query}")).await;
        assert_eq!(status, 403, "{query}");
    }
    for query in ["cursor=bm9wZQ", "action=sing", "since=soon", "limit=0"] {
        let (status, body) = get(&gw, &auditor, &format!("{api}?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
    }

    // Everything of the developer at once: not truncated, no next link.
    let filter = "principal=User:pool-dev&since=1h";
    let (status, all) = get(&gw, &auditor, &format!("{api}?{filter}")).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["metadata"]["truncated"], false, "{all:#}");
    assert!(all["metadata"]["next"].is_null(), "{all:#}");
    let seqs = |page: &Value| -> Vec<u64> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["sqlgateseq"].as_u64().unwrap())
            .collect()
    };
    let everything = seqs(&all);
    assert!(everything.len() > 4, "{all:#}");
    assert!(everything.windows(2).all(|w| w[0] < w[1]), "log order");

    // The same, two at a time, following `next`.
    let mut url = format!("{api}?{filter}&limit=2");
    let mut paged = Vec::new();
    for _ in 0..=everything.len() {
        let (status, page) = get(&gw, &auditor, &url).await;
        assert_eq!(status, 200, "{page}");
        let got = seqs(&page);
        assert!(got.len() <= 2, "{page:#}");
        paged.extend(got);
        match page["metadata"]["next"].as_str() {
            Some(next) => {
                assert_eq!(page["metadata"]["truncated"], true, "{page:#}");
                assert!(next.starts_with(&api), "absolute: {next}");
                assert!(next.contains("principal=User%3Apool-dev"), "{next}");
                url = next.to_string();
            }
            None => {
                assert_eq!(page["metadata"]["truncated"], false, "{page:#}");
                url.clear();
                break;
            }
        }
    }
    assert!(url.is_empty(), "paging must end");
    assert_eq!(paged, everything, "pages neither skip nor repeat");
    assert_eq!(
        paged.iter().collect::<HashSet<_>>().len(),
        paged.len(),
        "no duplicates"
    );

    // action= narrows to accesses of that action.
    let (status, runs) = get(&gw, &auditor, &format!("{api}?{filter}&action=run")).await;
    assert_eq!(status, 200, "{runs}");
    let runs = runs["data"].as_array().unwrap();
    assert!(!runs.is_empty());
    assert!(runs.iter().all(|r| {
        r["data"]["sqlgate"]["objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["action"] == "run")
    }));
    gw.stop().await;
}
