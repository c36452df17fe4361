//! The task slots of each compute pool: who holds them and who waits for one, first come,
//! first served.
//!
//! Owns the ledger behind `compute_pools.max_slots` (sqlgate's analogue of Confluent's
//! `max_cfu`) and the bounded queue behind `compute_pools.max_pending`. A [`Slot`] is held by
//! the task that drives a statement's engine work and given back when it is dropped: then the
//! oldest waiter of the pool receives it directly, so a newcomer never overtakes a waiting
//! statement. A waiter that gives up (its statement was stopped or deleted) drops its
//! [`Ticket`], which leaves the queue; a slot handed to a ticket nobody reads any more goes on
//! to the next waiter. It decides nothing about which statements need a slot
//! ([`crate::pipeline`] does) and touches no store.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::config::ComputePoolConfig;

/// Slots one statement holds. Confluent does not let a client size a statement's CFUs, so
/// neither `sql.*` properties nor the statement change it.
pub const SLOTS_PER_STATEMENT: u32 = 1;

/// The pool is exhausted and its queue is full: the statement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "compute pool `{pool}` is exhausted: all {max_slots} of its task slots are in use \
     (compute_pools.max_slots) and {max_pending} statements already wait for one \
     (compute_pools.max_pending), so the statement was not accepted and nothing ran; retry \
     later, or stop or delete statements of the pool"
)]
pub struct QueueFull {
    /// The pool.
    pub pool: String,
    /// Its slots.
    pub max_slots: u32,
    /// Its queue's bound.
    pub max_pending: usize,
}

/// What [`PoolSlots::admit`] decided.
#[derive(Debug)]
pub enum Admission {
    /// A slot was free: the statement may run now.
    Granted(Slot),
    /// No slot is free: the statement waits in the pool's queue.
    Queued(Ticket),
    /// No slot is free and the queue is full.
    Full(QueueFull),
}

/// One pool's figures, for the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUsage {
    /// Pool id.
    pub pool: String,
    /// `max_slots`.
    pub max_slots: u32,
    /// Slots held now.
    pub in_use: u32,
    /// Statements holding slots now.
    pub holders: u32,
    /// Statements waiting for a slot.
    pub queued: usize,
}

#[derive(Debug)]
struct Waiter {
    uid: String,
    tx: oneshot::Sender<Slot>,
}

#[derive(Debug, Default)]
struct State {
    in_use: u32,
    holders: u32,
    queue: VecDeque<Waiter>,
}

#[derive(Debug)]
struct Pool {
    id: String,
    max_slots: u32,
    max_pending: usize,
    state: Mutex<State>,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change is a few counter and queue operations that cannot panic halfway.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Gives a slot back: to the oldest waiter still waiting, else to the pool.
    fn release(self: &Arc<Self>) {
        loop {
            let waiter = {
                let mut s = self.lock();
                match s.queue.pop_front() {
                    Some(w) => w,
                    None => {
                        s.in_use = s.in_use.saturating_sub(SLOTS_PER_STATEMENT);
                        s.holders = s.holders.saturating_sub(1);
                        return;
                    }
                }
            };
            // Sent outside the lock: a refused slot is disarmed here, never dropped armed.
            match waiter.tx.send(Slot::held(self.clone())) {
                Ok(()) => return,
                Err(mut unread) => unread.pool = None,
            }
        }
    }
}

/// Every configured pool's slots and queue.
#[derive(Debug)]
pub struct PoolSlots {
    pools: HashMap<String, Arc<Pool>>,
}

impl PoolSlots {
    /// The ledgers of `pools`, every slot free.
    pub fn new(pools: &[ComputePoolConfig]) -> Self {
        let pools = pools
            .iter()
            .map(|p| {
                let pool = Pool {
                    id: p.id.clone(),
                    max_slots: p.max_slots,
                    max_pending: p.max_pending,
                    state: Mutex::new(State::default()),
                };
                (p.id.clone(), Arc::new(pool))
            })
            .collect();
        Self { pools }
    }

    /// Takes a slot of `pool` for statement `uid`, or queues it, or refuses it when the queue
    /// is full. A pool that is not configured (placement refuses those) is not metered.
    ///
    /// ```
    /// use sqlgate::config::ComputePoolConfig;
    /// use sqlgate::statements::pool_slots::{Admission, PoolSlots};
    /// let pool = ComputePoolConfig { id: "p".into(), max_slots: 1, max_pending: 1, ..Default::default() };
    /// let slots = PoolSlots::new(&[pool]);
    /// let first = slots.admit("p", "a");
    /// assert!(matches!(first, Admission::Granted(_)));
    /// let second = slots.admit("p", "b"); // a ticket leaves the queue when dropped
    /// assert!(matches!(second, Admission::Queued(_)));
    /// assert!(matches!(slots.admit("p", "c"), Admission::Full(_)));
    /// drop(first); // the slot goes to the ticket of "b"
    /// assert_eq!(slots.usage()[0].in_use, 1);
    /// ```
    pub fn admit(&self, pool: &str, uid: &str) -> Admission {
        let Some(p) = self.pools.get(pool) else {
            return Admission::Granted(Slot { pool: None });
        };
        let mut s = p.lock();
        if s.in_use.saturating_add(SLOTS_PER_STATEMENT) <= p.max_slots {
            s.in_use += SLOTS_PER_STATEMENT;
            s.holders += 1;
            return Admission::Granted(Slot::held(p.clone()));
        }
        if s.queue.len() >= p.max_pending {
            return Admission::Full(QueueFull {
                pool: p.id.clone(),
                max_slots: p.max_slots,
                max_pending: p.max_pending,
            });
        }
        let (tx, rx) = oneshot::channel();
        s.queue.push_back(Waiter {
            uid: uid.to_string(),
            tx,
        });
        Admission::Queued(Ticket {
            pool: p.clone(),
            uid: uid.to_string(),
            rx,
        })
    }

