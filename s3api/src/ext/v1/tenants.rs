//! `tenants`: create, list children (cursor paging, in name order), describe, set the
//! quota, delete, usage (the tenant, and the first page of its buckets and of its
//! children, each list paged on by its own sub-resource) and usage history (the
//! samples apply records once an hour). Usage is read after the read barrier, so it
//! includes every write acknowledged before the call.

use super::scope::Scope;
use super::{AdminError, V1, answer, answer_status, method_not_allowed, object_error, read_json, unavailable};
use crate::ext::admin::keys::rfc3339;
use crate::timefmt::now;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use cairn_api::tenants::codes::{INVALID_REQUEST, NO_SUCH_TENANT};
use cairn_api::tenants::{
    BucketQuota, BucketUsageList, CreateTenant, Deleted, Quota, SetQuota, TenantInfo, TenantList, TenantUsage,
    UsageHistory, UsageSample, Used,
};
use cairn_raft::MetaStore;
use cairn_raft::schema::{self, Pool, Tenant};
use http::{Method, StatusCode};
use rand::Rng;
use s3s::{Body, S3Response};

const MAX_NAME: usize = 128;
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

pub(super) fn to_api(q: schema::Quota) -> Quota {
    Quota { bytes: q.bytes, objects: q.objects }
}

pub(super) fn from_api(q: Quota) -> schema::Quota {
    schema::Quota { bytes: q.bytes, objects: q.objects }
}

pub(super) fn used(meta: &MetaStore, pool: &Pool) -> Result<Used, AdminError> {
    let u = meta.pool_usage(pool).map_err(unavailable)?;
    let classes = meta
        .class_usage(pool)
        .map_err(unavailable)?
        .into_iter()
        .map(|(class, c)| cairn_api::admin::ClassUsage { class, objects: c.objects, bytes: c.bytes })
        .collect();
    Ok(Used { bytes: u.bytes, objects: u.objects, classes })
}

fn invalid(message: impl Into<String>) -> AdminError {
    AdminError::new(400, INVALID_REQUEST, message)
}

fn no_such_tenant(id: &str) -> AdminError {
    AdminError::new(404, NO_SUCH_TENANT, format!("there is no tenant {id}"))
}

pub(super) fn describe(meta: &MetaStore, t: &Tenant) -> Result<TenantInfo, AdminError> {
    let mut path = meta.tenant_path(&t.id).map_err(unavailable)?;
    path.reverse();
    Ok(TenantInfo {
        id: t.id.clone(),
        name: t.name.clone(),
        parent: t.parent.clone(),
        path,
        quota: to_api(t.quota),
        warn_percent: t.warn_percent.clone(),
        created: rfc3339(t.created),
        used: used(meta, &Pool::Tenant(t.id.clone()))?,
    })
}

pub(super) fn get(meta: &MetaStore, id: &str) -> Result<Tenant, AdminError> {
    meta.tenant(id).map_err(unavailable)?.ok_or_else(|| no_such_tenant(id))
}

fn check_id(id: &str) -> Result<(), AdminError> {
    let ok = !id.is_empty()
        && id.len() <= 63
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(()) } else { Err(invalid("a tenant id has 1 to 63 characters a-z, 0-9 and -")) }
}

fn check_name(name: &str) -> Result<(), AdminError> {
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(invalid(format!("a tenant name has 1 to {MAX_NAME} characters and no control characters")));
    }
    Ok(())
}

fn check_warn(w: &[u8]) -> Result<(), AdminError> {
    if w.len() > 8 || w.iter().any(|p| *p == 0 || *p > 100) {
        return Err(invalid("warn_percent holds at most 8 percentages from 1 to 100"));
    }
    Ok(())
}

