//! Versioning: a bucket's versioning state, making a version current as that state
//! says, delete markers, removing one version for good, and promoting the next newest
//! version when the current one goes.
//!
//! The invariant kept here: `sm_objects` holds a key's current version when that is an
//! object version; `sm_versions` holds everything else of the key (noncurrent versions,
//! and every delete marker), each stamped (`crate::versions`). Every history entry is
//! older than the `sm_objects` entry, and when there is none, the newest history entry
//! is a delete marker (or there is no history). So listings of current objects scan
//! `sm_objects` alone, and a key's versions, newest first, are its `sm_objects` entry
//! followed by its history in key order.
//!
//! Usage counts every object version, current or not (as S3 bills them); markers
//! count nothing. The blob index names a noncurrent version's blobs
//! [`BlobOwner::Version`], so neither the collector nor a heal loses them.

use super::{attrs, buckets, lock, objects};
use crate::blobs;
use crate::error::MetaError;
use crate::keys::{history_key, history_prefix, object_key, setting_key, AttrSubject};
use crate::schema::SETTING_VERSIONING as VERSIONING;
use crate::schema::{
    Attrs, BlobOwner, CommandResult, DeleteMarker, Nanos, ObjectData, ObjectVersion, Refusal, VersionEntry, Versioning,
    WriteCondition,
};
use crate::tables::Table;
use crate::tx::Tx;
use crate::usage;
use crate::versions::Stamp;

/// The bucket's versioning state; `None` while it has never been set.
pub(crate) fn state(tx: &Tx, bucket: &str) -> Result<Option<Versioning>, MetaError> {
    match setting_key(bucket, VERSIONING) {
        Some(k) => tx.read(Table::BucketSettings, &k),
        None => Ok(None),
    }
}

pub(super) fn set_state(tx: &mut Tx, bucket: String, to: Versioning) -> Result<CommandResult, MetaError> {
    let (Some(_), Some(k)) = (buckets::get(tx, &bucket)?, setting_key(&bucket, VERSIONING)) else {
        return Ok(CommandResult::NoSuchBucket);
    };
    if to == Versioning::Suspended && lock::config(tx, &bucket)?.is_some() {
        return Ok(CommandResult::Refused(Refusal::InvalidBucketState));
    }
    tx.write(Table::BucketSettings, k, &to)?;
    Ok(CommandResult::Ok)
}

fn stamp(tx: &Tx, sub: u8) -> Stamp {
    Stamp { index: tx.at.0, seq: tx.at.1, sub }
}

/// The history of `bucket/key`, newest first, with each entry's `sm_versions` key.
pub(super) fn history(tx: &Tx, bucket: &str, key: &str) -> Result<Vec<(Vec<u8>, VersionEntry)>, MetaError> {
    let Some(p) = history_prefix(bucket, key) else {
        return Ok(Vec::new());
    };
    tx.scan_prefix(Table::Versions, &p)?.into_iter().map(|(k, v)| Ok((k, bincode::deserialize(&v)?))).collect()
}

/// Where an entry goes in the history: its id's stamp, or `null_stamp` for the null
/// version (stamped as it enters).
fn history_stamp(entry: &VersionEntry, null_stamp: Stamp) -> Stamp {
    entry.version_id().and_then(Stamp::parse_id).unwrap_or(null_stamp)
}

/// The blob owner of `bucket/key`'s current version.
fn current_owner(bucket: &str, key: &str) -> BlobOwner {
    BlobOwner::Object { bucket: bucket.into(), key: key.into() }
}

/// The blob owner of a version of `bucket/key` in the history.
fn history_owner(bucket: &str, key: &str, v: &ObjectVersion) -> BlobOwner {
    BlobOwner::Version { bucket: bucket.into(), key: key.into(), version_id: v.version_id.clone() }
}

/// Writes `entry` (a marker, or a version leaving `sm_objects`) into the history.
fn push_history(tx: &mut Tx, bucket: &str, key: &str, entry: &VersionEntry, at: Stamp) -> Result<(), MetaError> {
    let Some(k) = history_key(bucket, key, &at) else {
        return Ok(());
    };
    if let VersionEntry::Object(v) = entry {
        blobs::transfer(tx, &v.data, &current_owner(bucket, key), &history_owner(bucket, key, v))?;
    }
    tx.write(Table::Versions, k, entry)
}

