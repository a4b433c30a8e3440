//! What each S3 operation needs: the policy action it is authorized as, and the
//! ACL permission that can grant it to someone who owns neither bucket nor object.

use super::acl::Perm;
use s3s::dto::CopySource;
use s3s::{S3Result, s3_error};

/// Where an ACL permission is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum On {
    Bucket,
    Object,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    pub action: &'static str,
    /// The ACL permission that grants the action to others, if any can.
    pub acl: Option<(On, Perm)>,
    /// Only the bucket owner (and admins) may do it, whatever a policy says; a
    /// policy Allow for someone else answers MethodNotAllowed, as AWS does.
    pub owner_only: bool,
}

const fn need(action: &'static str, acl: Option<(On, Perm)>) -> Need {
    Need { action, acl, owner_only: false }
}

/// How an operation is authorized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Any signed key (ListBuckets, CreateBucket): there is no bucket to ask.
    Signed(&'static str),
    /// Decided against the bucket (and object) the request names.
    Bucket(Need),
    /// Decided per key inside the handler (DeleteObjects: the keys are in the body).
    PerKey,
}

/// The rule for an s3s operation name. Operations Cairn does not serve are decided
/// as the action `s3:*` (the owner, or a policy allowing `s3:*`), and their
/// handlers answer NotImplemented.
pub fn rule(op: &str) -> Rule {
    use On::*;
    use Perm::*;
    Rule::Bucket(match op {
        "ListBuckets" => return Rule::Signed("s3:ListAllMyBuckets"),
        "CreateBucket" => return Rule::Signed("s3:CreateBucket"),
        "DeleteObjects" => return Rule::PerKey,
        "DeleteBucket" => need("s3:DeleteBucket", None),
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => need("s3:ListBucket", Some((Bucket, Read))),
        "ListObjectVersions" => need("s3:ListBucketVersions", Some((Bucket, Read))),
        "ListMultipartUploads" => need("s3:ListBucketMultipartUploads", Some((Bucket, Read))),
        "GetBucketLocation" => need("s3:GetBucketLocation", None),
        "GetBucketAcl" => need("s3:GetBucketAcl", Some((Bucket, ReadAcp))),
        "PutBucketAcl" => need("s3:PutBucketAcl", Some((Bucket, WriteAcp))),
        "GetBucketPolicyStatus" => need("s3:GetBucketPolicyStatus", None),
        "GetBucketPolicy" => Need { owner_only: true, ..need("s3:GetBucketPolicy", None) },
        "PutBucketPolicy" => Need { owner_only: true, ..need("s3:PutBucketPolicy", None) },
        "DeleteBucketPolicy" => Need { owner_only: true, ..need("s3:DeleteBucketPolicy", None) },
        "GetObject" | "HeadObject" => need("s3:GetObject", Some((Object, Read))),
        "PutObject"
        | "PostObject"
        | "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload" => need("s3:PutObject", Some((Bucket, Write))),
        "DeleteObject" => need("s3:DeleteObject", Some((Bucket, Write))),
        "AbortMultipartUpload" => need("s3:AbortMultipartUpload", Some((Bucket, Write))),
        "ListParts" => need("s3:ListMultipartUploadParts", Some((Bucket, Write))),
        "GetObjectAcl" => need("s3:GetObjectAcl", Some((Object, ReadAcp))),
        "PutObjectAcl" => need("s3:PutObjectAcl", Some((Object, WriteAcp))),
        "GetObjectTagging" => need("s3:GetObjectTagging", None),
        "PutObjectTagging" => need("s3:PutObjectTagging", None),
        "DeleteObjectTagging" => need("s3:DeleteObjectTagging", None),
        "GetObjectRetention" => need("s3:GetObjectRetention", None),
        "PutObjectRetention" => need("s3:PutObjectRetention", None),
        "GetObjectLegalHold" => need("s3:GetObjectLegalHold", None),
        "PutObjectLegalHold" => need("s3:PutObjectLegalHold", None),
        "PutObjectLockConfiguration" => need("s3:PutBucketObjectLockConfiguration", None),
        "GetBucketVersioning" => need("s3:GetBucketVersioning", None),
        "PutBucketVersioning" => need("s3:PutBucketVersioning", None),
        "GetBucketNotificationConfiguration" => need("s3:GetBucketNotification", None),
        "PutBucketNotificationConfiguration" => need("s3:PutBucketNotification", None),
        "GetBucketLogging" => need("s3:GetBucketLogging", None),
        "GetBucketAccelerateConfiguration" => need("s3:GetAccelerateConfiguration", None),
        "GetBucketRequestPayment" => need("s3:GetBucketRequestPayment", None),
        "GetBucketCors" => need("s3:GetBucketCORS", None),
        "PutBucketCors" | "DeleteBucketCors" => need("s3:PutBucketCORS", None),
        "GetBucketLifecycleConfiguration" => need("s3:GetLifecycleConfiguration", None),
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => need("s3:PutLifecycleConfiguration", None),
        "GetBucketTagging" => need("s3:GetBucketTagging", None),
        "PutBucketTagging" | "DeleteBucketTagging" => need("s3:PutBucketTagging", None),
        "GetBucketWebsite" => need("s3:GetBucketWebsite", None),
        "GetObjectLockConfiguration" => need("s3:GetBucketObjectLockConfiguration", None),
        "GetBucketEncryption" => need("s3:GetEncryptionConfiguration", None),
        "PutBucketEncryption" | "DeleteBucketEncryption" => need("s3:PutEncryptionConfiguration", None),
        "GetBucketReplication" => need("s3:GetReplicationConfiguration", None),
        "GetBucketOwnershipControls" => need("s3:GetBucketOwnershipControls", None),
        "PutBucketOwnershipControls" | "DeleteBucketOwnershipControls" => need("s3:PutBucketOwnershipControls", None),
        "GetPublicAccessBlock" => need("s3:GetBucketPublicAccessBlock", None),
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => need("s3:PutBucketPublicAccessBlock", None),
        _ => need("s3:*", None),
    })
}

