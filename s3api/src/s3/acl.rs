//! GetBucketAcl, PutBucketAcl, GetObjectAcl and PutObjectAcl over canned ACLs.

use crate::access::ownership::Ownership;
use crate::access::{Owners, acl};
use crate::errors;
use crate::s3::service::CairnS3;
use crate::s3::versioning::version_ref;
use cairn_object::meta;
use cairn_raft::schema::CannedAcl;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// The canned ACL a PutBucketAcl / PutObjectAcl asks for.
fn requested_acl(
    canned: Option<&str>,
    body: Option<&AccessControlPolicy>,
    headers: &http::HeaderMap,
) -> S3Result<CannedAcl> {
    if body.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "Cairn supports canned ACLs (x-amz-acl) only, not an AccessControlPolicy document."
        ));
    }
    if canned.is_none() && !acl::GRANT_HEADERS.iter().any(|h| headers.contains_key(*h)) {
        return Err(s3_error!(MissingSecurityHeader, "Your request was missing a required header: x-amz-acl"));
    }
    acl::from_request(canned, headers)
}

impl CairnS3 {
    pub(crate) async fn get_bucket_acl_impl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        let bucket = self.require_bucket(&req.input.bucket).await?;
        let owner = Owners::new(&self.store.meta).get(&bucket.owner);
        let grants = acl::grant_list(bucket.acl, &owner, &owner);
        Ok(S3Response::new(GetBucketAclOutput { grants: Some(grants), owner: Some(owner) }))
    }

    pub(crate) async fn put_bucket_acl_impl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        let input = req.input;
        let acl =
            requested_acl(input.acl.as_ref().map(|a| a.as_str()), input.access_control_policy.as_ref(), &req.headers)?;
        self.require_bucket(&input.bucket).await?;
        Ownership::effective(&self.store.meta, &input.bucket)?.check_acl_change(acl, CannedAcl::Private)?;
        meta::put_bucket_acl(&self.store.meta, input.bucket, acl).await.map_err(errors::object)?;
        Ok(S3Response::new(PutBucketAclOutput {}))
    }

    pub(crate) async fn get_object_acl_impl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        let input = req.input;
        let obj = self.object_version(&input.bucket, &input.key, input.version_id.as_deref()).await?;
        let bucket = self.require_bucket(&input.bucket).await?;
        let mut owners = Owners::new(&self.store.meta);
        let owner = owners.get(&obj.owner);
        let grants = acl::grant_list(obj.acl, &owner, &owners.get(&bucket.owner));
        Ok(S3Response::new(GetObjectAclOutput { grants: Some(grants), owner: Some(owner), request_charged: None }))
    }

    pub(crate) async fn put_object_acl_impl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        let input = req.input;
        let target = version_ref(input.version_id.as_deref())?;
        let acl =
            requested_acl(input.acl.as_ref().map(|a| a.as_str()), input.access_control_policy.as_ref(), &req.headers)?;
        Ownership::effective(&self.store.meta, &input.bucket)?
            .check_acl_change(acl, CannedAcl::BucketOwnerFullControl)?;
        self.store.put_version_acl(&input.bucket, &input.key, target, acl).await.map_err(errors::object)?;
        Ok(S3Response::new(PutObjectAclOutput { request_charged: None }))
    }
}
