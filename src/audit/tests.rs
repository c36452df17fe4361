use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::Value;

use super::schema_check::validate;
use super::*;

// === fixtures ===

fn req() -> RequestInfo {
    RequestInfo::new("req-1", Some("10.1.2.3".parse().unwrap()))
}

fn alice() -> PrincipalInfo {
    PrincipalInfo {
        principal: "User:alice".into(),
        mechanism: "JWT".into(),
        identifier: Some("alice".into()),
        identity: None,
    }
}

fn stmt(name: &str) -> StatementInfo {
    let mut s = StatementInfo::new("org-dev", "env-dev", "aws.us-east-2", name);
    s.compute_pool = Some("lfcp-dev".into());
    s.sql_kind = Some("SELECT".into());
    let sql = "SELECT * FROM orders WHERE id = 42";
    let parsed = crate::sql::parse(sql, &crate::sql::ParseLimits::default()).ok();
    s.sql = Some(redact_sql(sql, parsed.as_ref(), true));
    s
}

fn object(table: &str, action: &str, granted: bool) -> ObjectDecision {
    ObjectDecision {
        object: format!("table `env-dev`.`lkc-dev`.`{table}`"),
        crn: format!(
            "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic={table}"
        ),
        action: action.into(),
        granted,
        role: granted.then(|| "DeveloperRead".into()),
        binding: granted.then(|| {
            "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=ord*".into()
        }),
        missing_role: (!granted).then(|| "DeveloperRead".into()),
    }
}

fn allowed(table: &str) -> AuthzOutcome {
    AuthzOutcome {
        granted: true,
        status: ResultStatus::Success,
        run: None,
        objects: vec![object(table, "read", true)],
        policy_version: "7".into(),
        code: "authz.granted".into(),
        message: String::new(),
    }
}

fn denied(table: &str) -> AuthzOutcome {
    AuthzOutcome {
        granted: false,
        status: ResultStatus::PermissionDenied,
        run: None,
        objects: vec![object(table, "read", false)],
        policy_version: "7".into(),
        code: "authz.denied".into(),
        message: format!("User:alice may not read {table}"),
    }
}

