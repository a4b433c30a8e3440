//! Shares: an asset shared with another tenant without copying a byte. The owner's
//! keys share, list and revoke (`assets/ID/shares`); the other tenant's keys list what
//! they received (`assets/shared`), read those assets' records, and read the bytes
//! with S3 GetObject and their own keys, which the authorizer allows for exactly the
//! shared assets' objects (`access/shares.rs`). Apply records every share in the
//! metadata, so a revocation counts on every node from its commit.

use super::asset_fields::{asset_out, invalid, limit_param};
use super::asset_query::{describe, visible};
use super::scope::AssetReach;
use super::{AdminError, V1, read_json, unavailable};
use crate::ext::admin::keys::rfc3339;
use crate::timefmt::now;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use cairn_api::assets::{IncomingList, IncomingShare, ShareInfo, ShareList, ShareRequest, codes};
use cairn_raft::MetaStore;
use cairn_raft::assets::{Asset, Share, SharePermission};
use cairn_raft::schema::Nanos;
use s3s::Body;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

pub(super) fn share_out(s: &Share) -> ShareInfo {
    ShareInfo {
        asset: s.asset.clone(),
        owner: s.owner.clone(),
        tenant: s.tenant.clone(),
        permission: s.permission.as_str().to_string(),
        created: rfc3339(s.created),
        created_by: s.created_by.clone(),
    }
}

/// Asset `id` for a read: the caller's own (as [`visible`]), or one shared with the
/// caller's tenant and not in the trash.
pub(super) fn readable(meta: &MetaStore, reach: &AssetReach, id: &str) -> Result<Asset, AdminError> {
    match visible(meta, reach, id) {
        Err(e) if e.status == 404 => {
            let shared = match (reach.home(), meta.asset(id).map_err(unavailable)?) {
                (Ok(Some(t)), Some(a)) if a.trashed_at.is_none() => {
                    meta.asset_share(id, t).map_err(unavailable)?.is_some().then_some(a)
                }
                _ => None,
            };
            shared.ok_or(e)
        }
        other => other,
    }
}

fn list(meta: &MetaStore, id: &str) -> Result<ShareList, AdminError> {
    Ok(ShareList { shares: meta.asset_shares(id).map_err(unavailable)?.iter().map(share_out).collect() })
}

impl V1 {
    /// `POST assets/ID/shares`.
    pub(super) async fn share(
        &self,
        caller: &str,
        reach: &AssetReach,
        id: &str,
        body: Body,
    ) -> Result<ShareInfo, AdminError> {
        let meta = &self.store.meta;
        let req: ShareRequest = read_json(body).await?;
        visible(meta, reach, id)?;
        let permission = match req.permission.as_deref() {
            None => SharePermission::Read,
            Some(p) => SharePermission::parse(p)
                .ok_or_else(|| invalid("permission", "a share's permission is read or read_annotate"))?,
        };
        if req.tenant.is_empty() {
            return Err(invalid("tenant", "name the tenant to share with"));
        }
        self.store
            .share_asset(id, &req.tenant, permission, now(), caller)
            .await
            .map_err(|e| super::assets::asset_error(e, ""))?;
        meta.read_barrier().await.map_err(unavailable)?;
        let s = meta.asset_share(id, &req.tenant).map_err(unavailable)?;
        s.as_ref()
            .map(share_out)
            .ok_or_else(|| AdminError::new(503, "ServiceUnavailable", "the share is not readable here yet"))
    }

    /// `DELETE assets/ID/shares/TENANT`.
    pub(super) async fn revoke(&self, reach: &AssetReach, id: &str, tenant: &str) -> Result<ShareList, AdminError> {
        let meta = &self.store.meta;
        visible(meta, reach, id)?;
        self.store.revoke_share(id, tenant, now()).await.map_err(|e| super::assets::asset_error(e, ""))?;
        meta.read_barrier().await.map_err(unavailable)?;
        list(meta, id)
    }
}

/// `GET assets/ID/shares`.
pub(super) fn shares(meta: &MetaStore, reach: &AssetReach, id: &str) -> Result<ShareList, AdminError> {
    visible(meta, reach, id)?;
    list(meta, id)
}

/// `GET assets/shared`: what the caller's tenant received, newest share last.
pub(super) fn incoming(meta: &MetaStore, reach: &AssetReach, query: Option<&str>) -> Result<IncomingList, AdminError> {
    let (mut tenant, mut cursor, mut limit) = (None, None, DEFAULT_LIMIT);
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "tenant" => tenant = Some(v.into_owned()),
            "cursor" => cursor = Some(v.into_owned()),
            "limit" => limit = limit_param(&v, MAX_LIMIT)?,
            other => return Err(invalid(other, format!("unknown parameter {other}"))),
        }
    }
    let tenant = super::asset_query::tenant_of(meta, reach, tenant)?;
    let bad = || AdminError::new(400, codes::INVALID_CURSOR, "the cursor is not one this list gave").at("cursor");
    let after = match cursor {
        Some(c) => {
            let raw = String::from_utf8(B64.decode(c.as_bytes()).map_err(|_| bad())?).map_err(|_| bad())?;
            let mut parts = raw.splitn(3, ':');
            match (parts.next(), parts.next().and_then(|t| t.parse::<Nanos>().ok()), parts.next()) {
                (Some(t), Some(at), Some(id)) if t == tenant => Some((at, id.to_string())),
                _ => return Err(bad()),
            }
        }
        None => None,
    };
    let page = meta.incoming_shares(&tenant, after, limit).map_err(unavailable)?;
    let next_cursor =
        (page.len() == limit).then(|| page.last().map(|(at, id)| B64.encode(format!("{tenant}:{at}:{id}")))).flatten();
    let mut shares = Vec::new();
    for (_, id) in page {
        let (Some(a), Some(s)) =
            (meta.asset(&id).map_err(unavailable)?, meta.asset_share(&id, &tenant).map_err(unavailable)?)
        else {
            continue;
        };
        if a.trashed_at.is_some() {
            continue;
        }
        let info = describe(meta, &a).unwrap_or_else(|_| asset_out(&a, None));
        shares.push(IncomingShare { share: share_out(&s), asset: info });
    }
    Ok(IncomingList { shares, next_cursor })
}
