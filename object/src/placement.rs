//! Where a new blob's shards go: the layout's primary placement for the key (the
//! layout itself is `cairn-raft`'s, `raft/src/layout.rs`), with any disk that is down
//! right now replaced by a live one. The blob's record keeps the disks actually used,
//! so reads never recompute placement. A storage class (`cairn_raft::tiers`) chooses
//! the code and the pool of disks; substitutes come from the same pool. May read the
//! layout, the classes and the disks' health.

use crate::{ObjectError, Store};
use cairn_erasure::ShardSpec;
use cairn_raft::schema::ClusterLayout;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

/// The hash that picks an object's erasure set and rotation in the layout. Only new
/// writes and the rebalancer use it: reads follow the disks recorded in the ShardRef.
pub fn placement_hash(bucket: &str, key: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bucket.hash(&mut h);
    key.hash(&mut h);
    h.finish()
}

impl Store {
    /// The shards of a new blob of `bucket/key` in storage class `class`, and the
    /// layout version they were placed with.
    pub(crate) fn new_spec(&self, bucket: &str, key: &str, class: &str) -> Result<(ShardSpec, u64), ObjectError> {
        let hash = placement_hash(bucket, key);
        let layout = self.meta.layout()?;
        let tiers = self.meta.tiers()?;
        let class = tiers.class(&layout, class).ok_or_else(|| ObjectError::NoSuchStorageClass(class.to_string()))?;
        // Disk indices are global: until this node has the layout (and its disk table
        // follows it), no index can be trusted to name the right disk.
        let primary = tiers.placement(&layout, &class, hash).ok_or(ObjectError::NoPlacement)?;
        let in_pool = tiers.in_pool(&layout, &class.pool);
        let disks = substitute(&layout, primary, hash, |d| in_pool(d) && self.disks.is_online(d));
        let spec = ShardSpec {
            id: rand::random::<u128>(),
            data_shards: class.data_shards,
            parity_shards: class.parity_shards,
            block_size: self.config.block_size,
            disks,
        };
        Ok((spec, layout.version))
    }
}

/// Replaces the offline disks of `placement` with online, unused disks (`usable`
/// says which: online, and in the blob's pool), preferring
/// nodes that hold the fewest shards of this blob (so losing one more node costs as
/// few shards as possible) and spreading choices by `hash`. A dead disk with no
/// replacement stays: its shard fails and the write quorum decides.
pub fn substitute(
    layout: &ClusterLayout,
    mut placement: Vec<u16>,
    hash: u64,
    online: impl Fn(u16) -> bool,
) -> Vec<u16> {
    let dead: Vec<usize> = (0..placement.len()).filter(|&i| !online(placement[i])).collect();
    if dead.is_empty() {
        return placement;
    }
    let node_of = |d: u16| layout.locate(d).map(|(n, _)| n.id);
    let mut used: HashSet<u16> = placement.iter().copied().collect();
    let mut per_node: HashMap<Option<u64>, usize> = HashMap::new();
    for (i, &d) in placement.iter().enumerate() {
        if !dead.contains(&i) {
            *per_node.entry(node_of(d)).or_default() += 1;
        }
    }
    let n = layout.disk_count();
    if n == 0 {
        return placement;
    }
    for i in dead {
        let best = (0..n)
            .map(|j| ((hash as usize).wrapping_add(j) % n) as u16)
            .filter(|&d| !used.contains(&d) && online(d))
            .min_by_key(|&d| per_node.get(&node_of(d)).copied().unwrap_or(0));
        if let Some(d) = best {
            placement[i] = d;
            used.insert(d);
            *per_node.entry(node_of(d)).or_default() += 1;
        }
    }
    placement
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_raft::schema::NodeEntry;

    fn layout(nodes: usize, disks: u16) -> ClusterLayout {
        ClusterLayout {
            version: 1,
            data_shards: 2,
            parity_shards: 2,
            nodes: (0..nodes)
                .map(|i| NodeEntry {
                    id: i as u64 + 1,
                    addr: String::new(),
                    s3_addr: String::new(),
                    disks,
                    first_disk: i as u16 * disks,
                })
                .collect(),
        }
    }

    #[test]
    fn all_online_keeps_the_primary_placement() {
        let l = layout(3, 4);
        let p = l.placement(42).unwrap();
        assert_eq!(substitute(&l, p.clone(), 42, |_| true), p);
    }

    #[test]
    fn a_dead_node_is_replaced_by_the_least_loaded_live_nodes() {
        let l = layout(3, 4);
        for h in 0..200u64 {
            let p = l.placement(h).unwrap();
            // Node 1 (disks 0..4) is down.
            let s = substitute(&l, p, h, |d| d >= 4);
            assert!(s.iter().all(|&d| d >= 4), "{s:?}");
            let distinct: HashSet<u16> = s.iter().copied().collect();
            assert_eq!(distinct.len(), 4, "{s:?}");
            let on_node2 = s.iter().filter(|&&d| d < 8).count();
            assert_eq!(on_node2, 2, "two shards per surviving node: {s:?}");
        }
    }

    #[test]
    fn no_replacement_keeps_the_dead_disk() {
        let l = layout(1, 4);
        let p = l.placement(3).unwrap();
        let s = substitute(&l, p.clone(), 3, |d| d != p[0]);
        assert_eq!(s, p);
    }
}
