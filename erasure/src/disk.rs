//! Where shard files live. Writers and readers only see these traits, so a shard can sit on a
//! local directory or on a disk of a peer node (the node crate implements the remote side).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

pub use crate::header::HEADER_LEN;
use crate::paths::{object_dir, parse_shard_name, shard_path, tmp_path, FORMAT_FILE, OBJECTS_DIR, TMP_DIR};
use crate::segment::{BufferedWriter, CompactReport, SegmentConfig, SegmentStats, Segments};
use crate::usage::{local_usage, DiskUsage};
use std::time::SystemTime;

/// One disk that holds shard files: a local directory, or a disk on a peer node.
/// All methods are blocking; they are only called from blocking tasks (spawn_blocking) or sync code.
pub trait ShardDisk: Send + Sync + std::fmt::Debug {
    /// Starts shard `shard` of blob `id` (under a temporary name, or in memory for a segment).
    /// Fails with AlreadyExists while another writer holds that shard, so two healers racing
    /// over one shard cannot interleave their bytes; a temp file untouched for [`STALE_TMP`]
    /// belongs to a writer that died and is taken over.
    fn create(&self, id: u128, shard: usize) -> io::Result<Box<dyn ShardFileWriter>>;
    /// Opens the committed shard for reading.
    fn open(&self, id: u128, shard: usize) -> io::Result<Box<dyn ShardFileReader>>;
    /// Removes the committed shard (and any temporary file of it); a missing shard is fine.
    fn remove(&self, id: u128, shard: usize) -> io::Result<()>;
    /// Cheap guess (no blocking I/O beyond a stat) whether writes to this disk can succeed now;
    /// whoever chooses disks for new objects uses it to avoid dead ones.
    fn is_online(&self) -> bool;
    /// Space and health when this disk is local to this process; None for remote disks.
    /// `DiskUsage::index` is left for the caller to fill in: only the disk table knows it.
    fn local_usage(&self) -> Option<DiskUsage>;
    /// A disk of this process, read without the network: readers prefer its blocks.
    fn is_local(&self) -> bool {
        false
    }
}

/// A shard being written under its temporary name. Callers always end it with `commit` or
/// `abort`; a writer that is merely dropped may leave its temp file until the disk is reopened.
pub trait ShardFileWriter: Send {
    /// Appends one block followed by its 4-byte CRC32C (little endian), as one write where possible.
    fn append(&mut self, block: &[u8], crc: [u8; 4]) -> io::Result<()>;
    /// Puts `header` at offset 0 and makes the shard durable: a shard file is fsynced, renamed
    /// to its final name and its directory fsynced; a segment record is appended and synced
    /// with the others of its batch. After Ok the shard is durable. After Err the caller
    /// removes the shard with [`ShardDisk::remove`], as it may exist by then.
    fn commit(self: Box<Self>, header: &[u8; HEADER_LEN]) -> io::Result<()>;
    /// Discards the temporary file.
    fn abort(self: Box<Self>);
    /// [`ShardFileWriter::commit`] for a writer whose commit is only a hand-off to another
    /// thread (a shard bound for a segment): hands the shard over without blocking or I/O
    /// and returns what will carry the outcome, so an async caller need not park a thread on
    /// it. The writer is then only dropped, once the outcome is in (it holds the shard's
    /// claim till then). None: this writer commits with `commit` (the default).
    fn commit_deferred(&mut self, _header: &[u8; HEADER_LEN]) -> Option<io::Result<Deferred>> {
        None
    }
}

/// The outcome of a [`ShardFileWriter::commit_deferred`]: a dropped sender (the committer
/// stopped) is a failure.
pub type Deferred = tokio::sync::oneshot::Receiver<io::Result<()>>;

/// Waits for the outcome of a [`ShardFileWriter::commit_deferred`] hand-off.
pub async fn deferred_outcome(handed: io::Result<Deferred>) -> io::Result<()> {
    handed?.await.unwrap_or_else(|_| Err(io::Error::other("segment committer stopped")))
}

