//! Content: which of a tenant's versions hold given bytes (the lookup before an
//! upload, and instant upload: a new version pointing at stored bytes), which content
//! a tenant holds more than once, and which uploads in progress are of given content.
//! Every lookup is a range scan of the tenant's own content index (`H<tenant>\0…`,
//! `raft/src/assets.rs`): nothing of another tenant can be found through it.

use super::asset_fields::{self as fields, invalid};
use super::asset_query::tenant_of;
use super::scope::AssetReach;
use super::{AdminError, V1, unavailable};
use crate::access::Identity;
use crate::ext::admin::keys::rfc3339;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use cairn_api::assets::{
    ContentMatch, ContentMatches, DuplicateGroup, DuplicateReport, PendingUpload, PendingUploads, UPLOAD_SHA256_META,
    UploadedPart, VersionRef, codes,
};
use cairn_api::tenants::codes::ACCESS_DENIED;
use cairn_raft::MetaStore;
use cairn_raft::assets::ObjectRef;

/// Most matches one lookup answers.
const MAX_MATCHES: usize = 100;
/// The most content entries one duplicates page reads.
const SCAN_BUDGET: usize = 10_000;
/// The most uploads of a bucket one content search reads.
const UPLOAD_BUDGET: usize = 10_000;

fn params(query: Option<&str>, allowed: &[&str]) -> Result<Vec<(String, String)>, AdminError> {
    let mut out = Vec::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if !allowed.contains(&&*k) {
            return Err(invalid(&k, format!("unknown parameter {k}")));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

fn get<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn size_param(p: &[(String, String)]) -> Result<Option<u64>, AdminError> {
    get(p, "size").map(|s| s.parse().map_err(|_| invalid("size", "size is a number of bytes"))).transpose()
}

/// The object the first version of `tenant` holding `sha256` of `size` bytes points
/// at, if any.
pub(super) fn first_holder(
    meta: &MetaStore,
    tenant: &str,
    sha256: &str,
    size: u64,
) -> Result<Option<ObjectRef>, AdminError> {
    for (_, _, id, number) in meta.asset_contents(tenant, sha256, Some(size), MAX_MATCHES).map_err(unavailable)? {
        if let Some(v) = meta.asset_version(&id, number).map_err(unavailable)? {
            return Ok(Some(v.object));
        }
    }
    Ok(None)
}

/// `GET assets/content?sha256=X[&size=N][&tenant=T]`.
pub(super) fn lookup(meta: &MetaStore, reach: &AssetReach, query: Option<&str>) -> Result<ContentMatches, AdminError> {
    let p = params(query, &["sha256", "size", "tenant"])?;
    let sha =
        fields::sha256("sha256", get(&p, "sha256").ok_or_else(|| invalid("sha256", "name the content: sha256=HEX"))?)?;
    let size = size_param(&p)?;
    let tenant = tenant_of(meta, reach, get(&p, "tenant").map(str::to_string))?;
    let mut matches = Vec::new();
    for (_, size, id, number) in meta.asset_contents(&tenant, &sha, size, MAX_MATCHES).map_err(unavailable)? {
        if let Some(v) = meta.asset_version(&id, number).map_err(unavailable)? {
            matches.push(ContentMatch { asset: id, version: number, size, object: fields::object_to_api(&v.object) });
        }
    }
    Ok(ContentMatches { sha256: sha, matches })
}

/// `GET assets/duplicates?tenant=T[&cursor=C]`: content held by two versions or
/// more, in hash order; a page reads at most [`SCAN_BUDGET`] entries.
pub(super) fn duplicates(
    meta: &MetaStore,
    reach: &AssetReach,
    query: Option<&str>,
) -> Result<DuplicateReport, AdminError> {
    let p = params(query, &["tenant", "cursor"])?;
    let tenant = tenant_of(meta, reach, get(&p, "tenant").map(str::to_string))?;
    let bad = || AdminError::new(400, codes::INVALID_CURSOR, "the cursor is not one this report gave").at("cursor");
    let after = match get(&p, "cursor") {
        Some(c) => {
            let raw = String::from_utf8(B64.decode(c.as_bytes()).map_err(|_| bad())?).map_err(|_| bad())?;
            let (sha, size) = raw.split_once(':').ok_or_else(bad)?;
            Some((sha.to_string(), size.parse::<u64>().map_err(|_| bad())?))
        }
        None => None,
    };
    let entries = meta
        .asset_contents_after(&tenant, after.as_ref().map(|(s, n)| (s.as_str(), *n)), SCAN_BUDGET)
        .map_err(unavailable)?;
    let full = entries.len() == SCAN_BUDGET;
    let mut groups: Vec<DuplicateGroup> = Vec::new();
    let mut last: Option<(String, u64)> = None;
    let mut current: Vec<VersionRef> = Vec::new();
    let close = |key: Option<(String, u64)>, versions: &mut Vec<VersionRef>, groups: &mut Vec<DuplicateGroup>| {
        if let Some((sha256, size)) = key
            && versions.len() > 1
        {
            groups.push(DuplicateGroup { sha256, size, versions: std::mem::take(versions) });
        }
        versions.clear();
    };
    // A full page may end inside a group: that group is left for the next page.
    let cut = if full { entries.last().map(|(s, n, ..)| (s.clone(), *n)) } else { None };
    for (sha, size, asset, version) in entries {
        if cut.as_ref() == Some(&(sha.clone(), size)) {
            break;
        }
        if last.as_ref() != Some(&(sha.clone(), size)) {
            close(last.take(), &mut current, &mut groups);
            last = Some((sha, size));
        }
        current.push(VersionRef { asset, version });
    }
    let resume = last.clone();
    close(last, &mut current, &mut groups);
    let next_cursor = full.then(|| resume.map(|(s, n)| B64.encode(format!("{s}:{n}")))).flatten();
    Ok(DuplicateReport { groups, next_cursor })
}

impl V1 {
    /// `GET assets/uploads?bucket=B&sha256=X[&key=K]`: the uploads in progress in the
    /// bucket marked with that content's hash, for a client that lost its own state;
    /// the caller must be allowed to list the bucket's uploads.
    pub(super) fn uploads_by_content(
        &self,
        caller: &str,
        reach: &AssetReach,
        query: Option<&str>,
    ) -> Result<PendingUploads, AdminError> {
        let meta = &self.store.meta;
        reach.home()?;
        let p = params(query, &["bucket", "sha256", "key"])?;
        let bucket = get(&p, "bucket").ok_or_else(|| invalid("bucket", "name the bucket: bucket=B"))?;
        let sha = fields::sha256("sha256", get(&p, "sha256").ok_or_else(|| invalid("sha256", "sha256=HEX"))?)?;
        let prefix = get(&p, "key").unwrap_or("");
        let key = meta
            .get_access_key(caller)
            .map_err(unavailable)?
            .ok_or_else(|| AdminError::new(403, ACCESS_DENIED, "the signing key no longer exists"))?;
        if self.access.may_do(&Identity::of(&key), "ListMultipartUploads", bucket, None, None).is_err() {
            return Err(AdminError::new(403, ACCESS_DENIED, format!("this key may not list the uploads of {bucket}"))
                .at("bucket"));
        }
        let mut out = PendingUploads::default();
        let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
        let mut read = 0;
        while read < UPLOAD_BUDGET {
            let page = meta
                .list_uploads(bucket, prefix, None, key_marker.as_deref(), id_marker.as_deref(), 1000)
                .map_err(unavailable)?;
            read += page.uploads.len().max(1);
            for u in &page.uploads {
                if u.template.user_meta.get(UPLOAD_SHA256_META) != Some(&sha) || !u.key.starts_with(prefix) {
                    continue;
                }
                let mut parts = Vec::new();
                let mut after = 0;
                loop {
                    let (batch, more) = meta.list_parts(&u.upload_id, after, 1000).map_err(unavailable)?;
                    for part in &batch {
                        parts.push(UploadedPart { number: part.number, size: part.size, etag: part.etag.clone() });
                        after = part.number;
                    }
                    if !more || batch.is_empty() {
                        break;
                    }
                }
                out.uploads.push(PendingUpload {
                    bucket: u.bucket.clone(),
                    key: u.key.clone(),
                    upload_id: u.upload_id.clone(),
                    initiated: rfc3339(u.initiated),
                    parts,
                });
            }
            if !page.is_truncated {
                break;
            }
            (key_marker, id_marker) = (page.next_key_marker, page.next_upload_id_marker);
        }
        Ok(out)
    }
}
