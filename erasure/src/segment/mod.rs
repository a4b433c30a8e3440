//! Segments: the shards of small and mid-size objects, packed into per-disk append-only files
//! and made durable by group commit.
//!
//! A shard file costs the filesystem an inode, a rename and two fsyncs (file and directory);
//! for a 128 KiB object that is most of a PUT. Here a shard up to
//! [`SegmentConfig::max_shard`] bytes is buffered by its writer and, at commit, handed to the
//! disk's one committer thread, which appends every shard waiting at that moment with one
//! vectored write and makes them durable with one `fdatasync`: concurrent PUTs share the
//! sync. Larger shards spill to a shard file as before (see [`crate::disk`]). The erasure
//! writer hands its shards over from its async task (`ShardFileWriter::commit_deferred`) and
//! the committer wakes that task directly: no thread is parked per shard while it waits.
//!
//! ```text
//! root/segments/<seq 8 hex>.seg   records, appended; the highest seq is the active segment
//! root/segments/<seq 8 hex>.hint  written when a segment is sealed: one entry per record
//! ```
//!
//! A record is a 44-byte header and its payload (little endian):
//!
//! ```text
//! magic "CSG1" | kind u8 (1 shard, 2 tombstone) | 0 u8 | shard u16 | id u128 | len u32 |
//! time u32 (Unix seconds of the first write) | payload crc32c u32 | 0 u32 | header crc32c u32
//! ```
//!
//! A shard record's payload is exactly what a shard file would hold (its 48-byte header, then
//! blocks and CRCs), so readers see the same bytes at the same offsets either way. A tombstone
//! (written by a remove) has a 4-byte payload: the number of the segment whose record it
//! cancels. A hint file is `"CSGHINT1"`, then per record kind u8 | shard u16 | id u128 |
//! value u32 (payload offset, or the cancelled segment) | len u32 | time u32, then a CRC32C of
//! all of it.
//!
//! The index (blob id, shard) → (segment, offset, length) is in memory, rebuilt at open from
//! the hint files of sealed segments and a scan of the others, oldest first: a later record
//! of a shard replaces an earlier one, a tombstone removes it. The scan of the active segment
//! checks every payload CRC and truncates the file at the first record that fails: a crash
//! leaves at most a torn tail, and nothing in it was acknowledged, since a shard is reported
//! durable only after the `fdatasync` that covers it. A write that fails (ENOSPC) is cut off
//! the file again before the error is reported.
//!
//! Space of removed and replaced records comes back by compaction
//! ([`Segments::compact`]): a sealed segment whose live bytes have fallen below a share of
//! its size has its live records appended again through the committer (durable before the
//! old file is unlinked), its tombstones too while the segment they cancel still exists.
//! Readers hold the segment file open, so a compaction never breaks a read in flight.

mod committer;
mod compact;
mod record;
mod recover;
mod writer;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use compact::CompactReport;
pub(crate) use writer::BufferedWriter;

use crate::disk::ShardFileReader;

pub(crate) const SEGMENTS_DIR: &str = "segments";

/// How a disk packs shards into segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentConfig {
    /// Shards of at most this many bytes (48-byte header, blocks and their CRCs) go into
    /// segments; larger ones are files of their own. 0 turns segments off.
    pub max_shard: u64,
    /// The active segment is sealed, and a new one started, once it reaches this size
    /// (at most [`MAX_SEGMENT_BYTES`]).
    pub segment_bytes: u64,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        SegmentConfig { max_shard: DEFAULT_MAX_SHARD, segment_bytes: DEFAULT_SEGMENT_BYTES }
    }
}

/// See [`SegmentConfig::segment_bytes`].
pub const DEFAULT_SEGMENT_BYTES: u64 = 256 << 20;

/// The largest [`SegmentConfig::segment_bytes`]; larger values are taken as this.
pub const MAX_SEGMENT_BYTES: u64 = 1 << 30;

/// See [`SegmentConfig::max_shard`]. Chosen by measurement (scripts/bench-segments.sh, one
/// node, 2+2, PUTs at 32 connections, server CPU per PUT, files -> segments): 32 KiB shards
/// (64 KiB objects) 3.51 -> 1.76 ms and 1.86x the rate; 64 KiB shards 3.23 -> 2.53 ms, 1.18x
/// (1.1-2x over four sittings); 100 KiB shards 3.07 -> 3.71 ms, 0.89x; 128 KiB shards
/// 3.71 -> 5.08 ms, 0.85x. Past about 64 KiB, buffering a shard, handing it to the committer
/// and waking its writer cost more than a file's inode and fsyncs save; the cut is put
/// between the last size that gained and the first that lost.
pub const DEFAULT_MAX_SHARD: u64 = 96 << 10;

/// Blob id and shard index.
pub(crate) type Key = (u128, u16);

/// Where a shard's payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loc {
    pub seq: u32,
    /// Of the payload, past the record header.
    pub off: u32,
    pub len: u32,
    pub time: u32,
}

