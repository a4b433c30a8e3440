//! A request body streamed to storage: the decoded length it announces, the
//! errors s3s reports on it, and every digest the client declared, checked before
//! anything is committed. PutObject and UploadPart share it.

use crate::errors;
use crate::s3::checksum::{Algorithm, BodyHasher, ChecksumRequest, Digests};
use crate::s3::service::CairnS3;
use cairn_object::sse::SseRequest;
use cairn_object::{DataStream, ObjectError};
use cairn_raft::schema::ObjectData;
use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

/// S3's limit for a single PUT (and a copy source).
pub(crate) const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// A body that has been durably written but not yet committed, and its digests.
pub(crate) struct WrittenBlob {
    pub data: ObjectData,
    pub size: u64,
    pub digests: Digests,
}

/// The request body as the object layer reads it; its errors come back unchanged
/// (see `errors::object`).
pub(crate) fn body_stream(body: Option<StreamingBlob>) -> DataStream {
    match body {
        None => Box::pin(futures::stream::empty()),
        Some(b) => Box::pin(b.map(|r| r.map_err(|e| ObjectError::Body(Box::new(body_error(e)))))),
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

/// Checks `digests` of a body against every digest the client declared: Content-MD5,
/// `x-amz-checksum-*` headers, or the trailer `ck` names (which must have come).
pub(crate) fn verify_declared(
    digests: &Digests,
    ck: ChecksumRequest,
    trailing_headers: Option<&s3s::TrailingHeaders>,
    content_md5: Option<&str>,
) -> S3Result<()> {
    let mut declared = ck.declared;
    if let Some(alg) = ck.trailer {
        let value = trailing_headers
            .and_then(|t| t.read(|h| h.get(alg.header()).and_then(|v| v.to_str().ok()).map(str::to_string)))
            .flatten()
            .ok_or_else(|| s3_error!(InvalidRequest, "The trailing checksum {} was not sent", alg.header()))?;
        declared.insert(alg, value);
    }
    digests.verify(content_md5, &declared)
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
    /// How to encrypt the body at rest (`s3/sse.rs`).
    pub sse: Option<&'a SseRequest>,
    /// The storage class to write it in (`s3/storage_class.rs`).
    pub class: &'a str,
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
            .write_hashed(req.bucket, req.key, body_stream(req.body), &algorithms, expected, req.sse, req.class)
            .await?;
        if let Err(e) = verify_declared(&blob.digests, ck, req.trailing_headers, req.content_md5) {
            self.discard_blob(&blob.data);
            return Err(e);
        }
        Ok(blob)
    }

    /// Writes `body` through the object layer, encrypted as `sse` asks, computing
    /// the ETag's MD5 and the `algorithms` checksums of the plaintext on the way, in
    /// storage class `class`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn write_hashed(
        &self,
        bucket: &str,
        key: &str,
        body: DataStream,
        algorithms: &[Algorithm],
        expected: Option<u64>,
        sse: Option<&SseRequest>,
        class: &str,
    ) -> S3Result<WrittenBlob> {
        let mut hasher = BodyHasher::new(algorithms);
        let written = self
            .store
            .write_data_sse(bucket, key, body, &mut |chunk| hasher.update(chunk), expected, sse, class)
            .await
            .map_err(errors::object)?;
        Ok(WrittenBlob { data: written.data, size: written.size, digests: hasher.finish() })
    }

    pub(crate) fn discard_blob(&self, data: &ObjectData) {
        self.store.discard_data(data);
    }
}
