//! Tests of authorization: each role allows what it should and nothing else, pattern kinds,
//! implied roles, region, read-only `examples`, the run permission and refusal details.

use std::sync::Arc;

use super::*;
use crate::sql::{self, ParseLimits, SessionNames};
use crate::testing::{BINDINGS, MODEL, REGION, ROLES, cluster, dev_placement, environment};

const ENV: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev";
const CLUSTER: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev";
/// Reloads read at once (the settle rule has tests of its own).
const NO_SETTLE: Settle = Settle {
    period: std::time::Duration::ZERO,
    rounds: 1,
};

/// `env-dev` with a second cluster `lkc-eu` (`eu`) in another region, and `env-other`
/// without clusters.
fn catalogs() -> Arc<Catalogs> {
    Arc::new(Catalogs::new(
        "org-dev",
        REGION,
        vec![
            environment(
                "env-dev",
                "dev",
                vec![
                    cluster("lkc-dev", "main", REGION),
                    cluster("lkc-eu", "eu", "aws.eu-west-1"),
                ],
            ),
            environment("env-other", "other", vec![]),
        ],
    ))
}

/// A statement in `env-dev` whose pool is in `region`.
fn placed_in(region: &str) -> Placement {
    Placement {
        region: region.into(),
        ..dev_placement()
    }
}

/// The shipped policy plus extra bindings.
async fn authorizer(extra: &str) -> Authorizer {
    let bindings = format!("{BINDINGS}\n{extra}");
    Authorizer::from_texts(MODEL, ROLES, &bindings, catalogs())
        .await
        .unwrap()
}

fn resolved(sql: &str) -> ResolvedStatement {
    let parsed = sql::parse(sql, &ParseLimits::default()).unwrap();
    let session = SessionNames {
        catalog: Some("env-dev".into()),
        database: Some("lkc-dev".into()),
    };
    sql::resolve(parsed, &catalogs(), &session).unwrap()
}

fn check(a: &Authorizer, principal: &str, sql: &str) -> Result<AuthorizedStatement, AuthzError> {
    a.authorize(principal, resolved(sql), &dev_placement())
}

/// `Ok(())` or the error code.
fn outcome(a: &Authorizer, principal: &str, sql: &str) -> Result<(), &'static str> {
    check(a, principal, sql)
        .map(|_| ())
        .map_err(|e| e.code().as_str())
}

#[tokio::test]
async fn each_role_allows_its_actions_and_nothing_more() {
    let runs = format!("FlinkDeveloper, {ENV}");
    let topic = |name: &str| format!("{CLUSTER}/topic={name}");
    let extra = [
        format!("User:reader, {runs}"),
        format!("User:reader, DeveloperRead, {}", topic("orders")),
        format!("User:writer, {runs}"),
        format!("User:writer, DeveloperWrite, {}", topic("orders")),
        format!("User:manager, {runs}"),
        format!("User:manager, DeveloperManage, {}", topic("orders")),
        format!("User:owner, {runs}"),
        format!("User:owner, ResourceOwner, {}", topic("orders")),
        format!("User:operator, {runs}"),
        format!("User:operator, Operator, {CLUSTER}"),
        format!("User:clusteradmin, {runs}"),
        format!("User:clusteradmin, CloudClusterAdmin, {CLUSTER}"),
        format!("User:envadmin, EnvironmentAdmin, {ENV}"),
        format!("User:flinkadmin, FlinkAdmin, {ENV}"),
        format!("User:runner, {runs}"),
    ]
    .join("\n");
    let a = authorizer(&extra).await;
    let read = "SELECT * FROM orders";
    let write = "INSERT INTO orders VALUES (1)";
    let create = "CREATE TABLE orders (a INT)";
    let drop = "DROP TABLE orders";
    let describe = "DESCRIBE orders";
    let list = "SHOW TABLES";
    let ok = Ok(());
    let denied = Err("authz.denied");
    #[rustfmt::skip]
    let cases: &[(&str, [Result<(), &str>; 6])] = &[
        //                      read    write   create  drop    describe list
        ("User:reader",        [ok,     denied, denied, denied, ok,     ok]),
        ("User:writer",        [denied, ok,     denied, denied, ok,     ok]),
        ("User:manager",       [denied, denied, ok,     ok,     ok,     ok]),
        ("User:owner",         [ok,     ok,     ok,     ok,     ok,     ok]),
        ("User:operator",      [denied, denied, denied, denied, ok,     ok]),
        ("User:clusteradmin",  [ok,     ok,     ok,     ok,     ok,     ok]),
        ("User:envadmin",      [ok,     ok,     ok,     ok,     ok,     ok]),
        ("User:pool-admin",    [ok,     ok,     ok,     ok,     ok,     ok]),
        ("User:pool-dev",      [ok,     ok,     ok,     ok,     ok,     ok]),
        ("User:flinkadmin",    [denied, denied, denied, denied, denied, ok]),
        ("User:runner",        [denied, denied, denied, denied, denied, ok]),
    ];
    for (principal, want) in cases {
        for (sql, want) in [read, write, create, drop, describe, list].iter().zip(want) {
            assert_eq!(outcome(&a, principal, sql), *want, "{principal}: {sql}");
        }
    }
}

