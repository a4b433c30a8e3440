//! Objects: the current version of each key, its write conditions, ACL and the
//! blob moves of the rebalancer. Every change keeps the blob index and the bucket's
//! usage in step.

use super::{attrs, buckets, lock};
use crate::blobs;
use crate::error::MetaError;
use crate::keys::{object_key, part_key, AttrSubject};
use crate::quota;
use crate::schema::{
    Attrs, BatchPut, BlobOwner, CannedAcl, CommandResult, ObjectData, ObjectVersion, PartRef, Refusal, VersionEntry,
    WriteCondition,
};
use crate::tables::Table;
use crate::tx::Tx;
use crate::usage;

/// Does an `If-Match` value match `etag` (stored without quotes)? Accepts `*`, a
/// quoted or bare etag, a weak `W/` prefix, and comma-separated lists.
pub fn etag_matches(if_match: &str, etag: &str) -> bool {
    if_match.split(',').any(|c| {
        let c = c.trim();
        if c == "*" {
            return true;
        }
        let c = c.strip_prefix("W/").unwrap_or(c);
        let c = c.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(c);
        c == etag
    })
}

/// A write condition against the current version: the refusal, if it fails.
pub(super) fn check_condition(
    condition: Option<&WriteCondition>,
    current: Option<&ObjectVersion>,
) -> Option<CommandResult> {
    match (condition, current) {
        (Some(WriteCondition::IfNoneMatchAny), Some(_)) => Some(CommandResult::PreconditionFailed),
        (Some(WriteCondition::IfMatch(_)), None) => Some(CommandResult::NoSuchKey),
        (Some(WriteCondition::IfMatch(e)), Some(cur)) if !etag_matches(e, &cur.etag) => {
            Some(CommandResult::PreconditionFailed)
        }
        _ => None,
    }
}

/// The current version stored under the `sm_objects` key `okey`.
pub(super) fn current(tx: &Tx, okey: &[u8]) -> Result<Option<ObjectVersion>, MetaError> {
    tx.read(Table::Objects, okey)
}

/// Makes `version` current under `okey`, taking `replaced` out of the blob index
/// and usage (its attributes gone) and putting `version`, written by `writer`, in. Answers the data of
/// `replaced` that nothing refers to any more.
pub(super) fn install(
    tx: &mut Tx,
    bucket: String,
    key: String,
    okey: Vec<u8>,
    version: &ObjectVersion,
    writer: Option<&str>,
    replaced: Option<&ObjectVersion>,
) -> Result<Option<ObjectData>, MetaError> {
    let owner = BlobOwner::Object { bucket, key };
    let BlobOwner::Object { bucket, key } = &owner else { unreachable!("built above") };
    if let Some(old) = replaced {
        let gone = attrs::drop(tx, bucket, key, AttrSubject::Version(old.version_id.as_deref()))?;
        blobs::remove(tx, &old.data, &owner)?;
        usage::adjust(tx, bucket, quota::writer_of(&gone), old, -1)?;
    }
    usage::adjust(tx, bucket, writer, version, 1)?;
    blobs::add(tx, &version.data, &owner)?;
    tx.write(Table::Objects, okey, version)?;
    match replaced {
        Some(old) => blobs::unreferenced(tx, old.data.clone()),
        None => Ok(None),
    }
}

/// `old` as a `Replaced` answer carries it: with only the data nothing refers to any
/// more (none, when every blob is shared).
pub(super) fn as_replaced(mut old: ObjectVersion, freed: Option<ObjectData>) -> ObjectVersion {
    old.data = freed.unwrap_or(ObjectData::Inline(Vec::new()));
    old
}

/// PutObjects: each item as `put` without a condition; the first one refused
/// refuses the batch (apply then undoes the others).
pub(super) fn put_many(tx: &mut Tx, bucket: String, items: Vec<BatchPut>) -> Result<CommandResult, MetaError> {
    let mut results = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        match put(tx, bucket.clone(), item.key, item.version, None, item.attrs)? {
            r @ (CommandResult::Replaced(_) | CommandResult::Versioned { .. }) => results.push(r),
            other => return Ok(CommandResult::BatchRefused { index, result: Box::new(other) }),
        }
    }
    Ok(CommandResult::ObjectsPut(results))
}

