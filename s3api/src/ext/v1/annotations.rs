//! `assets/ID/versions/N/{timing,annotations...}` and `assets/ID/annotations`: a
//! video's timing, and its annotations' create, batch create, get, edit, delete,
//! history and thread (routes in `cairn_api::annotations`). Queries, the conflict
//! report and exports are `annotation_query.rs`, the live stream
//! `annotation_live.rs`, field checks and conversions `annotation_fields.rs`.
//!
//! Who may: reading takes an asset the caller may read (its tenant's, or shared with
//! it); writing takes one it manages or one shared with `read_annotate`. Whose
//! annotation a key may change is decided in apply from the roles given here: an
//! admin key is `admin`, a tenant admin over the asset's tenant `tenant_admin`, the
//! owner of the bucket holding the video `bucket_owner`, anyone else `member`.

use super::annotation_fields::{annotation_out, content_in, timing_in, timing_out};
use super::annotation_query;
use super::asset_fields::invalid;
use super::asset_query::visible;
use super::asset_shares::readable;
use super::scope::AssetReach;
use super::{AdminError, Call, V1, answer, answer_status, method_not_allowed, object_error, read_json, unavailable};
use crate::ext::{json_response, no_such_endpoint};
use crate::timefmt::now;
use cairn_api::annotations::{
    self as api, AnnotationBatch, AnnotationBatchResult, AnnotationHistory, AnnotationInfo, MAX_BATCH, StaleRevision,
    VideoTimingInfo, codes,
};
use cairn_api::assets::codes as asset_codes;
use cairn_api::tenants::codes::ACCESS_DENIED;
use cairn_object::ObjectError;
use cairn_raft::MetaStore;
use cairn_raft::annotations::{Actor, Annotation, AnnotationRefusal, NewAnnotation, Role, VideoRef, VideoTiming};
use cairn_raft::assets::{Asset, AssetVersion, MediaType, SharePermission};
use http::{Method, StatusCode};
use s3s::{Body, S3Response};

/// Largest body of a batch create.
const MAX_BATCH_BODY: usize = 16 << 20;

/// A video the request names, as the caller may use it.
pub(super) struct Video {
    pub asset: Asset,
    pub version: AssetVersion,
    pub video: VideoRef,
    pub timing: Option<VideoTiming>,
}

impl Video {
    /// The timing, or the error that says how to give one.
    pub fn timing(&self) -> Result<&VideoTiming, AdminError> {
        self.timing.as_ref().ok_or_else(timing_unknown)
    }

    pub fn out(&self, a: &Annotation) -> AnnotationInfo {
        annotation_out(a, self.timing.as_ref(), &self.asset.tenant)
    }

    /// Annotation `id` if it belongs to this video (tombstones too).
    pub fn annotation(&self, meta: &MetaStore, id: &str) -> Result<Annotation, AdminError> {
        match meta.annotation(id).map_err(unavailable)? {
            Some(a) if a.video == self.video => Ok(a),
            _ => Err(no_such_annotation(id)),
        }
    }
}

fn timing_unknown() -> AdminError {
    AdminError::new(
        409,
        codes::TIMING_UNKNOWN,
        "the video's frame rate is not known: set it with PUT .../timing or in the asset's meta.frame_rate",
    )
}

fn no_such_annotation(id: &str) -> AdminError {
    AdminError::new(404, codes::NO_SUCH_ANNOTATION, format!("the video has no annotation {id}"))
}

/// Version `n` of asset `id`, a video the caller may read (`write`: annotate).
pub(super) fn video(meta: &MetaStore, reach: &AssetReach, id: &str, n: &str, write: bool) -> Result<Video, AdminError> {
    let asset = if write { annotatable(meta, reach, id)? } else { readable(meta, reach, id)? };
    if asset.media_type != MediaType::Video {
        return Err(AdminError::new(409, codes::NOT_A_VIDEO, format!("asset {id} is not a video")));
    }
    let number = match n {
        "latest" => asset.versions,
        n => n.parse().map_err(|_| invalid("version", "a version is a number or latest"))?,
    };
    let version = meta.asset_version(id, number).map_err(unavailable)?.ok_or_else(|| {
        AdminError::new(404, asset_codes::NO_SUCH_ASSET_VERSION, format!("the asset has no version {n}"))
    })?;
    let video = VideoRef { asset: id.to_string(), version: number };
    let timing = meta.video_timing(&video).map_err(unavailable)?;
    Ok(Video { asset, version, video, timing })
}

