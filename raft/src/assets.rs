//! The asset catalogue: a record per media asset of a tenant, its version chain, and
//! the indexes and counters that make every catalogue query an ordered range scan.
//!
//! An asset ([`Asset`]) belongs to one tenant and points, version by version
//! ([`AssetVersion`]), at object versions Cairn stores. The records live in
//! `sm_assets` (data): `a<id>` the asset, `v<id>\0[number]` its versions in chain
//! order, `i<tenant>\0<idempotency key>` the id an idempotent registration made,
//! `S<id>\0<tenant>` its shares ([`Share`]), `r<tenant>` the tenant's trash retention.
//!
//! `sm_asset_index` (derived, rebuilt from `sm_assets` by [`rebuild`]) holds one key
//! per way of finding an asset, each ending in `[created: u64 BE][id]` so every list
//! is ordered by (created time, id), which is also its cursor:
//!
//! | key | finds |
//! |---|---|
//! | `T<tenant>\0[created][id]` | a tenant's assets |
//! | `M<tenant>\0[media type: u8][created][id]` | a tenant's assets of one media type |
//! | `P<tenant>\0<project>\0[created][id]` | a project's assets |
//! | `S<tenant>\0<status>\0[created][id]` | a tenant's assets in one status |
//! | `G<tenant>\0<tag key>\0<tag value>\0[created][id]` | a tenant's assets with one tag |
//! | `X<tenant>\0[trashed at][id]` | a tenant's trash |
//! | `I<tenant>\0[shared at][id]` | the assets shared with a tenant |
//! | `s<tenant>\0[media type: u8]` | bincode([`AssetStats`]): count and bytes, exact at commit |
//!
//! and, not ordered by creation: `x[purge at: u64 BE][id]`, every trashed asset in the
//! order its purge is due (the purge worker's scan); `O<object version>…` one entry
//! per asset version or rendition pointing at an object version ([`object_ref_prefix`]:
//! a purge deletes an object version only when no other entry is left);
//! `H<tenant>\0[sha256][size]…` one per version by content ([`content_prefix`]: the
//! dedupe lookup, which never leaves its tenant's prefix).
//!
//! Tenant ids are `[a-z0-9-]`; projects, statuses, tag keys and values have no
//! control characters ([`valid_label`]), so the `0x00` after each ends it. Stats count
//! each asset once, with the size of its latest version.
//!
//! `sm_asset_events` (data) holds each tenant's asset feed: `<tenant>\0[index: u64
//! BE][command: u32 BE]` → [`AssetEvent`], in log order, so a feed read from a cursor
//! is one range scan on any node, after restarts too; events older than
//! [`ASSET_EVENTS_KEPT`] are dropped as new ones arrive ([`record_event`]).
//!
//! Apply keeps the index in step in the same transaction as the records
//! ([`reindex`]); this module may touch `sm_assets` (reads), `sm_asset_index` and
//! `sm_asset_events`.

use crate::error::MetaError;
use crate::schema::Nanos;
use crate::tables::Table;
use crate::trees::SmTrees;
use crate::tx::Tx;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What kind of media an asset holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MediaType {
    Video,
    Audio,
    Image,
    Document,
    Model,
    Other,
}

impl MediaType {
    pub const ALL: [MediaType; 6] =
        [MediaType::Video, MediaType::Audio, MediaType::Image, MediaType::Document, MediaType::Model, MediaType::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Video => "video",
            MediaType::Audio => "audio",
            MediaType::Image => "image",
            MediaType::Document => "document",
            MediaType::Model => "model",
            MediaType::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<MediaType> {
        MediaType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Its byte in index keys (never reused).
    pub fn code(self) -> u8 {
        match self {
            MediaType::Video => 1,
            MediaType::Audio => 2,
            MediaType::Image => 3,
            MediaType::Document => 4,
            MediaType::Model => 5,
            MediaType::Other => 6,
        }
    }
}

/// An object version an asset points at: `version_id` `None` is the null version
/// (an unversioned bucket's object).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
}

/// A derived object linked to a version (a thumbnail, an HLS ladder), by role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendition {
    pub role: String,
    pub object: ObjectRef,
    /// Filled in by apply from the object version.
    pub size: u64,
    pub etag: String,
}

/// A frame rate or any exact ratio (30000/1001).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ratio {
    pub num: u32,
    pub den: u32,
}

