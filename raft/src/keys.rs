//! Layout of the metadata in sled.
//!
//! One `sled::Db` (at `<dir>/sled`) holds every tree; the Raft log's entries are in
//! their own files (`<dir>/raft-log`, see [`crate::log_files`]):
//!
//! | tree          | key                                                              | value                      |
//! |---------------|------------------------------------------------------------------|----------------------------|
//! | `raft_log`    | (format 2 only, emptied on open: the log is in [`crate::log_files`]) | —                      |
//! | `raft_meta`   | `vote`, `committed`, `last_purged`, `format`                     | bincode / `u32` BE         |
//! | `sm_buckets`  | bucket name (UTF-8 bytes)                                        | bincode(`BucketInfo`)      |
//! | `sm_objects`  | `[bucket_len: u8][bucket][object key]`                           | bincode(`ObjectVersion`)   |
//! | `sm_versions` | `[bucket_len: u8][bucket][escaped object key][0x00 0x01][!stamp]`  | bincode(`VersionEntry`)    |
//! | `sm_keys`     | access key id                                                    | bincode(`AccessKey`)       |
//! | `sm_uploads`  | `[bucket_len: u8][bucket][escaped object key][0x00][upload_id]`  | bincode(`MultipartUpload`) |
//! | `sm_parts`    | `[upload_id][0x00][part number: u32 BE]`                         | bincode(`PartRef`)         |
//! | `sm_cluster`  | `layout`, `tiers`, `svc/<service name>`                          | bincode / service's own    |
//! | `sm_blob_refs` | `[blob id: u128 BE][bincode(BlobOwner)]`, one per owner          | empty                      |
//! | `sm_usage`    | bucket name                                                      | bincode(`BucketUsage`)     |
//! | `sm_class_usage` | `<pool key>\0<storage class>`                        | bincode(`ClassUsage`) (see [`crate::class_usage`]) |
//! | `sm_bucket_settings` | `[bucket_len: u8][bucket][setting name]`                  | the setting's record       |
//! | `sm_object_attrs` | `[bucket_len: u8][bucket][escaped object key][0x00 0x02][subject][0x00][name]` | the attribute's record |
//! | `sm_tenancy`  | `t<tenant id>`; `c<parent id>\0<name>`; `k<access key id>`; `K<tenant id>\0<key id>`; `B<tenant id>\0<bucket>` | bincode(`Tenant`); child id; bincode(`KeyTenancy`); empty; empty |
//! | `sm_pools`    | `b<bucket>`, `k<access key id>`, `t<tenant id>`                  | bincode(`PoolUsage`)       |
//! | `sm_usage_history` | `h<tenant id>\0[slot: u64 BE]`, `d<tenant id>\0[day: u64 BE]`; `~last` | bincode(`PoolUsage`); bincode(`u64`) |
//! | `sm_assets`   | `a<asset id>`; `v<asset id>\0[number: u32 BE]`; `i<tenant id>\0<idempotency key>` | bincode(`Asset`); bincode(`AssetVersion`); asset id |
//! | `sm_asset_index` | `T`, `M`, `P`, `S`, `G` entries ending `[created: u64 BE][asset id]`; `s<tenant id>\0[media type]` (see [`crate::assets`]) | empty; bincode(`AssetStats`) |
//! | `sm_asset_events` | `<tenant id>\0[index: u64 BE][command: u32 BE]` | bincode(`AssetEvent`) |
//! | `sm_annotations` | `a<asset>\0[version][id]`, `h<id>\0[revision]`, `c<asset>\0[version]<client id>`, `i<id>` (see [`crate::annotations`]) | bincode(`Annotation`); bincode(`Annotation`); id; bincode(`VideoRef`) |
//! | `sm_kms_keys` | key id | bincode(`KmsKey`) (see [`crate::kms`]) |
//! | `sm_admin_audit` | `[at: i64 BE, sign flipped][n: u32 BE]` | bincode(`AdminEvent`) (see [`crate::admin_audit`]) |
//! | `sm_notify` | `0<target>`; `[len: u8]<target>[seq: u64 BE]` | bincode(`QueueState`); bincode(`QueuedEvent`) (see [`crate::notify`]) |
//! | `sm_annotation_index` | `f`, `u`, `s`, `t` entries (see [`crate::annotations`]) | empty |
//! | `sm_meta`     | `last_applied`, `membership`, `installing`, `blobs_indexed`      | bincode                    |
//!
//! `sm_tenancy` holds tenants and what belongs to them, under one-letter prefixes: the
//! tenant records by id; a child index per parent in name order (top-level tenants
//! under the empty parent id), so listing a tenant's children is one range scan and a
//! sibling's name is one lookup; each key's tenancy; and the keys and buckets of each
//! tenant (a tenant holding any cannot be deleted). Tenant ids are `[a-z0-9-]`, bucket
//! names and key ids have no `0x00`, so the `0x00` after a tenant id ends it.
//!
//! `sm_pools` (derived, see [`crate::quota`]) holds what each quota pool counts.
//!
//! `sm_usage_history` holds each tenant's usage samples, hourly (`h`) and daily (`d`),
//! oldest first under one prefix per tenant and kind, so a tenant's history is one
//! range scan; `~last` is the last hour sampled.
//!
//! `sm_objects` holds the current version of each key. Because a bucket's keys all
//! share the prefix `[bucket_len][bucket]` and sled orders keys bytewise, the keys of a
//! bucket are contiguous and in UTF-8 byte order, so a listing is one ordered range scan
//! (and skipping a common prefix is one seek). The length byte keeps bucket `a` apart
//! from bucket `ab`: `[1]a...` and `[2]ab...` never interleave.
//!
//! `sm_versions` holds the history of versioned buckets: every noncurrent version and
//! every delete marker (a current marker too: `sm_objects` holds only object versions,
//! so listings never meet markers or history). `stamp` is 13 bytes, the log position
//! that made the entry (index u64 BE, command u32 BE, sub u8), stored inverted so a
//! key's entries scan newest first. The key is escaped as in `sm_uploads` (`0x00` as
//! `0x00 0xff`) and followed by `0x00 0x01`, which sorts before any escaped key that
//! extends it (`0x00 0xff`) and after the key itself, so (key, newest first) is byte
//! order. A version's id is its stamp in hex (see [`crate::versions`]); the null
//! version, which has no id, is stamped when it enters the history.
//!
//! `sm_bucket_settings` holds one record per bucket setting (`versioning`, and the
//! settings to come: object lock, tagging, public access block, ownership), so a new
//! setting is a new name, not a change to `BucketInfo`'s shape.
//!
//! `sm_object_attrs` holds the named attributes of object versions (tags, retention,
//! legal hold: [`crate::schema::Attrs`]), one record per attribute, and those of
//! uploads in progress, which their completion moves onto the version made. The
//! subject is `v` followed by the version id (`null` for the null version) or `u`
//! followed by the upload id; neither contains `0x00`, so the `0x00` after it ends it.
//! A version's attributes are one short range scan, and they go when the version goes.
//!
//! `sm_uploads` holds the multipart uploads in progress, in (bucket, key, upload id)
//! order, so listing the uploads of a bucket is one ordered range scan and the uploads
//! of one key come out in upload-id order (the S3 layer makes ids that sort by
//! creation time). The `0x00` separator must sort before every byte of a key that
//! extends the key, but U+0000 is valid UTF-8, so a `0x00` inside the object key is
//! escaped as `0x00 0xff` (`0xff` never occurs in UTF-8, so it can never start an
//! upload id). Keys without NUL are stored as is; with the escape, byte order of
//! the sled key is exactly (key, upload id) order for every key.
//!
//! `sm_parts` holds the parts of the uploads in progress: the parts of one upload are
//! contiguous and in part-number order. A reader of upload `u` only accepts keys of
//! length `len(u) + 5`, so an id that contains `0x00` cannot capture another's parts.
//! A bucket with uploads in progress counts as not empty (DeleteBucket refuses it),
//! so no upload outlives its bucket.
//!
//! Raft log entries are durable before they are acknowledged; sled (the `sm_*` trees) is
//! not flushed per apply, only before the log behind it is purged: `last_applied` is written in the same atomic sled transaction as
//! the effects of the entries it covers, so after a crash openraft re-applies from it.