/// A committed shard opened for reading.
pub trait ShardFileReader: Send {
    /// Exactly `buf.len()` bytes at `offset` (used for the 48-byte header).
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// One block and the CRC that follows it: `block.len()` bytes at `offset`, then 4 CRC bytes.
    /// A remote implementation does this in one round trip.
    fn read_block(&self, offset: u64, block: &mut [u8], crc: &mut [u8; 4]) -> io::Result<()>;
}

/// A writer appends to its temp file at least every body timeout (60 s by default) or
/// is aborted, so a temp file this old has no live writer.
pub const STALE_TMP: std::time::Duration = std::time::Duration::from_secs(600);

fn is_stale(path: &Path) -> bool {
    std::fs::metadata(path).and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age >= STALE_TMP))
}

/// A local disk directory: shards up to [`SegmentConfig::max_shard`] bytes packed into
/// `root/segments/` (see [`crate::segment`]), larger ones as files `root/objects/<2hex>/<32hex>.<i>`
/// with temp files in `root/tmp`, and a `root/.cairn-disk` marker written when the directory is
/// formatted. A shard is looked up in the segments first, then as a file.
#[derive(Debug)]
pub struct LocalDisk {
    /// Shared with every open writer, which needs it again at commit.
    root: Arc<Path>,
    /// The marker was missing at open: the directory is new, or was wiped or replaced.
    fresh: bool,
    /// None when segments are turned off (`max_shard` 0): every shard is a file.
    segments: Option<Arc<Segments>>,
}

/// One committed shard file found on a local disk.
#[derive(Clone, Debug)]
pub struct ShardFile {
    pub id: u128,
    pub shard: usize,
    pub modified: SystemTime,
}

impl LocalDisk {
    /// Creates `root/objects` (with its fan-out directories) and `root/tmp` if missing and
    /// clears stale files in `root/tmp`. Temp files only belong to writes in flight, so this
    /// must run before any writer of this process uses the directory (i.e. once at start-up).
    pub fn open(root: &Path) -> io::Result<LocalDisk> {
        Self::open_with(root, SegmentConfig::default())
    }

    /// [`LocalDisk::open`] with segments configured (`max_shard` 0: no segments).
    pub fn open_with(root: &Path, segments: SegmentConfig) -> io::Result<LocalDisk> {
        let fresh = !root.join(FORMAT_FILE).is_file();
        format(root)?;
        let tmp = root.join(TMP_DIR);
        std::fs::create_dir_all(&tmp)?;
        for entry in std::fs::read_dir(&tmp)? {
            let entry = entry?;
            if let Err(e) = std::fs::remove_file(entry.path()) {
                tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove stale temp file");
            }
        }
        let segments = if segments.max_shard > 0 { Some(Segments::open(root, segments)?) } else { None };
        Ok(LocalDisk { root: root.into(), fresh, segments })
    }

    /// Space held by this disk's segments; None when it has none.
    pub fn segment_stats(&self) -> Option<SegmentStats> {
        self.segments.as_ref().map(|s| s.stats())
    }

    /// Rewrites the sealed segments of which less than `min_live` (0 to 1) is still live and
    /// removes them. Blocking; `pace` is called with the bytes read and may sleep.
    pub fn compact_segments(&self, min_live: f64, pace: &dyn Fn(u64)) -> io::Result<CompactReport> {
        match &self.segments {
            Some(s) => s.compact(min_live, pace),
            None => Ok(CompactReport::default()),
        }
    }

