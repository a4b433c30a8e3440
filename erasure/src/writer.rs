//! [`ShardWriter`]: streams one object into k+m shard files, fsyncs them, and
//! reports the write quorum reached.

use std::sync::Arc;

use tokio::task::{spawn_blocking, JoinHandle};

use crate::disk::{ShardDisk, ShardFileWriter};
use crate::error::{join_error, ErasureError};
use crate::header;
use crate::spec::ShardSpec;
use crate::stripe_sink::{ShardDisks, StripeSink};

/// Streams one object into k+m shard files.
///
/// Double buffered: while one stripe is encoded and written by a blocking task, the
/// caller fills the other, so upstream hashing and erasure work overlap on two cores.
pub struct ShardWriter {
    disks: ShardDisks,
    spec: Arc<ShardSpec>,
    fill: Vec<u8>,
    /// None while a blocking task owns it (then `inflight` is set), or after a task panicked.
    sink: Option<Box<StripeSink>>,
    inflight: Option<JoinHandle<Box<StripeSink>>>,
    /// Commit tasks of a finish() not yet awaited, by shard: if finish() is cancelled, Drop
    /// waits for them so that nothing they make durable outlives the cleanup.
    committing: Vec<(usize, JoinHandle<Result<(), std::io::ErrorKind>>)>,
    /// Shards that may be durable under their final name: a failed finish() removes them.
    maybe_durable: Vec<usize>,
    size: u64,
    /// finish() or abort() ran: nothing left for Drop to clean up.
    settled: bool,
}

/// What finish() made durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteReceipt {
    pub size: u64,
    pub shards_written: usize,
}

impl ShardWriter {
    pub(crate) fn new(disks: ShardDisks, spec: ShardSpec) -> Self {
        let spec = Arc::new(spec);
        let sink = StripeSink::new(disks.clone(), spec.clone());
        ShardWriter {
            disks,
            spec,
            fill: Vec::new(),
            sink: Some(Box::new(sink)),
            inflight: None,
            committing: Vec::new(),
            maybe_durable: Vec::new(),
            size: 0,
            settled: false,
        }
    }

    /// Appends object bytes. Returns Err(Quorum) early once too many disks have failed
    /// for the write ever to succeed.
    pub async fn write(&mut self, mut buf: &[u8]) -> Result<(), ErasureError> {
        let stripe_len = self.spec.stripe_len() as usize;
        // A stripe left full by a cancelled write() goes out before new bytes are taken.
        if self.fill.len() == stripe_len {
            self.submit_stripe().await?;
        }
        while !buf.is_empty() {
            if self.fill.capacity() < stripe_len {
                self.fill.reserve_exact(stripe_len - self.fill.len());
            }
            let take = (stripe_len - self.fill.len()).min(buf.len());
            self.fill.extend_from_slice(&buf[..take]);
            self.size += take as u64;
            buf = &buf[take..];
            if self.fill.len() == stripe_len {
                self.submit_stripe().await?;
            }
        }
        Ok(())
    }

    /// Hands the full stripe to a blocking task, after the previous one has completed.
    async fn submit_stripe(&mut self) -> Result<(), ErasureError> {
        let mut sink = self.reclaim().await?;
        let needed = self.spec.write_quorum();
        let alive = sink.alive();
        if alive < needed {
            let full = sink.full();
            self.sink = Some(sink);
            return Err(ErasureError::Quorum { written: alive, needed, full });
        }
        let mut next = std::mem::take(&mut sink.spare);
        next.clear();
        let mut full = std::mem::replace(&mut self.fill, next);
        self.inflight = Some(spawn_blocking(move || {
            sink.write_stripe(&mut full);
            sink.spare = full;
            sink
        }));
        Ok(())
    }