pub(super) fn put(
    tx: &mut Tx,
    bucket: String,
    key: String,
    version: ObjectVersion,
    condition: Option<WriteCondition>,
    new_attrs: Attrs,
) -> Result<CommandResult, MetaError> {
    if buckets::get(tx, &bucket)?.is_none() {
        return Ok(CommandResult::NoSuchBucket);
    }
    let Some(okey) = object_key(&bucket, &key) else {
        return Ok(CommandResult::NoSuchBucket);
    };
    let existing = current(tx, &okey)?;
    if let Some(refusal) = check_condition(condition.as_ref(), existing.as_ref()) {
        return Ok(refusal);
    }
    let new_attrs = match lock::new_version_attrs(tx, &bucket, new_attrs, version.last_modified)? {
        Ok(a) => a,
        Err(refusal) => return Ok(CommandResult::Refused(refusal)),
    };
    super::versions::make_current(tx, bucket, key, okey, version, existing, None, new_attrs)
}

/// CopyVersion: a new version of `bucket/key` sharing the data of its version
/// `source_version_id`, as that version is now.
pub(super) fn copy_version(
    tx: &mut Tx,
    bucket: String,
    key: String,
    source_version_id: String,
    mut version: ObjectVersion,
    condition: Option<WriteCondition>,
    new_attrs: Attrs,
) -> Result<CommandResult, MetaError> {
    let source = match super::versions::locate(tx, &bucket, &key, Some(&source_version_id))? {
        super::versions::Located::Bucketless => return Ok(CommandResult::NoSuchBucket),
        super::versions::Located::Nothing => return Ok(CommandResult::Refused(Refusal::NoSuchVersion)),
        super::versions::Located::Marker => return Ok(CommandResult::Refused(Refusal::DeleteMarker)),
        super::versions::Located::Object(v) => v,
    };
    version.data = source.data;
    version.size = source.size;
    version.etag = source.etag;
    version.checksums = source.checksums;
    put(tx, bucket, key, version, condition, new_attrs)
}

pub(super) fn delete(tx: &mut Tx, bucket: String, key: String) -> Result<CommandResult, MetaError> {
    if buckets::get(tx, &bucket)?.is_none() {
        return Ok(CommandResult::NoSuchBucket);
    }
    let Some(okey) = object_key(&bucket, &key) else {
        return Ok(CommandResult::NoSuchBucket);
    };
    let Some(old) = current(tx, &okey)? else {
        return Ok(CommandResult::Replaced(None));
    };
    let gone = attrs::drop(tx, &bucket, &key, AttrSubject::Version(old.version_id.as_deref()))?;
    usage::adjust(tx, &bucket, quota::writer_of(&gone), &old, -1)?;
    tx.remove(Table::Objects, okey);
    blobs::remove(tx, &old.data, &BlobOwner::Object { bucket, key })?;
    let freed = blobs::unreferenced(tx, old.data.clone())?;
    Ok(CommandResult::Replaced(Some(as_replaced(old, freed))))
}

pub(super) fn set_acl(tx: &mut Tx, bucket: String, key: String, acl: CannedAcl) -> Result<CommandResult, MetaError> {
    if buckets::get(tx, &bucket)?.is_none() {
        return Ok(CommandResult::NoSuchBucket);
    }
    let Some(okey) = object_key(&bucket, &key) else {
        return Ok(CommandResult::NoSuchKey);
    };
    let Some(mut version) = current(tx, &okey)? else {
        return Ok(CommandResult::NoSuchKey);
    };
    version.acl = acl;
    tx.write(Table::Objects, okey, &version)?;
    Ok(CommandResult::Ok)
}

/// Points blob `id` of `bucket/key` at the disks `to`, in every record that refers to
/// it (current or noncurrent versions of the key, several after a rollback); refused
/// unless a version of the key refers to it and every record still has it on `from`,
/// so a move never undoes a newer write or another move, and no version is left
/// pointing at shards the move removes.
pub(super) fn move_blob(
    tx: &mut Tx,
    bucket: String,
    key: String,
    id: u128,
    from: &[u16],
    to: &[u16],
    layout_version: u64,
) -> Result<CommandResult, MetaError> {
    edit_blob(tx, &bucket, &key, id, &|data| retarget(data, id, from, to, layout_version))
}

