//! Listing visibility: the rows of SHOW CATALOGS / DATABASES / TABLES that name objects the
//! caller may not see are dropped here, in the gateway, between the engine and the
//! statement's result buffer. No engine filters by role (or has to be trusted to).
//!
//! Owns the rule that fails closed: a listing whose execution does not say what its rows name
//! ([`Listing`]), or says it listed something other than what was authorized, is refused
//! rather than shown.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream;

use crate::catalog::ObjectRef;
use crate::engine::{EngineError, Execution, Listing, RowStream};
use crate::rewrite::RewrittenStatement;
use crate::sql::Action;

/// Whether the caller may see an object (see [`crate::gateway::Gateway::visibility`]).
pub(crate) type Visible = Arc<dyn Fn(&ObjectRef) -> bool + Send + Sync>;

/// The statement kinds whose rows name objects, each one the caller may or may not see.
const LISTINGS: [&str; 3] = ["SHOW_CATALOGS", "SHOW_DATABASES", "SHOW_TABLES"];

/// `execution` with the rows the caller may not see removed, for a statement that lists
/// objects; any other execution unchanged.
pub(crate) fn visible_only(
    stmt: &RewrittenStatement,
    mut execution: Execution,
    visible: Visible,
) -> Result<Execution, EngineError> {
    if !LISTINGS.contains(&stmt.sql_kind()) {
        return Ok(execution);
    }
    let Some(listing) = execution.listing.clone() else {
        return Err(EngineError::Internal(format!(
            "the engine answered {} without saying what its rows name",
            stmt.sql_kind()
        )));
    };
    let authorized = stmt
        .accesses()
        .iter()
        .any(|a| a.action == Action::List && a.object == listing.parent);
    if !authorized {
        return Err(EngineError::Internal(format!(
            "the engine answered {} for {}, which is not what was authorized",
            stmt.sql_kind(),
            listing.parent
        )));
    }
    let rows = std::mem::replace(&mut execution.rows, stream::empty().boxed());
    execution.rows = filter_rows(rows, listing, visible);
    Ok(execution)
}

/// Keeps the rows whose object is visible; a row that names nothing is dropped.
fn filter_rows(rows: RowStream, listing: Listing, visible: Visible) -> RowStream {
    rows.map(move |batch| {
        batch.map(|rows| {
            rows.into_iter()
                .filter(|r| listing.object(r).is_some_and(|o| visible(&o)))
                .collect::<Vec<_>>()
        })
    })
    .filter(|batch| std::future::ready(!matches!(batch, Ok(rows) if rows.is_empty())))
    .boxed()
}

#[cfg(test)]
#[path = "listing_tests.rs"]
mod tests;
