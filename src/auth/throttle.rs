//! Throttling of failed API-key authentications, per peer and per key id.
//!
//! Owns the failure counters and the `[auth.failure_throttle]` settings. Each peer (an IPv4
//! address, or the /64 an IPv6 address is in, since one host usually holds a whole /64) and
//! each presented key id has a fixed window that opens at its first failure; once it holds
//! `max_failures_per_*` failures, further attempts are refused with
//! [`AuthError::TooManyFailures`] until the window ends, without being verified. Key ids
//! count the same whether or not the key exists, so the answer reveals nothing about it.
//! Both tables are moka caches with a maximum capacity, so a client inventing key ids or
//! addresses cannot grow them without bound.
//!
//! It must not throttle successes: a key and secret that verified recently are answered from
//! the verification cache before the throttle is asked, so a client using a valid key keeps
//! working while someone guesses at the same key id.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::AuthError;

/// The `[auth.failure_throttle]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleConfig {
    /// Length of a failure window (default 60 s); also the longest `Retry-After`.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Failures from one peer within a window before its attempts are refused (default 30).
    /// Higher than the per-key limit: several clients may share an address.
    pub max_failures_per_peer: u32,
    /// Failures for one key id within a window before attempts with it are refused
    /// (default 10).
    pub max_failures_per_key: u32,
    /// Most peers and most key ids tracked at once (default 10 000 each); beyond that the
    /// least used entries are forgotten first.
    pub max_tracked: u64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            max_failures_per_peer: 30,
            max_failures_per_key: 10,
            max_tracked: 10_000,
        }
    }
}

impl ThrottleConfig {
    /// The field at fault and why, if any (for `AuthConfig::validate`).
    pub(crate) fn problem(&self) -> Option<(&'static str, &'static str)> {
        if self.window.is_zero() {
            Some(("window", "must be longer than 0 s"))
        } else if self.max_failures_per_peer == 0 {
            Some(("max_failures_per_peer", "must be at least 1"))
        } else if self.max_failures_per_key == 0 {
            Some(("max_failures_per_key", "must be at least 1"))
        } else if self.max_tracked == 0 {
            Some(("max_tracked", "must be at least 1"))
        } else {
            None
        }
    }
}

/// One subject's current window.
#[derive(Debug)]
struct Window {
    start: Instant,
    failures: AtomicU32,
}

/// The failure counters of a running gateway.
pub(crate) struct FailureThrottle {
    cfg: ThrottleConfig,
    /// Keyed by address (IPv6: its /64).
    peers: moka::sync::Cache<IpAddr, Arc<Window>>,
    /// Keyed by SHA-256 of the presented key id (bounded size whatever the client sends).
    keys: moka::sync::Cache<[u8; 32], Arc<Window>>,
}

impl std::fmt::Debug for FailureThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailureThrottle")
            .field("cfg", &self.cfg)
            .field("peers", &self.peers.entry_count())
            .field("keys", &self.keys.entry_count())
            .finish()
    }
}

/// The address a peer is throttled by: IPv4 as is, IPv6 by its /64.
fn peer_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

fn key_key(key_id: &str) -> [u8; 32] {
    Sha256::digest(key_id.as_bytes()).into()
}

/// One moka table of windows.
fn table<K>(cfg: &ThrottleConfig) -> moka::sync::Cache<K, Arc<Window>>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
{
    // The window is enforced against the `now` the callers pass; moka's expiry only reclaims
    // memory, a little after the window.
    moka::sync::Cache::builder()
        .max_capacity(cfg.max_tracked)
        .time_to_live(cfg.window + Duration::from_secs(1))
        .build()
}

/// Time left in `w` at `now` if it holds `limit` failures or more.
fn left_if_over(
    w: Option<Arc<Window>>,
    limit: u32,
    window: Duration,
    now: Instant,
) -> Option<Duration> {
    let w = w?;
    let left = (w.start + window)
        .checked_duration_since(now)
        .filter(|d| !d.is_zero())?;
    (w.failures.load(Ordering::Relaxed) >= limit).then_some(left)
}

/// Adds a failure to `k`'s window, opening a new window if there is none or it has ended.
fn count<K>(table: &moka::sync::Cache<K, Arc<Window>>, k: K, window: Duration, now: Instant)
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
{
    let fresh = || {
        Arc::new(Window {
            start: now,
            failures: AtomicU32::new(0),
        })
    };
    let mut w = table.get_with(k.clone(), fresh);
    if now.duration_since(w.start) >= window {
        w = fresh();
        table.insert(k, w.clone());
    }
    w.failures.fetch_add(1, Ordering::Relaxed);
}

