//! The Raft log on disk: append-only segment files of length-prefixed, checksummed
//! records, one per log entry. Owns `<dir>/raft-log/` and nothing else; knows records
//! as opaque payloads (the log store encodes entries).
//!
//! Format:
//!
//! | what          | layout                                                                |
//! |---------------|-----------------------------------------------------------------------|
//! | segment file  | `<first index, 20 decimal digits>.log`: the header, then records      |
//! | header        | 8 bytes, `CAIRNRL1`                                                   |
//! | record        | `[payload len: u32 LE][crc32c: u32 LE][index: u64 LE][payload]`       |
//! | crc32c        | over the index bytes and the payload                                  |
//!
//! Records in a file have consecutive indexes from the one its name gives, and each
//! file starts where the one before it ends (the first files may have been purged).
//! Appends go to the last file; once it holds [`ROLL_BYTES`] the next append seals it
//! (fdatasync) and starts a new one (and fsyncs the directory), so only the last file
//! can end in a torn record. [`LogFiles::open`] checks every record and cuts the last
//! file at its first bad one: what follows the last durable point is discarded, and
//! what was made durable ([`LogFiles::sync`] after the appends) always reads back whole.
//! A bad record anywhere else is corruption and stops the open.
//!
//! New files come zero-filled: once the last file is half full, a background thread
//! writes [`SPARE`] (`ROLL_BYTES` of zeros, fsynced, then renamed from [`SPARE_TMP`]),
//! and the next roll renames the spare into place. Appends then overwrite blocks that
//! are already allocated and durable, so the fdatasync after them flushes data only,
//! not the file's size and extents (on ext4 about twice as many syncs a second). A run
//! of zeros after the last good record is therefore a clean end, not a torn one; any
//! other bytes there are cut off on open as before, and the file is then shortened to
//! its last good record (appends to it extend it again).
//!
//! Truncating (a follower dropping a conflicting suffix) deletes whole files from the
//! end and cuts the one holding the first dropped index, then syncs. Purging deletes
//! the files whose every record is at or below the purged index; the records of a
//! partly purged file stay until the whole file is behind the purge point.
//!
//! In memory: the offset of every record in each file (8 bytes per entry not yet
//! purged), so reading a run of entries is one positioned read per file.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::paced::Paced;

/// Where a new segment file starts once the last one holds this many bytes.
pub const ROLL_BYTES: u64 = 64 << 20;

const MAGIC: &[u8; 8] = b"CAIRNRL1";
const HEADER: u64 = MAGIC.len() as u64;
const RECORD_HEAD: usize = 16;
/// A record longer than this is taken as garbage (a log entry is at most a few MiB).
const MAX_PAYLOAD: u32 = 1 << 30;
const IMPORT_TMP: &str = "import.tmp";
/// The next segment file, zero-filled and durable, waiting for the next roll.
pub const SPARE: &str = "spare";
/// The spare while it is written (deleted on open: it may be short).
pub const SPARE_TMP: &str = "spare.tmp";

/// Where the spare stands; shared with the thread that writes it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Spare {
    /// None, and none is being written.
    Missing,
    Writing,
    Ready,
    /// Writing it failed (a full disk, say): not tried again before the next roll.
    Failed,
}

struct Seg {
    first: u64,
    path: PathBuf,
    file: Arc<File>,
    /// `offsets[i]`: where the record of index `first + i` starts.
    offsets: Vec<u64>,
    /// Where the next record goes: the file's length, or where its zeros start.
    end: u64,
}

impl Seg {
    fn next(&self) -> u64 {
        self.first + self.offsets.len() as u64
    }

    fn record_end(&self, i: usize) -> u64 {
        self.offsets.get(i + 1).copied().unwrap_or(self.end)
    }
}

/// The log's segment files and the offsets of their records.
pub struct LogFiles {
    dir: PathBuf,
    segs: Vec<Seg>,
    /// The first index not purged: records below it are never read.
    floor: u64,
    /// Where the last file is sealed and the next one started.
    roll: u64,
    spare: Arc<std::sync::Mutex<Spare>>,
}

