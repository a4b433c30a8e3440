//! The asset catalogue's commits (`raft/src/assets.rs` holds the model, apply decides),
//! and the SHA-256 of an object version a new asset version points at: taken from the
//! version's stored full-object checksum when it has one, else computed by reading
//! the object (streamed, memory bounded by one read buffer).

use crate::{ObjectError, Store};
use base64::Engine;
use cairn_raft::assets::{Asset, AssetOutcome, AssetPatch, AssetVersion, ObjectRef, SharePermission};
use cairn_raft::schema::{Command, CommandResult, Nanos, ObjectVersion, VersionEntry};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::sync::Arc;

fn asset_result(r: CommandResult) -> Result<AssetOutcome, ObjectError> {
    match r {
        CommandResult::Asset(o) => Ok(o),
        CommandResult::AssetRefused(r) => Err(ObjectError::Asset(r)),
        CommandResult::QuotaExceeded(b) => Err(ObjectError::QuotaExceeded(b)),
        other => Err(ObjectError::Unexpected(Box::new(other))),
    }
}

impl Store {
    pub async fn register_asset(
        &self,
        asset: Asset,
        version: Option<AssetVersion>,
    ) -> Result<AssetOutcome, ObjectError> {
        asset_result(self.meta.propose(Command::PutAsset { asset, version }).await?)
    }

    pub async fn add_asset_version(
        &self,
        id: &str,
        version: AssetVersion,
        if_versions: Option<u32>,
    ) -> Result<AssetOutcome, ObjectError> {
        asset_result(self.meta.propose(Command::AddAssetVersion { id: id.into(), version, if_versions }).await?)
    }

    pub async fn rollback_asset(&self, id: &str, to: u32, at: Nanos, by: &str) -> Result<AssetOutcome, ObjectError> {
        asset_result(self.meta.propose(Command::RollbackAsset { id: id.into(), to, at, by: by.into() }).await?)
    }

    pub async fn update_asset(&self, id: &str, patch: AssetPatch, at: Nanos) -> Result<AssetOutcome, ObjectError> {
        asset_result(self.meta.propose(Command::UpdateAsset { id: id.into(), patch, at }).await?)
    }

    pub async fn share_asset(
        &self,
        id: &str,
        tenant: &str,
        permission: SharePermission,
        at: Nanos,
        by: &str,
    ) -> Result<AssetOutcome, ObjectError> {
        let cmd = Command::ShareAsset { id: id.into(), tenant: tenant.into(), permission, at, by: by.into() };
        asset_result(self.meta.propose(cmd).await?)
    }

    pub async fn revoke_share(&self, id: &str, tenant: &str, at: Nanos) -> Result<AssetOutcome, ObjectError> {
        asset_result(self.meta.propose(Command::RevokeShare { id: id.into(), tenant: tenant.into(), at }).await?)
    }

    /// Moves an asset to `tenant`, its objects into the tenant's `bucket` (refused
    /// whole, `QuotaExceeded` included, when anything does not fit).
    pub async fn transfer_asset(
        &self,
        id: &str,
        tenant: &str,
        bucket: &str,
        at: Nanos,
        by: &str,
    ) -> Result<AssetOutcome, ObjectError> {
        let cmd =
            Command::TransferAsset { id: id.into(), tenant: tenant.into(), bucket: bucket.into(), at, by: by.into() };
        asset_result(self.meta.propose(cmd).await?)
    }

    pub async fn trash_asset(&self, id: &str, at: Nanos) -> Result<AssetOutcome, ObjectError> {
        asset_result(self.meta.propose(Command::TrashAsset { id: id.into(), at }).await?)
    }

    pub async fn restore_asset(&self, id: &str, at: Nanos) -> Result<AssetOutcome, ObjectError> {
        asset_result(self.meta.propose(Command::RestoreAsset { id: id.into(), at }).await?)
    }

    /// Purges a trashed asset (`due`: only if its time has come) and removes the
    /// shards of the object versions the purge deleted.
    pub async fn purge_asset(self: &Arc<Self>, id: &str, at: Nanos, due: bool) -> Result<AssetOutcome, ObjectError> {
        let mut o = asset_result(self.meta.propose(Command::PurgeAsset { id: id.into(), at, due }).await?)?;
        std::mem::take(&mut o.freed).into_iter().for_each(|d| self.discard(d));
        Ok(o)
    }

    pub async fn set_trash_retention(&self, tenant: &str, secs: u64) -> Result<(), ObjectError> {
        match self.meta.propose(Command::SetTrashRetention { tenant: tenant.into(), secs }).await? {
            CommandResult::Ok => Ok(()),
            CommandResult::AssetRefused(r) => Err(ObjectError::Asset(r)),
            other => Err(ObjectError::Unexpected(Box::new(other))),
        }
    }

    /// Purges the trashed assets whose time has come, oldest first, at most `max`;
    /// answers how many were purged. The leader's trash worker calls it.
    pub async fn purge_due_assets(self: &Arc<Self>, now: Nanos, max: usize) -> Result<usize, ObjectError> {
        let mut purged = 0;
        for id in self.meta.assets_due(now, max)? {
            match self.purge_asset(&id, now, true).await {
                Ok(_) => purged += 1,
                // Restored, or purged by hand, since the scan: nothing to do.
                Err(ObjectError::Asset(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(purged)
    }

    /// The SHA-256 (hex) of the object version `o` names; `NoSuchKey` when there is
    /// none. Its stored checksum when it has a full-object one ([`Store::stored_sha256`]),
    /// else computed by reading it.
    pub async fn object_sha256(&self, o: &ObjectRef) -> Result<String, ObjectError> {
        let (version, stored) = self.sha256_facts(o)?;
        if let Some(s) = stored {
            return Ok(s);
        }
        let mut hash = Sha256::new();
        let mut stream = self.read(&version, 0, version.size)?;
        while let Some(chunk) = stream.next().await {
            hash.update(&chunk?);
        }
        Ok(hex::encode(hash.finalize()))
    }

    /// The SHA-256 (hex) stored with the object version `o` names, when the checksum
    /// covers the whole object (a multipart upload's is a checksum of checksums,
    /// `…-N`, and does not); `NoSuchKey` when there is no such version. Without a
    /// version id, `o` names the current version.
    pub fn stored_sha256(&self, o: &ObjectRef) -> Result<Option<String>, ObjectError> {
        Ok(self.sha256_facts(o)?.1)
    }

    fn sha256_facts(&self, o: &ObjectRef) -> Result<(ObjectVersion, Option<String>), ObjectError> {
        // No version id: the current version (as apply reads it), not the null one.
        let found = match o.version_id.as_deref() {
            None => self.meta.get_object(&o.bucket, &o.key)?,
            Some(id) => match self.meta.get_version(&o.bucket, &o.key, Some(id))? {
                Some((VersionEntry::Object(v), _)) => Some(v),
                _ => None,
            },
        };
        let Some(version) = found else { return Err(ObjectError::NoSuchKey) };
        let stored = version
            .checksums
            .get("SHA256")
            .filter(|c| !c.contains('-'))
            .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
            .filter(|raw| raw.len() == 32)
            .map(hex::encode);
        Ok((version, stored))
    }
}
