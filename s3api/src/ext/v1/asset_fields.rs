//! The asset API's fields: checking what a request sends (each refusal names its
//! field) and turning the API's types into the catalogue's records and back. No I/O.

use super::AdminError;
use crate::ext::admin::keys::rfc3339;
use cairn_api::assets::{self as api, codes};
use cairn_api::tenants::codes::INVALID_REQUEST;
use cairn_raft::assets::{
    self as model, Asset, AssetVersion, MAX_EXTRA, MAX_RENDITIONS, MAX_TAGS, MediaMeta, MediaType, Ratio, valid_label,
};
use std::collections::BTreeMap;

pub(super) fn invalid(field: &str, message: impl Into<String>) -> AdminError {
    AdminError::new(400, INVALID_REQUEST, message).at(field)
}

/// A `limit` parameter: a number from 1 to `max`.
pub(super) fn limit_param(v: &str, max: usize) -> Result<usize, AdminError> {
    v.parse()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| invalid("limit", format!("limit is a number from 1 to {max}")))
}

fn label(field: &str, s: &str) -> Result<(), AdminError> {
    if valid_label(s) {
        Ok(())
    } else {
        Err(invalid(field, format!("{field} has 1 to {} bytes and no control characters", model::MAX_LABEL)))
    }
}

pub(super) fn media_type(s: &str) -> Result<MediaType, AdminError> {
    MediaType::parse(s).ok_or_else(|| {
        AdminError::new(
            400,
            codes::INVALID_MEDIA_TYPE,
            format!("unknown media type {s:?}: one of {}", api::MEDIA_TYPES.join(", ")),
        )
        .at("media_type")
    })
}

pub(super) fn tags(field: &str, t: &BTreeMap<String, String>) -> Result<(), AdminError> {
    if t.len() > MAX_TAGS {
        return Err(invalid(field, format!("at most {MAX_TAGS} tags")));
    }
    for (k, v) in t {
        label(&format!("{field}.{k}"), k)?;
        label(&format!("{field}.{k}"), v)?;
    }
    Ok(())
}

pub(super) fn machine_tags(
    t: &BTreeMap<String, api::MachineTag>,
) -> Result<BTreeMap<String, model::MachineTag>, AdminError> {
    if t.len() > MAX_TAGS {
        return Err(invalid("machine_tags", format!("at most {MAX_TAGS} machine tags")));
    }
    let mut out = BTreeMap::new();
    for (k, v) in t {
        let field = format!("machine_tags.{k}");
        label(&field, k)?;
        label(&field, &v.value)?;
        if !(0.0..=1.0).contains(&v.confidence) {
            return Err(invalid(&format!("{field}.confidence"), "a confidence is from 0 to 1"));
        }
        let confidence = (v.confidence * 10_000.0).round() as u16;
        out.insert(k.clone(), model::MachineTag { value: v.value.clone(), confidence });
    }
    Ok(out)
}

/// `"30000/1001"` or `"25"`: positive integers.
fn frame_rate(s: &str) -> Option<Ratio> {
    let (num, den) = s.split_once('/').unwrap_or((s, "1"));
    let r = Ratio { num: num.trim().parse().ok()?, den: den.trim().parse().ok()? };
    (r.num > 0 && r.den > 0).then_some(r)
}

