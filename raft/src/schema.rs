//! The metadata schema: every record the state machine stores and every command
//! that changes it. This is the contract between the S3 layer and the Raft layer.
//! Records are serialized with bincode, which has no optional fields: changing a
//! record's fields changes the metadata format ([`crate::format`]), and a store of an
//! older format refuses to open rather than misread it. Commands are only appended.

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
    pub acl: CannedAcl,
    /// The bucket policy document, as the owner sent it (validated by the S3 layer).
    pub policy: Option<String>,
}

/// The canned ACLs of S3: the only ACLs Cairn stores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CannedAcl {
    #[default]
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
    BucketOwnerRead,
    BucketOwnerFullControl,
}

/// An access key: an identity that signs requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKey {
    pub access_key_id: String,
    /// The secret, sealed by the S3 layer with the cluster's key-encryption key;
    /// the state machine (and so the log and snapshots) never holds it in the clear.
    pub sealed_secret: Vec<u8>,
    pub name: String,
    /// The key made at the first start; it cannot be deleted.
    pub is_root: bool,
    pub created: Nanos,
    /// May use the admin API and every bucket (the root key always may).
    pub admin: bool,
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
    /// Small objects live in the metadata record itself (replicated by Raft). Encoded as
    /// bytes (one copy) rather than a sequence of `u8` (a call per byte); bincode writes
    /// both the same way, so records stay readable either way.
    Inline(#[serde(with = "serde_bytes")] Vec<u8>),
    Shards(ShardRef),
    /// A completed multipart upload: the parts in order, each where it was
    /// written (completing never copies bytes). A part's data is never `Parts`.
    Parts(Vec<PartRef>),
    /// Encrypted at rest: `data` (never `Parts` nor `Sealed`) holds the ciphertext
    /// packages of the object or part (`cairn_object::sse` documents the format).
    /// Added at the end of the enum, so records written before it read the same.
    Sealed(Box<SealedData>),
}

impl ObjectData {
    /// The stored form under any encryption: `Inline`, `Shards` or `Parts`.
    pub fn unsealed(&self) -> &ObjectData {
        match self {
            ObjectData::Sealed(s) => &s.data,
            other => other,
        }
    }

    /// The encryption of this object or part, if any (a multipart object's is its
    /// first part's: every part of an upload is encrypted the same way).
    pub fn sse(&self) -> Option<&Sse> {
        match self {
            ObjectData::Sealed(s) => Some(&s.sse),
            ObjectData::Parts(parts) => parts.first().and_then(|p| p.data.sse()),
            _ => None,
        }
    }
}

/// An encrypted object or part: how its data key is kept, and its stored bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedData {
    pub sse: Sse,
    /// Bytes stored in `data`: every package of plaintext with its tag.
    pub stored_size: u64,
    pub data: ObjectData,
}

/// Server-side encryption of one object or part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sse {
    pub mode: SseMode,
    /// The object's own random data key, sealed (AES-256-GCM: nonce, ciphertext,
    /// tag) by the key-encryption key `mode` names. Never the key in the clear.
    pub sealed_key: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SseMode {
    /// SSE-S3 (`AES256`): sealed by version `kek_version` of the cluster's SSE-S3
    /// key, which is derived from the master key.
    S3 { kek_version: u32 },
    /// SSE-C: sealed by the customer's key, which is never stored; opening the
    /// sealed key is the check that a request brought the same key.
    Customer,
    /// SSE-KMS: sealed by version `version` of KMS key `key_id` (`crate::kms`), bound
    /// to the request's encryption context (canonical JSON, `None` if none was given).
    Kms { key_id: String, version: u32, context: Option<String> },
    /// SSE-KMS with an S3 Bucket Key: sealed by bucket `bucket`'s key, which is derived
    /// from version `version` of KMS key `key_id`; otherwise as `Kms`.
    KmsBucketKey { key_id: String, version: u32, context: Option<String>, bucket: String },
}

