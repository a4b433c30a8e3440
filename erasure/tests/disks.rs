//! The erasure code reaches shards only through `ShardDisk`: a wrapper around a real
//! `LocalDisk` injects faults the way a remote disk could fail, and tables with absent
//! entries stand for unreachable nodes.

mod common;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use cairn_erasure::{
    DiskSet, DiskUsage, ErasureError, LocalDisk, SegmentConfig, ShardDisk, ShardFileReader, ShardFileWriter, ShardSpec,
    HEADER_LEN,
};
use common::*;

const BS: u32 = 64;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Commit {
    Works,
    /// Fails before anything reaches the final name; the temp file stays behind.
    FailsBefore,
    /// The shard is renamed into place, then an error is reported (e.g. the directory fsync).
    FailsAfter,
}

#[derive(Debug)]
struct Faults {
    fail_create: AtomicBool,
    /// Appends each shard file accepts before failing.
    append_limit: AtomicUsize,
    commit: AtomicU8,
    commit_delay_ms: AtomicU64,
    fail_open: AtomicBool,
    /// Block reads at or past this offset fail.
    fail_reads_from: AtomicU64,
    /// Block reads return a flipped byte, as a disk or link corrupting data would.
    corrupt_reads: AtomicBool,
    /// Reported by `is_local`: a disk of this process rather than of a peer.
    local: AtomicBool,
    creates: AtomicUsize,
    appends: AtomicUsize,
    commits_begun: AtomicUsize,
    commits: AtomicUsize,
    aborts: AtomicUsize,
    block_reads: AtomicUsize,
}

#[derive(Debug)]
struct FaultyDisk {
    inner: LocalDisk,
    faults: Arc<Faults>,
}

impl FaultyDisk {
    fn open(root: &Path) -> Arc<FaultyDisk> {
        Arc::new(FaultyDisk {
            inner: LocalDisk::open_with(root, SegmentConfig { max_shard: 0, ..Default::default() }).unwrap(),
            faults: Arc::new(Faults {
                fail_create: AtomicBool::new(false),
                append_limit: AtomicUsize::new(usize::MAX),
                commit: AtomicU8::new(Commit::Works as u8),
                commit_delay_ms: AtomicU64::new(0),
                fail_open: AtomicBool::new(false),
                fail_reads_from: AtomicU64::new(u64::MAX),
                corrupt_reads: AtomicBool::new(false),
                local: AtomicBool::new(false),
                creates: AtomicUsize::new(0),
                appends: AtomicUsize::new(0),
                commits_begun: AtomicUsize::new(0),
                commits: AtomicUsize::new(0),
                aborts: AtomicUsize::new(0),
                block_reads: AtomicUsize::new(0),
            }),
        })
    }

    fn f(&self) -> &Faults {
        &self.faults
    }

    fn heal(&self) {
        let f = self.f();
        f.fail_create.store(false, SeqCst);
        f.append_limit.store(usize::MAX, SeqCst);
        f.commit.store(Commit::Works as u8, SeqCst);
        f.commit_delay_ms.store(0, SeqCst);
        f.fail_open.store(false, SeqCst);
        f.fail_reads_from.store(u64::MAX, SeqCst);
        f.corrupt_reads.store(false, SeqCst);
    }
}

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected fault: {what}"))
}

impl ShardDisk for FaultyDisk {
    fn create(&self, id: u128, shard: usize) -> io::Result<Box<dyn ShardFileWriter>> {
        self.f().creates.fetch_add(1, SeqCst);
        if self.f().fail_create.load(SeqCst) {
            return Err(injected("create"));
        }
        let inner = self.inner.create(id, shard)?;
        Ok(Box::new(FaultyWriter { inner, faults: self.faults.clone(), appended: 0 }))
    }

    fn open(&self, id: u128, shard: usize) -> io::Result<Box<dyn ShardFileReader>> {
        if self.f().fail_open.load(SeqCst) {
            return Err(injected("open"));
        }
        Ok(Box::new(FaultyReader { inner: self.inner.open(id, shard)?, faults: self.faults.clone() }))
    }

