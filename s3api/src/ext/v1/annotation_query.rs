//! Reading a video's annotations: queries by frame, time, a window around a
//! playhead, author, status and thread, a sync in commit order, one annotation at a
//! revision or a time, every version of an asset, the conflict report, and exports
//! (JSON Lines, CSV, WebVTT, an EDL marker list). Every query is one ordered scan of
//! an index (`raft/src/annotations.rs`); a cursor belongs to the query that made it.

use super::AdminError;
use super::annotation_fields::frame_of_timecode;
use super::annotations::Video;
use super::asset_fields::{invalid, limit_param};
use super::unavailable;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use cairn_api::annotations::{AnnotationInfo, AnnotationList, Conflict, ConflictReport};
use cairn_api::assets::codes::INVALID_CURSOR;
use cairn_raft::MetaStore;
use cairn_raft::annotations::{Annotation, AnnotationStatus, VideoRef};
use cairn_raft::assets::Asset;
use cairn_raft::schema::Nanos;
use cairn_raft::timing;
use s3s::{Body, S3Response};
use serde_json::Value;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// Default half-width of a window around a playhead.
const DEFAULT_WINDOW_SECS: u64 = 2;
/// Most annotations an export or a conflict report reads.
const MAX_SCAN: usize = 200_000;
/// Conflicts: annotations this close in time are compared.
const CONFLICT_MS: u64 = 1000;

fn bad_cursor() -> AdminError {
    AdminError::new(400, INVALID_CURSOR, "the cursor is not one this query gave").at("cursor")
}

fn encode_cursor(query: &str, frame: u64, id: &str) -> String {
    B64.encode(format!("{query}|{frame}|{id}"))
}

/// A cursor of query `query`: the (frame, id) it resumes after.
fn decode_cursor(query: &str, c: &str) -> Result<(u64, String), AdminError> {
    let raw = String::from_utf8(B64.decode(c.as_bytes()).map_err(|_| bad_cursor())?).map_err(|_| bad_cursor())?;
    let mut parts = raw.rsplitn(3, '|');
    let (id, frame, of) = (parts.next(), parts.next(), parts.next());
    match (of, frame.and_then(|f| f.parse().ok()), id) {
        (Some(q), Some(f), Some(id)) if q == query => Ok((f, id.to_string())),
        _ => Err(bad_cursor()),
    }
}

fn status_param(v: &str) -> Result<AnnotationStatus, AdminError> {
    AnnotationStatus::parse(v).ok_or_else(|| invalid("status", "status is open or resolved"))
}

fn number(field: &str, v: &str) -> Result<u64, AdminError> {
    v.parse().map_err(|_| invalid(field, format!("{field} is a whole number")))
}

/// What a list request asks for.
enum Scan {
    Frames(u64, u64),
    Author(String),
    Status(AnnotationStatus),
}

