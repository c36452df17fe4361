//! Failed authentications in the audit log: who tried ([`AuthnAttempt`]), and aggregation of
//! repeated failures per peer ([`FailureAggregator`]) so that unauthenticated traffic cannot
//! fill the disk through the log.
//!
//! Aggregation works in intervals (`audit.authn_failure_interval`, 60 s by default). The first
//! failed authentication from a peer in an interval is recorded in full (with its
//! [`AuthnAttempt`]); later ones from that peer in the same interval are only counted, and at
//! the end of the interval (and at shutdown) each peer with counted failures gets one
//! `sqlgate.AuthenticationFailures` record: how many, the first and last time, and how many of
//! each error code. At most `audit.authn_failure_max_peers` peers are tracked per interval;
//! failures from further peers share one "other peers" tally (its first failure recorded in
//! full too), so both the memory and the records per interval are bounded whatever addresses
//! an attacker uses. Counts live in memory until flushed: a crash loses the counts of the
//! current interval, never a full record. Authorization decisions are not aggregated: each is
//! recorded on its own, by the pipeline, as before.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::record::{
    ANONYMOUS, AuditData, AuditRecord, AuthenticationInfo, AuthnFailure, AuthnMetadata,
    ClientAddress, RequestInfo, RequestMetadata, ResultInfo, ResultStatus, SOURCE, SqlgateInfo,
    TYPE_AUTHENTICATION, region_crn,
};

/// `methodName` of a summary record.
pub(crate) const METHOD_FAILURES: &str = "sqlgate.AuthenticationFailures";

/// `data.sqlgate.attempt` of a failed authentication: who the credential claimed or proved to
/// be. Never a token or a secret. See [`crate::auth::Attempt`] for when each field is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthnAttempt {
    /// The token's signature verified with a configured issuer's key: `issuer`, `identity`
    /// and `identityPool` are what that issuer asserted. `false`: `issuer` and `kid` are what
    /// an unverified token claims.
    pub verified: bool,
    /// Always `false` here: the caller was not let in (a failed authentication).
    pub admitted: bool,
    /// The issuer (`iss`), configured or claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The issuer's identity claim value (verified tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The identity pool asked for (verified tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_pool: Option<String>,
    /// The key id of an unverified token's header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The API key id presented (never verified on a failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// `data.sqlgate.failures` of a `sqlgate.AuthenticationFailures` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureSummary {
    /// Failed authentications this record stands for (not counting the one recorded in
    /// full at the start of the interval).
    pub count: u64,
    /// Time of the first of them (RFC 3339, UTC, milliseconds).
    pub first_time: String,
    /// Time of the last of them.
    pub last_time: String,
    /// How many failed with each error code (`auth.bad_signature` → 998, …).
    pub reasons: BTreeMap<String, u64>,
    /// `true` for the tally of the peers beyond `audit.authn_failure_max_peers` (the record
    /// then has no client address).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub other_peers: bool,
}

/// One peer's (or the other peers') counted failures in the current interval, with what the
/// summary record needs to say where they were aimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureTally {
    /// The peer (`None` for the other peers' tally or requests without an address).
    pub peer: Option<IpAddr>,
    /// The counts.
    pub summary: FailureSummary,
    /// Mechanism of the first counted failure.
    pub mechanism: String,
    /// Organization, environment and region of the first counted failure (the record's
    /// subject).
    pub organization: String,
    /// See `organization`.
    pub environment: String,
    /// See `organization`.
    pub region: String,
}

/// Whether a failed authentication gets a record of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The first from its peer in this interval: record it in full.
    Record,
    /// Counted; it will be part of the peer's summary.
    Counted,
}

/// Which tally a failure goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Bucket {
    Peer(Option<IpAddr>),
    Other,
}

#[derive(Debug, Default)]
struct State {
    /// Peers (and the other-peers bucket) seen this interval; `None` until a second failure.
    seen: HashMap<Bucket, Option<FailureTally>>,
}

/// The per-interval failure counts of a running gateway.
#[derive(Debug)]
pub struct FailureAggregator {
    /// Most distinct peers tracked per interval.
    max_peers: usize,
    state: Mutex<State>,
}

impl FailureAggregator {
    /// Empty tallies; at most `max_peers` peers (at least 1) tracked per interval.
    pub fn new(max_peers: usize) -> Self {
        Self {
            max_peers: max_peers.max(1),
            state: Mutex::new(State::default()),
        }
    }

