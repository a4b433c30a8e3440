//! Batch ingest: a PutObject of a tar archive with `x-amz-meta-snowball-auto-extract:
//! true` (the header MinIO's clients send) stores every file of the archive as an
//! object, all committed in one command, all or none.
//!
//! - Keys are the entries' paths (`./` and leading `/` dropped), after the prefix
//!   `x-amz-meta-minio-snowball-prefix` names; the archive's own key is not stored.
//! - Directories are skipped. Links, devices and other special entries, paths with a
//!   `..` component, and keys longer than S3's 1,024 bytes refuse the archive (400),
//!   as does a compressed archive (send it uncompressed).
//! - Each key is authorized as its own PutObject (a policy that denies one refuses the
//!   archive); quotas are decided for every object in the commit's apply.
//! - The request's other user metadata, Content-Type excepted, goes on every object.
//! - At most [`MAX_ENTRIES`] files per archive, and [`MAX_INLINE_BYTES`] of files small
//!   enough to live in the metadata (one commit carries them all); the archive's Content-MD5 and
//!   checksums, when sent, are checked before anything is committed; the answer's
//!   ETag is the archive's MD5.
//! - A body that fails, an entry refused, or a batch refused leaves nothing behind:
//!   the data already written is freed.

use crate::access;
use crate::errors;
use crate::s3::checksum::{BodyHasher, ChecksumRequest};
use crate::s3::ingest::{MAX_PUT_SIZE, body_stream, expected_length, verify_declared};
use crate::s3::object::new_version_attrs;
use crate::s3::quota_gate;
use crate::s3::service::{CairnS3, caller};
use crate::s3::version_fields::stored_content_encoding;
use crate::timefmt::now;
use bytes::Bytes;
use cairn_object::{DataStream, ObjectError};
use cairn_raft::schema::{BatchPut, CannedAcl, ObjectData, ObjectVersion};
use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio_tar::EntryType;

/// Most files one archive may hold (one commit of metadata).
pub(crate) const MAX_ENTRIES: usize = 10_000;
/// Most bytes of small files (stored in the metadata record itself) one archive may
/// hold: they all travel in one Raft entry.
const MAX_INLINE_BYTES: u64 = 32 << 20;
/// S3's longest key.
const MAX_KEY: usize = 1024;

const EXTRACT: &str = "snowball-auto-extract";
const PREFIX: &str = "minio-snowball-prefix";
/// MinIO's other control headers, accepted and not stored.
const CONTROL: [&str; 3] = ["minio-snowball-ignore-dirs", "minio-snowball-ignore-errors", "minio-snowball-prefix"];

/// Whether a PutObject asks for its archive to be extracted.
pub(crate) fn requested(metadata: Option<&Metadata>) -> S3Result<bool> {
    let Some(m) = metadata else { return Ok(false) };
    match m.iter().find(|(k, _)| k.eq_ignore_ascii_case(EXTRACT)) {
        None => Ok(false),
        Some((_, v)) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some((_, v)) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some((_, v)) => Err(s3_error!(InvalidArgument, "x-amz-meta-snowball-auto-extract is true or false, not {v:?}")),
    }
}

fn not_with_extract(what: &str) -> S3Error {
    s3_error!(NotImplemented, "{what} is not supported with x-amz-meta-snowball-auto-extract")
}

