//! Block Public Access of one bucket: four switches, stored as the bucket setting
//! `public-access-block` (JSON), each honoured here and only here.
//!
//! - `BlockPublicAcls`: a request that sets a public canned ACL (`public-read`,
//!   `public-read-write`, `authenticated-read`) on the bucket or on an object is
//!   refused with 403 AccessDenied, from its head, before any byte is stored.
//! - `IgnorePublicAcls`: public ACLs grant nothing. (Every grant a canned ACL makes
//!   to someone other than an owner is public, so ACLs then grant nothing at all.)
//! - `BlockPublicPolicy`: PutBucketPolicy with a public policy (`Policy::is_public`,
//!   what GetBucketPolicyStatus reports) is refused with 403 AccessDenied.
//! - `RestrictPublicBuckets`: while the bucket policy is public, its Allows count only
//!   for the bucket owner and admins; its Denys still count for everyone.

use crate::errors;
use cairn_raft::MetaStore;
use cairn_raft::schema::CannedAcl;
use s3s::{S3Result, s3_error};
use serde::{Deserialize, Serialize};

/// The `sm_bucket_settings` name of a bucket's public access block.
pub const SETTING: &str = "public-access-block";

/// Operations that may set a canned ACL through `x-amz-acl`.
const SETS_ACL: &[&str] = &["PutBucketAcl", "PutObjectAcl", "PutObject", "CopyObject", "CreateMultipartUpload"];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// Whether a canned ACL grants anything to the public (anyone, or any signed key).
pub fn is_public(acl: CannedAcl) -> bool {
    matches!(acl, CannedAcl::PublicRead | CannedAcl::PublicReadWrite | CannedAcl::AuthenticatedRead)
}

/// Whether `op` may set a canned ACL (only those read the block from their head).
pub fn sets_acl(op: &str) -> bool {
    SETS_ACL.contains(&op)
}

impl PublicAccessBlock {
    /// The bucket's configuration, if one was set.
    pub fn of(meta: &MetaStore, bucket: &str) -> S3Result<Option<PublicAccessBlock>> {
        let raw = meta.bucket_setting(bucket, SETTING).map_err(errors::meta)?;
        raw.map(|r| serde_json::from_slice(&r).map_err(|e| s3_error!(InternalError, "stored public access block: {e}")))
            .transpose()
    }

    /// The bucket's configuration; all off when never set.
    pub fn effective(meta: &MetaStore, bucket: &str) -> S3Result<PublicAccessBlock> {
        Ok(PublicAccessBlock::of(meta, bucket)?.unwrap_or_default())
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// BlockPublicAcls, from a request's head: refuses `op` when it sets a public ACL.
    pub fn check_request_acl(&self, op: &str, headers: &http::HeaderMap) -> S3Result<()> {
        if !self.block_public_acls || !SETS_ACL.contains(&op) {
            return Ok(());
        }
        let acl = headers.get("x-amz-acl").and_then(|v| v.to_str().ok()).and_then(|v| super::acl::parse(v).ok());
        match acl {
            Some(a) if is_public(a) => {
                Err(s3_error!(AccessDenied, "Access Denied: the bucket's public access block refuses public ACLs"))
            }
            _ => Ok(()),
        }
    }

    /// BlockPublicPolicy: refuses a public policy.
    pub fn check_policy(&self, public: bool) -> S3Result<()> {
        if self.block_public_policy && public {
            return Err(s3_error!(
                AccessDenied,
                "Access Denied: the bucket's public access block refuses public bucket policies"
            ));
        }
        Ok(())
    }
}