    fn remove(&self, id: u128, shard: usize) -> io::Result<()> {
        self.inner.remove(id, shard)
    }

    fn is_online(&self) -> bool {
        !self.f().fail_create.load(SeqCst) && self.inner.is_online()
    }

    fn local_usage(&self) -> Option<DiskUsage> {
        self.inner.local_usage()
    }

    fn is_local(&self) -> bool {
        self.f().local.load(SeqCst)
    }
}

struct FaultyWriter {
    inner: Box<dyn ShardFileWriter>,
    faults: Arc<Faults>,
    appended: usize,
}

impl ShardFileWriter for FaultyWriter {
    fn append(&mut self, block: &[u8], crc: [u8; 4]) -> io::Result<()> {
        if self.appended >= self.faults.append_limit.load(SeqCst) {
            return Err(injected("append"));
        }
        self.inner.append(block, crc)?;
        self.appended += 1;
        self.faults.appends.fetch_add(1, SeqCst);
        Ok(())
    }

    fn commit(self: Box<Self>, header: &[u8; HEADER_LEN]) -> io::Result<()> {
        self.faults.commits_begun.fetch_add(1, SeqCst);
        std::thread::sleep(Duration::from_millis(self.faults.commit_delay_ms.load(SeqCst)));
        let mode = self.faults.commit.load(SeqCst);
        if mode == Commit::FailsBefore as u8 {
            // The inner writer is dropped without abort, as a lost connection would leave it.
            return Err(injected("commit"));
        }
        self.inner.commit(header)?;
        if mode == Commit::FailsAfter as u8 {
            return Err(injected("commit after rename"));
        }
        self.faults.commits.fetch_add(1, SeqCst);
        Ok(())
    }

    fn abort(self: Box<Self>) {
        self.faults.aborts.fetch_add(1, SeqCst);
        self.inner.abort();
    }
}

struct FaultyReader {
    inner: Box<dyn ShardFileReader>,
    faults: Arc<Faults>,
}

impl ShardFileReader for FaultyReader {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.read_exact_at(buf, offset)
    }

    fn read_block(&self, offset: u64, block: &mut [u8], crc: &mut [u8; 4]) -> io::Result<()> {
        self.faults.block_reads.fetch_add(1, SeqCst);
        if offset >= self.faults.fail_reads_from.load(SeqCst) {
            return Err(injected("read_block"));
        }
        self.inner.read_block(offset, block, crc)?;
        if self.faults.corrupt_reads.load(SeqCst) {
            block[block.len() / 2] ^= 0x40;
        }
        Ok(())
    }
}

struct Cluster {
    _dir: tempfile::TempDir,
    disks: Vec<Arc<FaultyDisk>>,
    set: DiskSet,
}

fn cluster(n: usize) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let disks: Vec<_> = (0..n).map(|i| FaultyDisk::open(&dir.path().join(format!("d{i}")))).collect();
    let set = DiskSet::from_disks(table(&disks));
    Cluster { _dir: dir, disks, set }
}

fn table(disks: &[Arc<FaultyDisk>]) -> Vec<Option<Arc<dyn ShardDisk>>> {
    disks.iter().map(|d| Some(d.clone() as Arc<dyn ShardDisk>)).collect()
}

impl Cluster {
    /// The disk holding shard `shard` of `spec`.
    fn of(&self, spec: &ShardSpec, shard: usize) -> &FaultyDisk {
        &self.disks[spec.disks[shard] as usize]
    }

    fn heal(&self) {
        self.disks.iter().for_each(|d| d.heal());
    }

    fn roots(&self) -> Vec<PathBuf> {
        self.disks.iter().map(|d| d.inner.root().to_path_buf()).collect()
    }

    fn tmp_files(&self) -> Vec<PathBuf> {
        self.roots().iter().flat_map(|r| files_under(&r.join("tmp"))).collect()
    }

