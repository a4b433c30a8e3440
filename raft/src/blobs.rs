//! The blob index: which object or upload part owns each erasure-coded blob.
//!
//! `sm_blobs` maps a blob id (u128 big-endian) to bincode([`BlobOwner`]). It is
//! derived data: apply keeps it in step with `sm_objects`, `sm_versions` and `sm_parts`
//! in the same transaction, snapshots do not carry it, and it is rebuilt from them
//! after a snapshot install or when a store written before the index existed opens.
//! The orphan collector asks it whether a shard file on disk is still referenced,
//! and the healer asks it which object a damaged blob belongs to.

use crate::error::MetaError;
use crate::keys::split_history_key;
use crate::schema::{BlobOwner, ObjectData, ObjectVersion, PartRef, VersionEntry};
use crate::tables::Table;
use crate::trees::SmTrees;
use crate::tx::Tx;

pub(crate) fn blob_key(id: u128) -> [u8; 16] {
    id.to_be_bytes()
}

/// Every blob id of `data` (a multipart object has one per sharded part).
pub fn blob_ids(data: &ObjectData, out: &mut Vec<u128>) {
    match data {
        ObjectData::Inline(_) => {}
        ObjectData::Shards(r) => out.push(r.id),
        ObjectData::Parts(parts) => parts.iter().for_each(|p| blob_ids(&p.data, out)),
    }
}

/// Records `owner` for every blob of `data` (None removes them).
pub(crate) fn index(tx: &mut Tx, data: &ObjectData, owner: Option<&BlobOwner>) -> Result<(), MetaError> {
    let mut ids = Vec::new();
    blob_ids(data, &mut ids);
    if ids.is_empty() {
        return Ok(());
    }
    let value = owner.map(bincode::serialize).transpose()?;
    for id in ids {
        tx.set(Table::Blobs, blob_key(id).to_vec(), value.clone());
    }
    Ok(())
}

/// Rebuilds `sm_blobs` from the objects and parts tables.
pub(crate) fn rebuild(t: &SmTrees) -> Result<u64, MetaError> {
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
        let mut ids = Vec::new();
        blob_ids(data, &mut ids);
        if ids.is_empty() {
            return Ok(());
        }
        let v = bincode::serialize(owner)?;
        for id in ids {
            self.batch.insert(&blob_key(id)[..], v.clone());
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
