//! Failed authentications in the audit log, through the real server (issue 10, items 8 and
//! 4): who tried, and a flood of bad tokens aggregated per peer while every authorization
//! decision stays on its own.

mod common;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use common::peers::{client_from, dev_signed};
use common::{Cred, TestGateway, post_statement};
use futures::StreamExt as _;
use serde_json::{Value, json};

fn log_path(gw: &TestGateway) -> PathBuf {
    gw.dir.path().join(&gw.config.audit.file)
}

fn records(gw: &TestGateway) -> Vec<Value> {
    let mut out = Vec::new();
    for f in sqlgate::audit::log_files(&log_path(gw)) {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            out.push(serde_json::from_str(line).unwrap());
        }
    }
    out
}

fn failed_logins(recs: &[Value]) -> Vec<&Value> {
    recs.iter()
        .filter(|r| {
            r["type"] == "io.confluent.flink.server/authentication"
                && r["data"]["result"]["status"] != "SUCCESS"
        })
        .collect()
}

fn schema() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(sqlgate::audit::RECORD_SCHEMA).unwrap();
    jsonschema::draft202012::new(&schema).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, r: &Value) {
    let errors: Vec<String> = v.iter_errors(r).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{r:#}");
}

async fn status_of(gw: &TestGateway, cred: &Cred) -> u16 {
    post_statement(gw, cred, "s", "SELECT 1", json!({})).await.0
}

/// Makes one failed login and returns its record (each starts a new aggregation interval,
/// so every case is recorded in full).
async fn one_failure(gw: &TestGateway, cred: &Cred) -> Value {
    gw.gateway.auditor().flush_authn_failures().await.unwrap();
    let before = failed_logins(&records(gw)).len();
    assert_eq!(status_of(gw, cred).await, 401);
    let recs = records(gw);
    let failed = failed_logins(&recs);
    assert_eq!(failed.len(), before + 1);
    (*failed.last().unwrap()).clone()
}

#[tokio::test]
async fn failed_logins_record_who_tried_but_never_the_token() {
    let gw = TestGateway::start().await;
    let dev = gw.config.auth.dev_issuer.clone().unwrap();
    let validator = schema();
    let now = chrono::Utc::now().timestamp();

    // 1. A validly signed token whose groups do not satisfy pool-admin's filter.
    let token = gw.token("alice", &["developers"]);
    let r = one_failure(&gw, &Cred::Pool(token.clone(), "pool-admin".into())).await;
    assert_valid(&validator, &r);
    let d = &r["data"];
    assert_eq!(d["result"]["code"], "auth.pool_filter_mismatch");
    assert_eq!(
        d["authenticationInfo"]["principal"], "User:ANONYMOUS",
        "not admitted"
    );
    assert_eq!(
        d["authenticationInfo"]["metadata"]["mechanism"],
        "IDENTITY_POOL"
    );
    assert_eq!(d["authenticationInfo"]["metadata"]["identifier"], "alice");
    assert_eq!(
        d["sqlgate"]["attempt"],
        json!({"verified": true, "admitted": false, "issuer": dev.issuer,
               "identity": "alice", "identityPool": "pool-admin"})
    );

    // 2. Expired, with a valid signature: still says who it names.
    let expired = dev_signed(
        &gw,
        &json!({"iss": dev.issuer, "aud": dev.audience, "sub": "bob", "exp": now - 3600}),
    );
    let r = one_failure(&gw, &Cred::Bearer(expired.clone())).await;
    assert_valid(&validator, &r);
    assert_eq!(r["data"]["result"]["code"], "auth.token_expired");
    let a = &r["data"]["sqlgate"]["attempt"];
    assert_eq!(
        (&a["verified"], &a["identity"]),
        (&json!(true), &json!("bob"))
    );

    // 3. A forged payload (alice's signature over root's claims): unverified, only the
    //    claimed issuer and kid.
    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(
            &json!({"iss": dev.issuer, "aud": dev.audience, "sub": "root",
                    "groups": ["admins"], "exp": now + 600})
        ),
        parts[2]
    );
    let r = one_failure(&gw, &Cred::Pool(forged.clone(), "pool-admin".into())).await;
    assert_valid(&validator, &r);
    assert_eq!(r["data"]["result"]["code"], "auth.bad_signature");
    let a = &r["data"]["sqlgate"]["attempt"];
    assert_eq!(a["verified"], false);
    assert_eq!(a["issuer"], dev.issuer.as_str());
    assert!(a["kid"].as_str().is_some_and(|k| !k.is_empty()), "{a}");
    assert!(
        a.get("identity").is_none() && a.get("identityPool").is_none(),
        "{a}"
    );
    assert!(
        r["data"]["authenticationInfo"]["metadata"]
            .get("identifier")
            .is_none()
    );

    // 4. An unknown issuer and a hostile kid: capped and defanged.
    let header = json!({"alg": "EdDSA", "kid": format!("{}\u{7}", "x".repeat(400))});
    let claims = json!({"iss": "https://evil.example/\n", "sub": "root", "exp": now + 600});
    let junk = format!("{}.{}.c2ln", b64(&header), b64(&claims));
    let r = one_failure(&gw, &Cred::Bearer(junk)).await;
    assert_valid(&validator, &r);
    assert_eq!(r["data"]["result"]["code"], "auth.unknown_issuer");
    let a = &r["data"]["sqlgate"]["attempt"];
    assert_eq!(a["issuer"], "https://evil.example/?");
    assert_eq!(a["kid"].as_str().unwrap().chars().count(), 97);

    // 5. Not a token at all, and a duplicated claim: nothing verified to say.
    let r = one_failure(&gw, &Cred::Bearer("not-a-token".into())).await;
    assert_valid(&validator, &r);
    assert!(r["data"]["sqlgate"].get("attempt").is_none(), "{r:#}");
    let dup = format!("{}.{}.c2ln", b64(&json!({"alg": "EdDSA"})), {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"iss":"x","groups":["developers"],"groups":["admins"]}"#)
    });
    let r = one_failure(&gw, &Cred::Bearer(dup)).await;
    assert_eq!(r["data"]["result"]["code"], "auth.duplicate_claim");

    // 6. An API key: the key id, unverified.
    let (key, _) = gw.api_key("User:sa-ci");
    let r = one_failure(&gw, &Cred::Basic(key.clone(), "wrong".into())).await;
    assert_valid(&validator, &r);
    assert_eq!(
        r["data"]["sqlgate"]["attempt"],
        json!({"verified": false, "admitted": false, "keyId": key})
    );

    // Never a token in the log.
    let text = std::fs::read_to_string(log_path(&gw)).unwrap();
    for t in [&token, &expired, &forged] {
        assert!(!text.contains(t.as_str()));
        assert!(
            !text.contains(t.rsplit('.').next().unwrap()),
            "no signature"
        );
    }
    let log = log_path(&gw);
    let dir = gw.stop().await;
    sqlgate::audit::verify(&sqlgate::audit::log_files(&log)).unwrap();
    drop(dir);
}