use crate::versions::{Stamp, STAMP_LEN};

/// Tree names.
pub(crate) const TREE_LOG: &str = "raft_log";
pub(crate) const TREE_RAFT_META: &str = "raft_meta";
pub(crate) const TREE_BUCKETS: &str = "sm_buckets";
pub(crate) const TREE_OBJECTS: &str = "sm_objects";
pub(crate) const TREE_VERSIONS: &str = "sm_versions";
pub(crate) const TREE_KEYS: &str = "sm_keys";
pub(crate) const TREE_SM_META: &str = "sm_meta";
pub(crate) const TREE_UPLOADS: &str = "sm_uploads";
pub(crate) const TREE_PARTS: &str = "sm_parts";
pub(crate) const TREE_CLUSTER: &str = "sm_cluster";
/// (`sm_blobs`, the single-owner index of earlier stores, is never reused.)
pub(crate) const TREE_BLOBS: &str = "sm_blob_refs";
pub(crate) const TREE_USAGE: &str = "sm_usage";
pub(crate) const TREE_BUCKET_SETTINGS: &str = "sm_bucket_settings";
pub(crate) const TREE_OBJECT_ATTRS: &str = "sm_object_attrs";
pub(crate) const TREE_TENANCY: &str = "sm_tenancy";
pub(crate) const TREE_POOLS: &str = "sm_pools";
pub(crate) const TREE_USAGE_HISTORY: &str = "sm_usage_history";
pub(crate) const TREE_ASSETS: &str = "sm_assets";
pub(crate) const TREE_ASSET_INDEX: &str = "sm_asset_index";
pub(crate) const TREE_ASSET_EVENTS: &str = "sm_asset_events";
pub(crate) const TREE_ANNOTATIONS: &str = "sm_annotations";
pub(crate) const TREE_ANNOTATION_INDEX: &str = "sm_annotation_index";
pub(crate) const TREE_KMS_KEYS: &str = "sm_kms_keys";
pub(crate) const TREE_ADMIN_AUDIT: &str = "sm_admin_audit";
pub(crate) const TREE_NOTIFY: &str = "sm_notify";
pub(crate) const TREE_CLASS_USAGE: &str = "sm_class_usage";
/// `sm_usage_history` key of the last hour sampled.
pub(crate) const HISTORY_LAST: &[u8] = b"~last";
/// `sm_usage_history` sample kinds.
pub(crate) const HISTORY_HOURLY: u8 = b'h';
pub(crate) const HISTORY_DAILY: u8 = b'd';
/// `sm_cluster` key of the [`crate::schema::ClusterLayout`].
pub(crate) const CLUSTER_LAYOUT: &[u8] = b"layout";
/// `sm_cluster` key of the [`crate::tiers::Tiers`] (storage classes, disk pools).
pub(crate) const CLUSTER_TIERS: &[u8] = b"tiers";
/// `sm_cluster` key prefix of background service states.
pub(crate) const CLUSTER_SERVICE_PREFIX: &[u8] = b"svc/";

