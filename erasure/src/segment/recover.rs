//! Opening a disk's segments: the index rebuilt from hint files and scans, oldest segment
//! first, and the active segment's torn tail cut off.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::record::{decode_hint, Entry, Header, Kind, RECORD_HEADER};
use super::{hint_path, seg_path, Seg, State};

/// The segment the committer appends to.
pub(crate) struct Active {
    pub seq: u32,
    pub file: Arc<File>,
    /// End of the last whole record: where the next append goes.
    pub tail: u64,
    /// Its records so far, for the hint file written when it is sealed.
    pub entries: Vec<Entry>,
}

pub(crate) fn recover(dir: &Path) -> io::Result<(State, Active)> {
    let mut seqs = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let name = e?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(seq) = name.strip_suffix(".seg").and_then(|h| u32::from_str_radix(h, 16).ok()) {
            seqs.push(seq);
        } else if name.ends_with(".tmp") {
            // A hint file whose seal did not finish; the scan replaces it.
            let _ = std::fs::remove_file(dir.join(name));
        }
    }
    seqs.sort_unstable();
    let mut state = State::default();
    let Some((&last, sealed)) = seqs.split_last() else {
        let active = create(dir, 1)?;
        state.segs.insert(1, Seg { file: active.file.clone(), len: 0, live: 0 });
        return Ok((state, active));
    };
    for &seq in sealed {
        let file = File::open(seg_path(dir, seq))?;
        let len = file.metadata()?.len();
        let entries = match std::fs::read(hint_path(dir, seq)).ok().and_then(|b| decode_hint(&b)) {
            Some(entries) => entries,
            None => {
                let (entries, end) = scan(&file, len, false)?;
                if end < len {
                    tracing::warn!(
                        segment = seq,
                        at = end,
                        len,
                        "damaged record in a sealed segment: the shards after it are left to healing"
                    );
                }
                entries
            }
        };
        state.segs.insert(seq, Seg { file: Arc::new(file), len, live: 0 });
        apply(&mut state, seq, &entries);
    }
    let file = OpenOptions::new().read(true).write(true).open(seg_path(dir, last))?;
    let len = file.metadata()?.len();
    let (entries, end) = scan(&file, len, true)?;
    if end < len {
        tracing::warn!(segment = last, at = end, len, "discarding a torn tail after a crash");
        file.set_len(end)?;
        file.sync_all()?;
    }
    let file = Arc::new(file);
    state.segs.insert(last, Seg { file: file.clone(), len: end, live: 0 });
    apply(&mut state, last, &entries);
    Ok((state, Active { seq: last, file, tail: end, entries }))
}

pub(crate) fn apply(state: &mut State, seq: u32, entries: &[Entry]) {
    for e in entries {
        let key = (e.id, e.shard);
        match e.kind {
            Kind::Shard => state.insert(key, super::Loc { seq, off: e.value, len: e.len, time: e.time }),
            Kind::Tomb => {
                state.remove(key);
            }
        }
    }
}

/// Creates segment `seq` and makes its directory entry durable.
pub(crate) fn create(dir: &Path, seq: u32) -> io::Result<Active> {
    let file = OpenOptions::new().read(true).write(true).create_new(true).open(seg_path(dir, seq))?;
    File::open(dir)?.sync_all()?;
    Ok(Active { seq, file: Arc::new(file), tail: 0, entries: Vec::new() })
}

/// The records of a segment up to the first one that is not whole, and where that one starts.
/// With `verify` every payload's CRC is checked too (the active segment, whose tail a crash
/// may have torn).
pub(crate) fn scan(file: &File, len: u64, verify: bool) -> io::Result<(Vec<Entry>, u64)> {
    let mut entries = Vec::new();
    let mut pos = 0u64;
    let mut payload = Vec::new();
    while pos + RECORD_HEADER as u64 <= len {
        let mut h = [0u8; RECORD_HEADER];
        file.read_exact_at(&mut h, pos)?;
        let Some(h) = Header::decode(&h) else { break };
        let start = pos + RECORD_HEADER as u64;
        let end = start + u64::from(h.len);
        if end > len || (h.kind == Kind::Tomb && h.len != 4) {
            break;
        }
        let value = match h.kind {
            Kind::Shard => start as u32,
            Kind::Tomb => {
                let mut b = [0u8; 4];
                file.read_exact_at(&mut b, start)?;
                u32::from_le_bytes(b)
            }
        };
        if verify {
            payload.resize(h.len as usize, 0);
            file.read_exact_at(&mut payload, start)?;
            // A bad payload with a whole record after it is damage inside the segment, not a
            // torn tail: it stays (block CRCs make its shard unavailable until healed), and so
            // does everything after it. Only a bad last record is cut off.
            if crc32c::crc32c(&payload) != h.payload_crc && !header_at(file, end, len)? {
                break;
            }
        }
        entries.push(Entry { kind: h.kind, shard: h.shard, id: h.id, value, len: h.len, time: h.time });
        pos = end;
    }
    Ok((entries, pos))
}

/// Whether an intact record header starts at `pos`.
fn header_at(file: &File, pos: u64, len: u64) -> io::Result<bool> {
    if pos + RECORD_HEADER as u64 > len {
        return Ok(false);
    }
    let mut h = [0u8; RECORD_HEADER];
    file.read_exact_at(&mut h, pos)?;
    Ok(Header::decode(&h).is_some())
}