/// Edits blob `id` in the record of every owner with `edit` (a blob shared by
/// versions changes for all of them), only if one owner is a version of
/// `bucket/key` and `edit` finds the blob in each as the caller expects it;
/// otherwise nothing changes and the answer says why. The blob index is the
/// caller's to update when the edit renames the blob.
pub(super) fn edit_blob(
    tx: &mut Tx,
    bucket: &str,
    key: &str,
    id: u128,
    edit: &dyn Fn(&mut ObjectData) -> bool,
) -> Result<CommandResult, MetaError> {
    let owners = blobs::owners(tx, id)?;
    let of_key = |b: &String, k: &String| *b == bucket && *k == key;
    let owned = owners.iter().any(|o| match o {
        BlobOwner::Object { bucket: b, key: k } | BlobOwner::Version { bucket: b, key: k, .. } => of_key(b, k),
        BlobOwner::Part { .. } => false,
    });
    if !owned {
        let exists = object_key(bucket, key).map(|k| current(tx, &k)).transpose()?.flatten().is_some();
        return Ok(if exists { CommandResult::PreconditionFailed } else { CommandResult::NoSuchKey });
    }
    let mut updated: Vec<(Table, Vec<u8>, Vec<u8>)> = Vec::new();
    // Versions whose data changed: (bucket, key, version id, data before, data after,
    // size), for their usage by storage class.
    type Changed = (String, String, Option<String>, ObjectData, ObjectData, u64);
    let mut changed: Vec<Changed> = Vec::new();
    for owner in owners {
        let found = match owner {
            BlobOwner::Object { bucket: b, key: k } => {
                let ok = object_key(&b, &k).ok_or_else(|| MetaError::Storage("blob owner without a key".into()))?;
                current(tx, &ok)?.map(|mut v| {
                    let before = v.data.clone();
                    let moved = edit(&mut v.data);
                    changed.push((b, k, v.version_id.clone(), before, v.data.clone(), v.size));
                    (moved, Table::Objects, ok, bincode::serialize(&v))
                })
            }
            BlobOwner::Version { bucket: b, key: k, version_id } => super::versions::history(tx, &b, &k)?
                .into_iter()
                .find(|(_, e)| e.version_id() == version_id.as_deref() && matches!(e, VersionEntry::Object(_)))
                .map(|(hk, mut e)| {
                    let moved = match &mut e {
                        VersionEntry::Object(v) => {
                            let before = v.data.clone();
                            let moved = edit(&mut v.data);
                            changed.push((b.clone(), k.clone(), v.version_id.clone(), before, v.data.clone(), v.size));
                            moved
                        }
                        VersionEntry::Marker(_) => false,
                    };
                    (moved, Table::Versions, hk, bincode::serialize(&e))
                }),
            BlobOwner::Part { upload_id, number } => {
                let pk = part_key(&upload_id, number);
                tx.read::<PartRef>(Table::Parts, &pk)?.map(|mut p| {
                    let moved = edit(&mut p.data);
                    (moved, Table::Parts, pk, bincode::serialize(&p))
                })
            }
        };
        match found {
            Some((true, table, k, v)) => updated.push((table, k, v?)),
            _ => return Ok(CommandResult::PreconditionFailed),
        }
    }
    for (table, k, v) in updated {
        tx.set(table, k, Some(v));
    }
    for (b, k, version_id, before, after, size) in changed {
        crate::class_usage::reclass(tx, (&b, &k, version_id.as_deref()), &before, &after, size)?;
    }
    Ok(CommandResult::Ok)
}

/// Moves blob `id` within `data` from disks `from` to `to`; false if it is not there.
fn retarget(data: &mut ObjectData, id: u128, from: &[u16], to: &[u16], layout_version: u64) -> bool {
    match data {
        ObjectData::Shards(r) if r.id == id && r.disks == from && to.len() == from.len() => {
            r.disks = to.to_vec();
            r.layout_version = layout_version;
            true
        }
        ObjectData::Parts(parts) => parts.iter_mut().any(|p| retarget(&mut p.data, id, from, to, layout_version)),
        ObjectData::Sealed(s) => retarget(&mut s.data, id, from, to, layout_version),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_matching() {
        assert!(etag_matches("*", "abc"));
        assert!(etag_matches("\"abc\"", "abc"));
        assert!(etag_matches("abc", "abc"));
        assert!(etag_matches("W/\"abc\"", "abc"));
        assert!(etag_matches("\"x\", \"abc\"", "abc"));
        assert!(!etag_matches("\"abd\"", "abc"));
        assert!(!etag_matches("", "abc"));
    }
}
