//! Content digests computed while the body streams through: the MD5 that is the
//! ETag, and the optional `x-amz-checksum-*` algorithms a client asks for.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use md5::{Digest, Md5};
use s3s::{S3Error, S3Result, s3_error};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Sha1,
    Sha256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 4] = [Self::Crc32, Self::Crc32c, Self::Sha1, Self::Sha256];

    /// The name S3 uses in `x-amz-checksum-algorithm` and that the metadata stores.
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    pub fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    pub fn parse(name: &str) -> S3Result<Self> {
        match name.to_ascii_uppercase().as_str() {
            "CRC32" => Ok(Self::Crc32),
            "CRC32C" => Ok(Self::Crc32c),
            "SHA1" => Ok(Self::Sha1),
            "SHA256" => Ok(Self::Sha256),
            other => Err(s3_error!(InvalidRequest, "Checksum algorithm {other} is not supported by this server")),
        }
    }

    pub fn from_header(header: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.header().eq_ignore_ascii_case(header))
    }
}

enum State {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl State {
    fn new(alg: Algorithm) -> Self {
        match alg {
            Algorithm::Crc32 => Self::Crc32(crc32fast::Hasher::new()),
            Algorithm::Crc32c => Self::Crc32c(0),
            Algorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            Algorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc32(h) => h.update(data),
            Self::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
        }
    }

    fn finish(self) -> String {
        match self {
            Self::Crc32(h) => B64.encode(h.finalize().to_be_bytes()),
            Self::Crc32c(c) => B64.encode(c.to_be_bytes()),
            Self::Sha1(h) => B64.encode(h.finalize()),
            Self::Sha256(h) => B64.encode(h.finalize()),
        }
    }
}

/// Hashes a body once for every digest the request needs.
pub struct BodyHasher {
    md5: Md5,
    extra: Vec<(Algorithm, State)>,
}

impl BodyHasher {
    pub fn new(algorithms: &[Algorithm]) -> Self {
        let mut extra: Vec<(Algorithm, State)> = Vec::new();
        for &a in algorithms {
            if !extra.iter().any(|(b, _)| *b == a) {
                extra.push((a, State::new(a)));
            }
        }
        Self { md5: Md5::new(), extra }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        for (_, s) in &mut self.extra {
            s.update(data);
        }
    }

    pub fn finish(self) -> Digests {
        Digests {
            md5: self.md5.finalize().into(),
            checksums: self.extra.into_iter().map(|(a, s)| (a, s.finish())).collect(),
        }
    }
}

pub struct Digests {
    pub md5: [u8; 16],
    pub checksums: BTreeMap<Algorithm, String>,
}

impl Digests {
    pub fn etag(&self) -> String {
        hex::encode(self.md5)
    }

    /// Compares against what the client declared; any mismatch is BadDigest and
    /// the object must not be committed.
    pub fn verify(&self, content_md5: Option<&str>, declared: &BTreeMap<Algorithm, String>) -> S3Result<()> {
        if let Some(want) = content_md5 {
            let want = B64
                .decode(want.trim())
                .map_err(|_| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid base64."))?;
            if want.len() != 16 {
                return Err(s3_error!(InvalidDigest, "The Content-MD5 you specified was invalid."));
            }
            if want != self.md5 {
                return Err(s3_error!(BadDigest, "The Content-MD5 you specified did not match what we received."));
            }
        }
        for (alg, want) in declared {
            let got = self.checksums.get(alg).ok_or_else(|| S3Error::internal_error(ChecksumNotComputed(*alg)))?;
            if got.trim() != want.trim() {
                return Err(s3_error!(
                    BadDigest,
                    "The {} you specified did not match the calculated checksum.",
                    alg.name()
                ));
            }
        }
        Ok(())
    }

    pub fn stored(&self) -> BTreeMap<String, String> {
        self.checksums.iter().map(|(a, v)| (a.name().to_string(), v.clone())).collect()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("checksum {0:?} was declared but not computed")]
struct ChecksumNotComputed(Algorithm);

/// The checksums a PUT asks for: values in `x-amz-checksum-*` headers, an
/// algorithm named by `x-amz-sdk-checksum-algorithm`, and trailer checksums
/// announced in `x-amz-trailer` (their values arrive after the body).
pub struct ChecksumRequest {
    pub algorithms: Vec<Algorithm>,
    pub declared: BTreeMap<Algorithm, String>,
    pub trailer: Option<Algorithm>,
}

impl ChecksumRequest {
    pub fn from_headers(headers: &http::HeaderMap) -> S3Result<Self> {
        let mut algorithms = Vec::new();
        let mut declared = BTreeMap::new();
        for alg in Algorithm::ALL {
            if let Some(v) = headers.get(alg.header()) {
                let v = v.to_str().map_err(|_| s3_error!(InvalidArgument, "invalid {} header", alg.header()))?;
                algorithms.push(alg);
                declared.insert(alg, v.to_string());
            }
        }
        if headers.contains_key("x-amz-checksum-crc64nvme") {
            return Err(s3_error!(InvalidRequest, "Checksum algorithm CRC64NVME is not supported by this server"));
        }
        for name in ["x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm"] {
            if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
                algorithms.push(Algorithm::parse(v)?);
            }
        }
        let mut trailer = None;
        if let Some(t) = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
            let t = t.trim();
            match Algorithm::from_header(t) {
                Some(a) => {
                    algorithms.push(a);
                    trailer = Some(a);
                }
                None if t.eq_ignore_ascii_case("x-amz-checksum-crc64nvme") => {
                    return Err(s3_error!(
                        InvalidRequest,
                        "Checksum algorithm CRC64NVME is not supported by this server"
                    ));
                }
                None => {}
            }
        }
        Ok(Self { algorithms, declared, trailer })
    }
}

/// Every s3s output that carries checksums names the four fields alike.
macro_rules! set_checksum_fields {
    ($out:expr, $stored:expr) => {
        for (name, value) in $stored {
            match Algorithm::parse(name) {
                Ok(Algorithm::Crc32) => $out.checksum_crc32 = Some(value.clone()),
                Ok(Algorithm::Crc32c) => $out.checksum_crc32c = Some(value.clone()),
                Ok(Algorithm::Sha1) => $out.checksum_sha1 = Some(value.clone()),
                Ok(Algorithm::Sha256) => $out.checksum_sha256 = Some(value.clone()),
                Err(_) => {}
            }
        }
    };
}
pub(crate) use set_checksum_fields;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let mut h = BodyHasher::new(&Algorithm::ALL);
        h.update(b"hello ");
        h.update(b"world");
        let d = h.finish();
        assert_eq!(d.etag(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert_eq!(d.checksums[&Algorithm::Crc32], "DUoRhQ==");
        assert_eq!(d.checksums[&Algorithm::Sha256], "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=");
        assert_eq!(d.checksums[&Algorithm::Sha1], "Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
        let ok: BTreeMap<_, _> = [(Algorithm::Crc32, "DUoRhQ==".to_string())].into();
        assert!(d.verify(Some("XrY7u+Ae7tCTyyK7j1rNww=="), &ok).is_ok());
        let bad: BTreeMap<_, _> = [(Algorithm::Crc32, "AAAAAA==".to_string())].into();
        assert_eq!(*d.verify(None, &bad).unwrap_err().code(), s3s::S3ErrorCode::BadDigest);
        assert_eq!(*d.verify(Some("AAAAAAAAAAAAAAAAAAAAAA=="), &ok).unwrap_err().code(), s3s::S3ErrorCode::BadDigest);
    }
}
