//! The log's budgets: a store asks for a snapshot once the bytes appended since the
//! last one pass the byte budget, however few the entries, or the entries pass the
//! count budget, and not before; both grow with the state.

mod common;

use cairn_raft::schema::*;
use cairn_raft::{Bootstrap, MetaStore, OpenOptions};
use common::*;
use std::time::Duration;

async fn open(dir: &std::path::Path, snapshot_log_bytes: u64) -> MetaStore {
    open_counting(dir, snapshot_log_bytes, 1_000_000).await
}

async fn open_counting(dir: &std::path::Path, snapshot_log_bytes: u64, snapshot_every: u64) -> MetaStore {
    let opts = OpenOptions {
        node_id: 1,
        addr: String::new(),
        bootstrap: Bootstrap::SingleNode,
        caller: None,
        // Far more entries than the byte tests write: only bytes can ask for a snapshot.
        snapshot_every,
        cache_mib: 0,
        snapshot_log_bytes,
    };
    MetaStore::open_with(dir, opts).await.unwrap()
}

/// Writes `n` objects of 64 KiB inline, one proposal each (about 4 MiB for 64), as
/// keys `first..first + n`.
async fn write_from(s: &MetaStore, first: usize, n: usize) {
    for i in first..first + n {
        let mut v = version("e");
        v.data = ObjectData::Inline(vec![i as u8; 64 << 10]);
        v.size = 64 << 10;
        let cmd = Command::PutObject { bucket: "b".into(), key: format!("k{i}"), version: v, condition: None };
        s.propose(cmd).await.unwrap();
    }
}

/// Writes `n` tiny objects, one proposal (one log entry) each.
async fn write_tiny(s: &MetaStore, first: usize, n: usize) {
    for i in first..first + n {
        let mut v = version("e");
        v.data = ObjectData::Inline(vec![1]);
        v.size = 1;
        let cmd = Command::PutObject { bucket: "b".into(), key: format!("k{i}"), version: v, condition: None };
        s.propose(cmd).await.unwrap();
    }
}

async fn write(s: &MetaStore, n: usize) {
    write_from(s, 0, n).await
}

fn snapshot_index(s: &MetaStore) -> Option<u64> {
    s.raft().metrics().borrow().snapshot.map(|l| l.index)
}

/// Builds a snapshot of everything applied so far (`what` names it), waits until the
/// budget worker has seen it, and returns its index.
async fn snapshot_everything(s: &MetaStore, what: &str) -> Option<u64> {
    let applied = s.raft().metrics().borrow().last_applied.unwrap().index;
    s.raft().trigger().snapshot().await.unwrap();
    s.raft()
        .wait(Some(Duration::from_secs(10)))
        .metrics(|m| m.snapshot.is_some_and(|l| l.index >= applied), what)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await; // the worker looks twice a second
    snapshot_index(s)
}

/// Waits (up to 10 s) for a snapshot past `first`.
async fn a_snapshot_after(s: &MetaStore, first: Option<u64>) {
    s.raft()
        .wait(Some(Duration::from_secs(10)))
        .metrics(|m| m.snapshot.map(|l| l.index) > first, "a snapshot after the first")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_past_its_byte_budget_is_snapshotted() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), 1 << 20).await;
    create_bucket(&s, "b").await;
    assert_eq!(snapshot_index(&s), None);
    write(&s, 64).await;
    // The worker looks twice a second; the build itself is quick at this size. (The
    // last snapshot need not be at the head: the budget grows with the state.)
    s.raft().wait(Some(Duration::from_secs(10))).metrics(|m| m.snapshot.is_some(), "a snapshot").await.unwrap();
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_within_its_byte_budget_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), 64 << 20).await;
    create_bucket(&s, "b").await;
    write(&s, 64).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(snapshot_index(&s), None, "4 MiB of log under a 64 MiB budget");
    s.shutdown().await.unwrap();
}

/// Once the state is larger than the minimum budget, the budget is half the last
/// snapshot: a 4 MiB state takes 2 MiB of log (not the 1 MiB minimum) before the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_grows_with_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), 1 << 20).await;
    create_bucket(&s, "b").await;
    write(&s, 64).await;
    // Whatever the budget built meanwhile, one snapshot of everything, to start from.
    let first = snapshot_everything(&s, "a snapshot of the 4 MiB").await;
    let state = std::fs::metadata(dir.path().join("snapshots/current.snap")).unwrap().len();
    assert!(state > 4 << 20, "the snapshot holds the 4 MiB written: {state}");
    // 1.25 MiB of new entries: past the minimum, under half the state.
    write_from(&s, 64, 20).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(snapshot_index(&s), first, "1.25 MiB of log against a {state}-byte state");
    // 2.5 MiB in all: past half the state.
    write_from(&s, 84, 20).await;
    a_snapshot_after(&s, first).await;
    s.shutdown().await.unwrap();
}

/// The entry count between snapshots is the configured one while the state is small,
/// then half the records of the last snapshot: a snapshot writes every record, so a
/// fixed count would cost more per entry as the state grows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_entry_count_grows_with_the_state() {
    let dir = tempfile::tempdir().unwrap();
    // Bytes never ask here: only the count (20 entries) does.
    let s = open_counting(dir.path(), 1 << 30, 20).await;
    create_bucket(&s, "b").await;
    write_tiny(&s, 0, 30).await;
    s.raft()
        .wait(Some(Duration::from_secs(10)))
        .metrics(|m| m.snapshot.is_some(), "a snapshot by count")
        .await
        .unwrap();

    // 400 records, one snapshot of them all to start from.
    write_tiny(&s, 30, 370).await;
    let first = snapshot_everything(&s, "a snapshot of 400 objects").await;
    // 100 entries: five times the configured count, under half the ~400 records.
    write_tiny(&s, 400, 100).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(snapshot_index(&s), first, "100 entries after a snapshot of 400 records");
    // 250 in all: past half the records.
    write_tiny(&s, 500, 150).await;
    a_snapshot_after(&s, first).await;
    s.shutdown().await.unwrap();
}
