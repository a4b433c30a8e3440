//! `cairn audit [--since 1h|RFC3339] [--tenant T]`: administrative changes (access keys,
//! policies, ACLs, quotas, tenants, KMS keys, cluster membership), who made them and
//! when, from the replicated metadata through any node (admin key). Each request's own
//! record is in the node's audit files (`docs/audit.md`).

use crate::admin;
use crate::client::Connection;
use cairn_api::audit::AdminEventList;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(clap::Args)]
pub struct AuditArgs {
    /// From this long ago (`90m`, `24h`, `7d`) or this time (RFC 3339) on; default: all.
    #[arg(long)]
    since: Option<String>,
    /// Only changes made by keys of this tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// At most this many events (the oldest first).
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

/// `since` as the API takes it: unix seconds for a duration ago, or the RFC 3339 time.
fn since_param(since: &str) -> anyhow::Result<String> {
    if let Ok(d) = humantime::parse_duration(since) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        return Ok(now.saturating_sub(d).as_secs().to_string());
    }
    Ok(since.to_string())
}

pub async fn run(conn: &Connection, a: AuditArgs) -> anyhow::Result<()> {
    let mut events = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if let Some(s) = &a.since {
            q.append_pair("since", &since_param(s)?);
        }
        if let Some(t) = &a.tenant {
            q.append_pair("tenant", t);
        }
        q.append_pair("limit", &(a.limit - events.len()).clamp(1, 1000).to_string());
        if let Some(c) = &after {
            q.append_pair("after", c);
        }
        let page: AdminEventList = admin::get(conn, &format!("audit?{}", q.finish())).await?;
        events.extend(page.events);
        after = page.next;
        if after.is_none() || events.len() >= a.limit {
            break;
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&AdminEventList { events, next: None })?);
        return Ok(());
    }
    for e in &events {
        let tenant = e.tenant.as_deref().map(|t| format!(" (tenant {t})")).unwrap_or_default();
        println!("{}  {}{}  node {}  {}  {}", e.time, e.access_key, tenant, e.node, e.request_id, e.change);
    }
    Ok(())
}
