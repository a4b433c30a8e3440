//! The log's byte budget. Snapshots come every [`crate::DEFAULT_SNAPSHOT_EVERY`]
//! entries (openraft's policy), but an entry may carry half a MiB of inline data or a
//! whole batch ingest, so a count alone lets the log (and the disk and memory of the
//! metadata store under it) grow to many GiB between snapshots. This worker also asks
//! for a snapshot once the entries appended since the last one pass a byte budget;
//! openraft then purges the log behind it as after any snapshot, keeping the few
//! entries `max_in_snapshot_log_to_keep` allows for lagging followers.
//!
//! It reads only Raft's metrics and the log store's count of appended bytes, and
//! ends when Raft stops or the store is dropped (it holds the store weakly between
//! looks, so a dropped store's Raft and database close as they would without it).

use super::Inner;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Encoded log bytes between two snapshots, at most (unless configured otherwise).
pub const DEFAULT_SNAPSHOT_LOG_BYTES: u64 = 256 << 20;

/// How often the count is looked at.
const TICK: Duration = Duration::from_millis(500);

/// Runs until the store's Raft stops: a snapshot whenever `appended` has grown by
/// `budget` bytes since the last snapshot (whoever asked for that one).
pub(crate) async fn run(store: Weak<Inner>, appended: Arc<AtomicU64>, budget: u64) {
    let Some(first) = store.upgrade().map(|s| s.raft.metrics().borrow().snapshot) else { return };
    let mut last_snapshot = first;
    let mut base = appended.load(Ordering::Relaxed);
    loop {
        tokio::time::sleep(TICK).await;
        let Some(raft) = store.upgrade().map(|s| s.raft.clone()) else { return };
        let (running, snapshot) = {
            let m = raft.metrics();
            let m = m.borrow();
            (m.running_state.is_ok(), m.snapshot)
        };
        if !running {
            return;
        }
        let now = appended.load(Ordering::Relaxed);
        if snapshot != last_snapshot {
            // One was built (by count, by hand, or ours): count from here.
            last_snapshot = snapshot;
            base = now;
            continue;
        }
        if now.saturating_sub(base) < budget {
            continue;
        }
        tracing::info!(bytes = now - base, "log past its byte budget: building a snapshot");
        if raft.trigger().snapshot().await.is_err() {
            return;
        }
        base = now;
    }
}
