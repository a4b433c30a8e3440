//! Reads of bucket and object settings Cairn does not implement yet, answered as
//! AWS answers for a bucket where they were never set: an empty configuration
//! where AWS returns one (logging, accelerate, request payment), and its "not found"
//! error where AWS returns that (website, replication). Ownership controls, object lock,
//! tags, default encryption, CORS, lifecycle and the public access block use their
//! "not found" errors from here too. Writes of these settings still answer
//! NotImplemented. Each entry leaves this file when its feature lands.

use crate::s3::service::CairnS3;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

/// The error AWS gives for a setting never configured on a bucket.
fn not_configured(code: &str, message: &str) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::Custom(code.to_string().into()), message.to_string());
    e.set_status_code(http::StatusCode::NOT_FOUND);
    e
}

/// Which settings of a bucket are read, and what their unconfigured answer is.
pub(crate) enum Unset {
    Cors,
    Lifecycle,
    Tagging,
    Website,
    ObjectLock,
    Encryption,
    Replication,
    OwnershipControls,
    PublicAccessBlock,
}

impl Unset {
    pub(crate) fn error(self) -> S3Error {
        let (code, message) = match self {
            Unset::Cors => ("NoSuchCORSConfiguration", "The CORS configuration does not exist"),
            Unset::Lifecycle => ("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"),
            Unset::Tagging => ("NoSuchTagSet", "The TagSet does not exist"),
            Unset::Website => {
                ("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration")
            }
            Unset::ObjectLock => {
                ("ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket")
            }
            Unset::Encryption => (
                "ServerSideEncryptionConfigurationNotFoundError",
                "The server side encryption configuration was not found",
            ),
            Unset::Replication => {
                ("ReplicationConfigurationNotFoundError", "The replication configuration was not found")
            }
            Unset::OwnershipControls => {
                ("OwnershipControlsNotFoundError", "The bucket ownership controls were not found")
            }
            Unset::PublicAccessBlock => {
                ("NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found")
            }
        };
        not_configured(code, message)
    }
}

impl CairnS3 {
    /// The not-found answer for a setting of an existing bucket.
    pub(crate) async fn unset<O>(&self, bucket: &str, what: Unset) -> S3Result<S3Response<O>> {
        self.require_bucket(bucket).await?;
        Err(what.error())
    }

    /// The empty configuration of an existing bucket.
    pub(crate) async fn empty<O: Default>(&self, bucket: &str) -> S3Result<S3Response<O>> {
        self.require_bucket(bucket).await?;
        Ok(S3Response::new(O::default()))
    }

    pub(crate) async fn get_bucket_request_payment_impl(
        &self,
        req: S3Request<GetBucketRequestPaymentInput>,
    ) -> S3Result<S3Response<GetBucketRequestPaymentOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        Ok(S3Response::new(GetBucketRequestPaymentOutput { payer: Some(Payer::from_static(Payer::BUCKET_OWNER)) }))
    }
}