fn seg_name(first: u64) -> String {
    format!("{first:020}.log")
}

fn corrupt(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn encode_into(buf: &mut Vec<u8>, index: u64, payload: &[u8]) {
    let mut h = crc32c::crc32c(&index.to_le_bytes());
    h = crc32c::crc32c_append(h, payload);
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&h.to_le_bytes());
    buf.extend_from_slice(&index.to_le_bytes());
    buf.extend_from_slice(payload);
}

/// Parses the record at the start of `buf`: (index, payload, record length), or None
/// if it is short or fails its checksum.
fn decode(buf: &[u8]) -> Option<(u64, &[u8], usize)> {
    let head = buf.get(..RECORD_HEAD)?;
    let len = u32::from_le_bytes(head[0..4].try_into().ok()?);
    if len > MAX_PAYLOAD {
        return None;
    }
    let crc = u32::from_le_bytes(head[4..8].try_into().ok()?);
    let index = u64::from_le_bytes(head[8..16].try_into().ok()?);
    let payload = buf.get(RECORD_HEAD..RECORD_HEAD + len as usize)?;
    let h = crc32c::crc32c_append(crc32c::crc32c(&head[8..16]), payload);
    (h == crc).then_some((index, payload, RECORD_HEAD + len as usize))
}

/// Reads a whole segment file and lists its good records: (offsets, end of the last
/// good record, whether anything after it was cut off as bad).
fn scan(path: &Path, first: u64) -> io::Result<(Vec<u64>, u64, bool)> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    if data.len() < HEADER as usize || &data[..HEADER as usize] != MAGIC {
        // A file whose header never reached the disk holds nothing.
        return Ok((Vec::new(), 0, true));
    }
    let mut offsets = Vec::new();
    let mut at = HEADER as usize;
    while at < data.len() {
        match decode(&data[at..]) {
            Some((index, _, len)) if index == first + offsets.len() as u64 => {
                offsets.push(at as u64);
                at += len;
            }
            // Zeros to the end: the unused part of a zero-filled file.
            _ => return Ok((offsets, at as u64, data[at..].iter().any(|&b| b != 0))),
        }
    }
    Ok((offsets, at as u64, false))
}

/// Writes the spare: `len` bytes of zeros, durable, under [`SPARE`].
fn write_spare(dir: &Path, len: u64) -> io::Result<()> {
    let tmp = dir.join(SPARE_TMP);
    let file = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
    // Paced, so that its writeback does not queue in front of the log's fdatasync.
    let mut paced = Paced::new(file);
    let zeros = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < len {
        let n = (len - at).min(zeros.len() as u64) as usize;
        paced.write_all(&zeros[..n])?;
        at += n as u64;
    }
    paced.into_inner().sync_all()?;
    std::fs::rename(&tmp, dir.join(SPARE))
}

