//! ListObjects (v1, v2) over the metadata's ordered range scan, plus the encodings
//! S3 applies to keys and tokens in listings (ListObjectVersions is `versioning.rs`).

use crate::access::Owners;
use crate::errors;
use crate::s3::service::CairnS3;
use crate::s3::storage_class::Classes;
use crate::timefmt::to_timestamp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use cairn_raft::schema::{ListPage, ObjectVersion};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::{self, *};
use s3s::{S3Request, S3Response, S3Result, s3_error};

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
pub fn object_entry(
    enc: &Encoder,
    key: &str,
    v: &ObjectVersion,
    owner: Option<dto::Owner>,
    class: String,
) -> dto::Object {
    dto::Object {
        e_tag: Some(dto::ETag::Strong(v.etag.clone())),
        key: Some(enc.encode(key)),
        last_modified: Some(to_timestamp(v.last_modified)),
        owner,
        size: Some(v.size as i64),
        storage_class: Some(dto::ObjectStorageClass::from(class)),
        checksum_algorithm: checksum_algorithms(v),
        ..Default::default()
    }
}

fn checksum_algorithms(v: &ObjectVersion) -> Option<Vec<dto::ChecksumAlgorithm>> {
    (!v.checksums.is_empty()).then(|| v.checksums.keys().map(|k| dto::ChecksumAlgorithm::from(k.clone())).collect())
}

pub fn version_entry(
    enc: &Encoder,
    key: &str,
    v: &ObjectVersion,
    owner: dto::Owner,
    class: String,
) -> dto::ObjectVersion {
    dto::ObjectVersion {
        e_tag: Some(dto::ETag::Strong(v.etag.clone())),
        is_latest: Some(true),
        key: Some(enc.encode(key)),
        last_modified: Some(to_timestamp(v.last_modified)),
        owner: Some(owner),
        size: Some(v.size as i64),
        storage_class: Some(dto::ObjectVersionStorageClass::from(class)),
        version_id: Some(v.version_id.clone().unwrap_or_else(|| "null".to_string())),
        checksum_algorithm: checksum_algorithms(v),
        ..Default::default()
    }
}

pub fn common_prefixes(enc: &Encoder, page: &ListPage) -> Option<Vec<dto::CommonPrefix>> {
    (!page.common_prefixes.is_empty())
        .then(|| page.common_prefixes.iter().map(|p| dto::CommonPrefix { prefix: Some(enc.encode(p)) }).collect())
}

impl CairnS3 {
    /// The ordered range scan behind every listing, with S3's parameter rules.
    /// A listing page, as of the read barrier the authorizer ran for this request.
    async fn scan(&self, req: ScanRequest<'_>) -> S3Result<Scan> {
        self.require_bucket(req.bucket).await?;
        let enc = Encoder::new(req.encoding_type)?;
        let max = max_keys(req.max_keys)?;
        let prefix = req.prefix.unwrap_or_default().to_string();
        // An empty delimiter or marker means none, as in S3.
        let delimiter = req.delimiter.filter(|d| !d.is_empty()).map(str::to_string);
        let after = req.after.filter(|a| !a.is_empty());
        let page = self
            .store
            .meta
            .list_objects(req.bucket, &prefix, delimiter.as_deref(), after, max)
            .map_err(errors::meta)?;
        Ok(Scan { enc, max, prefix, delimiter, page })
    }

    pub(crate) async fn list_objects_v2_impl(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let after = match &input.continuation_token {
            Some(t) => Some(decode_token(t)?),
            None => input.start_after.clone().filter(|s| !s.is_empty()),
        };
        let Scan { enc, max, prefix, delimiter, page } = self
            .scan(ScanRequest {
                bucket: &input.bucket,
                encoding_type: input.encoding_type.as_ref(),
                max_keys: input.max_keys,
                prefix: input.prefix.as_deref(),
                delimiter: input.delimiter.as_deref(),
                after: after.as_deref(),
            })
            .await?;
        let delimiter = delimiter.as_deref();
        let fetch_owner = input.fetch_owner.unwrap_or(false);
        let mut owners = Owners::new(&self.store.meta);
        let classes = Classes::load(&self.store);
        let contents: Vec<Object> = page
            .objects
            .iter()
            .map(|(k, v)| object_entry(&enc, k, v, fetch_owner.then(|| owners.get(&v.owner)), classes.of(&v.data)))
            .collect();
        let key_count = (page.objects.len() + page.common_prefixes.len()) as i32;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(enc.encode(&prefix)),
            max_keys: Some(max as i32),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            is_truncated: Some(page.is_truncated),
            next_continuation_token: page.is_truncated.then(|| page.next_marker.as_deref().map(encode_token)).flatten(),
            common_prefixes: common_prefixes(&enc, &page),
            contents: (!contents.is_empty()).then_some(contents),
            delimiter: enc.encode_opt(delimiter),
            encoding_type: input.encoding_type,
            start_after: enc.encode_opt(input.start_after.as_deref()),
            request_charged: None,
        }))
    }

    pub(crate) async fn list_objects_impl(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let Scan { enc, max, prefix, delimiter, page } = self
            .scan(ScanRequest {
                bucket: &input.bucket,
                encoding_type: input.encoding_type.as_ref(),
                max_keys: input.max_keys,
                prefix: input.prefix.as_deref(),
                delimiter: input.delimiter.as_deref(),
                after: input.marker.as_deref(),
            })
            .await?;
        let delimiter = delimiter.as_deref();
        let mut owners = Owners::new(&self.store.meta);
        let classes = Classes::load(&self.store);
        let contents: Vec<Object> = page
            .objects
            .iter()
            .map(|(k, v)| object_entry(&enc, k, v, Some(owners.get(&v.owner)), classes.of(&v.data)))
            .collect();
        // v1 returns NextMarker only when a delimiter is given; clients use the
        // last key otherwise.
        let next_marker =
            (page.is_truncated && delimiter.is_some()).then(|| enc.encode_opt(page.next_marker.as_deref())).flatten();
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(enc.encode(&prefix)),
            marker: Some(enc.encode(input.marker.as_deref().unwrap_or(""))),
            max_keys: Some(max as i32),
            is_truncated: Some(page.is_truncated),
            common_prefixes: common_prefixes(&enc, &page),
            contents: (!contents.is_empty()).then_some(contents),
            delimiter: enc.encode_opt(delimiter),
            next_marker,
            encoding_type: input.encoding_type,
            request_charged: None,
        }))
    }
}

struct ScanRequest<'a> {
    bucket: &'a str,
    encoding_type: Option<&'a EncodingType>,
    max_keys: Option<i32>,
    prefix: Option<&'a str>,
    delimiter: Option<&'a str>,
    after: Option<&'a str>,
}

struct Scan {
    enc: Encoder,
    max: usize,
    prefix: String,
    delimiter: Option<String>,
    page: cairn_raft::schema::ListPage,
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
