//! Containment of CRN patterns: whether one binding's scope includes another's entirely.
//!
//! Used for delegated administration (a principal may grant or revoke a binding only inside a
//! scope it administers) and for the `crn_pattern` filter of the role-bindings list.

use crate::catalog::CrnPattern;

/// Whether every resource `inner` can match is also matched by `outer`.
///
/// A literal `outer` covers `inner` when `inner` names the same resource or a descendant; a
/// prefixed `outer` additionally needs `inner`'s segment at that depth to start with the
/// prefix (a prefixed `inner` at the same depth must have a prefix at least as long).
///
/// ```
/// use sqlgate::authz::pattern_covers;
/// let p = |s: &str| s.parse::<sqlgate::catalog::CrnPattern>().unwrap();
/// let topics = p("crn://confluent.cloud/organization=o/environment=e/cloud-cluster=k/kafka=k/topic=orders-*");
/// assert!(pattern_covers(&topics, &p("crn://confluent.cloud/organization=o/environment=e/cloud-cluster=k/kafka=k/topic=orders-eu")));
/// assert!(pattern_covers(&topics, &p("crn://confluent.cloud/organization=o/environment=e/cloud-cluster=k/kafka=k/topic=orders-eu-*")));
/// assert!(!pattern_covers(&topics, &p("crn://confluent.cloud/organization=o/environment=e/cloud-cluster=k/kafka=k/topic=order*")));
/// assert!(!pattern_covers(&topics, &p("crn://confluent.cloud/organization=o/environment=e")));
/// ```
pub fn pattern_covers(outer: &CrnPattern, inner: &CrnPattern) -> bool {
    let o = outer.segments();
    let i = inner.segments();
    if o.is_empty() || o.len() > i.len() {
        return false;
    }
    let last = o.len() - 1;
    for (depth, ((ok, ov), (ik, iv))) in o.iter().zip(i).enumerate() {
        if ok != ik {
            return false;
        }
        let inner_prefixed_here = inner.is_prefixed() && depth == i.len() - 1;
        if depth == last && outer.is_prefixed() {
            // Any value `inner` matches here starts with `iv`, which starts with `ov`.
            if !iv.starts_with(ov.as_str()) {
                return false;
            }
        } else if ov != iv || inner_prefixed_here {
            // A literal segment covers only that exact value, never a prefix of names.
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> CrnPattern {
        format!("crn://confluent.cloud/organization=o{s}")
            .parse()
            .unwrap()
    }

    #[test]
    fn containment_table() {
        let env = "/environment=e";
        let cl = "/environment=e/cloud-cluster=k/kafka=k";
        #[rustfmt::skip]
        let cases: &[(&str, &str, bool)] = &[
            ("", env, true),
            (env, "", false),
            (env, env, true),
            (env, &format!("{cl}/topic=x"), true),
            ("/environment=f", &format!("{cl}/topic=x"), false),
            (&format!("{cl}/topic=a-*"), &format!("{cl}/topic=a-b"), true),
            (&format!("{cl}/topic=a-*"), &format!("{cl}/topic=a-*"), true),
            (&format!("{cl}/topic=a-*"), &format!("{cl}/topic=a-b*"), true),
            (&format!("{cl}/topic=a-*"), &format!("{cl}/topic=a*"), false),
            (&format!("{cl}/topic=a-*"), &format!("{cl}/topic=*"), false),
            (&format!("{cl}/topic=a"), &format!("{cl}/topic=a*"), false),
            (&format!("{cl}/topic=a"), &format!("{cl}/topic=a"), true),
            (&format!("{cl}/topic=*"), &format!("{cl}/topic=anything"), true),
            (&format!("{cl}/topic=*"), cl, false),
            ("/environment=e*", &format!("{cl}/topic=x"), true),
            ("/environment=e*", "/environment=f", false),
            (env, "/environment=e*", false),
        ];
        for (outer, inner, want) in cases {
            assert_eq!(
                pattern_covers(&p(outer), &p(inner)),
                *want,
                "{outer} ⊇ {inner}"
            );
        }
    }
}