/// The action an operation is authorized as when it names a version (`versionId`),
/// as AWS names them; the ACL permission stays the operation's.
pub fn version_action(op: &str) -> Option<&'static str> {
    Some(match op {
        "GetObject" | "HeadObject" => "s3:GetObjectVersion",
        "DeleteObject" => "s3:DeleteObjectVersion",
        "GetObjectAcl" => "s3:GetObjectVersionAcl",
        "PutObjectAcl" => "s3:PutObjectVersionAcl",
        "GetObjectTagging" => "s3:GetObjectVersionTagging",
        "PutObjectTagging" => "s3:PutObjectVersionTagging",
        "DeleteObjectTagging" => "s3:DeleteObjectVersionTagging",
        _ => return None,
    })
}

/// [`rule`], with the version action when the request names a version.
pub fn rule_for(op: &str, names_version: bool) -> Rule {
    match (rule(op), names_version.then(|| version_action(op)).flatten()) {
        (Rule::Bucket(need), Some(action)) => Rule::Bucket(Need { action, ..need }),
        (r, _) => r,
    }
}

/// The `x-amz-copy-source` of CopyObject / UploadPartCopy, parsed once: the
/// authorizer decides on this value and the handler copies exactly it. The form is
/// `[/]bucket/key[?versionId=id]`, percent-encoded; a `?` that does not start the
/// version id must be encoded (`%3F`), since a raw one makes the key ambiguous.
pub fn copy_source(header: &str) -> S3Result<CopySource> {
    let invalid = || s3_error!(InvalidArgument, "Invalid copy source: expected bucket/key[?versionId=id], URL-encoded");
    let path = header.find("?versionId=").map_or(header, |i| &header[..i]);
    if path.contains('?') {
        return Err(s3_error!(
            InvalidArgument,
            "Invalid copy source: a '?' in the source key must be URL-encoded as %3F"
        ));
    }
    match CopySource::parse(header) {
        Ok(CopySource::Bucket { key, .. }) if key.is_empty() => Err(invalid()),
        Ok(s @ CopySource::Bucket { .. }) => Ok(s),
        Ok(_) => Err(s3_error!(NotImplemented, "Access point copy sources are not supported")),
        Err(_) => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::is_known_action;

    #[test]
    fn every_served_operation_maps_to_a_known_action() {
        for op in [
            "DeleteBucket",
            "HeadBucket",
            "ListObjects",
            "ListObjectsV2",
            "ListObjectVersions",
            "ListMultipartUploads",
            "GetBucketLocation",
            "GetBucketAcl",
            "PutBucketAcl",
            "GetBucketPolicyStatus",
            "GetBucketPolicy",
            "PutBucketPolicy",
            "DeleteBucketPolicy",
            "GetObject",
            "HeadObject",
            "PutObject",
            "CopyObject",
            "CreateMultipartUpload",
            "UploadPart",
            "UploadPartCopy",
            "CompleteMultipartUpload",
            "DeleteObject",
            "AbortMultipartUpload",
            "ListParts",
            "GetObjectAcl",
            "PutObjectAcl",
        ] {
            let Rule::Bucket(n) = rule(op) else { panic!("{op}") };
            assert!(is_known_action(n.action), "{op}: {}", n.action);
        }
        assert_eq!(rule("ListBuckets"), Rule::Signed("s3:ListAllMyBuckets"));
        assert_eq!(rule("DeleteObjects"), Rule::PerKey);
        let Rule::Bucket(unknown) = rule("PutBucketReplication") else { panic!() };
        assert_eq!((unknown.action, unknown.acl, unknown.owner_only), ("s3:*", None, false));
    }

    #[test]
    fn copy_sources() {
        let bk = |h: &str| match copy_source(h) {
            Ok(CopySource::Bucket { bucket, key, version_id }) => {
                Some((bucket.to_string(), key.to_string(), version_id.map(|v| v.to_string())))
            }
            _ => None,
        };
        assert_eq!(bk("/src/a%20b/c?versionId=x"), Some(("src".into(), "a b/c".into(), Some("x".into()))));
        assert_eq!(bk("src/k"), Some(("src".into(), "k".into(), None)));
        assert_eq!(bk("src/a%3Fb"), Some(("src".into(), "a?b".into(), None)));
        assert_eq!(bk("/src"), None);
        assert_eq!(bk("/src/"), None);
        assert_eq!(bk("src/pub?secret"), None, "a raw ? outside versionId is refused");
        assert_eq!(bk("src/pub?secret?versionId=1"), None);
    }
}