    /// Seals the active segment and starts a new one (what filling it would do).
    pub fn seal_segment(&self) -> io::Result<()> {
        self.segments.as_ref().map_or(Ok(()), |s| s.roll())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory had no format marker when it was opened.
    pub fn was_fresh(&self) -> bool {
        self.fresh
    }

    /// Formats the directory again if its marker is gone (the disk was wiped or swapped
    /// for an empty one while the node ran); true if it did. The shards it held must
    /// then be rebuilt by healing.
    pub fn reformat_if_wiped(&self) -> io::Result<bool> {
        if self.root.join(FORMAT_FILE).is_file() {
            return Ok(false);
        }
        format(&self.root)?;
        if let Some(s) = &self.segments {
            s.reset()?;
        }
        Ok(true)
    }

    /// Every committed shard file, one fan-out directory at a time; unreadable entries
    /// and names that are not shard files are skipped.
    pub fn for_each_shard(&self, mut f: impl FnMut(ShardFile)) -> io::Result<()> {
        if let Some(s) = &self.segments {
            s.for_each(|id, shard, modified| f(ShardFile { id, shard, modified }));
        }
        let objects = self.root.join(OBJECTS_DIR);
        for dir in std::fs::read_dir(&objects)? {
            let Ok(dir) = dir else { continue };
            let Ok(files) = std::fs::read_dir(dir.path()) else { continue };
            for e in files.flatten() {
                let name = e.file_name();
                let Some((id, shard)) = name.to_str().and_then(parse_shard_name) else { continue };
                let Ok(modified) = e.metadata().and_then(|m| m.modified()) else { continue };
                f(ShardFile { id, shard, modified });
            }
        }
        Ok(())
    }

    /// Removes temp files not touched since `before` (writes that died with their
    /// writer: a peer that crashed mid-stream); returns how many.
    pub fn sweep_tmp(&self, before: SystemTime) -> io::Result<usize> {
        let mut n = 0;
        for e in std::fs::read_dir(self.root.join(TMP_DIR))?.flatten() {
            let old = e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < before);
            if old && std::fs::remove_file(e.path()).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }
}

impl ShardDisk for LocalDisk {
    fn create(&self, id: u128, shard: usize) -> io::Result<Box<dyn ShardFileWriter>> {
        let root = self.root.clone();
        match &self.segments {
            Some(segs) => {
                if !self.is_online() {
                    return Err(io::Error::new(io::ErrorKind::NotFound, "disk not formatted (wiped?)"));
                }
                let spill =
                    Box::new(move || create_file(root, id, shard).map(|w| Box::new(w) as Box<dyn ShardFileWriter>));
                Ok(Box::new(BufferedWriter::new(segs.clone(), (id, shard as u16), spill)?))
            }
            None => Ok(Box::new(create_file(root, id, shard)?)),
        }
    }

    fn open(&self, id: u128, shard: usize) -> io::Result<Box<dyn ShardFileReader>> {
        if let Some(r) = self.segments.as_ref().and_then(|s| s.reader((id, shard as u16))) {
            // A wiped disk's segments stay readable through open descriptors until the disk
            // watch resets them; they must look as gone as its files.
            if !self.is_online() {
                return Err(io::Error::new(io::ErrorKind::NotFound, "disk not formatted (wiped?)"));
            }
            return Ok(r);
        }
        Ok(Box::new(LocalReader { file: File::open(shard_path(&self.root, id, shard))? }))
    }

