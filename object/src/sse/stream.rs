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
    pkg: Vec<u8>,
}

impl Decrypt {
    /// `inner` yields stored packages from package `first` on; the answer is `take`
    /// plaintext bytes starting `skip` bytes into that package.
    pub fn stream(inner: DataStream, key: PackageKey, first: u64, skip: usize, take: u64) -> DataStream {
        let st = Decrypt {
            inner,
            key,
            index: first,
            skip,
            left: take,
            pending: Bytes::new(),
            pkg: Vec::with_capacity(STORED_PACKAGE),
        };
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
        while self.pkg.len() < STORED_PACKAGE {
            if self.pending.is_empty() {
                match self.inner.next().await {
                    Some(Ok(b)) => self.pending = b,
                    Some(Err(e)) => return Err(e),
                    None => break,
                }
            }
            let n = (STORED_PACKAGE - self.pkg.len()).min(self.pending.len());
            self.pkg.extend_from_slice(&self.pending[..n]);
            self.pending.advance(n);
        }
        let mut pkg = std::mem::replace(&mut self.pkg, Vec::with_capacity(STORED_PACKAGE));
        let n = self.key.open(self.index, &mut pkg).ok_or(ObjectError::Sse(SseError::Tampered))?;
        self.index += 1;
        pkg.truncate(n);
        let mut b = Bytes::from(pkg);
        if self.skip > b.len() {
            return Err(ObjectError::Sse(SseError::Tampered));
        }
        b.advance(self.skip);
        self.skip = 0;
        if b.len() as u64 > self.left {
            b.truncate(self.left as usize);
        }
        self.left -= b.len() as u64;
        Ok(b)
    }
}
