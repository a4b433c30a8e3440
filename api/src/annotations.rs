//! `/cairn/v1/assets/ID/versions/N/...`: frame-exact annotations on a version of a
//! video asset, its timing, and its live stream. `V` below is
//! `assets/ID/versions/N` (N a version number).
//!
//! | method and path | request | answer |
//! |---|---|---|
//! | `GET V/timing` | | [`VideoTimingInfo`] (`source`: `set` or `metadata`) |
//! | `PUT V/timing` | [`VideoTimingInfo`] | [`VideoTimingInfo`] |
//! | `POST V/annotations` | [`NewAnnotation`] | [`AnnotationInfo`] (201; 200 for a replay of its `client_id`) |
//! | `POST V/annotations/batch` | [`AnnotationBatch`] (at most 1,000) | [`AnnotationBatchResult`] (201): all made, or none |
//! | `GET V/annotations?...` | | [`AnnotationList`]: see *Queries* |
//! | `GET V/annotations/sync[?after=ID][&limit=N]` | | [`AnnotationList`] in id (commit) order, tombstones included |
//! | `GET V/annotations/conflicts` | | [`ConflictReport`] |
//! | `GET V/annotations/export?format=jsonl\|csv\|webvtt\|edl` | | the annotations as a file |
//! | `GET V/annotations/live[?after=SEQ]` | | Server-Sent Events: see *Live* |
//! | `GET V/annotations/ws[?after=SEQ]` | | a WebSocket: see *Live* |
//! | `GET V/annotations/A[?revision=R\|as_of=RFC3339]` | | [`AnnotationInfo`], `ETag: "revision"` |
//! | `PATCH V/annotations/A` (`If-Match: "revision"`) | [`AnnotationPatch`] | [`AnnotationInfo`]; a stale revision gets 412 and the current one |
//! | `DELETE V/annotations/A` (`If-Match` optional) | | [`AnnotationInfo`]: the tombstone |
//! | `GET V/annotations/A/history` | | [`AnnotationHistory`]: every revision, oldest first |
//! | `GET V/annotations/A/thread[?cursor=C][&limit=N]` | | [`AnnotationList`]: the replies |
//! | `GET assets/ID/annotations[?author=K][&status=S][&cursor=C][&limit=N]` | | [`AnnotationList`] across every version of the asset |
//! | `GET annotations/kinds` | | [`AnnotationKinds`] |
//!
//! *Queries* take one of: `from_frame`/`to_frame`; `from_ms`/`to_ms`; `at_frame`,
//! `at_ms` or `at_timecode` with `window_secs` (±N seconds around a playhead, default
//! 2); or none (every frame). `author=KEY` or `status=open|resolved` list by those
//! instead, in id order. All with `cursor` and `limit` (at most 1,000); every query is
//! one ordered index scan.
//!
//! *Timing*: a frame rate is an exact ratio (`30000/1001`, `25`). A client sends a
//! frame, a time in ms or a timecode for where an annotation starts (and may for where
//! it ends); the server fills in the others, and refuses a frame and a time that are
//! not the same moment (`TimingDisagrees`).
//!
//! *Live*: each committed create, update, status change and delete of the video's
//! annotations is one event with the video's next sequence number, in commit order,
//! from any node. SSE: `id:` the sequence, `event:` the kind (`created`, `updated`,
//! `status_changed`, `deleted`), `data:` a [`LiveEventInfo`]; a reconnecting
//! `Last-Event-ID` (or `after`) resumes with exactly what was missed. A client too
//! far behind gets one `reset` event ([`LiveReset`]) and re-reads with a query.
//! Comments every 15 s keep idle connections open. The WebSocket sends the same
//! events as JSON text ([`LiveMessage`]) and carries presence: a client's
//! `{"type":"presence","frame":F,"pointer":{"x":..,"y":..}}` reaches the other
//! clients of the video on every node, and is never stored. Both accept SigV4
//! presigned URLs, for browsers.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Stable error codes of the annotation API (with those of
/// [`crate::assets::codes`] and [`crate::tenants::codes`]).
pub mod codes {
    pub const NO_SUCH_ANNOTATION: &str = "NoSuchAnnotation";
    /// A reply's parent is not an annotation of the same video.
    pub const NO_SUCH_PARENT: &str = "NoSuchParent";
    /// `If-Match` named another revision: the answer holds the current one.
    pub const REVISION_MOVED: &str = "PreconditionFailed";
    /// Changing someone else's annotation needs a role at least the author's.
    pub const NOT_ALLOWED: &str = "AccessDenied";
    pub const CLIENT_ID_CONFLICT: &str = "ClientIdConflict";
    /// Neither the video's timing nor its asset's metadata gives a frame rate.
    pub const TIMING_UNKNOWN: &str = "TimingUnknown";
    pub const TIMING_DISAGREES: &str = "TimingDisagrees";
    pub const OUTSIDE_VIDEO: &str = "OutsideVideo";
    pub const INVALID_GEOMETRY: &str = "InvalidGeometry";
    /// The asset is not a video.
    pub const NOT_A_VIDEO: &str = "NotAVideo";
}

