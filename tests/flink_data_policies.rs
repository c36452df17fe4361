//! Row filters and column masks on the real Flink engine (Flink 2.2.1, Apache Kafka, Apicurio,
//! one stack for the binary): the bypass attempts of `tests/data_policies.rs` against
//! Kafka-backed tables a Kafka producer filled, each asserting the exact rows; the metadata
//! columns (`$rowtime`, `$partition`, `$offset`) read through a covered table; records
//! produced while a streaming Flink statement runs come back filtered and masked, and a policy
//! change ends that statement (FAILED, its Flink job cancelled).
//!
//! The tests run one at a time ([`SERIAL`]): the shared Flink has few task slots.

mod common;

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};

use common::data_policies::{developer_with, set_data_policies, table_crn};
use common::flink::{self, create, read_until, wait_phase};
use common::{Cred, TestGateway, admin, broker, registry};

const LONG: Duration = Duration::from_secs(120);

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn gateway() -> (TestGateway, &'static flink::Flink, String) {
    let kafka = broker::shared().await;
    let reg = registry::shared().await;
    let f = flink::shared().await;
    let k = flink::kafka(&kafka.bootstrap, &reg.url);
    let gw = TestGateway::start_with(|c| {
        flink::on_flink(c, k, f);
        c.policy.reload_settle = Duration::from_millis(50);
    })
    .await;
    (gw, f, kafka.bootstrap.clone())
}

fn streaming() -> Value {
    json!({"sql.current-catalog": "env-dev", "sql.current-database": "lkc-dev"})
}

fn snapshot() -> Value {
    json!({"sql.current-catalog": "env-dev", "sql.current-database": "lkc-dev", "sql.snapshot.mode": "now"})
}

/// The minute ten minutes ago, in ms: record timestamps within the topics' retention.
fn base() -> i64 {
    (chrono::Utc::now().timestamp_millis() / 60_000 - 10) * 60_000
}

