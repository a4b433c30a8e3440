//! Reads of the applied state: point lookups and ordered scans of the tables, as
//! this node has applied them (callers wanting the latest committed state call
//! [`MetaStore::read_barrier`] first).

use super::{decode, MetaStore};
use crate::error::MetaError;
use crate::keys::{bucket_prefix, object_key, part_key, part_prefix, upload_key, CLUSTER_SERVICE_PREFIX};
use crate::listing;
use crate::schema::{
    AccessKey, BlobOwner, BucketInfo, ClusterLayout, ListPage, MultipartUpload, Nanos, ObjectVersion, PartRef,
    UploadListPage,
};
use crate::tables::Table;
use std::ops::Bound;

impl MetaStore {
    /// The cluster layout (empty until the first node registers).
    pub fn layout(&self) -> Result<ClusterLayout, MetaError> {
        self.inner().trees.layout()
    }

    /// The storage classes and disk pools (`crate::tiers`).
    pub fn tiers(&self) -> Result<crate::tiers::Tiers, MetaError> {
        self.inner().trees.tiers()
    }

    pub fn get_bucket(&self, name: &str) -> Result<Option<BucketInfo>, MetaError> {
        decode(self.inner().trees.tree(Table::Buckets).get(name.as_bytes())?)
    }

    /// Buckets in name order, strictly after `after` if given, at most `limit`.
    pub fn list_buckets(&self, after: Option<&str>, limit: usize) -> Result<Vec<BucketInfo>, MetaError> {
        let start = match after {
            Some(a) => Bound::Excluded(a.as_bytes()),
            None => Bound::Unbounded,
        };
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for item in self.inner().trees.tree(Table::Buckets).range::<&[u8], _>((start, Bound::Unbounded)) {
            let (_, v) = item?;
            out.push(bincode::deserialize(&v)?);
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// One object version or upload part that refers to blob `id` (the first of its
    /// owners), as this node has applied it; `None` when nothing does.
    pub fn blob_owner(&self, id: u128) -> Result<Option<BlobOwner>, MetaError> {
        match self.inner().trees.tree(Table::Blobs).scan_prefix(crate::blobs::blob_key(id)).next() {
            Some(item) => Ok(Some(crate::blobs::owner_of_key(&item?.0)?)),
            None => Ok(None),
        }
    }

    /// Every object version and upload part that refers to blob `id`.
    pub fn blob_owners(&self, id: u128) -> Result<Vec<BlobOwner>, MetaError> {
        let inner = self.inner();
        let tree = inner.trees.tree(Table::Blobs);
        tree.scan_prefix(crate::blobs::blob_key(id)).map(|item| crate::blobs::owner_of_key(&item?.0)).collect()
    }

    /// Objects and bytes of a bucket's current versions, as this node has applied them.
    pub fn bucket_usage(&self, bucket: &str) -> Result<crate::usage::BucketUsage, MetaError> {
        Ok(decode(self.inner().trees.tree(Table::Usage).get(bucket.as_bytes())?)?.unwrap_or_default())
    }

    /// Usage of every bucket that holds or held objects, by name.
    pub fn all_usage(&self) -> Result<Vec<(String, crate::usage::BucketUsage)>, MetaError> {
        let mut out = Vec::new();
        for item in self.inner().trees.tree(Table::Usage).iter() {
            let (k, v) = item?;
            out.push((String::from_utf8_lossy(&k).into_owned(), bincode::deserialize(&v)?));
        }
        Ok(out)
    }

    /// Objects and bytes of the versions counted in quota pool `pool` (a bucket, a key,
    /// a tenant with its subtree), by storage class, in class-name order.
    pub fn class_usage(
        &self,
        pool: &crate::schema::Pool,
    ) -> Result<Vec<(String, crate::class_usage::ClassUsage)>, MetaError> {
        let p = crate::class_usage::prefix(pool);
        let mut out = Vec::new();
        for item in self.inner().trees.tree(Table::ClassUsage).scan_prefix(&p) {
            let (k, v) = item?;
            out.push((String::from_utf8_lossy(&k[p.len()..]).into_owned(), bincode::deserialize(&v)?));
        }
        Ok(out)
    }

    /// The last state a background service stored with `Command::PutServiceState`.
    pub fn service_state(&self, name: &str) -> Result<Option<Vec<u8>>, MetaError> {
        let mut k = CLUSTER_SERVICE_PREFIX.to_vec();
        k.extend_from_slice(name.as_bytes());
        Ok(self.inner().trees.tree(Table::Cluster).get(k)?.map(|v| v.to_vec()))
    }

    /// Up to `limit` objects of every bucket in (bucket, key) order, strictly after
    /// `after`; the background walkers (scrub, heal) page through the store with it.
    /// `bucket` limits the scan to one bucket and `prefix` to its keys with that prefix.
    pub fn scan_objects(
        &self,
        bucket: Option<&str>,
        prefix: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, String, ObjectVersion)>, MetaError> {
        let inner = self.inner();
        let tree = inner.trees.tree(Table::Objects);
        let scope: Vec<u8> = match bucket {
            Some(b) => match object_key(b, prefix) {
                Some(k) => k,
                None => return Ok(Vec::new()),
            },
            None => Vec::new(),
        };
        let start = match after.and_then(|(b, k)| object_key(b, k)) {
            Some(mut k) if k >= scope => {
                k.push(0);
                k
            }
            _ => scope.clone(),
        };
        let end = crate::keys::prefix_end(&scope);
        let range = match end {
            Some(e) if start >= e => return Ok(Vec::new()),
            Some(e) => tree.range(start..e),
            None => tree.range(start..),
        };
        let mut out = Vec::new();
        for item in range.take(limit) {
            let (k, v) = item?;
            let blen = k[0] as usize;
            let b = String::from_utf8_lossy(&k[1..1 + blen]).into_owned();
            let key = String::from_utf8_lossy(&k[1 + blen..]).into_owned();
            if bucket.is_none() && !key.starts_with(prefix) {
                continue;
            }
            out.push((b, key, bincode::deserialize(&v)?));
        }
        Ok(out)
    }

    pub fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectVersion>, MetaError> {
        let Some(k) = object_key(bucket, key) else {
            return Ok(None);
        };
        decode(self.inner().trees.tree(Table::Objects).get(k)?)
    }

    /// S3 listing as an ordered range scan: keys of `bucket` starting with `prefix`,
    /// strictly after `after`, in UTF-8 byte order. With a (non-empty) delimiter, keys
    /// whose rest after the prefix contains it roll up into one common prefix, which
    /// counts once toward `max_keys` and is skipped with one seek. If `after` lies in
    /// a common prefix, the scan resumes past that whole prefix. `next_marker` is the
    /// last key or common prefix returned (set whenever the page is not empty).
    pub fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max_keys: usize,
    ) -> Result<ListPage, MetaError> {
        listing::list_objects(self.inner().trees.tree(Table::Objects), bucket, prefix, delimiter, after, max_keys)
    }

    /// True if the bucket holds at least one object (one seek).
    pub fn bucket_has_objects(&self, bucket: &str) -> Result<bool, MetaError> {
        let Some(p) = bucket_prefix(bucket) else {
            return Ok(false);
        };
        Ok(self.inner().trees.tree(Table::Objects).scan_prefix(p).next().transpose()?.is_some())
    }

    pub fn get_access_key(&self, access_key_id: &str) -> Result<Option<AccessKey>, MetaError> {
        decode(self.inner().trees.tree(Table::Keys).get(access_key_id.as_bytes())?)
    }

    /// All access keys, in id order.
    pub fn list_access_keys(&self) -> Result<Vec<AccessKey>, MetaError> {
        let mut out = Vec::new();
        for item in self.inner().trees.tree(Table::Keys).iter() {
            let (_, v) = item?;
            out.push(bincode::deserialize(&v)?);
        }
        Ok(out)
    }

    /// The upload `upload_id` of `bucket/key`, if it is in progress.
    pub fn get_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Option<MultipartUpload>, MetaError> {
        let Some(k) = upload_key(bucket, key, upload_id) else {
            return Ok(None);
        };
        decode(self.inner().trees.tree(Table::Uploads).get(k)?)
    }

    /// Parts of `upload_id` numbered above `after_part`, ascending, at most `max`;
    /// the flag is true when more parts follow the returned ones.
    pub fn list_parts(&self, upload_id: &str, after_part: u32, max: usize) -> Result<(Vec<PartRef>, bool), MetaError> {
        let mut out = Vec::new();
        let Some(first) = after_part.checked_add(1) else {
            return Ok((out, false));
        };
        let want = upload_id.len() + 5;
        let range = part_key(upload_id, first)..=part_key(upload_id, u32::MAX);
        for item in self.inner().trees.tree(Table::Parts).range(range) {
            let (k, v) = item?;
            // Longer keys belong to an upload id that extends this one with a NUL.
            if k.len() != want {
                continue;
            }
            if out.len() == max {
                return Ok((out, true));
            }
            out.push(bincode::deserialize(&v)?);
        }
        Ok((out, false))
    }

    /// Every part of `upload_id`, ascending by number.
    pub fn all_parts(&self, upload_id: &str) -> Result<Vec<PartRef>, MetaError> {
        let want = upload_id.len() + 5;
        let mut out = Vec::new();
        for item in self.inner().trees.tree(Table::Parts).scan_prefix(part_prefix(upload_id)) {
            let (k, v) = item?;
            if k.len() == want {
                out.push(bincode::deserialize(&v)?);
            }
        }
        Ok(out)
    }

    /// S3 ListMultipartUploads as an ordered range scan: uploads of `bucket` whose key
    /// starts with `prefix`, in (key, upload id) order. With `key_marker` only, keys
    /// strictly after it; with both markers, uploads of `key_marker` with an id
    /// strictly after `upload_id_marker`, then later keys. With a (non-empty)
    /// delimiter, keys whose rest after the prefix contains it roll up into one common
    /// prefix (counted once toward `max_uploads`, skipped with one seek); a key marker
    /// inside a common prefix resumes past that prefix. The next markers name the last
    /// upload returned (or the last common prefix, with no upload id marker); they are
    /// set whenever the page is not empty.
    pub fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
        max_uploads: usize,
    ) -> Result<UploadListPage, MetaError> {
        listing::list_uploads(
            self.inner().trees.tree(Table::Uploads),
            bucket,
            prefix,
            delimiter,
            key_marker,
            upload_id_marker,
            max_uploads,
        )
    }

    /// Uploads initiated before `older_than`, at most `limit`, in (bucket, key,
    /// upload id) order. Scans every upload: meant for the background expiry task.
    pub fn expired_uploads(&self, older_than: Nanos, limit: usize) -> Result<Vec<MultipartUpload>, MetaError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for item in self.inner().trees.tree(Table::Uploads).iter() {
            let (_, v) = item?;
            let u: MultipartUpload = bincode::deserialize(&v)?;
            if u.initiated < older_than {
                out.push(u);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }
}
