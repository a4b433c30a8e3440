//! Put/Get/DeleteBucketEncryption: a bucket's default encryption, applied to PutObject,
//! CopyObject and CreateMultipartUpload when the request names none
//! ([`CairnS3::write_encryption`]): SSE-S3 (`AES256`, stored as that name) or SSE-KMS
//! (`aws:kms`, stored as `aws:kms` and the key id after a NUL; without a key id, the
//! store's default key).

use crate::errors;
use crate::s3::service::CairnS3;
use crate::s3::sse::{self, Customer};
use crate::s3::unconfigured::Unset;
use cairn_object::sse::{SseError, SseRequest, kms};
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
            Some(v) if v.starts_with(b"aws:kms\0") => Some(SseRequest::Kms {
                key_id: String::from_utf8_lossy(&v[b"aws:kms\0".len()..]).into_owned(),
                context: None,
            }),
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
                "S3 Bucket Keys (BucketKeyEnabled) are not implemented by this server"
            ));
        }
        let value = match default.sse_algorithm.as_str() {
            ServerSideEncryption::AES256 => {
                if default.kms_master_key_id.is_some() {
                    return Err(s3_error!(InvalidArgument, "KMSMasterKeyID goes only with SSEAlgorithm aws:kms"));
                }
                b"AES256".to_vec()
            }
            ServerSideEncryption::AWS_KMS => {
                let id = match &default.kms_master_key_id {
                    Some(given) => kms::key_id_of(given).map_err(sse::error)?,
                    None => kms::DEFAULT_KEY.to_string(),
                };
                // A named key must exist now (the default one is made at its first use).
                if id != kms::DEFAULT_KEY {
                    self.store.meta.read_barrier().await.map_err(errors::meta)?;
                    if self.store.meta.kms_key(&id).map_err(errors::meta)?.is_none() {
                        return Err(sse::error(SseError::KmsNotFound(id)));
                    }
                }
                [b"aws:kms\0".as_slice(), id.as_bytes()].concat()
            }
            ServerSideEncryption::AWS_KMS_DSSE => {
                return Err(s3_error!(
                    NotImplemented,
                    "Dual-layer SSE-KMS (aws:kms:dsse) is not implemented by this server"
                ));
            }
            other => return Err(s3_error!(MalformedXML, "Unknown SSEAlgorithm {other}: AES256 or aws:kms")),
        };
        if !self.store.has_master_key() {
            return Err(sse::error(SseError::NoMasterKey));
        }
        cairn_object::meta::put_bucket_setting(&self.store.meta, &input.bucket, SETTING, Some(value))
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
        let (algorithm, key) = match self.default_encryption(&bucket)? {
            None | Some(SseRequest::Customer(_)) => return Err(Unset::Encryption.error()),
            Some(SseRequest::S3) => (ServerSideEncryption::AES256, None),
            Some(SseRequest::Kms { key_id, .. }) => {
                (ServerSideEncryption::AWS_KMS, Some(sse::kms_arn(&self.store.config.region, &key_id)))
            }
        };
        let rule = ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                sse_algorithm: ServerSideEncryption::from_static(algorithm),
                kms_master_key_id: key,
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
