//! What a statement reads under which row filters and column masks, kept while it runs, and
//! whether a new policy version changes that ([`ReadPolicies::changed`]).
//!
//! Owns the comparison that decides whether a long-running statement keeps running after a
//! policy change: for each table the statement reads, the set of applicable
//! `(kind, name, column, text)` for its principal, with the text *after* placeholder
//! substitution (so a change of `{{claims.X}}` handling, or a filter rewritten to the same
//! condition for this caller, is judged by what the caller would read). A table that had none
//! and gets one, or loses one, is a change; a table nothing applies to before or after is not.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::authz::{Claims, DataPolicies};
use crate::catalog::{Crn, ObjectRef, TableRef};
use crate::sql::{Access, Action};

/// One applicable filter or mask, as the caller reads it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Applicable {
    /// `row_filter` or `column_mask`.
    kind: &'static str,
    name: String,
    /// The masked column (empty for a filter).
    column: String,
    /// The condition or the value, placeholders substituted (`FALSE` / `NULL` for a missing
    /// claim, as the rewrite applies them).
    text: String,
}

/// For whom a statement reads which tables, under which filters and masks: recorded when it
/// was decided, compared with every new policy version while it runs.
#[derive(Debug, Clone)]
pub struct ReadPolicies {
    organization: String,
    principal: String,
    claims: Claims,
    /// The policy version it was decided against.
    version: u64,
    tables: BTreeMap<TableRef, BTreeSet<Applicable>>,
}

/// One filter or mask that changed: `(kind, name, how)`, `how` being `added`, `removed` or
/// `changed`.
pub type Changed = (&'static str, String, &'static str);

/// How a policy version changed what a running statement reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyChange {
    /// The version that changed it.
    pub version: u64,
    /// Per table, the filters and masks that changed.
    pub tables: Vec<(TableRef, Vec<Changed>)>,
}

impl PolicyChange {
    /// The statement's detail: the version, the tables and the names of what changed (never
    /// the policy text).
    pub fn detail(&self) -> String {
        let mut out = format!(
            "Statement was ended because policy version {} changed the row filters or column \
             masks that apply to what it reads:",
            self.version
        );
        for (i, (table, changes)) in self.tables.iter().enumerate() {
            let _ = write!(out, "{} table {table}: ", if i == 0 { "" } else { ";" });
            let list: Vec<String> = changes
                .iter()
                .map(|(kind, name, how)| format!("{kind} `{name}` {how}"))
                .collect();
            out.push_str(&list.join(", "));
        }
        out.push_str(". Run it again to read under the policy now in force.");
        out
    }
}

impl ReadPolicies {
    /// What the tables `accesses` read are under `data` (version `version`) for `principal`.
    pub fn new(
        organization: &str,
        principal: &str,
        claims: &Claims,
        version: u64,
        data: &DataPolicies,
        accesses: &[Access],
    ) -> Self {
        let mut out = Self {
            organization: organization.to_string(),
            principal: principal.to_string(),
            claims: claims.clone(),
            version,
            tables: BTreeMap::new(),
        };
        for a in accesses {
            if let (ObjectRef::Table(t), Action::Read) = (&a.object, a.action)
                && !out.tables.contains_key(t)
            {
                let set = out.applicable(data, t);
                out.tables.insert(t.clone(), set);
            }
        }
        out
    }

    /// The policy version it was decided against.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The tables read.
    pub fn tables(&self) -> impl Iterator<Item = &TableRef> {
        self.tables.keys()
    }

    /// Whether any filter or mask applied when it was decided.
    pub fn any_applied(&self) -> bool {
        self.tables.values().any(|s| !s.is_empty())
    }

    fn applicable(&self, data: &DataPolicies, t: &TableRef) -> BTreeSet<Applicable> {
        let crn = Crn::organization(&self.organization)
            .environment(&t.catalog)
            .cluster(&t.database)
            .topic(&t.table);
        let applying = data.applying(&self.principal, &crn);
        let mut set = BTreeSet::new();
        for f in applying.filters {
            set.insert(Applicable {
                kind: "row_filter",
                name: f.name.clone(),
                column: String::new(),
                text: f
                    .filter
                    .instantiate(&self.principal, &self.claims)
                    .map_or_else(|| "FALSE".to_string(), |e| e.to_string()),
            });
        }
        for m in applying.masks {
            set.insert(Applicable {
                kind: "column_mask",
                name: m.name.clone(),
                column: m.column.clone(),
                text: m
                    .mask
                    .instantiate(&self.principal, &self.claims)
                    .map_or_else(|| "NULL".to_string(), |e| e.to_string()),
            });
        }
        set
    }

