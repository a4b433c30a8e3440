//! Sealing a body package by package as it is written, and opening a stored range
//! as it is read, with memory bounded by one package either way.

use super::SseError;
use super::package::{PACKAGE, PackageKey, STORED_PACKAGE};
use crate::{DataStream, ObjectError};
use bytes::{Buf, Bytes};
use futures::StreamExt;

/// Seals plaintext as it comes into whole packages.
pub(crate) struct Encrypt {
    key: PackageKey,
    buf: Vec<u8>,
    index: u64,
}

impl Encrypt {
    pub fn new(key: PackageKey) -> Self {
        Self { key, buf: Vec::with_capacity(STORED_PACKAGE), index: 0 }
    }

    /// Takes plaintext; answers the packages it completed, sealed, in order.
    pub fn push(&mut self, mut data: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while !data.is_empty() {
            let n = (PACKAGE - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() == PACKAGE {
                out.push(self.seal());
            }
        }
        out
    }

    /// The last, short package, if the plaintext did not end on a package boundary.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.buf.is_empty()).then(|| self.seal())
    }

    fn seal(&mut self) -> Vec<u8> {
        let mut b = std::mem::replace(&mut self.buf, Vec::with_capacity(STORED_PACKAGE));
        self.key.seal(self.index, &mut b);
        self.index += 1;
        b
    }
}

/// Opens stored packages as they stream in.
pub(crate) struct Decrypt {
    inner: DataStream,
    key: PackageKey,
    /// The index of the next package.
    index: u64,
    /// Plaintext bytes of the next package to drop (the range starts inside it).
    skip: usize,
    /// Plaintext bytes still to answer.
    left: u64,
    pending: Bytes,
}

/// Packages opened into one answer chunk (256 KiB of plaintext): fewer, larger
/// chunks for the HTTP layer, as unencrypted reads give it.
const OUT_PACKAGES: usize = 4;

impl Decrypt {
    /// `inner` yields stored packages from package `first` on; the answer is `take`
    /// plaintext bytes starting `skip` bytes into that package.
    pub fn stream(inner: DataStream, key: PackageKey, first: u64, skip: usize, take: u64) -> DataStream {
        let st = Decrypt { inner, key, index: first, skip, left: take, pending: Bytes::new() };
        Box::pin(futures::stream::unfold(st, |mut st| async move {
            if st.left == 0 {
                return None;
            }
            let item = st.next_chunk().await;
            if item.is_err() {
                st.left = 0;
            }
            Some((item, st))
        }))
    }

    /// Up to [`OUT_PACKAGES`] packages opened into one buffer: each package's stored
    /// bytes are copied in right after the plaintext before it and opened in place, so
    /// the plaintexts end up contiguous with one copy of the data.
    async fn next_chunk(&mut self) -> Result<Bytes, ObjectError> {
        let mut out: Vec<u8> = Vec::with_capacity(OUT_PACKAGES * STORED_PACKAGE);
        let mut packages = 0;
        while packages < OUT_PACKAGES {
            let start = out.len();
            while out.len() - start < STORED_PACKAGE {
                if self.pending.is_empty() {
                    match self.inner.next().await {
                        Some(Ok(b)) => self.pending = b,
                        Some(Err(e)) => return Err(e),
                        None => break,
                    }
                }
                let n = (STORED_PACKAGE - (out.len() - start)).min(self.pending.len());
                out.extend_from_slice(&self.pending[..n]);
                self.pending.advance(n);
            }
            if out.len() == start {
                break;
            }
            let n = self.key.open(self.index, &mut out[start..]).ok_or(ObjectError::Sse(SseError::Tampered))?;
            self.index += 1;
            out.truncate(start + n);
            packages += 1;
            if n < PACKAGE || (out.len().saturating_sub(self.skip)) as u64 >= self.left {
                break;
            }
        }
        // The stored bytes ended before the range did.
        if packages == 0 || self.skip > out.len() {
            return Err(ObjectError::Sse(SseError::Tampered));
        }
        let mut b = Bytes::from(out);
        b.advance(self.skip);
        self.skip = 0;
        if b.len() as u64 > self.left {
            b.truncate(self.left as usize);
        }
        self.left -= b.len() as u64;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::package::{sealed_len, stored_range};

    fn chunked(data: &[u8], size: usize) -> DataStream {
        let chunks: Vec<Result<Bytes, ObjectError>> =
            data.chunks(size.max(1)).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        Box::pin(futures::stream::iter(chunks))
    }

    async fn collect(mut s: DataStream) -> Result<Vec<u8>, ObjectError> {
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn ranges_open_across_packages_and_chunk_sizes() {
        let key = [3u8; 32];
        let plain: Vec<u8> = (0..(5 * PACKAGE + 1234)).map(|i| (i * 31 % 251) as u8).collect();
        let mut enc = Encrypt::new(PackageKey::new(&key));
        let mut stored = Vec::new();
        for piece in plain.chunks(7777) {
            for p in enc.push(piece) {
                stored.extend_from_slice(&p);
            }
        }
        stored.extend(enc.finish().unwrap_or_default());
        assert_eq!(stored.len() as u64, sealed_len(plain.len() as u64));
        let n = plain.len() as u64;
        let p = PACKAGE as u64;
        for (a, b) in [(0, n), (0, 1), (p - 1, p + 1), (p, 2 * p), (3, 4 * p + 5), (n - 1, n), (2 * p + 7, n)] {
            for chunk in [1000, STORED_PACKAGE, 300_000] {
                let (r, first, skip) = stored_range(a, b, stored.len() as u64);
                let inner = chunked(&stored[r.start as usize..r.end as usize], chunk);
                let got = collect(Decrypt::stream(inner, PackageKey::new(&key), first, skip, b - a)).await.unwrap();
                assert!(got == plain[a as usize..b as usize], "range {a}..{b}, chunks of {chunk}");
            }
        }
        // Stored bytes cut short, or another key: an error, never wrong bytes.
        let short = chunked(&stored[..STORED_PACKAGE + 10], 4096);
        assert!(collect(Decrypt::stream(short, PackageKey::new(&key), 0, 0, n)).await.is_err());
        let other = chunked(&stored, 4096);
        assert!(collect(Decrypt::stream(other, PackageKey::new(&[4u8; 32]), 0, 0, n)).await.is_err());
    }
}
