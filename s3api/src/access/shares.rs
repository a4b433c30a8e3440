//! Reads granted by asset shares: a key of a tenant that an asset was shared with may
//! read (GetObject, HeadObject, of the exact object version) every object that
//! asset's versions and renditions point at, and nothing else of the bucket. Looked
//! up in the metadata after the request's read barrier, so a revocation counts on
//! every node at once. A policy's explicit Deny still wins (it is decided before).

use super::{Authorizer, Identity, Need};
use crate::errors;
use cairn_raft::assets::ObjectRef;
use s3s::S3Result;

/// The policy actions a share grants.
const SHARED_ACTIONS: [&str; 2] = ["s3:GetObject", "s3:GetObjectVersion"];

impl Authorizer {
    /// Does an asset share let `who` do `need` on `bucket/key` (version `version`,
    /// the current one when `None`)?
    pub(super) fn shared_read(
        &self,
        who: Option<&Identity>,
        need: &Need,
        bucket: &str,
        key: Option<&str>,
        version: Option<&str>,
    ) -> S3Result<bool> {
        let (Some(who), Some(key)) = (who, key) else { return Ok(false) };
        if !SHARED_ACTIONS.contains(&need.action) {
            return Ok(false);
        }
        let Some(tenant) = self.meta.key_tenancy(&who.access_key_id).map_err(errors::meta)?.and_then(|t| t.tenant)
        else {
            return Ok(false);
        };
        let Some(obj) = self.named_version(bucket, key, version)? else { return Ok(false) };
        let o = ObjectRef { bucket: bucket.to_string(), key: key.to_string(), version_id: obj.version_id };
        self.meta.shared_with(&tenant, &o).map_err(errors::meta)
    }
}
