//! Versions: a bucket's versioning state, reading one version or a key's latest
//! entry (which may be a delete marker), DeleteObject as the bucket's state says, and
//! removing one version for good. What each does to the history is decided in the
//! state machine (`raft/src/apply/versions.rs`); this file proposes, maps the answer
//! and frees what the answer says nothing refers to any more.

use crate::{ObjectError, Store};
use cairn_raft::schema::{
    Attrs, Command, CommandResult, Nanos, ObjectVersion, VersionEntry, Versioning, WriteCondition,
};
use std::sync::Arc;

/// What a delete did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deleted {
    /// The marker made, or the version removed (`None`: the null version, or an
    /// unversioned bucket).
    pub version_id: Option<String>,
    /// A marker was made (a delete without id) or removed (a delete by id).
    pub delete_marker: bool,
}

impl Store {
    pub async fn set_versioning(&self, bucket: &str, state: Versioning) -> Result<(), ObjectError> {
        match self.meta.propose(Command::PutBucketVersioning { bucket: bucket.to_string(), state }).await? {
            CommandResult::Ok => Ok(()),
            CommandResult::NoSuchBucket => Err(ObjectError::NoSuchBucket),
            CommandResult::Refused(r) => Err(ObjectError::Refused(r)),
            other => Err(ObjectError::Unexpected(Box::new(other))),
        }
    }

    /// The bucket's versioning state (`None`: never set), as this node has applied it.
    pub fn versioning(&self, bucket: &str) -> Result<Option<Versioning>, ObjectError> {
        Ok(self.meta.bucket_versioning(bucket)?)
    }

    /// Version `version_id` (`None`: the null version) of `bucket/key`, and whether it
    /// is the latest.
    pub fn version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<(VersionEntry, bool)>, ObjectError> {
        Ok(self.meta.get_version(bucket, key, version_id)?)
    }

    /// The latest entry of `bucket/key`: its current version, or a delete marker.
    pub fn latest(&self, bucket: &str, key: &str) -> Result<Option<VersionEntry>, ObjectError> {
        Ok(self.meta.latest_entry(bucket, key)?)
    }

    /// DeleteObject without a version id: removes the object (unversioned), or adds a
    /// delete marker by `owner` (versioned). A missing key is no error, unless
    /// `condition` (If-Match, decided in apply against the current version) asks for one.
    pub async fn delete_object(
        self: &Arc<Self>,
        bucket: &str,
        key: &str,
        owner: &str,
        now: Nanos,
        condition: Option<WriteCondition>,
    ) -> Result<Deleted, ObjectError> {
        let cmd =
            Command::DeleteObjectAt { bucket: bucket.into(), key: key.into(), owner: owner.into(), at: now, condition };
        self.deleted(self.meta.propose(cmd).await?)
    }

    /// Removes one version or marker for good (`None`: the null version); one that
    /// does not exist is no error, unless `condition` (If-Match against that version,
    /// decided in apply) asks for one. A version object lock keeps at `now` is
    /// refused (GOVERNANCE retention unless `bypass_governance`).
    pub async fn delete_object_version(
        self: &Arc<Self>,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        condition: Option<WriteCondition>,
        now: Nanos,
        bypass_governance: bool,
    ) -> Result<Deleted, ObjectError> {
        let cmd = Command::DeleteVersionAt {
            bucket: bucket.into(),
            key: key.into(),
            version_id: version_id.map(str::to_string),
            condition,
            at: now,
            bypass_governance,
        };
        self.deleted(self.meta.propose(cmd).await?)
    }

    /// A new version of `bucket/key` sharing the shards of its version `source`
    /// (`"null"`: the null version): a rollback that copies no byte. `template` gives
    /// the new version's headers; the state machine takes the data from the source as
    /// it is at commit (gone: `Refused(NoSuchVersion)`). Answers the new version's id.
    pub async fn copy_version(
        self: &Arc<Self>,
        bucket: &str,
        key: &str,
        source: &str,
        template: ObjectVersion,
        attrs: Attrs,
    ) -> Result<Option<String>, ObjectError> {
        let cmd = Command::CopyVersion {
            bucket: bucket.into(),
            key: key.into(),
            source_version_id: source.into(),
            version: template,
            condition: None,
            attrs,
        };
        match self.meta.propose(cmd).await? {
            CommandResult::Versioned { version_id, freed, .. } => {
                freed.into_iter().for_each(|d| self.discard(d));
                Ok(version_id)
            }
            CommandResult::Replaced(old) => {
                if let Some(old) = old {
                    self.discard(old.data);
                }
                Ok(None)
            }
            CommandResult::NoSuchBucket => Err(ObjectError::NoSuchBucket),
            CommandResult::Refused(r) => Err(ObjectError::Refused(r)),
            CommandResult::QuotaExceeded(b) => Err(ObjectError::QuotaExceeded(b)),
            other => Err(ObjectError::Unexpected(Box::new(other))),
        }
    }

    pub(crate) fn deleted(self: &Arc<Self>, result: CommandResult) -> Result<Deleted, ObjectError> {
        match result {
            CommandResult::Replaced(old) => {
                if let Some(old) = old {
                    self.discard(old.data);
                }
                Ok(Deleted { version_id: None, delete_marker: false })
            }
            CommandResult::Versioned { version_id, delete_marker, freed } => {
                freed.into_iter().for_each(|d| self.discard(d));
                Ok(Deleted { version_id, delete_marker })
            }
            CommandResult::NoSuchBucket => Err(ObjectError::NoSuchBucket),
            CommandResult::NoSuchKey => Err(ObjectError::NoSuchKey),
            CommandResult::PreconditionFailed => Err(ObjectError::PreconditionFailed),
            CommandResult::Refused(r) => Err(ObjectError::Refused(r)),
            other => Err(ObjectError::Unexpected(Box::new(other))),
        }
    }
}
