//! What each S3 operation needs: the policy action it is authorized as, and the
//! ACL permission that can grant it to someone who owns neither bucket nor object.

use super::acl::Perm;

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
        _ => need("s3:*", None),
    })
}

/// The `x-amz-copy-source` of CopyObject / UploadPartCopy: `[/]bucket/key[?versionId=..]`,
/// percent-encoded. `None` if it does not name a bucket and a key.
pub fn copy_source(header: &str) -> Option<(String, String)> {
    let path = header.split_once('?').map_or(header, |(p, _)| p);
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8().ok()?;
    let (bucket, key) = decoded.trim_start_matches('/').split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then(|| (bucket.to_string(), key.to_string()))
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
        let Rule::Bucket(unknown) = rule("PutBucketLifecycleConfiguration") else { panic!() };
        assert_eq!((unknown.action, unknown.acl, unknown.owner_only), ("s3:*", None, false));
    }

    #[test]
    fn copy_sources() {
        assert_eq!(copy_source("/src/a%20b/c?versionId=x"), Some(("src".into(), "a b/c".into())));
        assert_eq!(copy_source("src/k"), Some(("src".into(), "k".into())));
        assert_eq!(copy_source("/src"), None);
        assert_eq!(copy_source("/src/"), None);
    }
}
