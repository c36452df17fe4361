//! The three positions enforced through generated CTEs (window TVF `TABLE` arguments,
//! MATCH_RECOGNIZE, temporal joins): the rewritten statement reads the table only through its
//! policies, and its Flink rendering (masks expanded) parses back to it.

use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::parser::Parser;

use super::{Reader, enforce, expand_replace};
use crate::authz::{Claims, DataPolicies};
use crate::catalog::TableRef;
use crate::sql::FlinkDialect;

const ORDERS: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=orders";
const RATES: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=rates";

fn policies() -> DataPolicies {
    DataPolicies::from_toml(&format!(
        r#"
[[row_filter]]
name = "orders-eu"
table = "{ORDERS}"
principals = ["User:dev"]
filter = "region = 'EU'"

[[column_mask]]
name = "orders-email"
table = "{ORDERS}"
column = "email"
principals = ["User:dev"]
mask = "'***'"

[[row_filter]]
name = "rates-public"
table = "{RATES}"
principals = ["User:dev"]
filter = "public = TRUE"
"#
    ))
    .unwrap()
}

/// `sql` (canonical names) rewritten for `principal`: the Flink text (masks expanded with
/// `columns`, rendered by the checked renderer) and the tables policies were applied to.
fn flink_text(sql: &str, principal: &str) -> (String, Vec<String>) {
    let mut st: Statement = Parser::parse_sql(&FlinkDialect, sql).unwrap().remove(0);
    let claims = Claims::new();
    let reader = Reader {
        organization: "org-dev",
        principal,
        claims: &claims,
    };
    let applied = enforce(&mut st, &policies(), reader).unwrap();
    let columns = |t: &TableRef| {
        Some(match t.table.as_str() {
            "orders" => vec!["id".into(), "email".into(), "region".into(), "ts".into()],
            _ => vec!["cur".into(), "rate".into(), "public".into(), "ts".into()],
        })
    };
    expand_replace(&mut st, &columns).unwrap();
    let text = crate::sql::render_checked(&st).unwrap_or_else(|e| panic!("{e:?}: {st}\n{st:?}"));
    (
        text,
        applied.iter().map(|a| a.table.table.clone()).collect(),
    )
}

const TVF: &str = "SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE `env-dev`.`lkc-dev`.`orders`, \
     DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end";

#[test]
fn a_window_tvf_reads_its_table_argument_through_a_generated_cte() {
    let (text, applied) = flink_text(TVF, "User:dev");
    assert_eq!(applied, ["orders"]);
    assert!(
        text.starts_with(
            "WITH `sqlgate$policy$1` AS (SELECT `id`, '***' AS `email`, `region`, `ts` \
             FROM `env-dev`.`lkc-dev`.`orders` WHERE (region = 'EU')) SELECT"
        ),
        "{text}"
    );
    assert!(
        text.contains("TUMBLE(TABLE `sqlgate$policy$1`, DESCRIPTOR(ts)"),
        "{text}"
    );
    // The only read of the table is the CTE's.
    assert_eq!(text.matches("`orders`").count(), 1, "{text}");
    // Named arguments too.
    let named = "SELECT * FROM TABLE(TUMBLE(DATA => TABLE `env-dev`.`lkc-dev`.`orders`, \
                 TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '1' MINUTE))";
    let (text, _) = flink_text(named, "User:dev");
    assert!(text.contains("DATA => TABLE `sqlgate$policy$1`"), "{text}");
    assert_eq!(text.matches("`orders`").count(), 1, "{text}");
}

#[test]
fn match_recognize_reads_its_input_through_a_generated_cte() {
    let sql = "SELECT * FROM `env-dev`.`lkc-dev`.`orders` MATCH_RECOGNIZE (ORDER BY ts \
               MEASURES A.id AS a_id ONE ROW PER MATCH PATTERN (A B) \
               DEFINE A AS A.region = 'EU', B AS TRUE) AS m";
    let (text, applied) = flink_text(sql, "User:dev");
    assert_eq!(applied, ["orders"]);
    assert!(
        text.starts_with("WITH `sqlgate$policy$1` AS (SELECT "),
        "{text}"
    );
    assert!(
        text.contains("FROM `sqlgate$policy$1` MATCH_RECOGNIZE(ORDER BY ts"),
        "{text}"
    );
    assert_eq!(text.matches("`orders`").count(), 1, "{text}");
}

#[test]
fn a_temporal_join_joins_the_versioned_table_through_a_generated_cte() {
    // Flink's order, as the canonical statement renders it (the alias after the version).
    let aliased = "SELECT o.id, r.rate FROM `env-dev`.`lkc-dev`.`orders` AS o \
                   JOIN `env-dev`.`lkc-dev`.`rates` FOR SYSTEM_TIME AS OF o.ts AS r ON o.id = r.cur";
    let (text, applied) = flink_text(aliased, "User:dev");
    assert_eq!(applied, ["orders", "rates"]);
    assert!(
        text.starts_with(
            "WITH `sqlgate$policy$1` AS (SELECT * FROM `env-dev`.`lkc-dev`.`rates` \
             WHERE (public = true)) SELECT"
        ),
        "{text}"
    );
    assert!(
        text.contains("JOIN `sqlgate$policy$1` FOR SYSTEM_TIME AS OF o.ts AS r ON"),
        "{text}"
    );
    // The other side is the usual derived table.
    assert!(
        text.contains("FROM `env-dev`.`lkc-dev`.`orders` WHERE (region = 'EU')) AS o"),
        "{text}"
    );
    // Without an alias the table's name is the alias, so `rates.rate` still resolves.
    let bare = "SELECT rates.rate FROM `env-dev`.`lkc-dev`.`orders` AS o \
                JOIN `env-dev`.`lkc-dev`.`rates` FOR SYSTEM_TIME AS OF o.ts ON o.id = rates.cur";
    let (text, _) = flink_text(bare, "User:dev");
    assert!(
        text.contains("JOIN `sqlgate$policy$1` FOR SYSTEM_TIME AS OF o.ts AS `rates` ON"),
        "{text}"
    );
}

#[test]
fn generated_ctes_go_to_the_innermost_query_before_its_own_and_are_numbered() {
    let sql = "WITH mine AS (SELECT 1 AS x) SELECT * FROM mine, (SELECT COUNT(*) AS n FROM \
               TABLE(TUMBLE(TABLE `env-dev`.`lkc-dev`.`orders`, DESCRIPTOR(ts), INTERVAL '1' MINUTE))) AS a, \
               (SELECT COUNT(*) AS n FROM TABLE(HOP(TABLE `env-dev`.`lkc-dev`.`orders`, DESCRIPTOR(ts), \
               INTERVAL '1' MINUTE, INTERVAL '2' MINUTE))) AS b";
    let (text, _) = flink_text(sql, "User:dev");
    assert!(
        text.starts_with("WITH mine AS (SELECT 1 AS x) SELECT"),
        "{text}"
    );
    assert!(
        text.contains("(WITH `sqlgate$policy$1` AS (SELECT "),
        "{text}"
    );
    assert!(
        text.contains("(WITH `sqlgate$policy$2` AS (SELECT "),
        "{text}"
    );
    assert_eq!(text.matches("`orders`").count(), 2, "{text}");
}

#[test]
fn an_exempt_reader_gets_the_statement_unchanged() {
    let (text, applied) = flink_text(TVF, "User:admin");
    assert!(applied.is_empty());
    assert!(!text.contains("sqlgate$policy"), "{text}");
}