/// One record of every kind the builders make.
fn every_kind() -> Vec<AuditRecord> {
    let failure = AuthnFailure {
        mechanism: "IDENTITY_POOL".into(),
        status: ResultStatus::Unauthenticated,
        code: "auth.token_expired".into(),
        message: "token expired".into(),
        attempt: Some(AuthnAttempt {
            verified: true,
            issuer: Some("https://sqlgate.dev".into()),
            identity: Some("alice".into()),
            identity_pool: Some("pool-admin".into()),
            ..AuthnAttempt::default()
        }),
    };
    let unverified = AuthnFailure {
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
    let aggregator = FailureAggregator::new(1);
    for ip in ["10.1.2.3", "10.1.2.3", "10.9.9.9", "10.9.9.8"] {
        aggregator.note(
            &RequestInfo::new("r", Some(ip.parse().unwrap())),
            &unverified,
            "org-dev",
            "env-dev",
            "aws.us-east-2",
        );
    }
    let summaries = aggregator.drain();
    assert_eq!(summaries.len(), 2, "{summaries:?}");
    let mut v = vec![
        AuditRecord::authenticated(&req(), &alice(), "org-dev", "env-dev", "aws.us-east-2"),
        AuditRecord::authentication_failed(&req(), &failure, "org-dev", "env-dev", "aws.us-east-2"),
        AuditRecord::authorization(&req(), &alice(), &stmt("s1"), &allowed("orders")),
        AuditRecord::authorization(&req(), &alice(), &stmt("s2"), &denied("payments")),
        AuditRecord::chain_recovered("test".into()),
    ];
    for event in [
        StatementEvent::Created,
        StatementEvent::Running,
        StatementEvent::Completed,
        StatementEvent::Failed,
        StatementEvent::Stopped,
        StatementEvent::Deleted,
    ] {
        v.push(AuditRecord::statement(
            Some(&req()),
            &alice(),
            &stmt("s1"),
            event,
            "detail",
        ));
    }
    v.push(AuditRecord::authentication_failed(
        &req(),
        &unverified,
        "org-dev",
        "env-dev",
        "aws.us-east-2",
    ));
    v.extend(summaries.iter().map(AuditRecord::authentication_failures));
    v
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Writes `n` records (cycling through every kind) to a fresh log rotated at `max` bytes.
async fn write_log(dir: &Path, n: usize, max: u64) -> FileSink {
    let sink = FileSink::open(&dir.join("audit.log"), max).unwrap();
    let kinds = every_kind();
    for i in 0..n {
        sink.append(kinds[i % kinds.len()].clone()).await.unwrap();
    }
    sink
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut s = lines.join("\n");
    if !lines.is_empty() {
        s.push('\n');
    }
    fs::write(path, s).unwrap();
}

#[track_caller]
fn broken(dir: &Path) -> (PathBuf, u64, Option<u64>, Problem) {
    match verify(&log_files(dir)) {
        Err(VerifyError::Broken {
            file,
            line,
            seq,
            problem,
        }) => (file, line, seq, problem),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

/// A rotated log of 60 records, made once; tamper tests copy it.
fn pristine() -> &'static Vec<(String, Vec<u8>)> {
    static LOG: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    LOG.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        block_on(async { drop(write_log(dir.path(), 60, 6000).await) });
        log_files(dir.path())
            .iter()
            .map(|p| (verify::file_name(p), fs::read(p).unwrap()))
            .collect()
    })
}

fn copy_pristine() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in pristine() {
        fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

// === records and schema ===

#[tokio::test]
async fn every_record_kind_validates_against_the_schema() {
    let schema: Value = serde_json::from_str(RECORD_SCHEMA).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = write_log(dir.path(), every_kind().len(), 1 << 20).await;
    assert_eq!(sink.stats().records, every_kind().len() as u64);
    for line in lines(&dir.path().join("audit.log")) {
        let value: Value = serde_json::from_str(&line).unwrap();
        let errors = validate(&schema, &value);
        assert!(errors.is_empty(), "{errors:#?}\n{line}");
    }
}

#[tokio::test]
async fn every_record_kind_validates_with_the_jsonschema_crate() {
    let schema: Value = serde_json::from_str(RECORD_SCHEMA).unwrap();
    assert!(
        jsonschema::meta::is_valid(&schema),
        "the schema itself is not valid 2020-12"
    );
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let dir = tempfile::tempdir().unwrap();
    drop(write_log(dir.path(), every_kind().len(), 1 << 20).await);
    for line in lines(&dir.path().join("audit.log")) {
        let value: Value = serde_json::from_str(&line).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:#?}\n{line}");
        let mut bad = value.clone();
        bad["sqlgatehash"] = "not-a-hash".into();
        assert!(!validator.is_valid(&bad));
        bad = value;
        bad["data"]
            .as_object_mut()
            .unwrap()
            .remove("authenticationInfo");
        assert!(!validator.is_valid(&bad));
    }
}

#[test]
fn schema_check_rejects_a_record_missing_fields_or_with_wrong_types() {
    let schema: Value = serde_json::from_str(RECORD_SCHEMA).unwrap();
    // Unchained (no sqlgate* attributes) and with a bad status: both must be reported.
    let mut value = serde_json::to_value(every_kind().remove(0)).unwrap();
    value["data"]["result"]["status"] = "MAYBE".into();
    value["data"]["authenticationInfo"]
        .as_object_mut()
        .unwrap()
        .remove("principal");
    let errors = validate(&schema, &value).join("\n");
    assert!(errors.contains("missing required `sqlgateseq`"), "{errors}");
    assert!(errors.contains("$.data.result.status"), "{errors}");
    assert!(errors.contains("missing required `principal`"), "{errors}");
}

#[test]
fn authorization_record_carries_the_binding_and_our_additions() {
    let r = AuditRecord::authorization(&req(), &alice(), &stmt("s1"), &allowed("orders"));
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["type"], "io.confluent.flink.server/authorization");
    assert_eq!(
        v["subject"],
        "crn://confluent.cloud/organization=org-dev/environment=env-dev/flink-region=aws.us-east-2/statement=s1"
    );
    let d = &v["data"];
    assert_eq!(d["methodName"], "mds.Authorize");
    assert_eq!(d["requestMetadata"]["requestId"][0], "req-1");
    assert_eq!(d["requestMetadata"]["clientAddress"][0]["ip"], "10.1.2.3");
    let a = &d["authorizationInfo"];
    assert_eq!(a["granted"], true);
    assert_eq!(a["operation"], "Read");
    assert_eq!(a["resourceType"], "Topic");
    assert_eq!(a["resourceName"], "orders");
    assert_eq!(a["patternType"], "PREFIXED");
    assert_eq!(a["rbacAuthorization"]["role"], "DeveloperRead");
    assert_eq!(
        a["rbacAuthorization"]["scope"]["outerScope"],
        serde_json::json!(["organization=org-dev", "environment=env-dev"])
    );
    assert_eq!(
        a["rbacAuthorization"]["scope"]["clusters"]["kafka-cluster"],
        "lkc-dev"
    );
    let s = &d["sqlgate"];
    assert_eq!(s["statement"], "s1");
    assert_eq!(s["region"], "aws.us-east-2");
    assert_eq!(s["policyVersion"], "7");
    assert_eq!(s["objects"][0]["action"], "read");
    assert_eq!(s["sql"], "SELECT * FROM orders WHERE id = ?");
    assert_eq!(s["sqlRedaction"], "literals");

    let r = AuditRecord::authorization(&req(), &alice(), &stmt("s2"), &denied("payments"));
    let a = serde_json::to_value(&r).unwrap()["data"]["authorizationInfo"].clone();
    assert_eq!(a["granted"], false);
    assert_eq!(a["missingRole"], "DeveloperRead");
    assert!(a.get("rbacAuthorization").is_none());
}

// === redaction ===

#[test]
fn recorded_sql_is_the_parsed_statements_literal_free_text() {
    let sql = "SELECT * FROM t /* pw: hunter2 */ WHERE card = '4111-1111' AND flag = TRUE";
    let parsed = crate::sql::parse(sql, &crate::sql::ParseLimits::default()).unwrap();
    let r = redact_sql(sql, Some(&parsed), true);
    assert_eq!(
        (r.text.as_deref(), r.redaction),
        (
            Some("SELECT * FROM t WHERE card = ? AND flag = TRUE"),
            "literals"
        )
    );
}

#[test]
fn unparsable_sql_is_omitted_and_redaction_off_keeps_it() {
    let r = redact_sql("SELEKT 'secret' FROM", None, true);
    assert_eq!((r.text, r.redaction), (None, "omitted"));
    let r = redact_sql("SELECT 'x'", None, false);
    assert_eq!(
        (r.text.as_deref(), r.redaction),
        (Some("SELECT 'x'"), "none")
    );
}

// === chain, rotation, verify ===

#[tokio::test]
async fn chain_verifies_after_many_appends_with_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let sink = write_log(dir.path(), 200, 4000).await;
    let files = log_files(dir.path());
    assert!(files.len() > 5, "expected rotation, got {files:?}");
    assert_eq!(files.last().unwrap().file_name().unwrap(), "audit.log");
    assert!(files[0].to_string_lossy().ends_with("audit.log.000001"));
    let report = verify(&files).unwrap();
    assert_eq!(report.records, 200);
    assert_eq!(report.last_seq, 200);
    assert_eq!(sink.stats().last_seq, 200);
    for f in &files {
        assert!(fs::metadata(f).unwrap().len() <= 4000, "{f:?} too big");
    }
    // The first record of each later file names the file it continues.
    for pair in files.windows(2) {
        let first: Value = serde_json::from_str(&lines(&pair[1])[0]).unwrap();
        assert_eq!(first["sqlgatecontinues"], verify::file_name(&pair[0]));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn flipping_any_byte_of_any_file_is_detected_at_its_line(
        file_pick in any::<prop::sample::Index>(),
        pos_pick in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let dir = copy_pristine();
        let (name, bytes) = &pristine()[file_pick.index(pristine().len())];
        let pos = pos_pick.index(bytes.len());
        let mut tampered = bytes.clone();
        tampered[pos] ^= mask;
        fs::write(dir.path().join(name), &tampered).unwrap();
        let want_line = 1 + bytes[..pos].iter().filter(|b| **b == b'\n').count() as u64;
        let (file, line, _, _) = broken(dir.path());
        prop_assert_eq!(verify::file_name(&file), name.clone());
        prop_assert_eq!(line, want_line);
    }
}

#[test]
fn pristine_copy_verifies() {
    let dir = copy_pristine();
    assert!(pristine().len() >= 3);
    assert_eq!(verify(&log_files(dir.path())).unwrap().records, 60);
}

#[test]
fn dropping_a_line_is_a_gap_at_the_next_record() {
    let dir = copy_pristine();
    let files = log_files(dir.path());
    let mut l = lines(&files[1]);
    let dropped: Value = serde_json::from_str(&l.remove(2)).unwrap();
    write_lines(&files[1], &l);
    let (file, line, seq, problem) = broken(dir.path());
    let seq_dropped = dropped["sqlgateseq"].as_u64().unwrap();
    assert_eq!(
        (file, line, seq),
        (files[1].clone(), 3, Some(seq_dropped + 1))
    );
    assert!(matches!(problem, Problem::Gap { .. }), "{problem}");
}

#[test]
fn swapping_two_lines_is_detected_at_the_first() {
    let dir = copy_pristine();
    let files = log_files(dir.path());
    let mut l = lines(&files[0]);
    l.swap(1, 2);
    write_lines(&files[0], &l);
    let (file, line, _, problem) = broken(dir.path());
    assert_eq!((file, line), (files[0].clone(), 2));
    assert!(matches!(problem, Problem::Gap { .. }), "{problem}");
}

#[test]
fn inserting_a_copied_line_is_a_reorder() {
    let dir = copy_pristine();
    let files = log_files(dir.path());
    let copied = lines(&files[0])[1].clone();
    let mut l = lines(&files[1]);
    l.insert(2, copied);
    write_lines(&files[1], &l);
    let (file, line, seq, problem) = broken(dir.path());
    assert_eq!((file, line, seq), (files[1].clone(), 3, Some(2)));
    assert!(
        matches!(problem, Problem::Reorder { found: 2, .. }),
        "{problem}"
    );
}

#[test]
fn deleting_a_middle_rotated_file_is_detected_in_the_next() {
    let dir = copy_pristine();
    let files = log_files(dir.path());
    fs::remove_file(&files[1]).unwrap();
    let (file, line, _, problem) = broken(dir.path());
    assert_eq!((file, line), (files[2].clone(), 1));
    assert!(matches!(problem, Problem::Gap { .. }), "{problem}");
}

#[test]
fn an_edited_record_with_a_recomputed_hash_breaks_the_next_link() {
    let dir = copy_pristine();
    let files = log_files(dir.path());
    let mut l = lines(&files[0]);
    let mut v: Value = serde_json::from_str(&l[2]).unwrap();
    v["data"]["result"]["message"] = "nothing to see".into();
    let hash = record_hash(&v);
    v["sqlgatehash"] = hash.into();
    l[2] = canonical_json(&v);
    write_lines(&files[0], &l);
    let (file, line, _, problem) = broken(dir.path());
    assert_eq!((file, line), (files[0].clone(), 4));
    assert!(matches!(problem, Problem::BrokenLink { .. }), "{problem}");
}

#[test]
fn renumbering_a_file_out_of_order_is_detected() {
    let dir = copy_pristine();
    let files = log_files(dir.path());
    // Swap the first two rotated files' names.
    let tmp = dir.path().join("tmp");
    fs::rename(&files[0], &tmp).unwrap();
    fs::rename(&files[1], &files[0]).unwrap();
    fs::rename(&tmp, &files[1]).unwrap();
    let (file, line, _, _) = broken(dir.path());
    assert_eq!((file, line), (files[0].clone(), 1));
}

// === sink ===

#[tokio::test]
async fn concurrent_appends_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let sink = FileSink::open(&dir.path().join("audit.log"), 1 << 20).unwrap();
    let record = every_kind().remove(2);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let sink = sink.clone();
            let record = record.clone();
            tokio::spawn(async move { sink.append(record).await })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().unwrap().seq);
    }
    seqs.sort();
    assert_eq!(seqs, (1..=64).collect::<Vec<_>>());
    let stats = sink.stats();
    assert_eq!(stats.records, 64);
    assert!(stats.fsyncs < stats.records, "{stats:?}");
    eprintln!("group commit: {stats:?}");
    assert!(stats.batches < 64, "{stats:?}");
    assert_eq!(verify(&log_files(dir.path())).unwrap().records, 64);
}