impl V1 {
    pub(super) async fn tenants_call(
        &self,
        scope: &Scope,
        method: &Method,
        rest: &[&str],
        query: Option<&str>,
        body: Body,
    ) -> S3Response<Body> {
        let meta = &self.store.meta;
        match (method, rest) {
            (&Method::POST, []) => match self.create(scope, body).await {
                Ok((info, true)) => answer_status(StatusCode::CREATED, Ok(info)),
                Ok((info, false)) => answer(Ok(info)),
                Err(e) => answer::<()>(Err(e)),
            },
            (&Method::GET, []) => answer(list(meta, scope, query)),
            (_, []) => method_not_allowed("GET and POST"),
            (&Method::GET, [id]) => {
                answer(scope.within(meta, id, "read this tenant").and_then(|_| describe(meta, &get(meta, id)?)))
            }
            (&Method::DELETE, [id]) => answer(self.delete(scope, id).await),
            (_, [_]) => method_not_allowed("GET and DELETE"),
            (&Method::PUT, [id, "quota"]) => answer(self.set_quota(scope, id, body).await),
            (_, [_, "quota"]) => method_not_allowed("PUT"),
            (&Method::GET, [id, "usage"]) => answer(usage(meta, scope, id, query)),
            (_, [_, "usage"]) => method_not_allowed("GET"),
            (&Method::GET, [id, "usage", "buckets"]) => answer(usage_buckets(meta, scope, id, query)),
            (&Method::GET, [id, "usage", "children"]) => answer(usage_children(meta, scope, id, query)),
            (_, [_, "usage", "buckets" | "children"]) => method_not_allowed("GET"),
            (&Method::GET, [id, "usage", "history"]) => answer(history(meta, scope, id, query)),
            (_, [_, "usage", "history"]) => method_not_allowed("GET"),
            (_, [id, "keys", rest @ ..]) => self.tenant_keys_call(scope, method, id, rest, body).await,
            _ => super::no_such_endpoint(),
        }
    }

    /// Creates a tenant; `false` with the existing one when the request is a replay.
    async fn create(&self, scope: &Scope, body: Body) -> Result<(TenantInfo, bool), AdminError> {
        let meta = &self.store.meta;
        // Only admins and tenant admins get their body read.
        let root = scope.root()?;
        let req: CreateTenant = read_json(body).await?;
        check_name(&req.name)?;
        match (&req.parent, root) {
            (Some(p), _) => scope.within(meta, p, "create tenants there")?,
            (None, None) => {}
            (None, Some(_)) => return Err(invalid("a tenant admin creates tenants below its own: name a parent")),
        }
        let id = match &req.id {
            Some(id) => {
                check_id(id)?;
                id.clone()
            }
            None => format!("t{:016x}", rand::thread_rng().r#gen::<u64>()),
        };
        let warn = req.warn_percent.clone().unwrap_or_else(|| vec![80, 95]);
        check_warn(&warn)?;
        let tenant = Tenant {
            id: id.clone(),
            name: req.name.clone(),
            parent: req.parent.clone(),
            quota: from_api(req.quota),
            warn_percent: warn,
            created: now(),
        };
        match self.store.put_tenant(tenant, true).await {
            Ok(()) => {
                tracing::info!(tenant = %id, name = %req.name, parent = ?req.parent, "tenant created");
                Ok((describe(meta, &get(meta, &id)?)?, true))
            }
            Err(e) => {
                // The same id, name and parent: a replay of a create that succeeded.
                if req.id.is_some()
                    && let Some(t) = meta.tenant(&id).map_err(unavailable)?
                    && t.name == req.name
                    && t.parent == req.parent
                {
                    return Ok((describe(meta, &t)?, false));
                }
                Err(object_error(e))
            }
        }
    }

    async fn set_quota(&self, scope: &Scope, id: &str, body: Body) -> Result<TenantInfo, AdminError> {
        let meta = &self.store.meta;
        scope.below(meta, id, "change this tenant's quota (a tenant admin sets those of the tenants below its own)")?;
        let req: SetQuota = read_json(body).await?;
        let mut tenant = get(meta, id)?;
        tenant.quota = from_api(req.quota);
        if let Some(w) = req.warn_percent {
            check_warn(&w)?;
            tenant.warn_percent = w;
        }
        self.store.put_tenant(tenant, false).await.map_err(object_error)?;
        tracing::info!(tenant = %id, quota = ?req.quota, "tenant quota set");
        describe(meta, &get(meta, id)?)
    }

    async fn delete(&self, scope: &Scope, id: &str) -> Result<Deleted, AdminError> {
        scope.below(&self.store.meta, id, "delete this tenant")?;
        self.store.delete_tenant(id).await.map_err(object_error)?;
        tracing::info!(tenant = %id, "tenant deleted");
        Ok(Deleted { deleted: id.to_string() })
    }
}

/// `cursor` and `limit` of a paged list. A cursor is the base64 of the last name of the
/// page before (a bucket's, or a tenant's among its siblings): the page resumes after it.
struct Page {
    after: Option<String>,
    limit: usize,
}

/// The page a query asks for (`limit` defaults to `default`); `other` takes the
/// parameters a list has besides `cursor` and `limit`.
fn page(
    query: Option<&str>,
    default: usize,
    mut other: impl FnMut(&str, String) -> Result<(), AdminError>,
) -> Result<Page, AdminError> {
    let mut page = Page { after: None, limit: default };
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "cursor" => {
                let raw = B64.decode(v.as_bytes()).map_err(|_| invalid("cursor is not one this API gave"))?;
                page.after = Some(String::from_utf8(raw).map_err(|_| invalid("cursor is not one this API gave"))?);
            }
            "limit" => {
                page.limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| invalid(format!("limit is a number from 1 to {MAX_LIMIT}")))?
            }
            other_key => other(other_key, v.into_owned())?,
        }
    }
    Ok(page)
}

