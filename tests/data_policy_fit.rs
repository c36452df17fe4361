//! Row filters and column masks against the tables they cover, on the real server (embedded
//! engine, in-memory tables): a reload whose new entry names a column a covered table lacks,
//! whose filter is not BOOLEAN or whose mask's type does not resolve is refused naming entry,
//! table and column, and the last good policy stays in force (`/readyz` shows why); a table
//! recreated without a masked column refuses reads through the mask, and the administrator
//! sees it in `/metrics` (`sqlgate_data_policy_mismatches`) and in `POST /sqlgate/v1/check`.

mod common;

use std::time::{Duration, Instant};

use common::data_policies::{gateway_with, rows, set_data_policies, table_crn};
use common::{TestGateway, admin, developer, run_query};
use serde_json::{Value, json};

fn mask(name: &str, column: &str, mask: &str) -> String {
    format!(
        r#"
[[column_mask]]
name = "{name}"
table = "{customers}"
column = "{column}"
principals = ["*"]
except = ["User:pool-admin"]
mask = "{mask}"
"#,
        customers = table_crn("customers"),
    )
}

fn filter(name: &str, filter: &str) -> String {
    format!(
        r#"
[[row_filter]]
name = "{name}"
table = "{customers}*"
principals = ["User:pool-dev"]
filter = "{filter}"
"#,
        customers = table_crn("customers"),
    )
}

const EMAIL_MASK: &str = "CONCAT('***@', SUBSTRING(email FROM POSITION('@' IN email) + 1))";

