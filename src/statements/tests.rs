//! Unit tests of the statement store seam: both stores keep the contract, the file store
//! survives a reopen and a crash, and the lifecycle recovers and expires.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::file::FileStore;
use super::lifecycle::{RESTART_FAILED, RESTART_STOPPED, RESULTS_GONE};
use super::memory::MemoryStore;
use super::store::Update;
use super::*;

const DAY: Duration = Duration::from_secs(24 * 3600);

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
    ))
}

fn record(name: &str, owner: &str, clock: &dyn Clock) -> StatementRecord {
    StatementRecord::new(
        name.into(),
        "org".into(),
        "env".into(),
        owner.into(),
        Spec {
            statement: "SELECT 1".into(),
            properties: BTreeMap::new(),
            compute_pool_id: "lfcp-dev".into(),
        },
        BTreeMap::new(),
        clock.now(),
    )
}

fn limits(retention: Duration) -> Limits {
    Limits {
        max_per_principal: 100,
        result_buffer_rows: 10,
        retention,
    }
}

fn open_file(dir: &Path) -> Arc<FileStore> {
    Arc::new(FileStore::open(dir).unwrap().0)
}

async fn lifecycle(
    store: Arc<dyn StatementStore>,
    clock: Arc<ManualClock>,
    retention: Duration,
) -> Statements {
    Statements::new(store, clock, limits(retention))
        .await
        .unwrap()
}

async fn id_of(st: &Statements, name: &str) -> StatementId {
    st.get("env", name).await.unwrap().unwrap().id()
}

async fn state_of(st: &Statements, name: &str) -> StatementState {
    st.get("env", name).await.unwrap().unwrap().state
}

fn stores(dir: &Path) -> Vec<Arc<dyn StatementStore>> {
    vec![Arc::new(MemoryStore::new()), open_file(dir)]
}

#[tokio::test]
async fn duplicate_names_are_refused_by_both_stores() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    for s in stores(dir.path()) {
        s.insert_if_absent(record("a", "User:x", &*c), 10)
            .await
            .unwrap();
        assert_eq!(
            s.insert_if_absent(record("a", "User:y", &*c), 10).await,
            Err(StoreError::AlreadyExists("a".into())),
            "{s:?}"
        );
    }
}

#[tokio::test]
async fn owners_are_capped_and_a_removal_frees_a_place() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    for s in stores(dir.path()) {
        s.insert_if_absent(record("a", "User:x", &*c), 2)
            .await
            .unwrap();
        s.insert_if_absent(record("b", "User:x", &*c), 2)
            .await
            .unwrap();
        assert!(matches!(
            s.insert_if_absent(record("c", "User:x", &*c), 2).await,
            Err(StoreError::TooMany { limit: 2, .. })
        ));
        s.insert_if_absent(record("c", "User:y", &*c), 2)
            .await
            .unwrap();
        assert_eq!(s.count_owned("User:x").await.unwrap(), 2);
        assert!(s.remove("env", "a", None).await.unwrap().is_some());
        assert_eq!(s.count_owned("User:x").await.unwrap(), 1);
        s.insert_if_absent(record("d", "User:x", &*c), 2)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_of_one_name_store_exactly_one() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    for s in stores(dir.path()) {
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let s = s.clone();
                let r = record("same", &format!("User:u{i}"), &*c);
                tokio::spawn(async move { s.insert_if_absent(r, 10).await })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(e) => assert_eq!(e, StoreError::AlreadyExists("same".into())),
            }
        }
        assert_eq!(ok, 1, "{s:?}");
        assert_eq!(s.count().await.unwrap(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cap_holds_under_concurrent_inserts() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    for s in stores(dir.path()) {
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let s = s.clone();
                let r = record(&format!("n{i}"), "User:x", &*c);
                tokio::spawn(async move { s.insert_if_absent(r, 3).await })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.unwrap().is_ok());
        }
        assert_eq!(ok, 3, "{s:?}");
        assert_eq!(s.count_owned("User:x").await.unwrap(), 3);
    }
}

