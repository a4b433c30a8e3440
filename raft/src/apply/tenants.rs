//! Tenants (`sm_tenancy`): creating, changing and removing tenants, the keys that
//! belong to them, and which tenant a new bucket belongs to. The carving rule is
//! decided here: the quotas set on a tenant's children add up to at most the tenant's
//! own quota, in bytes and in objects (a child without a quota shares what its parent
//! has left), so no two commands racing through different nodes can over-commit a
//! parent.

use crate::error::MetaError;
use crate::keys::{child_key, children_prefix, key_tenancy_key, member_key, members_prefix, setting_key, tenant_key};
use crate::schema::{
    AccessKey, BucketInfo, CommandResult, KeyTenancy, Quota, Tenant, TenantRefusal, MAX_TENANT_DEPTH, SETTING_TENANT,
};
use crate::tables::Table;
use crate::tx::Tx;

use crate::keys::{MEMBER_BUCKETS as BUCKETS, MEMBER_KEYS as KEYS};

fn refused(r: TenantRefusal) -> Result<CommandResult, MetaError> {
    Ok(CommandResult::TenantRefused(r))
}

pub(crate) fn get(tx: &Tx, id: &str) -> Result<Option<Tenant>, MetaError> {
    tx.read(Table::Tenancy, &tenant_key(id))
}

/// The tenants directly under `parent` (`None`: the top level).
fn children(tx: &Tx, parent: Option<&str>) -> Result<Vec<Tenant>, MetaError> {
    let mut out = Vec::new();
    for (_, id) in tx.scan_prefix(Table::Tenancy, &children_prefix(parent))? {
        if let Some(t) = get(tx, &String::from_utf8_lossy(&id))? {
            out.push(t);
        }
    }
    Ok(out)
}

/// Does `quota` (for tenant `id`, under `parent`) fit the carving rule against its
/// parent and its own children?
fn check_carving(tx: &Tx, id: &str, parent: Option<&Tenant>, quota: Quota) -> Result<Option<TenantRefusal>, MetaError> {
    if let Some(parent) = parent {
        let siblings: Vec<Tenant> = children(tx, Some(&parent.id))?.into_iter().filter(|t| t.id != id).collect();
        for objects in [false, true] {
            let pick = |q: &Quota| if objects { q.objects } else { q.bytes };
            let (Some(parent_limit), Some(mine)) = (pick(&parent.quota), pick(&quota)) else { continue };
            let children: u64 = siblings.iter().filter_map(|t| pick(&t.quota)).fold(mine, u64::saturating_add);
            if children > parent_limit {
                return Ok(Some(TenantRefusal::ExceedsParent {
                    parent: parent.id.clone(),
                    objects,
                    parent_limit,
                    children,
                }));
            }
        }
    }
    let own = children(tx, Some(id))?;
    for objects in [false, true] {
        let pick = |q: &Quota| if objects { q.objects } else { q.bytes };
        let Some(limit) = pick(&quota) else { continue };
        let children: u64 = own.iter().filter_map(|t| pick(&t.quota)).fold(0, u64::saturating_add);
        if children > limit {
            return Ok(Some(TenantRefusal::BelowChildren { objects, children }));
        }
    }
    Ok(None)
}

/// PutTenant: creates `tenant`, or changes the quota and thresholds of an existing one.
pub(super) fn put(tx: &mut Tx, tenant: Tenant, create: bool) -> Result<CommandResult, MetaError> {
    let existing = get(tx, &tenant.id)?;
    let before = existing.clone();
    let tenant = match (create, existing) {
        (true, Some(_)) => return refused(TenantRefusal::AlreadyExists(tenant.id)),
        (false, None) => return refused(TenantRefusal::NoSuchTenant(tenant.id)),
        (false, Some(old)) => Tenant { quota: tenant.quota, warn_percent: tenant.warn_percent, ..old },
        (true, None) => tenant,
    };
    let parent = match &tenant.parent {
        Some(p) => match get(tx, p)? {
            Some(t) => Some(t),
            None => return refused(TenantRefusal::NoSuchTenant(p.clone())),
        },
        None => None,
    };
    if create {
        if crate::quota::tenant_chain(tx, tenant.parent.clone())?.len() >= MAX_TENANT_DEPTH {
            return refused(TenantRefusal::TooDeep);
        }
        if tx.get(Table::Tenancy, &child_key(tenant.parent.as_deref(), &tenant.name))?.is_some() {
            return refused(TenantRefusal::AlreadyExists(tenant.name));
        }
    }
    if let Some(r) = check_carving(tx, &tenant.id, parent.as_ref(), tenant.quota)? {
        return refused(r);
    }
    if create {
        tx.set(Table::Tenancy, child_key(tenant.parent.as_deref(), &tenant.name), Some(tenant.id.clone().into_bytes()));
    }
    tx.write(Table::Tenancy, tenant_key(&tenant.id), &tenant)?;
    tx.retuned.extend(before);
    Ok(CommandResult::Ok)
}

