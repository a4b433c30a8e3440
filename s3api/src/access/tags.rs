//! What the authorizer decides beyond the request head: the tag condition keys, and
//! whether the caller may also take a second action.
//!
//! - `s3:RequestObjectTag/<key>` and `s3:RequestObjectTagKeys` come from `x-amz-tagging`
//!   (PutObject, CreateMultipartUpload, CopyObject) when the request is first decided,
//!   and from the body of PutObjectTagging, which the handler reads and then asks for
//!   [`Authorizer::authorize_request_tags`] before anything is stored.
//! - `s3:ExistingObjectTag/<key>` are the tags of the version the request names
//!   (`versionId`, else the current one), read only for buckets whose policy uses them.
//! - [`Authorizer::may`] tells a handler whether the caller may also take an action the
//!   operation itself does not need (`s3:BypassGovernanceRetention`, say).

use super::{Authorized, Authorizer, Conditions, Need, Rule, ops};
use crate::errors;
use cairn_raft::schema::{ATTR_TAGS, TagSet};
use s3s::{S3ErrorCode, S3Result};

const TAG_WRITES: &[&str] = &["PutObject", "CreateMultipartUpload", "CopyObject"];

/// Adds the request-tag condition keys of `tags`.
fn add_request_tags(conds: &mut Conditions, tags: &[(String, String)]) {
    for (k, v) in tags {
        conds.insert(format!("s3:RequestObjectTag/{k}"), vec![v.clone()]);
    }
    conds.insert("s3:RequestObjectTagKeys".into(), tags.iter().map(|(k, _)| k.clone()).collect());
}

impl Authorizer {
    /// Adds the tag condition keys a request's head and its object give.
    pub(super) fn tag_conditions(
        &self,
        conds: &mut Conditions,
        op: &str,
        bucket: Option<&str>,
        key: Option<&str>,
        version_id: Option<&str>,
        headers: &http::HeaderMap,
    ) -> S3Result<()> {
        if TAG_WRITES.contains(&op)
            && let Some(h) = headers.get("x-amz-tagging").and_then(|v| v.to_str().ok())
        {
            let tags: Vec<(String, String)> = form_urlencoded::parse(h.as_bytes()).into_owned().collect();
            add_request_tags(conds, &tags);
        }
        let (Some(bucket), Some(key)) = (bucket, key) else { return Ok(()) };
        let Some(info) = self.meta.get_bucket(bucket).map_err(errors::meta)? else { return Ok(()) };
        if !info.policy.as_deref().is_some_and(|p| p.contains("ExistingObjectTag")) {
            return Ok(());
        }
        let version = match version_id {
            Some("null") => None,
            Some(id) => Some(id.to_string()),
            None => match self.meta.get_object(bucket, key).map_err(errors::meta)? {
                Some(v) => v.version_id,
                None => return Ok(()),
            },
        };
        let attrs = self.meta.version_attrs(bucket, key, version.as_deref()).map_err(errors::meta)?;
        if let Some(raw) = attrs.get(ATTR_TAGS) {
            let tags: TagSet = bincode::deserialize(raw).unwrap_or_default();
            for (k, v) in tags {
                conds.insert(format!("s3:ExistingObjectTag/{k}"), vec![v]);
            }
        }
        Ok(())
    }

    /// Whether a refusal of `op` from its head alone waits for its body: PutObjectTagging
    /// carries its tags there, so where the bucket's policy tests request tags the
    /// handler decides once the (small, bounded) tag document is read, before
    /// anything is stored.
    pub(super) fn decided_on_body(&self, op: &str, bucket: &str) -> S3Result<bool> {
        if op != "PutObjectTagging" {
            return Ok(false);
        }
        let info = self.meta.get_bucket(bucket).map_err(errors::meta)?;
        Ok(info.and_then(|b| b.policy).is_some_and(|p| p.contains("RequestObjectTag")))
    }

    /// Decides `op` again with the tags its body carried as `s3:RequestObjectTag/*`.
    pub fn authorize_request_tags(
        &self,
        auth: &Authorized,
        op: &str,
        bucket: &str,
        key: &str,
        names_version: bool,
        tags: &[(String, String)],
    ) -> S3Result<()> {
        let mut conds = (*auth.conditions).clone();
        add_request_tags(&mut conds, tags);
        match ops::rule_for(op, names_version) {
            Rule::Bucket(need) => self.decide(&auth.caller, &need, bucket, Some(key), None, &conds),
            _ => Ok(()),
        }
    }

    /// Whether the caller may also take `action` on `bucket/key` (policies and
    /// ownership decide; no ACL grants it).
    pub fn may(&self, auth: &Authorized, action: &'static str, bucket: &str, key: &str) -> S3Result<bool> {
        let need = Need { action, acl: None, owner_only: false };
        match self.decide(&auth.caller, &need, bucket, Some(key), None, &auth.conditions) {
            Ok(()) => Ok(true),
            Err(e) if *e.code() == S3ErrorCode::AccessDenied => Ok(false),
            Err(e) => Err(e),
        }
    }
}