/// Type-specific metadata: the fields of the asset's media type (video: duration,
/// frame rate, width, height, codec, bitrate; image: width, height, format;
/// document: pages), and free-form JSON (`extra`, as text, bounded in size).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaMeta {
    pub duration_ms: Option<u64>,
    pub frame_rate: Option<Ratio>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub codec: Option<String>,
    pub bitrate: Option<u64>,
    pub format: Option<String>,
    pub pages: Option<u32>,
    pub extra: Option<String>,
}

/// A tag written by a classifier: its value and a confidence in ten-thousandths.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineTag {
    pub value: String,
    pub confidence: u16,
}

/// One media asset of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    /// Made by apply from the command's log position (hex, sortable by creation).
    pub id: String,
    pub tenant: String,
    pub project: Option<String>,
    pub name: String,
    pub media_type: MediaType,
    pub status: String,
    pub tags: BTreeMap<String, String>,
    pub machine_tags: BTreeMap<String, MachineTag>,
    pub meta: MediaMeta,
    pub created: Nanos,
    pub updated: Nanos,
    /// The access key that registered it.
    pub created_by: String,
    /// How many versions the chain holds; the latest is this number (0: none yet).
    pub versions: u32,
    /// The size of the latest version (what the stats count).
    pub latest_size: u64,
    /// The client's idempotency key, if it gave one.
    pub idempotency_key: Option<String>,
    /// In the trash since then: out of every list but the trash's, out of the stats,
    /// and purged (records gone, storage freed) at `purge_at`.
    pub trashed_at: Option<Nanos>,
    pub purge_at: Option<Nanos>,
}

/// One version in an asset's chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetVersion {
    /// 1, 2, 3…: set by apply.
    pub number: u32,
    pub object: ObjectRef,
    /// Size and ETag: filled in by apply from the object version.
    pub size: u64,
    pub etag: String,
    /// SHA-256 of the bytes, hex.
    pub sha256: Option<String>,
    pub renditions: Vec<Rendition>,
    pub created: Nanos,
    pub created_by: String,
    /// For a rollback: the version it repeats.
    pub rollback_of: Option<u32>,
}

/// Changes to an asset's descriptive fields; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetPatch {
    pub name: Option<String>,
    /// `Some(None)` removes the project.
    pub project: Option<Option<String>>,
    pub status: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    pub machine_tags: Option<BTreeMap<String, MachineTag>>,
    pub meta: Option<MediaMeta>,
}

/// What apply answers an asset command that took effect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetOutcome {
    pub tenant: String,
    pub id: String,
    /// The version the command made (0: none).
    pub version: u32,
    /// An idempotent registration answered with what an earlier one made.
    pub replayed: bool,
    /// A purge: the data of the object versions it deleted (for their shards to be
    /// removed), how many it deleted, and how many it kept (still referred to by
    /// another asset, or under object lock).
    pub freed: Vec<crate::schema::ObjectData>,
    pub objects_deleted: u32,
    pub objects_kept: u32,
}

/// Why apply refused an asset command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AssetRefusal {
    NoSuchTenant(String),
    NoSuchAsset(String),
    NoSuchVersion(u32),
    /// The object a version or rendition points at does not exist (or is a delete
    /// marker): the field at fault, and what it named.
    NoSuchObject {
        field: String,
        object: ObjectRef,
    },
    /// `if_versions` did not match the chain's length.
    ChainMoved {
        versions: u32,
    },
    /// The idempotency key was used for a different registration.
    IdempotencyConflict(String),
    /// The asset is in the trash: restore it first.
    InTrash,
    /// Only an asset in the trash can be restored or purged.
    NotInTrash,
    /// An expiry purge of an asset whose time has not come (it was restored and
    /// trashed again, say).
    NotDue,
    /// A share with the asset's own tenant.
    ShareWithOwner,
    /// No share of the asset with that tenant.
    NoSuchShare(String),
    /// A transfer's target bucket does not exist, or is not the target tenant's.
    NotTenantBucket(String),
    /// A transfer would move an object version another asset points at too.
    ObjectShared(ObjectRef),
    /// A transfer's target bucket already holds that key (and keeps one version a key).
    DestinationExists(String),
    /// Object lock keeps an object version a transfer would move.
    ObjectLocked(ObjectRef),
}

/// What happened to an asset, as a tenant's event feed tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AssetEventKind {
    Created,
    VersionAdded,
    RolledBack,
    Updated,
    Trashed,
    Restored,
    Purged,
    Shared,
    Revoked,
    Transferred,
}

