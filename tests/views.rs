//! Views on the embedded engine, against the real server over TLS: CREATE [OR REPLACE] VIEW
//! [IF NOT EXISTS] / DROP VIEW [IF EXISTS] kept by the gateway across a restart, listed by SHOW
//! TABLES, the access rule (reading a view needs read on it and on every table its body
//! reads, for the reader), row filters and column masks through a view, and the refusals a
//! person sees (a name shared with a table, a cycle, a dropped body table).

mod common;

use common::data_policies::{developer_with, set_data_policies, table_crn};
use common::{Cred, TestGateway, admin, detail, developer, run_query};
use serde_json::{Value, json};

async fn ok(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) -> Vec<Value> {
    run_query(gw, cred, name, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
}

/// The detail of a statement that was created FAILED (the engine stage refused it).
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_are_created_replaced_listed_and_dropped_and_survive_a_restart() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    ok(&gw, &dev, "c1", "CREATE TABLE people (id INT, name STRING)").await;
    ok(
        &gw,
        &dev,
        "c2",
        "INSERT INTO people VALUES (1, 'ann'), (2, 'bob'), (3, 'cy')",
    )
    .await;
    ok(
        &gw,
        &dev,
        "v1",
        "CREATE VIEW later (num, who) COMMENT 'after the first' AS SELECT id, name FROM people WHERE id > 1",
    )
    .await;
    assert_eq!(
        ok(&gw, &dev, "r1", "SELECT * FROM later ORDER BY num").await,
        vec![json!(["2", "bob"]), json!(["3", "cy"])]
    );
    // The view's column names, an alias and a join with its own table.
    assert_eq!(
        ok(
            &gw,
            &dev,
            "r2",
            "SELECT l.who, p.id FROM later AS l JOIN people p ON p.id = l.num WHERE l.num = 3"
        )
        .await,
        vec![json!(["cy", "3"])]
    );
    let d = failed(&gw, &dev, "v2", "CREATE VIEW later AS SELECT 1").await;
    assert!(d.contains("already exists"), "{d}");
    ok(
        &gw,
        &dev,
        "v3",
        "CREATE VIEW IF NOT EXISTS later AS SELECT 1",
    )
    .await;
    assert_eq!(
        ok(&gw, &dev, "r3", "SELECT COUNT(*) FROM later").await,
        vec![json!(["2"])]
    );
    ok(
        &gw,
        &dev,
        "v4",
        "CREATE OR REPLACE VIEW later AS SELECT name FROM people WHERE id >= 3",
    )
    .await;
    assert_eq!(
        ok(&gw, &dev, "r4", "SELECT * FROM later").await,
        vec![json!(["cy"])]
    );
    // A view of a view.
    ok(
        &gw,
        &dev,
        "v5",
        "CREATE VIEW shout AS SELECT UPPER(name) AS loud FROM later",
    )
    .await;
    assert_eq!(
        ok(&gw, &dev, "r5", "SELECT * FROM shout").await,
        vec![json!(["CY"])]
    );
    assert_eq!(
        ok(&gw, &dev, "s1", "SHOW TABLES").await,
        vec![json!(["later"]), json!(["people"]), json!(["shout"])]
    );

    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let dev = developer(&gw);
    assert_eq!(
        ok(&gw, &dev, "r6", "SELECT * FROM shout").await,
        vec![json!(["CY"])]
    );
    ok(&gw, &dev, "d1", "DROP VIEW shout").await;
    let d = failed(&gw, &dev, "r7", "SELECT * FROM shout").await;
    assert!(d.contains("shout") && d.contains("not found"), "{d}");
    ok(&gw, &dev, "d2", "DROP VIEW IF EXISTS shout").await;
    let d = failed(&gw, &dev, "d3", "DROP VIEW shout").await;
    assert!(
        d.contains("View `env-dev`.`lkc-dev`.`shout` does not exist"),
        "{d}"
    );
    assert_eq!(
        ok(&gw, &dev, "s2", "SHOW TABLES").await,
        vec![json!(["later"]), json!(["people"])]
    );
    // Dropped for good: a restart does not bring it back.
    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let dev = developer(&gw);
    assert_eq!(
        ok(&gw, &dev, "s3", "SHOW TABLES").await,
        vec![json!(["later"]), json!(["people"])]
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_and_views_do_not_share_names_or_statements() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    ok(&gw, &dev, "c1", "CREATE TABLE t (id INT)").await;
    ok(&gw, &dev, "c2", "CREATE VIEW v AS SELECT id FROM t").await;
    let d = failed(&gw, &dev, "x1", "CREATE VIEW t AS SELECT 1").await;
    assert!(d.contains("`t` is already the name of a table"), "{d}");
    let d = failed(&gw, &dev, "x2", "CREATE TABLE v (id INT)").await;
    assert!(d.contains("`v` is already the name of a view"), "{d}");
    let d = failed(&gw, &dev, "x3", "DROP TABLE v").await;
    assert!(d.contains("is a view") && d.contains("DROP VIEW"), "{d}");
    let d = failed(&gw, &dev, "x4", "INSERT INTO v VALUES (1)").await;
    assert!(
        d.contains("is a view") && d.contains("cannot be written"),
        "{d}"
    );
    let d = failed(&gw, &dev, "x5", "DROP VIEW t").await;
    assert!(d.contains("is a table, not a view"), "{d}");
    // A table hint on a view's name is refused before any engine, never moved onto a table
    // of the view's body; on a table it passes.
    let (status, body) = run_query(
        &gw,
        &dev,
        "x6",
        "SELECT id FROM v /*+ OPTIONS('scan.startup.mode'='latest-offset') */",
    )
    .await
    .unwrap_err();
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["code"], "sql.hint_not_allowed", "{body}");
    let d = detail(&body);
    assert!(d.contains("OPTIONS") && d.contains("view"), "{d}");
    ok(
        &gw,
        &dev,
        "x7",
        "SELECT id FROM t /*+ OPTIONS('scan.startup.mode'='latest-offset') */",
    )
    .await;
    // Nothing was changed by the refusals.
    assert_eq!(
        ok(&gw, &dev, "s", "SHOW TABLES").await,
        vec![json!(["t"]), json!(["v"])]
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_is_refused_and_a_dropped_body_table_is_reported_by_the_view() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    ok(&gw, &dev, "c1", "CREATE TABLE base (id INT)").await;
    ok(&gw, &dev, "c2", "INSERT INTO base VALUES (7)").await;
    ok(&gw, &dev, "v1", "CREATE VIEW a AS SELECT id FROM base").await;
    ok(&gw, &dev, "v2", "CREATE VIEW b AS SELECT id FROM a").await;
    let d = failed(
        &gw,
        &dev,
        "v3",
        "CREATE OR REPLACE VIEW a AS SELECT id FROM b",
    )
    .await;
    assert!(
        d.contains("would read itself") && d.contains("a -> b -> a"),
        "{d}"
    );
    let d = failed(&gw, &dev, "v4", "CREATE VIEW c AS SELECT * FROM c").await;
    assert!(d.contains("would read itself"), "{d}");
    // The refused replacement changed nothing.
    assert_eq!(
        ok(&gw, &dev, "r1", "SELECT * FROM b").await,
        vec![json!(["7"])]
    );
    ok(&gw, &dev, "d1", "DROP TABLE base").await;
    let d = failed(&gw, &dev, "r2", "SELECT * FROM b").await;
    assert!(
        d.contains("View `env-dev`.`lkc-dev`.`b` cannot be read")
            && d.contains("no longer resolves")
            && d.contains("`base`"),
        "{d}"
    );
    gw.stop().await;
}

/// `sa-reader` may run statements, read tables `pub-*` and views `v-*`, and nothing else.
async fn reader_setup() -> (TestGateway, Cred, Cred) {
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    let topic = |p: &str| {
        format!(
            "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic={p}"
        )
    };
    common::bind(
        &dir.path().join("policies"),
        &[
            ("User:sa-reader", "FlinkDeveloper", common::ENV_CRN),
            ("User:sa-reader", "DeveloperRead", &topic("pub-*")),
            ("User:sa-reader", "DeveloperRead", &topic("v-*")),
        ],
    );
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let dev = developer(&gw);
    for (i, sql) in [
        "CREATE TABLE `pub-items` (id INT, label STRING)",
        "INSERT INTO `pub-items` VALUES (1, 'one'), (2, 'two')",
        "CREATE TABLE salaries (id INT, pay INT)",
        "INSERT INTO salaries VALUES (1, 100), (2, 200)",
        "CREATE VIEW `v-items` AS SELECT label FROM `pub-items`",
        "CREATE VIEW `v-pay` AS SELECT i.label, s.pay FROM `pub-items` i JOIN salaries s ON s.id = i.id",
        "CREATE VIEW `v-outer` AS SELECT * FROM `v-pay`",
        "CREATE VIEW `w-items` AS SELECT label FROM `pub-items`",
    ]
    .iter()
    .enumerate()
    {
        ok(&gw, &dev, &format!("setup-{i}"), sql).await;
    }
    let (key, secret) = gw.api_key("User:sa-reader");
    (gw, dev, Cred::Basic(key, secret))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_reads_with_the_readers_rights_never_the_creators() {
    let (gw, dev, reader) = reader_setup().await;
    // Read on the view and on its body's table: granted.
    assert_eq!(
        ok(&gw, &reader, "r1", "SELECT * FROM `v-items` ORDER BY label").await,
        vec![json!(["one"]), json!(["two"])]
    );
    // The creator (the developer pool) may read salaries; the reader may not, so the view
    // does not let it: 403 naming the view, never the hidden table, and nothing ran.
    for (name, sql) in [
        ("r2", "SELECT * FROM `v-pay`"),
        ("r3", "SELECT COUNT(*) FROM `v-outer`"),
        (
            "r4",
            "SELECT label FROM `pub-items` WHERE id IN (SELECT 1 FROM `v-pay`)",
        ),
    ] {
        let before = gw.engine_calls();
        let (status, body) = run_query(&gw, &reader, name, sql).await.unwrap_err();
        assert_eq!(status, 403, "{sql}: {body}");
        assert_eq!(body["errors"][0]["code"], "authz.denied", "{body}");
        let d = detail(&body);
        let named = if name == "r3" { "`v-outer`" } else { "`v-pay`" };
        assert!(
            d.contains(named) && d.contains("every table its body reads"),
            "{d}"
        );
        assert!(!d.contains("salaries"), "the hidden table is named: {d}");
        assert_eq!(gw.engine_calls(), before, "{sql} reached the engine");
    }
    // Read on every body table but not on the view itself: refused, naming the view.
    let (status, body) = run_query(&gw, &reader, "r5", "SELECT * FROM `w-items`")
        .await
        .unwrap_err();
    assert_eq!(status, 403, "{body}");
    assert!(detail(&body).contains("`w-items`"), "{body}");
    // The creator reads them all.
    assert_eq!(
        ok(&gw, &dev, "r6", "SELECT * FROM `v-outer` ORDER BY pay").await,
        vec![json!(["one", "100"]), json!(["two", "200"])]
    );
    // Creating or dropping a view needs what creating or dropping a table of that name
    // needs: the reader has only DeveloperRead.
    for (name, sql) in [
        ("c1", "CREATE VIEW `v-mine` AS SELECT * FROM `pub-items`"),
        ("c2", "DROP VIEW `v-items`"),
    ] {
        let (status, body) = run_query(&gw, &reader, name, sql).await.unwrap_err();
        assert_eq!(status, 403, "{sql}: {body}");
    }
    assert_eq!(
        ok(&gw, &reader, "r7", "SELECT COUNT(*) FROM `v-items`").await,
        vec![json!(["2"])]
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_filters_and_masks_of_the_body_apply_to_the_reader_of_a_view() {
    let gw =
        TestGateway::start_with(|c| c.policy.reload_settle = std::time::Duration::from_millis(50))
            .await;
    let dev = developer(&gw);
    for (i, sql) in [
        "CREATE TABLE customers (id INT, email STRING, region STRING)",
        "INSERT INTO customers VALUES (1, 'ann@corp.example', 'EU'), (2, 'bob@mail.example', 'US'), (3, 'cy@mail.example', 'EU')",
        "CREATE VIEW eu_contacts AS SELECT id, email FROM customers WHERE region <> 'APAC'",
        "CREATE VIEW contact_list AS SELECT email FROM eu_contacts",
    ]
    .iter()
    .enumerate()
    {
        ok(&gw, &dev, &format!("setup-{i}"), sql).await;
    }
    let policies = format!(
        r#"
[[row_filter]]
name = "customers-eu"
table = "{customers}"
principals = ["User:pool-dev"]
filter = "region = 'EU'"

[[column_mask]]
name = "customers-email"
table = "{customers}"
column = "email"
principals = ["*"]
except = ["User:pool-admin"]
mask = "CONCAT('***@', SUBSTRING(email FROM POSITION('@' IN email) + 1))"
"#,
        customers = table_crn("customers"),
    );
    set_data_policies(&gw, &policies).await;
    let dev = developer_with(&gw, &[]);
    // The developer (who created the views) reads filtered rows and masked values through
    // them, one level or two deep.
    assert_eq!(
        ok(&gw, &dev, "d1", "SELECT * FROM eu_contacts ORDER BY id").await,
        vec![
            json!(["1", "***@corp.example"]),
            json!(["3", "***@mail.example"])
        ]
    );
    assert_eq!(
        ok(&gw, &dev, "d2", "SELECT * FROM contact_list ORDER BY email").await,
        vec![json!(["***@corp.example"]), json!(["***@mail.example"])]
    );
    // A predicate on the masked column through the view sees only the masked value.
    assert!(
        ok(
            &gw,
            &dev,
            "d3",
            "SELECT id FROM eu_contacts WHERE email = 'ann@corp.example'"
        )
        .await
        .is_empty()
    );
    // The exempt administrator reads raw rows and values through the same views.
    let root = admin(&gw);
    assert_eq!(
        ok(&gw, &root, "a1", "SELECT * FROM eu_contacts ORDER BY id").await,
        vec![
            json!(["1", "ann@corp.example"]),
            json!(["2", "bob@mail.example"]),
            json!(["3", "cy@mail.example"])
        ]
    );
    assert_eq!(
        ok(&gw, &root, "a2", "SELECT COUNT(*) FROM contact_list").await,
        vec![json!(["3"])]
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_are_listed_described_and_shown_as_views() {
    let (gw, dev, reader) = reader_setup().await;
    assert_eq!(
        ok(&gw, &dev, "s1", "SHOW VIEWS").await,
        vec![
            json!(["v-items"]),
            json!(["v-outer"]),
            json!(["v-pay"]),
            json!(["w-items"])
        ]
    );
    // Filtered like tables: the reader has a role on `v-*` only.
    assert_eq!(
        ok(&gw, &reader, "s2", "SHOW VIEWS").await,
        vec![json!(["v-items"]), json!(["v-outer"]), json!(["v-pay"])]
    );
    assert_eq!(
        ok(&gw, &reader, "s3", "SHOW TABLES").await,
        vec![
            json!(["pub-items"]),
            json!(["v-items"]),
            json!(["v-outer"]),
            json!(["v-pay"])
        ]
    );
    // DESCRIBE plans the body (views in it expanded) for the view's columns.
    let described = ok(&gw, &dev, "d1", "DESCRIBE `v-outer`").await;
    let names: Vec<&str> = described.iter().filter_map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["label", "pay"], "{described:?}");
    assert_eq!(described[1][1], "INT", "{described:?}");
    // A literal column is described as a read of the view types it: Flink's CHAR(n), NOT
    // NULL (`||` adds the lengths).
    ok(
        &gw,
        &dev,
        "cl",
        "CREATE VIEW `v-lit` AS SELECT 'abc' AS tag, 'ab' || 'c' AS joined, label FROM `v-items`",
    )
    .await;
    let described = ok(&gw, &dev, "d2", "DESCRIBE `v-lit`").await;
    let types: Vec<(&str, &str, &str)> = described
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap_or_default(),
                r[1].as_str().unwrap_or_default(),
                r[2].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            ("tag", "CHAR(3)", "FALSE"),
            ("joined", "CHAR(3)", "FALSE"),
            ("label", "STRING", "TRUE")
        ],
        "{described:?}"
    );
    ok(&gw, &dev, "dl", "DROP VIEW `v-lit`").await;
    let shown = ok(&gw, &dev, "c1", "SHOW CREATE VIEW `v-items`").await;
    assert_eq!(
        shown,
        vec![json!([
            "CREATE VIEW `env-dev`.`lkc-dev`.`v-items` AS SELECT label FROM `env-dev`.`lkc-dev`.`pub-items`"
        ])]
    );
    // The reader may describe `v-pay`, but its definition names salaries: not shown.
    let d = failed(&gw, &reader, "c2", "SHOW CREATE VIEW `v-pay`").await;
    assert!(d.contains("not shown") && !d.contains("salaries"), "{d}");
    // INFORMATION_SCHEMA.TABLES says which are views.
    assert_eq!(
        ok(
            &gw,
            &reader,
            "i1",
            "SELECT TABLE_NAME, TABLE_TYPE FROM INFORMATION_SCHEMA.`TABLES` ORDER BY TABLE_NAME"
        )
        .await,
        vec![
            json!(["pub-items", "BASE TABLE"]),
            json!(["v-items", "VIEW"]),
            json!(["v-outer", "VIEW"]),
            json!(["v-pay", "VIEW"])
        ]
    );
    gw.stop().await;
}
