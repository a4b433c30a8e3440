//! Bucket operations and the listings that scan a bucket.

use crate::access::{Owners, acl};
use crate::errors;
use crate::listing::{self, Encoder};
use crate::service::{CairnS3, caller};
use crate::timefmt::{now, to_timestamp};
use cairn_raft::schema::{BucketInfo, Command, CommandResult};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// The bucket name Cairn keeps for its own endpoints (`/cairn/...`).
pub const RESERVED_BUCKET: &str = "cairn";

pub fn validate_bucket_name(name: &str) -> S3Result<()> {
    let b = name.as_bytes();
    let ok_chars = b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-');
    let ok_ends = b.first().is_some_and(u8::is_ascii_alphanumeric) && b.last().is_some_and(u8::is_ascii_alphanumeric);
    let ip_like = name.parse::<std::net::Ipv4Addr>().is_ok();
    let valid = (3..=63).contains(&b.len())
        && ok_chars
        && ok_ends
        && !ip_like
        && !name.contains("..")
        && !name.starts_with("xn--")
        && !name.starts_with("sthree-")
        && !name.ends_with("-s3alias")
        && !name.ends_with("--ol-s3");
    if !valid {
        return Err(s3_error!(InvalidBucketName, "The specified bucket is not valid."));
    }
    if name == RESERVED_BUCKET {
        return Err(s3_error!(
            InvalidBucketName,
            "The bucket name {RESERVED_BUCKET} is reserved for Cairn's own endpoints."
        ));
    }
    Ok(())
}

impl CairnS3 {
    /// The bucket, read locally; a miss is confirmed after a read barrier, so a bucket
    /// created through another node a moment ago is never reported missing. (A hit
    /// needs no barrier: apply checks the bucket again for every write.)
    pub(crate) async fn require_bucket(&self, name: &str) -> S3Result<BucketInfo> {
        if let Some(b) = self.store.meta.get_bucket(name).map_err(errors::meta)? {
            return Ok(b);
        }
        self.store.meta.read_barrier().await.map_err(errors::meta)?;
        self.store
            .meta
            .get_bucket(name)
            .map_err(errors::meta)?
            .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist"))
    }

    pub(crate) async fn create_bucket_impl(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let Some(owner) = caller(&req)?.identity.map(|i| i.access_key_id) else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        let acl = acl::from_request(req.input.acl.as_ref().map(|a| a.as_str()), &req.headers)?;
        let name = req.input.bucket;
        validate_bucket_name(&name)?;
        if let Some(loc) = req.input.create_bucket_configuration.as_ref().and_then(|c| c.location_constraint.as_ref())
            && !loc.as_str().is_empty()
            && loc.as_str() != self.store.config.region
        {
            return Err(s3_error!(
                InvalidLocationConstraint,
                "The specified location-constraint is not valid for this endpoint (region {}).",
                self.store.config.region
            ));
        }
        let bucket = BucketInfo { name: name.clone(), owner: owner.clone(), created: now(), acl, policy: None };
        let cmd = Command::CreateBucket { bucket };
        match self.store.meta.propose(cmd).await.map_err(errors::meta)? {
            CommandResult::Ok => {}
            // us-east-1 answers a repeated create by the owner with 200 (a legacy of
            // that region that clients rely on); every other region with 409.
            CommandResult::BucketAlreadyExists { owner: existing }
                if existing == owner && self.store.config.region == "us-east-1" => {}
            CommandResult::BucketAlreadyExists { owner: existing } if existing == owner => {
                return Err(s3_error!(
                    BucketAlreadyOwnedByYou,
                    "Your previous request to create the named bucket succeeded and you already own it."
                ));
            }
            CommandResult::BucketAlreadyExists { .. } => {
                return Err(s3_error!(BucketAlreadyExists, "The requested bucket name is not available."));
            }
            other => return Err(unexpected(other)),
        }
        Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{name}")) }))
    }

    pub(crate) async fn delete_bucket_impl(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let name = req.input.bucket;
        // Incomplete multipart uploads do not keep a bucket alive (as on AWS): with no
        // object left they are aborted, and the delete is tried again. Whether the
        // bucket is empty is still decided by apply, so an object or upload created
        // meanwhile makes it BucketNotEmpty.
        for attempt in 0..2 {
            let cmd = Command::DeleteBucket { name: name.clone() };
            match self.store.meta.propose(cmd).await.map_err(errors::meta)? {
                CommandResult::Ok => {
                    return Ok(S3Response::with_status(DeleteBucketOutput {}, http::StatusCode::NO_CONTENT));
                }
                CommandResult::NoSuchBucket => {
                    return Err(s3_error!(NoSuchBucket, "The specified bucket does not exist"));
                }
                CommandResult::BucketNotEmpty
                    if attempt == 0 && !self.store.meta.bucket_has_objects(&name).map_err(errors::meta)? =>
                {
                    self.abort_all_uploads(&name).await?;
                }
                CommandResult::BucketNotEmpty => {
                    return Err(s3_error!(BucketNotEmpty, "The bucket you tried to delete is not empty"));
                }
                other => return Err(unexpected(other)),
            }
        }
        Err(s3_error!(BucketNotEmpty, "The bucket you tried to delete is not empty"))
    }