/// Type-specific metadata for an asset of type `t`: a field another type owns is
/// refused, and `extra` is bounded.
pub(super) fn meta(t: MediaType, m: &api::MediaMeta) -> Result<MediaMeta, AdminError> {
    use MediaType::*;
    let owners: [(&str, bool, &[MediaType]); 8] = [
        ("duration_ms", m.duration_ms.is_some(), &[Video, Audio]),
        ("frame_rate", m.frame_rate.is_some(), &[Video]),
        ("width", m.width.is_some(), &[Video, Image]),
        ("height", m.height.is_some(), &[Video, Image]),
        ("codec", m.codec.is_some(), &[Video, Audio]),
        ("bitrate", m.bitrate.is_some(), &[Video, Audio]),
        ("format", m.format.is_some(), &[Image, Document, Model, Other]),
        ("pages", m.pages.is_some(), &[Document]),
    ];
    for (field, set, types) in owners {
        if set && !types.contains(&t) {
            return Err(invalid(
                &format!("meta.{field}"),
                format!("{field} is not metadata of a {} asset", t.as_str()),
            ));
        }
    }
    for (field, v) in [("codec", &m.codec), ("format", &m.format)] {
        if let Some(v) = v {
            label(&format!("meta.{field}"), v)?;
        }
    }
    let frame_rate = match &m.frame_rate {
        Some(s) => Some(frame_rate(s).ok_or_else(|| {
            invalid("meta.frame_rate", "a frame rate is an exact ratio of positive integers, such as 30000/1001 or 25")
        })?),
        None => None,
    };
    let extra = match &m.extra {
        Some(v) => {
            let text = serde_json::to_string(v).unwrap_or_default();
            if text.len() > MAX_EXTRA {
                return Err(AdminError::new(
                    400,
                    codes::METADATA_TOO_LARGE,
                    format!("extra metadata is {} bytes of JSON; at most {MAX_EXTRA}", text.len()),
                )
                .at("meta.extra"));
            }
            Some(text)
        }
        None => None,
    };
    Ok(MediaMeta {
        duration_ms: m.duration_ms,
        frame_rate,
        width: m.width,
        height: m.height,
        codec: m.codec.clone(),
        bitrate: m.bitrate,
        format: m.format.clone(),
        pages: m.pages,
        extra,
    })
}

fn meta_out(m: &MediaMeta) -> api::MediaMeta {
    api::MediaMeta {
        duration_ms: m.duration_ms,
        frame_rate: m.frame_rate.map(|r| if r.den == 1 { r.num.to_string() } else { format!("{}/{}", r.num, r.den) }),
        width: m.width,
        height: m.height,
        codec: m.codec.clone(),
        bitrate: m.bitrate,
        format: m.format.clone(),
        pages: m.pages,
        extra: m.extra.as_deref().and_then(|t| serde_json::from_str(t).ok()),
    }
}

pub(super) fn object_in(o: &api::ObjectRef) -> model::ObjectRef {
    model::ObjectRef { bucket: o.bucket.clone(), key: o.key.clone(), version_id: o.version_id.clone() }
}

pub(super) fn object_to_api(o: &model::ObjectRef) -> api::ObjectRef {
    object_out(o)
}

fn object_out(o: &model::ObjectRef) -> api::ObjectRef {
    api::ObjectRef { bucket: o.bucket.clone(), key: o.key.clone(), version_id: o.version_id.clone() }
}

/// A SHA-256 as the API takes it: 64 hex digits (kept lower-case).
pub(super) fn sha256(field: &str, s: &str) -> Result<String, AdminError> {
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(invalid(field, "a SHA-256 is 64 hexadecimal digits"))
    }
}

/// The version a request describes (`field`: where it sits in the request, as a
/// prefix: `version.` or nothing), before
/// apply fills in the objects' sizes and ETags. `sha256` is the checked or computed
/// hash.
pub(super) fn version_in(
    field: &str,
    v: &api::NewVersion,
    sha256: String,
    at: i64,
    by: &str,
) -> Result<AssetVersion, AdminError> {
    if v.renditions.len() > MAX_RENDITIONS {
        return Err(invalid(&format!("{field}renditions"), format!("at most {MAX_RENDITIONS} renditions")));
    }
    let mut renditions = Vec::new();
    for (i, r) in v.renditions.iter().enumerate() {
        label(&format!("{field}renditions[{i}].role"), &r.role)?;
        if v.renditions[..i].iter().any(|o| o.role == r.role) {
            return Err(invalid(&format!("{field}renditions[{i}].role"), format!("role {} is named twice", r.role)));
        }
        renditions.push(model::Rendition {
            role: r.role.clone(),
            object: object_in(&r.object),
            size: 0,
            etag: String::new(),
        });
    }
    Ok(AssetVersion {
        number: 0,
        object: object_in(&v.object),
        size: 0,
        etag: String::new(),
        sha256: Some(sha256),
        renditions,
        created: at,
        created_by: by.to_string(),
        rollback_of: None,
    })
}

