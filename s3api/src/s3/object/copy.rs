//! CopyObject, and the copy source that UploadPartCopy shares.

use crate::access::acl;
use crate::access::ownership::Ownership;
use crate::errors;
use crate::s3::checksum::{Algorithm, set_checksum_fields};
use crate::s3::ingest::MAX_PUT_SIZE;
use crate::s3::object::new_version_attrs;
use crate::s3::object_tagging;
use crate::s3::preconditions::Conditions;
use crate::s3::service::{CairnS3, authorized_copy_source, caller};
use crate::s3::sse::{self, set_sse_fields};
use crate::s3::storage_class;
use crate::s3::version_fields::{content_type_string, stored_content_encoding, user_metadata};
use crate::timefmt::{format_http_date, now, to_timestamp};
use cairn_object::sse::SseRequest;
use cairn_raft::schema::ObjectVersion;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

impl CairnS3 {
    /// The version named by `x-amz-copy-source` (the latest, or its `versionId`), once
    /// its `x-amz-copy-source-if-*` conditions hold.
    pub(crate) async fn copy_source(
        &self,
        source: &CopySource,
        conditions: Conditions<'_>,
    ) -> S3Result<(String, String, ObjectVersion)> {
        let CopySource::Bucket { bucket, key, version_id } = source else {
            return Err(s3_error!(NotImplemented, "Access point copy sources are not supported"));
        };
        self.store.meta.read_barrier().await.map_err(errors::meta)?;
        let src = self.object_version(bucket, key, version_id.as_deref()).await?;
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
        // Encryption named by the request changes the copy; a bucket default does not.
        let named_sse = sse::write_request(&req.headers, &req.input.bucket)?.0.is_some();
        let (target_sse, target_customer) = self.write_encryption(&req.input.bucket, &req.headers)?;
        let src_customer = sse::customer_key(&req.headers, sse::COPY_SOURCE_CUSTOMER)?;
        // S3 writes a copy in STANDARD unless the request names a class.
        let class = storage_class::requested(&req.headers);
        let input = req.input;
        let bucket = self.require_bucket(&input.bucket).await?;
        let owner = caller.owner_or(&bucket.owner).to_string();
        let writer = owner.clone();
        let (owner, acl) = Ownership::effective(&self.store.meta, &input.bucket)?.new_object(
            &owner,
            &bucket.owner,
            acl,
            input.acl.is_some(),
        )?;
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
        sse::check_read(&self.store, src.data.sse(), src_customer.as_ref())?;
        let replace = match input.metadata_directive.as_ref().map(|d| d.as_str()) {
            None | Some(MetadataDirective::COPY) => false,
            Some(MetadataDirective::REPLACE) => true,
            Some(other) => return Err(s3_error!(InvalidArgument, "Unknown metadata directive {other}")),
        };
        let tags = match input.tagging_directive.as_ref().map(|d| d.as_str()) {
            None | Some(TaggingDirective::COPY) => {
                let a = self.store.version_attrs(&src_bucket, &src_key, src.version_id.as_deref());
                Some(object_tagging::of(&a.map_err(errors::object)?)?)
            }
            Some(TaggingDirective::REPLACE) => object_tagging::from_header(input.tagging.as_deref())?,
            Some(other) => return Err(s3_error!(InvalidArgument, "Unknown tagging directive {other}")),
        };
        let attrs = new_version_attrs(
            &self.store,
            &input.bucket,
            tags.as_ref(),
            input.object_lock_mode.as_ref(),
            input.object_lock_retain_until_date.as_ref(),
            input.object_lock_legal_hold_status.as_ref(),
            &writer,
        )?;
        let src_version_id = src.version_id.clone();
        let class_changes = self.store.class_of(&src.data) != class;
        // Copying an older version onto its own key restores it (a rollback).
        let names_version = matches!(&copy_source, CopySource::Bucket { version_id: Some(_), .. });
        if src_bucket == input.bucket
            && src_key == input.key
            && !replace
            && !names_version
            && !named_sse
            && !class_changes
        {
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
        self.store.precheck_put(&input.bucket, &input.key, &writer, src.size).await.map_err(errors::object)?;
        let mut algorithms: Vec<Algorithm> = src.checksums.keys().filter_map(|k| Algorithm::parse(k).ok()).collect();
        if let Some(a) = input.checksum_algorithm.as_ref() {
            algorithms.push(Algorithm::parse(a.as_str())?);
        }
        // A rollback (a version of this key copied onto it, headers kept) shares the
        // version's shards: no byte is read or written.
        let same_key = src_bucket == input.bucket && src_key == input.key;
        let checksums_kept = input.checksum_algorithm.as_ref().is_none_or(|a| src.checksums.contains_key(a.as_str()));
        if same_key && names_version && !replace && checksums_kept && !named_sse && !class_changes {
            let shown = sse::shown(src.data.sse(), src_customer.as_ref(), &self.store.config.region);
            let source = src.version_id.clone().unwrap_or_else(|| "null".into());
            let last_modified = now();
            let template = ObjectVersion { version_id: None, last_modified, owner, acl, ..src };
            let (etag, checksums) = (template.etag.clone(), template.checksums.clone());
            let made = self
                .store
                .copy_version(&input.bucket, &input.key, &source, template, attrs)
                .await
                .map_err(errors::object)?;
            let mut result = CopyObjectResult {
                e_tag: Some(ETag::Strong(etag)),
                last_modified: Some(to_timestamp(last_modified)),
                ..Default::default()
            };
            set_checksum_fields!(result, &checksums);
            let mut out = CopyObjectOutput {
                copy_object_result: Some(result),
                version_id: self.shown_version_id(&input.bucket, made.as_deref())?,
                copy_source_version_id: self.shown_version_id(&src_bucket, src_version_id.as_deref())?,
                ..Default::default()
            };
            set_sse_fields!(out, shown);
            return Ok(S3Response::new(out));
        }
        // Encrypted the same way as the source: its ciphertext is copied under its sealed
        // data key, never opened. Otherwise the source is opened with its key and the
        // copy sealed as the request asks, under a new data key.
        let kept = sse::same_encryption(src.data.sse(), src_customer.as_ref(), target_sse.as_ref())
            && algorithms.iter().all(|a| src.checksums.contains_key(a.name()));
        let copied = match kept {
            true => self.store.copy_sealed(&input.bucket, &input.key, &src, &class).await.map_err(errors::object)?,
            false => None,
        };
        let blob = match copied {
            Some(w) => {
                let etag = match target_sse {
                    Some(SseRequest::S3) => src.etag.clone(),
                    _ => sse::etag(String::new(), target_sse.as_ref()),
                };
                Copied { data: w.data, size: w.size, etag, checksums: src.checksums.clone() }
            }
            None => {
                let body = self
                    .store
                    .read_with(&src, 0, src.size, src_customer.clone().map(|c| c.key))
                    .map_err(errors::object)?;
                let blob = self
                    .write_hashed(
                        &input.bucket,
                        &input.key,
                        body,
                        &algorithms,
                        Some(src.size),
                        target_sse.as_ref(),
                        &class,
                    )
                    .await?;
                let etag = sse::etag(blob.digests.etag(), target_sse.as_ref());
                Copied { data: blob.data, size: blob.size, etag, checksums: blob.digests.stored() }
            }
        };
        let etag = blob.etag.clone();
        let shown = sse::shown(blob.data.sse(), target_customer.as_ref(), &self.store.config.region);
        let checksums = blob.checksums.clone();
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
        let source_version = src_version_id;
        let made = self
            .store
            .put_version(input.bucket.clone(), input.key, version, None, attrs)
            .await
            .map_err(errors::object)?;
        let mut result = CopyObjectResult {
            e_tag: Some(ETag::Strong(etag)),
            last_modified: Some(to_timestamp(last_modified)),
            ..Default::default()
        };
        set_checksum_fields!(result, &checksums);
        let mut out = CopyObjectOutput {
            copy_object_result: Some(result),
            version_id: self.shown_version_id(&input.bucket, made.as_deref())?,
            copy_source_version_id: self.shown_version_id(&src_bucket, source_version.as_deref())?,
            ..Default::default()
        };
        set_sse_fields!(out, shown);
        Ok(S3Response::new(out))
    }
}

/// A copy's stored data and what its version records of it.
struct Copied {
    data: cairn_raft::schema::ObjectData,
    size: u64,
    etag: String,
    checksums: std::collections::BTreeMap<String, String>,
}
