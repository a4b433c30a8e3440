//! PutAsset, AddAssetVersion, RollbackAsset, UpdateAsset: the asset catalogue
//! (`sm_assets`, and `sm_asset_index` through [`crate::assets::reindex`]). What must be
//! exact is decided here: that the tenant and the objects a version points at exist
//! (their size and ETag are taken from the object versions, never from the request),
//! the chain's numbering, and idempotent registration.

use super::versions as object_versions;
use super::versions::{locate, Located};
use crate::assets::{
    asset_key, idempotency_key, incoming_key, object_ref_prefix, objects_of, record_event, reindex, retention_key,
    share_key, shares_prefix, version_entries, version_key, versions_prefix, Asset, AssetEvent, AssetEventKind,
    AssetOutcome, AssetPatch, AssetRefusal, AssetVersion, ObjectRef, Share, SharePermission,
    DEFAULT_TRASH_RETENTION_SECS,
};
use crate::error::MetaError;
use crate::keys::tenant_key;
use crate::schema::{CommandResult, Nanos, Tenant};
use crate::tables::Table;
use crate::tx::Tx;

fn refused(r: AssetRefusal) -> Result<CommandResult, MetaError> {
    Ok(CommandResult::AssetRefused(r))
}

fn outcome(a: &Asset, version: u32, replayed: bool) -> CommandResult {
    CommandResult::Asset(AssetOutcome {
        tenant: a.tenant.clone(),
        id: a.id.clone(),
        version,
        replayed,
        freed: Vec::new(),
        objects_deleted: 0,
        objects_kept: 0,
    })
}

/// Asset `id`, unless it is missing or in the trash.
fn live(tx: &Tx, id: &str) -> Result<Result<Asset, AssetRefusal>, MetaError> {
    Ok(match get(tx, id)? {
        None => Err(AssetRefusal::NoSuchAsset(id.to_string())),
        Some(a) if a.trashed_at.is_some() => Err(AssetRefusal::InTrash),
        Some(a) => Ok(a),
    })
}

pub(crate) fn get(tx: &Tx, id: &str) -> Result<Option<Asset>, MetaError> {
    tx.read(Table::Assets, &asset_key(id))
}

/// What is kept of the object `o` names: its size and ETag, and `o` pinned to the
/// version it names (a reference to "the current version" of a versioned key becomes
/// one to that version's id); or the refusal naming `field`.
type Facts = (u64, String, ObjectRef);

fn object_facts(tx: &Tx, o: &ObjectRef, field: &str) -> Result<Result<Facts, AssetRefusal>, MetaError> {
    Ok(match locate(tx, &o.bucket, &o.key, o.version_id.as_deref())? {
        Located::Object(v) => {
            let pinned = ObjectRef { version_id: o.version_id.clone().or(v.version_id), ..o.clone() };
            Ok((v.size, v.etag, pinned))
        }
        Located::Bucketless | Located::Nothing | Located::Marker => {
            Err(AssetRefusal::NoSuchObject { field: field.into(), object: o.clone() })
        }
    })
}

/// `v` with its facts filled in from the objects it names, or the refusal.
fn checked(tx: &Tx, mut v: AssetVersion) -> Result<Result<AssetVersion, AssetRefusal>, MetaError> {
    match object_facts(tx, &v.object, "object")? {
        Ok((size, etag, pinned)) => (v.size, v.etag, v.object) = (size, etag, pinned),
        Err(r) => return Ok(Err(r)),
    }
    for (i, r) in v.renditions.iter_mut().enumerate() {
        match object_facts(tx, &r.object, &format!("renditions[{i}].object"))? {
            Ok((size, etag, pinned)) => (r.size, r.etag, r.object) = (size, etag, pinned),
            Err(refusal) => return Ok(Err(refusal)),
        }
    }
    Ok(Ok(v))
}

/// Appends `v` to `a`'s chain (numbering it), moves the index with it and tells the
/// tenant's feed (`kind`).
fn append(
    tx: &mut Tx,
    before: Option<&Asset>,
    mut a: Asset,
    mut v: AssetVersion,
    kind: AssetEventKind,
) -> Result<CommandResult, MetaError> {
    a.versions += 1;
    v.number = a.versions;
    a.latest_size = v.size;
    a.updated = a.updated.max(v.created);
    tx.write(Table::Assets, version_key(&a.id, v.number), &v)?;
    tx.write(Table::Assets, asset_key(&a.id), &a)?;
    reindex(tx, before, Some(&a))?;
    for k in version_entries(&a.tenant, &a.id, &v) {
        tx.set(Table::AssetIndex, k, Some(Vec::new()));
    }
    let event = AssetEvent { kind, asset: a.id.clone(), version: v.number, at: v.created, with: None };
    record_event(tx, &a.tenant, event)?;
    Ok(outcome(&a, v.number, false))
}