#[tokio::test]
async fn updates_are_conditional_on_the_version_read() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    for s in stores(dir.path()) {
        let r = record("a", "User:x", &*c);
        s.insert_if_absent(r.clone(), 10).await.unwrap();
        let next = r
            .next_state(Phase::Running, "Statement is running", None, c.now())
            .unwrap();
        let Update::Updated(now) = s.update_state(&r.id(), 1, next.clone()).await.unwrap() else {
            panic!("first update must apply")
        };
        assert_eq!(now.state.resource_version, 2);
        assert!(matches!(
            s.update_state(&r.id(), 1, next.clone()).await.unwrap(),
            Update::Conflict(cur) if cur.state.resource_version == 2
        ));
        // A newer statement with the same name is not the one the caller read.
        s.remove("env", "a", None).await.unwrap();
        let newer = record("a", "User:x", &*c);
        s.insert_if_absent(newer, 10).await.unwrap();
        assert_eq!(
            s.update_state(&r.id(), 2, next).await.unwrap(),
            Update::Missing
        );
    }
}

#[test]
fn terminal_phases_stick() {
    let c = clock();
    let mut r = record("a", "User:x", &*c);
    assert!(r.transition(Phase::Completed, "", None, c.now()));
    assert!(!r.transition(Phase::Stopped, "", None, c.now()));
    assert_eq!(r.state.phase, Phase::Completed);
}

#[tokio::test]
async fn the_file_store_keeps_every_statement_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let s = open_file(dir.path());
    let mut kept = Vec::new();
    for name in ["one", "two", "three"] {
        let r = record(name, "User:x", &*c);
        s.insert_if_absent(r.clone(), 10).await.unwrap();
        kept.push(r);
    }
    let done = kept[1]
        .next_state(
            Phase::Completed,
            "",
            Some(json!({"sql_kind": "SELECT"})),
            c.now(),
        )
        .unwrap();
    let Update::Updated(two) = s.update_state(&kept[1].id(), 1, done).await.unwrap() else {
        panic!()
    };
    kept[1] = two;
    s.remove("env", "three", None).await.unwrap();
    kept.pop();
    drop(s);

    let (reopened, report) = FileStore::open(dir.path()).unwrap();
    assert_eq!(report.loaded, 2);
    assert!(report.unreadable.is_empty());
    let all = reopened.list(&ListFilter::default()).await.unwrap();
    assert_eq!(all, kept);
    assert_eq!(reopened.count_owned("User:x").await.unwrap(), 2);
}

/// Writes that run at once share the directory's fsyncs, and every one of them is on disk
/// under its final name when its call returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_share_directory_fsyncs_and_all_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let s = open_file(dir.path());
    const N: usize = 64;
    let writes: Vec<_> = (0..N)
        .map(|i| {
            let (s, r) = (s.clone(), record(&format!("s{i}"), "User:x", &*c));
            tokio::spawn(async move { s.insert_if_absent(r, N).await })
        })
        .collect();
    for w in writes {
        w.await.unwrap().unwrap();
    }
    let fsyncs = s.dir_fsyncs();
    assert!(
        (1..N as u64).contains(&fsyncs),
        "{N} concurrent writes ran {fsyncs} directory fsyncs"
    );
    drop(s);
    let (reopened, report) = FileStore::open(dir.path()).unwrap();
    assert_eq!(report.loaded, N);
    assert_eq!(reopened.count_owned("User:x").await.unwrap(), N);
}

#[tokio::test]
async fn unreadable_files_are_set_aside_and_scratch_files_removed() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let s = open_file(dir.path());
    s.insert_if_absent(record("good", "User:x", &*c), 10)
        .await
        .unwrap();
    drop(s);
    std::fs::write(dir.path().join("bad.json"), "{not json").unwrap();
    std::fs::write(dir.path().join(".tmp-half"), "{\"format\":1,").unwrap();
    let (s, report) = FileStore::open(dir.path()).unwrap();
    assert_eq!(report.loaded, 1);
    assert_eq!(report.unreadable.len(), 1, "{report:?}");
    assert!(dir.path().join("bad.json.unreadable").exists());
    assert!(!dir.path().join(".tmp-half").exists());
    assert!(s.get("env", "good").await.unwrap().is_some());
}