#[tokio::test]
async fn no_flink_role_on_the_environment_means_not_allowed_to_run() {
    let extra = format!(
        "User:dataonly, ResourceOwner, {CLUSTER}/topic=*\nUser:other-env, FlinkDeveloper, crn://confluent.cloud/organization=org-dev/environment=env-other"
    );
    let a = authorizer(&extra).await;
    for principal in ["User:nobody", "User:dataonly", "User:other-env"] {
        let err = check(&a, principal, "SELECT 1").unwrap_err();
        assert_eq!(err.code(), "authz.not_allowed_to_run", "{principal}");
        let detail = err.detail();
        assert!(
            detail.contains(principal) && detail.contains("FlinkDeveloper") && detail.contains(ENV),
            "{detail}"
        );
    }
    // Even examples need the run permission.
    assert_eq!(
        outcome(
            &a,
            "User:nobody",
            "SELECT * FROM examples.marketplace.orders"
        ),
        Err("authz.not_allowed_to_run")
    );
}

#[tokio::test]
async fn literal_and_prefixed_patterns() {
    let extra = [
        format!("User:lit, FlinkDeveloper, {ENV}"),
        format!("User:lit, DeveloperRead, {CLUSTER}/topic=orders"),
        format!("User:pre, FlinkDeveloper, {ENV}"),
        format!("User:pre, DeveloperRead, {CLUSTER}/topic=orders-*"),
        format!("User:cluster, FlinkDeveloper, {ENV}"),
        format!("User:cluster, DeveloperRead, {CLUSTER}"),
    ]
    .join("\n");
    let a = authorizer(&extra).await;
    let cases: &[(&str, &str, Result<(), &str>)] = &[
        ("User:lit", "SELECT * FROM orders", Ok(())),
        ("User:lit", "SELECT * FROM `orders-eu`", Err("authz.denied")),
        ("User:lit", "SELECT * FROM `Orders`", Err("authz.denied")),
        ("User:lit", "SELECT * FROM orders2", Err("authz.denied")),
        ("User:pre", "SELECT * FROM `orders-eu`", Ok(())),
        ("User:pre", "SELECT * FROM `orders-`", Ok(())),
        ("User:pre", "SELECT * FROM orders", Err("authz.denied")),
        (
            "User:pre",
            "SELECT * FROM `orders-eu` JOIN clicks ON true",
            Err("authz.denied"),
        ),
        (
            "User:cluster",
            "SELECT * FROM anything JOIN `Any.Thing` ON true",
            Ok(()),
        ),
    ];
    for (principal, sql, want) in cases {
        assert_eq!(outcome(&a, principal, sql), *want, "{principal}: {sql}");
    }
}

