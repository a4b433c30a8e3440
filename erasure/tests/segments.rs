//! Segments on real disk directories: small shards packed into segment files and large ones
//! spilled to files, concurrent writers sharing syncs, a torn tail cut off at open, a failed
//! append leaving nothing, compaction freeing dead segments while every live shard (and a read
//! in flight) survives, healing a damaged record, and a wiped disk starting over. The segment
//! files are read here by their documented format (erasure/src/segment/mod.rs).

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_erasure::{DiskSet, LocalDisk, SegmentConfig, ShardDisk, ShardSpec};
use common::*;

const RECORD_HEADER: u64 = 44;
const BS: u32 = 16 << 10;

/// One record as the format describes it.
#[derive(Clone, Debug)]
struct Rec {
    path: PathBuf,
    start: u64,
    kind: u8,
    id: u128,
    shard: u16,
    len: u64,
}

impl Rec {
    fn payload_at(&self) -> u64 {
        self.start + RECORD_HEADER
    }
    fn end(&self) -> u64 {
        self.payload_at() + self.len
    }
}

fn seg_files(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

/// Every whole record of every segment of a disk, oldest first.
fn records(root: &Path) -> Vec<Rec> {
    let mut out = Vec::new();
    for path in seg_files(root) {
        let b = std::fs::read(&path).unwrap();
        let mut at = 0usize;
        while at + RECORD_HEADER as usize <= b.len() && &b[at..at + 4] == b"CSG1" {
            let h = &b[at..at + RECORD_HEADER as usize];
            let len = u32::from_le_bytes(h[24..28].try_into().unwrap()) as u64;
            out.push(Rec {
                path: path.clone(),
                start: at as u64,
                kind: h[4],
                id: u128::from_le_bytes(h[8..24].try_into().unwrap()),
                shard: u16::from_le_bytes(h[6..8].try_into().unwrap()),
                len,
            });
            at += RECORD_HEADER as usize + len as usize;
        }
    }
    out
}

/// The newest record of one shard of `spec`.
fn shard_record(roots: &[PathBuf], spec: &ShardSpec, shard: usize) -> Rec {
    let root = &roots[spec.disks[shard] as usize];
    records(root)
        .into_iter()
        .rev()
        .find(|r| r.kind == 1 && r.id == spec.id && r.shard as usize == shard)
        .unwrap_or_else(|| panic!("no record of shard {shard} of {:x}", spec.id))
}

struct Node {
    _dir: tempfile::TempDir,
    roots: Vec<PathBuf>,
    cfg: SegmentConfig,
}

impl Node {
    fn new(n: usize, cfg: SegmentConfig) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let roots = (0..n).map(|i| dir.path().join(format!("d{i}"))).collect();
        Node { _dir: dir, roots, cfg }
    }

    /// Opens the disks (again): what a restart does.
    fn open(&self) -> (DiskSet, Vec<Arc<LocalDisk>>) {
        let local: Vec<Arc<LocalDisk>> =
            self.roots.iter().map(|r| Arc::new(LocalDisk::open_with(r, self.cfg.clone()).unwrap())).collect();
        let set = DiskSet::from_disks(local.iter().map(|d| Some(d.clone() as Arc<dyn ShardDisk>)).collect());
        (set, local)
    }
}

fn cfg(max_shard: u64, segment_bytes: u64) -> SegmentConfig {
    SegmentConfig { max_shard, segment_bytes }
}

async fn read_all(set: &DiskSet, spec: &ShardSpec, len: usize) -> Vec<u8> {
    read_range(set, spec, len as u64, 0, len as u64).await.0.unwrap()
}

