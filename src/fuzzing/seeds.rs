//! The seed corpus of each fuzz target, generated: the Flink SQL corpus
//! (`shared/corpus/flink_sql_corpus.tsv`) and hostile shapes for `sql_pipeline`, request
//! bodies, headers and tokens, and real audit logs with signed checkpoints written by the
//! real file sink. `tests/fuzz_smoke.rs` (`write_seed_corpus`, ignored) writes them to
//! `fuzz/corpus/<target>/seed-*`; the files are committed.

mod refusals;

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::audit::{AUDIT_FILE_SEPARATOR, CHECKPOINTS_SEPARATOR};
use crate::audit::{
    AuditRecord, AuthnAttempt, AuthnFailure, AuthzOutcome, CheckpointConfig, FileSink,
    ObjectDecision, PrincipalInfo, Reason, RequestInfo, ResultStatus, RetentionConfig, SinkOptions,
    StatementEvent, StatementInfo, log_files, read_checkpoint_lines, redact_sql,
};

/// One seed file: its name (without the `seed-` prefix) and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// File name without the `seed-` prefix: letters, digits, `-` and `_`.
    pub name: String,
    /// The input.
    pub bytes: Vec<u8>,
}

impl Seed {
    fn new(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            bytes: bytes.into(),
        }
    }
}

// === sql_pipeline ===

/// The largest seed file: larger inputs slow every mutation of libFuzzer down, and the
/// larger [`hostile_sql`] shapes are run in full by `tests/fuzz_smoke.rs` instead.
pub const MAX_SEED_BYTES: usize = 64 * 1024;

/// Every statement of the corpus TSV (valid or not) and every [`hostile_sql`] shape of at
/// most [`MAX_SEED_BYTES`].
pub fn sql_pipeline(corpus_tsv: Option<&str>) -> Vec<Seed> {
    let mut seeds = Vec::new();
    if let Some(tsv) = corpus_tsv {
        for o in crate::sql::corpus::measure(tsv).outcomes {
            seeds.push(Seed::new(format!("corpus-{}", o.id), o.sql));
        }
    }
    for (name, sql) in hostile_sql() {
        if sql.len() <= MAX_SEED_BYTES {
            seeds.push(Seed::new(format!("hostile-{name}"), sql));
        }
    }
    seeds
}

/// Issue 10's reproducers that aborted the process (stack overflow) or froze it (exponential
/// parse), and their relatives: every caller, with roles or without, must get a 400 whose
/// detail names a limit or the parse error, by name. One list for the fuzz seeds
/// ([`hostile_sql`]) and `tests/hostile_sql.rs`.
pub fn refused_bombs() -> Vec<(&'static str, String)> {
    let nested = |open: &str, n: usize, inner: &str, close: &str| {
        format!("{}{inner}{}", open.repeat(n), close.repeat(n))
    };
    vec![
        ("plus-chain-1750", format!("SELECT {}1", "1+".repeat(1750))),
        (
            "or-chain-5000",
            format!("SELECT * FROM t WHERE {}a", "a OR ".repeat(5000)),
        ),
        (
            "concat-chain-5000",
            format!("SELECT {}'x'", "'x' || ".repeat(5000)),
        ),
        (
            "cast-chain-2000",
            format!("SELECT 1{}", "::INT".repeat(2000)),
        ),
        ("array-nest-62", format!("SELECT {}1", "ARRAY[".repeat(62))),
        ("cast-nest-62", format!("SELECT {}1", "CAST(".repeat(62))),
        (
            "position-nest-40",
            format!("SELECT {}1", "POSITION(".repeat(40)),
        ),
        (
            "parens-2000",
            format!("SELECT {}", nested("(", 2000, "1", ")")),
        ),
        (
            "identifier-5000",
            format!("SELECT * FROM `{}`", "x".repeat(5000)),
        ),
        (
            "columns-100000",
            format!("SELECT {}1 FROM t", "c, ".repeat(100_000)),
        ),
    ]
}

