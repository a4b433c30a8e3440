//! `/cairn/admin/v1/{heal, heal/object, scrub, rebalance, gc}`: the answers of the
//! durability services (heal passes, heal on read, refill, scrubbing, rebalancing,
//! orphan collection).
//!
//! [`PassStatus`], [`RebalancePass`] and the scrubber's passes are also what the node
//! persists of its passes (as JSON in Raft's service state), so a field added here must
//! be `#[serde(default)]` for records written before it.

use serde::{Deserialize, Serialize};

/// Where a pass (heal, scrub, rebalance) is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PassState {
    /// Never ran on this node.
    #[default]
    Idle,
    Running,
    Done,
    /// Interrupted (shutdown, leadership lost); a later pass resumes after its cursor.
    Stopped,
}

/// Stripes by health: `whole` (every shard good), `degraded` (readable, some shard
/// bad), `lost` (fewer than k good shards).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeCounts {
    pub whole: u64,
    pub degraded: u64,
    pub lost: u64,
}

/// What a heal or scrub pass walks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassScope {
    pub bucket: Option<String>,
    pub prefix: String,
    /// Only blobs with a shard on this global disk index (refilling one disk).
    pub disk: Option<u16>,
}

/// Progress and findings of a heal or scrub pass.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassStatus {
    pub state: PassState,
    pub scope: PassScope,
    /// Unix seconds.
    pub started: Option<u64>,
    pub finished: Option<u64>,
    /// The last object done (bucket, key); a resumed pass continues after it.
    pub cursor: Option<(String, String)>,
    pub objects: u64,
    pub blobs: u64,
    /// Shard bytes read and checked.
    pub bytes_verified: u64,
    /// Stripes as the pass found them.
    pub found: StripeCounts,
    /// Stripes after healing, each verified again after its rewrite: the health of
    /// everything the pass covered.
    pub stripes: StripeCounts,
    pub blobs_healed: u64,
    pub shards_rewritten: u64,
    /// Shards that could not be rewritten (their disk is away, or too few good shards).
    pub heal_failures: u64,
    pub last_error: Option<String>,
}

/// Heal on read: blobs a GET found degraded, queued and healed in the background.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealQueueStats {
    pub reported: u64,
    pub healed: u64,
    pub already_whole: u64,
    pub failed: u64,
    /// Reports dropped because the queue was full or the blob was not referenced.
    pub dropped: u64,
    pub pending: u64,
}

/// Where the refill of a replaced (empty) disk is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefillState {
    /// For the layout to place the disk, or for another heal pass on the node to end.
    #[default]
    Waiting,
    Running,
    /// The last pass left work: another starts at `next_pass`, or sooner when an
    /// offline disk returns.
    Retrying,
    Done,
}

/// The refill of one local disk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefillStatus {
    /// Global index of the disk; None until the layout places this node's disks.
    pub disk: Option<u16>,
    pub path: String,
    pub state: RefillState,
    /// Unix seconds.
    pub started: u64,
    pub finished: Option<u64>,
    /// Passes started so far.
    pub passes: u32,
    pub next_pass: Option<u64>,
    /// The last pass that ended: its stripe counts say what is left to rebuild.
    pub last: Option<PassStatus>,
}

/// `GET heal`, and `POST heal` (which starts a pass): this node's heal pass, heal on
/// read, and the refills of its disks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealStatus {
    /// The running or last heal pass of this node.
    pub pass: PassStatus,
    pub on_read: HealQueueStats,
    pub refill: Vec<RefillStatus>,
}

/// An object's health as a whole: its worst stripe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectHealth {
    Whole,
    Degraded,
    Lost,
}

/// `GET heal/object` (verify) and `POST heal/object` (verify and heal) of one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectHealReport {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// After healing (or as found, when verifying only).
    pub state: ObjectHealth,
    pub stripes: StripeCounts,
    /// As found, before any rewrite.
    pub found: StripeCounts,
    pub blobs: Vec<BlobHealReport>,
}

