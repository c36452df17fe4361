//! The synchronous decision: parse → resolve → authorize → rewrite for one statement, run on a
//! decision worker ([`super::Workers`]), never on an async worker.
//!
//! Owns the order of the SQL stages and the refusal each one produces; it records nothing and
//! runs nothing. The one parse of the statement also gives the text the audit records carry.

use crate::audit::SqlForAudit;
use crate::authz::AuthzError;
use crate::gateway::Gateway;
use crate::sql::{self, ResolveError, RewriteError, RewrittenStatement, SessionNames, SqlError};

/// What the decision concluded, and what the audit needs to record it.
#[derive(Debug)]
pub(crate) struct Decided {
    /// The SQL as an audit record may carry it.
    pub(crate) sql: SqlForAudit,
    /// Flink's statement kind, once resolved.
    pub(crate) kind: Option<&'static str>,
    /// The policy version that decided (set from authorization on).
    pub(crate) policy_version: Option<u64>,
    /// The statement the engine may run, or the refusal.
    pub(crate) outcome: Result<RewrittenStatement, Refusal>,
}

/// A refusal, with the stage that refused.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The text is not one acceptable statement.
    Parse(SqlError),
    /// A name could not be bound.
    Resolve(ResolveError),
    /// An access is not granted (or is in another region).
    Authorize(AuthzError),
    /// Authorized, but could not be rendered for the engine (a resolution bug, refused).
    Rewrite(RewriteError),
}

impl Refusal {
    /// The stage name used in metrics and logs.
    pub(crate) fn stage(&self) -> &'static str {
        match self {
            Refusal::Parse(_) => "parse",
            Refusal::Resolve(_) => "resolve",
            Refusal::Authorize(AuthzError::WrongRegion { .. }) => "region",
            Refusal::Authorize(_) => "authorize",
            Refusal::Rewrite(_) => "rewrite",
        }
    }
}

/// Where and for whom a statement is decided.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// The principal's id.
    pub(crate) principal: String,
    /// The statement text as sent.
    pub(crate) text: String,
    /// Session defaults for unqualified names.
    pub(crate) session: SessionNames,
    /// The environment of the request URL.
    pub(crate) environment: String,
    /// The region of the statement's compute pool.
    pub(crate) region: String,
}

/// Decides `req` against the policy in force (see the module doc).
pub(crate) fn decide(gw: &Gateway, req: &Request) -> Decided {
    let redact = gw.auditor();
    let parsed = match sql::parse(&req.text, gw.parse_limits()) {
        Ok(p) => p,
        Err(e) => {
            return Decided {
                sql: redact.sql_for_audit(&req.text, None),
                kind: None,
                policy_version: None,
                outcome: Err(Refusal::Parse(e)),
            };
        }
    };
    let sql = redact.sql_for_audit(&req.text, Some(&parsed));
    if let Err(e) = gw.authorizer().check_run(&req.principal, &req.environment) {
        return Decided {
            sql,
            kind: None,
            policy_version: Some(gw.authorizer().version()),
            outcome: Err(Refusal::Authorize(e)),
        };
    }
    let view = gw.authorizer().view(&req.principal);
    let resolved = match sql::resolve_for(parsed, gw.catalogs(), &req.session, &view) {
        Ok(r) => r,
        Err(e) => {
            return Decided {
                sql,
                kind: None,
                policy_version: None,
                outcome: Err(Refusal::Resolve(e)),
            };
        }
    };
    let kind = Some(resolved.sql_kind());
    let (version, authorized) = gw.authorizer().authorize_versioned(
        &req.principal,
        resolved,
        &req.environment,
        &req.region,
    );
    let outcome = authorized
        .map_err(Refusal::Authorize)
        .and_then(|a| sql::rewrite(a).map_err(Refusal::Rewrite));
    Decided {
        sql,
        kind,
        policy_version: Some(version),
        outcome,
    }
}
