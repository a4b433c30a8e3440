//! When snapshots are built. openraft's own count policy is off
//! ([`super::raft_config_with`]); this worker asks for a snapshot once either budget
//! since the last one is spent:
//!
//! - **entries**: the configured count ([`crate::DEFAULT_SNAPSHOT_EVERY`] unless set),
//!   or half the records of the last snapshot if that is more. A snapshot writes the
//!   whole state, so a fixed count makes snapshots cost more per entry as the state
//!   grows (at 1M objects, a 15 s build every 20,000 entries was about half a core);
//!   scaled this way each entry pays for at most two records written.
//! - **bytes**: an entry may carry half a MiB of inline data or a whole batch ingest,
//!   so a count alone lets the log grow to many GiB between snapshots. The byte budget
//!   is the larger of the configured minimum and half the last snapshot file, so the
//!   log stays under half the state, and snapshots cost at most two bytes written per
//!   byte of log, however large the metadata grows.
//!
//! openraft then purges the log behind the snapshot as after any snapshot, keeping the
//! few entries `max_in_snapshot_log_to_keep` allows for lagging followers.
//!
//! It reads only Raft's metrics, the log store's count of appended bytes and the
//! snapshot file's size and record count, and ends when Raft stops or the store is
//! dropped (it holds the store weakly between looks, so a dropped store's Raft and
//! database close as they would without it).

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

/// Runs until the store's Raft stops: a snapshot whenever, since the last snapshot
/// (whoever asked for that one), the log has grown by `min_entries` entries or half
/// the records of the snapshot file at `snapshot` if that is more, or `appended` has
/// grown by `min_budget` bytes or half the size of that file if that is more.
pub(crate) async fn run(
    store: Weak<Inner>,
    appended: Arc<Appended>,
    min_budget: u64,
    min_entries: u64,
    snapshot: PathBuf,
) {
    let Some(first) = store.upgrade().map(|s| s.raft.metrics().borrow().snapshot) else { return };
    let mut last_snapshot = first;
    let mut base = appended.total();
    let mut asked: Option<Instant> = None;
    loop {
        tokio::time::sleep(TICK).await;
        let Some(raft) = store.upgrade().map(|s| s.raft.clone()) else { return };
        let (running, built, last_log) = {
            let m = raft.metrics();
            let m = m.borrow();
            (m.running_state.is_ok(), m.snapshot, m.last_log_index)
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
        if asked.is_some_and(|t| t.elapsed() < ASK_AGAIN) {
            continue;
        }
        let state = std::fs::metadata(&snapshot).map_or(0, |m| m.len());
        let entries = last_log.unwrap_or(0).saturating_sub(built.map_or(0, |l| l.index));
        let over_bytes = now.saturating_sub(base) >= min_budget.max(state / 2);
        // The record count is read only once the entry count could matter.
        let over_entries =
            entries >= min_entries && entries >= crate::snapshot::record_count(&snapshot).unwrap_or(0) / 2;
        if !over_bytes && !over_entries {
            continue;
        }
        tracing::info!(bytes = now - base, entries, state, "log past its budget: building a snapshot");
        if raft.trigger().snapshot().await.is_err() {
            return;
        }
        asked = Some(Instant::now());
    }
}