    fn all_files(&self) -> Vec<PathBuf> {
        self.roots().iter().flat_map(|r| files_under(r)).collect()
    }

    /// Files of shard `shard` of `spec` on its disk, under the final or the temp name.
    fn files_of(&self, spec: &ShardSpec, shard: usize) -> Vec<PathBuf> {
        let name = format!("{:032x}.{shard}", spec.id);
        files_under(self.of(spec, shard).inner.root())
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| *n == *name))
            .collect()
    }

    async fn wait_until_empty(&self) {
        for _ in 0..500 {
            if self.all_files().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("files left behind: {:?}", self.all_files());
    }
}

#[derive(Clone, Copy, Debug)]
enum WriteFault {
    Create,
    /// Fails the append after this many blocks.
    AppendAfter(usize),
    Commit(Commit),
}

fn inject_write(disk: &FaultyDisk, fault: WriteFault) {
    match fault {
        WriteFault::Create => disk.f().fail_create.store(true, SeqCst),
        WriteFault::AppendAfter(n) => disk.f().append_limit.store(n, SeqCst),
        WriteFault::Commit(c) => disk.f().commit.store(c as u8, SeqCst),
    }
}

const WRITE_FAULTS: [WriteFault; 5] = [
    WriteFault::Create,
    WriteFault::AppendAfter(0),
    WriteFault::AppendAfter(3),
    WriteFault::Commit(Commit::FailsBefore),
    WriteFault::Commit(Commit::FailsAfter),
];

/// 5 full stripes and a short one: 6 blocks per shard.
fn object_for(k: u8, seed: u64) -> Vec<u8> {
    random_bytes(5 * k as usize * BS as usize + 37, seed)
}

#[tokio::test]
async fn writes_survive_faults_the_quorum_tolerates() {
    // 3+3 needs 4 durable shards: any two disks may fail, in any way.
    let c = cluster(6);
    let mut id = 0x1000;
    for (a, b) in [(0usize, 4usize), (1, 2), (3, 5)] {
        for fa in WRITE_FAULTS {
            for fb in WRITE_FAULTS {
                id += 1;
                let spec = spec(&c.set, 3, 3, BS, id);
                let data = object_for(3, id as u64);
                inject_write(c.of(&spec, a), fa);
                inject_write(c.of(&spec, b), fb);
                let case = format!("shards {a}:{fa:?} {b}:{fb:?}");
                let receipt = write_object(&c.set, &spec, &data).await.unwrap_or_else(|e| panic!("{case}: {e}"));
                assert_eq!(receipt.shards_written, 4, "{case}");
                assert_eq!(receipt.size, data.len() as u64, "{case}");
                c.heal();
                assert!(c.tmp_files().is_empty(), "{case}: {:?}", c.tmp_files());
                for shard in 0..6 {
                    let files = c.files_of(&spec, shard);
                    let failed = shard == a || shard == b;
                    assert_eq!(files.len(), usize::from(!failed), "{case}: shard {shard}: {files:?}");
                }
                let (got, degraded) = read_range(&c.set, &spec, data.len() as u64, 0, data.len() as u64).await;
                assert!(got.unwrap() == data, "{case}");
                assert_eq!(degraded, a < 3, "{case}");
            }
        }
    }
}

#[tokio::test]
async fn writes_beyond_the_quorum_fail_and_leave_nothing() {
    use self::Commit::{FailsAfter, FailsBefore};
    use WriteFault::*;
    let cases: [[WriteFault; 3]; 6] = [
        [Create, Create, Create],
        [AppendAfter(0), AppendAfter(2), AppendAfter(5)],
        [Create, AppendAfter(1), Commit(FailsBefore)],
        [Commit(FailsBefore), Commit(FailsAfter), Commit(FailsAfter)],
        [Commit(FailsAfter), Commit(FailsAfter), Commit(FailsAfter)],
        [AppendAfter(5), Commit(FailsAfter), Create],
    ];
    let c = cluster(6);
    for (i, faults) in cases.into_iter().enumerate() {
        let spec = spec(&c.set, 3, 3, BS, 0x2000 + i as u128);
        for (shard, fault) in [0, 2, 5].into_iter().zip(faults) {
            inject_write(c.of(&spec, shard), fault);
        }
        let res = write_object(&c.set, &spec, &object_for(3, i as u64)).await;
        assert!(matches!(res, Err(ErasureError::Quorum { written: 3, needed: 4, .. })), "{faults:?}: {res:?}");
        // A write() that fails drops the writer, whose cleanup then runs in the background.
        c.wait_until_empty().await;
        c.heal();
    }
}