/// What an SSE-KMS mode was sealed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KmsSeal<'a> {
    pub key_id: &'a str,
    pub version: u32,
    pub context: Option<&'a str>,
    /// The bucket whose Bucket Key sealed the data key, if one did.
    pub bucket_key: Option<&'a str>,
}

impl SseMode {
    /// The KMS key behind an SSE-KMS mode (with or without a Bucket Key).
    pub fn kms(&self) -> Option<KmsSeal<'_>> {
        match self {
            SseMode::Kms { key_id, version, context } => {
                Some(KmsSeal { key_id, version: *version, context: context.as_deref(), bucket_key: None })
            }
            SseMode::KmsBucketKey { key_id, version, context, bucket } => {
                Some(KmsSeal { key_id, version: *version, context: context.as_deref(), bucket_key: Some(bucket) })
            }
            SseMode::S3 { .. } | SseMode::Customer => None,
        }
    }
}

/// One part of an upload, in progress or completed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRef {
    pub number: u32,
    pub size: u64,
    /// Hex MD5 of the part, without quotes.
    pub etag: String,
    /// Base64 checksum of the part in the upload's checksum algorithm, if any.
    pub checksum: Option<String>,
    pub last_modified: Nanos,
    pub data: ObjectData,
}

/// An upload that has been created and not yet completed or aborted. The
/// object headers to apply at completion are kept in `template` (its `size`,
/// `etag`, `checksums` and `data` are placeholders).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultipartUpload {
    /// Sorts by creation time: listing uploads of one key in initiation order.
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated: Nanos,
    /// `CRC32`, `CRC32C`, `SHA1` or `SHA256` when the upload asked for one.
    pub checksum_algorithm: Option<String>,
    pub template: ObjectVersion,
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
    pub acl: CannedAcl,
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
    CreateUpload {
        upload: MultipartUpload,
    },
    /// Adds or replaces one part of an upload.
    PutPart {
        bucket: String,
        key: String,
        upload_id: String,
        part: PartRef,
    },
    /// Makes `version` (whose data is `ObjectData::Parts`, computed by the S3
    /// layer from the parts it read) the current version and removes the upload.
    /// Apply checks that the upload still exists and that every listed part is
    /// still exactly the stored one (same number, etag and data), so a part
    /// replaced after the S3 layer read it can never be committed.
    CompleteUpload {
        bucket: String,
        key: String,
        upload_id: String,
        version: ObjectVersion,
        condition: Option<WriteCondition>,
    },
    AbortUpload {
        bucket: String,
        key: String,
        upload_id: String,
    },
    /// Adds a node and its disks to the cluster layout, or updates the addresses of
    /// a known node. The first registration also fixes the erasure code (k+m) of
    /// the cluster; later ones keep it.
    RegisterNode {
        node: NodeEntry,
        data_shards: u8,
        parity_shards: u8,
    },
    /// Stores the state of a cluster-wide background service (the scrubber's
    /// progress, say) so that whichever node runs it next resumes from it.
    PutServiceState {
        name: String,
        value: Vec<u8>,
    },
    /// Points blob `id` of `bucket/key` (the object's, or one of its parts') at the
    /// disks `to`, after the rebalancer copied its shards there. Refused with
    /// PreconditionFailed unless the blob still sits on `from`, so a move never
    /// undoes a newer write or another move.
    MoveBlob {
        bucket: String,
        key: String,
        id: u128,
        from: Vec<u16>,
        to: Vec<u16>,
        layout_version: u64,
    },
    /// Removes an access key; NoSuchKey if there is none.
    DeleteAccessKey {
        access_key_id: String,
    },
    /// Sets (`Some`) or removes (`None`) the policy of a bucket.
    PutBucketPolicy {
        bucket: String,
        policy: Option<String>,
    },
    PutBucketAcl {
        bucket: String,
        acl: CannedAcl,
    },
    /// Sets the ACL of the current version of `bucket/key`; NoSuchKey if there is none.
    PutObjectAcl {
        bucket: String,
        key: String,
        acl: CannedAcl,
    },
    /// Turns versioning on (Enabled) or pauses it (Suspended); NoSuchBucket if none.
    PutBucketVersioning {
        bucket: String,
        state: Versioning,
    },
    /// DeleteObject without a version id, as S3 defines it for the bucket's state:
    /// unversioned, the key's object goes; enabled, a delete marker (by `owner`, at
    /// `at`) becomes current; suspended, a null delete marker replaces the null version.
    /// Answers `Versioned` in a versioned bucket, `Replaced` otherwise. `If-Match`
    /// (`condition`) is decided against the current version: PreconditionFailed, or
    /// NoSuchKey when there is none.
    DeleteObjectAt {
        bucket: String,
        key: String,
        owner: String,
        at: Nanos,
        condition: Option<WriteCondition>,
    },
    /// Removes one version (or delete marker) for good: `None` is the null version.
    /// Removing the current version makes the next newest current. Answers
    /// `Versioned` (nothing removed: `freed` empty and `version_id` the one asked for).
    /// `If-Match` (`condition`) is decided against that version.
    DeleteObjectVersion {
        bucket: String,
        key: String,
        version_id: Option<String>,
        condition: Option<WriteCondition>,
    },
    /// Stores (`Some`) or removes (`None`) a bucket setting the state machine does not
    /// interpret (a tag set, say), as the protocol encoded it; NoSuchBucket if none.
    PutBucketSetting {
        bucket: String,
        name: String,
        value: Option<Vec<u8>>,
    },
    /// PutObject that stores the new version's attributes ([`Attrs`]) in the same
    /// commit. In a bucket with object lock, a version given no retention gets the
    /// bucket's default retention, counted from `version.last_modified`; lock
    /// attributes in a bucket without lock are refused (`LockNotEnabled`).
    PutObjectWith {
        bucket: String,
        key: String,
        version: ObjectVersion,
        condition: Option<WriteCondition>,
        attrs: Attrs,
    },
    /// CreateUpload with the attributes its object gets when the upload completes
    /// (CompleteUpload moves them onto the new version; AbortUpload drops them).
    CreateUploadWith {
        upload: MultipartUpload,
        attrs: Attrs,
    },
    /// Sets (`Some`) or removes (`None`) attribute `name` of one version of
    /// `bucket/key`: `version_id` `None` is the current version, `Some("null")` the
    /// null version. Answers `Versioned` with the version's id. Retention is decided
    /// against the one in force at `at`: COMPLIANCE is never shortened or removed,
    /// GOVERNANCE only with `bypass_governance`.
    PutVersionAttr {
        bucket: String,
        key: String,
        version_id: Option<String>,
        name: String,
        value: Option<Vec<u8>>,
        at: Nanos,
        bypass_governance: bool,
    },
    /// DeleteObjectVersion under object lock: a version under legal hold, or whose
    /// retention runs past `at`, is refused (`ObjectLocked`), GOVERNANCE retention
    /// unless `bypass_governance`. Otherwise as DeleteObjectVersion.
    DeleteVersionAt {
        bucket: String,
        key: String,
        version_id: Option<String>,
        condition: Option<WriteCondition>,
        at: Nanos,
        bypass_governance: bool,
    },
    /// CreateBucket with its first settings (versioning, object lock, ownership), so a
    /// bucket created with object lock never exists without it.
    CreateBucketWith {
        bucket: BucketInfo,
        settings: Attrs,
    },
    /// A new version of `bucket/key` made from its version `source_version_id`
    /// (`"null"`: the null version) sharing that version's data: no byte is copied (a
    /// rollback). Apply takes the data, size, ETag and checksums from the source as it
    /// is at this point of the log (`Refused(NoSuchVersion)` when it is gone,
    /// `Refused(DeleteMarker)` for a marker); `version` gives the other headers. The
    /// blobs are freed only when the last version referring to them goes. Otherwise
    /// as PutObjectWith.
    CopyVersion {
        bucket: String,
        key: String,
        source_version_id: String,
        version: ObjectVersion,
        condition: Option<WriteCondition>,
        attrs: Attrs,
    },
    /// Sets the ACL of one version of `bucket/key`, current or not: `version_id` `None`
    /// is the current version, `Some("null")` the null version. Answers `Versioned`
    /// with the version's id; NoSuchKey without a current version, `Refused` for a
    /// marker or a version that does not exist.
    PutVersionAcl {
        bucket: String,
        key: String,
        version_id: Option<String>,
        acl: CannedAcl,
    },
    /// Creates a tenant (`create`) or changes an existing one's quota and warning
    /// thresholds (its name and parent never change). Apply refuses (`TenantRefused`) a
    /// missing parent, a tree deeper than [`MAX_TENANT_DEPTH`], a name its siblings
    /// already use, and a quota that does not fit the carving rule: the quotas set on
    /// a tenant's children add up to at most the tenant's own, in bytes and in objects.
    PutTenant {
        tenant: Tenant,
        create: bool,
    },
    /// Removes a tenant; refused while it has child tenants, buckets or keys.
    DeleteTenant {
        id: String,
    },
    /// PutAccessKey for a key that belongs to a tenant (`tenancy.tenant`), possibly as
    /// its tenant admin, with a per-key quota. Refused when the tenant does not exist.
    /// Writing it again for an existing key changes only its quota.
    PutAccessKeyIn {
        key: AccessKey,
        tenancy: KeyTenancy,
    },
    /// Records every tenant's usage as the sample of hour `slot` (unix seconds, a
    /// multiple of `period`, the length of an hour: 3600 but in tests) and as the sample
    /// of the day holding it, and drops hourly samples older than
    /// [`HOURLY_SAMPLES_KEPT`] hours and daily ones older than [`DAILY_SAMPLES_KEPT`]
    /// days. The leader proposes it once an hour; one for a slot not after the last
    /// sampled one changes nothing (`PreconditionFailed`).
    SampleUsage {
        slot: u64,
        period: u64,
    },
    /// Registers `asset` (apply makes its id from the log position and checks its
    /// tenant exists), with `version` as its first version if given (the object it
    /// points at must exist; apply fills in its size and ETag). With an idempotency
    /// key already used in the tenant for the same registration, answers what the
    /// first one made and changes nothing (`crate::assets`).
    PutAsset {
        asset: crate::assets::Asset,
        version: Option<crate::assets::AssetVersion>,
    },
    /// Appends `version` to asset `id`'s chain; refused unless the chain holds
    /// `if_versions` versions, when given.
    AddAssetVersion {
        id: String,
        version: crate::assets::AssetVersion,
        if_versions: Option<u32>,
    },
    /// Appends a version identical to version `to` (same object, hash and
    /// renditions), copying no bytes.
    RollbackAsset {
        id: String,
        to: u32,
        at: Nanos,
        by: String,
    },
    /// Changes asset `id`'s descriptive fields.
    UpdateAsset {
        id: String,
        patch: crate::assets::AssetPatch,
        at: Nanos,
    },
    /// Puts asset `id` in its tenant's trash, to be purged after the tenant's
    /// retention.
    TrashAsset {
        id: String,
        at: Nanos,
    },
    /// Takes asset `id` out of the trash.
    RestoreAsset {
        id: String,
        at: Nanos,
    },
    /// Purges trashed asset `id`: its records, and each object version it pointed at
    /// that nothing else points at (object lock permitting). `due`: only if its purge
    /// time has come.
    PurgeAsset {
        id: String,
        at: Nanos,
        due: bool,
    },
    /// How long `tenant`'s trashed assets stay before they are purged.
    SetTrashRetention {
        tenant: String,
        secs: u64,
    },
    /// Shares asset `id` with `tenant` (or changes the share's permission): keys of
    /// that tenant may then read it and the objects it points at.
    ShareAsset {
        id: String,
        tenant: String,
        permission: crate::assets::SharePermission,
        at: Nanos,
        by: String,
    },
    /// Ends asset `id`'s share with `tenant`.
    RevokeShare {
        id: String,
        tenant: String,
        at: Nanos,
    },
    /// Creates `items` on video `video` (all or none), idempotently by client id.
    PutAnnotations {
        video: crate::annotations::VideoRef,
        items: Vec<crate::annotations::NewAnnotation>,
        by: crate::annotations::Actor,
    },
    /// Replaces annotation `id`'s content (not its parent), if its revision is
    /// `if_revision` (when given) and `by` may change it.
    UpdateAnnotation {
        id: String,
        if_revision: Option<u32>,
        content: crate::annotations::AnnotationContent,
        by: crate::annotations::Actor,
    },
    /// Turns annotation `id` into a tombstone, on the same conditions as an update.
    DeleteAnnotation {
        id: String,
        if_revision: Option<u32>,
        by: crate::annotations::Actor,
    },
    /// Sets video `video`'s timing (what its annotations' frames and times are
    /// checked against from then on).
    SetVideoTiming {
        video: crate::annotations::VideoRef,
        timing: crate::annotations::VideoTiming,
    },
    /// Puts every item into `bucket` as PutObjectWith would (without a condition),
    /// all or none: one refused item, or a quota any of them passes, refuses the
    /// whole batch and nothing of it stays (a batch ingest: a tar archive extracted).
    PutObjects {
        bucket: String,
        items: Vec<BatchPut>,
    },
    /// Moves asset `id` to `tenant`: its object versions into the tenant's `bucket`
    /// (written by `by`), its usage to the tenant's pools, in one commit that is
    /// undone whole when a pool would pass its limit or anything is refused.
    TransferAsset {
        id: String,
        tenant: String,
        bucket: String,
        at: Nanos,
        by: String,
    },
    /// Creates KMS key `key.id` (refused if it exists).
    CreateKmsKey {
        key: crate::kms::KmsKey,
    },
    /// Appends version `number` to KMS key `id` (refused unless it is the next one,
    /// since the version's seal names its number): new data keys are sealed with it.
    RotateKmsKey {
        id: String,
        number: u32,
        version: crate::kms::KmsKeyVersion,
    },
    /// Enables or disables KMS key `id`.
    SetKmsKeyEnabled {
        id: String,
        enabled: bool,
    },
    /// An administrative command (`Command::is_admin`) and who made it: apply records
    /// `event` (`crate::admin_audit`) when the command takes effect.
    Audited {
        event: crate::admin_audit::AdminEvent,
        command: Box<Command>,
    },
    /// A lifecycle rule's action on `bucket/key`, taken only if the key is still as the
    /// rule saw it (`crate::apply::lifecycle`); otherwise PreconditionFailed.
    Expire {
        bucket: String,
        key: String,
        action: Expiry,
        at: Nanos,
    },
    /// Target `target` took its queued events up to sequence number `upto`
    /// (`crate::notify`): they leave its queue.
    AckEvents {
        target: String,
        upto: u64,
    },
    /// Node `node`'s disk pools (one per disk, in order) and the storage classes its
    /// configuration names (`crate::tiers`): merged into the cluster's record, which
    /// bumps the layout's version when it changes; LayoutConflict when they contradict it.
    SetTiers {
        node: u64,
        pools: Vec<String>,
        classes: Vec<crate::tiers::StorageClass>,
    },
    /// Blob `from` of `bucket/key` was rewritten as `to`, in storage class `class` (a
    /// transition): every owner of `from` switches to `to`, only if all of them are
    /// versions of this key; otherwise PreconditionFailed, and `to` is the caller's to free.
    SwapBlob {
        bucket: String,
        key: String,
        from: u128,
        to: ShardRef,
        class: String,
    },
    /// Reads a node served (`crate::access`), counted on day `at / day`: added to each
    /// version's access record; versions gone meanwhile are skipped.
    RecordReads {
        at: Nanos,
        day: Nanos,
        reads: Vec<crate::access::ReadCount>,
    },
}

