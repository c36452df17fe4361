//! The `sql_pipeline` target: statement text through the stages the request path runs (see
//! `pipeline/decide.rs`), for three principals, and the canonical rendering's round trip.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::{assert_clean_refusal, runtime};
use crate::audit::redact_sql;
use crate::authz::Authorizer;
use crate::catalog::{Catalogs, ClusterConfig, EnvironmentConfig};
use crate::catalog::{ObjectRef, Placement};
use crate::error::ApiError;
use crate::rewrite::RewrittenStatement;
use crate::sql::bounds::Bound;
use crate::sql::{self, ParseLimits, ParsedStatement, ResolveError, SessionNames, SqlError};

/// The environment statements are submitted to, and the region of its compute pool.
const ENVIRONMENT: &str = "env-dev";
const REGION: &str = "aws.us-east-2";

/// Where every statement runs: the gateway's default pool in `env-dev`.
fn placement() -> Placement {
    Placement {
        environment: ENVIRONMENT.into(),
        compute_pool: "lfcp-dev".into(),
        region: REGION.into(),
    }
}

/// OrganizationAdmin: every access is granted except writes to `examples` and objects in
/// another region, so most statements reach `rewrite`.
const ADMIN: &str = "User:pool-admin";
/// FlinkDeveloper on `env-dev` and ResourceOwner on the tables of `lkc-dev` only.
const DEVELOPER: &str = "User:pool-dev";
/// No role at all: refused before resolution, with names resolved for nobody.
const NOBODY: &str = "User:mallory";

/// What every input is decided against, built once per process.
struct Fixture {
    catalogs: Catalogs,
    authorizer: Authorizer,
    session: SessionNames,
    limits: ParseLimits,
    /// For parsing the canonical rendering again: what canonical names add (each relation
    /// becomes three backtick-quoted parts, two more tokens, a few more levels where the
    /// name is followed by a bracket) must not make the round trip fail at a bound.
    reparse_limits: ParseLimits,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let catalogs = catalogs();
        let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let authorizer = runtime()
            .block_on(Authorizer::load(&policies, Arc::new(catalogs.clone())))
            .unwrap_or_else(|e| panic!("the repository's policies/ must load: {e}"));
        let limits = ParseLimits::default();
        let reparse_limits = ParseLimits {
            max_sql_bytes: limits.max_sql_bytes.saturating_mul(8),
            max_tokens: limits.max_tokens.saturating_mul(5),
            max_depth: limits.max_depth + 64,
            ..limits.clone()
        };
        Fixture {
            catalogs,
            authorizer,
            session: crate::sql::corpus::corpus_session(),
            limits,
            reparse_limits,
        }
    })
}

/// The corpus's model ([`crate::sql::corpus::corpus_catalogs`]: `env-dev` and the catalogs
/// Flink's documentation names) plus `env-prod`, whose cluster is in another region.
fn catalogs() -> Catalogs {
    let cluster = |id: &str, display: &str, region: &str| ClusterConfig {
        id: id.into(),
        display_name: display.into(),
        region: region.into(),
        kafka: None,
    };
    let env = |id: &str, display: &str, clusters: Vec<ClusterConfig>| EnvironmentConfig {
        id: id.into(),
        display_name: display.into(),
        clusters,
    };
    let mut environments = crate::sql::corpus::corpus_catalogs()
        .environments()
        .to_vec();
    environments.push(env(
        "env-prod",
        "prod",
        vec![cluster("lkc-prod", "main", "aws.eu-west-1")],
    ));
    Catalogs::new("org-dev", REGION, environments)
}

/// Statement text (as `spec.statement` carries it: any bytes, read as UTF-8 with
/// replacement) through parse, the audit's redaction, resolve, authorize and rewrite for an
/// administrator, a developer and a principal without roles, then the canonical round trip
/// (see the module doc of [`super`]).
pub fn sql_pipeline(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let fx = fixture();
    let parsed = match sql::parse(&text, &fx.limits) {
        Ok(p) => p,
        Err(e) => {
            assert_names_its_limit(&e, &text);
            return assert_clean_refusal(ApiError::from(e), &Short(&text));
        }
    };
    let audit = redact_sql(&text, Some(&parsed), true);
    assert!(audit.text.is_some(), "a parsed statement has audit text");
    let admin = decide(fx, &text, ADMIN);
    decide(fx, &text, DEVELOPER);
    decide(fx, &text, NOBODY);
    round_trip(fx, parsed, admin.as_ref());
}

/// A refusal for going past a bound says which limit, so a person knows what to simplify.
fn assert_names_its_limit(e: &SqlError, text: &str) {
    let names_limit = match e {
        SqlError::TooLarge { .. } | SqlError::TooDeep { .. } => e.detail().contains("limit"),
        SqlError::TooComplex { bound, limit, .. } => {
            *bound == Bound::ParseAttempts || e.detail().contains(&format!("limit is {limit}"))
        }
        _ => true,
    };
    assert!(
        names_limit,
        "a refusal at a bound does not name the limit: {} for {:?}",
        e.detail(),
        Short(text)
    );
}

