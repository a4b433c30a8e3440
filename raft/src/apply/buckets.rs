//! Buckets: creation, deletion (refused while objects or uploads remain), settings.

use crate::error::MetaError;
use crate::keys::bucket_prefix;
use crate::schema::{Attrs, BucketInfo, CommandResult};
use crate::tables::Table;
use crate::tx::Tx;

/// The bucket named `name`, if it exists.
pub(super) fn get(tx: &Tx, name: &str) -> Result<Option<BucketInfo>, MetaError> {
    tx.read(Table::Buckets, name.as_bytes())
}

pub(super) fn create(tx: &mut Tx, bucket: BucketInfo) -> Result<CommandResult, MetaError> {
    if bucket_prefix(&bucket.name).is_none() {
        // Unencodable (> 255 bytes) names can never exist; the S3 layer rejects
        // them long before this.
        return Ok(CommandResult::NoSuchBucket);
    }
    if let Some(existing) = get(tx, &bucket.name)? {
        return Ok(CommandResult::BucketAlreadyExists { owner: existing.owner });
    }
    super::tenants::adopt_bucket(tx, &bucket)?;
    tx.write(Table::Buckets, bucket.name.as_bytes().to_vec(), &bucket)?;
    Ok(CommandResult::Ok)
}

/// CreateBucket with its first settings, each checked as PutBucketSetting checks it.
pub(super) fn create_with(tx: &mut Tx, bucket: BucketInfo, settings: Attrs) -> Result<CommandResult, MetaError> {
    let name = bucket.name.clone();
    if let Some(refusal) = super::settings::check_initial(&settings)? {
        return Ok(CommandResult::Refused(refusal));
    }
    match create(tx, bucket)? {
        CommandResult::Ok => {}
        other => return Ok(other),
    }
    for (setting, value) in settings {
        if let Some(k) = crate::keys::setting_key(&name, &setting) {
            tx.set(Table::BucketSettings, k, Some(value));
        }
    }
    Ok(CommandResult::Ok)
}

pub(super) fn delete(tx: &mut Tx, name: String) -> Result<CommandResult, MetaError> {
    if get(tx, &name)?.is_none() {
        return Ok(CommandResult::NoSuchBucket);
    }
    // Uploads in progress count: no upload may outlive its bucket.
    if let Some(p) = bucket_prefix(&name) {
        if tx.has_prefix(Table::Objects, &p)?
            || tx.has_prefix(Table::Uploads, &p)?
            || tx.has_prefix(Table::Versions, &p)?
        {
            return Ok(CommandResult::BucketNotEmpty);
        }
    }
    super::tenants::release_bucket(tx, &name)?;
    super::settings::drop_all(tx, &name)?;
    super::attrs::drop_bucket(tx, &name)?;
    tx.remove(Table::Usage, name.as_bytes().to_vec());
    crate::class_usage::drop_pool(tx, &crate::schema::Pool::Bucket(name.clone()))?;
    tx.remove(Table::Buckets, name.into_bytes());
    Ok(CommandResult::Ok)
}

/// Changes a setting of an existing bucket.
pub(super) fn update(tx: &mut Tx, name: String, f: impl FnOnce(&mut BucketInfo)) -> Result<CommandResult, MetaError> {
    let Some(mut info) = get(tx, &name)? else {
        return Ok(CommandResult::NoSuchBucket);
    };
    f(&mut info);
    tx.write(Table::Buckets, name.into_bytes(), &info)?;
    Ok(CommandResult::Ok)
}
