//! INFORMATION_SCHEMA over the statements API: exact rows for a caller who sees part of an
//! environment and for an administrator, dbt-confluent 0.4.1's queries verbatim, a hidden
//! catalog reading exactly like one that does not exist, the audit record, and the shapes the
//! gateway refuses by name.

mod common;

use common::{Cred, TestGateway, admin, bind, detail, post_statement, run_query};
use serde_json::{Value, json};
use sqlgate::catalog::{ClusterConfig, EnvironmentConfig};

const VISIBLE_T: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=visible_t";

fn cluster(id: &str, name: &str) -> ClusterConfig {
    ClusterConfig {
        id: id.into(),
        display_name: name.into(),
        region: "aws.us-east-2".into(),
        kafka: None,
    }
}

/// env-dev (`dev`: `main`, `second`) and env-prod (`prod`: `payments`). `User:partial` runs
/// statements in env-dev (FlinkDeveloper) and reads one table, `visible_t`; it has no role in
/// env-prod. `main` holds `visible_t` and `secret_t`.
async fn start() -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    common::copy_policies(&policies);
    bind(
        &policies,
        &[
            ("User:partial", "FlinkDeveloper", common::ENV_CRN),
            ("User:partial", "DeveloperRead", VISIBLE_T),
        ],
    );
    let gw = TestGateway::start_in(dir, |c| {
        c.environments[0]
            .clusters
            .push(cluster("lkc-two", "second"));
        c.environments.push(EnvironmentConfig {
            id: "env-prod".into(),
            display_name: "prod".into(),
            clusters: vec![cluster("lkc-prod", "payments")],
        });
    })
    .await;
    let root = admin(&gw);
    for (name, sql) in [
        (
            "c1",
            "CREATE TABLE visible_t (id INT NOT NULL, name STRING, PRIMARY KEY (id) NOT ENFORCED)",
        ),
        ("c2", "CREATE TABLE secret_t (x BIGINT)"),
    ] {
        run_query(&gw, &root, name, sql).await.unwrap();
    }
    gw
}

fn partial(gw: &TestGateway) -> Cred {
    Cred::Bearer(gw.token("partial", &[]))
}

/// The dbt queries of the fixture file, by name.
fn dbt_queries() -> Vec<(String, String)> {
    let text = include_str!("fixtures/sql/information_schema_dbt.sql");
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let lines: Vec<&str> = block.lines().skip_while(|l| l.starts_with("--")).collect();
        let Some(at) = lines.iter().position(|l| l.starts_with("-- name: ")) else {
            continue;
        };
        let name = lines[at].trim_start_matches("-- name: ").to_string();
        out.push((name, lines[..at].join("\n")));
    }
    out
}

fn rows(v: &[Value]) -> Vec<Value> {
    let mut v = v.to_vec();
    v.sort_by_key(|r| r.to_string());
    v
}

#[tokio::test]
async fn dbt_confluent_queries_answer_with_what_the_caller_may_see() {
    let gw = start().await;
    let queries = dbt_queries();
    assert_eq!(queries.len(), 6, "{queries:?}");
    let null = Value::Null;
    let expect = |name: &str, full: bool| -> Vec<Value> {
        let secret = |v: Value| if full { vec![v] } else { vec![] };
        match name {
            "list_schemas" => vec![json!(["main"]), json!(["second"])],
            "list_relations" => [
                vec![json!(["env-dev", "visible_t", "main", "BASE TABLE"])],
                secret(json!(["env-dev", "secret_t", "main", "BASE TABLE"])),
            ]
            .concat(),
            "relation_kind" => vec![json!(["NO"])],
            "columns_in_relation" => vec![
                json!(["id", "INT", null, null, null]),
                json!(["name", "VARCHAR(2147483647)", null, null, null]),
            ],
            "get_catalog" => [
                vec![
                    json!([
                        "env-dev",
                        "main",
                        "visible_t",
                        "BASE TABLE",
                        null,
                        null,
                        null,
                        null,
                        null,
                        null
                    ]),
                    json!([
                        "env-dev",
                        "main",
                        "visible_t",
                        null,
                        null,
                        null,
                        "id",
                        "1",
                        "INTEGER",
                        null
                    ]),
                    json!([
                        "env-dev",
                        "main",
                        "visible_t",
                        null,
                        null,
                        null,
                        "name",
                        "2",
                        "VARCHAR",
                        null
                    ]),
                ],
                secret(json!([
                    "env-dev",
                    "main",
                    "secret_t",
                    "BASE TABLE",
                    null,
                    null,
                    null,
                    null,
                    null,
                    null
                ])),
                secret(json!([
                    "env-dev", "main", "secret_t", null, null, null, "x", "1", "BIGINT", null
                ])),
            ]
            .concat(),
            "drift_catalog" => vec![
                json!([
                    "COLUMNS",
                    "visible_t",
                    "id",
                    "INT",
                    null,
                    null,
                    null,
                    null,
                    null,
                    null
                ]),
                json!([
                    "COLUMNS",
                    "visible_t",
                    "name",
                    "VARCHAR(2147483647)",
                    null,
                    null,
                    null,
                    null,
                    null,
                    null
                ]),
                json!([
                    "TABLES",
                    "visible_t",
                    null,
                    null,
                    null,
                    null,
                    null,
                    "NO",
                    null,
                    "NO"
                ]),
            ],
            other => panic!("no expectation for {other}"),
        }
    };
    let _ = &null;
    for (who, cred, full) in [
        ("partial", partial(&gw), false),
        ("admin", admin(&gw), true),
    ] {
        for (i, (name, sql)) in queries.iter().enumerate() {
            let got = run_query(&gw, &cred, &format!("{who}-{i}"), sql)
                .await
                .unwrap_or_else(|e| panic!("{who} {name}: {e:?}"));
            assert_eq!(rows(&got), rows(&expect(name, full)), "{who} {name}");
        }
    }
    gw.stop().await;
}