#[tokio::test]
async fn small_shards_go_to_segments_large_ones_to_files_and_all_survive_reopen() {
    let node = Node::new(4, cfg(256 << 10, 1 << 20));
    let (set, local) = node.open();
    let sizes = [0usize, 1, 4096, 100_000, 300_000, 2_000_000];
    let mut objects = Vec::new();
    for (i, &len) in sizes.iter().chain([90_000; 20].iter()).enumerate() {
        let spec = spec(&set, 2, 2, BS, 0x5e6_0000 + i as u128);
        let data = random_bytes(len, i as u64);
        write_object(&set, &spec, &data).await.unwrap();
        objects.push((spec, data));
    }
    for (spec, data) in &objects {
        assert_eq!(&read_all(&set, spec, data.len()).await, data);
    }
    // Only the 2 MB object (1 MB shards, over max_shard) has shard files, one per shard.
    let files: Vec<PathBuf> = node.roots.iter().flat_map(|r| files_under(&r.join("objects"))).collect();
    let big = format!("{:032x}", objects[5].0.id);
    assert_eq!(files.len(), 4, "{files:?}");
    assert!(files.iter().all(|f| f.file_name().unwrap().to_str().unwrap().starts_with(&big)));
    // 1 MiB segments: the 90 KB objects filled some, which were sealed with a hint file.
    let sealed = node.roots.iter().filter(|r| seg_files(r).len() > 1).count();
    assert!(sealed >= 1, "no disk rolled to a second segment");
    for r in &node.roots {
        for (i, seg) in seg_files(r).iter().rev().skip(1).enumerate() {
            assert!(seg.with_extension("hint").is_file(), "sealed segment {i} of {} has no hint", r.display());
        }
    }
    let shards: usize = local.iter().map(|d| d.segment_stats().unwrap().shards).sum();
    assert_eq!(shards, (objects.len() - 1) * 4);

    set.delete(&objects[3].0).await.unwrap();
    assert!(read_range(&set, &objects[3].0, 100_000, 0, 100_000).await.0.is_err());
    drop((set, local));

    let (set, local) = node.open();
    for (i, (spec, data)) in objects.iter().enumerate() {
        if i == 3 {
            assert!(read_range(&set, spec, 100_000, 0, 100_000).await.0.is_err(), "a removed shard came back");
            continue;
        }
        assert_eq!(&read_all(&set, spec, data.len()).await, data, "object {i} after reopen");
        assert!(set.verify(spec.clone(), data.len() as u64, None).await.unwrap().is_whole());
    }
    let mut listed = 0;
    for d in &local {
        d.for_each_shard(|f| {
            assert_ne!(f.id, objects[3].0.id);
            listed += 1;
        })
        .unwrap();
    }
    assert_eq!(listed, (objects.len() - 1) * 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_share_syncs() {
    let node = Node::new(4, SegmentConfig::default());
    let (set, local) = node.open();
    // Every writer streams its object, then all finish at once, as concurrent PUTs do.
    let gate = Arc::new(tokio::sync::Barrier::new(64));
    let mut tasks = Vec::new();
    for i in 0..64u128 {
        let (set, gate) = (set.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let spec = spec(&set, 2, 2, BS, 0xc0c0_0000 + i);
            let data = random_bytes(64 << 10, i as u64);
            let mut w = set.writer(spec.clone()).unwrap();
            w.write(&data).await.unwrap();
            gate.wait().await;
            w.finish().await.unwrap();
            (spec, data)
        }));
    }
    let mut done = Vec::new();
    for t in tasks {
        done.push(t.await.unwrap());
    }
    let (appended, syncs) =
        local.iter().map(|d| d.segment_stats().unwrap()).fold((0, 0), |(a, s), st| (a + st.appended, s + st.syncs));
    assert_eq!(appended, 64 * 4);
    assert!(syncs * 2 <= appended, "{syncs} syncs for {appended} records: writers did not share them");
    for (spec, data) in &done {
        assert_eq!(&read_all(&set, spec, data.len()).await, data);
    }
}

