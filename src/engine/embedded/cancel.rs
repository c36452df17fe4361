//! Stopping a running statement: the embedded engine's [`Cancel`] handle and the plan node
//! that makes it reach every operator.
//!
//! DataFusion runs CPU-bound operators on the tokio worker that polls them, and the partitions
//! of a plan on tasks of their own. Dropping the result stream aborts those tasks only at their
//! next yield point, and an operator working from batches it already holds (a join expanding
//! its build side, an aggregate draining it) may not yield for many seconds. So every node of
//! a statement's physical plan is wrapped in a [`CancelExec`] that checks the statement's token
//! before each batch: once the statement is stopped, the next batch any operator asks for is
//! an error instead, and the work ends within one batch of the token being cancelled, on
//! every task and every partition.
//!
//! Owns the token's lifecycle: [`Stop::cancel`] (the handle in
//! [`crate::engine::Execution::cancel`]) and dropping the statement's row stream both cancel
//! it.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::{
    ChildStats, DisplayAs, DisplayFormatType, ExecutionPlan, PhysicalExpr, PlanProperties,
    RecordBatchStream, SendableRecordBatchStream, Statistics, StatisticsArgs,
};
use futures::stream::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::engine::{Cancel, EngineError, RowStream};

/// What an operator of a stopped statement gets instead of its next batch.
pub(crate) const STOPPED: &str = "the statement was stopped";

/// The cancel handle of one statement: a token its plan's [`CancelExec`] nodes check.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stop(CancellationToken);

impl Stop {
    /// A handle for a new statement, not cancelled.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// `plan` with a [`CancelExec`] above every node, all checking this handle's token.
    pub(crate) fn guard_plan(
        &self,
        plan: Arc<dyn ExecutionPlan>,
    ) -> Result<Arc<dyn ExecutionPlan>, EngineError> {
        plan.transform_up(|node| {
            let wrapped: Arc<dyn ExecutionPlan> = Arc::new(CancelExec::new(node, self.0.clone()));
            Ok(Transformed::yes(wrapped))
        })
        .map(|t| t.data)
        .map_err(|e| EngineError::Internal(format!("could not make the plan stoppable: {e}")))
    }

    /// `rows`, cancelling the token when the stream is dropped (whether it ended or not), so
    /// work spawned for it never outlives its reader.
    pub(crate) fn guard_rows(&self, rows: RowStream) -> RowStream {
        let guard = self.0.clone().drop_guard();
        rows.map(move |r| {
            let _alive = &guard;
            r
        })
        .boxed()
    }

    /// Whether the statement was stopped.
    #[cfg(test)]
    pub(crate) fn is_stopped(&self) -> bool {
        self.0.is_cancelled()
    }
}

impl Cancel for Stop {
    /// Cancels the token; every operator stops at its next batch.
    fn cancel(&self) {
        self.0.cancel();
    }
}

// === impl CancelExec ===

/// A plan node that passes its input's batches through until the statement is stopped, and
/// fails the next one after that (see the module doc). It is invisible otherwise: same
/// properties, statistics and downcast identity as its input.
pub(crate) struct CancelExec {
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
    token: CancellationToken,
}

impl CancelExec {
    fn new(input: Arc<dyn ExecutionPlan>, token: CancellationToken) -> Self {
        Self {
            properties: input.properties().clone(),
            input,
            token,
        }
    }
}

impl fmt::Debug for CancelExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelExec")
            .field("input", &self.input.name())
            .field("stopped", &self.token.is_cancelled())
            .finish()
    }
}

impl DisplayAs for CancelExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CancelExec")
    }
}

impl ExecutionPlan for CancelExec {
    fn name(&self) -> &str {
        "CancelExec"
    }

    fn downcast_delegate(&self) -> Option<&dyn ExecutionPlan> {
        Some(self.input.as_ref())
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return Err(DataFusionError::Internal(format!(
                "CancelExec has one child, not {}",
                children.len()
            )));
        }
        let input = children.swap_remove(0);
        Ok(Arc::new(match options.children_properties {
            ChildrenPropertiesMode::Keep => Self {
                input,
                properties: self.properties.clone(),
                token: self.token.clone(),
            },
            ChildrenPropertiesMode::Recompute => Self::new(input, self.token.clone()),
        }))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        if self.token.is_cancelled() {
            return Err(DataFusionError::Execution(STOPPED.into()));
        }
        Ok(Box::pin(CancelStream {
            schema: self.input.schema(),
            inner: self.input.execute(partition, context)?,
            token: self.token.clone(),
            done: false,
        }))
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> DfResult<Arc<Statistics>> {
        match input_stats.first() {
            Some(s) => Ok(s.clone()),
            None => Ok(Arc::new(Statistics::new_unknown(&self.schema()))),
        }
    }

    #[expect(deprecated, reason = "operators may still ask their children directly")]
    fn partition_statistics(&self, partition: Option<usize>) -> DfResult<Arc<Statistics>> {
        self.input.partition_statistics(partition)
    }
}

/// The stream of one partition of a [`CancelExec`].
struct CancelStream {
    schema: SchemaRef,
    inner: SendableRecordBatchStream,
    token: CancellationToken,
    /// The stop error was returned; nothing follows it.
    done: bool,
}

impl Stream for CancelStream {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.token.is_cancelled() {
            self.done = true;
            return Poll::Ready(Some(Err(DataFusionError::Execution(STOPPED.into()))));
        }
        self.inner.poll_next_unpin(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl RecordBatchStream for CancelStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;
    use futures::TryStreamExt;

    /// A stopped plan fails at its next batch, however deep the operator asking is.
    #[tokio::test]
    async fn a_stopped_plan_fails_at_its_next_batch() {
        let ctx = SessionContext::new();
        let df = ctx
            .sql("SELECT a.x + b.x FROM (VALUES (1), (2)) a(x) CROSS JOIN (VALUES (3)) b(x)")
            .await
            .unwrap();
        let plan = df.create_physical_plan().await.unwrap();
        let stop = Stop::new();
        let guarded = stop.guard_plan(plan.clone()).unwrap();
        let mut wrapped = 0;
        guarded
            .apply(|n| {
                if n.name() == "CancelExec" {
                    wrapped += 1;
                }
                Ok(TreeNodeRecursion::Continue)
            })
            .unwrap();
        let mut nodes = 0;
        plan.apply(|_| {
            nodes += 1;
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        assert_eq!(wrapped, nodes, "every node is wrapped once");

        let rows: Vec<RecordBatch> =
            datafusion::physical_plan::execute_stream(guarded.clone(), ctx.task_ctx())
                .unwrap()
                .try_collect()
                .await
                .unwrap();
        assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 2);

        stop.cancel();
        assert!(stop.is_stopped());
        let err = match datafusion::physical_plan::execute_stream(guarded, ctx.task_ctx()) {
            Err(e) => e,
            Ok(s) => s
                .try_collect::<Vec<RecordBatch>>()
                .await
                .expect_err("a stopped plan yields no batch"),
        };
        assert!(err.to_string().contains(STOPPED), "{err}");
    }

    /// Dropping the row stream cancels the statement.
    #[tokio::test]
    async fn dropping_the_rows_stops_the_statement() {
        let stop = Stop::new();
        let rows = stop.guard_rows(futures::stream::pending().boxed());
        assert!(!stop.is_stopped());
        drop(rows);
        assert!(stop.is_stopped());
    }
}
