//! `POST /sqlgate/v1/check` (the dry run) and the request path decide alike: for every
//! combination of the URL's environment, the session's current catalog and database, and the
//! compute pool, the dry run's decision, stage and error code are what creating the statement
//! gives (and a denial in either reaches no engine). Both go through `pipeline::decide` and
//! `pipeline::placement`; this test keeps a second path from growing back.

mod common;

use serde_json::{Value, json};
use sqlgate::catalog::{ClusterConfig, EnvironmentConfig};
use sqlgate::config::ComputePoolConfig;

use common::{Cred, TestGateway, admin, developer};

const ORG: &str = "org-dev";

/// `env-dev` (us-east-2, with a second cluster `lkc-eu` in eu-central-1 and a pool there) and
/// `env-prod` (us-east-2, where the developer has no role).
async fn gateway() -> TestGateway {
    TestGateway::start_with(|cfg| {
        let dev = cfg
            .environments
            .iter_mut()
            .find(|e| e.id == "env-dev")
            .expect("the default config has env-dev");
        dev.clusters.push(ClusterConfig {
            id: "lkc-eu".into(),
            display_name: "europe".into(),
            region: "aws.eu-central-1".into(),
            kafka: None,
        });
        cfg.environments.push(EnvironmentConfig {
            id: "env-prod".into(),
            display_name: "prod".into(),
            clusters: vec![ClusterConfig {
                id: "lkc-prod".into(),
                display_name: "main".into(),
                region: "aws.us-east-2".into(),
                kafka: None,
            }],
        });
        cfg.compute_pools.push(ComputePoolConfig {
            id: "lfcp-eu".into(),
            environment: "env-dev".into(),
            region: "aws.eu-central-1".into(),
            engine: None,
        });
        cfg.compute_pools.push(ComputePoolConfig {
            id: "lfcp-prod".into(),
            environment: "env-prod".into(),
            region: "aws.us-east-2".into(),
            engine: None,
        });
    })
    .await
}

/// One way of submitting a statement.
struct Case {
    url_env: &'static str,
    pool: Option<&'static str>,
    catalog: &'static str,
    database: &'static str,
    sql: &'static str,
}

/// What the dry run says: (allowed, stage, error code).
async fn dry_run(gw: &TestGateway, who: &Cred, principal: &str, c: &Case) -> (bool, Value, Value) {
    let mut ask = json!({
        "principal": principal,
        "environment": c.url_env,
        "catalog": c.catalog,
        "database": c.database,
        "sql": c.sql,
    });
    if let Some(p) = c.pool {
        ask["compute_pool"] = json!(p);
    }
    let r = who
        .apply(
            gw.client()
                .post(format!("{}/sqlgate/v1/check", gw.endpoint())),
        )
        .json(&ask)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the dry run answers every case");
    let report: Value = r.json().await.unwrap();
    let allowed = report["decision"] == "allow";
    let code = if allowed {
        Value::Null
    } else if !report["error"].is_null() {
        report["error"]["code"].clone()
    } else if report["stage"] == "region" {
        json!("authz.region")
    } else if report["objects"][0]["granted"] == false {
        json!("authz.not_allowed_to_run")
    } else {
        json!("authz.denied")
    };
    (allowed, report["stage"].clone(), code)
}

