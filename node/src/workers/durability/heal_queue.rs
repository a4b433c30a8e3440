//! Heal on read: blobs found damaged in passing (a read that needed parity, a write
//! that reached its quorum without every shard) wait here briefly and are then healed
//! in the background, one at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_erasure::DiskSet;
use cairn_raft::MetaStore;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::pass::{check_blob, resolve};

/// Reports beyond this many unprocessed are dropped (the scrubber finds them later).
const QUEUE_DEPTH: usize = 4096;
/// A report is handled after this delay: a write reports before its metadata commits.
const FIRST_DELAY: Duration = Duration::from_secs(1);
const RETRY_DELAY: Duration = Duration::from_secs(3);
/// Attempts to find the blob's owner before giving up (it was never committed, or was
/// deleted: the orphan collector's business then).
const MAX_ATTEMPTS: u32 = 5;
/// A heal that could not rewrite every bad shard (its disk's node is down, say) is
/// tried again this often, for about ten minutes; after that the scrubber or a heal
/// pass finds the blob.
const HEAL_RETRY_DELAY: Duration = Duration::from_secs(15);
const MAX_HEAL_ATTEMPTS: u32 = 40;

pub use cairn_api::durability::HealQueueStats as QueueStats;

#[derive(Clone)]
pub struct HealQueue {
    tx: mpsc::Sender<u128>,
    stats: Arc<Mutex<QueueStats>>,
}

impl HealQueue {
    pub fn start(meta: MetaStore, disks: Arc<DiskSet>, shutdown: watch::Receiver<bool>) -> HealQueue {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let stats = Arc::new(Mutex::new(QueueStats::default()));
        tokio::spawn(worker(meta, disks, rx, stats.clone(), shutdown));
        HealQueue { tx, stats }
    }

    pub fn report(&self, id: u128) {
        let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        s.reported += 1;
        if self.tx.try_send(id).is_err() {
            s.dropped += 1;
        }
    }

    pub fn stats(&self) -> QueueStats {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

async fn worker(
    meta: MetaStore,
    disks: Arc<DiskSet>,
    mut rx: mpsc::Receiver<u128>,
    stats: Arc<Mutex<QueueStats>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut pending: HashMap<u128, (Instant, u32)> = HashMap::new();
    loop {
        tokio::select! {
            id = rx.recv() => match id {
                Some(id) => {
                    pending.entry(id).or_insert((Instant::now() + FIRST_DELAY, 0));
                }
                None => return,
            },
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = shutdown.changed() => return,
        }
        let now = Instant::now();
        let due: Vec<(u128, u32)> =
            pending.iter().filter(|(_, (at, _))| *at <= now).map(|(id, (_, n))| (*id, *n)).collect();
        for (id, attempts) in due {
            pending.remove(&id);
            let Some((spec, size)) = resolve(&meta, id) else {
                if attempts + 1 < MAX_ATTEMPTS {
                    pending.insert(id, (Instant::now() + RETRY_DELAY, attempts + 1));
                } else {
                    stats.lock().unwrap_or_else(|e| e.into_inner()).dropped += 1;
                }
                continue;
            };
            let res = check_blob(&meta, &disks, spec, size, None, true).await;
            let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
            match res {
                Ok(Some(r)) if r.rewritten > 0 && r.after.is_whole() => s.healed += 1,
                Ok(Some(r)) if r.found.is_whole() => s.already_whole += 1,
                Ok(None) => s.dropped += 1,
                Ok(Some(_)) | Err(_) if attempts + 1 < MAX_HEAL_ATTEMPTS => {
                    pending.insert(id, (Instant::now() + HEAL_RETRY_DELAY, attempts + 1));
                }
                Ok(Some(_)) | Err(_) => s.failed += 1,
            }
        }
        stats.lock().unwrap_or_else(|e| e.into_inner()).pending = pending.len() as u64;
    }
}
