//! Video annotations: notes on a version of a video asset, exact to the frame, with
//! revisions, threads and tombstones, decided in apply like every other record.
//!
//! An [`Annotation`] belongs to one video ([`VideoRef`]: an asset and one of its
//! versions) and to that asset's tenant. Its id is made by apply from the log position
//! (hex, so ids sort in commit order within a video and serve as cursors). A client id
//! makes creation idempotent (an offline client replaying its queue never makes a
//! duplicate). Every change raises the revision and keeps the one before in the
//! history; a delete leaves a tombstone (the record, marked deleted) so live clients
//! learn of it.
//!
//! `sm_annotations` (data):
//!
//! | key | value |
//! |---|---|
//! | `a<asset>\0[version: u32 BE][id]` | the annotation as it is now (tombstones included) |
//! | `h<id>\0[revision: u32 BE]` | each earlier revision |
//! | `c<asset>\0[version: u32 BE]<client id>` | the id a client id made |
//! | `i<id>` | bincode([`VideoRef`]): where annotation `id` lives |
//! | `m<asset>\0[version: u32 BE]` | the video's [`VideoTiming`], when set through the API |
//! | `n<asset>\0[version: u32 BE]` | the video's last live sequence number (u64 BE) |
//! | `e<asset>\0[version: u32 BE][last seq: u64 BE]` | a [`LiveRecord`]: one command's events, `first..=last` (those of the last [`LIVE_EVENTS_KEPT`] or so are kept) |
//!
//! `sm_annotation_index` (derived from the `a` records, [`rebuild`]; tombstones are in
//! none of it): `f<asset>\0[version][frame: u64 BE][id]` (by frame),
//! `u<asset>\0[version]<author>\0[id]` (by author), `s<asset>\0[version][status][id]`
//! (by status), `t<parent id>\0[id]` (a thread's replies).

use crate::assets::{MediaMeta, Ratio};
use crate::error::MetaError;
use crate::schema::Nanos;
use crate::tables::Table;
use crate::timing;
use crate::trees::SmTrees;
use crate::tx::Tx;
use serde::{Deserialize, Serialize};

/// A video: version `version` of asset `asset`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VideoRef {
    pub asset: String,
    pub version: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnnotationStatus {
    Open,
    Resolved,
}

impl AnnotationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotationStatus::Open => "open",
            AnnotationStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<AnnotationStatus> {
        [AnnotationStatus::Open, AnnotationStatus::Resolved].into_iter().find(|x| x.as_str() == s)
    }

    fn code(self) -> u8 {
        match self {
            AnnotationStatus::Open => 1,
            AnnotationStatus::Resolved => 2,
        }
    }
}

/// Who wrote or changes an annotation, by rank: changing someone else's annotation
/// needs a rank above a member's and at least its author's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    Member,
    BucketOwner,
    TenantAdmin,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::BucketOwner => "bucket_owner",
            Role::TenantAdmin => "tenant_admin",
            Role::Admin => "admin",
        }
    }
}

/// The content a client gives an annotation: where (frames, and the times apply
/// checked against them), what (an open list of kinds), and the rest as JSON text
/// (geometry normalised to the frame, style, and any field a newer client adds, kept
/// as it was sent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnotationContent {
    pub frame: u64,
    pub end_frame: Option<u64>,
    pub ms: u64,
    pub end_ms: Option<u64>,
    pub kind: String,
    pub text: Option<String>,
    /// JSON object text: geometry, style, unknown fields.
    pub body: String,
    pub status: AnnotationStatus,
    pub parent: Option<String>,
}

/// One annotation as it is now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    pub id: String,
    pub video: VideoRef,
    pub tenant: String,
    pub client_id: Option<String>,
    pub content: AnnotationContent,
    pub author: String,
    pub author_name: String,
    pub author_role: Role,
    pub revision: u32,
    pub created: Nanos,
    pub updated: Nanos,
    /// A tombstone: deleted at `updated`.
    pub deleted: bool,
}

/// How a video's frames map to time. Set through the API, or taken from the asset's
/// video metadata (frame rate and duration) when none is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoTiming {
    pub rate: Ratio,
    pub frames: Option<u64>,
    pub duration_ms: Option<u64>,
    /// The timecode of the first frame, as a frame count (01:00:00:00 at 24/1 is
    /// 86,400); timecodes shown and accepted are offset by it.
    pub start_frame: u64,
    pub drop_frame: bool,
}

