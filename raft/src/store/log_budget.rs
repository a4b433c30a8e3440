//! The log's byte budget. Snapshots come every [`crate::DEFAULT_SNAPSHOT_EVERY`]
//! entries (openraft's policy), but an entry may carry half a MiB of inline data or a
//! whole batch ingest, so a count alone lets the log (and the disk and memory of the
//! metadata store under it) grow to many GiB between snapshots. This worker also asks
//! for a snapshot once the entries appended since the last one pass a byte budget;
//! openraft then purges the log behind it as after any snapshot, keeping the few
//! entries `max_in_snapshot_log_to_keep` allows for lagging followers.
//!
//! The budget grows with the state: it is the larger of the configured minimum and
//! half the last snapshot file, since a snapshot writes the whole state. So the log
//! stays under half the state, and snapshots cost at most two bytes written per
//! byte of log, however large the metadata grows.
//!
//! It reads only Raft's metrics and the log store's count of appended bytes, and
//! ends when Raft stops or the store is dropped (it holds the store weakly between
//! looks, so a dropped store's Raft and database close as they would without it).

use super::Inner;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Encoded log bytes between two snapshots while the state is small (unless
/// configured otherwise); half the last snapshot's size once that is larger.
pub const DEFAULT_SNAPSHOT_LOG_BYTES: u64 = 256 << 20;

/// How often the count is looked at.
const TICK: Duration = Duration::from_millis(500);

/// A snapshot asked for and not seen built after this long (its build failed, say) is
/// asked for again.
const ASK_AGAIN: Duration = Duration::from_secs(300);

/// Appends remembered (their last index and the count after them), at most.
const MARKS: usize = 4096;

/// The encoded bytes the log store appended since it opened, and at which index.
#[derive(Default)]
pub struct Appended {
    inner: Mutex<(u64, VecDeque<(u64, u64)>)>,
}

impl Appended {
    /// Counts `bytes` appended in entries up to `last_index`.
    pub(crate) fn add(&self, last_index: u64, bytes: u64) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0 += bytes;
        let total = g.0;
        if g.1.len() == MARKS {
            g.1.pop_front();
        }
        g.1.push_back((last_index, total));
    }

    fn total(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    /// The count once the entries up to `index` were appended, if still remembered.
    fn at(&self, index: u64) -> Option<u64> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.1.iter().rev().find(|(i, _)| *i <= index).map(|(_, total)| *total)
    }
}

/// Runs until the store's Raft stops: a snapshot whenever `appended` has grown by
/// the budget since the last snapshot (whoever asked for that one): `min_budget`, or
/// half the size of the snapshot file at `snapshot` if that is more.
pub(crate) async fn run(store: Weak<Inner>, appended: Arc<Appended>, min_budget: u64, snapshot: PathBuf) {
    let Some(first) = store.upgrade().map(|s| s.raft.metrics().borrow().snapshot) else { return };
    let mut last_snapshot = first;
    let mut base = appended.total();
    let mut asked: Option<Instant> = None;
    loop {
        tokio::time::sleep(TICK).await;
        let Some(raft) = store.upgrade().map(|s| s.raft.clone()) else { return };
        let (running, built) = {
            let m = raft.metrics();
            let m = m.borrow();
            (m.running_state.is_ok(), m.snapshot)
        };
        if !running {
            return;
        }
        let now = appended.total();
        if built != last_snapshot {
            // One was built (ours, or by count or by hand): what it covers no longer
            // counts, what came after it does.
            last_snapshot = built;
            base = built.and_then(|l| appended.at(l.index)).unwrap_or(now);
            asked = None;
        }
        let state = std::fs::metadata(&snapshot).map_or(0, |m| m.len());
        if asked.is_some_and(|t| t.elapsed() < ASK_AGAIN) || now.saturating_sub(base) < min_budget.max(state / 2) {
            continue;
        }
        tracing::info!(bytes = now - base, state, "log past its byte budget: building a snapshot");
        if raft.trigger().snapshot().await.is_err() {
            return;
        }
        asked = Some(Instant::now());
    }
}
