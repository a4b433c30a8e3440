//! Asset queries: lists with combined filters and opaque cursors, batch get, stats.
//! A list scans one index of `sm_asset_index` in (created, id) order, the most
//! selective its filters allow (tag, project, status, media type, tenant), checks the
//! other filters on each asset it finds, and stops after [`SCAN_BUDGET`] index
//! entries, so no request walks more than that whatever its filters; a short page
//! with a cursor says "go on".

use super::asset_fields::{self as fields, asset_out, invalid, limit_param};
use super::scope::AssetReach;
use super::{AdminError, read_json, unavailable};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use cairn_api::assets::{self as api, AssetList, BatchGet, BatchGetResult, MAX_BATCH_GET, TypeStats, codes};
use cairn_raft::assets::{Asset, IndexScan, MediaType};
use cairn_raft::schema::Nanos;
use cairn_raft::{AssetQuery, MetaStore};
use s3s::Body;
use sha2::{Digest, Sha256};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// The most index entries one list request reads.
const SCAN_BUDGET: usize = 10_000;

/// The asset `id` if the caller may see it (else `NoSuchAsset`: another tenant's
/// asset is not revealed to exist).
pub(super) fn visible(meta: &MetaStore, reach: &AssetReach, id: &str) -> Result<Asset, AdminError> {
    match meta.asset(id).map_err(unavailable)? {
        Some(a) if reach.covers(meta, &a.tenant)? => Ok(a),
        _ => Err(AdminError::new(404, codes::NO_SUCH_ASSET, format!("there is no asset {id}"))),
    }
}

/// `a` as answers show it, with its latest version.
pub(super) fn describe(meta: &MetaStore, a: &Asset) -> Result<api::AssetInfo, AdminError> {
    let latest = match a.versions {
        0 => None,
        n => meta.asset_version(&a.id, n).map_err(unavailable)?,
    };
    Ok(asset_out(a, latest.as_ref()))
}

/// The tenant a query is about: `named`, or the key's own.
pub(super) fn tenant_of(meta: &MetaStore, reach: &AssetReach, named: Option<String>) -> Result<String, AdminError> {
    let tenant = match named {
        Some(t) => t,
        None => reach.home()?.map(str::to_string).ok_or_else(|| invalid("tenant", "an admin key names the tenant"))?,
    };
    reach.require(meta, &tenant)?;
    Ok(tenant)
}

pub(super) fn time_param(field: &str, v: &str) -> Result<Nanos, AdminError> {
    time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| Nanos::try_from(t.unix_timestamp_nanos()).ok())
        .ok_or_else(|| invalid(field, format!("{field} is an RFC 3339 time")))
}

struct Filters {
    media_type: Option<MediaType>,
    project: Option<String>,
    status: Option<String>,
    tag: Option<(String, String)>,
}

impl Filters {
    /// The index to scan: the most selective filter.
    fn scan(&self) -> IndexScan {
        if let Some((k, v)) = &self.tag {
            IndexScan::Tag(k.clone(), v.clone())
        } else if let Some(p) = &self.project {
            IndexScan::Project(p.clone())
        } else if let Some(s) = &self.status {
            IndexScan::Status(s.clone())
        } else if let Some(t) = self.media_type {
            IndexScan::MediaType(t)
        } else {
            IndexScan::Tenant
        }
    }

    fn admits(&self, a: &Asset) -> bool {
        self.media_type.is_none_or(|t| a.media_type == t)
            && self.project.as_ref().is_none_or(|p| a.project.as_ref() == Some(p))
            && self.status.as_ref().is_none_or(|s| &a.status == s)
            && self.tag.as_ref().is_none_or(|(k, v)| a.tags.get(k) == Some(v))
    }
}

/// What ties a cursor to its query: the first 8 bytes of a hash of everything that
/// shapes the list except the position.
fn fingerprint(q: &AssetQuery, f: &Filters) -> [u8; 8] {
    let text = format!(
        "{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}",
        q.tenant, q.scan, f.media_type, f.project, f.status, f.tag, q.from, q.until, q.descending
    );
    let h = Sha256::digest(text.as_bytes());
    let mut out = [0u8; 8];
    out.copy_from_slice(&h[..8]);
    out
}

fn encode_cursor(print: [u8; 8], (created, id): &(Nanos, String)) -> String {
    B64.encode([&print[..], &created.to_be_bytes(), id.as_bytes()].concat())
}