/// Statements built to crash, stall or overload the SQL stages ([`refused_bombs`] and their
/// relatives), and the largest statements the default limits accept, by name.
pub fn hostile_sql() -> Vec<(&'static str, String)> {
    const OPTIONS: &str = "/*+ OPTIONS('scan.startup.mode'='earliest-offset') */";
    let list = |n: usize, item: &dyn Fn(usize) -> String, sep: &str| {
        (0..n).map(item).collect::<Vec<_>>().join(sep)
    };
    let nested = |open: &str, n: usize, inner: &str, close: &str| {
        format!("{}{inner}{}", open.repeat(n), close.repeat(n))
    };
    let mut all = refused_bombs();
    all.extend(vec![]);
    all.extend(refusals::refused_by_name());
    all.extend(vec![
        // issue 10's reproducer that became a statement within the bounds
        (
            "union-500",
            format!("SELECT 1 {}", "UNION ALL SELECT 1 ".repeat(500)),
        ),
        // at the limits, accepted
        ("plus-chain-990", format!("SELECT {}1", "1+".repeat(990))),
        (
            "union-990",
            format!("SELECT 1 AS x {}", "UNION ALL SELECT 1 ".repeat(990)),
        ),
        (
            "or-compare-990",
            format!(
                "SELECT COUNT(*) FROM examples.marketplace.orders WHERE {}FALSE",
                "price < 0 OR ".repeat(990)
            ),
        ),
        (
            "wide-2000",
            format!("SELECT {}1 AS last", "1, ".repeat(2000)),
        ),
        ("parens-64", format!("SELECT {}", nested("(", 64, "1", ")"))),
        ("parens-65", format!("SELECT {}", nested("(", 65, "1", ")"))),
        (
            "identifier-1024",
            format!("SELECT * FROM `{}`", "t".repeat(1024)),
        ),
        (
            "identifier-1025",
            format!("SELECT * FROM `{}`", "t".repeat(1025)),
        ),
        // beyond the reproducers
        (
            "subquery-nest-63",
            format!(
                "SELECT * FROM {}orders{}",
                "(SELECT * FROM ".repeat(31),
                ") AS q".repeat(31)
            ),
        ),
        (
            "in-subquery-nest-40",
            format!(
                "SELECT * FROM t WHERE a IN {}SELECT a FROM u{}",
                "(SELECT a FROM u WHERE a IN ".repeat(30),
                ")".repeat(30)
            ),
        ),
        (
            "case-whens-5000",
            format!(
                "SELECT CASE {} ELSE 0 END FROM t",
                list(5000, &|i| format!("WHEN a = {i} THEN {i}"), " ")
            ),
        ),
        (
            "case-nest-70",
            format!(
                "SELECT {}0{} FROM t",
                "CASE WHEN a THEN ".repeat(70),
                " END".repeat(70)
            ),
        ),
        (
            "in-list-30000",
            format!(
                "SELECT * FROM t WHERE a IN ({})",
                list(30_000, &|i| i.to_string(), ", ")
            ),
        ),
        (
            "array-wide-30000",
            format!("SELECT ARRAY[{}]", list(30_000, &|i| i.to_string(), ", ")),
        ),
        (
            "row-wide-20000",
            format!("SELECT ROW({})", list(20_000, &|i| i.to_string(), ", ")),
        ),
        (
            "not-chain-3000",
            format!("SELECT {}TRUE", "NOT ".repeat(3000)),
        ),
        ("minus-chain-3000", format!("SELECT {}1", "- ".repeat(3000))),
        (
            "nested-comments-20000",
            format!("{}{} SELECT 1", "/* ".repeat(20_000), "*/ ".repeat(20_000)),
        ),
        (
            "array-type-nest-500",
            format!(
                "CREATE TABLE t (a {}INT{})",
                "ARRAY<".repeat(500),
                ">".repeat(500)
            ),
        ),
        (
            "row-type-nest-300",
            format!(
                "SELECT CAST(a AS {}INT{}) FROM t",
                "ROW<f ".repeat(300),
                ">".repeat(300)
            ),
        ),
        (
            "cte-chain-3000",
            format!(
                "WITH c0 AS (SELECT * FROM orders), {} SELECT * FROM c2999",
                list(
                    2999,
                    &|i| format!("c{} AS (SELECT * FROM c{i})", i + 1),
                    ", "
                )
            ),
        ),
        (
            "join-chain-3000",
            format!(
                "SELECT * FROM t0 {}",
                list(3000, &|i| format!("JOIN t{} ON TRUE", i + 1), " ")
            ),
        ),
        (
            "statement-set-2000",
            format!(
                "EXECUTE STATEMENT SET BEGIN {} END",
                list(
                    2000,
                    &|i| format!("INSERT INTO s{i} SELECT * FROM orders;"),
                    " "
                )
            ),
        ),
        (
            "create-table-5000-columns",
            format!(
                "CREATE TABLE t ({})",
                list(5000, &|i| format!("c{i} STRING"), ", ")
            ),
        ),
        // the shapes above in sizes for the seed corpus
        (
            "case-whens-300",
            format!(
                "SELECT CASE {} ELSE 0 END FROM t",
                list(300, &|i| format!("WHEN a = {i} THEN {i}"), " ")
            ),
        ),
        (
            "in-list-2000",
            format!(
                "SELECT * FROM t WHERE a IN ({})",
                list(2000, &|i| i.to_string(), ", ")
            ),
        ),
        (
            "row-wide-1000",
            format!("SELECT ROW({})", list(1000, &|i| i.to_string(), ", ")),
        ),
        (
            "nested-comments-500",
            format!("{}{} SELECT 1", "/* ".repeat(500), "*/ ".repeat(500)),
        ),
        (
            "cte-chain-300",
            format!(
                "WITH c0 AS (SELECT * FROM orders), {} SELECT * FROM c299",
                list(
                    299,
                    &|i| format!("c{} AS (SELECT * FROM c{i})", i + 1),
                    ", "
                )
            ),
        ),
        (
            "statement-set-300",
            format!(
                "EXECUTE STATEMENT SET BEGIN {} END",
                list(
                    300,
                    &|i| format!("INSERT INTO s{i} SELECT * FROM orders;"),
                    " "
                )
            ),
        ),
        (
            "within-300",
            format!(
                "SELECT * FROM {}",
                list(
                    300,
                    &|i| format!(
                        "t{i} MATCH_RECOGNIZE (ORDER BY ts MEASURES A.x AS x PATTERN (A) \
                     WITHIN INTERVAL '1' HOUR DEFINE A AS TRUE) AS m{i}"
                    ),
                    ", "
                )
            ),
        ),
        (
            "create-table-300-columns",
            format!(
                "CREATE TABLE t ({})",
                list(300, &|i| format!("c{i} STRING"), ", ")
            ),
        ),
        (
            "tables-2000",
            format!("SELECT * FROM {}", list(2000, &|i| format!("t{i}"), ", ")),
        ),
        (
            "multiple-statements",
            "SELECT 1; DROP TABLE orders".to_string(),
        ),
        (
            "string-literal-1mib",
            format!("SELECT '{}'", "x".repeat(1024 * 1024 - 9)),
        ),
        (
            "too-large-1mib-plus-1",
            format!("SELECT '{}'", "x".repeat(1024 * 1024 - 8)),
        ),
        // the largest statements the default limits accept, by shape
        (
            "largest-wide-49990",
            format!("SELECT {}1", "1, ".repeat(49_990)),
        ),
        (
            "largest-chains-50x990",
            format!(
                "SELECT {}",
                list(50, &|_| format!("{}1", "1+".repeat(990)), ", ")
            ),
        ),
        (
            "largest-identifiers-1000x1024",
            format!(
                "SELECT {} FROM t",
                list(1000, &|i| format!("`{:x<1024}`", i), ", ")
            ),
        ),
        (
            "largest-union-990x48",
            format!(
                "SELECT {}1 {}",
                "1, ".repeat(48),
                format!("UNION ALL SELECT {}1 ", "1, ".repeat(48)).repeat(990)
            ),
        ),
        (
            "largest-tables-33000",
            format!("SELECT * FROM {}", list(33_000, &|i| format!("t{i}"), ", ")),
        ),
        (
            "largest-within-3000",
            format!(
                "SELECT * FROM {}",
                list(
                    3000,
                    &|i| format!(
                        "t{i} MATCH_RECOGNIZE (ORDER BY ts MEASURES A.x AS x PATTERN (A) \
                     WITHIN INTERVAL '1' HOUR DEFINE A AS TRUE) AS m{i}"
                    ),
                    ", "
                )
            ),
        ),
        (
            "largest-statement-set-12000",
            format!(
                "EXECUTE STATEMENT SET BEGIN {} END",
                list(
                    12_000,
                    &|i| format!("INSERT INTO s{i} SELECT * FROM o;"),
                    " "
                )
            ),
        ),
        (
            // Hints: one per table and a join hint naming every table (placed by location,
            // checked against a set: linear in the statement). A comma list, since every JOIN
            // adds a level of depth.
            "largest-hinted-join-4000",
            format!(
                "SELECT /*+ BROADCAST({}) */ * FROM {}",
                list(4000, &|i| format!("t{i}"), ", "),
                list(4000, &|i| format!("t{i} {OPTIONS}"), ", "),
            ),
        ),
        (
            "largest-cte-chain-9000",
            format!(
                "WITH c0 AS (SELECT * FROM orders), {} SELECT * FROM c8999",
                list(
                    8999,
                    &|i| format!("c{} AS (SELECT * FROM c{i})", i + 1),
                    ", "
                )
            ),
        ),
    ]);
    all
}