fn unknown(key: &str, _: String) -> Result<(), AdminError> {
    Err(invalid(format!("unknown parameter {key}")))
}

/// The cursor after a page whose last item is named `last`, when more follow.
fn next_cursor(more: bool, last: Option<&str>) -> Option<String> {
    more.then(|| B64.encode(last.unwrap_or("")))
}

/// A page of the children of `parent` (the top level without one), in name order.
fn children_page(
    meta: &MetaStore,
    parent: Option<&str>,
    page: &Page,
) -> Result<(Vec<TenantInfo>, Option<String>), AdminError> {
    let found = meta.tenant_children(parent, page.after.as_deref(), page.limit + 1).map_err(unavailable)?;
    let more = found.len() > page.limit;
    let tenants = found.iter().take(page.limit).map(|t| describe(meta, t)).collect::<Result<Vec<_>, _>>()?;
    let next = next_cursor(more, tenants.last().map(|t| t.name.as_str()));
    Ok((tenants, next))
}

/// A page of the buckets of tenant `id`, in name order, with their quota and usage.
fn buckets_page(meta: &MetaStore, id: &str, page: &Page) -> Result<(Vec<BucketQuota>, Option<String>), AdminError> {
    let found = meta
        .tenant_members(cairn_raft::MEMBER_BUCKETS, id, page.after.as_deref(), page.limit + 1)
        .map_err(unavailable)?;
    let more = found.len() > page.limit;
    let mut buckets = Vec::new();
    for b in found.into_iter().take(page.limit) {
        let pool = Pool::Bucket(b.clone());
        let quota = to_api(meta.pool_limit(&pool).map_err(unavailable)?);
        buckets.push(BucketQuota { used: used(meta, &pool)?, bucket: b, tenant: Some(id.to_string()), quota });
    }
    let next = next_cursor(more, buckets.last().map(|b| b.bucket.as_str()));
    Ok((buckets, next))
}

