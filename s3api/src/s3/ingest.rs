//! A request body streamed to storage: the decoded length it announces, the
//! errors s3s reports on it, and every digest the client declared, checked before
//! anything is committed. PutObject and UploadPart share it.

use crate::s3::checksum::{Algorithm, BodyHasher, ChecksumRequest};
use crate::s3::service::CairnS3;
use crate::store::{ByteStream, WrittenBlob};
use cairn_raft::schema::ObjectData;
use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

/// S3's limit for a single PUT (and a copy source).
pub(crate) const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

pub(crate) fn body_stream(body: Option<StreamingBlob>) -> ByteStream {
    match body {
        None => Box::pin(futures::stream::empty()),
        Some(b) => Box::pin(b.map(|r| r.map_err(body_error))),
    }
}

/// s3s reports payload-hash and chunk-signature failures through private error
/// types, so their messages are the only handle on which failure it was.
fn body_error(e: s3s::StdError) -> S3Error {
    match e.downcast::<S3Error>() {
        Ok(s3) => *s3,
        Err(other) => {
            let msg = other.to_string();
            if msg.contains("SignatureMismatch") {
                s3_error!(
                    SignatureDoesNotMatch,
                    "The request signature we calculated does not match the signature you provided."
                )
            } else if msg.contains("Sha256Mismatch") {
                let mut e = S3Error::with_message(
                    S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                );
                e.set_status_code(http::StatusCode::BAD_REQUEST);
                e
            } else {
                S3Error::with_message(S3ErrorCode::IncompleteBody, msg)
            }
        }
    }
}

/// The decoded body length: aws-chunked bodies announce it separately from the
/// Content-Length of the encoded stream.
pub(crate) fn expected_length(headers: &http::HeaderMap, content_length: Option<i64>) -> S3Result<Option<u64>> {
    if let Some(v) = headers.get("x-amz-decoded-content-length") {
        let n = v
            .to_str()
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| s3_error!(InvalidArgument, "invalid x-amz-decoded-content-length"))?;
        return Ok(Some(n));
    }
    let streaming =
        headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("STREAMING-"));
    Ok(if streaming { None } else { content_length.and_then(|n| u64::try_from(n).ok()) })
}

/// Only the shard-backed part of a version needs cleaning up; inline bytes go
/// away with the record.
pub(crate) fn shards_of(data: &ObjectData) -> Option<ObjectData> {
    (!matches!(data, ObjectData::Inline(_))).then(|| data.clone())
}

pub(crate) struct Ingest<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub headers: &'a http::HeaderMap,
    pub trailing_headers: Option<&'a s3s::TrailingHeaders>,
    pub body: Option<StreamingBlob>,
    pub content_length: Option<i64>,
    pub content_md5: Option<&'a str>,
    /// A checksum to compute even if the request did not declare it (the
    /// algorithm a multipart upload was created with).
    pub also_compute: Option<Algorithm>,
}

impl CairnS3 {
    /// Streams a request body to storage and verifies every digest the client
    /// declared (Content-MD5, `x-amz-checksum-*` headers or trailer). A body that
    /// fails verification leaves nothing behind.
    pub(crate) async fn ingest(&self, req: Ingest<'_>) -> S3Result<WrittenBlob> {
        let ck = ChecksumRequest::from_headers(req.headers)?;
        let expected = expected_length(req.headers, req.content_length)?;
        if expected.is_some_and(|n| n > MAX_PUT_SIZE) {
            return Err(s3_error!(EntityTooLarge, "Your proposed upload exceeds the maximum allowed object size."));
        }
        let mut algorithms = ck.algorithms.clone();
        algorithms.extend(req.also_compute);
        let blob = self
            .store
            .write_blob(req.bucket, req.key, body_stream(req.body), BodyHasher::new(&algorithms), expected)
            .await?;
        let mut declared = ck.declared;
        if let Some(alg) = ck.trailer {
            let value = req
                .trailing_headers
                .and_then(|t| t.read(|h| h.get(alg.header()).and_then(|v| v.to_str().ok()).map(str::to_string)))
                .flatten();
            match value {
                Some(v) => {
                    declared.insert(alg, v);
                }
                None => {
                    self.discard_blob(&blob.data);
                    return Err(s3_error!(InvalidRequest, "The trailing checksum {} was not sent", alg.header()));
                }
            }
        }
        if let Err(e) = blob.digests.verify(req.content_md5, &declared) {
            self.discard_blob(&blob.data);
            return Err(e);
        }
        Ok(blob)
    }

    pub(crate) fn discard_blob(&self, data: &ObjectData) {
        if let Some(d) = shards_of(data) {
            self.store.discard(d);
        }
    }
}
