//! The decision memo answers only the question it was asked, and never across a policy
//! reload, a view change or a refusal.

use std::sync::Arc;

use chrono::Utc;

use super::{DecisionMemo, MemoConfig};
use crate::authz::{Authorizer, Settle};
use crate::catalog::{Catalogs, TableRef};
use crate::metrics::MemoMetrics;
use crate::pipeline::{Decided, Decider, Request, decide};
use crate::sql::ParseLimits;
use crate::testing::{BINDINGS, MODEL, ROLES, catalogs, dev_placement, dev_session};
use crate::views::ViewDef;

const DEV: &str = "User:pool-dev";
const READ: &str = "SELECT * FROM orders";

/// A policy read from files in its own directory, so that a test can reload it.
struct Setup {
    dir: tempfile::TempDir,
    catalogs: Arc<Catalogs>,
    authorizer: Authorizer,
    limits: ParseLimits,
    memo: DecisionMemo,
    metrics: MemoMetrics,
}

impl Setup {
    async fn new() -> Self {
        Self::with(&MemoConfig::default()).await
    }

    async fn with(cfg: &MemoConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("model.conf"), MODEL).unwrap();
        std::fs::write(dir.path().join("roles.csv"), ROLES).unwrap();
        std::fs::write(dir.path().join("bindings.csv"), BINDINGS).unwrap();
        let catalogs = Arc::new(catalogs());
        let settle = Settle {
            period: std::time::Duration::ZERO,
            rounds: 1,
        };
        let authorizer = Authorizer::load_with(dir.path(), catalogs.clone(), settle)
            .await
            .unwrap();
        let limits = ParseLimits::default();
        let metrics = MemoMetrics::default();
        let memo = DecisionMemo::new(limits.clone(), cfg, metrics.clone()).unwrap();
        Self {
            dir,
            catalogs,
            authorizer,
            limits,
            memo,
            metrics,
        }
    }

    fn decider(&self) -> Decider<'_> {
        Decider {
            authorizer: &self.authorizer,
            catalogs: &self.catalogs,
            limits: &self.limits,
            redact_sql: true,
            memo: Some(&self.memo),
        }
    }

    fn decide(&self, req: &Request) -> Decided {
        decide(&self.decider(), req)
    }

    /// `req` decided twice, as it is kept (the second time a question is granted); returns the
    /// kept decision.
    fn settle(&self, req: &Request) -> Decided {
        let first = self.decide(req);
        let kept = self.decide(req);
        assert!(
            !answered_by(&first, &kept),
            "a question asked once was answered from the memo"
        );
        kept
    }

    /// Asserts that `req`, decided by `d` three times, is decided afresh every time.
    fn never_kept(&self, d: &Decider<'_>, req: &Request) {
        let decisions: Vec<Decided> = (0..3).map(|_| decide(d, req)).collect();
        for (i, a) in decisions.iter().enumerate() {
            for b in &decisions[i + 1..] {
                assert!(!answered_by(a, b), "{req:?} was answered from the memo");
            }
        }
    }

    /// The same decision made without the memo.
    fn afresh(&self, req: &Request) -> Decided {
        let d = Decider {
            memo: None,
            ..self.decider()
        };
        decide(&d, req)
    }
}

fn request(principal: &str, text: &str) -> Request {
    Request {
        principal: principal.into(),
        text: text.into(),
        session: dev_session(),
        placement: dev_placement(),
        claims: Default::default(),
    }
}

fn statement(d: &Decided) -> &Arc<crate::rewrite::RewrittenStatement> {
    match &d.outcome {
        Ok(s) => s,
        Err(r) => panic!("refused: {:?}", r.code_and_detail()),
    }
}

/// Whether the second decision was answered with the first's statement.
fn answered_by(first: &Decided, second: &Decided) -> bool {
    Arc::ptr_eq(statement(first), statement(second))
}

