//! Storage classes: a node's disk pools and configured classes merged into the
//! cluster's record (`crate::tiers`), and a blob rewritten into another class
//! switched in (SwapBlob), only if the key still holds the blob that was copied.

use super::objects::edit_blob;
use crate::blobs;
use crate::error::MetaError;
use crate::keys::{CLUSTER_LAYOUT, CLUSTER_TIERS};
use crate::schema::{ClusterLayout, CommandResult, ObjectData, ShardRef};
use crate::tables::Table;
use crate::tiers::{StorageClass, Tiers};
use crate::tx::Tx;

pub(super) fn set(
    tx: &mut Tx,
    node: u64,
    pools: Vec<String>,
    classes: Vec<StorageClass>,
) -> Result<CommandResult, MetaError> {
    let mut tiers: Tiers = tx.read(Table::Cluster, CLUSTER_TIERS)?.unwrap_or_default();
    let layout: ClusterLayout = tx.read(Table::Cluster, CLUSTER_LAYOUT)?.unwrap_or_default();
    let standard = |c: &&StorageClass| {
        c.pool == crate::tiers::DEFAULT_POOL
            && (c.data_shards, c.parity_shards) == (layout.data_shards, layout.parity_shards)
    };
    if let Some(twin) = classes.iter().find(standard) {
        return Ok(CommandResult::LayoutConflict(format!(
            "storage class {} would have STANDARD's layout ({}+{}@default)",
            twin.name, twin.data_shards, twin.parity_shards
        )));
    }
    match tiers.merge(node, pools, classes) {
        Ok(false) => Ok(CommandResult::Ok),
        Ok(true) => {
            tx.write(Table::Cluster, CLUSTER_TIERS.to_vec(), &tiers)?;
            // Placement follows the pools: the rebalancer looks again at a new version.
            let mut layout = layout;
            layout.version += 1;
            tx.write(Table::Cluster, CLUSTER_LAYOUT.to_vec(), &layout)?;
            Ok(CommandResult::Ok)
        }
        Err(msg) => Ok(CommandResult::LayoutConflict(msg)),
    }
}

pub(super) fn swap_blob(
    tx: &mut Tx,
    bucket: &str,
    key: &str,
    from: u128,
    to: ShardRef,
) -> Result<CommandResult, MetaError> {
    let owners = blobs::owners(tx, from)?;
    let result = edit_blob(tx, bucket, key, from, &|data| replace(data, from, &to))?;
    if result != CommandResult::Ok {
        return Ok(result);
    }
    let (old, new) = (ObjectData::Shards(ShardRef { id: from, ..to.clone() }), ObjectData::Shards(to));
    for owner in &owners {
        blobs::remove(tx, &old, owner)?;
        blobs::add(tx, &new, owner)?;
    }
    Ok(CommandResult::Ok)
}

/// Puts `to` where blob `id` is in `data`; false if it is not there.
fn replace(data: &mut ObjectData, id: u128, to: &ShardRef) -> bool {
    match data {
        ObjectData::Shards(r) if r.id == id => {
            *r = to.clone();
            true
        }
        ObjectData::Parts(parts) => parts.iter_mut().any(|p| replace(&mut p.data, id, to)),
        ObjectData::Sealed(s) => replace(&mut s.data, id, to),
        _ => false,
    }
}