// === create_statement_request ===

/// Create and patch bodies, valid and not.
pub fn create_statement_request() -> Vec<Seed> {
    let bodies = [
        (
            "create-minimal",
            json!({"name": "q1", "spec": {"statement": "SELECT 1"}}),
        ),
        (
            "create-full",
            json!({"name": "my-statement-1", "organization_id": "org-dev", "environment_id": "env-dev",
                "spec": {"statement": "SELECT * FROM orders", "compute_pool_id": "lfcp-dev", "stopped": false,
                    "properties": {"sql.current-catalog": "dev", "sql.current-database": "main",
                        "sql.snapshot.mode": "now", "sql.dry-run": true, "sql.tables.scan.idle-timeout": 5}},
                "metadata": {"labels": {"user.confluent.io/team": "true"}}}),
        ),
        (
            "create-bad-property",
            json!({"name": "q2", "spec": {"statement": "SELECT 1", "properties": {"a": [1], "b": null, "c": {"d": 1}}}}),
        ),
        (
            "create-bad-name",
            json!({"name": "Not A Name!", "spec": {"statement": "SELECT 1"}}),
        ),
        (
            "create-stopped",
            json!({"name": "q3", "spec": {"statement": "SELECT 1", "stopped": true}}),
        ),
        (
            "create-other-org",
            json!({"name": "q4", "organization_id": "org-x", "spec": {"statement": "SELECT 1"}}),
        ),
        ("create-no-spec", json!({"name": "q5"})),
        (
            "create-unicode",
            json!({"name": "q6", "spec": {"statement": "SELECT '\u{2028}\u{0000}é' FROM `t\u{1F600}`",
                "properties": {"\u{0000}": "\u{FFFF}"}}}),
        ),
        (
            "patch-stop",
            json!([{"op": "replace", "path": "/spec/stopped", "value": true}]),
        ),
        (
            "patch-other",
            json!([{"op": "add", "path": "/spec/statement", "value": "x"}]),
        ),
    ];
    let mut seeds: Vec<Seed> = bodies
        .into_iter()
        .map(|(n, v)| Seed::new(n, v.to_string()))
        .collect();
    seeds.push(Seed::new(
        "create-duplicate-members",
        r#"{"name":"a","name":"b","spec":{"statement":"SELECT 1"}}"#,
    ));
    seeds.push(Seed::new("create-big-number", r#"{"name":"q","spec":{"statement":"x","properties":{"n":1e999,"m":-0.0,"k":18446744073709551616}}}"#));
    seeds.push(Seed::new(
        "deep-nesting",
        format!("{}{}", "[".repeat(200), "]".repeat(200)),
    ));
    seeds.push(Seed::new("empty", ""));
    seeds.push(Seed::new(
        "truncated",
        r#"{"name":"q","spec":{"statement":"SELE"#,
    ));
    seeds
}

// === auth_headers ===

/// Header texts with real dev-issuer tokens (signed with a key made for the occasion in
/// `scratch`), Basic credentials and malformed ones, and JSON objects given as a token's
/// header or claims.
pub fn auth_headers(scratch: &Path) -> Vec<Seed> {
    let dev = crate::auth::DevIssuerConfig::default();
    let mut seeds = Vec::new();
    if crate::auth::ensure_dev_issuer(&dev, scratch).is_ok() {
        let hour = Duration::from_secs(3600);
        let token = |sub: &str, groups: &[&str]| {
            let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
            crate::auth::mint_token(&dev, scratch, sub, &groups, hour).unwrap_or_default()
        };
        let t = token("alice", &["developers"]);
        seeds.push(Seed::new(
            "bearer-pool",
            format!("authorization: Bearer {t}\nconfluent-identity-pool-id: pool-dev\n"),
        ));
        seeds.push(Seed::new(
            "bearer-no-pool",
            format!("Authorization: Bearer {}\n", token("bob", &[])),
        ));
        seeds.push(Seed::new(
            "bearer-two-headers",
            format!("authorization: Bearer {t}\nauthorization: Bearer {t}\n"),
        ));
        seeds.push(Seed::new(
            "bearer-lowercase-scheme",
            format!("authorization: bearer   {t}\n"),
        ));
    }
    let b64 = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    seeds.push(Seed::new(
        "basic",
        format!("authorization: Basic {}\n", b64("ABCDEFGHIJKLMNOP:secret")),
    ));
    seeds.push(Seed::new(
        "basic-with-pool",
        format!(
            "authorization: Basic {}\nconfluent-identity-pool-id: pool-dev\n",
            b64("k:s")
        ),
    ));
    seeds.push(Seed::new(
        "basic-no-colon",
        format!("authorization: Basic {}\n", b64("nocolon")),
    ));
    seeds.push(Seed::new("basic-not-base64", "authorization: Basic !!!\n"));
    seeds.push(Seed::new("unknown-scheme", "authorization: Digest abc\n"));
    seeds.push(Seed::new(
        "empty-pool",
        "authorization: Bearer a.b.c\nconfluent-identity-pool-id: \n",
    ));
    seeds.push(Seed::new(
        "obs-text",
        b"authorization: Bearer \xff\xfe.a.b\n".to_vec(),
    ));
    for (name, object) in [
        (
            "header-es256",
            json!({"alg": "ES256", "kid": "k1", "typ": "JWT"}),
        ),
        ("header-none", json!({"alg": "none"})),
        ("header-hs256", json!({"alg": "HS256", "kid": "k"})),
        ("header-crit", json!({"alg": "EdDSA", "crit": ["exp"]})),
        ("header-kid-number", json!({"alg": "RS256", "kid": 7})),
        (
            "claims-full",
            json!({"iss": "https://sqlgate.dev", "aud": "sqlgate", "sub": "alice", "exp": 4_102_444_800u64,
                "groups": ["developers", "admins"], "realm_access": {"roles": ["admins"]}}),
        ),
        (
            "claims-groups-string",
            json!({"iss": "https://sqlgate.dev", "sub": 42, "groups": "developers admins"}),
        ),
        ("claims-iss-number", json!({"iss": 1, "sub": ""})),
    ] {
        seeds.push(Seed::new(name, object.to_string()));
    }
    seeds.push(Seed::new(
        "claims-duplicate",
        r#"{"iss":"https://sqlgate.dev","groups":["x"],"groups":["admins"]}"#,
    ));
    seeds.push(Seed::new(
        "claims-nested-duplicate",
        r#"{"realm_access":{"roles":[],"roles":["admins"]},"sub":"a"}"#,
    ));
    seeds.push(Seed::new(
        "claims-escaped-duplicate",
        r#"{"s\u0075b":"a","sub":"b"}"#,
    ));
    seeds.push(Seed::new(
        "claims-deep",
        format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200)),
    ));
    seeds.push(Seed::new(
        "claims-control-chars",
        "{\"iss\":\"\\u001b[31mhttps://evil\\n\",\"sub\":\"x\"}",
    ));
    seeds
}