/// One principal's decision, as `pipeline::decide` makes it; the statement the engine would
/// get, when allowed. A proof is not `Clone`, so each decision parses `text` (which parsed
/// once already) again, as each request does.
fn decide(fx: &Fixture, text: &str, principal: &str) -> Option<RewrittenStatement> {
    let parsed = sql::parse(text, &fx.limits)
        .unwrap_or_else(|e| panic!("parsed once, refused the second time: {e}"));
    let text = Short(text);
    if let Err(e) = fx.authorizer.check_run(principal, ENVIRONMENT) {
        assert_clean_refusal(e.into(), &text);
        return None;
    }
    let view = fx.authorizer.view(principal);
    let resolved = match sql::resolve_for(parsed, &fx.catalogs, &fx.session, &view) {
        Ok(r) => r,
        Err(e) => {
            assert_clean_refusal(e.into(), &text);
            return None;
        }
    };
    let accesses = resolved.accesses().to_vec();
    let (_, authorized) = fx
        .authorizer
        .authorize_versioned(principal, resolved, &placement());
    let authorized = match authorized {
        Ok(a) => a,
        Err(e) => {
            assert_clean_refusal(e.into(), &text);
            return None;
        }
    };
    assert_eq!(
        authorized.decisions().len(),
        accesses.len(),
        "one decision per access, for {text:?}"
    );
    assert!(authorized.decisions().iter().all(|d| d.granted));
    let rewritten = crate::rewrite::rewrite(authorized).unwrap_or_else(|e| {
        panic!(
            "rewrite refused an authorized statement (a relation escaped resolution): {e} \
             for {principal}, {text:?}"
        )
    });
    assert_eq!(rewritten.accesses(), accesses.as_slice());
    assert!(!rewritten.sql().trim().is_empty());
    Some(rewritten)
}

/// The canonical statement parses again, resolves (with no session at all: canonical names
/// are complete, except in statements about the session) to the same accesses and kind, and
/// renders to itself; and what the engine
/// gets for the administrator is exactly that canonical statement.
fn round_trip(fx: &Fixture, parsed: ParsedStatement, admin: Option<&RewrittenStatement>) {
    let text = format!("{:?}", Short(parsed.text()));
    let Ok(resolved) = sql::resolve(parsed, &fx.catalogs, &fx.session) else {
        return;
    };
    let canonical = resolved.canonical_sql();
    if let Some(rewritten) = admin {
        assert_eq!(
            rewritten.sql(),
            canonical,
            "the engine gets other SQL than was resolved, for {text}"
        );
    }
    let again = sql::parse(&canonical, &fx.reparse_limits).unwrap_or_else(|e| {
        panic!(
            "the canonical rendering does not parse again ({}): {text} → {:?}",
            e.detail(),
            Short(&canonical)
        )
    });
    // Table names are complete in the canonical text; only statements about the session
    // itself (`SET`, `USE`, `ADD JAR`, …: `alter` on the session's catalog) still need one.
    let no_tables = resolved
        .accesses()
        .iter()
        .all(|a| !matches!(a.object, ObjectRef::Table(_)));
    let again = match sql::resolve(again, &fx.catalogs, &SessionNames::default()) {
        Err(ResolveError::NoCurrentCatalog(_) | ResolveError::NoCurrentDatabase(_))
            if no_tables =>
        {
            let again = sql::parse(&canonical, &fx.reparse_limits)
                .unwrap_or_else(|e| panic!("parsed once, refused the second time: {e}"));
            sql::resolve(again, &fx.catalogs, &fx.session)
        }
        other => other,
    }
    .unwrap_or_else(|e| {
        panic!(
            "the canonical rendering does not resolve ({}): {text} → {:?}",
            e.detail(),
            Short(&canonical)
        )
    });
    assert_eq!(
        again.accesses(),
        resolved.accesses(),
        "the canonical rendering has other accesses: {text} → {:?}",
        Short(&canonical)
    );
    assert_eq!(again.sql_kind(), resolved.sql_kind(), "{text}");
    assert_eq!(
        again.canonical_sql(),
        canonical,
        "the canonical rendering is not a fixed point: {text}"
    );
}

/// Debug-prints at most the first 2,000 characters of a text, so assertion messages about
/// a 1 MiB statement stay readable.
struct Short<'a>(&'a str);

impl std::fmt::Debug for Short<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MAX: usize = 2000;
        match self.0.char_indices().nth(MAX) {
            None => write!(f, "{:?}", self.0),
            Some((at, _)) => write!(f, "{:?}… ({} bytes)", &self.0[..at], self.0.len()),
        }
    }
}
