use std::path::PathBuf;
use std::sync::Arc;

use tokio::task::{spawn_blocking, JoinHandle};

use crate::disk_set::{all_paths, remove_all, shard_files};
use crate::error::{join_error, ErasureError};
use crate::paths::tmp_path;
use crate::spec::ShardSpec;
use crate::stripe_sink::{finalize_shard, StripeSink};

/// Streams one object into k+m shard files.
///
/// Double buffered: while one stripe is encoded and written by a blocking task, the
/// caller fills the other, so upstream hashing and erasure work overlap on two cores.
pub struct ShardWriter {
    roots: Arc<[PathBuf]>,
    spec: Arc<ShardSpec>,
    fill: Vec<u8>,
    /// None while a blocking task owns it (then `inflight` is set), or after a task panicked.
    sink: Option<Box<StripeSink>>,
    inflight: Option<JoinHandle<Box<StripeSink>>>,
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
    pub(crate) fn new(roots: Arc<[PathBuf]>, spec: ShardSpec) -> Self {
        let spec = Arc::new(spec);
        let sink = StripeSink::new(roots.clone(), spec.clone());
        ShardWriter {
            roots,
            spec,
            fill: Vec::new(),
            sink: Some(Box::new(sink)),
            inflight: None,
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
            self.sink = Some(sink);
            return Err(ErasureError::Quorum { written: alive, needed });
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

    /// Waits for the stripe in flight, if any, and takes back the shard files.
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
            let paths = all_paths(&self.roots, &self.spec);
            let _ = spawn_blocking(move || remove_all(&paths)).await;
        }
        self.settled = true;
        res
    }

    async fn finish_inner(&mut self) -> Result<WriteReceipt, ErasureError> {
        let mut sink = self.reclaim().await?;
        let mut last = std::mem::take(&mut self.fill);
        let mut sink = spawn_blocking(move || {
            // Also opens the files of an empty object, which is just headers.
            sink.ensure_open();
            if !last.is_empty() {
                sink.write_stripe(&mut last);
            }
            sink
        })
        .await
        .map_err(join_error)?;

        let needed = self.spec.write_quorum();
        let alive = sink.alive();
        if alive < needed {
            return Err(ErasureError::Quorum { written: alive, needed });
        }
        let tasks: Vec<_> = sink
            .take_open()
            .into_iter()
            .map(|shard| {
                let roots = self.roots.clone();
                let spec = self.spec.clone();
                let size = self.size;
                spawn_blocking(move || {
                    let i = shard.shard;
                    let res = finalize_shard(&roots, &spec, shard, size);
                    if let Err(e) = &res {
                        tracing::warn!(shard = i, disk = spec.disks[i], error = %e, "shard not durable, dropping it");
                        let _ = remove_all(&shard_files(&roots, &spec, i));
                    }
                    res.is_ok()
                })
            })
            .collect();
        // Every task is awaited before deciding, so none can rename a file after cleanup.
        let mut durable = 0;
        let mut panicked = None;
        for task in tasks {
            match task.await {
                Ok(true) => durable += 1,
                Ok(false) => {}
                Err(e) => panicked = Some(join_error(e)),
            }
        }
        if let Some(e) = panicked {
            return Err(e);
        }
        if durable < needed {
            return Err(ErasureError::Quorum { written: durable, needed });
        }
        Ok(WriteReceipt { size: self.size, shards_written: durable })
    }

    /// Discards the write and removes its temp files.
    pub async fn abort(mut self) {
        if let Some(handle) = self.inflight.take() {
            let _ = handle.await;
        }
        self.sink = None;
        let paths = self.tmp_paths();
        let _ = spawn_blocking(move || remove_all(&paths)).await;
        self.settled = true;
    }

    fn tmp_paths(&self) -> Vec<PathBuf> {
        self.spec.disks.iter().enumerate().map(|(i, &d)| tmp_path(&self.roots[d as usize], self.spec.id, i)).collect()
    }
}

impl Drop for ShardWriter {
    /// A writer dropped mid-way (e.g. the client went away) must not leave temp files; any
    /// that survive a crash here are cleared by DiskSet::open at the next start.
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let paths = self.tmp_paths();
        let inflight = self.inflight.take();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                // The stripe in flight may still create files, so removal waits for it.
                rt.spawn(async move {
                    if let Some(handle) = inflight {
                        let _ = handle.await;
                    }
                    let _ = spawn_blocking(move || remove_all(&paths)).await;
                });
            }
            Err(_) => {
                let _ = remove_all(&paths);
            }
        }
    }
}