/// A gateway killed while statements ran leaves their files as they were; the next start
/// ends them with a detail saying why, and never shows them RUNNING.
#[tokio::test]
async fn statements_interrupted_by_a_crash_come_back_failed_or_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    {
        let st = lifecycle(open_file(dir.path()), c.clone(), DAY).await;
        for name in ["running", "pending", "stopping", "done"] {
            let r = record(name, "User:x", &*c);
            st.reserve(&r).await.unwrap();
        }
        let traits = json!({"schema": {"columns": [{"name": "EXPR$0"}]}});
        for name in ["running", "stopping", "done"] {
            let id = id_of(&st, name).await;
            st.transition(
                &id,
                Phase::Running,
                "Statement is running",
                Some(traits.clone()),
            )
            .await
            .unwrap();
        }
        let stopping = id_of(&st, "stopping").await;
        // Asked to stop, and the process died before the work ended.
        st.stop(&stopping, Duration::ZERO).await.unwrap();
        let done = id_of(&st, "done").await;
        st.transition(&done, Phase::Completed, "", None)
            .await
            .unwrap();
        // No shutdown: the process is gone.
    }
    let st = lifecycle(open_file(dir.path()), c.clone(), DAY).await;
    let recovered = st.recover().await.unwrap();
    assert_eq!(recovered.ended.len(), 3, "{recovered:?}");
    assert_eq!(recovered.results_gone, 1);
    for name in ["running", "pending"] {
        let s = state_of(&st, name).await;
        assert_eq!(s.phase, Phase::Failed, "{name}");
        assert_eq!(s.detail, RESTART_FAILED);
    }
    let s = state_of(&st, "stopping").await;
    assert_eq!(s.phase, Phase::Stopped);
    assert_eq!(s.detail, RESTART_STOPPED);
    let s = state_of(&st, "done").await;
    assert_eq!(s.phase, Phase::Completed);
    assert_eq!(s.detail, RESULTS_GONE);
    assert!(st.running(&id_of(&st, "done").await.uid).is_none());

    // A second restart changes nothing more.
    drop(st);
    let st = lifecycle(open_file(dir.path()), c.clone(), DAY).await;
    let again = st.recover().await.unwrap();
    assert!(
        again.ended.is_empty() && again.results_gone == 0,
        "{again:?}"
    );
}

#[tokio::test]
async fn finished_statements_expire_after_the_retention_and_running_ones_never() {
    let dir = tempfile::tempdir().unwrap();
    for store in stores(dir.path()) {
        let c = clock();
        let st = lifecycle(store, c.clone(), 7 * DAY).await;
        for name in ["old", "young", "busy"] {
            st.reserve(&record(name, "User:x", &*c)).await.unwrap();
        }
        st.transition(&id_of(&st, "old").await, Phase::Completed, "", None)
            .await
            .unwrap();
        st.transition(&id_of(&st, "busy").await, Phase::Running, "", None)
            .await
            .unwrap();
        c.advance(6 * DAY);
        st.transition(&id_of(&st, "young").await, Phase::Failed, "x", None)
            .await
            .unwrap();
        assert!(st.expire().await.unwrap().is_empty());
        assert_eq!(st.stored(), 3);

        c.advance(DAY + Duration::from_secs(1));
        let gone: Vec<_> = st
            .expire()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(gone, ["old"]);
        assert_eq!(st.stored(), 2);

        c.advance(365 * DAY);
        let gone: Vec<_> = st
            .expire()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(gone, ["young"], "a RUNNING statement never expires");
        assert_eq!(st.stored(), 1);
        assert!(st.get("env", "busy").await.unwrap().is_some());
    }
}

#[tokio::test]
async fn a_retention_of_zero_keeps_statements_until_deleted() {
    let c = clock();
    let st = lifecycle(Arc::new(MemoryStore::new()), c.clone(), Duration::ZERO).await;
    let r = record("a", "User:x", &*c);
    st.reserve(&r).await.unwrap();
    st.transition(&r.id(), Phase::Completed, "", None)
        .await
        .unwrap();
    c.advance(10_000 * DAY);
    assert!(st.expire().await.unwrap().is_empty());
    assert_eq!(st.stored(), 1);
}

#[tokio::test]
async fn expiry_removes_the_file_so_a_restart_does_not_bring_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let st = lifecycle(open_file(dir.path()), c.clone(), DAY).await;
    let r = record("a", "User:x", &*c);
    st.reserve(&r).await.unwrap();
    st.transition(&r.id(), Phase::Completed, "", None)
        .await
        .unwrap();
    c.advance(2 * DAY);
    assert_eq!(st.expire().await.unwrap().len(), 1);
    let (_, report) = FileStore::open(dir.path()).unwrap();
    assert_eq!(report.loaded, 0);
}

#[tokio::test]
async fn a_released_reservation_frees_the_name_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let st = lifecycle(open_file(dir.path()), c.clone(), DAY).await;
    let r = record("a", "User:x", &*c);
    st.reserve(&r).await.unwrap();
    assert_eq!(
        st.reserve(&record("a", "User:y", &*c)).await.unwrap_err(),
        StoreError::AlreadyExists("a".into())
    );
    st.release(&r.id()).await.unwrap();
    assert!(st.running(&r.uid).is_none());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    st.reserve(&record("a", "User:y", &*c)).await.unwrap();
}