/// Asset `id` if the caller may annotate it: one it manages, or one shared with its
/// tenant to read and annotate.
fn annotatable(meta: &MetaStore, reach: &AssetReach, id: &str) -> Result<Asset, AdminError> {
    match visible(meta, reach, id) {
        Err(e) if e.status == 404 => {
            let a = readable(meta, reach, id)?;
            let home = reach.home()?.unwrap_or_default();
            match meta.asset_share(id, home).map_err(unavailable)? {
                Some(s) if s.permission == SharePermission::ReadAnnotate => Ok(a),
                _ => Err(AdminError::new(
                    403,
                    ACCESS_DENIED,
                    "the asset is shared with this tenant to read, not to annotate",
                )),
            }
        }
        other => other,
    }
}

/// `If-Match: "3"` (or `3`, `W/"3"`); `*` or none: any revision.
fn if_match(headers: &http::HeaderMap) -> Result<Option<u32>, AdminError> {
    let Some(v) = headers.get(http::header::IF_MATCH) else { return Ok(None) };
    let v = v.to_str().unwrap_or("").trim();
    if v == "*" {
        return Ok(None);
    }
    let bare = v.trim_start_matches("W/").trim_matches('"');
    bare.parse().map(Some).map_err(|_| invalid("If-Match", "If-Match names a revision: \"3\""))
}

fn with_etag(mut resp: S3Response<Body>, revision: u32) -> S3Response<Body> {
    if let Ok(v) = http::HeaderValue::from_str(&format!("\"{revision}\"")) {
        resp.headers.insert(http::header::ETAG, v);
    }
    resp
}

impl V1 {
    /// Who the caller is to the video's annotations.
    fn actor(&self, caller: &str, reach: &AssetReach, v: &Video) -> Result<Actor, AdminError> {
        let meta = &self.store.meta;
        let key = meta
            .get_access_key(caller)
            .map_err(unavailable)?
            .ok_or_else(|| AdminError::new(403, ACCESS_DENIED, "the signing key no longer exists"))?;
        let role = match reach {
            AssetReach::All => Role::Admin,
            AssetReach::Subtree(_) if reach.covers(meta, &v.asset.tenant)? => Role::TenantAdmin,
            _ => {
                let owner = meta.get_bucket(&v.version.object.bucket).map_err(unavailable)?.map(|b| b.owner);
                if owner.as_deref() == Some(caller) { Role::BucketOwner } else { Role::Member }
            }
        };
        Ok(Actor { key: caller.to_string(), name: key.name, role, at: now() })
    }

    /// `rest`: the segments after `assets/ID/versions/N/`.
    pub(super) async fn video_call(
        &self,
        caller: &str,
        reach: &AssetReach,
        (id, n): (&str, &str),
        rest: &[&str],
        call: Call<'_>,
    ) -> S3Response<Body> {
        let Call { method, query, headers, body, upgrade } = call;
        let meta = &self.store.meta;
        let write = !matches!(*method, Method::GET | Method::HEAD);
        let v = match video(meta, reach, id, n, write) {
            Ok(v) => v,
            Err(e) => return answer::<()>(Err(e)),
        };
        match (method, rest) {
            (&Method::GET, ["timing"]) => {
                answer(v.timing().map(|t| timing_out(t, meta.video_timing_is_set(&v.video).unwrap_or(false))))
            }
            (&Method::PUT, ["timing"]) => answer(self.set_timing(&v, body).await),
            (_, ["timing"]) => method_not_allowed("GET and PUT"),
            (&Method::POST, ["annotations"]) => match self.create_one(caller, reach, &v, body).await {
                Ok((info, false)) => with_etag(answer_status(StatusCode::CREATED, Ok(&info)), info.revision),
                Ok((info, true)) => with_etag(answer(Ok(&info)), info.revision),
                Err(e) => answer::<()>(Err(e)),
            },
            (&Method::GET, ["annotations"]) => answer(annotation_query::list(meta, &v, query)),
            (_, ["annotations"]) => method_not_allowed("GET and POST"),
            (&Method::POST, ["annotations", "batch"]) => {
                answer_status(StatusCode::CREATED, self.create_batch(caller, reach, &v, body).await)
            }
            (_, ["annotations", "batch"]) => method_not_allowed("POST"),
            (&Method::GET, ["annotations", "sync"]) => answer(annotation_query::sync(meta, &v, query)),
            (_, ["annotations", "sync"]) => method_not_allowed("GET"),
            (&Method::GET, ["annotations", "conflicts"]) => answer(annotation_query::conflicts(meta, &v)),
            (_, ["annotations", "conflicts"]) => method_not_allowed("GET"),
            (&Method::GET, ["annotations", "export"]) => {
                annotation_query::export(meta, &v, query).unwrap_or_else(|e| answer::<()>(Err(e)))
            }
            (_, ["annotations", "export"]) => method_not_allowed("GET"),
            (&Method::GET, ["annotations", "live"]) => {
                let last = headers.get("last-event-id").and_then(|h| h.to_str().ok());
                self.live.sse(&v, query, last).unwrap_or_else(|e| answer::<()>(Err(e)))
            }
            (_, ["annotations", "live"]) => method_not_allowed("GET"),
            (&Method::GET, ["annotations", "ws"]) => {
                let who = self.actor(caller, reach, &v).map(|a| (a.key, a.name));
                match who {
                    Ok(who) => self.live.websocket(&v, who, query, headers, upgrade),
                    Err(e) => answer::<()>(Err(e)),
                }
            }
            (_, ["annotations", "ws"]) => method_not_allowed("GET"),
            (&Method::GET, ["annotations", a]) => match annotation_query::get(meta, &v, a, query) {
                Ok(info) => {
                    let r = info.revision;
                    with_etag(answer(Ok(info)), r)
                }
                Err(e) => answer::<()>(Err(e)),
            },
            (&Method::PATCH, ["annotations", a]) => self.edit(caller, reach, &v, a, headers, Some(body)).await,
            (&Method::DELETE, ["annotations", a]) => self.edit(caller, reach, &v, a, headers, None).await,
            (_, ["annotations", _]) => method_not_allowed("GET, PATCH and DELETE"),
            (&Method::GET, ["annotations", a, "history"]) => answer(history(meta, &v, a)),
            (_, ["annotations", _, "history"]) => method_not_allowed("GET"),
            (&Method::GET, ["annotations", a, "thread"]) => answer(annotation_query::thread(meta, &v, a, query)),
            (_, ["annotations", _, "thread"]) => method_not_allowed("GET"),
            _ => no_such_endpoint(),
        }
    }

