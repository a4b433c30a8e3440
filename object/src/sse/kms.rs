//! SSE-KMS over the built-in key store (`cairn_raft::kms`): creating, rotating,
//! enabling and disabling keys (the commands, with fresh key material sealed by the
//! master key), and the key-encryption key of one version for sealing and opening
//! data keys.
//!
//! A version's material: 32 random bytes, sealed (AES-256-GCM, random nonce) by
//! HKDF-SHA256(master key, info `cairn kms key material v1`), with `cairn kms <id> v<N>`
//! as associated data, so a version's seal cannot be moved to another key or version.
//! A data key is sealed by the version's material with the key id, the version and the
//! encryption context (canonical JSON) as associated data: a read needs the same context
//! the write was bound to, which the object records. With an S3 Bucket Key, the data key
//! is sealed instead by a key derived from the version's material for its bucket
//! ([`version_kek`]); the object records the bucket.

use super::{MasterKey, SseError, open_key_with, random, seal_key_with};
use crate::{ObjectError, Store};
use cairn_raft::MetaStore;
use cairn_raft::kms::{KmsKey, KmsKeyVersion, KmsRefusal};
use cairn_raft::schema::{Command, CommandResult, Nanos};
use ring::aead::{AES_256_GCM, LessSafeKey, UnboundKey};

/// The key SSE-KMS uses when a request names none (AWS's managed key for S3).
pub const DEFAULT_KEY: &str = "aws/s3";
/// The longest key id.
pub const MAX_KEY_ID: usize = 128;

fn material_kek(master: &MasterKey) -> LessSafeKey {
    master.derive("cairn kms key material v1")
}

fn material_aad(id: &str, version: u32) -> Vec<u8> {
    format!("cairn kms {id} v{version}").into_bytes()
}

/// The associated data of a data key sealed by (`id`, `version`) under `context`.
pub(crate) fn data_key_aad(id: &str, version: u32, context: Option<&str>) -> Vec<u8> {
    format!("cairn sse-kms data key\0{id}\0{version}\0{}", context.unwrap_or("")).into_bytes()
}

/// A key id as a request may give it: the id itself, or an ARN ending in `key/<id>`.
pub fn key_id_of(given: &str) -> Result<String, SseError> {
    let id = match given.strip_prefix("arn:") {
        Some(_) => given.split_once(":key/").map(|(_, id)| id).unwrap_or(""),
        None => given,
    };
    let ok = !id.is_empty()
        && id.len() <= MAX_KEY_ID
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/' | b'.'));
    if ok { Ok(id.to_string()) } else { Err(SseError::KmsNotFound(given.to_string())) }
}

/// The key-encryption key of version `version` of `key`, if this master key opens it:
/// the version's material itself, or with `bucket_key`, that bucket's Bucket Key
/// (HKDF-SHA256 of the material, info `cairn s3 bucket key\0<bucket>`).
pub(crate) fn version_kek(
    master: &MasterKey,
    key: &KmsKey,
    version: u32,
    bucket_key: Option<&str>,
) -> Result<LessSafeKey, SseError> {
    let v = version.checked_sub(1).and_then(|i| key.versions.get(i as usize));
    let v = v.ok_or_else(|| SseError::KmsNotFound(format!("{} version {version}", key.id)))?;
    let material = open_key_with(&material_kek(master), &material_aad(&key.id, version), &v.sealed)
        .ok_or(SseError::MasterKeyWrong)?;
    Ok(match bucket_key {
        None => LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &material).expect("32-byte AES-256 key")),
        Some(bucket) => super::derive(&material, &format!("cairn s3 bucket key\0{bucket}")),
    })
}

/// Key `id` as the metadata has it, refusing a missing or disabled one.
pub(crate) fn usable(meta: &MetaStore, id: &str) -> Result<KmsKey, ObjectError> {
    match meta.kms_key(id)? {
        None => Err(SseError::KmsNotFound(id.to_string()).into()),
        Some(k) if !k.enabled => Err(SseError::KmsDisabled(id.to_string()).into()),
        Some(k) => Ok(k),
    }
}

fn new_version(master: &MasterKey, id: &str, version: u32, now: Nanos) -> KmsKeyVersion {
    let mut material = [0u8; 32];
    random(&mut material);
    KmsKeyVersion { sealed: seal_key_with(&material_kek(master), &material_aad(id, version), &material), created: now }
}

