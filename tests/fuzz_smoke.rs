//! The fuzz targets' functions (`sqlgate::fuzzing`, the same ones `cargo fuzz` drives) over
//! their whole seed corpus (`fuzz/corpus/<target>/seed-*`), every checked-in crash regression
//! (`fuzz/regressions/<target>/`), and a bounded deterministic mutation loop. Not coverage
//! guided; it keeps what the fuzzer found fixed and the seeds meaningful in every `cargo test`.

#[path = "common/mutate.rs"]
mod mutate;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mutate::{XorShift, mutate};
use sqlgate::fuzzing::{self, on_decision_stack};

/// Mutants per target.
const MUTANTS: usize = 3000;
/// Inputs larger than this are run as seeds but not mutated (debug builds are slow on them,
/// and the mutation loop is about small shapes near the seeds).
const MUTATE_UP_TO: usize = 16 * 1024;
/// No input may take longer than this, even in a debug build: a bound that proves "no hang",
/// not a speed test (the release build is 10 to 50 times faster).
const NO_HANG: Duration = Duration::from_secs(60);

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn target(name: &str) -> fn(&[u8]) {
    fuzzing::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .unwrap_or_else(|| panic!("no fuzz target {name}"))
}

/// The files of `dir` whose names start with `prefix`, sorted by name.
fn files(dir: &Path, prefix: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

fn seeds(name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    files(&fuzz_dir().join("corpus").join(name), "seed-")
}

fn regressions(name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    files(&fuzz_dir().join("regressions").join(name), "")
}

/// Runs `name` on each input on a decision worker's stack, naming the input that failed.
fn run_all(name: &str, inputs: &[(String, Vec<u8>)]) {
    let f = target(name);
    on_decision_stack(|| {
        for (label, bytes) in inputs {
            let started = Instant::now();
            if let Err(panic) = std::panic::catch_unwind(|| f(bytes)) {
                eprintln!("{name}: {label} failed ({} bytes)", bytes.len());
                std::panic::resume_unwind(panic);
            }
            let took = started.elapsed();
            assert!(took < NO_HANG, "{name}: {label} took {took:?}");
            if took > Duration::from_millis(500) {
                eprintln!("{name}: {label} took {took:?} ({} bytes)", bytes.len());
            }
        }
    });
}

fn seeds_and_regressions(name: &str, min_seeds: usize) {
    let seeds = seeds(name);
    assert!(
        seeds.len() >= min_seeds,
        "{name}: only {} seeds in fuzz/corpus/{name}",
        seeds.len()
    );
    let inputs: Vec<(String, Vec<u8>)> = seeds
        .into_iter()
        .chain(regressions(name))
        .map(|(p, b)| (p.display().to_string(), b))
        .collect();
    run_all(name, &inputs);
}

fn mutants(name: &str, seed: u64, dict: &[&[u8]]) {
    let pool: Vec<Vec<u8>> = seeds(name)
        .into_iter()
        .chain(regressions(name))
        .map(|(_, b)| b)
        .filter(|b| b.len() <= MUTATE_UP_TO)
        .collect();
    assert!(!pool.is_empty(), "{name}: nothing to mutate");
    let mut rng = XorShift::new(seed);
    let inputs: Vec<(String, Vec<u8>)> = (0..MUTANTS)
        .map(|i| {
            let m = mutate(&mut rng, &pool, dict, 4 * MUTATE_UP_TO);
            (
                format!(
                    "mutant {i} of seed {seed:#x}: {:?}",
                    String::from_utf8_lossy(&m[..m.len().min(200)])
                ),
                m,
            )
        })
        .collect();
    run_all(name, &inputs);
}

const SQL_WORDS: &[&[u8]] = &[
    b"SELECT ",
    b" FROM ",
    b" WHERE ",
    b" JOIN ",
    b" ON TRUE",
    b" UNION ALL ",
    b"WITH c AS (",
    b" AS ",
    b"INSERT INTO ",
    b"CREATE TABLE ",
    b"CREATE VIEW v AS ",
    b"DROP TABLE ",
    b"SHOW TABLES",
    b"DESCRIBE ",
    b"EXPLAIN ",
    b"EXECUTE STATEMENT SET BEGIN ",
    b" END",
    b"TABLE(TUMBLE(TABLE ",
    b"DESCRIPTOR($rowtime)",
    b"INTERVAL '1' MINUTE",
    b"MATCH_RECOGNIZE (",
    b"CASE WHEN ",
    b" THEN ",
    b"ARRAY[",
    b"ROW(",
    b"CAST(",
    b"::INT",
    b"`",
    b"`env-dev`.",
    b"`lkc-dev`.",
    b"examples.marketplace.orders",
    b"/*",
    b"*/",
    b"/*+ OPTIONS('scan.startup.mode'='latest-offset') */",
    b"/*+ BROADCAST(t), STATE_TTL('t'='1d') */",
    b"--",
    b"'",
    b";",
    b"1+",
    b" OR ",
    b"(SELECT * FROM ",
    b"LATERAL ",
    b"FOR SYSTEM_TIME AS OF ",
    b"WITH ('k' = 'v')",
];
const JSON_WORDS: &[&[u8]] = &[
    b"\"name\":",
    b"\"spec\":",
    b"\"statement\":",
    b"\"properties\":",
    b"\"sql.current-catalog\":",
    b"\"metadata\":",
    b"\"labels\":",
    b"\"stopped\":",
    b"true",
    b"null",
    b"[",
    b"{",
    b"\"\\u0000\"",
    b"1e999",
    b"\"\\ud800\"",
    b",",
    b"}",
    b"]",
];
const AUTH_WORDS: &[&[u8]] = &[
    b"authorization: ",
    b"Bearer ",
    b"Basic ",
    b"confluent-identity-pool-id: ",
    b"eyJ",
    b".",
    b"\n",
    b"\"alg\":",
    b"\"kid\":",
    b"\"iss\":",
    b"\"groups\":",
    b"\"sub\":",
    b"{",
    b"}",
    b"\"ES256\"",
    b"\"none\"",
    b"pool-dev",
];
const AUDIT_WORDS: &[&[u8]] = &[
    fuzzing::AUDIT_FILE_SEPARATOR,
    fuzzing::CHECKPOINTS_SEPARATOR,
    b"\"sqlgateseq\":",
    b"\"sqlgatehash\":",
    b"\"sqlgateprevhash\":",
    b"\"sqlgatecontinues\":",
    b"\"kept_from\":",
    b"\n",
    b"{",
    b"}",
    b"0000000000000000000000000000000000000000000000000000000000000000",
];

#[test]
fn sql_pipeline_seeds_and_regressions() {
    seeds_and_regressions("sql_pipeline", 200);
}

/// The hostile shapes too large for the seed corpus (`fuzz/corpus` keeps inputs of at most
/// `MAX_SEED_BYTES`), built in memory.
#[test]
fn sql_pipeline_large_hostile_shapes() {
    let inputs: Vec<(String, Vec<u8>)> = fuzzing::seeds::hostile_sql()
        .into_iter()
        .filter(|(_, sql)| sql.len() > fuzzing::seeds::MAX_SEED_BYTES)
        .map(|(name, sql)| (format!("hostile shape {name}"), sql.into_bytes()))
        .collect();
    assert!(inputs.len() >= 10);
    run_all("sql_pipeline", &inputs);
}

#[test]
fn sql_pipeline_mutants() {
    mutants("sql_pipeline", 0x5eed_0001, SQL_WORDS);
}

#[test]
fn create_statement_request_seeds_and_regressions() {
    seeds_and_regressions("create_statement_request", 10);
}

#[test]
fn create_statement_request_mutants() {
    mutants("create_statement_request", 0x5eed_0002, JSON_WORDS);
}

#[test]
fn auth_headers_seeds_and_regressions() {
    seeds_and_regressions("auth_headers", 10);
}

#[test]
fn auth_headers_mutants() {
    mutants("auth_headers", 0x5eed_0003, AUTH_WORDS);
}

#[test]
fn audit_reader_seeds_and_regressions() {
    seeds_and_regressions("audit_reader", 8);
}

#[test]
fn audit_reader_mutants() {
    mutants("audit_reader", 0x5eed_0004, AUDIT_WORDS);
}

/// Regenerates `fuzz/corpus/<target>/seed-*` and the checkpoints' public key
/// (`fuzz/audit-checkpoint.jwks.json`): `cargo test --test fuzz_smoke -- --ignored
/// write_seed_corpus`. Needs `../shared/corpus/flink_sql_corpus.tsv` beside the clone.
#[test]
#[ignore = "writes the seed corpus into the source tree"]
fn write_seed_corpus() {
    // `shared/` beside the clone (or beside a directory of worktrees).
    let tsv_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .skip(1)
        .map(|d| d.join("shared/corpus/flink_sql_corpus.tsv"))
        .find(|p| p.is_file())
        .expect("shared/corpus/flink_sql_corpus.tsv beside the clone");
    let tsv = std::fs::read_to_string(&tsv_path).unwrap();
    let corpus = fuzz_dir().join("corpus");
    let scratch = tempfile::tempdir().unwrap();
    fuzzing::seeds::write(
        &corpus.join("sql_pipeline"),
        &fuzzing::seeds::sql_pipeline(Some(&tsv)),
    )
    .unwrap();
    fuzzing::seeds::write(
        &corpus.join("create_statement_request"),
        &fuzzing::seeds::create_statement_request(),
    )
    .unwrap();
    fuzzing::seeds::write(
        &corpus.join("auth_headers"),
        &fuzzing::seeds::auth_headers(&scratch.path().join("auth")),
    )
    .unwrap();
    let (audit, jwks) = fuzzing::seeds::audit_reader(&scratch.path().join("audit"));
    assert!(audit.len() >= 8, "the audit seeds were not written");
    assert!(jwks.contains("\"keys\""), "{jwks}");
    fuzzing::seeds::write(&corpus.join("audit_reader"), &audit).unwrap();
    std::fs::write(fuzz_dir().join("audit-checkpoint.jwks.json"), jwks).unwrap();
}