/// DeleteTenant: only a tenant with no children, buckets or keys.
pub(super) fn delete(tx: &mut Tx, id: String) -> Result<CommandResult, MetaError> {
    let Some(t) = get(tx, &id)? else {
        return refused(TenantRefusal::NoSuchTenant(id));
    };
    for (prefix, what) in [
        (children_prefix(Some(&id)), "child tenants"),
        (members_prefix(BUCKETS, &id), "buckets"),
        (members_prefix(KEYS, &id), "access keys"),
    ] {
        if tx.has_prefix(Table::Tenancy, &prefix)? {
            return refused(TenantRefusal::NotEmpty(what.into()));
        }
    }
    tx.remove(Table::Tenancy, child_key(t.parent.as_deref(), &t.name));
    tx.remove(Table::Tenancy, tenant_key(&id));
    super::usage_history::forget(tx, &id)?;
    let pool = crate::schema::Pool::Tenant(id);
    crate::class_usage::drop_pool(tx, &pool)?;
    tx.remove(Table::Pools, crate::keys::pool_key(&pool));
    Ok(CommandResult::Ok)
}

/// PutAccessKeyIn: a key of a tenant, or a new quota for one that exists.
pub(super) fn put_key(tx: &mut Tx, key: AccessKey, tenancy: KeyTenancy) -> Result<CommandResult, MetaError> {
    let id = key.access_key_id.clone();
    let existing: Option<KeyTenancy> = tx.read(Table::Tenancy, &key_tenancy_key(&id))?;
    if let Some(old) = existing {
        if tx.get(Table::Keys, id.as_bytes())?.is_none() {
            return Ok(CommandResult::NoSuchKey);
        }
        tx.write(Table::Tenancy, key_tenancy_key(&id), &KeyTenancy { quota: tenancy.quota, ..old })?;
        return Ok(CommandResult::Ok);
    }
    if let Some(t) = &tenancy.tenant {
        if get(tx, t)?.is_none() {
            return refused(TenantRefusal::NoSuchTenant(t.clone()));
        }
        tx.set(Table::Tenancy, member_key(KEYS, t, &id), Some(Vec::new()));
    }
    tx.write(Table::Tenancy, key_tenancy_key(&id), &tenancy)?;
    tx.write(Table::Keys, id.into_bytes(), &key)?;
    Ok(CommandResult::Ok)
}

/// A key is being deleted: its tenancy goes with it (its pool stays while versions it
/// wrote remain).
pub(super) fn forget_key(tx: &mut Tx, id: &str) -> Result<(), MetaError> {
    if let Some(t) = tx.read::<KeyTenancy>(Table::Tenancy, &key_tenancy_key(id))? {
        if let Some(tenant) = &t.tenant {
            tx.remove(Table::Tenancy, member_key(KEYS, tenant, id));
        }
        tx.remove(Table::Tenancy, key_tenancy_key(id));
    }
    Ok(())
}

/// A bucket was created: it belongs to the tenant of the key that owns it.
pub(super) fn adopt_bucket(tx: &mut Tx, bucket: &BucketInfo) -> Result<(), MetaError> {
    let Some(KeyTenancy { tenant: Some(tenant), .. }) = tx.read(Table::Tenancy, &key_tenancy_key(&bucket.owner))?
    else {
        return Ok(());
    };
    if let Some(k) = setting_key(&bucket.name, SETTING_TENANT) {
        tx.write(Table::BucketSettings, k, &tenant)?;
        tx.set(Table::Tenancy, member_key(BUCKETS, &tenant, &bucket.name), Some(Vec::new()));
    }
    Ok(())
}

/// A bucket is being deleted (before its settings go): it leaves its tenant.
pub(super) fn release_bucket(tx: &mut Tx, bucket: &str) -> Result<(), MetaError> {
    if let Some(tenant) = crate::quota::bucket_tenant(tx, bucket)? {
        tx.remove(Table::Tenancy, member_key(BUCKETS, &tenant, bucket));
    }
    tx.remove(Table::Pools, crate::keys::pool_key(&crate::schema::Pool::Bucket(bucket.into())));
    Ok(())
}
