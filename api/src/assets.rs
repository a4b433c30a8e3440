//! `/cairn/v1/assets`: the asset catalogue.
//!
//! | method and path | request | answer |
//! |---|---|---|
//! | `POST assets` | [`RegisterAsset`] | [`AssetInfo`] (201; 200 for a replay of the same `idempotency_key`) |
//! | `GET assets?tenant=T[&media_type=M][&project=P][&status=S][&tag=K:V][&created_from=][&created_until=][&order=asc\|desc][&cursor=C][&limit=N]` | | [`AssetList`] |
//! | `POST assets/batch` | [`BatchRegister`] | [`BatchRegistered`]: one result per registration, in order |
//! | `GET assets/search?q=WORDS\|name_prefix=P[&tenant=T][&limit=N]` | | [`AssetList`]: the best matches (at most 100), from the node's full-text index |
//! | `POST assets/batch-get` | [`BatchGet`] | [`BatchGetResult`] |
//! | `GET assets/stats?tenant=T` | | [`AssetStats`] |
//! | `GET assets/ID` | | [`AssetInfo`] with its latest version |
//! | `PATCH assets/ID` | [`UpdateAsset`] | [`AssetInfo`] |
//! | `GET assets/ID/versions[?cursor=C][&limit=N]` | | [`VersionList`], oldest first |
//! | `POST assets/ID/versions` | [`NewVersion`] | [`AssetVersionInfo`] (201) |
//! | `GET assets/ID/versions/N` (or `latest`) | | [`AssetVersionInfo`] |
//! | `POST assets/ID/rollback` | [`Rollback`] | [`AssetVersionInfo`] (201): a new version repeating version `to` |
//! | `GET assets/ID/diff?from=A&to=B` | | [`VersionDiff`] |
//! | `DELETE assets/ID` | | [`AssetInfo`]: the asset, now in its tenant's trash |
//! | `POST assets/ID/restore` | | [`AssetInfo`]: back from the trash |
//! | `POST assets/ID/purge` | | [`Purged`]: a trashed asset purged now |
//! | `GET assets/trash?tenant=T[&cursor=C][&limit=N]` | | [`AssetList`]: the trash, by the time each went in |
//! | `GET assets/trash/retention[?tenant=T]` | | [`TrashRetention`] |
//! | `PUT assets/trash/retention` | [`TrashRetention`] | [`TrashRetention`] |
//! | `GET assets/content?sha256=X[&size=N][&tenant=T]` | | [`ContentMatches`]: the tenant's versions holding that content (never another tenant's) |
//! | `GET assets/duplicates?tenant=T[&cursor=C]` | | [`DuplicateReport`]: content held by more than one version |
//! | `GET assets/uploads?bucket=B&sha256=X[&key=K]` | | [`PendingUploads`]: uploads in progress of that content (marked with `x-amz-meta-cairn-sha256`) and their parts |
//! | `POST assets/ID/shares` | [`ShareRequest`] | [`ShareInfo`] (201): the asset shared with another tenant |
//! | `GET assets/ID/shares` | | [`ShareList`] |
//! | `DELETE assets/ID/shares/TENANT` | | [`ShareList`]: the shares left; the revocation counts on every node at once |
//! | `POST assets/ID/transfer` | [`TransferRequest`] | [`AssetInfo`]: the asset, now the other tenant's, its objects in that tenant's bucket |
//! | `GET assets/shared[?tenant=T][&cursor=C][&limit=N]` | | [`IncomingList`]: the assets shared with the tenant |
//! | `GET assets/events?tenant=T[&cursor=C][&limit=N][&wait=S]` | | [`AssetEventList`]: the tenant's asset events after the cursor, in commit order; with `wait`, a long poll of up to S seconds (at most 60) |
//! | `GET assets/events/stream?tenant=T[&cursor=C]` | | Server-Sent Events: one `asset` event per event (`id:` its cursor, `data:` an [`AssetEventInfo`]); a reconnecting `Last-Event-ID` resumes |
//!
//! Lists are ordered by (created time, id), oldest first unless `order=desc`; a
//! cursor is opaque and belongs to the query that made it (another query's cursor is
//! `InvalidCursor`). Filters combine: the most selective one (tag, project, status,
//! media type, tenant, in that order) is scanned and the others are checked on each
//! asset found. Times are RFC 3339.
//!
//! Who may call: a key of tenant T manages T's assets; a tenant admin of T those of
//! T's subtree; admin keys every tenant's. A version may only point at an object the
//! caller may read (as a GetObject of it would be decided). Errors are
//! [`crate::ErrorBody`] with the codes in [`codes`] and, where one is at fault, the
//! request field.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Stable error codes of the asset API (with those of [`crate::tenants::codes`]).
pub mod codes {
    pub const NO_SUCH_ASSET: &str = "NoSuchAsset";
    pub const NO_SUCH_ASSET_VERSION: &str = "NoSuchAssetVersion";
    /// A version or rendition points at an object that does not exist.
    pub const NO_SUCH_OBJECT: &str = "NoSuchObject";
    pub const INVALID_MEDIA_TYPE: &str = "InvalidMediaType";
    pub const METADATA_TOO_LARGE: &str = "MetadataTooLarge";
    pub const INVALID_CURSOR: &str = "InvalidCursor";
    /// `if_versions` did not match: another version was added first.
    pub const CHAIN_MOVED: &str = "AssetChainMoved";
    /// The idempotency key was used for another registration.
    pub const IDEMPOTENCY_CONFLICT: &str = "IdempotencyConflict";
    pub const NO_SUCH_SHARE: &str = "NoSuchShare";
    /// A transfer would move an object another asset points at too.
    pub const OBJECT_SHARED: &str = "AssetObjectShared";
    /// A transfer's target bucket holds that key already.
    pub const DESTINATION_EXISTS: &str = "DestinationExists";
    /// Object lock keeps an object a transfer or purge would remove.
    pub const OBJECT_LOCKED: &str = "ObjectLocked";
    /// A write would pass a quota (the S3 code too).
    pub const QUOTA_EXCEEDED: &str = "QuotaExceeded";
    /// No version of the tenant holds the content a `content` reference names.
    pub const NO_SUCH_CONTENT: &str = "NoSuchContent";
    /// The asset is in the trash: restore it before changing it.
    pub const IN_TRASH: &str = "AssetInTrash";
    /// Only a trashed asset can be restored or purged.
    pub const NOT_IN_TRASH: &str = "AssetNotInTrash";
}

