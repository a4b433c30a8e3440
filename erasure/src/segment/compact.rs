//! Compaction: sealed segments that are mostly dead have their live records appended again
//! through the committer, then are unlinked. Runs on the caller's (blocking) thread, paced by
//! the caller; writers and readers go on meanwhile, since moves are ordinary committer jobs
//! and readers hold the old file open.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{self, Receiver, Sender};

use super::record::{decode_hint, Kind};
use super::recover::scan;
use super::{hint_path, seg_path, Job, Shared};

/// What one compaction pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompactReport {
    /// Segments rewritten and removed.
    pub segments: usize,
    /// Live shards copied forward.
    pub moved: u64,
    pub moved_bytes: u64,
    /// Bytes of segment files removed.
    pub freed_bytes: u64,
}

/// Moves in flight are awaited once their payloads reach this many bytes.
const IN_FLIGHT_BYTES: u64 = 16 << 20;

pub(crate) fn run(shared: &Shared, tx: &Sender<Job>, min_live: f64, pace: &dyn Fn(u64)) -> io::Result<CompactReport> {
    let candidates: Vec<u32> = {
        let st = shared.lock();
        let active = st.segs.keys().next_back().copied();
        st.segs
            .iter()
            .filter(|&(seq, s)| Some(*seq) != active && (s.len == 0 || (s.live as f64) < min_live * s.len as f64))
            .map(|(seq, _)| *seq)
            .collect()
    };
    let mut report = CompactReport::default();
    for seq in candidates {
        compact_one(shared, tx, seq, pace, &mut report)?;
    }
    Ok(report)
}

fn compact_one(
    shared: &Shared,
    tx: &Sender<Job>,
    seq: u32,
    pace: &dyn Fn(u64),
    report: &mut CompactReport,
) -> io::Result<()> {
    let Some((file, len, live)) = shared.lock().segs.get(&seq).map(|s| (s.file.clone(), s.len, s.live)) else {
        return Ok(());
    };
    tracing::info!(dir = %shared.dir.display(), segment = seq, bytes = len, live_bytes = live, "compacting segment");
    let moved_before = report.moved;
    let entries = match std::fs::read(hint_path(&shared.dir, seq)).ok().and_then(|b| decode_hint(&b)) {
        Some(e) => e,
        None => scan(&file, len, false)?.0,
    };
    let stopped = || io::Error::other("segment committer stopped");
    let mut waiting: Vec<Receiver<io::Result<()>>> = Vec::new();
    let mut in_flight = 0u64;
    for e in entries {
        let key = (e.id, e.shard);
        match e.kind {
            Kind::Shard => {
                let live = shared.lock().index.get(&key).copied().filter(|l| l.seq == seq && l.off == e.value);
                let Some(from) = live else { continue };
                let mut payload = vec![0u8; from.len as usize];
                file.read_exact_at(&mut payload, u64::from(from.off))?;
                pace(u64::from(from.len));
                let crc = crc32c::crc32c(&payload);
                let (done, wait) = mpsc::sync_channel(1);
                in_flight += u64::from(from.len);
                report.moved += 1;
                report.moved_bytes += u64::from(from.len);
                tx.send(Job::Move { key, from, payload, crc, done }).map_err(|_| stopped())?;
                waiting.push(wait);
            }
            Kind::Tomb => {
                // Needed only while the record it cancels may still be read at open.
                if e.value == seq || !shared.lock().segs.contains_key(&e.value) {
                    continue;
                }
                let (done, wait) = mpsc::sync_channel(1);
                tx.send(Job::Tomb { key, cancels: e.value, done: Some(done) }).map_err(|_| stopped())?;
                waiting.push(wait);
            }
        }
        if in_flight >= IN_FLIGHT_BYTES {
            settle(&mut waiting)?;
            in_flight = 0;
        }
    }
    settle(&mut waiting)?;
    {
        let mut st = shared.lock();
        if st.segs.get(&seq).is_some_and(|s| s.live > 0) {
            // Cannot happen while moves are the only writers into old segments; keep the file.
            tracing::warn!(segment = seq, "live shards left in a compacted segment; keeping it");
            return Ok(());
        }
        st.segs.remove(&seq);
    }
    std::fs::remove_file(hint_path(&shared.dir, seq)).or_else(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    std::fs::remove_file(seg_path(&shared.dir, seq))?;
    File::open(&shared.dir)?.sync_all()?;
    tracing::info!(
        dir = %shared.dir.display(),
        segment = seq,
        moved = report.moved - moved_before,
        "segment compacted"
    );
    report.segments += 1;
    report.freed_bytes += len;
    Ok(())
}

/// Waits until every queued move and tombstone is durable.
fn settle(waiting: &mut Vec<Receiver<io::Result<()>>>) -> io::Result<()> {
    for w in waiting.drain(..) {
        w.recv().map_err(|_| io::Error::other("segment committer stopped"))??;
    }
    Ok(())
}
