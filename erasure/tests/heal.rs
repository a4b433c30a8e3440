//! Verify and heal on real disk directories: every kind of damage is found stripe by
//! stripe, healing rewrites exactly the bad shards and re-verifies, and a blob with
//! more than m bad shards is reported lost, never "healed".

mod common;

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cairn_erasure::{DiskSet, Pace, ShardSpec};
use common::*;

const BS: u32 = 64;
const HEADER: usize = 48;
/// 7 full stripes and a short one.
const STRIPES: u64 = 8;

fn flip(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= 0x40;
    std::fs::write(path, b).unwrap();
}

fn truncate(path: &Path) {
    let len = std::fs::metadata(path).unwrap().len();
    OpenOptions::new().write(true).open(path).unwrap().set_len(len / 2).unwrap();
}

async fn setup(set: &DiskSet, k: u8, m: u8, id: u128) -> (ShardSpec, Vec<u8>) {
    let spec = spec(set, k, m, BS, id);
    let data = random_bytes(7 * k as usize * BS as usize + 21, id as u64);
    write_object(set, &spec, &data).await.unwrap();
    (spec, data)
}

#[tokio::test]
async fn verify_counts_stripes_and_heal_rewrites_the_bad_shards() {
    let d = disks(4);
    let (spec, data) = setup(&d.set, 2, 2, 7).await;
    let size = data.len() as u64;

    let h = d.set.verify(spec.clone(), size, None).await.unwrap();
    assert_eq!((h.stripes, h.whole, h.degraded, h.lost), (STRIPES, STRIPES, 0, 0));
    assert!(h.is_whole());

    // One flipped byte in stripe 1 of shard 0, shard 3 truncated (loses its last stripes).
    flip(&shard_file(&d.set, &spec, 0), HEADER + BS as usize + 4 + 3);
    truncate(&shard_file(&d.set, &spec, 3));
    let h = d.set.verify(spec.clone(), size, None).await.unwrap();
    assert_eq!(h.bad_shards, vec![0, 3]);
    assert_eq!(h.lost, 0);
    assert!(h.degraded >= 2 && h.whole + h.degraded == STRIPES, "{h:?}");

    let out = d.set.heal(spec.clone(), size, None).await.unwrap();
    assert_eq!(out.before, h);
    assert_eq!(out.rewritten, vec![0, 3]);
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    assert_eq!((out.after.whole, out.after.degraded, out.after.lost), (STRIPES, 0, 0));
    assert!(tmp_files(&d.set).is_empty());
    // The healed shards alone (with the other data shard gone) give the object back.
    std::fs::remove_file(shard_file(&d.set, &spec, 1)).unwrap();
    let (got, degraded) = read_range(&d.set, &spec, size, 0, size).await;
    assert!(degraded);
    assert!(got.unwrap() == data);
    // And healing that one puts the last shard back byte-identical to the original encoding.
    let again = d.set.heal(spec.clone(), size, None).await.unwrap();
    assert_eq!(again.rewritten, vec![1]);
    assert!(again.after.is_whole());
}

#[tokio::test]
async fn every_kind_of_damage_heals_on_4_plus_2() {
    let d = disks(6);
    type Hurt = fn(&Path);
    let kinds: [(&str, Hurt); 4] = [
        ("delete", |p| std::fs::remove_file(p).unwrap()),
        ("truncate", truncate),
        ("flip block byte", |p| flip(p, HEADER + 10)),
        ("flip header byte", |p| flip(p, 12)),
    ];
    let mut id = 100;
    for (name, hurt) in kinds {
        for shards in [vec![0usize], vec![3, 5], vec![1, 4]] {
            id += 1;
            let (spec, data) = setup(&d.set, 4, 2, id).await;
            for &s in &shards {
                hurt(&shard_file(&d.set, &spec, s));
            }
            let size = data.len() as u64;
            let out = d.set.heal(spec.clone(), size, None).await.unwrap();
            assert_eq!(out.before.bad_shards, shards, "{name}");
            assert_eq!(out.rewritten, shards, "{name}");
            assert!(out.after.is_whole(), "{name}: {:?}", out.after);
            assert_eq!(out.after.whole, STRIPES);
            let (got, degraded) = read_range(&d.set, &spec, size, 0, size).await;
            assert!(!degraded, "{name}: a healed blob reads without decoding");
            assert!(got.unwrap() == data, "{name}");
        }
    }
}

#[tokio::test]
async fn a_wiped_disk_is_refilled() {
    let d = disks(4);
    let mut blobs = Vec::new();
    for id in 1..=6u128 {
        blobs.push(setup(&d.set, 2, 2, 1000 + id).await);
    }
    let root = &roots(&d.set)[2];
    std::fs::remove_dir_all(root).unwrap();
    std::fs::create_dir_all(root.join("objects")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    for (spec, data) in &blobs {
        let size = data.len() as u64;
        let out = d.set.heal(spec.clone(), size, None).await.unwrap();
        assert_eq!(out.rewritten.len(), 1, "every blob had one shard on disk 2");
        assert!(out.after.is_whole());
    }
}

#[tokio::test]
async fn more_than_m_bad_is_lost_and_left_alone() {
    let d = disks(4);
    let (spec, data) = setup(&d.set, 2, 2, 9).await;
    let size = data.len() as u64;
    for s in [0, 1, 2] {
        flip(&shard_file(&d.set, &spec, s), HEADER + 2 * (BS as usize + 4) + 1);
    }
    let out = d.set.heal(spec.clone(), size, None).await.unwrap();
    assert_eq!(out.before.lost, 1, "stripe 2 has one good block of the two it needs");
    assert_eq!(out.before.whole, STRIPES - 1);
    assert!(out.rewritten.is_empty());
    assert_eq!(out.failed.len(), 3);
    assert_eq!(out.after, out.before, "nothing was touched");
    let (got, _) = read_range(&d.set, &spec, size, 0, size).await;
    assert!(got.is_err(), "a lost stripe is an error, never wrong bytes");
}

#[tokio::test]
async fn pace_sees_every_byte_and_reports_go_to_the_hook() {
    let d = disks(4);
    let (spec, data) = setup(&d.set, 2, 2, 11).await;
    let seen = Arc::new(AtomicU64::new(0));
    let s2 = seen.clone();
    let pace: Pace = Arc::new(move |n| {
        s2.fetch_add(n, Ordering::Relaxed);
    });
    let h = d.set.verify(spec.clone(), data.len() as u64, Some(pace)).await.unwrap();
    assert_eq!(seen.load(Ordering::Relaxed), h.bytes);
    assert!(h.bytes >= 4 * data.len() as u64 / 2, "k+m blocks per stripe were read");

    let reported = Arc::new(Mutex::new(Vec::new()));
    let r2 = reported.clone();
    d.set.set_damage_hook(Arc::new(move |id| r2.lock().unwrap().push(id)));
    let size = data.len() as u64;
    let _ = read_range(&d.set, &spec, size, 0, size).await;
    assert!(reported.lock().unwrap().is_empty(), "a healthy read reports nothing");
    std::fs::remove_file(shard_file(&d.set, &spec, 0)).unwrap();
    let (got, degraded) = read_range(&d.set, &spec, size, 0, size).await;
    assert!(got.unwrap() == data && degraded);
    assert_eq!(*reported.lock().unwrap(), vec![11], "a degraded read reports the blob once");
}