#[tokio::test]
async fn denial_detail_names_principal_object_action_and_role() {
    let a = authorizer(&format!("User:alice, FlinkDeveloper, {ENV}")).await;
    let err = check(&a, "User:alice", "SELECT * FROM orders").unwrap_err();
    assert_eq!(err.code(), "authz.denied");
    assert_eq!(err.code().status(), hyper::StatusCode::FORBIDDEN);
    assert_eq!(
        err.detail(),
        "User:alice may not read table `env-dev`.`lkc-dev`.`orders`: requires DeveloperRead \
         (or a role that implies it) on crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=orders"
    );
    let err = check(&a, "User:alice", "INSERT INTO sink VALUES (1)").unwrap_err();
    assert!(
        err.detail()
            .contains("may not write table `env-dev`.`lkc-dev`.`sink`: requires DeveloperWrite"),
        "{}",
        err.detail()
    );
    let err = check(&a, "User:alice", "DROP TABLE t").unwrap_err();
    assert!(
        err.detail().contains("may not drop table") && err.detail().contains("DeveloperManage"),
        "{}",
        err.detail()
    );
}

#[tokio::test]
async fn region_is_refused_to_those_who_may_otherwise_read_and_hidden_from_the_rest() {
    let a = authorizer("").await;
    let principal = "User:pool-admin";
    let err = check(&a, principal, "SELECT * FROM eu.orders").unwrap_err();
    assert_eq!(err.code(), "authz.region", "{principal}");
    assert!(err.detail().contains("aws.eu-west-1") && err.detail().contains(REGION));
    assert_eq!(
        outcome(&a, principal, "SHOW TABLES FROM eu"),
        Err("authz.region")
    );
    // Without a role there, the refusal is the ordinary one: it names no region.
    let err = check(&a, "User:pool-dev", "SELECT * FROM eu.orders").unwrap_err();
    assert_eq!(err.code(), "authz.denied");
    assert!(!err.detail().contains("eu-west-1"), "{}", err.detail());
    // The same statement from a pool in the cluster's region is fine for the admin.
    let ok = a.authorize(
        "User:pool-admin",
        resolved("SELECT * FROM eu.orders"),
        &placed_in("aws.eu-west-1"),
    );
    assert!(ok.is_ok());
    // examples has no region: fine from anywhere.
    let ok = a.authorize(
        "User:pool-dev",
        resolved("SELECT * FROM examples.marketplace.orders"),
        &placed_in("gcp.us-central1"),
    );
    assert!(ok.is_ok());
}

#[tokio::test]
async fn examples_are_readable_by_runners_and_read_only_for_everyone() {
    let a = authorizer(&format!("User:runner, FlinkDeveloper, {ENV}")).await;
    for principal in ["User:runner", "User:pool-dev", "User:pool-admin"] {
        for sql in [
            "SELECT * FROM examples.marketplace.orders",
            "DESCRIBE examples.marketplace.orders",
            "SHOW TABLES FROM examples.marketplace",
            "SHOW DATABASES FROM examples",
        ] {
            assert_eq!(outcome(&a, principal, sql), Ok(()), "{principal}: {sql}");
        }
        for sql in [
            "INSERT INTO examples.marketplace.orders VALUES (1)",
            "CREATE TABLE examples.marketplace.t (a INT)",
            "DROP TABLE examples.marketplace.orders",
            "CREATE VIEW examples.marketplace.v AS SELECT 1",
            "INSERT INTO examples.marketplace.orders SELECT * FROM orders",
        ] {
            assert_eq!(
                outcome(&a, principal, sql),
                Err("authz.read_only"),
                "{principal}: {sql}"
            );
        }
    }
    // Copying examples into one's own table is fine.
    assert_eq!(
        outcome(
            &a,
            "User:pool-dev",
            "INSERT INTO mine SELECT * FROM examples.marketplace.orders"
        ),
        Ok(())
    );
    assert_eq!(
        outcome(
            &a,
            "User:runner",
            "INSERT INTO mine SELECT * FROM examples.marketplace.orders"
        ),
        Err("authz.denied")
    );
}

