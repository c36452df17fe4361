//! What a caller learns about row filters and column masks from metadata and plans, against
//! the real server on the embedded engine: EXPLAIN of a read through a policy is refused
//! (the plan would show the filter and mask text), DESCRIBE and INFORMATION_SCHEMA.COLUMNS show
//! a masked column as the caller sees it, and a predicate of the caller that fails on a
//! filtered-out row never runs on one (no error-based leak).
//!
//! Tables (created by the developer pool): `customers (id, email, region)` and
//! `orders (id, customer, region, tenant, amount)`. Policies: `orders-eu-only` keeps the
//! developer pool's orders of region EU and of its token's tenant; `customers-email` masks the
//! email for everyone but the admin pool; `customers-id` shows the token's tenant claim in
//! place of the id (an INT NOT NULL shown as a STRING NOT NULL; NULL, so nullable, for a
//! token without the claim).

mod common;

use common::data_policies::{gateway_with, rows, table_crn};
use common::{Cred, TestGateway, admin, detail, developer, post_statement, run_query};
use serde_json::{Value, json};

fn policies() -> String {
    format!(
        r#"
[[row_filter]]
name = "orders-eu-only"
table = "{orders}"
principals = ["User:pool-dev"]
filter = "region = 'EU' AND tenant = {{{{claims.tenant}}}}"

[[column_mask]]
name = "customers-email"
table = "{customers}"
column = "email"
principals = ["*"]
except = ["User:pool-admin"]
mask = "CONCAT('***@', SUBSTRING(email FROM POSITION('@' IN email) + 1))"

[[column_mask]]
name = "customers-id"
table = "{customers}"
column = "id"
principals = ["*"]
except = ["User:pool-admin"]
mask = "{{{{claims.tenant}}}}"
"#,
        orders = table_crn("orders"),
        customers = table_crn("customers"),
    )
}

