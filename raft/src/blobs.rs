//! The blob index: which object versions and upload parts refer to each
//! erasure-coded blob. A blob may have more than one: a rollback (CopyVersion) makes a
//! new version of a key that shares an older version's blobs, copying no byte.
//!
//! `sm_blob_refs` holds one key per (blob, owner): `[blob id: u128 BE][bincode(BlobOwner)]`,
//! with an empty value, so a blob's owners are one prefix scan and "is it referenced?"
//! one seek. It is derived data: apply keeps it in step with `sm_objects`, `sm_versions`
//! and `sm_parts` in the same transaction, snapshots do not carry it, and it is rebuilt
//! from them after a snapshot install or when a store written before it opens (the
//! single-owner `sm_blobs` of earlier stores is dropped then).
//!
//! A blob's data is garbage only when its last owner goes: [`release`] removes one owner
//! and answers the part of the data nothing refers to any more. The orphan collector
//! asks whether a shard file on disk is still referenced, the healer which version a
//! damaged blob belongs to, and a blob move retargets every owner at once.

use crate::error::MetaError;
use crate::keys::split_history_key;
use crate::schema::{BlobOwner, ObjectData, ObjectVersion, PartRef, VersionEntry};
use crate::tables::Table;
use crate::trees::SmTrees;
use crate::tx::Tx;

/// The single-owner index of stores written before blobs could be shared.
pub(crate) const OLD_TREE: &str = "sm_blobs";

pub(crate) fn blob_key(id: u128) -> [u8; 16] {
    id.to_be_bytes()
}

fn ref_key(id: u128, owner: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(16 + owner.len());
    k.extend_from_slice(&blob_key(id));
    k.extend_from_slice(owner);
    k
}

/// Decodes the owner out of an `sm_blob_refs` key.
pub(crate) fn owner_of_key(k: &[u8]) -> Result<BlobOwner, MetaError> {
    Ok(bincode::deserialize(k.get(16..).unwrap_or_default())?)
}

/// Every blob id of `data` (a multipart object has one per sharded part).
pub fn blob_ids(data: &ObjectData, out: &mut Vec<u128>) {
    match data {
        ObjectData::Inline(_) => {}
        ObjectData::Shards(r) => out.push(r.id),
        ObjectData::Parts(parts) => parts.iter().for_each(|p| blob_ids(&p.data, out)),
        ObjectData::Sealed(s) => blob_ids(&s.data, out),
    }
}

fn ids_of(data: &ObjectData) -> Vec<u128> {
    let mut ids = Vec::new();
    blob_ids(data, &mut ids);
    ids
}

/// Records `owner` as referring to every blob of `data`.
pub(crate) fn add(tx: &mut Tx, data: &ObjectData, owner: &BlobOwner) -> Result<(), MetaError> {
    let ids = ids_of(data);
    if ids.is_empty() {
        return Ok(());
    }
    let o = bincode::serialize(owner)?;
    for id in ids {
        tx.set(Table::Blobs, ref_key(id, &o), Some(Vec::new()));
    }
    Ok(())
}

/// Forgets that `owner` refers to the blobs of `data`.
pub(crate) fn remove(tx: &mut Tx, data: &ObjectData, owner: &BlobOwner) -> Result<(), MetaError> {
    let ids = ids_of(data);
    if ids.is_empty() {
        return Ok(());
    }
    let o = bincode::serialize(owner)?;
    for id in ids {
        tx.remove(Table::Blobs, ref_key(id, &o));
    }
    Ok(())
}

/// The blob now belongs to `to` instead of `from` (a version moving into the history,
/// a noncurrent version promoted).
pub(crate) fn transfer(tx: &mut Tx, data: &ObjectData, from: &BlobOwner, to: &BlobOwner) -> Result<(), MetaError> {
    remove(tx, data, from)?;
    add(tx, data, to)
}

/// Whether anything refers to blob `id`.
pub(crate) fn referenced(tx: &Tx, id: u128) -> Result<bool, MetaError> {
    tx.has_prefix(Table::Blobs, &blob_key(id))
}