#[tokio::test]
async fn every_view_shows_only_what_the_callers_show_would() {
    let gw = start().await;
    let q = |sql: &'static str| sql;
    let cases = [
        (
            // `examples` is no secret to anyone who may run statements (as SHOW CATALOGS).
            q("SELECT CATALOG_ID, CATALOG_NAME FROM INFORMATION_SCHEMA.CATALOGS"),
            vec![json!(["env-dev", "dev"]), json!(["examples", "examples"])],
            vec![
                json!(["env-dev", "dev"]),
                json!(["env-prod", "prod"]),
                json!(["examples", "examples"]),
            ],
        ),
        (
            q("SELECT * FROM `env-dev`.INFORMATION_SCHEMA.SCHEMATA ORDER BY SCHEMA_ID"),
            vec![
                json!([
                    "env-dev",
                    "dev",
                    "db-information-schema",
                    "INFORMATION_SCHEMA"
                ]),
                json!(["env-dev", "dev", "lkc-dev", "main"]),
                json!(["env-dev", "dev", "lkc-two", "second"]),
            ],
            vec![
                json!([
                    "env-dev",
                    "dev",
                    "db-information-schema",
                    "INFORMATION_SCHEMA"
                ]),
                json!(["env-dev", "dev", "lkc-dev", "main"]),
                json!(["env-dev", "dev", "lkc-two", "second"]),
            ],
        ),
        (
            q("SELECT COUNT(*) AS n FROM dev.INFORMATION_SCHEMA.`TABLES`"),
            vec![json!(["1"])],
            vec![json!(["2"])],
        ),
        (
            q(
                "SELECT TABLE_NAME, CONSTRAINT_NAME, CONSTRAINT_TYPE, ENFORCED FROM INFORMATION_SCHEMA.TABLE_CONSTRAINTS",
            ),
            vec![json!(["visible_t", "PK_id", "PRIMARY KEY", "NO"])],
            vec![json!(["visible_t", "PK_id", "PRIMARY KEY", "NO"])],
        ),
        (
            q(
                "SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION FROM INFORMATION_SCHEMA.KEY_COLUMN_USAGE",
            ),
            vec![json!(["visible_t", "id", "1"])],
            vec![json!(["visible_t", "id", "1"])],
        ),
        (
            q("SELECT CATALOG_ID FROM INFORMATION_SCHEMA.INFORMATION_SCHEMA_CATALOG_NAME"),
            vec![json!(["env-dev"])],
            vec![json!(["env-dev"])],
        ),
        (
            q(
                "SELECT t.TABLE_NAME, c.COLUMN_NAME FROM INFORMATION_SCHEMA.`TABLES` t JOIN INFORMATION_SCHEMA.`COLUMNS` c ON t.TABLE_NAME = c.TABLE_NAME WHERE c.IS_NULLABLE = 'NO' ORDER BY 1 LIMIT 5",
            ),
            vec![json!(["visible_t", "id"])],
            vec![json!(["visible_t", "id"])],
        ),
    ];
    for (i, (sql, partial_rows, admin_rows)) in cases.iter().enumerate() {
        let got = run_query(&gw, &partial(&gw), &format!("p{i}"), sql).await;
        assert_eq!(
            got.map(|r| rows(&r)),
            Ok(rows(partial_rows)),
            "partial: {sql}"
        );
        let got = run_query(&gw, &admin(&gw), &format!("a{i}"), sql).await;
        assert_eq!(got.map(|r| rows(&r)), Ok(rows(admin_rows)), "admin: {sql}");
    }
    gw.stop().await;
}

