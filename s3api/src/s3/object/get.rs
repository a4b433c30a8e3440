//! GetObject and HeadObject: the version, its preconditions, the range and the
//! headers to answer with; a GET reads the first stripe before it answers.

use super::first_stripe;
use crate::access::{self, Authorized};
use crate::errors;
use crate::s3::checksum::{Algorithm, set_checksum_fields};
use crate::s3::preconditions::Conditions;
use crate::s3::service::CairnS3;
use crate::s3::sse::{self, set_sse_fields};
use crate::s3::storage_class;
use crate::s3::{object_lock, object_tagging};
use crate::timefmt::{now, parse_http_date, to_timestamp};
use cairn_raft::schema::{ObjectData, ObjectVersion, PartRef};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use std::collections::BTreeMap;

/// Lookups of the version a GET makes before it gives up on reading one that
/// keeps being replaced under it.
const MAX_LOOKS: u32 = 3;

struct ReadRequest<'a> {
    version_id: Option<&'a str>,
    conditions: Conditions<'a>,
    range: Option<&'a Range>,
    part_number: Option<i32>,
    checksum_mode: bool,
    /// The request's SSE-C key (`s3/sse.rs`).
    customer: Option<sse::Customer>,
}

struct PreparedRead {
    obj: ObjectVersion,
    range: std::ops::Range<u64>,
    content_range: Option<String>,
    parts_count: Option<i32>,
    headers: Headers,
    sse: sse::Shown,
}

fn checksum_mode(mode: Option<&ChecksumMode>) -> bool {
    mode.is_some_and(|m| m.as_str() == ChecksumMode::ENABLED)
}

/// The read a GetObjectInput or a HeadObjectInput asks for (the same fields).
macro_rules! read_request {
    ($input:expr, $customer:expr) => {
        ReadRequest {
            version_id: $input.version_id.as_deref(),
            conditions: Conditions {
                if_match: $input.if_match.as_ref(),
                if_none_match: $input.if_none_match.as_ref(),
                if_modified_since: $input.if_modified_since.as_ref(),
                if_unmodified_since: $input.if_unmodified_since.as_ref(),
            },
            range: $input.range.as_ref(),
            part_number: $input.part_number,
            checksum_mode: checksum_mode($input.checksum_mode.as_ref()),
            customer: $customer,
        }
    };
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
        $out.object_lock_mode = $h.lock.mode;
        $out.object_lock_retain_until_date = $h.lock.retain_until;
        $out.object_lock_legal_hold_status = $h.lock.legal_hold;
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
    /// `x-amz-tagging-count`.
    tag_count: Option<i32>,
    /// The version's retention and legal hold, for callers allowed to read them.
    lock: object_lock::Shown,
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
        tag_count: None,
        lock: object_lock::Shown::default(),
    }
}

impl CairnS3 {
    /// What GET and HEAD share: the version, its preconditions, the range to
    /// serve and the headers to answer with.
    /// The authorizer ran a read barrier for this request, so a write acknowledged
    /// by any node before it started is seen.
    async fn prepare_read(
        &self,
        auth: &Authorized,
        bucket: &str,
        key: &str,
        read: ReadRequest<'_>,
    ) -> S3Result<PreparedRead> {
        let obj = self.object_version(bucket, key, read.version_id).await?;
        sse::check_read(&self.store, obj.data.sse(), read.customer.as_ref())?;
        read.conditions.check_read(&obj)?;
        let (range, content_range, parts_count) = resolve_range(&obj, read.range, read.part_number)?;
        let whole = content_range.is_none() && parts_count.is_none();
        let mut headers = stored_headers(&obj, whole && read.checksum_mode);
        let attrs = self.store.version_attrs(bucket, key, obj.version_id.as_deref()).map_err(errors::object)?;
        if !attrs.is_empty() {
            headers.tag_count = object_tagging::count(&attrs)?;
            let shown = object_lock::shown(&attrs)?;
            // AWS shows each only to callers allowed to read it.
            if shown.mode.is_some() && self.access.may(auth, "s3:GetObjectRetention", bucket, key)? {
                headers.lock.mode = shown.mode;
                headers.lock.retain_until = shown.retain_until;
            }
            if shown.legal_hold.is_some() && self.access.may(auth, "s3:GetObjectLegalHold", bucket, key)? {
                headers.lock.legal_hold = shown.legal_hold;
            }
        }
        let sse = sse::shown(obj.data.sse(), read.customer.as_ref(), &self.store.config.region);
        Ok(PreparedRead { obj, range, content_range, parts_count, headers, sse })
    }