#[tokio::test]
async fn reopening_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    drop(write_log(dir.path(), 30, 3000).await);
    let sink = write_log(dir.path(), 30, 3000).await;
    assert_eq!(sink.stats().last_seq, 60);
    let report = verify(&log_files(dir.path())).unwrap();
    assert_eq!((report.records, report.last_seq), (60, 60));
}

#[tokio::test]
async fn reopening_after_a_rotation_with_an_empty_active_file_links_to_the_rotated_one() {
    let dir = tempfile::tempdir().unwrap();
    drop(write_log(dir.path(), 30, 3000).await);
    let base = dir.path().join("audit.log");
    fs::rename(&base, dir.path().join("audit.log.000099")).unwrap();
    fs::write(&base, "").unwrap();
    drop(write_log(dir.path(), 5, 3000).await);
    assert_eq!(verify(&log_files(dir.path())).unwrap().records, 35);
}

#[tokio::test]
async fn a_torn_tail_is_cut_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    drop(write_log(dir.path(), 5, 1 << 20).await);
    let base = dir.path().join("audit.log");
    let mut bytes = fs::read(&base).unwrap();
    bytes.extend_from_slice(br#"{"id":"half-writ"#);
    fs::write(&base, bytes).unwrap();
    let sink = write_log(dir.path(), 2, 1 << 20).await;
    assert_eq!(sink.stats().last_seq, 8);
    assert_eq!(verify(&log_files(dir.path())).unwrap().records, 8);
    let recovered: Value = serde_json::from_str(&lines(&base)[5]).unwrap();
    assert_eq!(recovered["data"]["methodName"], "sqlgate.ChainRecovered");
    assert!(
        recovered["data"]["result"]["message"]
            .as_str()
            .unwrap()
            .contains("16 bytes")
    );
}