#[tokio::test]
async fn every_access_of_a_statement_is_checked() {
    let extra = [
        format!("User:r, FlinkDeveloper, {ENV}"),
        format!("User:r, DeveloperRead, {CLUSTER}/topic=a"),
        format!("User:r, DeveloperWrite, {CLUSTER}/topic=sink"),
    ]
    .join("\n");
    let a = authorizer(&extra).await;
    let cases: &[(&str, Result<(), &str>)] = &[
        ("INSERT INTO sink SELECT * FROM a", Ok(())),
        (
            "INSERT INTO sink SELECT * FROM a WHERE x IN (SELECT x FROM secret)",
            Err("authz.denied"),
        ),
        (
            "SELECT * FROM a WHERE EXISTS (SELECT 1 FROM secret)",
            Err("authz.denied"),
        ),
        (
            "WITH secret AS (SELECT * FROM a) SELECT * FROM secret",
            Ok(()),
        ),
        (
            "SELECT * FROM a UNION SELECT * FROM secret",
            Err("authz.denied"),
        ),
        ("EXPLAIN SELECT * FROM secret", Err("authz.denied")),
        ("CREATE VIEW v AS SELECT * FROM a", Err("authz.denied")),
        (
            "SELECT * FROM TABLE(TUMBLE(TABLE secret, DESCRIPTOR(ts), INTERVAL '1' MINUTE))",
            Err("authz.denied"),
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(outcome(&a, "User:r", sql), *want, "{sql}");
    }
    let ok = check(&a, "User:r", "INSERT INTO sink SELECT * FROM a").unwrap();
    let d = ok.decisions();
    assert_eq!(d.len(), 2);
    assert_eq!(
        (d[0].action, d[0].role.as_deref()),
        (Action::Write, Some("DeveloperWrite"))
    );
    assert_eq!(
        (d[1].action, d[1].role.as_deref()),
        (Action::Read, Some("DeveloperRead"))
    );
    assert_eq!(
        d[1].binding.as_deref(),
        Some(format!("{CLUSTER}/topic=a").as_str())
    );
    assert!(d.iter().all(|d| d.granted && d.missing.is_none()));
}

#[tokio::test]
async fn admin_and_visibility() {
    let a = authorizer(&format!(
        "User:envadmin, EnvironmentAdmin, {ENV}\nUser:reader, FlinkDeveloper, {ENV}\nUser:reader, DeveloperRead, {CLUSTER}/topic=orders\nUser:dataonly, DeveloperRead, {CLUSTER}/topic=orders"
    ))
    .await;
    assert!(a.is_admin("User:pool-admin"));
    assert!(!a.is_admin("User:envadmin"));
    assert!(!a.is_admin("User:pool-dev"));
    assert!(!a.is_admin("User:nobody"));
    let orders = TableRef::new("env-dev", "lkc-dev", "orders");
    let examples = TableRef::new("examples", "marketplace", "orders");
    assert!(a.can_see_table("User:reader", &orders));
    assert!(a.can_see_table("User:dataonly", &orders));
    assert!(!a.can_see_table("User:nobody", &orders));
    assert!(a.can_see_table("User:reader", &examples));
    assert!(!a.can_see_table("User:dataonly", &examples));
    assert!(!a.can_see_table("User:nobody", &examples));
    let other = TableRef::new("env-dev", "lkc-dev", "other");
    assert!(!a.can_see_table("User:dataonly", &other));
}

#[tokio::test]
async fn invalid_policies_are_refused_with_a_location() {
    let cases: &[(&str, &str, &str)] = &[
        (
            ROLES,
            "User:x, NoSuchRole, crn://confluent.cloud/organization=org-dev",
            "unknown role `NoSuchRole`",
        ),
        (
            ROLES,
            "User:x, _any_role, crn://confluent.cloud/organization=org-dev",
            "unknown role `_any_role`",
        ),
        (
            ROLES,
            "User:x, DeveloperRead, crn://confluent.cloud/organization=org-dev/topic=a*b",
            "bindings.csv:1",
        ),
        (
            ROLES,
            "User:x, DeveloperRead, https://example.com",
            "bindings.csv:1",
        ),
        (
            ROLES,
            "User:x, DeveloperRead",
            "expected `principal, role, crn_pattern`",
        ),
        (
            ROLES,
            "User:x, DeveloperRead, crn://confluent.cloud/organization=org-other",
            "organization `org-other`",
        ),
        ("q, a, b", "", "roles.csv:1"),
        ("# nothing", "", "defines no roles"),
    ];
    for (roles, bindings, want) in cases {
        let err = Authorizer::from_texts(MODEL, roles, bindings, catalogs())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains(want),
            "{err} should contain {want}"
        );
    }
    assert!(
        Authorizer::from_texts("not a model", ROLES, "", catalogs())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn shipped_policy_files_load_and_reload() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let a = Authorizer::load_with(&dir, catalogs(), NO_SETTLE)
        .await
        .unwrap();
    assert_eq!(outcome(&a, "User:pool-dev", "SELECT * FROM orders"), Ok(()));
    assert_eq!(
        outcome(&a, "User:stranger", "SELECT 1"),
        Err("authz.not_allowed_to_run")
    );
    a.reload().await.unwrap();
    assert_eq!(outcome(&a, "User:pool-dev", "SELECT * FROM orders"), Ok(()));
    assert!(
        Authorizer::load(std::path::Path::new("/nonexistent"), catalogs())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn reload_swaps_policy_and_drops_memoized_decisions() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("model.conf"), MODEL).unwrap();
    std::fs::write(tmp.path().join("roles.csv"), ROLES).unwrap();
    std::fs::write(tmp.path().join("bindings.csv"), BINDINGS).unwrap();
    let a = Authorizer::load_with(tmp.path(), catalogs(), NO_SETTLE)
        .await
        .unwrap();
    assert_eq!(outcome(&a, "User:pool-dev", "SELECT * FROM orders"), Ok(()));
    std::fs::write(
        tmp.path().join("bindings.csv"),
        format!("User:pool-dev, FlinkDeveloper, {ENV}\n"),
    )
    .unwrap();
    assert_eq!(a.reload().await.unwrap(), ReloadOutcome::Applied(2));
    assert_eq!(
        outcome(&a, "User:pool-dev", "SELECT * FROM orders"),
        Err("authz.denied")
    );
    // A broken file keeps the old policy.
    std::fs::write(tmp.path().join("bindings.csv"), "garbage").unwrap();
    assert!(a.reload().await.is_err());
    assert_eq!(outcome(&a, "User:pool-dev", "SELECT 1"), Ok(()));
    assert_eq!(a.version(), 2);
    let status = a.status();
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("bindings.csv:1")),
        "{status:?}"
    );
    // The same broken content is not refused (and reported) twice.
    assert_eq!(a.reload().await.unwrap(), ReloadOutcome::AlreadyRejected(2));
    // Restoring the content in force clears the error without a new version.
    std::fs::write(
        tmp.path().join("bindings.csv"),
        format!("User:pool-dev, FlinkDeveloper, {ENV}\n"),
    )
    .unwrap();
    assert_eq!(a.reload().await.unwrap(), ReloadOutcome::Unchanged(2));
    assert_eq!(a.status().last_error, None);
}

