//! The connection budget: how many connections are open, in total and per peer, and which
//! one gives way when the gateway is full.
//!
//! Owns admission right after accept. Nothing waits for a slot: a connection over its peer's
//! share is refused at once; when every slot is taken, the open connection that has never
//! sent a request (or has been idle longest) is evicted for the newcomer, and only when all
//! are busy is the newcomer refused. So silent connections cannot lock anyone out, and they
//! die at the first-request deadline anyway. It knows nothing about TLS or HTTP.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::time::Instant;

use super::activity::Activity;

/// Whose share a connection counts against: an IPv4 address, or an IPv6 /64 (one host
/// usually holds a whole /64, so single IPv6 addresses would be no limit at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PeerKey {
    /// An IPv4 peer (IPv4-mapped IPv6 addresses included).
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 peer.
    V6([u16; 4]),
}

impl PeerKey {
    /// The key `ip` counts against.
    pub(crate) fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => PeerKey::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => PeerKey::V4(v4),
                None => {
                    let s = v6.segments();
                    PeerKey::V6([s[0], s[1], s[2], s[3]])
                }
            },
        }
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// The peer already holds its share.
    #[error("the peer already holds its share of {share} connections")]
    PeerShare {
        /// The share.
        share: usize,
    },
    /// Every slot is taken by a connection with a request in progress.
    #[error("all {max} connections are busy")]
    Full {
        /// `server.max_connections`.
        max: usize,
    },
}

impl Refusal {
    /// A metrics label.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Refusal::PeerShare { .. } => "peer_share",
            Refusal::Full { .. } => "full",
        }
    }
}

/// Open connections against the limits.
#[derive(Debug)]
pub(crate) struct Budget {
    max: usize,
    per_peer: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    open: HashMap<u64, (PeerKey, Arc<Activity>)>,
    peers: HashMap<PeerKey, usize>,
    next_id: u64,
}

impl State {
    fn release(&mut self, id: u64) {
        if let Some((key, _)) = self.open.remove(&id)
            && let Some(n) = self.peers.get_mut(&key)
        {
            *n -= 1;
            if *n == 0 {
                self.peers.remove(&key);
            }
        }
    }
}

/// A connection's place in the budget; released when dropped (or when evicted).
#[derive(Debug)]
pub(crate) struct Slot {
    budget: Arc<Budget>,
    id: u64,
    activity: Arc<Activity>,
}

impl Slot {
    /// The connection's activity record.
    pub(crate) fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.budget.lock().release(self.id);
    }
}

impl Budget {
    /// At most `max` connections, `per_peer` of them from one peer.
    pub(crate) fn new(max: usize, per_peer: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            per_peer,
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a connection from `peer` accepted at `now`, evicting an idle or unused one if
    /// every slot is taken. Linear in the open connections only when the gateway is full.
    pub(crate) fn admit(self: &Arc<Self>, peer: IpAddr, now: Instant) -> Result<Slot, Refusal> {
        let key = PeerKey::of(peer);
        let mut st = self.lock();
        if st.peers.get(&key).copied().unwrap_or(0) >= self.per_peer {
            return Err(Refusal::PeerShare {
                share: self.per_peer,
            });
        }
        if st.open.len() >= self.max {
            let victim = st
                .open
                .iter()
                .filter(|(_, (_, a))| a.evictable())
                .min_by_key(|(id, (_, a))| (a.eviction_rank(), **id))
                .map(|(id, (_, a))| (*id, a.clone()));
            let Some((id, activity)) = victim else {
                return Err(Refusal::Full { max: self.max });
            };
            st.release(id);
            activity.evict();
        }
        let id = st.next_id;
        st.next_id += 1;
        let activity = Arc::new(Activity::new(now));
        st.open.insert(id, (key, activity.clone()));
        *st.peers.entry(key).or_insert(0) += 1;
        Ok(Slot {
            budget: self.clone(),
            id,
            activity,
        })
    }

    /// Connections open now.
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.lock().open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;
    use std::time::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_peers_share_by_slash_64_and_mapped_ipv4_counts_as_ipv4() {
        let a = PeerKey::of(ip("2001:db8:1:2::1"));
        let b = PeerKey::of(ip("2001:db8:1:2:ffff::9"));
        let c = PeerKey::of(ip("2001:db8:1:3::1"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
        assert_eq!(PeerKey::of(mapped), PeerKey::of(ip("10.0.0.1")));
        assert_ne!(PeerKey::of(IpAddr::V6(Ipv6Addr::LOCALHOST)), a);
    }

    #[test]
    fn a_peer_over_its_share_is_refused_and_others_still_get_in() {
        let b = Budget::new(8, 2);
        let one = ip("127.0.0.1");
        let _s1 = b.admit(one, Instant::now()).unwrap();
        let s2 = b.admit(one, Instant::now()).unwrap();
        assert_eq!(
            b.admit(one, Instant::now()).unwrap_err(),
            Refusal::PeerShare { share: 2 }
        );
        assert!(b.admit(ip("127.0.0.2"), Instant::now()).is_ok());
        drop(s2);
        assert!(b.admit(one, Instant::now()).is_ok());
    }

    #[test]
    fn when_full_the_oldest_unused_connection_gives_way_and_busy_ones_never_do() {
        let b = Budget::new(3, 3);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let busy = b.admit(ip("10.0.0.1"), at(0)).unwrap();
        let _req = busy.activity().begin_request();
        let old = b.admit(ip("10.0.0.2"), at(1)).unwrap();
        let young = b.admit(ip("10.0.0.3"), at(2)).unwrap();
        let newcomer = b.admit(ip("10.0.0.4"), at(2)).unwrap();
        assert!(
            !old.activity().evictable(),
            "the oldest unused one was evicted"
        );
        assert!(young.activity().evictable());
        assert!(!busy.activity().evictable());
        assert_eq!(b.open(), 3);
        // Dropping the evicted slot later does not free a second place.
        drop(old);
        assert_eq!(b.open(), 3);
        let n2 = b.admit(ip("10.0.0.5"), at(2)).unwrap();
        assert!(!young.activity().evictable());
        // Only busy connections left: the newcomer is refused, not queued.
        let _held = [
            newcomer.activity().begin_request(),
            n2.activity().begin_request(),
        ];
        assert_eq!(
            b.admit(ip("10.0.0.8"), at(3)).unwrap_err(),
            Refusal::Full { max: 3 }
        );
    }
}
