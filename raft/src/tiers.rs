//! Storage classes and disk pools: which erasure layout, over which disks, a class's
//! blobs are written in.
//!
//! Every disk is in one pool (`default` unless its node's configuration names
//! another). `STANDARD` is the cluster layout's k+m over the `default` pool; every
//! other class is named in the nodes' configuration as `NAME=K+M@POOL`. Both are
//! registered by each node at start (`Command::SetTiers`) into one record, `tiers` in
//! `sm_cluster`; a change to it bumps the layout's version, so the rebalancer looks
//! again. A class, once defined, keeps its layout, and a disk keeps its pool: a blob's
//! class is read back from its own record (its k+m and the pool of its disks), so
//! neither may change under existing data.

use crate::schema::{ClusterLayout, ObjectData, ShardRef};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The class every object is in unless its request names another.
pub const STANDARD: &str = "STANDARD";
/// The pool of disks no configuration names.
pub const DEFAULT_POOL: &str = "default";

/// One storage class: an erasure layout over a pool of disks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageClass {
    pub name: String,
    pub data_shards: u8,
    pub parity_shards: u8,
    pub pool: String,
}

impl StorageClass {
    pub fn width(&self) -> usize {
        usize::from(self.data_shards) + usize::from(self.parity_shards)
    }

    /// Parses `NAME=K+M@POOL` (the configuration's form).
    pub fn parse(s: &str) -> Result<StorageClass, String> {
        let bad = || format!("storage class {s:?}: expected NAME=K+M@POOL, such as COLD=4+2@capacity");
        let (name, rest) = s.split_once('=').ok_or_else(bad)?;
        let (code, pool) = rest.split_once('@').ok_or_else(bad)?;
        let (k, m) = code.split_once('+').ok_or_else(bad)?;
        let class = StorageClass {
            name: name.trim().to_string(),
            data_shards: k.trim().parse().map_err(|_| bad())?,
            parity_shards: m.trim().parse().map_err(|_| bad())?,
            pool: pool.trim().to_string(),
        };
        class.check()?;
        Ok(class)
    }

    /// What any class must be: a name S3 clients can send, a code that can be built.
    pub fn check(&self) -> Result<(), String> {
        if !valid_name(&self.name) {
            return Err(format!("storage class name {:?}: 1 to 32 of A-Z, 0-9 and _ (as S3's class names)", self.name));
        }
        if !valid_pool(&self.pool) {
            return Err(format!("pool name {:?}: 1 to 32 of a-z, 0-9, - and _", self.pool));
        }
        if self.data_shards == 0 || self.width() > 32 {
            return Err(format!(
                "storage class {}: {}+{} is not a code Cairn builds (k at least 1, k+m at most 32)",
                self.name, self.data_shards, self.parity_shards
            ));
        }
        Ok(())
    }

    /// `NAME=K+M@POOL`.
    pub fn describe(&self) -> String {
        format!("{}={}+{}@{}", self.name, self.data_shards, self.parity_shards, self.pool)
    }
}

pub fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

