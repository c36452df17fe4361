//! Confluent Resource Names and role-binding patterns over them.
//!
//! A CRN is `crn://confluent.cloud/` followed by `kind=value` segments from the outermost scope
//! inwards. A pattern is a CRN whose last segment value may end in `*` (PREFIXED); otherwise it
//! is LITERAL. A pattern *covers* an object when it names the object itself or one of its
//! ancestors (scopes are inherited downwards), or when its prefixed last segment matches the
//! object's segment at the same depth.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

const AUTHORITY: &str = "crn://confluent.cloud/";

/// A concrete resource name, kept as its text (what audit records, refusals and the decision
/// memo's keys use) with where each segment lies in it: building one costs two allocations,
/// and [`Crn::as_str`] none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Crn {
    /// `crn://confluent.cloud/kind=value/…`.
    text: String,
    /// Per segment, the offsets in `text` of its kind, its `=` and its end.
    marks: Vec<Mark>,
}

/// Where one `kind=value` segment lies in a CRN's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Mark {
    kind: usize,
    equals: usize,
    end: usize,
}

/// Room for a typical CRN's text without reallocating.
const TEXT_CAPACITY: usize = 128;

impl Crn {
    /// `crn://confluent.cloud/organization=<id>`.
    pub fn organization(id: &str) -> Self {
        let mut text = String::with_capacity(TEXT_CAPACITY);
        text.push_str(AUTHORITY);
        let crn = Self {
            text,
            // Room for the deepest CRN (organization, environment, cloud-cluster, kafka,
            // topic), so adding its segments reallocates no marks.
            marks: Vec::with_capacity(5),
        };
        crn.push("organization", id)
    }

    /// Appends `kind=value`.
    fn push(mut self, kind: &str, value: &str) -> Self {
        if !self.marks.is_empty() {
            self.text.push('/');
        }
        let start = self.text.len();
        self.text.push_str(kind);
        let equals = self.text.len();
        self.text.push('=');
        self.text.push_str(value);
        self.marks.push(Mark {
            kind: start,
            equals,
            end: self.text.len(),
        });
        self
    }

    /// Appends `environment=<id>`.
    pub fn environment(self, id: &str) -> Self {
        self.push("environment", id)
    }

    /// Appends `cloud-cluster=<id>/kafka=<id>` (Confluent's RBAC CRNs repeat the id).
    pub fn cluster(self, id: &str) -> Self {
        self.push("cloud-cluster", id).push("kafka", id)
    }

    /// Appends `topic=<name>`.
    pub fn topic(self, name: &str) -> Self {
        self.push("topic", name)
    }

    /// The `kind=value` segments, outermost first.
    pub fn segments(
        &self,
    ) -> impl ExactSizeIterator<Item = (&str, &str)> + DoubleEndedIterator + Clone + '_ {
        self.marks.iter().map(|m| self.part(m))
    }

    /// How many segments it has.
    pub fn depth(&self) -> usize {
        self.marks.len()
    }

    fn part(&self, m: &Mark) -> (&str, &str) {
        (
            &self.text[m.kind..m.equals],
            &self.text[m.equals + 1..m.end],
        )
    }

    /// The kind of the innermost segment (`organization`, `environment`, `kafka`, `topic`…).
    pub fn resource_type(&self) -> &str {
        self.marks.last().map(|m| self.part(m).0).unwrap_or("")
    }

    /// The name as text (what it displays as).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Segment by segment, kind then value (as the segments compare, not the texts: a `/` in the
/// text sorts differently from the end of a value).
impl Ord for Crn {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.segments().cmp(other.segments())
    }
}

impl PartialOrd for Crn {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Crn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a CRN pattern string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrnError {
    /// It does not start with `crn://confluent.cloud/`.
    #[error("CRN pattern `{0}` must start with `crn://confluent.cloud/`")]
    Authority(String),
    /// A segment is not `kind=value`, or has an empty kind or value.
    #[error("CRN pattern `{0}` has a malformed segment `{1}` (expected kind=value)")]
    Segment(String, String),
    /// A `*` appears somewhere other than the end of the last segment.
    #[error("CRN pattern `{0}` may only have `*` at the end of its last segment")]
    Wildcard(String),
}

/// A role binding's resource pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CrnPattern {
    segments: Vec<(String, String)>,
    /// The last segment's value ends in `*`, stripped in `segments`.
    prefixed: bool,
}

