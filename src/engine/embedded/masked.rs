//! DESCRIBE of a table the caller reads through column masks: the type and nullability of each
//! masked column as the caller's reads return it, from DataFusion's plan of the masked
//! projection the rewrite built ([`DescribedAs`]). The projection is planned, never run.

use std::collections::BTreeMap;

use datafusion::sql::parser::Statement as DfStatement;
use tracing::warn;

use super::exec::plan_error;
use super::{EngineError, Inner, Run, dialect as rewrite};
use crate::rewrite::DescribedAs;
use crate::sql::types::FlinkType;

impl Inner {
    /// Each masked column's type as the caller sees it: the mask's result type, nullable when
    /// the plan says it can be NULL or the mask is `NULL` for this caller (a claim it lacks).
    pub(crate) async fn masked_types(
        &self,
        d: &DescribedAs,
        ctx: &Run,
    ) -> Result<BTreeMap<String, FlinkType>, EngineError> {
        match self.plan_masked(d, ctx).await {
            Ok(types) => Ok(types),
            Err(e) => {
                // The engine's message may quote the mask: for the log only.
                warn!(table = %d.table, error = %e, "the type of a column mask could not be computed");
                Err(EngineError::Plan(format!(
                    "Table {} has a column mask whose type could not be computed; the \
                     statement was refused. A security administrator must correct the data \
                     policies.",
                    d.table
                )))
            }
        }
    }

    async fn plan_masked(
        &self,
        d: &DescribedAs,
        ctx: &Run,
    ) -> Result<BTreeMap<String, FlinkType>, EngineError> {
        let state = self.session(ctx);
        let mut stmt = d.query.clone();
        rewrite::rewrite(&mut stmt)?;
        let plan = state
            .statement_to_plan(DfStatement::Statement(Box::new(stmt)))
            .await
            .map_err(plan_error)?;
        let chars = super::char_types::of_plan(&plan);
        let mut out = BTreeMap::new();
        for column in &d.masked {
            let field = plan
                .schema()
                .field_with_unqualified_name(column)
                .map_err(plan_error)?;
            let t = FlinkType::from_field(field).map_err(EngineError::Internal)?;
            // A literal mask is typed as a read of it is (`'t1'` is CHAR(2)).
            let kind = plan
                .schema()
                .index_of_column_by_name(None, column)
                .and_then(|i| chars.get(i).cloned().flatten());
            let t = super::char_types::narrowed(t, kind.as_ref());
            let nullable = field.is_nullable() || d.nullable.contains(column);
            out.insert(column.clone(), t.with_nullable(nullable));
        }
        Ok(out)
    }
}