impl AssetEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AssetEventKind::Created => "created",
            AssetEventKind::VersionAdded => "version_added",
            AssetEventKind::RolledBack => "rolled_back",
            AssetEventKind::Updated => "updated",
            AssetEventKind::Trashed => "trashed",
            AssetEventKind::Restored => "restored",
            AssetEventKind::Purged => "purged",
            AssetEventKind::Shared => "shared",
            AssetEventKind::Revoked => "revoked",
            AssetEventKind::Transferred => "transferred",
        }
    }
}

/// One event of a tenant's asset feed (`sm_asset_events`), at the log position of the
/// command that made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetEvent {
    pub kind: AssetEventKind,
    pub asset: String,
    /// The version the command made (0: none).
    pub version: u32,
    /// The command's time.
    pub at: Nanos,
    /// A share or a revocation: the other tenant.
    pub with: Option<String>,
}

/// What a share lets the other tenant do with the asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SharePermission {
    /// Read the asset's record and the bytes of every object its versions point at.
    Read,
    /// Read, and annotate (the annotations issue builds on it).
    ReadAnnotate,
}

impl SharePermission {
    pub fn as_str(self) -> &'static str {
        match self {
            SharePermission::Read => "read",
            SharePermission::ReadAnnotate => "read_annotate",
        }
    }

    pub fn parse(s: &str) -> Option<SharePermission> {
        [SharePermission::Read, SharePermission::ReadAnnotate].into_iter().find(|p| p.as_str() == s)
    }
}

/// Asset `asset` of tenant `owner`, shared with tenant `tenant`: no byte is copied,
/// and the owner's quota keeps counting them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub asset: String,
    pub owner: String,
    pub tenant: String,
    pub permission: SharePermission,
    pub created: Nanos,
    pub created_by: String,
}

/// How long a tenant's asset events are kept (older ones are dropped as new ones
/// arrive).
pub const ASSET_EVENTS_KEPT: Nanos = 30 * 24 * 3600 * 1_000_000_000;

/// Count and bytes of a tenant's assets of one media type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetStats {
    pub count: u64,
    pub bytes: u64,
}

/// How long an asset stays in the trash unless its tenant says otherwise (7 days).
pub const DEFAULT_TRASH_RETENTION_SECS: u64 = 7 * 24 * 3600;

/// Longest name, project, status, tag key or value, role.
pub const MAX_LABEL: usize = 256;
/// Largest free-form metadata (`MediaMeta::extra`), in bytes.
pub const MAX_EXTRA: usize = 16 << 10;
/// Most tags (and, apart, machine tags) on one asset.
pub const MAX_TAGS: usize = 64;
/// Most renditions on one version.
pub const MAX_RENDITIONS: usize = 32;

/// A name, project, status, tag key or value: 1 to [`MAX_LABEL`] bytes, no control
/// characters (so `0x00` can end it in index keys).
pub fn valid_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_LABEL && !s.chars().any(char::is_control)
}

// --- keys -----------------------------------------------------------------------

const ASSET: u8 = b'a';
const VERSION: u8 = b'v';
const IDEMPOTENCY: u8 = b'i';
const RETENTION: u8 = b'r';
const SHARE: u8 = b'S';

const BY_TENANT: u8 = b'T';
const BY_TYPE: u8 = b'M';
const BY_PROJECT: u8 = b'P';
const BY_STATUS: u8 = b'S';
const BY_TAG: u8 = b'G';
const STATS: u8 = b's';
const TRASH: u8 = b'X';
const DUE: u8 = b'x';
const OBJECT_REF: u8 = b'O';
const CONTENT: u8 = b'H';
const INCOMING: u8 = b'I';

pub(crate) fn asset_key(id: &str) -> Vec<u8> {
    [&[ASSET], id.as_bytes()].concat()
}

/// Every asset record ([`asset_key`]).
pub const ASSET_RECORDS: &[u8] = &[ASSET];

pub(crate) fn versions_prefix(id: &str) -> Vec<u8> {
    [&[VERSION], id.as_bytes(), b"\0"].concat()
}

pub(crate) fn version_key(id: &str, number: u32) -> Vec<u8> {
    [versions_prefix(id).as_slice(), &number.to_be_bytes()].concat()
}

pub(crate) fn idempotency_key(tenant: &str, key: &str) -> Vec<u8> {
    [&[IDEMPOTENCY], tenant.as_bytes(), b"\0", key.as_bytes()].concat()
}

/// `sm_assets` key of `tenant`'s trash retention (seconds).
pub(crate) fn retention_key(tenant: &str) -> Vec<u8> {
    [&[RETENTION], tenant.as_bytes()].concat()
}

