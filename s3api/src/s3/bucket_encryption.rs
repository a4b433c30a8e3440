//! Put/Get/DeleteBucketEncryption: a bucket's default encryption, applied to PutObject,
//! CopyObject and CreateMultipartUpload when the request names none
//! ([`CairnS3::write_encryption`]): SSE-S3 or SSE-KMS, and whether SSE-KMS writes
//! into the bucket use its S3 Bucket Key.
//!
//! The bucket setting `encryption` holds `AES256`, or `aws:kms` and the key id after a
//! NUL, then `\0bucket-key` when BucketKeyEnabled (for `AES256` only kept and shown, as
//! AWS does: SSE-S3 has no KMS key to derive one from).

use crate::errors;
use crate::s3::service::CairnS3;
use crate::s3::sse::{self, Customer};
use crate::s3::unconfigured::Unset;
use cairn_object::sse::{SseError, SseRequest, kms};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// The bucket setting that holds the default encryption.
const SETTING: &str = "encryption";
const BUCKET_KEY_FLAG: &str = "bucket-key";

/// A bucket's default encryption.
struct BucketDefault {
    /// SSE-S3 or SSE-KMS (its `bucket_key` set when `bucket_key`).
    request: SseRequest,
    bucket_key: bool,
}

impl BucketDefault {
    fn parse(bucket: &str, raw: &[u8]) -> S3Result<Self> {
        let unknown = || {
            let raw = String::from_utf8_lossy(raw);
            s3_error!(InternalError, "bucket {bucket} has an unknown default encryption {raw:?}")
        };
        let text = std::str::from_utf8(raw).map_err(|_| unknown())?;
        let parts: Vec<&str> = text.split('\0').collect();
        let (kms_key, flags) = match parts.as_slice() {
            ["AES256", flags @ ..] => (None, flags),
            ["aws:kms", id, flags @ ..] => (Some(id.to_string()), flags),
            _ => return Err(unknown()),
        };
        let bucket_key = match flags {
            [] => false,
            [BUCKET_KEY_FLAG] => true,
            _ => return Err(unknown()),
        };
        let request = match kms_key {
            None => SseRequest::S3,
            Some(key_id) => {
                SseRequest::Kms { key_id, context: None, bucket_key: bucket_key.then(|| bucket.to_string()) }
            }
        };
        Ok(BucketDefault { request, bucket_key })
    }

    fn encode(&self) -> Vec<u8> {
        let mut v = match &self.request {
            SseRequest::Kms { key_id, .. } => format!("aws:kms\0{key_id}"),
            _ => "AES256".to_string(),
        };
        if self.bucket_key {
            v.push('\0');
            v.push_str(BUCKET_KEY_FLAG);
        }
        v.into_bytes()
    }
}

impl CairnS3 {
    /// The encryption a write into `bucket` gets: what its headers ask for, else the
    /// bucket's default. SSE-KMS asked for without the Bucket Key header uses the
    /// bucket's Bucket Key if its default enables one.
    pub(crate) fn write_encryption(
        &self,
        bucket: &str,
        headers: &http::HeaderMap,
    ) -> S3Result<(Option<SseRequest>, Option<Customer>)> {
        let asked = sse::write_request(headers, bucket)?;
        match asked {
            (Some(SseRequest::Kms { key_id, context, bucket_key: None }), c)
                if sse::bucket_key_header(headers)?.is_none() =>
            {
                let by_default = self.default_encryption(bucket)?.is_some_and(|d| d.bucket_key);
                let bucket_key = by_default.then(|| bucket.to_string());
                Ok((Some(SseRequest::Kms { key_id, context, bucket_key }), c))
            }
            (Some(r), c) => Ok((Some(r), c)),
            (None, _) => Ok((self.default_encryption(bucket)?.map(|d| d.request), None)),
        }
    }

    fn default_encryption(&self, bucket: &str) -> S3Result<Option<BucketDefault>> {
        let raw = self.store.meta.bucket_setting(bucket, SETTING).map_err(errors::meta)?;
        raw.map(|r| BucketDefault::parse(bucket, &r)).transpose()
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
        let request = match default.sse_algorithm.as_str() {
            ServerSideEncryption::AES256 => {
                if default.kms_master_key_id.is_some() {
                    return Err(s3_error!(InvalidArgument, "KMSMasterKeyID goes only with SSEAlgorithm aws:kms"));
                }
                SseRequest::S3
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
                SseRequest::Kms { key_id: id, context: None, bucket_key: None }
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
        let value = BucketDefault { request, bucket_key: rule.bucket_key_enabled == Some(true) }.encode();
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
        let Some(default) = self.default_encryption(&bucket)? else { return Err(Unset::Encryption.error()) };
        let (algorithm, key) = match &default.request {
            SseRequest::Customer(_) => return Err(Unset::Encryption.error()),
            SseRequest::S3 => (ServerSideEncryption::AES256, None),
            SseRequest::Kms { key_id, .. } => {
                (ServerSideEncryption::AWS_KMS, Some(sse::kms_arn(&self.store.config.region, key_id)))
            }
        };
        let rule = ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                sse_algorithm: ServerSideEncryption::from_static(algorithm),
                kms_master_key_id: key,
            }),
            bucket_key_enabled: Some(default.bucket_key),
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