impl LogFiles {
    /// Opens (creating it if need be) the log in `dir`, discarding a torn tail.
    pub fn open(dir: &Path) -> io::Result<LogFiles> {
        std::fs::create_dir_all(dir)?;
        let mut firsts = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let name = e?.file_name().to_string_lossy().into_owned();
            if name == IMPORT_TMP || name == SPARE_TMP {
                std::fs::remove_file(dir.join(&name))?;
            } else if let Some(first) = name.strip_suffix(".log").and_then(|n| n.parse::<u64>().ok()) {
                firsts.push(first);
            }
        }
        firsts.sort_unstable();
        let mut segs: Vec<Seg> = Vec::with_capacity(firsts.len());
        for (n, &first) in firsts.iter().enumerate() {
            let last = n + 1 == firsts.len();
            let path = dir.join(seg_name(first));
            let (offsets, mut end, cut) = scan(&path, first)?;
            if let Some(prev) = segs.last() {
                if prev.next() != first {
                    return Err(corrupt(format!(
                        "raft log: {} should start at index {} (a file is missing)",
                        path.display(),
                        prev.next()
                    )));
                }
            }
            if cut && !last {
                return Err(corrupt(format!(
                    "raft log: a bad record in {} after index {}, which is not the last file",
                    path.display(),
                    first + offsets.len() as u64
                )));
            }
            let file = OpenOptions::new().read(true).write(true).open(&path)?;
            if cut {
                tracing::warn!(
                    file = %path.display(),
                    kept = offsets.len(),
                    "raft log: discarding a torn tail after the last whole record"
                );
                if end < HEADER {
                    file.set_len(0)?;
                    file.write_all_at(MAGIC, 0)?;
                    end = HEADER;
                } else {
                    file.set_len(end)?;
                }
                file.sync_all()?;
            }
            segs.push(Seg { first, path, file: Arc::new(file), offsets, end });
        }
        // A spare renamed into place was whole and durable before the rename.
        let spare = if dir.join(SPARE).try_exists()? { Spare::Ready } else { Spare::Missing };
        let spare = Arc::new(std::sync::Mutex::new(spare));
        Ok(LogFiles { dir: dir.to_path_buf(), segs, floor: 0, roll: ROLL_BYTES, spare })
    }

    fn spare(&self) -> std::sync::MutexGuard<'_, Spare> {
        self.spare.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts writing the spare in a thread of its own, unless it is there or under way.
    fn prepare_spare(&self) {
        let mut state = self.spare();
        if *state != Spare::Missing {
            return;
        }
        *state = Spare::Writing;
        let (dir, spare, len) = (self.dir.clone(), self.spare.clone(), self.roll);
        let spawned = std::thread::Builder::new().name("raft-log-spare".into()).spawn(move || {
            let res = write_spare(&dir, len);
            if let Err(e) = &res {
                tracing::warn!(error = %e, "raft log: cannot prepare the next file; it will be created when needed");
                let _ = std::fs::remove_file(dir.join(SPARE_TMP));
            }
            *spare.lock().unwrap_or_else(|e| e.into_inner()) = if res.is_ok() { Spare::Ready } else { Spare::Failed };
        });
        if spawned.is_err() {
            *state = Spare::Missing;
        }
    }

    /// True if the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.segs.iter().all(|s| s.offsets.is_empty())
    }

    /// The index after the last record, if any record is held.
    pub fn next_index(&self) -> Option<u64> {
        (!self.is_empty()).then(|| self.segs.last().map_or(0, Seg::next))
    }

    /// The file appends go to now (what [`LogFiles::sync`] needs).
    pub fn current(&self) -> Option<Arc<File>> {
        self.segs.last().map(|s| s.file.clone())
    }

    /// Makes every record appended so far durable (earlier files were synced when sealed).
    pub fn sync(file: &File) -> io::Result<()> {
        file.sync_data()
    }

    fn new_seg(&mut self, first: u64) -> io::Result<()> {
        if let Some(s) = self.segs.last() {
            s.file.sync_data()?;
        }
        let path = self.dir.join(seg_name(first));
        let file = {
            let mut spare = self.spare();
            let ready = *spare == Spare::Ready;
            if *spare != Spare::Writing {
                *spare = Spare::Missing;
            }
            if ready {
                std::fs::rename(self.dir.join(SPARE), &path)?;
                OpenOptions::new().read(true).write(true).open(&path)?
            } else {
                OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path)?
            }
        };
        file.write_all_at(MAGIC, 0)?;
        file.sync_all()?;
        sync_dir(&self.dir)?;
        self.segs.push(Seg { first, path, file: Arc::new(file), offsets: Vec::new(), end: HEADER });
        Ok(())
    }

    /// Writes `records` (index, payload) after the last one; the indexes must follow it
    /// (any first index when the log is empty). Not durable until [`LogFiles::sync`].
    pub fn append(&mut self, records: &[(u64, Vec<u8>)]) -> io::Result<()> {
        let Some(&(first, _)) = records.first() else { return Ok(()) };
        if let Some(next) = self.next_index() {
            if first != next {
                return Err(corrupt(format!("raft log: appending index {first} after {}", next - 1)));
            }
        }
        let roll = match self.segs.last() {
            None => true,
            Some(s) => s.end >= self.roll || (s.offsets.is_empty() && s.first != first),
        };
        if roll {
            if let Some(s) = self.segs.last() {
                if s.offsets.is_empty() {
                    // An empty file whose name no longer fits: replace it.
                    std::fs::remove_file(&s.path)?;
                    self.segs.pop();
                }
            }
            self.new_seg(first)?;
        }
        let seg = self.segs.last_mut().expect("a segment after rolling");
        let mut buf = Vec::with_capacity(records.iter().map(|(_, p)| p.len() + RECORD_HEAD).sum());
        let mut offsets = Vec::with_capacity(records.len());
        for (i, (index, payload)) in records.iter().enumerate() {
            if *index != first + i as u64 {
                return Err(corrupt(format!("raft log: appending index {index} out of order")));
            }
            offsets.push(seg.end + buf.len() as u64);
            encode_into(&mut buf, *index, payload);
        }
        seg.file.write_all_at(&buf, seg.end)?;
        seg.end += buf.len() as u64;
        seg.offsets.extend(offsets);
        if seg.end >= self.roll / 2 {
            self.prepare_spare();
        }
        Ok(())
    }

    /// Where the records `from..to` lie: one (file, offset, length, first index) per file.
    pub fn spans(&self, from: u64, to: u64) -> Vec<Span> {
        let from = from.max(self.floor);
        let mut out = Vec::new();
        for s in &self.segs {
            let (a, b) = (from.max(s.first), to.min(s.next()));
            if a >= b {
                continue;
            }
            let (i, j) = ((a - s.first) as usize, (b - s.first) as usize);
            let start = s.offsets[i];
            out.push(Span { file: s.file.clone(), offset: start, len: s.record_end(j - 1) - start, first: a });
        }
        out
    }

    /// Drops every record from `index` on, durably.
    pub fn truncate(&mut self, index: u64) -> io::Result<()> {
        let mut removed = false;
        while let Some(s) = self.segs.last() {
            if s.first < index || self.segs.len() == 1 && s.first == index && s.offsets.is_empty() {
                break;
            }
            std::fs::remove_file(&s.path)?;
            self.segs.pop();
            removed = true;
        }
        if removed {
            sync_dir(&self.dir)?;
        }
        if let Some(s) = self.segs.last_mut() {
            let keep = index.saturating_sub(s.first) as usize;
            if keep < s.offsets.len() {
                s.end = s.offsets[keep];
                s.offsets.truncate(keep);
                s.file.set_len(s.end)?;
                s.file.sync_all()?;
            }
        }
        Ok(())
    }

    /// Stops reading the records at or below `index` (until [`LogFiles::purge`] deletes
    /// their files).
    pub fn hide(&mut self, index: u64) {
        self.floor = self.floor.max(index + 1);
    }

    /// Drops the records at or below `index`: they are no longer read, and the files
    /// holding only such records are deleted.
    pub fn purge(&mut self, index: u64) -> io::Result<()> {
        let detached = self.detach(index);
        detached.delete()
    }

    /// Hides the records at or below `index` and takes the files holding only such
    /// records out of the log; [`Detached::delete`] deletes them (without the log, so
    /// appends and reads need not wait for it).
    pub fn detach(&mut self, index: u64) -> Detached {
        self.hide(index);
        let mut paths = Vec::new();
        while let Some(s) = self.segs.first() {
            if s.next() > index + 1 || (s.offsets.is_empty() && self.segs.len() == 1) {
                break;
            }
            paths.push(self.segs.remove(0).path);
        }
        Detached { dir: self.dir.clone(), paths }
    }

    /// Writes `records` (in index order, consecutive) as the whole log of an empty
    /// store, durably: into a temporary file renamed into place once synced, so a crash
    /// part way leaves the log empty (and the import is done again).
    pub fn import(&mut self, records: impl Iterator<Item = io::Result<(u64, Vec<u8>)>>) -> io::Result<u64> {
        if !self.segs.is_empty() {
            return Err(corrupt("raft log: importing into a log that has files".into()));
        }
        let tmp = self.dir.join(IMPORT_TMP);
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&tmp)?;
        file.write_all_at(MAGIC, 0)?;
        let (mut end, mut first, mut offsets) = (HEADER, None, Vec::new());
        let mut buf = Vec::new();
        for r in records {
            let (index, payload) = r?;
            let first = *first.get_or_insert(index);
            if index != first + offsets.len() as u64 {
                return Err(corrupt(format!("raft log: importing index {index} out of order")));
            }
            buf.clear();
            encode_into(&mut buf, index, &payload);
            file.write_all_at(&buf, end)?;
            offsets.push(end);
            end += buf.len() as u64;
        }
        let Some(first) = first else {
            std::fs::remove_file(&tmp)?;
            return Ok(0);
        };
        file.sync_all()?;
        let path = self.dir.join(seg_name(first));
        std::fs::rename(&tmp, &path)?;
        sync_dir(&self.dir)?;
        let n = offsets.len() as u64;
        self.segs.push(Seg { first, path, file: Arc::new(file), offsets, end });
        Ok(n)
    }
}

