//! How reads of a topic end and survive: a snapshot SELECT returns exactly the records that
//! existed when it started (its bound is the high watermark, not record timestamps), and a
//! streaming SELECT rides out a broker restart (data kept) without losing or repeating a
//! record. Real gateway over TLS, real Apache Kafka.

mod common;

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};
use sqlgate::config::Config;
use sqlgate::kafka::KafkaClusterConfig;

use common::{Cred, TestGateway, broker, developer, post_statement};

async fn gateway(bootstrap: &str, tweak: impl FnOnce(&mut Config)) -> TestGateway {
    let mut k = KafkaClusterConfig::new(bootstrap);
    k.request_timeout = Duration::from_secs(3);
    TestGateway::start_with(move |c| {
        c.environments[0].clusters[0].kafka = Some(k);
        tweak(c);
    })
    .await
}

/// An idempotent producer (a retried send is never written twice), patient with a broker that
/// is down for a while.
fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "120000")
        .set("linger.ms", "5")
        .create()
        .unwrap()
}

async fn send(p: &FutureProducer, topic: &str, partition: i32, value: &str, ts: Option<i64>) {
    let mut r = FutureRecord::<(), _>::to(topic)
        .payload(value)
        .partition(partition);
    if let Some(ts) = ts {
        r = r.timestamp(ts);
    }
    p.send(r, Duration::from_secs(120)).await.unwrap();
}

