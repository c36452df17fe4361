//! Seeds of what may not reach the engine and is refused by name (`sql/guard.rs`,
//! `sql/hints.rs`): dynamic options naming other data, misplaced hints, connector options,
//! `LIKE`, engine session keys, code loading and catalogs.

/// Statements refused by name, by name.
pub(super) fn refused_by_name() -> Vec<(&'static str, String)> {
    vec![
        (
            "hint-options-topic",
            "SELECT * FROM orders /*+ OPTIONS('topic'='salaries') */".into(),
        ),
        (
            "hint-after-alias",
            "SELECT * FROM orders AS o /*+ OPTIONS('scan.startup.mode'='latest-offset') */".into(),
        ),
        (
            "hint-in-ddl",
            "CREATE TABLE t /*+ OPTIONS('topic'='x') */ (a INT) DISTRIBUTED INTO 2 BUCKETS".into(),
        ),
        (
            "hint-comment-end-in-string",
            "SELECT * FROM t /*+ OPTIONS('scan.startup.mode'='*/ latest') */".into(),
        ),
        (
            "hint-nested-comment",
            "SELECT /*+ BROADCAST(t) /* inner */ */ * FROM t JOIN u ON true".into(),
        ),
        (
            "hint-join-names-other-table",
            "SELECT /*+ BROADCAST(salaries) */ * FROM orders".into(),
        ),
        (
            "with-topic",
            "CREATE TABLE t (a INT) WITH ('connector' = 'kafka', 'topic' = 'salaries')".into(),
        ),
        ("like-copy", "CREATE TABLE t2 LIKE salaries".into()),
        (
            "set-pipeline-jars",
            "SET 'pipeline.jars' = 'file:///tmp/evil.jar'".into(),
        ),
        ("add-jar", "ADD JAR '/tmp/evil.jar'".into()),
        (
            "function-using-jar",
            "CREATE FUNCTION f AS 'com.evil.F' USING JAR '/tmp/evil.jar'".into(),
        ),
        (
            "create-catalog",
            "CREATE CATALOG c WITH ('type' = 'jdbc', 'base-url' = 'jdbc:postgresql://x')".into(),
        ),
    ]
}
