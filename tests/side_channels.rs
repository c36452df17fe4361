//! A caller without a role on an object learns nothing about it from a refusal: not its
//! region, not whether it exists (errors, the stage that answers, listings, the audit API); and
//! page tokens are checked rather than trusted.

mod common;

use common::refusal::assert_denied;
use common::{Cred, TestGateway, bind, detail, developer, get, post_statement, run_query};
use serde_json::{Value, json};
use sqlgate::catalog::{ClusterConfig, EnvironmentConfig};

const PROD_A_TOPICS: &str = "crn://confluent.cloud/organization=org-dev/environment=env-prod/cloud-cluster=lkc-prod-a/kafka=lkc-prod-a/topic=*";

fn cluster(id: &str, name: &str, region: &str) -> ClusterConfig {
    ClusterConfig {
        id: id.into(),
        display_name: name.into(),
        region: region.into(),
        kafka: None,
    }
}

/// env-dev gains `lkc-eu` (another region); env-prod (`prod`) has `payments` and `ledger`.
/// `User:analyst` runs statements in env-dev and reads the topics of `payments` only.
async fn start() -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    common::copy_policies(&policies);
    common::grant_developer(&policies, "User:analyst");
    bind(
        &policies,
        &[("User:analyst", "DeveloperRead", PROD_A_TOPICS)],
    );
    TestGateway::start_in(dir, |c| {
        c.environments[0]
            .clusters
            .push(cluster("lkc-eu", "europe", "aws.eu-central-1"));
        c.environments.push(EnvironmentConfig {
            id: "env-prod".into(),
            display_name: "prod".into(),
            clusters: vec![
                cluster("lkc-prod-a", "payments", "aws.us-east-2"),
                cluster("lkc-prod-b", "ledger", "aws.us-east-2"),
            ],
        });
    })
    .await
}

fn analyst(gw: &TestGateway) -> Cred {
    Cred::Bearer(gw.token("analyst", &[]))
}

