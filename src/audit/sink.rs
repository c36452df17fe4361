//! Where audit records go, behind one trait: [`AuditSink`], implemented by the file log
//! ([`FileSink`]) and its Kafka replica ([`KafkaSink`]).
//!
//! Owns what the [`super::Auditor`] asks of every destination: for each record the chain made
//! durable, return once the destination holds it as firmly as it promises
//! ([`AuditSink::confirm`]); be ready at startup; close at shutdown. It does not own the chain
//! itself: [`FileSink::append`] gives each record its sequence number and hash and returns once
//! it is fsynced, and there is exactly one chain (a second appender would fork it), so
//! appending is the file sink's own method and the replica ships what the chain wrote.

use std::fmt;

use async_trait::async_trait;

use super::checkpoint::Reason;
use super::{AuditError, FileSink, KafkaSink};

/// A destination of the audit records.
#[async_trait]
pub trait AuditSink: fmt::Debug + Send + Sync {
    /// `file`, `kafka`: for logs.
    fn name(&self) -> &'static str;

    /// Whether the gateway refuses requests (503) when this sink does not take their records,
    /// and waits for it at startup.
    fn required(&self) -> bool;

    /// Returns once record `seq`, durable in the chain, is held by this sink as firmly as
    /// it promises: the file already has it on disk; the Kafka replica queues it, and when
    /// `required` waits for Kafka's acknowledgement.
    async fn confirm(&self, seq: u64) -> Result<(), AuditError>;

    /// Waits until the sink can take records (startup, for a required sink).
    async fn wait_ready(&self) -> Result<(), AuditError>;

    /// Graceful shutdown, after the drain. Never fails: problems are logged.
    async fn close(&self);
}

// === impl FileSink ===

#[async_trait]
impl AuditSink for FileSink {
    fn name(&self) -> &'static str {
        "file"
    }

    fn required(&self) -> bool {
        true
    }

    async fn confirm(&self, _seq: u64) -> Result<(), AuditError> {
        // `append` returned only after the fsync of the record.
        Ok(())
    }

    async fn wait_ready(&self) -> Result<(), AuditError> {
        Ok(())
    }

    /// A `shutdown` checkpoint of the chain head.
    async fn close(&self) {
        match self.checkpoint(Reason::Shutdown).await {
            Ok(Some(cp)) => {
                tracing::info!(target: "sqlgate::audit", seq = cp.seq, "audit log checkpointed at shutdown");
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(target: "sqlgate::audit", error = %e, "no shutdown checkpoint");
            }
        }
    }
}

// === impl KafkaSink ===

#[async_trait]
impl AuditSink for KafkaSink {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn required(&self) -> bool {
        KafkaSink::required(self)
    }

    async fn confirm(&self, seq: u64) -> Result<(), AuditError> {
        self.notify_durable(seq);
        if KafkaSink::required(self) {
            self.wait_delivered(seq).await?;
        }
        Ok(())
    }

    async fn wait_ready(&self) -> Result<(), AuditError> {
        self.wait_connected().await
    }

    /// A short wait for the shutdown checkpoint to reach Kafka.
    async fn close(&self) {
        self.flush_checkpoints().await;
    }
}
