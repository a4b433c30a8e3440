//! Server-side encryption at rest: every encrypted object or part has its own random
//! 256-bit data key, and its bytes are sealed package by package ([`package`]) before
//! anything is stored, so shards on disk and on the wire between nodes, and inline
//! bodies in the metadata, are ciphertext. Healing, scrubbing and rebalancing move
//! ciphertext and need no key.
//!
//! The data key itself is stored sealed (AES-256-GCM, random nonce:
//! `nonce(12) | ciphertext(32) | tag(16)`) in the version's
//! [`cairn_raft::schema::Sse`] record, by a key-encryption key:
//!
//! | mode | key-encryption key | recorded |
//! |---|---|---|
//! | SSE-S3 (`AES256`) | HKDF-SHA256 of the node's master key, info `cairn sse-s3 kek v<N>` | `S3 { kek_version: N }` |
//! | SSE-C | the customer's key from the request, never stored | `Customer` |
//! | SSE-KMS | version N of a key of the built-in store ([`kms`]), bound to the encryption context | `Kms { key_id, version: N, context }` |
//! | SSE-KMS with an S3 Bucket Key | the bucket's key, derived from version N's material | `KmsBucketKey { key_id, version: N, context, bucket }` |
//!
//! A wrong SSE-C key fails the sealed key's tag: that check is the only trace of the
//! customer's key the metadata holds. The master key ([`MasterKey`]) comes from the
//! node's configuration (a file outside the data directory, or the environment) and
//! must be the same on every node; without it SSE-S3 objects cannot be read.
//!
//! This module owns the keys and the stream transforms; [`crate::data`] decides where
//! they apply.

pub mod kms;
pub mod package;
mod stream;

pub(crate) use stream::{Decrypt, Encrypt};

use cairn_raft::schema::{Sse, SseMode};
use package::PackageKey;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use std::sync::Arc;

/// The version of the SSE-S3 key-encryption key new objects are sealed with.
pub const SSE_S3_KEK_VERSION: u32 = 1;

/// Why an encrypted object could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error(
        "this node has no master key (set master_key_file or CAIRN_MASTER_KEY) and cannot encrypt or decrypt with SSE-S3 or SSE-KMS"
    )]
    NoMasterKey,
    #[error("the object is encrypted with a customer-provided key, and the request did not provide one")]
    CustomerKeyMissing,
    #[error("the customer-provided key is not the one the object was encrypted with")]
    CustomerKeyWrong,
    #[error("the object is not encrypted with a customer-provided key")]
    CustomerKeyNotApplicable,
    #[error("this node's master key does not open the object's data key (is the master key the same on every node?)")]
    MasterKeyWrong,
    #[error("an encrypted package failed its authentication tag")]
    Tampered,
    #[error("KMS key {0} does not exist")]
    KmsNotFound(String),
    #[error("KMS key {0} is disabled")]
    KmsDisabled(String),
}

/// The cluster's master key: the root of every SSE-S3 key-encryption key.
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// 32 bytes as 64 hex digits or as base64 (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Option<Self> {
        use base64::Engine;
        let t = text.trim();
        let bytes = hex::decode(t).ok().or_else(|| base64::engine::general_purpose::STANDARD.decode(t).ok())?;
        Some(Self(<[u8; 32]>::try_from(bytes).ok()?))
    }

    /// An AES-256-GCM key derived from the master key for one purpose (`info`).
    fn derive(&self, info: &str) -> LessSafeKey {
        derive(&self.0, info)
    }

    fn sse_s3_kek(&self, version: u32) -> LessSafeKey {
        self.derive(&format!("cairn sse-s3 kek v{version}"))
    }
}

/// An AES-256-GCM key derived (HKDF-SHA256, no salt) from `secret` for one purpose (`info`).
fn derive(secret: &[u8], info: &str) -> LessSafeKey {
    let info = [info.as_bytes()];
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(secret);
    // AES_256_GCM's key length is a valid HKDF output length.
    let okm = prk.expand(&info, &AES_256_GCM).expect("HKDF output of 32 bytes");
    LessSafeKey::new(UnboundKey::from(okm))
}