impl VideoTiming {
    /// The timing an asset's video metadata gives, if it names a frame rate.
    pub fn from_meta(meta: &MediaMeta) -> Option<VideoTiming> {
        let rate = meta.frame_rate?;
        Some(VideoTiming { rate, frames: None, duration_ms: meta.duration_ms, start_frame: 0, drop_frame: false })
    }

    /// How many frames the video has, if known: the count given, or the frames that
    /// start before the duration ends.
    pub fn frame_count(&self) -> Option<u64> {
        if let Some(n) = self.frames {
            return Some(n);
        }
        match self.duration_ms? {
            0 => Some(0),
            d => timing::frame_at_ms(d - 1, self.rate).ok().map(|f| f + 1),
        }
    }
}

/// What a live event says happened to an annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LiveKind {
    Created,
    Updated,
    /// Its status (open, resolved) changed, and nothing else.
    StatusChanged,
    Deleted,
}

impl LiveKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LiveKind::Created => "created",
            LiveKind::Updated => "updated",
            LiveKind::StatusChanged => "status_changed",
            LiveKind::Deleted => "deleted",
        }
    }
}

/// One entry of a video's live sequence: annotation `id` at `revision` (its record
/// then is the current one or in its history).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveEvent {
    pub id: String,
    pub revision: u32,
    pub kind: LiveKind,
}

/// The live events of one command, numbered `first`, `first + 1`, ….
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveRecord {
    pub first: u64,
    pub events: Vec<LiveEvent>,
}

impl LiveRecord {
    pub fn last(&self) -> u64 {
        self.first + self.events.len() as u64 - 1
    }
}

/// Live events kept per video (at least; whole records are dropped): a client further
/// behind re-reads with a query.
pub const LIVE_EVENTS_KEPT: u64 = 100_000;

/// A new annotation, as a create command carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAnnotation {
    pub client_id: Option<String>,
    pub content: AnnotationContent,
}

/// Who is acting, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub key: String,
    pub name: String,
    pub role: Role,
    pub at: Nanos,
}

/// Why apply refused an annotation command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnnotationRefusal {
    NoSuchVideo(VideoRef),
    NoSuchAnnotation(String),
    /// A reply's parent is not an annotation of the same video.
    NoSuchParent(String),
    /// `if_revision` did not match: the annotation as it is now.
    RevisionMoved(Box<Annotation>),
    /// Changing someone else's annotation needs a role above a member's and at least
    /// the author's.
    NotAllowed {
        author_role: Role,
    },
    /// The client id was used for another annotation's content.
    ClientIdConflict(String),
    /// Neither the API nor the asset's metadata gives the video's frame rate.
    TimingUnknown,
    /// A frame and a time that are not the same moment at the video's rate.
    TimingDisagrees {
        frame: u64,
        ms: u64,
    },
    /// A frame past the video's last (`frames` frames), or a range that ends before
    /// it starts.
    OutsideVideo {
        frame: u64,
        frames: Option<u64>,
    },
}

/// What apply answers an annotation command that took effect: each annotation it
/// made or changed (in the order given), and whether it was an idempotent replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnotationOutcome {
    pub tenant: String,
    pub video: VideoRef,
    pub items: Vec<(Annotation, bool)>,
}

/// Most annotations in one batch.
pub const MAX_ANNOTATION_BATCH: usize = 1000;

// --- keys -----------------------------------------------------------------------

const CURRENT: u8 = b'a';
const HISTORY: u8 = b'h';
const CLIENT: u8 = b'c';
const LOCATOR: u8 = b'i';
const TIMING: u8 = b'm';
const SEQUENCE: u8 = b'n';
const LIVE: u8 = b'e';

const BY_FRAME: u8 = b'f';
const BY_AUTHOR: u8 = b'u';
const BY_STATUS: u8 = b's';
const THREAD: u8 = b't';

fn video_head(kind: u8, v: &VideoRef) -> Vec<u8> {
    [&[kind], v.asset.as_bytes(), b"\0", &v.version.to_be_bytes()].concat()
}

/// `sm_annotations` prefix of every annotation of video `v`, in id order.
pub fn video_prefix(v: &VideoRef) -> Vec<u8> {
    video_head(CURRENT, v)
}

/// `sm_annotations` prefix of every annotation of every version of `asset`.
pub fn asset_prefix(asset: &str) -> Vec<u8> {
    [&[CURRENT], asset.as_bytes(), b"\0"].concat()
}

pub(crate) fn current_key(v: &VideoRef, id: &str) -> Vec<u8> {
    [video_prefix(v).as_slice(), id.as_bytes()].concat()
}

pub(crate) fn history_prefix(id: &str) -> Vec<u8> {
    [&[HISTORY], id.as_bytes(), b"\0"].concat()
}

