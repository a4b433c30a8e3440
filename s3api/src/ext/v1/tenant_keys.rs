//! `tenants/ID/keys`: the access keys of a tenant. A key made here belongs to the
//! tenant for life; buckets it creates belong to the tenant, and what it writes
//! counts in its own quota pool as well as the bucket's and the tenants'.

use super::scope::Scope;
use super::tenants::{from_api, get, to_api, used};
use super::{AdminError, V1, answer, answer_status, method_not_allowed, object_error, read_json, unavailable};
use crate::ext::admin::keys::new_key;
use cairn_api::tenants::{CreateTenantKey, Deleted, SetQuota, TenantKey, TenantKeyList};
use cairn_raft::MetaStore;
use cairn_raft::schema::{AccessKey, KeyTenancy, Pool};
use http::{Method, StatusCode};
use s3s::{Body, S3Response};

const MAX_NAME: usize = 128;
/// The most keys one listing answers.
const MAX_KEYS: usize = 10_000;

fn describe(meta: &MetaStore, key: &AccessKey, t: &KeyTenancy) -> Result<TenantKey, AdminError> {
    Ok(TenantKey {
        access_key_id: key.access_key_id.clone(),
        name: key.name.clone(),
        tenant: t.tenant.clone().unwrap_or_default(),
        tenant_admin: t.tenant_admin,
        quota: to_api(t.quota),
        used: used(meta, &Pool::Key(key.access_key_id.clone()))?,
        secret_access_key: None,
    })
}

/// Key `id` of tenant `tenant`, or 404.
fn member(meta: &MetaStore, tenant: &str, id: &str) -> Result<(AccessKey, KeyTenancy), AdminError> {
    let missing = || AdminError::new(404, "NoSuchKey", format!("tenant {tenant} has no access key {id}"));
    let t = meta.key_tenancy(id).map_err(unavailable)?.filter(|t| t.tenant.as_deref() == Some(tenant));
    let k = meta.get_access_key(id).map_err(unavailable)?;
    match (k, t) {
        (Some(k), Some(t)) => Ok((k, t)),
        _ => Err(missing()),
    }
}

impl V1 {
    pub(super) async fn tenant_keys_call(
        &self,
        scope: &Scope,
        method: &Method,
        tenant: &str,
        rest: &[&str],
        body: Body,
    ) -> S3Response<Body> {
        let meta = &self.store.meta;
        if let Err(e) = scope.within(meta, tenant, "manage this tenant's keys").and_then(|_| get(meta, tenant)) {
            return answer::<()>(Err(e));
        }
        match (method, rest) {
            (&Method::POST, []) => answer_status(StatusCode::CREATED, self.create_key(tenant, body).await),
            (&Method::GET, []) => answer(list(meta, tenant)),
            (_, []) => method_not_allowed("GET and POST"),
            (&Method::DELETE, [id]) => answer(self.delete_key(tenant, id).await),
            (_, [_]) => method_not_allowed("DELETE"),
            (&Method::PUT, [id, "quota"]) => answer(self.set_key_quota(tenant, id, body).await),
            (_, [_, "quota"]) => method_not_allowed("PUT"),
            _ => super::no_such_endpoint(),
        }
    }

    async fn create_key(&self, tenant: &str, body: Body) -> Result<TenantKey, AdminError> {
        let req: CreateTenantKey = read_json(body).await?;
        if let Some(name) = &req.name
            && (name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control))
        {
            return Err(AdminError::new(
                400,
                "InvalidRequest",
                format!("a key name has 1 to {MAX_NAME} characters and no control characters"),
            ));
        }
        let (key, secret) = new_key(self.access.keyring(), req.name.as_deref(), false);
        let tenancy =
            KeyTenancy { tenant: Some(tenant.to_string()), tenant_admin: req.tenant_admin, quota: from_api(req.quota) };
        self.store.put_key_in(key.clone(), tenancy.clone()).await.map_err(object_error)?;
        tracing::info!(access_key = %key.access_key_id, tenant, tenant_admin = req.tenant_admin, "tenant key created");
        Ok(TenantKey { secret_access_key: Some(secret), ..describe(&self.store.meta, &key, &tenancy)? })
    }

    async fn set_key_quota(&self, tenant: &str, id: &str, body: Body) -> Result<TenantKey, AdminError> {
        let meta = &self.store.meta;
        let (key, _) = member(meta, tenant, id)?;
        let req: SetQuota = read_json(body).await?;
        let tenancy = KeyTenancy { tenant: Some(tenant.into()), tenant_admin: false, quota: from_api(req.quota) };
        self.store.put_key_in(key, tenancy).await.map_err(object_error)?;
        let (key, t) = member(meta, tenant, id)?;
        describe(meta, &key, &t)
    }

    async fn delete_key(&self, tenant: &str, id: &str) -> Result<Deleted, AdminError> {
        member(&self.store.meta, tenant, id)?;
        cairn_object::meta::delete_access_key(&self.store.meta, id.to_string()).await.map_err(object_error)?;
        tracing::info!(access_key = %id, tenant, "tenant key deleted");
        Ok(Deleted { deleted: id.to_string() })
    }
}

fn list(meta: &MetaStore, tenant: &str) -> Result<TenantKeyList, AdminError> {
    let mut keys = Vec::new();
    for id in meta.tenant_members(cairn_raft::MEMBER_KEYS, tenant, None, MAX_KEYS).map_err(unavailable)? {
        if let Ok((k, t)) = member(meta, tenant, &id) {
            keys.push(describe(meta, &k, &t)?);
        }
    }
    Ok(TenantKeyList { keys })
}