#[tokio::test]
async fn every_block_goes_through_the_trait() {
    let c = cluster(4);
    let spec = spec(&c.set, 2, 2, BS, 0x2500);
    let data = object_for(2, 1);
    write_object(&c.set, &spec, &data).await.unwrap();
    let sum = |f: fn(&Faults) -> &AtomicUsize| c.disks.iter().map(|d| f(d.f()).load(SeqCst)).sum::<usize>();
    assert_eq!(sum(|f| &f.creates), 4);
    assert_eq!(sum(|f| &f.appends), 4 * 6);
    assert_eq!(sum(|f| &f.commits), 4);
    assert_eq!(sum(|f| &f.aborts), 0);
    let (got, _) = read_range(&c.set, &spec, data.len() as u64, 0, data.len() as u64).await;
    assert!(got.unwrap() == data);
    assert_eq!(sum(|f| &f.block_reads), 2 * 6, "a healthy read touches data shards only");
}

/// A node holding parity blocks of an object whose data blocks are on peers reads its own
/// parity and decodes, rather than fetching the data blocks; a damaged local parity block
/// sends the read back to the remote data (and reports the damage); a part of one block is
/// still read from its data shard.
#[tokio::test]
async fn whole_stripes_read_local_parity_instead_of_remote_data() {
    let c = cluster(4);
    let spec = spec(&c.set, 2, 2, BS, 0x2600);
    let data = object_for(2, 2);
    let size = data.len() as u64;
    write_object(&c.set, &spec, &data).await.unwrap();
    let reads = |shard: usize| c.of(&spec, shard).f().block_reads.load(SeqCst);
    let mark = |shards: &[usize]| {
        for s in 0..4 {
            c.of(&spec, s).f().local.store(shards.contains(&s), SeqCst);
        }
    };
    let before = |shards: [usize; 4]| shards.map(reads);

    // Both parity shards here, both data shards remote: every stripe (the short last one
    // too, spread over both blocks) comes from parity alone.
    mark(&[2, 3]);
    let was = before([0, 1, 2, 3]);
    let (got, degraded) = read_range(&c.set, &spec, size, 0, size).await;
    assert!(got.unwrap() == data);
    assert!(!degraded, "a parity read by choice is not damage");
    let now = before([0, 1, 2, 3]);
    assert_eq!([now[0] - was[0], now[1] - was[1]], [0, 0], "no remote data read");
    assert_eq!([now[2] - was[2], now[3] - was[3]], [6, 6]);

    // One data and one parity shard here: the parity block stands in for the remote data.
    mark(&[1, 2]);
    let was = before([0, 1, 2, 3]);
    let (got, degraded) = read_range(&c.set, &spec, size, 0, size).await;
    assert!(got.unwrap() == data);
    assert!(!degraded);
    let now = before([0, 1, 2, 3]);
    assert_eq!([now[0] - was[0], now[1] - was[1], now[2] - was[2]], [0, 6, 6]);
    assert_eq!(now[3] - was[3], 0, "remote parity never read");

    // All data shards here: nothing changes.
    mark(&[0, 1]);
    let was = before([0, 1, 2, 3]);
    let (got, _) = read_range(&c.set, &spec, size, 0, size).await;
    assert!(got.unwrap() == data);
    let now = before([0, 1, 2, 3]);
    assert_eq!([now[2] - was[2], now[3] - was[3]], [0, 0], "no parity read when the data is local");

    // Local parity corrupt: the remote data is read after all, and the damage reported.
    mark(&[2, 3]);
    c.of(&spec, 2).f().corrupt_reads.store(true, SeqCst);
    let was = before([0, 1, 2, 3]);
    let (got, degraded) = read_range(&c.set, &spec, size, 0, size).await;
    assert!(got.unwrap() == data);
    assert!(degraded, "a damaged local parity block is reported");
    let now = before([0, 1, 2, 3]);
    let remote_data = now[0] - was[0] + now[1] - was[1];
    assert_eq!(remote_data, 6, "one remote data block a stripe, for the parity that failed");
    c.heal();

    // Part of one block: read from its data shard, as before.
    mark(&[2, 3]);
    let was = before([0, 1, 2, 3]);
    let (part, degraded) = read_range(&c.set, &spec, size, 3, 40).await;
    assert_eq!(part.unwrap(), data[3..40]);
    assert!(!degraded);
    let now = before([0, 1, 2, 3]);
    assert_eq!([now[0] - was[0], now[2] - was[2], now[3] - was[3]], [1, 0, 0]);
}