    /// Waits for the stripe in flight, if any, and takes back the shard writers.
    async fn reclaim(&mut self) -> Result<Box<StripeSink>, ErasureError> {
        if let Some(handle) = self.inflight.as_mut() {
            let res = handle.await;
            self.inflight = None;
            return res.map_err(join_error);
        }
        self.sink.take().ok_or_else(|| {
            ErasureError::Io(std::io::Error::other("shard writer unusable after an earlier task failure"))
        })
    }

    /// Writes the last partial stripe, makes every surviving shard durable (in parallel) and
    /// checks the write quorum. On any error all files of this write are removed.
    pub async fn finish(mut self) -> Result<WriteReceipt, ErasureError> {
        let res = self.finish_inner().await;
        if res.is_err() {
            self.take_cleanup().run().await;
        }
        self.settled = true;
        res
    }

    async fn finish_inner(&mut self) -> Result<WriteReceipt, ErasureError> {
        let mut sink = self.reclaim().await?;
        let mut last = std::mem::take(&mut self.fill);
        // Kept in `inflight` so that Drop finds it if finish() is cancelled here.
        self.inflight = Some(spawn_blocking(move || {
            // Also creates the files of an empty object, which is just headers.
            sink.ensure_open();
            if !last.is_empty() {
                sink.write_stripe(&mut last);
            }
            sink
        }));
        let mut sink = self.reclaim().await?;

        let needed = self.spec.write_quorum();
        let alive = sink.alive();
        let mut full = sink.full();
        if alive < needed {
            self.sink = Some(sink);
            return Err(ErasureError::Quorum { written: alive, needed, full });
        }
        let open = sink.take_open();
        self.sink = Some(sink);
        for (shard, mut w) in open {
            let disk = self.disks[shard].clone();
            let spec = self.spec.clone();
            let size = self.size;
            // A shard bound for a segment is handed to its disk's committer from here; the
            // task that waits for it parks no thread. Others commit on a blocking thread.
            let task = match w.commit_deferred(&header::encode(&spec, shard, size)) {
                Some(handed) => tokio::spawn(settle_deferred(handed, w, disk, spec, shard)),
                None => spawn_blocking(move || commit_shard(w, disk, &spec, shard, size)),
            };
            self.committing.push((shard, task));
        }
        // Every task is awaited before deciding, so none can rename a file after cleanup.
        let mut durable = 0;
        let mut panicked = None;
        while let Some((shard, task)) = self.committing.last_mut() {
            let shard = *shard;
            let res = task.await;
            self.committing.pop();
            match res {
                Ok(Ok(())) => {
                    durable += 1;
                    self.maybe_durable.push(shard);
                }
                Ok(Err(kind)) => full += usize::from(crate::error::is_full(kind)),
                Err(e) => {
                    self.maybe_durable.push(shard);
                    panicked = Some(join_error(e));
                }
            }
        }
        if let Some(e) = panicked {
            return Err(e);
        }
        if durable < needed {
            return Err(ErasureError::Quorum { written: durable, needed, full });
        }
        Ok(WriteReceipt { size: self.size, shards_written: durable })
    }

    /// Discards the write and removes its temp files.
    pub async fn abort(mut self) {
        self.take_cleanup().run().await;
        self.settled = true;
    }

    /// Moves out everything that may still hold files of this write.
    fn take_cleanup(&mut self) -> Cleanup {
        Cleanup {
            disks: self.disks.clone(),
            id: self.spec.id,
            sink: self.sink.take(),
            inflight: self.inflight.take(),
            committing: std::mem::take(&mut self.committing),
            maybe_durable: std::mem::take(&mut self.maybe_durable),
        }
    }
}

/// Makes one shard durable; a shard that fails is removed again, whatever state it is in,
/// and the kind of its error returned.
fn commit_shard(
    w: Box<dyn ShardFileWriter>,
    disk: Option<Arc<dyn ShardDisk>>,
    spec: &ShardSpec,
    shard: usize,
    object_size: u64,
) -> Result<(), std::io::ErrorKind> {
    let Err(e) = w.commit(&header::encode(spec, shard, object_size)) else {
        return Ok(());
    };
    Err(drop_failed(disk, spec, shard, &e))
}

