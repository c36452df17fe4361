use std::path::Path;

use serde_json::json;

use super::*;

const ORDERS: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=orders";
const CLICKS: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev/topic=clicks";

/// A record with sequence number `seq` and accesses `(crn, action)`.
fn record(seq: u64, objects: &[(&str, &str)]) -> AuditRecord {
    let objects: Vec<_> = objects
        .iter()
        .map(|(crn, action)| json!({"object": "x", "crn": crn, "action": action, "granted": true}))
        .collect();
    serde_json::from_value(json!({
        "id": format!("id-{seq}"), "source": "crn://confluent.cloud/", "specversion": "1.0",
        "type": "io.confluent.flink.server/authorization", "datacontenttype": "application/json",
        "subject": "s", "time": "2026-11-24T12:00:00.000Z", "sqlgateseq": seq,
        "data": {"serviceName": "crn://confluent.cloud/", "methodName": "mds.Authorize",
                 "resourceName": "r",
                 "authenticationInfo": {"principal": "User:pool-dev", "identity": "alice",
                                        "metadata": {"mechanism": "IDENTITY_POOL", "identifier": "alice"}},
                 "result": {"status": "SUCCESS", "message": ""},
                 "sqlgate": {"statement": format!("s{seq}"), "objects": objects}}
    }))
    .unwrap()
}

fn write(path: &Path, records: &[AuditRecord]) {
    let text: String = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    std::fs::write(path, text).unwrap();
}

fn seqs(p: &Page) -> Vec<u64> {
    p.records.iter().map(|r| r.sqlgateseq.unwrap()).collect()
}

#[test]
fn times_are_rfc3339_or_a_span_back_from_now() {
    let now: DateTime<Utc> = "2026-11-24T12:00:00Z".parse().unwrap();
    for (s, want) in [
        ("30m", "2026-11-24T11:30:00Z"),
        ("1h", "2026-11-24T11:00:00Z"),
        ("2d", "2026-11-22T12:00:00Z"),
        ("1h 30m", "2026-11-24T10:30:00Z"),
        ("2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z"),
        ("2026-11-01T02:00:00+02:00", "2026-11-01T00:00:00Z"),
    ] {
        let want: DateTime<Utc> = want.parse().unwrap();
        assert_eq!(parse_time(s, now).unwrap(), want, "{s}");
    }
    for bad in ["", "yesterday", "1 fortnight", "-1h", "2026-13-01"] {
        let e = parse_time(bad, now).unwrap_err();
        assert!(e.contains("RFC 3339") || e.contains("before"), "{bad}: {e}");
    }
    assert!(parse_time("100000000000d", now).is_err());
}

#[test]
fn action_matches_an_access_and_with_a_table_the_same_access() {
    let r = record(1, &[(ORDERS, "read"), (CLICKS, "write")]);
    let f = |table: Option<&str>, action: Option<&str>| Filter {
        table: table.map(String::from),
        action: action.map(String::from),
        ..Filter::default()
    };
    assert!(f(None, Some("read")).matches(&r));
    assert!(f(None, Some("WRITE")).matches(&r));
    assert!(!f(None, Some("drop")).matches(&r));
    assert!(f(Some("orders"), Some("read")).matches(&r));
    assert!(
        !f(Some("orders"), Some("write")).matches(&r),
        "the write is to clicks"
    );
    assert!(f(Some("env-dev.lkc-dev.clicks"), Some("write")).matches(&r));
}

#[test]
fn the_table_names_tables_by_catalog_database_and_table_and_shows_the_identity() {
    let mut r = record(7, &[(ORDERS, "read")]);
    r.data
        .sqlgate
        .objects
        .push(ObjectDecisionFixture::database());
    let out = render(&[r.clone()], OutputFormat::Table);
    let (header, row) = (out.lines().next().unwrap(), out.lines().nth(1).unwrap());
    let cells = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
    assert_eq!(cells(header)[3..5], ["PRINCIPAL", "IDENTITY"], "{header}");
    assert_eq!(cells(row)[3..5], ["User:pool-dev", "alice"], "{row}");
    assert!(
        row.contains("read:env-dev.lkc-dev.orders,describe:env-dev.lkc-dev"),
        "{row}"
    );
    assert_eq!(
        object_name(
            "crn://confluent.cloud/organization=o/environment=e/cloud-cluster=c/kafka=c/topic=a.b"
        ),
        "e.c.`a.b`"
    );
    assert_eq!(
        object_name("crn://confluent.cloud/organization=o/environment=e"),
        "environment=e"
    );
    // No identity and no identifier: a dash.
    r.data.authentication_info.identity = None;
    r.data.authentication_info.metadata.identifier = None;
    let out = render(&[r], OutputFormat::Table);
    assert!(
        out.lines().nth(1).unwrap().contains("User:pool-dev  -"),
        "{out}"
    );
}

struct ObjectDecisionFixture;

impl ObjectDecisionFixture {
    fn database() -> super::super::record::ObjectDecision {
        serde_json::from_value(json!({"object": "database", "action": "describe", "granted": true,
            "crn": "crn://confluent.cloud/organization=org-dev/environment=env-dev/cloud-cluster=lkc-dev/kafka=lkc-dev"}))
        .unwrap()
    }
}

#[test]
fn pages_continue_after_a_seq_across_rotated_files_and_say_when_they_were_cut() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        dir.path().join("a.log"),
        dir.path().join("b.log"),
        dir.path().join("c.log"),
    ];
    write(
        &files[0],
        &(1..=4)
            .map(|s| record(s, &[(ORDERS, "read")]))
            .collect::<Vec<_>>(),
    );
    write(
        &files[1],
        &(5..=8)
            .map(|s| record(s, &[(CLICKS, "read")]))
            .collect::<Vec<_>>(),
    );
    write(
        &files[2],
        &(9..=10)
            .map(|s| record(s, &[(ORDERS, "write")]))
            .collect::<Vec<_>>(),
    );
    let all = Filter::default();
    let p = page(&files, &all, None, 3).unwrap();
    assert_eq!((seqs(&p), p.truncated), (vec![1, 2, 3], true));
    let p = page(&files, &all, Some(3), 3).unwrap();
    assert_eq!((seqs(&p), p.truncated), (vec![4, 5, 6], true));
    let p = page(&files, &all, Some(6), 4).unwrap();
    assert_eq!((seqs(&p), p.truncated), (vec![7, 8, 9, 10], false));
    let p = page(&files, &all, Some(10), 4).unwrap();
    assert_eq!((seqs(&p), p.truncated), (vec![], false));
    // Exactly `limit` left: not cut.
    let p = page(&files, &all, Some(7), 3).unwrap();
    assert_eq!((seqs(&p), p.truncated), (vec![8, 9, 10], false));
    // With a filter, across a file with no match.
    let orders = Filter {
        table: Some("orders".into()),
        ..Filter::default()
    };
    let p = page(&files, &orders, Some(2), 2).unwrap();
    assert_eq!((seqs(&p), p.truncated), (vec![3, 4], true));
    let p = page(&files, &orders, Some(4), 2).unwrap();
    assert_eq!((seqs(&p), p.truncated), (vec![9, 10], false));
    // A file wholly before the cursor is skipped unread: a broken line in it does not matter.
    std::fs::write(&files[0], "{\"broken\n").unwrap();
    let p = page(&files, &all, Some(5), 2).unwrap();
    assert_eq!(seqs(&p), vec![6, 7]);
}
