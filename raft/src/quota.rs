//! Quota pools: what each bucket, each access key and each tenant holds, kept by apply
//! in `sm_pools` in the same transaction as the writes they count, and the limits a
//! write may not pass.
//!
//! A version (current or not) counts its bytes and one object in the pool of its
//! bucket, of the key that wrote it ([`ATTR_WRITER`]), of the bucket's tenant and of
//! every ancestor of that tenant; a delete marker counts the bytes of its key name
//! (as S3 bills it) in the same pools, with its deleter as the key; a part of an
//! upload in progress counts its bytes from the moment it is committed, so a large
//! upload is accounted for while it happens, and leaves the pools when the upload
//! completes (the version takes over) or is aborted.
//!
//! The check: a command that may add bytes (a PUT, a copy, a part, a completion) is
//! applied undoably ([`crate::tx::Tx::begin_undoable`]); afterwards [`breach`] looks
//! at every pool the command added to, and if one of them is now past a limit, the
//! command is undone and answered `QuotaExceeded`. A command that frees bytes in a
//! pool is never refused by that pool, so deletes and shrinking overwrites always pass.
//! Because the decision is made in apply, on the state as of the command's place in
//! the log, no interleaving of writers on any node can pass a limit.
//!
//! Warnings: a tenant names thresholds (percentages of its limits); a command whose
//! charges carry a tenant's usage across one of them, either way, yields a
//! [`Change::QuotaThreshold`] event right after its own ([`crossings`]), so a platform
//! hears of it before uploads start failing; so does a change of a tenant's limits or
//! thresholds that leaves its usage on the other side of one.
//!
//! `sm_pools` is derived: snapshots do not carry it; [`rebuild`] recomputes it from
//! the objects, versions, parts, attributes and tenancy tables.

use crate::error::MetaError;
use crate::feed::Change;
use crate::keys::{attrs_prefix, key_tenancy_key, pool_key, setting_key, split_history_key, tenant_key, AttrSubject};
use crate::schema::{
    KeyTenancy, MultipartUpload, ObjectVersion, PartRef, Pool, PoolUsage, Quota, QuotaBreach, Tenant, VersionEntry,
    ATTR_WRITER, MAX_TENANT_DEPTH, SETTING_QUOTA, SETTING_TENANT,
};
use crate::tables::Table;
use crate::trees::SmTrees;
use crate::tx::Tx;
use std::collections::{BTreeMap, HashMap};

/// The tenant `bucket` belongs to, if any.
pub(crate) fn bucket_tenant(tx: &Tx, bucket: &str) -> Result<Option<String>, MetaError> {
    match setting_key(bucket, SETTING_TENANT) {
        Some(k) => tx.read(Table::BucketSettings, &k),
        None => Ok(None),
    }
}

/// `tenant` and its ancestors, nearest first.
pub(crate) fn tenant_chain(tx: &Tx, tenant: Option<String>) -> Result<Vec<String>, MetaError> {
    let mut out = Vec::new();
    let mut next = tenant;
    while let Some(id) = next {
        if out.len() > MAX_TENANT_DEPTH {
            break;
        }
        next = tx.read::<Tenant>(Table::Tenancy, &tenant_key(&id))?.and_then(|t| t.parent);
        out.push(id);
    }
    Ok(out)
}

/// The pools a write to `bucket` by `writer` counts in: the bucket, the key, then the
/// bucket's tenant and its ancestors, nearest first.
pub(crate) fn pools_of(tx: &Tx, bucket: &str, writer: Option<&str>) -> Result<Vec<Pool>, MetaError> {
    let mut out = vec![Pool::Bucket(bucket.into())];
    out.extend(writer.map(|w| Pool::Key(w.into())));
    out.extend(tenant_chain(tx, bucket_tenant(tx, bucket)?)?.into_iter().map(Pool::Tenant));
    Ok(out)
}

fn add(v: u64, d: i128) -> u64 {
    u64::try_from((i128::from(v) + d).max(0)).unwrap_or(u64::MAX)
}

/// Adds `bytes` and `objects` (negative: removes) to every pool of a write to `bucket`
/// by `writer`, and notes them as the current command's charges.
pub(crate) fn charge(
    tx: &mut Tx,
    bucket: &str,
    writer: Option<&str>,
    bytes: i128,
    objects: i64,
) -> Result<(), MetaError> {
    if bytes == 0 && objects == 0 {
        return Ok(());
    }
    let pools = pools_of(tx, bucket, writer)?;
    charge_pools(tx, &pools, bytes, objects)
}

/// [`charge`] to pools the caller already has (`pools_of` of the write).
pub(crate) fn charge_pools(tx: &mut Tx, pools: &[Pool], bytes: i128, objects: i64) -> Result<(), MetaError> {
    if bytes == 0 && objects == 0 {
        return Ok(());
    }
    for pool in pools {
        let k = pool_key(pool);
        let mut u: PoolUsage = tx.read(Table::Pools, &k)?.unwrap_or_default();
        u.bytes = add(u.bytes, bytes);
        u.objects = add(u.objects, i128::from(objects));
        tx.write(Table::Pools, k, &u)?;
        match tx.charges.iter_mut().find(|(p, ..)| p == pool) {
            Some(c) => {
                c.1 += bytes;
                c.2 += objects;
            }
            None => tx.charges.push((pool.clone(), bytes, objects)),
        }
    }
    Ok(())
}

