//! Multipart upload: parts are written as blobs of their own and committed one
//! by one; completing writes one metadata record that lists them, so it never
//! copies object bytes and is decided atomically in the state machine.

use crate::access::ownership::Ownership;
use crate::access::{Owners, acl};
use crate::errors;
use crate::s3::checksum::{Algorithm, set_checksum_fields};
use crate::s3::ingest::{Ingest, MAX_PUT_SIZE};
use crate::s3::listing::Encoder;
use crate::s3::object::new_version_attrs;
use crate::s3::object_tagging;
use crate::s3::preconditions::{Conditions, write_condition};
use crate::s3::service::{CairnS3, authorized_copy_source, caller};
use crate::s3::sse::{self, set_sse_fields};
use crate::s3::storage_class;
use crate::s3::version_fields::{content_type_string, stored_content_encoding, user_metadata};
use crate::timefmt::{format_http_date, now, to_timestamp};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use cairn_raft::schema::{MultipartUpload, Nanos, ObjectData, ObjectVersion, PartRef, WriteCondition};
use md5::{Digest, Md5};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use std::collections::BTreeMap;

pub const MAX_PART_NUMBER: i32 = 10_000;
/// Every part but the last must be at least this large.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;
const MAX_LIST: usize = 1000;

/// Upload ids sort by creation time, so one key's uploads list in that order.
fn new_upload_id(initiated: Nanos) -> String {
    format!("{:016x}{:016x}", initiated as u64, rand::random::<u64>())
}