/// `sqlgate_decisions_total` for refusals at `stage`.
async fn denials(gw: &TestGateway, stage: &str) -> usize {
    let text = gw
        .client()
        .get(format!("{}/metrics", gw.endpoint()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("sqlgate_decisions_total{"))
        .filter(|l| l.contains("decision=\"deny\"") && l.contains(&format!("stage=\"{stage}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as usize
}

/// The refusal as a client sees it: status, code and detail with the name as written replaced.
fn shape(status: u16, body: &Value, written: &str) -> (u16, String, String) {
    (
        status,
        body["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        detail(body).replace(written, "<name>"),
    )
}

#[tokio::test]
async fn the_region_of_a_cluster_is_told_only_to_callers_who_may_otherwise_read_it() {
    let gw = start().await;
    let sql = "SELECT * FROM europe.secret_table";
    // pool-dev runs statements in env-dev but has no role on lkc-eu's topics.
    let body = assert_denied(&gw, &developer(&gw), "eu", sql, 403, "authz.denied").await;
    let d = detail(&body);
    assert!(!d.contains("eu-central-1") && !d.contains("region"), "{d}");
    // An administrator, who could read it from a pool in its region, is told why not.
    let body = assert_denied(&gw, &common::admin(&gw), "eu", sql, 403, "authz.region").await;
    assert!(detail(&body).contains("aws.eu-central-1"), "{body}");
    gw.stop().await;
}

#[tokio::test]
async fn a_catalog_or_database_without_any_role_reads_exactly_like_one_that_does_not_exist() {
    let gw = start().await;
    let before = gw.engine_calls();
    let cases = [
        // pool-dev has no role anywhere in env-prod.
        (
            developer(&gw),
            "SELECT * FROM prod.payments.t",
            "prod",
            "SELECT * FROM nosuch.payments.t",
            "nosuch",
        ),
        (
            developer(&gw),
            "SELECT * FROM `env-prod`.payments.t",
            "env-prod",
            "SELECT * FROM `env-nope`.payments.t",
            "env-nope",
        ),
        (
            developer(&gw),
            "SHOW DATABASES FROM prod",
            "prod",
            "SHOW DATABASES FROM nosuch",
            "nosuch",
        ),
        (
            developer(&gw),
            "SHOW TABLES FROM prod.payments",
            "prod",
            "SHOW TABLES FROM nosuch.payments",
            "nosuch",
        ),
        (
            developer(&gw),
            "CREATE TABLE prod.payments.t (a INT)",
            "prod",
            "CREATE TABLE nosuch.payments.t (a INT)",
            "nosuch",
        ),
        // analyst knows env-prod (a binding inside it) and payments, but nothing of ledger.
        (
            analyst(&gw),
            "SELECT * FROM prod.ledger.t",
            "ledger",
            "SELECT * FROM prod.nosuch.t",
            "nosuch",
        ),
        (
            analyst(&gw),
            "SELECT * FROM prod.`lkc-prod-b`.t",
            "lkc-prod-b",
            "SELECT * FROM prod.`lkc-nope`.t",
            "lkc-nope",
        ),
    ];
    for (i, (cred, hidden, hidden_name, absent, absent_name)) in cases.iter().enumerate() {
        let (s1, b1) = post_statement(&gw, cred, &format!("h{i}"), hidden, json!({})).await;
        let (s2, b2) = post_statement(&gw, cred, &format!("a{i}"), absent, json!({})).await;
        assert_eq!(s1, 404, "{hidden}: {b1}");
        assert_eq!(
            shape(s1, &b1, hidden_name),
            shape(s2, &b2, absent_name),
            "{hidden} vs {absent}"
        );
    }
    // Both were answered by name resolution, before authorization: the same stage and the
    // same work, so there is no timing difference to measure either.
    assert_eq!(denials(&gw, "resolve").await, 2 * cases.len());
    assert_eq!(denials(&gw, "authorize").await, 0);
    // What the caller may know of still resolves and is refused by authorization.
    let (status, body) = post_statement(
        &gw,
        &analyst(&gw),
        "ok",
        "INSERT INTO prod.payments.t VALUES (1)",
        json!({}),
    )
    .await;
    assert_eq!(
        (status, body["errors"][0]["code"].clone()),
        (403, json!("authz.denied")),
        "{body}"
    );
    assert_eq!(gw.engine_calls(), before);
    gw.stop().await;
}

#[tokio::test]
async fn listings_show_only_what_the_caller_may_see() {
    let gw = start().await;
    let catalogs = run_query(&gw, &developer(&gw), "c", "SHOW CATALOGS")
        .await
        .unwrap();
    assert!(
        !catalogs.iter().any(|r| r.to_string().contains("prod")),
        "{catalogs:?}"
    );
    // The analyst knows env-prod only through a role inside payments: listing env-prod is
    // refused, and the refusal names neither database.
    let (status, body) = run_query(&gw, &analyst(&gw), "d", "SHOW DATABASES FROM prod")
        .await
        .unwrap_err();
    assert_eq!(status, 403, "{body}");
    let d = detail(&body);
    assert!(!d.contains("ledger") && !d.contains("lkc-prod-b"), "{d}");
    // Listing a database needs a role on it; one on its topics lets the name resolve (the
    // caller knows it) and the refusal is an ordinary one.
    let (status, body) = run_query(&gw, &analyst(&gw), "t", "SHOW TABLES FROM prod.payments")
        .await
        .unwrap_err();
    assert_eq!(
        (status, body["errors"][0]["code"].clone()),
        (403, json!("authz.denied"))
    );
    gw.stop().await;
}

#[tokio::test]
async fn the_audit_api_tells_a_caller_without_the_role_nothing_but_the_role_it_lacks() {
    let gw = start().await;
    let url = format!("{}/sqlgate/v1/audit?decision=deny", gw.endpoint());
    let resp = developer(&gw)
        .apply(gw.client().get(&url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "authz.admin_required");
    let d = detail(&body);
    assert!(
        d.contains("AuditLogReader") && !d.contains("records"),
        "{d}"
    );
    assert!(body.get("data").is_none(), "{body}");
    gw.stop().await;
}

#[tokio::test]
async fn page_tokens_are_checked_not_trusted() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    run_query(&gw, &dev, "one", "SELECT 1").await.unwrap();
    for path in [
        "/statements?page_token=18446744073709551615",
        "/statements?page_token=2",
        "/statements?page_token=abc",
        "/statements/one/results?page_token=18446744073709551615",
        "/statements/one/results?page_token=-1",
    ] {
        let (status, body) = get(&gw, &dev, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(
            body["errors"][0]["code"]
                .as_str()
                .map(|c| c.ends_with("page_token") || c == "request.invalid"),
            Some(true),
            "{path}: {body}"
        );
        assert!(
            detail(&body).replace('_', " ").contains("page token"),
            "{path}: {body}"
        );
    }
    // The gateway is fine afterwards, and a token it issued still works.
    let (status, _) = get(&gw, &dev, "/statements?page_token=0").await;
    assert_eq!(status, 200);
    gw.stop().await;
}

#[tokio::test]
async fn a_caller_who_may_not_run_statements_gets_one_answer_whatever_it_names() {
    let gw = start().await;
    let stranger = Cred::Bearer(gw.token("stranger", &[]));
    let mut answers = Vec::new();
    for (i, sql) in [
        "SELECT * FROM prod.payments.t",
        "SELECT * FROM nosuch.payments.t",
        "SELECT * FROM europe.t",
        "SELECT * FROM examples.marketplace.orders",
    ]
    .iter()
    .enumerate()
    {
        let (status, body) = post_statement(&gw, &stranger, &format!("s{i}"), sql, json!({})).await;
        answers.push((status, body["errors"][0]["code"].clone(), detail(&body)));
    }
    assert_eq!(answers[0].0, 403, "{answers:?}");
    assert_eq!(answers[0].1, json!("authz.not_allowed_to_run"));
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:#?}");
    gw.stop().await;
}