impl FailureThrottle {
    /// Empty counters with these settings.
    pub(crate) fn new(cfg: &ThrottleConfig) -> Self {
        Self {
            cfg: cfg.clone(),
            peers: table(cfg),
            keys: table(cfg),
        }
    }

    /// `Err(TooManyFailures)` when `peer` or `key_id` has used up its window at `now`.
    pub(crate) fn check(
        &self,
        peer: Option<IpAddr>,
        key_id: &str,
        now: Instant,
    ) -> Result<(), AuthError> {
        let window = self.cfg.window;
        let peer_left = peer.and_then(|ip| {
            let w = self.peers.get(&peer_key(ip));
            left_if_over(w, self.cfg.max_failures_per_peer, window, now)
        });
        let w = self.keys.get(&key_key(key_id));
        let key_left = left_if_over(w, self.cfg.max_failures_per_key, window, now);
        match peer_left.max(key_left) {
            None => Ok(()),
            Some(left) => Err(AuthError::TooManyFailures {
                // Whole seconds, rounded up: a client that waits that long is let through.
                retry_after_secs: left.as_millis().div_ceil(1000).max(1) as u64,
            }),
        }
    }

    /// Counts one failed verification at `now` against `peer` and `key_id`.
    pub(crate) fn record_failure(&self, peer: Option<IpAddr>, key_id: &str, now: Instant) {
        if let Some(ip) = peer {
            count(&self.peers, peer_key(ip), self.cfg.window, now);
        }
        count(&self.keys, key_key(key_id), self.cfg.window, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(per_peer: u32, per_key: u32) -> FailureThrottle {
        FailureThrottle::new(&ThrottleConfig {
            window: Duration::from_secs(60),
            max_failures_per_peer: per_peer,
            max_failures_per_key: per_key,
            max_tracked: 100,
        })
    }

    fn retry_after(r: Result<(), AuthError>) -> Option<u64> {
        match r {
            Ok(()) => None,
            Err(AuthError::TooManyFailures { retry_after_secs }) => Some(retry_after_secs),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn a_key_id_is_refused_after_its_limit_until_the_window_ends() {
        let t = throttle(100, 3);
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for i in 0..3 {
            assert_eq!(retry_after(t.check(Some(a), "KEY1", at(i))), None);
            t.record_failure(Some(a), "KEY1", at(i));
        }
        // From any address: the key id itself is throttled.
        assert_eq!(retry_after(t.check(Some(b), "KEY1", at(10))), Some(60));
        assert_eq!(retry_after(t.check(None, "KEY1", at(10))), Some(60));
        assert_eq!(retry_after(t.check(Some(a), "KEY2", at(10))), None);
        assert_eq!(retry_after(t.check(Some(b), "KEY1", at(20_500))), Some(40));
        assert_eq!(retry_after(t.check(Some(b), "KEY1", at(59_999))), Some(1));
        assert_eq!(retry_after(t.check(Some(b), "KEY1", at(60_000))), None);
        // A new window starts with the next failure.
        t.record_failure(Some(b), "KEY1", at(60_001));
        assert_eq!(retry_after(t.check(Some(b), "KEY1", at(60_002))), None);
        t.record_failure(Some(b), "KEY1", at(60_003));
        t.record_failure(Some(b), "KEY1", at(60_004));
        assert_eq!(retry_after(t.check(Some(b), "KEY1", at(60_005))), Some(60));
    }

    #[test]
    fn a_peer_is_refused_after_its_limit_whatever_key_it_tries() {
        let t = throttle(5, 100);
        let now = Instant::now();
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        for i in 0..5 {
            t.record_failure(Some(a), &format!("K{i}"), now);
        }
        assert_eq!(retry_after(t.check(Some(a), "NEW", now)), Some(60));
        assert_eq!(retry_after(t.check(Some(same_64), "NEW", now)), Some(60));
        assert_eq!(retry_after(t.check(Some(other), "NEW", now)), None);
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(peer_key(mapped), v4);
    }

    #[test]
    fn settings_are_checked() {
        assert_eq!(ThrottleConfig::default().problem(), None);
        for bad in [
            ThrottleConfig {
                window: Duration::ZERO,
                ..ThrottleConfig::default()
            },
            ThrottleConfig {
                max_failures_per_key: 0,
                ..ThrottleConfig::default()
            },
            ThrottleConfig {
                max_tracked: 0,
                ..ThrottleConfig::default()
            },
        ] {
            assert!(bad.problem().is_some(), "{bad:?}");
        }
    }
}
