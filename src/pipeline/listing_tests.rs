//! Listing visibility: rows naming objects the caller may not see never leave the gateway,
//! and a listing that does not say what it lists is refused.

use super::*;
use crate::catalog::TableRef;
use crate::engine::{Cancel, ResultRow, Traits};
use crate::testing::Fixture;
use futures::TryStreamExt;
use serde_json::json;

/// `sql` through the one decision path, as the repository's developer.
async fn rewritten(sql: &str) -> RewrittenStatement {
    Fixture::new().await.rewritten("User:pool-dev", sql)
}

#[derive(Debug)]
struct Nothing;
impl Cancel for Nothing {
    fn cancel(&self) {}
}

/// An execution answering `names`, one row each, with `listing`.
fn answer(names: &[&str], listing: Option<Listing>) -> Execution {
    let rows: Vec<ResultRow> = names
        .iter()
        .map(|n| ResultRow {
            op: 0,
            row: vec![json!(n)],
        })
        .collect();
    Execution {
        traits: Traits {
            sql_kind: "SHOW_TABLES".into(),
            is_bounded: true,
            is_append_only: true,
            upsert_columns: None,
            schema: None,
        },
        rows: stream::iter([Ok(rows)]).boxed(),
        cancel: Arc::new(Nothing),
        listing,
    }
}

async fn names(execution: Execution) -> Vec<String> {
    let batches: Vec<Vec<ResultRow>> = execution.rows.try_collect().await.unwrap();
    batches
        .into_iter()
        .flatten()
        .map(|r| r.row[0].as_str().unwrap().to_string())
        .collect()
}

fn dev_database() -> ObjectRef {
    ObjectRef::Database("env-dev".into(), "lkc-dev".into())
}

#[tokio::test]
async fn rows_naming_invisible_objects_never_leave_the_gateway() {
    let stmt = rewritten("SHOW TABLES").await;
    let hide_secrets: Visible =
        Arc::new(|o| *o != ObjectRef::Table(TableRef::new("env-dev", "lkc-dev", "secrets")));
    let listing = Listing {
        parent: dev_database(),
        column: 0,
    };
    let shown = visible_only(
        &stmt,
        answer(&["orders", "secrets", "users"], Some(listing.clone())),
        hide_secrets,
    )
    .unwrap();
    assert_eq!(names(shown).await, ["orders", "users"]);
    let nothing = visible_only(&stmt, answer(&["a"], Some(listing)), Arc::new(|_| false));
    assert!(names(nothing.unwrap()).await.is_empty());
}

#[tokio::test]
async fn a_listing_that_does_not_say_what_it_lists_is_refused() {
    let stmt = rewritten("SHOW TABLES").await;
    let all: Visible = Arc::new(|_| true);
    let err = visible_only(&stmt, answer(&["a"], None), all.clone()).unwrap_err();
    assert!(matches!(err, EngineError::Internal(_)), "{err}");
    // Rows said to come from another database than the one authorized: refused too.
    let elsewhere = Listing {
        parent: ObjectRef::Database("env-dev".into(), "lkc-other".into()),
        column: 0,
    };
    let err = visible_only(&stmt, answer(&["a"], Some(elsewhere)), all.clone()).unwrap_err();
    assert!(err.to_string().contains("lkc-other"), "{err}");
    // A row without the id column names nothing and is not shown.
    let wide = Listing {
        parent: dev_database(),
        column: 3,
    };
    let shown = visible_only(&stmt, answer(&["a"], Some(wide)), all).unwrap();
    assert!(names(shown).await.is_empty());
}

#[tokio::test]
async fn other_statements_pass_through_unchanged() {
    let stmt = rewritten("SELECT * FROM examples.marketplace.orders").await;
    let shown = visible_only(&stmt, answer(&["x"], None), Arc::new(|_| false)).unwrap();
    assert_eq!(names(shown).await, ["x"]);
}
