//! The iam/v2 role-bindings API over real TLS: shapes, delegated administration, write-back
//! to `bindings.csv`, concurrency, restarts and immediate effect.

mod common;

use std::collections::BTreeSet;

use common::{Cred, ENV_CRN, TestGateway, admin, detail, developer, post_statement};
use serde_json::{Value, json};

const TOPICS: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=";

async fn call(
    gw: &TestGateway,
    cred: &Cred,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = if path.starts_with("https://") {
        path.to_string()
    } else {
        format!("{}{path}", gw.endpoint())
    };
    let mut rb = cred.apply(gw.client().request(method, url));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn create(
    gw: &TestGateway,
    cred: &Cred,
    principal: &str,
    role: &str,
    crn: &str,
) -> (u16, Value) {
    call(
        gw,
        cred,
        reqwest::Method::POST,
        "/iam/v2/role-bindings",
        Some(json!({"principal": principal, "role_name": role, "crn_pattern": crn})),
    )
    .await
}

fn bindings_file(gw: &TestGateway) -> String {
    std::fs::read_to_string(gw.dir.path().join("policies/bindings.csv")).unwrap()
}

/// Every binding id visible to `cred` with `query`, following `metadata.next`.
async fn list_all(gw: &TestGateway, cred: &Cred, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut url = format!("{}/iam/v2/role-bindings{query}", gw.endpoint());
    loop {
        let (status, page) = call(gw, cred, reqwest::Method::GET, &url, None).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["api_version"], "iam/v2");
        assert_eq!(page["kind"], "RoleBindingList");
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["metadata"]["next"].as_str() {
            Some(n) if !n.is_empty() => url = n.to_string(),
            _ => break,
        }
    }
    out
}

