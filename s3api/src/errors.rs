//! Mapping of the lower layers' errors onto S3 errors. Internal failures become
//! InternalError with the cause logged, never a panic or a guess.

use cairn_erasure::ErasureError;
use cairn_raft::MetaError;
use s3s::{S3Error, s3_error};

pub fn meta(e: MetaError) -> S3Error {
    tracing::error!(error = %e, "metadata operation failed");
    match e {
        MetaError::NotLeader { .. } => s3_error!(ServiceUnavailable, "No metadata leader is available; retry."),
        MetaError::Unavailable(e) => {
            s3_error!(ServiceUnavailable, "The cluster could not complete the request ({e}); retry.")
        }
        other => S3Error::internal_error(other),
    }
}

pub fn erasure(e: ErasureError) -> S3Error {
    tracing::error!(error = %e, "shard I/O failed");
    match e {
        ErasureError::Quorum { written, needed } => {
            s3_error!(ServiceUnavailable, "Only {written} of the {needed} shards needed could be written; retry.")
        }
        other => S3Error::internal_error(other),
    }
}
