//! The DataFusion catalog objects of a Kafka-backed database: a schema provider whose tables
//! are the cluster's topics, and a table provider that scans one topic.
//!
//! Whether a scan is a bounded snapshot or an unbounded stream is decided per statement by
//! the [`ScanMode`] attached to the statement's session (none attached: a snapshot now).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::streaming::StreamingTableExec;

use super::topic_scan::{ScanMode, TopicScan};
use crate::kafka::cluster::{KafkaCluster, TopicTable};

/// The tables of a Kafka-backed database: one per (non-internal) topic.
#[derive(Debug)]
pub(crate) struct TopicSchemaProvider {
    cluster: Arc<KafkaCluster>,
    batch_size: usize,
}

impl TopicSchemaProvider {
    /// The provider of `cluster`'s topics; scans yield batches of up to `batch_size` rows.
    pub(crate) fn new(cluster: Arc<KafkaCluster>, batch_size: usize) -> Self {
        Self {
            cluster,
            batch_size,
        }
    }
}

#[async_trait]
impl SchemaProvider for TopicSchemaProvider {
    /// The topics last listed (listing itself goes through [`KafkaCluster::topics`]).
    fn table_names(&self) -> Vec<String> {
        self.cluster.known_topics().keys().cloned().collect()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let table = self
            .cluster
            .table(name)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(table.map(|table| {
            Arc::new(TopicTableProvider {
                cluster: self.cluster.clone(),
                table,
                batch_size: self.batch_size,
            }) as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.cluster.known_topics().contains_key(name)
    }
}

/// One topic as a table.
#[derive(Debug)]
pub(crate) struct TopicTableProvider {
    cluster: Arc<KafkaCluster>,
    table: Arc<TopicTable>,
    batch_size: usize,
}

#[async_trait]
impl TableProvider for TopicTableProvider {
    fn schema(&self) -> SchemaRef {
        self.table.codec.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let mode = state
            .config()
            .get_extension::<ScanMode>()
            .map(|m| *m)
            .unwrap_or_else(ScanMode::snapshot_now);
        let scan = TopicScan::new(
            self.cluster.clone(),
            self.table.clone(),
            mode,
            self.batch_size,
        )
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let exec = StreamingTableExec::try_new(
            self.schema(),
            vec![Arc::new(scan)],
            projection,
            Vec::new(),
            !mode.snapshot,
            limit,
        )?;
        Ok(Arc::new(exec))
    }
}
