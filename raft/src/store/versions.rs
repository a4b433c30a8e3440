//! Reads of versioning state: a bucket's versioning, one version of a key (current or
//! from its history), a key's latest entry (which may be a delete marker), and
//! ListObjectVersions (`crate::version_listing`).

use super::{decode, MetaStore};
use crate::error::MetaError;
use crate::keys::{history_key, history_prefix, setting_key};
use crate::schema::{VersionEntry, VersionListPage, Versioning};
use crate::tables::Table;
use crate::version_listing;
use crate::versions::Stamp;

impl MetaStore {
    /// The bucket's versioning state; `None` while it was never set.
    pub fn bucket_versioning(&self, bucket: &str) -> Result<Option<Versioning>, MetaError> {
        let Some(k) = setting_key(bucket, "versioning") else {
            return Ok(None);
        };
        decode(self.inner().trees.tree(Table::BucketSettings).get(k)?)
    }

    /// The version `version_id` of `bucket/key` (`None`: the null version), current or
    /// not, with whether it is the latest.
    pub fn get_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<(VersionEntry, bool)>, MetaError> {
        let current = self.get_object(bucket, key)?;
        if let Some(c) = current.as_ref().filter(|c| c.version_id.as_deref() == version_id) {
            return Ok(Some((VersionEntry::Object(c.clone()), true)));
        }
        let inner = self.inner();
        let versions = inner.trees.tree(Table::Versions);
        let Some(hp) = history_prefix(bucket, key) else {
            return Ok(None);
        };
        let found = match version_id {
            Some(id) => {
                let Some(k) = Stamp::parse_id(id).and_then(|s| history_key(bucket, key, &s)) else {
                    return Ok(None);
                };
                versions.get(&k)?.map(|v| (k, v))
            }
            None => {
                let mut hit = None;
                for item in versions.scan_prefix(&hp) {
                    let (k, v) = item?;
                    let e: VersionEntry = bincode::deserialize(&v)?;
                    if e.version_id().is_none() {
                        hit = Some((k.to_vec(), v));
                        break;
                    }
                }
                hit
            }
        };
        let Some((k, v)) = found else {
            return Ok(None);
        };
        let entry: VersionEntry = bincode::deserialize(&v)?;
        // Latest only if nothing is current and it is the newest history entry.
        let latest = current.is_none()
            && versions.scan_prefix(&hp).next().transpose()?.is_some_and(|(first, _)| first.as_ref() == k.as_slice());
        Ok(Some((entry, latest)))
    }

    /// The latest version of `bucket/key`: its current object version, else the newest
    /// history entry (then a delete marker), else `None`.
    pub fn latest_entry(&self, bucket: &str, key: &str) -> Result<Option<VersionEntry>, MetaError> {
        if let Some(c) = self.get_object(bucket, key)? {
            return Ok(Some(VersionEntry::Object(c)));
        }
        let Some(hp) = history_prefix(bucket, key) else {
            return Ok(None);
        };
        match self.inner().trees.tree(Table::Versions).scan_prefix(&hp).next() {
            Some(item) => Ok(Some(bincode::deserialize(&item?.1)?)),
            None => Ok(None),
        }
    }

    /// ListObjectVersions: the versions of the keys of `bucket` starting with
    /// `prefix`, in key order and newest first within a key, from after
    /// (`key_marker`, `version_id_marker`); a delimiter rolls keys up into common
    /// prefixes as in [`MetaStore::list_objects`]. At most `max` entries (versions,
    /// markers and common prefixes).
    pub fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        version_id_marker: Option<&str>,
        max: usize,
    ) -> Result<VersionListPage, MetaError> {
        let inner = self.inner();
        let trees = &inner.trees;
        version_listing::list_versions(
            version_listing::Trees { objects: trees.tree(Table::Objects), versions: trees.tree(Table::Versions) },
            bucket,
            prefix,
            delimiter,
            key_marker,
            version_id_marker,
            max,
        )
    }
}