/// Forgets an object version for good (`owner` is where it was: current or in the
/// history): out of the blob index and usage, its attributes gone; its data is a
/// candidate to free ([`settle`] keeps what is still referenced at the end).
fn forget(
    tx: &mut Tx,
    bucket: &str,
    key: &str,
    v: ObjectVersion,
    owner: &BlobOwner,
    freed: &mut Vec<ObjectData>,
) -> Result<(), MetaError> {
    let gone = attrs::drop(tx, bucket, key, AttrSubject::Version(v.version_id.as_deref()))?;
    usage::adjust(tx, bucket, crate::quota::writer_of(&gone), &v, -1)?;
    blobs::remove(tx, &v.data, owner)?;
    freed.push(v.data);
    Ok(())
}

/// The candidates of a command that nothing refers to once all its changes are made.
fn settle(tx: &Tx, freed: Vec<ObjectData>) -> Result<Vec<ObjectData>, MetaError> {
    let mut out = Vec::with_capacity(freed.len());
    for d in freed {
        out.extend(blobs::unreferenced(tx, d)?);
    }
    Ok(out)
}

/// Removes the null version (object or marker) from the history of `bucket/key`.
fn drop_null_history(tx: &mut Tx, bucket: &str, key: &str, freed: &mut Vec<ObjectData>) -> Result<(), MetaError> {
    for (k, e) in history(tx, bucket, key)? {
        if e.version_id().is_none() {
            tx.remove(Table::Versions, k);
            match e {
                VersionEntry::Object(v) => {
                    let owner = history_owner(bucket, key, &v);
                    forget(tx, bucket, key, v, &owner, freed)?;
                }
                VersionEntry::Marker(m) => usage::adjust_marker(tx, bucket, key, &m.owner, -1)?,
            }
        }
    }
    Ok(())
}

/// Takes the current object version of `bucket/key` out of `sm_objects`: into the
/// history (versioned) or gone for good (the null version in a suspended bucket).
fn retire_current(
    tx: &mut Tx,
    bucket: &str,
    key: &str,
    old: ObjectVersion,
    state: Versioning,
    at: Stamp,
    freed: &mut Vec<ObjectData>,
) -> Result<(), MetaError> {
    if state == Versioning::Suspended && old.version_id.is_none() {
        return forget(tx, bucket, key, old, &current_owner(bucket, key), freed);
    }
    let entry = VersionEntry::Object(old);
    let s = history_stamp(&entry, Stamp { sub: 0, ..at });
    push_history(tx, bucket, key, &entry, s)
}

/// Makes `version` current under `okey` with its attributes `new_attrs` (lock
/// defaults already filled in), after the caller checked its condition against
/// `existing` (the current object version). Unversioned buckets answer
/// `Replaced(existing)` for a PUT (`also_freed` None) and `Discard` of `also_freed`
/// and `existing` for a completion; versioned ones `Versioned` with the new id (none
/// in a suspended bucket) and what was freed, `also_freed` included.
#[allow(clippy::too_many_arguments)]
pub(super) fn make_current(
    tx: &mut Tx,
    bucket: String,
    key: String,
    okey: Vec<u8>,
    mut version: ObjectVersion,
    existing: Option<ObjectVersion>,
    also_freed: Option<Vec<ObjectData>>,
    new_attrs: Attrs,
) -> Result<CommandResult, MetaError> {
    let Some(st) = state(tx, &bucket)? else {
        version.version_id = None;
        let writer = crate::quota::writer_of(&new_attrs).map(str::to_string);
        let old_data =
            objects::install(tx, bucket.clone(), key.clone(), okey, &version, writer.as_deref(), existing.as_ref())?;
        attrs::write_all(tx, &bucket, &key, AttrSubject::Version(None), new_attrs);
        return Ok(match also_freed {
            None => CommandResult::Replaced(existing.map(|v| objects::as_replaced(v, old_data))),
            Some(f) => CommandResult::Discard(f.into_iter().chain(old_data).collect()),
        });
    };
    let at = stamp(tx, 1);
    let mut freed = also_freed.unwrap_or_default();
    if let Some(old) = existing {
        tx.remove(Table::Objects, okey.clone());
        retire_current(tx, &bucket, &key, old, st, at, &mut freed)?;
    }
    version.version_id = match st {
        Versioning::Enabled => Some(at.id()),
        Versioning::Suspended => {
            drop_null_history(tx, &bucket, &key, &mut freed)?;
            None
        }
    };
    let version_id = version.version_id.clone();
    let writer = crate::quota::writer_of(&new_attrs).map(str::to_string);
    attrs::write_all(tx, &bucket, &key, AttrSubject::Version(version_id.as_deref()), new_attrs);
    objects::install(tx, bucket, key, okey, &version, writer.as_deref(), None)?;
    let freed = settle(tx, freed)?;
    Ok(CommandResult::Versioned { version_id, delete_marker: false, freed })
}