/// [`commit_shard`] for a shard handed over by [`ShardFileWriter::commit_deferred`]: waits
/// for the outcome, then lets the writer (and its claim on the shard) go.
async fn settle_deferred(
    handed: std::io::Result<crate::disk::Deferred>,
    w: Box<dyn ShardFileWriter>,
    disk: Option<Arc<dyn ShardDisk>>,
    spec: Arc<ShardSpec>,
    shard: usize,
) -> Result<(), std::io::ErrorKind> {
    let res = crate::disk::deferred_outcome(handed).await;
    drop(w);
    let Err(e) = res else { return Ok(()) };
    Err(spawn_blocking(move || drop_failed(disk, &spec, shard, &e)).await.unwrap_or(std::io::ErrorKind::Other))
}

/// Removes a shard whose commit failed, whatever state it is in; returns the failure's kind.
fn drop_failed(
    disk: Option<Arc<dyn ShardDisk>>,
    spec: &ShardSpec,
    shard: usize,
    e: &std::io::Error,
) -> std::io::ErrorKind {
    tracing::warn!(shard, disk = spec.disks[shard], error = %e, "shard not durable, dropping it");
    if let Some(disk) = disk {
        if let Err(e) = disk.remove(spec.id, shard) {
            tracing::warn!(shard, disk = spec.disks[shard], error = %e, "cannot remove failed shard");
        }
    }
    e.kind()
}

/// What an unfinished write leaves to discard.
struct Cleanup {
    disks: ShardDisks,
    id: u128,
    sink: Option<Box<StripeSink>>,
    inflight: Option<JoinHandle<Box<StripeSink>>>,
    committing: Vec<(usize, JoinHandle<Result<(), std::io::ErrorKind>>)>,
    maybe_durable: Vec<usize>,
}

impl Cleanup {
    async fn run(self) {
        let Cleanup { disks, id, mut sink, inflight, committing, mut maybe_durable } = self;
        // Tasks still running may create or commit files, so discarding waits for them. A
        // task that panicked dropped its sink, which aborted its shards then.
        if let Some(handle) = inflight {
            if let Ok(s) = handle.await {
                sink = Some(s);
            }
        }
        for (shard, task) in committing {
            // A failed commit removed its shard itself.
            if !matches!(task.await, Ok(Err(_))) {
                maybe_durable.push(shard);
            }
        }
        let _ = spawn_blocking(move || discard(sink, &disks, id, &maybe_durable)).await;
    }

    /// Without a runtime the tasks have finished or been cancelled (a runtime waits for its
    /// blocking tasks when it shuts down); dropping their handles drops any sink they return.
    /// Their outcome is unknown, so a shard still committing counts as durable.
    fn run_here(self) {
        let Cleanup { disks, id, sink, inflight, committing, mut maybe_durable } = self;
        drop(inflight);
        maybe_durable.extend(committing.into_iter().map(|(shard, _)| shard));
        discard(sink, &disks, id, &maybe_durable);
    }
}

fn discard(sink: Option<Box<StripeSink>>, disks: &[Option<Arc<dyn ShardDisk>>], id: u128, durable: &[usize]) {
    if let Some(mut sink) = sink {
        sink.abort_all();
    }
    for &shard in durable {
        if let Some(disk) = &disks[shard] {
            if let Err(e) = disk.remove(id, shard) {
                tracing::warn!(id = %format_args!("{id:032x}"), shard, error = %e, "cannot remove shard of a failed write");
            }
        }
    }
}

impl Drop for ShardWriter {
    /// A writer dropped mid-way (e.g. the client went away, or finish() was cancelled) must
    /// not leave files behind; temp files that survive a crash here are cleared when the disk
    /// is opened at the next start.
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let cleanup = self.take_cleanup();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(cleanup.run());
            }
            Err(_) => cleanup.run_here(),
        }
    }
}