/// What a lifecycle rule does to a key, and the version it saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expiry {
    /// Expiration: the current version, still `version_id` last modified at
    /// `last_modified`, goes as DeleteObject makes it go (removed, or hidden by a
    /// delete marker in a versioned bucket).
    Current { version_id: Option<String>, last_modified: Nanos },
    /// NoncurrentVersionExpiration: the noncurrent version `version_id`, still last
    /// modified at `last_modified`, is removed, unless object lock keeps it.
    Noncurrent { version_id: Option<String>, last_modified: Nanos },
    /// ExpiredObjectDeleteMarker: the delete marker `version_id`, if it is still the
    /// key's only entry, is removed.
    LoneMarker { version_id: Option<String> },
}

/// Hourly usage samples kept per tenant (7 days).
pub const HOURLY_SAMPLES_KEPT: u64 = 7 * 24;
/// Daily usage samples kept per tenant (90 days).
pub const DAILY_SAMPLES_KEPT: u64 = 90;

/// Named attributes of one object version (or of the object an upload will make),
/// each encoded as its owner encodes it. Apply decides on the object-lock ones
/// ([`ATTR_RETENTION`], [`ATTR_LEGAL_HOLD`]) and stores the others as they are.
pub type Attrs = BTreeMap<String, Vec<u8>>;

