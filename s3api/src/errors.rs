//! Mapping of the lower layers' errors onto S3 errors. Internal failures become
//! InternalError with the cause logged, never a panic or a guess.

use cairn_erasure::ErasureError;
use cairn_object::ObjectError;
use cairn_raft::MetaError;
use cairn_raft::schema::{CommandResult, Pool, QuotaBreach, Refusal};
use s3s::{S3Error, S3ErrorCode, s3_error};

/// The object layer's answer as S3 answers it.
pub fn object(e: ObjectError) -> S3Error {
    match e {
        ObjectError::Meta(e) => meta(e),
        ObjectError::Erasure(e) => erasure(e),
        // The body's own error (the gate's, or s3s's) goes back as it came.
        ObjectError::Body(e) => match e.downcast::<S3Error>() {
            Ok(e) => *e,
            Err(other) => S3Error::with_message(s3s::S3ErrorCode::InternalError, other.to_string()),
        },
        ObjectError::IncompleteBody => s3_error!(
            IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        ),
        ObjectError::NoPlacement => {
            s3_error!(ServiceUnavailable, "The cluster layout has fewer disks than one erasure set needs.")
        }
        ObjectError::ShuttingDown => s3_error!(ServiceUnavailable, "shutting down"),
        ObjectError::NoSuchStorageClass(c) => {
            s3_error!(InvalidStorageClass, "The storage class you specified is not valid: this cluster has no {c}")
        }
        ObjectError::Corrupt => s3_error!(InternalError, "inline object shorter than its recorded size"),
        ObjectError::NoSuchBucket => no_such_bucket(),
        ObjectError::NoSuchKey => s3_error!(NoSuchKey, "The specified key does not exist."),
        ObjectError::NoSuchUpload => no_such_upload(),
        ObjectError::PreconditionFailed => {
            s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold")
        }
        ObjectError::InvalidPart { number } => {
            s3_error!(InvalidPart, "Part {number} changed while the upload was being completed")
        }
        ObjectError::BucketAlreadyExists { .. } => {
            s3_error!(BucketAlreadyExists, "The requested bucket name is not available.")
        }
        ObjectError::BucketNotEmpty => s3_error!(BucketNotEmpty, "The bucket you tried to delete is not empty"),
        ObjectError::Refused(r) => refused(r),
        ObjectError::QuotaExceeded(b) => quota_exceeded(&b),
        ObjectError::Tenant(r) => s3_error!(InvalidRequest, "tenant refused: {r:?}"),
        ObjectError::Asset(r) => s3_error!(InvalidRequest, "asset refused: {r:?}"),
        ObjectError::Annotation(r) => s3_error!(InvalidRequest, "annotation refused: {r:?}"),
        // The caller knows which item `index` is and says so (`s3/object/extract.rs`).
        ObjectError::InBatch { error, .. } => object(*error),
        ObjectError::Sse(e) => crate::s3::sse::error(e),
        ObjectError::KmsKeyExists(id) => s3_error!(InvalidRequest, "KMS key {id} exists"),
        ObjectError::KmsBadKeyId(id) => crate::s3::sse::error(cairn_object::sse::SseError::KmsNotFound(id)),
        ObjectError::Unexpected(r) => unexpected(*r),
    }
}

/// 403 `QuotaExceeded`, naming the limit the write would pass and what is left of it.
pub fn quota_exceeded(b: &QuotaBreach) -> S3Error {
    let pool = match &b.pool {
        Pool::Bucket(name) => format!("bucket {name}"),
        Pool::Key(id) => format!("access key {id}"),
        Pool::Tenant(id) => match &b.below {
            Some(own) => format!("tenant {id} (an ancestor of the bucket's tenant {own})"),
            None => format!("tenant {id}"),
        },
    };
    let (unit, left) = if b.objects { ("objects", "objects") } else { ("bytes", "bytes") };
    let msg = format!(
        "The quota of {pool} allows {limit} {unit}; {used} are used, {remaining} {left} are left, and this write needs {adding}.",
        limit = b.limit,
        used = b.used,
        remaining = b.limit.saturating_sub(b.used),
        adding = b.adding,
    );
    let mut e = S3Error::with_message(S3ErrorCode::Custom("QuotaExceeded".into()), msg);
    e.set_status_code(http::StatusCode::FORBIDDEN);
    e
}

/// What S3 answers for each refusal of the state machine.
pub fn refused(r: Refusal) -> S3Error {
    match r {
        Refusal::ObjectLocked => s3_error!(AccessDenied, "Access Denied because object protected by object lock."),
        Refusal::LockNotEnabled => s3_error!(InvalidRequest, "Bucket is missing Object Lock Configuration"),
        Refusal::InvalidBucketState => s3_error!(
            InvalidBucketState,
            "Object Lock needs versioning Enabled, and versioning cannot be suspended on a bucket with Object Lock"
        ),
        Refusal::DeleteMarker => {
            s3_error!(MethodNotAllowed, "The specified method is not allowed against this resource.")
        }
        Refusal::NoSuchVersion => s3_error!(NoSuchVersion, "The specified version does not exist."),
    }
}

pub fn no_such_bucket() -> S3Error {
    s3_error!(NoSuchBucket, "The specified bucket does not exist")
}

pub fn no_such_upload() -> S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )
}

pub fn unexpected(r: CommandResult) -> S3Error {
    tracing::error!(result = ?r, "unexpected metadata result");
    s3_error!(InternalError, "unexpected metadata result")
}

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
        // Enough shards would have been written but for full disks: retrying will not help
        // until space is freed, so not a 503 the SDKs retry.
        ErasureError::Quorum { written, needed, full } if written + full >= needed => {
            let mut e = S3Error::with_message(
                S3ErrorCode::Custom("InsufficientStorage".into()),
                format!(
                    "Not enough free space: only {written} of the {needed} shards needed could be written, \
                     {full} failed because their disk is full. Free space or add disks, then retry."
                ),
            );
            e.set_status_code(http::StatusCode::INSUFFICIENT_STORAGE);
            e
        }
        ErasureError::Quorum { written, needed, .. } => {
            s3_error!(ServiceUnavailable, "Only {written} of the {needed} shards needed could be written; retry.")
        }
        other => S3Error::internal_error(other),
    }
}
