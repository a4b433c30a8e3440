//! Action names and action patterns (`s3:GetObject`, `s3:Get*`, `s3:*`, `cairn:GetAsset`,
//! `*`): S3's, and Cairn's own for the asset catalogue ([`CAIRN_ACTIONS`]).

use super::pattern::{Tok, tokens, wildcard_match};

/// Every S3 action name Cairn knows, as AWS names them for authorization. Used to validate
/// `Action` / `NotAction` entries: an exact name must be listed here, a wildcard pattern must
/// match at least one of them.
pub const S3_ACTIONS: &[&str] = &[
    "s3:AbortMultipartUpload",
    "s3:BypassGovernanceRetention",
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:DeleteBucketOwnershipControls",
    "s3:DeleteBucketPolicy",
    "s3:DeleteBucketWebsite",
    "s3:DeleteObject",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersion",
    "s3:DeleteObjectVersionTagging",
    "s3:GetAccelerateConfiguration",
    "s3:GetAnalyticsConfiguration",
    "s3:GetBucketAcl",
    "s3:GetBucketCORS",
    "s3:GetBucketLocation",
    "s3:GetBucketLogging",
    "s3:GetBucketNotification",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketPolicy",
    "s3:GetBucketPolicyStatus",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketRequestPayment",
    "s3:GetBucketTagging",
    "s3:GetBucketVersioning",
    "s3:GetBucketWebsite",
    "s3:GetEncryptionConfiguration",
    "s3:GetIntelligentTieringConfiguration",
    "s3:GetInventoryConfiguration",
    "s3:GetLifecycleConfiguration",
    "s3:GetMetricsConfiguration",
    "s3:GetObject",
    "s3:GetObjectAcl",
    "s3:GetObjectAttributes",
    "s3:GetObjectLegalHold",
    "s3:GetObjectRetention",
    "s3:GetObjectTagging",
    "s3:GetObjectTorrent",
    "s3:GetObjectVersion",
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionAttributes",
    "s3:GetObjectVersionForReplication",
    "s3:GetObjectVersionTagging",
    "s3:GetObjectVersionTorrent",
    "s3:GetReplicationConfiguration",
    "s3:ListAllMyBuckets",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:ListBucketVersions",
    "s3:ListMultipartUploadParts",
    "s3:ObjectOwnerOverrideToBucketOwner",
    "s3:PutAccelerateConfiguration",
    "s3:PutAnalyticsConfiguration",
    "s3:PutBucketAcl",
    "s3:PutBucketCORS",
    "s3:PutBucketLogging",
    "s3:PutBucketNotification",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketRequestPayment",
    "s3:PutBucketTagging",
    "s3:PutBucketVersioning",
    "s3:PutBucketWebsite",
    "s3:PutEncryptionConfiguration",
    "s3:PutIntelligentTieringConfiguration",
    "s3:PutInventoryConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutMetricsConfiguration",
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:PutObjectLegalHold",
    "s3:PutObjectRetention",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionAcl",
    "s3:PutObjectVersionTagging",
    "s3:PutReplicationConfiguration",
    "s3:ReplicateDelete",
    "s3:ReplicateObject",
    "s3:ReplicateTags",
    "s3:RestoreObject",
];

/// Cairn's own actions: the asset catalogue's operations (`s3api/src/access/asset_ops.rs`
/// says which operation is which). In a bucket policy they name the assets whose
/// objects live in the bucket (resource `arn:aws:s3:::BUCKET/KEY`, the object).
pub const CAIRN_ACTIONS: &[&str] = &[
    "cairn:Annotate",
    "cairn:DeleteAsset",
    "cairn:GetAsset",
    "cairn:PutAsset",
    "cairn:ShareAsset",
    "cairn:TransferAsset",
];

fn all_actions() -> impl Iterator<Item = &'static &'static str> {
    S3_ACTIONS.iter().chain(CAIRN_ACTIONS)
}

/// True if `name` is one of [`S3_ACTIONS`] or [`CAIRN_ACTIONS`] (case-insensitive).
pub fn is_known_action(name: &str) -> bool {
    all_actions().any(|a| a.eq_ignore_ascii_case(name))
}

/// A validated `Action` / `NotAction` entry, stored lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ActionPattern {
    toks: Vec<Tok>,
}

impl ActionPattern {
    /// Validates one `Action` entry. Exact names must be known actions; wildcard patterns must
    /// match at least one known action.
    pub(crate) fn parse(value: &str) -> Result<ActionPattern, String> {
        let lower = value.to_lowercase();
        let toks = tokens(&lower, true);
        let wild = toks.iter().any(|t| !matches!(t, Tok::Ch(_)));
        let known = if wild {
            all_actions().any(|a| wildcard_match(&toks, &a.to_ascii_lowercase()))
        } else {
            is_known_action(value)
        };
        if known {
            Ok(ActionPattern { toks })
        } else if value.is_empty() {
            Err("empty action".to_string())
        } else if !lower.starts_with("s3:") && !lower.starts_with("cairn:") && !wild {
            Err(format!("unknown action {value} (only s3: and cairn: actions are supported in a bucket policy)"))
        } else {
            Err(format!("unknown action {value}"))
        }
    }

    /// `action_lower` must already be lower-cased.
    pub(crate) fn matches(&self, action_lower: &str) -> bool {
        wildcard_match(&self.toks, action_lower)
    }
}
