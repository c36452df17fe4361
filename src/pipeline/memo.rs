//! The decision memo: what [`decide`](super::decide) granted, kept so that the very same
//! question is answered again without parsing, resolving, authorizing or rewriting it.
//!
//! A decision is a function of its [`Request`] (principal, text, session names, placement,
//! claims), of the policy version, of the gateway's views, of its parse bounds and of whether
//! audit records carry redacted SQL; the resource model is the gateway's and does not change
//! while it runs. The key holds every one of these and is compared in full (never by a hash
//! alone), so a kept decision only answers the question it was made for. Kept are:
//! - granted decisions only: a refusal is decided again each time;
//! - made while neither the policy version nor the views changed (read before and after the
//!   decision), so a decision is never kept under a version it was not made against;
//! - of texts up to [`MemoConfig::max_sql_bytes`];
//! - asked at least twice: the first time a question is granted only its hash is noted (in a
//!   fixed table, [`Doorkeeper`]); the decision is kept when the same question is granted
//!   again. A stream of statements each sent once (a literal differing in every request)
//!   then costs a hash and a store per decision, not a kept syntax tree per decision that
//!   churns the memo and the heap (measured: such a stream ran about a third slower with every
//!   granted decision kept);
//! - and none while decision events are observed ([`Authorizer::observed`]), when every
//!   decision must be made to be seen.
//!
//! A reload of the policy or a change of a view makes every kept decision unreachable at once
//! (every later key holds the new version); they leave by the memo's bound,
//! [`MemoConfig::max_bytes`]. Its look-ups and size are exported ([`MemoMetrics`]).
//! The engine's statement is shared ([`Arc`]): a kept decision hands out the same immutable
//! [`RewrittenStatement`], whose warrant names the principal, placement and version of its key.
//!
//! [`Authorizer::observed`]: crate::authz::Authorizer::observed

use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::audit::SqlForAudit;
use crate::authz::{Claims, Evaluation};
use crate::catalog::Placement;
use crate::metrics::MemoMetrics;
use crate::rewrite::RewrittenStatement;
use crate::sql::ParseLimits;

use super::decide::{Decided, Decider, Request};

/// The `[pipeline.decision_memo]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoConfig {
    /// What the kept decisions may weigh together, about bytes (default 64 MiB; a decision
    /// weighs 2 KiB plus 32 bytes per byte of its principal and text); `0` keeps none, and
    /// every statement is decided afresh.
    pub max_bytes: u64,
    /// The longest statement text whose decision is kept (default 16 KiB): a longer one is
    /// decided each time (a statement that large is rarely sent twice, and the memo should hold
    /// many small ones).
    pub max_sql_bytes: usize,
}

impl Default for MemoConfig {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            max_sql_bytes: 16 * 1024,
        }
    }
}

/// Kept decisions of one gateway (one resource model and one set of parse bounds).
#[derive(Clone)]
pub struct DecisionMemo {
    cache: moka::sync::Cache<Key, Arc<Kept>>,
    /// The bounds its decisions were parsed within; a [`Decider`] with others does not use it.
    limits: ParseLimits,
    max_sql_bytes: usize,
    door: Arc<Doorkeeper>,
    metrics: MemoMetrics,
}

/// The questions granted once, by hash: a table of hashes indexed by their low bits, about as
/// many slots as the memo can hold decisions. A slot holds the last hash that fell on it, so
/// a question is remembered until another one takes its slot. A hash that matches by
/// accident only lets a decision be kept a time early: kept decisions are found by their
/// whole key, never by this hash.
struct Doorkeeper {
    slots: Box<[AtomicU64]>,
    hasher: RandomState,
}

impl Doorkeeper {
    /// The fewest bytes a decision weighs ([`weight`]'s fixed part): the memo holds at most
    /// `max_bytes / MIN_WEIGHT` decisions.
    const MIN_WEIGHT: u64 = 2048;

    fn new(max_bytes: u64) -> Self {
        let n = (max_bytes / Self::MIN_WEIGHT).clamp(1024, 1 << 20);
        let n = usize::try_from(n).unwrap_or(1 << 20).next_power_of_two();
        Self {
            slots: (0..n).map(|_| AtomicU64::new(0)).collect(),
            hasher: RandomState::new(),
        }
    }

    /// Notes `key`'s question; whether it had been noted before (and not displaced since).
    fn seen_again(&self, key: &KeyRef<'_>) -> bool {
        // 0 marks an empty slot.
        let h = self.hasher.hash_one(key).max(1);
        let slot = &self.slots[(h as usize) & (self.slots.len() - 1)];
        slot.swap(h, Ordering::Relaxed) == h
    }
}

impl std::fmt::Debug for DecisionMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionMemo")
            .field("entries", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

/// The policy version and views a decision was asked against, read before it is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Asked {
    policy_version: u64,
    views: u64,
}

impl Asked {
    pub(super) fn now(d: &Decider<'_>) -> Self {
        Self {
            policy_version: d.authorizer.version(),
            views: d.catalogs.views().generation(),
        }
    }
}

/// A granted decision, as [`Decided`] holds it.
#[derive(Debug)]
struct Kept {
    sql: SqlForAudit,
    kind: Option<&'static str>,
    evaluation: Option<Evaluation>,
    statement: Arc<RewrittenStatement>,
}

