//! The one decision: parse → (may the principal run here?) → resolve → authorize → rewrite,
//! for a principal, a statement text, its session names and its [`Placement`].
//!
//! The request path, `sqlgate check`, `POST /sqlgate/v1/check`, `sqlgate policy test` and the
//! benches all call [`decide`], so an explanation can never disagree with enforcement. Owns
//! the order of the SQL stages and the refusal each produces; it records nothing and runs
//! nothing. It is synchronous: the gateway runs it on a decision worker
//! ([`super::Workers`]), never on an async worker. The one parse of the statement also gives the
//! text audit records carry. A granted decision may be kept and answered again by the
//! [`DecisionMemo`](super::DecisionMemo) of the [`Decider`] (see `memo.rs` for when).

use std::sync::Arc;

use crate::audit::{SqlForAudit, redact_sql};
use crate::authz::{Authorizer, AuthzError, Claims, Evaluation};
use crate::catalog::{Catalogs, Everything, Visibility};
use crate::rewrite::{self, RewriteError, RewrittenStatement};
use crate::sql::{self, ParseLimits, ResolveError, SessionNames, SqlError};

use super::Placement;
use super::memo::{Asked, DecisionMemo};

/// What a decision needs: the policy, the resource model and the parser bounds.
#[derive(Debug, Clone, Copy)]
pub struct Decider<'a> {
    /// The policy in force.
    pub authorizer: &'a Authorizer,
    /// The resource model names resolve against.
    pub catalogs: &'a Catalogs,
    /// Bounds on the statement text.
    pub limits: &'a ParseLimits,
    /// Whether audit records carry the SQL with literals replaced (`audit.redact_sql_literals`).
    pub redact_sql: bool,
    /// The granted decisions kept to be answered again (the gateway's); `None` decides every
    /// statement afresh (the tools, which explain one decision at a time).
    pub memo: Option<&'a DecisionMemo>,
}

/// One question: may `principal` run `text` here?
#[derive(Debug, Clone)]
pub struct Request {
    /// The principal's id (`User:pool-dev`).
    pub principal: String,
    /// The statement text as sent.
    pub text: String,
    /// Session defaults for unqualified names (`sql.current-catalog` / `-database`).
    pub session: SessionNames,
    /// Where it runs.
    pub placement: Placement,
    /// The claims of the principal's verified token, for row filters and column masks
    /// (`{{claims.NAME}}`); empty for API keys and dry runs without claims.
    pub claims: Claims,
}

/// What the decision concluded, and what the audit and `sqlgate check` need of it.
#[derive(Debug)]
pub struct Decided {
    /// The SQL as an audit record may carry it.
    pub sql: SqlForAudit,
    /// Flink's statement kind, once resolved.
    pub kind: Option<&'static str>,
    /// The policy version that decided (set from the run check on).
    pub policy_version: Option<u64>,
    /// The authorization's verdict on every access, when authorization ran.
    pub evaluation: Option<Evaluation>,
    /// The statement the engine may run (shared with the memo when it was kept), or the
    /// refusal.
    pub outcome: Result<Arc<RewrittenStatement>, Refusal>,
}

/// A refusal, with the stage that refused.
#[derive(Debug)]
pub enum Refusal {
    /// The text is not one acceptable statement.
    Parse(SqlError),
    /// A name could not be bound (or names something the caller may not know of).
    Resolve(ResolveError),
    /// The principal may not run statements here, an access is not granted, or it is in
    /// another region.
    Authorize(AuthzError),
    /// Authorized, but could not be rendered for the engine (a resolution bug, refused).
    Rewrite(RewriteError),
}

impl Refusal {
    /// The stage name used in metrics, logs, audit records and check reports.
    pub fn stage(&self) -> &'static str {
        match self {
            Refusal::Parse(_) => "parse",
            Refusal::Resolve(_) => "resolve",
            Refusal::Authorize(AuthzError::WrongRegion { .. }) => "region",
            Refusal::Authorize(_) => "authorize",
            Refusal::Rewrite(_) => "rewrite",
        }
    }

    /// The refusal's detail as an audit record may carry it: as the client sees it, except
    /// that a parser's message loses the statement's literals it quotes (`found: 'secret'`).
    pub fn audit_detail(&self, text: &str) -> String {
        match self {
            Refusal::Parse(SqlError::Parse {
                message,
                line,
                column,
            }) => SqlError::Parse {
                message: sql::scrub_literals(message, text),
                line: *line,
                column: *column,
            }
            .detail(),
            Refusal::Parse(SqlError::Unsupported(what)) => {
                SqlError::Unsupported(sql::scrub_literals(what, text)).detail()
            }
            other => other.code_and_detail().1,
        }
    }

    /// The refusal's code and detail, as the client sees them.
    pub fn code_and_detail(&self) -> (crate::error::ErrorCode, String) {
        match self {
            Refusal::Parse(e) => (e.code(), e.detail()),
            Refusal::Resolve(e) => (e.code(), e.detail()),
            Refusal::Authorize(e) => (e.code(), e.detail()),
            Refusal::Rewrite(e) => (e.code(), e.detail()),
        }
    }
}