/// `sm_assets` prefix of the shares of asset `id`.
pub(crate) fn shares_prefix(id: &str) -> Vec<u8> {
    [&[SHARE], id.as_bytes(), b"\0"].concat()
}

/// `sm_assets` key of asset `id`'s share with `tenant`.
pub(crate) fn share_key(id: &str, tenant: &str) -> Vec<u8> {
    [shares_prefix(id).as_slice(), tenant.as_bytes()].concat()
}

/// Every share record.
pub(crate) const SHARE_RECORDS: &[u8] = &[SHARE];

/// `sm_asset_index` entry of share `s` in its tenant's incoming list:
/// `I<tenant>\0[created][asset id]`.
pub(crate) fn incoming_key(s: &Share) -> Vec<u8> {
    [incoming_prefix(&s.tenant).as_slice(), &position(s.created, &s.asset)].concat()
}

/// `sm_asset_index` prefix of the shares `tenant` received, by the time they were made.
pub fn incoming_prefix(tenant: &str) -> Vec<u8> {
    head(INCOMING, tenant)
}

/// The asset ids of the `O` entries under an [`object_ref_prefix`].
pub(crate) fn ref_asset(prefix_len: usize, k: &[u8]) -> Option<&str> {
    let tail = k.get(prefix_len..)?;
    std::str::from_utf8(tail.get(..tail.len().checked_sub(6)?)?).ok()
}

/// `sm_asset_index` prefix of the trash's purge order: `x[purge_at: u64 BE][id]`.
pub(crate) const DUE_ENTRIES: &[u8] = &[DUE];

/// `sm_asset_index` prefix of the entries of every asset version (and rendition)
/// that points at object version `o`: `O[bucket_len: u8][bucket][key_len: u16 BE][key]
/// [vid_len: u8][version id]`, then `[asset id]\0[number: u32 BE][slot: u8]`.
pub(crate) fn object_ref_prefix(o: &ObjectRef) -> Vec<u8> {
    let vid = o.version_id.as_deref().unwrap_or("");
    let mut k = vec![OBJECT_REF];
    k.push(o.bucket.len() as u8);
    k.extend_from_slice(o.bucket.as_bytes());
    k.extend_from_slice(&(o.key.len().min(u16::MAX as usize) as u16).to_be_bytes());
    k.extend_from_slice(o.key.as_bytes());
    k.push(vid.len() as u8);
    k.extend_from_slice(vid.as_bytes());
    k
}

/// `sm_asset_index` prefix of `tenant`'s versions holding content `sha256` (hex) of
/// `size` bytes: `H<tenant>\0[sha256: 32 bytes][size: u64 BE]`, then `[asset id]\0
/// [number: u32 BE]`. `None` for a malformed hash.
pub fn content_prefix(tenant: &str, sha256: &str, size: Option<u64>) -> Option<Vec<u8>> {
    let raw = hex_bytes(sha256)?;
    let mut k = head(CONTENT, tenant);
    k.extend_from_slice(&raw);
    if let Some(n) = size {
        k.extend_from_slice(&n.to_be_bytes());
    }
    Some(k)
}

/// The prefix of every content entry of `tenant`.
pub fn contents_prefix(tenant: &str) -> Vec<u8> {
    head(CONTENT, tenant)
}

/// (sha256 hex, size, asset id, number) of a content entry of `tenant`.
pub fn parse_content(tenant: &str, k: &[u8]) -> Option<(String, u64, String, u32)> {
    let rest = k.strip_prefix(head(CONTENT, tenant).as_slice())?;
    let sha = rest.get(..32)?;
    let size = u64::from_be_bytes(rest.get(32..40)?.try_into().ok()?);
    let tail = rest.get(40..)?;
    let (id, number) = tail.split_at(tail.len().checked_sub(5)?);
    let number = u32::from_be_bytes(number.get(1..5)?.try_into().ok()?);
    Some((hex_string(sha), size, String::from_utf8(id.to_vec()).ok()?, number))
}