#[tokio::test]
async fn unknown_environments_and_clusters_are_refused_and_all_problems_reported() {
    let bindings = format!(
        "User:a, FlinkDeveloper, crn://confluent.cloud/organization=org-dev/environment=env-typo\n\
         User:b, DeveloperRead, crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-nope/kafka=lkc-nope/topic=x\n\
         User:c, DeveloperRead, crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-eu\n\
         User:d, NoSuchRole, {ENV}\n\
         User:e, FlinkDeveloper, crn://confluent.cloud/organization=org-dev/environment=env-*\n"
    );
    let err = Authorizer::from_texts(MODEL, ROLES, &bindings, catalogs())
        .await
        .unwrap_err()
        .to_string();
    for want in [
        "bindings.csv:1: unknown environment `env-typo`",
        "bindings.csv:2: unknown cluster `lkc-nope`",
        "bindings.csv:3: cloud-cluster `lkc-dev` and kafka `lkc-eu` differ",
        "bindings.csv:4: unknown role `NoSuchRole`",
    ] {
        assert!(err.contains(want), "{err} should contain {want}");
    }
    assert!(
        !err.contains("bindings.csv:5"),
        "prefixed environments are not checked: {err}"
    );
}

#[tokio::test]
async fn decisions_record_the_policy_version_they_used() {
    let a = authorizer("").await;
    let mut events = a.subscribe();
    let ok = check(&a, "User:pool-dev", "SELECT * FROM orders").unwrap();
    assert!(ok.decisions().iter().all(|d| d.policy_version == 1));
    assert_eq!(
        crate::rewrite::rewrite(ok)
            .unwrap()
            .warrant()
            .policy_version(),
        1
    );
    let (v, denied) = a.authorize_versioned("User:nobody", resolved("SELECT 1"), &dev_placement());
    assert_eq!(v, 1);
    assert!(denied.is_err());
    let e1 = events.try_recv().unwrap();
    assert!(
        e1.granted && e1.policy_version == 1 && e1.accesses[0].contains("orders"),
        "{e1:?}"
    );
    let e2 = events.try_recv().unwrap();
    assert_eq!((e2.granted, e2.code), (false, "authz.not_allowed_to_run"));
}

