//! The table registry: every state-machine tree, declared once.
//!
//! A table is a sled tree of the state machine. [`TABLES`] says, for each one, its
//! tree name and what kind it is:
//!
//! - **data**: the truth. Snapshots carry it under its record tag; a tag is never
//!   reused, even after its table is gone, so an old snapshot never loads into the
//!   wrong tree.
//! - **derived**: an index computed from data tables (blob owners, bucket usage).
//!   Apply keeps it in step in the same transaction; snapshots do not carry it; it is
//!   rebuilt after a snapshot install, or on open when its marker in `sm_meta` is
//!   missing (a store written before the table existed).
//!
//! Everything that handles trees in bulk (opening, the apply transaction, snapshot
//! building and loading, rebuilding) walks this registry. Adding a table is a
//! [`Table`] variant, its [`TABLES`] entry, its key layout in [`crate::keys`], and the
//! `apply/` file that writes it.

use crate::error::MetaError;
use crate::keys::*;
use crate::trees::SmTrees;

/// A state-machine table; its value is its position in [`TABLES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Table {
    Buckets,
    Objects,
    Versions,
    Keys,
    Uploads,
    Parts,
    Cluster,
    Blobs,
    Usage,
    BucketSettings,
    ObjectAttrs,
    Tenancy,
    Pools,
    UsageHistory,
    Assets,
    AssetIndex,
    AssetEvents,
    Annotations,
    AnnotationIndex,
    KmsKeys,
    AdminAudit,
    Notify,
    ClassUsage,
}

/// How a table is kept.
pub(crate) enum Kind {
    /// The truth: carried by snapshots under record tag `tag` (1..=255, never reused).
    Data { tag: u8 },
    /// Computed from data tables. `marker` (an `sm_meta` key) is present once the
    /// table matches them; `rebuild` recomputes it from scratch and returns the
    /// records written.
    Derived { marker: &'static [u8], rebuild: fn(&SmTrees) -> Result<u64, MetaError> },
}

pub(crate) struct TableDef {
    pub table: Table,
    pub tree: &'static str,
    pub kind: Kind,
}

/// Every table, in [`Table`] order.
pub(crate) const TABLES: [TableDef; 23] = [
    TableDef { table: Table::Buckets, tree: TREE_BUCKETS, kind: Kind::Data { tag: 1 } },
    TableDef { table: Table::Objects, tree: TREE_OBJECTS, kind: Kind::Data { tag: 2 } },
    TableDef { table: Table::Versions, tree: TREE_VERSIONS, kind: Kind::Data { tag: 3 } },
    TableDef { table: Table::Keys, tree: TREE_KEYS, kind: Kind::Data { tag: 4 } },
    TableDef { table: Table::Uploads, tree: TREE_UPLOADS, kind: Kind::Data { tag: 5 } },
    TableDef { table: Table::Parts, tree: TREE_PARTS, kind: Kind::Data { tag: 6 } },
    TableDef { table: Table::Cluster, tree: TREE_CLUSTER, kind: Kind::Data { tag: 7 } },
    TableDef {
        table: Table::Blobs,
        tree: TREE_BLOBS,
        kind: Kind::Derived { marker: SM_BLOBS_INDEXED, rebuild: crate::blobs::rebuild },
    },
    TableDef {
        table: Table::Usage,
        tree: TREE_USAGE,
        kind: Kind::Derived { marker: SM_USAGE_INDEXED, rebuild: crate::usage::rebuild },
    },
    TableDef { table: Table::BucketSettings, tree: TREE_BUCKET_SETTINGS, kind: Kind::Data { tag: 8 } },
    TableDef { table: Table::ObjectAttrs, tree: TREE_OBJECT_ATTRS, kind: Kind::Data { tag: 9 } },
    TableDef { table: Table::Tenancy, tree: TREE_TENANCY, kind: Kind::Data { tag: 10 } },
    TableDef {
        table: Table::Pools,
        tree: TREE_POOLS,
        kind: Kind::Derived { marker: SM_POOLS_INDEXED, rebuild: crate::quota::rebuild },
    },
    TableDef { table: Table::UsageHistory, tree: TREE_USAGE_HISTORY, kind: Kind::Data { tag: 11 } },
    TableDef { table: Table::Assets, tree: TREE_ASSETS, kind: Kind::Data { tag: 12 } },
    TableDef {
        table: Table::AssetIndex,
        tree: TREE_ASSET_INDEX,
        kind: Kind::Derived { marker: SM_ASSETS_INDEXED, rebuild: crate::assets::rebuild },
    },
    TableDef { table: Table::AssetEvents, tree: TREE_ASSET_EVENTS, kind: Kind::Data { tag: 13 } },
    TableDef { table: Table::Annotations, tree: TREE_ANNOTATIONS, kind: Kind::Data { tag: 14 } },
    TableDef {
        table: Table::AnnotationIndex,
        tree: TREE_ANNOTATION_INDEX,
        kind: Kind::Derived { marker: SM_ANNOTATIONS_INDEXED, rebuild: crate::annotations::rebuild },
    },
    TableDef { table: Table::KmsKeys, tree: TREE_KMS_KEYS, kind: Kind::Data { tag: 15 } },
    TableDef { table: Table::AdminAudit, tree: TREE_ADMIN_AUDIT, kind: Kind::Data { tag: 16 } },
    TableDef { table: Table::Notify, tree: TREE_NOTIFY, kind: Kind::Data { tag: 17 } },
    TableDef {
        table: Table::ClassUsage,
        tree: TREE_CLASS_USAGE,
        kind: Kind::Derived { marker: SM_CLASS_USAGE_INDEXED, rebuild: crate::class_usage::rebuild },
    },
];

/// The data table whose snapshot records carry `tag`.
pub(crate) fn by_tag(tag: u8) -> Option<Table> {
    TABLES.iter().find(|d| matches!(d.kind, Kind::Data { tag: t } if t == tag)).map(|d| d.table)
}

/// The data tables with their tags, in registry order.
pub(crate) fn data_tables() -> impl Iterator<Item = (Table, u8)> {
    TABLES.iter().filter_map(|d| match d.kind {
        Kind::Data { tag } => Some((d.table, tag)),
        Kind::Derived { .. } => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn registry_is_consistent() {
        let mut tags = HashSet::new();
        let mut names = HashSet::new();
        for (i, d) in TABLES.iter().enumerate() {
            assert_eq!(d.table as usize, i, "{:?} is out of place", d.table);
            assert!(names.insert(d.tree), "tree {} twice", d.tree);
            assert!(d.tree.starts_with("sm_"), "{}", d.tree);
            if let Kind::Data { tag } = d.kind {
                assert!(tag != 0, "tag 0 ends a snapshot");
                assert!(tags.insert(tag), "tag {tag} twice");
                assert_eq!(by_tag(tag), Some(d.table));
            }
        }
        assert!(!names.contains(TREE_SM_META));
    }
}