/// The kinds the server knows (it checks their geometry); any other kind of the same
/// shape (`[a-z0-9_-]`, at most 32) is kept as sent, for newer clients.
pub const KINDS: [&str; 8] = ["text", "rect", "ellipse", "arrow", "line", "polygon", "freehand", "point"];
/// The version of [`KINDS`] and their geometry rules.
pub const KINDS_VERSION: u32 = 1;
/// Most annotations in one batch.
pub const MAX_BATCH: usize = 1000;
/// Largest JSON of one annotation's geometry, style and other fields together.
pub const MAX_BODY_JSON: usize = 16 << 10;
/// Largest text of one annotation.
pub const MAX_TEXT: usize = 8 << 10;

/// A video's timing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoTimingInfo {
    /// An exact ratio: `24`, `25`, `30000/1001`, `60000/1001`.
    pub frame_rate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// The timecode of the first frame (`01:00:00:00`); default `00:00:00:00`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timecode: Option<String>,
    #[serde(default)]
    pub drop_frame: bool,
    /// In answers: `set` (through this API) or `metadata` (the asset's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A new annotation. Where it starts: `frame`, `ms` or `timecode` (one is enough;
/// more must agree); where a range ends likewise. Any field not named here
/// (`geometry`, `style`, and whatever a newer client sends) is kept as sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NewAnnotation {
    /// The client's idempotency key: sending it again answers the first annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timecode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_frame: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_timecode: Option<String>,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `open` (default) or `resolved`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The annotation this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Coordinates normalised to the frame (0..1 of width and height): `{x, y, w, h}`
    /// for rect and ellipse, `{x, y}` for point and text, `{x1, y1, x2, y2}` for line
    /// and arrow, `{points: [[x, y], ...]}` for polygon and freehand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geometry: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<Value>,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An edit: the annotation's content replaced by these fields (its parent stays).
pub type AnnotationPatch = NewAnnotation;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnotationBatch {
    pub annotations: Vec<NewAnnotation>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AnnotationBatchResult {
    /// One per request item, in order.
    pub annotations: Vec<AnnotationInfo>,
    /// For each: whether it was a replay of an annotation made before.
    pub replayed: Vec<bool>,
}

/// The answer to an edit or delete whose `If-Match` names a stale revision (412):
/// the error, and the annotation as it is now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaleRevision {
    pub error: crate::ErrorDetail,
    pub current: AnnotationInfo,
}

impl StaleRevision {
    pub fn new(message: impl Into<String>, current: AnnotationInfo) -> Self {
        let error = crate::ErrorDetail { code: codes::REVISION_MOVED.into(), message: message.into(), field: None };
        Self { error, current }
    }
}

/// One annotation as answers show it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AnnotationInfo {
    /// Orders the annotation within its video (commit order); usable as a cursor.
    pub id: String,
    pub asset: String,
    pub version: u32,
    pub tenant: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub frame: u64,
    pub ms: u64,
    /// SMPTE, from the video's timing (`;` before the frames for drop-frame).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timecode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_frame: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_timecode: Option<String>,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The author's access key, its name and role (`member`, `bucket_owner`,
    /// `tenant_admin`, `admin`).
    pub author: String,
    pub author_name: String,
    pub author_role: String,
    pub revision: u32,
    pub created: String,
    pub updated: String,
    /// A tombstone: deleted at `updated`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geometry: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<Value>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AnnotationList {
    pub annotations: Vec<AnnotationInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AnnotationHistory {
    /// Every revision, oldest first; the last is the current one.
    pub revisions: Vec<AnnotationInfo>,
}

/// Two annotations within a second of each other whose shapes overlap.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub first: String,
    pub second: String,
    pub frames: [u64; 2],
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConflictReport {
    pub conflicts: Vec<Conflict>,
    /// The report looked at the first this many annotations only (the video has
    /// more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated_at: Option<usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnotationKinds {
    pub version: u32,
    pub kinds: Vec<String>,
}

/// One live event: the video's sequence number, what happened, and the annotation
/// as that change left it (a tombstone for `deleted`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveEventInfo {
    pub seq: u64,
    pub kind: String,
    pub annotation: AnnotationInfo,
}

/// Sent instead of events a client is too far behind to be given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveReset {
    /// The video's latest sequence number: re-read with a query, then resume after it.
    pub seq: u64,
}

/// What the WebSocket carries, each as one JSON text message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    /// A committed change (server to client).
    Event(Box<LiveEventInfo>),
    /// The client is too far behind (server to client).
    Reset(LiveReset),
    /// A playhead and pointer: from a client, and (with `from` filled in by the
    /// server: the sender's access key and connection) to the video's other clients.
    Presence(Presence),
    /// Sent by the server every 15 s on an idle socket.
    Heartbeat { seq: u64 },
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<Pointer>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pointer {
    pub x: f64,
    pub y: f64,
}
