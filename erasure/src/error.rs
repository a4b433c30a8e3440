//! [`ErasureError`]: what can go wrong writing, reading or healing shards.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// Too few shards written; `full` of the ones that failed did for lack of space on their
    /// disk (ENOSPC or a filesystem quota), so callers can tell a full cluster from a broken one.
    #[error("write quorum not reached: {written} durable shards, {needed} needed ({full} failed on full disks)")]
    Quorum { written: usize, needed: usize, full: usize },
    #[error("stripe {stripe} unrecoverable: {available} good blocks, {needed} needed")]
    Unrecoverable { stripe: u64, available: usize, needed: usize },
    #[error("invalid layout: {0}")]
    Layout(String),
    #[error("erasure codec: {0}")]
    Codec(String),
}

impl From<reed_solomon_simd::Error> for ErasureError {
    fn from(e: reed_solomon_simd::Error) -> Self {
        ErasureError::Codec(e.to_string())
    }
}

/// Whether a disk error means the disk has no space left for the write.
pub fn is_full(kind: io::ErrorKind) -> bool {
    matches!(kind, io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
}

/// A blocking task that panicked or was cancelled leaves its shard state lost; surface it as I/O.
pub(crate) fn join_error(e: tokio::task::JoinError) -> ErasureError {
    ErasureError::Io(io::Error::other(format!("blocking shard task failed: {e}")))
}
