//! Put/Get/DeleteBucketEncryption: a bucket's default encryption, applied to PutObject,
//! CopyObject and CreateMultipartUpload when the request names none
//! ([`CairnS3::write_encryption`]). Only SSE-S3 (`AES256`) can be a default until
//! SSE-KMS lands; the setting is the algorithm's name in the bucket's settings.

use crate::errors;
use crate::s3::service::CairnS3;
use crate::s3::sse::{self, Customer};
use crate::s3::unconfigured::Unset;
use cairn_object::sse::SseRequest;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// The bucket setting that holds the default encryption.
const SETTING: &str = "encryption";

impl CairnS3 {
    /// The encryption a write into `bucket` gets: what its headers ask for, else the
    /// bucket's default.
    pub(crate) fn write_encryption(
        &self,
        bucket: &str,
        headers: &http::HeaderMap,
    ) -> S3Result<(Option<SseRequest>, Option<Customer>)> {
        let asked = sse::write_request(headers)?;
        if asked.0.is_some() {
            return Ok(asked);
        }
        Ok((self.default_encryption(bucket)?, None))
    }

    fn default_encryption(&self, bucket: &str) -> S3Result<Option<SseRequest>> {
        let raw = self.store.meta.bucket_setting(bucket, SETTING).map_err(errors::meta)?;
        Ok(match raw.as_deref() {
            None => None,
            Some(b"AES256") => Some(SseRequest::S3),
            Some(other) => {
                let name = String::from_utf8_lossy(other);
                return Err(s3_error!(InternalError, "bucket {bucket} has an unknown default encryption {name:?}"));
            }
        })
    }

    pub(crate) async fn put_bucket_encryption_impl(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let [rule] = input.server_side_encryption_configuration.rules.as_slice() else {
            return Err(s3_error!(MalformedXML, "ServerSideEncryptionConfiguration must hold exactly one Rule"));
        };
        let Some(default) = &rule.apply_server_side_encryption_by_default else {
            return Err(s3_error!(MalformedXML, "The Rule needs ApplyServerSideEncryptionByDefault"));
        };
        if rule.bucket_key_enabled == Some(true) {
            return Err(s3_error!(
                NotImplemented,
                "S3 Bucket Keys (BucketKeyEnabled) are for SSE-KMS, which this server does not implement yet"
            ));
        }
        match default.sse_algorithm.as_str() {
            ServerSideEncryption::AES256 => {}
            ServerSideEncryption::AWS_KMS | ServerSideEncryption::AWS_KMS_DSSE => {
                return Err(s3_error!(
                    NotImplemented,
                    "Server-side encryption with KMS keys (SSE-KMS) is not implemented by this server yet"
                ));
            }
            other => return Err(s3_error!(MalformedXML, "Unknown SSEAlgorithm {other}: AES256")),
        }
        if default.kms_master_key_id.is_some() {
            return Err(s3_error!(InvalidArgument, "KMSMasterKeyID goes only with SSEAlgorithm aws:kms"));
        }
        if !self.store.has_master_key() {
            return Err(sse::error(cairn_object::sse::SseError::NoMasterKey));
        }
        cairn_object::meta::put_bucket_setting(&self.store.meta, &input.bucket, SETTING, Some(b"AES256".to_vec()))
            .await
            .map_err(errors::object)?;
        Ok(S3Response::new(PutBucketEncryptionOutput::default()))
    }

    pub(crate) async fn get_bucket_encryption_impl(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        let bucket = req.input.bucket;
        self.require_bucket(&bucket).await?;
        let Some(SseRequest::S3) = self.default_encryption(&bucket)? else {
            return Err(Unset::Encryption.error());
        };
        let rule = ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                sse_algorithm: ServerSideEncryption::from_static(ServerSideEncryption::AES256),
                kms_master_key_id: None,
            }),
            bucket_key_enabled: Some(false),
        };
        Ok(S3Response::new(GetBucketEncryptionOutput {
            server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration { rules: vec![rule] }),
        }))
    }

    pub(crate) async fn delete_bucket_encryption_impl(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        let bucket = req.input.bucket;
        self.require_bucket(&bucket).await?;
        cairn_object::meta::put_bucket_setting(&self.store.meta, &bucket, SETTING, None)
            .await
            .map_err(errors::object)?;
        Ok(S3Response::with_status(DeleteBucketEncryptionOutput::default(), http::StatusCode::NO_CONTENT))
    }
}