/// PutAsset.
pub(super) fn put(tx: &mut Tx, mut asset: Asset, version: Option<AssetVersion>) -> Result<CommandResult, MetaError> {
    if tx.read::<Tenant>(Table::Tenancy, &tenant_key(&asset.tenant))?.is_none() {
        return refused(AssetRefusal::NoSuchTenant(asset.tenant));
    }
    let idem = asset.idempotency_key.as_deref().map(|k| idempotency_key(&asset.tenant, k));
    let earlier = match &idem {
        Some(k) => tx.get(Table::Assets, k)?,
        None => None,
    };
    if let Some(id) = earlier {
        let id = String::from_utf8_lossy(&id).into_owned();
        return Ok(match get(tx, &id)? {
            // The same registration again (name, type, first object): what it made.
            Some(first)
                if first.name == asset.name
                    && first.media_type == asset.media_type
                    && same_object(first_object(tx, &id)?, version.as_ref().map(|v| &v.object)) =>
            {
                outcome(&first, first.versions.min(1), true)
            }
            _ => CommandResult::AssetRefused(AssetRefusal::IdempotencyConflict(
                asset.idempotency_key.unwrap_or_default(),
            )),
        });
    }
    let version = match version.map(|v| checked(tx, v)).transpose()? {
        Some(Err(r)) => return refused(r),
        Some(Ok(v)) => Some(v),
        None => None,
    };
    asset.id = format!("{:016x}{:08x}", tx.at.0, tx.at.1);
    (asset.versions, asset.latest_size, asset.trashed_at, asset.purge_at) = (0, 0, None, None);
    if let Some(k) = idem {
        tx.set(Table::Assets, k, Some(asset.id.clone().into_bytes()));
    }
    match version {
        Some(v) => append(tx, None, asset, v, AssetEventKind::Created),
        None => {
            tx.write(Table::Assets, asset_key(&asset.id), &asset)?;
            reindex(tx, None, Some(&asset))?;
            let event = AssetEvent {
                kind: AssetEventKind::Created,
                asset: asset.id.clone(),
                version: 0,
                at: asset.created,
                with: None,
            };
            record_event(tx, &asset.tenant, event)?;
            Ok(outcome(&asset, 0, false))
        }
    }
}

/// Does a replayed registration name the object the first one pinned?
fn same_object(pinned: Option<ObjectRef>, asked: Option<&ObjectRef>) -> bool {
    match (pinned, asked) {
        (None, None) => true,
        (Some(p), Some(a)) => {
            p.bucket == a.bucket && p.key == a.key && (a.version_id.is_none() || a.version_id == p.version_id)
        }
        _ => false,
    }
}

fn first_object(tx: &Tx, id: &str) -> Result<Option<ObjectRef>, MetaError> {
    Ok(tx.read::<AssetVersion>(Table::Assets, &version_key(id, 1))?.map(|v| v.object))
}

/// AddAssetVersion.
pub(super) fn add_version(
    tx: &mut Tx,
    id: String,
    version: AssetVersion,
    if_versions: Option<u32>,
) -> Result<CommandResult, MetaError> {
    let a = match live(tx, &id)? {
        Ok(a) => a,
        Err(r) => return refused(r),
    };
    if if_versions.is_some_and(|n| n != a.versions) {
        return refused(AssetRefusal::ChainMoved { versions: a.versions });
    }
    let v = match checked(tx, version)? {
        Ok(v) => v,
        Err(r) => return refused(r),
    };
    append(tx, Some(&a.clone()), a, v, AssetEventKind::VersionAdded)
}

/// RollbackAsset: a new version repeating version `to`. Its object must still exist.
pub(super) fn rollback(tx: &mut Tx, id: String, to: u32, at: Nanos, by: String) -> Result<CommandResult, MetaError> {
    let a = match live(tx, &id)? {
        Ok(a) => a,
        Err(r) => return refused(r),
    };
    let Some(old) = tx.read::<AssetVersion>(Table::Assets, &version_key(&id, to))? else {
        return refused(AssetRefusal::NoSuchVersion(to));
    };
    let v = AssetVersion { created: at, created_by: by, rollback_of: Some(to), ..old };
    let v = match checked(tx, v)? {
        Ok(v) => v,
        Err(r) => return refused(r),
    };
    append(tx, Some(&a.clone()), a, v, AssetEventKind::RolledBack)
}