#[tokio::test]
async fn a_torn_or_corrupt_tail_is_cut_off_at_open() {
    let node = Node::new(4, SegmentConfig::default());
    let (set, _local) = node.open();
    let mut objects = Vec::new();
    for i in 0..2u128 {
        let spec = spec(&set, 2, 2, BS, 0x7041_0000 + i);
        let data = random_bytes(50_000, i as u64);
        write_object(&set, &spec, &data).await.unwrap();
        objects.push((spec, data));
    }
    drop((set, _local));
    let last = |r: &Path| records(r).pop().unwrap();
    // Disk 0: the last record torn halfway through its payload.
    let torn = last(&node.roots[0]);
    OpenOptions::new().write(true).open(&torn.path).unwrap().set_len(torn.payload_at() + torn.len / 2).unwrap();
    // Disk 1: the last record whole in length but one payload byte wrong (unwritten blocks).
    let bad = last(&node.roots[1]);
    let f = OpenOptions::new().write(true).open(&bad.path).unwrap();
    f.write_all_at(&[0xff; 1], bad.payload_at() + 1000).unwrap();
    // Disk 2: zeros after the last record (a size extended past what was written).
    let zeros = last(&node.roots[2]);
    OpenOptions::new().write(true).open(&zeros.path).unwrap().set_len(zeros.end() + 4096).unwrap();

    let (set, _local) = node.open();
    assert_eq!(std::fs::metadata(&torn.path).unwrap().len(), torn.start, "torn record cut off");
    assert_eq!(std::fs::metadata(&bad.path).unwrap().len(), bad.start, "record failing its CRC cut off");
    assert_eq!(std::fs::metadata(&zeros.path).unwrap().len(), zeros.end(), "zeros cut off, record kept");
    for (spec, data) in &objects {
        assert_eq!(&read_all(&set, spec, data.len()).await, data, "read from the remaining shards");
    }
    // The cut shards are missing, and healing puts them back.
    let mut bad_shards = 0;
    for (spec, data) in &objects {
        let out = set.heal(spec.clone(), data.len() as u64, None).await.unwrap();
        bad_shards += out.before.bad_shards.len();
        assert!(out.after.is_whole() && out.failed.is_empty(), "{out:?}");
    }
    assert_eq!(bad_shards, 2, "the torn and the corrupt record, nothing else");
}

#[tokio::test]
async fn a_failed_append_leaves_nothing_and_the_next_one_succeeds() {
    let node = Node::new(4, SegmentConfig::default());
    // Disk 0's first segment is a device that is always full: every append fails with ENOSPC.
    let segs = node.roots[0].join("segments");
    std::fs::create_dir_all(&segs).unwrap();
    std::os::unix::fs::symlink("/dev/full", segs.join("00000001.seg")).unwrap();
    let (set, local) = node.open();
    let spec1 = spec(&set, 2, 2, BS, 0xf011_0001);
    let data = random_bytes(40_000, 1);
    // Three of four shards reach the write quorum of 2+2.
    let receipt = write_object(&set, &spec1, &data).await.unwrap();
    assert_eq!(receipt.shards_written, 3);
    assert_eq!(local[0].segment_stats().unwrap().shards, 0, "nothing indexed from the failed append");
    // The failure moved disk 0 to a fresh segment file; the next write lands there.
    let spec2 = spec(&set, 2, 2, BS, 0xf011_0002);
    assert_eq!(write_object(&set, &spec2, &data).await.unwrap().shards_written, 4);
    assert_eq!(local[0].segment_stats().unwrap().shards, 1);
    assert_eq!(read_all(&set, &spec1, data.len()).await, data);
    assert_eq!(read_all(&set, &spec2, data.len()).await, data);
}