pub(crate) fn history_key(id: &str, revision: u32) -> Vec<u8> {
    [history_prefix(id).as_slice(), &revision.to_be_bytes()].concat()
}

pub(crate) fn client_key(v: &VideoRef, client_id: &str) -> Vec<u8> {
    [video_head(CLIENT, v).as_slice(), client_id.as_bytes()].concat()
}

pub(crate) fn locator_key(id: &str) -> Vec<u8> {
    [&[LOCATOR], id.as_bytes()].concat()
}

pub(crate) fn timing_key(v: &VideoRef) -> Vec<u8> {
    video_head(TIMING, v)
}

pub(crate) fn sequence_key(v: &VideoRef) -> Vec<u8> {
    video_head(SEQUENCE, v)
}

/// `sm_annotations` prefix of video `v`'s live events, in sequence order.
pub fn live_prefix(v: &VideoRef) -> Vec<u8> {
    video_head(LIVE, v)
}

/// The key of the live record whose last event is `seq` (or, as a range start, of the
/// first record holding events from `seq` on).
pub(crate) fn live_key(v: &VideoRef, seq: u64) -> Vec<u8> {
    [live_prefix(v).as_slice(), &seq.to_be_bytes()].concat()
}

/// `sm_annotations` prefixes of every record of every version of `asset` other than
/// the annotations (timings, sequences, live events).
pub(crate) fn asset_side_prefixes(asset: &str) -> [Vec<u8>; 3] {
    [TIMING, SEQUENCE, LIVE].map(|k| [&[k], asset.as_bytes(), b"\0"].concat())
}

/// `sm_annotation_index` prefix of video `v`'s annotations by frame: each entry is
/// the prefix, `[frame: u64 BE]`, then the id.
pub fn frame_prefix(v: &VideoRef) -> Vec<u8> {
    video_head(BY_FRAME, v)
}

/// `sm_annotation_index` prefix of `author`'s annotations on video `v`.
pub fn author_prefix(v: &VideoRef, author: &str) -> Vec<u8> {
    [video_head(BY_AUTHOR, v).as_slice(), author.as_bytes(), b"\0"].concat()
}

/// `sm_annotation_index` prefix of video `v`'s annotations in `status`.
pub fn status_prefix(v: &VideoRef, status: AnnotationStatus) -> Vec<u8> {
    let mut k = video_head(BY_STATUS, v);
    k.push(status.code());
    k
}

/// `sm_annotation_index` prefix of the replies to `parent`.
pub fn thread_prefix(parent: &str) -> Vec<u8> {
    [&[THREAD], parent.as_bytes(), b"\0"].concat()
}

fn entries(a: &Annotation) -> Vec<Vec<u8>> {
    if a.deleted {
        return Vec::new();
    }
    let id = a.id.as_bytes();
    let mut out = vec![
        [frame_prefix(&a.video).as_slice(), &a.content.frame.to_be_bytes(), id].concat(),
        [author_prefix(&a.video, &a.author).as_slice(), id].concat(),
        [status_prefix(&a.video, a.content.status).as_slice(), id].concat(),
    ];
    if let Some(p) = &a.content.parent {
        out.push([thread_prefix(p).as_slice(), id].concat());
    }
    out
}

/// Moves `sm_annotation_index` from `before` to `after`.
pub(crate) fn reindex(tx: &mut Tx, before: Option<&Annotation>, after: Option<&Annotation>) {
    let old = before.map(entries).unwrap_or_default();
    let new = after.map(entries).unwrap_or_default();
    for k in old.iter().filter(|k| !new.contains(k)) {
        tx.remove(Table::AnnotationIndex, k.clone());
    }
    for k in new.iter().filter(|k| !old.contains(k)) {
        tx.set(Table::AnnotationIndex, k.clone(), Some(Vec::new()));
    }
}

/// Rebuilds `sm_annotation_index` from the current records; returns the entries
/// written.
pub(crate) fn rebuild(t: &SmTrees) -> Result<u64, MetaError> {
    t.tree(Table::AnnotationIndex).clear()?;
    let mut batch = sled::Batch::default();
    let mut n = 0u64;
    for item in t.tree(Table::Annotations).scan_prefix([CURRENT]) {
        let (_, v) = item?;
        let a: Annotation = bincode::deserialize(&v)?;
        for k in entries(&a) {
            batch.insert(k, Vec::new());
            n += 1;
        }
    }
    t.tree(Table::AnnotationIndex).apply_batch(batch)?;
    Ok(n)
}
