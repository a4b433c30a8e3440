//! The built-in KMS key store: named keys in the metadata, replicated with everything
//! else. Each key has versions (a rotation appends one); each version's key material
//! is sealed by the object layer with a key derived from the cluster's master key, so
//! the state machine, the log and snapshots never hold key material in the clear. Keys
//! are never deleted: every SSE-KMS object names the key and the version that sealed
//! its data key. A disabled key refuses new writes and reads of its objects until it
//! is enabled again.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `sm_kms_keys` | key id | bincode([`KmsKey`]) |
//!
//! Apply decides (`apply/kms.rs`): a key id is created once; a rotation names the
//! version it adds and is refused unless that is the next one, so two rotations never
//! claim the same number.

use serde::{Deserialize, Serialize};

use crate::schema::Nanos;

/// One key of the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsKey {
    pub id: String,
    pub description: String,
    pub created: Nanos,
    pub enabled: bool,
    /// Version `n` is `versions[n - 1]`; the last one seals new data keys.
    pub versions: Vec<KmsKeyVersion>,
}

impl KmsKey {
    /// The version new data keys are sealed with.
    pub fn current(&self) -> u32 {
        self.versions.len() as u32
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsKeyVersion {
    /// 32 bytes of key material, sealed by the object layer (nonce, ciphertext, tag).
    pub sealed: Vec<u8>,
    pub created: Nanos,
}

/// A KMS command apply refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KmsRefusal {
    /// CreateKmsKey of an id that exists.
    Exists,
    NoSuchKey,
    /// RotateKmsKey of a version number that is not the next one (another rotation
    /// came first).
    NotNext,
}