/// An SSE-C key from a request (already checked against its MD5 by the protocol).
#[derive(Clone, Copy)]
pub struct CustomerKey(pub [u8; 32]);

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomerKey(..)")
    }
}

/// How a write asks to be encrypted.
#[derive(Clone, Debug)]
pub enum SseRequest {
    S3,
    Customer(CustomerKey),
    /// SSE-KMS with key `key_id` (already a bare id, see [`kms::key_id_of`]), bound to
    /// `context` (canonical JSON) if one was given; with `bucket_key`, sealed by that
    /// bucket's S3 Bucket Key.
    Kms {
        key_id: String,
        context: Option<String>,
        bucket_key: Option<String>,
    },
}

/// What a read brings to open encrypted data: the node's master key, the
/// request's SSE-C key, if any, and the metadata (for KMS keys).
#[derive(Clone, Default)]
pub struct Keys {
    pub master: Option<Arc<MasterKey>>,
    pub customer: Option<CustomerKey>,
    pub meta: Option<cairn_raft::MetaStore>,
}

const AAD_S3: &[u8] = b"cairn sse-s3 data key";
const AAD_C: &[u8] = b"cairn sse-c data key";

/// Seals a 32-byte key: `nonce(12) | ciphertext(32) | tag(16)`.
pub(crate) fn seal_key_with(kek: &LessSafeKey, aad: &[u8], key: &[u8; 32]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    random(&mut nonce);
    let mut buf = key.to_vec();
    kek.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut buf)
        .expect("a 32-byte key within GCM's limit");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    out
}

/// Opens what [`seal_key_with`] sealed; `None` for another key or associated data.
pub(crate) fn open_key_with(kek: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Option<[u8; 32]> {
    let (nonce, rest) = sealed.split_at_checked(NONCE_LEN)?;
    let nonce = Nonce::assume_unique_for_key(nonce.try_into().ok()?);
    let mut buf = rest.to_vec();
    let plain = kek.open_in_place(nonce, Aad::from(aad), &mut buf).ok()?;
    <[u8; 32]>::try_from(&plain[..]).ok()
}

pub(crate) fn random(buf: &mut [u8]) {
    // The system's random source failing is not something to go on from.
    SystemRandom::new().fill(buf).expect("the system random source");
}

fn customer_kek(key: &CustomerKey) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key.0).expect("32-byte AES-256 key"))
}

/// A new random data key for one blob, and its record sealed as `req` asks (`kms`:
/// the key SSE-KMS names, already read from the metadata).
pub(crate) fn new_data_key(
    req: &SseRequest,
    master: Option<&MasterKey>,
    kms: Option<&cairn_raft::kms::KmsKey>,
) -> Result<(PackageKey, Sse), SseError> {
    let mut data_key = [0u8; 32];
    random(&mut data_key);
    let sse = match req {
        SseRequest::Kms { key_id, context, bucket_key } => {
            let master = master.ok_or(SseError::NoMasterKey)?;
            let key = kms.filter(|k| k.id == *key_id).ok_or_else(|| SseError::KmsNotFound(key_id.clone()))?;
            let version = key.current();
            let kek = kms::version_kek(master, key, version, bucket_key.as_deref())?;
            let aad = kms::data_key_aad(key_id, version, context.as_deref());
            let (key_id, context) = (key_id.clone(), context.clone());
            let mode = match bucket_key {
                None => SseMode::Kms { key_id, version, context },
                Some(bucket) => SseMode::KmsBucketKey { key_id, version, context, bucket: bucket.clone() },
            };
            Sse { mode, sealed_key: seal_key_with(&kek, &aad, &data_key) }
        }
        SseRequest::S3 => {
            let master = master.ok_or(SseError::NoMasterKey)?;
            let kek = master.sse_s3_kek(SSE_S3_KEK_VERSION);
            Sse {
                mode: SseMode::S3 { kek_version: SSE_S3_KEK_VERSION },
                sealed_key: seal_key_with(&kek, AAD_S3, &data_key),
            }
        }
        SseRequest::Customer(key) => {
            Sse { mode: SseMode::Customer, sealed_key: seal_key_with(&customer_kek(key), AAD_C, &data_key) }
        }
    };
    Ok((PackageKey::new(&data_key), sse))
}

