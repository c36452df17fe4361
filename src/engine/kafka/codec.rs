//! Kafka records to Arrow batches and back. STUB: being written.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

use super::layout::{Record, SourceRecord, TableLayout};

/// Why records could not be decoded or encoded.
#[derive(thiserror::Error, Debug)]
pub enum CodecError {
    /// A record does not match the table's layout.
    #[error("record at partition {partition}, offset {offset}: {reason}")]
    Decode {
        /// Partition of the record.
        partition: i32,
        /// Offset of the record.
        offset: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// A row could not be encoded.
    #[error("cannot encode row: {0}")]
    Encode(String),
    /// The layout uses a type or format the codec does not handle.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// Decoder and encoder for one table layout.
#[derive(Debug)]
pub struct Codec {
    schema: SchemaRef,
}

impl Codec {
    /// Prepares the codec of `layout`.
    pub fn new(_layout: &TableLayout) -> Result<Self, CodecError> {
        Err(CodecError::Unsupported("not implemented".into()))
    }

    /// The table's Arrow schema: its columns, then `$rowtime`, `$partition`, `$offset`.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Decodes records into one batch of [`Codec::schema`].
    pub fn decode(&self, _records: &[SourceRecord<'_>]) -> Result<RecordBatch, CodecError> {
        Err(CodecError::Unsupported("not implemented".into()))
    }

    /// Encodes every row of `batch` (columns matched by name; metadata columns ignored except
    /// a non-null `$rowtime`, which becomes the record timestamp).
    pub fn encode(&self, _batch: &RecordBatch) -> Result<Vec<Record>, CodecError> {
        Err(CodecError::Unsupported("not implemented".into()))
    }
}
