//! Apply: what each command does to the tables, decided here and nowhere else.
//!
//! Every decision that must be exact (a write condition, a bucket that must be
//! empty, a part that must still be the one listed, a blob that must not have moved)
//! is made here, against the state as of the command's place in the log. Apply is
//! deterministic: the same commands on the same state give the same results on
//! every node. A refusal is a [`CommandResult`], never an error; an error here is a
//! storage failure and stops the state machine.
//!
//! | domain | commands | tables written |
//! |---|---|---|
//! | [`buckets`] | CreateBucket(With), DeleteBucket, PutBucketPolicy, PutBucketAcl | buckets, bucket settings, usage |
//! | [`objects`] | PutObject(With), CopyVersion, DeleteObject, PutObjectAcl, MoveBlob | objects, object attrs, blobs, usage |
//! | [`uploads`] | CreateUpload(With), PutPart, AbortUpload, CompleteUpload | uploads, parts, object attrs, objects, blobs, usage |
//! | [`access_keys`] | PutAccessKey, DeleteAccessKey | keys |
//! | [`cluster`] | RegisterNode, PutServiceState | cluster |
//! | [`tiers`] | SetTiers, SwapBlob (through [`objects`]' blob edit) | cluster; objects, versions, blobs |
//! | [`access`] | RecordReads | object attrs |
//! | [`settings`] | PutBucketSetting (and bucket deletion's cleanup) | bucket settings |
//! | [`lifecycle`] | Expire (through [`versions`] and [`objects`], once the key is still as the rule saw it) | as DeleteObjectAt and DeleteVersionAt |
//! | [`versions`] | PutBucketVersioning, DeleteObjectAt, DeleteObjectVersion, DeleteVersionAt, PutVersionAcl (and every PutObject and CompleteUpload, through `make_current`) | bucket settings, objects, versions, object attrs, blobs, usage |
//! | [`attrs`] | PutVersionAttr (and every write and removal of a version) | object attrs |
//! | [`lock`] | no command of its own: the object-lock decisions the others ask it for | none |
//! | [`tenants`] | PutTenant, DeleteTenant, PutAccessKeyIn (and a bucket's tenant at creation) | tenancy, keys, bucket settings, usage history |
//! | [`usage_history`] | SampleUsage | usage history |
//! | [`annotations`] | PutAnnotations, UpdateAnnotation, DeleteAnnotation, SetVideoTiming | annotations (records, history, timings, live sequences), annotation index |
//! | [`assets`] | PutAsset, AddAssetVersion, RollbackAsset, UpdateAsset, TrashAsset, RestoreAsset, PurgeAsset (which deletes the object versions nothing else points at, through [`versions`]), SetTrashRetention, ShareAsset, RevokeShare, TransferAsset (which moves object versions through [`objects`] and [`versions`]) | assets, asset index, asset events; objects, versions, blobs, usage, pools (a purge) |
//!
//! Quotas are decided here too, around the commands that may add bytes (PutObject,
//! CopyVersion, PutPart, CompleteUpload, TransferAsset): each runs undoably, and if it left a quota
//! pool it added to past its limit ([`crate::quota::breach`]), it is undone and
//! answered `QuotaExceeded`.

mod access;
mod access_keys;
mod admin_audit;
mod annotations;
mod assets;
mod attrs;
mod buckets;
mod cluster;
mod kms;
mod lifecycle;
mod lock;
mod objects;
mod settings;
mod tenants;
mod tiers;
mod uploads;
mod usage_history;
mod versions;

pub use objects::etag_matches;

use crate::error::MetaError;
use crate::schema::{Attrs, Command, CommandResult, Nanos};
use crate::tx::Tx;

/// Applies one command to `tx`; a command that may add bytes is undone when it would
/// pass a quota.
pub(crate) fn apply(tx: &mut Tx, cmd: Command) -> Result<CommandResult, MetaError> {
    let quota_checked = matches!(
        cmd,
        Command::PutObject { .. }
            | Command::PutObjectWith { .. }
            | Command::CopyVersion { .. }
            | Command::PutPart { .. }
            | Command::CompleteUpload { .. }
            | Command::TransferAsset { .. }
            | Command::PutObjects { .. }
    );
    tx.retuned.clear();
    if !quota_checked {
        tx.charges.clear();
        return dispatch(tx, cmd);
    }
    tx.begin_undoable();
    let result = dispatch(tx, cmd)?;
    // A transfer or a batch refused halfway leaves nothing of what it did before.
    if matches!(result, CommandResult::AssetRefused(_) | CommandResult::BatchRefused { .. }) {
        tx.undo();
        return Ok(result);
    }
    match crate::quota::breach(tx)? {
        Some(breach) => {
            tx.undo();
            Ok(CommandResult::QuotaExceeded(breach))
        }
        None => {
            tx.keep();
            Ok(result)
        }
    }
}