/// Attribute: the object's tag set, bincode([`TagSet`]).
pub const ATTR_TAGS: &str = "tags";
/// Attribute: bincode([`ObjectRetention`]).
pub const ATTR_RETENTION: &str = "retention";
/// Attribute: bincode(`bool`), a legal hold that is on.
pub const ATTR_LEGAL_HOLD: &str = "legal-hold";

/// Bucket setting: bincode([`ObjectLockConfig`]); present once object lock is on,
/// and never removed.
pub const SETTING_OBJECT_LOCK: &str = "object-lock";
/// Bucket setting: bincode([`Versioning`]).
pub const SETTING_VERSIONING: &str = "versioning";

/// Tags in the order they were given.
pub type TagSet = Vec<(String, String)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockMode {
    Governance,
    Compliance,
}

/// A version's retention: it may not be removed before `retain_until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRetention {
    pub mode: LockMode,
    pub retain_until: Nanos,
}

/// A default retention period, as the configuration gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionPeriod {
    Days(u32),
    Years(u32),
}

impl RetentionPeriod {
    /// The period in nanoseconds (a year is 365 days).
    pub fn nanos(self) -> Nanos {
        const DAY: Nanos = 86_400 * 1_000_000_000;
        match self {
            RetentionPeriod::Days(d) => Nanos::from(d) * DAY,
            RetentionPeriod::Years(y) => Nanos::from(y) * 365 * DAY,
        }
    }
}

