//! `GET /sqlgate/v1/audit`: the audit log for AuditLogReader and OrganizationAdmin, filtered
//! like `sqlgate audit query` and paged with an opaque cursor.
//!
//! Parameters: `principal`, `table`, `action`, `decision` (`allow`|`deny`), `since`, `until`
//! (RFC 3339 or a span back from now: `30m`, `1h`, `2d`), `limit` (1–10000, default 1000) and
//! `cursor` (from `metadata.next`). Any other parameter, or one given twice, is a 400 naming
//! it. Records come in log order, oldest first; a page cut at `limit` says
//! `metadata.truncated: true` and links the rest in `metadata.next` (absolute, same filters);
//! the last page has `truncated: false` and `next: null`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::json;

use super::response::{self, Body};
use crate::audit::{Decision, Filter};
use crate::error::ApiError;
use crate::gateway::Gateway;

/// The parameters `GET /sqlgate/v1/audit` takes.
pub(crate) const PARAMETERS: [&str; 8] = [
    "principal",
    "table",
    "action",
    "decision",
    "since",
    "until",
    "limit",
    "cursor",
];
/// Page size when `limit` is not given.
pub(crate) const DEFAULT_LIMIT: usize = 1000;
/// Largest `limit`.
pub(crate) const MAX_LIMIT: usize = 10_000;
/// Actions `action=` accepts.
const ACTIONS: [&str; 8] = [
    "read", "write", "create", "alter", "drop", "describe", "list", "run",
];
const PATH: &str = "/sqlgate/v1/audit";
const CURSOR_PREFIX: &str = "audit-after:";

/// Answers `GET /sqlgate/v1/audit` for a caller allowed to read the audit log.
pub(crate) async fn list(
    gw: &Gateway,
    req: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let q: Vec<(String, String)> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    check_names(&q)?;
    let param = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let now = chrono::Utc::now();
    let time = |k: &str| {
        param(k)
            .map(|v| {
                crate::audit::parse_time(&v, now)
                    .map_err(|e| ApiError::invalid(format!("{k}: {e}")))
            })
            .transpose()
    };
    let decision = match param("decision").as_deref() {
        None => None,
        Some("allow") => Some(Decision::Allow),
        Some("deny") => Some(Decision::Deny),
        Some(_) => return Err(ApiError::invalid("decision must be allow or deny")),
    };
    let action = match param("action") {
        None => None,
        Some(a) if ACTIONS.iter().any(|k| k.eq_ignore_ascii_case(&a)) => Some(a),
        Some(_) => {
            return Err(ApiError::invalid(format!(
                "action must be one of {}",
                ACTIONS.join(", ")
            )));
        }
    };
    let limit = match param("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(format!("limit must be a number from 1 to {MAX_LIMIT}"))
            })?,
    };
    let after = param("cursor").map(|c| decode_cursor(&c)).transpose()?;
    let filter = Filter {
        principal: param("principal"),
        table: param("table"),
        action,
        decision,
        since: time("since")?,
        until: time("until")?,
    };
    let files = crate::audit::log_files(gw.auditor().sink().path());
    // Reading the files is blocking work; keep it off the async workers.
    let page =
        tokio::task::spawn_blocking(move || crate::audit::page(&files, &filter, after, limit))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::AuditUnverifiable(e.to_string()))?;
    let next = match page.records.last().and_then(|r| r.sqlgateseq) {
        Some(seq) if page.truncated => {
            // The same filters, as given (a relative `since` stays relative), and the cursor.
            let mut keep: Vec<(String, String)> =
                q.iter().filter(|(k, _)| k != "cursor").cloned().collect();
            keep.push(("cursor".into(), encode_cursor(seq)));
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(keep)
                .finish();
            Some(format!("{}{PATH}?{query}", gw.public_origin()))
        }
        _ => None,
    };
    Ok(response::json(
        StatusCode::OK,
        &json!({
            "kind": "AuditRecordList",
            "metadata": {"next": next, "truncated": page.truncated, "limit": limit},
            "data": page.records,
        }),
    ))
}

/// Refuses a parameter this route does not take, or one given twice, naming it.
fn check_names(q: &[(String, String)]) -> Result<(), ApiError> {
    for (i, (name, _)) in q.iter().enumerate() {
        if !PARAMETERS.contains(&name.as_str()) {
            return Err(ApiError::invalid(format!(
                "unknown query parameter `{}`; {PATH} takes {}",
                shown(name),
                PARAMETERS.join(", ")
            )));
        }
        if q[..i].iter().any(|(n, _)| n == name) {
            return Err(ApiError::invalid(format!(
                "query parameter `{name}` is given more than once"
            )));
        }
    }
    Ok(())
}

/// A caller's parameter name as an error detail shows it: at most 64 characters, control
/// characters replaced.
fn shown(name: &str) -> String {
    let mut s: String = name
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if name.chars().count() > 64 {
        s.push('…');
    }
    s
}

/// The cursor of the page after the record with sequence number `seq`.
fn encode_cursor(seq: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{seq}"))
}

fn decode_cursor(c: &str) -> Result<u64, ApiError> {
    URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix(CURSOR_PREFIX)?.parse().ok())
        .ok_or_else(|| {
            ApiError::invalid(
                "cursor is not one this gateway gave out; use metadata.next of the previous page, or list again without it",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(decode_cursor(&encode_cursor(42)).unwrap(), 42);
        for bad in ["", "42", "!!", &URL_SAFE_NO_PAD.encode("audit-after:x")] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_and_repeated_parameters_are_named() {
        let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(check_names(&q(&[("principal", "User:a"), ("limit", "5")])).is_ok());
        let e = check_names(&q(&[("limt", "5")])).unwrap_err().to_string();
        assert!(e.contains("`limt`") && e.contains("limit, cursor"), "{e}");
        let e = check_names(&q(&[("limit", "5"), ("limit", "6")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`limit`") && e.contains("more than once"), "{e}");
        let long = "x\n".repeat(100);
        let e = check_names(&q(&[(&long, "")])).unwrap_err().to_string();
        assert!(!e.contains('\n') && e.len() < 300, "{e}");
    }
}
