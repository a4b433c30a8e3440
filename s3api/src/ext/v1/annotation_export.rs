//! A video's annotations as files other tools read, in (frame, id) order:
//!
//! - JSON Lines: one [`AnnotationInfo`] per line, as the API answers it.
//! - CSV (RFC 4180, header row): id, frame, end_frame, ms, end_ms, timecode,
//!   end_timecode, kind, status, author, author_name, parent, text.
//! - WebVTT: one cue per annotation (its id as the cue id, `<v author>` then its
//!   text), so a plain HTML5 `<track>` shows them as captions. A cue runs from the
//!   annotation's time to its end time, or for [`CUE_MS`] when it has none.
//! - EDL (CMX 3600): one event per annotation, source and record in at its timecode
//!   and out at the frame after its end, with a `* LOC:` marker comment (timecode,
//!   colour, text) that editing software imports as a marker.
//!
//! Pure functions of the annotations and the timing; the route is in
//! `annotation_query.rs`.

use super::AdminError;
use super::annotation_fields::timecode;
use cairn_api::annotations::AnnotationInfo;
use cairn_raft::annotations::VideoTiming;
use std::fmt::Write;

/// How long a WebVTT cue lasts for an annotation with no end.
pub const CUE_MS: u64 = 2000;

pub(super) fn jsonl(all: &[AnnotationInfo]) -> String {
    let mut out = String::new();
    for a in all {
        out.push_str(&serde_json::to_string(a).unwrap_or_default());
        out.push('\n');
    }
    out
}

pub(super) fn csv(all: &[AnnotationInfo]) -> Result<String, AdminError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| AdminError::new(500, "InternalError", e.to_string());
    w.write_record([
        "id",
        "frame",
        "end_frame",
        "ms",
        "end_ms",
        "timecode",
        "end_timecode",
        "kind",
        "status",
        "author",
        "author_name",
        "parent",
        "text",
    ])
    .map_err(failed)?;
    let opt = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
    for a in all {
        w.write_record([
            a.id.clone(),
            a.frame.to_string(),
            opt(a.end_frame),
            a.ms.to_string(),
            opt(a.end_ms),
            a.timecode.clone().unwrap_or_default(),
            a.end_timecode.clone().unwrap_or_default(),
            a.kind.clone(),
            a.status.clone(),
            a.author.clone(),
            a.author_name.clone(),
            a.parent.clone().unwrap_or_default(),
            a.text.clone().unwrap_or_default(),
        ])
        .map_err(failed)?;
    }
    let bytes = w.into_inner().map_err(|e| AdminError::new(500, "InternalError", e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `HH:MM:SS.mmm`.
fn vtt_time(ms: u64) -> String {
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// Cue text: no blank lines, no `-->`, and `&`, `<`, `>` escaped.
fn vtt_text(s: &str) -> String {
    let escaped = s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace("-->", "--&gt;");
    escaped.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n")
}

pub(super) fn webvtt(all: &[AnnotationInfo]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for a in all {
        let end = a.end_ms.filter(|e| *e > a.ms).unwrap_or(a.ms + CUE_MS);
        let who = vtt_text(&a.author_name).replace(['\n', ' '], "_");
        let text = vtt_text(a.text.as_deref().unwrap_or(&a.kind));
        let _ = write!(out, "{}\n{} --> {}\n<v {who}>{text}\n\n", a.id, vtt_time(a.ms), vtt_time(end));
    }
    out
}

/// A marker's colour: open notes red, resolved green.
fn colour(status: &str) -> &'static str {
    if status == "resolved" { "GREEN" } else { "RED" }
}

pub(super) fn edl(title: &str, t: &VideoTiming, all: &[AnnotationInfo]) -> String {
    let clean = |s: &str| s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>();
    let mut out =
        format!("TITLE: {}\nFCM: {}\n\n", clean(title), if t.drop_frame { "DROP FRAME" } else { "NON-DROP FRAME" });
    for (i, a) in all.iter().enumerate() {
        let tc_in = timecode(t, a.frame).unwrap_or_default();
        let last = a.end_frame.unwrap_or(a.frame).max(a.frame);
        let tc_out = timecode(t, last + 1).unwrap_or_default();
        let _ = writeln!(out, "{:03}  AX       V     C        {tc_in} {tc_out} {tc_in} {tc_out}", (i % 999) + 1);
        let text = clean(a.text.as_deref().unwrap_or(&a.kind));
        let _ = writeln!(out, "* LOC: {tc_in} {:<7} {text}", colour(&a.status));
        let _ = writeln!(out, "* CAIRN ANNOTATION: {}\n", a.id);
    }
    out
}
