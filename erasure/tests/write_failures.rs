mod common;

use std::time::Duration;

use cairn_erasure::{DiskSet, ErasureError};
use common::*;

const BS: u32 = 64;

/// A disk whose `objects` directory became a file cannot hold any shard.
fn break_disk(set: &DiskSet, disk: u16) {
    let objects = roots(set)[disk as usize].join("objects");
    std::fs::remove_dir_all(&objects).unwrap();
    std::fs::write(&objects, b"not a directory").unwrap();
}

#[tokio::test]
async fn quorum_failure_leaves_no_files() {
    for size in [10usize, 9 * 2 * BS as usize + 5] {
        let d = disks(4);
        let spec = spec(&d.set, 2, 2, BS, 1000 + size as u128);
        break_disk(&d.set, spec.disks[1]);
        break_disk(&d.set, spec.disks[3]);
        let data = random_bytes(size, 5);
        let res = write_object(&d.set, &spec, &data).await;
        assert!(matches!(res, Err(ErasureError::Quorum { written: 2, needed: 3, .. })), "size {size}: {res:?}");
        // write_object drops the writer when write() fails early; cleanup is then async
        wait_until_no_files(&d.set).await;
    }
}

#[tokio::test]
async fn quorum_failure_at_finish_leaves_no_files() {
    let d = disks(4);
    let spec = spec(&d.set, 2, 2, BS, 1100);
    break_disk(&d.set, spec.disks[0]);
    break_disk(&d.set, spec.disks[2]);
    let mut w = d.set.writer(spec.clone()).unwrap();
    w.write(&random_bytes(100, 1)).await.unwrap();
    let res = w.finish().await;
    assert!(matches!(res, Err(ErasureError::Quorum { written: 2, needed: 3, .. })), "{res:?}");
    assert!(shard_files(&d.set).is_empty(), "{:?}", shard_files(&d.set));
}

#[tokio::test]
async fn one_failed_disk_still_reaches_quorum() {
    let d = disks(4);
    let spec = spec(&d.set, 2, 2, BS, 1200);
    break_disk(&d.set, spec.disks[0]);
    let data = random_bytes(5 * 2 * BS as usize + 9, 2);
    let receipt = write_object(&d.set, &spec, &data).await.unwrap();
    assert_eq!(receipt.shards_written, 3);
    assert_eq!(receipt.size, data.len() as u64);
    assert!(tmp_files(&d.set).is_empty());
    let (got, degraded) = read_range(&d.set, &spec, data.len() as u64, 0, data.len() as u64).await;
    assert!(got.unwrap() == data);
    assert!(degraded);
}

#[tokio::test]
async fn no_parity_needs_every_disk() {
    let d = disks(2);
    let spec = spec(&d.set, 2, 0, BS, 1300);
    break_disk(&d.set, spec.disks[1]);
    let mut w = d.set.writer(spec).unwrap();
    w.write(b"abc").await.unwrap();
    let res = w.finish().await;
    assert!(matches!(res, Err(ErasureError::Quorum { written: 1, needed: 2, .. })), "{res:?}");
}

/// Shard files (final or temp) on all disks; the file standing in for a broken disk's
/// `objects` directory is not one.
fn shard_files(set: &DiskSet) -> Vec<std::path::PathBuf> {
    all_files(set).into_iter().filter(|p| p.file_name().is_some_and(|n| n != "objects")).collect()
}

async fn wait_until_no_files(set: &DiskSet) {
    for _ in 0..200 {
        if shard_files(set).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("files left behind: {:?}", shard_files(set));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_without_finish_leaves_no_temp_files() {
    let d = disks(6);
    let spec = spec(&d.set, 4, 2, BS, 1400);
    let mut w = d.set.writer(spec.clone()).unwrap();
    // several stripes so one is still in flight at the drop
    w.write(&random_bytes(20 * 4 * BS as usize + 3, 3)).await.unwrap();
    assert!(!tmp_files(&d.set).is_empty());
    drop(w);
    wait_until_no_files(&d.set).await;
}

#[test]
fn drop_outside_a_runtime_removes_temp_files() {
    let d = disks(4);
    let spec = spec(&d.set, 2, 2, BS, 1450);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let w = rt.block_on(async {
        let mut w = d.set.writer(spec.clone()).unwrap();
        w.write(&random_bytes(3 * 2 * BS as usize, 4)).await.unwrap();
        w
    });
    drop(rt);
    drop(w);
    assert!(all_files(&d.set).is_empty(), "{:?}", all_files(&d.set));
}

#[tokio::test]
async fn abort_removes_temp_files() {
    let d = disks(4);
    let spec = spec(&d.set, 2, 2, BS, 1500);
    let mut w = d.set.writer(spec).unwrap();
    w.write(&random_bytes(10 * 2 * BS as usize, 4)).await.unwrap();
    w.abort().await;
    assert!(all_files(&d.set).is_empty());
}

#[tokio::test]
async fn delete_removes_every_shard() {
    let d = disks(6);
    let spec = spec(&d.set, 4, 2, BS, 1600);
    write_object(&d.set, &spec, &random_bytes(1000, 6)).await.unwrap();
    assert_eq!(all_files(&d.set).len(), 6);
    // a missing shard is fine
    std::fs::remove_file(shard_file(&d.set, &spec, 2)).unwrap();
    d.set.delete(&spec).await.unwrap();
    assert!(all_files(&d.set).is_empty());
    d.set.delete(&spec).await.unwrap();
}
