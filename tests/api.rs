//! The statements API over real TLS: lifecycle, ownership, refusals and bad input.

mod common;

use std::time::Duration;

use common::refusal::assert_denied;
use common::{Cred, TestGateway, admin, detail, developer, get, post_statement, run_query};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn health_and_readiness_answer_without_credentials() {
    let gw = TestGateway::start().await;
    let c = gw.client();
    for path in ["/healthz", "/readyz"] {
        let r = c
            .get(format!("{}{path}", gw.endpoint()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn select_one_runs_and_reports_flink_shapes() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    let (status, body) = post_statement(&gw, &dev, "s1", "SELECT 1", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "s1");
    assert_eq!(body["spec"]["principal"], "User:pool-dev");
    assert_eq!(body["spec"]["compute_pool_id"], "lfcp-dev");
    assert!(
        body["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
    let phase = body["status"]["phase"].as_str().unwrap();
    assert!(["RUNNING", "COMPLETED"].contains(&phase), "{phase}");
    let traits = &body["status"]["traits"];
    assert_eq!(traits["sql_kind"], "SELECT");
    assert_eq!(traits["is_bounded"], true);
    assert_eq!(traits["schema"]["columns"][0]["name"], "EXPR$0");
    let rows = run_query(&gw, &dev, "s2", "SELECT 1").await.unwrap();
    assert_eq!(rows, vec![json!(["1"])]);
    gw.stop().await;
}

#[tokio::test]
async fn results_pages_link_with_absolute_urls_until_done() {
    let gw = TestGateway::start_with(|c| c.gateway.page_rows = 7).await;
    let dev = developer(&gw);
    let (status, _) = post_statement(
        &gw,
        &dev,
        "pages",
        "SELECT order_id FROM examples.marketplace.orders LIMIT 20",
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (s, first) = get(&gw, &dev, "/statements/pages/results").await;
    assert_eq!(s, 200);
    assert_eq!(first["results"]["data"].as_array().unwrap().len(), 7);
    let next = first["metadata"]["next"].as_str().unwrap();
    assert!(
        next.starts_with(&gw.base()),
        "next must be absolute: {next}"
    );
    let rows = run_query(
        &gw,
        &dev,
        "pages2",
        "SELECT order_id FROM examples.marketplace.orders LIMIT 20",
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 20);
    gw.stop().await;
}

#[tokio::test]
async fn duplicate_names_get_409() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    assert_eq!(
        post_statement(&gw, &dev, "dup", "SELECT 1", json!({}))
            .await
            .0,
        200
    );
    let (status, body) = post_statement(&gw, &dev, "dup", "SELECT 2", json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(detail(&body).contains("already in use"));
    gw.stop().await;
}

#[tokio::test]
async fn a_principal_without_roles_is_refused_and_nothing_reaches_the_engine() {
    let gw = TestGateway::start().await;
    let nobody = Cred::Bearer(gw.token("mallory", &[]));
    let sql = "SELECT * FROM examples.marketplace.orders";
    let body = assert_denied(&gw, &nobody, "x", sql, 403, "authz.not_allowed_to_run").await;
    let d = detail(&body);
    assert!(d.contains("User:mallory"), "{d}");
    assert!(d.contains("FlinkDeveloper"), "{d}");
    // Nor was a statement created.
    assert_eq!(get(&gw, &nobody, "/statements/x").await.0, 404);
    gw.stop().await;
}

#[tokio::test]
async fn a_statement_property_sqlgate_would_not_apply_is_refused_by_name() {
    let gw = TestGateway::start().await;
    let dev = common::developer(&gw);
    let sql = "SELECT 1";
    for (name, key, says) in [
        (
            "p-unknown",
            "sql.bogus",
            "unknown statement property `sql.bogus`",
        ),
        (
            "p-confluent",
            "sql.state-ttl",
            "statement property `sql.state-ttl` is not supported",
        ),
        (
            "p-flink",
            "pipeline.classpaths",
            "unknown statement property `pipeline.classpaths`",
        ),
    ] {
        let before = gw.engine_calls();
        let (status, body) = post_statement(&gw, &dev, name, sql, json!({ key: "x" })).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["errors"][0]["code"], "request.invalid", "{body}");
        let d = detail(&body);
        assert!(d.contains(says) && d.contains("sql.current-catalog"), "{d}");
        assert_eq!(gw.engine_calls(), before, "nothing reached the engine");
        assert_eq!(get(&gw, &dev, &format!("/statements/{name}")).await.0, 404);
    }
    // The ones it applies pass.
    let (status, body) = post_statement(
        &gw,
        &dev,
        "p-ok",
        sql,
        json!({"sql.local-time-zone": "UTC", "sql.dry-run": "true"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    gw.stop().await;
}

#[tokio::test]
async fn show_current_and_use_are_answered_by_the_gateway_from_the_statements_properties() {
    let gw = TestGateway::start().await;
    let dev = common::developer(&gw);
    let before = gw.engine_calls();
    let rows = |r: Vec<Value>| -> Vec<Vec<String>> {
        r.iter()
            .map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    };
    let q = |name: &'static str, sql: &'static str| {
        let (gw, dev) = (&gw, &dev);
        async move { rows(common::run_query(gw, dev, name, sql).await.unwrap()) }
    };
    // The session is the statement's properties (`env-dev`, `lkc-dev` by id): shown by name.
    assert_eq!(q("cur-cat", "SHOW CURRENT CATALOG").await, [["dev"]]);
    assert_eq!(q("cur-db", "SHOW CURRENT DATABASE").await, [["main"]]);
    // USE is client-side: it answers with the property the client attaches to what follows.
    assert_eq!(
        q("use-cat", "USE CATALOG examples").await,
        [["sql.current-catalog", "examples"]]
    );
    assert_eq!(
        q("use-db", "USE `env-dev`.main").await,
        [
            ["sql.current-catalog", "dev"],
            ["sql.current-database", "main"]
        ]
    );
    let (_, body) =
        post_statement(&gw, &dev, "cur-traits", "SHOW CURRENT CATALOG", json!({})).await;
    assert_eq!(
        body["status"]["traits"]["schema"]["columns"][0]["name"], "current catalog name",
        "{body}"
    );
    assert_eq!(gw.engine_calls(), before, "answered without an engine");
    // A catalog that does not exist (or that the caller may not see) is refused as a name.
    let (status, body) =
        post_statement(&gw, &dev, "use-none", "USE CATALOG nowhere", json!({})).await;
    assert!(status == 400 || status == 404, "{status} {body}");
    assert!(detail(&body).contains("nowhere"), "{body}");
    gw.stop().await;
}

#[tokio::test]
async fn writes_to_the_read_only_examples_catalog_are_refused() {
    let gw = TestGateway::start().await;
    let sql = "INSERT INTO examples.marketplace.orders SELECT * FROM examples.marketplace.orders";
    let body = assert_denied(&gw, &developer(&gw), "w", sql, 403, "authz.read_only").await;
    assert!(detail(&body).contains("examples"), "{body}");
    gw.stop().await;
}

#[tokio::test]
async fn sql_that_does_not_parse_gets_400_with_line_and_column() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    let sql = "SELECT a\nFROM t WHERE ((";
    let body = assert_denied(&gw, &dev, "bad", sql, 400, "sql.parse_error").await;
    let d = detail(&body);
    assert!(d.contains("line 2"), "{d}");
    assert!(d.contains("column"), "{d}");
    let sql = "SELECT 1; SELECT 2";
    assert_denied(&gw, &dev, "two", sql, 400, "sql.multiple_statements").await;
    gw.stop().await;
}

/// What an engine parses must be what was checked: a statement whose canonical SQL text would
/// read as another statement (sqlparser prints `- -x` as the comment `--x`, and a name's
/// doubled backticks as written) is refused at resolution; doubled quotes in strings are
/// carried faithfully.
#[tokio::test]
async fn statements_whose_sql_text_would_read_differently_are_refused_before_the_engine() {
    let gw = TestGateway::start().await;
    let before = gw.engine_calls();
    for (name, sql) in [
        ("signs", "SELECT - -price FROM examples.marketplace.orders"),
        ("ticks", "SELECT * FROM examples.marketplace.`orders````x`"),
    ] {
        let (status, body) = post_statement(&gw, &developer(&gw), name, sql, json!({})).await;
        assert_eq!(status, 400, "{sql}: {body}");
        assert_eq!(body["errors"][0]["code"], "resolve.unrenderable", "{body}");
        assert!(detail(&body).contains("-(-x)"), "{body}");
    }
    assert_eq!(
        gw.engine_calls(),
        before,
        "a refused statement reached the engine"
    );
    let rows = run_query(
        &gw,
        &developer(&gw),
        "quotes",
        "SELECT 'it''s', 'a''''b', -(-1)",
    )
    .await
    .unwrap();
    assert_eq!(rows, vec![json!(["it's", "a''b", "1"])]);
    gw.stop().await;
}

#[tokio::test]
async fn unknown_tables_fail_the_statement_with_a_detail() {
    let gw = TestGateway::start().await;
    let (status, body) = post_statement(
        &gw,
        &developer(&gw),
        "nt",
        "SELECT * FROM no_such_table",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["phase"], "FAILED");
    assert!(
        body["status"]["detail"]
            .as_str()
            .unwrap()
            .contains("no_such_table"),
        "{body}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn statements_belong_to_their_principal_except_for_admins() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    assert_eq!(
        post_statement(&gw, &dev, "mine", "SELECT 1", json!({}))
            .await
            .0,
        200
    );
    let other = Cred::Bearer(gw.token("eve", &["developers"]));
    assert_eq!(get(&gw, &other, "/statements/mine").await.0, 404);
    let (s, list) = get(&gw, &other, "/statements").await;
    assert_eq!(s, 200);
    assert!(list["data"].as_array().unwrap().is_empty());
    assert_eq!(get(&gw, &admin(&gw), "/statements/mine").await.0, 200);
    gw.stop().await;
}

#[tokio::test]
async fn list_pages_and_filters_by_label() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    let c = gw.client();
    for i in 0..5 {
        let mut body = json!({"name": format!("l{i}"), "spec": {"statement": "SELECT 1", "properties": {"sql.current-catalog": "env-dev"}}});
        if i % 2 == 0 {
            body["metadata"] = json!({"labels": {"user.confluent.io/even": "true"}});
        }
        let r = dev
            .apply(c.post(format!("{}/statements", gw.base())))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let (_, page) = get(&gw, &dev, "/statements?page_size=2").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let next = page["metadata"]["next"].as_str().unwrap();
    assert!(next.contains("page_token="), "{next}");
    let mut names = Vec::new();
    let mut url = format!("{}/statements?page_size=2", gw.base());
    loop {
        let p: Value = dev
            .apply(c.get(&url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        names.extend(
            p["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap().to_string()),
        );
        match p["metadata"]["next"].as_str() {
            Some(n) if !n.is_empty() => url = n.to_string(),
            _ => break,
        }
    }
    assert_eq!(names, ["l0", "l1", "l2", "l3", "l4"]);
    let (_, even) = get(
        &gw,
        &dev,
        "/statements?page_size=100&label_selector=user.confluent.io/even=true",
    )
    .await;
    let even: Vec<_> = even["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(even, [json!("l0"), json!("l2"), json!("l4")]);
    gw.stop().await;
}

#[tokio::test]
async fn stop_and_delete_follow_the_contract() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    let c = gw.client();
    assert_eq!(
        post_statement(&gw, &dev, "st", "SELECT 1", json!({}))
            .await
            .0,
        200
    );
    let r = dev
        .apply(c.patch(format!("{}/statements/st", gw.base())))
        .header("content-type", "application/json-patch+json")
        .body(r#"[{"op":"replace","path":"/spec/stopped","value":true}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["spec"]["stopped"], true);
    let r = dev
        .apply(c.delete(format!("{}/statements/st", gw.base())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(get(&gw, &dev, "/statements/st").await.0, 404);
    assert_eq!(get(&gw, &dev, "/statements/st/results").await.0, 404);
    let r = dev
        .apply(c.delete(format!("{}/statements/st", gw.base())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    gw.stop().await;
}

#[tokio::test]
async fn dry_run_answers_terminal_without_storing() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    let (status, body) =
        post_statement(&gw, &dev, "dry", "SELECT 1", json!({"sql.dry-run": "true"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["phase"], "COMPLETED");
    assert_eq!(
        body["status"]["traits"]["schema"]["columns"][0]["name"],
        "EXPR$0"
    );
    let (status, body) =
        post_statement(&gw, &dev, "dry2", "SELEC 1", json!({"sql.dry-run": true})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["phase"], "FAILED");
    assert_eq!(get(&gw, &dev, "/statements/dry").await.0, 404);
    // A dry-run CREATE TABLE creates nothing.
    let (status, _) = post_statement(
        &gw,
        &dev,
        "dry3",
        "CREATE TABLE dry_t (a INT)",
        json!({"sql.dry-run": "true"}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, body) = post_statement(&gw, &dev, "q", "SELECT * FROM dry_t", json!({})).await;
    assert_eq!(body["status"]["phase"], "FAILED", "{body}");
    gw.stop().await;
}

#[tokio::test]
async fn tables_and_rows_survive_a_restart() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    run_query(&gw, &dev, "c", "CREATE TABLE kept (id INT, v STRING)")
        .await
        .unwrap();
    run_query(
        &gw,
        &dev,
        "i",
        "INSERT INTO kept VALUES (1, 'one'), (2, 'two')",
    )
    .await
    .unwrap();
    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let dev = developer(&gw);
    let rows = run_query(&gw, &dev, "s", "SELECT id, v FROM kept ORDER BY id")
        .await
        .unwrap();
    assert_eq!(rows, vec![json!(["1", "one"]), json!(["2", "two"])]);
    gw.stop().await;
}

#[tokio::test]
async fn http2_and_http1_are_both_served() {
    let gw = TestGateway::start().await;
    let r = gw
        .client()
        .get(format!("{}/healthz", gw.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    let pem = std::fs::read(gw.ca_file()).unwrap();
    let h1 = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .http1_only()
        .build()
        .unwrap();
    let r = h1
        .get(format!("{}/healthz", gw.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    gw.stop().await;
}

// --- bad input -------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_json_gets_400() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    let r = dev
        .apply(gw.client().post(format!("{}/statements", gw.base())))
        .header("content-type", "application/json")
        .body("{\"name\": \"x\", \"spec\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(detail(&body).contains("not valid"), "{body}");
    gw.stop().await;
}

#[tokio::test]
async fn a_ten_megabyte_body_gets_413_and_the_server_stays_up() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    let big = "x".repeat(10 * 1024 * 1024);
    let r = dev
        .apply(gw.client().post(format!("{}/statements", gw.base())))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        gw.client()
            .get(format!("{}/healthz", gw.endpoint()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    gw.stop().await;
}

#[tokio::test]
async fn unknown_routes_get_404_and_wrong_methods_405() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    let r = dev
        .apply(gw.client().get(format!("{}/nope", gw.endpoint())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert!(detail(&body).contains("no route"), "{body}");
    let r = dev
        .apply(gw.client().put(format!("{}/statements", gw.base())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.headers().get("allow").is_some());
    let (s, _) = get(&gw, &dev, "/statements/none").await;
    assert_eq!(s, 404);
    let r = dev
        .apply(gw.client().get(format!(
            "{}/sql/v1/organizations/org-other/environments/env-dev/statements",
            gw.endpoint()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    gw.stop().await;
}

#[tokio::test]
async fn bad_credentials_get_401_with_www_authenticate() {
    let gw = TestGateway::start().await;
    let c = gw.client();
    let url = format!("{}/statements", gw.base());
    for cred in [
        None,
        Some(Cred::Bearer("garbage.not.ajwt".into())),
        Some(Cred::Basic("NOKEY".into(), "nosecret".into())),
        Some(Cred::Pool(
            gw.token("alice", &["developers"]),
            "pool-nope".into(),
        )),
        Some(Cred::Pool(
            gw.token("alice", &["interns"]),
            "pool-dev".into(),
        )),
    ] {
        let rb = c.get(&url);
        let rb = match &cred {
            Some(c) => c.apply(rb),
            None => rb,
        };
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), 401, "{cred:?}");
        assert!(r.headers().get("www-authenticate").is_some(), "{cred:?}");
        let body: Value = r.json().await.unwrap();
        assert!(!detail(&body).is_empty(), "{cred:?}: {body}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn plain_http_on_the_tls_port_gets_a_clear_answer() {
    let gw = TestGateway::start().await;
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf.starts_with("HTTP/1.1 400"), "{buf}");
    assert!(buf.contains("HTTPS"), "{buf}");
    assert_eq!(
        gw.client()
            .get(format!("{}/healthz", gw.endpoint()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let gw = TestGateway::start_with(|c| c.server.header_read_timeout = Duration::from_millis(500))
        .await;
    // A real TLS client that sends half a request line and then nothing.
    let pem = std::fs::read(gw.ca_file()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the server kept a slow client's connection open"
    );
    assert_eq!(
        gw.client()
            .get(format!("{}/healthz", gw.endpoint()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    gw.stop().await;
}

#[tokio::test]
async fn show_tables_lists_only_tables_the_caller_has_a_role_on() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    let orders_crn = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=orders-*";
    common::bind(
        &dir.path().join("policies"),
        &[
            ("User:sa-limited", "FlinkDeveloper", common::ENV_CRN),
            ("User:sa-limited", "DeveloperRead", orders_crn),
        ],
    );
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let dev = developer(&gw);
    for (i, t) in ["orders-eu", "orders-us", "secrets"].iter().enumerate() {
        run_query(
            &gw,
            &dev,
            &format!("c{i}"),
            &format!("CREATE TABLE `{t}` (id INT)"),
        )
        .await
        .unwrap();
    }
    let all = run_query(&gw, &dev, "all", "SHOW TABLES").await.unwrap();
    assert_eq!(
        all,
        vec![
            json!(["orders-eu"]),
            json!(["orders-us"]),
            json!(["secrets"])
        ]
    );
    let (key, secret) = gw.api_key("User:sa-limited");
    let limited = Cred::Basic(key, secret);
    let seen = run_query(&gw, &limited, "some", "SHOW TABLES")
        .await
        .unwrap();
    assert_eq!(seen, vec![json!(["orders-eu"]), json!(["orders-us"])]);
    // Reading is granted by the prefixed binding, and refused elsewhere without naming rows.
    assert!(
        run_query(&gw, &limited, "r1", "SELECT * FROM `orders-eu`")
            .await
            .is_ok()
    );
    let (status, body) = run_query(&gw, &limited, "r2", "SELECT * FROM secrets")
        .await
        .unwrap_err();
    assert_eq!(status, 403);
    assert!(detail(&body).contains("DeveloperRead"), "{body}");
    gw.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_decisions_and_engine_statements() {
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    run_query(&gw, &dev, "m1", "SELECT 1").await.unwrap();
    let nobody = Cred::Bearer(gw.token("mallory", &[]));
    assert_eq!(
        post_statement(&gw, &nobody, "m2", "SELECT 1", json!({}))
            .await
            .0,
        403
    );
    let text = gw
        .client()
        .get(format!("{}/metrics", gw.endpoint()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("sqlgate_engine_statements_total 1"), "{text}");
    assert!(
        text.contains("sqlgate_decisions_total{decision=\"allow\",stage=\"authorize\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("sqlgate_decisions_total{decision=\"deny\",stage=\"authorize\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("sqlgate_http_requests_total{route=\"create_statement\",status=\"403\"} 1"),
        "{text}"
    );
    assert!(!text.contains("mallory"), "no principal in metric labels");
    gw.stop().await;
}

#[tokio::test]
async fn a_statement_touching_another_region_is_refused_whatever_the_roles() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    common::bind(
        &dir.path().join("policies"),
        &[(
            "User:pool-dev",
            "ResourceOwner",
            "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-eu/kafka=lkc-eu/topic=*",
        )],
    );
    let gw = TestGateway::start_in(dir, |c| {
        c.environments[0]
            .clusters
            .push(sqlgate::catalog::ClusterConfig {
                id: "lkc-eu".into(),
                display_name: "europe".into(),
                region: "aws.eu-central-1".into(),
                kafka: None,
            });
    })
    .await;
    let before = gw.engine_calls();
    let (status, body) = post_statement(
        &gw,
        &admin(&gw),
        "eu",
        "SELECT * FROM `env-dev`.europe.payments",
        json!({}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let d = detail(&body);
    assert!(
        d.contains("aws.eu-central-1") && d.contains("aws.us-east-2"),
        "{d}"
    );
    assert_eq!(gw.engine_calls(), before);
    gw.stop().await;
}

#[tokio::test]
async fn admins_can_ask_the_gateway_to_explain_a_decision() {
    let gw = TestGateway::start().await;
    let url = format!("{}/sqlgate/v1/check", gw.endpoint());
    let ask = json!({"principal": "User:pool-dev", "catalog": "dev", "database": "main", "sql": "SELECT * FROM orders"});
    let r = admin(&gw)
        .apply(gw.client().post(&url))
        .json(&ask)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["decision"], "allow");
    assert_eq!(
        report["rewritten"],
        "SELECT * FROM `env-dev`.`lkc-dev`.`orders`"
    );
    assert_eq!(report["objects"][1]["action"], "read");
    assert!(
        report["objects"][1]["by"]
            .as_str()
            .unwrap()
            .starts_with("ResourceOwner on ")
    );
    let before = gw.engine_calls();
    let r = developer(&gw)
        .apply(gw.client().post(&url))
        .json(&ask)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "developers may not explain others' access");
    assert_eq!(gw.engine_calls(), before, "explaining runs nothing");
    gw.stop().await;
}

#[tokio::test]
async fn show_catalogs_and_databases_list_only_what_the_caller_may_see() {
    let gw = TestGateway::start_with(|c| {
        c.environments.push(sqlgate::catalog::EnvironmentConfig {
            id: "env-prod".into(),
            display_name: "prod".into(),
            clusters: vec![sqlgate::catalog::ClusterConfig {
                id: "lkc-prod".into(),
                display_name: "payments".into(),
                region: "aws.us-east-2".into(),
                kafka: None,
            }],
        });
    })
    .await;
    let dev = developer(&gw);
    let catalogs = run_query(&gw, &dev, "c", "SHOW CATALOGS").await.unwrap();
    assert_eq!(
        catalogs,
        vec![json!(["dev", "env-dev"]), json!(["examples", "examples"])]
    );
    let (status, body) = run_query(&gw, &dev, "d", "SHOW DATABASES FROM prod")
        .await
        .unwrap_err();
    assert!(status == 403 || status == 404, "{status} {body}");
    let dbs = run_query(&gw, &dev, "d2", "SHOW DATABASES").await.unwrap();
    assert_eq!(dbs, vec![json!(["main", "lkc-dev"])]);
    let all = run_query(&gw, &admin(&gw), "c3", "SHOW CATALOGS")
        .await
        .unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    gw.stop().await;
}
