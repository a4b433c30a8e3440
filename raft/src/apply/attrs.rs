//! Object attributes (`sm_object_attrs`): the named records of one version (tags,
//! retention, legal hold) or of an upload in progress. They are written with their
//! version (PutObjectWith, or a completion moving its upload's), changed one at a time
//! (PutVersionAttr), and go when their version goes for good, in the same commit.

use super::{lock, versions};
use crate::error::MetaError;
use crate::keys::{attrs_prefix, bucket_prefix, AttrSubject};
use crate::schema::{Attrs, CommandResult, Nanos, Refusal, ATTR_RETENTION, ATTR_WRITER};
use crate::tables::Table;
use crate::tx::Tx;

/// Every attribute of one subject.
pub(super) fn of(tx: &Tx, bucket: &str, key: &str, subject: AttrSubject) -> Result<Attrs, MetaError> {
    let Some(p) = attrs_prefix(bucket, key, subject) else {
        return Ok(Attrs::new());
    };
    let mut out = Attrs::new();
    for (k, v) in tx.scan_prefix(Table::ObjectAttrs, &p)? {
        out.insert(String::from_utf8_lossy(&k[p.len()..]).into_owned(), v);
    }
    Ok(out)
}

/// Stores `attrs` for one subject (which had none).
pub(super) fn write_all(tx: &mut Tx, bucket: &str, key: &str, subject: AttrSubject, attrs: Attrs) {
    let Some(p) = attrs_prefix(bucket, key, subject) else {
        return;
    };
    for (name, value) in attrs {
        let mut k = p.clone();
        k.extend_from_slice(name.as_bytes());
        tx.set(Table::ObjectAttrs, k, Some(value));
    }
}

/// Removes every attribute of one subject; returns them.
pub(super) fn drop(tx: &mut Tx, bucket: &str, key: &str, subject: AttrSubject) -> Result<Attrs, MetaError> {
    let found = of(tx, bucket, key, subject)?;
    if let Some(p) = attrs_prefix(bucket, key, subject) {
        for name in found.keys() {
            let mut k = p.clone();
            k.extend_from_slice(name.as_bytes());
            tx.remove(Table::ObjectAttrs, k);
        }
    }
    Ok(found)
}

/// Removes every attribute left in a bucket being deleted (none, when it is empty).
pub(super) fn drop_bucket(tx: &mut Tx, bucket: &str) -> Result<(), MetaError> {
    if let Some(p) = bucket_prefix(bucket) {
        for k in tx.scan_prefix(Table::ObjectAttrs, &p)?.into_keys() {
            tx.remove(Table::ObjectAttrs, k);
        }
    }
    Ok(())
}

/// PutVersionAttr: sets or removes one attribute of one version, lock rules decided.
#[allow(clippy::too_many_arguments)]
pub(super) fn put(
    tx: &mut Tx,
    bucket: String,
    key: String,
    version_id: Option<String>,
    name: String,
    value: Option<Vec<u8>>,
    at: Nanos,
    bypass_governance: bool,
) -> Result<CommandResult, MetaError> {
    let target = match versions::locate(tx, &bucket, &key, version_id.as_deref())? {
        versions::Located::Bucketless => return Ok(CommandResult::NoSuchBucket),
        versions::Located::Nothing if version_id.is_none() => return Ok(CommandResult::NoSuchKey),
        versions::Located::Nothing => return Ok(CommandResult::Refused(Refusal::NoSuchVersion)),
        versions::Located::Marker => return Ok(CommandResult::Refused(Refusal::DeleteMarker)),
        versions::Located::Object(v) => v.version_id,
    };
    let subject = AttrSubject::Version(target.as_deref());
    if name == ATTR_WRITER {
        // The quota pool a version counts in never changes.
        return Ok(CommandResult::Refused(Refusal::InvalidBucketState));
    }
    if lock::is_lock_attr(&name) {
        if lock::config(tx, &bucket)?.is_none() {
            return Ok(CommandResult::Refused(Refusal::LockNotEnabled));
        }
        if name == ATTR_RETENTION {
            let current = of(tx, &bucket, &key, subject)?;
            if !lock::may_set_retention(&current, value.as_deref(), at, bypass_governance)? {
                return Ok(CommandResult::Refused(Refusal::ObjectLocked));
            }
        }
    }
    if let Some(mut k) = attrs_prefix(&bucket, &key, subject) {
        k.extend_from_slice(name.as_bytes());
        tx.set(Table::ObjectAttrs, k, value);
    }
    Ok(CommandResult::Versioned { version_id: target, delete_marker: false, freed: Vec::new() })
}
