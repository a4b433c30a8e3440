//! Snapshot files: building them from the data tables and loading them back.
//!
//! Snapshots are files, never whole in memory: `<dir>/snapshots/current.snap` is
//!
//! ```text
//! "CAIRNSNAP1\n"
//! u32 BE length, bincode(SnapshotMeta)
//! records: u8 table tag (the data tables of crate::tables: 1 buckets, 2 objects,
//!          3 versions, 4 keys, 5 uploads, 6 parts, 7 cluster),
//!          u32 BE key length, key,
//!          u32 BE value length, value
//! u8 0, u64 BE record count
//! ```
//!
//! Derived tables are not carried: loading rebuilds them. A tag this binary does not
//! know stops the load (a snapshot from a newer format); tags are never reused, so a
//! snapshot from an older binary loads into the same tables it came from.
//!
//! Building reads a consistent view of the tables as of the snapshot's applied index
//! ([`crate::frozen`]) while apply goes on; the apply lock is held only to take the
//! meta and open the view. Loading (with the apply lock held) marks
//! `installing` in `sm_meta`, clears and refills the data tables, then clears the
//! mark; a store opened with the mark set reloads `current.snap` before Raft starts.

use crate::error::MetaError;
use crate::keys::*;
use crate::paced::Paced;
use crate::tables::{self, Table};
use crate::trees::SmTrees;
use crate::types::SnapshotMeta;
use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

const MAGIC: &[u8] = b"CAIRNSNAP1\n";
pub(crate) const CURRENT: &str = "current.snap";
const TAG_END: u8 = 0;

/// The record count a snapshot file ends with, read from its last 8 bytes alone.
pub(crate) fn record_count(path: &Path) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::End(-8))?;
    let mut n = [0u8; 8];
    f.read_exact(&mut n)?;
    Ok(u64::from_be_bytes(n))
}

pub(crate) fn io_err(e: std::io::Error) -> MetaError {
    MetaError::Storage(format!("snapshot file: {e}"))
}

pub(crate) fn now_nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn write_u32(w: &mut impl Write, n: usize) -> Result<(), MetaError> {
    let n = u32::try_from(n).map_err(|_| MetaError::Storage("snapshot record too large".into()))?;
    w.write_all(&n.to_be_bytes()).map_err(io_err)
}

fn read_u32(r: &mut impl Read) -> Result<usize, MetaError> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).map_err(io_err)?;
    Ok(u32::from_be_bytes(b) as usize)
}

fn read_bytes(r: &mut impl Read, n: usize) -> Result<Vec<u8>, MetaError> {
    let mut v = vec![0u8; n];
    r.read_exact(&mut v).map_err(io_err)?;
    Ok(v)
}

/// Reads the magic and the meta at the start of a snapshot file.
pub(crate) fn read_header(r: &mut impl Read) -> Result<SnapshotMeta, MetaError> {
    let magic = read_bytes(r, MAGIC.len())?;
    if magic != MAGIC {
        return Err(MetaError::Storage("not a cairn snapshot file".into()));
    }
    let n = read_u32(r)?;
    Ok(bincode::deserialize(&read_bytes(r, n)?)?)
}

/// The meta of a snapshot of the tables as they are now. Call with the apply lock
/// held, then open the view ([`crate::frozen::Frozen::open`]) before releasing it.
pub(crate) fn meta_now(t: &SmTrees) -> Result<SnapshotMeta, MetaError> {
    let last_log_id = t.last_applied()?;
    Ok(SnapshotMeta {
        last_log_id,
        last_membership: t.membership()?,
        snapshot_id: format!("{}-{}", last_log_id.map_or(0, |l| l.index), now_nanos()),
    })
}

/// Records the walk reads from the view per batch.
const WALK_BATCH: usize = 512;