pub fn valid_pool(pool: &str) -> bool {
    (1..=32).contains(&pool.len())
        && pool.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The cluster's storage classes and its disks' pools (`sm_cluster` key `tiers`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tiers {
    /// Per node, the pool of each of its disks in order, as the node first
    /// registered them; a node not here (yet) has every disk in [`DEFAULT_POOL`].
    pub disk_pools: BTreeMap<u64, Vec<String>>,
    /// Every class but STANDARD, in the order they were defined.
    pub classes: Vec<StorageClass>,
}

impl Tiers {
    /// The pool of global disk `disk`.
    pub fn pool_of<'a>(&'a self, layout: &ClusterLayout, disk: u16) -> &'a str {
        layout
            .locate(disk)
            .and_then(|(node, i)| self.disk_pools.get(&node.id).and_then(|p| p.get(usize::from(i))))
            .map(String::as_str)
            .unwrap_or(DEFAULT_POOL)
    }

    /// Class `name` as it is laid out; STANDARD is the layout's code on the default pool.
    pub fn class(&self, layout: &ClusterLayout, name: &str) -> Option<StorageClass> {
        if name == STANDARD {
            return Some(StorageClass {
                name: STANDARD.into(),
                data_shards: layout.data_shards,
                parity_shards: layout.parity_shards,
                pool: DEFAULT_POOL.into(),
            });
        }
        self.classes.iter().find(|c| c.name == name).cloned()
    }

    /// Every class name, STANDARD first.
    pub fn names(&self) -> Vec<String> {
        std::iter::once(STANDARD.to_string()).chain(self.classes.iter().map(|c| c.name.clone())).collect()
    }

    /// The class a stored blob is in: the one whose code and pool it was written with.
    pub fn class_of_blob(&self, layout: &ClusterLayout, r: &ShardRef) -> &str {
        self.class_of_code(layout, r.data_shards, r.parity_shards, &r.disks)
    }

    /// The class of a blob of code k+m on `disks`.
    pub fn class_of_code(&self, layout: &ClusterLayout, k: u8, m: u8, disks: &[u16]) -> &str {
        let Some(&first) = disks.first() else { return STANDARD };
        let pool = self.pool_of(layout, first);
        self.classes
            .iter()
            .find(|c| c.data_shards == k && c.parity_shards == m && c.pool == pool)
            .map(|c| c.name.as_str())
            .unwrap_or(STANDARD)
    }

    /// The class of a version's data: its first blob's (inline data is STANDARD; a
    /// multipart object's parts are all written in one class).
    pub fn class_of(&self, layout: &ClusterLayout, data: &ObjectData) -> String {
        match first_blob(data) {
            Some(r) => self.class_of_blob(layout, r).to_string(),
            None => STANDARD.to_string(),
        }
    }

    /// The disks of `pool`, as a test on global disk indexes.
    pub fn in_pool<'a>(&'a self, layout: &'a ClusterLayout, pool: &'a str) -> impl Fn(u16) -> bool + 'a {
        move |d| self.pool_of(layout, d) == pool
    }

    /// Primary disks of a new blob of class `class` with placement hash `hash`.
    pub fn placement(&self, layout: &ClusterLayout, class: &StorageClass, hash: u64) -> Option<Vec<u16>> {
        layout.placement_among(hash, class.width(), self.in_pool(layout, &class.pool))
    }

    /// Records node `node`'s disk pools and the classes its configuration names:
    /// Ok(true) when the record changed. A class already defined with another layout,
    /// a layout another class has, or a disk whose pool would change is refused.
    pub fn merge(&mut self, node: u64, pools: Vec<String>, classes: Vec<StorageClass>) -> Result<bool, String> {
        let mut changed = false;
        for p in &pools {
            if !valid_pool(p) {
                return Err(format!("pool name {p:?}: 1 to 32 of a-z, 0-9, - and _"));
            }
        }
        match self.disk_pools.get(&node) {
            Some(known) if *known == pools => {}
            Some(known) => {
                return Err(format!(
                    "node {node}'s disks are in pools {known:?}, not {pools:?}; a disk's pool cannot change under its data"
                ));
            }
            None => {
                self.disk_pools.insert(node, pools);
                changed = true;
            }
        }
        for c in classes {
            c.check()?;
            if c.name == STANDARD {
                return Err("STANDARD is the cluster layout's code on the default pool; it is not configured".into());
            }
            if let Some(known) = self.classes.iter().find(|k| k.name == c.name) {
                if *known != c {
                    return Err(format!(
                        "storage class {} is {}, not {}; a class's layout cannot change under its data",
                        c.name,
                        known.describe(),
                        c.describe()
                    ));
                }
                continue;
            }
            if let Some(twin) = self
                .classes
                .iter()
                .find(|k| k.pool == c.pool && k.data_shards == c.data_shards && k.parity_shards == c.parity_shards)
            {
                return Err(format!(
                    "storage classes {} and {} would have the same layout ({}+{}@{})",
                    twin.name, c.name, c.data_shards, c.parity_shards, c.pool
                ));
            }
            self.classes.push(c);
            changed = true;
        }
        Ok(changed)
    }
}