    fn remove(&self, id: u128, shard: usize) -> io::Result<()> {
        let mut first = None;
        if let Some(s) = &self.segments {
            if let Err(e) = s.remove((id, shard as u16)) {
                first = Some(e);
            }
        }
        for p in [shard_path(&self.root, id, shard), tmp_path(&self.root, id, shard)] {
            match std::fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn is_online(&self) -> bool {
        self.root.join(FORMAT_FILE).is_file()
    }

    fn local_usage(&self) -> Option<DiskUsage> {
        let mut u = local_usage(&self.root);
        u.segments = self.segment_stats();
        Some(u)
    }

    fn is_local(&self) -> bool {
        true
    }
}

/// Starts a shard file under its temporary name. The final directory is made now so that a
/// disk that cannot hold the shard is dropped before any data is written to it.
fn create_file(root: Arc<Path>, id: u128, shard: usize) -> io::Result<LocalWriter> {
    let dir = object_dir(&root, id);
    let new_dir = !dir.is_dir();
    std::fs::create_dir_all(&dir)?;
    let tmp = tmp_path(&root, id, shard);
    let create = || OpenOptions::new().write(true).create_new(true).open(&tmp);
    let mut file = match create() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && is_stale(&tmp) => {
            let _ = std::fs::remove_file(&tmp);
            create()?
        }
        other => other?,
    };
    // The header needs the object size, known only at commit; it is written there.
    if let Err(e) = file.seek(SeekFrom::Start(HEADER_LEN as u64)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(LocalWriter { file, root, id, shard, new_dir, written: HEADER_LEN as u64, flushed: HEADER_LEN as u64 })
}

/// Writes a shard file through the page cache. Direct I/O (an aligned 256 KiB stage,
/// O_DIRECT, the header block rewritten at commit) was measured against this (release
/// builds, one sitting, medians): PUT 64 MiB x4 +10% and half the system CPU per MiB, PUT
/// 1 MiB x16 no change in throughput or total CPU, but GET 64 MiB x4 right after the PUTs
/// 0.84x with twice the p99, since freshly written objects were no longer in the page
/// cache. So it was not kept.
struct LocalWriter {
    file: File,
    root: Arc<Path>,
    id: u128,
    shard: usize,
    /// The fan-out directory did not exist at create: its entry in `objects/` needs an fsync too.
    new_dir: bool,
    /// End of what was appended.
    written: u64,
    /// End of what the kernel was asked to start writing back.
    flushed: u64,
}

/// Appended bytes after which a shard's writeback is started: a large shard then streams to the
/// disk while it is written, and commit's fsync waits for the last few MiB only, not for all of
/// it (the fsync of a 128 MiB shard otherwise waits for 128 MiB of dirty pages).
pub const WRITEBACK_EVERY: u64 = 8 << 20;

impl LocalWriter {
    /// Starts writeback of what was appended since the last call once that is
    /// [`WRITEBACK_EVERY`] bytes or more. It only starts it: nothing waits, and durability
    /// still comes from commit's fsync. Shards smaller than that never get here.
    fn start_writeback(&mut self) {
        if self.written - self.flushed < WRITEBACK_EVERY {
            return;
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: a plain system call on a descriptor this writer owns; no memory is passed.
            let res = unsafe {
                libc::sync_file_range(
                    self.file.as_raw_fd(),
                    self.flushed as libc::off64_t,
                    (self.written - self.flushed) as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                )
            };
            if res != 0 {
                // Only a hint: the fsync at commit reports real errors.
                tracing::debug!(error = %io::Error::last_os_error(), "sync_file_range");
            }
        }
        self.flushed = self.written;
    }
}

impl ShardFileWriter for LocalWriter {
    /// Block and CRC go out in one vectored write: no copy into a staging buffer.
    fn append(&mut self, block: &[u8], crc: [u8; 4]) -> io::Result<()> {
        let total = block.len() + crc.len();
        let mut done = 0;
        while done < total {
            let res = if done < block.len() {
                self.file.write_vectored(&[IoSlice::new(&block[done..]), IoSlice::new(&crc)])
            } else {
                self.file.write(&crc[done - block.len()..])
            };
            match res {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.written += total as u64;
        self.start_writeback();
        Ok(())
    }

    fn commit(self: Box<Self>, header: &[u8; HEADER_LEN]) -> io::Result<()> {
        let LocalWriter { file, root, id, shard, new_dir, .. } = *self;
        file.write_all_at(header, 0)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(tmp_path(&root, id, shard), shard_path(&root, id, shard))?;
        File::open(object_dir(&root, id))?.sync_all()?;
        if new_dir {
            File::open(root.join(OBJECTS_DIR))?.sync_all()?;
        }
        Ok(())
    }

    fn abort(self: Box<Self>) {
        let LocalWriter { file, root, id, shard, .. } = *self;
        drop(file);
        if let Err(e) = std::fs::remove_file(tmp_path(&root, id, shard)) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(id = %format_args!("{id:032x}"), shard, error = %e, "cannot remove temp shard file");
            }
        }
    }
}

struct LocalReader {
    file: File,
}

impl ShardFileReader for LocalReader {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn read_block(&self, offset: u64, block: &mut [u8], crc: &mut [u8; 4]) -> io::Result<()> {
        self.file.read_exact_at(block, offset)?;
        self.file.read_exact_at(crc, offset + block.len() as u64)
    }
}

/// Creates the directory tree and, last, the marker that says it is complete.
fn format(root: &Path) -> io::Result<()> {
    create_fan_out_dirs(&root.join(OBJECTS_DIR))?;
    std::fs::create_dir_all(root.join(TMP_DIR))?;
    let marker = root.join(FORMAT_FILE);
    if !marker.is_file() {
        let f = File::create(&marker)?;
        f.sync_all()?;
        File::open(root)?.sync_all()?;
    }
    Ok(())
}

/// Creating every fan-out directory up front means a write almost never adds a directory
/// entry to `objects/`, so commit need not fsync it.
fn create_fan_out_dirs(objects: &Path) -> io::Result<()> {
    std::fs::create_dir_all(objects)?;
    let existing: HashSet<_> = std::fs::read_dir(objects)?.filter_map(|e| e.ok().map(|e| e.file_name())).collect();
    let mut created = false;
    for b in 0..=255u8 {
        let name = format!("{b:02x}");
        if !existing.contains(std::ffi::OsStr::new(&name)) {
            std::fs::create_dir_all(objects.join(name))?;
            created = true;
        }
    }
    if created {
        File::open(objects)?.sync_all()?;
        if let Some(root) = objects.parent() {
            File::open(root)?.sync_all()?;
        }
    }
    Ok(())
}

/// Removes every shard of a write from the disks it was resolved to, skipping absent ones;
/// reports the first error after trying all.
pub(crate) fn remove_shards(disks: &[Option<Arc<dyn ShardDisk>>], id: u128) -> io::Result<()> {
    let mut first = None;
    for (shard, disk) in disks.iter().enumerate() {
        if let Some(disk) = disk {
            if let Err(e) = disk.remove(id, shard) {
                first.get_or_insert(e);
            }
        }
    }
    first.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn files(dir: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect()
    }

    #[test]
    fn local_disk_commit_abort_remove() {
        let dir = tempfile::tempdir().unwrap();
        // Shard files only: segments have tests of their own.
        let disk =
            LocalDisk::open_with(&dir.path().join("d"), SegmentConfig { max_shard: 0, ..Default::default() }).unwrap();
        assert!(disk.is_online());
        let id = 0xab00_0000_0000_0000_0000_0000_0000_0001u128;

        let mut w = disk.create(id, 3).unwrap();
        w.append(b"abcd", [1, 2, 3, 4]).unwrap();
        w.commit(&[7u8; HEADER_LEN]).unwrap();
        assert!(files(&disk.root().join(TMP_DIR)).is_empty());
        let r = disk.open(id, 3).unwrap();
        let mut h = [0u8; HEADER_LEN];
        r.read_exact_at(&mut h, 0).unwrap();
        assert_eq!(h, [7u8; HEADER_LEN]);
        let (mut block, mut crc) = ([0u8; 4], [0u8; 4]);
        r.read_block(HEADER_LEN as u64, &mut block, &mut crc).unwrap();
        assert_eq!((&block, crc), (b"abcd", [1, 2, 3, 4]));
        assert!(r.read_block(HEADER_LEN as u64 + 1, &mut block, &mut crc).is_err(), "short read must fail");

        let mut w = disk.create(id, 4).unwrap();
        w.append(b"xy", [0; 4]).unwrap();
        assert_eq!(files(&disk.root().join(TMP_DIR)).len(), 1);
        w.abort();
        assert!(files(&disk.root().join(TMP_DIR)).is_empty());
        assert!(disk.open(id, 4).is_err());

        // A second writer of the same shard waits for the first, unless the first died.
        let held = disk.create(id, 5).unwrap();
        assert_eq!(disk.create(id, 5).err().map(|e| e.kind()), Some(io::ErrorKind::AlreadyExists));
        let tmp = tmp_path(disk.root(), id, 5);
        let old = SystemTime::now() - STALE_TMP - std::time::Duration::from_secs(1);
        File::options().write(true).open(&tmp).unwrap().set_modified(old).unwrap();
        let taken = disk.create(id, 5).expect("a stale temp file is taken over");
        drop(held);
        taken.abort();

        disk.remove(id, 3).unwrap();
        disk.remove(id, 3).unwrap();
        assert!(disk.open(id, 3).is_err());
        assert_eq!(disk.local_usage().map(|u| u.online), Some(true));
    }
}
