//! Whether the row filters and column masks fit the tables they cover: every column an entry
//! names is one of the table's, a filter is BOOLEAN, a mask's type resolves. Owns the
//! vocabulary ([`TableShape`], [`Misfit`], [`FitReport`]), the column check every engine
//! shares ([`column_misfits`]), and the seam through which the authorizer asks the tables that
//! exist ([`TableFit`], implemented by the embedded engine, which knows the in-memory tables
//! and the Kafka-backed ones through the registry).
//!
//! A reload refuses a new or changed entry that does not fit a table that exists (the last
//! good policy stays in force). An entry already in force that stops fitting because a table
//! changed is not a reload error: reads through it are refused (fail closed) and the gateway
//! reports it (log, `sqlgate_data_policy_mismatches`, `POST /sqlgate/v1/check`).

use std::fmt;

use crate::catalog::{Crn, TableRef};

use super::DataPolicies;

/// One table as an engine has it now.
#[derive(Debug, Clone)]
pub struct TableShape {
    /// Its canonical name.
    pub table: TableRef,
    /// Its CRN (what entries' patterns cover).
    pub crn: Crn,
    /// Its column names, metadata columns included.
    pub columns: Vec<String>,
}

/// An entry that does not fit a table it covers. Names the entry, the table and the column,
/// never the entry's expression text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misfit {
    /// `row_filter` or `column_mask`.
    pub kind: &'static str,
    /// The entry's name.
    pub entry: String,
    /// The table it does not fit.
    pub table: TableRef,
    /// The column the table lacks, when that is the problem.
    pub column: Option<String>,
    /// What is wrong, for administrators.
    pub problem: String,
    /// The entry as written (see [`DataPolicies::fit_keys`]): whether it is new in a reload.
    pub(crate) key: String,
}

impl fmt::Display for Misfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} `{}` does not fit table {}: {}",
            self.kind, self.entry, self.table, self.problem
        )
    }
}

/// What one check of the data policies against the tables found.
#[derive(Debug, Clone, Default)]
pub struct FitReport {
    /// Entries that do not fit a table they cover.
    pub misfits: Vec<Misfit>,
    /// Where tables could not be listed or read in time (a Kafka cluster or registry that
    /// did not answer): its tables were not checked, nothing was refused for them.
    pub unreached: Vec<String>,
}

/// Asks the tables that exist whether the data policies fit them.
#[async_trait::async_trait]
pub trait TableFit: Send + Sync + fmt::Debug {
    /// Checks every entry of `data` against every existing table it covers. Bounded in time:
    /// what cannot be reached quickly is listed in [`FitReport::unreached`], not waited for.
    async fn check(&self, data: &DataPolicies) -> FitReport;
}

/// The columns of `shape` that the entries covering it name and it lacks: one [`Misfit`]
/// per entry and missing column.
pub fn column_misfits(data: &DataPolicies, shape: &TableShape) -> Vec<Misfit> {
    let has = |c: &str| shape.columns.iter().any(|x| x == c);
    let mut out = Vec::new();
    let (filters, masks) = data.covering_all(&shape.crn);
    for f in filters {
        for c in f.filter.columns() {
            if !has(&c) {
                out.push(Misfit {
                    kind: "row_filter",
                    entry: f.name.clone(),
                    table: shape.table.clone(),
                    problem: format!("the filter names column `{c}`, which the table lacks"),
                    column: Some(c),
                    key: f.fit_key(),
                });
            }
        }
    }
    for m in masks {
        if !has(&m.column) {
            out.push(Misfit {
                kind: "column_mask",
                entry: m.name.clone(),
                table: shape.table.clone(),
                problem: format!("it masks column `{}`, which the table lacks", m.column),
                column: Some(m.column.clone()),
                key: m.fit_key(),
            });
        }
        for c in m.mask.columns() {
            if c != m.column && !has(&c) {
                out.push(Misfit {
                    kind: "column_mask",
                    entry: m.name.clone(),
                    table: shape.table.clone(),
                    problem: format!("the mask names column `{c}`, which the table lacks"),
                    column: Some(c),
                    key: m.fit_key(),
                });
            }
        }
    }
    out
}

/// A misfit of an entry's expression (not of a column), e.g. a filter that is not BOOLEAN.
pub fn expression_misfit(
    kind: &'static str,
    entry: &str,
    key: String,
    table: &TableRef,
    problem: String,
) -> Misfit {
    Misfit {
        kind,
        entry: entry.to_string(),
        table: table.clone(),
        column: None,
        problem,
        key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crn(t: &str) -> Crn {
        Crn::organization("o")
            .environment("e")
            .cluster("k")
            .topic(t)
    }

    #[test]
    fn every_column_an_entry_names_and_the_table_lacks_is_a_misfit_naming_entry_table_column() {
        let data = DataPolicies::from_toml(
            r#"
[[row_filter]]
name = "f"
table = "crn://confluent.cloud/organization=o/environment=e/cloud-cluster=k/kafka=k/topic=t*"
principals = ["*"]
filter = "region = 'EU' AND tenant = {{claims.tenant}}"

[[column_mask]]
name = "m"
table = "crn://confluent.cloud/organization=o/environment=e/cloud-cluster=k/kafka=k/topic=t1"
column = "email"
principals = ["*"]
mask = "CONCAT(email, name)"
"#,
        )
        .unwrap();
        let shape = |t: &str, cols: &[&str]| TableShape {
            table: TableRef::new("e", "k", t),
            crn: crn(t),
            columns: cols.iter().map(|c| c.to_string()).collect(),
        };
        let fits = shape("t1", &["region", "tenant", "email", "name"]);
        assert!(column_misfits(&data, &fits).is_empty());
        let got: Vec<String> = column_misfits(&data, &shape("t1", &["region", "name"]))
            .iter()
            .map(|m| m.to_string())
            .collect();
        assert_eq!(
            got,
            [
                "row_filter `f` does not fit table `e`.`k`.`t1`: the filter names column \
                 `tenant`, which the table lacks",
                "column_mask `m` does not fit table `e`.`k`.`t1`: it masks column `email`, \
                 which the table lacks",
            ]
        );
        // Not covered: nothing to fit.
        assert!(column_misfits(&data, &shape("u", &[])).is_empty());
    }
}
