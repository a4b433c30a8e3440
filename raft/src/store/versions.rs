//! Reads of versions: one version of a key (current or
//! from its history), a key's latest entry (which may be a delete marker),
//! ListObjectVersions (`crate::version_listing`), and the walk of every stored version
//! that heal and scrub passes make.

use super::MetaStore;
use crate::error::MetaError;
use crate::keys::{
    bucket_prefix, history_key, history_prefix, object_key, prefix_end, push_escaped, split_history_key,
};
use crate::schema::{ObjectVersion, VersionEntry, VersionListPage};
use crate::tables::Table;
use crate::version_listing;
use crate::versions::Stamp;

impl MetaStore {
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

    /// The object versions, current and noncurrent, of up to `limit` keys in (bucket,
    /// key) order after `after`, in one bucket (and prefix) or all: what heal and scrub
    /// passes walk, so no stored version escapes them. Delete markers hold no data and
    /// are left out; a key whose only entries are markers comes with no versions.
    pub fn scan_keys_with_history(
        &self,
        bucket: Option<&str>,
        prefix: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, String, Vec<ObjectVersion>)>, MetaError> {
        let inner = self.inner();
        let (objects, versions) = (inner.trees.tree(Table::Objects), inner.trees.tree(Table::Versions));
        // Scope and start in each tree's key form.
        let (obj_scope, ver_scope) = match bucket {
            Some(b) => {
                let (Some(o), Some(mut v)) = (object_key(b, prefix), bucket_prefix(b)) else {
                    return Ok(Vec::new());
                };
                push_escaped(&mut v, prefix);
                (o, v)
            }
            None => (Vec::new(), Vec::new()),
        };
        let (obj_start, ver_start) = match after.and_then(|(b, k)| Some((object_key(b, k)?, bucket_prefix(b)?, k))) {
            Some((mut o, mut v, k)) => {
                o.push(0);
                push_escaped(&mut v, k);
                v.extend_from_slice(&[0, 2]);
                (o.max(obj_scope.clone()), v.max(ver_scope.clone()))
            }
            None => (obj_scope.clone(), ver_scope.clone()),
        };
        let range = |tree: &sled::Tree, start: Vec<u8>, scope: &[u8]| match prefix_end(scope) {
            Some(e) if start >= e => None,
            Some(e) => Some(tree.range(start..e)),
            None => Some(tree.range(start..)),
        };
        let mut objs = range(objects, obj_start, &obj_scope).into_iter().flatten().peekable();
        let mut vers = range(versions, ver_start, &ver_scope).into_iter().flatten().peekable();
        // (bucket with its length byte, key) of a key in either tree.
        let obj_id = |k: &[u8]| -> (Vec<u8>, String) {
            let blen = k[0] as usize;
            (k[..1 + blen].to_vec(), String::from_utf8_lossy(&k[1 + blen..]).into_owned())
        };
        let ver_id = |k: &[u8]| -> Result<(Vec<u8>, String), MetaError> {
            let blen = k[0] as usize;
            let (key, _) = split_history_key(&k[1 + blen..])
                .ok_or_else(|| MetaError::Storage("malformed version history key".into()))?;
            Ok((k[..1 + blen].to_vec(), key))
        };
        let mut out = Vec::new();
        while out.len() < limit {
            let next_obj = match objs.peek() {
                Some(Ok((k, _))) => Some(obj_id(k)),
                Some(Err(_)) => return Err(objs.next().expect("peeked").unwrap_err().into()),
                None => None,
            };
            let next_ver = match vers.peek() {
                Some(Ok((k, _))) => Some(ver_id(k)?),
                Some(Err(_)) => return Err(vers.next().expect("peeked").unwrap_err().into()),
                None => None,
            };
            let id = match (next_obj.clone(), next_ver.clone()) {
                (None, None) => break,
                (Some(a), None) | (None, Some(a)) => a,
                (Some(a), Some(b)) => a.min(b),
            };
            let mut found = Vec::new();
            if next_obj.as_ref() == Some(&id) {
                let (_, v) = objs.next().expect("peeked")?;
                found.push(bincode::deserialize(&v)?);
            }
            while let Some(Ok((k, _))) = vers.peek() {
                if ver_id(k)? != id {
                    break;
                }
                let (_, v) = vers.next().expect("peeked")?;
                if let VersionEntry::Object(o) = bincode::deserialize(&v)? {
                    found.push(o);
                }
            }
            let (b, key) = id;
            if bucket.is_none() && !key.starts_with(prefix) {
                continue;
            }
            out.push((String::from_utf8_lossy(&b[1..]).into_owned(), key, found));
        }
        Ok(out)
    }
}
