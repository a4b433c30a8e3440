//! The log's byte budget: a store asks for a snapshot once the entries appended since
//! the last one pass the budget, however few they are, and not before.

mod common;

use cairn_raft::schema::*;
use cairn_raft::{Bootstrap, MetaStore, OpenOptions};
use common::*;
use std::time::Duration;

async fn open(dir: &std::path::Path, snapshot_log_bytes: u64) -> MetaStore {
    let opts = OpenOptions {
        node_id: 1,
        addr: String::new(),
        bootstrap: Bootstrap::SingleNode,
        caller: None,
        // Far more entries than the test writes: only bytes can ask for a snapshot.
        snapshot_every: 1_000_000,
        cache_mib: 0,
        snapshot_log_bytes,
    };
    MetaStore::open_with(dir, opts).await.unwrap()
}

/// Writes `n` objects of 64 KiB inline, one proposal each (about 4 MiB for 64).
async fn write(s: &MetaStore, n: usize) {
    for i in 0..n {
        let mut v = version("e");
        v.data = ObjectData::Inline(vec![i as u8; 64 << 10]);
        v.size = 64 << 10;
        let cmd = Command::PutObject { bucket: "b".into(), key: format!("k{i}"), version: v, condition: None };
        s.propose(cmd).await.unwrap();
    }
}

fn snapshot_index(s: &MetaStore) -> Option<u64> {
    s.raft().metrics().borrow().snapshot.map(|l| l.index)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_past_its_byte_budget_is_snapshotted() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), 1 << 20).await;
    create_bucket(&s, "b").await;
    assert_eq!(snapshot_index(&s), None);
    write(&s, 64).await;
    let applied = s.raft().metrics().borrow().last_applied.unwrap().index;
    // The worker looks twice a second; the build itself is quick at this size.
    s.raft()
        .wait(Some(Duration::from_secs(10)))
        .metrics(|m| m.snapshot.is_some_and(|l| l.index + 20 >= applied), "a snapshot near the head of the log")
        .await
        .unwrap();
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
