//! dbt end to end: the unmodified `dbt-confluent` 0.4.1 adapter, installed into a venv by this
//! test, runs the sample project in `tests/dbt/sample` against the real gateway over TLS with
//! an API key (the only credential its profile has): `dbt seed`, `dbt run` (a table, a view and
//! a streaming table), `dbt test` (schema and singular tests, one failing on purpose), a second
//! `dbt run` after the model changed shape (schema drift, refused by the adapter until
//! `--full-refresh`), and `dbt seed --full-refresh`. Every result is checked again through the
//! statements API, so a dbt that only *thinks* it worked fails the test.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Cred, TestGateway};

/// The adapter release the sample project is written against, and the dbt-core it was
/// released with (pinned so a new dbt-core does not change the test under us).
const DBT: &[&str] = &["dbt-confluent==0.4.1", "dbt-core==1.11.16"];
/// The principal dbt runs as.
const DBT_PRINCIPAL: &str = "User:sa-dbt";

/// A copy of the sample project with a `profiles.yml` pointing at `gw` with `key`.
fn project(gw: &TestGateway, key: &(String, String)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dbt/sample");
    copy_dir(&src, dir.path());
    let profile = format!(
        "sqlgate:\n  target: dev\n  outputs:\n    dev:\n      type: confluent\n      \
         endpoint: {endpoint}\n      organization_id: org-dev\n      environment_id: env-dev\n      \
         dbname: main\n      compute_pool_id: lfcp-dev\n      flink_api_key: {k}\n      \
         flink_api_secret: {s}\n      threads: 1\n",
        endpoint = gw.endpoint(),
        k = key.0,
        s = key.1,
    );
    std::fs::write(dir.path().join("profiles.yml"), profile).unwrap();
    dir
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// Runs `dbt ARGS…` in `project`; returns whether it succeeded and its output.
async fn dbt(bin: &Path, gw: &TestGateway, project: &Path, args: &[&str]) -> (bool, String) {
    let run = tokio::process::Command::new(bin)
        .args(args)
        .args(["--profiles-dir", "."])
        .current_dir(project)
        .env("SSL_CERT_FILE", gw.ca_file())
        .env("REQUESTS_CA_BUNDLE", gw.ca_file())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("DO_NOT_TRACK", "1")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .unwrap_or_else(|_| panic!("dbt {args:?} took over 300 s"))
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("--- dbt {args:?}\n{text}");
    (out.status.success(), text)
}

async fn ok(bin: &Path, gw: &TestGateway, project: &Path, args: &[&str]) -> String {
    let (success, text) = dbt(bin, gw, project, args).await;
    assert!(success, "dbt {args:?} failed:\n{text}");
    text
}

/// The first column of each row of `sql`, as text, read by `cred` through the statements API.
async fn column(gw: &TestGateway, cred: &Cred, name: &str, sql: &str) -> Vec<String> {
    let rows = common::run_query(gw, cred, name, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    rows.iter()
        .map(|r| match &r[0] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

fn venv_dbt() -> PathBuf {
    let python = common::python::venv_with("dbt-confluent-0.4.1", DBT);
    python.with_file_name("dbt")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dbt_confluent_seeds_runs_tests_and_refreshes_the_sample_project() {
    let bin = tokio::task::spawn_blocking(venv_dbt).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::copy_policies(&dir.path().join("policies"));
    common::grant_developer(&dir.path().join("policies"), DBT_PRINCIPAL);
    let gw = TestGateway::start_in(dir, |_| {}).await;
    let key = gw.api_key(DBT_PRINCIPAL);
    let me = Cred::Basic(key.0.clone(), key.1.clone());
    let proj = project(&gw, &key);
    let p = proj.path();

    ok(&bin, &gw, p, &["debug"]).await;
    let seeded = ok(&bin, &gw, p, &["seed"]).await;
    assert!(seeded.contains("INSERT 4"), "{seeded}");
    let run = ok(&bin, &gw, p, &["run"]).await;
    assert!(run.contains("PASS=3"), "{run}");

    // What dbt built, read back through the API by the same principal.
    let ids = "SELECT CAST(id AS STRING) FROM";
    assert_eq!(
        column(
            &gw,
            &me,
            "chk-table",
            &format!("{ids} big_customers ORDER BY id")
        )
        .await,
        ["1", "2", "3"]
    );
    assert_eq!(
        column(
            &gw,
            &me,
            "chk-view",
            &format!("{ids} eu_customers ORDER BY id")
        )
        .await,
        ["1", "2", "4"]
    );
    assert_eq!(
        column(
            &gw,
            &me,
            "chk-stream",
            &format!("{ids} customer_names ORDER BY id")
        )
        .await,
        ["1", "2", "3", "4"]
    );
    let kinds = column(
        &gw,
        &me,
        "chk-kinds",
        "SELECT TABLE_NAME || ':' || TABLE_TYPE FROM `env-dev`.INFORMATION_SCHEMA.`TABLES` \
         WHERE TABLE_SCHEMA = 'main' ORDER BY TABLE_NAME",
    )
    .await;
    for kind in [
        "big_customers:BASE TABLE",
        "customer_names:BASE TABLE",
        "customers:BASE TABLE",
        "eu_customers:VIEW",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }

    // Schema and singular tests pass; the one written to fail fails, with its one row.
    let tested = ok(&bin, &gw, p, &["test", "--exclude", "tag:expect_fail"]).await;
    assert!(
        tested.contains("PASS=10") && tested.contains("ERROR=0"),
        "{tested}"
    );
    let (passed, failing) = dbt(&bin, &gw, p, &["test", "--select", "tag:expect_fail"]).await;
    assert!(
        !passed,
        "a failing data test must fail dbt test:\n{failing}"
    );
    assert!(
        failing.contains("FAIL 1 expect_fail_us_in_eu") && failing.contains("Got 1 result"),
        "{failing}"
    );

    // A second run with the table model changed shape: the adapter's drift check (its temp
    // table and INFORMATION_SCHEMA.COLUMNS) sees the new column and refuses until a full refresh.
    std::fs::write(
        p.join("models/big_customers.sql"),
        "{{ config(materialized='table') }}\n\
         select id, name, country, amount from {{ ref('customers') }} where amount > 50\n",
    )
    .unwrap();
    let (drifted, text) = dbt(&bin, &gw, p, &["run", "--select", "big_customers"]).await;
    assert!(!drifted, "schema drift must fail the run:\n{text}");
    assert!(
        text.contains("Schema drift detected") && text.contains("amount"),
        "{text}"
    );
    ok(
        &bin,
        &gw,
        p,
        &["run", "--select", "big_customers", "--full-refresh"],
    )
    .await;
    let cols = column(
        &gw,
        &me,
        "chk-cols",
        "SELECT COLUMN_NAME FROM `env-dev`.INFORMATION_SCHEMA.`COLUMNS` \
         WHERE TABLE_SCHEMA = 'main' AND TABLE_NAME = 'big_customers' ORDER BY ORDINAL_POSITION",
    )
    .await;
    assert_eq!(cols, ["id", "name", "country", "amount"]);
    assert_eq!(
        column(
            &gw,
            &me,
            "chk-amounts",
            "SELECT CAST(amount AS STRING) FROM big_customers ORDER BY id"
        )
        .await,
        ["120.5", "80.0", "310.25"]
    );

    // Seeds again with a full refresh: the table is dropped and loaded once, not appended to.
    ok(&bin, &gw, p, &["seed", "--full-refresh"]).await;
    assert_eq!(
        column(
            &gw,
            &me,
            "chk-seed",
            "SELECT CAST(COUNT(*) AS STRING) FROM customers"
        )
        .await,
        ["4"]
    );
    gw.stop().await;
}
