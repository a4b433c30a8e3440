//! Freed shards: the bytes of a version, part or upload whose metadata is gone (or
//! was never committed) are removed after the commit, in the background. A crash
//! before they are gone leaves orphans for the node's collector
//! (`node/src/durability/collector.rs`), never a record without bytes.

use crate::Store;
use crate::data::spec_of;
use cairn_erasure::ShardSpec;
use cairn_raft::schema::ObjectData;
use std::sync::Arc;

/// Only the shard-backed part of a version needs cleaning up; inline bytes go
/// away with the record.
pub(crate) fn shards_of(data: &ObjectData) -> Option<ObjectData> {
    (!matches!(data, ObjectData::Inline(_))).then(|| data.clone())
}

fn collect_shards(data: &ObjectData, out: &mut Vec<ShardSpec>) {
    match data {
        ObjectData::Inline(_) => {}
        ObjectData::Shards(r) => out.push(spec_of(r)),
        ObjectData::Parts(parts) => parts.iter().for_each(|p| collect_shards(&p.data, out)),
    }
}

impl Store {
    /// Removes the bytes of data that no metadata refers to: written but refused,
    /// or replaced. Runs in the background.
    pub fn discard_data(self: &Arc<Self>, data: &ObjectData) {
        if let Some(d) = shards_of(data) {
            self.discard(d);
        }
    }

    pub(crate) fn discard(self: &Arc<Self>, data: ObjectData) {
        let mut specs = Vec::new();
        collect_shards(&data, &mut specs);
        if specs.is_empty() {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            for spec in specs {
                if let Err(e) = store.disks.delete(&spec).await {
                    tracing::warn!(error = %e, shard = %format!("{:032x}", spec.id), "could not remove shards");
                }
            }
        });
    }
}
