//! Bucket operations and the listings that scan a bucket.

use crate::access::ownership::{self, Ownership};
use crate::access::{Owners, acl};
use crate::errors;
use crate::s3::ownership::parse_rule;
use crate::s3::service::{CairnS3, caller};
use crate::s3::{listing, object_lock};
use crate::timefmt::{now, to_timestamp};
use cairn_object::{ObjectError, meta};
use cairn_raft::schema::{Attrs, BucketInfo, CannedAcl, SETTING_OBJECT_LOCK, SETTING_VERSIONING, Versioning};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// The bucket names Cairn keeps for its own endpoints (`/cairn/...`) and its web
/// console (`/console/...`).
pub const RESERVED_BUCKETS: [&str; 2] = ["cairn", "console"];

pub fn validate_bucket_name(name: &str) -> S3Result<()> {
    let b = name.as_bytes();
    let ok_chars = b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-');
    let ok_ends = b.first().is_some_and(u8::is_ascii_alphanumeric) && b.last().is_some_and(u8::is_ascii_alphanumeric);
    let ip_like = name.parse::<std::net::Ipv4Addr>().is_ok();
    let valid = (3..=63).contains(&b.len())
        && ok_chars
        && ok_ends
        && !ip_like
        && !name.contains("..")
        && !name.starts_with("xn--")
        && !name.starts_with("sthree-")
        && !name.ends_with("-s3alias")
        && !name.ends_with("--ol-s3");
    if !valid {
        return Err(s3_error!(InvalidBucketName, "The specified bucket is not valid."));
    }
    if RESERVED_BUCKETS.contains(&name) {
        return Err(s3_error!(InvalidBucketName, "The bucket name {name} is reserved for Cairn's own endpoints."));
    }
    Ok(())
}

impl CairnS3 {
    /// The bucket, read locally; a miss is confirmed after a read barrier, so a bucket
    /// created through another node a moment ago is never reported missing. (A hit
    /// needs no barrier: apply checks the bucket again for every write.)
    pub(crate) async fn require_bucket(&self, name: &str) -> S3Result<BucketInfo> {
        if let Some(b) = self.store.meta.get_bucket(name).map_err(errors::meta)? {
            return Ok(b);
        }
        self.store.meta.read_barrier().await.map_err(errors::meta)?;
        self.store.meta.get_bucket(name).map_err(errors::meta)?.ok_or_else(errors::no_such_bucket)
    }

    pub(crate) async fn create_bucket_impl(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let Some(owner) = caller(&req)?.identity.map(|i| i.access_key_id) else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        let acl = acl::from_request(req.input.acl.as_ref().map(|a| a.as_str()), &req.headers)?;
        let ownership = req.input.object_ownership.as_ref().map(|o| parse_rule(o.as_str())).transpose()?;
        if ownership == Some(Ownership::BucketOwnerEnforced) && req.input.acl.is_some() && acl != CannedAcl::Private {
            return Err(s3_error!(
                InvalidBucketAclWithObjectOwnership,
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
            ));
        }
        let name = req.input.bucket;
        validate_bucket_name(&name)?;
        if let Some(loc) = req.input.create_bucket_configuration.as_ref().and_then(|c| c.location_constraint.as_ref())
            && !loc.as_str().is_empty()
            && loc.as_str() != self.store.config.region
        {
            return Err(s3_error!(
                InvalidLocationConstraint,
                "The specified location-constraint is not valid for this endpoint (region {}).",
                self.store.config.region
            ));
        }
        let bucket = BucketInfo { name: name.clone(), owner: owner.clone(), created: now(), acl, policy: None };
        // Settings the bucket is created with, in the same commit: one created with
        // object lock never exists without it.
        let mut settings = Attrs::new();
        if let Some(rule) = ownership {
            settings.insert(ownership::SETTING.into(), rule.as_str().as_bytes().to_vec());
        }
        if req.input.object_lock_enabled_for_bucket == Some(true) {
            let enabled = bincode::serialize(&Versioning::Enabled).map_err(|e| s3_error!(InternalError, "{e}"))?;
            settings.insert(SETTING_VERSIONING.into(), enabled);
            settings.insert(SETTING_OBJECT_LOCK.into(), object_lock::enabled_at_creation()?);
        }
        match meta::create_bucket_with(&self.store.meta, bucket, settings).await {
            Ok(()) => {}
            // us-east-1 answers a repeated create by the owner with 200 (a legacy of
            // that region that clients rely on); every other region with 409.
            Err(ObjectError::BucketAlreadyExists { owner: existing })
                if existing == owner && self.store.config.region == "us-east-1" => {}
            Err(ObjectError::BucketAlreadyExists { owner: existing }) if existing == owner => {
                return Err(s3_error!(
                    BucketAlreadyOwnedByYou,
                    "Your previous request to create the named bucket succeeded and you already own it."
                ));
            }
            Err(e) => return Err(errors::object(e)),
        }
        Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{name}")) }))
    }