    /// Notes one failed authentication of `req` and says whether to record it in full.
    pub fn note(
        &self,
        req: &RequestInfo,
        failure: &AuthnFailure,
        organization: &str,
        environment: &str,
        region: &str,
    ) -> Admission {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let peer = Bucket::Peer(req.client_ip);
        let bucket = if state.seen.contains_key(&peer) || state.seen.len() < self.max_peers {
            peer
        } else {
            Bucket::Other
        };
        let Some(slot) = state.seen.get_mut(&bucket) else {
            state.seen.insert(bucket, None);
            return Admission::Record;
        };
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let tally = slot.get_or_insert_with(|| FailureTally {
            peer: match bucket {
                Bucket::Peer(ip) => ip,
                Bucket::Other => None,
            },
            summary: FailureSummary {
                count: 0,
                first_time: now.clone(),
                last_time: now.clone(),
                reasons: BTreeMap::new(),
                other_peers: bucket == Bucket::Other,
            },
            mechanism: failure.mechanism.clone(),
            organization: organization.into(),
            environment: environment.into(),
            region: region.into(),
        });
        tally.summary.count += 1;
        tally.summary.last_time = now;
        *tally
            .summary
            .reasons
            .entry(failure.code.clone())
            .or_default() += 1;
        Admission::Counted
    }

    /// Ends the interval: returns the tallies that counted anything (peers first, in no
    /// particular order, then the other peers) and forgets every peer, so the next failure
    /// of each is recorded in full again.
    pub fn drain(&self) -> Vec<FailureTally> {
        let seen = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut state.seen)
        };
        let mut out: Vec<FailureTally> = seen.into_values().flatten().collect();
        out.sort_by_key(|t| t.summary.other_peers);
        out
    }
}

