//! The metadata schema: every record the state machine stores and every command
//! that changes it. This is the contract between the S3 layer and the Raft layer;
//! records are serialized with bincode, so fields are only ever appended.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Nanoseconds since the Unix epoch.
pub type Nanos = i64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketInfo {
    pub name: String,
    /// Access key id of the owner.
    pub owner: String,
    pub created: Nanos,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_key: String,
    pub name: String,
    pub is_root: bool,
    pub created: Nanos,
}

/// Where the bytes of one erasure-coded blob live. The shard files are named by
/// `id`, never by the object key, so no key can reach a path on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRef {
    pub id: u128,
    pub data_shards: u8,
    pub parity_shards: u8,
    /// Bytes of object data per shard per stripe.
    pub block_size: u32,
    /// Disk index for shard i (data shards first, then parity).
    pub disks: Vec<u16>,
    pub layout_version: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectData {
    /// Small objects live in the metadata record itself (replicated by Raft).
    Inline(Vec<u8>),
    Shards(ShardRef),
}

/// One version of one object. Unversioned buckets hold exactly one version per key,
/// with `version_id == None` (S3's "null" version).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectVersion {
    pub version_id: Option<String>,
    pub size: u64,
    /// Hex MD5 (or MD5-of-MD5s followed by `-N`), without quotes.
    pub etag: String,
    pub last_modified: Nanos,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    /// As sent by the client (an HTTP date).
    pub expires: Option<String>,
    /// `x-amz-meta-*` without the prefix, lower-cased names.
    pub user_meta: BTreeMap<String, String>,
    /// Algorithm name (`CRC32`, `CRC32C`, `SHA1`, `SHA256`) to base64 value.
    pub checksums: BTreeMap<String, String>,
    pub owner: String,
    pub data: ObjectData,
}

/// A precondition on a write, decided inside the state machine's apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteCondition {
    /// `If-None-Match: *`: the key must not exist.
    IfNoneMatchAny,
    /// `If-Match: "etag"` (or `*`, which matches any existing object).
    IfMatch(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    CreateBucket {
        bucket: BucketInfo,
    },
    DeleteBucket {
        name: String,
    },
    /// Makes `version` the current version of `bucket/key`.
    PutObject {
        bucket: String,
        key: String,
        version: ObjectVersion,
        condition: Option<WriteCondition>,
    },
    DeleteObject {
        bucket: String,
        key: String,
    },
    PutAccessKey {
        key: AccessKey,
    },
}

/// What a command did. Refusals are answers, not Raft errors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResult {
    Ok,
    /// The object version that the command replaced or removed; its shards are
    /// garbage once this result is seen.
    Replaced(Option<ObjectVersion>),
    NoSuchBucket,
    BucketAlreadyExists {
        owner: String,
    },
    BucketNotEmpty,
    PreconditionFailed,
    /// `If-Match` on a key that does not exist (S3 answers 404 NoSuchKey).
    NoSuchKey,
}

/// One page of a listing, produced by an ordered range scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<(String, ObjectVersion)>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The last key or common prefix returned; the marker for the next page.
    pub next_marker: Option<String>,
}