/// Opens the data key of `sse` with what the request brought.
pub(crate) fn data_key(sse: &Sse, keys: &Keys) -> Result<PackageKey, SseError> {
    let key = match &sse.mode {
        SseMode::Kms { .. } | SseMode::KmsBucketKey { .. } => {
            let seal = sse.mode.kms().expect("an SSE-KMS mode");
            let master = keys.master.as_deref().ok_or(SseError::NoMasterKey)?;
            let id = seal.key_id;
            let meta = keys.meta.as_ref().ok_or_else(|| SseError::KmsNotFound(id.to_string()))?;
            let key = match meta.kms_key(id) {
                Ok(Some(k)) if k.enabled => k,
                Ok(Some(_)) => return Err(SseError::KmsDisabled(id.to_string())),
                _ => return Err(SseError::KmsNotFound(id.to_string())),
            };
            let kek = kms::version_kek(master, &key, seal.version, seal.bucket_key)?;
            let aad = kms::data_key_aad(id, seal.version, seal.context);
            open_key_with(&kek, &aad, &sse.sealed_key).ok_or(SseError::MasterKeyWrong)?
        }
        SseMode::S3 { kek_version } => {
            let master = keys.master.as_deref().ok_or(SseError::NoMasterKey)?;
            open_key_with(&master.sse_s3_kek(*kek_version), AAD_S3, &sse.sealed_key).ok_or(SseError::MasterKeyWrong)?
        }
        SseMode::Customer => {
            let customer = keys.customer.as_ref().ok_or(SseError::CustomerKeyMissing)?;
            open_key_with(&customer_kek(customer), AAD_C, &sse.sealed_key).ok_or(SseError::CustomerKeyWrong)?
        }
    };
    Ok(PackageKey::new(&key))
}

/// Checks that `keys` open `sse` (or that no SSE-C key was brought to an object
/// that has none), without reading any data: HEAD, and GET before its first byte.
pub fn check_keys(sse: Option<&Sse>, keys: &Keys) -> Result<(), SseError> {
    match sse {
        None if keys.customer.is_some() => Err(SseError::CustomerKeyNotApplicable),
        None => Ok(()),
        Some(s) if !matches!(s.mode, SseMode::Customer) && keys.customer.is_some() => {
            Err(SseError::CustomerKeyNotApplicable)
        }
        Some(s) => data_key(s, keys).map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_forms() {
        let hex = "00".repeat(31) + "01";
        assert_eq!(MasterKey::parse(&format!(" {hex}\n")).unwrap().0[31], 1);
        assert!(MasterKey::parse("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").is_some());
        assert!(MasterKey::parse("abcd").is_none());
        assert!(MasterKey::parse("").is_none());
    }

    #[test]
    fn data_keys_open_only_with_their_key() {
        let master = Arc::new(MasterKey([1; 32]));
        let keys = Keys { master: Some(master.clone()), customer: None, meta: None };
        let (_, sse) = new_data_key(&SseRequest::S3, Some(&master), None).unwrap();
        assert_eq!(sse.sealed_key.len(), 12 + 32 + 16);
        assert!(data_key(&sse, &keys).is_ok());
        let other = Keys { master: Some(Arc::new(MasterKey([2; 32]))), customer: None, meta: None };
        assert_eq!(data_key(&sse, &other).err(), Some(SseError::MasterKeyWrong));
        assert_eq!(data_key(&sse, &Keys::default()).err(), Some(SseError::NoMasterKey));
        assert_eq!(new_data_key(&SseRequest::S3, None, None).err(), Some(SseError::NoMasterKey));

        let c = CustomerKey([9; 32]);
        let (_, sse) = new_data_key(&SseRequest::Customer(c), None, None).unwrap();
        assert!(check_keys(Some(&sse), &Keys { customer: Some(c), ..Keys::default() }).is_ok());
        let wrong = Keys { customer: Some(CustomerKey([8; 32])), ..Keys::default() };
        assert_eq!(check_keys(Some(&sse), &wrong), Err(SseError::CustomerKeyWrong));
        assert_eq!(check_keys(Some(&sse), &Keys::default()), Err(SseError::CustomerKeyMissing));
        assert_eq!(check_keys(None, &wrong), Err(SseError::CustomerKeyNotApplicable));
    }
}
