//! DeleteObject and DeleteObjects: without a version id, the object goes (unversioned
//! bucket) or a delete marker is added (versioned); with one, that version or marker
//! is removed for good, unless object lock keeps it (`x-amz-bypass-governance-retention`
//! counts for callers allowed `s3:BypassGovernanceRetention`). The state machine
//! decides which (`cairn_object::versions`).

use crate::access;
use crate::errors;
use crate::s3::preconditions::write_condition;
use crate::s3::service::CairnS3;
use crate::s3::versioning::parse_version_id;
use crate::timefmt::now;
use cairn_object::versions::Deleted;
use cairn_raft::schema::WriteCondition;
use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

impl CairnS3 {
    /// Deletes `key` (a marker in a versioned bucket), or its version `version_id`;
    /// `condition` and object lock are decided in the state machine.
    async fn delete_one(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        owner: &str,
        condition: Option<WriteCondition>,
        bypass_governance: bool,
    ) -> S3Result<Deleted> {
        match parse_version_id(version_id)? {
            None => self.store.delete_object(bucket, key, owner, now(), condition).await,
            Some(id) => self.store.delete_object_version(bucket, key, id, condition, now(), bypass_governance).await,
        }
        .map_err(errors::object)
    }

    pub(crate) async fn delete_object_impl(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let auth = access::authorized(&req)?.clone();
        let input = req.input;
        parse_version_id(input.version_id.as_deref())?;
        let bucket = self.require_bucket(&input.bucket).await?;
        let condition = write_condition(input.if_match.as_ref(), None)?;
        let owner = auth.caller.owner_or(&bucket.owner).to_string();
        let bypass = self.bypass_governance(&auth, input.bypass_governance_retention, &input.bucket, &input.key)?;
        let done =
            self.delete_one(&input.bucket, &input.key, input.version_id.as_deref(), &owner, condition, bypass).await?;
        let shown = match input.version_id {
            Some(asked) => Some(asked),
            None => self.shown_version_id(&input.bucket, done.version_id.as_deref())?.filter(|_| done.delete_marker),
        };
        let out = DeleteObjectOutput {
            delete_marker: done.delete_marker.then_some(true),
            version_id: shown,
            ..Default::default()
        };
        Ok(S3Response::with_status(out, http::StatusCode::NO_CONTENT))
    }

    pub(crate) async fn delete_objects_impl(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let auth = access::authorized(&req)?.clone();
        let input = req.input;
        let bucket_info = self.require_bucket(&input.bucket).await?;
        let owner = auth.caller.owner_or(&bucket_info.owner).to_string();
        let owner = owner.as_str();
        let objects = input.delete.objects;
        if objects.len() > 1000 {
            return Err(s3_error!(MalformedXML, "A delete request may name at most 1000 keys"));
        }
        let quiet = input.delete.quiet.unwrap_or(false);
        let bypass_asked = input.bypass_governance_retention;
        let auth = &auth;
        let bucket = input.bucket.as_str();
        // Concurrent proposals share Raft log flushes; `buffered` keeps the order.
        let results: Vec<_> = futures::stream::iter(objects)
            .map(|o| async move {
                let allowed = parse_version_id(o.version_id.as_deref())
                    .and_then(|_| self.access.authorize_delete(auth, bucket, &o.key, o.version_id.is_some()));
                let bypass = allowed.as_ref().ok().map(|_| self.bypass_governance(auth, bypass_asked, bucket, &o.key));
                let result = match (allowed, bypass) {
                    (Ok(()), Some(Ok(bypass))) => {
                        self.delete_one(bucket, &o.key, o.version_id.as_deref(), owner, None, bypass).await
                    }
                    (Err(e), _) | (_, Some(Err(e))) => Err(e),
                    (Ok(()), None) => unreachable!("bypass is decided for every allowed key"),
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
                Ok(_) if quiet => {}
                Ok(done) => {
                    let marker_id = match (&o.version_id, done.delete_marker) {
                        (None, true) => self.shown_version_id(bucket, done.version_id.as_deref())?,
                        _ => None,
                    };
                    deleted.push(DeletedObject {
                        key: Some(o.key),
                        delete_marker: done.delete_marker.then_some(true),
                        delete_marker_version_id: marker_id,
                        version_id: o.version_id,
                    })
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
