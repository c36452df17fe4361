//! Reading a topic as a table: a bounded snapshot or an unbounded stream of Arrow batches.
//!
//! A snapshot reads each partition from its low watermark up to the high watermark taken when
//! the scan was planned: exactly the records that existed then. A partition is finished at
//! its last record below the watermark, at the first record at or past it (never returned:
//! record timestamps are the producer's and say nothing about when a record arrived), or at
//! the end of the partition (librdkafka's partition EOF, for a tail of transaction markers or
//! compacted-away records). A broker that under-reports its high watermark therefore gives a
//! shorter snapshot, never one with later records. A stream reads from the beginning and
//! keeps waiting for new records until the statement is stopped (its consumer goes when the
//! result stream is dropped).
//!
//! Avro records framed with another schema id than the table's are decoded with their writer
//! schema, looked up by id in the cluster's schema store once per scan and id.
//!
//! Records are read on a blocking thread by an assigned consumer (no group, no commits) and
//! handed to DataFusion through a small channel, so a slow reader slows the consumer down.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError as RdError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;

use crate::kafka::KafkaError;
use crate::kafka::cluster::{KafkaCluster, TopicTable};
use crate::kafka::codec::WriterSchemas;
use crate::kafka::layout::SourceRecord;
use crate::kafka::subjects::SchemaType;

/// Per-statement scan settings, attached to the DataFusion session of one statement.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScanMode {
    /// Bounded snapshot (`sql.snapshot.mode = now`, ending at each partition's high watermark as
    /// the scan starts) rather than an unbounded stream.
    pub snapshot: bool,
}

impl ScanMode {
    /// A snapshot starting now.
    pub(crate) fn snapshot_now() -> Self {
        Self { snapshot: true }
    }
}

/// How long a snapshot may go without any record or end-of-partition before it fails.
const STALL_FACTOR: u32 = 3;
/// How long one poll waits; also the longest a stream holds back a partial batch.
const POLL: Duration = Duration::from_millis(100);

/// One topic read as one DataFusion partition.
#[derive(Debug)]
pub(crate) struct TopicScan {
    cluster: Arc<KafkaCluster>,
    table: Arc<TopicTable>,
    schema: SchemaRef,
    /// Snapshot: `(low, high)` watermark of each partition at the start. Stream: `None`.
    bounds: Option<HashMap<i32, (i64, i64)>>,
    batch_size: usize,
}

impl TopicScan {
    /// Prepares a scan; a snapshot takes the partitions' watermarks now.
    pub(crate) async fn new(
        cluster: Arc<KafkaCluster>,
        table: Arc<TopicTable>,
        mode: ScanMode,
        batch_size: usize,
    ) -> Result<Self, KafkaError> {
        let bounds = if mode.snapshot {
            Some(cluster.watermarks(&table.topic).await?)
        } else {
            None
        };
        Ok(Self {
            schema: table.codec.schema(),
            cluster,
            table,
            bounds,
            batch_size: batch_size.max(1),
        })
    }
}

impl PartitionStream for TopicScan {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let (tx, rx) = mpsc::channel(2);
        let reader = Reader {
            cluster: self.cluster.clone(),
            table: self.table.clone(),
            bounds: self.bounds.clone(),
            batch_size: self.batch_size,
            tx,
        };
        tokio::task::spawn_blocking(move || reader.run());
        let batches =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), batches))
    }
}

type Sent = Result<RecordBatch, DataFusionError>;

struct Reader {
    cluster: Arc<KafkaCluster>,
    table: Arc<TopicTable>,
    bounds: Option<HashMap<i32, (i64, i64)>>,
    batch_size: usize,
    tx: mpsc::Sender<Sent>,
}

