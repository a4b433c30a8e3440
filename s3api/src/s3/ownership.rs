//! Put/Get/DeleteBucketOwnershipControls, and CreateBucket's `x-amz-object-ownership`.
//! What each rule means, and where it is honoured, is `crate::access::ownership`.

use crate::access::ownership::{Ownership, SETTING};
use crate::errors;
use crate::s3::service::CairnS3;
use crate::s3::unconfigured::Unset;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// The one rule an OwnershipControls document (or the CreateBucket header) names.
pub(crate) fn parse_rule(name: &str) -> S3Result<Ownership> {
    Ownership::parse(name).ok_or_else(|| {
        s3_error!(
            InvalidArgument,
            "Invalid object ownership {name:?}: BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter"
        )
    })
}

impl CairnS3 {
    /// Stores a bucket's object ownership.
    pub(crate) async fn set_ownership(&self, bucket: &str, rule: Ownership) -> S3Result<()> {
        cairn_object::meta::put_bucket_setting(
            &self.store.meta,
            bucket,
            SETTING,
            Some(rule.as_str().as_bytes().to_vec()),
        )
        .await
        .map_err(errors::object)
    }

    pub(crate) async fn put_bucket_ownership_controls_impl(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let rules = &input.ownership_controls.rules;
        let [rule] = rules.as_slice() else {
            return Err(s3_error!(MalformedXML, "OwnershipControls must hold exactly one rule"));
        };
        let rule = parse_rule(rule.object_ownership.as_str())?;
        self.set_ownership(&input.bucket, rule).await?;
        Ok(S3Response::new(PutBucketOwnershipControlsOutput::default()))
    }

    pub(crate) async fn get_bucket_ownership_controls_impl(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        let bucket = req.input.bucket;
        self.require_bucket(&bucket).await?;
        let Some(rule) = Ownership::of(&self.store.meta, &bucket)? else {
            return Err(Unset::OwnershipControls.error());
        };
        let rule = OwnershipControlsRule { object_ownership: ObjectOwnership::from(rule.as_str().to_string()) };
        Ok(S3Response::new(GetBucketOwnershipControlsOutput {
            ownership_controls: Some(OwnershipControls { rules: vec![rule] }),
        }))
    }

    pub(crate) async fn delete_bucket_ownership_controls_impl(
        &self,
        req: S3Request<DeleteBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
        let bucket = req.input.bucket;
        self.require_bucket(&bucket).await?;
        cairn_object::meta::put_bucket_setting(&self.store.meta, &bucket, SETTING, None)
            .await
            .map_err(errors::object)?;
        Ok(S3Response::with_status(DeleteBucketOwnershipControlsOutput::default(), http::StatusCode::NO_CONTENT))
    }
}
