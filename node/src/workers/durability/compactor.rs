//! Segment compaction on this node's local disks: every `compact_interval_secs`, each disk's sealed
//! segments with less than [`MIN_LIVE`] of their bytes still in use are rewritten and removed
//! (see `cairn_erasure::segment`), at most `scrub_rate_mib` a second of reads, one disk at a
//! time. Writes and reads go on meanwhile: a move is one more record in a group commit.

use std::sync::Arc;
use std::time::Duration;

use cairn_erasure::{LocalDisk, Pace};
use tokio::sync::watch;

/// A sealed segment is compacted once less than half of it is live: space amplification stays
/// under 2x, and each byte moved frees at least one.
pub const MIN_LIVE: f64 = 0.5;

pub async fn run(local: Vec<Arc<LocalDisk>>, every: Duration, pace: Option<Pace>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        for disk in &local {
            let (disk, pace) = (disk.clone(), pace.clone());
            let res = tokio::task::spawn_blocking(move || {
                let pace = |n: u64| {
                    if let Some(p) = &pace {
                        p(n)
                    }
                };
                disk.compact_segments(MIN_LIVE, &pace).map(|r| (r, disk))
            })
            .await;
            match res {
                Ok(Ok((r, disk))) if r.segments > 0 => tracing::info!(
                    disk = %disk.root().display(),
                    segments = r.segments,
                    moved = r.moved,
                    freed_bytes = r.freed_bytes,
                    "segments compacted"
                ),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "segment compaction failed"),
                Err(e) => tracing::warn!(error = %e, "segment compaction task failed"),
            }
        }
    }
}
