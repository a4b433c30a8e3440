mod common;

use std::fs::OpenOptions;
use std::path::Path;

use cairn_erasure::{DiskSet, ErasureError, ShardSpec};
use common::*;

const BS: u32 = 64;
const HEADER: u64 = 48;

#[derive(Clone, Copy, Debug)]
enum Damage {
    Delete,
    Truncate,
    FlipDataByte,
    CorruptHeader,
}

fn damage(path: &Path, how: Damage) {
    match how {
        Damage::Delete => std::fs::remove_file(path).unwrap(),
        Damage::Truncate => {
            let len = std::fs::metadata(path).unwrap().len();
            let f = OpenOptions::new().write(true).open(path).unwrap();
            f.set_len(len / 2).unwrap();
        }
        Damage::FlipDataByte => {
            let mut b = std::fs::read(path).unwrap();
            // a byte inside the second stripe's block
            let at = (HEADER + BS as u64 + 4 + 10) as usize;
            b[at] ^= 0x01;
            std::fs::write(path, b).unwrap();
        }
        Damage::CorruptHeader => {
            let mut b = std::fs::read(path).unwrap();
            b[12] ^= 0x01; // shard index field
            std::fs::write(path, b).unwrap();
        }
    }
}

/// Writes a fresh object (7 full stripes + a short one) on the shared disks.
async fn setup(d: &Disks, k: u8, m: u8, id: u128) -> (ShardSpec, Vec<u8>) {
    let spec = spec(&d.set, k, m, BS, id);
    let size = 7 * k as usize * BS as usize + 21;
    let data = random_bytes(size, id as u64);
    write_object(&d.set, &spec, &data).await.unwrap();
    (spec, data)
}

async fn read_all(set: &DiskSet, spec: &ShardSpec, data: &[u8]) -> (Result<Vec<u8>, ErasureError>, bool) {
    read_range(set, spec, data.len() as u64, 0, data.len() as u64).await
}

#[tokio::test]
async fn one_bad_shard_of_each_kind_is_reconstructed() {
    let d = disks(6);
    let mut id = 100;
    for how in [Damage::Delete, Damage::Truncate, Damage::FlipDataByte, Damage::CorruptHeader] {
        for (k, m) in [(2u8, 2u8), (4, 2)] {
            for shard in [0usize, (k - 1) as usize] {
                id += 1;
                let (spec, data) = setup(&d, k, m, id).await;
                damage(&shard_file(&d.set, &spec, shard), how);
                let (got, degraded) = read_all(&d.set, &spec, &data).await;
                assert!(got.unwrap() == data, "{how:?} k={k} m={m} shard {shard}");
                assert!(degraded, "{how:?} k={k} m={m} shard {shard}");
                // ranges over the damaged area too
                let (part, _) = read_range(&d.set, &spec, data.len() as u64, 70, 300).await;
                assert_eq!(part.unwrap(), data[70..300]);
            }
        }
    }
}

#[tokio::test]
async fn bad_parity_shard_does_not_affect_healthy_read() {
    let d = disks(6);
    let (spec, data) = setup(&d, 2, 2, 200).await;
    damage(&shard_file(&d.set, &spec, 3), Damage::Delete);
    let (got, degraded) = read_all(&d.set, &spec, &data).await;
    assert!(got.unwrap() == data);
    assert!(!degraded, "data shards were all good, no decode needed");
}

#[tokio::test]
async fn two_bad_of_2_plus_2_still_read() {
    let combos = [
        (0, 1, Damage::Delete, Damage::FlipDataByte),
        (0, 2, Damage::Truncate, Damage::CorruptHeader),
        (1, 3, Damage::CorruptHeader, Damage::Delete),
        (0, 1, Damage::Truncate, Damage::Truncate),
    ];
    let d = disks(4);
    for (i, (a, b, ha, hb)) in combos.into_iter().enumerate() {
        let (spec, data) = setup(&d, 2, 2, 300 + i as u128).await;
        damage(&shard_file(&d.set, &spec, a), ha);
        damage(&shard_file(&d.set, &spec, b), hb);
        let (got, degraded) = read_all(&d.set, &spec, &data).await;
        assert!(got.unwrap() == data, "combo {i}");
        assert!(degraded);
    }
}

#[tokio::test]
async fn three_bad_of_2_plus_2_is_unrecoverable() {
    let d = disks(6);
    let (spec, data) = setup(&d, 2, 2, 400).await;
    damage(&shard_file(&d.set, &spec, 0), Damage::Delete);
    damage(&shard_file(&d.set, &spec, 2), Damage::CorruptHeader);
    damage(&shard_file(&d.set, &spec, 3), Damage::FlipDataByte);
    let mut r = d.set.reader(spec.clone(), data.len() as u64, 0, data.len() as u64).unwrap();
    let mut good = Vec::new();
    let err = loop {
        match r.next_chunk().await {
            Some(Ok(c)) => good.extend_from_slice(&c),
            Some(Err(e)) => break e,
            None => panic!("read finished without error"),
        }
    };
    assert!(matches!(err, ErasureError::Unrecoverable { available: 1, needed: 2, .. }), "{err:?}");
    // whatever came before the error is correct
    assert_eq!(good, data[..good.len()]);
    assert!(r.next_chunk().await.is_none());
}

#[tokio::test]
async fn flipped_byte_with_no_parity_is_an_error_not_wrong_bytes() {
    let d = disks(6);
    let (spec, data) = setup(&d, 2, 0, 500).await;
    damage(&shard_file(&d.set, &spec, 1), Damage::FlipDataByte);
    let (got, _) = read_all(&d.set, &spec, &data).await;
    assert!(matches!(got, Err(ErasureError::Unrecoverable { stripe: 1, .. })), "{got:?}");
    // stripes away from the damage still read
    let (part, _) = read_range(&d.set, &spec, data.len() as u64, 0, 2 * BS as u64).await;
    assert_eq!(part.unwrap(), data[..2 * BS as usize]);
}

#[tokio::test]
async fn wrong_object_size_makes_headers_mismatch() {
    let d = disks(6);
    let (spec, data) = setup(&d, 2, 2, 600).await;
    let (got, _) = read_range(&d.set, &spec, data.len() as u64 + 1, 0, 10).await;
    assert!(matches!(got, Err(ErasureError::Unrecoverable { .. })), "{got:?}");
}