/// Writes `text` as `data-policies.toml` and waits until a reload refused it naming entry
/// `entry`; the refusal.
async fn refused(gw: &TestGateway, text: &str, entry: &str) -> String {
    let version = gw.gateway.authorizer().version();
    let path = gw.dir.path().join("policies").join("data-policies.toml");
    let tmp = path.with_extension("tmp-test");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, &path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready: Value = gw
            .client()
            .get(format!("{}/readyz", gw.endpoint()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(e) = ready["policy"]["last_error"].as_str()
            && e.contains(&format!("`{entry}`"))
        {
            assert_eq!(
                gw.gateway.authorizer().version(),
                version,
                "refused, so nothing new is in force"
            );
            return e.to_string();
        }
        assert_eq!(gw.gateway.authorizer().version(), version, "{text}");
        assert!(Instant::now() < deadline, "not refused: {ready}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn metrics(gw: &TestGateway) -> String {
    gw.client()
        .get(format!("{}/metrics", gw.endpoint()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits until `/metrics` has `line`.
async fn metric_shows(gw: &TestGateway, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = metrics(gw).await;
        if text.lines().any(|l| l == line) {
            return;
        }
        assert!(Instant::now() < deadline, "no `{line}` in {text}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_entry_that_does_not_fit_an_existing_table_is_refused_at_reload_and_the_last_good_kept()
 {
    let (gw, _) = gateway_with(
        &[
            "CREATE TABLE customers (id INT, email STRING, region STRING)",
            "INSERT INTO customers VALUES (1, 'ann@corp.example', 'EU')",
        ],
        &mask("customers-email", "email", EMAIL_MASK),
    )
    .await;
    let dev = developer(&gw);
    let masked = vec![json!(["1", "***@corp.example", "EU"])];
    assert_eq!(
        rows(&gw, &dev, "before", "SELECT * FROM customers").await,
        masked
    );

    // A mask of a column the table lacks.
    let e = refused(
        &gw,
        &[
            mask("customers-email", "email", EMAIL_MASK),
            mask("customers-phone", "phone", "'***'"),
        ]
        .concat(),
        "customers-phone",
    )
    .await;
    assert!(
        e.contains(
            "data-policies.toml: column_mask `customers-phone` does not fit table \
             `env-dev`.`lkc-dev`.`customers`: it masks column `phone`, which the table lacks"
        ),
        "{e}"
    );
    // A filter naming a column the table lacks; a filter that is not BOOLEAN.
    let e = refused(
        &gw,
        &filter("by-tenant", "tenant = {{claims.tenant}}"),
        "by-tenant",
    )
    .await;
    assert!(
        e.contains(
            "row_filter `by-tenant` does not fit table `env-dev`.`lkc-dev`.`customers`: the \
             filter names column `tenant`, which the table lacks"
        ),
        "{e}"
    );
    let e = refused(&gw, &filter("not-boolean", "id + 1"), "not-boolean").await;
    assert!(
        e.contains("row_filter `not-boolean` does not fit table `env-dev`.`lkc-dev`.`customers`: the filter is of type"),
        "{e}"
    );
    assert!(e.contains("not BOOLEAN"), "{e}");
    // A mask whose type does not resolve.
    let e = refused(
        &gw,
        &mask("bad-type", "email", "UPPER(email, email)"),
        "bad-type",
    )
    .await;
    assert!(
        e.contains("column_mask `bad-type` does not fit table `env-dev`.`lkc-dev`.`customers`: its type could not be resolved"),
        "{e}"
    );
    // The last good policy is in force all along.
    assert_eq!(
        rows(&gw, &dev, "after", "SELECT * FROM customers").await,
        masked
    );
    // An entry covering no existing table is not refused (the tables may come later), nor
    // one that fits.
    let fine = [
        mask("customers-email", "email", EMAIL_MASK),
        filter("eu", "region = 'EU'"),
        format!(
            r#"
[[column_mask]]
name = "later"
table = "{}"
column = "anything"
principals = ["*"]
mask = "'x'"
"#,
            table_crn("not_yet")
        ),
    ]
    .concat();
    set_data_policies(&gw, &fine).await;
    assert_eq!(
        rows(&gw, &dev, "fine", "SELECT * FROM customers").await,
        masked
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_recreated_without_its_masked_column_refuses_reads_and_the_administrator_sees_it() {
    let (gw, _) = gateway_with(
        &[
            "CREATE TABLE customers (id INT, email STRING, region STRING)",
            "INSERT INTO customers VALUES (1, 'ann@corp.example', 'EU')",
        ],
        &mask("customers-email", "email", EMAIL_MASK),
    )
    .await;
    let dev = developer(&gw);
    metric_shows(&gw, "sqlgate_data_policy_mismatches 0").await;
    rows(&gw, &dev, "drop", "DROP TABLE customers").await;
    rows(
        &gw,
        &dev,
        "create",
        "CREATE TABLE customers (id INT, region STRING)",
    )
    .await;
    rows(
        &gw,
        &dev,
        "insert",
        "INSERT INTO customers VALUES (2, 'US')",
    )
    .await;
    // Reads through the mask are refused (fail closed), naming the table only.
    let (status, body) = run_query(&gw, &dev, "read", "SELECT * FROM customers")
        .await
        .unwrap_err();
    assert_eq!((status, &body["status"]["phase"]), (200, &json!("FAILED")));
    let detail = body["status"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("has a row filter or column mask that does not match its columns"),
        "{status} {body}"
    );
    assert!(
        !detail.contains("email") && !detail.contains("***"),
        "{detail}"
    );
    // The administrator sees it: the gauge, and the check names entry, table and column.
    metric_shows(&gw, "sqlgate_data_policy_mismatches 1").await;
    let ask = json!({"principal": "User:pool-dev", "catalog": "env-dev", "database": "lkc-dev", "sql": "SELECT * FROM customers"});
    let report: Value = admin(&gw)
        .apply(
            gw.client()
                .post(format!("{}/sqlgate/v1/check", gw.endpoint())),
        )
        .json(&ask)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        report["data_policies"][0]["mismatches"],
        json!([
            "column_mask `customers-email` does not fit table `env-dev`.`lkc-dev`.`customers`: \
             it masks column `email`, which the table lacks"
        ]),
        "{report}"
    );
    // The table corrected, everything fits again.
    rows(&gw, &dev, "drop2", "DROP TABLE customers").await;
    rows(
        &gw,
        &dev,
        "create2",
        "CREATE TABLE customers (id INT, email STRING, region STRING)",
    )
    .await;
    metric_shows(&gw, "sqlgate_data_policy_mismatches 0").await;
    assert!(
        rows(&gw, &dev, "read2", "SELECT * FROM customers")
            .await
            .is_empty()
    );
    gw.stop().await;
}

/// A gateway whose cluster `lkc-dev` is Kafka at `bootstrap`, reloading quickly.
async fn on_kafka(bootstrap: &str) -> TestGateway {
    let mut k = sqlgate::kafka::KafkaClusterConfig::new(bootstrap);
    k.request_timeout = Duration::from_secs(3);
    TestGateway::start_with(move |c| {
        c.environments[0].clusters[0].kafka = Some(k);
        c.policy.reload_settle = Duration::from_millis(50);
    })
    .await
}

fn topic_mask(topic: &str, name: &str, column: &str) -> String {
    format!(
        r#"
[[column_mask]]
name = "{name}"
table = "{table}"
column = "{column}"
principals = ["*"]
mask = "'***'"
"#,
        table = table_crn(topic),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_kafka_a_new_entry_naming_a_column_the_topic_lacks_is_refused_at_reload() {
    let kafka = common::broker::shared().await;
    let gw = on_kafka(&kafka.bootstrap).await;
    let dev = developer(&gw);
    rows(
        &gw,
        &dev,
        "create",
        "CREATE TABLE kf_customers (id INT, email STRING) WITH ('value.format' = 'json')",
    )
    .await;
    set_data_policies(&gw, &topic_mask("kf_customers", "kf-email", "email")).await;
    let e = refused(
        &gw,
        &[
            topic_mask("kf_customers", "kf-email", "email"),
            topic_mask("kf_customers", "kf-phone", "phone"),
        ]
        .concat(),
        "kf-phone",
    )
    .await;
    assert!(
        e.contains(
            "column_mask `kf-phone` does not fit table `env-dev`.`lkc-dev`.`kf_customers`: it \
             masks column `phone`, which the table lacks"
        ),
        "{e}"
    );
    metric_shows(&gw, "sqlgate_data_policy_unreached 0").await;
    gw.stop().await;
}

/// A Kafka cluster that does not answer (a closed port) never makes a good file invalid and
/// does not hold a reload for long; the administrator sees that its tables went unchecked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_kafka_cluster_never_makes_a_good_file_invalid() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let gw = on_kafka(&closed.to_string()).await;
    let started = Instant::now();
    set_data_policies(&gw, &topic_mask("anything", "m", "email")).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the reload took {:?}",
        started.elapsed()
    );
    assert!(gw.gateway.authorizer().status().last_error.is_none());
    metric_shows(&gw, "sqlgate_data_policy_unreached 1").await;
    gw.stop().await;
}
