//! The one thread per disk that appends to the active segment: every job waiting when it
//! wakes goes out in one vectored write and one `fdatasync`, then into the index, then its
//! caller hears back. A failed write or sync is cut off the file before anyone is told.

use std::fs::File;
use std::io::{self, IoSlice};
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use super::record::{encode_hint, Entry, Header, Kind, RECORD_HEADER};
use super::recover::{create, Active};
use super::{hint_path, record_len, Done, Job, Key, Loc, Seg, Shared};

/// A batch stops growing at this many jobs or bytes; the rest wait for the next sync.
const MAX_BATCH: usize = 256;
const MAX_BATCH_BYTES: u64 = 32 << 20;

pub(crate) fn run(shared: Arc<Shared>, rx: Receiver<Job>, mut active: Active) {
    while let Ok(first) = rx.recv() {
        let mut bytes = job_bytes(&first);
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            let Ok(job) = rx.try_recv() else { break };
            bytes += job_bytes(&job);
            batch.push(job);
        }
        let mut records = Vec::with_capacity(batch.len());
        for job in batch {
            match job {
                Job::Roll { seal, done } => {
                    // Everything before the roll goes into the segment being left.
                    append(&shared, &mut active, std::mem::take(&mut records));
                    let res = if seal { roll(&shared, &mut active) } else { abandon(&shared, &mut active) };
                    let _ = done.send(res);
                }
                other => records.push(other),
            }
        }
        append(&shared, &mut active, records);
    }
}

fn job_bytes(job: &Job) -> u64 {
    match job {
        Job::Put { payload, .. } | Job::Move { payload, .. } => record_len(payload.len() as u32),
        Job::Tomb { .. } => record_len(4),
        Job::Roll { .. } => 0,
    }
}

/// One record ready to go out, and whom to tell.
struct Out {
    key: Key,
    header: [u8; RECORD_HEADER],
    payload: Vec<u8>,
    kind: Kind,
    len: u32,
    time: u32,
    value_if_tomb: u32,
    /// For a move: only indexed if the index still points here.
    from: Option<Loc>,
    done: Option<Done>,
}

fn append(shared: &Shared, active: &mut Active, jobs: Vec<Job>) {
    if jobs.is_empty() {
        return;
    }
    let mut outs = Vec::with_capacity(jobs.len());
    {
        let st = shared.lock();
        for job in jobs {
            let out = match job {
                Job::Put { key, payload, crc, time, done } => shard_out(key, payload, crc, time, None, done),
                Job::Move { key, from, payload, crc, done } => {
                    if st.index.get(&key) != Some(&from) {
                        // Removed or replaced since compaction read it: nothing to keep.
                        let _ = done.send(Ok(()));
                        continue;
                    }
                    shard_out(key, payload, crc, from.time, Some(from), Done::Wait(done))
                }
                Job::Tomb { key, cancels, done } => {
                    let payload = cancels.to_le_bytes().to_vec();
                    let time = super::now_secs();
                    let header = Header {
                        kind: Kind::Tomb,
                        shard: key.1,
                        id: key.0,
                        len: 4,
                        time,
                        payload_crc: crc32c::crc32c(&payload),
                    };
                    Out {
                        key,
                        header: header.encode(),
                        payload,
                        kind: Kind::Tomb,
                        len: 4,
                        time,
                        value_if_tomb: cancels,
                        from: None,
                        done: done.map(Done::Wait),
                    }
                }
                Job::Roll { .. } => unreachable!("rolls are taken out of the batch"),
            };
            outs.push(out);
        }
    }
    if outs.is_empty() {
        return;
    }
    let size: u64 = outs.iter().map(|o| record_len(o.len)).sum();
    if active.tail > 0 && active.tail + size > shared.cfg.segment_bytes {
        if let Err(e) = roll(shared, active) {
            return fail(outs, &e);
        }
    }
    if active.file.metadata().is_ok_and(|m| m.nlink() == 0) {
        // The disk was wiped under the node: nothing written here would survive. The disk
        // watch formats it again and resets the segments.
        return fail(outs, &io::Error::new(io::ErrorKind::NotFound, "the active segment file was removed"));
    }
    let start = active.tail;
    if let Err(e) = write_and_sync(&active.file, start, &outs) {
        // Nothing of this batch may stay: a shorter file is what a crash would have left.
        if let Err(t) = active.file.set_len(start).and_then(|()| active.file.sync_all()) {
            tracing::error!(segment = active.seq, error = %t, "cannot cut a failed append off the segment; leaving it");
            if let Err(e) = abandon(shared, active) {
                tracing::error!(error = %e, "cannot start a new segment");
            }
        }
        return fail(outs, &e);
    }
    shared.syncs.fetch_add(1, Ordering::Relaxed);
    shared.appended.fetch_add(outs.len() as u64, Ordering::Relaxed);
    let mut st = shared.lock();
    let mut pos = start;
    for o in &outs {
        let payload_at = pos + RECORD_HEADER as u64;
        pos = payload_at + u64::from(o.len);
        let value = match o.kind {
            Kind::Shard => payload_at as u32,
            Kind::Tomb => o.value_if_tomb,
        };
        active.entries.push(Entry { kind: o.kind, shard: o.key.1, id: o.key.0, value, len: o.len, time: o.time });
        if let Some(seg) = st.segs.get_mut(&active.seq) {
            seg.len = pos;
        }
        if o.kind == Kind::Shard {
            let loc = Loc { seq: active.seq, off: payload_at as u32, len: o.len, time: o.time };
            match o.from {
                Some(from) if st.index.get(&o.key) != Some(&from) => {}
                _ => st.insert(o.key, loc),
            }
        }
    }
    active.tail = pos;
    drop(st);
    for o in outs {
        if let Some(done) = o.done {
            done.send(Ok(()));
        }
    }
}