/// The writer recorded in a version's or upload's attributes.
pub(crate) fn writer_of(attrs: &crate::schema::Attrs) -> Option<&str> {
    attrs.get(ATTR_WRITER).and_then(|w| std::str::from_utf8(w).ok())
}

/// The writer recorded in the attributes of `subject` of `bucket/key`.
pub(crate) fn writer(tx: &Tx, bucket: &str, key: &str, subject: AttrSubject) -> Result<Option<String>, MetaError> {
    let Some(mut k) = attrs_prefix(bucket, key, subject) else { return Ok(None) };
    k.extend_from_slice(ATTR_WRITER.as_bytes());
    Ok(tx.get(Table::ObjectAttrs, &k)?.and_then(|w| String::from_utf8(w).ok()))
}

/// The limits of `pool`.
pub(crate) fn limit_of(tx: &Tx, pool: &Pool) -> Result<Quota, MetaError> {
    Ok(match pool {
        Pool::Bucket(b) => match setting_key(b, SETTING_QUOTA) {
            Some(k) => tx.read(Table::BucketSettings, &k)?.unwrap_or_default(),
            None => Quota::default(),
        },
        Pool::Key(id) => {
            tx.read::<KeyTenancy>(Table::Tenancy, &key_tenancy_key(id))?.map(|t| t.quota).unwrap_or_default()
        }
        Pool::Tenant(id) => tx.read::<Tenant>(Table::Tenancy, &tenant_key(id))?.map(|t| t.quota).unwrap_or_default(),
    })
}

/// What `pool` holds.
pub(crate) fn usage_of(tx: &Tx, pool: &Pool) -> Result<PoolUsage, MetaError> {
    Ok(tx.read(Table::Pools, &pool_key(pool))?.unwrap_or_default())
}

/// The first limit the current command's charges passed, in the order the pools were
/// charged (bucket, key, tenant, ancestors). Only pools the command added to count.
pub(crate) fn breach(tx: &Tx) -> Result<Option<QuotaBreach>, MetaError> {
    let own_tenant = tx.charges.iter().find_map(|(p, ..)| match p {
        Pool::Tenant(t) => Some(t),
        _ => None,
    });
    for (pool, bytes, objects) in &tx.charges {
        if *bytes <= 0 && *objects <= 0 {
            continue;
        }
        let limit = limit_of(tx, pool)?;
        if limit == Quota::default() {
            continue;
        }
        let now = usage_of(tx, pool)?;
        let over = |limit: Option<u64>, now: u64, added: i128, objects: bool| {
            let added = u64::try_from(added).ok().filter(|a| *a > 0)?;
            let limit = limit.filter(|l| now > *l)?;
            let below = match pool {
                Pool::Tenant(t) if Some(t) != own_tenant => own_tenant.cloned(),
                _ => None,
            };
            Some(QuotaBreach {
                pool: pool.clone(),
                objects,
                limit,
                used: now.saturating_sub(added),
                adding: added,
                below,
            })
        };
        if let Some(b) = over(limit.bytes, now.bytes, *bytes, false) {
            return Ok(Some(b));
        }
        if let Some(b) = over(limit.objects, now.objects, i128::from(*objects), true) {
            return Ok(Some(b));
        }
    }
    Ok(None)
}

/// Whether `used` is at or past `percent`% of `limit` (never, with no limit).
pub fn reached(used: u64, limit: Option<u64>, percent: u8) -> bool {
    limit.is_some_and(|l| l > 0 && u128::from(used) * 100 >= u128::from(l) * u128::from(percent))
}

/// The highest warning threshold of `tenant` that `used` has reached, on its byte or
/// its object limit; 0 for none.
pub fn highest_warning(tenant: &Tenant, used: PoolUsage) -> u8 {
    tenant
        .warn_percent
        .iter()
        .copied()
        .filter(|p| reached(used.bytes, tenant.quota.bytes, *p) || reached(used.objects, tenant.quota.objects, *p))
        .max()
        .unwrap_or(0)
}