impl CrnPattern {
    /// `LITERAL` or `PREFIXED`, as in Confluent's audit records.
    pub fn pattern_type(&self) -> &'static str {
        if self.prefixed { "PREFIXED" } else { "LITERAL" }
    }

    /// The `kind=value` segments (the last value without its `*`).
    pub fn segments(&self) -> &[(String, String)] {
        &self.segments
    }

    /// Whether this pattern is prefixed (its last segment ends in `*`).
    pub fn is_prefixed(&self) -> bool {
        self.prefixed
    }

    /// Whether a binding on this pattern applies to `crn`: the pattern names `crn` or one of
    /// its ancestors, where a prefixed last segment matches any value starting with the prefix.
    ///
    /// ```
    /// use sqlgate::catalog::{Crn, CrnPattern};
    /// let env = Crn::organization("o").environment("env-1");
    /// let topic = env.clone().cluster("lkc-1").topic("orders-eu");
    /// let p: CrnPattern = "crn://confluent.cloud/organization=o/environment=env-1".parse().unwrap();
    /// assert!(p.covers(&topic));
    /// let p: CrnPattern = "crn://confluent.cloud/organization=o/environment=env-1/cloud-cluster=lkc-1/kafka=lkc-1/topic=orders-*".parse().unwrap();
    /// assert!(p.covers(&topic));
    /// assert!(!p.covers(&env));
    /// ```
    pub fn covers(&self, crn: &Crn) -> bool {
        if self.segments.len() > crn.depth() {
            return false;
        }
        let last = self.segments.len().saturating_sub(1);
        self.segments
            .iter()
            .zip(crn.segments())
            .enumerate()
            .all(|(i, ((pk, pv), (tk, tv)))| {
                pk == tk
                    && if i == last && self.prefixed {
                        tv.starts_with(pv.as_str())
                    } else {
                        pv == tv
                    }
            })
    }

    /// Whether the pattern names only objects strictly below `crn` (a topic binding lies within
    /// its cluster and environment): a principal bound there knows that `crn` exists.
    ///
    /// ```
    /// use sqlgate::catalog::{Crn, CrnPattern};
    /// let env = Crn::organization("o").environment("env-1");
    /// let p: CrnPattern = "crn://confluent.cloud/organization=o/environment=env-1/cloud-cluster=lkc-1/kafka=lkc-1/topic=orders".parse().unwrap();
    /// assert!(p.lies_within(&env) && !p.covers(&env));
    /// assert!(!p.lies_within(&Crn::organization("o").environment("env-2")));
    /// ```
    pub fn lies_within(&self, crn: &Crn) -> bool {
        self.segments.len() > crn.depth()
            && self
                .segments
                .iter()
                .zip(crn.segments())
                .all(|((pk, pv), (ok, ov))| pk == ok && pv == ov)
    }

    /// The depth-th segment value of the pattern when it is literal up to there.
    pub fn literal_value(&self, kind: &str) -> Option<&str> {
        let n = self.segments.len();
        self.segments
            .iter()
            .enumerate()
            .find(|(i, (k, _))| k == kind && !(self.prefixed && *i == n - 1))
            .map(|(_, (_, v))| v.as_str())
    }
}

impl FromStr for CrnPattern {
    type Err = CrnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix(AUTHORITY)
            .ok_or_else(|| CrnError::Authority(s.to_string()))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let mut segments = Vec::with_capacity(parts.len());
        let mut prefixed = false;
        for (i, part) in parts.iter().enumerate() {
            let (k, v) = part
                .split_once('=')
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                .ok_or_else(|| CrnError::Segment(s.to_string(), (*part).to_string()))?;
            let star = v.find('*');
            let value = match star {
                None => v,
                Some(pos) if i == parts.len() - 1 && pos == v.len() - 1 => {
                    prefixed = true;
                    &v[..pos]
                }
                Some(_) => return Err(CrnError::Wildcard(s.to_string())),
            };
            segments.push((k.to_string(), value.to_string()));
        }
        if segments.first().map(|(k, _)| k.as_str()) != Some("organization") {
            return Err(CrnError::Segment(s.to_string(), parts[0].to_string()));
        }
        Ok(Self { segments, prefixed })
    }
}

impl TryFrom<String> for CrnPattern {
    type Error = CrnError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<CrnPattern> for String {
    fn from(p: CrnPattern) -> String {
        p.to_string()
    }
}

impl fmt::Display for CrnPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(AUTHORITY)?;
        let n = self.segments.len();
        for (i, (k, v)) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            write!(f, "{k}={v}")?;
            if self.prefixed && i == n - 1 {
                f.write_str("*")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> CrnPattern {
        s.parse().unwrap()
    }

    #[test]
    fn literal_pattern_covers_itself_and_descendants_only() {
        let topic = Crn::organization("o")
            .environment("e")
            .cluster("k")
            .topic("orders");
        assert!(p("crn://confluent.cloud/organization=o").covers(&topic));
        assert!(p("crn://confluent.cloud/organization=o/environment=e/cloud-cluster=k/kafka=k/topic=orders").covers(&topic));
        assert!(!p("crn://confluent.cloud/organization=o/environment=e/cloud-cluster=k/kafka=k/topic=order").covers(&topic));
        assert!(!p("crn://confluent.cloud/organization=o/environment=f").covers(&topic));
    }

    #[test]
    fn prefixed_pattern_matches_by_prefix_at_its_depth() {
        let topic = Crn::organization("o")
            .environment("e")
            .cluster("k")
            .topic("orders-eu");
        assert!(p("crn://confluent.cloud/organization=o/environment=e/cloud-cluster=k/kafka=k/topic=orders-*").covers(&topic));
        assert!(
            p("crn://confluent.cloud/organization=o/environment=e/cloud-cluster=k/kafka=k/topic=*")
                .covers(&topic)
        );
        assert!(!p("crn://confluent.cloud/organization=o/environment=e/cloud-cluster=k/kafka=k/topic=clicks-*").covers(&topic));
        assert!(p("crn://confluent.cloud/organization=o/environment=e*").covers(&topic));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        assert!("crn://x/organization=o".parse::<CrnPattern>().is_err());
        assert!(
            "crn://confluent.cloud/organization=o/environment"
                .parse::<CrnPattern>()
                .is_err()
        );
        assert!(
            "crn://confluent.cloud/organization=o*/environment=e"
                .parse::<CrnPattern>()
                .is_err()
        );
        assert!(
            "crn://confluent.cloud/organization=o/topic=a*b"
                .parse::<CrnPattern>()
                .is_err()
        );
        assert!(
            "crn://confluent.cloud/environment=e"
                .parse::<CrnPattern>()
                .is_err()
        );
    }

    #[test]
    fn patterns_round_trip_through_strings() {
        let s = "crn://confluent.cloud/organization=o/environment=e/cloud-cluster=k/kafka=k/topic=orders-*";
        assert_eq!(p(s).to_string(), s);
        assert_eq!(p(s).pattern_type(), "PREFIXED");
    }
}