fn parse_list(v: &Video, query: Option<&str>) -> Result<(Scan, Option<String>, usize), AdminError> {
    let (mut from_frame, mut to_frame, mut from_ms, mut to_ms) = (None, None, None, None);
    let (mut at_frame, mut at_ms, mut at_tc, mut window) = (None, None, None, None);
    let (mut author, mut status, mut cursor, mut limit) = (None, None, None, DEFAULT_LIMIT);
    for (k, val) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "from_frame" => from_frame = Some(number("from_frame", &val)?),
            "to_frame" => to_frame = Some(number("to_frame", &val)?),
            "from_ms" => from_ms = Some(number("from_ms", &val)?),
            "to_ms" => to_ms = Some(number("to_ms", &val)?),
            "at_frame" => at_frame = Some(number("at_frame", &val)?),
            "at_ms" => at_ms = Some(number("at_ms", &val)?),
            "at_timecode" => at_tc = Some(val.into_owned()),
            "window_secs" => window = Some(number("window_secs", &val)?),
            "author" => author = Some(val.into_owned()),
            "status" => status = Some(status_param(&val)?),
            "cursor" => cursor = Some(val.into_owned()),
            "limit" => limit = limit_param(&val, MAX_LIMIT)?,
            other => return Err(invalid(other, format!("unknown parameter {other}"))),
        }
    }
    let frames = from_frame.is_some() || to_frame.is_some();
    let times = from_ms.is_some() || to_ms.is_some();
    let around = at_frame.is_some() || at_ms.is_some() || at_tc.is_some();
    let kinds = [frames, times, around, author.is_some(), status.is_some()].iter().filter(|b| **b).count();
    if kinds > 1 {
        return Err(invalid(
            "query",
            "ask for one of: a frame range, a time range, a window around a playhead, an author, a status",
        ));
    }
    if window.is_some() && !around {
        return Err(invalid("window_secs", "window_secs goes with at_frame, at_ms or at_timecode"));
    }
    let scan = if let Some(a) = author {
        Scan::Author(a)
    } else if let Some(s) = status {
        Scan::Status(s)
    } else if times {
        let t = v.timing()?;
        let from = timing::frame_at_ms(from_ms.unwrap_or(0), t.rate).map_err(|e| invalid("from_ms", e.to_string()))?;
        let to = match to_ms {
            Some(ms) => timing::frame_at_ms(ms, t.rate).map_err(|e| invalid("to_ms", e.to_string()))?,
            None => u64::MAX,
        };
        Scan::Frames(from, to)
    } else if around {
        let t = v.timing()?;
        let center_ms = match (at_frame, at_ms, at_tc) {
            (Some(f), None, None) => timing::ms_of_frame(f, t.rate).map_err(|e| invalid("at_frame", e.to_string()))?,
            (None, Some(ms), None) => ms,
            (None, None, Some(tc)) => {
                let f = frame_of_timecode("at_timecode", t, &tc)?;
                timing::ms_of_frame(f, t.rate).map_err(|e| invalid("at_timecode", e.to_string()))?
            }
            _ => return Err(invalid("at_frame", "name the playhead once: at_frame, at_ms or at_timecode")),
        };
        let w = window.unwrap_or(DEFAULT_WINDOW_SECS).saturating_mul(1000);
        let from = timing::frame_at_ms(center_ms.saturating_sub(w), t.rate).unwrap_or(0);
        let to = timing::frame_at_ms(center_ms.saturating_add(w), t.rate).unwrap_or(u64::MAX);
        Scan::Frames(from, to)
    } else {
        Scan::Frames(from_frame.unwrap_or(0), to_frame.unwrap_or(u64::MAX))
    };
    if let Scan::Frames(from, to) = scan
        && from > to
    {
        return Err(invalid("to_frame", "the range ends before it starts"));
    }
    Ok((scan, cursor, limit))
}

/// Annotation `id` as it is now, unless it is gone or a tombstone.
fn live(meta: &MetaStore, id: &str) -> Result<Option<Annotation>, AdminError> {
    Ok(meta.annotation(id).map_err(unavailable)?.filter(|a| !a.deleted))
}

/// `GET V/annotations?...`.
pub(super) fn list(meta: &MetaStore, v: &Video, query: Option<&str>) -> Result<AnnotationList, AdminError> {
    let (scan, cursor, limit) = parse_list(v, query)?;
    let mut annotations = Vec::new();
    let next_cursor = match scan {
        Scan::Frames(from, to) => {
            let q = format!("f{from}-{to}");
            let after = cursor.map(|c| decode_cursor(&q, &c)).transpose()?;
            let page = meta
                .annotations_by_frame(&v.video, from, to, after.as_ref().map(|(f, id)| (*f, id.as_str())), limit)
                .map_err(unavailable)?;
            for (_, id) in &page {
                annotations.extend(live(meta, id)?.map(|a| v.out(&a)));
            }
            page.last().filter(|_| page.len() == limit).map(|(f, id)| encode_cursor(&q, *f, id))
        }
        Scan::Author(who) => {
            let q = format!("a{who}");
            let after = cursor.map(|c| decode_cursor(&q, &c)).transpose()?.map(|(_, id)| id);
            let page = meta.annotations_by_author(&v.video, &who, after.as_deref(), limit).map_err(unavailable)?;
            id_page_out(meta, v, &q, &page, limit, &mut annotations)?
        }
        Scan::Status(st) => {
            let q = format!("s{}", st.as_str());
            let after = cursor.map(|c| decode_cursor(&q, &c)).transpose()?.map(|(_, id)| id);
            let page = meta.annotations_by_status(&v.video, st, after.as_deref(), limit).map_err(unavailable)?;
            id_page_out(meta, v, &q, &page, limit, &mut annotations)?
        }
    };
    Ok(AnnotationList { annotations, next_cursor })
}