#[derive(Clone, Copy, Debug)]
enum ReadFault {
    Open,
    ReadBlock,
    Corrupt,
    /// Reads fail from the fourth stripe on.
    ReadBlockFromStripe3,
}

fn inject_read(disk: &FaultyDisk, fault: ReadFault) {
    match fault {
        ReadFault::Open => disk.f().fail_open.store(true, SeqCst),
        ReadFault::ReadBlock => disk.f().fail_reads_from.store(0, SeqCst),
        ReadFault::Corrupt => disk.f().corrupt_reads.store(true, SeqCst),
        ReadFault::ReadBlockFromStripe3 => {
            disk.f().fail_reads_from.store(HEADER_LEN as u64 + 3 * (BS as u64 + 4), SeqCst)
        }
    }
}

#[tokio::test]
async fn reads_survive_up_to_m_failing_disks() {
    use ReadFault::*;
    let cases: Vec<Vec<(usize, ReadFault)>> = vec![
        vec![(0, Open)],
        vec![(1, ReadBlock)],
        vec![(2, Corrupt)],
        vec![(4, Corrupt)],
        vec![(0, Open), (1, ReadBlock)],
        vec![(0, Corrupt), (3, ReadBlock)],
        vec![(0, Open), (1, Corrupt), (2, ReadBlock)],
        vec![(2, ReadBlockFromStripe3), (3, Open), (5, Corrupt)],
        vec![(0, Corrupt), (1, Corrupt), (2, Corrupt)],
    ];
    let c = cluster(6);
    let spec = spec(&c.set, 3, 3, BS, 0x3000);
    let data = object_for(3, 3);
    let size = data.len() as u64;
    write_object(&c.set, &spec, &data).await.unwrap();
    for faults in cases {
        for &(shard, fault) in &faults {
            inject_read(c.of(&spec, shard), fault);
        }
        let (got, degraded) = read_range(&c.set, &spec, size, 0, size).await;
        assert!(got.unwrap() == data, "{faults:?}");
        assert_eq!(degraded, faults.iter().any(|&(shard, _)| shard < 3), "{faults:?}");
        for (start, end) in [(0, 1), (70, 300), (size - 100, size)] {
            let (part, _) = read_range(&c.set, &spec, size, start, end).await;
            assert_eq!(part.unwrap(), data[start as usize..end as usize], "{faults:?} {start}..{end}");
        }
        c.heal();
    }
}