/// A gateway with both tables filled, the policies in force, and the developer's credential
/// with tenant `t1`.
async fn setup() -> (TestGateway, Cred) {
    gateway_with(
        &[
            "CREATE TABLE customers (id INT NOT NULL, email STRING, region STRING)",
            "INSERT INTO customers VALUES (1, 'ann@corp.example', 'EU'), (2, 'bob@mail.example', 'US')",
            "CREATE TABLE orders (id INT, customer INT, region STRING, tenant STRING, amount INT)",
            "INSERT INTO orders VALUES (10, 1, 'EU', 't1', 100), (11, 2, 'US', 't1', 200), (12, 2, 'EU', 't2', 300), (13, 1, 'EU', 't1', 400)",
        ],
        &policies(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_of_a_read_through_a_policy_is_refused_naming_the_table_only() {
    let (gw, dev) = setup().await;
    for (i, (sql, table)) in [
        ("EXPLAIN SELECT * FROM orders", "`orders`"),
        (
            "EXPLAIN SELECT id FROM customers WHERE email LIKE '%corp%'",
            "`customers`",
        ),
        (
            "EXPLAIN SELECT o.id FROM orders o JOIN customers c ON o.customer = c.id",
            "`lkc-dev`",
        ),
        (
            "EXPLAIN SELECT * FROM (SELECT amount FROM orders) AS x",
            "`orders`",
        ),
    ]
    .iter()
    .enumerate()
    {
        let before = gw.engine_calls();
        let (status, body) =
            post_statement(&gw, &dev, &format!("explain-{i}"), sql, json!({})).await;
        assert_eq!(status, 403, "{sql}: {body}");
        assert_eq!(
            body["errors"][0]["code"], "rewrite.data_policy_explain",
            "{sql}: {body}"
        );
        let d = detail(&body);
        assert!(d.contains(table) && d.contains("EXPLAIN"), "{sql}: {d}");
        for secret in ["EU", "tenant", "t1", "CONCAT", "***", "orders-eu-only"] {
            assert!(!d.contains(secret), "{sql}: no policy text ({secret}): {d}");
        }
        assert_eq!(
            gw.engine_calls(),
            before,
            "{sql}: nothing reached the engine"
        );
    }
    // The admin pool is exempt from the masks and not covered by the filter: its EXPLAIN is
    // not refused for a policy (whatever the engine makes of it).
    let (_, body) = post_statement(
        &gw,
        &admin(&gw),
        "explain-admin",
        "EXPLAIN SELECT * FROM customers",
        json!({}),
    )
    .await;
    assert_ne!(
        body["errors"][0]["code"], "rewrite.data_policy_explain",
        "{body}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_predicate_that_fails_on_filtered_rows_never_runs_on_them() {
    let (gw, dev) = setup().await;
    // Order 11 is region US and filtered out: each predicate fails (division by zero, a
    // failed cast) on it and on no row the caller sees. Evaluated before the filter, the
    // statement would fail and reveal that such a row exists.
    for (i, sql) in [
        "SELECT id FROM orders WHERE 1 / CASE WHEN region = 'US' THEN 0 ELSE 1 END = 1 ORDER BY id",
        "SELECT id FROM orders WHERE amount / (amount - 200) <> 7 ORDER BY id",
        "SELECT id FROM orders WHERE CAST(CASE WHEN tenant = 't2' THEN 'x' ELSE '1' END AS INT) = 1 ORDER BY id",
        "SELECT a.id FROM orders a JOIN orders b ON a.id = b.id \
         AND 1 / CASE WHEN b.region = 'US' THEN 0 ELSE 1 END = 1 ORDER BY a.id",
        "SELECT id FROM (SELECT * FROM orders) AS x \
         WHERE 1 / CASE WHEN region = 'US' THEN 0 ELSE 1 END = 1 ORDER BY id",
        "SELECT id, 1 / CASE WHEN region = 'US' THEN 0 ELSE 1 END FROM orders ORDER BY id",
        "SELECT a.id FROM orders a WHERE EXISTS (SELECT 1 FROM orders b WHERE b.id = a.id \
         AND 1 / CASE WHEN b.region = 'US' THEN 0 ELSE 1 END = 1) ORDER BY a.id",
        "SELECT id FROM orders WHERE id IN (SELECT id FROM orders \
         WHERE 1 / CASE WHEN region = 'US' THEN 0 ELSE 1 END = 1) ORDER BY id",
    ]
    .iter()
    .enumerate()
    {
        let got = rows(&gw, &dev, &format!("leak-{i}"), sql).await;
        let ids: Vec<&Value> = got.iter().map(|r| &r[0]).collect();
        assert_eq!(ids, [&json!("10"), &json!("13")], "{sql}: {got:?}");
    }
    // The same predicate does fail for a caller who sees the row (the test can fail).
    let failed = run_query(
        &gw,
        &admin(&gw),
        "leak-admin",
        "SELECT id FROM orders WHERE 1 / CASE WHEN region = 'US' THEN 0 ELSE 1 END = 1",
    )
    .await
    .expect_err("the admin's read fails on the US row");
    assert!(
        failed.1.to_string().to_lowercase().contains("zero"),
        "{failed:?}"
    );
    gw.stop().await;
}

/// DESCRIBE's rows as `[name, type, null]`.
async fn described(gw: &TestGateway, cred: &Cred, name: &str) -> Vec<Value> {
    rows(gw, cred, name, "DESCRIBE customers")
        .await
        .into_iter()
        .map(|r| json!([r[0], r[1], r[2]]))
        .collect()
}

/// INFORMATION_SCHEMA.COLUMNS of `customers` as `[name, full type, nullable]`.
async fn info_columns(gw: &TestGateway, cred: &Cred, name: &str) -> Vec<Value> {
    rows(
        gw,
        cred,
        name,
        "SELECT COLUMN_NAME, FULL_DATA_TYPE, IS_NULLABLE FROM INFORMATION_SCHEMA.`COLUMNS` \
         WHERE TABLE_NAME = 'customers' ORDER BY ORDINAL_POSITION",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_and_information_schema_show_masked_columns_as_the_caller_reads_them() {
    let (gw, dev) = setup().await;
    // Exempt: the table's own columns.
    let adm = admin(&gw);
    assert_eq!(
        described(&gw, &adm, "d-admin").await,
        vec![
            json!(["id", "INT", "FALSE"]),
            json!(["email", "STRING", "TRUE"]),
            json!(["region", "STRING", "TRUE"]),
        ]
    );
    assert_eq!(
        info_columns(&gw, &adm, "i-admin").await,
        vec![
            json!(["id", "INT", "NO"]),
            json!(["email", "VARCHAR(2147483647)", "YES"]),
            json!(["region", "VARCHAR(2147483647)", "YES"]),
        ]
    );
    // Masked: `id` is the tenant claim, a literal (`'t1'`, CHAR(2) as Flink types it, as a
    // read of it is typed) that is never NULL for this token.
    assert_eq!(
        described(&gw, &dev, "d-dev").await,
        vec![
            json!(["id", "CHAR(2)", "FALSE"]),
            json!(["email", "STRING", "TRUE"]),
            json!(["region", "STRING", "TRUE"]),
        ]
    );
    assert_eq!(
        info_columns(&gw, &dev, "i-dev").await,
        vec![
            json!(["id", "CHAR(2)", "NO"]),
            json!(["email", "VARCHAR(2147483647)", "YES"]),
            json!(["region", "VARCHAR(2147483647)", "YES"]),
        ]
    );
    // What a read returns agrees with DESCRIBE.
    assert_eq!(
        rows(
            &gw,
            &dev,
            "read",
            "SELECT id, email FROM customers ORDER BY email"
        )
        .await,
        vec![
            json!(["t1", "***@corp.example"]),
            json!(["t1", "***@mail.example"])
        ]
    );
    let (status, st) = common::get(&gw, &dev, "/statements/read").await;
    assert_eq!(status, 200, "{st}");
    assert_eq!(
        st["status"]["traits"]["schema"]["columns"][0]["type"],
        json!({"type": "CHAR", "nullable": false, "length": 2}),
        "the read's type agrees with DESCRIBE"
    );
    // A token without the claim: the mask is NULL, so the column is nullable.
    let claimless = developer(&gw);
    assert_eq!(
        described(&gw, &claimless, "d-none").await[0],
        json!(["id", "STRING", "TRUE"])
    );
    assert_eq!(
        info_columns(&gw, &claimless, "i-none").await[0],
        json!(["id", "VARCHAR(2147483647)", "YES"])
    );
    // A filtered table keeps its columns.
    let orders: Vec<Value> = rows(&gw, &dev, "d-orders", "DESCRIBE orders")
        .await
        .into_iter()
        .map(|r| json!([r[0], r[1], r[2]]))
        .collect();
    assert_eq!(
        orders,
        vec![
            json!(["id", "INT", "TRUE"]),
            json!(["customer", "INT", "TRUE"]),
            json!(["region", "STRING", "TRUE"]),
            json!(["tenant", "STRING", "TRUE"]),
            json!(["amount", "INT", "TRUE"]),
        ]
    );
    gw.stop().await;
}
