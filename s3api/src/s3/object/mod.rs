//! Object operations, one file per operation: GET and HEAD (`get.rs`), PUT (`put.rs`),
//! COPY (`copy.rs`), DELETE single and batch (`delete.rs`). What they share is here.

mod copy;
mod delete;
mod first_stripe;
mod get;
mod put;

use crate::errors;
use crate::s3::service::CairnS3;
use cairn_raft::schema::ObjectVersion;
use s3s::{S3Result, s3_error};

pub(crate) fn check_version_id(version_id: Option<&str>) -> S3Result<()> {
    match version_id {
        None | Some("null") => Ok(()),
        Some(_) => Err(s3_error!(InvalidArgument, "Invalid version id specified")),
    }
}

impl CairnS3 {
    /// Callers that must see the latest write run a read barrier first.
    pub(crate) async fn current_object(&self, bucket: &str, key: &str) -> S3Result<ObjectVersion> {
        match self.store.current_version(bucket, key).map_err(errors::object)? {
            Some(o) => Ok(o),
            None => {
                self.require_bucket(bucket).await?;
                Err(s3_error!(NoSuchKey, "The specified key does not exist."))
            }
        }
    }
}