/// Produces JSON values at `base + at` ms.
async fn produce(bootstrap: &str, topic: &str, base: i64, records: &[(i64, Value)]) {
    let p: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for (at, v) in records {
        let payload = v.to_string();
        p.send(
            FutureRecord::<(), _>::to(topic)
                .payload(&payload)
                .timestamp(base + at),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    }
}

/// Runs a bounded statement to COMPLETED; the final rows (the changelog applied), sorted.
async fn rows(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) -> Vec<Value> {
    let (s, v) = create(gw, cred, name, sql, None, snapshot()).await;
    assert_eq!(s, 200, "{sql}: {v}");
    let v = wait_phase(gw, cred, name, &["RUNNING", "COMPLETED", "FAILED"], LONG).await;
    assert_ne!(v["status"]["phase"], "FAILED", "{sql}: {v}");
    let changelog = read_until(gw, cred, name, LONG, |_| false).await;
    let v = wait_phase(gw, cred, name, &["COMPLETED", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{sql}: {v}");
    final_rows(&changelog)
}

/// Applies a changelog (`op` 0 insert, 1 update-before, 2 update-after, 3 delete).
fn final_rows(changelog: &[(u64, Value)]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for (op, row) in changelog {
        match op {
            1 | 3 => {
                let i = out
                    .iter()
                    .position(|r| r == row)
                    .unwrap_or_else(|| panic!("retracting {row} not in {out:?}"));
                out.remove(i);
            }
            _ => out.push(row.clone()),
        }
    }
    out.sort_by_key(|r| r.to_string());
    out
}

async fn ddl(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) {
    let (s, v) = create(gw, cred, name, sql, None, snapshot()).await;
    assert_eq!(s, 200, "{sql}: {v}");
    let v = wait_phase(gw, cred, name, &["COMPLETED", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{sql}: {v}");
}

fn policies(orders: &str, customers: &str, orders_filter: &str) -> String {
    format!(
        r#"
[[row_filter]]
name = "orders-eu-only"
table = "{orders}"
principals = ["User:pool-dev"]
filter = "{orders_filter}"

[[column_mask]]
name = "customers-email"
table = "{customers}"
column = "email"
principals = ["*"]
except = ["User:pool-admin"]
mask = "CONCAT('***@', SUBSTRING(email FROM POSITION('@' IN email) + 1))"
"#,
        orders = table_crn(orders),
        customers = table_crn(customers),
    )
}

const EU_TENANT: &str = "region = 'EU' AND tenant = {{claims.tenant}}";

/// The bypass set on Flink, exact rows: SELECT * (metadata columns included, as without a
/// policy), WHERE / GROUP BY / JOIN on the masked column, COUNT(*) and SUM over filtered rows,
/// a CTE named like the table, an INSERT … SELECT copy read back, the metadata columns read
/// through the covered table, and the exempt principal.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_flink_every_read_of_a_covered_table_is_filtered_and_masked() {
    let _one = SERIAL.lock().await;
    let (gw, _f, bootstrap) = gateway().await;
    let dev = developer_with(&gw, &[("tenant", "t1")]);
    let admin = admin(&gw);
    ddl(
        &gw,
        &dev,
        "ddl-c",
        "CREATE TABLE fp_customers (id INT, email STRING, region STRING) WITH ('value.format' = 'json')",
    )
    .await;
    ddl(
        &gw,
        &dev,
        "ddl-o",
        "CREATE TABLE fp_orders (id INT, customer INT, region STRING, tenant STRING, amount INT) \
         WITH ('value.format' = 'json')",
    )
    .await;
    ddl(
        &gw,
        &dev,
        "ddl-copy",
        "CREATE TABLE fp_copy (id INT, email STRING) WITH ('value.format' = 'json')",
    )
    .await;
    let t0 = base();
    produce(
        &bootstrap,
        "fp_customers",
        t0,
        &[
            (
                1_000,
                json!({"id": 1, "email": "ann@corp.example", "region": "EU"}),
            ),
            (
                2_000,
                json!({"id": 2, "email": "bob@mail.example", "region": "US"}),
            ),
            (
                3_000,
                json!({"id": 3, "email": "cy@mail.example", "region": "EU"}),
            ),
        ],
    )
    .await;
    let order = |id: i32, c: i32, r: &str, t: &str, a: i32| json!({"id": id, "customer": c, "region": r, "tenant": t, "amount": a});
    produce(
        &bootstrap,
        "fp_orders",
        t0,
        &[
            (1_000, order(10, 1, "EU", "t1", 100)),
            (2_000, order(11, 2, "US", "t1", 200)),
            (3_000, order(12, 3, "EU", "t2", 300)),
            (4_000, order(13, 3, "EU", "t1", 400)),
        ],
    )
    .await;
    set_data_policies(&gw, &policies("fp_orders", "fp_customers", EU_TENANT)).await;

    // SELECT *: the developer's rows are the admin's with the email masked, metadata
    // columns and all (the derived table carries them).
    let raw = rows(&gw, &admin, "star-admin", "SELECT * FROM fp_customers").await;
    assert_eq!(raw.len(), 3, "{raw:?}");
    assert_eq!(
        raw[0].as_array().unwrap().len(),
        6,
        "own and metadata columns: {raw:?}"
    );
    assert_eq!(raw[0][1], "ann@corp.example");
    let masked = rows(&gw, &dev, "star-dev", "SELECT * FROM fp_customers").await;
    let expect: Vec<Value> = raw
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let email = r[1].as_str().unwrap();
            r[1] = json!(format!("***@{}", email.split('@').nth(1).unwrap()));
            r
        })
        .collect();
    assert_eq!(masked, expect);

    // WHERE on the masked column compares the masked value.
    assert_eq!(
        rows(
            &gw,
            &dev,
            "w-raw",
            "SELECT id FROM fp_customers WHERE email = 'bob@mail.example'"
        )
        .await,
        Vec::<Value>::new()
    );
    assert_eq!(
        rows(
            &gw,
            &dev,
            "w-masked",
            "SELECT id FROM fp_customers WHERE email = '***@mail.example'"
        )
        .await,
        vec![json!(["2"]), json!(["3"])]
    );
    // GROUP BY it groups masked values.
    assert_eq!(
        rows(
            &gw,
            &dev,
            "g",
            "SELECT email, COUNT(*) AS n FROM fp_customers GROUP BY email"
        )
        .await,
        vec![
            json!(["***@corp.example", "1"]),
            json!(["***@mail.example", "2"])
        ]
    );
    // A JOIN on it joins masked values (the raw emails are all different).
    assert_eq!(
        rows(
            &gw,
            &dev,
            "j-mask",
            "SELECT a.id, b.id FROM fp_customers AS a JOIN fp_customers AS b \
             ON a.email = b.email WHERE a.id < b.id"
        )
        .await,
        vec![json!(["2", "3"])]
    );
    // COUNT(*) and SUM over the filtered rows; a join of the two covered tables.
    assert_eq!(
        rows(
            &gw,
            &dev,
            "agg",
            "SELECT COUNT(*), SUM(amount) FROM fp_orders"
        )
        .await,
        vec![json!(["2", "500"])]
    );
    assert_eq!(
        rows(
            &gw,
            &admin,
            "agg-admin",
            "SELECT COUNT(*), SUM(amount) FROM fp_orders"
        )
        .await,
        vec![json!(["4", "1000"])]
    );
    assert_eq!(
        rows(
            &gw,
            &dev,
            "j-orders",
            "SELECT o.id, c.email FROM fp_orders AS o JOIN fp_customers AS c ON o.customer = c.id"
        )
        .await,
        vec![
            json!(["10", "***@corp.example"]),
            json!(["13", "***@mail.example"])
        ]
    );
    // A CTE named like the table reads the table through the policy.
    assert_eq!(
        rows(
            &gw,
            &dev,
            "cte",
            "WITH fp_orders AS (SELECT * FROM fp_orders) SELECT id, amount FROM fp_orders"
        )
        .await,
        vec![json!(["10", "100"]), json!(["13", "400"])]
    );
    // The metadata columns read through the covered table: partition and offset of the
    // filtered rows, and `$rowtime` in a condition.
    assert_eq!(
        rows(
            &gw,
            &dev,
            "meta",
            "SELECT id, `$partition`, `$offset` FROM fp_orders"
        )
        .await,
        vec![json!(["10", "0", "0"]), json!(["13", "0", "3"])]
    );
    assert_eq!(
        rows(
            &gw,
            &dev,
            "rowtime",
            &format!(
                "SELECT id FROM fp_customers WHERE `$rowtime` >= TO_TIMESTAMP_LTZ({}, 3)",
                t0 + 2_000
            )
        )
        .await,
        vec![json!(["2"]), json!(["3"])]
    );

    // An INSERT … SELECT copy holds masked values only, read back by the same principal.
    let (s, v) = create(
        &gw,
        &dev,
        "copy",
        "INSERT INTO fp_copy SELECT id, email FROM fp_customers",
        None,
        streaming(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let deadline = std::time::Instant::now() + LONG;
    let mut n = 0;
    let copied = loop {
        n += 1;
        let got = rows(
            &gw,
            &dev,
            &format!("copy-read-{n}"),
            "SELECT id, email FROM fp_copy",
        )
        .await;
        if got.len() >= 3 || std::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        copied,
        vec![
            json!(["1", "***@corp.example"]),
            json!(["2", "***@mail.example"]),
            json!(["3", "***@mail.example"]),
        ]
    );
    let del = dev
        .apply(gw.client().delete(format!("{}/statements/copy", gw.base())))
        .send()
        .await
        .unwrap();
    assert!(del.status().is_success(), "{}", del.status());
    gw.stop().await;
}

/// A streaming Flink statement over a covered table: records produced while it runs come
/// back filtered and masked; a policy change of its filter ends it FAILED with the detail,
/// and its Flink job is cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_flink_a_running_statement_reads_new_records_through_the_policy_until_it_changes() {
    let _one = SERIAL.lock().await;
    let (gw, f, bootstrap) = gateway().await;
    let dev = developer_with(&gw, &[("tenant", "t1")]);
    ddl(
        &gw,
        &dev,
        "ddl-lc",
        "CREATE TABLE fl_customers (id INT, email STRING, region STRING) WITH ('value.format' = 'json')",
    )
    .await;
    ddl(
        &gw,
        &dev,
        "ddl-lo",
        "CREATE TABLE fl_orders (id INT, customer INT, region STRING, tenant STRING, amount INT) \
         WITH ('value.format' = 'json')",
    )
    .await;
    set_data_policies(&gw, &policies("fl_orders", "fl_customers", EU_TENANT)).await;
    let t0 = base();
    produce(
        &bootstrap,
        "fl_customers",
        t0,
        &[(
            1_000,
            json!({"id": 1, "email": "ann@corp.example", "region": "EU"}),
        )],
    )
    .await;
    let (s, v) = create(
        &gw,
        &dev,
        "live",
        "SELECT id, email, region FROM fl_customers WHERE id > 0",
        None,
        streaming(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(&gw, &dev, "live", &["RUNNING", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "RUNNING", "{v}");
    f.wait_job("live", "RUNNING", LONG).await;
    let (s, v) = create(
        &gw,
        &dev,
        "live-orders",
        "SELECT id, amount FROM fl_orders",
        None,
        streaming(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(&gw, &dev, "live-orders", &["RUNNING", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "RUNNING", "{v}");
    f.wait_job("live-orders", "RUNNING", LONG).await;
    // Produced while both run.
    produce(
        &bootstrap,
        "fl_customers",
        t0,
        &[
            (
                2_000,
                json!({"id": 2, "email": "bob@mail.example", "region": "US"}),
            ),
            (
                3_000,
                json!({"id": 3, "email": "cy@shop.example", "region": "EU"}),
            ),
        ],
    )
    .await;
    produce(
        &bootstrap,
        "fl_orders",
        t0,
        &[
            (
                1_000,
                json!({"id": 10, "customer": 1, "region": "EU", "tenant": "t1", "amount": 100}),
            ),
            (
                2_000,
                json!({"id": 11, "customer": 2, "region": "US", "tenant": "t1", "amount": 200}),
            ),
            (
                3_000,
                json!({"id": 12, "customer": 3, "region": "EU", "tenant": "t2", "amount": 300}),
            ),
            (
                4_000,
                json!({"id": 13, "customer": 3, "region": "EU", "tenant": "t1", "amount": 400}),
            ),
        ],
    )
    .await;
    let got = read_until(&gw, &dev, "live", LONG, |r| r.len() >= 3).await;
    assert_eq!(
        final_rows(&got),
        vec![
            json!(["1", "***@corp.example", "EU"]),
            json!(["2", "***@mail.example", "US"]),
            json!(["3", "***@shop.example", "EU"]),
        ]
    );
    let got = read_until(&gw, &dev, "live-orders", LONG, |r| r.len() >= 2).await;
    assert_eq!(
        final_rows(&got),
        vec![json!(["10", "100"]), json!(["13", "400"])]
    );

    // The orders filter changes: the statement over orders ends, its job is cancelled; the
    // one over customers (whose mask stayed) keeps running.
    let v = set_data_policies(&gw, &policies("fl_orders", "fl_customers", "region = 'EU'")).await;
    let ended = wait_phase(
        &gw,
        &dev,
        "live-orders",
        &["FAILED", "STOPPED", "COMPLETED"],
        LONG,
    )
    .await;
    assert_eq!(ended["status"]["phase"], "FAILED", "{ended}");
    let detail = ended["status"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(&format!("policy version {v}")), "{detail}");
    assert!(
        detail.contains("row_filter `orders-eu-only` changed"),
        "{detail}"
    );
    assert!(detail.contains("`fl_orders`"), "{detail}");
    f.wait_job("live-orders", "CANCELED", LONG).await;
    let (p, _) = flink::phase(&gw, &dev, "live").await;
    assert_eq!(p, "RUNNING");
    let del = dev
        .apply(gw.client().delete(format!("{}/statements/live", gw.base())))
        .send()
        .await
        .unwrap();
    assert!(del.status().is_success(), "{}", del.status());
    f.wait_job("live", "CANCELED", LONG).await;
    gw.stop().await;
}

/// The error-based leak on Flink. A caller's predicate that fails on a row the filter removes
/// (`1 / 0` on the US order, a CAST of its region) must never be evaluated on that row: Flink
/// merges the caller's WHERE with the policy's into one `Calc` whose condition is
/// `AND(policy, caller)`, the policy's first, and its generated code skips the right operand
/// of an AND whose left is false, so the filtered rows never reach the caller's predicate.
/// The exempt administrator's same statement fails (the predicate does fail on the raw rows).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_flink_a_callers_predicate_never_runs_on_the_rows_a_filter_removes() {
    let _one = SERIAL.lock().await;
    let (gw, _f, bootstrap) = gateway().await;
    let dev = developer_with(&gw, &[("tenant", "t1")]);
    let admin = admin(&gw);
    ddl(
        &gw,
        &dev,
        "ddl-zo",
        "CREATE TABLE fz_orders (id INT, customer INT, region STRING, tenant STRING, amount INT) \
         WITH ('value.format' = 'json')",
    )
    .await;
    let order = |id: i32, r: &str, t: &str| json!({"id": id, "customer": 1, "region": r, "tenant": t, "amount": 1});
    produce(
        &bootstrap,
        "fz_orders",
        base(),
        &[
            (1_000, order(10, "EU", "t1")),
            (2_000, order(11, "US", "t1")),
            (3_000, order(12, "EU", "t2")),
            (4_000, order(13, "EU", "t1")),
        ],
    )
    .await;
    set_data_policies(&gw, &policies("fz_orders", "fz_customers", EU_TENANT)).await;
    let eu_t1 = vec![json!(["10"]), json!(["13"])];
    let leaks = [
        // The issue's form (Flink folds `region` to 'EU' here, so it cannot fail at all).
        "SELECT id FROM fz_orders WHERE 1 / CASE WHEN region = 'US' THEN 0 ELSE 1 END = 1",
        // Not foldable: fails on the US order (11) and on the other tenant's (12).
        "SELECT id FROM fz_orders WHERE 1 / CASE WHEN id = 11 THEN 0 ELSE 1 END = 1",
        "SELECT id FROM fz_orders WHERE 1 / CASE WHEN id = 12 THEN 0 ELSE 1 END = 1",
        "SELECT id FROM fz_orders WHERE 1 / CASE WHEN id = 11 THEN 0 ELSE 1 END = 1 OR id < 0",
        // An error carrying the filtered row's value.
        "SELECT id FROM fz_orders WHERE CAST(CASE WHEN id = 11 THEN region ELSE '1' END AS INT) = 1",
        // In an aggregate.
        "SELECT id FROM fz_orders GROUP BY id HAVING SUM(1 / CASE WHEN id = 11 THEN 0 ELSE 1 END) > 0",
    ];
    for (i, sql) in leaks.iter().enumerate() {
        assert_eq!(
            rows(&gw, &dev, &format!("leak-{i}"), sql).await,
            eu_t1,
            "{sql}"
        );
    }
    // In the projection.
    assert_eq!(
        rows(
            &gw,
            &dev,
            "leak-select",
            "SELECT id, 1 / CASE WHEN id = 11 THEN 0 ELSE 1 END FROM fz_orders"
        )
        .await,
        vec![json!(["10", "1"]), json!(["13", "1"])]
    );
    // The exempt administrator reads every row: the same predicate fails on the US order.
    let (s, v) = create(&gw, &admin, "leak-admin", leaks[1], None, snapshot()).await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(&gw, &admin, "leak-admin", &["COMPLETED", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "FAILED", "{v}");
    let detail = v["status"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("by zero"), "{detail}");
    gw.stop().await;
}

/// Produces `(key, value)` JSON records at `base + at` ms (an upsert table's key).
async fn produce_keyed(bootstrap: &str, topic: &str, base: i64, records: &[(i64, Value, Value)]) {
    let p: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for (at, k, v) in records {
        let (key, payload) = (k.to_string(), v.to_string());
        p.send(
            FutureRecord::to(topic)
                .key(&key)
                .payload(&payload)
                .timestamp(base + at),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    }
}

/// Runs a streaming statement until `done` holds for its rows; the rows read, then deletes it.
async fn stream_until(
    gw: &TestGateway,
    cred: &Cred,
    name: &str,
    sql: &str,
    done: impl Fn(&[(u64, Value)]) -> bool,
) -> Vec<Value> {
    let (s, v) = create(gw, cred, name, sql, None, streaming()).await;
    assert_eq!(s, 200, "{sql}: {v}");
    let v = wait_phase(gw, cred, name, &["RUNNING", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "RUNNING", "{sql}: {v}");
    let rows = read_until(gw, cred, name, LONG, done).await;
    let del = cred
        .apply(
            gw.client()
                .delete(format!("{}/statements/{name}", gw.base())),
        )
        .send()
        .await
        .unwrap();
    assert!(del.status().is_success(), "{}", del.status());
    rows.into_iter()
        .map(|(op, row)| {
            assert_eq!(op, 0, "{sql}: only inserts");
            row
        })
        .collect()
}

/// Creates `{table} (id INT, region STRING, tenant STRING, amount INT)` and produces five
/// orders into it at `t0` + 1 to 4 s and + 2 min: 10 (EU, t1, 100), 11 (US, t1, 200),
/// 12 (EU, t2, 300), 13 (EU, t1, 400), and 14 (EU, t1, 1), which moves the watermark past the
/// first minute. Under [`EU_TENANT`] for tenant t1: 10, 13 and 14.
async fn eu_orders(gw: &TestGateway, cred: &Cred, bootstrap: &str, table: &str, t0: i64) {
    ddl(
        gw,
        cred,
        &format!("ddl-{}", table.replace('_', "-")),
        &format!(
            "CREATE TABLE {table} (id INT, region STRING, tenant STRING, amount INT) \
             WITH ('value.format' = 'json')"
        ),
    )
    .await;
    let order = |id: i32, r: &str, t: &str, a: i32| json!({"id": id, "region": r, "tenant": t, "amount": a});
    produce(
        bootstrap,
        table,
        t0,
        &[
            (1_000, order(10, "EU", "t1", 100)),
            (2_000, order(11, "US", "t1", 200)),
            (3_000, order(12, "EU", "t2", 300)),
            (4_000, order(13, "EU", "t1", 400)),
            (120_000, order(14, "EU", "t1", 1)),
        ],
    )
    .await;
}

/// The three reads no derived table can stand in, each read through the policy (a generated
/// CTE): a window TVF's `TABLE` argument, the input of MATCH_RECOGNIZE, and the versioned side
/// of a temporal join; each returns the rows a raw read would not.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_flink_window_tvfs_match_recognize_and_temporal_joins_read_through_the_policy() {
    let _one = SERIAL.lock().await;
    let (gw, _f, bootstrap) = gateway().await;
    let dev = developer_with(&gw, &[("tenant", "t1")]);
    let t0 = base();
    eu_orders(&gw, &dev, &bootstrap, "fw_orders", t0).await;
    for (name, sql) in [
        (
            "ddl-wr",
            "CREATE TABLE fw_rates (currency STRING, rate DECIMAL(10, 2), \
             PRIMARY KEY (currency) NOT ENFORCED) WITH ('key.format' = 'json', 'value.format' = 'json')",
        ),
        (
            "ddl-wt",
            "CREATE TABLE fw_torders (id INT, currency STRING) WITH ('value.format' = 'json')",
        ),
    ] {
        ddl(&gw, &dev, name, sql).await;
    }
    let rate = |c: &str, r: f64| (json!({"currency": c}), json!({"rate": r}));
    let mut rates = Vec::new();
    for (at, (k, v)) in [
        (1_000, rate("EUR", 1.10)),
        (1_000, rate("USD", 1.00)),
        (10_000, rate("EUR", 1.20)),
        (20_000, rate("USD", 0.90)),
        (120_000, rate("GBP", 1.30)),
    ] {
        rates.push((at, k, v));
    }
    produce_keyed(&bootstrap, "fw_rates", t0, &rates).await;
    let torder = |id: i32, c: &str| json!({"id": id, "currency": c});
    produce(
        &bootstrap,
        "fw_torders",
        t0,
        &[
            (5_000, torder(1, "EUR")),
            (15_000, torder(2, "EUR")),
            (15_000, torder(3, "USD")),
            (25_000, torder(4, "USD")),
            (60_000, torder(5, "EUR")),
            (120_000, torder(6, "EUR")),
        ],
    )
    .await;
    set_data_policies(
        &gw,
        &format!(
            r#"
[[row_filter]]
name = "orders-eu-only"
table = "{orders}"
principals = ["User:pool-dev"]
filter = "{EU_TENANT}"

[[row_filter]]
name = "rates-no-usd"
table = "{rates}"
principals = ["User:pool-dev"]
filter = "currency <> 'USD'"
"#,
            orders = table_crn("fw_orders"),
            rates = table_crn("fw_rates"),
        ),
    )
    .await;

    // A TUMBLE window over the filtered rows: orders 10 and 13 only (raw: 4 rows, 1000).
    let windows = stream_until(
        &gw,
        &dev,
        "w-tvf",
        "SELECT COUNT(*) AS n, SUM(amount) AS total FROM TABLE(TUMBLE(TABLE fw_orders, \
         DESCRIPTOR(`$rowtime`), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end",
        |r| !r.is_empty(),
    )
    .await;
    assert_eq!(windows, vec![json!(["2", "500"])]);

    // MATCH_RECOGNIZE over the filtered rows: a rise from 10 to 13 (raw: 10 to 11 first).
    let rises = stream_until(
        &gw,
        &dev,
        "w-mr",
        "SELECT * FROM fw_orders MATCH_RECOGNIZE (ORDER BY `$rowtime` \
         MEASURES A.id AS low, B.id AS high ONE ROW PER MATCH \
         AFTER MATCH SKIP PAST LAST ROW PATTERN (A B) DEFINE B AS B.amount > A.amount)",
        |r| !r.is_empty(),
    )
    .await;
    assert_eq!(rises[0], json!(["10", "13"]), "{rises:?}");

    // A temporal join against the filtered versioned table: no USD rate is visible, so the
    // USD orders find no version and an inner join drops them.
    let priced = stream_until(
        &gw,
        &dev,
        "w-tj",
        "SELECT o.id, o.currency, r.rate FROM fw_torders AS o \
         JOIN fw_rates FOR SYSTEM_TIME AS OF o.`$rowtime` AS r ON o.currency = r.currency",
        |r| r.iter().any(|(_, row)| row[0] == "5"),
    )
    .await;
    let mut priced: Vec<Value> = priced.into_iter().filter(|r| r[0] != "6").collect();
    priced.sort_by_key(|r| r[0].as_str().unwrap_or_default().to_string());
    assert_eq!(
        priced,
        vec![
            json!(["1", "EUR", "1.10"]),
            json!(["2", "EUR", "1.20"]),
            json!(["5", "EUR", "1.20"]),
        ]
    );
    gw.stop().await;
}

/// Flink-only statements over a covered table read through the policy: an `EXECUTE STATEMENT
/// SET` writing two tables in one job copies only the filtered rows, with masked values (read
/// back by the exempt admin, exact rows); a table hint on the covered table still reaches
/// Flink with its scan (a read from the latest offset finds no rows); and a MATCH_RECOGNIZE
/// with `WITHIN` finds its match in the filtered rows only.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_flink_statement_sets_hints_and_within_read_through_the_policy() {
    let _one = SERIAL.lock().await;
    let (gw, _f, bootstrap) = gateway().await;
    let dev = developer_with(&gw, &[("tenant", "t1")]);
    let admin = admin(&gw);
    eu_orders(&gw, &dev, &bootstrap, "fs_orders", base()).await;
    for (name, sql) in [
        (
            "ddl-se",
            "CREATE TABLE fs_amounts (id INT, amount INT) WITH ('value.format' = 'json')",
        ),
        (
            "ddl-sr",
            "CREATE TABLE fs_regions (id INT, region STRING) WITH ('value.format' = 'json')",
        ),
    ] {
        ddl(&gw, &dev, name, sql).await;
    }
    set_data_policies(
        &gw,
        &format!(
            r#"
[[row_filter]]
name = "orders-eu-only"
table = "{orders}"
principals = ["User:pool-dev"]
filter = "{EU_TENANT}"

[[column_mask]]
name = "orders-region"
table = "{orders}"
column = "region"
principals = ["*"]
except = ["User:pool-admin"]
mask = "LOWER(region)"
"#,
            orders = table_crn("fs_orders"),
        ),
    )
    .await;

    // One job, two sinks, each fed through the filter and the mask; one INSERT's read
    // carries a table hint, which goes with the scan into the policy's derived table.
    ddl(
        &gw,
        &dev,
        "set",
        "EXECUTE STATEMENT SET BEGIN \
           INSERT INTO fs_amounts SELECT id, amount FROM fs_orders; \
           INSERT INTO fs_regions SELECT id, region \
             FROM fs_orders /*+ OPTIONS('scan.startup.mode'='earliest-offset') */; \
         END",
    )
    .await;
    assert_eq!(
        rows(
            &gw,
            &admin,
            "read-amounts",
            "SELECT id, amount FROM fs_amounts"
        )
        .await,
        vec![
            json!(["10", "100"]),
            json!(["13", "400"]),
            json!(["14", "1"])
        ]
    );
    assert_eq!(
        rows(
            &gw,
            &admin,
            "read-regions",
            "SELECT id, region FROM fs_regions"
        )
        .await,
        vec![
            json!(["10", "eu"]),
            json!(["13", "eu"]),
            json!(["14", "eu"])
        ]
    );
    // The source itself is whole and raw for the admin.
    assert_eq!(
        rows(&gw, &admin, "read-source", "SELECT COUNT(*) FROM fs_orders").await,
        vec![json!(["5"])]
    );

    // The developer's hinted read of the covered table honours the hint: from the latest
    // offset, nothing (without it, three rows).
    assert_eq!(
        rows(
            &gw,
            &dev,
            "hinted-latest",
            "SELECT id FROM fs_orders /*+ OPTIONS('scan.startup.mode'='latest-offset') */"
        )
        .await,
        Vec::<Value>::new()
    );
    assert_eq!(
        rows(&gw, &dev, "unhinted", "SELECT id FROM fs_orders")
            .await
            .len(),
        3
    );

    // MATCH_RECOGNIZE … WITHIN (Flink-only text) over the filtered rows: a rise from 10 to
    // 13 within a minute (raw: 10 to 11 first).
    let rises = stream_until(
        &gw,
        &dev,
        "within",
        "SELECT * FROM fs_orders MATCH_RECOGNIZE (ORDER BY `$rowtime` \
         MEASURES A.id AS low, B.id AS high ONE ROW PER MATCH \
         AFTER MATCH SKIP PAST LAST ROW PATTERN (A B) WITHIN INTERVAL '1' MINUTE \
         DEFINE B AS B.amount > A.amount)",
        |r| !r.is_empty(),
    )
    .await;
    assert_eq!(rises[0], json!(["10", "13"]), "{rises:?}");
    gw.stop().await;
}
