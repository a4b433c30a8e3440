//! Bucket tagging: Put/Get/DeleteBucketTagging, with AWS's limits (at most 50 tags,
//! keys of 1 to 128 and values of up to 256 Unicode characters, no duplicate keys, no
//! `aws:` prefix; InvalidTag otherwise). The tag set is a bucket setting, stored as
//! sent (`cairn_object::meta::put_bucket_setting`).

use crate::errors;
use crate::s3::service::CairnS3;
use crate::s3::unconfigured::Unset;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use std::collections::BTreeSet;

/// The `sm_bucket_settings` name of a bucket's tag set.
const SETTING: &str = "tagging";

/// Checks a tag set against AWS's limits; `max` tags at most.
pub(crate) fn validate(tags: &[Tag], max: usize) -> S3Result<Vec<(String, String)>> {
    if tags.len() > max {
        return Err(s3_error!(InvalidTag, "Object tags cannot be greater than {max}"));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(tags.len());
    for t in tags {
        let key = t.key.clone().unwrap_or_default();
        let value = t.value.clone().unwrap_or_default();
        if key.is_empty() || key.chars().count() > 128 {
            return Err(s3_error!(InvalidTag, "The TagKey you have provided is invalid"));
        }
        if value.chars().count() > 256 {
            return Err(s3_error!(InvalidTag, "The TagValue you have provided is invalid"));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(s3_error!(InvalidTag, "System tags cannot be added/updated by requester"));
        }
        if !seen.insert(key.clone()) {
            return Err(s3_error!(InvalidTag, "Cannot provide multiple Tags with the same key"));
        }
        out.push((key, value));
    }
    Ok(out)
}

impl CairnS3 {
    pub(crate) async fn put_bucket_tagging_impl(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let tags = validate(&input.tagging.tag_set, 50)?;
        let value = serde_json::to_vec(&tags).map_err(|e| s3_error!(InternalError, "{e}"))?;
        cairn_object::meta::put_bucket_setting(&self.store.meta, &input.bucket, SETTING, Some(value))
            .await
            .map_err(errors::object)?;
        Ok(S3Response::new(PutBucketTaggingOutput::default()))
    }

    pub(crate) async fn get_bucket_tagging_impl(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        let bucket = req.input.bucket;
        self.require_bucket(&bucket).await?;
        let Some(raw) = self.store.meta.bucket_setting(&bucket, SETTING).map_err(errors::meta)? else {
            return Err(Unset::Tagging.error());
        };
        let tags: Vec<(String, String)> =
            serde_json::from_slice(&raw).map_err(|e| s3_error!(InternalError, "stored tag set: {e}"))?;
        let tag_set = tags.into_iter().map(|(k, v)| Tag { key: Some(k), value: Some(v) }).collect();
        Ok(S3Response::new(GetBucketTaggingOutput { tag_set }))
    }

    pub(crate) async fn delete_bucket_tagging_impl(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        let bucket = req.input.bucket;
        self.require_bucket(&bucket).await?;
        cairn_object::meta::put_bucket_setting(&self.store.meta, &bucket, SETTING, None)
            .await
            .map_err(errors::object)?;
        Ok(S3Response::with_status(DeleteBucketTaggingOutput::default(), http::StatusCode::NO_CONTENT))
    }
}