/// The first erasure-coded blob of `data`, if it has one.
pub fn first_blob(data: &ObjectData) -> Option<&ShardRef> {
    match data {
        ObjectData::Inline(_) => None,
        ObjectData::Shards(r) => Some(r),
        ObjectData::Sealed(s) => first_blob(&s.data),
        ObjectData::Parts(parts) => parts.iter().find_map(|p| first_blob(&p.data)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::NodeEntry;

    fn layout() -> ClusterLayout {
        ClusterLayout {
            version: 1,
            data_shards: 2,
            parity_shards: 2,
            nodes: vec![NodeEntry { id: 1, addr: String::new(), s3_addr: String::new(), disks: 10, first_disk: 0 }],
        }
    }

    fn cold() -> StorageClass {
        StorageClass::parse("COLD=4+2@capacity").unwrap()
    }

    #[test]
    fn parse_and_check() {
        assert_eq!(
            cold(),
            StorageClass { name: "COLD".into(), data_shards: 4, parity_shards: 2, pool: "capacity".into() }
        );
        assert_eq!(cold().describe(), "COLD=4+2@capacity");
        for bad in ["COLD", "COLD=4+2", "cold=4+2@capacity", "COLD=0+2@c", "COLD=4+2@Cap", "COLD=30+3@c", "COLD=x+2@c"]
        {
            assert!(StorageClass::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pools_place_each_class_on_its_own_disks() {
        let l = layout();
        let mut t = Tiers::default();
        let pools: Vec<String> = (0..10).map(|i| if i < 4 { "default" } else { "capacity" }.to_string()).collect();
        assert!(t.merge(1, pools.clone(), vec![cold()]).unwrap());
        assert!(!t.merge(1, pools, vec![cold()]).unwrap(), "the same again changes nothing");
        let standard = t.class(&l, STANDARD).unwrap();
        let c = t.class(&l, "COLD").unwrap();
        for h in 0..100 {
            let p = t.placement(&l, &standard, h).unwrap();
            assert!(p.iter().all(|&d| d < 4) && p.len() == 4, "{p:?}");
            let q = t.placement(&l, &c, h).unwrap();
            assert!(q.iter().all(|&d| d >= 4) && q.len() == 6, "{q:?}");
            let r = ShardRef { id: 1, data_shards: 4, parity_shards: 2, block_size: 1, disks: q, layout_version: 1 };
            assert_eq!(t.class_of_blob(&l, &r), "COLD");
            let r = ShardRef { disks: p, data_shards: 2, parity_shards: 2, ..r };
            assert_eq!(t.class_of_blob(&l, &r), STANDARD);
        }
        assert_eq!(t.class_of(&l, &ObjectData::Inline(vec![1])), STANDARD);
        assert_eq!(t.names(), vec!["STANDARD".to_string(), "COLD".to_string()]);
    }

    #[test]
    fn no_pools_is_todays_placement() {
        let l = layout();
        let t = Tiers::default();
        let s = t.class(&l, STANDARD).unwrap();
        for h in 0..100 {
            assert_eq!(t.placement(&l, &s, h), l.placement(h));
        }
    }

    #[test]
    fn a_class_or_a_pool_cannot_change_under_data() {
        let mut t = Tiers::default();
        t.merge(1, vec!["default".into(), "capacity".into()], vec![cold()]).unwrap();
        let wider = StorageClass::parse("COLD=8+4@capacity").unwrap();
        assert!(t.merge(2, vec![], vec![wider]).unwrap_err().contains("cannot change"));
        let twin = StorageClass::parse("ARCHIVE=4+2@capacity").unwrap();
        assert!(t.merge(2, vec![], vec![twin]).unwrap_err().contains("same layout"));
        assert!(t.merge(1, vec!["capacity".into(), "capacity".into()], vec![]).unwrap_err().contains("pool"));
        let standard = StorageClass::parse("STANDARD=2+2@default").unwrap();
        assert!(t.merge(2, vec![], vec![standard]).is_err());
    }
}