// === audit_reader ===

/// Real logs written by [`FileSink`] with signed checkpoints: one file, rotated files, a
/// retention cut, and tampered copies (a record edited, the tail cut, a checkpoint edited).
/// All are signed with one key made for the occasion in `scratch`; returns the seeds and the
/// public JWKS to check them with (`fuzz/audit-checkpoint.jwks.json`). The private key stays
/// in `scratch`, which the caller deletes.
pub fn audit_reader(scratch: &Path) -> (Vec<Seed>, String) {
    let keys = scratch.join("keys");
    let config = |name: &str| CheckpointConfig {
        enabled: true,
        file: scratch.join(name).join("checkpoints.log"),
        key_file: keys.join("audit-checkpoint.key"),
        public_key_file: keys.join("audit-checkpoint.jwks.json"),
        generate_key: true,
        interval: Duration::from_secs(3600),
        every_records: 4,
    };
    let mut seeds = Vec::new();
    let logs: [(&str, u64, usize, Option<RetentionConfig>); 3] = [
        ("one-file", 1 << 20, 14, None),
        ("rotated", 4096, 14, None),
        (
            "retention-cut",
            2048,
            30,
            Some(RetentionConfig {
                max_total_bytes: 6 * 1024,
                max_age: Duration::ZERO,
            }),
        ),
    ];
    for (name, max_file_bytes, n, retention) in logs {
        let cfg = config(name);
        let base = scratch.join(name).join("audit.log");
        let written = super::runtime().block_on(async {
            let options = SinkOptions {
                checkpoint: Some(cfg.clone()),
                retention,
            };
            let sink = FileSink::open_with(&base, max_file_bytes, &options).ok()?;
            let kinds = record_kinds();
            for i in 0..n {
                sink.append(kinds[i % kinds.len()].clone()).await.ok()?;
            }
            sink.checkpoint(Reason::Shutdown).await.ok()?;
            Some(())
        });
        if written.is_none() {
            continue;
        }
        let files: Vec<Vec<u8>> = log_files(&base)
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .collect();
        let checkpoints: Vec<String> = read_checkpoint_lines(&cfg.file)
            .unwrap_or_default()
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        let input = |files: &[Vec<u8>], checkpoints: &[String]| {
            let mut out = files.join(AUDIT_FILE_SEPARATOR);
            out.extend_from_slice(CHECKPOINTS_SEPARATOR);
            for c in checkpoints {
                out.extend_from_slice(c.as_bytes());
                out.push(b'\n');
            }
            out
        };
        seeds.push(Seed::new(name, input(&files, &checkpoints)));
        if name == "one-file" {
            let text = String::from_utf8_lossy(&files[0]).into_owned();
            let lines: Vec<&str> = text.lines().collect();
            let joined = |ls: &[&str]| ls.iter().map(|l| format!("{l}\n")).collect::<String>();
            let cut = joined(&lines[..lines.len() - 2]).into_bytes();
            seeds.push(Seed::new("cut-tail", input(&[cut], &checkpoints)));
            let edited = text.replacen("User:alice", "User:mallory", 1).into_bytes();
            seeds.push(Seed::new("edited-record", input(&[edited], &checkpoints)));
            let mut forged = checkpoints.clone();
            if let Some(last) = forged.last_mut() {
                *last = last.replacen("\"seq\":", "\"seq\":1", 1);
            }
            seeds.push(Seed::new("forged-checkpoint", input(&files, &forged)));
            seeds.push(Seed::new("no-checkpoints", files[0].clone()));
            seeds.push(Seed::new(
                "torn-last-line",
                files[0][..files[0].len() - 7].to_vec(),
            ));
        }
    }
    seeds.push(Seed::new("empty", ""));
    seeds.push(Seed::new("not-json", "hello\n"));
    seeds.push(Seed::new(
        "huge-seq",
        "{\"sqlgatehash\":\"x\",\"sqlgateprevhash\":\"0\",\"sqlgateseq\":18446744073709551615}\n",
    ));
    let jwks = std::fs::read_to_string(keys.join("audit-checkpoint.jwks.json")).unwrap_or_default();
    (seeds, jwks)
}

