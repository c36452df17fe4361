//! Row filters and column masks on running streaming statements over Kafka-backed tables
//! (embedded engine, real Apache Kafka, real gateway over TLS): records produced while a
//! statement runs come back filtered and masked, and a policy change that alters what a
//! running statement reads, for its principal, ends it FAILED with a detail naming the change,
//! while the statements it does not concern keep running.

mod common;

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};
use sqlgate::kafka::KafkaClusterConfig;

use common::data_policies::{developer_with, set_data_policies, table_crn};
use common::{Cred, TestGateway, admin, broker, get, post_statement, run_query};

/// A gateway on the shared broker, reloading policy changes quickly.
async fn gateway(bootstrap: &str) -> TestGateway {
    let mut k = KafkaClusterConfig::new(bootstrap);
    k.request_timeout = Duration::from_secs(3);
    TestGateway::start_with(move |c| {
        c.environments[0].clusters[0].kafka = Some(k);
        c.policy.reload_settle = Duration::from_millis(50);
    })
    .await
}

fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .unwrap()
}

/// Produces `values` (JSON objects, unframed: the tables' `'value.format' = 'json'`).
async fn produce(p: &FutureProducer, topic: &str, values: &[Value]) {
    for v in values {
        let payload = v.to_string();
        p.send(
            FutureRecord::<(), _>::to(topic).payload(&payload),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    }
}

async fn ok(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) {
    run_query(gw, cred, name, sql)
        .await
        .unwrap_or_else(|(s, b)| panic!("{sql}: {s} {b}"));
}

/// `CREATE TABLE <name> (…) WITH ('value.format' = 'json')`, by the developer pool.
async fn create(gw: &TestGateway, cred: &Cred, table: &str, columns: &str) {
    ok(
        gw,
        cred,
        &format!("create-{}", table.replace('_', "-")),
        &format!("CREATE TABLE {table} ({columns}) WITH ('value.format' = 'json')"),
    )
    .await;
}

/// Starts a streaming SELECT; asserts it is RUNNING and unbounded.
async fn stream(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) {
    let (status, body) =
        post_statement(gw, cred, name, sql, json!({"sql.snapshot.mode": null})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["phase"], "RUNNING", "{body}");
    assert_eq!(body["status"]["traits"]["is_bounded"], false, "{body}");
}

/// A streaming statement's reader: the next page's URL and the rows read so far.
struct Reader {
    url: Option<String>,
    rows: Vec<Value>,
}

impl Reader {
    fn new(gw: &TestGateway, name: &str) -> Self {
        Self {
            url: Some(format!("{}/statements/{name}/results", gw.base())),
            rows: Vec::new(),
        }
    }

    /// Reads pages until `n` rows are in, within 60 s.
    async fn until(&mut self, gw: &TestGateway, cred: &Cred, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.rows.len() < n {
            assert!(Instant::now() < deadline, "only {:?}", self.rows);
            let url = self.url.clone().expect("the stream ended");
            let resp = cred.apply(gw.client().get(&url)).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{url}");
            let page: Value = resp.json().await.unwrap();
            for item in page["results"]["data"].as_array().unwrap() {
                self.rows.push(item["row"].clone());
            }
            self.url = page["metadata"]["next"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map(str::to_string);
        }
        let mut rows = self.rows.clone();
        rows.sort_by_key(|r| r.to_string());
        rows
    }
}

/// The statement's phase and detail.
async fn phase(gw: &TestGateway, cred: &Cred, name: &str) -> (String, String) {
    let (s, body) = get(gw, cred, &format!("/statements/{name}")).await;
    assert_eq!(s, 200, "{body}");
    (
        body["status"]["phase"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        body["status"]["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// Waits (up to 30 s) until the statement is no longer RUNNING or PENDING.
async fn ended(gw: &TestGateway, cred: &Cred, name: &str) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (p, d) = phase(gw, cred, name).await;
        if p != "RUNNING" && p != "PENDING" {
            return (p, d);
        }
        assert!(Instant::now() < deadline, "{name} still {p}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn audit_records(gw: &TestGateway) -> Vec<Value> {
    let log = gw.dir.path().join(&gw.config.audit.file);
    sqlgate::audit::log_files(&log)
        .into_iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `orders-eu` keeps the developer pool's EU orders of its token's tenant; `orders-email`
/// masks the email for everyone but the admin pool. `extra` is appended.
fn policies(orders: &str, filter: &str, extra: &str) -> String {
    let t = table_crn(orders);
    format!(
        r#"
[[row_filter]]
name = "orders-eu"
table = "{t}"
principals = ["User:pool-dev"]
filter = "{filter}"

[[column_mask]]
name = "orders-email"
table = "{t}"
column = "email"
principals = ["*"]
except = ["User:pool-admin"]
mask = "CONCAT('***@', SUBSTRING(email FROM POSITION('@' IN email) + 1))"
{extra}"#
    )
}

const EU_TENANT: &str = "region = 'EU' AND tenant = {{claims.tenant}}";

fn order(id: i64, email: &str, region: &str, tenant: &str) -> Value {
    json!({"id": id, "email": email, "region": region, "tenant": tenant})
}

/// Records produced while a streaming SELECT runs are filtered and masked like those that
/// were there before it started: exact rows, for the filtered principal and for the exempt
/// one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_produced_while_a_streaming_select_runs_are_filtered_and_masked() {
    let b = broker::shared().await;
    let gw = gateway(&b.bootstrap).await;
    let dev = developer_with(&gw, &[("tenant", "t1")]);
    let admin = admin(&gw);
    create(
        &gw,
        &dev,
        "live_orders",
        "id BIGINT, email STRING, region STRING, tenant STRING",
    )
    .await;
    set_data_policies(&gw, &policies("live_orders", EU_TENANT, "")).await;
    let p = producer(&b.bootstrap);
    produce(
        &p,
        "live_orders",
        &[
            order(1, "ann@corp.example", "EU", "t1"),
            order(2, "bob@mail.example", "US", "t1"),
        ],
    )
    .await;
    stream(
        &gw,
        &dev,
        "dev-live",
        "SELECT id, email, region, tenant FROM live_orders",
    )
    .await;
    stream(
        &gw,
        &admin,
        "admin-live",
        "SELECT id, email, region, tenant FROM live_orders",
    )
    .await;
    let mut dev_rows = Reader::new(&gw, "dev-live");
    let mut admin_rows = Reader::new(&gw, "admin-live");
    assert_eq!(
        dev_rows.until(&gw, &dev, 1).await,
        vec![json!(["1", "***@corp.example", "EU", "t1"])]
    );
    // Produced while both statements run: only EU orders of tenant t1 reach the developer,
    // every email masked; the admin reads them raw, all of them.
    produce(
        &p,
        "live_orders",
        &[
            order(3, "cy@mail.example", "EU", "t2"),
            order(4, "dee@shop.example", "EU", "t1"),
            order(5, "eve@corp.example", "US", "t2"),
            order(6, "fay@mail.example", "EU", "t1"),
        ],
    )
    .await;
    assert_eq!(
        dev_rows.until(&gw, &dev, 3).await,
        vec![
            json!(["1", "***@corp.example", "EU", "t1"]),
            json!(["4", "***@shop.example", "EU", "t1"]),
            json!(["6", "***@mail.example", "EU", "t1"]),
        ]
    );
    assert_eq!(
        admin_rows.until(&gw, &admin, 6).await,
        vec![
            json!(["1", "ann@corp.example", "EU", "t1"]),
            json!(["2", "bob@mail.example", "US", "t1"]),
            json!(["3", "cy@mail.example", "EU", "t2"]),
            json!(["4", "dee@shop.example", "EU", "t1"]),
            json!(["5", "eve@corp.example", "US", "t2"]),
            json!(["6", "fay@mail.example", "EU", "t1"]),
        ]
    );
    // A marker produced last: once the developer has it, nothing else was let through.
    produce(
        &p,
        "live_orders",
        &[order(7, "gil@mail.example", "EU", "t1")],
    )
    .await;
    let rows = dev_rows.until(&gw, &dev, 4).await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[3], json!(["7", "***@mail.example", "EU", "t1"]));
    for (name, cred) in [("dev-live", &dev), ("admin-live", &admin)] {
        let resp = cred
            .apply(
                gw.client()
                    .delete(format!("{}/statements/{name}", gw.base())),
            )
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }
}

/// A policy change ends exactly the running statements whose filters or masks it alters for
/// their principal: not on a change that leaves them equal (reformatted text, an entry for
/// somebody else), yes on a changed filter (FAILED, detail naming the version, the table and
/// the filter; audited), yes on a mask appearing on a table that had none; never a statement
/// of an exempt principal or one over another table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_change_ends_the_running_statements_it_concerns_and_only_those() {
    let b = broker::shared().await;
    let gw = gateway(&b.bootstrap).await;
    let dev = developer_with(&gw, &[("tenant", "t1")]);
    let admin = admin(&gw);
    create(
        &gw,
        &dev,
        "chg_orders",
        "id BIGINT, email STRING, region STRING, tenant STRING",
    )
    .await;
    create(&gw, &dev, "chg_events", "id BIGINT, kind STRING").await;
    set_data_policies(&gw, &policies("chg_orders", EU_TENANT, "")).await;
    let p = producer(&b.bootstrap);
    produce(
        &p,
        "chg_orders",
        &[order(1, "ann@corp.example", "EU", "t1")],
    )
    .await;
    produce(&p, "chg_events", &[json!({"id": 1, "kind": "click"})]).await;

    stream(&gw, &dev, "dev-orders", "SELECT id, email FROM chg_orders").await;
    stream(
        &gw,
        &admin,
        "admin-orders",
        "SELECT id, email FROM chg_orders",
    )
    .await;
    stream(&gw, &dev, "dev-events", "SELECT id, kind FROM chg_events").await;
    let mut dev_orders = Reader::new(&gw, "dev-orders");
    assert_eq!(
        dev_orders.until(&gw, &dev, 1).await,
        vec![json!(["1", "***@corp.example"])]
    );
    let mut dev_events = Reader::new(&gw, "dev-events");
    assert_eq!(
        dev_events.until(&gw, &dev, 1).await,
        vec![json!(["1", "click"])]
    );

    // 1. A new version that leaves every principal's filters and masks as they were: the
    // same filter written differently, an entry for a principal that runs nothing here.
    let other = format!(
        "\n[[row_filter]]\nname = \"someone-else\"\ntable = \"{}\"\nprincipals = [\"User:nobody\"]\nfilter = \"FALSE\"\n",
        table_crn("chg_events")
    );
    let v2 = set_data_policies(
        &gw,
        &policies(
            "chg_orders",
            "region   =   'EU' AND tenant = {{ claims.tenant }}",
            &other,
        ),
    )
    .await;
    // The watcher has had the version; give a wrong stop time to happen.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (name, cred) in [
        ("dev-orders", &dev),
        ("admin-orders", &admin),
        ("dev-events", &dev),
    ] {
        assert_eq!(
            phase(&gw, cred, name).await.0,
            "RUNNING",
            "{name} after v{v2}"
        );
    }

    // 2. The developer's filter on orders changes: its statement over orders ends; the
    // admin's (the filter is not the admin's) and the developer's over events go on.
    let v3 = set_data_policies(&gw, &policies("chg_orders", "region = 'EU'", &other)).await;
    let (p3, d3) = ended(&gw, &dev, "dev-orders").await;
    assert_eq!(p3, "FAILED", "{d3}");
    assert!(d3.contains(&format!("policy version {v3}")), "{d3}");
    assert!(d3.contains("`env-dev`.`lkc-dev`.`chg_orders`"), "{d3}");
    assert!(d3.contains("row_filter `orders-eu` changed"), "{d3}");
    assert!(
        !d3.contains("orders-email"),
        "the mask did not change: {d3}"
    );
    assert!(!d3.contains("region"), "no policy text in the detail: {d3}");
    let ends: Vec<Value> = audit_records(&gw)
        .into_iter()
        .filter(|r| {
            r["data"]["sqlgate"]["statement"] == "dev-orders"
                && r["data"]["methodName"] == "flink.StatementFailed"
        })
        .collect();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert_eq!(ends[0]["data"]["result"]["message"], d3.as_str());
    for (name, cred) in [("admin-orders", &admin), ("dev-events", &dev)] {
        assert_eq!(
            phase(&gw, cred, name).await.0,
            "RUNNING",
            "{name} after v{v3}"
        );
    }
    // The ended statement's stream ends too: its remaining pages are read to the end.
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Some(url) = dev_orders.url.clone() {
        assert!(Instant::now() < deadline, "the results never ended");
        let page: Value = dev
            .apply(gw.client().get(&url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        dev_orders.url = page["metadata"]["next"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map(str::to_string);
    }

    // 3. A mask appears on events, which had none: the developer's statement over it ends.
    let events_mask = format!(
        "{other}\n[[column_mask]]\nname = \"events-kind\"\ntable = \"{}\"\ncolumn = \"kind\"\nprincipals = [\"*\"]\nexcept = [\"User:pool-admin\"]\nmask = \"'hidden'\"\n",
        table_crn("chg_events")
    );
    let v4 = set_data_policies(&gw, &policies("chg_orders", "region = 'EU'", &events_mask)).await;
    let (p4, d4) = ended(&gw, &dev, "dev-events").await;
    assert_eq!(p4, "FAILED", "{d4}");
    assert!(d4.contains(&format!("policy version {v4}")), "{d4}");
    assert!(d4.contains("column_mask `events-kind` added"), "{d4}");
    assert_eq!(phase(&gw, &admin, "admin-orders").await.0, "RUNNING");
    // Run again, it reads under the policy in force.
    stream(&gw, &dev, "dev-events-2", "SELECT id, kind FROM chg_events").await;
    assert_eq!(
        Reader::new(&gw, "dev-events-2").until(&gw, &dev, 1).await,
        vec![json!(["1", "hidden"])]
    );
    for (name, cred) in [("admin-orders", &admin), ("dev-events-2", &dev)] {
        let resp = cred
            .apply(
                gw.client()
                    .delete(format!("{}/statements/{name}", gw.base())),
            )
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }
}

/// A Flink-only CTAS (`DISTRIBUTED BY … AS SELECT`) over a covered Kafka-backed table copies
/// what its creator reads: the filtered rows with masked values, also when the query carries
/// a table hint on the covered table and a predicate of its own (fenced above the filter).
/// Read back by the exempt admin, whom no policy covers on the copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flink_only_ctas_over_a_covered_topic_copies_only_what_its_creator_reads() {
    let b = broker::shared().await;
    let gw = gateway(&b.bootstrap).await;
    let dev = developer_with(&gw, &[("tenant", "t1")]);
    let admin = admin(&gw);
    create(
        &gw,
        &dev,
        "ctas_orders",
        "id BIGINT, email STRING, region STRING, tenant STRING",
    )
    .await;
    set_data_policies(&gw, &policies("ctas_orders", EU_TENANT, "")).await;
    let p = producer(&b.bootstrap);
    produce(
        &p,
        "ctas_orders",
        &[
            order(1, "ann@corp.example", "EU", "t1"),
            order(2, "bob@mail.example", "US", "t1"),
            order(3, "cy@mail.example", "EU", "t2"),
            order(4, "dee@corp.example", "EU", "t1"),
        ],
    )
    .await;
    ok(
        &gw,
        &dev,
        "ctas-copy",
        "CREATE TABLE ctas_copy DISTRIBUTED BY (id) INTO 1 BUCKETS AS \
         SELECT id, email, region FROM ctas_orders \
         /*+ OPTIONS('scan.startup.mode' = 'earliest-offset') */ WHERE id < 100",
    )
    .await;
    let mut copied = run_query(
        &gw,
        &admin,
        "ctas-read",
        "SELECT id, email, region FROM ctas_copy",
    )
    .await
    .unwrap_or_else(|(s, b)| panic!("{s} {b}"));
    copied.sort_by_key(|r| r[0].as_str().unwrap_or_default().to_string());
    assert_eq!(
        copied,
        vec![
            json!(["1", "***@corp.example", "EU"]),
            json!(["4", "***@corp.example", "EU"]),
        ]
    );
    // The admin reads the source raw and whole: the copy is the creator's view, not a read
    // of the source by whoever reads the copy.
    let raw = run_query(&gw, &admin, "raw-read", "SELECT COUNT(*) FROM ctas_orders")
        .await
        .unwrap_or_else(|(s, b)| panic!("{s} {b}"));
    assert_eq!(raw, vec![json!(["4"])]);
}