fn external(e: KafkaError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

impl Reader {
    fn run(self) {
        if let Err(e) = self.read() {
            let _ = self.tx.blocking_send(Err(external(e)));
        }
    }

    /// The partitions to read and where to start; a snapshot skips empty partitions.
    fn assignment(&self) -> Result<TopicPartitionList, KafkaError> {
        let mut tpl = TopicPartitionList::new();
        let topic = &self.table.topic.name;
        for p in &self.table.topic.partitions {
            let start = match &self.bounds {
                None => Offset::Beginning,
                Some(b) => match b.get(p) {
                    Some((low, high)) if high > low => Offset::Offset(*low),
                    _ => continue,
                },
            };
            tpl.add_partition_offset(topic, *p, start)
                .map_err(|e| KafkaError::Internal(e.to_string()))?;
        }
        Ok(tpl)
    }

    fn read(&self) -> Result<(), KafkaError> {
        let tpl = self.assignment()?;
        if tpl.count() == 0 {
            return Ok(());
        }
        let consumer: BaseConsumer = self
            .cluster
            .consumer_config()
            .create()
            .map_err(|e| self.cluster.unavailable(e))?;
        consumer
            .assign(&tpl)
            .map_err(|e| self.cluster.unavailable(e))?;
        let mut open: HashSet<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        let stall = self.cluster.config().request_timeout * STALL_FACTOR;
        let mut progress = Instant::now();
        let mut pending: Vec<BorrowedMessage<'_>> = Vec::new();
        let mut writers = WriterSchemas::new();
        loop {
            if self.tx.is_closed() {
                return Ok(());
            }
            match consumer.poll(POLL) {
                None => {
                    if !self.flush(&mut pending, &mut writers)? {
                        return Ok(());
                    }
                    if self.bounds.is_some() && progress.elapsed() > stall {
                        return Err(self.cluster.unavailable(format!(
                            "no records or end of partition for {stall:?} while reading topic {}",
                            self.table.topic.name
                        )));
                    }
                }
                Some(Ok(m)) => {
                    progress = Instant::now();
                    if let Some(bounds) = &self.bounds {
                        let p = m.partition();
                        if !open.contains(&p) {
                            continue;
                        }
                        let high = bounds.get(&p).map_or(0, |b| b.1);
                        if m.offset() >= high {
                            open.remove(&p);
                            if open.is_empty() {
                                self.flush(&mut pending, &mut writers)?;
                                return Ok(());
                            }
                            continue;
                        }
                        if m.offset() + 1 >= high {
                            // The partition's last record of the snapshot.
                            open.remove(&p);
                            pending.push(m);
                            if open.is_empty() {
                                self.flush(&mut pending, &mut writers)?;
                                return Ok(());
                            }
                            continue;
                        }
                    }
                    pending.push(m);
                    if pending.len() >= self.batch_size
                        && !self.flush(&mut pending, &mut writers)?
                    {
                        return Ok(());
                    }
                }
                Some(Err(RdError::PartitionEOF(p))) => {
                    progress = Instant::now();
                    if self.bounds.is_some() {
                        open.remove(&p);
                        if open.is_empty() {
                            self.flush(&mut pending, &mut writers)?;
                            return Ok(());
                        }
                    }
                }
                Some(Err(e)) => {
                    if self.bounds.is_some() {
                        return Err(self.cluster.unavailable(e));
                    }
                    // A stream rides out broker restarts: librdkafka reconnects by itself.
                    tracing::debug!(topic = %self.table.topic.name, error = %e, "stream consumer error");
                }
            }
        }
    }

    /// Decodes and sends the pending records; `false` when the reader has gone away.
    fn flush(
        &self,
        pending: &mut Vec<BorrowedMessage<'_>>,
        writers: &mut WriterSchemas,
    ) -> Result<bool, KafkaError> {
        if pending.is_empty() {
            return Ok(true);
        }
        let records: Vec<SourceRecord<'_>> = pending
            .iter()
            .map(|m| SourceRecord {
                key: m.key(),
                value: m.payload(),
                partition: m.partition(),
                offset: m.offset(),
                timestamp_ms: m.timestamp().to_millis(),
            })
            .collect();
        for id in self.table.codec.foreign_avro_ids(&records, writers) {
            if let Some(schema) = self.writer_schema(id)? {
                writers.insert(id, schema);
            }
        }
        let batch = self.table.codec.decode_with(&records, writers)?;
        drop(records);
        pending.clear();
        Ok(self.tx.blocking_send(Ok(batch)).is_ok())
    }

    /// The Avro schema with registry id `id` from the schema store (`None`: unknown there,
    /// or not Avro; the decoder then names the record). Runs on the scan's blocking thread.
    fn writer_schema(&self, id: u32) -> Result<Option<apache_avro::Schema>, KafkaError> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|e| KafkaError::Internal(format!("no runtime for the schema lookup: {e}")))?;
        let found = handle.block_on(self.cluster.subjects().schema_by_id(id))?;
        Ok(match found {
            Some((SchemaType::Avro, text)) => match apache_avro::Schema::parse_str(&text) {
                Ok(schema) => Some(schema),
                Err(e) => {
                    tracing::warn!(topic = %self.table.topic.name, id, error = %e, "unparsable Avro writer schema");
                    None
                }
            },
            _ => None,
        })
    }
}
