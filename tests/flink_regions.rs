//! Two regions, each with its own Flink 2.2.1 SQL Gateway: a statement runs on the Flink of
//! its compute pool's region and never reaches the other; statements refused by the gateway
//! reach no Flink at all (counted in the SQL Gateways' logs: sqlgate opens one session per
//! statement, and names each job `sqlgate:<statement>`).

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use sqlgate::catalog::ClusterConfig;
use sqlgate::config::ComputePoolConfig;

use common::flink::{self, create, read_until, wait_phase};
use common::{TestGateway, broker, developer, registry};

const LONG: Duration = Duration::from_secs(120);
const EU: &str = "aws.eu-central-1";
const EU_TOPICS: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-eu/kafka=lkc-eu/topic=*";

fn props(database: &str) -> Value {
    json!({"sql.current-catalog": "env-dev", "sql.current-database": database, "sql.snapshot.mode": "now"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_statement_runs_only_on_the_flink_of_its_pools_region() {
    let kafka = broker::shared().await;
    let reg = registry::shared().await;
    let (us, eu) = tokio::join!(flink::start("flink-us"), flink::start("flink-eu"));
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    common::bind(
        &dir.path().join("policies"),
        &[("User:pool-dev", "ResourceOwner", EU_TOPICS)],
    );
    let k = flink::kafka(&kafka.bootstrap, &reg.url);
    let (us_engine, eu_engine) = (us.engine("flink-us"), eu.engine("flink-eu"));
    let gw = TestGateway::start_in(dir, |c| {
        c.environments[0].clusters[0].kafka = Some(k.clone());
        c.environments[0].clusters.push(ClusterConfig {
            id: "lkc-eu".into(),
            display_name: "europe".into(),
            region: EU.into(),
            kafka: Some(k),
        });
        c.engines.extend([us_engine, eu_engine]);
        c.compute_pools[0].engine = Some("flink-us".into());
        c.compute_pools.push(ComputePoolConfig {
            id: "lfcp-eu".into(),
            environment: "env-dev".into(),
            region: EU.into(),
            engine: Some("flink-eu".into()),
            ..Default::default()
        });
    })
    .await;
    let dev = developer(&gw);
    let (us0, eu0) = (us.sessions_opened(), eu.sessions_opened());

    // DDL is sqlgate's own (topic + subject): it reaches neither Flink.
    let (s, v) = create(
        &gw,
        &dev,
        "ddl-eu",
        "CREATE TABLE parcels (id INT, kg INT) WITH ('value.format' = 'json')",
        Some("lfcp-eu"),
        props("lkc-eu"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(&gw, &dev, "ddl-eu", &["COMPLETED", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
    assert_eq!((us.sessions_opened(), eu.sessions_opened()), (us0, eu0));

    // A query in the EU pool runs on the EU Flink only.
    let (s, v) = create(
        &gw,
        &dev,
        "eu-read",
        "SELECT id, kg FROM parcels",
        Some("lfcp-eu"),
        props("lkc-eu"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(&gw, &dev, "eu-read", &["COMPLETED", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
    assert_eq!(read_until(&gw, &dev, "eu-read", LONG, |_| false).await, []);
    assert_eq!(
        eu.sessions_opened(),
        eu0 + 1,
        "the EU statement reached the EU Flink"
    );
    assert_eq!(us.sessions_opened(), us0, "and never the US one");
    assert!(eu.jobs().await.iter().any(|(n, _)| n == "sqlgate:eu-read"));
    assert!(!us.jobs().await.iter().any(|(n, _)| n == "sqlgate:eu-read"));

    // The default pool (US) runs on the US Flink only.
    let (s, v) = create(&gw, &dev, "us-one", "SELECT 1", None, props("lkc-dev")).await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(&gw, &dev, "us-one", &["COMPLETED", "FAILED"], LONG).await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
    assert_eq!(
        (us.sessions_opened(), eu.sessions_opened()),
        (us0 + 1, eu0 + 1)
    );

    // Refused by the gateway (the EU pool reading a US table: the region check), so no Flink
    // sees it.
    let calls = gw.engine_calls();
    let (s, v) = create(
        &gw,
        &dev,
        "cross-region",
        "SELECT * FROM `env-dev`.`lkc-dev`.`parcels`",
        Some("lfcp-eu"),
        props("lkc-eu"),
    )
    .await;
    assert!(s == 403 || s == 400, "refused: {s} {v}");
    assert_eq!(gw.engine_calls(), calls, "nothing reached an engine");
    assert_eq!(
        (us.sessions_opened(), eu.sessions_opened()),
        (us0 + 1, eu0 + 1)
    );
    gw.stop().await;
}
