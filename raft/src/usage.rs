//! Per-bucket usage, as S3 bills it: objects and bytes of every object version, current
//! or not, and delete markers, each counted as the bytes of its key name. Kept by apply in
//! `sm_usage` (bucket name -> bincode([`BucketUsage`])) in the same transaction as
//! the objects, so the figures are exact at every applied index. Derived from
//! `sm_objects` like the blob index: snapshots do not carry it, and it is rebuilt
//! after a snapshot install or when a store written before it existed opens.
//! Uploads in progress are not counted (S3 reports completed objects only).

use crate::error::MetaError;
use crate::keys::split_history_key;
use crate::schema::{ObjectVersion, VersionEntry};
use crate::tables::Table;
use crate::trees::SmTrees;
use crate::tx::Tx;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketUsage {
    /// Object versions, current and noncurrent.
    pub objects: u64,
    /// Their bytes, plus the key-name bytes of every delete marker.
    pub bytes: u64,
    pub delete_markers: u64,
}

/// Adds (`sign` = 1) or removes (-1) one object version, written by `writer`, to a
/// bucket's usage, its usage by storage class ([`crate::class_usage`]) and its quota
/// pools ([`crate::quota`]).
pub(crate) fn adjust(
    tx: &mut Tx,
    bucket: &str,
    writer: Option<&str>,
    version: &ObjectVersion,
    sign: i8,
) -> Result<(), MetaError> {
    let size = version.size;
    let pools = crate::quota::pools_of(tx, bucket, writer)?;
    crate::class_usage::adjust(tx, &pools, &version.data, size, sign)?;
    crate::quota::charge_pools(tx, &pools, i128::from(size) * i128::from(sign), i64::from(sign))?;
    let key = bucket.as_bytes().to_vec();
    let mut u: BucketUsage = tx.read(Table::Usage, &key)?.unwrap_or_default();
    if sign > 0 {
        u.objects += 1;
        u.bytes += size;
    } else {
        u.objects = u.objects.saturating_sub(1);
        u.bytes = u.bytes.saturating_sub(size);
    }
    tx.write(Table::Usage, key, &u)
}

/// Adds (`sign` = 1) or removes (-1) one delete marker of `key`, made by `owner`, to
/// a bucket's usage and to its quota pools.
pub(crate) fn adjust_marker(tx: &mut Tx, bucket: &str, key: &str, owner: &str, sign: i8) -> Result<(), MetaError> {
    let size = key.len() as u64;
    crate::quota::charge(tx, bucket, Some(owner), i128::from(size) * i128::from(sign), 0)?;
    let k = bucket.as_bytes().to_vec();
    let mut u: BucketUsage = tx.read(Table::Usage, &k)?.unwrap_or_default();
    if sign > 0 {
        u.delete_markers += 1;
        u.bytes += size;
    } else {
        u.delete_markers = u.delete_markers.saturating_sub(1);
        u.bytes = u.bytes.saturating_sub(size);
    }
    tx.write(Table::Usage, k, &u)
}

/// Rebuilds `sm_usage` from the objects and versions tables; returns the buckets written.
pub(crate) fn rebuild(t: &SmTrees) -> Result<u64, MetaError> {
    let (objects, usage) = (t.tree(Table::Objects), t.tree(Table::Usage));
    usage.clear()?;
    let mut all: BTreeMap<Vec<u8>, BucketUsage> = BTreeMap::new();
    for item in objects.iter() {
        let (k, v) = item?;
        let blen = k[0] as usize;
        let version: ObjectVersion = bincode::deserialize(&v)?;
        let u = all.entry(k[1..1 + blen].to_vec()).or_default();
        u.objects += 1;
        u.bytes += version.size;
    }
    for item in t.tree(Table::Versions).iter() {
        let (k, v) = item?;
        let blen = k[0] as usize;
        let u = all.entry(k[1..1 + blen].to_vec()).or_default();
        match bincode::deserialize(&v)? {
            VersionEntry::Object(version) => {
                u.objects += 1;
                u.bytes += version.size;
            }
            VersionEntry::Marker(_) => {
                let (key, _) = split_history_key(&k[1 + blen..])
                    .ok_or_else(|| MetaError::Storage("malformed version history key".into()))?;
                u.delete_markers += 1;
                u.bytes += key.len() as u64;
            }
        }
    }
    let mut batch = sled::Batch::default();
    let n = all.len() as u64;
    for (bucket, u) in all {
        batch.insert(bucket, bincode::serialize(&u)?);
    }
    usage.apply_batch(batch)?;
    Ok(n)
}