/// The warning thresholds the command just applied carried a tenant across, either
/// way: for each tenant pool it charged, and for each tenant whose limits or
/// thresholds it changed ([`Tx::retuned`]), each threshold of the tenant's byte and
/// object limits that was not reached before the command and is now (rising), or the
/// other way round. A threshold the command removed announces nothing.
pub(crate) fn crossings(tx: &Tx) -> Result<Vec<Change>, MetaError> {
    let mut tenants: Vec<&str> = Vec::new();
    let charged = tx.charges.iter().filter_map(|(p, ..)| match p {
        Pool::Tenant(id) => Some(id.as_str()),
        _ => None,
    });
    for id in charged.chain(tx.retuned.iter().map(|t| t.id.as_str())) {
        if !tenants.contains(&id) {
            tenants.push(id);
        }
    }
    let mut out = Vec::new();
    for id in tenants {
        let Some(now_t) = tx.read::<Tenant>(Table::Tenancy, &tenant_key(id))? else { continue };
        if now_t.warn_percent.is_empty() {
            continue;
        }
        let before_t = tx.retuned.iter().find(|t| t.id == id).unwrap_or(&now_t);
        let (d_bytes, d_objects) = tx
            .charges
            .iter()
            .find(|(p, ..)| matches!(p, Pool::Tenant(t) if t == id))
            .map_or((0, 0), |(_, b, o)| (*b, i128::from(*o)));
        let now = usage_of(tx, &Pool::Tenant(id.to_string()))?;
        let dims = [
            (before_t.quota.bytes, now_t.quota.bytes, now.bytes, d_bytes, false),
            (before_t.quota.objects, now_t.quota.objects, now.objects, d_objects, true),
        ];
        for (old_limit, new_limit, used, delta, objects) in dims {
            let before = add(used, -delta);
            for &percent in &now_t.warn_percent {
                let was = before_t.warn_percent.contains(&percent) && reached(before, old_limit, percent);
                let is = reached(used, new_limit, percent);
                if was != is {
                    out.push(Change::QuotaThreshold {
                        tenant: id.to_string(),
                        percent,
                        objects,
                        rising: is,
                        used,
                        limit: new_limit.or(old_limit).unwrap_or(0),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// A `[len]bucket rest` key split into the bucket and the rest.
pub(crate) fn split(k: &[u8]) -> Option<(String, Vec<u8>)> {
    let blen = usize::from(*k.first()?);
    let bucket = String::from_utf8(k.get(1..1 + blen)?.to_vec()).ok()?;
    Some((bucket, k[1 + blen..].to_vec()))
}

/// Rebuilds `sm_pools` from the data tables; returns the pools written.
pub(crate) fn rebuild(t: &SmTrees) -> Result<u64, MetaError> {
    t.tree(Table::Pools).clear()?;
    let tx = Tx::new(t);
    let mut all: BTreeMap<Vec<u8>, PoolUsage> = BTreeMap::new();
    let mut chains: HashMap<String, Vec<Pool>> = HashMap::new();
    let mut count =
        |tx: &Tx, bucket: &str, writer: Option<String>, bytes: u64, objects: u64| -> Result<(), MetaError> {
            if !chains.contains_key(bucket) {
                chains.insert(bucket.to_string(), pools_of(tx, bucket, None)?);
            }
            let key_pool = writer.map(Pool::Key);
            for pool in chains[bucket].iter().chain(key_pool.iter()) {
                let u = all.entry(pool_key(pool)).or_default();
                u.bytes += bytes;
                u.objects += objects;
            }
            Ok(())
        };
    let malformed = || MetaError::Storage("malformed key while rebuilding quota pools".into());
    for item in t.tree(Table::Objects).iter() {
        let (k, v) = item?;
        let (bucket, rest) = split(&k).ok_or_else(malformed)?;
        let key = String::from_utf8(rest).map_err(|_| malformed())?;
        let version: ObjectVersion = bincode::deserialize(&v)?;
        let w = writer(&tx, &bucket, &key, AttrSubject::Version(version.version_id.as_deref()))?;
        count(&tx, &bucket, w, version.size, 1)?;
    }
    for item in t.tree(Table::Versions).iter() {
        let (k, v) = item?;
        let (bucket, rest) = split(&k).ok_or_else(malformed)?;
        let (key, _) = split_history_key(&rest).ok_or_else(malformed)?;
        match bincode::deserialize(&v)? {
            VersionEntry::Object(version) => {
                let w = writer(&tx, &bucket, &key, AttrSubject::Version(version.version_id.as_deref()))?;
                count(&tx, &bucket, w, version.size, 1)?;
            }
            VersionEntry::Marker(m) => count(&tx, &bucket, Some(m.owner), key.len() as u64, 0)?,
        }
    }
    for item in t.tree(Table::Uploads).iter() {
        let (_, v) = item?;
        let upload: MultipartUpload = bincode::deserialize(&v)?;
        let w = writer(&tx, &upload.bucket, &upload.key, AttrSubject::Upload(&upload.upload_id))?;
        let prefix = crate::keys::part_prefix(&upload.upload_id);
        let mut bytes = 0;
        for part in t.tree(Table::Parts).scan_prefix(&prefix) {
            let (pk, pv) = part?;
            if pk.len() == prefix.len() + 4 {
                bytes += bincode::deserialize::<PartRef>(&pv)?.size;
            }
        }
        count(&tx, &upload.bucket, w, bytes, 0)?;
    }
    let n = all.len() as u64;
    let mut batch = sled::Batch::default();
    for (k, u) in all {
        batch.insert(k, bincode::serialize(&u)?);
    }
    t.tree(Table::Pools).apply_batch(batch)?;
    Ok(n)
}
