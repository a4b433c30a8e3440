//! What the object layer answers when it cannot do what it was asked: the lower
//! layers' failures, the state machine's refusals, and the caller's own body error
//! passed back unchanged. Each protocol maps these to its answers.

use cairn_erasure::ErasureError;
use cairn_raft::MetaError;
use cairn_raft::schema::{CommandResult, QuotaBreach, Refusal, TenantRefusal};

/// The error a caller's body stream carries (an S3 body's error, say); the layer
/// hands it back untouched in [`ObjectError::Body`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// A metadata operation failed (no leader, the cluster unavailable, storage).
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// Shard I/O failed (too few shards written or readable, a disk error).
    #[error(transparent)]
    Erasure(#[from] ErasureError),
    /// The caller's body stream failed.
    #[error("{0}")]
    Body(BoxError),
    /// The body ended at another length than announced.
    #[error("the body's length is not the one announced")]
    IncompleteBody,
    /// The layout has fewer disks than one erasure set needs.
    #[error("the cluster layout has fewer disks than one erasure set needs")]
    NoPlacement,
    #[error("shutting down")]
    ShuttingDown,
    /// The storage class named is not one of the cluster's (`cairn_raft::tiers`).
    #[error("no storage class {0} in this cluster")]
    NoSuchStorageClass(String),
    /// An inline version holds fewer bytes than its recorded size.
    #[error("inline object shorter than its recorded size")]
    Corrupt,
    #[error("no such bucket")]
    NoSuchBucket,
    /// No such key (or `If-Match` on a key that does not exist).
    #[error("no such key")]
    NoSuchKey,
    #[error("no such upload")]
    NoSuchUpload,
    /// A write condition did not hold.
    #[error("precondition failed")]
    PreconditionFailed,
    /// A part named by a completion is missing or no longer the stored one.
    #[error("part {number} changed while the upload was being completed")]
    InvalidPart { number: u32 },
    #[error("bucket already exists, owned by {owner}")]
    BucketAlreadyExists { owner: String },
    #[error("bucket not empty")]
    BucketNotEmpty,
    /// The state machine refused a well-formed command (object lock, a marker named).
    #[error("refused: {0:?}")]
    Refused(Refusal),
    /// The write would have taken a quota pool past its limit; nothing was stored.
    #[error("quota exceeded: {0:?}")]
    QuotaExceeded(QuotaBreach),
    /// The state machine refused a tenant command.
    #[error("tenant refused: {0:?}")]
    Tenant(TenantRefusal),
    /// The state machine refused an asset command.
    #[error("asset refused: {0:?}")]
    Asset(cairn_raft::assets::AssetRefusal),
    /// Item `index` of a batch was refused, and with it the batch.
    #[error("item {index} of the batch: {error}")]
    InBatch { index: usize, error: Box<ObjectError> },
    /// The state machine refused an annotation command.
    #[error("annotation command refused: {0:?}")]
    Annotation(cairn_raft::annotations::AnnotationRefusal),
    /// CreateKmsKey of an id that exists.
    #[error("KMS key {0} exists")]
    KmsKeyExists(String),
    /// A KMS key id that cannot be one.
    #[error("{0:?} is not a KMS key id: 1 to 128 letters, digits and - _ / .")]
    KmsBadKeyId(String),
    /// Encryption keys missing, wrong, or not opening the data.
    #[error(transparent)]
    Sse(#[from] crate::sse::SseError),
    /// The state machine answered something this command never yields.
    #[error("unexpected metadata result {0:?}")]
    Unexpected(Box<CommandResult>),
}