fn check_part_number(n: i32) -> S3Result<u32> {
    if (1..=MAX_PART_NUMBER).contains(&n) {
        Ok(n as u32)
    } else {
        Err(s3_error!(InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive"))
    }
}

fn strip_quotes(etag: &str) -> &str {
    etag.trim().trim_start_matches("W/").trim_matches('"')
}

/// `x-amz-copy-source-range: bytes=first-last` (both inclusive, both required).
pub(crate) fn parse_copy_range(header: &str, size: u64) -> S3Result<std::ops::Range<u64>> {
    let invalid = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let spec = header.trim().strip_prefix("bytes=").ok_or_else(invalid)?;
    let (a, b) = spec.split_once('-').ok_or_else(invalid)?;
    let first: u64 = a.trim().parse().map_err(|_| invalid())?;
    let last: u64 = b.trim().parse().map_err(|_| invalid())?;
    if first > last || last >= size {
        return Err(s3_error!(InvalidArgument, "Range specified is not valid for source object of size: {size}"));
    }
    Ok(first..last + 1)
}

/// The checksum of a multipart object: the algorithm applied to the
/// concatenated binary checksums of the parts, then `-N` (S3's COMPOSITE type).
fn composite_checksum(alg: Algorithm, parts: &[PartRef]) -> Option<String> {
    let mut joined = Vec::new();
    for p in parts {
        joined.extend(B64.decode(p.checksum.as_deref()?).ok()?);
    }
    let mut h = crate::s3::checksum::BodyHasher::new(&[alg]);
    h.update(&joined);
    let value = h.finish().checksums.remove(&alg)?;
    Some(format!("{value}-{}", parts.len()))
}

/// S3's multipart ETag: MD5 of the concatenated binary part MD5s, then `-N`.
fn multipart_etag(parts: &[PartRef]) -> S3Result<String> {
    let mut md5 = Md5::new();
    for p in parts {
        let bin = hex::decode(&p.etag).map_err(|_| s3_error!(InternalError, "stored part ETag is not hex"))?;
        md5.update(&bin);
    }
    Ok(format!("{}-{}", hex::encode(md5.finalize()), parts.len()))
}

fn upload_algorithm(upload: &MultipartUpload) -> Option<Algorithm> {
    upload.checksum_algorithm.as_deref().and_then(|a| Algorithm::parse(a).ok())
}

impl CairnS3 {
    /// The upload, as of a read barrier: an upload created (or a part added) through
    /// another node, or through this one whose state machine has not applied it yet,
    /// is seen.
    async fn require_upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<MultipartUpload> {
        self.store.meta.read_barrier().await.map_err(errors::meta)?;
        match self.store.meta.get_upload(bucket, key, upload_id).map_err(errors::meta)? {
            Some(u) => Ok(u),
            None => {
                self.require_bucket(bucket).await?;
                Err(errors::no_such_upload())
            }
        }
    }

    pub(crate) async fn create_multipart_upload_impl(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let caller = caller(&req)?;
        let acl = acl::from_request(req.input.acl.as_ref().map(|a| a.as_str()), &req.headers)?;
        let (sse_request, customer) = self.write_encryption(&req.input.bucket, &req.headers)?;
        let input = req.input;
        let bucket = self.require_bucket(&input.bucket).await?;
        let owner = caller.owner_or(&bucket.owner).to_string();
        let writer = owner.clone();
        let asked = input.acl.is_some();
        let upload_sse = match &sse_request {
            Some(r) => Some(self.store.upload_sse(r).await.map_err(errors::object)?),
            None => None,
        };
        let (owner, acl) =
            Ownership::effective(&self.store.meta, &bucket.name)?.new_object(&owner, &bucket.owner, acl, asked)?;
        let algorithm = input.checksum_algorithm.as_ref().map(|a| Algorithm::parse(a.as_str())).transpose()?;
        if let Some(t) = &input.checksum_type
            && t.as_str() != ChecksumType::COMPOSITE
        {
            return Err(s3_error!(
                InvalidRequest,
                "Checksum type {} is not supported for multipart uploads; use COMPOSITE",
                t.as_str()
            ));
        }
        let tags = object_tagging::from_header(input.tagging.as_deref())?;
        let mut attrs = new_version_attrs(
            &self.store,
            &input.bucket,
            tags.as_ref(),
            input.object_lock_mode.as_ref(),
            input.object_lock_retain_until_date.as_ref(),
            input.object_lock_legal_hold_status.as_ref(),
            &writer,
        )?;
        storage_class::record_for_upload(&mut attrs, &storage_class::requested(&req.headers));
        let initiated = now();
        let upload_id = new_upload_id(initiated);
        let template = ObjectVersion {
            version_id: None,
            size: 0,
            etag: String::new(),
            last_modified: initiated,
            content_type: content_type_string(input.content_type.as_ref()),
            content_encoding: stored_content_encoding(input.content_encoding),
            content_disposition: input.content_disposition,
            content_language: input.content_language,
            cache_control: input.cache_control,
            expires: input.expires.as_ref().map(format_http_date),
            user_meta: user_metadata(input.metadata),
            checksums: BTreeMap::new(),
            owner,
            data: match upload_sse {
                Some(s) => sse::upload_marker(s),
                None => ObjectData::Inline(Vec::new()),
            },
            acl,
        };
        let shown = sse::shown(template.data.sse(), customer.as_ref(), &self.store.config.region);
        let upload = MultipartUpload {
            upload_id: upload_id.clone(),
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            initiated,
            checksum_algorithm: algorithm.map(|a| a.name().to_string()),
            template,
        };
        let abort = self.abort_date(&upload);
        self.store.create_upload(upload, attrs).await.map_err(errors::object)?;
        let mut out = CreateMultipartUploadOutput {
            abort_date: abort.as_ref().map(|(when, _)| when.clone()),
            abort_rule_id: abort.map(|(_, id)| id),
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            checksum_algorithm: algorithm.map(|a| ChecksumAlgorithm::from(a.name().to_string())),
            checksum_type: algorithm.map(|_| ChecksumType::from_static(ChecksumType::COMPOSITE)),
            ..Default::default()
        };
        set_sse_fields!(out, shown);
        Ok(S3Response::new(out))
    }

    /// Commits a written part; a refused part's blob and a replaced part's blob
    /// are removed afterwards.
    async fn commit_part(&self, bucket: String, key: String, upload_id: String, part: PartRef) -> S3Result<()> {
        self.store.put_part(bucket, key, upload_id, part).await.map_err(errors::object)
    }

    pub(crate) async fn upload_part_impl(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let S3Request { mut input, headers, trailing_headers, .. } = req;
        let number = check_part_number(input.part_number)?;
        let upload = self.require_upload(&input.bucket, &input.key, &input.upload_id).await?;
        let algorithm = upload_algorithm(&upload);
        let customer = sse::customer_key(&headers, sse::CUSTOMER)?;
        let part_sse = sse::part_request(&self.store, &upload, customer.as_ref())?;
        // A part that cannot fit is refused before anything is stored (`quota_gate`).
        if let Some(len) = input.content_length {
            let len = u64::try_from(len).unwrap_or(0);
            let fits = self.store.precheck_part(&input.bucket, &input.key, &input.upload_id, number, len).await;
            crate::s3::quota_gate::admit(fits, len, &headers, &mut input.body).await?;
        }
        let blob = self
            .ingest(Ingest {
                bucket: &input.bucket,
                key: &input.key,
                headers: &headers,
                trailing_headers: trailing_headers.as_ref(),
                body: input.body,
                content_length: input.content_length,
                content_md5: input.content_md5.as_deref(),
                also_compute: algorithm,
                sse: part_sse.as_ref(),
                class: &storage_class::of_upload(&self.store, &upload),
            })
            .await?;
        let etag = sse::etag(blob.digests.etag(), part_sse.as_ref());
        let shown = sse::shown(blob.data.sse(), customer.as_ref(), &self.store.config.region);
        let checksum = algorithm.and_then(|a| blob.digests.checksums.get(&a).cloned());
        let stored = blob.digests.stored();
        let part =
            PartRef { number, size: blob.size, etag: etag.clone(), checksum, last_modified: now(), data: blob.data };
        self.commit_part(input.bucket, input.key, input.upload_id, part).await?;
        let mut out = UploadPartOutput { e_tag: Some(ETag::Strong(etag)), ..Default::default() };
        set_checksum_fields!(out, &stored);
        set_sse_fields!(out, shown);
        Ok(S3Response::new(out))
    }

    pub(crate) async fn upload_part_copy_impl(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let copy_source = authorized_copy_source(&req)?;
        let customer = sse::customer_key(&req.headers, sse::CUSTOMER)?;
        let src_customer = sse::customer_key(&req.headers, sse::COPY_SOURCE_CUSTOMER)?;
        let input = req.input;
        let number = check_part_number(input.part_number)?;
        let upload = self.require_upload(&input.bucket, &input.key, &input.upload_id).await?;
        let part_sse = sse::part_request(&self.store, &upload, customer.as_ref())?;
        let (_, _, src) = self
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
        sse::check_read(&self.store, src.data.sse(), src_customer.as_ref())?;
        let range = match input.copy_source_range.as_deref() {
            Some(r) => parse_copy_range(r, src.size)?,
            None => 0..src.size,
        };
        if range.end - range.start > MAX_PUT_SIZE {
            return Err(s3_error!(InvalidRequest, "A part may be at most {MAX_PUT_SIZE} bytes"));
        }
        let algorithm = upload_algorithm(&upload);
        let body =
            self.store.read_with(&src, range.start, range.end, src_customer.map(|c| c.key)).map_err(errors::object)?;
        let algorithms: Vec<Algorithm> = algorithm.into_iter().collect();
        let len = Some(range.end - range.start);
        let class = storage_class::of_upload(&self.store, &upload);
        let blob =
            self.write_hashed(&input.bucket, &input.key, body, &algorithms, len, part_sse.as_ref(), &class).await?;
        let etag = sse::etag(blob.digests.etag(), part_sse.as_ref());
        let shown = sse::shown(blob.data.sse(), customer.as_ref(), &self.store.config.region);
        let stored = blob.digests.stored();
        let last_modified = now();
        let part = PartRef {
            number,
            size: blob.size,
            etag: etag.clone(),
            checksum: algorithm.and_then(|a| blob.digests.checksums.get(&a).cloned()),
            last_modified,
            data: blob.data,
        };
        self.commit_part(input.bucket, input.key, input.upload_id, part).await?;
        let mut result = CopyPartResult {
            e_tag: Some(ETag::Strong(etag)),
            last_modified: Some(to_timestamp(last_modified)),
            ..Default::default()
        };
        set_checksum_fields!(result, &stored);
        let mut out = UploadPartCopyOutput { copy_part_result: Some(result), ..Default::default() };
        set_sse_fields!(out, shown);
        Ok(S3Response::new(out))
    }

    pub(crate) async fn complete_multipart_upload_impl(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let requested = input.multipart_upload.clone().and_then(|m| m.parts).unwrap_or_default();
        let upload = match self.require_upload(&input.bucket, &input.key, &input.upload_id).await {
            Ok(u) => u,
            Err(e) if *e.code() == S3ErrorCode::NoSuchUpload => {
                return match self.repeated_complete(&input.bucket, &input.key, &requested)? {
                    Some(out) => Ok(S3Response::new(out)),
                    None => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        let condition: Option<WriteCondition> = write_condition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
        if requested.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
        let algorithm = upload_algorithm(&upload);
        let stored: BTreeMap<u32, PartRef> = self
            .store
            .meta
            .all_parts(&upload.upload_id)
            .map_err(errors::meta)?
            .into_iter()
            .map(|p| (p.number, p))
            .collect();
        let mut parts = Vec::with_capacity(requested.len());
        let mut previous = 0u32;
        for cp in &requested {
            let number = cp.part_number.ok_or_else(|| s3_error!(InvalidPart, "Every part needs a PartNumber"))?;
            let number = check_part_number(number)?;
            if number <= previous {
                return Err(s3_error!(
                    InvalidPartOrder,
                    "The list of parts was not in ascending order. Parts must be ordered by part number."
                ));
            }
            previous = number;
            let invalid = || {
                s3_error!(
                    InvalidPart,
                    "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
                )
            };
            let Some(part) = stored.get(&number) else {
                // A concurrent complete or abort may have removed the upload
                // (and its parts) after we found it: that is NoSuchUpload.
                if self
                    .store
                    .meta
                    .get_upload(&input.bucket, &input.key, &input.upload_id)
                    .map_err(errors::meta)?
                    .is_none()
                {
                    return Err(errors::no_such_upload());
                }
                return Err(invalid());
            };
            let etag = cp.e_tag.as_ref().ok_or_else(invalid)?;
            if strip_quotes(etag.value()) != part.etag {
                return Err(invalid());
            }
            let mut declared = BTreeMap::new();
            set_declared_checksums(cp, &mut declared);
            if let Some(alg) = algorithm
                && let Some(want) = declared.get(&alg)
                && part.checksum.as_deref() != Some(want.as_str())
            {
                return Err(invalid());
            }
            parts.push(part.clone());
        }
        for p in &parts[..parts.len() - 1] {
            if p.size < MIN_PART_SIZE {
                return Err(s3_error!(
                    EntityTooSmall,
                    "Your proposed upload is smaller than the minimum allowed object size. Each part must be at least 5 MB in size, except the last part."
                ));
            }
        }
        let size: u64 = parts.iter().map(|p| p.size).sum();
        if size > MAX_OBJECT_SIZE {
            return Err(s3_error!(EntityTooLarge, "Your proposed upload exceeds the maximum allowed object size."));
        }
        let etag = multipart_etag(&parts)?;
        let mut checksums = BTreeMap::new();
        if let Some(alg) = algorithm
            && let Some(c) = composite_checksum(alg, &parts)
        {
            checksums.insert(alg.name().to_string(), c);
        }
        check_whole_checksums(&input, &checksums)?;
        let version = ObjectVersion {
            size,
            etag: etag.clone(),
            last_modified: now(),
            checksums: checksums.clone(),
            data: ObjectData::Parts(parts),
            ..upload.template.clone()
        };
        let shown = sse::shown(version.data.sse(), None, &self.store.config.region);
        let (size, made_at) = (version.size, version.last_modified);
        let made = self
            .store
            .complete_upload(input.bucket.clone(), input.key.clone(), input.upload_id.clone(), version, condition)
            .await
            .map_err(errors::object)?;
        let mut out = CompleteMultipartUploadOutput {
            version_id: self.shown_version_id(&input.bucket, made.as_deref())?,
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            e_tag: Some(ETag::Strong(etag)),
            location: Some(format!("/{}/{}", input.bucket, input.key)),
            ..Default::default()
        };
        set_checksum_fields!(out, &checksums);
        if !checksums.is_empty() {
            out.checksum_type = Some(ChecksumType::from_static(ChecksumType::COMPOSITE));
        }
        out.server_side_encryption = shown.server_side_encryption;
        out.ssekms_key_id = shown.kms_key_id;
        out.bucket_key_enabled = shown.bucket_key_enabled;
        out.expiration = self.expiration_header(&input.bucket, &input.key, made.as_deref(), size, made_at);
        Ok(S3Response::new(out))
    }

    pub(crate) async fn abort_multipart_upload_impl(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        self.store.abort_upload(input.bucket, input.key, input.upload_id).await.map_err(errors::object)?;
        Ok(S3Response::with_status(AbortMultipartUploadOutput::default(), http::StatusCode::NO_CONTENT))
    }

    pub(crate) async fn list_parts_impl(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let upload = self.require_upload(&input.bucket, &input.key, &input.upload_id).await?;
        let max = match input.max_parts {
            Some(n) if n < 0 => return Err(s3_error!(InvalidArgument, "max-parts must be a non-negative integer")),
            Some(n) => (n as usize).min(MAX_LIST),
            None => MAX_LIST,
        };
        let marker = match input.part_number_marker {
            None => 0,
            Some(m) => u32::try_from(m).map_err(|_| s3_error!(InvalidArgument, "Invalid part-number-marker"))?,
        };
        let (parts, truncated) = self.store.meta.list_parts(&upload.upload_id, marker, max).map_err(errors::meta)?;
        let next = parts.last().map(|p| p.number as i32);
        let owner = Owners::new(&self.store.meta).get(&upload.template.owner);
        let algorithm = upload.checksum_algorithm.clone();
        let entries: Vec<Part> = parts
            .into_iter()
            .map(|p| {
                let mut part = Part {
                    e_tag: Some(ETag::Strong(p.etag)),
                    last_modified: Some(to_timestamp(p.last_modified)),
                    part_number: Some(p.number as i32),
                    size: Some(p.size as i64),
                    ..Default::default()
                };
                if let (Some(alg), Some(value)) = (&algorithm, p.checksum) {
                    set_checksum_fields!(part, &BTreeMap::from([(alg.clone(), value)]));
                }
                part
            })
            .collect();
        let abort = self.abort_date(&upload);
        let class = storage_class::of_upload(&self.store, &upload);
        Ok(S3Response::new(ListPartsOutput {
            abort_date: abort.as_ref().map(|(when, _)| when.clone()),
            abort_rule_id: abort.map(|(_, id)| id),
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            max_parts: Some(max as i32),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: if truncated { next } else { None },
            is_truncated: Some(truncated),
            initiator: Some(Initiator { display_name: owner.display_name.clone(), id: owner.id.clone() }),
            owner: Some(owner),
            checksum_algorithm: upload.checksum_algorithm.map(ChecksumAlgorithm::from),
            parts: (!entries.is_empty()).then_some(entries),
            storage_class: Some(StorageClass::from(class)),
            ..Default::default()
        }))
    }

    pub(crate) async fn list_multipart_uploads_impl(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let enc = Encoder::new(input.encoding_type.as_ref())?;
        let max = match input.max_uploads {
            Some(n) if n < 0 => return Err(s3_error!(InvalidArgument, "max-uploads must be a non-negative integer")),
            Some(n) => (n as usize).min(MAX_LIST),
            None => MAX_LIST,
        };
        let prefix = input.prefix.clone().unwrap_or_default();
        let delimiter = input.delimiter.as_deref().filter(|d| !d.is_empty());
        let key_marker = input.key_marker.as_deref().filter(|m| !m.is_empty());
        // S3 ignores the upload-id marker unless a key marker is given.
        let upload_id_marker = key_marker.and(input.upload_id_marker.as_deref().filter(|m| !m.is_empty()));
        let page = self
            .store
            .meta
            .list_uploads(&input.bucket, &prefix, delimiter, key_marker, upload_id_marker, max)
            .map_err(errors::meta)?;
        let mut owners = Owners::new(&self.store.meta);
        let uploads: Vec<s3s::dto::MultipartUpload> = page
            .uploads
            .into_iter()
            .map(|u| {
                let owner = owners.get(&u.template.owner);
                let class = storage_class::of_upload(&self.store, &u);
                s3s::dto::MultipartUpload {
                    checksum_algorithm: u.checksum_algorithm.clone().map(ChecksumAlgorithm::from),
                    initiated: Some(to_timestamp(u.initiated)),
                    initiator: Some(Initiator { display_name: owner.display_name.clone(), id: owner.id.clone() }),
                    key: Some(enc.encode(&u.key)),
                    owner: Some(owner),
                    upload_id: Some(u.upload_id),
                    storage_class: Some(StorageClass::from(class)),
                    ..Default::default()
                }
            })
            .collect();
        let common_prefixes: Vec<CommonPrefix> =
            page.common_prefixes.iter().map(|p| CommonPrefix { prefix: Some(enc.encode(p)) }).collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            delimiter: enc.encode_opt(delimiter),
            encoding_type: input.encoding_type,
            is_truncated: Some(page.is_truncated),
            key_marker: Some(enc.encode(input.key_marker.as_deref().unwrap_or(""))),
            max_uploads: Some(max as i32),
            next_key_marker: page.next_key_marker.as_deref().map(|k| enc.encode(k)),
            next_upload_id_marker: page.next_upload_id_marker,
            prefix: Some(enc.encode(&prefix)),
            upload_id_marker: input.upload_id_marker,
            uploads: (!uploads.is_empty()).then_some(uploads),
            request_charged: None,
        }))
    }

    /// A CompleteMultipartUpload repeated after it succeeded answers as the first
    /// one did, as S3 does: the upload is gone, but the key's current object is
    /// the one exactly these parts made.
    fn repeated_complete(
        &self,
        bucket: &str,
        key: &str,
        requested: &[CompletedPart],
    ) -> S3Result<Option<CompleteMultipartUploadOutput>> {
        let Some(obj) = self.store.current_version(bucket, key).map_err(errors::object)? else { return Ok(None) };
        let ObjectData::Parts(parts) = &obj.data else { return Ok(None) };
        let same = parts.len() == requested.len()
            && parts.iter().zip(requested).all(|(p, cp)| {
                cp.part_number.is_some_and(|n| n as u32 == p.number)
                    && cp.e_tag.as_ref().is_some_and(|e| strip_quotes(e.value()) == p.etag)
            });
        if !same {
            return Ok(None);
        }
        let mut out = CompleteMultipartUploadOutput {
            version_id: self.shown_version_id(bucket, obj.version_id.as_deref())?,
            bucket: Some(bucket.to_string()),
            key: Some(key.to_string()),
            e_tag: Some(ETag::Strong(obj.etag.clone())),
            location: Some(format!("/{bucket}/{key}")),
            ..Default::default()
        };
        set_checksum_fields!(out, &obj.checksums);
        if !obj.checksums.is_empty() {
            out.checksum_type = Some(ChecksumType::from_static(ChecksumType::COMPOSITE));
        }
        Ok(Some(out))
    }
}

/// The `x-amz-checksum-*` of a CompleteMultipartUpload names the whole object's
/// composite checksum (with or without its `-N`); a value that differs from the
/// one the parts make is BadDigest, and one the upload cannot have is refused.
fn check_whole_checksums(input: &CompleteMultipartUploadInput, computed: &BTreeMap<String, String>) -> S3Result<()> {
    let declared = [
        (Algorithm::Crc32, &input.checksum_crc32),
        (Algorithm::Crc32c, &input.checksum_crc32c),
        (Algorithm::Sha1, &input.checksum_sha1),
        (Algorithm::Sha256, &input.checksum_sha256),
    ];
    let full_object = input.checksum_type.as_ref().is_some_and(|t| t.as_str() == ChecksumType::FULL_OBJECT);
    if full_object && declared.iter().any(|(_, v)| v.is_some()) {
        return Err(s3_error!(
            NotImplemented,
            "Full-object checksums of multipart uploads are not implemented; Cairn checks composite checksums"
        ));
    }
    let base = |v: &str| v.trim().split('-').next().unwrap_or("").to_string();
    for (alg, want) in declared {
        let Some(want) = want else { continue };
        let Some(got) = computed.get(alg.name()) else {
            return Err(s3_error!(
                InvalidRequest,
                "The upload was not created with checksum algorithm {}, so its whole-object {} cannot be checked",
                alg.name(),
                alg.name()
            ));
        };
        if base(want) != base(got) {
            return Err(s3_error!(
                BadDigest,
                "The {} you specified did not match the calculated checksum.",
                alg.name()
            ));
        }
    }
    Ok(())
}

fn set_declared_checksums(cp: &CompletedPart, out: &mut BTreeMap<Algorithm, String>) {
    let fields = [
        (Algorithm::Crc32, &cp.checksum_crc32),
        (Algorithm::Crc32c, &cp.checksum_crc32c),
        (Algorithm::Sha1, &cp.checksum_sha1),
        (Algorithm::Sha256, &cp.checksum_sha256),
    ];
    for (alg, v) in fields {
        if let Some(v) = v {
            out.insert(alg, v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(n: u32, etag: &str) -> PartRef {
        PartRef {
            number: n,
            size: 1,
            etag: etag.into(),
            checksum: None,
            last_modified: 0,
            data: ObjectData::Inline(vec![]),
        }
    }

    #[test]
    fn etag_of_parts() {
        // Two parts whose MD5s are those of "a" and "b".
        let parts = [part(1, "0cc175b9c0f1b6a831c399e269772661"), part(2, "92eb5ffee6ae2fec3ad71c777531578f")];
        let mut md5 = Md5::new();
        md5.update(hex::decode("0cc175b9c0f1b6a831c399e269772661").unwrap());
        md5.update(hex::decode("92eb5ffee6ae2fec3ad71c777531578f").unwrap());
        assert_eq!(multipart_etag(&parts).unwrap(), format!("{}-2", hex::encode(md5.finalize())));
    }

    #[test]
    fn copy_ranges() {
        assert_eq!(parse_copy_range("bytes=0-9", 10).unwrap(), 0..10);
        assert_eq!(parse_copy_range("bytes=5-5", 10).unwrap(), 5..6);
        assert!(parse_copy_range("bytes=5-10", 10).is_err());
        assert!(parse_copy_range("bytes=6-5", 10).is_err());
        assert!(parse_copy_range("bytes=-5", 10).is_err());
        assert!(parse_copy_range("5-6", 10).is_err());
    }

    #[test]
    fn upload_ids_sort_by_time() {
        assert!(new_upload_id(1_000) < new_upload_id(2_000));
        assert_eq!(new_upload_id(5).len(), 32);
    }
}