/// DeleteObject without a version id.
pub(super) fn delete(
    tx: &mut Tx,
    bucket: String,
    key: String,
    owner: String,
    at_time: Nanos,
    condition: Option<WriteCondition>,
) -> Result<CommandResult, MetaError> {
    if buckets::get(tx, &bucket)?.is_none() {
        return Ok(CommandResult::NoSuchBucket);
    }
    let Some(okey) = object_key(&bucket, &key) else {
        return Ok(CommandResult::NoSuchBucket);
    };
    if let Some(refusal) = check_delete_condition(condition.as_ref(), objects::current(tx, &okey)?.as_ref()) {
        return Ok(refusal);
    }
    let Some(st) = state(tx, &bucket)? else {
        return objects::delete(tx, bucket, key);
    };
    let at = stamp(tx, 1);
    let mut freed = Vec::new();
    if let Some(old) = objects::current(tx, &okey)? {
        tx.remove(Table::Objects, okey);
        retire_current(tx, &bucket, &key, old, st, at, &mut freed)?;
    }
    let version_id = match st {
        Versioning::Enabled => Some(at.id()),
        Versioning::Suspended => {
            drop_null_history(tx, &bucket, &key, &mut freed)?;
            None
        }
    };
    usage::adjust_marker(tx, &bucket, &key, &owner, 1)?;
    let marker = VersionEntry::Marker(DeleteMarker { version_id: version_id.clone(), last_modified: at_time, owner });
    push_history(tx, &bucket, &key, &marker, at)?;
    let freed = settle(tx, freed)?;
    Ok(CommandResult::Versioned { version_id, delete_marker: true, freed })
}

/// Removes one version of `bucket/key` for good (`None`: the null version), unless
/// object lock keeps it at `at` (see [`lock::may_remove`]).
pub(super) fn delete_version(
    tx: &mut Tx,
    bucket: String,
    key: String,
    version_id: Option<String>,
    condition: Option<WriteCondition>,
    at: Nanos,
    bypass_governance: bool,
) -> Result<CommandResult, MetaError> {
    let locked = |tx: &Tx, v: &ObjectVersion| -> Result<bool, MetaError> {
        let a = attrs::of(tx, &bucket, &key, AttrSubject::Version(v.version_id.as_deref()))?;
        Ok(!lock::may_remove(&a, at, bypass_governance)?)
    };
    if buckets::get(tx, &bucket)?.is_none() {
        return Ok(CommandResult::NoSuchBucket);
    }
    let Some(okey) = object_key(&bucket, &key) else {
        return Ok(CommandResult::NoSuchBucket);
    };
    let mut freed = Vec::new();
    let current = objects::current(tx, &okey)?;
    if let Some(cur) = current.as_ref().filter(|c| c.version_id == version_id) {
        if let Some(refusal) = check_delete_condition(condition.as_ref(), Some(cur)) {
            return Ok(refusal);
        }
        if locked(tx, cur)? {
            return Ok(CommandResult::Refused(Refusal::ObjectLocked));
        }
        let cur = cur.clone();
        tx.remove(Table::Objects, okey.clone());
        forget(tx, &bucket, &key, cur, &current_owner(&bucket, &key), &mut freed)?;
        promote(tx, &bucket, &key, okey)?;
        let freed = settle(tx, freed)?;
        return Ok(CommandResult::Versioned { version_id, delete_marker: false, freed });
    }
    let entries = history(tx, &bucket, &key)?;
    let wanted = match &version_id {
        Some(id) => Stamp::parse_id(id)
            .and_then(|s| history_key(&bucket, &key, &s))
            .and_then(|k| entries.iter().position(|(hk, _)| *hk == k)),
        None => entries.iter().position(|(_, e)| e.version_id().is_none()),
    };
    let Some(i) = wanted else {
        if condition.is_some() {
            return Ok(CommandResult::NoSuchKey);
        }
        // S3 answers a version that does not exist as deleted.
        return Ok(CommandResult::Versioned { version_id, delete_marker: false, freed });
    };
    let (k, entry) = entries.into_iter().nth(i).expect("position found");
    let target = match &entry {
        VersionEntry::Object(v) => Some(v),
        VersionEntry::Marker(_) => None,
    };
    if let Some(refusal) = check_delete_condition(condition.as_ref(), target) {
        return Ok(refusal);
    }
    if let Some(v) = target {
        if locked(tx, v)? {
            return Ok(CommandResult::Refused(Refusal::ObjectLocked));
        }
    }
    tx.remove(Table::Versions, k);
    let delete_marker = match entry {
        VersionEntry::Object(v) => {
            let owner = history_owner(&bucket, &key, &v);
            forget(tx, &bucket, &key, v, &owner, &mut freed)?;
            false
        }
        VersionEntry::Marker(m) => {
            usage::adjust_marker(tx, &bucket, &key, &m.owner, -1)?;
            true
        }
    };
    // The newest entry of a key without a current object was its current version.
    if current.is_none() && i == 0 {
        promote(tx, &bucket, &key, okey)?;
    }
    let freed = settle(tx, freed)?;
    Ok(CommandResult::Versioned { version_id, delete_marker, freed })
}