/// UpdateAsset.
pub(super) fn update(tx: &mut Tx, id: String, patch: AssetPatch, at: Nanos) -> Result<CommandResult, MetaError> {
    let before = match live(tx, &id)? {
        Ok(a) => a,
        Err(r) => return refused(r),
    };
    let mut a = before.clone();
    let AssetPatch { name, project, status, tags, machine_tags, meta } = patch;
    if let Some(v) = name {
        a.name = v;
    }
    if let Some(v) = project {
        a.project = v;
    }
    if let Some(v) = status {
        a.status = v;
    }
    if let Some(v) = tags {
        a.tags = v;
    }
    if let Some(v) = machine_tags {
        a.machine_tags = v;
    }
    if let Some(v) = meta {
        a.meta = v;
    }
    a.updated = a.updated.max(at);
    tx.write(Table::Assets, asset_key(&id), &a)?;
    reindex(tx, Some(&before), Some(&a))?;
    record_event(tx, &a.tenant, AssetEvent { kind: AssetEventKind::Updated, asset: id, version: 0, at, with: None })?;
    Ok(outcome(&a, 0, false))
}

/// TrashAsset: out of every list but the trash, out of the stats; purged once its
/// tenant's retention has passed.
pub(super) fn trash(tx: &mut Tx, id: String, at: Nanos) -> Result<CommandResult, MetaError> {
    let before = match live(tx, &id)? {
        Ok(a) => a,
        Err(r) => return refused(r),
    };
    let secs: u64 = tx.read(Table::Assets, &retention_key(&before.tenant))?.unwrap_or(DEFAULT_TRASH_RETENTION_SECS);
    let mut a = before.clone();
    a.trashed_at = Some(at);
    a.purge_at = Some(at.saturating_add(Nanos::try_from(secs.saturating_mul(1_000_000_000)).unwrap_or(Nanos::MAX)));
    a.updated = a.updated.max(at);
    tx.write(Table::Assets, asset_key(&id), &a)?;
    reindex(tx, Some(&before), Some(&a))?;
    record_event(tx, &a.tenant, AssetEvent { kind: AssetEventKind::Trashed, asset: id, version: 0, at, with: None })?;
    Ok(outcome(&a, 0, false))
}

/// RestoreAsset: back from the trash, where it was.
pub(super) fn restore(tx: &mut Tx, id: String, at: Nanos) -> Result<CommandResult, MetaError> {
    let Some(before) = get(tx, &id)? else { return refused(AssetRefusal::NoSuchAsset(id)) };
    if before.trashed_at.is_none() {
        return refused(AssetRefusal::NotInTrash);
    }
    let mut a = before.clone();
    (a.trashed_at, a.purge_at) = (None, None);
    a.updated = a.updated.max(at);
    tx.write(Table::Assets, asset_key(&id), &a)?;
    reindex(tx, Some(&before), Some(&a))?;
    record_event(tx, &a.tenant, AssetEvent { kind: AssetEventKind::Restored, asset: id, version: 0, at, with: None })?;
    Ok(outcome(&a, 0, false))
}

/// PurgeAsset: the asset's records go, and each object version it pointed at is
/// deleted for good unless another asset still points at it or object lock keeps it.
/// `due`: only if its purge time has come (the expiry worker's purge).
pub(super) fn purge(tx: &mut Tx, id: String, at: Nanos, due: bool) -> Result<CommandResult, MetaError> {
    let Some(a) = get(tx, &id)? else { return refused(AssetRefusal::NoSuchAsset(id)) };
    let Some(purge_at) = a.purge_at.filter(|_| a.trashed_at.is_some()) else {
        return refused(AssetRefusal::NotInTrash);
    };
    if due && purge_at > at {
        return refused(AssetRefusal::NotDue);
    }
    let versions: Vec<AssetVersion> = tx
        .scan_prefix(Table::Assets, &versions_prefix(&id))?
        .values()
        .map(|v| bincode::deserialize(v))
        .collect::<Result<_, _>>()?;
    let mut objects: Vec<ObjectRef> = Vec::new();
    for v in &versions {
        for k in version_entries(&a.tenant, &id, v) {
            tx.remove(Table::AssetIndex, k);
        }
        tx.remove(Table::Assets, version_key(&id, v.number));
        for o in objects_of(v) {
            if !objects.contains(o) {
                objects.push(o.clone());
            }
        }
    }
    let mut out = AssetOutcome {
        tenant: a.tenant.clone(),
        id: id.clone(),
        version: 0,
        replayed: false,
        freed: Vec::new(),
        objects_deleted: 0,
        objects_kept: 0,
    };
    for o in objects {
        if tx.has_prefix(Table::AssetIndex, &object_ref_prefix(&o))? {
            out.objects_kept += 1;
            continue;
        }
        let r = object_versions::delete_version(tx, o.bucket, o.key, o.version_id, None, at, false)?;
        match r {
            CommandResult::Versioned { freed, .. } => {
                out.objects_deleted += 1;
                out.freed.extend(freed);
            }
            _ => out.objects_kept += 1,
        }
    }
    if let Some(k) = &a.idempotency_key {
        tx.remove(Table::Assets, idempotency_key(&a.tenant, k));
    }
    for (k, v) in tx.scan_prefix(Table::Assets, &shares_prefix(&id))? {
        let share: Share = bincode::deserialize(&v)?;
        tx.remove(Table::AssetIndex, incoming_key(&share));
        tx.remove(Table::Assets, k);
    }
    tx.remove(Table::Assets, asset_key(&id));
    super::annotations::forget_asset(tx, &id)?;
    reindex(tx, Some(&a), None)?;
    record_event(tx, &a.tenant, AssetEvent { kind: AssetEventKind::Purged, asset: id, version: 0, at, with: None })?;
    Ok(CommandResult::Asset(out))
}

