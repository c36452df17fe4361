//! Row filters and column masks (`policies/data-policies.toml`) on the embedded engine,
//! against the real server: each bypass attempt asserts the exact rows and values returned.
//!
//! Tables (created by the developer pool, which owns every table of `lkc-dev`):
//! `customers (id, email, region)` and `orders (id, customer, region, tenant, amount)`.
//! Policies: `orders-eu-only` keeps the developer pool's orders of region EU and of its
//! token's tenant; `customers-email` masks the email for everyone but the admin pool;
//! `customers-region` masks the region from the raw email (a mask that reads another masked
//! column).

mod common;

use common::data_policies::{developer_with, gateway_with, rows, set_data_policies, table_crn};
use common::{Cred, TestGateway, admin, developer, post_statement};
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
table = "{customers}*"
column = "email"
principals = ["*"]
except = ["User:pool-admin"]
mask = "CONCAT('***@', SUBSTRING(email FROM POSITION('@' IN email) + 1))"

[[column_mask]]
name = "customers-region"
table = "{customers}"
column = "region"
principals = ["*"]
except = ["User:pool-admin"]
mask = "CASE WHEN email LIKE '%@corp.example' THEN 'internal' ELSE region END"
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
            "CREATE TABLE customers (id INT, email STRING, region STRING)",
            "INSERT INTO customers VALUES (1, 'ann@corp.example', 'EU'), (2, 'bob@mail.example', 'US'), (3, 'cy@mail.example', 'EU')",
            "CREATE TABLE orders (id INT, customer INT, region STRING, tenant STRING, amount INT)",
            "INSERT INTO orders VALUES (10, 1, 'EU', 't1', 100), (11, 2, 'US', 't1', 200), (12, 3, 'EU', 't2', 300), (13, 3, 'EU', 't1', 400)",
        ],
        &policies(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_star_and_every_operator_see_masked_values() {
    let (gw, dev) = setup().await;
    let masked = vec![
        json!(["1", "***@corp.example", "internal"]),
        json!(["2", "***@mail.example", "US"]),
        json!(["3", "***@mail.example", "EU"]),
    ];
    assert_eq!(
        rows(&gw, &dev, "star", "SELECT * FROM customers ORDER BY id").await,
        masked
    );
    // WHERE on the masked column compares the masked value: the raw one matches nothing.
    assert!(
        rows(
            &gw,
            &dev,
            "w1",
            "SELECT id FROM customers WHERE email = 'bob@mail.example'"
        )
        .await
        .is_empty()
    );
    assert!(
        rows(
            &gw,
            &dev,
            "w2",
            "SELECT id FROM customers WHERE email LIKE 'bob%'"
        )
        .await
        .is_empty()
    );
    assert_eq!(
        rows(
            &gw,
            &dev,
            "w3",
            "SELECT id FROM customers WHERE email = '***@mail.example' ORDER BY id"
        )
        .await,
        vec![json!(["2"]), json!(["3"])]
    );
    // GROUP BY and ORDER BY on it see only masked values.
    assert_eq!(
        rows(
            &gw,
            &dev,
            "g",
            "SELECT email, COUNT(*) FROM customers GROUP BY email ORDER BY email"
        )
        .await,
        vec![
            json!(["***@corp.example", "1"]),
            json!(["***@mail.example", "2"])
        ]
    );
    // A join on the masked column joins masked values.
    assert_eq!(
        rows(
            &gw,
            &dev,
            "j",
            "SELECT a.id, b.id FROM customers a JOIN customers AS b ON a.email = b.email \
             WHERE a.id < b.id"
        )
        .await,
        vec![json!(["2", "3"])]
    );
    // A subquery in an expression, a set operation and a derived table read it masked too.
    assert_eq!(
        rows(
            &gw,
            &dev,
            "s",
            "SELECT (SELECT MAX(email) FROM customers) UNION ALL \
             SELECT email FROM (SELECT email FROM customers WHERE id = 1) AS x"
        )
        .await,
        vec![json!(["***@mail.example"]), json!(["***@corp.example"])]
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_rows_are_not_there_for_counts_joins_or_claimless_tokens() {
    let (gw, dev) = setup().await;
    assert_eq!(
        rows(&gw, &dev, "all", "SELECT id FROM orders ORDER BY id").await,
        vec![json!(["10"]), json!(["13"])]
    );
    assert_eq!(
        rows(&gw, &dev, "agg", "SELECT COUNT(*), SUM(amount) FROM orders").await,
        vec![json!(["2", "500"])]
    );
    // A predicate of the caller never brings a filtered row back.
    assert!(
        rows(
            &gw,
            &dev,
            "or",
            "SELECT id FROM orders WHERE region = 'US' OR tenant = 't2'"
        )
        .await
        .is_empty()
    );
    assert_eq!(
        rows(
            &gw,
            &dev,
            "join",
            "SELECT o.id, c.email FROM orders o JOIN customers c ON o.customer = c.id ORDER BY o.id"
        )
        .await,
        vec![
            json!(["10", "***@corp.example"]),
            json!(["13", "***@mail.example"])
        ]
    );
    // A token without the claim the filter needs reads no row at all.
    let claimless = developer(&gw);
    assert!(
        rows(&gw, &claimless, "none", "SELECT * FROM orders")
            .await
            .is_empty()
    );
    // The claim is a literal, never SQL.
    let injector = developer_with(&gw, &[("tenant", "t1' OR 'a' = 'a")]);
    assert!(
        rows(&gw, &injector, "inj", "SELECT * FROM orders")
            .await
            .is_empty()
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_through_ctas_and_insert_select_hold_only_what_the_caller_saw() {
    let (gw, dev) = setup().await;
    rows(
        &gw,
        &dev,
        "ctas",
        "CREATE TABLE copy1 AS SELECT * FROM customers",
    )
    .await;
    rows(
        &gw,
        &dev,
        "c2",
        "CREATE TABLE copy2 (id INT, customer INT, region STRING, tenant STRING, amount INT)",
    )
    .await;
    rows(&gw, &dev, "ins", "INSERT INTO copy2 SELECT * FROM orders").await;
    // Read back by the admin, whom no policy covers on the copies.
    let adm = admin(&gw);
    assert_eq!(
        rows(
            &gw,
            &adm,
            "r1",
            "SELECT id, email, region FROM copy1 ORDER BY id"
        )
        .await,
        vec![
            json!(["1", "***@corp.example", "internal"]),
            json!(["2", "***@mail.example", "US"]),
            json!(["3", "***@mail.example", "EU"]),
        ]
    );
    assert_eq!(
        rows(&gw, &adm, "r2", "SELECT id FROM copy2 ORDER BY id").await,
        vec![json!(["10"]), json!(["13"])]
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cte_named_like_the_table_does_not_escape_and_masks_read_raw_values_only_inside() {
    let (gw, dev) = setup().await;
    assert_eq!(
        rows(
            &gw,
            &dev,
            "cte",
            "WITH customers AS (SELECT * FROM customers) SELECT id, email FROM customers ORDER BY id"
        )
        .await,
        vec![
            json!(["1", "***@corp.example"]),
            json!(["2", "***@mail.example"]),
            json!(["3", "***@mail.example"]),
        ]
    );
    // `customers-region` reads the raw email (ann is internal), but the caller's own
    // expression over `region` and `email` sees masked values only.
    assert_eq!(
        rows(
            &gw,
            &dev,
            "chain",
            "SELECT id, region, email LIKE '%@corp.example' FROM customers ORDER BY id"
        )
        .await,
        vec![
            json!(["1", "internal", "TRUE"]),
            json!(["2", "US", "FALSE"]),
            json!(["3", "EU", "FALSE"]),
        ]
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_over_a_masked_value_never_echoes_the_raw_value() {
    let (gw, dev) = setup().await;
    let (status, body) = post_statement(
        &gw,
        &dev,
        "cast",
        "SELECT CAST(email AS INT) FROM customers WHERE id = 2",
        json!({}),
    )
    .await;
    let text = body.to_string();
    assert!(
        status != 200 || body["status"]["phase"] == "FAILED",
        "the cast fails: {status} {body}"
    );
    assert!(!text.contains("bob"), "the raw email leaked: {text}");
    assert!(
        !text.contains("POSITION") && !text.contains("SUBSTRING"),
        "the mask's text leaked: {text}"
    );
    assert!(
        text.contains("***@mail.example"),
        "the error is about the masked value: {text}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exempt_principal_reads_raw_values_and_every_row() {
    let (gw, _dev) = setup().await;
    let adm = admin(&gw);
    assert_eq!(
        rows(&gw, &adm, "a1", "SELECT * FROM customers ORDER BY id").await,
        vec![
            json!(["1", "ann@corp.example", "EU"]),
            json!(["2", "bob@mail.example", "US"]),
            json!(["3", "cy@mail.example", "EU"]),
        ]
    );
    assert_eq!(
        rows(&gw, &adm, "a2", "SELECT COUNT(*) FROM orders").await,
        vec![json!(["4"])]
    );
    gw.stop().await;
}

/// A window TVF over a covered table is enforced (its `TABLE` argument names a generated CTE,
/// `src/rewrite/enforce.rs`); the embedded engine then refuses the TVF by name, with no policy
/// text and no row in the answer. On Flink it runs (`tests/flink_data_policies.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_tvf_over_a_covered_table_is_enforced_then_refused_by_the_embedded_engine_by_name()
{
    let (gw, dev) = setup().await;
    let (status, body) = post_statement(
        &gw,
        &dev,
        "tvf",
        "SELECT * FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(`$rowtime`), INTERVAL '1' MINUTE))",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["phase"], "FAILED", "{body}");
    let d = body["status"]["detail"].as_str().unwrap_or_default();
    assert!(d.contains("window table-valued function TUMBLE"), "{d}");
    assert!(
        !d.contains("EU") && !d.contains("tenant") && !d.contains("sqlgate$policy"),
        "no policy text: {d}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_lists_the_filters_and_masks_and_shows_admins_the_rewritten_sql() {
    let (gw, _dev) = setup().await;
    let url = format!("{}/sqlgate/v1/check", gw.endpoint());
    let ask = json!({"principal": "User:pool-dev", "catalog": "dev", "database": "main",
        "sql": "SELECT o.id, c.email FROM orders o JOIN customers c ON o.customer = c.id",
        "claims": {"tenant": "t1"}});
    let r = admin(&gw)
        .apply(gw.client().post(&url))
        .json(&ask)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["decision"], "allow", "{report}");
    assert_eq!(
        report["data_policies"],
        json!([
            {"table": "`env-dev`.`lkc-dev`.`customers`", "row_filters": [],
             "column_masks": [{"name": "customers-email", "column": "email"},
                              {"name": "customers-region", "column": "region"}]},
            {"table": "`env-dev`.`lkc-dev`.`orders`", "row_filters": ["orders-eu-only"],
             "column_masks": []},
        ]),
        "{report}"
    );
    let sql = report["rewritten"].as_str().unwrap();
    assert!(
        sql.contains("(SELECT * FROM `env-dev`.`lkc-dev`.`orders` WHERE (region = 'EU' AND tenant = 't1')) o JOIN"),
        "{sql}"
    );
    assert!(sql.contains("REPLACE (CONCAT('***@'"), "{sql}");
    gw.stop().await;
}

/// Flink-only statements are rewritten like any other: each INSERT of a statement set reads
/// through the filter, a table hint on the covered table goes with its scan into the derived
/// table (never dropped, never left on the derived table), and a query hint stays on its
/// query block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_set_reads_through_the_policies_and_hints_stay_on_their_scans() {
    let (gw, _dev) = setup().await;
    let url = format!("{}/sqlgate/v1/check", gw.endpoint());
    let check = |sql: &str| {
        let ask = json!({"principal": "User:pool-dev", "catalog": "dev", "database": "main",
            "sql": sql, "claims": {"tenant": "t1"}});
        let (gw, url) = (&gw, &url);
        async move {
            let r = admin(gw)
                .apply(gw.client().post(url))
                .json(&ask)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let report = check(
        "EXECUTE STATEMENT SET BEGIN \
           INSERT INTO copy_a SELECT id FROM orders; \
           INSERT INTO copy_b SELECT /*+ BROADCAST(c) */ o.id, c.email \
             FROM orders /*+ OPTIONS('scan.startup.mode'='earliest-offset') */ AS o \
             JOIN customers AS c ON o.customer = c.id; \
         END",
    )
    .await;
    assert_eq!(report["decision"], "allow", "{report}");
    let tables: Vec<&str> = report["data_policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["table"].as_str().unwrap())
        .collect();
    assert_eq!(
        tables,
        [
            "`env-dev`.`lkc-dev`.`orders`",
            "`env-dev`.`lkc-dev`.`customers`"
        ],
        "{report}"
    );
    let sql = report["rewritten"].as_str().unwrap();
    let filtered =
        "(SELECT * FROM `env-dev`.`lkc-dev`.`orders` WHERE (region = 'EU' AND tenant = 't1'))";
    assert!(
        sql.starts_with(&format!(
            "EXECUTE STATEMENT SET BEGIN INSERT INTO `env-dev`.`lkc-dev`.`copy_a` SELECT id FROM {filtered} AS `orders`;"
        )),
        "{sql}"
    );
    assert!(
        sql.contains(
            "SELECT /*+ BROADCAST(`c`) */ o.id, c.email FROM (SELECT * FROM `env-dev`.`lkc-dev`.`orders` \
             /*+ OPTIONS('scan.startup.mode' = 'earliest-offset') */ WHERE (region = 'EU' AND tenant = 't1')) AS o JOIN"
        ),
        "{sql}"
    );
    assert!(sql.contains("REPLACE (CONCAT('***@'"), "{sql}");
    assert!(sql.ends_with("; END"), "{sql}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_policy_file_is_refused_whole_and_the_last_good_one_stays_in_force() {
    let (gw, dev) = setup().await;
    let version = gw.gateway.authorizer().version();
    let path = gw.dir.path().join("policies").join("data-policies.toml");
    let bad = format!(
        "{}\n[[column_mask]]\nname = \"again\"\ntable = \"{}\"\ncolumn = \"email\"\n\
         principals = [\"User:pool-dev\"]\nmask = \"NULL\"\n\n[[row_filter]]\nname = \"typo\"\n\
         table = \"{}\"\nprincipals = [\"*\"]\nfilter = \"tenant = {{{{claim.tenant}}}}\"\n",
        policies(),
        table_crn("customers"),
        table_crn("orders")
    );
    std::fs::write(path.with_extension("tmp-test"), bad).unwrap();
    std::fs::rename(path.with_extension("tmp-test"), &path).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let error = loop {
        if let Some(e) = gw.gateway.authorizer().status().last_error {
            break e;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the bad file was not refused"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    assert!(
        error.contains("data-policies.toml: column_mask `again`: masks column `email`")
            && error.contains("data-policies.toml: row_filter `typo`: filter: unknown placeholder `{{claim.tenant}}`"),
        "{error}"
    );
    assert_eq!(gw.gateway.authorizer().version(), version, "last good kept");
    assert_eq!(
        rows(
            &gw,
            &dev,
            "still",
            "SELECT email FROM customers WHERE id = 2"
        )
        .await,
        vec![json!(["***@mail.example"])]
    );
    // A policy naming a column a table lacks refuses the reads it covers (fail closed),
    // naming the table, never the policy's text. (Written before the table exists: a reload
    // refuses it for an existing table, tests/data_policy_fit.rs.)
    set_data_policies(
        &gw,
        &format!(
            "[[row_filter]]\nname = \"stale\"\ntable = \"{}\"\nprincipals = [\"*\"]\n\
             filter = \"secret_flag = 1\"\n",
            table_crn("later")
        ),
    )
    .await;
    rows(&gw, &developer(&gw), "later", "CREATE TABLE later (id INT)").await;
    let (status, body) =
        post_statement(&gw, &dev, "stale", "SELECT id FROM later", json!({})).await;
    let text = body.to_string();
    assert!(
        status != 200 || body["status"]["phase"] == "FAILED",
        "refused: {status} {body}"
    );
    assert!(text.contains("does not match its columns"), "{text}");
    assert!(!text.contains("secret_flag"), "no policy text: {text}");
    gw.stop().await;
}