/// Files taken out of the log by [`LogFiles::detach`], to be deleted.
pub struct Detached {
    dir: PathBuf,
    paths: Vec<PathBuf>,
}

impl Detached {
    /// Deletes the files (blocking), then syncs the directory.
    pub fn delete(self) -> io::Result<()> {
        for p in &self.paths {
            std::fs::remove_file(p)?;
        }
        if !self.paths.is_empty() {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }
}

/// A run of consecutive records in one file.
pub struct Span {
    file: Arc<File>,
    offset: u64,
    len: u64,
    first: u64,
}

impl Span {
    /// Reads the run (blocking) and hands each payload to `each`, checking every record.
    pub fn read(&self, mut each: impl FnMut(u64, &[u8]) -> io::Result<()>) -> io::Result<()> {
        let mut buf = vec![0u8; self.len as usize];
        self.file.read_exact_at(&mut buf, self.offset)?;
        let mut at = 0;
        let mut expect = self.first;
        while at < buf.len() {
            match decode(&buf[at..]) {
                Some((index, payload, len)) if index == expect => {
                    each(index, payload)?;
                    at += len;
                    expect += 1;
                }
                _ => return Err(corrupt(format!("raft log: bad record at index {expect}"))),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(i: u64) -> Vec<u8> {
        format!("entry {i} ").repeat((i % 7 + 1) as usize).into_bytes()
    }

    fn records(from: u64, to: u64) -> Vec<(u64, Vec<u8>)> {
        (from..to).map(|i| (i, payload(i))).collect()
    }

    fn read_all(log: &LogFiles, from: u64, to: u64) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        for s in log.spans(from, to) {
            s.read(|i, p| {
                out.push((i, p.to_vec()));
                Ok(())
            })
            .unwrap();
        }
        out
    }

    #[test]
    fn appends_read_back_across_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogFiles::open(dir.path()).unwrap();
        assert!(log.is_empty() && log.next_index().is_none());
        log.append(&records(5, 9)).unwrap();
        log.append(&records(9, 12)).unwrap();
        assert!(log.append(&records(13, 14)).is_err(), "a gap is refused");
        LogFiles::sync(&log.current().unwrap()).unwrap();
        assert_eq!(read_all(&log, 0, 100), records(5, 12));
        assert_eq!(read_all(&log, 7, 9), records(7, 9));
        drop(log);

        // A torn last record: half of it reached the disk.
        let path = dir.path().join(seg_name(5));
        let len = std::fs::metadata(&path).unwrap().len();
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 3).unwrap();
        let log = LogFiles::open(dir.path()).unwrap();
        assert_eq!(read_all(&log, 0, 100), records(5, 11));
        assert_eq!(log.next_index(), Some(11));
        drop(log);

        // Garbage after the last record (a write that never completed its header).
        let len = std::fs::metadata(&path).unwrap().len();
        f.write_all_at(&[0xab; 40], len).unwrap();
        let mut log = LogFiles::open(dir.path()).unwrap();
        assert_eq!(read_all(&log, 0, 100), records(5, 11));
        log.append(&records(11, 13)).unwrap();
        assert_eq!(read_all(&log, 0, 100), records(5, 13));
    }