/// One blob of an object (the object's data, or one part of a multipart object).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobHealReport {
    /// 32 hex digits.
    pub id: String,
    pub size: u64,
    pub stripes: StripeCounts,
    /// Shard indexes still bad after healing.
    pub bad_shards: Vec<usize>,
    pub rewritten: usize,
    pub failed: Vec<ShardFailure>,
}

/// A shard that could not be rewritten, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardFailure {
    pub shard: usize,
    pub error: String,
}

/// `GET scrub`, and `POST scrub` (which asks the leader to start a pass).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrubStatus {
    pub running: bool,
    /// The pass in progress (live on the node running it, else as last checkpointed).
    pub current: Option<PassStatus>,
    /// The last pass that finished.
    pub last: Option<PassStatus>,
    pub rate_mib: u64,
    pub interval_secs: u64,
    /// Unix seconds; None when periodic scrubbing is off.
    pub next_due: Option<u64>,
    /// The node that runs the scrubber (the Raft leader).
    pub leader: Option<u64>,
}

/// One rebalance pass: moving shards to where the current layout places them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebalancePass {
    pub state: PassState,
    pub layout_version: u64,
    pub started: Option<u64>,
    pub finished: Option<u64>,
    pub objects: u64,
    pub blobs_moved: u64,
    pub shards_moved: u64,
    /// Blobs left in place because a target disk was offline, or a copy failed.
    pub skipped: u64,
    pub last_error: Option<String>,
}

/// `GET rebalance`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebalanceStatus {
    pub running: bool,
    pub current: Option<RebalancePass>,
    pub last: Option<RebalancePass>,
    /// The layout version the last complete pass placed everything by.
    pub done_version: u64,
    pub layout_version: u64,
    pub rate_mib: u64,
}

/// `POST gc`: one orphan collection over this node's disks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcReport {
    pub disks: usize,
    /// Committed shard files looked at.
    pub scanned: u64,
    /// Shard files removed: no object or upload part refers to their blob.
    pub removed: u64,
    /// Files younger than the grace period, left alone.
    pub young: u64,
    /// Stale temp files removed.
    pub tmp_removed: u64,
    pub errors: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scrub pass as the node persisted it (in Raft's service state) before these
    /// types existed: it must still load, or a resumed pass would start over.
    #[test]
    fn a_pass_persisted_by_earlier_nodes_loads() {
        let old = r#"{"state":"running","scope":{"bucket":null,"prefix":"","disk":null},
            "started":1764900000,"finished":null,"cursor":["media","clips/0042.mov"],
            "objects":42,"blobs":44,"bytes_verified":1048576,
            "found":{"whole":10,"degraded":1,"lost":0},"stripes":{"whole":11,"degraded":0,"lost":0},
            "blobs_healed":1,"shards_rewritten":2,"heal_failures":0,"last_error":null}"#;
        let p: PassStatus = serde_json::from_str(old).unwrap();
        assert_eq!(p.state, PassState::Running);
        assert_eq!(p.cursor, Some(("media".to_string(), "clips/0042.mov".to_string())));
        assert_eq!(p.found.degraded, 1);
        assert_eq!(p.shards_rewritten, 2);
        let again: serde_json::Value = serde_json::to_value(&p).unwrap();
        assert_eq!(again, serde_json::from_str::<serde_json::Value>(old).unwrap());
    }

    #[test]
    fn states_are_lowercase_words_on_the_wire() {
        for (state, word) in [
            (PassState::Idle, "idle"),
            (PassState::Running, "running"),
            (PassState::Done, "done"),
            (PassState::Stopped, "stopped"),
        ] {
            assert_eq!(serde_json::to_value(state).unwrap(), word);
        }
        assert_eq!(serde_json::to_value(RefillState::Retrying).unwrap(), "retrying");
        assert_eq!(serde_json::to_value(ObjectHealth::Degraded).unwrap(), "degraded");
        assert!(serde_json::from_str::<PassState>("\"paused\"").is_err());
    }
}
