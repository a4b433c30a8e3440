//! The orphan collector: shard files that no metadata refers to. They are left by a
//! crash between writing a blob's shards and committing its metadata, or between a
//! delete's commit and the removal of its shards. A file is only taken once it is
//! older than the grace period, so a write whose commit is still on its way keeps
//! its shards. A shard file of a live blob on a disk the metadata does not place that
//! shard on (left by a move or a heal interrupted by a crash) is an orphan too.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cairn_erasure::{LocalDisk, ShardDisk};
use cairn_raft::MetaStore;

use super::pass::resolve;

pub use cairn_api::durability::GcReport;

/// One pass over this node's disks.
pub async fn collect(
    meta: &MetaStore,
    local: &[(Arc<LocalDisk>, Option<u16>)],
    grace: Duration,
) -> Result<GcReport, String> {
    // The local state machine must have applied every commit the leader had when the
    // pass starts; a blob committed later has young shards and is skipped anyway.
    meta.read_barrier().await.map_err(|e| format!("metadata not reachable: {e}"))?;
    let cutoff = SystemTime::now().checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
    let meta = meta.clone();
    let local = local.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut r = GcReport { disks: local.len(), ..Default::default() };
        for (disk, global) in &local {
            let walked = disk.for_each_shard(|f| {
                r.scanned += 1;
                if f.modified >= cutoff {
                    r.young += 1;
                    return;
                }
                let orphan = match meta.blob_owner(f.id) {
                    // Referenced: an orphan only if the blob's shard lives elsewhere.
                    Ok(Some(_)) => match (resolve(&meta, f.id), global) {
                        (Some((spec, _)), Some(g)) => spec.disks.get(f.shard) != Some(g),
                        _ => false,
                    },
                    Ok(None) => true,
                    Err(_) => {
                        r.errors += 1;
                        false
                    }
                };
                if orphan {
                    match disk.remove(f.id, f.shard) {
                        Ok(()) => r.removed += 1,
                        Err(e) => {
                            r.errors += 1;
                            tracing::warn!(disk = %disk.root().display(), error = %e, "cannot remove orphan shard");
                        }
                    }
                }
            });
            if walked.is_err() {
                r.errors += 1;
            }
            match disk.sweep_tmp(cutoff) {
                Ok(n) => r.tmp_removed += n as u64,
                Err(_) => r.errors += 1,
            }
        }
        if r.removed > 0 || r.tmp_removed > 0 {
            tracing::info!(
                removed = r.removed,
                tmp_removed = r.tmp_removed,
                scanned = r.scanned,
                "orphan shards collected"
            );
        }
        r
    })
    .await
    .map_err(|e| format!("collector task failed: {e}"))
}