/// SetTrashRetention: how long `tenant`'s trashed assets stay (for those trashed from
/// now on).
pub(super) fn set_retention(tx: &mut Tx, tenant: String, secs: u64) -> Result<CommandResult, MetaError> {
    if tx.read::<Tenant>(Table::Tenancy, &tenant_key(&tenant))?.is_none() {
        return refused(AssetRefusal::NoSuchTenant(tenant));
    }
    tx.write(Table::Assets, retention_key(&tenant), &secs)?;
    Ok(CommandResult::Ok)
}

/// ShareAsset: asset `id` shared with `tenant` (or the permission of an existing
/// share changed); told in both tenants' feeds.
pub(super) fn share(
    tx: &mut Tx,
    id: String,
    tenant: String,
    permission: SharePermission,
    at: Nanos,
    by: String,
) -> Result<CommandResult, MetaError> {
    let a = match live(tx, &id)? {
        Ok(a) => a,
        Err(r) => return refused(r),
    };
    if tenant == a.tenant {
        return refused(AssetRefusal::ShareWithOwner);
    }
    if tx.read::<Tenant>(Table::Tenancy, &tenant_key(&tenant))?.is_none() {
        return refused(AssetRefusal::NoSuchTenant(tenant));
    }
    let key = share_key(&id, &tenant);
    let share = match tx.read::<Share>(Table::Assets, &key)? {
        Some(old) => Share { permission, ..old },
        None => Share {
            asset: id.clone(),
            owner: a.tenant.clone(),
            tenant: tenant.clone(),
            permission,
            created: at,
            created_by: by,
        },
    };
    tx.write(Table::Assets, key, &share)?;
    tx.set(Table::AssetIndex, incoming_key(&share), Some(Vec::new()));
    for (feed, other) in [(&a.tenant, &tenant), (&tenant, &a.tenant)] {
        let e =
            AssetEvent { kind: AssetEventKind::Shared, asset: id.clone(), version: 0, at, with: Some(other.clone()) };
        record_event(tx, feed, e)?;
    }
    Ok(outcome(&a, 0, false))
}

/// RevokeShare: from this commit on, `tenant` reads nothing of asset `id`.
pub(super) fn revoke(tx: &mut Tx, id: String, tenant: String, at: Nanos) -> Result<CommandResult, MetaError> {
    let Some(a) = get(tx, &id)? else { return refused(AssetRefusal::NoSuchAsset(id)) };
    let key = share_key(&id, &tenant);
    let Some(share) = tx.read::<Share>(Table::Assets, &key)? else {
        return refused(AssetRefusal::NoSuchShare(tenant));
    };
    tx.remove(Table::Assets, key);
    tx.remove(Table::AssetIndex, incoming_key(&share));
    for (feed, other) in [(&a.tenant, &tenant), (&tenant, &a.tenant)] {
        let e =
            AssetEvent { kind: AssetEventKind::Revoked, asset: id.clone(), version: 0, at, with: Some(other.clone()) };
        record_event(tx, feed, e)?;
    }
    Ok(outcome(&a, 0, false))
}

