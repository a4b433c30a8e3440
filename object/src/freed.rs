//! Freed shards: the bytes of a version, part or upload whose metadata is gone (or
//! was never committed) are removed after the commit, in the background. A crash
//! before they are gone leaves orphans for the node's collector
//! (`node/src/durability/collector.rs`), never a record without bytes.
//!
//! A read in progress holds the shards it reads ([`ReadHolds`]): shards freed while
//! a read of this node holds them are removed when the last such read ends, so a GET
//! that started before an overwrite finishes with the bytes it started with.

use crate::Store;
use crate::data::spec_of;
use cairn_erasure::{DiskSet, ShardSpec};
use cairn_raft::schema::ObjectData;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Only the shard-backed part of a version needs cleaning up; inline bytes go
/// away with the record.
pub(crate) fn shards_of(data: &ObjectData) -> Option<ObjectData> {
    (!matches!(data.unsealed(), ObjectData::Inline(_))).then(|| data.clone())
}

fn collect_shards(data: &ObjectData, out: &mut Vec<ShardSpec>) {
    match data {
        ObjectData::Inline(_) => {}
        ObjectData::Shards(r) => out.push(spec_of(r)),
        ObjectData::Parts(parts) => parts.iter().for_each(|p| collect_shards(&p.data, out)),
        ObjectData::Sealed(s) => collect_shards(&s.data, out),
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
        let specs = self.holds.defer_held(specs);
        delete_in_background(&self.disks, specs);
    }

    /// Holds the shards of `data` until the returned guard is dropped.
    pub(crate) fn hold_for_read(&self, data: &ObjectData) -> Option<ReadHold> {
        let mut specs = Vec::new();
        collect_shards(data, &mut specs);
        if specs.is_empty() {
            return None;
        }
        let ids: Vec<u128> = specs.iter().map(|s| s.id).collect();
        self.holds.hold(&ids);
        Some(ReadHold { holds: self.holds.clone(), disks: self.disks.clone(), ids })
    }
}

fn delete_in_background(disks: &Arc<DiskSet>, specs: Vec<ShardSpec>) {
    if specs.is_empty() {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        // No runtime (the process is ending): the collector removes them later.
        return;
    };
    let disks = disks.clone();
    rt.spawn(async move {
        for spec in specs {
            if let Err(e) = disks.delete(&spec).await {
                tracing::warn!(error = %e, shard = %format!("{:032x}", spec.id), "could not remove shards");
            }
        }
    });
}

/// The blobs that reads of this node are reading, with the number of reads of
/// each and, once freed, what to remove when the last read ends.
#[derive(Default)]
pub(crate) struct ReadHolds {
    held: Mutex<HashMap<u128, Held>>,
}

#[derive(Default)]
struct Held {
    reads: usize,
    freed: Option<ShardSpec>,
}

impl ReadHolds {
    fn hold(&self, ids: &[u128]) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            held.entry(*id).or_default().reads += 1;
        }
    }

    /// The specs no read holds; the others are removed by their last reader.
    fn defer_held(&self, specs: Vec<ShardSpec>) -> Vec<ShardSpec> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        specs
            .into_iter()
            .filter_map(|spec| match held.get_mut(&spec.id) {
                Some(h) => {
                    h.freed = Some(spec);
                    None
                }
                None => Some(spec),
            })
            .collect()
    }

    /// Ends one read of each blob; returns what was freed while it read.
    fn release(&self, ids: &[u128]) -> Vec<ShardSpec> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let mut freed = Vec::new();
        for id in ids {
            if let Some(h) = held.get_mut(id) {
                h.reads -= 1;
                if h.reads == 0 {
                    freed.extend(held.remove(id).and_then(|h| h.freed));
                }
            }
        }
        freed
    }
}

/// One read's hold on the shards it reads; dropping it ends the hold.
pub(crate) struct ReadHold {
    holds: Arc<ReadHolds>,
    disks: Arc<DiskSet>,
    ids: Vec<u128>,
}

impl Drop for ReadHold {
    fn drop(&mut self) {
        let freed = self.holds.release(&self.ids);
        delete_in_background(&self.disks, freed);
    }
}
