//! Multipart uploads: creation, parts (replaced parts are discarded), abort, and
//! completion, which checks every listed part is still exactly the stored one
//! before the object becomes current. Parts count in the quota pools of the upload's
//! writer from their commit until the upload completes or is aborted.

use super::{attrs, buckets, lock, objects};
use crate::blobs;
use crate::error::MetaError;
use crate::keys::{object_key, part_key, part_prefix, upload_key, AttrSubject};
use crate::quota;
use crate::schema::{
    Attrs, BlobOwner, CommandResult, MultipartUpload, ObjectData, ObjectVersion, PartRef, WriteCondition,
};
use crate::tables::Table;
use crate::tx::Tx;
use std::collections::{BTreeMap, BTreeSet};

fn exists(tx: &Tx, ukey: &[u8]) -> Result<bool, MetaError> {
    Ok(tx.get(Table::Uploads, ukey)?.is_some())
}

/// Every stored part of `upload_id` with its key, by number.
fn parts_of(tx: &Tx, upload_id: &str) -> Result<Vec<(Vec<u8>, PartRef)>, MetaError> {
    let prefix = part_prefix(upload_id);
    // Longer keys belong to an upload id that extends this one with a NUL.
    let want = prefix.len() + 4;
    let mut out = Vec::new();
    for (k, v) in tx.scan_prefix(Table::Parts, &prefix)? {
        if k.len() == want {
            out.push((k, bincode::deserialize(&v)?));
        }
    }
    Ok(out)
}

/// Removes an upload of `bucket/key` and all its parts from the tables, the blob
/// index and the quota pools, its attributes too; returns the parts, by number, and
/// the attributes.
fn remove(
    tx: &mut Tx,
    bucket: &str,
    key: &str,
    ukey: Vec<u8>,
    upload_id: &str,
) -> Result<(Vec<PartRef>, Attrs), MetaError> {
    let parts = parts_of(tx, upload_id)?;
    let mut out = Vec::with_capacity(parts.len());
    for (k, p) in parts {
        tx.remove(Table::Parts, k);
        blobs::remove(tx, &p.data, &BlobOwner::Part { upload_id: upload_id.into(), number: p.number })?;
        out.push(p);
    }
    tx.remove(Table::Uploads, ukey);
    let attrs = attrs::drop(tx, bucket, key, AttrSubject::Upload(upload_id))?;
    let bytes: u64 = out.iter().map(|p| p.size).sum();
    quota::charge(tx, bucket, quota::writer_of(&attrs), -i128::from(bytes), 0)?;
    Ok((out, attrs))
}

/// Records an upload with the attributes its object will get (lock attributes only
/// in a bucket with lock; the default retention is added at completion).
pub(super) fn create(tx: &mut Tx, upload: MultipartUpload, new_attrs: Attrs) -> Result<CommandResult, MetaError> {
    if buckets::get(tx, &upload.bucket)?.is_none() {
        return Ok(CommandResult::NoSuchBucket);
    }
    let Some(ukey) = upload_key(&upload.bucket, &upload.key, &upload.upload_id) else {
        return Ok(CommandResult::NoSuchBucket);
    };
    if lock::config(tx, &upload.bucket)?.is_none() && new_attrs.keys().any(|n| lock::is_lock_attr(n)) {
        return Ok(CommandResult::Refused(crate::schema::Refusal::LockNotEnabled));
    }
    attrs::write_all(tx, &upload.bucket, &upload.key, AttrSubject::Upload(&upload.upload_id), new_attrs);
    tx.write(Table::Uploads, ukey, &upload)?;
    Ok(CommandResult::Ok)
}

