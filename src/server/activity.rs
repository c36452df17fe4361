//! What one connection is doing, and when it has stopped making progress.
//!
//! Owns the per-connection record the accept loop's budget and the connection's watchdog
//! share: whether a complete request head has arrived yet, how many requests are being
//! handled or answered, and when a request last started or finished. Progress means requests,
//! not bytes: an HTTP/2 peer that only answers PINGs, or a client that stops reading a
//! response, makes none. It does not close anything itself (that is `conn`).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Why a connection should be closed although nothing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stall {
    /// No complete request head within `first_request_timeout` of accept.
    NoRequest,
    /// Nothing handled and no request started or finished for `idle_timeout`.
    Idle,
    /// The gateway was full and this connection, idle or not yet used, gave way.
    Evicted,
}

/// One connection's activity.
#[derive(Debug)]
pub(crate) struct Activity {
    accepted: Instant,
    /// A complete request head has arrived (the first-request deadline no longer applies).
    served: AtomicBool,
    /// Requests whose handler is running: waiting on us, not on the peer.
    handling: AtomicUsize,
    /// Requests not finished: being handled, or their response not yet handed off whole.
    open: AtomicUsize,
    /// When a request last started, was answered or finished (accept, before the first one).
    last_progress: Mutex<Instant>,
    /// Wakes the watchdog when any of the above changes.
    changed: Notify,
    /// Cancelled when the budget takes this connection's slot for a newcomer.
    evicted: CancellationToken,
}

impl Activity {
    /// A connection accepted at `now`.
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            accepted: now,
            served: AtomicBool::new(false),
            handling: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            last_progress: Mutex::new(now),
            changed: Notify::new(),
            evicted: CancellationToken::new(),
        }
    }

    /// Whether a complete request head has arrived.
    pub(crate) fn served(&self) -> bool {
        self.served.load(Ordering::SeqCst)
    }

    /// Whether the connection could give way to a newcomer: never used, or nothing open.
    pub(crate) fn evictable(&self) -> bool {
        !self.evicted.is_cancelled() && (!self.served() || self.open.load(Ordering::SeqCst) == 0)
    }

    /// Eviction order: never-used connections first, then the longest without progress.
    pub(crate) fn eviction_rank(&self) -> (bool, Instant) {
        (self.served(), self.last_progress())
    }

    /// Asks the connection to close (its watchdog answers [`Stall::Evicted`]).
    pub(crate) fn evict(&self) {
        self.evicted.cancel();
    }

    fn last_progress(&self) -> Instant {
        *self
            .last_progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn progress(&self) {
        *self
            .last_progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.changed.notify_one();
    }

    /// A complete request head arrived; the guard tracks the request until its response is
    /// handed off (or the request is dropped).
    pub(crate) fn begin_request(self: &Arc<Self>) -> RequestGuard {
        self.served.store(true, Ordering::SeqCst);
        self.handling.fetch_add(1, Ordering::SeqCst);
        self.open.fetch_add(1, Ordering::SeqCst);
        self.progress();
        RequestGuard {
            activity: self.clone(),
            handling: true,
        }
    }

    /// Completes when the connection should be closed: no request head within
    /// `first_request` of accept, or no handler running and no progress for `idle`, or
    /// evicted. While a handler runs, no deadline applies here (body reads have their own).
    pub(crate) async fn stalled(&self, first_request: Duration, idle: Duration) -> Stall {
        loop {
            let (deadline, why) = if !self.served() {
                (Some(self.accepted + first_request), Stall::NoRequest)
            } else if self.handling.load(Ordering::SeqCst) == 0 {
                (Some(self.last_progress() + idle), Stall::Idle)
            } else {
                (None, Stall::Idle)
            };
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return why;
            }
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.evicted.cancelled() => return Stall::Evicted,
                _ = self.changed.notified() => {}
                _ = sleep => {}
            }
        }
    }
}

/// One request on a connection, from its complete head until its response is handed off.
#[derive(Debug)]
pub(crate) struct RequestGuard {
    activity: Arc<Activity>,
    handling: bool,
}

impl RequestGuard {
    /// The handler returned (progress); what remains is sending the response, which goes at
    /// the peer's pace.
    pub(crate) fn responded(mut self) -> Self {
        if self.handling {
            self.handling = false;
            self.activity.handling.fetch_sub(1, Ordering::SeqCst);
            self.activity.progress();
        }
        self
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if self.handling {
            self.activity.handling.fetch_sub(1, Ordering::SeqCst);
        }
        self.activity.open.fetch_sub(1, Ordering::SeqCst);
        self.activity.progress();
    }
}

/// A response body that holds its request open until hyper has taken all of it.
#[derive(Debug)]
pub(crate) struct TrackedBody<B> {
    inner: B,
    _request: RequestGuard,
}

impl<B> TrackedBody<B> {
    /// Wraps `inner`; the request ends when this is dropped.
    pub(crate) fn new(inner: B, request: RequestGuard) -> Self {
        Self {
            inner,
            _request: request.responded(),
        }
    }
}

impl<B> Body for TrackedBody<B>
where
    B: Body<Data = Bytes, Error = Infallible> + Unpin,
{
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    //! Paused tokio time (`start_paused`): the clock moves only when every task waits, straight
    //! to the next timer, so each deadline is asserted exactly (neither early nor late) with
    //! the gateway's real durations and no wall-clock wait; the bound on each wait only proves
    //! there is no hang.
    use super::*;

    const FIRST: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(60);
    const NO_HANG: Duration = Duration::from_secs(3600);

    async fn stall_of(a: &Activity) -> (Stall, Duration) {
        let start = Instant::now();
        let why = tokio::time::timeout(NO_HANG, a.stalled(FIRST, IDLE))
            .await
            .expect("the watchdog never fired");
        (why, start.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_without_a_request_stalls_at_the_first_request_deadline() {
        let a = Activity::new(Instant::now());
        let (why, after) = stall_of(&a).await;
        assert_eq!(why, Stall::NoRequest);
        assert_eq!(after, FIRST);
    }

    #[tokio::test(start_paused = true)]
    async fn a_running_handler_holds_off_the_deadlines_and_idle_counts_from_the_answer() {
        let a = Arc::new(Activity::new(Instant::now()));
        let req = a.begin_request();
        let watch = {
            let a = a.clone();
            tokio::spawn(async move { stall_of(&a).await })
        };
        // Well past both deadlines while the handler runs: nothing fires.
        tokio::time::sleep(FIRST + IDLE * 2).await;
        assert!(!watch.is_finished());
        // The answer is with the peer now: a peer that never takes it is closed once the idle
        // time has passed since the answer.
        let body = TrackedBody::new(http_body_util::Full::new(Bytes::new()), req);
        let (why, after) = watch.await.unwrap();
        assert_eq!(why, Stall::Idle);
        assert_eq!(after, FIRST + IDLE * 3);
        drop(body);
        let (why, after) = stall_of(&a).await;
        assert_eq!(why, Stall::Idle);
        assert_eq!(after, IDLE, "idle counts from the end of the request");
    }

    #[tokio::test(start_paused = true)]
    async fn eviction_wakes_the_watchdog_and_only_idle_or_unused_connections_are_evictable() {
        let a = Arc::new(Activity::new(Instant::now()));
        assert!(a.evictable());
        let req = a.begin_request();
        assert!(!a.evictable());
        drop(req);
        assert!(a.evictable());
        assert!(a.eviction_rank().0);
        a.evict();
        assert!(!a.evictable());
        let (why, _) = stall_of(&a).await;
        assert_eq!(why, Stall::Evicted);
    }
}
