//! Sealing a body package by package as it is written, and opening a stored range
//! as it is read, with memory bounded by one package either way.

use super::SseError;
use super::package::{PACKAGE, PackageKey, STORED_PACKAGE};
use crate::{DataStream, ObjectError};
use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;
use std::collections::VecDeque;

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
///
/// A chunk from the store is opened where it lies: its whole packages are opened one
/// after another, each plaintext written to the end of the one before as it is
/// decrypted, and answered as one slice of the chunk, so plaintext is never copied.
/// Only a package split between two chunks is gathered into a buffer of its own first.
pub(crate) struct Decrypt {
    inner: DataStream,
    key: PackageKey,
    /// The index of the next package to open.
    index: u64,
    /// Plaintext bytes of the next answer to drop (the range starts inside it).
    skip: usize,
    /// Plaintext bytes still to answer.
    left: u64,
    /// The stored bytes of a package begun in an earlier chunk.
    carry: Vec<u8>,
    /// Opened plaintexts not yet answered, in order.
    ready: VecDeque<Bytes>,
}

impl Decrypt {
    /// `inner` yields stored packages from package `first` on; the answer is `take`
    /// plaintext bytes starting `skip` bytes into that package.
    pub fn stream(inner: DataStream, key: PackageKey, first: u64, skip: usize, take: u64) -> DataStream {
        let st = Decrypt { inner, key, index: first, skip, left: take, carry: Vec::new(), ready: VecDeque::new() };
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

    async fn next_chunk(&mut self) -> Result<Bytes, ObjectError> {
        loop {
            while let Some(mut b) = self.ready.pop_front() {
                if self.skip >= b.len() {
                    // Only a short last package can be shorter than the skip: bytes that
                    // are not what the metadata describes.
                    return Err(ObjectError::Sse(SseError::Tampered));
                }
                b.advance(self.skip);
                self.skip = 0;
                if b.len() as u64 > self.left {
                    b.truncate(self.left as usize);
                }
                self.left -= b.len() as u64;
                if !b.is_empty() {
                    return Ok(b);
                }
            }
            match self.inner.next().await {
                Some(Ok(chunk)) => self.take_chunk(chunk)?,
                Some(Err(e)) => return Err(e),
                None if self.carry.is_empty() => {
                    // The stored bytes ended before the range did.
                    return Err(ObjectError::Sse(SseError::Tampered));
                }
                None => {
                    // The short last package.
                    let carry = std::mem::take(&mut self.carry);
                    self.open_carry(carry)?;
                }
            }
        }
    }

    /// Opens every package `chunk` completes; keeps the start of one it leaves open.
    fn take_chunk(&mut self, mut chunk: Bytes) -> Result<(), ObjectError> {
        if !self.carry.is_empty() {
            let n = (STORED_PACKAGE - self.carry.len()).min(chunk.len());
            self.carry.extend_from_slice(&chunk[..n]);
            chunk.advance(n);
            if self.carry.len() < STORED_PACKAGE {
                return Ok(());
            }
            let carry = std::mem::take(&mut self.carry);
            self.open_carry(carry)?;
        }
        let whole = chunk.len() / STORED_PACKAGE * STORED_PACKAGE;
        if whole == 0 {
            self.carry.extend_from_slice(&chunk);
            return Ok(());
        }
        // The store hands over chunks it no longer holds: taking one as mutable is free.
        let mut buf = chunk.try_into_mut().unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        let rest = buf.split_off(whole);
        self.carry.extend_from_slice(&rest);
        let packages = whole / STORED_PACKAGE;
        for i in 0..packages {
            // Package i is stored at i * STORED_PACKAGE; its plaintext goes to i * PACKAGE.
            let (to, from) = (i * PACKAGE, i * STORED_PACKAGE);
            let n = self.key.open_shifted(self.index, &mut buf[to..from + STORED_PACKAGE], from - to);
            n.ok_or(ObjectError::Sse(SseError::Tampered))?;
            self.index += 1;
        }
        buf.truncate(packages * PACKAGE);
        self.ready.push_back(buf.freeze());
        Ok(())
    }

    /// Opens the next package, gathered in `carry`.
    fn open_carry(&mut self, mut carry: Vec<u8>) -> Result<(), ObjectError> {
        let n = self.key.open(self.index, &mut carry).ok_or(ObjectError::Sse(SseError::Tampered))?;
        self.index += 1;
        carry.truncate(n);
        self.ready.push_back(Bytes::from(carry));
        Ok(())
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
