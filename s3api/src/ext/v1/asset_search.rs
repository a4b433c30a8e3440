//! `GET assets/search`: full-text search over a tenant's assets (names, tags, text
//! metadata) and name prefix search, answered from the node's search index
//! (`cairn-search`), which waits a moment to catch up with what this node has
//! applied, so a registration acknowledged before the call is found. The index
//! answers ids only; the records are read from the metadata.

use super::asset_fields::{invalid, limit_param};
use super::asset_query::{describe, tenant_of};
use super::scope::AssetReach;
use super::{AdminError, V1, unavailable};
use cairn_api::assets::AssetList;
use cairn_search::{MAX_RESULTS, SearchError};
use std::time::Duration;

/// How long a search waits for the index to catch up with this node.
const CATCH_UP: Duration = Duration::from_secs(2);

impl V1 {
    pub(super) async fn search(&self, reach: &AssetReach, query: Option<&str>) -> Result<AssetList, AdminError> {
        let meta = &self.store.meta;
        let Some(index) = &self.search else {
            return Err(AdminError::new(501, "NotImplemented", "this node has no search index"));
        };
        let (mut tenant, mut q, mut prefix, mut limit) = (None, None, None, 20usize);
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*k {
                "tenant" => tenant = Some(v.into_owned()),
                "q" => q = Some(v.into_owned()),
                "name_prefix" => prefix = Some(v.into_owned()),
                "limit" => limit = limit_param(&v, MAX_RESULTS)?,
                other => return Err(invalid(other, format!("unknown parameter {other}"))),
            }
        }
        let tenant = tenant_of(meta, reach, tenant)?;
        let head =
            meta.feed().subscribe(None).map_err(|e| AdminError::new(503, "ServiceUnavailable", e.to_string()))?;
        if !index.caught_up(head.position(), CATCH_UP).await {
            tracing::debug!("asset search answered from an index that is still catching up");
        }
        let ids = match (q.as_deref(), prefix.as_deref()) {
            (Some(q), None) if !q.trim().is_empty() => index.search(&tenant, q, limit),
            (None, Some(p)) if !p.is_empty() => index.name_prefix(&tenant, p, limit),
            _ => return Err(invalid("q", "give q (words to search for) or name_prefix, one of them")),
        };
        let ids = ids.map_err(|e| match e {
            SearchError::Query(m) => invalid("q", format!("the query does not parse: {m}")),
            SearchError::Index(m) => AdminError::new(503, "ServiceUnavailable", m),
        })?;
        let mut assets = Vec::new();
        for id in ids {
            if let Some(a) = meta.asset(&id).map_err(unavailable)?
                && a.tenant == tenant
                && a.trashed_at.is_none()
            {
                assets.push(describe(meta, &a)?);
            }
        }
        Ok(cairn_api::assets::AssetList { assets, next_cursor: None })
    }
}
