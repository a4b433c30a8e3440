//! ListObjects (v1, v2) and ListObjectVersions over the metadata's ordered range
//! scan, plus the encodings S3 applies to keys and tokens in listings.

use crate::timefmt::to_timestamp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use cairn_raft::schema::{ListPage, ObjectVersion};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto;
use s3s::{S3Result, s3_error};

pub const DEFAULT_MAX_KEYS: i32 = 1000;

/// `encoding-type=url`: keys are percent-encoded except unreserved characters and
/// `/`, with spaces as `+`, so that form-decoding clients get the key back.
const KEY_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

pub fn url_encode(s: &str) -> String {
    utf8_percent_encode(s, KEY_ESCAPE).to_string().replace("%20", "+")
}

pub struct Encoder {
    url: bool,
}

impl Encoder {
    pub fn new(encoding_type: Option<&dto::EncodingType>) -> S3Result<Self> {
        match encoding_type.map(|e| e.as_str()) {
            None => Ok(Self { url: false }),
            Some(e) if e.eq_ignore_ascii_case("url") => Ok(Self { url: true }),
            Some(e) => Err(s3_error!(InvalidArgument, "Invalid Encoding Method specified in Request: {e}")),
        }
    }

    pub fn encode(&self, s: &str) -> String {
        if self.url { url_encode(s) } else { s.to_string() }
    }

    pub fn encode_opt(&self, s: Option<&str>) -> Option<String> {
        s.map(|s| self.encode(s))
    }
}

pub fn max_keys(requested: Option<i32>) -> S3Result<usize> {
    match requested {
        None => Ok(DEFAULT_MAX_KEYS as usize),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys must be a non-negative integer")),
        Some(n) => Ok(n.min(DEFAULT_MAX_KEYS) as usize),
    }
}

/// Continuation tokens are opaque to clients; ours carry the last key returned.
pub fn encode_token(marker: &str) -> String {
    B64.encode(marker.as_bytes())
}

pub fn decode_token(token: &str) -> S3Result<String> {
    B64.decode(token.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| s3_error!(InvalidArgument, "The continuation token provided is incorrect"))
}

/// An object in a listing; `owner` when the listing shows owners.
pub fn object_entry(enc: &Encoder, key: &str, v: &ObjectVersion, owner: Option<dto::Owner>) -> dto::Object {
    dto::Object {
        e_tag: Some(dto::ETag::Strong(v.etag.clone())),
        key: Some(enc.encode(key)),
        last_modified: Some(to_timestamp(v.last_modified)),
        owner,
        size: Some(v.size as i64),
        storage_class: Some(dto::ObjectStorageClass::from_static(dto::ObjectStorageClass::STANDARD)),
        checksum_algorithm: checksum_algorithms(v),
        ..Default::default()
    }
}

fn checksum_algorithms(v: &ObjectVersion) -> Option<Vec<dto::ChecksumAlgorithm>> {
    (!v.checksums.is_empty()).then(|| v.checksums.keys().map(|k| dto::ChecksumAlgorithm::from(k.clone())).collect())
}

pub fn version_entry(enc: &Encoder, key: &str, v: &ObjectVersion, owner: dto::Owner) -> dto::ObjectVersion {
    dto::ObjectVersion {
        e_tag: Some(dto::ETag::Strong(v.etag.clone())),
        is_latest: Some(true),
        key: Some(enc.encode(key)),
        last_modified: Some(to_timestamp(v.last_modified)),
        owner: Some(owner),
        size: Some(v.size as i64),
        storage_class: Some(dto::ObjectVersionStorageClass::from_static(dto::ObjectVersionStorageClass::STANDARD)),
        version_id: Some(v.version_id.clone().unwrap_or_else(|| "null".to_string())),
        checksum_algorithm: checksum_algorithms(v),
        ..Default::default()
    }
}

pub fn common_prefixes(enc: &Encoder, page: &ListPage) -> Option<Vec<dto::CommonPrefix>> {
    (!page.common_prefixes.is_empty())
        .then(|| page.common_prefixes.iter().map(|p| dto::CommonPrefix { prefix: Some(enc.encode(p)) }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding() {
        assert_eq!(url_encode("a b/c+d%e"), "a+b/c%2Bd%25e");
        assert_eq!(url_encode("ü"), "%C3%BC");
        assert_eq!(url_encode("x-y_z.~"), "x-y_z.~");
    }

    #[test]
    fn tokens_round_trip() {
        for k in ["", "a/b", "ü ../x", "%2F"] {
            assert_eq!(decode_token(&encode_token(k)).unwrap(), k);
        }
        assert!(decode_token("***").is_err());
    }
}
