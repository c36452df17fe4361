//! A venv with the unmodified `confluent-sql` driver, created once per target directory.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The driver release the end-to-end scripts are written against.
pub const DRIVER: &str = "confluent-sql==0.7.0";

/// Creates (once per target dir) a venv with the driver; returns its python. Blocking: call
/// it from `spawn_blocking`. Parallel test binaries serialize on a lock file.
pub fn venv_python() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("venv-confluent-sql-0.7.0");
    let python = dir.join("bin").join("python");
    let marker = dir.join(".installed");
    std::fs::create_dir_all(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let lock = std::fs::File::create(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("venv-confluent-sql.lock"),
    )
    .unwrap();
    lock.lock().unwrap();
    if marker.exists() && python.exists() {
        return python;
    }
    let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let status = Command::new(&py)
        .args(["-m", "venv", "--clear"])
        .arg(&dir)
        .status()
        .expect("python3 is needed for the e2e tests");
    assert!(status.success(), "creating the venv failed");
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            DRIVER,
        ])
        .status()
        .unwrap();
    assert!(status.success(), "pip install {DRIVER} failed");
    std::fs::write(&marker, DRIVER).unwrap();
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
