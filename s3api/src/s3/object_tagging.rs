//! Object tagging: Put/Get/DeleteObjectTagging (with `versionId`), the `x-amz-tagging`
//! header of PutObject, CreateMultipartUpload and CopyObject, and `x-amz-tagging-count`
//! on GET and HEAD. AWS's limits (10 tags an object; keys 1 to 128 and values up to
//! 256 Unicode characters; no duplicate keys) answer InvalidTag. A version's tag set is
//! one of its attributes (`cairn_raft::schema::ATTR_TAGS`), stored with it in the same
//! commit and gone with it.

use crate::access;
use crate::errors;
use crate::s3::service::CairnS3;
use crate::s3::tagging::validate;
use crate::s3::versioning::version_ref;
use crate::timefmt::now;
use cairn_raft::schema::{ATTR_TAGS, Attrs, TagSet};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// At most this many tags on one object.
pub(crate) const MAX_OBJECT_TAGS: usize = 10;

/// The tag set of an `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded), checked.
pub(crate) fn from_header(header: Option<&str>) -> S3Result<Option<TagSet>> {
    let Some(h) = header else { return Ok(None) };
    let tags: Vec<Tag> = form_urlencoded::parse(h.as_bytes())
        .map(|(k, v)| Tag { key: Some(k.into_owned()), value: Some(v.into_owned()) })
        .collect();
    validate(&tags, MAX_OBJECT_TAGS).map(Some)
}

/// Adds `tags` to the attributes of a new version.
pub(crate) fn put_into(attrs: &mut Attrs, tags: Option<&TagSet>) -> S3Result<()> {
    if let Some(t) = tags.filter(|t| !t.is_empty()) {
        attrs.insert(ATTR_TAGS.into(), encode(t)?);
    }
    Ok(())
}

fn encode(tags: &TagSet) -> S3Result<Vec<u8>> {
    bincode::serialize(tags).map_err(|e| s3_error!(InternalError, "encoding tags: {e}"))
}

/// The tag set among a version's attributes (empty when it has none).
pub(crate) fn of(attrs: &Attrs) -> S3Result<TagSet> {
    match attrs.get(ATTR_TAGS) {
        Some(raw) => bincode::deserialize(raw).map_err(|e| s3_error!(InternalError, "stored tag set: {e}")),
        None => Ok(TagSet::new()),
    }
}

/// `x-amz-tagging-count`: the number of tags, when there are any.
pub(crate) fn count(attrs: &Attrs) -> S3Result<Option<i32>> {
    let n = of(attrs)?.len();
    Ok((n > 0).then_some(n as i32))
}

impl CairnS3 {
    pub(crate) async fn put_object_tagging_impl(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let auth = access::authorized(&req)?.clone();
        let input = req.input;
        let tags = validate(&input.tagging.tag_set, MAX_OBJECT_TAGS)?;
        // The tags were in the body: the policy's s3:RequestObjectTag conditions are
        // decided now that it is read.
        let names_version = input.version_id.is_some();
        self.access.authorize_request_tags(
            &auth,
            "PutObjectTagging",
            &input.bucket,
            &input.key,
            names_version,
            &tags,
        )?;
        let target = version_ref(input.version_id.as_deref())?;
        let made = self
            .store
            .put_version_attr(&input.bucket, &input.key, target, ATTR_TAGS, Some(encode(&tags)?), now(), false)
            .await
            .map_err(errors::object)?;
        let version_id = self.shown_version_id(&input.bucket, made.as_deref())?;
        Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
    }

    pub(crate) async fn get_object_tagging_impl(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let input = req.input;
        let (obj, attrs) = self.named_version_attrs(&input.bucket, &input.key, input.version_id.as_deref()).await?;
        let tag_set = of(&attrs)?.into_iter().map(|(k, v)| Tag { key: Some(k), value: Some(v) }).collect();
        let version_id = self.shown_version_id(&input.bucket, obj.version_id.as_deref())?;
        Ok(S3Response::new(GetObjectTaggingOutput { tag_set, version_id }))
    }

    pub(crate) async fn delete_object_tagging_impl(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let input = req.input;
        let target = version_ref(input.version_id.as_deref())?;
        let made = self
            .store
            .put_version_attr(&input.bucket, &input.key, target, ATTR_TAGS, None, now(), false)
            .await
            .map_err(errors::object)?;
        let version_id = self.shown_version_id(&input.bucket, made.as_deref())?;
        Ok(S3Response::with_status(DeleteObjectTaggingOutput { version_id }, http::StatusCode::NO_CONTENT))
    }
}
