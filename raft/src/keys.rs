//! Layout of the metadata in sled.
//!
//! One `sled::Db` (at `<dir>/sled`) holds every tree:
//!
//! | tree          | key                                                              | value                      |
//! |---------------|------------------------------------------------------------------|----------------------------|
//! | `raft_log`    | log index, `u64` big-endian                                      | bincode(`Entry`)           |
//! | `raft_meta`   | `vote`, `committed`, `last_purged`                               | bincode                    |
//! | `sm_buckets`  | bucket name (UTF-8 bytes)                                        | bincode(`BucketInfo`)      |
//! | `sm_objects`  | `[bucket_len: u8][bucket][object key]`                           | bincode(`ObjectVersion`)   |
//! | `sm_versions` | `[bucket_len: u8][bucket][object key][0x00][!version_ts: u64 BE]`| reserved for S3 versioning |
//! | `sm_keys`     | access key id                                                    | bincode(`AccessKey`)       |
//! | `sm_meta`     | `last_applied`, `membership`, `installing`                       | bincode                    |
//!
//! `sm_objects` holds the current version of each key. Because a bucket's keys all
//! share the prefix `[bucket_len][bucket]` and sled orders keys bytewise, the keys of a
//! bucket are contiguous and in UTF-8 byte order, so a listing is one ordered range scan
//! (and skipping a common prefix is one seek). The length byte keeps bucket `a` apart
//! from bucket `ab`: `[1]a...` and `[2]ab...` never interleave.
//!
//! `sm_versions` (created, not yet written) will hold every version of a key, newest
//! first: the inverted big-endian timestamp sorts newer versions before older ones and
//! the `0x00` separator (never part of a UTF-8 key) keeps one key's versions apart from
//! keys that extend it.
//!
//! Raft log entries are durable before they are acknowledged; the `sm_*` trees are not
//! flushed per apply: `last_applied` is written in the same atomic sled transaction as
//! the effects of the entries it covers, so after a crash openraft re-applies from it.

/// Tree names.
pub(crate) const TREE_LOG: &str = "raft_log";
pub(crate) const TREE_RAFT_META: &str = "raft_meta";
pub(crate) const TREE_BUCKETS: &str = "sm_buckets";
pub(crate) const TREE_OBJECTS: &str = "sm_objects";
pub(crate) const TREE_VERSIONS: &str = "sm_versions";
pub(crate) const TREE_KEYS: &str = "sm_keys";
pub(crate) const TREE_SM_META: &str = "sm_meta";

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

/// `sm_versions` key of one version of `bucket/key` (reserved; unused so far).
#[allow(dead_code)]
pub(crate) fn version_key(bucket: &str, key: &str, version_ts: u64) -> Option<Vec<u8>> {
    let mut k = object_key(bucket, key)?;
    k.push(0);
    k.extend_from_slice(&(!version_ts).to_be_bytes());
    Some(k)
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

pub(crate) fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
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
    fn versions_sort_newest_first() {
        let old = version_key("b", "k", 10).unwrap();
        let new = version_key("b", "k", 20).unwrap();
        assert!(new < old);
        assert!(old < object_key("b", "k\u{1}").unwrap());
    }
}
