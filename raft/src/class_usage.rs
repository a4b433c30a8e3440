//! Usage by storage class (`sm_class_usage`, derived): the objects and bytes of every
//! object version, current or not, by the class of its data ([`crate::tiers`]), in
//! each quota pool the version counts in ([`crate::quota`]: its bucket, the key that
//! wrote it, the bucket's tenant and that tenant's ancestors). Kept by apply with the
//! pools in the same transaction, and moved from class to class when a transition
//! switches a blob (`apply/objects.rs`' blob edit); rebuilt from the objects, versions
//! and attributes tables after a snapshot install or when a store written before it
//! opens. Delete markers and parts of uploads in progress are in no class.
//!
//! Key: `pool_key(pool) 0x00 class`; value: bincode([`ClassUsage`]).

use crate::error::MetaError;
use crate::keys::{pool_key, split_history_key, AttrSubject, CLUSTER_LAYOUT, CLUSTER_TIERS};
use crate::quota::{pools_of, split, writer};
use crate::schema::{ClusterLayout, ObjectData, ObjectVersion, Pool, VersionEntry};
use crate::tables::Table;
use crate::tiers::{first_blob, Tiers, STANDARD};
use crate::trees::SmTrees;
use crate::tx::Tx;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassUsage {
    pub objects: u64,
    pub bytes: u64,
}

/// The prefix of every class record of `pool`.
pub(crate) fn prefix(pool: &Pool) -> Vec<u8> {
    let mut k = pool_key(pool);
    k.push(0);
    k
}

fn key(pool: &Pool, class: &str) -> Vec<u8> {
    let mut k = prefix(pool);
    k.extend_from_slice(class.as_bytes());
    k
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

/// Adds (`sign` = 1) or removes (-1) one version of `size` bytes with data `data` in
/// each of `pools` (the quota pools of its write, [`crate::quota::pools_of`]).
pub(crate) fn adjust(tx: &mut Tx, pools: &[Pool], data: &ObjectData, size: u64, sign: i8) -> Result<(), MetaError> {
    let class = class_of(tx, data)?;
    for pool in pools {
        charge(tx, pool, &class, size, sign)?;
    }
    Ok(())
}

fn charge(tx: &mut Tx, pool: &Pool, class: &str, size: u64, sign: i8) -> Result<(), MetaError> {
    let k = key(pool, class);
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

/// Version `version_id` of `bucket/key`, of `size` bytes, whose data changed from
/// `before` to `after` (a blob switched into another class): counted in its new class.
pub(crate) fn reclass(
    tx: &mut Tx,
    (bucket, key, version_id): (&str, &str, Option<&str>),
    before: &ObjectData,
    after: &ObjectData,
    size: u64,
) -> Result<(), MetaError> {
    let (from, to) = (class_of(tx, before)?, class_of(tx, after)?);
    if from == to {
        return Ok(());
    }
    let w = writer(tx, bucket, key, AttrSubject::Version(version_id))?;
    for pool in pools_of(tx, bucket, w.as_deref())? {
        charge(tx, &pool, &from, size, -1)?;
        charge(tx, &pool, &to, size, 1)?;
    }
    Ok(())
}

/// Drops every class record of `pool` (it is gone).
pub(crate) fn drop_pool(tx: &mut Tx, pool: &Pool) -> Result<(), MetaError> {
    for (k, _) in tx.scan_prefix(Table::ClassUsage, &prefix(pool))? {
        tx.remove(Table::ClassUsage, k);
    }
    Ok(())
}

/// Rebuilds `sm_class_usage` from the objects, versions and attributes tables.
pub(crate) fn rebuild(t: &SmTrees) -> Result<u64, MetaError> {
    let tiers = t.tiers()?;
    let layout = t.layout()?;
    t.tree(Table::ClassUsage).clear()?;
    let tx = Tx::new(t);
    let mut all: BTreeMap<Vec<u8>, ClassUsage> = BTreeMap::new();
    let mut chains: HashMap<String, Vec<Pool>> = HashMap::new();
    let mut count = |bucket: &str, key: &str, v: &ObjectVersion| -> Result<(), MetaError> {
        if !chains.contains_key(bucket) {
            chains.insert(bucket.to_string(), pools_of(&tx, bucket, None)?);
        }
        let by = writer(&tx, bucket, key, AttrSubject::Version(v.version_id.as_deref()))?.map(Pool::Key);
        let class = tiers.class_of(&layout, &v.data);
        for pool in chains[bucket].iter().chain(by.iter()) {
            let u = all.entry(self::key(pool, &class)).or_default();
            u.objects += 1;
            u.bytes += v.size;
        }
        Ok(())
    };
    let malformed = || MetaError::Storage("malformed key while rebuilding usage by class".into());
    for item in t.tree(Table::Objects).iter() {
        let (k, v) = item?;
        let (bucket, rest) = split(&k).ok_or_else(malformed)?;
        let key = String::from_utf8(rest).map_err(|_| malformed())?;
        count(&bucket, &key, &bincode::deserialize(&v)?)?;
    }
    for item in t.tree(Table::Versions).iter() {
        let (k, v) = item?;
        let (bucket, rest) = split(&k).ok_or_else(malformed)?;
        let (key, _) = split_history_key(&rest).ok_or_else(malformed)?;
        if let VersionEntry::Object(v) = bincode::deserialize(&v)? {
            count(&bucket, &key, &v)?;
        }
    }
    let mut batch = sled::Batch::default();
    let n = all.len() as u64;
    for (k, u) in all {
        batch.insert(k, bincode::serialize(&u)?);
    }
    t.tree(Table::ClassUsage).apply_batch(batch)?;
    Ok(n)
}
