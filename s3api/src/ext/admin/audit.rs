//! `GET /cairn/admin/v1/audit`: the administrative audit events of the replicated
//! metadata (`cairn_raft::admin_audit`), oldest first, paged with an opaque cursor.

use super::keys::rfc3339;
use super::{Admin, AdminError};
use cairn_api::audit::{AdminEventInfo, AdminEventList};

const MAX_PAGE: usize = 1000;

impl Admin {
    pub(super) async fn audit_events(&self, query: Option<&str>) -> Result<AdminEventList, AdminError> {
        let bad = |field: &str, msg: &str| AdminError::new(400, "InvalidRequest", msg.to_string()).at(field);
        let mut since = 0i64;
        let mut tenant = None;
        let mut limit = MAX_PAGE;
        let mut after = None;
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*k {
                "since" => since = parse_time(&v).ok_or_else(|| bad("since", "since is RFC 3339 or unix seconds"))?,
                "tenant" => tenant = Some(v.into_owned()),
                "limit" => {
                    limit = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE).contains(n))
                        .ok_or_else(|| bad("limit", "limit is 1 to 1000"))?
                }
                "after" => after = Some(hex::decode(&*v).map_err(|_| bad("after", "after is a cursor from `next`"))?),
                _ => return Err(bad(&k, "unknown parameter: since, tenant, limit, after")),
            }
        }
        self.store.meta.read_barrier().await.map_err(|e| AdminError::new(503, "ServiceUnavailable", e.to_string()))?;
        let mut events = Vec::new();
        let mut cursor = after;
        let mut next = None;
        // A tenant filter may skip many: scan page by page until `limit` match or the end.
        loop {
            let page = self
                .store
                .meta
                .admin_events(since, cursor.as_deref(), MAX_PAGE)
                .map_err(|e| AdminError::new(503, "ServiceUnavailable", e.to_string()))?;
            let full = page.len() == MAX_PAGE;
            for (key, e) in page {
                cursor = Some(key.clone());
                if tenant.as_ref().is_some_and(|t| e.actor.tenant.as_ref() != Some(t)) {
                    continue;
                }
                events.push(AdminEventInfo {
                    time: rfc3339(e.at),
                    access_key: e.actor.access_key,
                    tenant: e.actor.tenant,
                    node: e.actor.node,
                    request_id: e.actor.request_id,
                    change: serde_json::to_value(&e.change).unwrap_or_default(),
                });
                if events.len() == limit {
                    next = Some(hex::encode(key));
                    break;
                }
            }
            if next.is_some() || !full {
                break;
            }
        }
        Ok(AdminEventList { events, next })
    }
}

fn parse_time(v: &str) -> Option<i64> {
    if let Ok(secs) = v.parse::<i64>() {
        return secs.checked_mul(1_000_000_000);
    }
    let t = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos()).ok()
}
