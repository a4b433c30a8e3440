//! [`SmTrees`]: the open handles of every state-machine tree, found through the
//! [`crate::tables`] registry, plus `sm_meta` (applied index, membership, markers).
//! It reads the trees; it never writes a data table (apply and snapshot loading do).
//! It also carries the [`crate::frozen::Frozen`] view shared by apply and snapshots.

use crate::error::MetaError;
use crate::keys::*;
use crate::schema::ClusterLayout;
use crate::tables::{Kind, Table, TABLES};
use crate::types::{LogId, StoredMembership};
use std::sync::Arc;

/// Handles to the state-machine trees; cheap to clone.
#[derive(Clone)]
pub(crate) struct SmTrees {
    pub db: sled::Db,
    /// One per [`TABLES`] entry, in registry order.
    trees: Arc<[sled::Tree]>,
    pub meta: sled::Tree,
    /// The view a snapshot being built reads (apply records pre-images into it).
    pub frozen: Arc<crate::frozen::Frozen>,
}

impl SmTrees {
    pub fn open(db: &sled::Db) -> Result<SmTrees, sled::Error> {
        let trees = TABLES.iter().map(|d| db.open_tree(d.tree)).collect::<Result<Vec<_>, _>>()?;
        Ok(SmTrees { db: db.clone(), trees: trees.into(), meta: db.open_tree(TREE_SM_META)?, frozen: Arc::default() })
    }

    pub fn tree(&self, t: Table) -> &sled::Tree {
        &self.trees[t as usize]
    }

    /// Every table's tree, in registry order (index = `Table as usize`).
    pub fn all(&self) -> &[sled::Tree] {
        &self.trees
    }

    /// Rebuilds every derived table whose marker is missing (all of them with
    /// `force`), then marks them current.
    pub fn rebuild_derived(&self, force: bool) -> Result<(), MetaError> {
        for d in &TABLES {
            let Kind::Derived { marker, rebuild } = d.kind else { continue };
            if !force && self.meta.get(marker)?.is_some() {
                continue;
            }
            self.meta.remove(marker)?;
            let n = rebuild(self)?;
            self.meta.insert(marker, &b"1"[..])?;
            tracing::info!(table = d.tree, records = n, "rebuilt a derived table");
        }
        self.db.flush()?;
        Ok(())
    }

    /// Forgets that the derived tables are current (before a snapshot load).
    pub fn unmark_derived(&self) -> Result<(), MetaError> {
        for d in &TABLES {
            if let Kind::Derived { marker, .. } = d.kind {
                self.meta.remove(marker)?;
            }
        }
        Ok(())
    }

    fn get_meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, MetaError> {
        match self.meta.get(key)? {
            Some(v) => Ok(Some(bincode::deserialize(&v)?)),
            None => Ok(None),
        }
    }

    pub fn last_applied(&self) -> Result<Option<LogId>, MetaError> {
        Ok(self.get_meta::<Option<LogId>>(SM_LAST_APPLIED)?.flatten())
    }

    pub fn membership(&self) -> Result<StoredMembership, MetaError> {
        Ok(self.get_meta(SM_MEMBERSHIP)?.unwrap_or_default())
    }

    pub fn layout(&self) -> Result<ClusterLayout, MetaError> {
        Ok(match self.tree(Table::Cluster).get(CLUSTER_LAYOUT)? {
            Some(v) => bincode::deserialize(&v)?,
            None => ClusterLayout::default(),
        })
    }

    pub fn tiers(&self) -> Result<crate::tiers::Tiers, MetaError> {
        Ok(match self.tree(Table::Cluster).get(crate::keys::CLUSTER_TIERS)? {
            Some(v) => bincode::deserialize(&v)?,
            None => crate::tiers::Tiers::default(),
        })
    }
}