fn hex_bytes(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Every object version `v` points at: its object, then its renditions'.
pub fn objects_of(v: &AssetVersion) -> impl Iterator<Item = &ObjectRef> {
    std::iter::once(&v.object).chain(v.renditions.iter().map(|r| &r.object))
}

/// The index entries of version `v` of asset `id` of `tenant`: one per object it
/// points at, and one for its content.
pub(crate) fn version_entries(tenant: &str, id: &str, v: &AssetVersion) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = objects_of(v)
        .enumerate()
        .map(|(slot, o)| {
            let mut k = object_ref_prefix(o);
            k.extend_from_slice(id.as_bytes());
            k.push(0);
            k.extend_from_slice(&v.number.to_be_bytes());
            k.push(slot as u8);
            k
        })
        .collect();
    if let Some(mut k) = v.sha256.as_deref().and_then(|s| content_prefix(tenant, s, Some(v.size))) {
        k.extend_from_slice(id.as_bytes());
        k.push(0);
        k.extend_from_slice(&v.number.to_be_bytes());
        out.push(k);
    }
    out
}

fn head(kind: u8, tenant: &str) -> Vec<u8> {
    [&[kind], tenant.as_bytes(), b"\0"].concat()
}

fn label(mut k: Vec<u8>, s: &str) -> Vec<u8> {
    k.extend_from_slice(s.as_bytes());
    k.push(0);
    k
}

/// Which index a query scans, and the value it fixes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexScan {
    Tenant,
    /// The tenant's trash, by the time each asset was trashed.
    Trash,
    MediaType(MediaType),
    Project(String),
    Status(String),
    Tag(String, String),
}

/// The prefix, in `sm_asset_index`, of the entries `scan` walks for `tenant`; each
/// entry is the prefix followed by `[created: u64 BE][id]`.
pub fn index_prefix(tenant: &str, scan: &IndexScan) -> Vec<u8> {
    match scan {
        IndexScan::Tenant => head(BY_TENANT, tenant),
        IndexScan::Trash => head(TRASH, tenant),
        IndexScan::MediaType(t) => {
            let mut k = head(BY_TYPE, tenant);
            k.push(t.code());
            k
        }
        IndexScan::Project(p) => label(head(BY_PROJECT, tenant), p),
        IndexScan::Status(s) => label(head(BY_STATUS, tenant), s),
        IndexScan::Tag(k, v) => label(label(head(BY_TAG, tenant), k), v),
    }
}

/// The `[created][id]` end of an index entry.
pub fn position(created: Nanos, id: &str) -> Vec<u8> {
    [&created.to_be_bytes()[..], id.as_bytes()].concat()
}

/// An index entry's end back as (created, id).
pub fn parse_position(b: &[u8]) -> Option<(Nanos, String)> {
    let created = Nanos::from_be_bytes(b.get(..8)?.try_into().ok()?);
    Some((created, String::from_utf8(b[8..].to_vec()).ok()?))
}

pub(crate) fn stats_key(tenant: &str, t: MediaType) -> Vec<u8> {
    let mut k = head(STATS, tenant);
    k.push(t.code());
    k
}

/// `sm_asset_events` prefix of `tenant`'s events.
pub(crate) fn events_prefix(tenant: &str) -> Vec<u8> {
    [tenant.as_bytes(), b"\0"].concat()
}

/// `sm_asset_events` key of `tenant`'s event at log position `at` (index, command).
pub(crate) fn event_key(tenant: &str, at: (u64, u32)) -> Vec<u8> {
    [events_prefix(tenant).as_slice(), &at.0.to_be_bytes(), &at.1.to_be_bytes()].concat()
}

/// The log position at the end of an [`event_key`].
pub(crate) fn event_position(k: &[u8]) -> Option<(u64, u32)> {
    let tail = k.get(k.len().checked_sub(12)?..)?;
    Some((u64::from_be_bytes(tail[..8].try_into().ok()?), u32::from_be_bytes(tail[8..].try_into().ok()?)))
}

/// Records `e` in `tenant`'s feed at the current command's position, and drops (a
/// few at a time, oldest first) events older than [`ASSET_EVENTS_KEPT`].
pub(crate) fn record_event(tx: &mut Tx, tenant: &str, e: AssetEvent) -> Result<(), MetaError> {
    let cutoff = e.at.saturating_sub(ASSET_EVENTS_KEPT);
    let prefix = events_prefix(tenant);
    let first = tx.first_in_range(Table::AssetEvents, &prefix, &event_key(tenant, tx.at), 16)?;
    for (k, v) in first {
        let old: AssetEvent = bincode::deserialize(&v)?;
        if old.at >= cutoff {
            break;
        }
        tx.remove(Table::AssetEvents, k);
    }
    tx.write(Table::AssetEvents, event_key(tenant, tx.at), &e)
}

