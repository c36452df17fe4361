//! Tests of what the engine may be told: hints (`hints.rs`), refusals by name (`guard.rs`),
//! and that no client comment reaches the engine.

use std::sync::Arc;

use super::*;
use crate::authz::Authorizer;
use crate::catalog::{Catalogs, ClusterConfig, EnvironmentConfig};

fn catalogs() -> Catalogs {
    Catalogs::new(
        "org-dev",
        "aws.us-east-2",
        vec![EnvironmentConfig {
            id: "env-dev".into(),
            display_name: "dev".into(),
            clusters: vec![ClusterConfig {
                id: "lkc-dev".into(),
                display_name: "main".into(),
                region: "aws.us-east-2".into(),
                kafka: None,
            }],
        }],
    )
}

fn session() -> SessionNames {
    SessionNames {
        catalog: Some("dev".into()),
        database: Some("main".into()),
    }
}

fn refusal(sql: &str) -> SqlError {
    match parse(sql, &ParseLimits::default()) {
        Ok(_) => panic!("accepted: {sql}"),
        Err(e) => e,
    }
}

/// The canonical text, which the fuzz target checks is what the engine gets.
fn canonical(sql: &str) -> String {
    let parsed = parse(sql, &ParseLimits::default()).unwrap_or_else(|e| panic!("{sql}: {e}"));
    resolve(parsed, &catalogs(), &session())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .canonical_sql()
}

/// `sql` through every stage as the repository's developer: what the engine receives.
async fn engine_text(sql: &str) -> String {
    let catalogs = Arc::new(catalogs());
    let authz = Authorizer::from_texts(
        include_str!("../../policies/model.conf"),
        include_str!("../../policies/roles.csv"),
        include_str!("../../policies/bindings.csv"),
        catalogs.clone(),
    )
    .await
    .unwrap();
    let parsed = parse(sql, &ParseLimits::default()).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let resolved = resolve(parsed, &catalogs, &session()).unwrap();
    let authorized = authz
        .authorize("User:pool-dev", resolved, &crate::testing::dev_placement())
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    crate::rewrite::rewrite(authorized).unwrap().sql()
}

/// The canonical text parses again and renders to itself.
fn assert_fixed_point(sql: &str) {
    let once = canonical(sql);
    assert_eq!(canonical(&once), once, "not a fixed point: {sql}");
}

// === hints ===

#[test]
fn dynamic_options_that_could_read_other_data_are_refused_by_name() {
    for key in [
        "topic",
        "topic-pattern",
        "properties.bootstrap.servers",
        "properties.group.id",
        "connector",
        "format",
        "value.format",
        "key.format",
        "value.avro-confluent.url",
        "value.fields-include",
        "key.fields",
        "scan.parallelism",
        "SCAN.STARTUP.MODE",
    ] {
        let sql = format!("SELECT * FROM orders /*+ OPTIONS('{key}'='salaries') */");
        let e = refusal(&sql);
        assert_eq!(e.code(), "sql.option_not_allowed", "{sql}");
        let d = e.detail();
        assert!(d.contains(&format!("'{key}'")), "{d}");
        assert!(!d.contains("salaries"), "a value is never echoed: {d}");
    }
    // Also behind an allowed option, in a join, in a subquery, in a view and in a CTAS.
    for sql in [
        "SELECT * FROM orders /*+ OPTIONS('scan.startup.mode'='earliest-offset', 'topic'='salaries') */",
        "SELECT * FROM a JOIN orders /*+ OPTIONS('topic'='salaries') */ AS o ON a.id = o.id",
        "SELECT * FROM a WHERE id IN (SELECT id FROM orders /*+ OPTIONS('topic'='salaries') */)",
        "CREATE VIEW v AS SELECT * FROM orders /*+ OPTIONS('topic'='salaries') */",
        "CREATE TABLE c AS SELECT * FROM orders /*+ OPTIONS('topic'='salaries') */",
        "EXECUTE STATEMENT SET BEGIN INSERT INTO s SELECT * FROM orders /*+ OPTIONS('topic'='salaries') */; END",
        "EXPLAIN CHANGELOG_MODE SELECT * FROM orders /*+ OPTIONS('topic'='salaries') */",
    ] {
        assert_eq!(refusal(sql).code(), "sql.option_not_allowed", "{sql}");
    }
    // The table an INSERT writes takes no options at all.
    let e = refusal("INSERT INTO s /*+ OPTIONS('sink.partitioner'='fixed') */ SELECT 1");
    assert_eq!(e.code(), "sql.option_not_allowed");
    assert!(e.detail().contains("'sink.partitioner'"), "{}", e.detail());
}

