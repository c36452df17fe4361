//! Stopping or deleting a statement stops its work: a long CPU-bound query started through the
//! real server stops burning CPU within about a second of `PATCH stopped=true` or `DELETE`.
//!
//! The gateway runs in this test process, so the process's own CPU time (`/proc/self/stat`)
//! measures the engine's work. The two tests share the process, so they take turns.

mod common;

use std::time::Duration;

use common::{TestGateway, developer, get, post_statement};
use serde_json::json;

/// A query the embedded engine needs far longer than this test waits for: a filtered cross
/// join of the `examples` tables (1,000 × 1,000 × 200 × 100 × 30 rows compared), which no
/// statistic answers and which is CPU-bound throughout (hours in a debug build). DataFusion
/// plans it so that each batch of the first join fans out into some 5·10⁹ comparisons done
/// without yielding to tokio: dropping the stream alone does not stop such a segment (before
/// the engine's own cancellation it kept burning for tens of seconds after DELETE).
const BURN: &str = "SELECT COUNT(*) FROM examples.marketplace.orders o \
    CROSS JOIN examples.marketplace.clicks k \
    CROSS JOIN examples.marketplace.customers c \
    CROSS JOIN examples.marketplace.products p \
    CROSS JOIN (SELECT customer_id AS x FROM examples.marketplace.customers \
                WHERE customer_id < 3030) s \
    WHERE o.price + k.view_time > c.customer_id + LENGTH(p.name) + s.x";

/// One measurement at a time: both tests read the whole process's CPU time.
static CPU: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// CPU time (user + system) this process has used so far. `/proc` reports it in clock ticks
/// of `USER_HZ`, which Linux fixes at 100 per second for this interface.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after = &stat[stat.rfind(')').expect("comm field") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the line are utime and stime; `after` starts at field 3.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// CPU seconds used during the next `window`.
async fn cpu_over(window: Duration) -> f64 {
    let before = cpu_seconds();
    tokio::time::sleep(window).await;
    cpu_seconds() - before
}

/// Starts [`BURN`] as `name` and returns once it is running and burning CPU.
async fn start_burning(gw: &TestGateway, name: &str) -> f64 {
    let dev = developer(gw);
    let (status, body) = post_statement(gw, &dev, name, BURN, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["phase"], "RUNNING", "{body}");
    let busy = cpu_over(Duration::from_secs(2)).await;
    let (_, now) = get(gw, &dev, &format!("/statements/{name}")).await;
    assert_eq!(
        now["status"]["phase"], "RUNNING",
        "the query must outlast the measurement: {now}"
    );
    // Half a core at least, even on a loaded machine (it has two partitions to run).
    assert!(
        busy > 0.5,
        "the query should keep a core busy, used {busy:.2} s of CPU in 2 s"
    );
    busy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_long_query_frees_its_cpu_within_a_second() {
    let _turn = CPU.lock().await;
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    let busy = start_burning(&gw, "burn-delete").await;
    let r = dev
        .apply(
            gw.client()
                .delete(format!("{}/statements/burn-delete", gw.base())),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(get(&gw, &dev, "/statements/burn-delete").await.0, 404);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = cpu_over(Duration::from_secs(2)).await;
    eprintln!(
        "delete: {busy:.2} s of CPU in the 2 s before, {after:.2} s in the 2 s from 1 s after"
    );
    assert!(
        after < 0.3,
        "a deleted query must stop: {after:.2} s of CPU in 2 s after DELETE (before: {busy:.2} s)"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stopping_a_long_query_frees_its_cpu_within_a_second() {
    let _turn = CPU.lock().await;
    let gw = TestGateway::start().await;
    let dev = developer(&gw);
    let busy = start_burning(&gw, "burn-stop").await;
    let r = dev
        .apply(
            gw.client()
                .patch(format!("{}/statements/burn-stop", gw.base())),
        )
        .header("content-type", "application/json-patch+json")
        .body(r#"[{"op":"replace","path":"/spec/stopped","value":true}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = cpu_over(Duration::from_secs(2)).await;
    eprintln!("stop: {busy:.2} s of CPU in the 2 s before, {after:.2} s in the 2 s from 1 s after");
    let (_, body) = get(&gw, &dev, "/statements/burn-stop").await;
    assert_eq!(body["status"]["phase"], "STOPPED", "{body}");
    assert_eq!(body["spec"]["stopped"], true, "{body}");
    assert!(
        after < 0.3,
        "a stopped query must stop: {after:.2} s of CPU in 2 s after the stop (before: {busy:.2} s)"
    );
    gw.stop().await;
}