/// Space used by segments of one disk.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SegmentStats {
    pub segments: usize,
    /// Shards the index holds.
    pub shards: usize,
    /// Bytes of every segment file.
    pub bytes: u64,
    /// Bytes of records the index still points at (headers included).
    pub live_bytes: u64,
    /// Records appended and `fdatasync`s that made them durable since the disk was opened:
    /// with concurrent writers, far fewer syncs than records.
    pub appended: u64,
    pub syncs: u64,
}

pub(crate) struct Seg {
    pub file: Arc<File>,
    /// Bytes of records in the file.
    pub len: u64,
    /// Bytes of the records the index points at, headers included.
    pub live: u64,
}

#[derive(Default)]
pub(crate) struct State {
    pub index: HashMap<Key, Loc>,
    pub segs: BTreeMap<u32, Seg>,
}

impl State {
    /// Points `key` at `loc`, moving the live bytes from wherever it was.
    pub fn insert(&mut self, key: Key, loc: Loc) {
        if let Some(old) = self.index.insert(key, loc) {
            self.forget(old);
        }
        if let Some(s) = self.segs.get_mut(&loc.seq) {
            s.live += record_len(loc.len);
        }
    }

    pub fn remove(&mut self, key: Key) -> Option<Loc> {
        let old = self.index.remove(&key)?;
        self.forget(old);
        Some(old)
    }

    fn forget(&mut self, old: Loc) {
        if let Some(s) = self.segs.get_mut(&old.seq) {
            s.live = s.live.saturating_sub(record_len(old.len));
        }
    }
}

pub(crate) fn record_len(payload: u32) -> u64 {
    record::RECORD_HEADER as u64 + u64::from(payload)
}

pub(crate) struct Shared {
    pub dir: PathBuf,
    pub cfg: SegmentConfig,
    pub state: Mutex<State>,
    pub appended: AtomicU64,
    pub syncs: AtomicU64,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whom the committer tells that a record is durable (or failed): a thread blocked on a
/// channel, or an async task, woken without a thread in between.
pub(crate) enum Done {
    Wait(SyncSender<io::Result<()>>),
    Wake(tokio::sync::oneshot::Sender<io::Result<()>>),
}

impl Done {
    pub fn send(self, res: io::Result<()>) {
        // A caller that went away (a cancelled request) no longer needs the answer.
        let _ = match self {
            Done::Wait(tx) => tx.send(res).ok(),
            Done::Wake(tx) => tx.send(res).ok(),
        };
    }
}

/// What the committer is asked to append.
pub(crate) enum Job {
    /// A new shard (or a new copy of one, from heal): replaces whatever the index had.
    Put { key: Key, payload: Vec<u8>, crc: u32, time: u32, done: Done },
    /// Compaction's copy of a live record: dropped if the index no longer points at `from`.
    Move { key: Key, from: Loc, payload: Vec<u8>, crc: u32, done: SyncSender<io::Result<()>> },
    /// A removal, written so that reopening does not bring the shard back.
    Tomb { key: Key, cancels: u32, done: Option<SyncSender<io::Result<()>>> },
    /// Start a new segment: sealing the active one (tests), or leaving it unsealed when the
    /// disk was wiped under it.
    Roll { seal: bool, done: SyncSender<io::Result<()>> },
}

/// The segments of one local disk.
pub(crate) struct Segments {
    shared: Arc<Shared>,
    tx: Sender<Job>,
    /// Shards with a writer between create and commit or abort: a second writer of the same
    /// shard is refused, as a second create of the same temp file is.
    writing: Mutex<HashSet<Key>>,
}

impl std::fmt::Debug for Segments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segments").field("dir", &self.shared.dir).finish_non_exhaustive()
    }
}

impl Segments {
    /// Recovers the index from `root/segments` (creating it if missing) and starts the committer.
    pub fn open(root: &Path, mut cfg: SegmentConfig) -> io::Result<Arc<Segments>> {
        // Offsets are u32: a segment plus one batch must stay well under 4 GiB.
        cfg.segment_bytes = cfg.segment_bytes.clamp(1, MAX_SEGMENT_BYTES);
        let dir = root.join(SEGMENTS_DIR);
        std::fs::create_dir_all(&dir)?;
        let (state, active) = recover::recover(&dir)?;
        let shared = Arc::new(Shared {
            dir,
            cfg,
            state: Mutex::new(state),
            appended: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
        });
        let (tx, rx) = mpsc::channel();
        let s = shared.clone();
        std::thread::Builder::new().name("cairn-segments".into()).spawn(move || committer::run(s, rx, active))?;
        Ok(Arc::new(Segments { shared, tx, writing: Mutex::new(HashSet::new()) }))
    }

    pub fn max_shard(&self) -> u64 {
        self.shared.cfg.max_shard
    }

    fn send(&self, job: Job) -> io::Result<()> {
        self.tx.send(job).map_err(|_| io::Error::other("segment committer stopped"))
    }