fn dispatch(tx: &mut Tx, cmd: Command) -> Result<CommandResult, MetaError> {
    match cmd {
        Command::CreateBucket { bucket } => buckets::create(tx, bucket),
        Command::CreateBucketWith { bucket, settings } => buckets::create_with(tx, bucket, settings),
        Command::DeleteBucket { name } => buckets::delete(tx, name),
        Command::PutBucketPolicy { bucket, policy } => buckets::update(tx, bucket, |b| b.policy = policy),
        Command::PutBucketAcl { bucket, acl } => buckets::update(tx, bucket, |b| b.acl = acl),
        Command::PutObject { bucket, key, version, condition } => {
            objects::put(tx, bucket, key, version, condition, Attrs::new())
        }
        Command::PutObjectWith { bucket, key, version, condition, attrs } => {
            objects::put(tx, bucket, key, version, condition, attrs)
        }
        Command::DeleteObject { bucket, key } => objects::delete(tx, bucket, key),
        Command::PutObjectAcl { bucket, key, acl } => objects::set_acl(tx, bucket, key, acl),
        Command::MoveBlob { bucket, key, id, from, to, layout_version } => {
            objects::move_blob(tx, bucket, key, id, &from, &to, layout_version)
        }
        Command::CreateUpload { upload } => uploads::create(tx, upload, Attrs::new()),
        Command::CreateUploadWith { upload, attrs } => uploads::create(tx, upload, attrs),
        Command::PutPart { bucket, key, upload_id, part } => uploads::put_part(tx, bucket, key, upload_id, part),
        Command::AbortUpload { bucket, key, upload_id } => uploads::abort(tx, bucket, key, upload_id),
        Command::CompleteUpload { bucket, key, upload_id, version, condition } => {
            uploads::complete(tx, bucket, key, upload_id, version, condition)
        }
        Command::PutAccessKey { key } => access_keys::put(tx, key),
        Command::DeleteAccessKey { access_key_id } => access_keys::delete(tx, access_key_id),
        Command::RegisterNode { node, data_shards, parity_shards } => {
            cluster::register_node(tx, node, data_shards, parity_shards)
        }
        Command::PutServiceState { name, value } => cluster::put_service_state(tx, name, value),
        Command::PutBucketVersioning { bucket, state } => versions::set_state(tx, bucket, state),
        Command::DeleteObjectAt { bucket, key, owner, at, condition } => {
            versions::delete(tx, bucket, key, owner, at, condition)
        }
        // Written before object lock existed: no version it names can be locked.
        Command::DeleteObjectVersion { bucket, key, version_id, condition } => {
            versions::delete_version(tx, bucket, key, version_id, condition, Nanos::MIN, false)
        }
        Command::DeleteVersionAt { bucket, key, version_id, condition, at, bypass_governance } => {
            versions::delete_version(tx, bucket, key, version_id, condition, at, bypass_governance)
        }
        Command::PutVersionAcl { bucket, key, version_id, acl } => {
            versions::update(tx, &bucket, &key, version_id.as_deref(), |v| v.acl = acl)
        }
        Command::CopyVersion { bucket, key, source_version_id, version, condition, attrs } => {
            objects::copy_version(tx, bucket, key, source_version_id, version, condition, attrs)
        }
        Command::PutVersionAttr { bucket, key, version_id, name, value, at, bypass_governance } => {
            attrs::put(tx, bucket, key, version_id, name, value, at, bypass_governance)
        }
        Command::PutBucketSetting { bucket, name, value } => settings::put(tx, bucket, name, value),
        Command::PutTenant { tenant, create } => tenants::put(tx, tenant, create),
        Command::DeleteTenant { id } => tenants::delete(tx, id),
        Command::PutAccessKeyIn { key, tenancy } => tenants::put_key(tx, key, tenancy),
        Command::SampleUsage { slot, period } => usage_history::sample(tx, slot, period),
        Command::PutAsset { asset, version } => assets::put(tx, asset, version),
        Command::AddAssetVersion { id, version, if_versions } => assets::add_version(tx, id, version, if_versions),
        Command::RollbackAsset { id, to, at, by } => assets::rollback(tx, id, to, at, by),
        Command::UpdateAsset { id, patch, at } => assets::update(tx, id, patch, at),
        Command::TrashAsset { id, at } => assets::trash(tx, id, at),
        Command::RestoreAsset { id, at } => assets::restore(tx, id, at),
        Command::PurgeAsset { id, at, due } => assets::purge(tx, id, at, due),
        Command::SetTrashRetention { tenant, secs } => assets::set_retention(tx, tenant, secs),
        Command::ShareAsset { id, tenant, permission, at, by } => assets::share(tx, id, tenant, permission, at, by),
        Command::RevokeShare { id, tenant, at } => assets::revoke(tx, id, tenant, at),
        Command::TransferAsset { id, tenant, bucket, at, by } => assets::transfer(tx, id, tenant, bucket, at, by),
        Command::PutAnnotations { video, items, by } => annotations::create(tx, video, items, by),
        Command::UpdateAnnotation { id, if_revision, content, by } => {
            annotations::update(tx, id, if_revision, content, by)
        }
        Command::DeleteAnnotation { id, if_revision, by } => annotations::delete(tx, id, if_revision, by),
        Command::SetVideoTiming { video, timing } => annotations::set_timing(tx, video, timing),
        Command::PutObjects { bucket, items } => objects::put_many(tx, bucket, items),
        Command::CreateKmsKey { key } => kms::create(tx, key),
        Command::RotateKmsKey { id, number, version } => kms::rotate(tx, id, number, version),
        Command::SetKmsKeyEnabled { id, enabled } => kms::set_enabled(tx, id, enabled),
        Command::Audited { event, command } => admin_audit::audited(tx, event, *command),
        Command::Expire { bucket, key, action, at } => lifecycle::expire(tx, bucket, key, action, at),
        Command::AckEvents { target, upto } => crate::notify::ack(tx, target, upto),
        Command::SetTiers { node, pools, classes } => tiers::set(tx, node, pools, classes),
        Command::SwapBlob { bucket, key, from, to, .. } => tiers::swap_blob(tx, &bucket, &key, from, to),
        Command::RecordReads { at, day, reads } => access::record(tx, at, day, reads),
    }
}