/// 400 MalformedArchive. The message may quote the archive's bytes: it is cut short
/// and kept to printable characters, so the XML error body stays well-formed.
fn malformed(message: impl Into<String>) -> S3Error {
    let message: String = message
        .into()
        .chars()
        .filter(|c| *c != '\u{fffd}')
        .map(|c| if c.is_control() { '?' } else { c })
        .take(300)
        .collect();
    let mut e = S3Error::with_message(S3ErrorCode::Custom("MalformedArchive".into()), message);
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

/// The key an entry path becomes, or why it cannot be one.
fn entry_key(prefix: &str, path: &[u8]) -> S3Result<String> {
    let path = std::str::from_utf8(path).map_err(|_| malformed("an entry's path is not UTF-8"))?;
    let trimmed = path.trim_start_matches("./").trim_start_matches('/');
    if trimmed.split('/').any(|c| c == "..") {
        return Err(malformed(format!("entry {path:?} has a .. component")));
    }
    let key = format!("{prefix}{trimmed}");
    if trimmed.is_empty() || key.len() > MAX_KEY {
        return Err(malformed(format!("entry {path:?} does not make a key of 1 to {MAX_KEY} bytes")));
    }
    Ok(key)
}

impl CairnS3 {
    pub(crate) async fn put_archive_impl(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let caller = caller(&req)?;
        let auth = access::authorized(&req)?.clone();
        let S3Request { mut input, headers, trailing_headers, .. } = req;
        // What a plain PUT could carry but an extraction would drop: refused.
        let unsupported = [
            (input.if_match.is_some() || input.if_none_match.is_some(), "A conditional write"),
            (input.tagging.is_some(), "x-amz-tagging"),
            (input.object_lock_mode.is_some() || input.object_lock_legal_hold_status.is_some(), "Object lock"),
            (input.acl.is_some() || headers.keys().any(|k| k.as_str().starts_with("x-amz-grant")), "An ACL"),
            (headers.keys().any(|k| k.as_str().starts_with("x-amz-server-side-encryption")), "Server-side encryption"),
        ];
        if let Some((_, what)) = unsupported.iter().find(|(on, _)| *on) {
            return Err(not_with_extract(what));
        }
        let bucket = self.require_bucket(&input.bucket).await?;
        let writer = caller.owner_or(&bucket.owner).to_string();
        let (owner, acl) = crate::access::ownership::Ownership::effective(&self.store.meta, &input.bucket)?
            .new_object(&writer, &bucket.owner, CannedAcl::default(), false)?;
        let attrs = new_version_attrs(&self.store, &input.bucket, None, None, None, None, &writer)?;
        let mut meta: BTreeMap<String, String> =
            input.metadata.take().unwrap_or_default().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
        let prefix = match meta.get(PREFIX).map(|p| p.trim_matches('/')) {
            Some("") | None => String::new(),
            Some(p) => format!("{p}/"),
        };
        meta.remove(EXTRACT);
        CONTROL.iter().for_each(|k| {
            meta.remove(*k);
        });
        let expected = expected_length(&headers, input.content_length)?;
        if expected.is_some_and(|n| n > MAX_PUT_SIZE) {
            return Err(s3_error!(EntityTooLarge, "Your proposed upload exceeds the maximum allowed object size."));
        }
        if let Some(len) = input.content_length {
            let len = u64::try_from(len).unwrap_or(0);
            let fits = self.store.precheck_put(&input.bucket, &input.key, &writer, len).await;
            quota_gate::admit(fits, len, &headers, &mut input.body).await?;
        }

        // The archive's bytes: hashed (its ETag, and every checksum the client declared
        // for it) as the tar reader takes them.
        let ck = ChecksumRequest::from_headers(&headers)?;
        let archive_hash = Arc::new(Mutex::new(BodyHasher::new(&ck.algorithms)));
        let seen = archive_hash.clone();
        let body = body_stream(input.body.take()).map(move |chunk| {
            let chunk = chunk.map_err(|e| std::io::Error::other(ArchiveBodyError(e)))?;
            seen.lock().unwrap_or_else(|p| p.into_inner()).update(&chunk);
            Ok::<Bytes, std::io::Error>(chunk)
        });
        let mut archive = tokio_tar::Archive::new(tokio_util::io::StreamReader::new(body));
        let mut items: Vec<BatchPut> = Vec::new();
        let written = |items: &[BatchPut]| items.iter().map(|i| i.version.data.clone()).collect::<Vec<ObjectData>>();
        let mut inline = 0u64;
        let result: S3Result<()> = async {
            let mut entries = archive.entries().map_err(|e| malformed(format!("not a tar archive: {e}")))?;
            while let Some(entry) = entries.next().await {
                let entry = entry.map_err(read_error)?;
                let kind = entry.header().entry_type();
                let path = entry.path_bytes().map_err(read_error)?.into_owned();
                match kind {
                    EntryType::Directory => continue,
                    EntryType::Regular | EntryType::Continuous => {}
                    other => {
                        return Err(malformed(format!(
                            "entry {:?} is a {other:?}; only files and directories can be extracted",
                            String::from_utf8_lossy(&path)
                        )));
                    }
                }
                if items.len() == MAX_ENTRIES {
                    return Err(malformed(format!("an archive holds at most {MAX_ENTRIES} files: split it")));
                }
                let key = entry_key(&prefix, &path)?;
                if !self.access.may(&auth, "s3:PutObject", &input.bucket, &key)? {
                    return Err(s3_error!(AccessDenied, "Access Denied: s3:PutObject on {key}"));
                }
                let size = entry.effective_size();
                let stream: DataStream = Box::pin(
                    tokio_util::io::ReaderStream::new(entry)
                        .map(|r| r.map_err(|e| ObjectError::Body(Box::new(read_error(e))))),
                );
                let mut hasher = BodyHasher::new(&[]);
                let w = self
                    .store
                    .write_data(&input.bucket, &key, stream, &mut |c| hasher.update(c), Some(size))
                    .await
                    .map_err(errors::object)?;
                let version = ObjectVersion {
                    version_id: None,
                    size: w.size,
                    etag: hasher.finish().etag(),
                    last_modified: now(),
                    content_type: None,
                    content_encoding: stored_content_encoding(None),
                    content_disposition: None,
                    content_language: None,
                    cache_control: None,
                    expires: None,
                    user_meta: meta.clone(),
                    checksums: BTreeMap::new(),
                    owner: owner.clone(),
                    data: w.data,
                    acl,
                };
                if matches!(version.data, ObjectData::Inline(_)) {
                    inline += version.size;
                    if inline > MAX_INLINE_BYTES {
                        // Inline bytes need no freeing: they were never on a disk.
                        return Err(malformed(format!(
                            "an archive's small files may add up to {} MiB (they are committed in one metadata entry): split it",
                            MAX_INLINE_BYTES >> 20
                        )));
                    }
                }
                items.push(BatchPut { key, version, attrs: attrs.clone() });
            }
            Ok(())
        }
        .await;
        // The reader stops at the end-of-archive blocks: what follows (the rest of
        // them, a writer's padding) is still the body, and its digests cover it.
        let result = match result {
            Ok(()) => match archive.into_inner() {
                Ok(mut rest) => {
                    tokio::io::copy(&mut rest, &mut tokio::io::sink()).await.map(|_| ()).map_err(read_error)
                }
                Err(_) => Err(s3_error!(InternalError, "the archive reader is still in use")),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            written(&items).iter().for_each(|d| self.discard_blob(d));
            return Err(e);
        }
        let hasher =
            std::mem::replace(&mut *archive_hash.lock().unwrap_or_else(|p| p.into_inner()), BodyHasher::new(&[]));
        let digests = hasher.finish();
        if let Err(e) = verify_declared(&digests, ck, trailing_headers.as_ref(), input.content_md5.as_deref()) {
            written(&items).iter().for_each(|d| self.discard_blob(d));
            return Err(e);
        }
        if items.is_empty() {
            return Err(malformed("the archive holds no files"));
        }
        let keys: Vec<String> = items.iter().map(|i| i.key.clone()).collect();
        self.store.put_versions(input.bucket.clone(), items).await.map_err(|e| match e {
            ObjectError::InBatch { index, error } => {
                let e = errors::object(*error);
                let message = format!("{}: {}", keys.get(index).map_or("?", String::as_str), e.message().unwrap_or(""));
                S3Error::with_message(e.code().clone(), message)
            }
            other => errors::object(other),
        })?;
        let out = PutObjectOutput { e_tag: Some(ETag::Strong(digests.etag())), ..Default::default() };
        Ok(S3Response::new(out))
    }
}

/// The request body's own error, carried through the tar reader.
#[derive(Debug)]
struct ArchiveBodyError(ObjectError);

impl std::fmt::Display for ArchiveBodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for ArchiveBodyError {}

/// A read of the archive that failed: the body's own error (a broken or silent
/// connection, a bad signature) as it came, otherwise a malformed archive.
fn read_error(e: std::io::Error) -> S3Error {
    match e.into_inner().map(|inner| inner.downcast::<ArchiveBodyError>()) {
        Some(Ok(body)) => errors::object(body.0),
        Some(Err(other)) => malformed(format!("the archive cannot be read: {other}")),
        None => malformed("the archive ends in the middle of an entry"),
    }
}