    /// Claims `key` for one writer.
    pub fn begin(&self, key: Key) -> io::Result<()> {
        let mut w = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        if !w.insert(key) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "shard is being written"));
        }
        Ok(())
    }

    pub fn end(&self, key: Key) {
        self.writing.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
    }

    /// Appends a whole shard image and returns once it is durable and indexed.
    pub fn put(&self, key: Key, payload: Vec<u8>) -> io::Result<()> {
        let crc = crc32c::crc32c(&payload);
        let (done, wait) = mpsc::sync_channel(1);
        self.send(Job::Put { key, payload, crc, time: now_secs(), done: Done::Wait(done) })?;
        wait.recv().map_err(|_| io::Error::other("segment committer stopped"))?
    }

    /// [`Segments::put`] without waiting: hands the shard to the committer (no I/O here, so
    /// an async task may call it) and returns what will say once it is durable and indexed.
    pub fn put_deferred(&self, key: Key, payload: Vec<u8>) -> io::Result<crate::disk::Deferred> {
        let crc = crc32c::crc32c(&payload);
        let (done, wait) = tokio::sync::oneshot::channel();
        self.send(Job::Put { key, payload, crc, time: now_secs(), done: Done::Wake(done) })?;
        Ok(wait)
    }

    pub fn reader(&self, key: Key) -> Option<Box<dyn ShardFileReader>> {
        let st = self.shared.lock();
        let loc = st.index.get(&key)?;
        let file = st.segs.get(&loc.seq)?.file.clone();
        Some(Box::new(SegmentReader { file, base: u64::from(loc.off), len: u64::from(loc.len) }))
    }

    /// Drops the shard from the index and returns once its tombstone is durable (sharing
    /// the committer's sync with whatever else is written); false if it was not here.
    pub fn remove(&self, key: Key) -> io::Result<bool> {
        let (done, wait) = mpsc::sync_channel(1);
        {
            // The index entry goes and the tombstone is queued under one lock, so a compaction
            // move of this shard is either queued before the tombstone or sees it gone.
            let mut st = self.shared.lock();
            let Some(old) = st.remove(key) else { return Ok(false) };
            self.send(Job::Tomb { key, cancels: old.seq, done: Some(done) })?;
        }
        wait.recv().map_err(|_| io::Error::other("segment committer stopped"))??;
        Ok(true)
    }

    /// Every indexed shard with the time it was first written.
    pub fn for_each(&self, mut f: impl FnMut(u128, usize, SystemTime)) {
        let all: Vec<(Key, u32)> = self.shared.lock().index.iter().map(|(k, l)| (*k, l.time)).collect();
        for ((id, shard), time) in all {
            f(id, usize::from(shard), UNIX_EPOCH + Duration::from_secs(u64::from(time)));
        }
    }

    /// The disk was wiped: forget every shard and start a new segment file.
    pub fn reset(&self) -> io::Result<()> {
        std::fs::create_dir_all(&self.shared.dir)?;
        {
            let mut st = self.shared.lock();
            st.index.clear();
            st.segs.clear();
        }
        self.new_segment(false)
    }

    /// Seals the active segment and starts the next.
    pub fn roll(&self) -> io::Result<()> {
        self.new_segment(true)
    }

    fn new_segment(&self, seal: bool) -> io::Result<()> {
        let (done, wait) = mpsc::sync_channel(1);
        self.send(Job::Roll { seal, done })?;
        wait.recv().map_err(|_| io::Error::other("segment committer stopped"))?
    }

    pub fn stats(&self) -> SegmentStats {
        let st = self.shared.lock();
        SegmentStats {
            segments: st.segs.len(),
            shards: st.index.len(),
            bytes: st.segs.values().map(|s| s.len).sum(),
            live_bytes: st.segs.values().map(|s| s.live).sum(),
            appended: self.shared.appended.load(Ordering::Relaxed),
            syncs: self.shared.syncs.load(Ordering::Relaxed),
        }
    }

    /// Rewrites sealed segments with less than `min_live` (0..=1) of their bytes live.
    pub fn compact(&self, min_live: f64, pace: &dyn Fn(u64)) -> io::Result<CompactReport> {
        compact::run(&self.shared, &self.tx, min_live, pace)
    }
}

pub(crate) fn now_secs() -> u32 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs().min(u64::from(u32::MAX)) as u32)
}

pub(crate) fn seg_path(dir: &Path, seq: u32) -> PathBuf {
    dir.join(format!("{seq:08x}.seg"))
}

pub(crate) fn hint_path(dir: &Path, seq: u32) -> PathBuf {
    dir.join(format!("{seq:08x}.hint"))
}

/// A shard inside a segment: the same offsets as in a shard file, bounded by the record.
struct SegmentReader {
    file: Arc<File>,
    base: u64,
    len: u64,
}

impl SegmentReader {
    fn check(&self, offset: u64, n: usize) -> io::Result<u64> {
        match offset.checked_add(n as u64) {
            Some(end) if end <= self.len => Ok(self.base + offset),
            _ => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end of the shard")),
        }
    }
}

impl ShardFileReader for SegmentReader {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let at = self.check(offset, buf.len())?;
        self.file.read_exact_at(buf, at)
    }

    fn read_block(&self, offset: u64, block: &mut [u8], crc: &mut [u8; 4]) -> io::Result<()> {
        let at = self.check(offset, block.len() + crc.len())?;
        self.file.read_exact_at(block, at)?;
        self.file.read_exact_at(crc, at + block.len() as u64)
    }
}
