//! A tenant's asset feed: the events apply records in `sm_asset_events` with every
//! asset command, read after a cursor as a long poll (JSON) or as Server-Sent Events.
//! Both read the table (so a cursor resumes on any node, after restarts, with nothing
//! missed or repeated) and wait on the change feed for the tenant's next asset change.

use super::asset_fields::{invalid, limit_param};
use super::asset_query::tenant_of;
use super::scope::AssetReach;
use super::{AdminError, unavailable};
use crate::ext::admin::keys::rfc3339;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use bytes::Bytes;
use cairn_api::assets::{AssetEventInfo, AssetEventList, codes};
use cairn_raft::assets::AssetEvent;
use cairn_raft::{Change, MetaStore, Subscription};
use futures::SinkExt;
use s3s::dto::StreamingBlob;
use s3s::{Body, S3Response};
use std::time::Duration;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
const MAX_WAIT_SECS: u64 = 60;
/// How often an idle stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

type Pos = (u64, u32);

fn encode(tenant: &str, (index, seq): Pos) -> String {
    B64.encode(format!("{tenant}:{index}:{seq}"))
}

fn decode(tenant: &str, c: &str) -> Result<Pos, AdminError> {
    let bad = || AdminError::new(400, codes::INVALID_CURSOR, "the cursor is not one this feed gave").at("cursor");
    let raw = String::from_utf8(B64.decode(c.as_bytes()).map_err(|_| bad())?).map_err(|_| bad())?;
    let mut parts = raw.rsplitn(3, ':');
    let (seq, index, of) = (parts.next(), parts.next(), parts.next());
    match (of, index.and_then(|i| i.parse().ok()), seq.and_then(|s| s.parse().ok())) {
        (Some(t), Some(i), Some(s)) if t == tenant => Ok((i, s)),
        _ => Err(bad()),
    }
}

fn info(tenant: &str, p: Pos, e: &AssetEvent) -> AssetEventInfo {
    AssetEventInfo {
        cursor: encode(tenant, p),
        kind: e.kind.as_str().to_string(),
        asset: e.asset.clone(),
        version: (e.version > 0).then_some(e.version),
        at: rfc3339(e.at),
        with: e.with.clone(),
    }
}

/// Waits for the next asset change of `tenant` on the change feed (or a gap, after
/// which the table is read again anyway).
async fn next_change(sub: &mut Subscription, tenant: &str) {
    while let Ok(e) = sub.next().await {
        match &e.change {
            Change::AssetCreated { tenant: t, .. }
            | Change::AssetVersionAdded { tenant: t, .. }
            | Change::AssetUpdated { tenant: t, .. }
            | Change::AssetPurged { tenant: t, .. }
                if t == tenant =>
            {
                return;
            }
            Change::AssetShared { tenant: t, with, .. } if t == tenant || with == tenant => return,
            _ => {}
        }
    }
}

struct Params {
    tenant: String,
    after: Option<Pos>,
    limit: usize,
    wait: u64,
}

fn params(
    meta: &MetaStore,
    reach: &AssetReach,
    query: Option<&str>,
    last_event_id: Option<&str>,
) -> Result<Params, AdminError> {
    let (mut tenant, mut cursor, mut limit, mut wait) = (None, last_event_id.map(str::to_string), DEFAULT_LIMIT, 0);
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "tenant" => tenant = Some(v.into_owned()),
            "cursor" => cursor = Some(v.into_owned()),
            "limit" => limit = limit_param(&v, MAX_LIMIT)?,
            "wait" => {
                wait =
                    v.parse().ok().filter(|n| *n <= MAX_WAIT_SECS).ok_or_else(|| {
                        invalid("wait", format!("wait is a number of seconds from 0 to {MAX_WAIT_SECS}"))
                    })?
            }
            other => return Err(invalid(other, format!("unknown parameter {other}"))),
        }
    }
    let tenant = tenant_of(meta, reach, tenant)?;
    let after = cursor.filter(|c| !c.is_empty()).map(|c| decode(&tenant, &c)).transpose()?;
    Ok(Params { tenant, after, limit, wait })
}

/// `GET assets/events`: the events after the cursor; with `wait`, held until one
/// comes or the wait is over.
pub(super) async fn poll(
    meta: &MetaStore,
    reach: &AssetReach,
    query: Option<&str>,
) -> Result<AssetEventList, AdminError> {
    let p = params(meta, reach, query, None)?;
    // Subscribed before the table is read: a change committed in between still wakes us.
    let mut sub = meta.feed().subscribe(None).map_err(|e| AdminError::new(503, "ServiceUnavailable", e.to_string()))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(p.wait);
    loop {
        let page = meta.asset_events(&p.tenant, p.after, p.limit).map_err(unavailable)?;
        if !page.is_empty() || tokio::time::Instant::now() >= deadline {
            let events: Vec<AssetEventInfo> = page.iter().map(|(pos, e)| info(&p.tenant, *pos, e)).collect();
            let cursor = events.last().map(|e| e.cursor.clone()).or_else(|| p.after.map(|a| encode(&p.tenant, a)));
            return Ok(AssetEventList { events, cursor });
        }
        let _ = tokio::time::timeout_at(deadline, next_change(&mut sub, &p.tenant)).await;
    }
}

/// `GET assets/events/stream`: Server-Sent Events until the client goes away.
pub(super) fn stream(
    meta: &MetaStore,
    reach: &AssetReach,
    query: Option<&str>,
    last_event_id: Option<&str>,
) -> Result<S3Response<Body>, AdminError> {
    let p = params(meta, reach, query, last_event_id)?;
    let mut sub = meta.feed().subscribe(None).map_err(|e| AdminError::new(503, "ServiceUnavailable", e.to_string()))?;
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let meta = meta.clone();
    tokio::spawn(async move {
        let mut after = p.after;
        loop {
            let page = match meta.asset_events(&p.tenant, after, p.limit) {
                Ok(page) => page,
                Err(e) => {
                    let _ = tx.send(Ok(Bytes::from(format!("event: error\ndata: {e}\n\n")))).await;
                    return;
                }
            };
            for (pos, e) in &page {
                let i = info(&p.tenant, *pos, e);
                let data = serde_json::to_string(&i).unwrap_or_default();
                let frame = format!("id: {}\nevent: asset\ndata: {data}\n\n", i.cursor);
                if tx.send(Ok(Bytes::from(frame))).await.is_err() {
                    return;
                }
                after = Some(*pos);
            }
            if page.is_empty() {
                let woke = tokio::time::timeout(KEEP_ALIVE, next_change(&mut sub, &p.tenant)).await;
                if woke.is_err() && tx.send(Ok(Bytes::from_static(b": keep-alive\n\n"))).await.is_err() {
                    return;
                }
            }
        }
    });
    let blob = StreamingBlob::wrap(sync_wrapper::SyncStream::new(rx));
    let mut resp = S3Response::with_status(Body::from(blob), http::StatusCode::OK);
    resp.headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/event-stream"));
    resp.headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    Ok(resp)
}