fn outcome(r: CommandResult, id: &str) -> Result<u32, ObjectError> {
    match r {
        CommandResult::KmsVersion(v) => Ok(v),
        CommandResult::KmsRefused(KmsRefusal::Exists) => Err(ObjectError::KmsKeyExists(id.to_string())),
        CommandResult::KmsRefused(KmsRefusal::NoSuchKey) => Err(SseError::KmsNotFound(id.to_string()).into()),
        other => Err(ObjectError::Unexpected(Box::new(other))),
    }
}

impl Store {
    fn master(&self) -> Result<&MasterKey, ObjectError> {
        Ok(self.master_key.as_deref().ok_or(SseError::NoMasterKey)?)
    }

    /// Creates KMS key `id` with its first version.
    pub async fn kms_create(&self, id: &str, description: String, now: Nanos) -> Result<KmsKey, ObjectError> {
        let id = key_id_of(id).map_err(|_| ObjectError::KmsBadKeyId(id.to_string()))?;
        let key = KmsKey {
            id: id.clone(),
            description,
            created: now,
            enabled: true,
            versions: vec![new_version(self.master()?, &id, 1, now)],
        };
        outcome(self.meta.propose(Command::CreateKmsKey { key: key.clone() }).await?, &id)?;
        Ok(key)
    }

    /// Adds a version to key `id`: new data keys are sealed with it, older objects keep
    /// theirs. Answers the new version.
    pub async fn kms_rotate(&self, id: &str, now: Nanos) -> Result<u32, ObjectError> {
        // The version's number is bound into its seal, and apply takes it only as the
        // next one: a rotation that lost a race to another tries again.
        for _ in 0..5 {
            self.meta.read_barrier().await?;
            let key = self.meta.kms_key(id)?.ok_or_else(|| SseError::KmsNotFound(id.to_string()))?;
            let number = key.current() + 1;
            let version = new_version(self.master()?, id, number, now);
            let cmd = Command::RotateKmsKey { id: id.to_string(), number, version };
            match self.meta.propose(cmd).await? {
                CommandResult::KmsRefused(KmsRefusal::NotNext) => continue,
                other => return outcome(other, id),
            }
        }
        Err(ObjectError::Unexpected(Box::new(CommandResult::KmsRefused(KmsRefusal::NotNext))))
    }

    /// Enables or disables key `id`; answers its current version.
    pub async fn kms_set_enabled(&self, id: &str, enabled: bool) -> Result<u32, ObjectError> {
        outcome(self.meta.propose(Command::SetKmsKeyEnabled { id: id.to_string(), enabled }).await?, id)
    }

    /// Key `id` for a new data key: after a read barrier if this node has not seen it;
    /// the default key is made the first time it is asked for.
    pub(crate) async fn kms_key_for_write(&self, id: &str) -> Result<KmsKey, ObjectError> {
        if self.meta.kms_key(id)?.is_none() {
            self.meta.read_barrier().await?;
        }
        if id == DEFAULT_KEY && self.meta.kms_key(id)?.is_none() {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            match self.kms_create(id, "Default key for SSE-KMS without a key id".into(), now as Nanos).await {
                Ok(_) | Err(ObjectError::KmsKeyExists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        usable(&self.meta, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_key_is_its_own_key_per_bucket() {
        let master = MasterKey([5; 32]);
        let key = KmsKey {
            id: "media".into(),
            description: String::new(),
            created: 0,
            enabled: true,
            versions: vec![new_version(&master, "media", 1, 0)],
        };
        let aad = data_key_aad("media", 1, None);
        let sealed = seal_key_with(&version_kek(&master, &key, 1, Some("films")).unwrap(), &aad, &[9; 32]);
        let open = |bucket_key: Option<&str>| {
            open_key_with(&version_kek(&master, &key, 1, bucket_key).unwrap(), &aad, &sealed)
        };
        assert_eq!(open(Some("films")), Some([9; 32]));
        assert_eq!(open(Some("other")), None, "another bucket's key");
        assert_eq!(open(None), None, "the version's own key");
        assert_eq!(
            version_kek(&master, &key, 2, Some("films")).err(),
            Some(SseError::KmsNotFound("media version 2".into()))
        );
    }
}
