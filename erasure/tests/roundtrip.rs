mod common;

use common::*;
use futures::StreamExt;

const BS: u32 = 64;

async fn round_trip(d: &Disks, k: u8, m: u8, size: usize, block_size: u32) {
    let id = rand::random::<u128>();
    let spec = spec(&d.set, k, m, block_size, id);
    let data = random_bytes(size, size as u64 + k as u64);
    let receipt = write_object(&d.set, &spec, &data).await.unwrap();
    assert_eq!(receipt.size, size as u64);
    assert_eq!(receipt.shards_written, (k + m) as usize);
    assert!(tmp_files(&d.set).is_empty());
    for i in 0..(k + m) as usize {
        assert!(shard_file(&d.set, &spec, i).is_file(), "shard {i}");
    }
    let (got, degraded) = read_range(&d.set, &spec, size as u64, 0, size as u64).await;
    let got = got.unwrap();
    assert!(!degraded);
    assert_eq!(got.len(), data.len(), "k={k} m={m} size={size}");
    assert!(got == data, "k={k} m={m} size={size}: bytes differ");
}

#[tokio::test]
async fn round_trips_all_sizes_and_codes() {
    let d = disks(6);
    for (k, m) in [(2u8, 2u8), (4, 2), (1, 0), (2, 0)] {
        let stripe = k as usize * BS as usize;
        for size in [
            0,
            1,
            BS as usize - 1,
            BS as usize,
            stripe - 1,
            stripe,
            stripe + 1,
            3 * stripe,
            5 * stripe + 3,
            5 * stripe + stripe / 2 + 1,
        ] {
            round_trip(&d, k, m, size, BS).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_a_few_mib() {
    let d = disks(6);
    for (k, m) in [(2u8, 2u8), (4, 2), (1, 0), (2, 0)] {
        round_trip(&d, k, m, 3 * 1024 * 1024 + 12_345, 64 * 1024).await;
    }
    round_trip(&d, 4, 2, 4 * 1024 * 1024, 512 * 1024).await;
}

/// Shards past `WRITEBACK_EVERY` have their writeback started while they are written (several
/// times for each shard here, at offsets that are not block boundaries): the bytes read back
/// are the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_shards_larger_than_the_writeback_step() {
    let d = disks(4);
    let size = 5 * cairn_erasure::WRITEBACK_EVERY as usize + 777_777;
    round_trip(&d, 2, 2, size, 256 * 1024 + 2).await;
}

#[tokio::test]
async fn shard_files_have_expected_length() {
    let d = disks(4);
    let spec = spec(&d.set, 2, 2, BS, 7);
    let size = 2 * 2 * BS as usize + 5; // two full stripes + 5 bytes -> tail block 4 (3 rounded to even)
    write_object(&d.set, &spec, &random_bytes(size, 1)).await.unwrap();
    for i in 0..4 {
        let len = std::fs::metadata(shard_file(&d.set, &spec, i)).unwrap().len();
        assert_eq!(len, 48 + 2 * (BS as u64 + 4) + 4 + 4, "shard {i}");
    }
    let empty = spec_with_id(&d.set, 8);
    write_object(&d.set, &empty, &[]).await.unwrap();
    for i in 0..4 {
        let len = std::fs::metadata(shard_file(&d.set, &empty, i)).unwrap().len();
        assert_eq!(len, 48, "empty object shard {i} holds just the header");
    }
}

fn spec_with_id(set: &cairn_erasure::DiskSet, id: u128) -> cairn_erasure::ShardSpec {
    spec(set, 2, 2, BS, id)
}

#[tokio::test]
async fn empty_object_reads_no_chunks() {
    let d = disks(4);
    let spec = spec(&d.set, 2, 2, BS, 9);
    let w = d.set.writer(spec.clone()).unwrap();
    let r = w.finish().await.unwrap();
    assert_eq!(r.size, 0);
    assert_eq!(r.shards_written, 4);
    let mut reader = d.set.reader(spec, 0, 0, 0).unwrap();
    assert!(reader.next_chunk().await.is_none());
    assert!(reader.next_chunk().await.is_none());
}

#[tokio::test]
async fn stream_yields_the_object() {
    let d = disks(6);
    let spec = spec(&d.set, 4, 2, BS, 10);
    let data = random_bytes(10 * 4 * BS as usize + 17, 3);
    write_object(&d.set, &spec, &data).await.unwrap();
    let reader = d.set.reader(spec, data.len() as u64, 0, data.len() as u64).unwrap();
    let stream = reader.into_stream();
    fn assert_send_static<T: Send + 'static>(_: &T) {}
    assert_send_static(&stream);
    let chunks: Vec<_> = stream.collect().await;
    let got: Vec<u8> = chunks.into_iter().flat_map(|c| c.unwrap()).collect();
    assert!(got == data);
}

#[test]
fn handles_are_send_and_static() {
    fn check<T: Send + 'static>() {}
    check::<cairn_erasure::ShardWriter>();
    check::<cairn_erasure::ShardReader>();
    check::<cairn_erasure::DiskSet>();
}

#[test]
fn placement_rotates_by_hash() {
    let d = disks(5);
    assert_eq!(d.set.placement(0, 3).unwrap(), vec![0, 1, 2]);
    assert_eq!(d.set.placement(7, 4).unwrap(), vec![2, 3, 4, 0]);
    assert_eq!(d.set.placement(u64::MAX, 5).unwrap(), d.set.placement(u64::MAX, 5).unwrap());
    assert!(d.set.placement(1, 6).is_err());
}

#[test]
fn invalid_specs_are_rejected() {
    let d = disks(4);
    let good = spec(&d.set, 2, 2, BS, 1);
    let mut odd = good.clone();
    odd.block_size = 63;
    assert!(d.set.writer(odd).is_err());
    let mut no_data = good.clone();
    no_data.data_shards = 0;
    no_data.disks = vec![0, 1];
    assert!(d.set.writer(no_data).is_err());
    let mut short = good.clone();
    short.disks.pop();
    assert!(d.set.writer(short).is_err());
    let mut far = good.clone();
    far.disks[0] = 9;
    assert!(d.set.writer(far).is_err());
    assert!(d.set.reader(good.clone(), 10, 5, 11).is_err());
    assert!(d.set.reader(good, 10, 6, 5).is_err());
}

#[tokio::test]
async fn open_clears_stale_temp_files() {
    let d = disks(2);
    let stale = roots(&d.set)[1].join("tmp").join("leftover.0");
    std::fs::write(&stale, b"x").unwrap();
    let again = cairn_erasure::DiskSet::open(&roots(&d.set)).unwrap();
    assert!(!stale.exists());
    assert_eq!(again.len(), 2);
}