#[tokio::test]
async fn compaction_frees_dead_segments_and_keeps_every_live_shard() {
    let node = Node::new(4, cfg(1 << 20, 256 << 10));
    let (set, local) = node.open();
    let mut objects = Vec::new();
    for i in 0..48u128 {
        let spec = spec(&set, 2, 2, BS, 0xc0de_0000 + i);
        let data = random_bytes(40_000, i as u64);
        write_object(&set, &spec, &data).await.unwrap();
        objects.push((spec, data));
    }
    let (kept, gone): (Vec<_>, Vec<_>) = objects.into_iter().enumerate().partition(|(i, _)| i % 4 == 0);
    for (_, (spec, _)) in &gone {
        set.delete(spec).await.unwrap();
    }
    let before: Vec<_> = local.iter().map(|d| d.segment_stats().unwrap()).collect();
    // A read that opened a shard before compaction goes on after its segment is removed.
    let (_, (spec0, _)) = &kept[0];
    let in_flight = local[spec0.disks[0] as usize].open(spec0.id, 0).unwrap();

    let paced = std::sync::atomic::AtomicU64::new(0);
    let pace = |n: u64| {
        paced.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    };
    let mut freed = 0;
    for (d, b) in local.iter().zip(&before) {
        let r = d.compact_segments(0.5, &pace).unwrap();
        assert!(r.segments >= 2, "{r:?}");
        freed += r.freed_bytes;
        let after = d.segment_stats().unwrap();
        assert_eq!(after.live_bytes, b.live_bytes, "every live byte kept");
        assert_eq!(after.shards, 12, "{after:?}");
        assert!(after.bytes + r.freed_bytes / 2 < b.bytes, "before {b:?} after {after:?} report {r:?}");
    }
    assert!(freed > 0 && paced.load(std::sync::atomic::Ordering::Relaxed) > 0);
    let mut h = [0u8; 48];
    in_flight.read_exact_at(&mut h, 0).unwrap();
    assert_eq!(&h[..8], b"CAIRNSHD", "the reader opened before compaction still reads");
    for (_, (spec, data)) in &kept {
        assert_eq!(&read_all(&set, spec, data.len()).await, data);
    }
    // Nothing comes back at reopen: the moved records and the kept tombstones say so.
    drop((set, local, in_flight));
    let (set, local) = node.open();
    for d in &local {
        assert_eq!(d.segment_stats().unwrap().shards, 12);
    }
    for (_, (spec, data)) in &kept {
        assert!(set.verify(spec.clone(), data.len() as u64, None).await.unwrap().is_whole());
        assert_eq!(&read_all(&set, spec, data.len()).await, data);
    }
    for (_, (spec, _)) in &gone {
        assert!(read_range(&set, spec, 40_000, 0, 40_000).await.0.is_err());
    }
}

#[tokio::test]
async fn a_damaged_record_is_found_and_healed() {
    let node = Node::new(4, SegmentConfig::default());
    let (set, _local) = node.open();
    let spec = spec(&set, 2, 2, BS, 0x4ea1);
    let data = random_bytes(100_000, 9);
    write_object(&set, &spec, &data).await.unwrap();
    let rec = shard_record(&node.roots, &spec, 1);
    // A flipped bit in the second block of shard 1 (bitrot: the segment is otherwise fine).
    let f = OpenOptions::new().read(true).write(true).open(&rec.path).unwrap();
    let at = rec.payload_at() + 48 + u64::from(BS) + 4 + 10;
    let mut b = [0u8];
    f.read_exact_at(&mut b, at).unwrap();
    f.write_all_at(&[b[0] ^ 0x10], at).unwrap();

    let h = set.verify(spec.clone(), data.len() as u64, None).await.unwrap();
    assert_eq!(h.bad_shards, vec![1]);
    let out = set.heal(spec.clone(), data.len() as u64, None).await.unwrap();
    assert_eq!(out.rewritten, vec![1]);
    assert!(out.after.is_whole());
    let healed = shard_record(&node.roots, &spec, 1);
    assert!(healed.path != rec.path || healed.start > rec.start, "the healed shard is a new record");
    drop((set, _local));
    let (set, _local) = node.open();
    assert!(set.verify(spec.clone(), data.len() as u64, None).await.unwrap().is_whole(), "healed after reopen");
}