#[tokio::test]
async fn a_repeated_question_is_answered_as_it_was_decided() {
    let s = Setup::new().await;
    let req = request(DEV, READ);
    let kept = s.settle(&req);
    let again = s.decide(&req);
    assert!(
        answered_by(&kept, &again),
        "the third decision was made again"
    );
    assert_eq!(s.memo.len(), 1);
    // What it answers is what a decision made afresh concludes.
    let fresh = s.afresh(&req);
    assert_eq!(again.sql, fresh.sql);
    assert_eq!(again.kind, fresh.kind);
    assert_eq!(again.policy_version, fresh.policy_version);
    assert_eq!(again.evaluation, fresh.evaluation);
    assert_eq!(statement(&again).sql(), statement(&fresh).sql());
    assert_eq!(
        statement(&again).warrant(),
        statement(&fresh).warrant(),
        "the warrant is the one this question would get"
    );
}

#[tokio::test]
async fn any_difference_in_the_question_is_decided_on_its_own() {
    let s = Setup::new().await;
    let base = request(DEV, READ);
    let first = s.settle(&base);
    let mut others = Vec::new();
    others.push(request("User:pool-admin", READ));
    others.push(request(DEV, "SELECT * FROM  orders"));
    let mut r = request(DEV, READ);
    r.session.database = Some("lkc-dev".into());
    others.push(r);
    let mut r = request(DEV, READ);
    r.placement.compute_pool = "lfcp-other".into();
    others.push(r);
    let mut r = request(DEV, READ);
    r.claims.insert("tenant".into(), "acme".into());
    others.push(r);
    for (i, req) in others.iter().chain(&others).enumerate() {
        let d = s.decide(req);
        if let Ok(st) = &d.outcome {
            assert!(
                !Arc::ptr_eq(statement(&first), st),
                "request {i} ({req:?}) was answered with another question's decision"
            );
        }
    }
    // Audit records of a redacting and a verbatim gateway differ: so do their keys.
    let verbatim = Decider {
        redact_sql: false,
        ..s.decider()
    };
    for _ in 0..2 {
        let d = decide(&verbatim, &base);
        assert!(!answered_by(&first, &d));
        assert_eq!(d.sql.redaction, "none");
    }
}

#[tokio::test]
async fn a_reloaded_policy_decides_again_and_refuses_what_it_no_longer_grants() {
    let s = Setup::new().await;
    let req = request(DEV, READ);
    let granted = s.settle(&req);
    assert!(answered_by(&granted, &s.decide(&req)));
    // The topic binding goes; running statements stays.
    std::fs::write(
        s.dir.path().join("bindings.csv"),
        "User:pool-dev, FlinkDeveloper, crn://confluent.cloud/organization=org-dev/environment=env-dev\n",
    )
    .unwrap();
    s.authorizer.reload().await.unwrap();
    let after = s.decide(&req);
    let refusal = after.outcome.as_ref().err().map(|r| r.code_and_detail().0);
    assert_eq!(
        refusal.map(|c| c.as_str()),
        Some("authz.denied"),
        "a decision kept under the old policy answered the new one"
    );
    assert_eq!(after.policy_version, Some(2));
}

#[tokio::test]
async fn a_refusal_is_never_kept() {
    let s = Setup::new().await;
    let d = s.decide(&request("User:nobody", READ));
    assert!(d.outcome.is_err());
    let d = s.decide(&request(DEV, "SELEC oops"));
    assert!(d.outcome.is_err());
    assert!(s.memo.is_empty());
}

#[tokio::test]
async fn a_view_change_decides_again() {
    let s = Setup::new().await;
    let req = request(DEV, "SELECT * FROM v");
    // `v` is a table (a topic) until a view of that name exists.
    let as_table = s.settle(&req);
    assert!(answered_by(&as_table, &s.decide(&req)));
    let view = ViewDef {
        name: TableRef::new("env-dev", "lkc-dev", "v"),
        columns: Vec::new(),
        comment: None,
        query: "SELECT * FROM `env-dev`.`lkc-dev`.`orders`".into(),
        created_by: DEV.into(),
        created_at: Utc::now(),
    };
    s.catalogs.views().create(view, false, false).await.unwrap();
    let through_view = s.decide(&req);
    assert!(!answered_by(&as_table, &through_view));
    assert!(
        statement(&through_view).sql().contains("orders"),
        "the view was not expanded: {}",
        statement(&through_view).sql()
    );
}

