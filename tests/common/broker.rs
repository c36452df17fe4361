//! A real Kafka-protocol broker (tansu, in-memory storage) on a free loopback port.
//!
//! The binary comes from `SQLGATE_TANSU`, else `$HOME/.cache/sqlgate/bin/tansu`, else it is
//! installed there with `cargo install` (about 11 minutes cold, once per machine; a lock file
//! keeps parallel test binaries from installing twice, and the install's target directory is
//! kept under `$HOME/.cache/sqlgate/tansu-target` so a rebuild is incremental).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

/// The tansu release the tests are written against.
const TANSU_VERSION: &str = "0.6.0";
/// How long a started broker gets to answer a metadata request.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts at starting on a fresh port (another process may take the port in between).
const START_ATTEMPTS: usize = 5;

/// A running broker; killed when dropped.
pub struct Broker {
    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub bootstrap: String,
    port: u16,
    child: Child,
    log: PathBuf,
}

/// Starts a broker on a free loopback port.
pub async fn start() -> Broker {
    let bin = tansu_binary().await;
    let mut last = String::new();
    for _ in 0..START_ATTEMPTS {
        match launch(&bin, free_port()).await {
            Ok(b) => return b,
            Err(e) => last = e,
        }
    }
    panic!("tansu did not start in {START_ATTEMPTS} attempts: {last}");
}

impl Broker {
    /// Stops the broker (its in-memory data is lost) and starts a new one on the same port,
    /// so clients configured with `bootstrap` reconnect to it.
    pub async fn restart(&mut self) {
        self.kill();
        let bin = tansu_binary().await;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match launch(&bin, self.port).await {
                Ok(b) => {
                    // The old process is dead already; dropping it only removes its log.
                    *self = b;
                    return;
                }
                Err(e) if Instant::now() >= deadline => panic!("tansu did not restart: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Stops the broker now (for broker-down tests); `restart` brings it back.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The broker's output so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local addr").port()
}

async fn launch(bin: &Path, port: u16) -> Result<Broker, String> {
    let url = format!("tcp://127.0.0.1:{port}");
    static LAUNCHES: AtomicU64 = AtomicU64::new(0);
    let n = LAUNCHES.fetch_add(1, Ordering::Relaxed);
    let log = std::env::temp_dir().join(format!(
        "sqlgate-tansu-{}-{port}-{n}.log",
        std::process::id()
    ));
    let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new(bin)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", bin.display()))?;
    let mut broker = Broker {
        bootstrap: format!("127.0.0.1:{port}"),
        port,
        child,
        log,
    };
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = broker.child.try_wait() {
            return Err(format!("tansu exited with {status}: {}", broker.log()));
        }
        let bootstrap = broker.bootstrap.clone();
        let ok = tokio::task::spawn_blocking(move || metadata_ok(&bootstrap))
            .await
            .unwrap_or(false);
        if ok {
            return Ok(broker);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "tansu not ready after {READY_TIMEOUT:?}: {}",
                broker.log()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn metadata_ok(bootstrap: &str) -> bool {
    let consumer: Result<BaseConsumer, _> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("socket.connection.setup.timeout.ms", "1000")
        .create();
    consumer.is_ok_and(|c| c.fetch_metadata(None, Duration::from_secs(1)).is_ok())
}

// === Installation ===

fn cache_dir() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/sqlgate")
}

/// The tansu binary, installed on first use.
async fn tansu_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SQLGATE_TANSU") {
        return PathBuf::from(p);
    }
    tokio::task::spawn_blocking(install)
        .await
        .expect("tansu install task")
}

fn install() -> PathBuf {
    let root = cache_dir();
    let bin = root.join("bin/tansu");
    if bin.is_file() {
        return bin;
    }
    std::fs::create_dir_all(&root).expect("create ~/.cache/sqlgate");
    // Serializes installs across test binaries running in parallel (flock(2), released when
    // the file is closed, also if this process dies).
    let lock = std::fs::File::create(root.join("tansu.lock")).expect("create the install lock");
    lock.lock().expect("lock the install lock");
    if bin.is_file() {
        return bin;
    }
    eprintln!(
        "installing tansu {TANSU_VERSION} (a Kafka-protocol broker for the tests) into {}: \
         about 11 minutes on a cold cache, once per machine",
        root.display()
    );
    let started = Instant::now();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["install", "tansu", "--version", TANSU_VERSION, "--locked"])
        .args(["--features", "dynostore", "--root"])
        .arg(&root)
        .env("CARGO_TARGET_DIR", root.join("tansu-target"))
        .status()
        .expect("run cargo install tansu");
    assert!(status.success(), "cargo install tansu failed: {status}");
    eprintln!("installed tansu in {:?}", started.elapsed());
    assert!(
        bin.is_file(),
        "cargo install did not produce {}",
        bin.display()
    );
    bin
}
