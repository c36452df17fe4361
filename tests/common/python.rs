//! Virtualenvs with pinned Python packages (the unmodified `confluent-sql` driver, Confluent's
//! `confluent-kafka` client with its Schema Registry serializers), each created once per
//! target directory, and runners for the scripts in `tests/e2e/`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The driver release the end-to-end scripts are written against.
pub const DRIVER: &str = "confluent-sql==0.7.0";
/// Confluent's Python client with the Avro and JSON Schema serializers.
pub const CONFLUENT_KAFKA: &str = "confluent-kafka[avro,json]==2.16.1";

/// Creates (once per target dir) a venv with the driver; returns its python. Blocking: call
/// it from `spawn_blocking`. Parallel test binaries serialize on a lock file.
pub fn venv_python() -> PathBuf {
    venv_with("confluent-sql-0.7.0", &[DRIVER])
}

/// Creates (once per target dir) a venv with Confluent's client and serializers; returns its
/// python. Blocking, like [`venv_python`].
pub fn confluent_kafka_python() -> PathBuf {
    venv_with("confluent-kafka-2.16.1", &[CONFLUENT_KAFKA])
}

/// Creates (once per target dir) the venv `venv-<name>` with `requirements` installed from
/// PyPI; returns its python. Blocking.
pub fn venv_with(name: &str, requirements: &[&str]) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.join(format!("venv-{name}"));
    let python = dir.join("bin").join("python");
    let marker = dir.join(".installed");
    std::fs::create_dir_all(tmp).unwrap();
    let lock = std::fs::File::create(tmp.join(format!("venv-{name}.lock"))).unwrap();
    lock.lock().unwrap();
    let want = requirements.join("\n");
    if python.exists() && std::fs::read_to_string(&marker).is_ok_and(|m| m == want) {
        return python;
    }
    let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let status = Command::new(&py)
        .args(["-m", "venv", "--clear"])
        .arg(&dir)
        .status()
        .expect("python3 is needed for the e2e tests");
    assert!(
        status.success(),
        "creating the venv failed (is python3-venv installed?)"
    );
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(requirements)
        .status()
        .unwrap();
    assert!(status.success(), "pip install {requirements:?} failed");
    std::fs::write(&marker, want).unwrap();
    python
}

/// Runs `tests/e2e/<script>` with the venv's python against gateway `gw` (its endpoint and
/// CA are passed as `SQLGATE_ENDPOINT` and `SSL_CERT_FILE`) plus `env`; asserts it exits 0
/// and prints `done`, and returns its stdout.
pub async fn run_script(
    python: &Path,
    gw: &super::TestGateway,
    script: &str,
    env: &[(&str, String)],
    done: &str,
) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e")
        .join(script);
    let out = tokio::process::Command::new(python)
        .arg(&script)
        .env("SQLGATE_ENDPOINT", gw.endpoint())
        .env("SSL_CERT_FILE", gw.ca_file())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success() && stdout.contains(done),
        "{} failed:\n{stdout}\n{stderr}",
        script.display()
    );
    stdout
}

/// Runs `tests/e2e/<script> ARGS…` with `python` and `env` (no gateway), within `limit`;
/// asserts it exits 0 and returns its stdout.
pub async fn run_with(
    python: &Path,
    script: &str,
    args: &[&str],
    env: &[(&str, String)],
    limit: std::time::Duration,
) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e")
        .join(script);
    let run = tokio::process::Command::new(python)
        .arg(&script)
        .args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(limit, run)
        .await
        .unwrap_or_else(|_| panic!("{} {args:?} took over {limit:?}", script.display()))
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{stdout}\n{stderr}",
        script.display()
    );
    stdout
}