#[tokio::test]
async fn nothing_is_kept_while_decisions_are_observed_or_for_long_texts() {
    let s = Setup::new().await;
    let events = s.authorizer.subscribe();
    let req = request(DEV, READ);
    s.never_kept(&s.decider(), &req);
    assert!(s.memo.is_empty());
    drop(events);
    let max = MemoConfig::default().max_sql_bytes;
    let long = format!(
        "SELECT * FROM orders WHERE id IN ({}1)",
        "1, ".repeat(max / 3)
    );
    assert!(long.len() > max);
    s.never_kept(&s.decider(), &request(DEV, &long));
    assert!(s.memo.is_empty());
    // Parse bounds other than the memo's do not use it.
    let other = ParseLimits {
        max_sql_bytes: s.limits.max_sql_bytes + 1,
        ..s.limits.clone()
    };
    let d = Decider {
        limits: &other,
        ..s.decider()
    };
    s.never_kept(&d, &req);
    assert!(s.memo.is_empty());
}

#[tokio::test]
async fn look_ups_and_size_are_counted() {
    let s = Setup::new().await;
    let req = request(DEV, READ);
    let other = request(DEV, "SELECT id FROM orders");
    for r in [&req, &req, &req, &req, &other, &other] {
        s.decide(r);
    }
    // Each question is missed twice (noted, then kept); `req` is then found twice.
    assert_eq!(s.metrics.hits.get(), 2);
    assert_eq!(s.metrics.misses.get(), 4);
    s.memo.refresh_metrics();
    assert_eq!(s.metrics.entries.get(), 2);
    assert!(s.metrics.weight_bytes.get() >= 2 * 2048);
    // Not consulted while decisions are observed: neither a hit nor a miss.
    let _events = s.authorizer.subscribe();
    s.decide(&req);
    assert_eq!((s.metrics.hits.get(), s.metrics.misses.get()), (2, 4));
}

#[tokio::test]
async fn the_configured_bounds_hold() {
    let off = MemoConfig {
        max_bytes: 0,
        ..MemoConfig::default()
    };
    assert!(
        DecisionMemo::new(ParseLimits::default(), &off, MemoMetrics::default()).is_none(),
        "max_bytes = 0 keeps nothing"
    );
    let short = MemoConfig {
        max_sql_bytes: READ.len(),
        ..MemoConfig::default()
    };
    let s = Setup::with(&short).await;
    let longer = request(DEV, "SELECT id FROM orders");
    assert!(longer.text.len() > short.max_sql_bytes);
    s.never_kept(&s.decider(), &longer);
    assert!(s.memo.is_empty());
    let fits = request(DEV, READ);
    let kept = s.settle(&fits);
    assert!(
        answered_by(&kept, &s.decide(&fits)),
        "a text of max_sql_bytes is kept"
    );
}

#[tokio::test]
async fn statements_sent_once_are_not_kept() {
    let s = Setup::new().await;
    let texts: Vec<String> = (0..200)
        .map(|i| format!("SELECT * FROM orders WHERE id > {i}"))
        .collect();
    for t in &texts {
        assert!(s.decide(&request(DEV, t)).outcome.is_ok());
    }
    assert!(s.memo.is_empty(), "a text sent once was kept");
    // Any of them sent again is kept from then on (the last: no later text took its slot).
    let again = request(DEV, &texts[199]);
    let kept = s.decide(&again);
    assert!(answered_by(&kept, &s.decide(&again)));
    assert_eq!(s.memo.len(), 1);
}
