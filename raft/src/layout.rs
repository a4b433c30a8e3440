//! Placement over the cluster layout: a pure function of the layout and a key hash.
//!
//! The disks of all nodes are interleaved node by node (first disk of every node,
//! then the second, ...) and cut into erasure sets of k+m consecutive disks, so each
//! set spans as many nodes as the cluster has (up to k+m). An object's set is chosen
//! by its hash, and its shards start at a hash-chosen rotation inside the set, so
//! load spreads over the disks of a set too. Disks left over after the last full set
//! hold no primary shards; they still take substitutes when a set's disk is down.

use crate::schema::{ClusterLayout, NodeEntry};

impl ClusterLayout {
    /// Shards per object.
    pub fn width(&self) -> usize {
        usize::from(self.data_shards) + usize::from(self.parity_shards)
    }

    /// Total disks (the length of the global disk table).
    pub fn disk_count(&self) -> usize {
        self.nodes.iter().map(|n| usize::from(n.first_disk) + usize::from(n.disks)).max().unwrap_or(0)
    }

    pub fn node(&self, id: u64) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The node holding global disk `disk`, and the disk's index on that node.
    pub fn locate(&self, disk: u16) -> Option<(&NodeEntry, u16)> {
        self.nodes
            .iter()
            .find(|n| disk >= n.first_disk && disk - n.first_disk < n.disks)
            .map(|n| (n, disk - n.first_disk))
    }

    /// Every node's disks interleaved: disk 0 of each node, then disk 1, ...
    fn interleaved(&self) -> Vec<u16> {
        let most = self.nodes.iter().map(|n| n.disks).max().unwrap_or(0);
        let mut out = Vec::with_capacity(self.disk_count());
        for j in 0..most {
            for n in &self.nodes {
                if j < n.disks {
                    out.push(n.first_disk + j);
                }
            }
        }
        out
    }

    /// The erasure sets: disjoint groups of `width()` disks.
    pub fn erasure_sets(&self) -> Vec<Vec<u16>> {
        self.erasure_sets_among(self.width(), |_| true)
    }

    /// The erasure sets of `width` disks cut from the disks `include` admits (a
    /// storage class's pool), interleaved node by node as the whole layout's are.
    pub fn erasure_sets_among(&self, width: usize, include: impl Fn(u16) -> bool) -> Vec<Vec<u16>> {
        if width == 0 {
            return Vec::new();
        }
        let disks: Vec<u16> = self.interleaved().into_iter().filter(|&d| include(d)).collect();
        disks.chunks_exact(width).map(|c| c.to_vec()).collect()
    }

    /// Primary disks for shards 0..k+m of an object with this hash; None when the
    /// layout has fewer disks than one set needs.
    pub fn placement(&self, hash: u64) -> Option<Vec<u16>> {
        self.placement_among(hash, self.width(), |_| true)
    }

    /// [`ClusterLayout::placement`] for a code of `width` shards over the disks
    /// `include` admits.
    pub fn placement_among(&self, hash: u64, width: usize, include: impl Fn(u16) -> bool) -> Option<Vec<u16>> {
        let sets = self.erasure_sets_among(width, include);
        if sets.is_empty() {
            return None;
        }
        let set = &sets[(hash % sets.len() as u64) as usize];
        let w = set.len();
        let rot = ((hash / sets.len() as u64) % w as u64) as usize;
        Some((0..w).map(|i| set[(rot + i) % w]).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(disks: &[u16], k: u8, m: u8) -> ClusterLayout {
        let mut first = 0;
        let nodes = disks
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                let n = NodeEntry {
                    id: i as u64 + 1,
                    addr: format!("n{i}"),
                    s3_addr: String::new(),
                    disks: d,
                    first_disk: first,
                };
                first += d;
                n
            })
            .collect();
        ClusterLayout { version: 1, data_shards: k, parity_shards: m, nodes }
    }

    #[test]
    fn sets_spread_over_nodes() {
        let l = layout(&[4, 4, 4], 2, 2);
        let sets = l.erasure_sets();
        assert_eq!(sets.len(), 3);
        for set in &sets {
            let mut per_node = std::collections::BTreeMap::new();
            for &d in set {
                *per_node.entry(l.locate(d).unwrap().0.id).or_insert(0) += 1;
            }
            // Four shards over three nodes: no node holds more than two.
            assert_eq!(per_node.len(), 3, "{set:?}");
            assert!(per_node.values().all(|&c| c <= 2));
        }
        let all: std::collections::BTreeSet<u16> = sets.iter().flatten().copied().collect();
        assert_eq!(all.len(), 12);
    }

    #[test]
    fn placement_is_stable_and_uses_every_set() {
        let l = layout(&[4, 4, 4, 4], 2, 2);
        let mut seen = std::collections::BTreeSet::new();
        for h in 0..1000u64 {
            let p = l.placement(h).unwrap();
            assert_eq!(p, l.placement(h).unwrap());
            assert_eq!(p.len(), 4);
            let nodes: std::collections::BTreeSet<u64> = p.iter().map(|&d| l.locate(d).unwrap().0.id).collect();
            assert_eq!(nodes.len(), 4, "one shard per node with 4 nodes and 2+2");
            seen.insert(p[0]);
        }
        assert_eq!(seen.len(), 16, "every disk leads some placement");
    }

    #[test]
    fn single_node_and_too_few_disks() {
        let l = layout(&[4], 2, 2);
        assert_eq!(l.erasure_sets(), vec![vec![0, 1, 2, 3]]);
        assert_eq!(layout(&[3], 2, 2).placement(7), None);
        assert_eq!(l.locate(3).map(|(n, i)| (n.id, i)), Some((1, 3)));
        assert!(l.locate(4).is_none());
    }
}