impl AuditRecord {
    /// The summary of one peer's counted failed authentications in an interval
    /// (`sqlgate.AuthenticationFailures`, code `auth.failures_aggregated`).
    pub fn authentication_failures(tally: &FailureTally) -> Self {
        let subject = region_crn(&tally.organization, &tally.environment, &tally.region);
        let s = &tally.summary;
        let from = tally
            .peer
            .map_or_else(|| "other peers".to_string(), |ip| ip.to_string());
        let reasons: Vec<String> = s
            .reasons
            .iter()
            .map(|(code, n)| format!("{code} × {n}"))
            .collect();
        let message = format!(
            "{} more failed authentications from {from} between {} and {} ({}); the first of \
             the interval is recorded in full",
            s.count,
            s.first_time,
            s.last_time,
            reasons.join(", ")
        );
        Self::envelope(
            TYPE_AUTHENTICATION,
            subject.clone(),
            AuditData {
                service_name: SOURCE.into(),
                method_name: METHOD_FAILURES.into(),
                resource_name: subject,
                authentication_info: AuthenticationInfo {
                    principal: ANONYMOUS.into(),
                    identity: None,
                    metadata: AuthnMetadata {
                        mechanism: tally.mechanism.clone(),
                        identifier: None,
                    },
                },
                authorization_info: None,
                request_metadata: Some(RequestMetadata {
                    request_id: Vec::new(),
                    client_address: tally
                        .peer
                        .iter()
                        .map(|ip| ClientAddress { ip: ip.to_string() })
                        .collect(),
                }),
                result: ResultInfo {
                    status: ResultStatus::Unauthenticated,
                    message,
                    code: Some("auth.failures_aggregated".into()),
                },
                sqlgate: SqlgateInfo {
                    environment: Some(tally.environment.clone()),
                    region: Some(tally.region.clone()),
                    failures: Some(s.clone()),
                    ..SqlgateInfo::default()
                },
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: &str) -> AuthnFailure {
        AuthnFailure {
            mechanism: "JWT".into(),
            status: ResultStatus::Unauthenticated,
            code: code.into(),
            message: "m".into(),
            attempt: None,
        }
    }

    fn from(ip: &str) -> RequestInfo {
        RequestInfo::new("r", Some(ip.parse().unwrap()))
    }

    fn note(a: &FailureAggregator, ip: &str, code: &str) -> Admission {
        a.note(&from(ip), &failure(code), "org", "env", "region")
    }

    #[test]
    fn the_first_failure_per_peer_and_interval_is_recorded_and_the_rest_counted() {
        let a = FailureAggregator::new(10);
        assert_eq!(
            note(&a, "10.0.0.1", "auth.bad_signature"),
            Admission::Record
        );
        for i in 0..999 {
            let code = if i % 3 == 0 {
                "auth.token_expired"
            } else {
                "auth.bad_signature"
            };
            assert_eq!(note(&a, "10.0.0.1", code), Admission::Counted);
        }
        assert_eq!(note(&a, "10.0.0.2", "auth.unknown_key"), Admission::Record);
        let tallies = a.drain();
        assert_eq!(tallies.len(), 1, "{tallies:?}");
        let t = &tallies[0];
        assert_eq!(t.peer, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(t.summary.count, 999);
        assert_eq!(
            t.summary.reasons,
            BTreeMap::from([
                ("auth.bad_signature".to_string(), 666),
                ("auth.token_expired".to_string(), 333)
            ])
        );
        assert!(t.summary.first_time <= t.summary.last_time);
        assert!(!t.summary.other_peers);
        // A new interval: recorded in full again; nothing to flush for a quiet interval.
        assert!(a.drain().is_empty());
        assert_eq!(
            note(&a, "10.0.0.1", "auth.bad_signature"),
            Admission::Record
        );
    }

    #[test]
    fn a_failure_record_carries_the_attempt_and_a_verified_identity_as_identifier() {
        let verified = AuthnFailure {
            attempt: Some(AuthnAttempt {
                verified: true,
                issuer: Some("https://idp".into()),
                identity: Some("alice".into()),
                identity_pool: Some("pool-admin".into()),
                ..AuthnAttempt::default()
            }),
            ..failure("auth.pool_filter_mismatch")
        };
        let r = AuditRecord::authentication_failed(&from("10.0.0.1"), &verified, "o", "e", "r");
        let v = serde_json::to_value(&r).unwrap();
        let a = &v["data"]["authenticationInfo"];
        assert_eq!(a["principal"], "User:ANONYMOUS");
        assert_eq!(a["metadata"]["identifier"], "alice");
        assert_eq!(
            v["data"]["sqlgate"]["attempt"],
            serde_json::json!({"verified": true, "admitted": false, "issuer": "https://idp",
                               "identity": "alice", "identityPool": "pool-admin"})
        );
        let unverified = AuthnFailure {
            attempt: Some(AuthnAttempt {
                issuer: Some("https://evil".into()),
                kid: Some("k".into()),
                ..AuthnAttempt::default()
            }),
            ..failure("auth.bad_signature")
        };
        let r = AuditRecord::authentication_failed(&from("10.0.0.1"), &unverified, "o", "e", "r");
        let v = serde_json::to_value(&r).unwrap();
        assert!(
            v["data"]["authenticationInfo"]["metadata"]
                .get("identifier")
                .is_none()
        );
        assert_eq!(v["data"]["sqlgate"]["attempt"]["kid"], "k");
        // The schema refuses an attempt marked as admitted.
        let schema: serde_json::Value = serde_json::from_str(crate::audit::RECORD_SCHEMA).unwrap();
        let mut bad = serde_json::to_value(&r).unwrap();
        bad["data"]["sqlgate"]["attempt"]["admitted"] = true.into();
        let errors = super::super::schema_check::validate(&schema, &bad).join("\n");
        assert!(errors.contains("attempt.admitted"), "{errors}");
    }

    #[test]
    fn peers_beyond_the_cap_share_one_tally() {
        let a = FailureAggregator::new(3);
        for i in 0..3 {
            assert_eq!(note(&a, &format!("10.0.0.{i}"), "c"), Admission::Record);
        }
        // 1,000 more addresses: one full record (the first), the rest counted together.
        let mut full = 0;
        for i in 0..1000 {
            let ip = format!("10.1.{}.{}", i / 256, i % 256);
            if note(&a, &ip, "c") == Admission::Record {
                full += 1;
            }
        }
        assert_eq!(full, 1);
        // Known peers are still told apart.
        assert_eq!(note(&a, "10.0.0.1", "c"), Admission::Counted);
        let tallies = a.drain();
        assert_eq!(tallies.len(), 2, "{tallies:?}");
        assert_eq!(tallies[0].peer, Some("10.0.0.1".parse().unwrap()));
        let other = &tallies[1];
        assert!(other.summary.other_peers);
        assert_eq!(other.peer, None);
        assert_eq!(other.summary.count, 999);
    }
}
