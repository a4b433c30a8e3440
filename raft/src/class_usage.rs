//! Per-bucket usage by storage class (`sm_class_usage`, derived): the objects and
//! bytes of every object version, current or not, by the class of its data
//! ([`crate::tiers`]). Kept by apply with the bucket's usage ([`crate::usage`]) in the
//! same transaction, and moved from class to class when a transition switches a blob
//! (`apply/objects.rs`' blob edit); rebuilt from the objects and versions tables after a
//! snapshot install or when a store written before it opens.
//!
//! Key: `[len][bucket][class]`; value: bincode([`ClassUsage`]).

use crate::error::MetaError;
use crate::keys::{bucket_prefix, CLUSTER_LAYOUT, CLUSTER_TIERS};
use crate::schema::{ClusterLayout, ObjectData, ObjectVersion, VersionEntry};
use crate::tables::Table;
use crate::tiers::{first_blob, Tiers, STANDARD};
use crate::trees::SmTrees;
use crate::tx::Tx;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassUsage {
    pub objects: u64,
    pub bytes: u64,
}

pub(crate) fn key(bucket: &str, class: &str) -> Option<Vec<u8>> {
    let mut k = bucket_prefix(bucket)?;
    k.extend_from_slice(class.as_bytes());
    Some(k)
}

/// The class of `data` as apply sees the cluster's classes.
pub(crate) fn class_of(tx: &Tx, data: &ObjectData) -> Result<String, MetaError> {
    if first_blob(data).is_none() {
        return Ok(STANDARD.to_string());
    }
    let tiers: Tiers = tx.read(Table::Cluster, CLUSTER_TIERS)?.unwrap_or_default();
    if tiers.classes.is_empty() {
        return Ok(STANDARD.to_string());
    }
    let layout: ClusterLayout = tx.read(Table::Cluster, CLUSTER_LAYOUT)?.unwrap_or_default();
    Ok(tiers.class_of(&layout, data))
}

/// Adds (`sign` = 1) or removes (-1) one version of `size` bytes with data `data`.
pub(crate) fn adjust(tx: &mut Tx, bucket: &str, data: &ObjectData, size: u64, sign: i8) -> Result<(), MetaError> {
    let class = class_of(tx, data)?;
    charge(tx, bucket, &class, size, sign)
}

fn charge(tx: &mut Tx, bucket: &str, class: &str, size: u64, sign: i8) -> Result<(), MetaError> {
    let Some(k) = key(bucket, class) else { return Ok(()) };
    let mut u: ClassUsage = tx.read(Table::ClassUsage, &k)?.unwrap_or_default();
    if sign > 0 {
        u.objects += 1;
        u.bytes += size;
    } else {
        u.objects = u.objects.saturating_sub(1);
        u.bytes = u.bytes.saturating_sub(size);
    }
    if u == ClassUsage::default() {
        tx.remove(Table::ClassUsage, k);
        Ok(())
    } else {
        tx.write(Table::ClassUsage, k, &u)
    }
}

/// A version of `size` bytes whose data changed from `before` to `after` (a blob
/// switched into another class): counted in its new class.
pub(crate) fn reclass(
    tx: &mut Tx,
    bucket: &str,
    before: &ObjectData,
    after: &ObjectData,
    size: u64,
) -> Result<(), MetaError> {
    let (from, to) = (class_of(tx, before)?, class_of(tx, after)?);
    if from != to {
        charge(tx, bucket, &from, size, -1)?;
        charge(tx, bucket, &to, size, 1)?;
    }
    Ok(())
}

/// Drops every class record of `bucket` (the bucket is gone).
pub(crate) fn drop_bucket(tx: &mut Tx, bucket: &str) -> Result<(), MetaError> {
    let Some(p) = bucket_prefix(bucket) else { return Ok(()) };
    for (k, _) in tx.scan_prefix(Table::ClassUsage, &p)? {
        tx.remove(Table::ClassUsage, k);
    }
    Ok(())
}

/// Rebuilds `sm_class_usage` from the objects and versions tables.
pub(crate) fn rebuild(t: &SmTrees) -> Result<u64, MetaError> {
    let tiers = t.tiers()?;
    let layout = t.layout()?;
    let out = t.tree(Table::ClassUsage);
    out.clear()?;
    let mut all: BTreeMap<Vec<u8>, ClassUsage> = BTreeMap::new();
    let mut count = |k: &[u8], v: &ObjectVersion| {
        let blen = k[0] as usize;
        let mut key = k[..1 + blen].to_vec();
        key.extend_from_slice(tiers.class_of(&layout, &v.data).as_bytes());
        let u = all.entry(key).or_default();
        u.objects += 1;
        u.bytes += v.size;
    };
    for item in t.tree(Table::Objects).iter() {
        let (k, v) = item?;
        count(&k, &bincode::deserialize(&v)?);
    }
    for item in t.tree(Table::Versions).iter() {
        let (k, v) = item?;
        if let VersionEntry::Object(v) = bincode::deserialize(&v)? {
            count(&k, &v);
        }
    }
    let mut batch = sled::Batch::default();
    let n = all.len() as u64;
    for (k, u) in all {
        batch.insert(k, bincode::serialize(&u)?);
    }
    out.apply_batch(batch)?;
    Ok(n)
}
