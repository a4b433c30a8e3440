#![allow(dead_code)]

use std::path::PathBuf;

use cairn_erasure::{DiskSet, ErasureError, SegmentConfig, ShardSpec, WriteReceipt};
use rand::{Rng, RngCore, SeedableRng};

pub struct Disks {
    pub _dir: tempfile::TempDir,
    pub set: DiskSet,
}

/// Disks that keep every shard as a file of its own (segments off): the suites that damage,
/// count and time shard files by name. Segments have their own suite (segments.rs).
pub fn disks(n: usize) -> Disks {
    disks_with(n, SegmentConfig { max_shard: 0, ..Default::default() })
}

pub fn disks_with(n: usize, cfg: SegmentConfig) -> Disks {
    let dir = tempfile::tempdir().unwrap();
    let roots: Vec<PathBuf> = (0..n).map(|i| dir.path().join(format!("d{i}"))).collect();
    let set = DiskSet::open_with(&roots, cfg).unwrap();
    Disks { _dir: dir, set }
}

pub fn spec(set: &DiskSet, k: u8, m: u8, block_size: u32, id: u128) -> ShardSpec {
    ShardSpec {
        id,
        data_shards: k,
        parity_shards: m,
        block_size,
        disks: set.placement(id as u64, (k + m) as usize).unwrap(),
    }
}

pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

/// Writes `data` in randomly sized pieces, so stripe boundaries fall mid-buffer.
pub async fn write_object(set: &DiskSet, spec: &ShardSpec, data: &[u8]) -> Result<WriteReceipt, ErasureError> {
    let mut w = set.writer(spec.clone())?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(data.len() as u64);
    let mut rest = data;
    while !rest.is_empty() {
        let n = rng.gen_range(1..=rest.len().min(3 * spec.block_size as usize + 7));
        w.write(&rest[..n]).await?;
        rest = &rest[n..];
    }
    w.finish().await
}

pub async fn read_range(
    set: &DiskSet,
    spec: &ShardSpec,
    size: u64,
    start: u64,
    end: u64,
) -> (Result<Vec<u8>, ErasureError>, bool) {
    let mut r = match set.reader(spec.clone(), size, start, end) {
        Ok(r) => r,
        Err(e) => return (Err(e), false),
    };
    let max_chunk = spec.data_shards as usize * spec.block_size as usize;
    let mut out = Vec::new();
    while let Some(chunk) = r.next_chunk().await {
        match chunk {
            Ok(c) => {
                assert!(!c.is_empty() && c.len() <= max_chunk, "chunk of {} bytes", c.len());
                out.extend_from_slice(&c);
            }
            Err(e) => return (Err(e), r.degraded()),
        }
    }
    (Ok(out), r.degraded())
}

/// The directory of each disk, by disk index; every disk of these tests is local.
pub fn roots(set: &DiskSet) -> Vec<PathBuf> {
    let usage = set.usage();
    assert!(usage.iter().enumerate().all(|(i, u)| u.index == i), "{usage:?}");
    usage.into_iter().map(|u| u.root).collect()
}

pub fn shard_file(set: &DiskSet, spec: &ShardSpec, shard: usize) -> PathBuf {
    let hex = format!("{:032x}", spec.id);
    roots(set)[spec.disks[shard] as usize].join("objects").join(&hex[..2]).join(format!("{hex}.{shard}"))
}

/// Every regular file under `dir` (recursively).
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        // The disk's format marker is not shard data.
        if e.file_name() == ".cairn-disk" {
            continue;
        }
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub fn all_files(set: &DiskSet) -> Vec<PathBuf> {
    roots(set).iter().flat_map(|r| files_under(r)).collect()
}

pub fn tmp_files(set: &DiskSet) -> Vec<PathBuf> {
    roots(set).iter().flat_map(|r| files_under(&r.join("tmp"))).collect()
}