#[tokio::test]
async fn reads_beyond_m_failing_disks_error_and_never_return_wrong_bytes() {
    use ReadFault::*;
    // Each with the number of stripes that still read before the failures exceed m.
    let cases: Vec<(Vec<(usize, ReadFault)>, usize)> = vec![
        (vec![(0, Open), (1, Open), (2, Open), (3, Open)], 0),
        (vec![(0, Corrupt), (1, Corrupt), (4, Corrupt), (5, Corrupt)], 0),
        (vec![(0, ReadBlockFromStripe3), (2, Corrupt), (3, Open), (4, ReadBlock)], 3),
        (vec![(0, ReadBlockFromStripe3), (1, ReadBlockFromStripe3), (3, ReadBlock), (5, Corrupt)], 3),
    ];
    let c = cluster(6);
    let spec = spec(&c.set, 3, 3, BS, 0x3100);
    let data = object_for(3, 4);
    write_object(&c.set, &spec, &data).await.unwrap();
    for (faults, good_stripes) in cases {
        for &(shard, fault) in &faults {
            inject_read(c.of(&spec, shard), fault);
        }
        let mut r = c.set.reader(spec.clone(), data.len() as u64, 0, data.len() as u64).unwrap();
        let mut good = Vec::new();
        let err = loop {
            match r.next_chunk().await {
                Some(Ok(chunk)) => good.extend_from_slice(&chunk),
                Some(Err(e)) => break e,
                None => panic!("{faults:?}: read finished without error"),
            }
        };
        assert!(matches!(err, ErasureError::Unrecoverable { needed: 3, .. }), "{faults:?}: {err:?}");
        assert_eq!(good.len(), good_stripes * 3 * BS as usize, "{faults:?}");
        assert_eq!(good, data[..good.len()], "{faults:?}");
        assert!(r.next_chunk().await.is_none());
        c.heal();
    }
}

#[tokio::test]
async fn an_absent_disk_is_a_dead_disk() {
    let c = cluster(6);
    let mut with_gap = table(&c.disks);
    with_gap[2] = None;
    let set = DiskSet::from_disks(with_gap);
    assert_eq!(set.len(), 6);
    assert!(set.disk(2).is_none() && set.disk(1).is_some() && set.disk(6).is_none());
    assert!(!set.is_online(2) && set.is_online(1) && !set.is_online(6));
    let usage: Vec<usize> = set.usage().iter().map(|u| u.index).collect();
    assert_eq!(usage, [0, 1, 3, 4, 5]);

    let spec = spec(&set, 3, 3, BS, 0x4000);
    let on_gap = spec.disks.iter().position(|&d| d == 2).unwrap();
    let data = object_for(3, 5);
    let receipt = write_object(&set, &spec, &data).await.unwrap();
    assert_eq!(receipt.shards_written, 5);
    assert!(c.files_of(&spec, on_gap).is_empty());
    let (got, degraded) = read_range(&set, &spec, data.len() as u64, 0, data.len() as u64).await;
    assert!(got.unwrap() == data);
    assert_eq!(degraded, on_gap < 3);

    // The full table still reads the object, with the shard that was never written missing.
    let (got, _) = read_range(&c.set, &spec, data.len() as u64, 0, data.len() as u64).await;
    assert!(got.unwrap() == data);

    set.delete(&spec).await.unwrap();
    assert!(c.all_files().is_empty());

    // Too many absent disks for the write quorum: refused before any data is taken.
    let sparse = DiskSet::from_disks(vec![None, None, None, Some(c.disks[3].clone() as Arc<dyn ShardDisk>)]);
    let spec = ShardSpec { id: 0x4001, data_shards: 2, parity_shards: 2, block_size: BS, disks: vec![0, 1, 2, 3] };
    let res = sparse.writer(spec.clone());
    assert!(matches!(res, Err(ErasureError::Quorum { written: 1, needed: 3, .. })), "{:?}", res.err());
    let (got, _) = read_range(&sparse, &spec, 10, 0, 10).await;
    assert!(matches!(got, Err(ErasureError::Unrecoverable { available: 0, .. })), "{got:?}");
}