/// Every owner of blob `id`.
pub(crate) fn owners(tx: &Tx, id: u128) -> Result<Vec<BlobOwner>, MetaError> {
    tx.scan_prefix(Table::Blobs, &blob_key(id))?.into_keys().map(|k| owner_of_key(&k)).collect()
}

/// What of `data` nothing refers to (any more): the data to free, `None` when every
/// blob is still referenced. Inline data is always answered: it has no shards to keep.
/// A command asks this after all its own changes to the index, so a blob it both
/// drops and takes up again (a rollback onto the version it replaces) is kept.
pub(crate) fn unreferenced(tx: &Tx, data: ObjectData) -> Result<Option<ObjectData>, MetaError> {
    Ok(match data {
        ObjectData::Inline(_) => Some(data),
        ObjectData::Shards(ref r) => (!referenced(tx, r.id)?).then_some(data),
        ObjectData::Sealed(ref s) => match &s.data {
            ObjectData::Shards(r) => (!referenced(tx, r.id)?).then_some(data),
            _ => Some(data),
        },
        ObjectData::Parts(parts) => {
            let mut free = Vec::with_capacity(parts.len());
            for p in parts {
                let shared = match p.data.unsealed() {
                    ObjectData::Shards(r) => referenced(tx, r.id)?,
                    _ => false,
                };
                if !shared {
                    free.push(p);
                }
            }
            (!free.is_empty()).then_some(ObjectData::Parts(free))
        }
    })
}

/// Rebuilds `sm_blob_refs` from the objects, versions and parts tables.
pub(crate) fn rebuild(t: &SmTrees) -> Result<u64, MetaError> {
    if t.db.tree_names().iter().any(|n| n.as_ref() == OLD_TREE.as_bytes()) {
        t.db.drop_tree(OLD_TREE)?;
    }
    let (objects, parts, blobs) = (t.tree(Table::Objects), t.tree(Table::Parts), t.tree(Table::Blobs));
    blobs.clear()?;
    let mut w = BatchWriter { tree: blobs, batch: sled::Batch::default(), pending: 0, count: 0 };
    for item in objects.iter() {
        let (k, v) = item?;
        let version: ObjectVersion = bincode::deserialize(&v)?;
        let blen = k[0] as usize;
        let bucket = String::from_utf8_lossy(&k[1..1 + blen]).into_owned();
        let key = String::from_utf8_lossy(&k[1 + blen..]).into_owned();
        w.add(&version.data, &BlobOwner::Object { bucket, key })?;
    }
    for item in t.tree(Table::Versions).iter() {
        let (k, v) = item?;
        let VersionEntry::Object(version) = bincode::deserialize(&v)? else { continue };
        let blen = k[0] as usize;
        let bucket = String::from_utf8_lossy(&k[1..1 + blen]).into_owned();
        let (key, _) = split_history_key(&k[1 + blen..])
            .ok_or_else(|| MetaError::Storage("malformed version history key".into()))?;
        w.add(&version.data, &BlobOwner::Version { bucket, key, version_id: version.version_id.clone() })?;
    }
    for item in parts.iter() {
        let (k, v) = item?;
        let part: PartRef = bincode::deserialize(&v)?;
        // Key: [upload_id][0x00][number u32 BE].
        let upload_id = String::from_utf8_lossy(&k[..k.len().saturating_sub(5)]).into_owned();
        w.add(&part.data, &BlobOwner::Part { upload_id, number: part.number })?;
    }
    w.flush()?;
    Ok(w.count)
}

struct BatchWriter<'a> {
    tree: &'a sled::Tree,
    batch: sled::Batch,
    pending: usize,
    count: u64,
}

impl BatchWriter<'_> {
    fn add(&mut self, data: &ObjectData, owner: &BlobOwner) -> Result<(), MetaError> {
        let ids = ids_of(data);
        if ids.is_empty() {
            return Ok(());
        }
        let o = bincode::serialize(owner)?;
        for id in ids {
            self.batch.insert(ref_key(id, &o), Vec::<u8>::new());
            self.pending += 1;
            self.count += 1;
        }
        if self.pending >= 10_000 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), MetaError> {
        self.tree.apply_batch(std::mem::take(&mut self.batch))?;
        self.pending = 0;
        Ok(())
    }
}
