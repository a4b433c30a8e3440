//! Put/Get/DeletePublicAccessBlock of a bucket. What each switch does, and where it is
//! honoured, is `crate::access::public_block`.

use crate::access::public_block::{PublicAccessBlock, SETTING};
use crate::errors;
use crate::s3::service::CairnS3;
use crate::s3::unconfigured::Unset;
use cairn_object::meta::put_bucket_setting;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

impl CairnS3 {
    pub(crate) async fn put_public_access_block_impl(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let c = input.public_access_block_configuration;
        let block = PublicAccessBlock {
            block_public_acls: c.block_public_acls.unwrap_or(false),
            ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
            block_public_policy: c.block_public_policy.unwrap_or(false),
            restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
        };
        put_bucket_setting(&self.store.meta, &input.bucket, SETTING, Some(block.encode()))
            .await
            .map_err(errors::object)?;
        Ok(S3Response::new(PutPublicAccessBlockOutput::default()))
    }

    pub(crate) async fn get_public_access_block_impl(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
        let bucket = req.input.bucket;
        self.require_bucket(&bucket).await?;
        let Some(b) = PublicAccessBlock::of(&self.store.meta, &bucket)? else {
            return Err(Unset::PublicAccessBlock.error());
        };
        Ok(S3Response::new(GetPublicAccessBlockOutput {
            public_access_block_configuration: Some(PublicAccessBlockConfiguration {
                block_public_acls: Some(b.block_public_acls),
                ignore_public_acls: Some(b.ignore_public_acls),
                block_public_policy: Some(b.block_public_policy),
                restrict_public_buckets: Some(b.restrict_public_buckets),
            }),
        }))
    }

    pub(crate) async fn delete_public_access_block_impl(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
        let bucket = req.input.bucket;
        self.require_bucket(&bucket).await?;
        put_bucket_setting(&self.store.meta, &bucket, SETTING, None).await.map_err(errors::object)?;
        Ok(S3Response::with_status(DeletePublicAccessBlockOutput::default(), http::StatusCode::NO_CONTENT))
    }
}
