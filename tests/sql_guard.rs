//! What a client may not tell the engine, over the real server: dynamic table options,
//! hints where Flink reads none, connector options, `LIKE`, `SET`, `ADD JAR`, `USING JAR` and
//! `CREATE CATALOG` are refused by name with a 400 in the API's error shape, audited, reported
//! alike by the dry run, and nothing reaches the engine.

mod common;

use serde_json::{Value, json};

use common::{Cred, TestGateway, admin, detail, developer, get, post_statement, run_query};

const ORDERS_CRN: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=orders";

/// A gateway where `User:sa-orders` may run statements and read `orders`, but not `salaries`;
/// both tables exist.
async fn gateway() -> (TestGateway, Cred) {
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    common::bind(
        &dir.path().join("policies"),
        &[
            ("User:sa-orders", "FlinkDeveloper", common::ENV_CRN),
            ("User:sa-orders", "DeveloperRead", ORDERS_CRN),
        ],
    );
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let dev = developer(&gw);
    for (i, sql) in [
        "CREATE TABLE orders (id INT)",
        "CREATE TABLE salaries (id INT, amount INT)",
        "INSERT INTO orders VALUES (1), (2)",
        "INSERT INTO salaries VALUES (7, 1000000)",
    ]
    .iter()
    .enumerate()
    {
        run_query(&gw, &dev, &format!("setup{i}"), sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
    let (key, secret) = gw.api_key("User:sa-orders");
    (gw, Cred::Basic(key, secret))
}

fn audit_records(gw: &TestGateway) -> Vec<Value> {
    let log = gw.dir.path().join(&gw.config.audit.file);
    let mut out = Vec::new();
    for f in sqlgate::audit::log_files(&log) {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            out.push(serde_json::from_str(line).unwrap());
        }
    }
    out
}

/// Submits `sql` as `who`, expects a 400 with `code`, and that nothing ran or was stored.
/// Returns the detail.
async fn refused(gw: &TestGateway, who: &Cred, name: &str, sql: &str, code: &str) -> String {
    let before = gw.engine_calls();
    let (status, body) = post_statement(gw, who, name, sql, json!({})).await;
    assert_eq!(status, 400, "{sql}: {body}");
    assert_eq!(body["errors"][0]["code"], code, "{sql}: {body}");
    assert_eq!(
        gw.engine_calls(),
        before,
        "a refused statement reached the engine: {sql}"
    );
    assert_eq!(get(gw, who, &format!("/statements/{name}")).await.0, 404);
    detail(&body)
}

/// What the dry run says about `sql` for `principal`: (decision, stage, error code).
async fn dry_run(gw: &TestGateway, principal: &str, sql: &str) -> (Value, Value, Value) {
    let before = gw.engine_calls();
    let ask = json!({"principal": principal, "catalog": "dev", "database": "main", "sql": sql});
    let r = admin(gw)
        .apply(
            gw.client()
                .post(format!("{}/sqlgate/v1/check", gw.endpoint())),
        )
        .json(&ask)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(gw.engine_calls(), before, "the dry run runs nothing");
    (
        report["decision"].clone(),
        report["stage"].clone(),
        report["error"]["code"].clone(),
    )
}

#[tokio::test]
async fn a_dynamic_option_naming_another_topic_is_refused_before_any_engine() {
    let (gw, reader) = gateway().await;
    // The reader may read orders, and not salaries.
    assert_eq!(
        run_query(&gw, &reader, "ok", "SELECT * FROM orders")
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        run_query(&gw, &reader, "no", "SELECT * FROM salaries")
            .await
            .unwrap_err()
            .0,
        403
    );
    let sql = "SELECT * FROM orders /*+ OPTIONS('topic'='salaries') */";
    let d = refused(&gw, &reader, "smuggle", sql, "sql.option_not_allowed").await;
    assert!(d.contains("'topic'"), "the detail names the option: {d}");
    assert!(!d.contains("salaries"), "the detail echoes no value: {d}");
    // The decision is audited as a refusal, without the option's value.
    let recs = audit_records(&gw);
    let mine: Vec<&Value> = recs
        .iter()
        .filter(|r| r["data"]["sqlgate"]["statement"] == "smuggle")
        .collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    // (As every refusal before authorization: an authorization record naming the stage,
    // with the detail as its message.)
    let text = mine[0].to_string();
    assert_eq!(mine[0]["data"]["methodName"], "mds.Authorize", "{text}");
    assert_eq!(mine[0]["data"]["sqlgate"]["stage"], "parse", "{text}");
    assert_eq!(
        mine[0]["data"]["result"]["code"], "sql.option_not_allowed",
        "{text}"
    );
    assert_eq!(
        mine[0]["data"]["result"]["status"], "FAILED_PRECONDITION",
        "{text}"
    );
    let message = mine[0]["data"]["result"]["message"].as_str().unwrap();
    assert!(message.contains("'topic'"), "{text}");
    assert!(!text.contains("salaries"), "{text}");
    // The dry run says the same.
    let (decision, stage, code) = dry_run(&gw, "User:sa-orders", sql).await;
    assert_eq!(decision, "deny");
    assert_eq!(stage, "parse");
    assert_eq!(code, "sql.option_not_allowed");
    // Other spellings: behind an allowed option, in a join, in a subquery.
    for (i, sql) in [
        "SELECT * FROM orders /*+ OPTIONS('scan.startup.mode'='earliest-offset', 'topic'='salaries') */",
        "SELECT * FROM orders /*+ OPTIONS('topic-pattern'='sal.*') */",
        "SELECT * FROM orders /*+ OPTIONS('properties.group.id'='x') */",
        "SELECT * FROM orders o JOIN orders /*+ OPTIONS('topic'='salaries') */ p ON o.id = p.id",
        "SELECT * FROM orders WHERE id IN (SELECT id FROM orders /*+ OPTIONS('topic'='salaries') */)",
    ]
    .iter()
    .enumerate()
    {
        refused(&gw, &reader, &format!("s{i}"), sql, "sql.option_not_allowed").await;
    }
    gw.stop().await;
}

#[tokio::test]
async fn allowed_hints_pass_and_the_dry_run_shows_their_canonical_form() {
    let (gw, reader) = gateway().await;
    let sql = "SELECT /*+ BROADCAST(p) */ o.id FROM orders /*+ OPTIONS('scan.startup.mode'='earliest-offset') */ AS o JOIN orders AS p ON o.id = p.id";
    let rows = run_query(&gw, &reader, "hinted", sql).await.unwrap();
    assert_eq!(rows.len(), 2);
    let r = admin(&gw)
        .apply(
            gw.client()
                .post(format!("{}/sqlgate/v1/check", gw.endpoint())),
        )
        .json(&json!({"principal": "User:sa-orders", "catalog": "dev", "database": "main", "sql": sql}))
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["decision"], "allow", "{report}");
    assert_eq!(
        report["rewritten"],
        "SELECT /*+ BROADCAST(`p`) */ o.id FROM `env-dev`.`lkc-dev`.`orders` /*+ OPTIONS('scan.startup.mode' = 'earliest-offset') */ AS o JOIN `env-dev`.`lkc-dev`.`orders` AS p ON o.id = p.id"
    );
    gw.stop().await;
}