    /// `max_slots` of `pool`, if it is configured.
    pub fn max_slots(&self, pool: &str) -> Option<u32> {
        self.pools.get(pool).map(|p| p.max_slots)
    }

    /// Every pool's figures now, by pool id.
    pub fn usage(&self) -> Vec<PoolUsage> {
        let mut v: Vec<PoolUsage> = self
            .pools
            .values()
            .map(|p| {
                let s = p.lock();
                PoolUsage {
                    pool: p.id.clone(),
                    max_slots: p.max_slots,
                    in_use: s.in_use,
                    holders: s.holders,
                    queued: s.queue.len(),
                }
            })
            .collect();
        v.sort_by(|a, b| a.pool.cmp(&b.pool));
        v
    }
}

/// A statement's place in a pool's queue. Dropping it leaves the queue.
#[derive(Debug)]
pub struct Ticket {
    pool: Arc<Pool>,
    uid: String,
    rx: oneshot::Receiver<Slot>,
}

impl Ticket {
    /// Waits for the slot (cancel-safe). `None` only when the pools are gone with the
    /// gateway.
    pub async fn granted(&mut self) -> Option<Slot> {
        (&mut self.rx).await.ok()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut s = self.pool.lock();
        s.queue.retain(|w| w.uid != self.uid);
        // A slot already sent to this ticket is dropped with `rx` after this, outside the
        // lock, and goes on to the next waiter.
    }
}

/// Task slots held by one statement; given back when dropped.
#[derive(Debug)]
#[must_use = "a slot is given back as soon as it is dropped"]
pub struct Slot {
    /// `None`: not metered (an unknown pool), or disarmed.
    pool: Option<Arc<Pool>>,
}

impl Slot {
    fn held(pool: Arc<Pool>) -> Self {
        Self { pool: Some(pool) }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(max_slots: u32, max_pending: usize) -> PoolSlots {
        PoolSlots::new(&[ComputePoolConfig {
            id: "p".into(),
            max_slots,
            max_pending,
            ..Default::default()
        }])
    }

    fn usage(s: &PoolSlots) -> (u32, usize) {
        let u = &s.usage()[0];
        (u.in_use, u.queued)
    }

    fn granted(a: Admission) -> Slot {
        match a {
            Admission::Granted(s) => s,
            other => panic!("expected a slot, got {other:?}"),
        }
    }

    fn queued(a: Admission) -> Ticket {
        match a {
            Admission::Queued(t) => t,
            other => panic!("expected a ticket, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn waiters_get_freed_slots_first_come_first_served() {
        let s = slots(1, 10);
        let first = granted(s.admit("p", "a"));
        let mut b = queued(s.admit("p", "b"));
        let mut c = queued(s.admit("p", "c"));
        assert_eq!(usage(&s), (1, 2));
        drop(first);
        let b_slot = b.granted().await.expect("b is first in line");
        assert_eq!(usage(&s), (1, 1), "handed over, not given back");
        assert!(matches!(
            c.rx.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        ));
        drop(b_slot);
        let c_slot = c.granted().await.expect("then c");
        drop(c_slot);
        assert_eq!(usage(&s), (0, 0));
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaves_the_queue_and_its_slot_goes_on() {
        let s = slots(1, 10);
        let first = granted(s.admit("p", "a"));
        let b = queued(s.admit("p", "b"));
        let c = queued(s.admit("p", "c"));
        drop(b);
        assert_eq!(usage(&s), (1, 1), "b left the queue");
        let mut d = queued(s.admit("p", "d"));
        drop(first);
        // The slot went to c (d is behind it); c gives up without reading it: on to d.
        drop(c);
        let d_slot = d.granted().await.expect("d gets the slot c never read");
        assert_eq!(usage(&s), (1, 0));
        drop(d_slot);
        assert_eq!(usage(&s), (0, 0));
    }

    #[tokio::test]
    async fn a_slot_sent_to_a_dropped_ticket_is_not_lost() {
        let s = slots(1, 10);
        let first = granted(s.admit("p", "a"));
        let b = queued(s.admit("p", "b"));
        drop(first);
        assert_eq!(usage(&s), (1, 0), "sent to b");
        drop(b);
        assert_eq!(usage(&s), (0, 0), "b never read it: back to the pool");
        let _again = granted(s.admit("p", "c"));
    }

    #[test]
    fn the_queue_is_bounded() {
        let s = slots(2, 1);
        let _a = granted(s.admit("p", "a"));
        let _b = granted(s.admit("p", "b"));
        let _c = queued(s.admit("p", "c"));
        match s.admit("p", "d") {
            Admission::Full(f) => {
                assert_eq!(f.max_slots, 2);
                assert!(
                    f.to_string().contains("compute pool `p` is exhausted"),
                    "{f}"
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(matches!(slots(1, 0).admit("p", "x"), Admission::Granted(_)));
    }

    #[test]
    fn an_unknown_pool_is_not_metered() {
        let s = slots(1, 0);
        let _a = granted(s.admit("other", "a"));
        let _b = granted(s.admit("other", "b"));
        assert_eq!(usage(&s), (0, 0));
    }
}