/// A bucket's object lock configuration (lock is on while it exists).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLockConfig {
    pub default_retention: Option<(LockMode, RetentionPeriod)>,
}

/// Why apply refused a command that is well formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The version is under legal hold or retention (S3: AccessDenied).
    ObjectLocked,
    /// A lock attribute in a bucket without object lock (S3: InvalidRequest).
    LockNotEnabled,
    /// Versioning cannot be suspended under object lock, and lock needs versioning
    /// enabled (S3: InvalidBucketState).
    InvalidBucketState,
    /// The version named is a delete marker (S3: MethodNotAllowed).
    DeleteMarker,
    /// The version named does not exist (S3: NoSuchVersion).
    NoSuchVersion,
}

/// What refers to a blob: an object's current version or a part of an upload in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlobOwner {
    /// The current version of `bucket/key`.
    Object {
        bucket: String,
        key: String,
    },
    Part {
        upload_id: String,
        number: u32,
    },
    /// A noncurrent version of `bucket/key` (`None`: the null version).
    Version {
        bucket: String,
        key: String,
        version_id: Option<String>,
    },
}

/// One node of the cluster layout. Its disks take the global disk indices
/// `first_disk .. first_disk + disks`, assigned when it registers and never
/// reused, so a [`ShardRef`]'s disk indices keep their meaning forever.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEntry {
    pub id: u64,
    /// Internode (QUIC) address peers dial.
    pub addr: String,
    /// S3 endpoint, for status reports.
    pub s3_addr: String,
    /// Number of local disks.
    pub disks: u16,
    /// Assigned by apply; ignored in a RegisterNode command.
    pub first_disk: u16,
}

