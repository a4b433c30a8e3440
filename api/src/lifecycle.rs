//! `GET /cairn/admin/v1/lifecycle`: the lifecycle worker's progress, as it keeps it in
//! the replicated metadata, so every node answers the same.

use serde::{Deserialize, Serialize};

/// Where the lifecycle worker is (it runs on the Raft leader, one bucket after another
/// in name order, keys in order within a bucket) and what it has done since the
/// cluster began. Times are unix nanoseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleStatus {
    /// The bucket the pass in progress is in; `None` between passes.
    pub bucket: Option<String>,
    /// The last key done in that bucket.
    pub after_key: Option<String>,
    pub pass_started: Option<i64>,
    /// Passes finished, and when the last one did.
    pub passes: u64,
    pub last_pass_finished: Option<i64>,
    pub totals: LifecycleTotals,
}

/// Counts of what the rules did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleTotals {
    /// Keys looked at (with all their versions).
    pub keys_scanned: u64,
    /// Current versions expired (removed, or hidden by a delete marker).
    pub expired: u64,
    /// Noncurrent versions removed.
    pub noncurrent_removed: u64,
    /// Delete markers removed because they were all that was left of their key.
    pub markers_removed: u64,
    /// Incomplete multipart uploads aborted.
    pub uploads_aborted: u64,
    /// Actions not taken because the key changed after the rule looked at it.
    pub skipped_changed: u64,
    /// Actions not taken because object lock keeps the version.
    pub skipped_locked: u64,
    /// Versions rewritten into the storage class a transition names.
    #[serde(default)]
    pub transitioned: u64,
    /// Versions moved down or up a class by a bucket's tiering-by-access rule.
    #[serde(default)]
    pub tiered_down: u64,
    #[serde(default)]
    pub tiered_up: u64,
}