/// The media types an asset may have.
pub const MEDIA_TYPES: [&str; 6] = ["video", "audio", "image", "document", "model", "other"];

/// An object version Cairn stores; without `version_id`, the current version (which
/// must then be the null version: an unversioned or suspended bucket's object).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

impl ObjectRef {
    pub fn is_empty(&self) -> bool {
        self.bucket.is_empty() && self.key.is_empty() && self.version_id.is_none()
    }
}

/// Content by its SHA-256 (hex) and size.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentRef {
    pub sha256: String,
    pub size: u64,
}

/// A derived object linked to a version, by role (`thumbnail`, `hls-720p`, `webp`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rendition {
    pub role: String,
    pub object: ObjectRef,
    /// In answers: from the object version.
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub etag: String,
}

/// Type-specific metadata. Video: `duration_ms`, `frame_rate` (an exact ratio,
/// `"30000/1001"` or `"25"`), `width`, `height`, `codec`, `bitrate`; image: `width`,
/// `height`, `format`; audio: `duration_ms`, `codec`, `bitrate`; document: `pages`;
/// any type: `extra`, free-form JSON of at most 16 KiB. A field another type owns is
/// refused.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<serde_json::Value>,
}

/// A tag a classifier wrote, with its confidence (0 to 1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineTag {
    pub value: String,
    pub confidence: f64,
}

/// The first or next version of an asset: an `object`, or (instant upload) a
/// `content` reference the tenant already holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVersion {
    #[serde(default, skip_serializing_if = "ObjectRef::is_empty")]
    pub object: ObjectRef,
    /// Instead of `object`: point at an object version of the tenant that holds these
    /// bytes already (found by the dedupe index); nothing is uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentRef>,
    /// SHA-256 of the bytes, hex. When absent, the server takes it from the object's
    /// stored SHA-256 checksum, or reads the object to compute it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renditions: Vec<Rendition>,
    /// Only if the chain holds this many versions (optimistic concurrency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_versions: Option<u32>,
}

/// `POST assets`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterAsset {
    /// The owning tenant; defaults to the calling key's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub name: String,
    pub media_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Defaults to `active`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub machine_tags: BTreeMap<String, MachineTag>,
    #[serde(default)]
    pub meta: MediaMeta,
    /// The first version; an asset may be registered before its bytes exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<NewVersion>,
    /// The same key with the same registration answers the asset the first one made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// `PATCH assets/ID`: absent fields stay; `project: ""` removes the project.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateAsset {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_tags: Option<BTreeMap<String, MachineTag>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<MediaMeta>,
}

/// `POST assets/ID/rollback`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    pub to: u32,
}

/// `POST assets/batch-get`: up to 1,000 ids.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchGet {
    pub ids: Vec<String>,
}

/// `POST assets/batch`: up to [`MAX_BATCH_REGISTER`] registrations, committed together.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRegister {
    pub assets: Vec<RegisterAsset>,
}

/// Most registrations in one batch.
pub const MAX_BATCH_REGISTER: usize = 1000;

/// One registration's result: the asset, or why it was refused (its field is placed
/// in the batch: `assets[3].media_type`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<AssetInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::ErrorDetail>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchRegistered {
    pub results: Vec<BatchItem>,
}

/// Most ids in one batch get.
pub const MAX_BATCH_GET: usize = 1000;

