//! A statement's result rows between the engine task that produces them and the clients that
//! page through them.
//!
//! Rows are kept from the oldest page a client may still re-request up to what the engine has
//! produced, and no more than `capacity` of them: when the buffer is full the producer waits,
//! so a client that reads slowly slows the engine down instead of growing memory. Page tokens
//! are absolute row offsets; asking for offset `n` tells us every row before `n` was received
//! (the client only asks for a page after it has the previous one), so those are dropped.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Mutex, Notify};

/// Why a page could not be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// The token names rows that were already released (an old page asked for again after a
    /// newer one was served) or rows not produced yet beyond the next page.
    #[error("page token {0} is not valid for this statement's results")]
    BadToken(u64),
}

/// One page of rows and whether more may follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Encoded rows, each `{"op":0,"row":[...]}`.
    pub rows: Vec<Value>,
    /// Offset of the next page, or `None` when the results are complete and all were served.
    pub next: Option<u64>,
}

#[derive(Debug, Default)]
struct Inner {
    rows: VecDeque<Value>,
    /// Absolute offset of `rows[0]`.
    base: u64,
    /// The producer has finished (successfully or not).
    done: bool,
}

/// The bounded row buffer of one statement.
#[derive(Debug)]
pub struct ResultBuffer {
    inner: Mutex<Inner>,
    /// Rows kept at most; the producer waits above it.
    capacity: usize,
    /// Signalled when rows are added or the producer finishes (wakes readers).
    produced: Notify,
    /// Signalled when rows are released (wakes the producer).
    consumed: Notify,
}

impl ResultBuffer {
    /// An empty buffer holding at most `capacity` rows.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
            produced: Notify::new(),
            consumed: Notify::new(),
        }
    }

    /// Appends rows, waiting while the buffer is full.
    pub async fn push(&self, rows: Vec<Value>) {
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let consumed = self.consumed.notified();
            {
                let mut inner = self.inner.lock().await;
                let room = self.capacity.saturating_sub(inner.rows.len());
                inner.rows.extend(rows.by_ref().take(room));
                if room > 0 {
                    self.produced.notify_waiters();
                }
                if rows.peek().is_none() {
                    return;
                }
            }
            consumed.await;
        }
    }

    /// Marks the results complete; readers get `next: None` once they have every row.
    pub async fn finish(&self) {
        self.inner.lock().await.done = true;
        self.produced.notify_waiters();
    }

    /// Serves up to `max_rows` rows from offset `from`, waiting up to `wait` for rows when none
    /// are buffered yet and the producer is still running.
    pub async fn page(
        &self,
        from: u64,
        max_rows: usize,
        wait: Duration,
    ) -> Result<Page, PageError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let produced = self.produced.notified();
            {
                let mut inner = self.inner.lock().await;
                let end = inner.base + inner.rows.len() as u64;
                if from < inner.base || from > end {
                    return Err(PageError::BadToken(from));
                }
                let released = (from - inner.base) as usize;
                if released > 0 {
                    inner.rows.drain(..released);
                    inner.base = from;
                    self.consumed.notify_waiters();
                }
                if !inner.rows.is_empty() || inner.done || tokio::time::Instant::now() >= deadline {
                    let rows: Vec<Value> = inner.rows.iter().take(max_rows).cloned().collect();
                    let after = from + rows.len() as u64;
                    let complete = inner.done && after == inner.base + inner.rows.len() as u64;
                    return Ok(Page {
                        rows,
                        next: (!complete).then_some(after),
                    });
                }
            }
            let _ = tokio::time::timeout_at(deadline, produced).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn rows(range: std::ops::Range<u64>) -> Vec<Value> {
        range
            .map(|i| json!({"op": 0, "row": [i.to_string()]}))
            .collect()
    }

    #[tokio::test]
    async fn pages_follow_offsets_and_end_when_done() {
        let b = ResultBuffer::new(100);
        b.push(rows(0..5)).await;
        b.finish().await;
        let p = b.page(0, 3, Duration::ZERO).await.unwrap();
        assert_eq!(p.rows, rows(0..3));
        assert_eq!(p.next, Some(3));
        let p = b.page(3, 3, Duration::ZERO).await.unwrap();
        assert_eq!(p.rows, rows(3..5));
        assert_eq!(p.next, None);
    }

    #[tokio::test]
    async fn a_page_can_be_fetched_again_until_the_next_one_is_asked_for() {
        let b = ResultBuffer::new(100);
        b.push(rows(0..4)).await;
        b.finish().await;
        assert_eq!(b.page(0, 2, Duration::ZERO).await.unwrap().rows, rows(0..2));
        assert_eq!(b.page(0, 2, Duration::ZERO).await.unwrap().rows, rows(0..2));
        assert_eq!(b.page(2, 2, Duration::ZERO).await.unwrap().rows, rows(2..4));
        assert_eq!(
            b.page(0, 2, Duration::ZERO).await,
            Err(PageError::BadToken(0))
        );
        assert_eq!(
            b.page(9, 2, Duration::ZERO).await,
            Err(PageError::BadToken(9))
        );
    }

    #[tokio::test]
    async fn a_full_buffer_blocks_the_producer_until_rows_are_read() {
        let b = Arc::new(ResultBuffer::new(3));
        let producer = {
            let b = b.clone();
            tokio::spawn(async move {
                b.push(rows(0..7)).await;
                b.finish().await;
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!producer.is_finished(), "producer must wait for room");
        let mut got = Vec::new();
        let mut from = 0;
        loop {
            let p = b.page(from, 2, Duration::from_secs(1)).await.unwrap();
            got.extend(p.rows.clone());
            match p.next {
                Some(n) => from = n,
                None => break,
            }
        }
        producer.await.unwrap();
        assert_eq!(got, rows(0..7));
    }

    #[tokio::test]
    async fn an_empty_running_buffer_answers_after_the_wait_with_a_next_token() {
        let b = ResultBuffer::new(3);
        let p = b.page(0, 2, Duration::from_millis(10)).await.unwrap();
        assert!(p.rows.is_empty());
        assert_eq!(p.next, Some(0));
    }
}