/// The disks of the cluster and how objects are spread over them. Versioned:
/// every change bumps `version`, and a ShardRef records the version it was placed with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterLayout {
    pub version: u64,
    pub data_shards: u8,
    pub parity_shards: u8,
    /// In registration order.
    pub nodes: Vec<NodeEntry>,
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
    NoSuchUpload,
    /// A part named by CompleteUpload is missing or is no longer the stored one.
    InvalidPart {
        number: u32,
    },
    /// Blobs that nothing refers to any more: a replaced part, the parts of an
    /// aborted upload, or the parts left out of a completion plus the version
    /// that the completion replaced.
    Discard(Vec<ObjectData>),
    /// A RegisterNode that contradicts the layout (a node's disk count changed).
    LayoutConflict(String),
    /// A write or delete that made (or removed) a version: its id (`None` is the null
    /// version), whether it is a delete marker, and the blobs nothing refers to any
    /// more (a null version replaced, a version removed for good, parts left out).
    Versioned {
        version_id: Option<String>,
        delete_marker: bool,
        freed: Vec<ObjectData>,
    },
    Refused(Refusal),
    /// A write that would take a pool past its limit; nothing of it was applied.
    QuotaExceeded(QuotaBreach),
    /// A tenant command apply refused.
    TenantRefused(TenantRefusal),
    /// An asset command that took effect (or an idempotent replay of one).
    Asset(crate::assets::AssetOutcome),
    /// An asset command apply refused.
    AssetRefused(crate::assets::AssetRefusal),
    /// An annotation command that took effect (or replayed).
    Annotations(crate::annotations::AnnotationOutcome),
    /// An annotation command apply refused.
    AnnotationRefused(crate::annotations::AnnotationRefusal),
    /// PutObjects took effect: each item's answer (`Replaced` or `Versioned`), in order.
    ObjectsPut(Vec<CommandResult>),
    /// PutObjects was refused whole: item `index` was answered `result`.
    BatchRefused {
        index: usize,
        result: Box<CommandResult>,
    },
    /// A KMS key command took effect: the key's current version.
    KmsVersion(u32),
    /// A KMS key command apply refused.
    KmsRefused(crate::kms::KmsRefusal),
}