fn decode_cursor(print: [u8; 8], c: &str) -> Result<(Nanos, String), AdminError> {
    let bad = || AdminError::new(400, codes::INVALID_CURSOR, "the cursor is not one this query gave").at("cursor");
    let raw = B64.decode(c.as_bytes()).map_err(|_| bad())?;
    if raw.len() < 16 || raw[..8] != print {
        return Err(bad());
    }
    let created = Nanos::from_be_bytes(raw[8..16].try_into().map_err(|_| bad())?);
    Ok((created, String::from_utf8(raw[16..].to_vec()).map_err(|_| bad())?))
}

/// `GET assets?...`, or with `trash` `GET assets/trash?...` (the trash's index, by
/// the time each asset went in; the same filters apply).
pub(super) fn list(
    meta: &MetaStore,
    reach: &AssetReach,
    query: Option<&str>,
    trash: bool,
) -> Result<AssetList, AdminError> {
    let mut tenant = None;
    let mut f = Filters { media_type: None, project: None, status: None, tag: None };
    let (mut from, mut until, mut descending, mut cursor, mut limit) = (None, None, false, None, DEFAULT_LIMIT);
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "tenant" => tenant = Some(v.into_owned()),
            "media_type" => f.media_type = Some(fields::media_type(&v)?),
            "project" => f.project = Some(v.into_owned()),
            "status" => f.status = Some(v.into_owned()),
            "tag" => {
                let (k, v) = v.split_once('=').ok_or_else(|| invalid("tag", "tag is KEY=VALUE"))?;
                f.tag = Some((k.to_string(), v.to_string()));
            }
            "created_from" => from = Some(time_param("created_from", &v)?),
            "created_until" => until = Some(time_param("created_until", &v)?),
            "order" => {
                descending = match &*v {
                    "asc" => false,
                    "desc" => true,
                    _ => return Err(invalid("order", "order is asc or desc")),
                }
            }
            "cursor" => cursor = Some(v.into_owned()),
            "limit" => limit = limit_param(&v, MAX_LIMIT)?,
            other => return Err(invalid(other, format!("unknown parameter {other}"))),
        }
    }
    let tenant = tenant_of(meta, reach, tenant)?;
    let mut q = AssetQuery {
        tenant,
        scan: if trash { IndexScan::Trash } else { f.scan() },
        from,
        until,
        after: None,
        descending,
        limit: limit.clamp(256, SCAN_BUDGET),
    };
    let print = fingerprint(&q, &f);
    q.after = cursor.map(|c| decode_cursor(print, &c)).transpose()?;
    let mut assets = Vec::new();
    let mut scanned = 0usize;
    loop {
        let page = meta.asset_positions(&q).map_err(unavailable)?;
        let exhausted = page.len() < q.limit;
        for pos in page {
            scanned += 1;
            if let Some(a) = meta.asset(&pos.1).map_err(unavailable)?
                && f.admits(&a)
            {
                assets.push(describe(meta, &a)?);
                if assets.len() == limit {
                    return Ok(AssetList { assets, next_cursor: Some(encode_cursor(print, &pos)) });
                }
            }
            q.after = Some(pos);
            if scanned >= SCAN_BUDGET {
                let next_cursor = q.after.as_ref().map(|p| encode_cursor(print, p));
                return Ok(AssetList { assets, next_cursor });
            }
        }
        if exhausted {
            return Ok(AssetList { assets, next_cursor: None });
        }
    }
}

/// `POST assets/batch-get`.
pub(super) async fn batch_get(meta: &MetaStore, reach: &AssetReach, body: Body) -> Result<BatchGetResult, AdminError> {
    let req: BatchGet = read_json(body).await?;
    if req.ids.len() > MAX_BATCH_GET {
        return Err(invalid("ids", format!("at most {MAX_BATCH_GET} ids")));
    }
    let mut out = BatchGetResult::default();
    for id in req.ids {
        match visible(meta, reach, &id) {
            Ok(a) => out.assets.push(describe(meta, &a)?),
            Err(e) if e.status == 404 => out.missing.push(id),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// `GET assets/stats?tenant=T`.
pub(super) fn stats(meta: &MetaStore, reach: &AssetReach, query: Option<&str>) -> Result<api::AssetStats, AdminError> {
    let mut tenant = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "tenant" => tenant = Some(v.into_owned()),
            other => return Err(invalid(other, format!("unknown parameter {other}"))),
        }
    }
    let tenant = tenant_of(meta, reach, tenant)?;
    let mut out = api::AssetStats { tenant: tenant.clone(), ..Default::default() };
    for (t, s) in meta.asset_stats(&tenant).map_err(unavailable)? {
        out.total.count += s.count;
        out.total.bytes += s.bytes;
        out.media_types.insert(t.as_str().to_string(), TypeStats { count: s.count, bytes: s.bytes });
    }
    Ok(out)
}
