//! Packages: the unit of encryption. A body is cut into packages of [`PACKAGE`]
//! plaintext bytes (the last one shorter); each is sealed with AES-256-GCM under the
//! blob's data key and stored as its ciphertext followed by its 16-byte tag. The
//! nonce of package `i` is four zero bytes and `i` as a big-endian u64: the data key
//! is random and used for one blob only, so no nonce repeats under a key, and a
//! package moved to another position fails its tag.
//!
//! Package `i` of the plaintext starts at `i * PACKAGE` and is stored at
//! `i * (PACKAGE + TAG)`, so a range of plaintext maps to a range of stored bytes
//! without reading anything before it.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use std::ops::Range;

/// Plaintext bytes per package.
pub const PACKAGE: usize = 64 * 1024;
/// The AEAD tag after each package.
pub const TAG: usize = 16;
/// A whole stored package: ciphertext and tag.
pub const STORED_PACKAGE: usize = PACKAGE + TAG;

/// Bytes stored for `plain` bytes of plaintext.
pub fn sealed_len(plain: u64) -> u64 {
    plain + TAG as u64 * plain.div_ceil(PACKAGE as u64)
}

/// What to read to answer plaintext `start..end` (`start < end <= plain_size`):
/// the stored bytes, the index of the first package in them, and how many
/// plaintext bytes of that package come before `start`.
pub fn stored_range(start: u64, end: u64, stored_size: u64) -> (Range<u64>, u64, usize) {
    let first = start / PACKAGE as u64;
    let last = (end - 1) / PACKAGE as u64;
    let from = first * STORED_PACKAGE as u64;
    let to = ((last + 1) * STORED_PACKAGE as u64).min(stored_size);
    (from..to, first, (start - first * PACKAGE as u64) as usize)
}

/// One blob's data key, ready to seal and open its packages.
pub struct PackageKey(LessSafeKey);

impl PackageKey {
    pub fn new(data_key: &[u8; 32]) -> Self {
        // A 32-byte key is always a valid AES-256 key.
        Self(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, data_key).expect("32-byte AES-256 key")))
    }

    fn nonce(index: u64) -> Nonce {
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&index.to_be_bytes());
        Nonce::assume_unique_for_key(n)
    }

    /// Seals package `index` in place, appending its tag.
    pub fn seal(&self, index: u64, buf: &mut Vec<u8>) {
        // Sealing fails only for inputs beyond GCM's limit (64 GiB), far above a package.
        self.0.seal_in_place_append_tag(Self::nonce(index), Aad::empty(), buf).expect("package within GCM's limit");
    }

    /// Opens stored package `index` in place: the plaintext's length, or `None` when the
    /// tag does not match (another key, or bytes that are not this package).
    pub fn open(&self, index: u64, buf: &mut [u8]) -> Option<usize> {
        self.open_shifted(index, buf, 0)
    }

    /// Opens stored package `index`, which is `buf[shift..]`, writing its plaintext to
    /// the start of `buf` as it goes (so packages opened one after another end up
    /// contiguous, in the same pass that decrypts them); the plaintext's length.
    pub fn open_shifted(&self, index: u64, buf: &mut [u8], shift: usize) -> Option<usize> {
        self.0.open_within(Self::nonce(index), Aad::empty(), buf, shift..).ok().map(|p| p.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_ranges() {
        let p = PACKAGE as u64;
        let s = STORED_PACKAGE as u64;
        assert_eq!(sealed_len(0), 0);
        assert_eq!(sealed_len(1), 17);
        assert_eq!(sealed_len(p), s);
        assert_eq!(sealed_len(p + 1), s + 17);
        let stored = sealed_len(3 * p + 10);
        // Within the first package.
        assert_eq!(stored_range(0, 1, stored), (0..s, 0, 0));
        // Exactly the second package.
        assert_eq!(stored_range(p, 2 * p, stored), (s..2 * s, 1, 0));
        // Across a boundary: the last byte of one package and the first of the next.
        assert_eq!(stored_range(p - 1, p + 1, stored), (0..2 * s, 0, PACKAGE - 1));
        // The short last package ends at the stored size.
        assert_eq!(stored_range(3 * p + 5, 3 * p + 10, stored), (3 * s..stored, 3, 5));
    }

    #[test]
    fn packages_are_bound_to_key_and_position() {
        let key = PackageKey::new(&[7; 32]);
        let mut buf = b"hello".to_vec();
        key.seal(3, &mut buf);
        assert_eq!(buf.len(), 5 + TAG);
        assert_ne!(&buf[..5], b"hello");
        let mut moved = buf.clone();
        assert_eq!(key.open(4, &mut moved), None, "a package read at another position fails");
        let mut other = buf.clone();
        assert_eq!(PackageKey::new(&[8; 32]).open(3, &mut other), None, "another key fails");
        let mut shifted = [b"gap".as_slice(), &buf].concat();
        assert_eq!(key.open_shifted(3, &mut shifted, 3), Some(5));
        assert_eq!(&shifted[..5], b"hello", "opened to the front of the buffer");
        assert_eq!(key.open(3, &mut buf), Some(5));
        assert_eq!(&buf[..5], b"hello");
    }
}