    pub(crate) async fn get_object_impl(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let auth = access::authorized(&req)?.clone();
        let customer = sse::customer_key(&req.headers, sse::CUSTOMER)?;
        let input = req.input;
        let request = || read_request!(input, customer.clone());
        let mut prepared = self.prepare_read(&auth, &input.bucket, &input.key, request()).await?;
        // Nothing is answered before the first stripe of the range has been read.
        // The version may have been replaced, and its shards freed, between the
        // lookup and the read (from here on the read holds them): then the version
        // found after a read barrier is the one to serve.
        let mut looks = 1;
        let body = loop {
            let key = customer.as_ref().map(|c| c.key);
            let stream = self.store.read_with(&prepared.obj, prepared.range.start, prepared.range.end, key);
            let unreadable = match first_stripe::read_first(stream.map_err(errors::object)?).await {
                Ok(body) => break body,
                Err(e) => e,
            };
            if looks == MAX_LOOKS {
                return Err(unreadable);
            }
            looks += 1;
            self.store.meta.read_barrier().await.map_err(errors::meta)?;
            let again = self.prepare_read(&auth, &input.bucket, &input.key, request()).await?;
            if again.obj.data == prepared.obj.data {
                return Err(unreadable);
            }
            prepared = again;
        };
        let PreparedRead { obj, range, content_range, parts_count, headers: h, sse } = prepared;
        let mut out = GetObjectOutput {
            body: Some(StreamingBlob::wrap(sync_wrapper::SyncStream::new(body))),
            ..Default::default()
        };
        let tag_count = h.tag_count;
        fill_read_headers!(out, input, h, obj, range, content_range);
        out.parts_count = parts_count;
        out.tag_count = tag_count;
        set_sse_fields!(out, sse);
        out.version_id = self.shown_version_id(&input.bucket, obj.version_id.as_deref())?;
        out.expiration = self.read_expiration(&input.bucket, &input.key, input.version_id.as_deref(), &obj);
        out.storage_class = storage_class::shown(self.store.class_of(&obj.data)).map(StorageClass::from);
        // Counted for tiering by access (memory only; committed in batches).
        self.store.note_read(&input.bucket, &input.key, obj.version_id.as_deref(), now());
        Ok(S3Response::new(out))
    }

    pub(crate) async fn head_object_impl(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let auth = access::authorized(&req)?.clone();
        let customer = sse::customer_key(&req.headers, sse::CUSTOMER)?;
        let input = req.input;
        let PreparedRead { obj, range, content_range, parts_count, headers: h, sse } =
            self.prepare_read(&auth, &input.bucket, &input.key, read_request!(input, customer)).await?;
        let mut out = HeadObjectOutput::default();
        let tag_count = h.tag_count;
        fill_read_headers!(out, input, h, obj, range, content_range);
        out.parts_count = parts_count;
        out.version_id = self.shown_version_id(&input.bucket, obj.version_id.as_deref())?;
        set_sse_fields!(out, sse);
        out.expiration = self.read_expiration(&input.bucket, &input.key, input.version_id.as_deref(), &obj);
        out.storage_class = storage_class::shown(self.store.class_of(&obj.data)).map(StorageClass::from);
        // s3s always serializes HeadObject as 200; the HTTP front turns a HEAD
        // answer carrying Content-Range into 206, as S3 does.
        let mut resp = S3Response::new(out);
        // s3s's HeadObjectOutput has no field for it; AWS sends it on HEAD as on GET.
        if let Some(n) = tag_count {
            resp.headers.insert("x-amz-tagging-count", http::HeaderValue::from(n));
        }
        Ok(resp)
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