/// Everything a decision depends on (see the module doc).
#[derive(Debug, PartialEq, Eq)]
struct Key {
    asked: Asked,
    redact_sql: bool,
    principal: String,
    text: String,
    catalog: Option<String>,
    database: Option<String>,
    placement: Placement,
    claims: Claims,
}

/// [`Key`] borrowed from a request, to look one up without copying the request.
struct KeyRef<'a> {
    asked: Asked,
    redact_sql: bool,
    req: &'a Request,
}

/// The one way both forms hash (moka finds an owned key by its borrowed form only if they
/// hash alike).
#[allow(clippy::too_many_arguments)]
fn hash_parts<H: Hasher>(
    h: &mut H,
    asked: Asked,
    redact_sql: bool,
    principal: &str,
    text: &str,
    catalog: Option<&str>,
    database: Option<&str>,
    placement: &Placement,
    claims: &Claims,
) {
    asked.policy_version.hash(h);
    asked.views.hash(h);
    redact_sql.hash(h);
    principal.hash(h);
    text.hash(h);
    catalog.hash(h);
    database.hash(h);
    placement.hash(h);
    claims.hash(h);
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        hash_parts(
            h,
            self.asked,
            self.redact_sql,
            &self.principal,
            &self.text,
            self.catalog.as_deref(),
            self.database.as_deref(),
            &self.placement,
            &self.claims,
        );
    }
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        let r = self.req;
        hash_parts(
            h,
            self.asked,
            self.redact_sql,
            &r.principal,
            &r.text,
            r.session.catalog.as_deref(),
            r.session.database.as_deref(),
            &r.placement,
            &r.claims,
        );
    }
}

impl moka::Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, k: &Key) -> bool {
        let r = self.req;
        self.asked == k.asked
            && self.redact_sql == k.redact_sql
            && r.principal == k.principal
            && r.text == k.text
            && r.session.catalog == k.catalog
            && r.session.database == k.database
            && r.placement == k.placement
            && r.claims == k.claims
    }
}

/// About the memory a kept decision holds: its key's texts and the statement made from them
/// (an AST is a few tens of bytes per byte of text), plus a fixed part.
fn weight(key: &Key, _: &Arc<Kept>) -> u32 {
    let texts = key.principal.len() + key.text.len();
    u32::try_from(Doorkeeper::MIN_WEIGHT as usize + 32 * texts).unwrap_or(u32::MAX)
}

impl DecisionMemo {
    /// An empty memo for decisions parsed within `limits`, bounded by `cfg` and counting its
    /// look-ups in `metrics`; none when `cfg.max_bytes` is 0.
    pub fn new(limits: ParseLimits, cfg: &MemoConfig, metrics: MemoMetrics) -> Option<Self> {
        (cfg.max_bytes > 0).then(|| Self {
            cache: moka::sync::Cache::builder()
                .max_capacity(cfg.max_bytes)
                .weigher(weight)
                .build(),
            limits,
            max_sql_bytes: cfg.max_sql_bytes,
            door: Arc::new(Doorkeeper::new(cfg.max_bytes)),
            metrics,
        })
    }

    /// Whether `d`'s decisions may be answered from this memo now.
    pub(super) fn serves(&self, d: &Decider<'_>) -> bool {
        *d.limits == self.limits && !d.authorizer.observed()
    }

    /// The decision kept for `req` asked at `asked`, if any (counted as a hit or a miss).
    pub(super) fn get(&self, asked: Asked, redact_sql: bool, req: &Request) -> Option<Decided> {
        let found = self.cache.get(&KeyRef {
            asked,
            redact_sql,
            req,
        });
        let Some(kept) = found else {
            self.metrics.misses.inc();
            return None;
        };
        self.metrics.hits.inc();
        Some(Decided {
            sql: kept.sql.clone(),
            kind: kept.kind,
            policy_version: Some(asked.policy_version),
            evaluation: kept.evaluation.clone(),
            outcome: Ok(kept.statement.clone()),
        })
    }

    /// Keeps `decided`, made for `req` by `d` after `asked` was read, if the module doc's
    /// conditions hold.
    pub(super) fn keep(&self, d: &Decider<'_>, asked: Asked, req: &Request, decided: &Decided) {
        let Ok(statement) = &decided.outcome else {
            return;
        };
        if req.text.len() > self.max_sql_bytes
            || decided.policy_version != Some(asked.policy_version)
            || Asked::now(d) != asked
        {
            return;
        }
        let asked_again = self.door.seen_again(&KeyRef {
            asked,
            redact_sql: d.redact_sql,
            req,
        });
        if !asked_again {
            return;
        }
        let key = Key {
            asked,
            redact_sql: d.redact_sql,
            principal: req.principal.clone(),
            text: req.text.clone(),
            catalog: req.session.catalog.clone(),
            database: req.session.database.clone(),
            placement: req.placement.clone(),
            claims: req.claims.clone(),
        };
        let kept = Kept {
            sql: decided.sql.clone(),
            kind: decided.kind,
            evaluation: decided.evaluation.clone(),
            statement: statement.clone(),
        };
        self.cache.insert(key, Arc::new(kept));
    }

    /// How many decisions it holds (approximately: moka counts lazily).
    pub fn len(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies how many decisions it holds and what they weigh into its gauges (before a
    /// scrape).
    pub fn refresh_metrics(&self) {
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.metrics.entries.set(gauge(self.len()));
        self.metrics
            .weight_bytes
            .set(gauge(self.cache.weighted_size()));
    }
}

#[cfg(test)]
#[path = "memo_tests.rs"]
mod tests;