pub(super) fn put_part(
    tx: &mut Tx,
    bucket: String,
    key: String,
    upload_id: String,
    part: PartRef,
) -> Result<CommandResult, MetaError> {
    let Some(ukey) = upload_key(&bucket, &key, &upload_id) else {
        return Ok(CommandResult::NoSuchUpload);
    };
    if !exists(tx, &ukey)? {
        return Ok(CommandResult::NoSuchUpload);
    }
    let pkey = part_key(&upload_id, part.number);
    let old: Option<PartRef> = tx.read(Table::Parts, &pkey)?;
    let upload_attrs = attrs::of(tx, &bucket, &key, AttrSubject::Upload(&upload_id))?;
    let added = i128::from(part.size) - old.as_ref().map_or(0, |o| i128::from(o.size));
    quota::charge(tx, &bucket, quota::writer_of(&upload_attrs), added, 0)?;
    // A re-sent part that points at the very same blob replaces nothing.
    let discard = old.map(|o| o.data).filter(|d| *d != part.data);
    let owner = BlobOwner::Part { upload_id, number: part.number };
    if let Some(d) = &discard {
        blobs::remove(tx, d, &owner)?;
    }
    blobs::add(tx, &part.data, &owner)?;
    tx.write(Table::Parts, pkey, &part)?;
    Ok(CommandResult::Discard(discard.into_iter().collect()))
}

pub(super) fn abort(tx: &mut Tx, bucket: String, key: String, upload_id: String) -> Result<CommandResult, MetaError> {
    let Some(ukey) = upload_key(&bucket, &key, &upload_id) else {
        return Ok(CommandResult::NoSuchUpload);
    };
    if !exists(tx, &ukey)? {
        return Ok(CommandResult::NoSuchUpload);
    }
    let (parts, _) = remove(tx, &bucket, &key, ukey, &upload_id)?;
    Ok(CommandResult::Discard(parts.into_iter().map(|p| p.data).collect()))
}

pub(super) fn complete(
    tx: &mut Tx,
    bucket: String,
    key: String,
    upload_id: String,
    version: ObjectVersion,
    condition: Option<WriteCondition>,
) -> Result<CommandResult, MetaError> {
    if buckets::get(tx, &bucket)?.is_none() {
        return Ok(CommandResult::NoSuchBucket);
    }
    let (Some(ukey), Some(okey)) = (upload_key(&bucket, &key, &upload_id), object_key(&bucket, &key)) else {
        return Ok(CommandResult::NoSuchBucket);
    };
    if !exists(tx, &ukey)? {
        return Ok(CommandResult::NoSuchUpload);
    }
    let ObjectData::Parts(listed) = &version.data else {
        return Ok(CommandResult::InvalidPart { number: 0 });
    };
    let stored: BTreeMap<u32, PartRef> = parts_of(tx, &upload_id)?.into_iter().map(|(_, p)| (p.number, p)).collect();
    for p in listed {
        match stored.get(&p.number) {
            Some(s) if s.etag == p.etag && s.data == p.data => {}
            _ => return Ok(CommandResult::InvalidPart { number: p.number }),
        }
    }
    let existing = objects::current(tx, &okey)?;
    if let Some(refusal) = objects::check_condition(condition.as_ref(), existing.as_ref()) {
        return Ok(refusal);
    }
    let mut new_attrs = attrs::of(tx, &bucket, &key, AttrSubject::Upload(&upload_id))?;
    new_attrs.remove(crate::schema::ATTR_UPLOAD_CLASS);
    let new_attrs = match lock::new_version_attrs(tx, &bucket, new_attrs, version.last_modified)? {
        Ok(a) => a,
        Err(refusal) => return Ok(CommandResult::Refused(refusal)),
    };
    let kept: BTreeSet<u32> = listed.iter().map(|p| p.number).collect();
    let discard: Vec<ObjectData> = stored.into_values().filter(|p| !kept.contains(&p.number)).map(|p| p.data).collect();
    remove(tx, &bucket, &key, ukey, &upload_id)?;
    super::versions::make_current(tx, bucket, key, okey, version, existing, Some(discard), new_attrs)
}