    async fn set_timing(&self, v: &Video, body: Body) -> Result<VideoTimingInfo, AdminError> {
        let req: VideoTimingInfo = read_json(body).await?;
        if req.source.is_some() {
            return Err(invalid("source", "source is answered, not sent"));
        }
        let t = timing_in(&req)?;
        self.store.set_video_timing(v.video.clone(), t).await.map_err(annotation_error)?;
        Ok(timing_out(&t, true))
    }

    async fn create_one(
        &self,
        caller: &str,
        reach: &AssetReach,
        v: &Video,
        body: Body,
    ) -> Result<(AnnotationInfo, bool), AdminError> {
        let req: api::NewAnnotation = read_json_required(body, super::MAX_BODY).await?;
        let item = NewAnnotation { client_id: req.client_id.clone(), content: content_in(v.timing()?, &req)? };
        let by = self.actor(caller, reach, v)?;
        let o = self.store.put_annotations(v.video.clone(), vec![item], by).await.map_err(annotation_error)?;
        let (a, replayed) = o.items.into_iter().next().ok_or_else(|| unexpected("no annotation made"))?;
        Ok((v.out(&a), replayed))
    }

    async fn create_batch(
        &self,
        caller: &str,
        reach: &AssetReach,
        v: &Video,
        body: Body,
    ) -> Result<AnnotationBatchResult, AdminError> {
        let req: AnnotationBatch = read_json_required(body, MAX_BATCH_BODY).await?;
        if req.annotations.is_empty() || req.annotations.len() > MAX_BATCH {
            return Err(invalid("annotations", format!("a batch holds 1 to {MAX_BATCH} annotations")));
        }
        let t = v.timing()?;
        let mut items = Vec::with_capacity(req.annotations.len());
        for (i, n) in req.annotations.iter().enumerate() {
            let content = content_in(t, n).map_err(|e| within(e, i))?;
            items.push(NewAnnotation { client_id: n.client_id.clone(), content });
        }
        let by = self.actor(caller, reach, v)?;
        let o = self.store.put_annotations(v.video.clone(), items, by).await.map_err(annotation_error)?;
        let (annotations, replayed) = o.items.iter().map(|(a, r)| (v.out(a), *r)).unzip();
        Ok(AnnotationBatchResult { annotations, replayed })
    }