/// TransferAsset: asset `id` goes to tenant `tenant`, its object versions into that
/// tenant's `bucket` (same keys; no byte is copied: each version's data is installed
/// there and then removed where it was), its usage from one tenant's pools to the
/// other's. Runs undoably (`apply/mod.rs`): a refusal, or a pool of the target passed
/// its limit, and nothing of it stays.
pub(super) fn transfer(
    tx: &mut Tx,
    id: String,
    tenant: String,
    bucket: String,
    at: Nanos,
    by: String,
) -> Result<CommandResult, MetaError> {
    let before = match live(tx, &id)? {
        Ok(a) => a,
        Err(r) => return refused(r),
    };
    if tenant == before.tenant {
        return refused(AssetRefusal::ShareWithOwner);
    }
    if tx.read::<Tenant>(Table::Tenancy, &tenant_key(&tenant))?.is_none() {
        return refused(AssetRefusal::NoSuchTenant(tenant));
    }
    if crate::quota::bucket_tenant(tx, &bucket)?.as_deref() != Some(tenant.as_str()) {
        return refused(AssetRefusal::NotTenantBucket(bucket));
    }
    let versioned = object_versions::state(tx, &bucket)? == Some(crate::schema::Versioning::Enabled);
    let versions: Vec<AssetVersion> = tx
        .scan_prefix(Table::Assets, &versions_prefix(&id))?
        .values()
        .map(|v| bincode::deserialize(v))
        .collect::<Result<_, _>>()?;
    // Every object version, once, and what it becomes.
    let mut moved: Vec<(ObjectRef, ObjectRef)> = Vec::new();
    for v in &versions {
        for k in version_entries(&before.tenant, &id, v) {
            tx.remove(Table::AssetIndex, k);
        }
    }
    for o in versions.iter().flat_map(objects_of) {
        if moved.iter().any(|(from, _)| from == o) {
            continue;
        }
        if tx.has_prefix(Table::AssetIndex, &object_ref_prefix(o))? {
            return refused(AssetRefusal::ObjectShared(o.clone()));
        }
        let Located::Object(source) = locate(tx, &o.bucket, &o.key, o.version_id.as_deref())? else {
            return refused(AssetRefusal::NoSuchObject { field: "object".into(), object: o.clone() });
        };
        let mut copy = (*source).clone();
        (copy.version_id, copy.last_modified) = (None, at);
        let condition = (!versioned).then_some(crate::schema::WriteCondition::IfNoneMatchAny);
        let attrs = crate::schema::Attrs::from([(crate::schema::ATTR_WRITER.to_string(), by.clone().into_bytes())]);
        let made = match super::objects::put(tx, bucket.clone(), o.key.clone(), copy, condition, attrs)? {
            CommandResult::Versioned { version_id, .. } => version_id,
            CommandResult::Replaced(_) => None,
            CommandResult::PreconditionFailed => return refused(AssetRefusal::DestinationExists(o.key.clone())),
            _ => return refused(AssetRefusal::NotTenantBucket(bucket)),
        };
        let gone = object_versions::delete_version(
            tx,
            o.bucket.clone(),
            o.key.clone(),
            o.version_id.clone(),
            None,
            at,
            false,
        )?;
        if !matches!(gone, CommandResult::Versioned { .. }) {
            return refused(AssetRefusal::ObjectLocked(o.clone()));
        }
        moved.push((o.clone(), ObjectRef { bucket: bucket.clone(), key: o.key.clone(), version_id: made }));
    }
    let to = |o: &ObjectRef| moved.iter().find(|(from, _)| from == o).map_or_else(|| o.clone(), |(_, t)| t.clone());
    for mut v in versions {
        v.object = to(&v.object);
        for r in &mut v.renditions {
            r.object = to(&r.object);
        }
        for k in version_entries(&tenant, &id, &v) {
            tx.set(Table::AssetIndex, k, Some(Vec::new()));
        }
        tx.write(Table::Assets, version_key(&id, v.number), &v)?;
    }
    if let Some(k) = &before.idempotency_key {
        tx.remove(Table::Assets, idempotency_key(&before.tenant, k));
    }
    for (k, v) in tx.scan_prefix(Table::Assets, &shares_prefix(&id))? {
        let share: Share = bincode::deserialize(&v)?;
        tx.remove(Table::AssetIndex, incoming_key(&share));
        tx.remove(Table::Assets, k);
    }
    let mut a = before.clone();
    (a.tenant, a.idempotency_key, a.project) = (tenant.clone(), None, None);
    a.updated = a.updated.max(at);
    tx.write(Table::Assets, asset_key(&id), &a)?;
    reindex(tx, Some(&before), Some(&a))?;
    for (feed, other) in [(&before.tenant, &tenant), (&tenant, &before.tenant)] {
        let e = AssetEvent {
            kind: AssetEventKind::Transferred,
            asset: id.clone(),
            version: 0,
            at,
            with: Some(other.clone()),
        };
        record_event(tx, feed, e)?;
    }
    Ok(outcome(&a, 0, false))
}