/// One record of each kind the gateway writes.
fn record_kinds() -> Vec<AuditRecord> {
    let req = RequestInfo::new("req-1", "10.1.2.3".parse().ok());
    let alice = PrincipalInfo {
        principal: "User:alice".into(),
        mechanism: "JWT".into(),
        identifier: Some("alice".into()),
        identity: None,
    };
    let mut stmt = StatementInfo::new("org-dev", "env-dev", "aws.us-east-2", "s1");
    stmt.compute_pool = Some("lfcp-dev".into());
    stmt.sql_kind = Some("SELECT".into());
    let sql = "SELECT * FROM orders WHERE id = 42";
    let parsed = crate::sql::parse(sql, &crate::sql::ParseLimits::default()).ok();
    stmt.sql = Some(redact_sql(sql, parsed.as_ref(), true));
    let object = |granted: bool| {
        ObjectDecision {
        object: "table `env-dev`.`lkc-dev`.`orders`".into(),
        crn: "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=orders".into(),
        action: "read".into(),
        granted,
        role: granted.then(|| "DeveloperRead".into()),
        binding: granted.then(|| "crn://confluent.cloud/organization=org-dev/environment=env-dev".into()),
        missing_role: (!granted).then(|| "DeveloperRead".into()),
    }
    };
    let outcome = |granted: bool| AuthzOutcome {
        granted,
        status: if granted {
            ResultStatus::Success
        } else {
            ResultStatus::PermissionDenied
        },
        run: None,
        objects: vec![object(granted)],
        policy_version: "1".into(),
        code: if granted {
            "authz.granted"
        } else {
            "authz.denied"
        }
        .into(),
        message: String::new(),
    };
    let failure = AuthnFailure {
        mechanism: "JWT".into(),
        status: ResultStatus::Unauthenticated,
        code: "auth.bad_signature".into(),
        message: "bad token signature".into(),
        attempt: Some(AuthnAttempt {
            issuer: Some("https://evil.example".into()),
            kid: Some("k1".into()),
            ..AuthnAttempt::default()
        }),
    };
    vec![
        AuditRecord::authenticated(&req, &alice, "org-dev", "env-dev", "aws.us-east-2"),
        AuditRecord::authentication_failed(&req, &failure, "org-dev", "env-dev", "aws.us-east-2"),
        AuditRecord::authorization(&req, &alice, &stmt, &outcome(true)),
        AuditRecord::authorization(&req, &alice, &stmt, &outcome(false)),
        AuditRecord::statement(Some(&req), &alice, &stmt, StatementEvent::Completed, "done"),
        AuditRecord::chain_recovered("recovered".into()),
    ]
}

/// Replaces the `seed-*` files of `dir` by `seeds` (other files, such as inputs libFuzzer
/// added, are left alone).
pub fn write(dir: &Path, seeds: &[Seed]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
        {
            std::fs::remove_file(path)?;
        }
    }
    for s in seeds {
        std::fs::write(dir.join(format!("seed-{}", s.name)), &s.bytes)?;
    }
    Ok(())
}