/// The refusal as a client sees it, with the name as written replaced.
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
async fn a_hidden_catalogs_information_schema_reads_exactly_like_one_that_does_not_exist() {
    let gw = start().await;
    let before = gw.engine_calls();
    let cred = partial(&gw);
    for (i, (hidden, hidden_name, absent, absent_name)) in [
        (
            "SELECT * FROM `env-prod`.INFORMATION_SCHEMA.`TABLES`",
            "env-prod",
            "SELECT * FROM `env-x`.INFORMATION_SCHEMA.`TABLES`",
            "env-x",
        ),
        (
            "SELECT SCHEMA_NAME FROM prod.`INFORMATION_SCHEMA`.`SCHEMATA`",
            "prod",
            "SELECT SCHEMA_NAME FROM nosuch.`INFORMATION_SCHEMA`.`SCHEMATA`",
            "nosuch",
        ),
        (
            "SELECT * FROM prod.INFORMATION_SCHEMA.NO_SUCH_VIEW",
            "prod",
            "SELECT * FROM nosuch.INFORMATION_SCHEMA.NO_SUCH_VIEW",
            "nosuch",
        ),
    ]
    .iter()
    .enumerate()
    {
        let (s1, b1) = post_statement(&gw, &cred, &format!("h{i}"), hidden, json!({})).await;
        let (s2, b2) = post_statement(&gw, &cred, &format!("a{i}"), absent, json!({})).await;
        assert_eq!(s1, 404, "{hidden}: {b1}");
        assert_eq!(
            shape(s1, &b1, hidden_name),
            shape(s2, &b2, absent_name),
            "{hidden}"
        );
        assert!(!b1.to_string().contains("payments") && !b1.to_string().contains("lkc-prod"));
    }
    // Nothing was listed for either: both were refused by name resolution.
    assert_eq!(gw.engine_calls(), before);
    gw.stop().await;
}

#[tokio::test]
async fn shapes_the_gateway_does_not_answer_are_refused_by_name() {
    let gw = start().await;
    let before = gw.engine_calls();
    let root = admin(&gw);
    for (i, sql) in [
        "SELECT * FROM INFORMATION_SCHEMA.`TABLES` t JOIN visible_t v ON t.TABLE_NAME = v.name",
        "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.`TABLES` UNION ALL SELECT name FROM visible_t",
        "INSERT INTO visible_t SELECT 1, TABLE_NAME FROM INFORMATION_SCHEMA.`TABLES`",
        "INSERT INTO INFORMATION_SCHEMA.`TABLES` SELECT * FROM INFORMATION_SCHEMA.`TABLES`",
        "SELECT * FROM INFORMATION_SCHEMA.`NO_SUCH_VIEW`",
        "EXPLAIN SELECT * FROM INFORMATION_SCHEMA.`TABLES`",
        "EXECUTE STATEMENT SET BEGIN INSERT INTO visible_t SELECT 1, TABLE_NAME FROM INFORMATION_SCHEMA.`TABLES`; END",
    ]
    .iter()
    .enumerate()
    {
        let (status, body) = post_statement(&gw, &root, &format!("u{i}"), sql, json!({})).await;
        assert_eq!(status, 400, "{sql}: {body}");
        assert_eq!(
            body["errors"][0]["code"], "resolve.information_schema_unsupported",
            "{sql}: {body}"
        );
        assert!(detail(&body).contains("INFORMATION_SCHEMA"), "{body}");
    }
    assert_eq!(gw.engine_calls(), before);
    gw.stop().await;
}

#[tokio::test]
async fn a_read_is_authorized_as_listing_its_catalog_and_audited() {
    let gw = start().await;
    run_query(
        &gw,
        &partial(&gw),
        "audited",
        "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.`TABLES`",
    )
    .await
    .unwrap();
    // A caller with no role on the environment may not list it, as SHOW DATABASES.
    let stranger = Cred::Bearer(gw.token("stranger", &[]));
    let (status, _) = post_statement(
        &gw,
        &stranger,
        "stranger",
        "SELECT * FROM INFORMATION_SCHEMA.SCHEMATA",
        json!({}),
    )
    .await;
    assert_ne!(status, 200);
    let dir = gw.stop().await;
    let log = std::fs::read_to_string(dir.path().join("data/audit/audit.log")).unwrap();
    let decision: Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| {
            r["type"] == "io.confluent.flink.server/authorization"
                && r.to_string().contains("\"audited\"")
        })
        .expect("the statement's authorization is audited");
    let text = decision.to_string();
    assert_eq!(
        decision["data"]["result"]["status"], "SUCCESS",
        "{decision:#}"
    );
    assert!(
        text.contains("environment=env-dev") && text.contains("\"list\""),
        "{decision:#}"
    );
    assert!(text.contains("INFORMATION_SCHEMA"), "{decision:#}");
}