/// `raft_meta` keys.
pub(crate) const META_VOTE: &[u8] = b"vote";
pub(crate) const META_COMMITTED: &[u8] = b"committed";
pub(crate) const META_LAST_PURGED: &[u8] = b"last_purged";

/// `sm_meta` keys.
pub(crate) const SM_LAST_APPLIED: &[u8] = b"last_applied";
pub(crate) const SM_MEMBERSHIP: &[u8] = b"membership";
/// Present while a snapshot is being loaded into the trees; on open, a store that
/// finds it reloads the current snapshot file.
pub(crate) const SM_INSTALLING: &[u8] = b"installing";
/// Present once `sm_blob_refs` matches the objects, versions and parts trees (see
/// [`crate::blobs`]). (`blobs_indexed`, the marker of the old `sm_blobs`, is never reused.)
pub(crate) const SM_BLOBS_INDEXED: &[u8] = b"blob_refs_indexed";
/// Present once `sm_usage` matches the objects tree (see [`crate::usage`]).
/// (`usage_indexed` marked the record without delete markers; it is never reused.)
pub(crate) const SM_USAGE_INDEXED: &[u8] = b"usage_markers_indexed";
/// Present once `sm_class_usage` matches the objects tree (see [`crate::class_usage`]).
pub(crate) const SM_CLASS_USAGE_INDEXED: &[u8] = b"class_usage_indexed";
/// Present once `sm_pools` matches the data (see [`crate::quota`]).
pub(crate) const SM_POOLS_INDEXED: &[u8] = b"pools_indexed";
/// `sm_meta` marker: `sm_annotation_index` matches `sm_annotations`.
pub(crate) const SM_ANNOTATIONS_INDEXED: &[u8] = b"annotations_indexed";
/// `sm_meta` marker: `sm_asset_index` matches `sm_assets`.
pub(crate) const SM_ASSETS_INDEXED: &[u8] = b"assets_indexed";

