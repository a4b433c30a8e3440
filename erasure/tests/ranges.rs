mod common;

use common::*;

const BS: u32 = 32;

#[tokio::test]
async fn range_reads_at_many_offsets() {
    for (k, m) in [(2u8, 2u8), (4, 2), (1, 0), (2, 0)] {
        let d = disks(6);
        let spec = spec(&d.set, k, m, BS, 0x5151 + k as u128);
        let stripe = k as u64 * BS as u64;
        let size = 4 * stripe + stripe / 2 + 3;
        let data = random_bytes(size as usize, 42);
        write_object(&d.set, &spec, &data).await.unwrap();

        let mut points: Vec<u64> = vec![0, 1, size - 2, size - 1, size];
        for s in 0..=5 {
            for delta in [-2i64, -1, 0, 1, 2] {
                let p = (s * stripe) as i64 + delta;
                if (0..=size as i64).contains(&p) {
                    points.push(p as u64);
                }
            }
            // inside a stripe, across block boundaries
            for b in 1..k as u64 {
                points.push((s * stripe + b * BS as u64).min(size));
            }
        }
        points.sort_unstable();
        points.dedup();
        for &start in &points {
            for &end in points.iter().filter(|&&e| e >= start) {
                let (got, degraded) = read_range(&d.set, &spec, size, start, end).await;
                let got = got.unwrap();
                assert!(!degraded);
                assert!(got == data[start as usize..end as usize], "k={k} m={m} range {start}..{end}");
            }
        }
        // single bytes everywhere, including the last byte
        for start in 0..size {
            let (got, _) = read_range(&d.set, &spec, size, start, start + 1).await;
            assert_eq!(got.unwrap(), vec![data[start as usize]], "byte {start}");
        }
    }
}

#[tokio::test]
async fn range_read_touches_only_overlapping_stripes() {
    let d = disks(4);
    let spec = spec(&d.set, 2, 2, BS, 77);
    let stripe = 2 * BS as u64;
    let size = 6 * stripe;
    let data = random_bytes(size as usize, 9);
    write_object(&d.set, &spec, &data).await.unwrap();
    // Corrupt stripe 0 on every shard: a read of later stripes must not notice.
    for i in 0..4 {
        let p = shard_file(&d.set, &spec, i);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[48] ^= 0xff;
        std::fs::write(&p, bytes).unwrap();
    }
    let (got, degraded) = read_range(&d.set, &spec, size, stripe + 3, 3 * stripe + 1).await;
    assert_eq!(got.unwrap(), data[(stripe + 3) as usize..(3 * stripe + 1) as usize]);
    assert!(!degraded);
    let mut r = d.set.reader(spec, size, 0, size).unwrap();
    assert!(matches!(r.next_chunk().await, Some(Err(cairn_erasure::ErasureError::Unrecoverable { stripe: 0, .. }))));
    assert!(r.next_chunk().await.is_none());
}