    /// Aborts every incomplete multipart upload of a bucket, a page at a time.
    async fn abort_all_uploads(&self, bucket: &str) -> S3Result<()> {
        loop {
            let page = self.store.meta.list_uploads(bucket, "", None, None, None, 1000).map_err(errors::meta)?;
            if page.uploads.is_empty() {
                return Ok(());
            }
            for u in page.uploads {
                match self.abort_upload(u.bucket.clone(), u.key.clone(), u.upload_id.clone()).await {
                    Ok(()) => {}
                    Err(e) if *e.code() == s3s::S3ErrorCode::NoSuchUpload => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }

    pub(crate) async fn list_buckets_impl(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let Some(me) = caller(&req)?.identity else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        let input = req.input;
        let limit = match input.max_buckets {
            Some(n) if !(1..=10_000).contains(&n) => {
                return Err(s3_error!(InvalidArgument, "max-buckets must be between 1 and 10000"));
            }
            Some(n) => n as usize,
            None => 10_000,
        };
        let after = input.continuation_token.as_deref().map(listing::decode_token).transpose()?;
        let prefix = input.prefix.unwrap_or_default();
        let mut found = Vec::new();
        let mut cursor = after;
        let mut truncated = false;
        'scan: loop {
            let batch = self.store.meta.list_buckets(cursor.as_deref(), 1000).map_err(errors::meta)?;
            if batch.is_empty() {
                break;
            }
            for b in &batch {
                if !b.name.starts_with(prefix.as_str()) {
                    if b.name.as_str() > prefix.as_str() && !prefix.is_empty() {
                        break 'scan;
                    }
                    continue;
                }
                if !me.admin && b.owner != me.access_key_id {
                    continue;
                }
                if found.len() == limit {
                    truncated = true;
                    break 'scan;
                }
                found.push(b.clone());
            }
            cursor = batch.last().map(|b| b.name.clone());
        }
        let token = truncated.then(|| found.last().map(|b| listing::encode_token(&b.name))).flatten();
        let buckets = found
            .into_iter()
            .map(|b| Bucket {
                name: Some(b.name),
                creation_date: Some(to_timestamp(b.created)),
                bucket_region: Some(self.store.config.region.clone()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            continuation_token: token,
            owner: Some(Owners::new(&self.store.meta).get(&me.access_key_id)),
            prefix: (!prefix.is_empty()).then_some(prefix),
        }))
    }

    pub(crate) async fn head_bucket_impl(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.store.config.region.clone()),
            ..Default::default()
        }))
    }

    pub(crate) async fn get_bucket_location_impl(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        // S3 reports us-east-1 as an empty LocationConstraint.
        let region = &self.store.config.region;
        let location_constraint = (region != "us-east-1").then(|| BucketLocationConstraint::from(region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput { location_constraint }))
    }

    /// The ordered range scan behind every listing, with S3's parameter rules.
    /// A listing page, as of the read barrier the authorizer ran for this request.
    async fn scan(&self, req: ScanRequest<'_>) -> S3Result<Scan> {
        self.require_bucket(req.bucket).await?;
        let enc = Encoder::new(req.encoding_type)?;
        let max = listing::max_keys(req.max_keys)?;
        let prefix = req.prefix.unwrap_or_default().to_string();
        // An empty delimiter or marker means none, as in S3.
        let delimiter = req.delimiter.filter(|d| !d.is_empty()).map(str::to_string);
        let after = req.after.filter(|a| !a.is_empty());
        let page = self
            .store
            .meta
            .list_objects(req.bucket, &prefix, delimiter.as_deref(), after, max)
            .map_err(errors::meta)?;
        Ok(Scan { enc, max, prefix, delimiter, page })
    }

    pub(crate) async fn list_objects_v2_impl(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let after = match &input.continuation_token {
            Some(t) => Some(listing::decode_token(t)?),
            None => input.start_after.clone().filter(|s| !s.is_empty()),
        };
        let Scan { enc, max, prefix, delimiter, page } = self
            .scan(ScanRequest {
                bucket: &input.bucket,
                encoding_type: input.encoding_type.as_ref(),
                max_keys: input.max_keys,
                prefix: input.prefix.as_deref(),
                delimiter: input.delimiter.as_deref(),
                after: after.as_deref(),
            })
            .await?;
        let delimiter = delimiter.as_deref();
        let fetch_owner = input.fetch_owner.unwrap_or(false);
        let mut owners = Owners::new(&self.store.meta);
        let contents: Vec<Object> = page
            .objects
            .iter()
            .map(|(k, v)| listing::object_entry(&enc, k, v, fetch_owner.then(|| owners.get(&v.owner))))
            .collect();
        let key_count = (page.objects.len() + page.common_prefixes.len()) as i32;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(enc.encode(&prefix)),
            max_keys: Some(max as i32),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            is_truncated: Some(page.is_truncated),
            next_continuation_token: page
                .is_truncated
                .then(|| page.next_marker.as_deref().map(listing::encode_token))
                .flatten(),
            common_prefixes: listing::common_prefixes(&enc, &page),
            contents: (!contents.is_empty()).then_some(contents),
            delimiter: enc.encode_opt(delimiter),
            encoding_type: input.encoding_type,
            start_after: enc.encode_opt(input.start_after.as_deref()),
            request_charged: None,
        }))
    }

    pub(crate) async fn list_objects_impl(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let Scan { enc, max, prefix, delimiter, page } = self
            .scan(ScanRequest {
                bucket: &input.bucket,
                encoding_type: input.encoding_type.as_ref(),
                max_keys: input.max_keys,
                prefix: input.prefix.as_deref(),
                delimiter: input.delimiter.as_deref(),
                after: input.marker.as_deref(),
            })
            .await?;
        let delimiter = delimiter.as_deref();
        let mut owners = Owners::new(&self.store.meta);
        let contents: Vec<Object> =
            page.objects.iter().map(|(k, v)| listing::object_entry(&enc, k, v, Some(owners.get(&v.owner)))).collect();
        // v1 returns NextMarker only when a delimiter is given; clients use the
        // last key otherwise.
        let next_marker =
            (page.is_truncated && delimiter.is_some()).then(|| enc.encode_opt(page.next_marker.as_deref())).flatten();
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(enc.encode(&prefix)),
            marker: Some(enc.encode(input.marker.as_deref().unwrap_or(""))),
            max_keys: Some(max as i32),
            is_truncated: Some(page.is_truncated),
            common_prefixes: listing::common_prefixes(&enc, &page),
            contents: (!contents.is_empty()).then_some(contents),
            delimiter: enc.encode_opt(delimiter),
            next_marker,
            encoding_type: input.encoding_type,
            request_charged: None,
        }))
    }

    pub(crate) async fn list_object_versions_impl(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let input = req.input;
        // Without versioning every key has exactly one version, "null": the key
        // marker alone positions the scan.
        let Scan { enc, max, prefix, delimiter, page } = self
            .scan(ScanRequest {
                bucket: &input.bucket,
                encoding_type: input.encoding_type.as_ref(),
                max_keys: input.max_keys,
                prefix: input.prefix.as_deref(),
                delimiter: input.delimiter.as_deref(),
                after: input.key_marker.as_deref(),
            })
            .await?;
        let delimiter = delimiter.as_deref();
        let mut owners = Owners::new(&self.store.meta);
        let versions: Vec<_> =
            page.objects.iter().map(|(k, v)| listing::version_entry(&enc, k, v, owners.get(&v.owner))).collect();
        let next_key_marker = page.is_truncated.then(|| enc.encode_opt(page.next_marker.as_deref())).flatten();
        Ok(S3Response::new(ListObjectVersionsOutput {
            common_prefixes: listing::common_prefixes(&enc, &page),
            delete_markers: None,
            delimiter: enc.encode_opt(delimiter),
            encoding_type: input.encoding_type,
            is_truncated: Some(page.is_truncated),
            key_marker: Some(enc.encode(input.key_marker.as_deref().unwrap_or(""))),
            max_keys: Some(max as i32),
            name: Some(input.bucket),
            next_version_id_marker: next_key_marker.as_ref().map(|_| "null".to_string()),
            next_key_marker,
            prefix: Some(enc.encode(&prefix)),
            request_charged: None,
            version_id_marker: input.version_id_marker,
            versions: (!versions.is_empty()).then_some(versions),
        }))
    }
}

struct ScanRequest<'a> {
    bucket: &'a str,
    encoding_type: Option<&'a EncodingType>,
    max_keys: Option<i32>,
    prefix: Option<&'a str>,
    delimiter: Option<&'a str>,
    after: Option<&'a str>,
}

struct Scan {
    enc: Encoder,
    max: usize,
    prefix: String,
    delimiter: Option<String>,
    page: cairn_raft::schema::ListPage,
}

pub fn unexpected(r: CommandResult) -> s3s::S3Error {
    tracing::error!(result = ?r, "unexpected metadata result");
    s3_error!(InternalError, "unexpected metadata result")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.1", "a1b", &"a".repeat(63)] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "Abc", "a_b", "-ab", "ab-", "a..b", "192.168.1.1", "xn--ab", "cairn", &"a".repeat(64)] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }
}