/// The key prefix shared by all objects of `bucket`: `[len][bucket]`. `None` when
/// the name is longer than 255 bytes (no such bucket can exist).
pub(crate) fn bucket_prefix(bucket: &str) -> Option<Vec<u8>> {
    let len = u8::try_from(bucket.len()).ok()?;
    let mut k = Vec::with_capacity(1 + bucket.len() + 64);
    k.push(len);
    k.extend_from_slice(bucket.as_bytes());
    Some(k)
}

/// `sm_objects` key of `bucket/key`.
pub(crate) fn object_key(bucket: &str, key: &str) -> Option<Vec<u8>> {
    let mut k = bucket_prefix(bucket)?;
    k.extend_from_slice(key.as_bytes());
    Some(k)
}

/// `sm_versions` prefix of every history entry of `bucket/key`.
pub(crate) fn history_prefix(bucket: &str, key: &str) -> Option<Vec<u8>> {
    let mut k = bucket_prefix(bucket)?;
    push_escaped(&mut k, key);
    k.extend_from_slice(&[0, 1]);
    Some(k)
}

/// `sm_versions` key of the history entry of `bucket/key` stamped `stamp`.
pub(crate) fn history_key(bucket: &str, key: &str, stamp: &Stamp) -> Option<Vec<u8>> {
    let mut k = history_prefix(bucket, key)?;
    k.extend_from_slice(&stamp.inverted());
    Some(k)
}

/// Splits the part after `[len][bucket]` of an `sm_versions` key into the object key
/// and the stamp.
pub(crate) fn split_history_key(rest: &[u8]) -> Option<(String, Stamp)> {
    let n = rest.len().checked_sub(STAMP_LEN + 2)?;
    if rest[n..n + 2] != [0, 1] {
        return None;
    }
    let stamp = Stamp::from_inverted(&rest[n + 2..])?;
    let mut key = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        key.push(rest[i]);
        i += if rest[i] == 0 { 2 } else { 1 };
    }
    Some((String::from_utf8(key).ok()?, stamp))
}

/// `sm_bucket_settings` key of setting `name` of `bucket`.
pub(crate) fn setting_key(bucket: &str, name: &str) -> Option<Vec<u8>> {
    let mut k = bucket_prefix(bucket)?;
    k.extend_from_slice(name.as_bytes());
    Some(k)
}

