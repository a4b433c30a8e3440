//! `buckets/B/tiering`: a bucket's tiering by access (`cairn_object::access`): GET,
//! PUT (validated: the classes exist and differ, the days make sense), DELETE. Set by
//! an admin, or by a tenant admin whose subtree the bucket's tenant is in.

use super::scope::Scope;
use super::{AdminError, V1, answer, method_not_allowed, object_error, read_json};
use cairn_api::tenants::Deleted;
use cairn_api::tiering::AccessTiering as Api;
use cairn_object::access::AccessTiering;
use http::Method;
use s3s::{Body, S3Response};

/// The longest window of reads a rule may count ([`cairn_raft::access::DAYS_KEPT`]).
const MAX_WINDOW: u32 = cairn_raft::access::DAYS_KEPT as u32;

impl V1 {
    pub(super) async fn bucket_tiering_call(
        &self,
        scope: &Scope,
        method: &Method,
        bucket: &str,
        body: Body,
    ) -> S3Response<Body> {
        let allowed = scope.manage_bucket(&self.store.meta, bucket, "manage this bucket's tiering");
        if let Err(e) = allowed {
            return answer::<()>(Err(e));
        }
        match *method {
            Method::GET => answer(self.tiering(bucket)),
            Method::PUT => answer(self.set_tiering(bucket, body).await),
            Method::DELETE => answer(self.delete_tiering(bucket).await),
            _ => method_not_allowed("GET, PUT and DELETE"),
        }
    }

    fn tiering(&self, bucket: &str) -> Result<Api, AdminError> {
        match self.store.access_tiering(bucket).map_err(object_error)? {
            Some(r) => Ok(Api {
                prefix: r.prefix,
                cold_class: r.cold_class,
                down_after_days: r.down_after_days,
                hot_class: r.hot_class,
                up_after_reads: r.up_after_reads,
                up_within_days: r.up_within_days,
            }),
            None => Err(AdminError::new(404, "NoSuchTieringConfiguration", format!("bucket {bucket} has no tiering"))),
        }
    }

    async fn set_tiering(&self, bucket: &str, body: Body) -> Result<Api, AdminError> {
        let req: Api = read_json(body).await?;
        let classes = self.store.class_names();
        let invalid = |field: &str, message: String| AdminError::new(400, "InvalidArgument", message).at(field);
        for (field, class) in [("cold_class", &req.cold_class), ("hot_class", &req.hot_class)] {
            if !classes.contains(class) {
                let known = classes.join(", ");
                return Err(invalid(field, format!("no storage class {class:?} in this cluster (it has {known})")));
            }
        }
        if req.cold_class == req.hot_class {
            return Err(invalid("cold_class", "cold_class and hot_class must differ".into()));
        }
        if req.down_after_days == 0 {
            return Err(invalid("down_after_days", "down_after_days must be at least 1".into()));
        }
        if req.up_after_reads == 0 {
            return Err(invalid("up_after_reads", "up_after_reads must be at least 1".into()));
        }
        if !(1..=MAX_WINDOW).contains(&req.up_within_days) {
            return Err(invalid("up_within_days", format!("up_within_days must be from 1 to {MAX_WINDOW}")));
        }
        let rule = AccessTiering {
            prefix: req.prefix,
            cold_class: req.cold_class,
            down_after_days: req.down_after_days,
            hot_class: req.hot_class,
            up_after_reads: req.up_after_reads,
            up_within_days: req.up_within_days,
        };
        self.store.set_access_tiering(bucket, Some(&rule)).await.map_err(object_error)?;
        tracing::info!(bucket, ?rule, "bucket tiering set");
        self.tiering(bucket)
    }

    async fn delete_tiering(&self, bucket: &str) -> Result<Deleted, AdminError> {
        self.store.set_access_tiering(bucket, None).await.map_err(object_error)?;
        Ok(Deleted { deleted: format!("{bucket}/tiering") })
    }
}