/// One object of a PutObjects batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchPut {
    pub key: String,
    pub version: ObjectVersion,
    pub attrs: Attrs,
}

/// One upload in a listing of uploads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadListPage {
    pub uploads: Vec<MultipartUpload>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
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

/// A bucket's versioning state, once set (S3: never back to unversioned).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    Enabled,
    Suspended,
}

/// A delete marker: a version that says the key was deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMarker {
    /// `None`: the null version (a delete in a suspended bucket).
    pub version_id: Option<String>,
    pub last_modified: Nanos,
    /// Access key id of the deleter.
    pub owner: String,
}

/// One version of a key: an object version or a delete marker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VersionEntry {
    Object(ObjectVersion),
    Marker(DeleteMarker),
}

impl VersionEntry {
    pub fn version_id(&self) -> Option<&str> {
        match self {
            VersionEntry::Object(v) => v.version_id.as_deref(),
            VersionEntry::Marker(m) => m.version_id.as_deref(),
        }
    }

    pub fn last_modified(&self) -> Nanos {
        match self {
            VersionEntry::Object(v) => v.last_modified,
            VersionEntry::Marker(m) => m.last_modified,
        }
    }
}

/// One page of ListObjectVersions, from one ordered scan of the current versions and
/// the history. Entries of a key come newest first; `is_latest` marks the current one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionListPage {
    /// (key, entry, is_latest), in key order, each key's versions newest first.
    pub versions: Vec<(String, VersionEntry, bool)>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    /// `None` with a key marker: the next page starts after every version of it (a
    /// common prefix); `Some("null")` names the null version.
    pub next_version_id_marker: Option<String>,
}