/// Whose attributes an `sm_object_attrs` record holds.
#[derive(Clone, Copy, Debug)]
pub(crate) enum AttrSubject<'a> {
    /// A version (`None`: the null version).
    Version(Option<&'a str>),
    /// An upload in progress.
    Upload(&'a str),
}

/// `sm_object_attrs` prefix of every attribute of `bucket/key` (all its subjects).
pub(crate) fn attrs_key_prefix(bucket: &str, key: &str) -> Option<Vec<u8>> {
    let mut k = bucket_prefix(bucket)?;
    push_escaped(&mut k, key);
    k.extend_from_slice(&[0, 2]);
    Some(k)
}

/// `sm_object_attrs` prefix of every attribute of one subject of `bucket/key`.
pub(crate) fn attrs_prefix(bucket: &str, key: &str, subject: AttrSubject) -> Option<Vec<u8>> {
    let mut k = attrs_key_prefix(bucket, key)?;
    match subject {
        AttrSubject::Version(id) => {
            k.push(b'v');
            k.extend_from_slice(id.unwrap_or("null").as_bytes());
        }
        AttrSubject::Upload(id) => {
            k.push(b'u');
            k.extend_from_slice(id.as_bytes());
        }
    }
    k.push(0);
    Some(k)
}

/// `sm_tenancy` prefix of every tenant record ([`tenant_key`]).
pub(crate) const TENANT_RECORDS: &[u8] = b"t";

/// `sm_tenancy` key of tenant `id`.
pub(crate) fn tenant_key(id: &str) -> Vec<u8> {
    [TENANT_RECORDS, id.as_bytes()].concat()
}

/// The tenant id in a [`tenant_key`].
pub(crate) fn tenant_of_key(k: &[u8]) -> Option<&str> {
    std::str::from_utf8(k.strip_prefix(TENANT_RECORDS)?).ok()
}

/// `sm_tenancy` prefix of the child index of `parent` (`None`: the top level).
pub(crate) fn children_prefix(parent: Option<&str>) -> Vec<u8> {
    [b"c", parent.unwrap_or("").as_bytes(), b"\0"].concat()
}

/// `sm_tenancy` key of the child named `name` of `parent`.
pub(crate) fn child_key(parent: Option<&str>, name: &str) -> Vec<u8> {
    [children_prefix(parent).as_slice(), name.as_bytes()].concat()
}

/// `sm_tenancy` key of the tenancy of access key `id`.
pub(crate) fn key_tenancy_key(id: &str) -> Vec<u8> {
    [b"k", id.as_bytes()].concat()
}

/// Member kinds of a tenant in `sm_tenancy`.
pub const MEMBER_KEYS: u8 = b'K';
pub const MEMBER_BUCKETS: u8 = b'B';

/// `sm_tenancy` prefix of the members ([`MEMBER_KEYS`], [`MEMBER_BUCKETS`]) of `tenant`.
pub(crate) fn members_prefix(kind: u8, tenant: &str) -> Vec<u8> {
    [&[kind][..], tenant.as_bytes(), b"\0"].concat()
}

/// `sm_tenancy` key of member `name` of `tenant`.
pub(crate) fn member_key(kind: u8, tenant: &str, name: &str) -> Vec<u8> {
    [members_prefix(kind, tenant).as_slice(), name.as_bytes()].concat()
}

/// `sm_pools` key of a pool.
pub(crate) fn pool_key(pool: &crate::schema::Pool) -> Vec<u8> {
    use crate::schema::Pool;
    let (tag, id) = match pool {
        Pool::Bucket(b) => (b'b', b),
        Pool::Key(k) => (b'k', k),
        Pool::Tenant(t) => (b't', t),
    };
    [&[tag][..], id.as_bytes()].concat()
}

/// `sm_usage_history` prefix of `tenant`'s samples of `kind` ([`HISTORY_HOURLY`],
/// [`HISTORY_DAILY`]).
pub(crate) fn sample_prefix(kind: u8, tenant: &str) -> Vec<u8> {
    [&[kind][..], tenant.as_bytes(), b"\0"].concat()
}

/// `sm_usage_history` key of `tenant`'s sample of `kind` at `slot`.
pub(crate) fn sample_key(kind: u8, tenant: &str, slot: u64) -> Vec<u8> {
    [sample_prefix(kind, tenant).as_slice(), &slot.to_be_bytes()].concat()
}

/// Appends `key` to `out`, escaping `0x00` as `0x00 0xff` (see the module docs).
pub(crate) fn push_escaped(out: &mut Vec<u8>, key: &str) {
    for &b in key.as_bytes() {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
}

/// `sm_uploads` prefix of every upload of `bucket/key`: `[len][bucket][escaped key][0x00]`.
pub(crate) fn upload_key_prefix(bucket: &str, key: &str) -> Option<Vec<u8>> {
    let mut k = bucket_prefix(bucket)?;
    push_escaped(&mut k, key);
    k.push(0);
    Some(k)
}

/// `sm_uploads` key of one upload.
pub(crate) fn upload_key(bucket: &str, key: &str, upload_id: &str) -> Option<Vec<u8>> {
    let mut k = upload_key_prefix(bucket, key)?;
    k.extend_from_slice(upload_id.as_bytes());
    Some(k)
}

/// Splits the part after `[len][bucket]` of an `sm_uploads` key into the object key
/// and the upload id.
pub(crate) fn split_upload_key(rest: &[u8]) -> Option<(String, String)> {
    let mut key = Vec::with_capacity(rest.len());
    let mut i = 0;
    while i < rest.len() {
        let b = rest[i];
        if b == 0 {
            if rest.get(i + 1) == Some(&0xff) {
                key.push(0);
                i += 2;
                continue;
            }
            let id = std::str::from_utf8(&rest[i + 1..]).ok()?;
            return Some((String::from_utf8(key).ok()?, id.to_string()));
        }
        key.push(b);
        i += 1;
    }
    None
}

/// `sm_parts` prefix of every part of `upload_id`: `[upload_id][0x00]`.
pub(crate) fn part_prefix(upload_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(upload_id.len() + 5);
    k.extend_from_slice(upload_id.as_bytes());
    k.push(0);
    k
}

/// `sm_parts` key of one part.
pub(crate) fn part_key(upload_id: &str, number: u32) -> Vec<u8> {
    let mut k = part_prefix(upload_id);
    k.extend_from_slice(&number.to_be_bytes());
    k
}

/// The smallest byte string greater than every string that starts with `prefix`,
/// or `None` if there is none (empty prefix or all `0xff`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_works() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn bucket_length_prefix_separates_buckets() {
        let a = object_key("a", "bz").unwrap();
        let ab = object_key("ab", "").unwrap();
        let a_end = prefix_end(&bucket_prefix("a").unwrap()).unwrap();
        assert!(a < a_end);
        assert!(ab >= a_end);
        assert!(bucket_prefix(&"x".repeat(256)).is_none());
    }

    #[test]
    fn upload_keys_sort_by_key_then_id() {
        let keys = ["a", "a\0", "a\0\0b", "a\0b", "a\u{1}", "a/", "ab", "b"];
        let mut encoded = Vec::new();
        for k in keys {
            for id in ["", "1", "2", "\u{10ffff}"] {
                let e = upload_key("bkt", k, id).unwrap();
                let rest = &e[bucket_prefix("bkt").unwrap().len()..];
                assert_eq!(split_upload_key(rest), Some((k.to_string(), id.to_string())));
                encoded.push(e);
            }
        }
        let mut sorted = encoded.clone();
        sorted.sort();
        assert_eq!(sorted, encoded);
        // Every upload of "a" sorts before the first key that extends "a".
        assert!(upload_key("bkt", "a", "\u{10ffff}").unwrap() < upload_key_prefix("bkt", "a\0").unwrap());
        assert!(part_key("u", u32::MAX) < part_prefix("u\u{1}"));
        assert!(part_key("u", 1) < part_key("u", 256));
    }

    #[test]
    fn history_sorts_by_key_then_newest_first() {
        let keys = ["a", "a\0", "a\0\u{1}", "a\u{1}", "a/", "ab", "b"];
        let stamps = [(300, 0, 1), (7, 1, 0), (7, 0, 1), (0, 0, 0)].map(|(index, seq, sub)| Stamp { index, seq, sub });
        let mut encoded = Vec::new();
        for k in keys {
            for s in &stamps {
                let e = history_key("bkt", k, s).unwrap();
                let rest = &e[bucket_prefix("bkt").unwrap().len()..];
                assert_eq!(split_history_key(rest), Some((k.to_string(), *s)));
                encoded.push(e);
            }
        }
        let mut sorted = encoded.clone();
        sorted.sort();
        assert_eq!(sorted, encoded, "(key, newest first) is byte order");
        let a = history_prefix("bkt", "a").unwrap();
        assert!(encoded.iter().filter(|e| e.starts_with(&a)).count() == stamps.len(), "a prefix holds one key");
    }
}