#[test]
fn allowed_hints_reach_the_engine_in_canonical_form_and_place() {
    let cases = [
        (
            "select id from k1 /*+options('scan.startup.mode'='earliest-offset')*/ o",
            "SELECT id FROM `env-dev`.`lkc-dev`.`k1` /*+ OPTIONS('scan.startup.mode' = 'earliest-offset') */ o",
        ),
        (
            "SELECT * FROM k1 /*+ OPTIONS('scan.startup.mode'='timestamp', 'scan.startup.timestamp-millis'='1700000000000', 'scan.bounded.mode'='latest-offset') */ AS x",
            "SELECT * FROM `env-dev`.`lkc-dev`.`k1` /*+ OPTIONS('scan.startup.mode' = 'timestamp', 'scan.startup.timestamp-millis' = '1700000000000', 'scan.bounded.mode' = 'latest-offset') */ AS x",
        ),
        (
            "SELECT /*+ BROADCAST(c), SHUFFLE_HASH(o) */ * FROM orders o JOIN customers AS c ON o.cid = c.id",
            "SELECT /*+ BROADCAST(`c`), SHUFFLE_HASH(`o`) */ * FROM `env-dev`.`lkc-dev`.`orders` o JOIN `env-dev`.`lkc-dev`.`customers` AS c ON o.cid = c.id",
        ),
        (
            "SELECT /*+ nest_loop(customers) */ * FROM orders JOIN customers ON true",
            "SELECT /*+ NEST_LOOP(`customers`) */ * FROM `env-dev`.`lkc-dev`.`orders` JOIN `env-dev`.`lkc-dev`.`customers` ON true",
        ),
        (
            "SELECT /*+ LOOKUP('table'='c', 'async'='true', 'retry-predicate'='lookup_miss') */ o.id FROM orders AS o JOIN customers FOR SYSTEM_TIME AS OF o.ts AS c ON o.cid = c.id",
            "SELECT /*+ LOOKUP('table' = 'c', 'async' = 'true', 'retry-predicate' = 'lookup_miss') */ o.id FROM `env-dev`.`lkc-dev`.`orders` AS o JOIN `env-dev`.`lkc-dev`.`customers` FOR SYSTEM_TIME AS OF o.ts AS c ON o.cid = c.id",
        ),
        (
            "SELECT /*+ STATE_TTL('o' = '1d', customers = '12h') */ * FROM orders o JOIN customers ON o.cid = customers.id",
            "SELECT /*+ STATE_TTL('o' = '1d', 'customers' = '12h') */ * FROM `env-dev`.`lkc-dev`.`orders` o JOIN `env-dev`.`lkc-dev`.`customers` ON o.cid = customers.id",
        ),
        (
            // Inside a subquery and a CTE, each on its own query block.
            "WITH w AS (SELECT /*+ BROADCAST(b) */ * FROM a JOIN b ON true) SELECT * FROM w /*+ OPTIONS('scan.bounded.mode'='latest-offset') */ WHERE x IN (SELECT x FROM t /*+ OPTIONS('scan.startup.mode'='latest-offset') */)",
            "WITH w AS (SELECT /*+ BROADCAST(`b`) */ * FROM `env-dev`.`lkc-dev`.`a` JOIN `env-dev`.`lkc-dev`.`b` ON true) SELECT * FROM w /*+ OPTIONS('scan.bounded.mode' = 'latest-offset') */ WHERE x IN (SELECT x FROM `env-dev`.`lkc-dev`.`t` /*+ OPTIONS('scan.startup.mode' = 'latest-offset') */)",
        ),
        (
            // A Flink-only statement: the embedded INSERT is rendered with its hints.
            "EXECUTE STATEMENT SET BEGIN INSERT INTO s SELECT /*+ BROADCAST(b) */ * FROM a /*+ OPTIONS('scan.startup.mode'='earliest-offset') */ JOIN b ON true; END",
            "EXECUTE STATEMENT SET BEGIN INSERT INTO `env-dev`.`lkc-dev`.`s` SELECT /*+ BROADCAST(`b`) */ * FROM `env-dev`.`lkc-dev`.`a` /*+ OPTIONS('scan.startup.mode' = 'earliest-offset') */ JOIN `env-dev`.`lkc-dev`.`b` ON true; END",
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(canonical(sql), want, "{sql}");
        assert_fixed_point(sql);
    }
}

#[tokio::test]
async fn the_engine_receives_the_checked_hints() {
    let sql = "SELECT /*+ BROADCAST(c) */ * FROM orders /*+ OPTIONS('scan.startup.mode'='earliest-offset') */ JOIN customers c ON true";
    assert_eq!(
        engine_text(sql).await,
        "SELECT /*+ BROADCAST(`c`) */ * FROM `env-dev`.`lkc-dev`.`orders` /*+ OPTIONS('scan.startup.mode' = 'earliest-offset') */ JOIN `env-dev`.`lkc-dev`.`customers` c ON true"
    );
}

#[test]
fn unknown_misplaced_and_malformed_hints_are_refused() {
    let cases = [
        // Unknown hints, by name.
        (
            "SELECT /*+ MAGIC(t) */ * FROM t",
            "sql.hint_not_allowed",
            "MAGIC",
        ),
        (
            "SELECT * FROM t /*+ MAGIC */",
            "sql.hint_not_allowed",
            "MAGIC",
        ),
        // A query hint after a table, OPTIONS after SELECT.
        (
            "SELECT * FROM t /*+ BROADCAST(t) */",
            "sql.hint_not_allowed",
            "BROADCAST",
        ),
        (
            "SELECT /*+ OPTIONS('scan.startup.mode'='latest-offset') */ * FROM t",
            "sql.hint_not_allowed",
            "OPTIONS",
        ),
        // A join hint naming something that is not in the query block.
        (
            "SELECT /*+ BROADCAST(salaries) */ * FROM a JOIN b ON true",
            "sql.hint_not_allowed",
            "salaries",
        ),
        (
            "SELECT /*+ LOOKUP('table'='salaries') */ * FROM a JOIN b ON true",
            "sql.hint_not_allowed",
            "salaries",
        ),
        (
            "SELECT /*+ STATE_TTL('salaries'='1d') */ * FROM a JOIN b ON true",
            "sql.hint_not_allowed",
            "salaries",
        ),
        // The inner block's tables are not the outer block's.
        (
            "SELECT /*+ BROADCAST(b) */ * FROM a WHERE x IN (SELECT x FROM b)",
            "sql.hint_not_allowed",
            "`b`",
        ),
        (
            "SELECT /*+ LOOKUP('table'='b', 'connector'='jdbc') */ * FROM a JOIN b ON true",
            "sql.option_not_allowed",
            "'connector'",
        ),
        // Where Flink reads no hint.
        (
            "SELECT * FROM t AS x /*+ OPTIONS('scan.startup.mode'='latest-offset') */",
            "sql.hint_not_allowed",
            "line 1",
        ),
        (
            "/*+ BROADCAST(t) */ SELECT * FROM t",
            "sql.hint_not_allowed",
            "BROADCAST",
        ),
        (
            "SELECT * FROM t WHERE a = 1 /*+ BROADCAST(t) */",
            "sql.hint_not_allowed",
            "BROADCAST",
        ),
        (
            "SELECT a /*+ BROADCAST(t) */ FROM t",
            "sql.hint_not_allowed",
            "BROADCAST",
        ),
        (
            "DESCRIBE t /*+ OPTIONS('topic'='x') */",
            "sql.hint_not_allowed",
            "OPTIONS",
        ),
        (
            "CREATE TABLE t /*+ OPTIONS('topic'='x') */ (a INT)",
            "sql.hint_not_allowed",
            "OPTIONS",
        ),
        (
            "ALTER TABLE t /*+ OPTIONS('topic'='x') */ SET ('kafka.retention.time' = '1 h')",
            "sql.hint_not_allowed",
            "OPTIONS",
        ),
        (
            "SHOW TABLES /*+ OPTIONS('topic'='x') */",
            "sql.hint_not_allowed",
            "OPTIONS",
        ),
        (
            "SELECT * FROM TABLE(TUMBLE(TABLE t /*+ OPTIONS('topic'='x') */, DESCRIPTOR(ts), INTERVAL '1' MINUTE))",
            "sql.hint_not_allowed",
            "OPTIONS",
        ),
        (
            "INSERT INTO s /*+ BROADCAST(s) */ SELECT 1",
            "sql.hint_not_allowed",
            "BROADCAST",
        ),
        // Two comments in one place.
        (
            "SELECT /*+ BROADCAST(a) */ /*+ BROADCAST(b) */ * FROM a JOIN b ON true",
            "sql.hint_not_allowed",
            "one /*+",
        ),
        // Malformed.
        (
            "SELECT * FROM t /*+ OPTIONS('scan.startup.mode') */",
            "sql.parse_error",
            "malformed hint",
        ),
        (
            "SELECT * FROM t /*+ OPTIONS('scan.startup.mode'=latest) */",
            "sql.parse_error",
            "malformed hint",
        ),
        (
            "SELECT /*+ BROADCAST(a, 'k'='v') */ * FROM a",
            "sql.parse_error",
            "mixes",
        ),
        (
            "SELECT /*+ BROADCAST() */ * FROM a",
            "sql.parse_error",
            "malformed hint",
        ),
        (
            "SELECT /*+ BROADCAST */ * FROM a",
            "sql.hint_not_allowed",
            "BROADCAST",
        ),
        (
            "SELECT /*+ */ * FROM a",
            "sql.parse_error",
            "malformed hint",
        ),
    ];
    for (sql, code, needle) in cases {
        let e = refusal(sql);
        assert_eq!(e.code(), code, "{sql}: {}", e.detail());
        assert!(e.detail().contains(needle), "{sql}: {}", e.detail());
    }
}

#[test]
fn the_tokens_inside_hints_count_towards_the_token_bound() {
    let names = (0..60_000).map(|i| format!("t{i}")).collect::<Vec<_>>();
    let sql = format!("SELECT /*+ BROADCAST({}) */ * FROM t0", names.join(", "));
    let e = refusal(&sql);
    assert_eq!(e.code(), "sql.too_complex", "{}", e.detail());
}

#[test]
fn plain_comments_and_comment_like_literals_are_not_hints() {
    // `/* + x */` (space before +) and `--+` are comments to Flink too.
    assert_eq!(
        canonical("SELECT /* + MAGIC */ a --+ MAGIC\nFROM t"),
        "SELECT a FROM `env-dev`.`lkc-dev`.`t`"
    );
    assert_eq!(
        canonical("SELECT '/*+ MAGIC */' AS `/*+ x */` FROM t"),
        "SELECT '/*+ MAGIC */' AS `/*+ x */` FROM `env-dev`.`lkc-dev`.`t`"
    );
}

// === comments ===

#[tokio::test]
async fn no_client_comment_reaches_the_engine() {
    let cases = [
        // Rendered by sqlparser.
        (
            "/* lead */ SELECT a, -- one\n '-- kept /* kept */' AS `x -- y /* z */` /* two */ FROM t -- end",
            "SELECT a, '-- kept /* kept */' AS `x -- y /* z */` FROM `env-dev`.`lkc-dev`.`t`",
        ),
        // Flink-only, spliced: comments outside and inside names and embedded statements.
        (
            "CREATE TABLE /* a */ t /* b */ (a INT -- c\n COMMENT '/* not a comment */ -- nor this') DISTRIBUTED INTO 2 BUCKETS /* d */ WITH ('kafka.retention.time' = '1 h') -- e",
            "CREATE TABLE `env-dev`.`lkc-dev`.`t` (a INT COMMENT '/* not a comment */ -- nor this') DISTRIBUTED INTO 2 BUCKETS WITH ('kafka.retention.time' = '1 h')",
        ),
        ("SHOW TABLES/* x */", "SHOW TABLES FROM `env-dev`.`lkc-dev`"),
        (
            "EXECUTE STATEMENT SET /* a */ BEGIN INSERT INTO s /* b */ SELECT * FROM a; -- c\n END",
            "EXECUTE STATEMENT SET BEGIN INSERT INTO `env-dev`.`lkc-dev`.`s` SELECT * FROM `env-dev`.`lkc-dev`.`a`; END",
        ),
    ];
    for (sql, want) in cases {
        let text = engine_text(sql).await;
        assert_eq!(text, want, "{sql}");
        assert_eq!(canonical(sql), want, "{sql}");
    }
}

// === refusals by name ===

#[test]
fn table_options_beyond_what_sqlgate_owns_are_refused() {
    for sql in [
        "CREATE TABLE t (a INT) WITH ('topic' = 'salaries')",
        "CREATE TABLE t (a INT) WITH ('connector' = 'kafka', 'properties.bootstrap.servers' = 'evil:9092')",
        "CREATE TABLE t (a INT) WITH ('connector' = 'filesystem', 'path' = '/etc')",
        "CREATE TABLE t (a INT) WITH ('value.format' = 'json', 'value.json.fail-on-missing-field' = 'false')",
        "CREATE TABLE t (a INT) WITH ('value.avro-confluent.url' = 'http://x')",
        "CREATE TABLE t (a INT) DISTRIBUTED INTO 2 BUCKETS WITH ('topic' = 'salaries')",
        "CREATE TABLE t (a INT, WATERMARK FOR a AS a) WITH ('properties.group.id' = 'g')",
        "CREATE TABLE c WITH ('topic' = 'salaries') AS SELECT * FROM a",
        "REPLACE TABLE c WITH ('topic' = 'salaries') AS SELECT * FROM a",
        "ALTER TABLE t SET ('topic' = 'salaries')",
        "ALTER TABLE t SET ('connector' = 'filesystem')",
        "ALTER TABLE t RESET ('properties.bootstrap.servers')",
        "CREATE TEMPORARY TABLE t (a INT) WITH ('connector' = 'datagen')",
    ] {
        let e = refusal(sql);
        assert_eq!(e.code(), "sql.option_not_allowed", "{sql}: {}", e.detail());
        assert!(e.detail().contains("table option"), "{}", e.detail());
        assert!(
            !e.detail().contains("salaries") && !e.detail().contains("evil"),
            "{}",
            e.detail()
        );
    }
    // What sqlgate owns passes.
    for sql in [
        "CREATE TABLE t (a INT) WITH ('connector' = 'confluent', 'value.format' = 'avro-registry', 'kafka.retention.time' = '7 d', 'changelog.mode' = 'append')",
        "CREATE TABLE t (a INT) DISTRIBUTED INTO 2 BUCKETS WITH ('key.format' = 'json-registry', 'kafka.cleanup-policy' = 'compact')",
        "ALTER TABLE t SET ('kafka.retention.size' = '1000')",
        "ALTER TABLE t RESET ('kafka.retention.time')",
    ] {
        canonical(sql);
    }
}

#[test]
fn statements_that_load_code_or_copy_connectors_are_refused_by_name() {
    let cases = [
        ("CREATE TABLE t2 LIKE t", "CREATE TABLE ... LIKE"),
        (
            "CREATE TABLE t2 (WATERMARK FOR ts AS ts) WITH ('value.format' = 'json') LIKE t1 (EXCLUDING ALL INCLUDING GENERATED)",
            "CREATE TABLE ... LIKE",
        ),
        ("ADD JAR '/tmp/evil.jar'", "ADD JAR"),
        ("add jar 'hdfs:///x.jar';", "ADD JAR"),
        (
            "CREATE FUNCTION f AS 'com.x.F' USING JAR '/tmp/evil.jar'",
            "USING JAR",
        ),
        (
            "CREATE TEMPORARY FUNCTION f AS 'com.x.F' LANGUAGE JAVA USING JAR 'a.jar', JAR 'b.jar'",
            "USING JAR",
        ),
        (
            "ALTER FUNCTION f AS 'com.x.F' USING JAR '/tmp/evil.jar'",
            "USING JAR",
        ),
        (
            "CREATE CATALOG c WITH ('type' = 'jdbc', 'base-url' = 'jdbc:postgresql://x')",
            "CREATE CATALOG",
        ),
    ];
    for (sql, what) in cases {
        let e = refusal(sql);
        assert_eq!(
            e.code(),
            "sql.statement_not_allowed",
            "{sql}: {}",
            e.detail()
        );
        assert!(e.detail().contains(what), "{sql}: {}", e.detail());
    }
    // Syntax errors stay syntax errors.
    assert_eq!(refusal("ADD JAR").code(), "sql.parse_error");
    assert_eq!(refusal("CREATE CATALOG c").code(), "sql.parse_error");
    // A function from a class the engine has is fine.
    assert_eq!(
        canonical("CREATE FUNCTION f AS 'com.x.F'"),
        "CREATE FUNCTION `env-dev`.`lkc-dev`.`f` AS 'com.x.F'"
    );
}

#[test]
fn set_and_reset_only_name_allowed_session_keys() {
    for sql in [
        "SET 'sql.local-time-zone' = 'UTC'",
        "SET 'sql.state-ttl' = '1 h'",
        "SET 'table.exec.mini-batch.enabled' = 'true'",
        "RESET 'sql.local-time-zone'",
        "RESET",
    ] {
        canonical(sql);
    }
    for (sql, code) in [
        (
            "SET 'pipeline.jars' = 'file:///tmp/evil.jar'",
            "sql.option_not_allowed",
        ),
        (
            "SET 'pipeline.classpaths' = 'file:///tmp'",
            "sql.option_not_allowed",
        ),
        ("SET 'table.sql-dialect' = 'hive'", "sql.option_not_allowed"),
        (
            "SET 'execution.savepoint.path' = 'file:///x'",
            "sql.option_not_allowed",
        ),
        (
            "SET 'parallelism.default' = '512'",
            "sql.option_not_allowed",
        ),
        (
            "SET 'table.dynamic-table-options.enabled' = 'true'",
            "sql.option_not_allowed",
        ),
        ("RESET 'pipeline.jars'", "sql.option_not_allowed"),
        ("SET", "sql.statement_not_allowed"),
        ("SET;", "sql.statement_not_allowed"),
        ("SET 'pipeline.jars' = 'x' garbage", "sql.parse_error"),
    ] {
        let e = refusal(sql);
        assert_eq!(e.code(), code, "{sql}: {}", e.detail());
        if code == "sql.option_not_allowed" {
            assert!(e.detail().contains("session option"), "{}", e.detail());
            assert!(!e.detail().contains("evil"), "{}", e.detail());
        }
    }
}