/// `GET tenants`: the children of `parent` (the top level, or a tenant admin's own
/// tenant, without one), a page at a time.
fn list(meta: &MetaStore, scope: &Scope, query: Option<&str>) -> Result<TenantList, AdminError> {
    let mut parent = None;
    let page = page(query, DEFAULT_LIMIT, |k, v| match k {
        "parent" => {
            parent = Some(v);
            Ok(())
        }
        _ => unknown(k, v),
    })?;
    if parent.is_none()
        && let Some(own) = scope.root()?
    {
        let t = get(meta, own)?;
        return Ok(TenantList { tenants: vec![describe(meta, &t)?], next_cursor: None });
    }
    if let Some(p) = &parent {
        scope.within(meta, p, "list this tenant's children")?;
        get(meta, p)?;
    }
    let (tenants, next_cursor) = children_page(meta, parent.as_deref(), &page)?;
    Ok(TenantList { tenants, next_cursor })
}

/// The most buckets and children a usage answer lists unless `limit` says fewer; the
/// rest are paged with `usage/buckets` and `usage/children`.
const USAGE_ITEMS: usize = 1000;

/// `GET tenants/ID/usage[?limit=N]`: the tenant, and the first page of each list.
fn usage(meta: &MetaStore, scope: &Scope, id: &str, query: Option<&str>) -> Result<TenantUsage, AdminError> {
    let first = page(query, USAGE_ITEMS, unknown)?;
    if first.after.is_some() {
        return Err(invalid("the usage answer has no cursor: page on with usage/buckets and usage/children"));
    }
    scope.within(meta, id, "read this tenant's usage")?;
    let tenant = describe(meta, &get(meta, id)?)?;
    let (buckets, next_buckets_cursor) = buckets_page(meta, id, &first)?;
    let (children, next_children_cursor) = children_page(meta, Some(id), &first)?;
    Ok(TenantUsage { tenant, buckets, children, next_buckets_cursor, next_children_cursor })
}

/// `GET tenants/ID/usage/buckets`: a page of the tenant's buckets.
fn usage_buckets(
    meta: &MetaStore,
    scope: &Scope,
    id: &str,
    query: Option<&str>,
) -> Result<BucketUsageList, AdminError> {
    let page = page(query, DEFAULT_LIMIT, unknown)?;
    scope.within(meta, id, "read this tenant's usage")?;
    get(meta, id)?;
    let (buckets, next_cursor) = buckets_page(meta, id, &page)?;
    Ok(BucketUsageList { buckets, next_cursor })
}

/// `GET tenants/ID/usage/children`: a page of the tenant's children.
fn usage_children(meta: &MetaStore, scope: &Scope, id: &str, query: Option<&str>) -> Result<TenantList, AdminError> {
    let page = page(query, DEFAULT_LIMIT, unknown)?;
    scope.within(meta, id, "read this tenant's usage")?;
    get(meta, id)?;
    let (tenants, next_cursor) = children_page(meta, Some(id), &page)?;
    Ok(TenantList { tenants, next_cursor })
}

/// `GET tenants/ID/usage/history`: the tenant's hourly (default) or daily samples.
fn history(meta: &MetaStore, scope: &Scope, id: &str, query: Option<&str>) -> Result<UsageHistory, AdminError> {
    let mut daily = false;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match (&*k, &*v) {
            ("period", "hourly") => daily = false,
            ("period", "daily") => daily = true,
            ("period", _) => return Err(invalid("period is hourly or daily")),
            (other, _) => return Err(invalid(format!("unknown parameter {other}"))),
        }
    }
    scope.within(meta, id, "read this tenant's usage")?;
    get(meta, id)?;
    let samples = meta
        .usage_history(id, daily)
        .map_err(unavailable)?
        .into_iter()
        .map(|(slot, u)| UsageSample {
            at: rfc3339(i64::try_from(slot).unwrap_or(i64::MAX).saturating_mul(1_000_000_000)),
            bytes: u.bytes,
            objects: u.objects,
        })
        .collect();
    let period = if daily { "daily" } else { "hourly" };
    Ok(UsageHistory { tenant: id.to_string(), period: period.into(), samples })
}
