//! Storage classes of versions: which class a version is in, and moving a version
//! into another class (a lifecycle transition, or tiering by access).
//!
//! A version's class is its blobs' (`cairn_raft::tiers`); it is never recorded
//! apart from them. A transition copies each blob's stored bytes as they are
//! (ciphertext stays ciphertext: no key is needed) into a new blob of the target
//! class, then one commit per blob (`SwapBlob`) switches every version holding the
//! old blob to the new one, only if they still hold it. Reads keep working
//! throughout: before the switch they read the old blob, after it the new one, and
//! the old shards are freed after the switch (a read of this node holding them
//! keeps them until it ends, [`crate::freed`]).

use crate::data::spec_of;
use crate::{ObjectError, Store};
use cairn_raft::schema::{Command, CommandResult, ObjectData, ObjectVersion, ShardRef};
use cairn_raft::tiers::{STANDARD, Tiers};
use futures::StreamExt;
use std::sync::Arc;

/// What a transition did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// This many blobs were rewritten into the class (0: it was there already).
    Moved(usize),
    /// The version holds no blob (inline data stays in the metadata, STANDARD).
    Inline,
    /// The version changed or went while its data was copied; nothing changed.
    Changed,
}

impl Store {
    /// The cluster's storage classes and disk pools.
    pub fn tiers(&self) -> Result<Tiers, ObjectError> {
        Ok(self.meta.tiers()?)
    }

    /// The storage class of a version's data.
    pub fn class_of(&self, data: &ObjectData) -> String {
        match (self.meta.layout(), self.meta.tiers()) {
            (Ok(layout), Ok(tiers)) => tiers.class_of(&layout, data),
            _ => STANDARD.to_string(),
        }
    }

    /// Every storage class name, STANDARD first.
    pub fn class_names(&self) -> Vec<String> {
        self.meta.tiers().map(|t| t.names()).unwrap_or_else(|_| vec![STANDARD.to_string()])
    }

    /// Rewrites every blob of `version` (of `bucket/key`) that is not in `class` into it.
    pub async fn transition(
        self: &Arc<Self>,
        bucket: &str,
        key: &str,
        version: &ObjectVersion,
        class: &str,
    ) -> Result<Transition, ObjectError> {
        let layout = self.meta.layout()?;
        let tiers = self.meta.tiers()?;
        if tiers.class(&layout, class).is_none() {
            return Err(ObjectError::NoSuchStorageClass(class.to_string()));
        }
        let mut blobs = Vec::new();
        stored_blobs(&version.data, version.size, &mut blobs);
        if blobs.is_empty() {
            return Ok(Transition::Inline);
        }
        let mut moved = 0;
        for (blob, stored_size) in blobs {
            if tiers.class_of_blob(&layout, &blob) == class {
                continue;
            }
            let new = self.rewrite(bucket, key, &blob, stored_size, class).await?;
            let cmd = Command::SwapBlob {
                bucket: bucket.to_string(),
                key: key.to_string(),
                from: blob.id,
                to: new.clone(),
                class: class.to_string(),
            };
            match self.meta.propose(cmd).await {
                Ok(CommandResult::Ok) => {
                    self.discard(ObjectData::Shards(blob));
                    moved += 1;
                }
                Ok(_) => {
                    self.discard(ObjectData::Shards(new));
                    return Ok(Transition::Changed);
                }
                // The outcome is unknown: both blobs stay until the collector
                // finds the one nothing refers to.
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Transition::Moved(moved))
    }

    /// A copy of blob `blob` (`stored_size` bytes as stored) in a new blob of `class`.
    async fn rewrite(
        &self,
        bucket: &str,
        key: &str,
        blob: &ShardRef,
        stored_size: u64,
        class: &str,
    ) -> Result<ShardRef, ObjectError> {
        let _hold = self.hold_for_read(&ObjectData::Shards(blob.clone()));
        let reader = self.disks.reader(spec_of(blob), stored_size, 0, stored_size)?;
        let stream = Box::pin(reader.into_stream().map(|r| r.map_err(ObjectError::from)));
        let written = self.write_blob(bucket, key, stream, stored_size, class).await?;
        Ok(written)
    }
}

/// Every blob of `data` with the bytes it stores (a sealed blob's are its packages).
fn stored_blobs(data: &ObjectData, size: u64, out: &mut Vec<(ShardRef, u64)>) {
    match data {
        ObjectData::Inline(_) => {}
        ObjectData::Shards(r) => out.push((r.clone(), size)),
        ObjectData::Sealed(s) => stored_blobs(&s.data, s.stored_size, out),
        ObjectData::Parts(parts) => parts.iter().for_each(|p| stored_blobs(&p.data, p.size, out)),
    }
}