    #[test]
    fn a_flipped_byte_in_a_sealed_file_stops_the_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogFiles::open(dir.path()).unwrap();
        log.append(&records(1, 4)).unwrap();
        log.new_seg(4).unwrap();
        log.append(&records(4, 6)).unwrap();
        drop(log);
        let path = dir.path().join(seg_name(1));
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(b"X", HEADER + RECORD_HEAD as u64 + 2).unwrap();
        let e = LogFiles::open(dir.path()).err().expect("corruption refused");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    }

    #[test]
    fn truncate_and_purge_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogFiles::open(dir.path()).unwrap();
        for (a, b) in [(1, 4), (4, 8), (8, 10)] {
            if a > 1 {
                log.new_seg(a).unwrap();
            }
            log.append(&records(a, b)).unwrap();
        }
        assert_eq!(read_all(&log, 2, 9), records(2, 9));
        assert_eq!(log.spans(2, 9).len(), 3, "one read per file");

        log.truncate(6).unwrap();
        assert_eq!(read_all(&log, 0, 100), records(1, 6));
        assert!(!dir.path().join(seg_name(8)).exists());
        log.append(&records(6, 9)).unwrap();

        log.purge(2).unwrap();
        assert!(dir.path().join(seg_name(1)).exists(), "a partly purged file stays");
        assert_eq!(read_all(&log, 0, 100), records(3, 9), "but its purged records are not read");
        log.purge(3).unwrap();
        assert!(!dir.path().join(seg_name(1)).exists());
        assert_eq!(read_all(&log, 0, 100), records(4, 9), "the log starts after the purge point");
        drop(log);
        let mut log = LogFiles::open(dir.path()).unwrap();
        assert_eq!(read_all(&log, 0, 100), records(4, 9));