fn shard_out(key: Key, payload: Vec<u8>, crc: u32, time: u32, from: Option<Loc>, done: Done) -> Out {
    let len = payload.len() as u32;
    let header = Header { kind: Kind::Shard, shard: key.1, id: key.0, len, time, payload_crc: crc };
    Out {
        key,
        header: header.encode(),
        payload,
        kind: Kind::Shard,
        len,
        time,
        value_if_tomb: 0,
        from,
        done: Some(done),
    }
}

fn fail(outs: Vec<Out>, e: &io::Error) {
    for o in outs {
        if let Some(done) = o.done {
            done.send(Err(io::Error::new(e.kind(), e.to_string())));
        }
    }
}

fn write_and_sync(file: &File, start: u64, outs: &[Out]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(outs.len() * 2);
    for o in outs {
        slices.push(IoSlice::new(&o.header));
        slices.push(IoSlice::new(&o.payload));
    }
    let total: u64 = outs.iter().map(|o| record_len(o.len)).sum();
    let mut at = start;
    let mut rest: &mut [IoSlice<'_>] = &mut slices;
    // The kernel takes at most IOV_MAX slices a call; pwritev may also write less than asked.
    while at < start + total {
        let n = rest.len().min(1024);
        let wrote = match rustix::io::pwritev(file, &rest[..n], at) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(w) => w,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        at += wrote as u64;
        IoSlice::advance_slices(&mut rest, wrote);
    }
    rustix::fs::fdatasync(file)?;
    Ok(())
}

/// Starts the next segment, leaving the active one as it is: unsealed (no hint) when its end is
/// unknown or the disk was wiped, so the next open scans it and stops at the first record that
/// is not whole; [`roll`] seals it first.
fn abandon(shared: &Shared, active: &mut Active) -> io::Result<()> {
    let next = create(&shared.dir, active.seq + 1)?;
    shared.lock().segs.insert(next.seq, Seg { file: next.file.clone(), len: 0, live: 0 });
    *active = next;
    Ok(())
}

/// Seals the active segment (durable, hint written) and starts the next one.
fn roll(shared: &Shared, active: &mut Active) -> io::Result<()> {
    active.file.sync_all()?;
    let hint = encode_hint(&active.entries);
    let tmp = shared.dir.join(format!("{:08x}.hint.tmp", active.seq));
    std::fs::write(&tmp, &hint)?;
    File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, hint_path(&shared.dir, active.seq))?;
    // The new segment's directory entry is synced by create, and the hint's rename with it.
    abandon(shared, active)
}
