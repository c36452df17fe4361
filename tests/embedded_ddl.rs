//! DDL and metadata statements on the embedded engine's in-memory tables, against the real
//! server over TLS: ALTER TABLE (SET, RESET, ADD, MODIFY, DROP, RENAME TO), TRUNCATE TABLE,
//! SHOW CREATE TABLE, SHOW COLUMNS, SHOW FUNCTIONS and EXPLAIN, each with its exact rows and
//! surviving a restart; their authorization (a reader is refused ALTER and TRUNCATE before
//! anything reaches the engine) and audit records; DISTRIBUTED BY kept as metadata; and a
//! WATERMARK clause refused by name.

mod common;

use common::{Cred, TestGateway, detail, developer, run_query};
use serde_json::{Value, json};

async fn ok(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) -> Vec<Value> {
    run_query(gw, cred, name, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
}

/// The detail of a statement that was created FAILED (the engine refused it).
async fn failed(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) -> String {
    match run_query(gw, cred, name, sql).await {
        Err((200, body)) => {
            assert_eq!(body["status"]["phase"], "FAILED", "{body}");
            body["status"]["detail"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
        other => panic!("{sql}: expected a FAILED statement, got {other:?}"),
    }
}

fn audit(gw: &TestGateway) -> Vec<Value> {
    let log = gw.dir.path().join(&gw.config.audit.file);
    let mut out = Vec::new();
    for f in sqlgate::audit::log_files(&log) {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            out.push(serde_json::from_str(line).unwrap());
        }
    }
    out
}

/// The statement's authorization record: (status, the action and table each access names).
fn decision(gw: &TestGateway, name: &str) -> Value {
    audit(gw)
        .into_iter()
        .find(|r| {
            r["type"] == "io.confluent.flink.server/authorization"
                && r["data"]["sqlgate"]["statement"] == name
        })
        .unwrap_or_else(|| panic!("no authorization record of {name}"))
}

const PEOPLE: &str = "CREATE TABLE `env-dev`.`lkc-dev`.`people` (\n  `id` INT NOT NULL,\n  `name` VARCHAR(2147483647),\n  `age` BIGINT,\n  CONSTRAINT `PK_id` PRIMARY KEY (`id`) NOT ENFORCED\n)\nWITH (\n  'changelog.mode' = 'append'\n)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alter_truncate_and_show_create_change_and_render_in_memory_tables_across_a_restart() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    ok(
        &gw,
        &dev,
        "c1",
        "CREATE TABLE people (id INT PRIMARY KEY NOT ENFORCED, name STRING, nick STRING) \
         WITH ('changelog.mode' = 'append', 'kafka.retention.time' = '1 h')",
    )
    .await;
    ok(
        &gw,
        &dev,
        "i1",
        "INSERT INTO people VALUES (1, 'ann', 'a'), (2, 'bob', 'b')",
    )
    .await;
    assert!(
        ok(&gw, &dev, "a1", "ALTER TABLE people ADD (age INT)")
            .await
            .is_empty()
    );
    assert_eq!(
        ok(&gw, &dev, "s1", "SELECT * FROM people ORDER BY id").await,
        vec![
            json!(["1", "ann", "a", null]),
            json!(["2", "bob", "b", null])
        ]
    );
    ok(&gw, &dev, "a2", "ALTER TABLE people MODIFY age BIGINT").await;
    ok(&gw, &dev, "a3", "ALTER TABLE people DROP nick").await;
    ok(
        &gw,
        &dev,
        "a4",
        "ALTER TABLE people RESET ('kafka.retention.time')",
    )
    .await;
    ok(
        &gw,
        &dev,
        "a5",
        "ALTER TABLE people SET ('changelog.mode' = 'append')",
    )
    .await;
    ok(&gw, &dev, "i2", "INSERT INTO people VALUES (3, 'cy', 40)").await;
    assert_eq!(
        ok(&gw, &dev, "sc1", "SHOW CREATE TABLE people").await,
        vec![json!([PEOPLE])]
    );
    assert_eq!(
        ok(&gw, &dev, "s2", "SELECT * FROM people ORDER BY id").await,
        vec![
            json!(["1", "ann", null]),
            json!(["2", "bob", null]),
            json!(["3", "cy", "40"])
        ]
    );
    // The refusals name what is wrong.
    for (name, sql, says) in [
        (
            "e1",
            "ALTER TABLE people DROP id",
            "referenced by the primary key",
        ),
        ("e2", "ALTER TABLE people ADD name STRING", "already exists"),
        ("e3", "ALTER TABLE people MODIFY nope INT", "does not exist"),
        (
            "e4",
            "ALTER TABLE people DROP (id, name, age)",
            "primary key",
        ),
    ] {
        let d = failed(&gw, &dev, name, sql).await;
        assert!(d.contains(says), "{sql}: {d}");
    }
    let (status, body) = run_query(
        &gw,
        &dev,
        "e5",
        "ALTER TABLE examples.marketplace.orders ADD x INT",
    )
    .await
    .unwrap_err();
    assert_eq!(
        (status, &body["errors"][0]["code"]),
        (403, &json!("authz.read_only"))
    );
    // The definition and the rows survive a restart; RENAME TO moves both.
    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let dev = developer(&gw);
    assert_eq!(
        ok(&gw, &dev, "sc2", "SHOW CREATE TABLE people").await,
        vec![json!([PEOPLE])]
    );
    ok(&gw, &dev, "r1", "ALTER TABLE people RENAME TO folk").await;
    assert_eq!(
        ok(&gw, &dev, "st", "SHOW TABLES").await,
        vec![json!(["folk"])]
    );
    assert_eq!(
        ok(&gw, &dev, "s3", "SELECT name FROM folk WHERE id = 3").await,
        vec![json!(["cy"])]
    );
    ok(&gw, &dev, "t1", "TRUNCATE TABLE folk").await;
    assert!(ok(&gw, &dev, "s4", "SELECT * FROM folk").await.is_empty());
    ok(&gw, &dev, "i3", "INSERT INTO folk VALUES (9, 'zed', 1)").await;
    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let dev = developer(&gw);
    assert_eq!(
        ok(&gw, &dev, "s5", "SELECT * FROM folk").await,
        vec![json!(["9", "zed", "1"])]
    );
    let d = failed(&gw, &dev, "s6", "SELECT * FROM people").await;
    assert!(d.contains("people"), "{d}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_columns_functions_and_explain_answer_in_flinks_shapes() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    ok(
        &gw,
        &dev,
        "c1",
        "CREATE TABLE people (id INT NOT NULL, name STRING, nick STRING)",
    )
    .await;
    assert_eq!(
        ok(&gw, &dev, "sc", "SHOW COLUMNS FROM people LIKE '%n%'").await,
        vec![
            json!(["name", "STRING", "TRUE", null, null, null]),
            json!(["nick", "STRING", "TRUE", null, null, null])
        ]
    );
    assert_eq!(
        ok(&gw, &dev, "sc2", "SHOW COLUMNS FROM people NOT LIKE '%n%'").await,
        vec![json!(["id", "INT", "FALSE", null, null, null])]
    );
    let f = ok(&gw, &dev, "sf", "SHOW FUNCTIONS LIKE 'date_f%'").await;
    assert_eq!(f, vec![json!(["date_format"])]);
    let all = ok(&gw, &dev, "sf2", "SHOW FUNCTIONS").await;
    for name in ["json_value", "timestampadd", "sum", "row_number", "upper"] {
        assert!(all.contains(&json!([name])), "{name} not in {all:?}");
    }
    assert!(ok(&gw, &dev, "sf3", "SHOW USER FUNCTIONS").await.is_empty());

    for (name, sql) in [
        ("x1", "EXPLAIN SELECT name FROM people WHERE id > 1"),
        (
            "x2",
            "EXPLAIN PLAN FOR SELECT name FROM people WHERE id > 1",
        ),
    ] {
        let rows = ok(&gw, &dev, name, sql).await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        let plan = rows[0][0].as_str().unwrap();
        assert!(
            plan.starts_with("== Abstract Syntax Tree ==\n")
                && plan.contains("\n== Optimized Logical Plan ==\n")
                && plan.contains("TableScan: env-dev.lkc-dev.people"),
            "{plan}"
        );
        assert!(!plan.contains("Some(") && !plan.contains("{ "), "{plan}");
    }
    let d = failed(
        &gw,
        &dev,
        "x3",
        "EXPLAIN CHANGELOG_MODE SELECT name FROM people",
    )
    .await;
    assert!(d.contains("EXPLAIN CHANGELOG_MODE"), "{d}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_is_refused_alter_and_truncate_before_the_engine_and_every_decision_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    let crn = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=people";
    common::bind(
        &dir.path().join("policies"),
        &[
            ("User:sa-reader", "FlinkDeveloper", common::ENV_CRN),
            ("User:sa-reader", "DeveloperRead", crn),
        ],
    );
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let dev = developer(&gw);
    ok(&gw, &dev, "c1", "CREATE TABLE people (id INT, name STRING)").await;
    ok(&gw, &dev, "i1", "INSERT INTO people VALUES (1, 'ann')").await;
    let (key, secret) = gw.api_key("User:sa-reader");
    let reader = Cred::Basic(key, secret);
    for (name, sql, action) in [
        ("d1", "ALTER TABLE people ADD x INT", "alter"),
        ("d2", "ALTER TABLE people RENAME TO folk", "alter"),
        ("d3", "TRUNCATE TABLE people", "write"),
    ] {
        let before = gw.engine_calls();
        let (status, body) = run_query(&gw, &reader, name, sql).await.unwrap_err();
        assert_eq!(status, 403, "{sql}: {body}");
        assert_eq!(body["errors"][0]["code"], "authz.denied", "{body}");
        assert!(detail(&body).contains(action), "{sql}: {body}");
        assert_eq!(
            gw.engine_calls(),
            before,
            "{sql}: nothing reached the engine"
        );
        let r = decision(&gw, name);
        assert_ne!(r["data"]["result"]["status"], "SUCCESS", "{r}");
    }
    // The table is unchanged; the reader may describe it.
    assert_eq!(
        ok(&gw, &reader, "r1", "SELECT * FROM people").await,
        vec![json!(["1", "ann"])]
    );
    assert_eq!(
        ok(&gw, &reader, "r2", "SHOW CREATE TABLE people").await,
        vec![json!([
            "CREATE TABLE `env-dev`.`lkc-dev`.`people` (\n  `id` INT,\n  `name` VARCHAR(2147483647)\n)"
        ])]
    );
    // A granted ALTER is audited with its decision.
    ok(&gw, &dev, "g1", "ALTER TABLE people ADD x INT").await;
    let r = decision(&gw, "g1");
    assert_eq!(r["data"]["result"]["status"], "SUCCESS", "{r}");
    assert!(r.to_string().contains("alter"), "{r}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_by_is_kept_as_metadata_and_a_watermark_is_refused_by_name() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    ok(
        &gw,
        &dev,
        "c1",
        "CREATE TABLE d (id INT, v STRING) DISTRIBUTED BY HASH(id) INTO 4 BUCKETS \
         WITH ('changelog.mode' = 'append')",
    )
    .await;
    assert_eq!(
        ok(&gw, &dev, "sc", "SHOW CREATE TABLE d").await,
        vec![json!([
            "CREATE TABLE `env-dev`.`lkc-dev`.`d` (\n  `id` INT,\n  `v` VARCHAR(2147483647)\n)\nDISTRIBUTED BY HASH(`id`) INTO 4 BUCKETS\nWITH (\n  'changelog.mode' = 'append'\n)"
        ])]
    );
    // dbt-confluent's drift check reads these three (its `get_drift_catalog`).
    assert_eq!(
        ok(
            &gw,
            &dev,
            "is1",
            "SELECT TABLE_NAME, OPTION_KEY, OPTION_VALUE FROM INFORMATION_SCHEMA.`TABLE_OPTIONS` \
             WHERE TABLE_CATALOG_ID = 'env-dev' AND TABLE_SCHEMA = 'main' AND TABLE_NAME = 'd'"
        )
        .await,
        vec![json!(["d", "changelog.mode", "append"])]
    );
    assert_eq!(
        ok(
            &gw,
            &dev,
            "is2",
            "SELECT IS_DISTRIBUTED, DISTRIBUTION_ALGORITHM, DISTRIBUTION_BUCKETS FROM \
             INFORMATION_SCHEMA.`TABLES` WHERE TABLE_SCHEMA = 'main' AND TABLE_NAME = 'd'"
        )
        .await,
        vec![json!(["YES", "HASH", "4"])]
    );
    assert_eq!(
        ok(
            &gw,
            &dev,
            "is3",
            "SELECT COLUMN_NAME, DISTRIBUTION_ORDINAL_POSITION FROM INFORMATION_SCHEMA.`COLUMNS` \
             WHERE TABLE_SCHEMA = 'main' AND TABLE_NAME = 'd'"
        )
        .await,
        vec![json!(["id", "1"]), json!(["v", null])]
    );
    let d = failed(
        &gw,
        &dev,
        "c2",
        "CREATE TABLE w (id INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)",
    )
    .await;
    assert!(d.contains("WATERMARK clause"), "{d}");
    assert!(!d.contains("CREATE TABLE statements"), "{d}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_columns_and_explain_of_a_masked_table_are_refused_before_the_engine() {
    let policies = format!(
        "[[column_mask]]\nname = \"people-name\"\ntable = \"{}\"\ncolumn = \"name\"\n\
         principals = [\"*\"]\nexcept = [\"User:pool-admin\"]\nmask = \"'***'\"\n",
        common::data_policies::table_crn("people")
    );
    let (gw, dev) = common::data_policies::gateway_with(
        &["CREATE TABLE people (id INT, name STRING)"],
        &policies,
    )
    .await;
    for (name, sql, code) in [
        (
            "m1",
            "SHOW COLUMNS FROM people",
            "rewrite.data_policy_unenforceable",
        ),
        (
            "m2",
            "EXPLAIN SELECT name FROM people",
            "rewrite.data_policy_explain",
        ),
    ] {
        let before = gw.engine_calls();
        let (status, body) = run_query(&gw, &dev, name, sql).await.unwrap_err();
        assert_eq!(status, 403, "{sql}: {body}");
        assert_eq!(body["errors"][0]["code"], code, "{body}");
        assert!(!detail(&body).contains("***"), "{body}");
        assert_eq!(
            gw.engine_calls(),
            before,
            "{sql}: nothing reached the engine"
        );
    }
    // Unmasked tables are not affected.
    ok(&gw, &dev, "c2", "CREATE TABLE other (id INT)").await;
    assert_eq!(
        ok(&gw, &dev, "m3", "SHOW COLUMNS FROM other").await,
        vec![json!(["id", "INT", "TRUE", null, null, null])]
    );
    gw.stop().await;
}
