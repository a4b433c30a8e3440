//! Bucket settings: one record per (bucket, setting name) in `sm_bucket_settings`, so a
//! new bucket setting (versioning, tags, and those to come: object lock, public
//! access block, ownership, lifecycle, CORS) is a new name, not a change to
//! `BucketInfo`. The records of the settings apply decides on (versioning) are typed
//! where they are used; the others are the protocol's bytes, stored as sent.

use super::{buckets, versions};
use crate::error::MetaError;
use crate::keys::{bucket_prefix, setting_key};
use crate::schema::{
    Attrs, CommandResult, Refusal, Versioning, SETTING_OBJECT_LOCK, SETTING_TENANT, SETTING_VERSIONING,
};
use crate::tables::Table;
use crate::tx::Tx;

/// Stores (`Some`) or removes (`None`) setting `name` of an existing bucket.
pub(super) fn put(
    tx: &mut Tx,
    bucket: String,
    name: String,
    value: Option<Vec<u8>>,
) -> Result<CommandResult, MetaError> {
    let (Some(_), Some(k)) = (buckets::get(tx, &bucket)?, setting_key(&bucket, &name)) else {
        return Ok(CommandResult::NoSuchBucket);
    };
    if name == SETTING_TENANT {
        // Apply gives a bucket its tenant at creation; nothing changes it.
        return Ok(CommandResult::Refused(Refusal::InvalidBucketState));
    }
    if name == SETTING_OBJECT_LOCK {
        // Lock needs versioning on, and once on it stays (its default may change).
        if value.is_none() || versions::state(tx, &bucket)? != Some(Versioning::Enabled) {
            return Ok(CommandResult::Refused(Refusal::InvalidBucketState));
        }
    }
    tx.set(Table::BucketSettings, k, value);
    Ok(CommandResult::Ok)
}

/// The first settings of a new bucket: object lock only with versioning Enabled.
pub(super) fn check_initial(settings: &Attrs) -> Result<Option<Refusal>, MetaError> {
    if settings.contains_key(SETTING_TENANT) {
        return Ok(Some(Refusal::InvalidBucketState));
    }
    if settings.contains_key(SETTING_OBJECT_LOCK) {
        let versioning: Option<Versioning> =
            settings.get(SETTING_VERSIONING).map(|v| bincode::deserialize(v)).transpose()?;
        if versioning != Some(Versioning::Enabled) {
            return Ok(Some(Refusal::InvalidBucketState));
        }
    }
    Ok(None)
}

/// Removes every setting of a bucket being deleted.
pub(super) fn drop_all(tx: &mut Tx, bucket: &str) -> Result<(), MetaError> {
    if let Some(p) = bucket_prefix(bucket) {
        for k in tx.scan_prefix(Table::BucketSettings, &p)?.into_keys() {
            tx.remove(Table::BucketSettings, k);
        }
    }
    Ok(())
}
