//! Reads of bucket settings (`sm_bucket_settings`): the versioning state, which apply
//! decides on, and the settings stored as the protocol sent them.

use super::{decode, MetaStore};
use crate::error::MetaError;
use crate::keys::setting_key;
use crate::schema::Versioning;
use crate::schema::{ObjectLockConfig, SETTING_OBJECT_LOCK, SETTING_VERSIONING};
use crate::tables::Table;

impl MetaStore {
    /// The bucket's versioning state; `None` while it was never set.
    pub fn bucket_versioning(&self, bucket: &str) -> Result<Option<Versioning>, MetaError> {
        let Some(k) = setting_key(bucket, SETTING_VERSIONING) else {
            return Ok(None);
        };
        decode(self.inner().trees.tree(Table::BucketSettings).get(k)?)
    }

    /// Setting `name` of `bucket` as stored by `PutBucketSetting`; `None` when unset.
    pub fn bucket_setting(&self, bucket: &str, name: &str) -> Result<Option<Vec<u8>>, MetaError> {
        let Some(k) = setting_key(bucket, name) else {
            return Ok(None);
        };
        Ok(self.inner().trees.tree(Table::BucketSettings).get(k)?.map(|v| v.to_vec()))
    }

    /// The bucket's object lock configuration; `None`: the bucket has no lock.
    pub fn bucket_object_lock(&self, bucket: &str) -> Result<Option<ObjectLockConfig>, MetaError> {
        let Some(k) = setting_key(bucket, SETTING_OBJECT_LOCK) else {
            return Ok(None);
        };
        decode(self.inner().trees.tree(Table::BucketSettings).get(k)?)
    }
}
