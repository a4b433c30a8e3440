//! Moving a blob's shards to other disks (the rebalancer, after a layout change): the
//! caller copies the shards, then one commit here switches the version to the new
//! copies. The state machine refuses the switch when the object no longer holds that
//! blob on `from`, or when the layout moved on meanwhile; the new copies are then the
//! caller's to remove, and the old ones stay in use.

use crate::ObjectError;
use cairn_raft::MetaStore;
use cairn_raft::schema::{Command, CommandResult};

/// A blob of `bucket/key` whose shards were copied from `from` to `to` (global disk
/// indexes, one per shard) under layout `layout_version`.
pub struct BlobMove {
    pub bucket: String,
    pub key: String,
    pub id: u128,
    pub from: Vec<u16>,
    pub to: Vec<u16>,
    pub layout_version: u64,
}

/// Commits a move: `Ok(true)` when the version now points at `to`, `Ok(false)` when
/// the state machine refused it (the object changed, or the layout did). An error
/// leaves the outcome unknown: both copies must stay until the collector decides.
pub async fn commit_move(meta: &MetaStore, m: BlobMove) -> Result<bool, ObjectError> {
    let cmd = Command::MoveBlob {
        bucket: m.bucket,
        key: m.key,
        id: m.id,
        from: m.from,
        to: m.to,
        layout_version: m.layout_version,
    };
    Ok(matches!(meta.propose(cmd).await?, CommandResult::Ok))
}
