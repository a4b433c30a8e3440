//! The annotation API's fields: a request's frames, times and timecodes filled in
//! from the video's timing, its geometry checked against its kind, and records turned
//! into answers. No I/O. Apply checks the frames and times again against the timing
//! it sees (`raft/src/apply/annotations.rs`), so a timing changed meanwhile refuses
//! rather than stores a frame that is off.

use super::AdminError;
use super::asset_fields::invalid;
use crate::ext::admin::keys::rfc3339;
use cairn_api::annotations::{self as api, KINDS, MAX_BODY_JSON, MAX_TEXT, codes};
use cairn_raft::annotations::{Annotation, AnnotationContent, AnnotationStatus, VideoTiming};
use cairn_raft::assets::Ratio;
use cairn_raft::timing::{self, TimingError};
use serde_json::{Map, Value};

pub(super) fn timing_error(field: &str, e: TimingError) -> AdminError {
    let code = match e {
        TimingError::Disagree { .. } => codes::TIMING_DISAGREES,
        _ => cairn_api::tenants::codes::INVALID_REQUEST,
    };
    AdminError::new(400, code, e.to_string()).at(field)
}

/// `25`, `30000/1001`.
pub(super) fn parse_rate(s: &str) -> Option<Ratio> {
    let (num, den) = match s.split_once('/') {
        Some((n, d)) => (n.trim().parse().ok()?, d.trim().parse().ok()?),
        None => (s.trim().parse().ok()?, 1),
    };
    let r = Ratio { num, den };
    timing::nominal_fps(r).ok().map(|_| r)
}

pub(super) fn show_rate(r: Ratio) -> String {
    if r.den == 1 { r.num.to_string() } else { format!("{}/{}", r.num, r.den) }
}

/// A timing as `PUT V/timing` sends it.
pub(super) fn timing_in(t: &api::VideoTimingInfo) -> Result<VideoTiming, AdminError> {
    let rate = parse_rate(&t.frame_rate).ok_or_else(|| {
        invalid("frame_rate", "a frame rate is an exact ratio of positive integers below 1000 fps, such as 30000/1001")
    })?;
    if t.drop_frame && timing::timecode(0, rate, true).is_err() {
        return Err(invalid("drop_frame", TimingError::NoDropFrame.to_string()));
    }
    let start_frame = match &t.start_timecode {
        Some(tc) => timing::parse_timecode(tc, rate).map_err(|e| timing_error("start_timecode", e))?,
        None => 0,
    };
    Ok(VideoTiming { rate, frames: t.frame_count, duration_ms: t.duration_ms, start_frame, drop_frame: t.drop_frame })
}

pub(super) fn timing_out(t: &VideoTiming, set: bool) -> api::VideoTimingInfo {
    api::VideoTimingInfo {
        frame_rate: show_rate(t.rate),
        frame_count: t.frame_count(),
        duration_ms: t.duration_ms,
        start_timecode: (t.start_frame > 0).then(|| timecode(t, 0)).flatten(),
        drop_frame: t.drop_frame,
        source: Some(if set { "set" } else { "metadata" }.into()),
    }
}

/// Frame `frame`'s timecode on this video (offset by its start timecode).
pub(super) fn timecode(t: &VideoTiming, frame: u64) -> Option<String> {
    timing::timecode(frame.checked_add(t.start_frame)?, t.rate, t.drop_frame).ok()
}

/// The frame a timecode names on this video.
pub(super) fn frame_of_timecode(field: &str, t: &VideoTiming, tc: &str) -> Result<u64, AdminError> {
    let counted = timing::parse_timecode(tc, t.rate).map_err(|e| timing_error(field, e))?;
    counted.checked_sub(t.start_frame).ok_or_else(|| {
        AdminError::new(400, codes::OUTSIDE_VIDEO, format!("{tc} is before the video's start timecode")).at(field)
    })
}

/// A point in a request (start or end): its frame and time, from whichever of
/// frame, ms and timecode were sent (all that were sent must agree).
fn moment(
    t: &VideoTiming,
    field: &str,
    frame: Option<u64>,
    ms: Option<u64>,
    tc: Option<&str>,
) -> Result<Option<(u64, u64)>, AdminError> {
    let from_tc = tc.map(|tc| frame_of_timecode(&format!("{field}timecode"), t, tc)).transpose()?;
    let frame = match (frame, from_tc) {
        (Some(f), Some(g)) if f != g => {
            return Err(AdminError::new(
                400,
                codes::TIMING_DISAGREES,
                format!("{field}timecode names frame {g}, not frame {f}"),
            )
            .at(format!("{field}timecode")));
        }
        (f, g) => f.or(g),
    };
    timing::frame_and_ms(frame, ms, t.rate).map_err(|e| timing_error(&format!("{field}ms"), e))
}

fn unit(field: &str, v: &Value) -> Result<(), AdminError> {
    match v.as_f64() {
        Some(x) if (0.0..=1.0).contains(&x) => Ok(()),
        _ => Err(AdminError::new(
            400,
            codes::INVALID_GEOMETRY,
            format!("{field} is a coordinate normalised to the frame: a number from 0 to 1"),
        )
        .at(field)),
    }
}

/// Every named field of `g` is a coordinate.
fn coords(g: &Map<String, Value>, names: &[&str], kind: &str) -> Result<(), AdminError> {
    for n in names {
        let v = g.get(*n).ok_or_else(|| {
            AdminError::new(400, codes::INVALID_GEOMETRY, format!("a {kind} has geometry.{n}"))
                .at(format!("geometry.{n}"))
        })?;
        unit(&format!("geometry.{n}"), v)?;
    }
    Ok(())
}

