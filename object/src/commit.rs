//! Committing versions and uploads: each function proposes one command to Raft, maps
//! the state machine's answer to a typed outcome, and hands the shards the answer frees
//! (a replaced version, a refused write, replaced or dropped parts) to [`crate::freed`].
//! The checks that must be atomic with the write (conditions, bucket exists, upload
//! and parts current) are decided in apply, never here. Reads of the current version
//! are here too, so a caller needs nothing else to write, read or delete one version.

use crate::freed::shards_of;
use crate::{ObjectError, Store};
use cairn_raft::schema::{
    Attrs, Command, CommandResult, MultipartUpload, Nanos, ObjectVersion, PartRef, WriteCondition,
};
use std::sync::Arc;

impl Store {
    /// The current version of `bucket/key`, as this node's state machine has it
    /// (callers that must see the latest write run a read barrier first).
    pub fn current_version(&self, bucket: &str, key: &str) -> Result<Option<ObjectVersion>, ObjectError> {
        Ok(self.meta.get_object(bucket, key)?)
    }

    /// Commits a version whose data is written, with its attributes (tags, lock); the
    /// state machine decides the condition, object lock and, by the bucket's
    /// versioning, the version id (answered; `None` is the null version). Shards of a
    /// refused write, and of a version it replaced, are freed after.
    pub async fn put_version(
        self: &Arc<Self>,
        bucket: String,
        key: String,
        version: ObjectVersion,
        condition: Option<WriteCondition>,
        attrs: Attrs,
    ) -> Result<Option<String>, ObjectError> {
        let fresh = shards_of(&version.data);
        let cmd = Command::PutObjectWith { bucket, key, version, condition, attrs };
        // On a Raft error the outcome is unknown: the new shards stay for the
        // orphan collector rather than risk a committed record without bytes.
        let result = self.meta.propose(cmd).await?;
        let refuse = |e: ObjectError| {
            if let Some(d) = fresh.clone() {
                self.discard(d);
            }
            Err(e)
        };
        match result {
            CommandResult::Replaced(old) => {
                if let Some(d) = old.as_ref().and_then(|o| shards_of(&o.data)) {
                    self.discard(d);
                }
                Ok(None)
            }
            CommandResult::Versioned { version_id, freed, .. } => {
                freed.into_iter().for_each(|d| self.discard(d));
                Ok(version_id)
            }
            CommandResult::PreconditionFailed => refuse(ObjectError::PreconditionFailed),
            CommandResult::NoSuchKey => refuse(ObjectError::NoSuchKey),
            CommandResult::NoSuchBucket => refuse(ObjectError::NoSuchBucket),
            CommandResult::Refused(r) => refuse(ObjectError::Refused(r)),
            CommandResult::QuotaExceeded(b) => refuse(ObjectError::QuotaExceeded(b)),
            other => refuse(ObjectError::Unexpected(Box::new(other))),
        }
    }

    /// Records a new multipart upload, with the attributes its object will get.
    pub async fn create_upload(&self, upload: MultipartUpload, attrs: Attrs) -> Result<(), ObjectError> {
        match self.meta.propose(Command::CreateUploadWith { upload, attrs }).await? {
            CommandResult::Ok => Ok(()),
            CommandResult::NoSuchBucket => Err(ObjectError::NoSuchBucket),
            CommandResult::Refused(r) => Err(ObjectError::Refused(r)),
            other => Err(ObjectError::Unexpected(Box::new(other))),
        }
    }

    /// Commits a written part; a refused part's data and a replaced part's data
    /// are freed afterwards.
    pub async fn put_part(
        self: &Arc<Self>,
        bucket: String,
        key: String,
        upload_id: String,
        part: PartRef,
    ) -> Result<(), ObjectError> {
        let fresh = part.data.clone();
        let cmd = Command::PutPart { bucket, key, upload_id, part };
        match self.meta.propose(cmd).await? {
            CommandResult::Discard(old) => {
                old.into_iter().for_each(|d| self.discard(d));
                Ok(())
            }
            CommandResult::NoSuchUpload => {
                self.discard(fresh);
                Err(ObjectError::NoSuchUpload)
            }
            CommandResult::QuotaExceeded(b) => {
                self.discard(fresh);
                Err(ObjectError::QuotaExceeded(b))
            }
            other => {
                self.discard(fresh);
                Err(ObjectError::Unexpected(Box::new(other)))
            }
        }
    }

