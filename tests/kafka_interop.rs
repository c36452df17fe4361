//! The gateway among the tools Kafka users have: Confluent's own serializers (the PyPI
//! `confluent-kafka` client's Avro and JSON Schema serializers with its
//! `SchemaRegistryClient`) read what INSERT wrote and write what SELECT reads, through a real
//! Confluent-compatible registry (Apicurio); Kafka's own command-line tools, run from the same
//! jars as the broker, see the topics, configs and records that CREATE, ALTER and INSERT made.

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use sqlgate::kafka::KafkaClusterConfig;

use common::{Cred, TestGateway, broker, developer, registry, run_query};

async fn ok(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) -> Vec<Value> {
    run_query(gw, cred, name, sql)
        .await
        .unwrap_or_else(|(s, b)| panic!("{sql}: {s} {b}"))
}

/// Records (key, value, schema id) that `consume` printed for `topic`, sorted by key.
fn consumed(all: &Value, topic: &str) -> Vec<(Value, Value, u64)> {
    let mut v: Vec<(Value, Value, u64)> = all[topic]
        .as_array()
        .unwrap_or_else(|| panic!("no {topic} in {all}"))
        .iter()
        .map(|r| {
            (
                r["key"].clone(),
                r["value"].clone(),
                r["schema_id"].as_u64().unwrap(),
            )
        })
        .collect();
    v.sort_by_key(|r| r.0["id"].as_i64());
    v
}

/// Both directions, both formats: what the gateway's INSERT wrote, Confluent's deserializers
/// read (writer schemas by id from the registry); what Confluent's serializers wrote (their
/// own schemas, auto-registered; a new version of a gateway table's schema; the version
/// CREATE TABLE registered), the gateway's SELECT reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_serializers_and_the_gateway_read_each_others_records() {
    let python = tokio::task::spawn_blocking(common::python::confluent_kafka_python);
    let b = broker::shared().await;
    let reg = registry::shared().await;
    let mut k = KafkaClusterConfig::new(&b.bootstrap);
    k.schema_registry_url = Some(reg.url.clone());
    k.default_partitions = 2;
    // A new schema version registered by another producer is seen at once.
    k.metadata_ttl = Duration::from_millis(100);
    let gw = TestGateway::start_with(move |c| c.environments[0].clusters[0].kafka = Some(k)).await;
    let dev = developer(&gw);
    for format in ["avro", "json"] {
        ok(
            &gw,
            &dev,
            &format!("create-{format}"),
            &format!(
                "CREATE TABLE gw_{format} (id BIGINT, name STRING, qty INT, \
                 PRIMARY KEY (id) NOT ENFORCED) DISTRIBUTED BY (id) INTO 2 BUCKETS \
                 WITH ('key.format' = '{format}-registry', 'value.format' = '{format}-registry')"
            ),
        )
        .await;
        ok(
            &gw,
            &dev,
            &format!("insert-{format}"),
            &format!(
                "INSERT INTO gw_{format} VALUES (1, 'apple', 3), (2, 'pear', NULL), (3, NULL, 7)"
            ),
        )
        .await;
    }

    let python = python.await.unwrap();
    let env = [
        ("SQLGATE_BOOTSTRAP", b.bootstrap.clone()),
        ("SCHEMA_REGISTRY_URL", reg.url.clone()),
    ];
    let limit = Duration::from_secs(180);
    common::python::run_with(&python, "kafka_serializers.py", &["produce"], &env, limit).await;

    // Their schemas, their records: typed columns (the key subject's fields first).
    let rows = ok(
        &gw,
        &dev,
        "py-avro",
        "SELECT session, user_id, url, amount, at, ok, note FROM py_avro ORDER BY session",
    )
    .await;
    assert_eq!(
        rows,
        [
            json!([
                "s0",
                "100",
                "/p/0",
                "0.25",
                "2026-11-24 10:00:00.123",
                "TRUE",
                null
            ]),
            json!([
                "s1",
                "101",
                "/p/1",
                "1.25",
                "2026-11-24 10:00:01.123",
                "FALSE",
                "n1"
            ]),
            json!([
                "s2",
                "102",
                "/p/2",
                "2.25",
                "2026-11-24 10:00:02.123",
                "TRUE",
                "n2"
            ]),
        ]
    );
    let rows = ok(
        &gw,
        &dev,
        "py-json",
        "SELECT id, item, price, CARDINALITY(tags) FROM py_json ORDER BY id",
    )
    .await;
    assert_eq!(
        rows,
        [
            json!(["1", "item-1", "1.5", "1"]),
            json!(["2", "item-2", "3.0", "2"]),
            json!(["3", "item-3", "4.5", "3"]),
        ]
    );
    // The gateway's tables: the Avro one has a new schema version (their `origin` field is a
    // column now, NULL in the records written before it); both read every record.
    let rows = ok(
        &gw,
        &dev,
        "gw-avro",
        "SELECT id, name, qty, origin FROM gw_avro ORDER BY id",
    )
    .await;
    assert_eq!(
        rows,
        [
            json!(["1", "apple", "3", null]),
            json!(["2", "pear", null, null]),
            json!(["3", null, "7", null]),
            json!(["10", "py-0", "0", "python"]),
            json!(["11", "py-1", "1", "python"]),
        ]
    );
    let rows = ok(
        &gw,
        &dev,
        "gw-json",
        "SELECT id, name, qty FROM gw_json ORDER BY id",
    )
    .await;
    assert_eq!(
        rows,
        [
            json!(["1", "apple", "3"]),
            json!(["2", "pear", null]),
            json!(["3", null, "7"]),
            json!(["20", "py-0", "0"]),
            json!(["21", "py-1", "1"]),
        ]
    );

    // The other direction: Confluent's deserializers read every record of the gateway's
    // tables, the gateway's own with the schema versions CREATE TABLE registered.
    let out =
        common::python::run_with(&python, "kafka_serializers.py", &["consume"], &env, limit).await;
    let all: Value = serde_json::from_str(out.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("consume printed no JSON ({e}): {out}"));
    let avro = consumed(&all, "gw_avro");
    let gw_rows: Vec<(Value, Value)> = avro[..3]
        .iter()
        .map(|r| (r.0.clone(), r.1.clone()))
        .collect();
    assert_eq!(
        gw_rows,
        [
            (json!({"id": 1}), json!({"name": "apple", "qty": 3})),
            (json!({"id": 2}), json!({"name": "pear", "qty": null})),
            (json!({"id": 3}), json!({"name": null, "qty": 7})),
        ]
    );
    assert_eq!(
        avro[3].1,
        json!({"name": "py-0", "qty": 0, "origin": "python"})
    );
    assert_ne!(avro[0].2, avro[3].2, "two schema versions, two ids");
    let json_records = consumed(&all, "gw_json");
    let got: Vec<(Value, Value)> = json_records
        .iter()
        .map(|r| (r.0.clone(), r.1.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (json!({"id": 1}), json!({"name": "apple", "qty": 3})),
            (json!({"id": 2}), json!({"name": "pear", "qty": null})),
            (json!({"id": 3}), json!({"name": null, "qty": 7})),
            (json!({"id": 20}), json!({"name": "py-0", "qty": 0})),
            (json!({"id": 21}), json!({"name": "py-1", "qty": 1})),
        ]
    );
    let ids: std::collections::BTreeSet<u64> = json_records.iter().map(|r| r.2).collect();
    assert_eq!(ids.len(), 1, "one registered JSON schema: {ids:?}");
}