pub(super) fn version_out(v: &AssetVersion) -> api::AssetVersionInfo {
    api::AssetVersionInfo {
        number: v.number,
        object: object_out(&v.object),
        size: v.size,
        etag: v.etag.clone(),
        sha256: v.sha256.clone(),
        renditions: v
            .renditions
            .iter()
            .map(|r| api::Rendition {
                role: r.role.clone(),
                object: object_out(&r.object),
                size: r.size,
                etag: r.etag.clone(),
            })
            .collect(),
        created: rfc3339(v.created),
        created_by: v.created_by.clone(),
        rollback_of: v.rollback_of,
    }
}

pub(super) fn asset_out(a: &Asset, latest: Option<&AssetVersion>) -> api::AssetInfo {
    api::AssetInfo {
        id: a.id.clone(),
        tenant: a.tenant.clone(),
        project: a.project.clone(),
        name: a.name.clone(),
        media_type: a.media_type.as_str().to_string(),
        status: a.status.clone(),
        tags: a.tags.clone(),
        machine_tags: a
            .machine_tags
            .iter()
            .map(|(k, t)| {
                (k.clone(), api::MachineTag { value: t.value.clone(), confidence: f64::from(t.confidence) / 10_000.0 })
            })
            .collect(),
        meta: meta_out(&a.meta),
        created: rfc3339(a.created),
        updated: rfc3339(a.updated),
        created_by: a.created_by.clone(),
        versions: a.versions,
        latest: latest.map(version_out),
        trashed_at: a.trashed_at.map(rfc3339),
        purge_at: a.purge_at.map(rfc3339),
    }
}

/// The descriptive fields of a registration or an update, checked.
pub(super) struct Described {
    pub name: Option<String>,
    pub project: Option<Option<String>>,
    pub status: Option<String>,
}

pub(super) fn described(
    name: Option<&str>,
    project: Option<&str>,
    status: Option<&str>,
) -> Result<Described, AdminError> {
    if let Some(n) = name {
        label("name", n)?;
    }
    let project = match project {
        Some("") => Some(None),
        Some(p) => {
            label("project", p)?;
            Some(Some(p.to_string()))
        }
        None => None,
    };
    if let Some(s) = status {
        label("status", s)?;
    }
    Ok(Described { name: name.map(str::to_string), project, status: status.map(str::to_string) })
}

/// The differences between versions `a` and `b` of one asset.
pub(super) fn diff(a: &AssetVersion, b: &AssetVersion) -> api::VersionDiff {
    use serde_json::{Value, json};
    let mut changes = Vec::new();
    let mut field = |name: String, from: Value, to: Value| {
        if from != to {
            changes.push(api::FieldChange { field: name, from, to });
        }
    };
    field("object".into(), json!(object_out(&a.object)), json!(object_out(&b.object)));
    field("size".into(), json!(a.size), json!(b.size));
    field("etag".into(), json!(a.etag), json!(b.etag));
    field("sha256".into(), json!(a.sha256), json!(b.sha256));
    let roles: std::collections::BTreeSet<&str> =
        a.renditions.iter().chain(&b.renditions).map(|r| r.role.as_str()).collect();
    for role in roles {
        let of = |v: &AssetVersion| {
            v.renditions
                .iter()
                .find(|r| r.role == role)
                .map_or(Value::Null, |r| json!({"object": object_out(&r.object), "size": r.size, "etag": r.etag}))
        };
        field(format!("renditions.{role}"), of(a), of(b));
    }
    let same_content = match (&a.sha256, &b.sha256) {
        (Some(x), Some(y)) => x == y,
        _ => a.object == b.object,
    };
    api::VersionDiff { from: a.number, to: b.number, same_content, changes }
}
