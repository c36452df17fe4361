//! Row filters and column masks for tests: writing `data-policies.toml` into a running
//! gateway's policy directory (and waiting for it to be in force), and tokens with claims.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{Cred, TestGateway};

/// The CRN of table `t` of `env-dev`/`lkc-dev`.
pub fn table_crn(t: &str) -> String {
    format!(
        "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic={t}"
    )
}

/// Replaces `data-policies.toml` (write + rename) and waits until a new policy version is in
/// force; the version.
pub async fn set_data_policies(gw: &TestGateway, text: &str) -> u64 {
    let before = gw.gateway.authorizer().version();
    let path = gw.dir.path().join("policies").join("data-policies.toml");
    let tmp = path.with_extension("tmp-test");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, &path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = gw.gateway.authorizer().version();
        if v > before {
            return v;
        }
        let status = gw.gateway.authorizer().status();
        assert!(
            status.last_error.is_none() || Instant::now() < deadline,
            "the data policies were refused: {status:?}"
        );
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the reload"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The developer pool's credential for subject `alice`, with `claims` in the token.
pub fn developer_with(gw: &TestGateway, claims: &[(&str, &str)]) -> Cred {
    let dev = gw.config.auth.dev_issuer.as_ref().unwrap();
    let extra: BTreeMap<String, String> = claims
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let token = sqlgate::auth::dev::mint_token_with_claims(
        dev,
        gw.dir.path(),
        "alice",
        &["developers".to_string()],
        Duration::from_secs(3600),
        &extra,
    )
    .unwrap();
    Cred::Pool(token, "pool-dev".into())
}

/// A gateway that reloads its policies quickly, with `setup` run by the developer, then
/// `policies` in force; and the developer's credential with tenant `t1`.
pub async fn gateway_with(setup: &[&str], policies: &str) -> (TestGateway, Cred) {
    let gw = TestGateway::start_with(|c| c.policy.reload_settle = Duration::from_millis(50)).await;
    let dev = super::developer(&gw);
    for (i, sql) in setup.iter().enumerate() {
        rows(&gw, &dev, &format!("setup-{i}"), sql).await;
    }
    set_data_policies(&gw, policies).await;
    let dev = developer_with(&gw, &[("tenant", "t1")]);
    (gw, dev)
}

/// The rows of `sql` run to completion by `cred` (panics, naming the statement, if it fails).
pub async fn rows(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) -> Vec<serde_json::Value> {
    super::run_query(gw, cred, name, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
}