/// Adds the live annotations of a page of ids to `out`; the cursor after the page
/// if it was full.
fn id_page_out(
    meta: &MetaStore,
    v: &Video,
    q: &str,
    page: &[String],
    limit: usize,
    out: &mut Vec<AnnotationInfo>,
) -> Result<Option<String>, AdminError> {
    for id in page {
        out.extend(live(meta, id)?.map(|a| v.out(&a)));
    }
    Ok(page.last().filter(|_| page.len() == limit).map(|id| encode_cursor(q, 0, id)))
}

/// `after` and `limit` of a paged read in id order.
fn id_page(query: Option<&str>, what: &str) -> Result<(Option<String>, usize), AdminError> {
    let (mut after, mut limit) = (None, DEFAULT_LIMIT);
    for (k, val) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "after" | "cursor" => after = Some(val.into_owned()),
            "limit" => limit = limit_param(&val, MAX_LIMIT)?,
            other => return Err(invalid(other, format!("unknown parameter {other} of {what}"))),
        }
    }
    Ok((after, limit))
}

/// `GET V/annotations/sync?after=ID`: every annotation in id (commit) order,
/// tombstones included, for a client that keeps a copy.
pub(super) fn sync(meta: &MetaStore, v: &Video, query: Option<&str>) -> Result<AnnotationList, AdminError> {
    let (after, limit) = id_page(query, "a sync")?;
    let page = meta.video_annotations(&v.video, after.as_deref(), limit).map_err(unavailable)?;
    let next_cursor = page.last().filter(|_| page.len() == limit).map(|a| a.id.clone());
    Ok(AnnotationList { annotations: page.iter().map(|a| v.out(a)).collect(), next_cursor })
}

/// `GET V/annotations/A/thread`: the replies to `id`, in id order.
pub(super) fn thread(meta: &MetaStore, v: &Video, id: &str, query: Option<&str>) -> Result<AnnotationList, AdminError> {
    v.annotation(meta, id)?;
    let (after, limit) = id_page(query, "a thread")?;
    let page = meta.annotation_thread(id, after.as_deref(), limit).map_err(unavailable)?;
    let mut annotations = Vec::new();
    for r in &page {
        annotations.extend(live(meta, r)?.map(|a| v.out(&a)));
    }
    let next_cursor = page.last().filter(|_| page.len() == limit).cloned();
    Ok(AnnotationList { annotations, next_cursor })
}

/// `GET V/annotations/A[?revision=R|as_of=T]`.
pub(super) fn get(meta: &MetaStore, v: &Video, id: &str, query: Option<&str>) -> Result<AnnotationInfo, AdminError> {
    let now = v.annotation(meta, id)?;
    let (mut revision, mut as_of) = (None, None);
    for (k, val) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "revision" => revision = Some(number("revision", &val)? as u32),
            "as_of" => as_of = Some(super::asset_query::time_param("as_of", &val)?),
            other => return Err(invalid(other, format!("unknown parameter {other}"))),
        }
    }
    let gone = || AdminError::new(404, cairn_api::annotations::codes::NO_SUCH_ANNOTATION, "no such revision");
    let a = match (revision, as_of) {
        (Some(_), Some(_)) => return Err(invalid("as_of", "ask for a revision or a time, not both")),
        (Some(r), None) => meta.annotation_revision(id, r).map_err(unavailable)?.ok_or_else(gone)?,
        (None, Some(t)) => as_it_was(meta, now, t)?.ok_or_else(|| {
            AdminError::new(404, cairn_api::annotations::codes::NO_SUCH_ANNOTATION, "the annotation did not exist then")
        })?,
        (None, None) => now,
    };
    Ok(v.out(&a))
}

