//! Objects: the current version of each key, its write conditions, ACL and the
//! blob moves of the rebalancer. Every change keeps the blob index and the bucket's
//! usage in step.

use super::{attrs, buckets, lock};
use crate::blobs;
use crate::error::MetaError;
use crate::keys::{object_key, AttrSubject};
use crate::schema::{Attrs, BlobOwner, CannedAcl, CommandResult, ObjectData, ObjectVersion, WriteCondition};
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
/// and usage (its attributes gone) and putting `version` in.
pub(super) fn install(
    tx: &mut Tx,
    bucket: String,
    key: String,
    okey: Vec<u8>,
    version: &ObjectVersion,
    replaced: Option<&ObjectVersion>,
) -> Result<(), MetaError> {
    if let Some(old) = replaced {
        attrs::drop(tx, &bucket, &key, AttrSubject::Version(old.version_id.as_deref()))?;
        blobs::index(tx, &old.data, None)?;
        usage::adjust(tx, &bucket, old.size, -1)?;
    }
    usage::adjust(tx, &bucket, version.size, 1)?;
    blobs::index(tx, &version.data, Some(&BlobOwner::Object { bucket, key }))?;
    tx.write(Table::Objects, okey, version)
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

pub(super) fn delete(tx: &mut Tx, bucket: String, key: String) -> Result<CommandResult, MetaError> {
    if buckets::get(tx, &bucket)?.is_none() {
        return Ok(CommandResult::NoSuchBucket);
    }
    let Some(okey) = object_key(&bucket, &key) else {
        return Ok(CommandResult::NoSuchBucket);
    };
    let existing = current(tx, &okey)?;
    if let Some(old) = &existing {
        attrs::drop(tx, &bucket, &key, AttrSubject::Version(old.version_id.as_deref()))?;
        blobs::index(tx, &old.data, None)?;
        usage::adjust(tx, &bucket, old.size, -1)?;
        tx.remove(Table::Objects, okey);
    }
    Ok(CommandResult::Replaced(existing))
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

/// Points blob `id` of `bucket/key` at the disks `to`; refused unless it still sits
/// on `from`, so a move never undoes a newer write or another move.
pub(super) fn move_blob(
    tx: &mut Tx,
    bucket: String,
    key: String,
    id: u128,
    from: &[u16],
    to: &[u16],
    layout_version: u64,
) -> Result<CommandResult, MetaError> {
    let Some(okey) = object_key(&bucket, &key) else {
        return Ok(CommandResult::NoSuchKey);
    };
    let Some(mut version) = current(tx, &okey)? else {
        return Ok(CommandResult::NoSuchKey);
    };
    if !retarget(&mut version.data, id, from, to, layout_version) {
        return Ok(CommandResult::PreconditionFailed);
    }
    tx.write(Table::Objects, okey, &version)?;
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
