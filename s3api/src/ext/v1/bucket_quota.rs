//! `buckets/B/quota`: a bucket's own limits and what it holds. Set by an admin, or by
//! a tenant admin whose subtree the bucket's tenant is in.

use super::scope::Scope;
use super::tenants::{from_api, to_api, used};
use super::{AdminError, V1, answer, method_not_allowed, object_error, read_json, unavailable};
use cairn_api::tenants::{BucketQuota, SetQuota};
use cairn_raft::schema::{Pool, Quota};
use http::Method;
use s3s::{Body, S3Response};

impl V1 {
    pub(super) async fn bucket_quota_call(
        &self,
        scope: &Scope,
        method: &Method,
        bucket: &str,
        body: Body,
    ) -> S3Response<Body> {
        let allowed = scope.manage_bucket(&self.store.meta, bucket, "manage this bucket's quota");
        if let Err(e) = allowed {
            return answer::<()>(Err(e));
        }
        match *method {
            Method::GET => answer(self.bucket_quota(bucket)),
            Method::PUT => answer(self.set_bucket_quota(bucket, body).await),
            _ => method_not_allowed("GET and PUT"),
        }
    }

    fn bucket_quota(&self, bucket: &str) -> Result<BucketQuota, AdminError> {
        let meta = &self.store.meta;
        let pool = Pool::Bucket(bucket.into());
        Ok(BucketQuota {
            bucket: bucket.into(),
            tenant: meta.bucket_tenant(bucket).map_err(unavailable)?,
            quota: to_api(meta.pool_limit(&pool).map_err(unavailable)?),
            used: used(meta, &pool)?,
        })
    }

    async fn set_bucket_quota(&self, bucket: &str, body: Body) -> Result<BucketQuota, AdminError> {
        let req: SetQuota = read_json(body).await?;
        let quota = Some(from_api(req.quota)).filter(|q| *q != Quota::default());
        self.store.set_bucket_quota(bucket, quota).await.map_err(object_error)?;
        tracing::info!(bucket, quota = ?req.quota, "bucket quota set");
        self.bucket_quota(bucket)
    }
}
