//! DeleteObject and DeleteObjects.

use crate::access;
use crate::errors;
use crate::s3::object::check_version_id;
use crate::s3::preconditions::Conditions;
use crate::s3::service::CairnS3;
use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

impl CairnS3 {
    async fn delete_one(&self, bucket: &str, key: &str) -> S3Result<()> {
        self.store.delete_version(bucket, key).await.map_err(errors::object)
    }

    pub(crate) async fn delete_object_impl(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        check_version_id(input.version_id.as_deref())?;
        if let Some(cond) = input.if_match.as_ref() {
            self.store.meta.read_barrier().await.map_err(errors::meta)?;
            let obj = self.current_object(&input.bucket, &input.key).await?;
            Conditions {
                if_match: Some(cond),
                if_none_match: None,
                if_modified_since: None,
                if_unmodified_since: None,
            }
            .check_copy_source(&obj)?;
        }
        self.delete_one(&input.bucket, &input.key).await?;
        Ok(S3Response::with_status(DeleteObjectOutput::default(), http::StatusCode::NO_CONTENT))
    }

    pub(crate) async fn delete_objects_impl(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let auth = access::authorized(&req)?.clone();
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let objects = input.delete.objects;
        if objects.len() > 1000 {
            return Err(s3_error!(MalformedXML, "A delete request may name at most 1000 keys"));
        }
        let quiet = input.delete.quiet.unwrap_or(false);
        let auth = &auth;
        let bucket = input.bucket.as_str();
        // Concurrent proposals share Raft log flushes; `buffered` keeps the order.
        let results: Vec<_> = futures::stream::iter(objects)
            .map(|o| async move {
                let allowed = check_version_id(o.version_id.as_deref())
                    .and_then(|()| self.access.authorize_delete(auth, bucket, &o.key));
                let result = match allowed {
                    Ok(()) => self.delete_one(bucket, &o.key).await,
                    Err(e) => Err(e),
                };
                (o, result)
            })
            .buffered(64)
            .collect()
            .await;
        let mut deleted = Vec::new();
        let mut failed = Vec::new();
        for (o, result) in results {
            match result {
                Ok(()) if quiet => {}
                Ok(()) => {
                    deleted.push(DeletedObject { key: Some(o.key), version_id: o.version_id, ..Default::default() })
                }
                Err(e) => failed.push(s3s::dto::Error {
                    code: Some(e.code().as_str().to_string()),
                    key: Some(o.key),
                    message: e.message().map(str::to_string),
                    version_id: o.version_id,
                }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: (!deleted.is_empty()).then_some(deleted),
            errors: (!failed.is_empty()).then_some(failed),
            request_charged: None,
        }))
    }
}