#[tokio::test]
async fn a_corrupt_tail_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    drop(write_log(dir.path(), 5, 1 << 20).await);
    let base = dir.path().join("audit.log");
    let text = fs::read_to_string(&base)
        .unwrap()
        .replace(r#""1.0""#, r#""1.1""#);
    fs::write(&base, text).unwrap();
    match FileSink::open(&base, 1 << 20) {
        Err(AuditError::CorruptTail { line, .. }) => assert_eq!(line, 5),
        other => panic!("expected CorruptTail, got {other:?}"),
    }
}

#[tokio::test]
async fn a_sink_whose_directory_disappears_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("audit");
    let config = AuditConfig {
        file: logs.join("audit.log"),
        ..AuditConfig::default()
    }
    // Checkpoints and their key in the temporary directory too.
    .resolved(dir.path());
    let auditor = Auditor::open(&config).unwrap();
    let record = every_kind().remove(0);
    auditor.record(record.clone()).await.unwrap().unwrap();
    fs::remove_dir_all(&logs).unwrap();
    let err = auditor.record(record.clone()).await.unwrap_err();
    assert!(matches!(err, AuditError::Unlinked(_)), "{err}");
    assert_eq!(err.code(), "audit.unavailable");
    // Stays failed: nothing is written to a file nobody can read.
    assert!(auditor.record(record).await.is_err());
}