#[tokio::test]
async fn a_wiped_disk_starts_new_segments() {
    let node = Node::new(4, SegmentConfig::default());
    let (set, local) = node.open();
    let spec1 = spec(&set, 2, 2, BS, 0x3e11);
    let data = random_bytes(30_000, 3);
    write_object(&set, &spec1, &data).await.unwrap();
    std::fs::remove_dir_all(&node.roots[2]).unwrap();
    std::fs::create_dir_all(&node.roots[2]).unwrap();
    assert!(local[2].reformat_if_wiped().unwrap());
    assert_eq!(local[2].segment_stats().unwrap().shards, 0, "the wiped shards are forgotten");
    let h = set.verify(spec1.clone(), data.len() as u64, None).await.unwrap();
    assert_eq!(h.bad_shards.len(), 1);
    assert!(set.heal(spec1.clone(), data.len() as u64, None).await.unwrap().after.is_whole());
    let spec2 = spec(&set, 2, 2, BS, 0x3e12);
    write_object(&set, &spec2, &data).await.unwrap();
    drop((set, local));
    let (set, _local) = node.open();
    for s in [&spec1, &spec2] {
        assert!(set.verify(s.clone(), data.len() as u64, None).await.unwrap().is_whole());
    }
}

#[tokio::test]
async fn disks_written_before_segments_keep_their_files_readable() {
    // A disk of a node from before segments: every shard a file.
    let node = Node::new(4, cfg(0, 256 << 20));
    let (set, _local) = node.open();
    let old = spec(&set, 2, 2, BS, 0x01d);
    let old_data = random_bytes(60_000, 21);
    write_object(&set, &old, &old_data).await.unwrap();
    let gone = spec(&set, 2, 2, BS, 0x01e);
    write_object(&set, &gone, &old_data).await.unwrap();
    drop((set, _local));
    assert_eq!(node.roots.iter().map(|r| files_under(&r.join("objects")).len()).sum::<usize>(), 8);

    // The same disks opened by a node with segments: old files read, heal and delete as
    // before, and new shards go to segments.
    let node = Node { cfg: SegmentConfig::default(), ..node };
    let (set, local) = node.open();
    assert_eq!(read_all(&set, &old, old_data.len()).await, old_data);
    set.delete(&gone).await.unwrap();
    assert_eq!(node.roots.iter().map(|r| files_under(&r.join("objects")).len()).sum::<usize>(), 4);
    let victim = node.roots[old.disks[2] as usize]
        .join("objects")
        .join(&format!("{:032x}", old.id)[..2])
        .join(format!("{:032x}.2", old.id));
    std::fs::remove_file(&victim).unwrap();
    let out = set.heal(old.clone(), old_data.len() as u64, None).await.unwrap();
    assert_eq!(out.rewritten, vec![2]);
    assert!(out.after.is_whole());
    assert_eq!(shard_record(&node.roots, &old, 2).len, victim_len(&old_data), "the healed shard is a segment record");
    let new = spec(&set, 2, 2, BS, 0x01f);
    write_object(&set, &new, &old_data).await.unwrap();
    assert_eq!(local.iter().map(|d| d.segment_stats().unwrap().shards).sum::<usize>(), 5);
    assert_eq!(read_all(&set, &new, old_data.len()).await, old_data);
}

/// Bytes of one shard of a 2+2 object of `data`: header, then blocks of BS and their CRCs.
fn victim_len(data: &[u8]) -> u64 {
    let per_shard = data.len().div_ceil(2) as u64;
    let blocks = per_shard.div_ceil(u64::from(BS));
    // The last block is rounded up to even bytes; 60,000 / 2 leaves whole blocks and an even rest.
    48 + per_shard + 4 * blocks
}
