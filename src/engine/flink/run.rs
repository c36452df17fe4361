//! One statement on a Flink SQL Gateway: its session (declared tables, heartbeats, closed at
//! the end), its operation, its result pages as a row stream, and how it is stopped.
//!
//! - A query's rows come from the page loop (tokens only go forward; the gateway's own
//!   buffer serves pages to clients). Its end, failure, cancel or the stream's drop closes
//!   the operation and the session, which cancels its job.
//! - A start abandoned before it ended ([`StartGuard`] dropped) stops whatever it opened:
//!   the operation, the session, and a job it submitted (found from the operation's first
//!   page when the start had not read it yet).
//! - An `INSERT INTO … SELECT` (or statement set) is a job: its session is closed once the
//!   job is submitted (INSERT jobs outlive sessions), and its "rows" stream ends when the job
//!   does. Stopping it cancels the job on the JobManager and waits (bounded) until the
//!   JobManager reports it CANCELED.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::client::{CallError, Client};
use super::values;
use crate::engine::{Cancel, EngineError, ResultRow, RowStream};

/// How often a job's state is read while it runs.
const JOB_POLL: Duration = Duration::from_secs(1);
/// Result fetches retried after the gateway did not answer, before the statement fails.
const FETCH_RETRIES: u32 = 5;

/// A statement's session and operation, shared by its row stream and its cancel handle.
#[derive(Debug)]
pub(crate) struct Handle {
    client: Client,
    session: String,
    op: Mutex<Option<String>>,
    job: Mutex<Option<String>>,
    cancel_timeout: Duration,
    /// Stops the heartbeats.
    heartbeat: CancellationToken,
    session_closed: AtomicBool,
    stopped: AtomicBool,
}

impl Handle {
    /// Opens a session and starts its heartbeats.
    pub(crate) async fn open(
        client: &Client,
        name: &str,
        properties: &[(&str, String)],
        heartbeat: Duration,
        cancel_timeout: Duration,
    ) -> Result<Arc<Self>, CallError> {
        let session = client.open_session(name, properties).await?;
        debug!(session = %session, "Flink session opened");
        let h = Arc::new(Self {
            client: client.clone(),
            session,
            op: Mutex::new(None),
            job: Mutex::new(None),
            cancel_timeout,
            heartbeat: CancellationToken::new(),
            session_closed: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        });
        let (c, s, stop) = (h.client.clone(), h.session.clone(), h.heartbeat.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(heartbeat) => {}
                }
                if let Err(e) = c.heartbeat(&s).await {
                    warn!(session = %s, error = %e, "Flink session heartbeat failed");
                }
            }
        });
        Ok(h)
    }

    /// The session's handle.
    pub(crate) fn session(&self) -> &str {
        &self.session
    }

    /// Records the statement's operation (closed on stop).
    pub(crate) fn set_operation(&self, op: &str) {
        *self
            .op
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(op.to_string());
    }

    /// Records the statement's job (cancelled on stop).
    pub(crate) fn set_job(&self, job: &str) {
        *self
            .job
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(job.to_string());
    }

    fn job(&self) -> Option<String> {
        self.job
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn operation(&self) -> Option<String> {
        self.op
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether [`Self::stop`] was called.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Closes the session (idempotent); its queries' jobs end with it.
    pub(crate) async fn close_session(&self) {
        if self.session_closed.swap(true, Ordering::SeqCst) {
            return;
        }
        self.heartbeat.cancel();
        match self.client.close_session(&self.session).await {
            Ok(()) => debug!(session = %self.session, "Flink session closed"),
            Err(e) => warn!(session = %self.session, error = %e, "could not close a Flink session"),
        }
    }

    /// Closes the session on a task of its own (for `Drop` and sync callers).
    pub(crate) fn close_session_later(self: &Arc<Self>) {
        if self.session_closed.load(Ordering::SeqCst) {
            return;
        }
        let h = self.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { h.close_session().await });
        }
    }

    /// Stops the statement's work: cancels its job on the JobManager (and waits, bounded,
    /// until it is CANCELED), closes its operation and its session. Idempotent.
    pub(crate) async fn stop_now(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        // A start abandoned after its submission may not have learnt its job yet: the
        // operation's first page names it once the job is submitted.
        let job = match (self.job(), self.operation()) {
            (Some(job), _) => Some(job),
            (None, Some(op)) if !self.session_closed.load(Ordering::SeqCst) => self
                .client
                .fetch(&Client::first_page(&self.session, &op))
                .await
                .ok()
                .and_then(|p| p.job_id),
            (None, _) => None,
        };
        if let Some(job) = job {
            self.cancel_job(&job).await;
        }
        if let Some(op) = self.operation()
            && !self.session_closed.load(Ordering::SeqCst)
            && let Err(e) = self.client.close_operation(&self.session, &op).await
        {
            debug!(operation = %op, error = %e, "closing the Flink operation failed");
        }
        self.close_session().await;
    }

    async fn cancel_job(&self, job: &str) {
        match self.client.job_state(job).await {
            Ok(s) if is_terminal(&s) => return,
            _ => {}
        }
        if let Err(e) = self.client.cancel_job(job).await {
            warn!(job, error = %e, "could not cancel a Flink job");
            return;
        }
        let deadline = tokio::time::Instant::now() + self.cancel_timeout;
        while tokio::time::Instant::now() < deadline {
            match self.client.job_state(job).await {
                Ok(s) if is_terminal(&s) => {
                    debug!(job, state = %s, "Flink job ended after cancel");
                    return;
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        warn!(
            job,
            "a cancelled Flink job did not reach CANCELED within cancel_timeout"
        );
    }

    /// [`Self::stop_now`] on a task of its own.
    pub(crate) fn stop_later(self: &Arc<Self>) {
        if self.is_stopped() {
            return;
        }
        let h = self.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { h.stop_now().await });
        }
    }
}

