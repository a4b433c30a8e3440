//! PutObject: the body streamed to storage, then the new version committed.

use crate::access::acl;
use crate::access::ownership::Ownership;
use crate::errors;
use crate::s3::checksum::{Algorithm, set_checksum_fields};
use crate::s3::ingest::Ingest;
use crate::s3::object::new_version_attrs;
use crate::s3::object_tagging;
use crate::s3::preconditions::write_condition;
use crate::s3::quota_gate;
use crate::s3::service::{CairnS3, caller};
use crate::s3::sse::{self, set_sse_fields};
use crate::s3::storage_class;
use crate::s3::version_fields::{content_type_string, stored_content_encoding, user_metadata};
use crate::timefmt::{format_http_date, now};
use cairn_raft::schema::ObjectVersion;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

impl CairnS3 {
    pub(crate) async fn put_object_impl(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        if super::extract::requested(req.input.metadata.as_ref())? {
            return self.put_archive_impl(req).await;
        }
        let caller = caller(&req)?;
        let S3Request { mut input, headers, trailing_headers, .. } = req;
        let acl = acl::from_request(input.acl.as_ref().map(|a| a.as_str()), &headers)?;
        let bucket = self.require_bucket(&input.bucket).await?;
        let owner = caller.owner_or(&bucket.owner).to_string();
        let writer = owner.clone();
        let (owner, acl) = Ownership::effective(&self.store.meta, &input.bucket)?.new_object(
            &owner,
            &bucket.owner,
            acl,
            input.acl.is_some(),
        )?;
        let (sse, customer) = self.write_encryption(&input.bucket, &headers)?;
        let condition = write_condition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
        let tags = object_tagging::from_header(input.tagging.as_deref())?;
        let attrs = new_version_attrs(
            &self.store,
            &input.bucket,
            tags.as_ref(),
            input.object_lock_mode.as_ref(),
            input.object_lock_retain_until_date.as_ref(),
            input.object_lock_legal_hold_status.as_ref(),
            &writer,
        )?;
        // A body that cannot fit is refused before anything is stored (`quota_gate`).
        if let Some(len) = input.content_length {
            let len = u64::try_from(len).unwrap_or(0);
            let fits = self.store.precheck_put(&input.bucket, &input.key, &writer, len).await;
            quota_gate::admit(fits, len, &headers, &mut input.body).await?;
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
                also_compute: None,
                sse: sse.as_ref(),
                class: &storage_class::requested(&headers),
            })
            .await?;
        let etag = sse::etag(blob.digests.etag(), sse.as_ref());
        let checksums = blob.digests.stored();
        let shown = sse::shown(blob.data.sse(), customer.as_ref(), &self.store.config.region);
        let made_at = now();
        let version = ObjectVersion {
            version_id: None,
            size: blob.size,
            etag: etag.clone(),
            last_modified: made_at,
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
        let size = version.size;
        let made = self
            .store
            .put_version(input.bucket.clone(), input.key.clone(), version, condition, attrs)
            .await
            .map_err(errors::object)?;
        let mut out = PutObjectOutput {
            e_tag: Some(ETag::Strong(etag)),
            version_id: self.shown_version_id(&input.bucket, made.as_deref())?,
            expiration: self.expiration_header(&input.bucket, &input.key, made.as_deref(), size, made_at),
            ..Default::default()
        };
        set_checksum_fields!(out, &checksums);
        set_sse_fields!(out, shown);
        Ok(S3Response::new(out))
    }
}
