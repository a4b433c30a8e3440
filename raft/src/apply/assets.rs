//! PutAsset, AddAssetVersion, RollbackAsset, UpdateAsset: the asset catalogue
//! (`sm_assets`, and `sm_asset_index` through [`crate::assets::reindex`]). What must be
//! exact is decided here: that the tenant and the objects a version points at exist
//! (their size and ETag are taken from the object versions, never from the request),
//! the chain's numbering, and idempotent registration.

use super::versions::{locate, Located};
use crate::assets::{
    asset_key, idempotency_key, record_event, reindex, version_key, Asset, AssetEvent, AssetEventKind, AssetOutcome,
    AssetPatch, AssetRefusal, AssetVersion, ObjectRef,
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
    CommandResult::Asset(AssetOutcome { tenant: a.tenant.clone(), id: a.id.clone(), version, replayed })
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
    let event = AssetEvent { kind, asset: a.id.clone(), version: v.number, at: v.created };
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
    (asset.versions, asset.latest_size) = (0, 0);
    if let Some(k) = idem {
        tx.set(Table::Assets, k, Some(asset.id.clone().into_bytes()));
    }
    match version {
        Some(v) => append(tx, None, asset, v, AssetEventKind::Created),
        None => {
            tx.write(Table::Assets, asset_key(&asset.id), &asset)?;
            reindex(tx, None, Some(&asset))?;
            let event =
                AssetEvent { kind: AssetEventKind::Created, asset: asset.id.clone(), version: 0, at: asset.created };
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
    let Some(a) = get(tx, &id)? else { return refused(AssetRefusal::NoSuchAsset(id)) };
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
    let Some(a) = get(tx, &id)? else { return refused(AssetRefusal::NoSuchAsset(id)) };
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
    let Some(before) = get(tx, &id)? else { return refused(AssetRefusal::NoSuchAsset(id)) };
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
    record_event(tx, &a.tenant, AssetEvent { kind: AssetEventKind::Updated, asset: id, version: 0, at })?;
    Ok(outcome(&a, 0, false))
}
