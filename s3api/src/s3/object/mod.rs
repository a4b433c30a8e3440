//! Object operations, one file per operation: GET and HEAD (`get.rs`), PUT (`put.rs`),
//! a PUT of a tar archive extracted into objects (`extract.rs`), COPY (`copy.rs`),
//! DELETE single and batch (`delete.rs`). What they share is here.

mod copy;
mod delete;
mod extract;
mod first_stripe;
mod get;
mod put;

use crate::errors;
use crate::s3::service::CairnS3;
use crate::s3::versioning::parse_version_id;
use crate::s3::{object_lock, object_tagging};
use cairn_raft::schema::{Attrs, ObjectVersion, TagSet, VersionEntry};
use s3s::dto::{ObjectLockLegalHoldStatus, ObjectLockMode, Timestamp};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

/// The attributes a write gives its new version in `bucket`: its tags and the
/// `x-amz-object-lock-*` headers, checked before any byte of the body is stored (lock
/// headers where the bucket has no lock are InvalidRequest; the state machine checks
/// again at commit).
pub(crate) fn new_version_attrs(
    store: &cairn_object::Store,
    bucket: &str,
    tags: Option<&TagSet>,
    lock_mode: Option<&ObjectLockMode>,
    retain_until: Option<&Timestamp>,
    legal_hold: Option<&ObjectLockLegalHoldStatus>,
    writer: &str,
) -> S3Result<Attrs> {
    let mut attrs = Attrs::new();
    cairn_object::tenants::writer_attr(&mut attrs, writer);
    object_tagging::put_into(&mut attrs, tags)?;
    let before = attrs.len();
    object_lock::put_into(&mut attrs, lock_mode, retain_until, legal_hold)?;
    if attrs.len() > before && store.object_lock(bucket).map_err(errors::object)?.is_none() {
        return Err(errors::refused(cairn_raft::schema::Refusal::LockNotEnabled));
    }
    Ok(attrs)
}

/// A 404 or 405 that names the delete marker it met, as S3 does.
fn marker_error(code: S3ErrorCode, message: &str, version_id: Option<String>) -> S3Error {
    let mut e = S3Error::with_message(code, message.to_string());
    let mut h = http::HeaderMap::new();
    h.insert("x-amz-delete-marker", http::HeaderValue::from_static("true"));
    if let Some(v) = version_id.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
        h.insert("x-amz-version-id", v);
    }
    e.set_headers(h);
    e
}

impl CairnS3 {
    /// The version a request names (see [`Self::object_version`]) and its attributes,
    /// after a read barrier: what the attribute reads (tags, retention, legal hold) share.
    pub(crate) async fn named_version_attrs(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> S3Result<(ObjectVersion, Attrs)> {
        self.store.meta.read_barrier().await.map_err(errors::meta)?;
        let obj = self.object_version(bucket, key, version_id).await?;
        let attrs = self.store.version_attrs(bucket, key, obj.version_id.as_deref()).map_err(errors::object)?;
        Ok((obj, attrs))
    }

    /// The object version a request names: the latest without `versionId`, else that
    /// version (`null` included). A latest delete marker is 404 NoSuchKey, a marker
    /// named by id is 405 MethodNotAllowed, both with `x-amz-delete-marker`; an id
    /// that names nothing is 404 NoSuchVersion, one that cannot be an id 400.
    /// Callers that must see the latest write run a read barrier first.
    pub(crate) async fn object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> S3Result<ObjectVersion> {
        match parse_version_id(version_id)? {
            None => match self.store.latest(bucket, key).map_err(errors::object)? {
                Some(VersionEntry::Object(o)) => Ok(o),
                Some(VersionEntry::Marker(m)) => {
                    let shown = self.shown_version_id(bucket, m.version_id.as_deref())?;
                    Err(marker_error(S3ErrorCode::NoSuchKey, "The specified key does not exist.", shown))
                }
                None => {
                    self.require_bucket(bucket).await?;
                    Err(s3_error!(NoSuchKey, "The specified key does not exist."))
                }
            },
            Some(id) => match self.store.version(bucket, key, id).map_err(errors::object)? {
                Some((VersionEntry::Object(o), _)) => Ok(o),
                Some((VersionEntry::Marker(m), _)) => Err(marker_error(
                    S3ErrorCode::MethodNotAllowed,
                    "The specified method is not allowed against this resource.",
                    Some(m.version_id.unwrap_or_else(|| "null".into())),
                )),
                None => {
                    self.require_bucket(bucket).await?;
                    Err(s3_error!(NoSuchVersion, "The specified version does not exist."))
                }
            },
        }
    }
}