/// A known kind's geometry has its coordinates, each in 0..1; an unknown kind's
/// geometry is kept as sent.
fn check_geometry(kind: &str, g: Option<&Value>) -> Result<(), AdminError> {
    if !KINDS.contains(&kind) {
        return Ok(());
    }
    let empty = Map::new();
    let g = match g {
        None if kind == "text" => &empty,
        None => {
            return Err(
                AdminError::new(400, codes::INVALID_GEOMETRY, format!("a {kind} has a geometry")).at("geometry")
            );
        }
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(AdminError::new(400, codes::INVALID_GEOMETRY, "geometry is an object").at("geometry"));
        }
    };
    match kind {
        "rect" | "ellipse" => coords(g, &["x", "y", "w", "h"], kind),
        "point" => coords(g, &["x", "y"], kind),
        "text" if g.is_empty() => Ok(()),
        "text" => coords(g, &["x", "y"], kind),
        "line" | "arrow" => coords(g, &["x1", "y1", "x2", "y2"], kind),
        _ => {
            // polygon, freehand: points [[x, y], ...]
            let min = if kind == "polygon" { 3 } else { 2 };
            let points = g.get("points").and_then(Value::as_array).filter(|p| p.len() >= min && p.len() <= 10_000);
            let points = points.ok_or_else(|| {
                AdminError::new(400, codes::INVALID_GEOMETRY, format!("a {kind} has geometry.points: {min} or more"))
                    .at("geometry.points")
            })?;
            for (i, p) in points.iter().enumerate() {
                match p.as_array().map(Vec::as_slice) {
                    Some([x, y]) => {
                        unit(&format!("geometry.points[{i}]"), x)?;
                        unit(&format!("geometry.points[{i}]"), y)?;
                    }
                    _ => {
                        return Err(AdminError::new(400, codes::INVALID_GEOMETRY, "a point is [x, y]")
                            .at(format!("geometry.points[{i}]")));
                    }
                }
            }
            Ok(())
        }
    }
}

fn valid_kind(k: &str) -> bool {
    (1..=32).contains(&k.len())
        && k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A request's annotation as the record stores it, with `parent` (a new one's; an
/// edit keeps the record's).
pub(super) fn content_in(t: &VideoTiming, n: &api::NewAnnotation) -> Result<AnnotationContent, AdminError> {
    if !valid_kind(&n.kind) {
        return Err(invalid("kind", "a kind is 1 to 32 of a-z, 0-9, _ and -"));
    }
    if n.text.as_ref().is_some_and(|s| s.len() > MAX_TEXT) {
        return Err(invalid("text", format!("text is at most {MAX_TEXT} bytes")));
    }
    if n.client_id.as_ref().is_some_and(|c| c.is_empty() || c.len() > 128) {
        return Err(invalid("client_id", "a client id has 1 to 128 bytes"));
    }
    check_geometry(&n.kind, n.geometry.as_ref())?;
    let (frame, ms) = moment(t, "", n.frame, n.ms, n.timecode.as_deref())?
        .ok_or_else(|| invalid("frame", "an annotation names where it starts: frame, ms or timecode"))?;
    let end = moment(t, "end_", n.end_frame, n.end_ms, n.end_timecode.as_deref())?;
    let status = match n.status.as_deref() {
        None => AnnotationStatus::Open,
        Some(s) => AnnotationStatus::parse(s).ok_or_else(|| invalid("status", "status is open or resolved"))?,
    };
    let mut body = n.other.clone();
    for (k, v) in [("geometry", &n.geometry), ("style", &n.style)] {
        if let Some(v) = v {
            body.insert(k.into(), v.clone());
        }
    }
    let body = serde_json::to_string(&Value::Object(body)).unwrap_or_default();
    if body.len() > MAX_BODY_JSON {
        return Err(invalid(
            "geometry",
            format!("geometry, style and other fields are at most {MAX_BODY_JSON} bytes of JSON"),
        ));
    }
    Ok(AnnotationContent {
        frame,
        end_frame: end.map(|e| e.0),
        ms,
        end_ms: end.map(|e| e.1),
        kind: n.kind.clone(),
        text: n.text.clone(),
        body,
        status,
        parent: n.parent.clone(),
    })
}

/// An annotation as answers show it; `t` gives its timecodes, `tenant` is its
/// asset's tenant now (the record keeps the one it was made in, which a transfer of
/// the asset does not rewrite).
pub(super) fn annotation_out(a: &Annotation, t: Option<&VideoTiming>, tenant: &str) -> api::AnnotationInfo {
    let mut other = match serde_json::from_str(&a.content.body) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let geometry = other.remove("geometry");
    let style = other.remove("style");
    let c = &a.content;
    api::AnnotationInfo {
        id: a.id.clone(),
        asset: a.video.asset.clone(),
        version: a.video.version,
        tenant: tenant.to_string(),
        client_id: a.client_id.clone(),
        frame: c.frame,
        ms: c.ms,
        timecode: t.and_then(|t| timecode(t, c.frame)),
        end_frame: c.end_frame,
        end_ms: c.end_ms,
        end_timecode: c.end_frame.and_then(|f| t.and_then(|t| timecode(t, f))),
        kind: c.kind.clone(),
        text: c.text.clone(),
        status: c.status.as_str().into(),
        parent: c.parent.clone(),
        author: a.author.clone(),
        author_name: a.author_name.clone(),
        author_role: a.author_role.as_str().into(),
        revision: a.revision,
        created: rfc3339(a.created),
        updated: rfc3339(a.updated),
        deleted: a.deleted,
        geometry,
        style,
        other,
    }
}