#[tokio::test]
async fn admin_creates_a_binding_that_takes_effect_at_once_and_reads_it_back() {
    let gw = TestGateway::start().await;
    let root = admin(&gw);
    let newbie = Cred::Bearer(gw.token("newbie", &[]));
    let (s, _) = post_statement(&gw, &newbie, "before", "SELECT 1", json!({})).await;
    assert_eq!(s, 403);
    let before = gw.gateway.authorizer().version();

    let (status, rb) = create(&gw, &root, "User:newbie", "FlinkDeveloper", ENV_CRN).await;
    assert_eq!(status, 201, "{rb}");
    let id = rb["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("rb-") && id.len() == 15, "{id}");
    assert_eq!(rb["api_version"], "iam/v2");
    assert_eq!(rb["kind"], "RoleBinding");
    assert_eq!(rb["principal"], "User:newbie");
    assert_eq!(rb["role_name"], "FlinkDeveloper");
    assert_eq!(rb["crn_pattern"], ENV_CRN);
    assert_eq!(
        rb["metadata"]["self"],
        format!("{}/iam/v2/role-bindings/{id}", gw.endpoint())
    );
    assert_eq!(
        rb["metadata"]["resource_name"],
        format!("crn://confluent.cloud/organization=org-dev/role-binding={id}")
    );
    assert!(
        rb["metadata"]["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(rb["metadata"]["updated_at"], rb["metadata"]["created_at"]);

    // In force when the 201 arrived: no waiting for the watcher.
    assert_eq!(gw.gateway.authorizer().version(), before + 1);
    let (s, body) = post_statement(&gw, &newbie, "after", "SELECT 1", json!({})).await;
    assert_eq!(s, 200, "{body}");

    // Written back, readable in a diff, with who and when.
    let file = bindings_file(&gw);
    let line = file.lines().find(|l| l.starts_with("User:newbie")).unwrap();
    assert!(
        line.starts_with(&format!(
            "User:newbie, FlinkDeveloper, {ENV_CRN}  # created_at="
        )),
        "{line}"
    );
    assert!(line.ends_with("by=User:pool-admin"), "{line}");

    let (s, got) = call(
        &gw,
        &root,
        reqwest::Method::GET,
        &format!("/iam/v2/role-bindings/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(got, rb);
    let listed = list_all(&gw, &root, "?principal=User:newbie").await;
    assert_eq!(listed, vec![rb.clone()]);
    // The shipped bindings have ids too (derived from their content).
    let all = list_all(&gw, &root, "").await;
    assert_eq!(all.len(), 4, "{all:?}");
    // The newbie sees its own binding but administers nothing.
    let own = list_all(&gw, &newbie, "").await;
    assert_eq!(own, vec![rb]);
    gw.stop().await;
}

#[tokio::test]
async fn a_developer_cannot_grant_themselves_a_role_and_nothing_is_written() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    let before = bindings_file(&gw);
    let version = gw.gateway.authorizer().version();
    for (role, crn) in [
        ("EnvironmentAdmin", ENV_CRN),
        (
            "OrganizationAdmin",
            "crn://confluent.cloud/organization=org-dev",
        ),
        (
            "CloudClusterAdmin",
            "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev",
        ),
    ] {
        let (status, body) = create(&gw, &dev, "User:pool-dev", role, crn).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["errors"][0]["code"], "iam.forbidden");
        let d = detail(&body);
        assert!(
            d.contains("User:pool-dev may not grant role") && d.contains(role) && d.contains(crn),
            "{d}"
        );
    }
    assert_eq!(
        bindings_file(&gw),
        before,
        "a refused grant changed the file"
    );
    assert_eq!(gw.gateway.authorizer().version(), version);
    // Inside its ResourceOwner scope a developer may grant (Confluent's delegated admin).
    let (status, body) = create(
        &gw,
        &dev,
        "User:intern",
        "DeveloperRead",
        &format!("{TOPICS}orders"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // ... but not a prefix wider than that scope's reach on another cluster.
    let (status, _) = create(
        &gw,
        &dev,
        "User:intern",
        "DeveloperRead",
        "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-*",
    )
    .await;
    assert_eq!(status, 403);
    gw.stop().await;
}

#[tokio::test]
async fn bad_requests_duplicates_and_unknown_ids_get_api_errors() {
    let gw = TestGateway::start().await;
    let root = admin(&gw);
    let cases: &[(Value, &str)] = &[
        (
            json!({"principal": "User:x", "role_name": "Nope", "crn_pattern": ENV_CRN}),
            "unknown role `Nope`",
        ),
        (
            json!({"principal": "User:x", "role_name": "Operator", "crn_pattern": "crn://x/organization=org-dev"}),
            "must start with",
        ),
        (
            json!({"principal": "bob", "role_name": "Operator", "crn_pattern": ENV_CRN}),
            "User:<id>",
        ),
        (
            json!({"principal": "User:x", "role_name": "Operator", "crn_pattern": "crn://confluent.cloud/organization=org-dev/environment=env-nope"}),
            "unknown environment `env-nope`",
        ),
        (
            json!({"principal": "User:x", "role_name": "Operator"}),
            "crn_pattern",
        ),
    ];
    for (body, want) in cases {
        let (s, resp) = call(
            &gw,
            &root,
            reqwest::Method::POST,
            "/iam/v2/role-bindings",
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, 400, "{body} -> {resp}");
        assert!(detail(&resp).contains(want), "{}", detail(&resp));
    }
    let (s, first) = create(&gw, &root, "User:x", "Operator", ENV_CRN).await;
    assert_eq!(s, 201);
    let (s, dup) = create(&gw, &root, "User:x", "Operator", ENV_CRN).await;
    assert_eq!(s, 409, "{dup}");
    assert_eq!(dup["errors"][0]["code"], "iam.duplicate_binding");
    assert!(detail(&dup).contains(first["id"].as_str().unwrap()));
    for m in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let (s, body) = call(&gw, &root, m, "/iam/v2/role-bindings/rb-000000000000", None).await;
        assert_eq!(s, 404, "{body}");
        assert_eq!(body["errors"][0]["status"], "404");
    }
    let (s, _) = call(
        &gw,
        &root,
        reqwest::Method::GET,
        "/iam/v2/role-bindings?page_token=zzz",
        None,
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call(
        &gw,
        &Cred::Bearer("junk".into()),
        reqwest::Method::GET,
        "/iam/v2/role-bindings",
        None,
    )
    .await;
    assert_eq!(s, 401);
    gw.stop().await;
}

#[tokio::test]
async fn twenty_parallel_grants_lose_no_binding_and_survive_a_restart() {
    let gw = TestGateway::start().await;
    let root = admin(&gw);
    let version = gw.gateway.authorizer().version();
    let gw = std::sync::Arc::new(gw);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (gw, root) = (gw.clone(), root.clone());
        tasks.push(tokio::spawn(async move {
            let (s, body) = create(
                &gw,
                &root,
                &format!("User:u-{i}"),
                "DeveloperRead",
                &format!("{TOPICS}t{i}"),
            )
            .await;
            assert_eq!(s, 201, "{body}");
            body["id"].as_str().unwrap().to_string()
        }));
    }
    let mut ids = BTreeSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap());
    }
    assert_eq!(ids.len(), 20);
    assert_eq!(gw.gateway.authorizer().version(), version + 20);
    let file = bindings_file(&gw);
    for i in 0..20 {
        assert!(
            file.contains(&format!("User:u-{i}, DeveloperRead, {TOPICS}t{i}  #")),
            "u-{i} lost:\n{file}"
        );
    }
    // Paged listing with filters: 20 matches in pages of 6.
    let mut url = format!(
        "{}/iam/v2/role-bindings?role_name=DeveloperRead&page_size=6",
        gw.endpoint()
    );
    let mut seen = BTreeSet::new();
    let mut pages = 0;
    loop {
        let (s, page) = call(&gw, &root, reqwest::Method::GET, &url, None).await;
        assert_eq!(s, 200, "{page}");
        pages += 1;
        assert!(
            page["metadata"]["first"]
                .as_str()
                .unwrap()
                .contains("page_size=6")
        );
        for rb in page["data"].as_array().unwrap() {
            assert!(seen.insert(rb["id"].as_str().unwrap().to_string()));
        }
        match page["metadata"]["next"].as_str() {
            Some(n) if !n.is_empty() => url = n.to_string(),
            _ => break,
        }
    }
    assert_eq!((seen, pages), (ids.clone(), 4));
    // Scope filter: one topic's bindings only.
    let scoped = list_all(
        &gw,
        &root,
        &format!("?crn_pattern={}", urlencode(&format!("{TOPICS}t7"))),
    )
    .await;
    assert_eq!(scoped.len(), 1);
    assert_eq!(scoped[0]["principal"], "User:u-7");

    // Restart: same bindings, same ids.
    let gw = std::sync::Arc::into_inner(gw).unwrap();
    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let after: BTreeSet<String> = list_all(&gw, &admin(&gw), "?role_name=DeveloperRead")
        .await
        .iter()
        .map(|rb| rb["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(after, ids);
    gw.stop().await;
}

#[tokio::test]
async fn delete_takes_effect_at_once_and_is_scoped() {
    let gw = TestGateway::start().await;
    let root = admin(&gw);
    let dev = developer(&gw);
    let temp = Cred::Bearer(gw.token("temp", &[]));
    let (_, run) = create(&gw, &root, "User:temp", "FlinkDeveloper", ENV_CRN).await;
    let (_, read) = create(
        &gw,
        &dev,
        "User:temp",
        "DeveloperRead",
        &format!("{TOPICS}orders"),
    )
    .await;
    let (s, body) = post_statement(
        &gw,
        &temp,
        "a",
        "SELECT * FROM orders",
        json!({"sql.dry-run": "true"}),
    )
    .await;
    assert_eq!(s, 200, "{body}");

    // The developer administers topics of lkc-dev, not the environment binding: that one is
    // not even visible to it.
    let run_id = run["id"].as_str().unwrap();
    let (s, _) = call(
        &gw,
        &dev,
        reqwest::Method::DELETE,
        &format!("/iam/v2/role-bindings/{run_id}"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    // The principal itself sees its bindings but may not revoke what it does not administer.
    let (s, body) = call(
        &gw,
        &temp,
        reqwest::Method::DELETE,
        &format!("/iam/v2/role-bindings/{run_id}"),
        None,
    )
    .await;
    assert_eq!(s, 403, "{body}");
    assert!(
        detail(&body).contains("may not revoke role FlinkDeveloper"),
        "{body}"
    );

    let read_id = read["id"].as_str().unwrap();
    let (s, body) = call(
        &gw,
        &dev,
        reqwest::Method::DELETE,
        &format!("/iam/v2/role-bindings/{read_id}"),
        None,
    )
    .await;
    assert_eq!(s, 204, "{body}");
    let (s, body) = post_statement(
        &gw,
        &temp,
        "b",
        "SELECT * FROM orders",
        json!({"sql.dry-run": "true"}),
    )
    .await;
    assert_eq!(s, 403, "{body}");
    assert!(!bindings_file(&gw).contains("User:temp, DeveloperRead"));
    let (s, _) = call(
        &gw,
        &root,
        reqwest::Method::GET,
        &format!("/iam/v2/role-bindings/{read_id}"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call(
        &gw,
        &dev,
        reqwest::Method::DELETE,
        &format!("/iam/v2/role-bindings/{read_id}"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    gw.stop().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