/// Every index entry of `a` (not those of its versions): a trashed asset is only in
/// the trash and in the purge order.
fn entries(a: &Asset) -> Vec<Vec<u8>> {
    if let (Some(trashed), Some(due)) = (a.trashed_at, a.purge_at) {
        let in_trash = [index_prefix(&a.tenant, &IndexScan::Trash), position(trashed, &a.id)].concat();
        let in_order = [DUE_ENTRIES, &position(due, &a.id)].concat();
        return vec![in_trash, in_order];
    }
    let at = position(a.created, &a.id);
    let mut scans = vec![IndexScan::Tenant, IndexScan::MediaType(a.media_type), IndexScan::Status(a.status.clone())];
    scans.extend(a.project.clone().map(IndexScan::Project));
    scans.extend(a.tags.iter().map(|(k, v)| IndexScan::Tag(k.clone(), v.clone())));
    scans.into_iter().map(|s| [index_prefix(&a.tenant, &s), at.clone()].concat()).collect()
}

fn add_stats(tx: &mut Tx, a: &Asset, sign: i128) -> Result<(), MetaError> {
    let k = stats_key(&a.tenant, a.media_type);
    let mut s: AssetStats = tx.read(Table::AssetIndex, &k)?.unwrap_or_default();
    let step = |v: u64, d: i128| u64::try_from((i128::from(v) + d).max(0)).unwrap_or(u64::MAX);
    s.count = step(s.count, sign);
    s.bytes = step(s.bytes, sign * i128::from(a.latest_size));
    if s == AssetStats::default() {
        tx.remove(Table::AssetIndex, k);
    } else {
        tx.write(Table::AssetIndex, k, &s)?;
    }
    Ok(())
}

/// Moves `sm_asset_index` from `before` to `after` (either may be absent: a new or a
/// removed asset): entries and stats.
pub(crate) fn reindex(tx: &mut Tx, before: Option<&Asset>, after: Option<&Asset>) -> Result<(), MetaError> {
    let old = before.map(entries).unwrap_or_default();
    let new = after.map(entries).unwrap_or_default();
    for k in old.iter().filter(|k| !new.contains(k)) {
        tx.remove(Table::AssetIndex, k.clone());
    }
    for k in new.iter().filter(|k| !old.contains(k)) {
        tx.set(Table::AssetIndex, k.clone(), Some(Vec::new()));
    }
    if let Some(b) = before.filter(|b| b.trashed_at.is_none()) {
        add_stats(tx, b, -1)?;
    }
    if let Some(a) = after.filter(|a| a.trashed_at.is_none()) {
        add_stats(tx, a, 1)?;
    }
    Ok(())
}

/// Rebuilds `sm_asset_index` from the asset records; returns the entries written.
pub(crate) fn rebuild(t: &SmTrees) -> Result<u64, MetaError> {
    t.tree(Table::AssetIndex).clear()?;
    let mut stats: BTreeMap<Vec<u8>, AssetStats> = BTreeMap::new();
    let mut batch = sled::Batch::default();
    let mut n = 0u64;
    let mut tenants: BTreeMap<String, String> = BTreeMap::new();
    for item in t.tree(Table::Assets).scan_prefix(ASSET_RECORDS) {
        let (_, v) = item?;
        let a: Asset = bincode::deserialize(&v)?;
        for k in entries(&a) {
            batch.insert(k, Vec::new());
            n += 1;
        }
        if a.trashed_at.is_none() {
            let s = stats.entry(stats_key(&a.tenant, a.media_type)).or_default();
            s.count += 1;
            s.bytes += a.latest_size;
        }
        tenants.insert(a.id.clone(), a.tenant.clone());
    }
    for item in t.tree(Table::Assets).scan_prefix(SHARE_RECORDS) {
        let (_, v) = item?;
        let share: Share = bincode::deserialize(&v)?;
        batch.insert(incoming_key(&share), Vec::new());
        n += 1;
    }
    for item in t.tree(Table::Assets).scan_prefix([VERSION]) {
        let (k, v) = item?;
        let Some(id) = k.get(1..k.len().saturating_sub(5)).and_then(|b| std::str::from_utf8(b).ok()) else { continue };
        let Some(tenant) = tenants.get(id) else { continue };
        let v: AssetVersion = bincode::deserialize(&v)?;
        for e in version_entries(tenant, id, &v) {
            batch.insert(e, Vec::new());
            n += 1;
        }
    }
    for (k, s) in stats {
        batch.insert(k, bincode::serialize(&s)?);
        n += 1;
    }
    t.tree(Table::AssetIndex).apply_batch(batch)?;
    Ok(n)
}