/// The revision of an annotation that was current at time `t`.
fn as_it_was(meta: &MetaStore, now: Annotation, t: Nanos) -> Result<Option<Annotation>, AdminError> {
    if now.updated <= t {
        return Ok(Some(now));
    }
    let history = meta.annotation_history(&now.id).map_err(unavailable)?;
    Ok(history.into_iter().rev().find(|a| a.updated <= t))
}

/// `GET assets/ID/annotations[?author=K][&status=S]`: every version's live
/// annotations, by version then id.
pub(super) fn across_versions(
    meta: &MetaStore,
    asset: &Asset,
    query: Option<&str>,
) -> Result<AnnotationList, AdminError> {
    let (mut author, mut status, mut cursor, mut limit) = (None, None, None, DEFAULT_LIMIT);
    for (k, val) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "author" => author = Some(val.into_owned()),
            "status" => status = Some(status_param(&val)?),
            "cursor" => cursor = Some(val.into_owned()),
            "limit" => limit = limit_param(&val, MAX_LIMIT)?,
            other => return Err(invalid(other, format!("unknown parameter {other}"))),
        }
    }
    let q = format!("v{}|{}", author.as_deref().unwrap_or(""), status.map(|s| s.as_str()).unwrap_or(""));
    let (mut version, mut after) = match cursor {
        Some(c) => {
            let (n, id) = decode_cursor(&q, &c)?;
            (u32::try_from(n).map_err(|_| bad_cursor())?, Some(id))
        }
        None => (1, None),
    };
    let mut timings = std::collections::HashMap::new();
    let mut annotations = Vec::new();
    while version <= asset.versions && annotations.len() < limit {
        let v = VideoRef { asset: asset.id.clone(), version };
        let want = limit - annotations.len();
        let ids: Vec<String> = match (&author, status) {
            (Some(a), _) => meta.annotations_by_author(&v, a, after.as_deref(), want),
            (None, Some(s)) => meta.annotations_by_status(&v, s, after.as_deref(), want),
            (None, None) => {
                meta.video_annotations(&v, after.as_deref(), want).map(|page| page.into_iter().map(|a| a.id).collect())
            }
        }
        .map_err(unavailable)?;
        let t = timings.entry(version).or_insert_with(|| meta.video_timing(&v).ok().flatten());
        for id in &ids {
            if let Some(a) = live(meta, id)?
                && status.is_none_or(|s| s == a.content.status)
            {
                annotations.push(super::annotation_fields::annotation_out(&a, t.as_ref(), &asset.tenant));
            }
            after = Some(id.clone());
        }
        if ids.len() < want {
            version += 1;
            after = None;
        }
    }
    let next_cursor = match &after {
        Some(id) if annotations.len() >= limit => Some(encode_cursor(&q, u64::from(version), id)),
        None if annotations.len() >= limit && version <= asset.versions => {
            Some(encode_cursor(&q, u64::from(version), ""))
        }
        _ => None,
    };
    Ok(AnnotationList { annotations, next_cursor })
}

/// The video's live annotations in (frame, id) order, at most [`MAX_SCAN`]; whether
/// there were more.
fn all_by_frame(meta: &MetaStore, v: &VideoRef) -> Result<(Vec<Annotation>, bool), AdminError> {
    let mut out = Vec::new();
    let mut after: Option<(u64, String)> = None;
    loop {
        let page = meta
            .annotations_by_frame(v, 0, u64::MAX, after.as_ref().map(|(f, id)| (*f, id.as_str())), 1000)
            .map_err(unavailable)?;
        for (_, id) in &page {
            out.extend(live(meta, id)?);
            if out.len() >= MAX_SCAN {
                return Ok((out, true));
            }
        }
        match page.last() {
            Some(last) if page.len() == 1000 => after = Some(last.clone()),
            _ => return Ok((out, false)),
        }
    }
}

/// A bounding box in frame coordinates: (x0, y0, x1, y1).
type Bounds = (f64, f64, f64, f64);

