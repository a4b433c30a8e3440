//! S3 versioning: Put/GetBucketVersioning, ListObjectVersions, and the rules every
//! handler follows for version ids (which ids are valid, when `x-amz-version-id` is
//! sent). What a write or delete does to a key's history is decided in the state
//! machine; handlers reach it through the object layer (`cairn_object::versions`).

use crate::access::Owners;
use crate::errors;
use crate::s3::listing::{Encoder, max_keys};
use crate::s3::service::CairnS3;
use crate::timefmt::to_timestamp;
use cairn_object::attrs::VersionRef;
use cairn_raft::schema::{VersionEntry, Versioning};
use s3s::dto::{self, *};
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// A `versionId` parameter: `None` when absent, `Some(None)` for `null`, `Some(Some(id))`
/// for an id this store could have made; anything else is 400 InvalidArgument.
pub(crate) fn parse_version_id(version_id: Option<&str>) -> S3Result<Option<Option<&str>>> {
    match version_id {
        None => Ok(None),
        Some("null") => Ok(Some(None)),
        Some(id) if cairn_raft::versions::is_valid_version_id(id) => Ok(Some(Some(id))),
        Some(_) => Err(s3_error!(InvalidArgument, "Invalid version id specified")),
    }
}

/// The version a `versionId` parameter names for a change to one version (its ACL,
/// tags, retention, legal hold): the current one when absent.
pub(crate) fn version_ref(version_id: Option<&str>) -> S3Result<VersionRef<'_>> {
    Ok(match parse_version_id(version_id)? {
        None => VersionRef::Current,
        Some(None) => VersionRef::Null,
        Some(Some(id)) => VersionRef::Id(id),
    })
}

impl CairnS3 {
    /// The `x-amz-version-id` S3 sends for a version: its id, `null` for the null
    /// version of a bucket that has a versioning state, and nothing in a bucket that
    /// never had one.
    pub(crate) fn shown_version_id(&self, bucket: &str, id: Option<&str>) -> S3Result<Option<String>> {
        match id {
            Some(id) => Ok(Some(id.to_string())),
            None => Ok(self.store.versioning(bucket).map_err(errors::object)?.map(|_| "null".to_string())),
        }
    }

    pub(crate) async fn put_bucket_versioning_impl(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let cfg = input.versioning_configuration;
        if cfg.mfa_delete.as_ref().is_some_and(|m| m.as_str() == MFADelete::ENABLED) || input.mfa.is_some() {
            return Err(s3_error!(NotImplemented, "MFA delete is not supported"));
        }
        let state = match cfg.status.as_ref().map(|s| s.as_str()) {
            Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
            Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
            _ => return Err(s3_error!(MalformedXML, "Status must be Enabled or Suspended")),
        };
        self.store.set_versioning(&input.bucket, state).await.map_err(errors::object)?;
        Ok(S3Response::new(PutBucketVersioningOutput::default()))
    }

    pub(crate) async fn get_bucket_versioning_impl(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let bucket = req.input.bucket;
        self.require_bucket(&bucket).await?;
        let status = self.store.versioning(&bucket).map_err(errors::object)?.map(|s| match s {
            Versioning::Enabled => BucketVersioningStatus::from_static(BucketVersioningStatus::ENABLED),
            Versioning::Suspended => BucketVersioningStatus::from_static(BucketVersioningStatus::SUSPENDED),
        });
        Ok(S3Response::new(GetBucketVersioningOutput { status, mfa_delete: None }))
    }

    pub(crate) async fn list_object_versions_impl(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let enc = Encoder::new(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_keys)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        let key_marker = input.key_marker.clone().filter(|k| !k.is_empty());
        let vid_marker = input.version_id_marker.clone().filter(|v| !v.is_empty());
        if vid_marker.is_some() && key_marker.is_none() {
            return Err(s3_error!(InvalidArgument, "A version-id marker cannot be specified without a key marker."));
        }
        parse_version_id(vid_marker.as_deref())?;
        let page = self
            .store
            .meta
            .list_versions(
                &input.bucket,
                &prefix,
                delimiter.as_deref(),
                key_marker.as_deref(),
                vid_marker.as_deref(),
                max,
            )
            .map_err(errors::meta)?;
        let mut owners = Owners::new(&self.store.meta);
        let classes = crate::s3::storage_class::Classes::load(&self.store);
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        for (key, entry, latest) in &page.versions {
            let version_id = Some(entry.version_id().unwrap_or("null").to_string());
            match entry {
                VersionEntry::Object(v) => {
                    let mut out =
                        crate::s3::listing::version_entry(&enc, key, v, owners.get(&v.owner), classes.of(&v.data));
                    out.is_latest = Some(*latest);
                    out.version_id = version_id;
                    versions.push(out);
                }
                VersionEntry::Marker(m) => markers.push(DeleteMarkerEntry {
                    is_latest: Some(*latest),
                    key: Some(enc.encode(key)),
                    last_modified: Some(to_timestamp(m.last_modified)),
                    owner: Some(owners.get(&m.owner)),
                    version_id,
                }),
            }
        }
        let common_prefixes: Vec<_> =
            page.common_prefixes.iter().map(|p| dto::CommonPrefix { prefix: Some(enc.encode(p)) }).collect();
        let truncated = page.is_truncated;
        Ok(S3Response::new(ListObjectVersionsOutput {
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            delete_markers: (!markers.is_empty()).then_some(markers),
            delimiter: enc.encode_opt(delimiter.as_deref()),
            encoding_type: input.encoding_type,
            is_truncated: Some(truncated),
            key_marker: Some(enc.encode(key_marker.as_deref().unwrap_or(""))),
            max_keys: Some(max as i32),
            name: Some(input.bucket),
            next_key_marker: truncated.then(|| enc.encode_opt(page.next_key_marker.as_deref())).flatten(),
            next_version_id_marker: truncated.then_some(page.next_version_id_marker).flatten(),
            prefix: Some(enc.encode(&prefix)),
            request_charged: None,
            version_id_marker: vid_marker,
            versions: (!versions.is_empty()).then_some(versions),
        }))
    }
}
