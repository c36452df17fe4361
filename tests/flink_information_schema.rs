//! INFORMATION_SCHEMA on a compute pool that runs on the real Flink engine (Apache Kafka,
//! Apicurio Registry and Flink 2.2.1 started by `scripts/dev-stack.sh`): answered by the
//! gateway from its own listings, the same rows as on the embedded engine.

mod common;

use std::time::Duration;

use serde_json::json;

use common::flink::{self, create, wait_phase};
use common::{TestGateway, broker, developer, registry, run_query};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn information_schema_answers_on_a_flink_pool() {
    let kafka = broker::shared().await;
    let reg = registry::shared().await;
    let f = flink::shared().await;
    let k = flink::kafka(&kafka.bootstrap, &reg.url);
    let gw = TestGateway::start_with(|c| flink::on_flink(c, k, f)).await;
    let dev = developer(&gw);
    let props = json!({"sql.current-catalog": "env-dev", "sql.current-database": "lkc-dev", "sql.snapshot.mode": "now"});
    let ddl = "CREATE TABLE info_t (id INT, name STRING) WITH ('value.format' = 'json')";
    let (s, v) = create(&gw, &dev, "ddl", ddl, None, props).await;
    assert_eq!(s, 200, "{v}");
    let v = wait_phase(
        &gw,
        &dev,
        "ddl",
        &["COMPLETED", "FAILED"],
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(v["status"]["phase"], "COMPLETED", "{v}");
    let rows = run_query(
        &gw,
        &dev,
        "cols",
        "SELECT COLUMN_NAME, FULL_DATA_TYPE, IS_HIDDEN, IS_METADATA, IS_PERSISTED \
         FROM INFORMATION_SCHEMA.`COLUMNS` \
         WHERE TABLE_SCHEMA = 'main' AND TABLE_NAME = 'info_t' ORDER BY ORDINAL_POSITION",
    )
    .await
    .unwrap();
    // As DESCRIBE reports the table: `$rowtime` is the system column, `$partition` and
    // `$offset` are the gateway's virtual metadata columns of a Kafka-backed table.
    assert_eq!(
        rows,
        vec![
            json!(["id", "INT", "NO", "NO", "YES"]),
            json!(["name", "VARCHAR(2147483647)", "NO", "NO", "YES"]),
            json!(["$rowtime", "TIMESTAMP_LTZ(3)", "YES", "YES", "NO"]),
            json!(["$partition", "INT", "NO", "YES", "NO"]),
            json!(["$offset", "BIGINT", "NO", "YES", "NO"]),
        ]
    );
    let rows = run_query(
        &gw,
        &dev,
        "tables",
        "SELECT TABLE_NAME, TABLE_TYPE FROM `env-dev`.`INFORMATION_SCHEMA`.`TABLES` WHERE TABLE_NAME = 'info_t'",
    )
    .await
    .unwrap();
    assert_eq!(rows, vec![json!(["info_t", "BASE TABLE"])]);
    // TABLE_OPTIONS has the Kafka-backed table's options on a Flink pool too (sqlgate keeps
    // them, whichever engine runs the pool's statements).
    let rows = run_query(
        &gw,
        &dev,
        "options",
        "SELECT OPTION_KEY, OPTION_VALUE FROM INFORMATION_SCHEMA.`TABLE_OPTIONS` \
         WHERE TABLE_NAME = 'info_t' AND OPTION_KEY IN ('connector', 'value.format') \
         ORDER BY OPTION_KEY",
    )
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            json!(["connector", "confluent"]),
            json!(["value.format", "json"])
        ]
    );
    gw.stop().await;
}