#[tokio::test]
async fn hints_that_are_unknown_or_misplaced_are_refused() {
    let (gw, reader) = gateway().await;
    for (i, (sql, needle)) in [
        ("SELECT /*+ MAGIC(orders) */ * FROM orders", "MAGIC"),
        (
            "SELECT * FROM orders AS o /*+ OPTIONS('scan.startup.mode'='latest-offset') */",
            "line 1",
        ),
        (
            "SELECT /*+ BROADCAST(salaries) */ * FROM orders",
            "salaries",
        ),
        (
            "DESCRIBE orders /*+ OPTIONS('topic'='salaries') */",
            "OPTIONS",
        ),
    ]
    .iter()
    .enumerate()
    {
        let d = refused(&gw, &reader, &format!("h{i}"), sql, "sql.hint_not_allowed").await;
        assert!(d.contains(needle), "{sql}: {d}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn connector_options_like_set_jars_and_catalogs_are_refused_by_name() {
    let (gw, _) = gateway().await;
    // Even an administrator may not: these reach beyond any role.
    let root = admin(&gw);
    let dev = developer(&gw);
    let cases = [
        (
            "CREATE TABLE t1 (a INT) WITH ('topic' = 'salaries')",
            "sql.option_not_allowed",
            "'topic'",
        ),
        (
            "CREATE TABLE t2 (a INT) WITH ('connector' = 'kafka', 'properties.bootstrap.servers' = 'evil:9092')",
            "sql.option_not_allowed",
            "'properties.bootstrap.servers'",
        ),
        (
            "CREATE TABLE t3 (a INT) DISTRIBUTED INTO 2 BUCKETS WITH ('connector' = 'filesystem')",
            "sql.option_not_allowed",
            "'connector'",
        ),
        (
            "ALTER TABLE orders SET ('topic' = 'salaries')",
            "sql.option_not_allowed",
            "'topic'",
        ),
        (
            "CREATE TABLE t4 LIKE salaries",
            "sql.statement_not_allowed",
            "LIKE",
        ),
        (
            "SET 'pipeline.jars' = 'file:///tmp/evil.jar'",
            "sql.option_not_allowed",
            "'pipeline.jars'",
        ),
        ("SET", "sql.statement_not_allowed", "SET"),
        (
            "ADD JAR '/tmp/evil.jar'",
            "sql.statement_not_allowed",
            "ADD JAR",
        ),
        (
            "CREATE FUNCTION f AS 'com.evil.F' USING JAR '/tmp/evil.jar'",
            "sql.statement_not_allowed",
            "USING JAR",
        ),
        (
            "CREATE CATALOG c WITH ('type' = 'jdbc', 'base-url' = 'jdbc:postgresql://evil')",
            "sql.statement_not_allowed",
            "CREATE CATALOG",
        ),
    ];
    for (i, (sql, code, needle)) in cases.iter().enumerate() {
        for (who, cred) in [("dev", &dev), ("admin", &root)] {
            let d = refused(&gw, cred, &format!("{who}{i}"), sql, code).await;
            assert!(d.contains(needle), "{sql}: {d}");
            assert!(!d.contains("evil"), "{sql}: {d}");
        }
        let (decision, stage, got) = dry_run(&gw, "User:pool-dev", sql).await;
        assert_eq!(
            (decision, stage, got),
            (json!("deny"), json!("parse"), json!(code)),
            "{sql}"
        );
    }
    // What sqlgate owns still works.
    run_query(
        &gw,
        &dev,
        "owned",
        "CREATE TABLE t5 (a INT) WITH ('connector' = 'confluent', 'value.format' = 'json')",
    )
    .await
    .unwrap();
    gw.stop().await;
}