/// One version of an asset's chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetVersionInfo {
    pub number: u32,
    pub object: ObjectRef,
    pub size: u64,
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renditions: Vec<Rendition>,
    pub created: String,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<u32>,
}

/// An asset, as every answer shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AssetInfo {
    pub id: String,
    pub tenant: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    pub name: String,
    pub media_type: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub machine_tags: BTreeMap<String, MachineTag>,
    #[serde(default)]
    pub meta: MediaMeta,
    pub created: String,
    pub updated: String,
    pub created_by: String,
    /// How many versions the chain holds.
    pub versions: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<AssetVersionInfo>,
    /// In the trash since then, to be purged at `purge_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trashed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_at: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AssetList {
    pub assets: Vec<AssetInfo>,
    /// Present when there may be more: pass it as `cursor` with the same query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchGetResult {
    /// In the order asked.
    pub assets: Vec<AssetInfo>,
    /// Ids that do not exist or that the caller may not see.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionList {
    pub versions: Vec<AssetVersionInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One field that differs between two versions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// `object`, `size`, `etag`, `sha256`, `renditions.ROLE`.
    pub field: String,
    pub from: serde_json::Value,
    pub to: serde_json::Value,
}

/// `GET assets/ID/diff?from=A&to=B`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionDiff {
    pub from: u32,
    pub to: u32,
    /// True when both versions hold the same bytes (same SHA-256, or same object).
    pub same_content: bool,
    pub changes: Vec<FieldChange>,
}

/// Count and bytes (of each asset's latest version) of one media type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeStats {
    pub count: u64,
    pub bytes: u64,
}

/// `GET assets/stats?tenant=T`: exact as of the last commit, read in O(1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetStats {
    pub tenant: String,
    pub media_types: BTreeMap<String, TypeStats>,
    pub total: TypeStats,
}

/// One event of a tenant's asset feed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetEventInfo {
    /// Resume after this event by passing it as `cursor`.
    pub cursor: String,
    /// `created`, `version_added`, `rolled_back`, `updated`, `trashed`, `restored`,
    /// `purged`, `shared`, `revoked`.
    pub kind: String,
    pub asset: String,
    /// The version the change made, if it made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    pub at: String,
    /// A share or a revocation: the other tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetEventList {
    pub events: Vec<AssetEventInfo>,
    /// Where to resume: the last event's cursor, or the one given when there was none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// `POST assets/ID/purge`: the asset's records are gone; of the object versions it
/// pointed at, those nothing else points at were deleted, the others kept (another
/// asset points at them, or object lock keeps them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purged {
    pub purged: String,
    pub objects_deleted: u32,
    pub objects_kept: u32,
}

/// How long a tenant's trashed assets stay before they are purged (default 7 days;
/// a change applies to assets trashed from then on).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrashRetention {
    /// The tenant [default: the key's].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub retention_secs: u64,
}

/// One version holding some content.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentMatch {
    pub asset: String,
    pub version: u32,
    pub size: u64,
    pub object: ObjectRef,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentMatches {
    pub sha256: String,
    pub matches: Vec<ContentMatch>,
}

/// One asset version, by asset and number.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRef {
    pub asset: String,
    pub version: u32,
}

/// Content held by more than one version of a tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateGroup {
    pub sha256: String,
    pub size: u64,
    pub versions: Vec<VersionRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateReport {
    pub groups: Vec<DuplicateGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One stored part of an upload in progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedPart {
    pub number: u32,
    pub size: u64,
    pub etag: String,
}

/// An upload in progress of some content.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUpload {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub initiated: String,
    pub parts: Vec<UploadedPart>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUploads {
    pub uploads: Vec<PendingUpload>,
}

/// The user metadata (`x-amz-meta-cairn-sha256`) that marks an upload with the
/// SHA-256 of its whole content, so it can be found again by content.
pub const UPLOAD_SHA256_META: &str = "cairn-sha256";

/// `POST assets/ID/shares`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// The tenant to share with.
    pub tenant: String,
    /// `read` (the default) or `read_annotate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
}

/// An asset shared with a tenant: its keys read the asset and the bytes of every
/// object its versions point at (with S3 GetObject, their own keys), nothing else of
/// the bucket; the bytes stay counted in the owner's quota.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareInfo {
    pub asset: String,
    pub owner: String,
    pub tenant: String,
    pub permission: String,
    pub created: String,
    pub created_by: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareList {
    pub shares: Vec<ShareInfo>,
}

/// One asset shared with the caller's tenant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IncomingShare {
    pub share: ShareInfo,
    pub asset: AssetInfo,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IncomingList {
    pub shares: Vec<IncomingShare>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST assets/ID/transfer`: the asset goes to `tenant`, its object versions into
/// that tenant's `bucket` (same keys; no byte is copied) and their usage to the
/// tenant's quota, in one commit; refused whole when the tenant's quota cannot take
/// it, a key is taken, or another asset points at one of its objects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    pub tenant: String,
    pub bucket: String,
}
