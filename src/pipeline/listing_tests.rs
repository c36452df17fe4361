//! Listing visibility: rows naming objects the caller may not see never leave the gateway,
//! and a listing that does not say what it lists is refused.

use super::*;
use crate::authz::Authorizer;
use crate::catalog::{Catalogs, ClusterConfig, EnvironmentConfig, TableRef};
use crate::engine::{Cancel, ResultRow, Traits};
use crate::sql::{ParseLimits, SessionNames, parse, resolve, rewrite};
use futures::TryStreamExt;
use serde_json::json;

fn catalogs() -> Arc<Catalogs> {
    Arc::new(Catalogs::new(
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
    ))
}

/// `sql` through parse, resolve, authorize (as the repository's developer) and rewrite.
async fn rewritten(sql: &str) -> RewrittenStatement {
    let authz = Authorizer::from_texts(
        include_str!("../../policies/model.conf"),
        include_str!("../../policies/roles.csv"),
        include_str!("../../policies/bindings.csv"),
        catalogs(),
    )
    .await
    .unwrap();
    let session = SessionNames {
        catalog: Some("env-dev".into()),
        database: Some("lkc-dev".into()),
    };
    let parsed = parse(sql, &ParseLimits::default()).unwrap();
    let resolved = resolve(parsed, &catalogs(), &session).unwrap();
    let authorized = authz
        .authorize("User:pool-dev", resolved, "env-dev", "aws.us-east-2")
        .unwrap();
    rewrite(authorized).unwrap()
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