/// A shape's bounding box.
fn bounds(a: &Annotation) -> Option<Bounds> {
    let body: Value = serde_json::from_str(&a.content.body).ok()?;
    let g = body.get("geometry")?;
    let n = |k: &str| g.get(k).and_then(Value::as_f64);
    let boxed = |xs: &[f64], ys: &[f64]| {
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (!xs.is_empty()).then(|| (min(xs), min(ys), max(xs), max(ys)))
    };
    if let (Some(x), Some(y), Some(w), Some(h)) = (n("x"), n("y"), n("w"), n("h")) {
        return Some((x, y, x + w, y + h));
    }
    if let (Some(x1), Some(y1), Some(x2), Some(y2)) = (n("x1"), n("y1"), n("x2"), n("y2")) {
        return boxed(&[x1, x2], &[y1, y2]);
    }
    if let Some(points) = g.get("points").and_then(Value::as_array) {
        let (xs, ys): (Vec<f64>, Vec<f64>) =
            points.iter().filter_map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?))).unzip();
        return boxed(&xs, &ys);
    }
    match (n("x"), n("y")) {
        (Some(x), Some(y)) => Some((x, y, x, y)),
        _ => None,
    }
}

fn overlap(a: Bounds, b: Bounds) -> bool {
    a.0 <= b.2 && b.0 <= a.2 && a.1 <= b.3 && b.1 <= a.3
}

/// `GET V/annotations/conflicts`: pairs of annotations within a second of each other
/// whose shapes' bounding boxes overlap (replies, and shapes without geometry, are
/// not compared).
pub(super) fn conflicts(meta: &MetaStore, v: &Video) -> Result<ConflictReport, AdminError> {
    let (all, more) = all_by_frame(meta, &v.video)?;
    let shapes: Vec<(&Annotation, Bounds)> =
        all.iter().filter(|a| a.content.parent.is_none()).filter_map(|a| bounds(a).map(|b| (a, b))).collect();
    let mut conflicts = Vec::new();
    for (i, (a, ab)) in shapes.iter().enumerate() {
        for (b, bb) in
            shapes[i + 1..].iter().take_while(|(b, _)| b.content.ms.saturating_sub(a.content.ms) <= CONFLICT_MS)
        {
            if overlap(*ab, *bb) {
                conflicts.push(Conflict {
                    first: a.id.clone(),
                    second: b.id.clone(),
                    frames: [a.content.frame, b.content.frame],
                });
            }
        }
    }
    Ok(ConflictReport { conflicts, truncated_at: more.then_some(MAX_SCAN) })
}

/// `GET V/annotations/export?format=...`.
pub(super) fn export(meta: &MetaStore, v: &Video, query: Option<&str>) -> Result<S3Response<Body>, AdminError> {
    let mut format = None;
    for (k, val) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "format" => format = Some(val.into_owned()),
            other => return Err(invalid(other, format!("unknown parameter {other}"))),
        }
    }
    let format = format.unwrap_or_else(|| "jsonl".into());
    let (all, more) = all_by_frame(meta, &v.video)?;
    if more {
        return Err(AdminError::new(
            413,
            "TooManyAnnotations",
            format!("the video has more than {MAX_SCAN} annotations; page through them with a query"),
        ));
    }
    let infos: Vec<AnnotationInfo> = all.iter().map(|a| v.out(a)).collect();
    let title = format!("{} v{}", v.asset.name, v.video.version);
    let (text, content_type, ext) = match format.as_str() {
        "jsonl" => (super::annotation_export::jsonl(&infos), "application/x-ndjson", "jsonl"),
        "csv" => (super::annotation_export::csv(&infos)?, "text/csv; charset=utf-8", "csv"),
        "webvtt" | "vtt" => (super::annotation_export::webvtt(&infos), "text/vtt; charset=utf-8", "vtt"),
        "edl" => (super::annotation_export::edl(&title, v.timing()?, &infos), "text/plain; charset=utf-8", "edl"),
        _ => return Err(invalid("format", "format is jsonl, csv, webvtt or edl")),
    };
    let mut resp = S3Response::with_status(Body::from(text), http::StatusCode::OK);
    resp.headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    let name = format!("attachment; filename=\"annotations-{}-v{}.{ext}\"", v.video.asset, v.video.version);
    if let Ok(h) = http::HeaderValue::from_str(&name) {
        resp.headers.insert(http::header::CONTENT_DISPOSITION, h);
    }
    Ok(resp)
}