#[tokio::test]
async fn a_sink_that_cannot_rotate_errors() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("audit");
    let sink = FileSink::open(&logs.join("audit.log"), 500).unwrap();
    let record = every_kind().remove(0);
    sink.append(record.clone()).await.unwrap();
    // Replace the directory by a file of the same name: renames into it fail.
    let moved = dir.path().join("moved");
    fs::rename(&logs, &moved).unwrap();
    fs::write(&logs, "not a directory").unwrap();
    assert!(sink.append(record).await.is_err());
}

#[tokio::test]
async fn fail_open_drops_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("audit");
    let config = AuditConfig {
        file: logs.join("audit.log"),
        fail_closed: false,
        ..AuditConfig::default()
    }
    // Checkpoints and their key in the temporary directory too.
    .resolved(dir.path());
    let auditor = Auditor::open(&config).unwrap();
    fs::remove_dir_all(&logs).unwrap();
    assert_eq!(auditor.record(every_kind().remove(0)).await.unwrap(), None);
    assert_eq!(auditor.sink().stats().dropped, 1);
}

#[test]
fn config_defaults_and_unknown_keys() {
    let c: AuditConfig = toml::from_str("").unwrap();
    assert_eq!(c, AuditConfig::default());
    assert_eq!(c.file, PathBuf::from("data/audit/audit.log"));
    assert_eq!(c.max_file_bytes, 64 * 1024 * 1024);
    assert!(c.fail_closed && c.redact_sql_literals);
    assert!(toml::from_str::<AuditConfig>("fail_open = true").is_err());
}

// === query and render ===