/// Decides `req` against the policy in force (see the module doc): from the memo when it kept
/// this very decision, else afresh (then kept when it may be).
pub fn decide(d: &Decider<'_>, req: &Request) -> Decided {
    let Some(memo) = d.memo.filter(|m| m.serves(d)) else {
        return decide_afresh(d, req);
    };
    let asked = Asked::now(d);
    if let Some(kept) = memo.get(asked, d.redact_sql, req) {
        return kept;
    }
    let decided = decide_afresh(d, req);
    memo.keep(d, asked, req, &decided);
    decided
}

/// Every stage, in order, for `req`.
fn decide_afresh(d: &Decider<'_>, req: &Request) -> Decided {
    let mut decided = Decided {
        sql: redact_sql(&req.text, None, d.redact_sql),
        kind: None,
        policy_version: None,
        evaluation: None,
        outcome: Err(Refusal::Parse(SqlError::Empty)),
    };
    let parsed = match sql::parse(&req.text, d.limits) {
        Ok(p) => p,
        Err(e) => {
            decided.outcome = Err(Refusal::Parse(e));
            return decided;
        }
    };
    decided.sql = redact_sql(&req.text, Some(&parsed), d.redact_sql);
    // A principal who may not run statements here knows nothing, so its refusal must not
    // depend on which names exist: it comes before resolution.
    let environment = &req.placement.environment;
    if let Err(e) = d.authorizer.check_run(&req.principal, environment) {
        decided.policy_version = Some(d.authorizer.version());
        decided.outcome = Err(Refusal::Authorize(e));
        return decided;
    }
    let view = d.authorizer.view(&req.principal);
    let resolved = match sql::resolve_for(parsed, d.catalogs, &req.session, &view) {
        Ok(r) => r,
        Err(e) => {
            decided.outcome = Err(Refusal::Resolve(e));
            return decided;
        }
    };
    decided.kind = Some(resolved.sql_kind());
    let through_views = (!resolved.views().through.is_empty()).then(|| resolved.views().clone());
    let a = d
        .authorizer
        .authorize_explained(&req.principal, resolved, &req.placement);
    decided.policy_version = Some(a.version);
    decided.evaluation = Some(a.evaluation);
    let result = match (a.result, through_views) {
        (Err(e), Some(views)) => Err(name_the_view(e, &views, |o| {
            d.authorizer.can_see(&req.principal, o)
        })),
        (r, _) => r,
    };
    decided.outcome = result.map_err(Refusal::Authorize).and_then(|a| {
        rewrite::rewrite_for(a, d.catalogs.organization_id(), &req.claims)
            .map(Arc::new)
            .map_err(Refusal::Rewrite)
    });
    decided
}

/// A refused read of a table the statement reads only through a view, by a reader who may
/// not see that table (no role on it: `visible`, as SHOW TABLES filters), names the view
/// instead (see [`crate::views`]).
fn name_the_view(
    e: AuthzError,
    views: &crate::views::ViewUse,
    visible: impl Fn(&crate::catalog::ObjectRef) -> bool,
) -> AuthzError {
    let AuthzError::Denied {
        principal, object, ..
    } = &e
    else {
        return e;
    };
    let crate::catalog::ObjectRef::Table(t) = object.as_ref() else {
        return e;
    };
    match views.only_through(t) {
        Some(v) if !visible(object) => AuthzError::DeniedThroughView {
            principal: principal.clone(),
            view: Box::new(crate::catalog::ObjectRef::Table(v.clone())),
        },
        _ => e,
    }
}

/// Resolves `req`'s statement as its principal would see it, for an explanation whose decision
/// was a refusal before authorization ran (the objects `sqlgate check` lists). `None` if it
/// does not parse or resolve. Decides nothing.
pub(super) fn objects_for_report(
    d: &Decider<'_>,
    req: &Request,
    may_run: bool,
) -> Option<Evaluation> {
    let parsed = sql::parse(&req.text, d.limits).ok()?;
    let view = d.authorizer.view(&req.principal);
    // A non-runner is refused before its names resolve; the admin still sees the objects.
    let visible: &dyn Visibility = if may_run { &view } else { &Everything };
    let resolved = sql::resolve_for(parsed, d.catalogs, &req.session, visible).ok()?;
    Some(
        d.authorizer
            .authorize_explained(&req.principal, resolved, &req.placement)
            .evaluation,
    )
}
