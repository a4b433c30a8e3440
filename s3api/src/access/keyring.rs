//! The cluster's key-encryption key: access-key secrets are sealed with it before
//! they enter Raft, so the log, the snapshots and the state machine never hold a
//! secret in the clear. SigV4 needs the plain secret to verify a signature, so the
//! secrets are encrypted (XChaCha20-Poly1305), not hashed.
//!
//! Every member of a cluster holds the same key: derived from the cluster secret
//! for a static cluster, or received from a member over the authenticated
//! internode transport when a node joins.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::sync::{Arc, RwLock};

/// Sealed secret: `[SEAL_V1][24-byte nonce][ciphertext + tag]`.
const SEAL_V1: u8 = 1;
const NONCE_LEN: usize = 24;
pub const KEY_LEN: usize = 32;

#[derive(Clone)]
pub struct Keyring {
    key: Arc<RwLock<[u8; KEY_LEN]>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(..)")
    }
}

impl Keyring {
    pub fn from_bytes(key: [u8; KEY_LEN]) -> Self {
        Keyring { key: Arc::new(RwLock::new(key)) }
    }

    pub fn generate() -> Self {
        Self::from_bytes(rand::random())
    }

    /// The key every node of a static cluster derives from the shared cluster secret.
    pub fn derive(cluster_secret: &[u8]) -> Self {
        let mut key = [0u8; KEY_LEN];
        hkdf::Hkdf::<sha2::Sha256>::new(Some(b"cairn keyring"), cluster_secret)
            .expand(b"access key secrets v1", &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self::from_bytes(key)
    }

    pub fn bytes(&self) -> [u8; KEY_LEN] {
        *self.key.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes every clone use `key` from now on (a node that joins a cluster takes its key).
    pub fn replace(&self, key: [u8; KEY_LEN]) {
        *self.key.write().unwrap_or_else(|e| e.into_inner()) = key;
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.bytes().into())
    }

    /// Seals `secret` for access key `access_key_id` (bound to it: a sealed secret
    /// copied onto another key id does not open).
    pub fn seal(&self, access_key_id: &str, secret: &str) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let payload = Payload { msg: secret.as_bytes(), aad: access_key_id.as_bytes() };
        let sealed = self.cipher().encrypt(XNonce::from_slice(&nonce), payload).expect("in-memory encryption");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(SEAL_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The secret of `access_key_id`, or `None` if `sealed` was not sealed with this
    /// key for this id.
    pub fn open(&self, access_key_id: &str, sealed: &[u8]) -> Option<String> {
        let (&version, rest) = sealed.split_first()?;
        if version != SEAL_V1 || rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let payload = Payload { msg: ciphertext, aad: access_key_id.as_bytes() };
        let plain = self.cipher().decrypt(XNonce::from_slice(nonce), payload).ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let k = Keyring::generate();
        let sealed = k.seal("AK1", "wJalrXUtnFEMI/K7MDENG");
        assert!(!sealed.windows(8).any(|w| w == b"wJalrXUt"), "the secret must not appear in the sealed bytes");
        assert_eq!(k.open("AK1", &sealed).as_deref(), Some("wJalrXUtnFEMI/K7MDENG"));
        assert_eq!(k.open("AK2", &sealed), None, "bound to the key id");
        assert_eq!(Keyring::generate().open("AK1", &sealed), None, "another keyring cannot open it");
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(k.open("AK1", &flipped), None);
        assert_eq!(k.open("AK1", &[]), None);
        assert_eq!(k.open("AK1", &sealed[..10]), None);
        assert_ne!(k.seal("AK1", "s"), k.seal("AK1", "s"), "fresh nonce every time");
    }

    #[test]
    fn derived_keys_agree_and_replace_applies_to_clones() {
        let a = Keyring::derive(b"cluster secret 0123456789");
        let b = Keyring::derive(b"cluster secret 0123456789");
        assert_eq!(a.bytes(), b.bytes());
        assert_ne!(a.bytes(), Keyring::derive(b"another secret").bytes());
        let sealed = a.seal("AK", "s3cr3t");
        let joiner = Keyring::generate();
        let clone = joiner.clone();
        joiner.replace(a.bytes());
        assert_eq!(clone.open("AK", &sealed).as_deref(), Some("s3cr3t"));
    }
}