/// Stops a statement's work if its start is abandoned (the future holding this is dropped
/// before [`StartGuard::disarm`]): a stop or DELETE while PENDING, or the gateway's shutdown.
#[derive(Debug)]
pub(crate) struct StartGuard(Option<Arc<Handle>>);

impl StartGuard {
    /// Guards the start of `handle`'s statement.
    pub(crate) fn new(handle: &Arc<Handle>) -> Self {
        Self(Some(handle.clone()))
    }

    /// The start ended (its execution, or its error path, owns the cleanup now).
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for StartGuard {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            debug!(session = %h.session, "start abandoned; stopping what it opened");
            h.stop_later();
        }
    }
}

/// Whether a JobManager job state is final.
pub(crate) fn is_terminal(state: &str) -> bool {
    matches!(state, "FINISHED" | "FAILED" | "CANCELED" | "SUSPENDED")
}

/// The cancel handle of a Flink statement.
#[derive(Debug)]
pub(crate) struct FlinkCancel(pub(crate) Arc<Handle>);

impl Cancel for FlinkCancel {
    fn cancel(&self) {
        self.0.stop_later();
    }
}

/// The page loop of a query.
struct QueryRows {
    handle: Arc<Handle>,
    next: Option<String>,
    pending: Vec<ResultRow>,
    decoder: values::Decoder,
    poll: Duration,
    done: bool,
}

impl Drop for QueryRows {
    fn drop(&mut self) {
        if !self.done {
            // Dropped before its end: the work stops with it.
            self.handle.stop_later();
        }
    }
}

impl QueryRows {
    fn end(&mut self) {
        self.done = true;
        self.next = None;
        self.handle.close_session_later();
    }

    async fn step(&mut self) -> Option<Result<Vec<ResultRow>, EngineError>> {
        let mut failures = 0;
        loop {
            if !self.pending.is_empty() {
                return Some(Ok(std::mem::take(&mut self.pending)));
            }
            let Some(uri) = self.next.clone() else {
                self.end();
                return None;
            };
            match self.handle.client.fetch(&uri).await {
                Ok(page) => {
                    failures = 0;
                    let eos = page.result_type == "EOS";
                    self.next = if eos { None } else { page.next };
                    let rows: Result<Vec<ResultRow>, String> =
                        page.data.iter().map(|r| self.decoder.row(r)).collect();
                    match rows {
                        Ok(r) if r.is_empty() && !eos => tokio::time::sleep(self.poll).await,
                        Ok(r) => self.pending = r,
                        Err(e) => {
                            self.end();
                            return Some(Err(EngineError::Internal(format!(
                                "a Flink result row could not be read: {e}"
                            ))));
                        }
                    }
                }
                Err(CallError::Unreachable(m)) if failures < FETCH_RETRIES => {
                    failures += 1;
                    debug!(error = %m, "result fetch failed; retrying the same token");
                    tokio::time::sleep(self.poll * 2).await;
                }
                Err(e) => {
                    let detail = match e {
                        CallError::Failed { root, .. } => root,
                        other => format!("the Flink SQL Gateway was lost ({other})"),
                    };
                    self.end();
                    return Some(Err(EngineError::Execution(detail)));
                }
            }
        }
    }
}

/// The rows of a query whose first page was `first` (already fetched), continuing at `next`.
pub(crate) fn query_rows(
    handle: Arc<Handle>,
    decoder: values::Decoder,
    first: Vec<ResultRow>,
    next: Option<String>,
    poll: Duration,
) -> RowStream {
    let state = QueryRows {
        handle,
        next,
        pending: first,
        decoder,
        poll,
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        let item = st.step().await?;
        Some((item, st))
    })
    .boxed()
}

/// Watches a job until it ends.
struct JobRows {
    handle: Arc<Handle>,
    job: String,
    done: bool,
}

impl Drop for JobRows {
    fn drop(&mut self) {
        if !self.done {
            self.handle.stop_later();
        }
    }
}

impl JobRows {
    async fn step(&mut self) -> Option<Result<Vec<ResultRow>, EngineError>> {
        if self.done {
            return None;
        }
        loop {
            match self.handle.client.job_state(&self.job).await {
                Ok(s) if s == "FINISHED" => {
                    self.done = true;
                    return None;
                }
                Ok(s) if s == "FAILED" => {
                    self.done = true;
                    let why = self
                        .handle
                        .client
                        .job_failure(&self.job)
                        .await
                        .unwrap_or_else(|| "the Flink job failed".into());
                    return Some(Err(EngineError::Execution(why)));
                }
                Ok(s) if is_terminal(&s) => {
                    self.done = true;
                    if self.handle.is_stopped() {
                        return None;
                    }
                    return Some(Err(EngineError::Execution(format!(
                        "the Flink job {} was {} outside sqlgate",
                        self.job,
                        s.to_lowercase()
                    ))));
                }
                Ok(_) => {}
                Err(e) => debug!(job = %self.job, error = %e, "job state unknown; asking again"),
            }
            tokio::time::sleep(JOB_POLL).await;
        }
    }
}

/// The (empty) rows of a job: the stream ends when the job does.
pub(crate) fn job_rows(handle: Arc<Handle>, job: String) -> RowStream {
    let state = JobRows {
        handle,
        job,
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        let item = st.step().await?;
        Some((item, st))
    })
    .boxed()
}