/// What creating the statement says: (allowed, error code).
async fn enforce(gw: &TestGateway, who: &Cred, name: &str, c: &Case) -> (bool, Value) {
    let mut spec = json!({
        "statement": c.sql,
        "properties": {
            "sql.current-catalog": c.catalog,
            "sql.current-database": c.database,
            "sql.snapshot.mode": "now",
        },
        "stopped": false,
    });
    if let Some(p) = c.pool {
        spec["compute_pool_id"] = json!(p);
    }
    let body =
        json!({"name": name, "organization_id": ORG, "environment_id": c.url_env, "spec": spec});
    let url = format!(
        "{}/sql/v1/organizations/{ORG}/environments/{}/statements",
        gw.endpoint(),
        c.url_env
    );
    let r = who
        .apply(gw.client().post(url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    match status {
        200..=202 => (true, Value::Null),
        400 | 403 | 404 => (false, body["errors"][0]["code"].clone()),
        other => panic!("unexpected status {other} for {}: {body}", c.sql),
    }
}

#[tokio::test]
async fn the_dry_run_and_the_request_path_decide_alike() {
    let gw = gateway().await;
    let dev = developer(&gw);
    let root = admin(&gw);
    let cases = [
        // Short names qualified by the session, in the URL's environment.
        (
            "env-dev",
            None,
            "env-dev",
            "lkc-dev",
            "SELECT * FROM orders",
        ),
        ("env-dev", None, "dev", "main", "SELECT * FROM orders"),
        // The session names another environment: names resolve there, the statement still
        // runs in (and needs FlinkDeveloper on) the URL's environment.
        (
            "env-dev",
            None,
            "env-prod",
            "lkc-prod",
            "SELECT * FROM orders",
        ),
        (
            "env-prod",
            None,
            "env-dev",
            "lkc-dev",
            "SELECT * FROM orders",
        ),
        (
            "env-prod",
            Some("lfcp-prod"),
            "env-prod",
            "lkc-prod",
            "SELECT 1",
        ),
        // Regions: a us pool reading the eu cluster, an eu pool reading the us cluster and
        // the eu cluster.
        (
            "env-dev",
            None,
            "env-dev",
            "lkc-dev",
            "SELECT * FROM `env-dev`.europe.payments",
        ),
        (
            "env-dev",
            Some("lfcp-eu"),
            "env-dev",
            "lkc-dev",
            "SELECT * FROM orders",
        ),
        (
            "env-dev",
            Some("lfcp-eu"),
            "env-dev",
            "lkc-eu",
            "SELECT * FROM payments",
        ),
        (
            "env-dev",
            Some("lfcp-dev"),
            "env-dev",
            "lkc-dev",
            "SELECT 1",
        ),
        // Writes, the read-only examples, and statements refused before authorization.
        (
            "env-dev",
            None,
            "env-dev",
            "lkc-dev",
            "INSERT INTO orders SELECT * FROM orders",
        ),
        (
            "env-dev",
            None,
            "examples",
            "marketplace",
            "SELECT * FROM orders",
        ),
        (
            "env-dev",
            None,
            "examples",
            "marketplace",
            "INSERT INTO orders SELECT * FROM orders",
        ),
        (
            "env-dev",
            None,
            "env-dev",
            "lkc-dev",
            "SELECT * FROM nowhere.at.all",
        ),
        ("env-dev", None, "env-dev", "lkc-dev", "SELEC 1"),
    ];
    let mut n = 0;
    let mut seen = std::collections::BTreeSet::new();
    for (who, principal) in [(&dev, "User:pool-dev"), (&root, "User:pool-admin")] {
        for (url_env, pool, catalog, database, sql) in cases {
            let c = Case {
                url_env,
                pool,
                catalog,
                database,
                sql,
            };
            let (check_allowed, stage, check_code) = dry_run(&gw, &root, principal, &c).await;
            let before = gw.engine_calls();
            n += 1;
            let (ran, code) = enforce(&gw, who, &format!("agree-{n}"), &c).await;
            let case =
                format!("{principal} {url_env}/{pool:?} session {catalog}.{database}: {sql}");
            assert_eq!(
                check_allowed, ran,
                "dry run and request path disagree: {case}"
            );
            assert_eq!(
                check_code, code,
                "refused with different codes: {case} (stage {stage})"
            );
            if !ran {
                assert_eq!(
                    gw.engine_calls(),
                    before,
                    "a refusal reached the engine: {case}"
                );
            }
            seen.insert((ran, code.as_str().unwrap_or("").to_string()));
        }
    }
    // The matrix covers allowed statements and each kind of refusal.
    for code in [
        "",
        "authz.not_allowed_to_run",
        "authz.region",
        "authz.denied",
        "authz.read_only",
        "sql.parse_error",
    ] {
        assert!(
            seen.iter().any(|(_, c)| c == code),
            "no case ended with `{code}`: {seen:?}"
        );
    }
    gw.stop().await;
}