#[tokio::test]
async fn query_filters_by_principal_table_decision_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let sink = FileSink::open(&dir.path().join("audit.log"), 1 << 20).unwrap();
    let bob = PrincipalInfo {
        principal: "User:bob".into(),
        ..alice()
    };
    let records = [
        AuditRecord::authorization(&req(), &alice(), &stmt("a"), &allowed("orders"))
            .with_time("2024-05-01T10:00:00.000Z"),
        AuditRecord::authorization(&req(), &alice(), &stmt("b"), &denied("payments"))
            .with_time("2024-05-01T11:00:00.000Z"),
        AuditRecord::authorization(&req(), &bob, &stmt("c"), &denied("orders"))
            .with_time("2024-05-01T12:00:00.000Z"),
        AuditRecord::statement(
            Some(&req()),
            &alice(),
            &stmt("a"),
            StatementEvent::Completed,
            "",
        )
        .with_time("2024-05-01T13:00:00.000Z"),
    ];
    for r in records {
        sink.append(r).await.unwrap();
    }
    let files = log_files(dir.path());
    let names = |f: Filter| -> Vec<String> {
        query(&files, &f)
            .map(|r| r.unwrap().data.sqlgate.statement.unwrap())
            .collect()
    };
    let t = |s: &str| Some(s.parse().unwrap());
    assert_eq!(names(Filter::default()), ["a", "b", "c", "a"]);
    assert_eq!(
        names(Filter {
            principal: Some("User:alice".into()),
            ..Filter::default()
        }),
        ["a", "b", "a"]
    );
    assert_eq!(
        names(Filter {
            table: Some("orders".into()),
            ..Filter::default()
        }),
        ["a", "c"]
    );
    assert_eq!(
        names(Filter {
            table: Some("env-dev.lkc-dev.payments".into()),
            ..Filter::default()
        }),
        ["b"]
    );
    assert_eq!(
        names(Filter {
            decision: Some(Decision::Deny),
            ..Filter::default()
        }),
        ["b", "c"]
    );
    assert_eq!(
        names(Filter {
            since: t("2024-05-01T11:00:00Z"),
            until: t("2024-05-01T13:00:00Z"),
            ..Filter::default()
        }),
        ["b", "c"]
    );

    let found: Vec<AuditRecord> = query(&files, &Filter::default())
        .map(Result::unwrap)
        .collect();
    let table = render(&found, OutputFormat::Table);
    assert_eq!(table.lines().count(), 5);
    assert!(table.lines().nth(2).unwrap().contains("deny"), "{table}");
    assert!(table.contains("read:env-dev.lkc-dev.payments!"), "{table}");
    let json = render(&found, OutputFormat::Json);
    assert_eq!(json.lines().count(), 4);
    let back: AuditRecord = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(back, found[0]);
}

// === conversions from pipeline types ===

#[test]
fn conversions_from_pipeline_types() {
    use crate::auth::{Mechanism, Principal};
    use crate::authz::AuthzError;
    use crate::catalog::{Catalogs, ObjectRef, TableRef};
    use crate::sql::Action;

    let p = Principal {
        id: "User:pool-dev".into(),
        mechanism: Mechanism::IdentityPool,
        identity: Some("alice".into()),
        issuer: Some("https://idp".into()),
        pool: Some("pool-dev".into()),
        groups: vec![],
        claims: Default::default(),
    };
    let info = PrincipalInfo::from(&p);
    assert_eq!(info.mechanism, "IDENTITY_POOL");
    assert_eq!(info.identity.as_deref(), Some("alice"));

    let catalogs = Catalogs::new("org-dev", "aws.us-east-2", vec![]);
    let e = AuthzError::Denied {
        principal: "User:alice".into(),
        object: Box::new(ObjectRef::Table(TableRef::new(
            "env-dev", "lkc-dev", "orders",
        ))),
        action: Action::Write,
        missing_role: "DeveloperWrite".into(),
        crn: String::new(),
    };
    let outcome = AuthzOutcome::refused(&e, &catalogs, "3");
    assert_eq!(outcome.code, "authz.denied");
    let r = AuditRecord::authorization(&req(), &info, &stmt("s"), &outcome);
    let a = r.data.authorization_info.unwrap();
    assert_eq!((a.granted, a.operation.as_str()), (false, "Write"));
    assert_eq!(a.missing_role.as_deref(), Some("DeveloperWrite"));
    assert!(r.data.sqlgate.objects[0].crn.ends_with("/topic=orders"));
}
