//! Object operations: PUT, GET, HEAD, DELETE (single and batch) and COPY.

mod first_stripe;

use crate::access::{self, acl};
use crate::bucket_ops::unexpected;
use crate::checksum::{Algorithm, BodyHasher, ChecksumRequest};
use crate::errors;
use crate::preconditions::Conditions;
use crate::service::{CairnS3, authorized_copy_source, caller};
use crate::store::{ByteStream, WrittenBlob};
use crate::timefmt::{format_http_date, now, parse_http_date, to_timestamp};
use cairn_raft::schema::{Command, CommandResult, ObjectData, ObjectVersion, PartRef, WriteCondition};
use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use std::collections::BTreeMap;

/// S3's limit for a single PUT (and a copy source).
pub(crate) const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

pub(crate) fn body_stream(body: Option<StreamingBlob>) -> ByteStream {
    match body {
        None => Box::pin(futures::stream::empty()),
        Some(b) => Box::pin(b.map(|r| r.map_err(body_error))),
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

pub(crate) fn write_condition(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<Option<WriteCondition>> {
    match (if_match, if_none_match) {
        (Some(_), Some(_)) => {
            Err(s3_error!(NotImplemented, "If-Match and If-None-Match together are not supported on writes"))
        }
        (None, Some(c)) if c.is_any() => Ok(Some(WriteCondition::IfNoneMatchAny)),
        (None, Some(_)) => Err(s3_error!(NotImplemented, "If-None-Match on writes supports only *")),
        (Some(c), None) if c.is_any() => Ok(Some(WriteCondition::IfMatch("*".into()))),
        (Some(c), None) => match c.as_etag() {
            Some(e) => Ok(Some(WriteCondition::IfMatch(e.value().to_string()))),
            None => Err(s3_error!(InvalidArgument, "invalid If-Match header")),
        },
        (None, None) => Ok(None),
    }
}

/// `aws-chunked` describes how the request body was framed, not the object:
/// S3 drops it from the stored Content-Encoding and keeps any real coding.
pub(crate) fn stored_content_encoding(ce: Option<String>) -> Option<String> {
    let ce = ce?;
    let kept: Vec<&str> =
        ce.split(',').map(str::trim).filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked")).collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

pub(crate) fn content_type_string(ct: Option<&ContentType>) -> Option<String> {
    ct.map(|m| m.to_string())
}

pub(crate) fn user_metadata(m: Option<Metadata>) -> BTreeMap<String, String> {
    m.unwrap_or_default().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect()
}

pub(crate) fn check_version_id(version_id: Option<&str>) -> S3Result<()> {
    match version_id {
        None | Some("null") => Ok(()),
        Some(_) => Err(s3_error!(InvalidArgument, "Invalid version id specified")),
    }
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

struct ReadRequest<'a> {
    version_id: Option<&'a str>,
    conditions: Conditions<'a>,
    range: Option<&'a Range>,
    part_number: Option<i32>,
    checksum_mode: bool,
}

struct PreparedRead {
    obj: ObjectVersion,
    range: std::ops::Range<u64>,
    content_range: Option<String>,
    parts_count: Option<i32>,
    headers: Headers,
}

fn checksum_mode(mode: Option<&ChecksumMode>) -> bool {
    mode.is_some_and(|m| m.as_str() == ChecksumMode::ENABLED)
}

/// GetObjectOutput and HeadObjectOutput carry the same object headers, and the
/// request's `response-*` overrides apply to both.
macro_rules! fill_read_headers {
    ($out:expr, $input:expr, $h:expr, $obj:expr, $range:expr, $content_range:expr) => {
        $out.accept_ranges = Some("bytes".into());
        $out.cache_control = $input.response_cache_control.or($h.cache_control);
        $out.content_disposition = $input.response_content_disposition.or($h.content_disposition);
        $out.content_encoding = $input.response_content_encoding.or($h.content_encoding);
        $out.content_language = $input.response_content_language.or($h.content_language);
        $out.content_length = Some(($range.end - $range.start) as i64);
        $out.content_range = $content_range;
        $out.content_type = $input.response_content_type.or($h.content_type);
        $out.e_tag = Some(ETag::Strong($obj.etag.clone()));
        $out.expires = $input.response_expires.or($h.expires);
        $out.last_modified = Some(to_timestamp($obj.last_modified));
        $out.metadata = $h.metadata;
        set_checksum_fields!($out, &$h.checksums);
        if let Some(v) = $h.checksums.values().next() {
            // A multipart object's checksum is a checksum of part checksums.
            let kind = if v.contains('-') { ChecksumType::COMPOSITE } else { ChecksumType::FULL_OBJECT };
            $out.checksum_type = Some(ChecksumType::from_static(kind));
        }
    };
}

struct Headers {
    cache_control: Option<String>,
    content_disposition: Option<String>,
    content_encoding: Option<String>,
    content_language: Option<String>,
    content_type: Option<ContentType>,
    expires: Option<Timestamp>,
    metadata: Option<Metadata>,
    checksums: BTreeMap<String, String>,
}

fn stored_headers(obj: &ObjectVersion, with_checksums: bool) -> Headers {
    Headers {
        cache_control: obj.cache_control.clone(),
        content_disposition: obj.content_disposition.clone(),
        content_encoding: obj.content_encoding.clone(),
        content_language: obj.content_language.clone(),
        content_type: obj.content_type.as_deref().or(Some("binary/octet-stream")).and_then(|s| s.parse().ok()),
        expires: obj.expires.as_deref().and_then(parse_http_date),
        metadata: (!obj.user_meta.is_empty()).then(|| obj.user_meta.clone().into_iter().collect()),
        checksums: if with_checksums { obj.checksums.clone() } else { BTreeMap::new() },
    }
}

impl CairnS3 {
    /// Callers that must see the latest write run a read barrier first.
    pub(crate) async fn current_object(&self, bucket: &str, key: &str) -> S3Result<ObjectVersion> {
        match self.store.meta.get_object(bucket, key).map_err(errors::meta)? {
            Some(o) => Ok(o),
            None => {
                self.require_bucket(bucket).await?;
                Err(s3_error!(NoSuchKey, "The specified key does not exist."))
            }
        }
    }

    /// Proposes the new version; the state machine decides the condition. Shards
    /// of a refused write, and of the version it replaced, are removed after.
    async fn commit_object(
        &self,
        bucket: String,
        key: String,
        version: ObjectVersion,
        condition: Option<WriteCondition>,
    ) -> S3Result<()> {
        let fresh = shards_of(&version.data);
        let cmd = Command::PutObject { bucket, key, version, condition };
        // On a Raft error the outcome is unknown: the new shards stay for the
        // orphan collector rather than risk a committed record without bytes.
        let result = self.store.meta.propose(cmd).await.map_err(errors::meta)?;
        let refuse = |e: S3Error| {
            if let Some(d) = fresh.clone() {
                self.store.discard(d);
            }
            Err(e)
        };
        match result {
            CommandResult::Replaced(old) => {
                if let Some(d) = old.as_ref().and_then(|o| shards_of(&o.data)) {
                    self.store.discard(d);
                }
                Ok(())
            }
            CommandResult::PreconditionFailed => {
                refuse(s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold"))
            }
            CommandResult::NoSuchKey => refuse(s3_error!(NoSuchKey, "The specified key does not exist.")),
            CommandResult::NoSuchBucket => refuse(s3_error!(NoSuchBucket, "The specified bucket does not exist")),
            other => refuse(unexpected(other)),
        }
    }

    pub(crate) async fn put_object_impl(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let caller = caller(&req)?;
        let S3Request { input, headers, trailing_headers, .. } = req;
        let acl = acl::from_request(input.acl.as_ref().map(|a| a.as_str()), &headers)?;
        let bucket = self.require_bucket(&input.bucket).await?;
        let owner = caller.owner_or(&bucket.owner).to_string();
        let condition = write_condition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
        let blob = self
            .ingest(Ingest {
                bucket: &input.bucket,
                key: &input.key,
                headers: &headers,
                trailing_headers: trailing_headers.as_ref(),
                body: input.body,
                content_length: input.content_length,
                content_md5: input.content_md5.as_deref(),
                also_compute: None,
            })
            .await?;
        let etag = blob.digests.etag();
        let checksums = blob.digests.stored();
        let version = ObjectVersion {
            version_id: None,
            size: blob.size,
            etag: etag.clone(),
            last_modified: now(),
            content_type: content_type_string(input.content_type.as_ref()),
            content_encoding: stored_content_encoding(input.content_encoding),
            content_disposition: input.content_disposition,
            content_language: input.content_language,
            cache_control: input.cache_control,
            expires: input.expires.as_ref().map(format_http_date),
            user_meta: user_metadata(input.metadata),
            checksums: checksums.clone(),
            owner,
            data: blob.data,
            acl,
        };
        self.commit_object(input.bucket, input.key, version, condition).await?;
        let mut out = PutObjectOutput { e_tag: Some(ETag::Strong(etag)), ..Default::default() };
        set_checksum_fields!(out, &checksums);
        Ok(S3Response::new(out))
    }

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

    /// What GET and HEAD share: the version, its preconditions, the range to
    /// serve and the headers to answer with.
    /// The authorizer ran a read barrier for this request, so a write acknowledged
    /// by any node before it started is seen.
    async fn prepare_read(&self, bucket: &str, key: &str, read: ReadRequest<'_>) -> S3Result<PreparedRead> {
        check_version_id(read.version_id)?;
        let obj = self.current_object(bucket, key).await?;
        read.conditions.check_read(&obj)?;
        let (range, content_range, parts_count) = resolve_range(&obj, read.range, read.part_number)?;
        let whole = content_range.is_none() && parts_count.is_none();
        let headers = stored_headers(&obj, whole && read.checksum_mode);
        Ok(PreparedRead { obj, range, content_range, parts_count, headers })
    }

    pub(crate) async fn get_object_impl(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let PreparedRead { obj, range, content_range, parts_count, headers: h } = self
            .prepare_read(
                &input.bucket,
                &input.key,
                ReadRequest {
                    version_id: input.version_id.as_deref(),
                    conditions: Conditions {
                        if_match: input.if_match.as_ref(),
                        if_none_match: input.if_none_match.as_ref(),
                        if_modified_since: input.if_modified_since.as_ref(),
                        if_unmodified_since: input.if_unmodified_since.as_ref(),
                    },
                    range: input.range.as_ref(),
                    part_number: input.part_number,
                    checksum_mode: checksum_mode(input.checksum_mode.as_ref()),
                },
            )
            .await?;
        // Nothing is answered before the first stripe of the range has been read.
        let body = first_stripe::read_first(self.store.read_blob(&obj, range.start, range.end)?).await?;
        let mut out = GetObjectOutput {
            body: Some(StreamingBlob::wrap(sync_wrapper::SyncStream::new(body))),
            ..Default::default()
        };
        fill_read_headers!(out, input, h, obj, range, content_range);
        out.parts_count = parts_count;
        Ok(S3Response::new(out))
    }

    pub(crate) async fn head_object_impl(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let PreparedRead { obj, range, content_range, parts_count, headers: h } = self
            .prepare_read(
                &input.bucket,
                &input.key,
                ReadRequest {
                    version_id: input.version_id.as_deref(),
                    conditions: Conditions {
                        if_match: input.if_match.as_ref(),
                        if_none_match: input.if_none_match.as_ref(),
                        if_modified_since: input.if_modified_since.as_ref(),
                        if_unmodified_since: input.if_unmodified_since.as_ref(),
                    },
                    range: input.range.as_ref(),
                    part_number: input.part_number,
                    checksum_mode: checksum_mode(input.checksum_mode.as_ref()),
                },
            )
            .await?;
        let mut out = HeadObjectOutput::default();
        fill_read_headers!(out, input, h, obj, range, content_range);
        out.parts_count = parts_count;
        // s3s always serializes HeadObject as 200; the HTTP front turns a HEAD
        // answer carrying Content-Range into 206, as S3 does.
        Ok(S3Response::new(out))
    }

    async fn delete_one(&self, bucket: &str, key: &str) -> S3Result<()> {
        let cmd = Command::DeleteObject { bucket: bucket.to_string(), key: key.to_string() };
        match self.store.meta.propose(cmd).await.map_err(errors::meta)? {
            CommandResult::Replaced(old) => {
                if let Some(d) = old.as_ref().and_then(|o| shards_of(&o.data)) {
                    self.store.discard(d);
                }
                Ok(())
            }
            CommandResult::NoSuchBucket => Err(s3_error!(NoSuchBucket, "The specified bucket does not exist")),
            other => Err(unexpected(other)),
        }
    }

    pub(crate) async fn delete_object_impl(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        check_version_id(input.version_id.as_deref())?;
        if let Some(cond) = input.if_match.as_ref() {
            self.store.meta.read_barrier().await.map_err(errors::meta)?;
            let obj = self.current_object(&input.bucket, &input.key).await?;
            Conditions {
                if_match: Some(cond),
                if_none_match: None,
                if_modified_since: None,
                if_unmodified_since: None,
            }
            .check_copy_source(&obj)?;
        }
        self.delete_one(&input.bucket, &input.key).await?;
        Ok(S3Response::with_status(DeleteObjectOutput::default(), http::StatusCode::NO_CONTENT))
    }

    pub(crate) async fn delete_objects_impl(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let auth = access::authorized(&req)?.clone();
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let objects = input.delete.objects;
        if objects.len() > 1000 {
            return Err(s3_error!(MalformedXML, "A delete request may name at most 1000 keys"));
        }
        let quiet = input.delete.quiet.unwrap_or(false);
        let auth = &auth;
        let bucket = input.bucket.as_str();
        // Concurrent proposals share Raft log flushes; `buffered` keeps the order.
        let results: Vec<_> = futures::stream::iter(objects)
            .map(|o| async move {
                let allowed = check_version_id(o.version_id.as_deref())
                    .and_then(|()| self.access.authorize_delete(auth, bucket, &o.key));
                let result = match allowed {
                    Ok(()) => self.delete_one(bucket, &o.key).await,
                    Err(e) => Err(e),
                };
                (o, result)
            })
            .buffered(64)
            .collect()
            .await;
        let mut deleted = Vec::new();
        let mut failed = Vec::new();
        for (o, result) in results {
            match result {
                Ok(()) if quiet => {}
                Ok(()) => {
                    deleted.push(DeletedObject { key: Some(o.key), version_id: o.version_id, ..Default::default() })
                }
                Err(e) => failed.push(s3s::dto::Error {
                    code: Some(e.code().as_str().to_string()),
                    key: Some(o.key),
                    message: e.message().map(str::to_string),
                    version_id: o.version_id,
                }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: (!deleted.is_empty()).then_some(deleted),
            errors: (!failed.is_empty()).then_some(failed),
            request_charged: None,
        }))
    }

    /// The current version named by `x-amz-copy-source`, once its
    /// `x-amz-copy-source-if-*` conditions hold.
    pub(crate) async fn copy_source(
        &self,
        source: &CopySource,
        conditions: Conditions<'_>,
    ) -> S3Result<(String, String, ObjectVersion)> {
        let CopySource::Bucket { bucket, key, version_id } = source else {
            return Err(s3_error!(NotImplemented, "Access point copy sources are not supported"));
        };
        check_version_id(version_id.as_deref())?;
        self.store.meta.read_barrier().await.map_err(errors::meta)?;
        let src = self.current_object(bucket, key).await?;
        conditions.check_copy_source(&src)?;
        Ok((bucket.to_string(), key.to_string(), src))
    }

    pub(crate) async fn copy_object_impl(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let caller = caller(&req)?;
        let copy_source = authorized_copy_source(&req)?;
        let acl = acl::from_request(req.input.acl.as_ref().map(|a| a.as_str()), &req.headers)?;
        let input = req.input;
        let bucket = self.require_bucket(&input.bucket).await?;
        let owner = caller.owner_or(&bucket.owner).to_string();
        let (src_bucket, src_key, src) = self
            .copy_source(
                &copy_source,
                Conditions {
                    if_match: input.copy_source_if_match.as_ref(),
                    if_none_match: input.copy_source_if_none_match.as_ref(),
                    if_modified_since: input.copy_source_if_modified_since.as_ref(),
                    if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
                },
            )
            .await?;
        let replace = match input.metadata_directive.as_ref().map(|d| d.as_str()) {
            None | Some(MetadataDirective::COPY) => false,
            Some(MetadataDirective::REPLACE) => true,
            Some(other) => return Err(s3_error!(InvalidArgument, "Unknown metadata directive {other}")),
        };
        if src_bucket == input.bucket && src_key == input.key && !replace {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        if src.size > MAX_PUT_SIZE {
            return Err(s3_error!(
                InvalidRequest,
                "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_PUT_SIZE}"
            ));
        }
        let mut algorithms: Vec<Algorithm> = src.checksums.keys().filter_map(|k| Algorithm::parse(k).ok()).collect();
        if let Some(a) = input.checksum_algorithm.as_ref() {
            algorithms.push(Algorithm::parse(a.as_str())?);
        }
        let body = self.store.read_blob(&src, 0, src.size)?;
        let blob = self
            .store
            .write_blob(&input.bucket, &input.key, body, BodyHasher::new(&algorithms), Some(src.size))
            .await?;
        let etag = blob.digests.etag();
        let checksums = blob.digests.stored();
        let last_modified = now();
        let version = if replace {
            ObjectVersion {
                version_id: None,
                size: blob.size,
                etag: etag.clone(),
                last_modified,
                content_type: content_type_string(input.content_type.as_ref()),
                content_encoding: stored_content_encoding(input.content_encoding),
                content_disposition: input.content_disposition,
                content_language: input.content_language,
                cache_control: input.cache_control,
                expires: input.expires.as_ref().map(format_http_date),
                user_meta: user_metadata(input.metadata),
                checksums: checksums.clone(),
                owner,
                data: blob.data,
                acl,
            }
        } else {
            ObjectVersion {
                version_id: None,
                size: blob.size,
                etag: etag.clone(),
                last_modified,
                checksums: checksums.clone(),
                owner,
                data: blob.data,
                acl,
                ..src
            }
        };
        self.commit_object(input.bucket, input.key, version, None).await?;
        let mut result = CopyObjectResult {
            e_tag: Some(ETag::Strong(etag)),
            last_modified: Some(to_timestamp(last_modified)),
            ..Default::default()
        };
        set_checksum_fields!(result, &checksums);
        Ok(S3Response::new(CopyObjectOutput { copy_object_result: Some(result), ..Default::default() }))
    }
}

/// The byte range to serve, its Content-Range if partial, and the part count
/// to announce when a part of a multipart object was asked for.
fn resolve_range(
    obj: &ObjectVersion,
    range: Option<&Range>,
    part_number: Option<i32>,
) -> S3Result<(std::ops::Range<u64>, Option<String>, Option<i32>)> {
    if let Some(n) = part_number {
        if range.is_some() {
            return Err(s3_error!(InvalidRequest, "Cannot specify both Range header and partNumber query parameter"));
        }
        if !(1..=10_000).contains(&n) {
            return Err(s3_error!(InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive"));
        }
        let parts: &[PartRef] = match &obj.data {
            ObjectData::Parts(p) => p,
            // A simple object is its own single part.
            _ if n == 1 => return Ok((0..obj.size, None, None)),
            _ => return Err(invalid_part_number()),
        };
        let idx = n as usize - 1;
        let part = parts.get(idx).ok_or_else(invalid_part_number)?;
        let start: u64 = parts[..idx].iter().map(|p| p.size).sum();
        let span = start..start + part.size;
        let cr = (part.size > 0).then(|| format!("bytes {}-{}/{}", span.start, span.end - 1, obj.size));
        return Ok((span, cr, Some(parts.len() as i32)));
    }
    let Some(r) = range else { return Ok((0..obj.size, None, None)) };
    let unsatisfiable = || s3_error!(InvalidRange, "The requested range is not satisfiable");
    let span = r.check(obj.size).map_err(|_| unsatisfiable())?;
    // No range of an empty object is satisfiable (a suffix range checks out as 0..0).
    if span.is_empty() {
        return Err(unsatisfiable());
    }
    let cr = format!("bytes {}-{}/{}", span.start, span.end - 1, obj.size);
    Ok((span, Some(cr), None))
}

fn invalid_part_number() -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::Custom("InvalidPartNumber".into()),
        "The requested partnumber is not satisfiable",
    );
    e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
    e
}

#[cfg(test)]
mod tests {
    use super::stored_content_encoding;

    #[test]
    fn aws_chunked_is_not_stored() {
        let s = |v: &str| stored_content_encoding(Some(v.to_string()));
        assert_eq!(s("aws-chunked"), None);
        assert_eq!(s("aws-chunked,gzip"), Some("gzip".into()));
        assert_eq!(s("gzip, AWS-CHUNKED"), Some("gzip".into()));
        assert_eq!(s("br"), Some("br".into()));
        assert_eq!(stored_content_encoding(None), None);
    }
}