#[tokio::test]
async fn stop_cancels_the_local_work_and_records_it() {
    let c = clock();
    let st = lifecycle(Arc::new(MemoryStore::new()), c.clone(), DAY).await;
    let r = record("a", "User:x", &*c);
    let running = st.reserve(&r).await.unwrap();
    let after = st.stop(&r.id(), Duration::ZERO).await.unwrap().unwrap();
    assert!(after.state.stopped);
    assert_eq!(running.stop_reason(), Some(running::StopReason::Stopped));
    st.shutdown();
    assert_eq!(
        running.stop_reason(),
        Some(running::StopReason::Stopped),
        "the first reason is kept"
    );
}

/// The per-pool phase counters follow every insert, phase change and removal, and a
/// statement waiting for its pool is ended by a restart saying it never ran.
#[tokio::test]
async fn the_phase_tally_follows_the_lifecycle_and_a_restart_ends_waiting_statements() {
    use super::lifecycle::RESTART_QUEUED;
    use super::tally::PHASES;
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let store = open_file(dir.path());
    let st = lifecycle(store, c.clone(), DAY).await;
    let count = |st: &Statements, phase: Phase| {
        let i = PHASES.iter().position(|p| *p == phase).unwrap();
        st.tally().of("lfcp-dev")[i]
    };
    st.reserve(&record("a", "User:x", &*c)).await.unwrap();
    st.reserve(&record("b", "User:x", &*c)).await.unwrap();
    assert_eq!(count(&st, Phase::Pending), 2);
    let a = id_of(&st, "a").await;
    st.transition(&a, Phase::Running, "", None).await.unwrap();
    assert_eq!(
        (count(&st, Phase::Pending), count(&st, Phase::Running)),
        (1, 1)
    );
    let b = id_of(&st, "b").await;
    let marked = st.mark_pool_exhausted(&b, "waits").await.unwrap().unwrap();
    assert!(marked.state.pool_exhausted);
    assert_eq!(marked.state.phase, Phase::Pending);
    assert!(
        st.mark_pool_exhausted(&a, "x").await.unwrap().is_none(),
        "not PENDING"
    );
    st.remove("env", "a").await.unwrap();
    assert_eq!(count(&st, Phase::Running), 0);

    // A restart: the waiting statement is FAILED, saying so, and counted as such.
    let st = lifecycle(open_file(dir.path()), c.clone(), DAY).await;
    assert_eq!(count(&st, Phase::Pending), 1, "seeded from the store");
    st.recover().await.unwrap();
    let b = state_of(&st, "b").await;
    assert_eq!(
        (b.phase, b.detail.as_str()),
        (Phase::Failed, RESTART_QUEUED)
    );
    assert!(!b.pool_exhausted);
    assert_eq!(
        (count(&st, Phase::Pending), count(&st, Phase::Failed)),
        (0, 1)
    );
}

/// A statement its engine was still starting in the background (a Flink submission) when the
/// gateway stopped is ended by the restart, FAILED, saying it never ran.
#[tokio::test]
async fn a_restart_ends_a_statement_its_engine_was_starting() {
    use super::lifecycle::RESTART_STARTING;
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let st = lifecycle(open_file(dir.path()), c.clone(), DAY).await;
    st.reserve(&record("a", "User:x", &*c)).await.unwrap();
    let a = id_of(&st, "a").await;
    let marked = st.mark_starting(&a, "submitting").await.unwrap().unwrap();
    assert!(marked.state.starting && !marked.state.pool_exhausted);
    assert_eq!(
        (marked.state.phase, marked.state.detail.as_str()),
        (Phase::Pending, "submitting")
    );
    st.transition(&a, Phase::Running, "", None).await.unwrap();
    assert!(
        !state_of(&st, "a").await.starting,
        "a phase change clears it"
    );
    assert!(
        st.mark_starting(&a, "x").await.unwrap().is_none(),
        "not PENDING"
    );

    st.reserve(&record("b", "User:x", &*c)).await.unwrap();
    let b = id_of(&st, "b").await;
    st.mark_starting(&b, "submitting").await.unwrap().unwrap();
    let st = lifecycle(open_file(dir.path()), c.clone(), DAY).await;
    st.recover().await.unwrap();
    let b = state_of(&st, "b").await;
    assert_eq!(
        (b.phase, b.detail.as_str()),
        (Phase::Failed, RESTART_STARTING)
    );
    assert!(!b.starting);
}