#[tokio::test]
async fn reads_with_up_to_m_absent_disks() {
    let c = cluster(6);
    let spec = spec(&c.set, 3, 3, BS, 0x4100);
    let data = object_for(3, 6);
    write_object(&c.set, &spec, &data).await.unwrap();
    let view = c.set.clone();
    for gaps in [vec![0usize], vec![1, 4], vec![0, 1, 2], vec![2, 3, 5], vec![0, 1, 2, 3]] {
        let mut t = table(&c.disks);
        for &shard in &gaps {
            t[spec.disks[shard] as usize] = None;
        }
        c.set.set_disks(t);
        let (got, _) = read_range(&view, &spec, data.len() as u64, 0, data.len() as u64).await;
        if gaps.len() <= 3 {
            assert!(got.unwrap() == data, "{gaps:?}");
        } else {
            assert!(matches!(got, Err(ErasureError::Unrecoverable { available: 2, needed: 3, .. })), "{got:?}");
        }
    }
}

#[tokio::test]
async fn set_disks_applies_to_new_writers_only() {
    let old = cluster(4);
    let new = cluster(4);
    let set = old.set.clone();
    let spec_a = spec(&set, 2, 2, BS, 0x5000);
    let mut before = set.writer(spec_a.clone()).unwrap();
    before.write(&object_for(2, 7)[..3 * 2 * BS as usize]).await.unwrap();

    // The new layout loses one of the old disks and moves the rest; every clone sees it.
    let mut t = table(&new.disks);
    t[spec_a.disks[0] as usize] = None;
    old.set.set_disks(t);
    assert!(set.disk(spec_a.disks[0]).is_none());

    let data_a = object_for(2, 7);
    before.write(&data_a[3 * 2 * BS as usize..]).await.unwrap();
    let receipt = before.finish().await.unwrap();
    assert_eq!(receipt.shards_written, 4, "a writer keeps the disks it resolved");
    assert_eq!(old.all_files().len(), 4, "{:?}", old.all_files());
    assert!(new.all_files().is_empty());

    let spec_b = spec(&set, 2, 2, BS, 0x5001);
    let data_b = object_for(2, 8);
    let receipt = write_object(&set, &spec_b, &data_b).await.unwrap();
    let lost = spec_b.disks.contains(&spec_a.disks[0]);
    assert_eq!(receipt.shards_written, if lost { 3 } else { 4 });
    assert_eq!(new.all_files().len(), receipt.shards_written);
    assert_eq!(old.all_files().len(), 4);
    let (got, _) = read_range(&old.set, &spec_b, data_b.len() as u64, 0, data_b.len() as u64).await;
    assert!(got.unwrap() == data_b);
    // The old object is read from the old disks again once they are back in the table.
    set.set_disks(table(&old.disks));
    let (got, degraded) = read_range(&old.set, &spec_a, data_a.len() as u64, 0, data_a.len() as u64).await;
    assert!(got.unwrap() == data_a && !degraded);
}

