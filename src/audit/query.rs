//! For auditors: find records by principal, table, action, decision and time (absolute or
//! relative to now), page through them by sequence number, and render them.
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

#[cfg(test)]
mod tests;

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
    /// An access's action (`read`, `write`, `create`, `alter`, `drop`, `describe`, `list`,
    /// `run`; any case). Matches records with an access of this action, to [`Self::table`]
    /// when that is set too.
    pub action: Option<String>,
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
        if (self.table.is_some() || self.action.is_some())
            && !data.sqlgate.objects.iter().any(|o| {
                self.table.as_ref().is_none_or(|t| table_matches(t, &o.crn))
                    && self
                        .action
                        .as_ref()
                        .is_none_or(|a| a.eq_ignore_ascii_case(&o.action))
            })
        {
            return false;
        }
        true
    }
}

/// A `--since`/`--until` (or `since=`/`until=`) time: RFC 3339 (`2026-11-24T00:00:00Z`), or a
/// span back from `now` such as `30m`, `1h`, `2d`, `1h30m` (humantime units: `s`, `m`, `h`,
/// `d`, `w`).
///
/// ```
/// use sqlgate::audit::parse_time;
/// let now = "2026-11-24T12:00:00Z".parse().unwrap();
/// assert_eq!(parse_time("1h", now).unwrap().to_rfc3339(), "2026-11-24T11:00:00+00:00");
/// assert!(parse_time("yesterday", now).is_err());
/// ```
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let span = humantime::parse_duration(s).map_err(|_| {
        format!("`{s}` is neither an RFC 3339 time (2026-11-24T00:00:00Z) nor a span back from now (30m, 1h, 2d)")
    })?;
    chrono::Duration::from_std(span)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| format!("`{s}` reaches back before any representable time"))
}

/// One page of [`query`]'s matches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// At most `limit` records, in log order.
    pub records: Vec<AuditRecord>,
    /// More records matched after the last one: the page was cut at `limit`.
    pub truncated: bool,
}

/// The first `limit` records of `files` that match `filter` and have a `sqlgateseq` greater
/// than `after` (all when `None`), and whether more matched. A rotated file whose successor
/// begins at or before `after + 1` is skipped without being read through.
pub fn page(
    files: &[PathBuf],
    filter: &Filter,
    after: Option<u64>,
    limit: usize,
) -> Result<Page, VerifyError> {
    let start = match after {
        None => 0,
        Some(after) => {
            let mut start = 0;
            while start + 1 < files.len()
                && first_seq(&files[start + 1]).is_some_and(|s| s <= after.saturating_add(1))
            {
                start += 1;
            }
            start
        }
    };
    let mut out = Page::default();
    for r in query(&files[start..], filter) {
        let r = r?;
        if after.is_some_and(|a| r.sqlgateseq.is_none_or(|s| s <= a)) {
            continue;
        }
        if out.records.len() == limit {
            out.truncated = true;
            break;
        }
        out.records.push(r);
    }
    Ok(out)
}

/// `sqlgateseq` of a file's first record (`None` when it cannot be read).
fn first_seq(path: &PathBuf) -> Option<u64> {
    let line = BufReader::new(File::open(path).ok()?)
        .lines()
        .next()?
        .ok()?;
    serde_json::from_str::<AuditRecord>(&line).ok()?.sqlgateseq
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
                "IDENTITY",
                "DECISION",
                "STATEMENT",
                "OBJECTS",
                "RESULT",
            ];
            let rows: Vec<[String; 9]> = records.iter().map(row).collect();
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

fn row(r: &AuditRecord) -> [String; 9] {
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
                object_name(&o.crn),
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
        identity(&d.authentication_info),
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

/// The person or key behind the principal: the token's identity claim (the human behind a
/// shared identity pool), else the key id or token subject the record names, else `-`.
fn identity(a: &super::record::AuthenticationInfo) -> String {
    a.identity
        .as_deref()
        .or(a.metadata.identifier.as_deref())
        .filter(|i| !i.is_empty())
        .unwrap_or("-")
        .to_string()
}

/// An object's name in the table: `catalog.database.table` for a table (ids, as
/// `--table` takes them; a part with a `.` or a backtick is backtick-quoted),
/// `catalog.database` for a database, else the CRN's last segment (`environment=env-dev`,
/// `statement=…`).
fn object_name(crn: &str) -> String {
    let segment = |kind: &str| {
        crn.split('/')
            .find_map(|s| s.strip_prefix(kind)?.strip_prefix('='))
    };
    let part = |p: &str| {
        if p.contains(['.', '`']) {
            format!("`{}`", p.replace('`', "``"))
        } else {
            p.to_string()
        }
    };
    match (segment("environment"), segment("kafka"), segment("topic")) {
        (Some(c), Some(d), Some(t)) => format!("{}.{}.{}", part(c), part(d), part(t)),
        (Some(c), Some(d), None)
            if crn
                .rsplit('/')
                .next()
                .is_some_and(|l| l.starts_with("kafka=")) =>
        {
            format!("{}.{}", part(c), part(d))
        }
        _ => crn.rsplit('/').next().unwrap_or("").to_string(),
    }
}