/// Attribute: the access key id that wrote the version (or started the upload), as
/// UTF-8; the per-key quota pool it counts in. Set by the object layer with every new
/// version and upload; never changed after.
pub const ATTR_WRITER: &str = "writer";
/// Upload attribute: the storage class (UTF-8) an upload's parts are written in, when
/// not STANDARD. Set by the S3 layer at CreateMultipartUpload; dropped at completion
/// (the version's class is read from its data).
pub const ATTR_UPLOAD_CLASS: &str = "storage-class";
/// Bucket setting: bincode(`String`), the id of the tenant the bucket belongs to (that
/// of the key that created it); written by apply at creation, never changed.
pub const SETTING_TENANT: &str = "tenant";
/// Bucket setting: bincode([`Quota`]), the bucket's own limits.
pub const SETTING_QUOTA: &str = "quota";

/// The deepest a tenant may sit: a top-level tenant is at depth 1.
pub const MAX_TENANT_DEPTH: usize = 8;

/// Limits of one pool; `None` is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub bytes: Option<u64>,
    pub objects: Option<u64>,
}

/// A tenant: a customer of the platform, possibly inside another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
    pub quota: Quota,
    /// Usage thresholds, in percent of the quota, whose crossing is announced.
    pub warn_percent: Vec<u8>,
    pub created: Nanos,
}

/// What an access key belongs to, beyond [`AccessKey`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyTenancy {
    pub tenant: Option<String>,
    /// May administer its tenant's subtree (keys, sub-tenants, their quotas).
    pub tenant_admin: bool,
    /// The key's own limits: the versions and parts it wrote.
    pub quota: Quota,
}

/// A quota pool: what a write counts against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pool {
    Bucket(String),
    Key(String),
    Tenant(String),
}

/// Bytes and objects counted in one pool: every object version (current or not),
/// delete markers (the bytes of the key name), and parts of uploads in progress
/// (bytes only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolUsage {
    pub bytes: u64,
    pub objects: u64,
}

/// The limit a refused write would have passed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaBreach {
    pub pool: Pool,
    /// `true`: the object-count limit; `false`: the byte limit.
    pub objects: bool,
    pub limit: u64,
    /// Usage before the write.
    pub used: u64,
    /// What the write would have added.
    pub adding: u64,
    /// When `pool` is an ancestor of the bucket's tenant: that tenant.
    pub below: Option<String>,
}

/// Why apply refused a tenant command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TenantRefusal {
    NoSuchTenant(String),
    /// A tenant with this id exists, or a sibling has this name.
    AlreadyExists(String),
    TooDeep,
    /// The children's quotas would add up to more than the parent's
    /// (`objects`: in objects, otherwise in bytes).
    ExceedsParent {
        parent: String,
        objects: bool,
        parent_limit: u64,
        children: u64,
    },
    /// The new quota is below what the tenant's children were given.
    BelowChildren {
        objects: bool,
        children: u64,
    },
    /// Child tenants, buckets or keys remain.
    NotEmpty(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ObjectData` as it was before its inline bytes were encoded as bytes.
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    enum Before {
        Inline(Vec<u8>),
    }

    #[test]
    fn inline_bytes_encode_as_they_did_as_a_sequence() {
        let data: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let now = bincode::serialize(&ObjectData::Inline(data.clone())).unwrap();
        let before = bincode::serialize(&Before::Inline(data.clone())).unwrap();
        assert_eq!(now, before);
        assert_eq!(bincode::deserialize::<ObjectData>(&before).unwrap(), ObjectData::Inline(data.clone()));
        assert_eq!(bincode::deserialize::<Before>(&now).unwrap(), Before::Inline(data));
    }
}
