//! Attributes of one version (tags, retention, legal hold) and a bucket's object lock
//! configuration: reading them, and changing one attribute of one version. What may
//! change (object lock) is decided in the state machine (`raft/src/apply/lock.rs`);
//! this file proposes and maps the answer.

use crate::{ObjectError, Store};
use cairn_raft::schema::{Attrs, CannedAcl, Command, CommandResult, Nanos, ObjectLockConfig};

/// Which version an attribute change names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionRef<'a> {
    /// The current version.
    Current,
    /// The null version.
    Null,
    /// A version by id.
    Id(&'a str),
}

impl VersionRef<'_> {
    /// How a command names the version: `None` the current one, `"null"` the null one.
    fn command_id(self) -> Option<String> {
        match self {
            VersionRef::Current => None,
            VersionRef::Null => Some("null".to_string()),
            VersionRef::Id(id) => Some(id.to_string()),
        }
    }
}

impl Store {
    /// The attributes of version `version_id` (`None`: the null version) of `bucket/key`.
    pub fn version_attrs(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<Attrs, ObjectError> {
        Ok(self.meta.version_attrs(bucket, key, version_id)?)
    }

    /// The attributes upload `upload_id` gives its object.
    pub fn upload_attrs(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Attrs, ObjectError> {
        Ok(self.meta.upload_attrs(bucket, key, upload_id)?)
    }

    /// The bucket's object lock configuration; `None`: no lock.
    pub fn object_lock(&self, bucket: &str) -> Result<Option<ObjectLockConfig>, ObjectError> {
        Ok(self.meta.bucket_object_lock(bucket)?)
    }

    /// Sets the ACL of one version, current or not; answers its id.
    pub async fn put_version_acl(
        &self,
        bucket: &str,
        key: &str,
        version: VersionRef<'_>,
        acl: CannedAcl,
    ) -> Result<Option<String>, ObjectError> {
        let cmd =
            Command::PutVersionAcl { bucket: bucket.into(), key: key.into(), version_id: version.command_id(), acl };
        match self.meta.propose(cmd).await? {
            CommandResult::Versioned { version_id, .. } => Ok(version_id),
            CommandResult::NoSuchBucket => Err(ObjectError::NoSuchBucket),
            CommandResult::NoSuchKey => Err(ObjectError::NoSuchKey),
            CommandResult::Refused(r) => Err(ObjectError::Refused(r)),
            other => Err(ObjectError::Unexpected(Box::new(other))),
        }
    }

    /// Sets (`Some`) or removes (`None`) attribute `name` of one version, as of `now`;
    /// answers the version's id (`None`: the null version).
    #[allow(clippy::too_many_arguments)]
    pub async fn put_version_attr(
        &self,
        bucket: &str,
        key: &str,
        version: VersionRef<'_>,
        name: &str,
        value: Option<Vec<u8>>,
        now: Nanos,
        bypass_governance: bool,
    ) -> Result<Option<String>, ObjectError> {
        let cmd = Command::PutVersionAttr {
            bucket: bucket.into(),
            key: key.into(),
            version_id: version.command_id(),
            name: name.into(),
            value,
            at: now,
            bypass_governance,
        };
        match self.meta.propose(cmd).await? {
            CommandResult::Versioned { version_id, .. } => Ok(version_id),
            CommandResult::NoSuchBucket => Err(ObjectError::NoSuchBucket),
            CommandResult::NoSuchKey => Err(ObjectError::NoSuchKey),
            CommandResult::Refused(r) => Err(ObjectError::Refused(r)),
            other => Err(ObjectError::Unexpected(Box::new(other))),
        }
    }
}
