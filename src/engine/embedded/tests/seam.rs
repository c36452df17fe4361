//! Engine tests of the seam the gateway relies on: listings say what their rows name (the
//! gateway filters them), plans read only what was checked, and a cancel stops the work.

use futures::TryStreamExt;
use serde_json::{Value, json};

use super::*;
#[tokio::test]
async fn listings_return_every_row_and_say_what_the_rows_name() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    for t in ["alpha", "beta", "Gamma"] {
        ok(
            &engine,
            &format!("CREATE TABLE `env-dev`.`lkc-dev`.`{t}` (x INT)"),
        )
        .await;
    }
    let exec = engine
        .execute_statement(&parse("SHOW TABLES FROM `env-dev`.`lkc-dev`"), &ctx())
        .await
        .unwrap();
    assert_eq!(exec.traits.sql_kind, "SHOW_TABLES");
    assert_eq!(names(&exec.traits), ["table name"]);
    assert_eq!(
        exec.listing,
        Some(Listing {
            parent: ObjectRef::Database("env-dev".into(), "lkc-dev".into()),
            column: 0
        })
    );
    let rows: Vec<Vec<ResultRow>> = exec.rows.try_collect().await.unwrap();
    let listed: Vec<Value> = rows
        .into_iter()
        .flatten()
        .map(|r| r.row[0].clone())
        .collect();
    assert_eq!(listed, [json!("Gamma"), json!("alpha"), json!("beta")]);

    let exec = engine
        .execute_statement(&parse("SHOW TABLES FROM `examples`.`marketplace`"), &ctx())
        .await
        .unwrap();
    let rows: Vec<Vec<ResultRow>> = exec.rows.try_collect().await.unwrap();
    assert_eq!(rows.into_iter().flatten().count(), 4);
    // The gateway always names the scope; an engine never falls back to a session.
    let err = engine
        .execute_statement(&parse("SHOW TABLES"), &ctx())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Plan(_)), "{err:?}");

    let exec = engine
        .execute_statement(&parse("SHOW CATALOGS"), &ctx())
        .await
        .unwrap();
    assert_eq!(
        exec.listing.map(|l| (l.parent, l.column)),
        Some((ObjectRef::Organization, 1))
    );
    let exec = engine
        .execute_statement(&parse("SHOW DATABASES FROM `env-dev`"), &ctx())
        .await
        .unwrap();
    assert_eq!(
        exec.listing.map(|l| (l.parent, l.column)),
        Some((ObjectRef::Catalog("env-dev".into()), 1))
    );
    let (t, rows) = ok(&engine, "SHOW CATALOGS").await;
    assert_eq!(t.sql_kind, "SHOW_CATALOGS");
    assert_eq!(
        rows,
        [
            vec![json!("dev"), json!("env-dev")],
            vec![json!("examples"), json!("examples")]
        ]
    );
    let (t, rows) = ok(&engine, "SHOW DATABASES FROM `env-dev`").await;
    assert_eq!(t.sql_kind, "SHOW_DATABASES");
    assert_eq!(rows, [vec![json!("main"), json!("lkc-dev")]]);
}

#[tokio::test]
async fn a_plan_reading_an_unchecked_table_is_refused_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let sql = "SELECT o.order_id FROM examples.marketplace.orders o \
               WHERE o.customer_id IN (SELECT customer_id FROM examples.marketplace.customers)";
    let orders = TableRef::new("examples", "marketplace", "orders");
    let customers = TableRef::new("examples", "marketplace", "customers");
    let only_orders: std::collections::HashSet<TableRef> = [orders.clone()].into();
    let Err(err) = engine
        .execute_guarded(&parse(sql), &Run::new(&ctx()), Some(&only_orders))
        .await
    else {
        panic!("the subquery's table was not checked");
    };
    assert!(
        matches!(&err, EngineError::UncheckedTable(t) if *t == customers),
        "{err:?}"
    );
    let both: std::collections::HashSet<TableRef> = [orders, customers].into();
    assert!(
        engine
            .execute_guarded(&parse(sql), &Run::new(&ctx()), Some(&both))
            .await
            .is_ok()
    );
}

/// A cancelled statement stops at its next batch, even while something is inside its
/// stream: the cancel handle reaches every operator, not only the reader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_running_query_at_its_next_batch() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open_with(
        dir.path(),
        EngineConfig {
            batch_size: 64,
            ..EngineConfig::default()
        },
    )
    .await;
    // Millions of rows of cross join, counted: far longer than the deadline below.
    let sql = "SELECT COUNT(*) FROM examples.marketplace.orders o \
               CROSS JOIN examples.marketplace.clicks k \
               CROSS JOIN examples.marketplace.customers c \
               WHERE o.price + k.view_time > c.customer_id";
    let exec = engine.execute_statement(&parse(sql), &ctx()).await.unwrap();
    let cancel = exec.cancel.clone();
    let reader = tokio::spawn(async move { exec.rows.try_collect::<Vec<_>>().await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!reader.is_finished(), "the query must outlast the wait");
    cancel.cancel();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), reader)
        .await
        .expect("a cancelled query ends promptly")
        .unwrap();
    let err = ended.expect_err("a cancelled query yields no result");
    assert!(err.to_string().contains(cancel::STOPPED), "{err}");
}