    /// Completes an upload into `version` (which lists the parts it keeps); apply
    /// checks the parts are still the stored ones and the condition. The parts left
    /// out and the version replaced are freed.
    pub async fn complete_upload(
        self: &Arc<Self>,
        bucket: String,
        key: String,
        upload_id: String,
        version: ObjectVersion,
        condition: Option<WriteCondition>,
    ) -> Result<Option<String>, ObjectError> {
        let cmd = Command::CompleteUpload { bucket, key, upload_id, version, condition };
        match self.meta.propose(cmd).await? {
            CommandResult::Discard(garbage) => {
                garbage.into_iter().for_each(|d| self.discard(d));
                Ok(None)
            }
            CommandResult::Versioned { version_id, freed, .. } => {
                freed.into_iter().for_each(|d| self.discard(d));
                Ok(version_id)
            }
            CommandResult::NoSuchUpload => Err(ObjectError::NoSuchUpload),
            CommandResult::NoSuchBucket => Err(ObjectError::NoSuchBucket),
            CommandResult::InvalidPart { number } => Err(ObjectError::InvalidPart { number }),
            CommandResult::PreconditionFailed => Err(ObjectError::PreconditionFailed),
            CommandResult::NoSuchKey => Err(ObjectError::NoSuchKey),
            CommandResult::Refused(r) => Err(ObjectError::Refused(r)),
            CommandResult::QuotaExceeded(b) => Err(ObjectError::QuotaExceeded(b)),
            other => Err(ObjectError::Unexpected(Box::new(other))),
        }
    }

    /// Aborts an upload and frees its parts.
    pub async fn abort_upload(
        self: &Arc<Self>,
        bucket: String,
        key: String,
        upload_id: String,
    ) -> Result<(), ObjectError> {
        match self.meta.propose(Command::AbortUpload { bucket, key, upload_id }).await? {
            CommandResult::Discard(garbage) => {
                garbage.into_iter().for_each(|d| self.discard(d));
                Ok(())
            }
            CommandResult::NoSuchUpload => Err(ObjectError::NoSuchUpload),
            other => Err(ObjectError::Unexpected(Box::new(other))),
        }
    }

    /// Aborts uploads initiated before `older_than`, a batch at a time with a
    /// pause between batches so request handling never waits on this.
    pub async fn abort_expired_uploads(self: &Arc<Self>, older_than: Nanos) -> usize {
        let mut aborted = 0;
        loop {
            let batch = match self.meta.expired_uploads(older_than, 64) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "listing expired uploads failed");
                    return aborted;
                }
            };
            if batch.is_empty() {
                return aborted;
            }
            for u in batch {
                match self.abort_upload(u.bucket.clone(), u.key.clone(), u.upload_id.clone()).await {
                    Ok(()) => {
                        aborted += 1;
                        tracing::info!(bucket = %u.bucket, key = %u.key, upload_id = %u.upload_id, "aborted expired multipart upload");
                    }
                    Err(ObjectError::NoSuchUpload) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, upload_id = %u.upload_id, "aborting an expired upload failed");
                        return aborted;
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Deletes an empty bucket. Incomplete multipart uploads do not keep a bucket
    /// alive (as on AWS): with no object left they are aborted, and the delete is
    /// tried again. Whether the bucket is empty is still decided by apply, so an
    /// object or upload created meanwhile makes it BucketNotEmpty.
    pub async fn delete_bucket(self: &Arc<Self>, name: &str) -> Result<(), ObjectError> {
        for attempt in 0..2 {
            let cmd = Command::DeleteBucket { name: name.to_string() };
            match self.meta.propose(cmd).await? {
                CommandResult::Ok => return Ok(()),
                CommandResult::NoSuchBucket => return Err(ObjectError::NoSuchBucket),
                CommandResult::BucketNotEmpty if attempt == 0 && !self.meta.bucket_has_objects(name)? => {
                    self.abort_all_uploads(name).await?;
                }
                CommandResult::BucketNotEmpty => return Err(ObjectError::BucketNotEmpty),
                other => return Err(ObjectError::Unexpected(Box::new(other))),
            }
        }
        Err(ObjectError::BucketNotEmpty)
    }

    /// Aborts every incomplete multipart upload of a bucket, a page at a time.
    async fn abort_all_uploads(self: &Arc<Self>, bucket: &str) -> Result<(), ObjectError> {
        loop {
            let page = self.meta.list_uploads(bucket, "", None, None, None, 1000)?;
            if page.uploads.is_empty() {
                return Ok(());
            }
            for u in page.uploads {
                match self.abort_upload(u.bucket.clone(), u.key.clone(), u.upload_id.clone()).await {
                    Ok(()) | Err(ObjectError::NoSuchUpload) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
}
