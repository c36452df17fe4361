//! What the unit tests share: one resource model, the repository's policy, the placement of a
//! statement in `env-dev`, and the SQL vocabulary built on the one decision path
//! ([`crate::pipeline::decide`]): [`Fixture::rewritten`], [`Fixture::assert_rewrites_to`] and
//! [`Fixture::assert_denied`] (after sqlparser's `verified_stmt` / `one_statement_parses_to`);
//! and the SQL fixture files under `tests/fixtures/sql/`, read by [`sql_cases`].
//!
//! Compiled for tests only. Integration tests have their own vocabulary in `tests/common/`.

use std::sync::Arc;

use crate::authz::Authorizer;
use crate::catalog::{Catalogs, ClusterConfig, EnvironmentConfig, Placement};
use crate::pipeline::{Decider, Refusal, Request, decide};
use crate::rewrite::RewrittenStatement;
use crate::sql::{ParseLimits, SessionNames};

mod sql_files;
pub(crate) use sql_files::cases as sql_cases;

/// The organization of every fixture.
pub(crate) const ORG: &str = "org-dev";
/// The region of `env-dev`'s cluster and of the default compute pool.
pub(crate) const REGION: &str = "aws.us-east-2";
/// The region of `env-prod`'s cluster.
pub(crate) const EU_REGION: &str = "aws.eu-west-1";

/// A cluster (database) without a Kafka connection.
pub(crate) fn cluster(id: &str, display_name: &str, region: &str) -> ClusterConfig {
    ClusterConfig {
        id: id.into(),
        display_name: display_name.into(),
        region: region.into(),
        kafka: None,
    }
}

/// An environment (catalog).
pub(crate) fn environment(
    id: &str,
    display_name: &str,
    clusters: Vec<ClusterConfig>,
) -> EnvironmentConfig {
    EnvironmentConfig {
        id: id.into(),
        display_name: display_name.into(),
        clusters,
    }
}

/// `env-dev` (`dev`) with one cluster `lkc-dev` (`main`) in [`REGION`].
pub(crate) fn dev() -> EnvironmentConfig {
    environment("env-dev", "dev", vec![cluster("lkc-dev", "main", REGION)])
}

/// `env-prod` (`prod`) with one cluster `lkc-prod` (`main`) in [`EU_REGION`].
pub(crate) fn prod() -> EnvironmentConfig {
    environment(
        "env-prod",
        "prod",
        vec![cluster("lkc-prod", "main", EU_REGION)],
    )
}

/// The organization with [`dev`] only: the model most unit tests need.
pub(crate) fn catalogs() -> Catalogs {
    Catalogs::new(ORG, REGION, vec![dev()])
}

/// The organization with [`dev`] and [`prod`] (a second environment, in another region).
pub(crate) fn catalogs_with_prod() -> Catalogs {
    Catalogs::new(ORG, REGION, vec![dev(), prod()])
}

/// Unqualified names default to `dev`.`main`.
pub(crate) fn dev_session() -> SessionNames {
    SessionNames {
        catalog: Some("dev".into()),
        database: Some("main".into()),
    }
}

/// A statement submitted to `env-dev`, on the default pool `lfcp-dev` in [`REGION`].
pub(crate) fn dev_placement() -> Placement {
    Placement {
        environment: "env-dev".into(),
        compute_pool: "lfcp-dev".into(),
        region: REGION.into(),
    }
}

/// The repository's `policies/` texts.
pub(crate) const MODEL: &str = include_str!("../policies/model.conf");
/// The repository's predefined roles.
pub(crate) const ROLES: &str = include_str!("../policies/roles.csv");
/// The repository's role bindings (`User:pool-dev`, `User:pool-admin`, …).
pub(crate) const BINDINGS: &str = include_str!("../policies/bindings.csv");

/// A resource model and a policy, and statements decided against them the way the request
/// path decides them: in [`dev_session`], placed at [`dev_placement`].
#[derive(Debug)]
pub(crate) struct Fixture {
    catalogs: Arc<Catalogs>,
    authorizer: Authorizer,
    limits: ParseLimits,
}

impl Fixture {
    /// The repository's policy over [`catalogs_with_prod`].
    pub(crate) async fn new() -> Self {
        Self::with_roles("").await
    }

    /// The repository's policy with `extra_roles` lines added to `roles.csv`.
    pub(crate) async fn with_roles(extra_roles: &str) -> Self {
        let catalogs = Arc::new(catalogs_with_prod());
        let roles = format!("{ROLES}\n{extra_roles}");
        let authorizer = Authorizer::from_texts(MODEL, &roles, BINDINGS, catalogs.clone())
            .await
            .unwrap_or_else(|e| panic!("the fixture's policy must load: {e}"));
        Self {
            catalogs,
            authorizer,
            limits: ParseLimits::default(),
        }
    }

    /// `sql` for `principal`, through [`crate::pipeline::decide`].
    pub(crate) fn decide(&self, principal: &str, sql: &str) -> Result<RewrittenStatement, Refusal> {
        let decider = Decider {
            authorizer: &self.authorizer,
            catalogs: &self.catalogs,
            limits: &self.limits,
            redact_sql: true,
            memo: None,
        };
        let request = Request {
            principal: principal.into(),
            text: sql.into(),
            session: dev_session(),
            placement: dev_placement(),
            claims: Default::default(),
        };
        // Without a memo the statement has no other owner.
        decide(&decider, &request)
            .outcome
            .map(|r| Arc::try_unwrap(r).expect("decided without a memo: not shared"))
    }

    /// What the engine gets for `sql` from `principal`; panics with the refusal if refused.
    pub(crate) fn rewritten(&self, principal: &str, sql: &str) -> RewrittenStatement {
        self.decide(principal, sql).unwrap_or_else(|r| {
            let (code, detail) = r.code_and_detail();
            panic!(
                "{principal}: {sql}: refused at {}: {code:?}: {detail}",
                r.stage()
            )
        })
    }

    /// `sql` from `principal` is allowed, and the engine runs exactly `expected`; the proof
    /// holds for `principal`, at [`dev_placement`], with one decision per access.
    pub(crate) fn assert_rewrites_to(
        &self,
        principal: &str,
        sql: &str,
        expected: &str,
    ) -> RewrittenStatement {
        let r = self.rewritten(principal, sql);
        assert_eq!(r.sql(), expected, "{principal}: {sql}");
        assert_eq!(r.warrant().principal(), principal, "{sql}");
        assert_eq!(r.warrant().placement(), &dev_placement(), "{sql}");
        assert_eq!(r.decisions().len(), r.accesses().len(), "{sql}");
        assert!(r.decisions().iter().all(|d| d.granted), "{sql}");
        r
    }

    /// `sql` from `principal` is refused with `code`; returns the refusal's detail (what the
    /// client reads).
    pub(crate) fn assert_denied(&self, principal: &str, sql: &str, code: &str) -> String {
        match self.decide(principal, sql) {
            Ok(r) => panic!("{principal}: {sql}: allowed, ran {}", r.sql()),
            Err(refusal) => {
                let (got, detail) = refusal.code_and_detail();
                assert_eq!(got.as_str(), code, "{principal}: {sql}: {detail}");
                detail
            }
        }
    }
}