/// Streams the open view of the data tables ([`SmTrees::frozen`], opened when `meta`
/// was taken) into `<dir>/current.snap` (via a temp file and rename) and returns an
/// open handle. Apply goes on meanwhile. The walk closes the view when it has passed
/// every table; on an error it is closed here, and the temp file removed.
pub(crate) fn write(t: &SmTrees, dir: &Path, meta: &SnapshotMeta) -> Result<std::fs::File, MetaError> {
    let started = std::time::Instant::now();
    let tmp = dir.join(format!("build-{}.tmp", now_nanos()));
    match write_view(t, dir, &tmp, meta) {
        Ok((file, records)) => {
            let ms = started.elapsed().as_millis() as u64;
            tracing::info!(records, ms, snapshot = %meta, "built snapshot");
            Ok(file)
        }
        Err(e) => {
            t.frozen.close();
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn write_view(t: &SmTrees, dir: &Path, tmp: &Path, meta: &SnapshotMeta) -> Result<(std::fs::File, u64), MetaError> {
    let file = std::fs::File::create(tmp).map_err(io_err)?;
    let mut w = BufWriter::with_capacity(1 << 20, Paced::new(file));
    w.write_all(MAGIC).map_err(io_err)?;
    let m = bincode::serialize(meta)?;
    write_u32(&mut w, m.len())?;
    w.write_all(&m).map_err(io_err)?;
    let mut count = 0u64;
    let mut record = |w: &mut BufWriter<Paced>, tag: u8, k: &[u8], v: &[u8]| -> Result<(), MetaError> {
        w.write_all(&[tag]).map_err(io_err)?;
        write_u32(w, k.len())?;
        w.write_all(k).map_err(io_err)?;
        write_u32(w, v.len())?;
        w.write_all(v).map_err(io_err)?;
        count += 1;
        Ok(())
    };
    for (table, tag) in tables::data_tables() {
        while let Some(batch) = t.frozen.next_batch(table as usize, t.tree(table), WALK_BATCH)? {
            for (k, v) in batch {
                record(&mut w, tag, &k, &v)?;
            }
        }
    }
    let tags: BTreeMap<usize, u8> = tables::data_tables().map(|(table, tag)| (table as usize, tag)).collect();
    for (table, k, v) in t.frozen.close() {
        record(&mut w, tags[&table], &k, &v)?;
    }
    w.write_all(&[TAG_END]).map_err(io_err)?;
    w.write_all(&count.to_be_bytes()).map_err(io_err)?;
    let file = w.into_inner().map_err(|e| io_err(e.into_error()))?.into_inner();
    file.sync_all().map_err(io_err)?;
    drop(file);
    let cur = dir.join(CURRENT);
    std::fs::rename(tmp, &cur).map_err(io_err)?;
    sync_dir(dir);
    let f = std::fs::File::open(&cur).map_err(io_err)?;
    Ok((f, count))
}

/// Replaces the contents of the tables with the snapshot file at `path`.
pub(crate) fn load(t: &SmTrees, path: &Path) -> Result<SnapshotMeta, MetaError> {
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let meta = read_header(&mut r)?;
    t.meta.insert(SM_INSTALLING, &b"1"[..])?;
    t.unmark_derived()?;
    t.db.flush()?;
    for (table, _) in tables::data_tables() {
        t.tree(table).clear()?;
    }
    let mut batches: BTreeMap<Table, sled::Batch> = BTreeMap::new();
    let flush = |batches: &mut BTreeMap<Table, sled::Batch>| -> Result<(), MetaError> {
        for (table, batch) in std::mem::take(batches) {
            t.tree(table).apply_batch(batch)?;
        }
        Ok(())
    };
    let mut pending = 0usize;
    let mut count = 0u64;
    loop {
        let mut tag = [0u8; 1];
        r.read_exact(&mut tag).map_err(io_err)?;
        if tag[0] == TAG_END {
            break;
        }
        let Some(table) = tables::by_tag(tag[0]) else {
            return Err(MetaError::Storage(format!(
                "snapshot record tag {} belongs to no table this cairnd knows (a snapshot of a newer format?)",
                tag[0]
            )));
        };
        let kl = read_u32(&mut r)?;
        let k = read_bytes(&mut r, kl)?;
        let vl = read_u32(&mut r)?;
        let v = read_bytes(&mut r, vl)?;
        pending += k.len() + v.len();
        batches.entry(table).or_default().insert(k, v);
        count += 1;
        if pending > (8 << 20) {
            flush(&mut batches)?;
            pending = 0;
        }
    }
    let mut c = [0u8; 8];
    r.read_exact(&mut c).map_err(io_err)?;
    if u64::from_be_bytes(c) != count {
        return Err(MetaError::Storage("snapshot record count mismatch".into()));
    }
    flush(&mut batches)?;
    let mut mb = sled::Batch::default();
    mb.insert(SM_LAST_APPLIED, bincode::serialize(&meta.last_log_id)?);
    mb.insert(SM_MEMBERSHIP, bincode::serialize(&meta.last_membership)?);
    mb.remove(SM_INSTALLING);
    t.meta.apply_batch(mb)?;
    t.db.flush()?;
    t.rebuild_derived(true)?;
    tracing::info!(records = count, snapshot = %meta, "installed snapshot");
    Ok(meta)
}