    /// PATCH (`body` Some) or DELETE.
    async fn edit(
        &self,
        caller: &str,
        reach: &AssetReach,
        v: &Video,
        id: &str,
        headers: &http::HeaderMap,
        body: Option<Body>,
    ) -> S3Response<Body> {
        let prepared: Result<_, AdminError> = async {
            v.annotation(&self.store.meta, id)?;
            let if_revision = if_match(headers)?;
            let by = self.actor(caller, reach, v)?;
            let content = match body {
                Some(body) => {
                    let req: api::AnnotationPatch = read_json_required(body, super::MAX_BODY).await?;
                    if req.parent.is_some() || req.client_id.is_some() {
                        return Err(invalid("parent", "an edit keeps the annotation's parent and client id"));
                    }
                    Some(content_in(v.timing()?, &req)?)
                }
                None => None,
            };
            Ok((if_revision, by, content))
        }
        .await;
        let (if_revision, by, content) = match prepared {
            Ok(p) => p,
            Err(e) => return answer::<()>(Err(e)),
        };
        let res = match content {
            Some(c) => self.store.update_annotation(id, if_revision, c, by).await,
            None => self.store.delete_annotation(id, if_revision, by).await,
        }
        .map(|o| o.items.into_iter().next().map(|(a, _)| a));
        match res {
            Ok(Some(a)) => with_etag(answer(Ok(v.out(&a))), a.revision),
            Ok(None) => answer::<()>(Err(unexpected("no annotation"))),
            Err(ObjectError::Annotation(AnnotationRefusal::RevisionMoved(now))) => {
                let body = StaleRevision::new(
                    format!("the annotation is at revision {}, not the one If-Match names", now.revision),
                    v.out(&now),
                );
                with_etag(json_response(StatusCode::PRECONDITION_FAILED, &body), now.revision)
            }
            Err(e) => answer::<()>(Err(annotation_error(e))),
        }
    }
}

/// A JSON body that must be there (an empty one is refused).
async fn read_json_required<T: serde::de::DeserializeOwned>(mut body: Body, limit: usize) -> Result<T, AdminError> {
    let bytes =
        body.store_all_limited(limit).await.map_err(|e| AdminError::new(400, "InvalidRequest", e.to_string()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| AdminError::new(400, "InvalidRequest", format!("invalid JSON body: {e}")))
}

/// A batch item's error, its field placed in the request.
fn within(mut e: AdminError, i: usize) -> AdminError {
    e.field = Some(match e.field {
        Some(f) => format!("annotations[{i}].{f}"),
        None => format!("annotations[{i}]"),
    });
    e
}

fn unexpected(what: &str) -> AdminError {
    AdminError::new(500, "InternalError", what.to_string())
}

/// `GET V/annotations/A/history`.
fn history(meta: &MetaStore, v: &Video, id: &str) -> Result<AnnotationHistory, AdminError> {
    let now = v.annotation(meta, id)?;
    let mut revisions: Vec<AnnotationInfo> =
        meta.annotation_history(id).map_err(unavailable)?.iter().map(|a| v.out(a)).collect();
    revisions.push(v.out(&now));
    Ok(AnnotationHistory { revisions })
}

/// An annotation command's failure.
pub(super) fn annotation_error(e: ObjectError) -> AdminError {
    match e {
        ObjectError::Annotation(r) => match r {
            AnnotationRefusal::NoSuchVideo(v) => AdminError::new(
                404,
                asset_codes::NO_SUCH_ASSET_VERSION,
                format!("asset {} has no version {} (or is in the trash)", v.asset, v.version),
            ),
            AnnotationRefusal::NoSuchAnnotation(id) => no_such_annotation(&id),
            AnnotationRefusal::NoSuchParent(p) => {
                AdminError::new(404, codes::NO_SUCH_PARENT, format!("the video has no annotation {p} to reply to"))
                    .at("parent")
            }
            AnnotationRefusal::RevisionMoved(now) => {
                AdminError::new(412, codes::REVISION_MOVED, format!("the annotation is at revision {}", now.revision))
            }
            AnnotationRefusal::NotAllowed { author_role } => AdminError::new(
                403,
                codes::NOT_ALLOWED,
                format!(
                    "changing another's annotation needs a role above member and at least its author's ({})",
                    author_role.as_str()
                ),
            ),
            AnnotationRefusal::ClientIdConflict(c) => AdminError::new(
                409,
                codes::CLIENT_ID_CONFLICT,
                format!("client id {c} was used for an annotation with other content"),
            )
            .at("client_id"),
            AnnotationRefusal::TimingUnknown => timing_unknown(),
            AnnotationRefusal::TimingDisagrees { frame, ms } => AdminError::new(
                409,
                codes::TIMING_DISAGREES,
                format!("frame {frame} and {ms} ms are not the same moment at the video's timing (it changed?)"),
            ),
            AnnotationRefusal::OutsideVideo { frame, frames } => AdminError::new(
                400,
                codes::OUTSIDE_VIDEO,
                match frames {
                    Some(n) => format!("frame {frame} is past the video's last (it has {n} frames)"),
                    None => format!("a range cannot end (frame {frame}) before it starts"),
                },
            )
            .at("frame"),
        },
        other => object_error(other),
    }
}