    pub(crate) async fn delete_bucket_impl(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        // Uploads alone do not keep a bucket alive: see `Store::delete_bucket`.
        self.store.delete_bucket(&req.input.bucket).await.map_err(errors::object)?;
        Ok(S3Response::with_status(DeleteBucketOutput {}, http::StatusCode::NO_CONTENT))
    }

    pub(crate) async fn list_buckets_impl(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let Some(me) = caller(&req)?.identity else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        let input = req.input;
        let limit = match input.max_buckets {
            Some(n) if !(1..=10_000).contains(&n) => {
                return Err(s3_error!(InvalidArgument, "max-buckets must be between 1 and 10000"));
            }
            Some(n) => n as usize,
            None => 10_000,
        };
        let after = input.continuation_token.as_deref().map(listing::decode_token).transpose()?;
        let prefix = input.prefix.unwrap_or_default();
        // A key of a tenant lists its tenant's buckets (the tenant's bucket index, in
        // name order); an admin lists every bucket; any other key its own.
        let tenant = match me.admin {
            true => None,
            false => self.store.meta.key_tenancy(&me.access_key_id).map_err(errors::meta)?.and_then(|t| t.tenant),
        };
        let mut found = Vec::new();
        let mut cursor = after;
        let mut truncated = false;
        'scan: loop {
            let batch = match &tenant {
                Some(t) => {
                    let names = self
                        .store
                        .meta
                        .tenant_members(cairn_raft::MEMBER_BUCKETS, t, cursor.as_deref(), 1000)
                        .map_err(errors::meta)?;
                    let mut infos = Vec::with_capacity(names.len());
                    for n in &names {
                        match self.store.meta.get_bucket(n).map_err(errors::meta)? {
                            Some(b) => infos.push(b),
                            // Deleted since the index was read: its name still moves the cursor.
                            None => cursor = Some(n.clone()),
                        }
                    }
                    if infos.is_empty() && !names.is_empty() {
                        continue 'scan;
                    }
                    infos
                }
                None => self.store.meta.list_buckets(cursor.as_deref(), 1000).map_err(errors::meta)?,
            };
            if batch.is_empty() {
                break;
            }
            for b in &batch {
                if !b.name.starts_with(prefix.as_str()) {
                    if b.name.as_str() > prefix.as_str() && !prefix.is_empty() {
                        break 'scan;
                    }
                    continue;
                }
                if !me.admin && tenant.is_none() && b.owner != me.access_key_id {
                    continue;
                }
                if found.len() == limit {
                    truncated = true;
                    break 'scan;
                }
                found.push(b.clone());
            }
            cursor = batch.last().map(|b| b.name.clone());
        }
        let token = truncated.then(|| found.last().map(|b| listing::encode_token(&b.name))).flatten();
        let buckets = found
            .into_iter()
            .map(|b| Bucket {
                name: Some(b.name),
                creation_date: Some(to_timestamp(b.created)),
                bucket_region: Some(self.store.config.region.clone()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            continuation_token: token,
            owner: Some(Owners::new(&self.store.meta).get(&me.access_key_id)),
            prefix: (!prefix.is_empty()).then_some(prefix),
        }))
    }

    pub(crate) async fn head_bucket_impl(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.store.config.region.clone()),
            ..Default::default()
        }))
    }

    pub(crate) async fn get_bucket_location_impl(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        // S3 reports us-east-1 as an empty LocationConstraint.
        let region = &self.store.config.region;
        let location_constraint = (region != "us-east-1").then(|| BucketLocationConstraint::from(region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput { location_constraint }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.1", "a1b", &"a".repeat(63)] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "Abc", "a_b", "-ab", "ab-", "a..b", "192.168.1.1", "xn--ab", "cairn", &"a".repeat(64)] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }
}