/// A delete's `If-Match` against the version it would remove (or hide): the refusal,
/// if it fails. A missing version, or a delete marker, is NoSuchKey.
fn check_delete_condition(condition: Option<&WriteCondition>, target: Option<&ObjectVersion>) -> Option<CommandResult> {
    match (condition?, target) {
        (WriteCondition::IfMatch(_), None) => Some(CommandResult::NoSuchKey),
        (WriteCondition::IfMatch(e), Some(v)) if !objects::etag_matches(e, &v.etag) => {
            Some(CommandResult::PreconditionFailed)
        }
        (WriteCondition::IfNoneMatchAny, _) => Some(CommandResult::PreconditionFailed),
        _ => None,
    }
}

/// After the current version of `bucket/key` is gone: the newest history entry, if it
/// is an object version, becomes current (a newest delete marker is current as it is).
fn promote(tx: &mut Tx, bucket: &str, key: &str, okey: Vec<u8>) -> Result<(), MetaError> {
    if let Some((k, VersionEntry::Object(v))) = history(tx, bucket, key)?.into_iter().next() {
        tx.remove(Table::Versions, k);
        blobs::transfer(tx, &v.data, &history_owner(bucket, key, &v), &current_owner(bucket, key))?;
        tx.write(Table::Objects, okey, &v)?;
    }
    Ok(())
}

/// Changes one object version where it is stored (`version_id` as in [`locate`]).
pub(super) fn update(
    tx: &mut Tx,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    f: impl FnOnce(&mut ObjectVersion),
) -> Result<CommandResult, MetaError> {
    let (Some(_), Some(okey)) = (buckets::get(tx, bucket)?, object_key(bucket, key)) else {
        return Ok(CommandResult::NoSuchBucket);
    };
    let names = |v: Option<&str>| match version_id {
        None => true,
        Some("null") => v.is_none(),
        Some(id) => v == Some(id),
    };
    if let Some(mut c) = objects::current(tx, &okey)?.filter(|c| names(c.version_id.as_deref())) {
        f(&mut c);
        let id = c.version_id.clone();
        tx.write(Table::Objects, okey, &c)?;
        return Ok(CommandResult::Versioned { version_id: id, delete_marker: false, freed: Vec::new() });
    }
    if version_id.is_none() {
        return Ok(CommandResult::NoSuchKey);
    }
    for (k, mut e) in history(tx, bucket, key)? {
        if !names(e.version_id()) {
            continue;
        }
        let VersionEntry::Object(v) = &mut e else {
            return Ok(CommandResult::Refused(Refusal::DeleteMarker));
        };
        f(v);
        let id = v.version_id.clone();
        tx.write(Table::Versions, k, &e)?;
        return Ok(CommandResult::Versioned { version_id: id, delete_marker: false, freed: Vec::new() });
    }
    Ok(CommandResult::Refused(Refusal::NoSuchVersion))
}

/// What a version id names in `bucket/key`.
pub(super) enum Located {
    Bucketless,
    Nothing,
    Marker,
    Object(Box<ObjectVersion>),
}

/// The version `version_id` names: `None` the current one, `"null"` the null version,
/// otherwise a version id.
pub(super) fn locate(tx: &Tx, bucket: &str, key: &str, version_id: Option<&str>) -> Result<Located, MetaError> {
    let (Some(_), Some(okey)) = (buckets::get(tx, bucket)?, object_key(bucket, key)) else {
        return Ok(Located::Bucketless);
    };
    let current = objects::current(tx, &okey)?;
    let want_null = version_id == Some("null");
    let found = match (version_id, current) {
        (None, Some(c)) => return Ok(Located::Object(Box::new(c))),
        (None, None) => return Ok(Located::Nothing),
        (Some(id), Some(c)) if c.version_id.as_deref() == Some(id) || (want_null && c.version_id.is_none()) => {
            return Ok(Located::Object(Box::new(c)))
        }
        (Some(id), _) => history(tx, bucket, key)?.into_iter().map(|(_, e)| e).find(|e| {
            if want_null {
                e.version_id().is_none()
            } else {
                e.version_id() == Some(id)
            }
        }),
    };
    Ok(match found {
        Some(VersionEntry::Object(v)) => Located::Object(Box::new(v)),
        Some(VersionEntry::Marker(_)) => Located::Marker,
        None => Located::Nothing,
    })
}
