//! Commits of records that hold no object data: buckets, bucket ACLs and policies,
//! access keys. Each proposes one command and maps the state machine's answer to a
//! typed outcome; what must be atomic (a bucket name taken, a key present) is decided
//! in apply. Deleting a bucket may abort uploads, so it is [`Store::delete_bucket`].
//!
//! [`Store::delete_bucket`]: crate::Store::delete_bucket

use crate::ObjectError;
use cairn_raft::MetaStore;
use cairn_raft::schema::{AccessKey, Attrs, BucketInfo, CannedAcl, Command, CommandResult};

/// Creates a bucket; a taken name is [`ObjectError::BucketAlreadyExists`] with its owner.
pub async fn create_bucket(meta: &MetaStore, bucket: BucketInfo) -> Result<(), ObjectError> {
    match meta.propose(Command::CreateBucket { bucket }).await? {
        CommandResult::Ok => Ok(()),
        CommandResult::BucketAlreadyExists { owner } => Err(ObjectError::BucketAlreadyExists { owner }),
        other => Err(ObjectError::Unexpected(Box::new(other))),
    }
}

/// Creates a bucket with its first settings (versioning, object lock, ownership) in
/// one commit.
pub async fn create_bucket_with(meta: &MetaStore, bucket: BucketInfo, settings: Attrs) -> Result<(), ObjectError> {
    match meta.propose(Command::CreateBucketWith { bucket, settings }).await? {
        CommandResult::Ok => Ok(()),
        CommandResult::BucketAlreadyExists { owner } => Err(ObjectError::BucketAlreadyExists { owner }),
        CommandResult::Refused(r) => Err(ObjectError::Refused(r)),
        other => Err(ObjectError::Unexpected(Box::new(other))),
    }
}

pub async fn put_bucket_acl(meta: &MetaStore, bucket: String, acl: CannedAcl) -> Result<(), ObjectError> {
    match meta.propose(Command::PutBucketAcl { bucket, acl }).await? {
        CommandResult::Ok => Ok(()),
        CommandResult::NoSuchBucket => Err(ObjectError::NoSuchBucket),
        other => Err(ObjectError::Unexpected(Box::new(other))),
    }
}

/// Sets (or with `None` removes) a bucket's policy document.
pub async fn put_bucket_policy(meta: &MetaStore, bucket: String, policy: Option<String>) -> Result<(), ObjectError> {
    match meta.propose(Command::PutBucketPolicy { bucket, policy }).await? {
        CommandResult::Ok => Ok(()),
        CommandResult::NoSuchBucket => Err(ObjectError::NoSuchBucket),
        other => Err(ObjectError::Unexpected(Box::new(other))),
    }
}

/// Stores (`Some`) or removes (`None`) a bucket setting the protocol encodes itself
/// (a tag set, say).
pub async fn put_bucket_setting(
    meta: &MetaStore,
    bucket: &str,
    name: &str,
    value: Option<Vec<u8>>,
) -> Result<(), ObjectError> {
    let cmd = Command::PutBucketSetting { bucket: bucket.into(), name: name.into(), value };
    match meta.propose(cmd).await? {
        CommandResult::Ok => Ok(()),
        CommandResult::NoSuchBucket => Err(ObjectError::NoSuchBucket),
        CommandResult::Refused(r) => Err(ObjectError::Refused(r)),
        other => Err(ObjectError::Unexpected(Box::new(other))),
    }
}

pub async fn put_access_key(meta: &MetaStore, key: AccessKey) -> Result<(), ObjectError> {
    match meta.propose(Command::PutAccessKey { key }).await? {
        CommandResult::Ok => Ok(()),
        other => Err(ObjectError::Unexpected(Box::new(other))),
    }
}

/// Deletes an access key; a missing one is [`ObjectError::NoSuchKey`].
pub async fn delete_access_key(meta: &MetaStore, access_key_id: String) -> Result<(), ObjectError> {
    match meta.propose(Command::DeleteAccessKey { access_key_id }).await? {
        CommandResult::Ok => Ok(()),
        CommandResult::NoSuchKey => Err(ObjectError::NoSuchKey),
        other => Err(ObjectError::Unexpected(Box::new(other))),
    }
}
