//! The lookup of the filters and masks covering one table, so that a decision with a thousand
//! entries costs about what it costs with ten.
//!
//! A pattern covers a CRN when it names the CRN or one of its ancestors, its last segment
//! matching the CRN's segment at the same depth exactly (LITERAL) or by prefix (PREFIXED)
//! ([`CrnPattern::covers`]). So entries are grouped by everything but their last segment's
//! value (the parent segments and the last kind, as text); a lookup walks the CRN's depths,
//! finds each depth's group by the CRN's own segments, then the literal entries by the
//! segment's value and the prefixed ones by each prefix of that value (as many lookups as the
//! value has characters). The candidates come back in file order, so what applies, and the
//! order filters are ANDed in, is exactly what the linear scan gave; who they apply to
//! (`principals`, `"*"`, `except`) is then checked on the few candidates. The equality with
//! the linear scan is tested on random policy sets.

use std::collections::HashMap;

use crate::catalog::{Crn, CrnPattern};

/// The entries of one kind (filters or masks), by table pattern.
#[derive(Debug, Clone, Default)]
pub(super) struct PatternIndex {
    groups: HashMap<String, Group>,
}

#[derive(Debug, Clone, Default)]
struct Group {
    /// Last segment value → entry positions (ascending).
    literal: HashMap<String, Vec<usize>>,
    /// Prefix of the last segment value → entry positions (ascending).
    prefixed: HashMap<String, Vec<usize>>,
}

/// `kind=value/…/kind` for the first `depth` segments, the last one's value left out.
fn group_key<'a>(segments: impl Iterator<Item = (&'a str, &'a str)>, depth: usize) -> String {
    let mut key = String::new();
    for (i, (k, v)) in segments.take(depth).enumerate() {
        if i > 0 {
            key.push('/');
        }
        key.push_str(k);
        if i + 1 < depth {
            key.push('=');
            key.push_str(v);
        }
    }
    key
}

impl PatternIndex {
    /// The index of `patterns`, entry `i` being `patterns[i]`.
    pub(super) fn new<'a>(patterns: impl Iterator<Item = &'a CrnPattern>) -> Self {
        let mut out = Self::default();
        for (i, p) in patterns.enumerate() {
            let segs = p.segments();
            let Some((_, last)) = segs.last() else {
                continue;
            };
            let group = out
                .groups
                .entry(group_key(
                    segs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    segs.len(),
                ))
                .or_default();
            let map = if p.is_prefixed() {
                &mut group.prefixed
            } else {
                &mut group.literal
            };
            map.entry(last.clone()).or_default().push(i);
        }
        out
    }

    /// The positions of the entries whose pattern covers `crn`, ascending.
    pub(super) fn covering(&self, crn: &Crn) -> Vec<usize> {
        let mut out = Vec::new();
        if self.groups.is_empty() {
            return out;
        }
        for (i, (_, value)) in crn.segments().enumerate() {
            let Some(group) = self.groups.get(&group_key(crn.segments(), i + 1)) else {
                continue;
            };
            if let Some(ids) = group.literal.get(value) {
                out.extend_from_slice(ids);
            }
            if !group.prefixed.is_empty() {
                let ends = value
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain(std::iter::once(value.len()));
                for end in ends {
                    if let Some(ids) = group.prefixed.get(&value[..end]) {
                        out.extend_from_slice(ids);
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> CrnPattern {
        s.parse().unwrap()
    }

    const CLUSTER: &str =
        "crn://confluent.cloud/organization=o/environment=e/cloud-cluster=k/kafka=k";

    fn topic(env: &str, cluster: &str, t: &str) -> Crn {
        Crn::organization("o")
            .environment(env)
            .cluster(cluster)
            .topic(t)
    }

    #[test]
    fn literal_and_prefixed_patterns_are_found_and_nothing_else() {
        let pats = [
            p(&format!("{CLUSTER}/topic=orders")),
            p(&format!("{CLUSTER}/topic=ord*")),
            p(&format!("{CLUSTER}/topic=*")),
            p(&format!("{CLUSTER}/topic=orders-eu")),
            p(
                "crn://confluent.cloud/organization=o/environment=e2/cloud-cluster=k/kafka=k/topic=orders",
            ),
            p(&format!("{CLUSTER}/topic=order*")),
        ];
        let idx = PatternIndex::new(pats.iter());
        assert_eq!(idx.covering(&topic("e", "k", "orders")), vec![0, 1, 2, 5]);
        assert_eq!(
            idx.covering(&topic("e", "k", "orders-eu")),
            vec![1, 2, 3, 5]
        );
        assert_eq!(idx.covering(&topic("e", "k", "customers")), vec![2]);
        assert_eq!(idx.covering(&topic("e2", "k", "orders")), vec![4]);
        assert!(idx.covering(&topic("e", "k2", "orders")).is_empty());
        // A topic named like a prefix in another cluster is not covered.
        assert!(idx.covering(&topic("e3", "k", "ord")).is_empty());
        assert_eq!(idx.covering(&topic("e", "k", "ord")), vec![1, 2]);
    }

    fn segment() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["a", "ab", "abc", "b", "ba", "é", "éa", "x"])
            .prop_map(String::from)
    }

    /// A topic pattern, literal or prefixed (the prefix possibly empty: `topic=*`).
    fn pattern() -> impl Strategy<Value = CrnPattern> {
        (segment(), segment(), segment(), any::<bool>(), 0usize..4).prop_map(
            |(env, cluster, t, prefixed, cut)| {
                let t = if prefixed {
                    format!("{}*", t.chars().take(cut).collect::<String>())
                } else {
                    t
                };
                p(&format!(
                    "crn://confluent.cloud/organization=o/environment={env}/cloud-cluster={cluster}/kafka={cluster}/topic={t}"
                ))
            },
        )
    }

    proptest! {
        #[test]
        fn the_index_finds_exactly_what_the_linear_scan_finds(
            pats in prop::collection::vec(pattern(), 0..40),
            probes in prop::collection::vec((segment(), segment(), segment()), 1..20),
        ) {
            let idx = PatternIndex::new(pats.iter());
            for (env, cluster, t) in probes {
                let crn = topic(&env, &cluster, &t);
                let linear: Vec<usize> = pats
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.covers(&crn))
                    .map(|(i, _)| i)
                    .collect();
                prop_assert_eq!(idx.covering(&crn), linear, "{}", crn);
            }
        }
    }
}