/// One results page: its rows, and the next page's URL (`None`: the statement is done).
async fn page(gw: &TestGateway, cred: &Cred, url: &str) -> (Vec<String>, Option<String>) {
    let resp = cred.apply(gw.client().get(url)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    let page: Value = resp.json().await.unwrap();
    let rows = page["results"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"][0].as_str().unwrap().to_string())
        .collect();
    let next = page["metadata"]["next"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    (rows, next)
}

/// Reads pages from `url` until `done(rows so far)` or the statement ends, within `limit`.
async fn read_until(
    gw: &TestGateway,
    cred: &Cred,
    url: &mut Option<String>,
    rows: &mut Vec<String>,
    limit: Duration,
    done: impl Fn(&[String]) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !done(rows) {
        let Some(u) = url.clone() else { return };
        assert!(
            Instant::now() < deadline,
            "not done within {limit:?}; rows so far: {rows:?}"
        );
        let (got, next) = page(gw, cred, &u).await;
        rows.extend(got);
        *url = next;
    }
}

/// The snapshot's bound is the high watermark taken when the scan started. Records that
/// arrive while it reads are never part of it, also those whose producer stamped them with a
/// time before the statement started (a record timestamp is the producer's to choose).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_returns_exactly_the_records_that_existed_at_its_start() {
    let b = broker::shared().await;
    let topic = "snapshot_exact";
    b.create_topic(topic, 2).await;
    let p = producer(&b.bootstrap);
    let before: Vec<String> = (0..60).map(|i| format!("before-{i:02}")).collect();
    for (i, v) in before.iter().enumerate() {
        send(&p, topic, (i % 2) as i32, v, None).await;
    }
    // Small batches, a small result buffer and a consumer that fetches little ahead: the scan
    // stops reading (the buffer is full) long before it reaches the end of the topic, and
    // goes on as pages are fetched, so it meets the late records before the partition's end.
    let gw = gateway(&b.bootstrap, |c| {
        c.gateway.result_buffer_rows = 8;
        c.engine.batch_size = 4;
        let k = c.environments[0].clusters[0].kafka.as_mut().unwrap();
        for (key, v) in [
            ("queued.min.messages", "1"),
            ("fetch.message.max.bytes", "1"),
            ("fetch.queue.backoff.ms", "10"),
        ] {
            k.client.insert(key.into(), v.into());
        }
    })
    .await;
    let dev = developer(&gw);
    let started_ms = chrono::Utc::now().timestamp_millis();
    let (status, body) = post_statement(
        &gw,
        &dev,
        "snap",
        &format!("SELECT CAST(val AS STRING) FROM {topic}"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["status"]["phase"], "FAILED", "{body}");
    let mut url = Some(format!("{}/statements/snap/results", gw.base()));
    let mut rows = Vec::new();
    read_until(
        &gw,
        &dev,
        &mut url,
        &mut rows,
        Duration::from_secs(30),
        |r| !r.is_empty(),
    )
    .await;
    assert!(rows.len() < 40, "the scan is still under way: {rows:?}");

    // Late records: stamped an hour before the statement started, at its start, and now.
    let stamps = [Some(started_ms - 3_600_000), Some(started_ms), None];
    for (i, ts) in stamps.iter().cycle().take(12).enumerate() {
        send(&p, topic, (i % 2) as i32, &format!("late-{i:02}"), *ts).await;
    }
    read_until(
        &gw,
        &dev,
        &mut url,
        &mut rows,
        Duration::from_secs(60),
        |_| false,
    )
    .await;
    rows.sort();
    assert_eq!(
        rows, before,
        "exactly the records that existed at the start"
    );
}

/// A streaming SELECT keeps its place across a broker restart with the data kept: every
/// record, produced before, during (queued by the producer) and after the outage, arrives
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_select_resumes_after_a_broker_restart_without_loss_or_duplicates() {
    let b = broker::start().await;
    let topic = "resume";
    b.create_topic(topic, 2).await;
    let p = producer(&b.bootstrap);
    let all: Vec<String> = (0..30).map(|i| format!("n-{i:02}")).collect();
    for (i, v) in all[..10].iter().enumerate() {
        send(&p, topic, (i % 2) as i32, v, None).await;
    }
    let gw = gateway(&b.bootstrap, |_| {}).await;
    let dev = developer(&gw);
    let (status, body) = post_statement(
        &gw,
        &dev,
        "stream",
        &format!("SELECT CAST(val AS STRING) FROM {topic}"),
        json!({"sql.snapshot.mode": null}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["traits"]["is_bounded"], false, "{body}");
    let mut url = Some(format!("{}/statements/stream/results", gw.base()));
    let mut rows = Vec::new();
    let limit = Duration::from_secs(60);
    read_until(&gw, &dev, &mut url, &mut rows, limit, |r| r.len() >= 10).await;

    b.stop().await;
    // Sent while the broker is down: the producer holds them until it is back.
    let queued = {
        let p = p.clone();
        let values: Vec<String> = all[10..20].to_vec();
        tokio::spawn(async move {
            for (i, v) in values.iter().enumerate() {
                send(&p, topic, (i % 2) as i32, v, None).await;
            }
        })
    };
    // The stream stays up meanwhile: pages come back (empty), the statement keeps running.
    let (got, next) = page(&gw, &dev, url.as_deref().unwrap()).await;
    assert!(got.is_empty(), "{got:?}");
    assert!(next.is_some(), "the stream is still running");
    url = next;

    b.restart().await;
    tokio::time::timeout(Duration::from_secs(120), queued)
        .await
        .expect("the queued records are delivered after the restart")
        .unwrap();
    for (i, v) in all[20..].iter().enumerate() {
        send(&p, topic, (i % 2) as i32, v, None).await;
    }
    read_until(&gw, &dev, &mut url, &mut rows, limit, |r| r.len() >= 30).await;
    // A little longer, so a record read twice would show.
    let settle = Instant::now() + Duration::from_secs(2);
    while Instant::now() < settle {
        let (got, next) = page(&gw, &dev, url.as_deref().unwrap()).await;
        rows.extend(got);
        url = next;
    }
    rows.sort();
    assert_eq!(rows, all, "every record exactly once");
    let resp = dev
        .apply(
            gw.client()
                .delete(format!("{}/statements/stream", gw.base())),
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
}