#[tokio::test]
async fn a_thousand_bad_tokens_from_one_peer_leave_one_record_and_one_summary() {
    // A long interval: the summary is written at shutdown, deterministically.
    let gw = TestGateway::start_with(|c| {
        c.audit.authn_failure_interval = Duration::from_secs(3600);
    })
    .await;
    let validator = schema();
    let client = gw.client();
    let url = format!("{}/statements", gw.base());
    let good = gw.token("alice", &["developers"]);
    // alice's header and claims under the signature of another token: a bad signature.
    let forged = {
        let other = gw.token("bob", &[]);
        let (body, _) = good.rsplit_once('.').unwrap();
        format!("{body}.{}", other.rsplit_once('.').unwrap().1)
    };
    let statuses: Vec<u16> = futures::stream::iter(0..1000)
        .map(|i| {
            let token = if i % 4 == 0 {
                forged.clone()
            } else {
                format!("not-a-token-{i}")
            };
            let req = client.get(&url).bearer_auth(token);
            async move { req.send().await.unwrap().status().as_u16() }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");

    // Every authorization decision is still recorded on its own, from the same peer.
    let nobody = Cred::Bearer(gw.token("mallory", &[]));
    for i in 0..3 {
        let (status, _) = post_statement(
            &gw,
            &nobody,
            &format!("refused-{i}"),
            "SELECT * FROM examples.marketplace.orders",
            json!({}),
        )
        .await;
        assert_eq!(status, 403);
    }
    let before_shutdown = records(&gw);
    assert_eq!(
        failed_logins(&before_shutdown).len(),
        1,
        "only the first in full"
    );
    let log = log_path(&gw);
    let dir = gw.stop().await;

    let recs: Vec<Value> = {
        let mut out = Vec::new();
        for f in sqlgate::audit::log_files(&log) {
            for line in std::fs::read_to_string(f).unwrap().lines() {
                out.push(serde_json::from_str(line).unwrap());
            }
        }
        out
    };
    let failed = failed_logins(&recs);
    assert_eq!(failed.len(), 2, "one in full, one summary: {failed:#?}");
    let (full, summary) = (failed[0], failed[1]);
    assert_eq!(full["data"]["methodName"], "flink.Authenticate");
    assert_eq!(
        summary["data"]["methodName"],
        "sqlgate.AuthenticationFailures"
    );
    assert_valid(&validator, summary);
    let s = &summary["data"]["sqlgate"]["failures"];
    assert_eq!(s["count"], 999);
    let reasons = &s["reasons"];
    let n = |code: &str| reasons[code].as_u64().unwrap_or(0);
    assert_eq!(
        n("auth.bad_signature") + n("auth.malformed_token"),
        999,
        "{reasons}"
    );
    assert!(
        n("auth.bad_signature") >= 249 && n("auth.malformed_token") >= 749,
        "{reasons}"
    );
    assert!(s["firstTime"].as_str().unwrap() <= s["lastTime"].as_str().unwrap());
    assert_eq!(
        summary["data"]["requestMetadata"]["clientAddress"][0]["ip"],
        "127.0.0.1"
    );
    assert_eq!(
        summary["data"]["result"]["code"],
        "auth.failures_aggregated"
    );
    let decisions = recs
        .iter()
        .filter(|r| r["type"] == "io.confluent.flink.server/authorization")
        .count();
    assert_eq!(decisions, 3, "each decision recorded individually");
    assert!(recs.len() < 20, "{} records for 1,003 requests", recs.len());
    sqlgate::audit::verify(&sqlgate::audit::log_files(&log)).unwrap();
    drop(dir);
}

#[tokio::test]
async fn each_peer_gets_its_own_summary_at_the_end_of_each_interval() {
    let gw = TestGateway::start_with(|c| {
        c.audit.authn_failure_interval = Duration::from_secs(1);
    })
    .await;
    let url = format!("{}/statements", gw.base());
    let peers = ["127.0.0.1", "127.0.0.2"];
    for peer in peers {
        let client = client_from(&gw, peer.parse::<IpAddr>().unwrap());
        for _ in 0..5 {
            let resp = client.get(&url).bearer_auth("bad").send().await.unwrap();
            assert_eq!(resp.status(), 401);
        }
    }
    // Per peer: (recorded in full, summarized). An interval may end in the middle of the
    // requests, so count both; each failure is in exactly one of them.
    let tally = |recs: &[Value], peer: &str| {
        let mine = failed_logins(recs)
            .into_iter()
            .filter(|r| r["data"]["requestMetadata"]["clientAddress"][0]["ip"] == peer)
            .collect::<Vec<_>>();
        let full = mine
            .iter()
            .filter(|r| r["data"]["methodName"] == "flink.Authenticate")
            .count() as u64;
        let summarized: u64 = mine
            .iter()
            .filter_map(|r| r["data"]["sqlgate"]["failures"]["count"].as_u64())
            .sum();
        (full, summarized)
    };
    // Without a shutdown, the end of the interval writes the summaries (bounded wait).
    let mut done = false;
    for _ in 0..100 {
        let recs = records(&gw);
        done = peers.iter().all(|p| {
            let (full, summarized) = tally(&recs, p);
            full + summarized == 5 && summarized > 0
        });
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recs = records(&gw);
    assert!(done, "{:?}", peers.map(|p| tally(&recs, p)));
    // Everything so far has been flushed, so the next failure opens a new interval and is
    // recorded in full.
    let (full_before, _) = tally(&recs, "127.0.0.1");
    let resp = gw
        .client()
        .get(&url)
        .bearer_auth("bad")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(tally(&records(&gw), "127.0.0.1").0, full_before + 1);
    gw.stop().await;
}