/// `scripts/dev-stack.sh kafka-tool CLASS ARGS…` (Kafka's CLI from the broker's jars),
/// within `limit`; its stdout, panicking with its stderr on a failure.
async fn kafka_tool(args: &[&str], limit: Duration) -> String {
    let run = tokio::process::Command::new("bash")
        .arg(common::stack::script())
        .arg("kafka-tool")
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(limit, run)
        .await
        .unwrap_or_else(|_| panic!("kafka-tool {args:?} took over {limit:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kafka-tool {args:?}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// TopicCommand, ConfigCommand and ConsoleConsumer see the topic that CREATE TABLE made (its
/// partitions), the config that ALTER TABLE … SET changed, and the records INSERT wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_tools_see_what_create_alter_and_insert_made() {
    let b = broker::shared().await;
    let gw = TestGateway::start_with(|c| {
        c.environments[0].clusters[0].kafka = Some(KafkaClusterConfig::new(&b.bootstrap))
    })
    .await;
    let dev = developer(&gw);
    ok(
        &gw,
        &dev,
        "create",
        "CREATE TABLE tools_orders (id INT, item STRING, PRIMARY KEY (id) NOT ENFORCED) \
         DISTRIBUTED BY (id) INTO 3 BUCKETS \
         WITH ('key.format' = 'json', 'value.format' = 'json', 'kafka.retention.time' = '1 d')",
    )
    .await;
    ok(
        &gw,
        &dev,
        "alter",
        "ALTER TABLE tools_orders SET ('kafka.retention.time' = '7 d', 'kafka.max-message-size' = '2097152')",
    )
    .await;
    ok(
        &gw,
        &dev,
        "insert",
        "INSERT INTO tools_orders VALUES (1, 'apple'), (2, 'pear'), (3, 'fig')",
    )
    .await;
    let limit = Duration::from_secs(120);
    let bs = b.bootstrap.as_str();

    let topics = kafka_tool(
        &[
            "kafka-topics",
            "--bootstrap-server",
            bs,
            "--describe",
            "--topic",
            "tools_orders",
        ],
        limit,
    )
    .await;
    assert!(
        topics.contains("PartitionCount: 3") && topics.contains("retention.ms=604800000"),
        "{topics}"
    );
    let partitions = topics.lines().filter(|l| l.contains("Partition: ")).count();
    assert_eq!(partitions, 3, "{topics}");

    let configs = kafka_tool(
        &[
            "kafka-configs",
            "--bootstrap-server",
            bs,
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            "tools_orders",
        ],
        limit,
    )
    .await;
    assert!(
        configs.contains("retention.ms=604800000") && configs.contains("max.message.bytes=2097152"),
        "{configs}"
    );

    let records = kafka_tool(
        &[
            "kafka-console-consumer",
            "--bootstrap-server",
            bs,
            "--topic",
            "tools_orders",
            "--from-beginning",
            "--max-messages",
            "3",
            "--timeout-ms",
            "60000",
            "--formatter-property",
            "print.key=true",
            "--formatter-property",
            "key.separator=|",
        ],
        limit,
    )
    .await;
    let mut lines: Vec<(Value, Value)> = records
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(k, v)| {
            (
                serde_json::from_str(k).unwrap(),
                serde_json::from_str(v).unwrap(),
            )
        })
        .collect();
    lines.sort_by_key(|(k, _)| k["id"].as_i64());
    assert_eq!(
        lines,
        [
            (json!({"id": 1}), json!({"item": "apple"})),
            (json!({"id": 2}), json!({"item": "pear"})),
            (json!({"id": 3}), json!({"item": "fig"})),
        ],
        "{records}"
    );
}
