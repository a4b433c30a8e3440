//! PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy and GetBucketPolicyStatus.
//! Policies are validated here and stored in the bucket's metadata record through
//! Raft; the authorizer evaluates them.

use crate::access::public_block::PublicAccessBlock;
use crate::errors;
use crate::policy::{MAX_POLICY_SIZE, Policy};
use crate::s3::service::CairnS3;
use cairn_object::meta;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

impl CairnS3 {
    async fn set_policy(&self, bucket: String, policy: Option<String>) -> S3Result<()> {
        meta::put_bucket_policy(&self.store.meta, bucket, policy).await.map_err(errors::object)
    }

    pub(crate) async fn put_bucket_policy_impl(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        if input.policy.len() > MAX_POLICY_SIZE {
            return Err(s3_error!(
                MalformedPolicy,
                "Policies must be no more than {MAX_POLICY_SIZE} bytes; this one has {}",
                input.policy.len()
            ));
        }
        let parsed = Policy::parse(&input.policy, &input.bucket).map_err(|e| s3_error!(MalformedPolicy, "{e}"))?;
        PublicAccessBlock::effective(&self.store.meta, &input.bucket)?.check_policy(parsed.is_public())?;
        self.set_policy(input.bucket, Some(input.policy)).await?;
        Ok(S3Response::with_status(PutBucketPolicyOutput {}, http::StatusCode::NO_CONTENT))
    }

    pub(crate) async fn get_bucket_policy_impl(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let bucket = self.require_bucket(&req.input.bucket).await?;
        match bucket.policy {
            Some(policy) => Ok(S3Response::new(GetBucketPolicyOutput { policy: Some(policy) })),
            None => Err(s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist")),
        }
    }

    pub(crate) async fn delete_bucket_policy_impl(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        self.set_policy(req.input.bucket, None).await?;
        Ok(S3Response::with_status(DeleteBucketPolicyOutput {}, http::StatusCode::NO_CONTENT))
    }

    pub(crate) async fn get_bucket_policy_status_impl(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        let bucket = self.require_bucket(&req.input.bucket).await?;
        let Some(text) = bucket.policy else {
            return Err(s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist"));
        };
        let is_public = Policy::parse(&text, &bucket.name).map(|p| p.is_public()).unwrap_or(false);
        Ok(S3Response::new(GetBucketPolicyStatusOutput {
            policy_status: Some(PolicyStatus { is_public: Some(is_public) }),
        }))
    }
}
