//! Object ownership (S3 Object Ownership): who owns the objects written to a bucket,
//! and whether ACLs count. A bucket setting (`ownership`); unset is `ObjectWriter`,
//! what Cairn has always done.
//!
//! - `ObjectWriter`: the writer owns what it writes; ACLs grant access.
//! - `BucketOwnerPreferred`: as ObjectWriter, but an object written with the
//!   `bucket-owner-full-control` canned ACL belongs to the bucket owner.
//! - `BucketOwnerEnforced`: ACLs are off. The bucket owner owns every new object,
//!   ACLs grant nothing, and a request that sets an ACL other than
//!   `bucket-owner-full-control` (or `private` on the bucket) is refused with 400
//!   AccessControlListNotSupported.

use crate::errors;
use cairn_raft::MetaStore;
use cairn_raft::schema::CannedAcl;
use s3s::{S3Result, s3_error};

/// The `sm_bucket_settings` name of a bucket's object ownership.
pub const SETTING: &str = "ownership";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    ObjectWriter,
    BucketOwnerPreferred,
    BucketOwnerEnforced,
}

impl Ownership {
    pub fn as_str(self) -> &'static str {
        match self {
            Ownership::ObjectWriter => "ObjectWriter",
            Ownership::BucketOwnerPreferred => "BucketOwnerPreferred",
            Ownership::BucketOwnerEnforced => "BucketOwnerEnforced",
        }
    }

    pub fn parse(s: &str) -> Option<Ownership> {
        [Ownership::ObjectWriter, Ownership::BucketOwnerPreferred, Ownership::BucketOwnerEnforced]
            .into_iter()
            .find(|o| o.as_str() == s)
    }

    /// The bucket's setting, if it was ever set.
    pub fn of(meta: &MetaStore, bucket: &str) -> S3Result<Option<Ownership>> {
        let raw = meta.bucket_setting(bucket, SETTING).map_err(errors::meta)?;
        Ok(raw.and_then(|r| std::str::from_utf8(&r).ok().and_then(Ownership::parse)))
    }

    /// The bucket's rule, `ObjectWriter` when never set.
    pub fn effective(meta: &MetaStore, bucket: &str) -> S3Result<Ownership> {
        Ok(Ownership::of(meta, bucket)?.unwrap_or(Ownership::ObjectWriter))
    }

    /// Whether ACLs grant access in the bucket.
    pub fn acls_apply(self) -> bool {
        self != Ownership::BucketOwnerEnforced
    }

    /// The owner and ACL of a new object written by `writer` with `acl` (`asked` when
    /// the request named one), or the refusal of an ACL the bucket does not allow.
    pub fn new_object(
        self,
        writer: &str,
        bucket_owner: &str,
        acl: CannedAcl,
        asked: bool,
    ) -> S3Result<(String, CannedAcl)> {
        match self {
            Ownership::BucketOwnerEnforced => {
                if asked && acl != CannedAcl::BucketOwnerFullControl {
                    return Err(not_supported());
                }
                Ok((bucket_owner.to_string(), CannedAcl::Private))
            }
            Ownership::BucketOwnerPreferred if acl == CannedAcl::BucketOwnerFullControl => {
                Ok((bucket_owner.to_string(), acl))
            }
            _ => Ok((writer.to_string(), acl)),
        }
    }

    /// Refuses PutObjectAcl / PutBucketAcl in a bucket with ACLs off, unless the ACL
    /// asked for changes nothing (`allowed`).
    pub fn check_acl_change(self, acl: CannedAcl, allowed: CannedAcl) -> S3Result<()> {
        if self == Ownership::BucketOwnerEnforced && acl != allowed {
            return Err(not_supported());
        }
        Ok(())
    }
}

fn not_supported() -> s3s::S3Error {
    s3_error!(AccessControlListNotSupported, "The bucket does not allow ACLs")
}
