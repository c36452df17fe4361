//! Apache Kafka 4.x (KRaft, one node: broker and controller in one JVM) on loopback, started
//! by `scripts/dev-stack.sh up kafka` (which installs the pinned jars into
//! `~/.cache/sqlgate/stack` on first use; needs Java 17+).
//!
//! [`shared`] is one broker per test binary, started on first use and stopped by the stack's
//! watchdog when the binary ends: tests on it use topic names of their own. [`start`] is a
//! broker of the calling test's own, stopped when dropped: for tests that stop and restart
//! it. [`Broker::stop`] and [`Broker::restart`] keep the data and the port (a real outage and
//! recovery).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::stack::Stack;

/// How long a started broker gets to answer a metadata request from librdkafka.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running broker.
pub struct Broker {
    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub bootstrap: String,
    stack: Stack,
}

/// The test binary's shared broker (started on first use).
pub async fn shared() -> &'static Broker {
    static SHARED: OnceLock<Broker> = OnceLock::new();
    tokio::task::spawn_blocking(|| SHARED.get_or_init(|| launch("kafka-shared")))
        .await
        .expect("start the shared broker")
}

/// A broker of the caller's own; stopped (and its data deleted) when dropped.
pub async fn start() -> Broker {
    tokio::task::spawn_blocking(|| launch("kafka"))
        .await
        .expect("start a broker")
}

/// A test broker's JVM: a small heap, and only the C1 JIT (it starts in about half the time
/// and uses less memory; the tests move little data). `SQLGATE_TEST_KAFKA_HEAP` and
/// `SQLGATE_TEST_KAFKA_JVM_OPTS` override them.
fn env() -> Vec<(&'static str, String)> {
    let var = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.into());
    vec![
        (
            "KAFKA_HEAP_OPTS",
            var("SQLGATE_TEST_KAFKA_HEAP", "-Xms64m -Xmx384m"),
        ),
        (
            "KAFKA_JVM_OPTS",
            var("SQLGATE_TEST_KAFKA_JVM_OPTS", "-XX:TieredStopAtLevel=1"),
        ),
    ]
}

fn launch(name: &str) -> Broker {
    let stack = Stack::new(name);
    let out = stack.up("kafka", &env());
    let bootstrap = out
        .get("KAFKA_BOOTSTRAP")
        .unwrap_or_else(|| panic!("dev-stack.sh up kafka printed no KAFKA_BOOTSTRAP: {out:?}"))
        .clone();
    let broker = Broker { bootstrap, stack };
    broker.wait_ready();
    broker
}

impl Broker {
    /// Stops the broker (SIGTERM, a controlled shutdown); its data stays.
    pub async fn stop(&self) {
        tokio::task::block_in_place(|| self.stack.down(Some("kafka")));
    }

    /// Starts the stopped broker again on the same port with the data it had, and waits until
    /// it answers metadata requests.
    pub async fn restart(&self) {
        let port = self.port();
        tokio::task::block_in_place(|| {
            let mut env = env();
            env.push(("KAFKA_PORT", port.to_string()));
            let out = self.stack.up("kafka", &env);
            assert_eq!(
                out.get("KAFKA_BOOTSTRAP"),
                Some(&self.bootstrap),
                "the broker came back on another port"
            );
            self.wait_ready();
        });
    }

    /// Creates `name` with `partitions` partitions (the broker's replication factor), as a
    /// producer outside the gateway would; panics if Kafka refuses.
    pub async fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .unwrap();
        let r = admin
            .create_topics(
                [&NewTopic::new(
                    name,
                    partitions,
                    TopicReplication::Fixed(-1),
                )],
                &AdminOptions::new(),
            )
            .await
            .unwrap();
        r[0].as_ref().unwrap();
    }

    /// The broker's log so far, for failure messages.
    pub fn log(&self) -> String {
        self.stack.log("kafka")
    }

    /// Resident set size of the broker's JVM in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        self.stack.rss_kib("kafka")
    }

    fn port(&self) -> u16 {
        self.bootstrap
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("bootstrap is HOST:PORT")
    }

    /// Waits until librdkafka gets metadata from the broker (the script waits for the log
    /// line; this is what the clients see).
    fn wait_ready(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        while !metadata_ok(&self.bootstrap) {
            assert!(
                Instant::now() < deadline,
                "Kafka at {} answered no metadata request within {READY_TIMEOUT:?}:\n{}",
                self.bootstrap,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn metadata_ok(bootstrap: &str) -> bool {
    let consumer: Result<BaseConsumer, _> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("socket.connection.setup.timeout.ms", "1000")
        .create();
    consumer.is_ok_and(|c| c.fetch_metadata(None, Duration::from_secs(2)).is_ok())
}
