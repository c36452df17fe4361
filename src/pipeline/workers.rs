//! The decision workers: a fixed set of OS threads, with stacks sized for the SQL bounds, on
//! which the synchronous stages (parse, resolve, authorize, rewrite, redaction) run.
//!
//! Owns the pool's size, the stack size, the bounded queue in front of it and the deadline of
//! each job. The async workers never run those stages themselves, so a statement that is slow
//! to analyse cannot stall unrelated requests (the runtime has one async worker per core), and a
//! deep (but bounded, see [`crate::sql::bounds`]) syntax tree is walked on a stack meant for it.
//! A full queue is refused at once (`503`), and a job that does not finish within the deadline
//! is answered with an error while its thread finishes on its own: parsing cannot be
//! interrupted, which is why the bounds, not the deadline, are what keeps each job short.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tracing::error;

/// The `[pipeline]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Decision worker threads (default 0: one per core).
    pub workers: usize,
    /// Stack size of each worker thread in bytes (default 64 MiB). Only the pages a walk
    /// touches are committed; the size is what lets a tree at `sql.max_depth` be cloned,
    /// rendered and dropped.
    pub worker_stack_bytes: usize,
    /// Stack size of the async runtime's worker threads in bytes (default 32 MiB), where the
    /// engine plans, renders and drops the statements the decision workers produced; sized,
    /// like `worker_stack_bytes`, for a tree at `sql.max_depth` (only touched pages are
    /// committed).
    pub async_stack_bytes: usize,
    /// Statements waiting for a worker at most (default 256); more get `503` at once.
    pub queue: usize,
    /// A statement's analysis must finish within this (default 10 s), counted from its
    /// arrival at the queue; otherwise the request gets `503 sql.deadline_exceeded` and nothing
    /// runs.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
    /// The granted decisions kept to be answered again (`[pipeline.decision_memo]`).
    pub decision_memo: super::MemoConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            workers: 0,
            worker_stack_bytes: 64 * 1024 * 1024,
            async_stack_bytes: 32 * 1024 * 1024,
            queue: 256,
            deadline: Duration::from_secs(10),
            decision_memo: super::MemoConfig::default(),
        }
    }
}

/// Why a job did not produce its result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkerError {
    /// The queue is full.
    #[error("all {workers} decision workers are busy and {queue} statements are waiting")]
    Busy {
        /// Worker threads.
        workers: usize,
        /// Queue length.
        queue: usize,
    },
    /// The job did not finish in time.
    #[error("the statement's analysis did not finish within {0:?}")]
    Deadline(Duration),
    /// The job panicked (a bug), or the pool is gone.
    #[error("the decision worker failed")]
    Failed,
}

type Job = Box<dyn FnOnce() + Send>;

/// The pool (see the module doc). Cloning shares it.
#[derive(Clone)]
pub struct Workers {
    tx: SyncSender<Job>,
    workers: usize,
    queue: usize,
    deadline: Duration,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("workers", &self.workers)
            .field("queue", &self.queue)
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Workers {
    /// Starts the threads. They end when the last [`Workers`] clone is dropped.
    pub fn start(cfg: &PipelineConfig) -> std::io::Result<Self> {
        let workers = match cfg.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let (tx, rx) = mpsc::sync_channel::<Job>(cfg.queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("sqlgate-decide-{i}"))
                .stack_size(cfg.worker_stack_bytes)
                .spawn(move || {
                    loop {
                        // One receiver shared by all threads; the lock is held only while
                        // waiting for the next job, never while running one.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(Self {
            tx,
            workers,
            queue: cfg.queue,
            deadline: cfg.deadline,
        })
    }

    /// Runs `f` on a worker and waits for its result, at most until the deadline.
    pub async fn run<T, F>(&self, f: F) -> Result<T, WorkerError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            match catch_unwind(AssertUnwindSafe(f)) {
                Ok(value) => {
                    // The requester may have given up (deadline, disconnect): nobody to tell.
                    let _ = done.send(value);
                }
                Err(_) => error!("a decision worker job panicked; the request gets a 500"),
            }
        });
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(WorkerError::Busy {
                    workers: self.workers,
                    queue: self.queue,
                });
            }
            Err(TrySendError::Disconnected(_)) => return Err(WorkerError::Failed),
        }
        match tokio::time::timeout(self.deadline, result).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(WorkerError::Failed),
            Err(_) => Err(WorkerError::Deadline(self.deadline)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(workers: usize, queue: usize, deadline: Duration) -> Workers {
        Workers::start(&PipelineConfig {
            workers,
            worker_stack_bytes: 1024 * 1024,
            async_stack_bytes: 2 * 1024 * 1024,
            queue,
            deadline,
            ..PipelineConfig::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_job_runs_on_a_worker_thread_and_returns_its_value() {
        let w = pool(1, 4, Duration::from_secs(5));
        let name = w
            .run(|| std::thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("sqlgate-decide-0"));
    }

    #[tokio::test]
    async fn a_panicking_job_fails_and_the_worker_survives() {
        let w = pool(1, 4, Duration::from_secs(5));
        assert_eq!(
            w.run(|| -> u8 { panic!("bug") }).await,
            Err(WorkerError::Failed)
        );
        assert_eq!(w.run(|| 7).await, Ok(7));
    }

    #[tokio::test]
    async fn a_slow_job_passes_its_deadline_and_a_full_queue_refuses_at_once() {
        let w = pool(1, 1, Duration::from_millis(200));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let blocked = {
            let w = w.clone();
            tokio::spawn(async move {
                w.run(move || {
                    let _ = wait.recv_timeout(Duration::from_secs(10));
                })
                .await
            })
        };
        // Let the first job reach the worker, then fill the one queue slot.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let queued = {
            let w = w.clone();
            tokio::spawn(async move { w.run(|| 1).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(matches!(w.run(|| 2).await, Err(WorkerError::Busy { .. })));
        assert_eq!(
            blocked.await.unwrap(),
            Err(WorkerError::Deadline(Duration::from_millis(200)))
        );
        release.send(()).unwrap();
        // The queued job waited past its deadline too; the pool then serves new work.
        assert!(matches!(
            queued.await.unwrap(),
            Err(WorkerError::Deadline(_)) | Ok(1)
        ));
        assert_eq!(w.run(|| 3).await, Ok(3));
    }
}
