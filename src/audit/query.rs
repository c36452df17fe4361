//! For auditors: find records by principal, table, decision and time, and render them.
//!
//! `query` does not verify the chain; run [`crate::audit::verify`] first to know the records
//! are authentic.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Lines};
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::record::AuditRecord;
use super::verify::{Problem, VerifyError};

/// Allowed or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// `authorizationInfo.granted == true`.
    Allow,
    /// `authorizationInfo.granted == false`.
    Deny,
}

/// Which records to return; every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// `authenticationInfo.principal` (`User:alice`), its `identity`, or its identifier.
    pub principal: Option<String>,
    /// A table: `orders` (any catalog and database), `env-dev.lkc-dev.orders`, or a CRN.
    /// Matches records with an access to it.
    pub table: Option<String>,
    /// Only authorization records with this outcome.
    pub decision: Option<Decision>,
    /// Records at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Records before this time.
    pub until: Option<DateTime<Utc>>,
}

impl Filter {
    /// Whether `record` matches.
    pub fn matches(&self, record: &AuditRecord) -> bool {
        let data = &record.data;
        if let Some(p) = &self.principal {
            let a = &data.authentication_info;
            if a.principal != *p
                && a.identity.as_deref() != Some(p)
                && a.metadata.identifier.as_deref() != Some(p)
            {
                return false;
            }
        }
        if let Some(d) = self.decision {
            match &data.authorization_info {
                Some(info) if info.granted == (d == Decision::Allow) => {}
                _ => return false,
            }
        }
        if self.since.is_some() || self.until.is_some() {
            let Ok(t) = DateTime::parse_from_rfc3339(&record.time) else {
                return false;
            };
            let t = t.with_timezone(&Utc);
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t >= u) {
                return false;
            }
        }
        if let Some(table) = &self.table
            && !data
                .sqlgate
                .objects
                .iter()
                .any(|o| table_matches(table, &o.crn))
        {
            return false;
        }
        true
    }
}

fn table_matches(wanted: &str, crn: &str) -> bool {
    if wanted == crn {
        return true;
    }
    let segment = |kind: &str| {
        crn.split('/')
            .find_map(|s| s.strip_prefix(kind)?.strip_prefix('='))
            .unwrap_or("")
            .to_string()
    };
    let topic = segment("topic");
    if topic.is_empty() {
        return false;
    }
    let parts: Vec<&str> = wanted.split('.').collect();
    match parts.as_slice() {
        [t] => *t == topic,
        [d, t] => *d == segment("kafka") && *t == topic,
        [c, d, t] => *c == segment("environment") && *d == segment("kafka") && *t == topic,
        _ => false,
    }
}

/// Records of `files` (in order) that match `filter`. A line that is not a record is yielded
/// as an error and reading goes on.
pub fn query(
    files: &[PathBuf],
    filter: &Filter,
) -> impl Iterator<Item = Result<AuditRecord, VerifyError>> {
    Records {
        files: files.iter().cloned().collect(),
        current: None,
        filter: filter.clone(),
    }
}

struct Records {
    files: VecDeque<PathBuf>,
    current: Option<(PathBuf, u64, Lines<BufReader<File>>)>,
    filter: Filter,
}

impl Iterator for Records {
    type Item = Result<AuditRecord, VerifyError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some((path, line_no, lines)) = &mut self.current else {
                let path = self.files.pop_front()?;
                match File::open(&path) {
                    Ok(f) => self.current = Some((path, 0, BufReader::new(f).lines())),
                    Err(e) => {
                        return Some(Err(VerifyError::Io {
                            path,
                            reason: e.to_string(),
                        }));
                    }
                }
                continue;
            };
            let Some(line) = lines.next() else {
                self.current = None;
                continue;
            };
            *line_no += 1;
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    return Some(Err(VerifyError::Io {
                        path: path.clone(),
                        reason: e.to_string(),
                    }));
                }
            };
            match serde_json::from_str::<AuditRecord>(&line) {
                Ok(r) if self.filter.matches(&r) => return Some(Ok(r)),
                Ok(_) => {}
                Err(e) => {
                    return Some(Err(VerifyError::Broken {
                        file: path.clone(),
                        line: *line_no,
                        seq: None,
                        problem: Problem::Malformed(e.to_string()),
                    }));
                }
            }
        }
    }
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON record per line, as stored.
    Json,
}

/// Renders records for the CLI.
///
/// ```
/// use sqlgate::audit::{render, OutputFormat};
/// let out = render(&[], OutputFormat::Table);
/// assert!(out.starts_with("TIME"));
/// ```
pub fn render(records: &[AuditRecord], format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => records
            .iter()
            .filter_map(|r| serde_json::to_string(r).ok())
            .map(|l| l + "\n")
            .collect(),
        OutputFormat::Table => {
            let header = [
                "TIME",
                "SEQ",
                "METHOD",
                "PRINCIPAL",
                "DECISION",
                "STATEMENT",
                "OBJECTS",
                "RESULT",
            ];
            let rows: Vec<[String; 8]> = records.iter().map(row).collect();
            let mut widths = header.map(str::len);
            for r in &rows {
                for (w, cell) in widths.iter_mut().zip(r) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            let mut out = String::new();
            let mut push = |cells: &[String]| {
                let line: Vec<String> = cells
                    .iter()
                    .zip(widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                out.push_str(line.join("  ").trim_end());
                out.push('\n');
            };
            push(&header.map(String::from));
            for r in &rows {
                push(r);
            }
            out
        }
    }
}

fn row(r: &AuditRecord) -> [String; 8] {
    let d = &r.data;
    let decision = match &d.authorization_info {
        Some(a) if a.granted => "allow",
        Some(_) => "deny",
        None => "-",
    };
    let objects = d
        .sqlgate
        .objects
        .iter()
        .map(|o| {
            format!(
                "{}:{}{}",
                o.action,
                o.crn.rsplit('/').next().unwrap_or(""),
                if o.granted { "" } else { "!" }
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    let result = match &d.result.code {
        Some(code) => format!("{:?} {code}", d.result.status),
        None => format!("{:?}", d.result.status),
    };
    [
        r.time.clone(),
        r.sqlgateseq.map_or("-".into(), |s| s.to_string()),
        d.method_name.clone(),
        d.authentication_info.principal.clone(),
        decision.into(),
        d.sqlgate.statement.clone().unwrap_or_else(|| "-".into()),
        if objects.is_empty() {
            "-".into()
        } else {
            objects
        },
        result,
    ]
}
