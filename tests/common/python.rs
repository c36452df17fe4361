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