#[tokio::test]
async fn the_proof_holds_for_its_principal_placement_and_policy_version() {
    let a = authorizer("").await;
    let placement = placed_in("gcp.us-central1");
    let ok = a
        .authorize(
            "User:pool-dev",
            resolved("SELECT * FROM examples.marketplace.orders"),
            &placement,
        )
        .unwrap();
    // Rewriting hands the warrant on to what the engine runs.
    let w = crate::rewrite::rewrite(ok).unwrap();
    let w = w.warrant();
    assert_eq!(w.principal(), "User:pool-dev");
    assert_eq!(w.placement(), &placement);
    assert_eq!(w.policy_version(), a.version());
}

/// A memo hit looks the key up by reference: it must hash and compare exactly as the owned
/// key does, or every decision would miss the memo (or, worse, match another key).
#[test]
fn a_borrowed_memo_key_finds_exactly_its_owned_key() {
    use std::hash::BuildHasher;
    let hasher = std::collections::hash_map::RandomState::new();
    let owned: Key = (
        7,
        "User:alice".into(),
        format!("{CLUSTER}/topic=orders"),
        "read",
    );
    let topic = format!("{CLUSTER}/topic=orders");
    let same = KeyRef(7, "User:alice", &topic, "read");
    assert_eq!(hasher.hash_one(&owned), hasher.hash_one(&same));
    assert!(moka::Equivalent::equivalent(&same, &owned));
    for other in [
        KeyRef(8, "User:alice", &topic, "read"),
        KeyRef(7, "User:bob", &topic, "read"),
        KeyRef(7, "User:alice", CLUSTER, "read"),
        KeyRef(7, "User:alice", &topic, "write"),
    ] {
        assert!(!moka::Equivalent::equivalent(&other, &owned));
    }
    let memo: moka::sync::Cache<Key, Grant> = moka::sync::Cache::new(10);
    memo.insert(owned.clone(), Some(("DeveloperRead".into(), topic.clone())));
    assert_eq!(
        memo.get(&same),
        Some(Some(("DeveloperRead".into(), topic.clone())))
    );
    assert_eq!(memo.get(&KeyRef(7, "User:bob", &topic, "read")), None);
}