        // Purged to the end: the next append may start anywhere after.
        log.purge(8).unwrap();
        assert!(log.is_empty());
        log.append(&records(20, 22)).unwrap();
        assert_eq!(read_all(&log, 0, 100), records(20, 22));
        drop(log);
        let log = LogFiles::open(dir.path()).unwrap();
        assert_eq!(read_all(&log, 0, 100), records(20, 22));

        // Truncating everything.
        let mut log = log;
        log.truncate(20).unwrap();
        assert!(log.is_empty());
        log.append(&records(20, 21)).unwrap();
        assert_eq!(read_all(&log, 0, 100), records(20, 21));
    }

    fn wait_for_spare(log: &LogFiles) {
        for _ in 0..500 {
            if *log.spare() == Spare::Ready {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the spare was not written");
    }

    #[test]
    fn rolls_into_a_zero_filled_spare_whose_zeros_are_a_clean_end() {
        let dir = tempfile::tempdir().unwrap();
        let spare = dir.path().join(SPARE);
        let mut log = LogFiles::open(dir.path()).unwrap();
        log.roll = 4096;
        log.append(&records(1, 10)).unwrap();
        assert!(log.segs[0].end < 2048);
        assert!(!spare.exists() && *log.spare() == Spare::Missing, "no spare before the file is half full");
        let mut next = 10;
        while log.segs[0].end < 2048 {
            log.append(&records(next, next + 1)).unwrap();
            next += 1;
        }
        wait_for_spare(&log);
        assert_eq!(std::fs::metadata(&spare).unwrap().len(), 4096);
        while log.segs.len() == 1 {
            log.append(&records(next, next + 1)).unwrap();
            next += 1;
        }
        // The roll took the spare: the new file is zero-filled past its records.
        assert!(!spare.exists());
        let path = dir.path().join(seg_name(next - 1));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096);
        log.append(&records(next, next + 3)).unwrap();
        next += 3;
        LogFiles::sync(&log.current().unwrap()).unwrap();
        let end = log.segs[1].end;
        drop(log);

        // Reopened: the zeros after the last record are no torn tail, and stay.
        let mut log = LogFiles::open(dir.path()).unwrap();
        assert_eq!(read_all(&log, 0, 1000), records(1, next));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096, "nothing was cut");
        log.append(&records(next, next + 1)).unwrap();
        next += 1;
        assert_eq!(read_all(&log, 0, 1000), records(1, next));
        let end2 = log.segs[1].end;
        assert!(end2 > end);
        drop(log);

        // Bytes that are not zeros after the last record: cut, and the file shortened
        // to its last good record.
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(&[0xab; 10], end2 + 100).unwrap();
        let mut log = LogFiles::open(dir.path()).unwrap();
        assert_eq!(read_all(&log, 0, 1000), records(1, next));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), end2);
        log.append(&records(next, next + 1)).unwrap();
        assert_eq!(read_all(&log, 0, 1000), records(1, next + 1));

        // A spare left half written is deleted on open; a whole one is used.
        std::fs::write(dir.path().join(SPARE_TMP), [0u8; 10]).unwrap();
        drop(log);
        let log = LogFiles::open(dir.path()).unwrap();
        assert!(!dir.path().join(SPARE_TMP).exists());
        assert_eq!(*log.spare(), Spare::Missing);
        drop(log);
        std::fs::write(&spare, vec![0u8; 4096]).unwrap();
        let log = LogFiles::open(dir.path()).unwrap();
        assert_eq!(*log.spare(), Spare::Ready);
    }

    #[test]
    fn a_spare_that_cannot_be_written_is_tried_again_only_after_the_next_roll() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogFiles::open(dir.path()).unwrap();
        log.roll = 4096;
        // A directory where the spare is written: opening it for writing fails.
        std::fs::create_dir(dir.path().join(SPARE_TMP)).unwrap();
        let mut next = 1;
        fn append_to(log: &mut LogFiles, next: &mut u64, upto: u64) {
            while log.segs.last().map_or(0, |s| s.end) < upto {
                log.append(&records(*next, *next + 1)).unwrap();
                *next += 1;
            }
        }
        append_to(&mut log, &mut next, 2048);
        for _ in 0..500 {
            if *log.spare() == Spare::Failed {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(*log.spare(), Spare::Failed);
        std::fs::remove_dir(dir.path().join(SPARE_TMP)).unwrap();
        append_to(&mut log, &mut next, 3000);
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(*log.spare(), Spare::Failed, "not tried again before the roll");
        assert!(!dir.path().join(SPARE).exists() && !dir.path().join(SPARE_TMP).exists());
        while log.segs.len() == 1 {
            log.append(&records(next, next + 1)).unwrap();
            next += 1;
        }
        let created = std::fs::metadata(dir.path().join(seg_name(next - 1))).unwrap().len();
        assert!(created < 4096, "a file created as before: {created} bytes");
        assert_eq!(*log.spare(), Spare::Missing, "the roll allows a new try");
        append_to(&mut log, &mut next, 2048);
        wait_for_spare(&log);
        assert_eq!(read_all(&log, 0, 10_000), records(1, next));
    }

    #[test]
    fn import_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(IMPORT_TMP), b"half an import").unwrap();
        let mut log = LogFiles::open(dir.path()).unwrap();
        assert!(log.is_empty() && !dir.path().join(IMPORT_TMP).exists());
        let n = log.import(records(3, 40).into_iter().map(Ok)).unwrap();
        assert_eq!(n, 37);
        log.append(&records(40, 41)).unwrap();
        drop(log);
        let log = LogFiles::open(dir.path()).unwrap();
        assert_eq!(read_all(&log, 0, 100), records(3, 41));
    }
}