#[tokio::test]
async fn aborted_writers_leave_no_temp_files() {
    let c = cluster(6);
    let spec = spec(&c.set, 4, 2, BS, 0x6000);
    inject_write(c.of(&spec, 1), WriteFault::AppendAfter(2));
    let mut w = c.set.writer(spec.clone()).unwrap();
    w.write(&random_bytes(10 * 4 * BS as usize + 5, 9)).await.unwrap();
    assert_eq!(c.tmp_files().len(), 5);
    w.abort().await;
    assert!(c.all_files().is_empty(), "{:?}", c.all_files());
    let aborts: usize = c.disks.iter().map(|d| d.f().aborts.load(SeqCst)).sum();
    assert_eq!(aborts, 6, "the failed shard and the five open ones");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_writers_leave_no_temp_files() {
    let c = cluster(6);
    for (i, fault) in [None, Some(WriteFault::AppendAfter(4)), Some(WriteFault::Create)].into_iter().enumerate() {
        let spec = spec(&c.set, 4, 2, BS, 0x6100 + i as u128);
        if let Some(fault) = fault {
            inject_write(c.of(&spec, 0), fault);
        }
        let mut w = c.set.writer(spec.clone()).unwrap();
        // Many stripes, so one is still in flight at the drop.
        w.write(&random_bytes(20 * 4 * BS as usize + 3, 10)).await.unwrap();
        assert!(!c.tmp_files().is_empty());
        drop(w);
        c.wait_until_empty().await;
        c.heal();
    }
}

#[test]
fn writers_dropped_outside_a_runtime_leave_no_temp_files() {
    let c = cluster(4);
    let spec = spec(&c.set, 2, 2, BS, 0x6200);
    inject_write(c.of(&spec, 3), WriteFault::AppendAfter(1));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let w = rt.block_on(async {
        let mut w = c.set.writer(spec.clone()).unwrap();
        w.write(&random_bytes(3 * 2 * BS as usize, 11)).await.unwrap();
        w
    });
    drop(rt);
    drop(w);
    assert!(c.all_files().is_empty(), "{:?}", c.all_files());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_finish_removes_what_it_made_durable() {
    let c = cluster(4);
    let spec = spec(&c.set, 2, 2, BS, 0x6300);
    for d in &c.disks {
        d.f().commit_delay_ms.store(500, SeqCst);
    }
    let sum = |f: fn(&Faults) -> &AtomicUsize| c.disks.iter().map(|d| f(d.f()).load(SeqCst)).sum::<usize>();
    let mut w = c.set.writer(spec.clone()).unwrap();
    w.write(&object_for(2, 12)).await.unwrap();
    let mut finish = Box::pin(w.finish());
    while sum(|f| &f.commits_begun) < 4 {
        tokio::select! {
            res = &mut finish => panic!("finish should still be committing: {res:?}"),
            _ = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    }
    drop(finish);
    // The commits go on in their blocking tasks and rename the shards into place; the
    // dropped writer waits for them and then removes the shards again.
    c.wait_until_empty().await;
    assert_eq!(sum(|f| &f.commits), 4);
}

#[tokio::test]
async fn a_failed_finish_removes_even_the_durable_shards() {
    let c = cluster(4);
    let spec = spec(&c.set, 2, 2, BS, 0x6400);
    inject_write(c.of(&spec, 0), WriteFault::Commit(Commit::FailsAfter));
    inject_write(c.of(&spec, 3), WriteFault::Commit(Commit::FailsBefore));
    let mut w = c.set.writer(spec.clone()).unwrap();
    w.write(&object_for(2, 13)).await.unwrap();
    let res = w.finish().await;
    assert!(matches!(res, Err(ErasureError::Quorum { written: 2, needed: 3, .. })), "{res:?}");
    assert!(c.all_files().is_empty(), "{:?}", c.all_files());
}

#[test]
fn local_disk_reports_itself() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("d");
    let disk = LocalDisk::open(&root).unwrap();
    assert_eq!(disk.root(), root);
    assert!(disk.is_online());
    let u = disk.local_usage().unwrap();
    assert!(u.online && u.root == root && u.total_bytes > 0);
    // A wiped disk: its directory emptied, marker and all.
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::create_dir_all(root.join("objects")).unwrap();
    assert!(!disk.is_online());
    assert!(!disk.local_usage().unwrap().online);

    assert!(disk.reformat_if_wiped().unwrap(), "the wipe is noticed");
    assert!(disk.is_online() && !disk.reformat_if_wiped().unwrap());
    std::fs::remove_dir_all(&root).unwrap();
    let set = DiskSet::open(std::slice::from_ref(&root)).unwrap();
    assert!(set.is_online(0), "open recreates the directories");
    assert!(LocalDisk::open(&root).is_ok_and(|d| !d.was_fresh()), "formatted once, not fresh again");
    let clone = set.clone();
    clone.set_disks(Vec::new());
    assert!(set.is_empty() && set.usage().is_empty());
    fn check<T: Clone + std::fmt::Debug + Send + Sync + 'static>() {}
    check::<DiskSet>();
}