    /// How `data` (version `version`) changes what the statement reads; `None` when every
    /// table it reads is under the same filters and masks as before.
    pub fn changed(&self, version: u64, data: &DataPolicies) -> Option<PolicyChange> {
        let mut tables = Vec::new();
        for (t, before) in &self.tables {
            let after = self.applicable(data, t);
            if &after == before {
                continue;
            }
            let key = |a: &Applicable| (a.kind, a.name.clone());
            let old: BTreeMap<_, _> = before.iter().map(|a| (key(a), a)).collect();
            let new: BTreeMap<_, _> = after.iter().map(|a| (key(a), a)).collect();
            let mut changes = Vec::new();
            for (k, a) in &new {
                match old.get(k) {
                    None => changes.push((k.0, k.1.clone(), "added")),
                    Some(b) if b != a => changes.push((k.0, k.1.clone(), "changed")),
                    Some(_) => {}
                }
            }
            for k in old.keys().filter(|k| !new.contains_key(*k)) {
                changes.push((k.0, k.1.clone(), "removed"));
            }
            tables.push((t.clone(), changes));
        }
        (!tables.is_empty()).then_some(PolicyChange { version, tables })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: &str =
        "crn://confluent.cloud/organization=o/environment=e/cloud-cluster=k/kafka=k/topic=orders";

    fn policies(text: &str) -> DataPolicies {
        DataPolicies::from_toml(text).expect("valid data policies")
    }

    fn reads(t: &str) -> Vec<Access> {
        vec![Access {
            object: ObjectRef::Table(TableRef::new("e", "k", t)),
            action: Action::Read,
        }]
    }

    fn filter(name: &str, principals: &str, text: &str) -> String {
        format!(
            "[[row_filter]]\nname = \"{name}\"\ntable = \"{ORDERS}\"\nprincipals = [{principals}]\nfilter = \"{text}\"\n"
        )
    }

    #[test]
    fn only_a_change_of_what_this_principal_reads_counts() {
        let claims = Claims::from([("tenant".to_string(), "t1".to_string())]);
        let v1 = policies(&filter(
            "eu",
            "\"User:a\"",
            "region = 'EU' AND tenant = {{claims.tenant}}",
        ));
        let r = ReadPolicies::new("o", "User:a", &claims, 1, &v1, &reads("orders"));
        assert!(r.any_applied());
        // The same text, written differently only in whitespace, and an entry for somebody
        // else: nothing this principal reads changed.
        let same = policies(&format!(
            "{}{}",
            filter(
                "eu",
                "\"User:a\"",
                "region   = 'EU' AND tenant = {{ claims.tenant }}"
            ),
            filter("other", "\"User:b\"", "false")
        ));
        assert_eq!(r.changed(2, &same), None);
        let changed = policies(&filter("eu", "\"User:a\"", "region = 'US'"));
        let c = r.changed(3, &changed).expect("a change");
        assert_eq!(
            c.tables,
            vec![(
                TableRef::new("e", "k", "orders"),
                vec![("row_filter", "eu".to_string(), "changed")]
            )]
        );
        let d = c.detail();
        assert!(d.contains("policy version 3"), "{d}");
        assert!(
            d.contains("`e`.`k`.`orders`") || d.contains("orders"),
            "{d}"
        );
        assert!(d.contains("row_filter `eu` changed"), "{d}");
        assert!(!d.contains("US"), "no policy text in the detail: {d}");
        let removed = r.changed(4, &DataPolicies::default()).expect("a change");
        assert_eq!(
            removed.tables[0].1,
            vec![("row_filter", "eu".into(), "removed")]
        );
    }

    #[test]
    fn a_policy_on_a_table_that_had_none_is_a_change() {
        let r = ReadPolicies::new(
            "o",
            "User:a",
            &Claims::new(),
            1,
            &DataPolicies::default(),
            &reads("orders"),
        );
        assert!(!r.any_applied());
        let v2 = policies(&filter("all", "\"*\"", "true"));
        let c = r.changed(2, &v2).expect("a change");
        assert_eq!(c.tables[0].1, vec![("row_filter", "all".into(), "added")]);
        // A table the statement does not read is none of its business.
        let other = ReadPolicies::new(
            "o",
            "User:a",
            &Claims::new(),
            1,
            &DataPolicies::default(),
            &reads("customers"),
        );
        assert_eq!(other.changed(2, &v2), None);
    }
}
