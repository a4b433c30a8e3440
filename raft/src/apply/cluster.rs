//! The cluster layout (nodes and their disks) and background services' stored state.

use crate::error::MetaError;
use crate::keys::{CLUSTER_LAYOUT, CLUSTER_SERVICE_PREFIX};
use crate::schema::{ClusterLayout, CommandResult, NodeEntry};
use crate::tables::Table;
use crate::tx::Tx;

pub(super) fn register_node(tx: &mut Tx, node: NodeEntry, k: u8, m: u8) -> Result<CommandResult, MetaError> {
    let mut layout: ClusterLayout = tx.read(Table::Cluster, CLUSTER_LAYOUT)?.unwrap_or_default();
    Ok(match register(&mut layout, node, k, m) {
        Ok(false) => CommandResult::Ok,
        Ok(true) => {
            tx.write(Table::Cluster, CLUSTER_LAYOUT.to_vec(), &layout)?;
            CommandResult::Ok
        }
        Err(msg) => CommandResult::LayoutConflict(msg),
    })
}

pub(super) fn put_service_state(tx: &mut Tx, name: String, value: Vec<u8>) -> Result<CommandResult, MetaError> {
    let mut k = CLUSTER_SERVICE_PREFIX.to_vec();
    k.extend_from_slice(name.as_bytes());
    tx.set(Table::Cluster, k, Some(value));
    Ok(CommandResult::Ok)
}

/// Adds `node` to the layout or updates its addresses; true if the layout changed.
fn register(layout: &mut ClusterLayout, mut node: NodeEntry, k: u8, m: u8) -> Result<bool, String> {
    if let Some(known) = layout.nodes.iter_mut().find(|n| n.id == node.id) {
        if known.disks != node.disks {
            return Err(format!(
                "node {} has {} disks in the layout, not {}; changing a node's disks is not supported",
                node.id, known.disks, node.disks
            ));
        }
        if known.addr == node.addr && known.s3_addr == node.s3_addr {
            return Ok(false);
        }
        known.addr = node.addr;
        known.s3_addr = node.s3_addr;
    } else {
        let first = layout.disk_count();
        if first + usize::from(node.disks) > usize::from(u16::MAX) {
            return Err("the layout cannot hold more disks".into());
        }
        node.first_disk = first as u16;
        if layout.nodes.is_empty() {
            layout.data_shards = k;
            layout.parity_shards = m;
        }
        layout.nodes.push(node);
    }
    layout.version += 1;
    Ok(true)
}
