//! The state machine: applies command batches to the `sm_*` trees and builds and
//! installs snapshots.
//!
//! Apply is deterministic and atomic: the commands of all entries in one `apply` call
//! (at most [`COMMIT_EVERY`] entries per commit) are evaluated against an in-memory
//! overlay on top of the trees (so a command sees the effects of earlier commands of
//! the same batch), then written with `last_applied` in one multi-tree sled
//! transaction.
//!
//! Snapshots are files, never whole in memory: `<dir>/snapshots/current.snap` is
//!
//! ```text
//! "CAIRNSNAP1\n"
//! u32 BE length, bincode(SnapshotMeta)
//! records: u8 tree tag (1 buckets, 2 objects, 3 versions, 4 keys, 5 uploads, 6 parts),
//!          u32 BE key length, key,
//!          u32 BE value length, value
//! u8 0, u64 BE record count
//! ```
//!
//! Building holds the apply lock while it streams the trees (applies wait; reads do
//! not). Installing first stores the received file as `current.snap`, then marks
//! `installing` in `sm_meta`, clears and reloads the trees, and clears the mark; a
//! store opened with the mark set reloads `current.snap` before Raft starts.

use crate::blobs;
use crate::error::MetaError;
use crate::keys::*;
use crate::schema::{
    BlobOwner, BucketInfo, ClusterLayout, Command, CommandResult, MultipartUpload, NodeEntry, ObjectData,
    ObjectVersion, PartRef, WriteCondition,
};
use crate::types::{BatchResponse, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
use crate::usage;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{AnyError, Entry, EntryPayload, RaftSnapshotBuilder, StorageIOError};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncSeekExt;

/// Entries applied per sled transaction at most.
const COMMIT_EVERY: usize = 512;
/// Overlay bytes per sled transaction at most.
const COMMIT_BYTES: usize = 16 << 20;

const SNAP_MAGIC: &[u8] = b"CAIRNSNAP1\n";
const SNAP_CURRENT: &str = "current.snap";
const TAG_END: u8 = 0;
const TAG_BUCKETS: u8 = 1;
const TAG_OBJECTS: u8 = 2;
const TAG_VERSIONS: u8 = 3;
const TAG_KEYS: u8 = 4;
const TAG_UPLOADS: u8 = 5;
const TAG_PARTS: u8 = 6;
const TAG_CLUSTER: u8 = 7;
/// Number of data trees (the trees a snapshot carries).
const DATA_TREES: usize = 7;

/// Handles to the state-machine trees; cheap to clone.
#[derive(Clone)]
pub(crate) struct SmTrees {
    pub db: sled::Db,
    pub buckets: sled::Tree,
    pub objects: sled::Tree,
    pub versions: sled::Tree,
    pub keys: sled::Tree,
    pub uploads: sled::Tree,
    pub parts: sled::Tree,
    pub cluster: sled::Tree,
    /// Derived from objects and parts; not in snapshots (see [`crate::blobs`]).
    pub blobs: sled::Tree,
    /// Derived from objects; not in snapshots (see [`crate::usage`]).
    pub usage: sled::Tree,
    pub meta: sled::Tree,
}

impl SmTrees {
    pub fn open(db: &sled::Db) -> Result<SmTrees, sled::Error> {
        Ok(SmTrees {
            db: db.clone(),
            buckets: db.open_tree(TREE_BUCKETS)?,
            objects: db.open_tree(TREE_OBJECTS)?,
            versions: db.open_tree(TREE_VERSIONS)?,
            keys: db.open_tree(TREE_KEYS)?,
            uploads: db.open_tree(TREE_UPLOADS)?,
            parts: db.open_tree(TREE_PARTS)?,
            cluster: db.open_tree(TREE_CLUSTER)?,
            blobs: db.open_tree(TREE_BLOBS)?,
            usage: db.open_tree(TREE_USAGE)?,
            meta: db.open_tree(TREE_SM_META)?,
        })
    }

    /// Rebuilds the derived trees (blob index, bucket usage) and marks them current.
    fn rebuild_blobs(&self) -> Result<(), MetaError> {
        self.meta.remove(SM_BLOBS_INDEXED)?;
        self.meta.remove(SM_USAGE_INDEXED)?;
        let n = blobs::rebuild(&self.objects, &self.parts, &self.blobs)?;
        usage::rebuild(&self.objects, &self.usage)?;
        self.meta.insert(SM_BLOBS_INDEXED, &b"1"[..])?;
        self.meta.insert(SM_USAGE_INDEXED, &b"1"[..])?;
        self.db.flush()?;
        tracing::info!(blobs = n, "rebuilt the blob index");
        Ok(())
    }

    fn get_meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, MetaError> {
        match self.meta.get(key)? {
            Some(v) => Ok(Some(bincode::deserialize(&v)?)),
            None => Ok(None),
        }
    }

    pub fn last_applied(&self) -> Result<Option<LogId>, MetaError> {
        Ok(self.get_meta::<Option<LogId>>(SM_LAST_APPLIED)?.flatten())
    }

    pub fn layout(&self) -> Result<ClusterLayout, MetaError> {
        Ok(match self.cluster.get(CLUSTER_LAYOUT)? {
            Some(v) => bincode::deserialize(&v)?,
            None => ClusterLayout::default(),
        })
    }

    pub fn membership(&self) -> Result<StoredMembership, MetaError> {
        Ok(self.get_meta(SM_MEMBERSHIP)?.unwrap_or_default())
    }

    /// Every tree a snapshot carries, with its record tag.
    fn data_trees(&self) -> [(u8, &sled::Tree); DATA_TREES] {
        [
            (TAG_BUCKETS, &self.buckets),
            (TAG_OBJECTS, &self.objects),
            (TAG_VERSIONS, &self.versions),
            (TAG_KEYS, &self.keys),
            (TAG_UPLOADS, &self.uploads),
            (TAG_PARTS, &self.parts),
            (TAG_CLUSTER, &self.cluster),
        ]
    }
}

fn sm_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_state_machine(AnyError::new(&e)).into()
}

fn snap_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_snapshot(None, AnyError::new(&e)).into()
}

fn io_err(e: std::io::Error) -> MetaError {
    MetaError::Storage(format!("snapshot file: {e}"))
}

/// Pending writes of the entries being applied: `None` is a removal.
#[derive(Default)]
struct Overlay {
    buckets: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    objects: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    keys: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    uploads: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    parts: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    cluster: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    blobs: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    usage: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    bytes: usize,
}

fn overlay_get(
    tree: &sled::Tree,
    ov: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    key: &[u8],
) -> Result<Option<Vec<u8>>, MetaError> {
    match ov.get(key) {
        Some(v) => Ok(v.clone()),
        None => Ok(tree.get(key)?.map(|v| v.to_vec())),
    }
}

fn to_batch(ov: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) -> sled::Batch {
    let mut b = sled::Batch::default();
    for (k, v) in ov {
        match v {
            Some(v) => b.insert(k.as_slice(), v.as_slice()),
            None => b.remove(k.as_slice()),
        }
    }
    b
}

/// `(start, end)` bounds covering every key that starts with `prefix`.
pub(crate) fn prefix_range(prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let end = match prefix_end(prefix) {
        Some(e) => Bound::Excluded(e),
        None => Bound::Unbounded,
    };
    (Bound::Included(prefix.to_vec()), end)
}

/// Does an `If-Match` value match `etag` (stored without quotes)? Accepts `*`, a
/// quoted or bare etag, a weak `W/` prefix, and comma-separated lists.
pub fn etag_matches(if_match: &str, etag: &str) -> bool {
    if_match.split(',').any(|c| {
        let c = c.trim();
        if c == "*" {
            return true;
        }
        let c = c.strip_prefix("W/").unwrap_or(c);
        let c = c.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(c);
        c == etag
    })
}

/// True if a key starting with `prefix` exists in the tree plus the overlay.
fn has_prefix(tree: &sled::Tree, ov: &BTreeMap<Vec<u8>, Option<Vec<u8>>>, prefix: &[u8]) -> Result<bool, MetaError> {
    let range = prefix_range(prefix);
    if ov.range(range.clone()).any(|(_, v)| v.is_some()) {
        return Ok(true);
    }
    for item in tree.range(range) {
        let (k, _) = item?;
        match ov.get(k.as_ref()) {
            Some(None) => continue,
            _ => return Ok(true),
        }
    }
    Ok(false)
}

/// A write condition against the current version: the refusal, if it fails.
fn check_condition(condition: Option<&WriteCondition>, current: Option<&ObjectVersion>) -> Option<CommandResult> {
    match (condition, current) {
        (Some(WriteCondition::IfNoneMatchAny), Some(_)) => Some(CommandResult::PreconditionFailed),
        (Some(WriteCondition::IfMatch(_)), None) => Some(CommandResult::NoSuchKey),
        (Some(WriteCondition::IfMatch(e)), Some(cur)) if !etag_matches(e, &cur.etag) => {
            Some(CommandResult::PreconditionFailed)
        }
        _ => None,
    }
}

/// Evaluates commands against the trees plus the overlay.
struct Applier<'a> {
    t: &'a SmTrees,
    ov: Overlay,
}

impl Applier<'_> {
    fn bucket_exists(&self, name: &str) -> Result<Option<BucketInfo>, MetaError> {
        match overlay_get(&self.t.buckets, &self.ov.buckets, name.as_bytes())? {
            Some(v) => Ok(Some(bincode::deserialize(&v)?)),
            None => Ok(None),
        }
    }

    /// Changes a setting of an existing bucket.
    fn update_bucket(&mut self, name: String, f: impl FnOnce(&mut BucketInfo)) -> Result<CommandResult, MetaError> {
        let Some(mut info) = self.bucket_exists(&name)? else {
            return Ok(CommandResult::NoSuchBucket);
        };
        f(&mut info);
        let v = bincode::serialize(&info)?;
        Self::put(&mut self.ov.buckets, &mut self.ov.bytes, name.into_bytes(), Some(v));
        Ok(CommandResult::Ok)
    }

    fn object(&self, okey: &[u8]) -> Result<Option<ObjectVersion>, MetaError> {
        match overlay_get(&self.t.objects, &self.ov.objects, okey)? {
            Some(v) => Ok(Some(bincode::deserialize(&v)?)),
            None => Ok(None),
        }
    }

    /// True if the bucket holds an object or an upload in progress.
    fn bucket_in_use(&self, bucket: &str) -> Result<bool, MetaError> {
        let Some(p) = bucket_prefix(bucket) else {
            return Ok(false);
        };
        Ok(has_prefix(&self.t.objects, &self.ov.objects, &p)? || has_prefix(&self.t.uploads, &self.ov.uploads, &p)?)
    }

    fn upload(&self, ukey: &[u8]) -> Result<Option<MultipartUpload>, MetaError> {
        match overlay_get(&self.t.uploads, &self.ov.uploads, ukey)? {
            Some(v) => Ok(Some(bincode::deserialize(&v)?)),
            None => Ok(None),
        }
    }

    /// Every stored part of `upload_id` (tree plus overlay) with its key, by number.
    fn parts_of(&self, upload_id: &str) -> Result<Vec<(Vec<u8>, PartRef)>, MetaError> {
        let prefix = part_prefix(upload_id);
        let want = prefix.len() + 4;
        let range = prefix_range(&prefix);
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for item in self.t.parts.range(range.clone()) {
            let (k, v) = item?;
            merged.insert(k.to_vec(), v.to_vec());
        }
        for (k, v) in self.ov.parts.range(range) {
            match v {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        let mut out = Vec::with_capacity(merged.len());
        for (k, v) in merged {
            if k.len() == want {
                out.push((k, bincode::deserialize(&v)?));
            }
        }
        Ok(out)
    }

    /// Removes an upload and all its parts; returns the parts, by number.
    fn remove_upload(&mut self, ukey: Vec<u8>, upload_id: &str) -> Result<Vec<PartRef>, MetaError> {
        let parts = self.parts_of(upload_id)?;
        let mut out = Vec::with_capacity(parts.len());
        for (k, p) in parts {
            Self::put(&mut self.ov.parts, &mut self.ov.bytes, k, None);
            out.push(p);
        }
        Self::put(&mut self.ov.uploads, &mut self.ov.bytes, ukey, None);
        Ok(out)
    }

    fn put(map: &mut BTreeMap<Vec<u8>, Option<Vec<u8>>>, bytes: &mut usize, k: Vec<u8>, v: Option<Vec<u8>>) {
        *bytes += k.len() + v.as_ref().map_or(0, |v| v.len()) + 32;
        map.insert(k, v);
    }

    /// Points the blob index at `owner` for every blob of `data` (None: forgets them).
    fn index(&mut self, data: &ObjectData, owner: Option<&BlobOwner>) -> Result<(), MetaError> {
        blobs::index(&mut self.ov.blobs, &mut self.ov.bytes, data, owner)
    }

    /// Counts an object version in (`sign` 1) or out of (-1) its bucket's usage.
    fn count(&mut self, bucket: &str, size: u64, sign: i8) -> Result<(), MetaError> {
        usage::adjust(&self.t.usage, &mut self.ov.usage, &mut self.ov.bytes, bucket, size, sign)
    }

    fn apply(&mut self, cmd: Command) -> Result<CommandResult, MetaError> {
        Ok(match cmd {
            Command::CreateBucket { bucket } => {
                if bucket_prefix(&bucket.name).is_none() {
                    // Unencodable (> 255 bytes) names can never exist; the S3 layer
                    // rejects them long before this.
                    return Ok(CommandResult::NoSuchBucket);
                }
                if let Some(existing) = self.bucket_exists(&bucket.name)? {
                    return Ok(CommandResult::BucketAlreadyExists { owner: existing.owner });
                }
                let v = bincode::serialize(&bucket)?;
                Self::put(&mut self.ov.buckets, &mut self.ov.bytes, bucket.name.into_bytes(), Some(v));
                CommandResult::Ok
            }
            Command::DeleteBucket { name } => {
                if self.bucket_exists(&name)?.is_none() {
                    return Ok(CommandResult::NoSuchBucket);
                }
                // Uploads in progress count: no upload may outlive its bucket.
                if self.bucket_in_use(&name)? {
                    return Ok(CommandResult::BucketNotEmpty);
                }
                Self::put(&mut self.ov.usage, &mut self.ov.bytes, name.as_bytes().to_vec(), None);
                Self::put(&mut self.ov.buckets, &mut self.ov.bytes, name.into_bytes(), None);
                CommandResult::Ok
            }
            Command::PutObject { bucket, key, version, condition } => {
                if self.bucket_exists(&bucket)?.is_none() {
                    return Ok(CommandResult::NoSuchBucket);
                }
                let Some(okey) = object_key(&bucket, &key) else {
                    return Ok(CommandResult::NoSuchBucket);
                };
                let existing = self.object(&okey)?;
                if let Some(refusal) = check_condition(condition.as_ref(), existing.as_ref()) {
                    return Ok(refusal);
                }
                if let Some(old) = &existing {
                    self.index(&old.data, None)?;
                    self.count(&bucket, old.size, -1)?;
                }
                self.count(&bucket, version.size, 1)?;
                self.index(&version.data, Some(&BlobOwner::Object { bucket, key }))?;
                let v = bincode::serialize(&version)?;
                Self::put(&mut self.ov.objects, &mut self.ov.bytes, okey, Some(v));
                CommandResult::Replaced(existing)
            }
            Command::DeleteObject { bucket, key } => {
                if self.bucket_exists(&bucket)?.is_none() {
                    return Ok(CommandResult::NoSuchBucket);
                }
                let Some(okey) = object_key(&bucket, &key) else {
                    return Ok(CommandResult::NoSuchBucket);
                };
                let existing = self.object(&okey)?;
                if let Some(old) = &existing {
                    self.index(&old.data, None)?;
                    self.count(&bucket, old.size, -1)?;
                    Self::put(&mut self.ov.objects, &mut self.ov.bytes, okey, None);
                }
                CommandResult::Replaced(existing)
            }
            Command::PutAccessKey { key } => {
                let v = bincode::serialize(&key)?;
                Self::put(&mut self.ov.keys, &mut self.ov.bytes, key.access_key_id.into_bytes(), Some(v));
                CommandResult::Ok
            }
            Command::CreateUpload { upload } => {
                if self.bucket_exists(&upload.bucket)?.is_none() {
                    return Ok(CommandResult::NoSuchBucket);
                }
                let Some(ukey) = upload_key(&upload.bucket, &upload.key, &upload.upload_id) else {
                    return Ok(CommandResult::NoSuchBucket);
                };
                let v = bincode::serialize(&upload)?;
                Self::put(&mut self.ov.uploads, &mut self.ov.bytes, ukey, Some(v));
                CommandResult::Ok
            }
            Command::PutPart { bucket, key, upload_id, part } => {
                let Some(ukey) = upload_key(&bucket, &key, &upload_id) else {
                    return Ok(CommandResult::NoSuchUpload);
                };
                if self.upload(&ukey)?.is_none() {
                    return Ok(CommandResult::NoSuchUpload);
                }
                let pkey = part_key(&upload_id, part.number);
                let old = match overlay_get(&self.t.parts, &self.ov.parts, &pkey)? {
                    Some(v) => Some(bincode::deserialize::<PartRef>(&v)?),
                    None => None,
                };
                // A re-sent part that points at the very same blob replaces nothing.
                let discard = old.map(|o| o.data).filter(|d| *d != part.data);
                if let Some(d) = &discard {
                    self.index(d, None)?;
                }
                self.index(&part.data, Some(&BlobOwner::Part { upload_id, number: part.number }))?;
                let v = bincode::serialize(&part)?;
                Self::put(&mut self.ov.parts, &mut self.ov.bytes, pkey, Some(v));
                CommandResult::Discard(discard.into_iter().collect())
            }
            Command::AbortUpload { bucket, key, upload_id } => {
                let Some(ukey) = upload_key(&bucket, &key, &upload_id) else {
                    return Ok(CommandResult::NoSuchUpload);
                };
                if self.upload(&ukey)?.is_none() {
                    return Ok(CommandResult::NoSuchUpload);
                }
                let parts = self.remove_upload(ukey, &upload_id)?;
                for p in &parts {
                    self.index(&p.data, None)?;
                }
                CommandResult::Discard(parts.into_iter().map(|p| p.data).collect())
            }
            Command::CompleteUpload { bucket, key, upload_id, version, condition } => {
                if self.bucket_exists(&bucket)?.is_none() {
                    return Ok(CommandResult::NoSuchBucket);
                }
                let (Some(ukey), Some(okey)) = (upload_key(&bucket, &key, &upload_id), object_key(&bucket, &key))
                else {
                    return Ok(CommandResult::NoSuchBucket);
                };
                if self.upload(&ukey)?.is_none() {
                    return Ok(CommandResult::NoSuchUpload);
                }
                let ObjectData::Parts(listed) = &version.data else {
                    return Ok(CommandResult::InvalidPart { number: 0 });
                };
                let stored: BTreeMap<u32, PartRef> =
                    self.parts_of(&upload_id)?.into_iter().map(|(_, p)| (p.number, p)).collect();
                for p in listed {
                    match stored.get(&p.number) {
                        Some(s) if s.etag == p.etag && s.data == p.data => {}
                        _ => return Ok(CommandResult::InvalidPart { number: p.number }),
                    }
                }
                let existing = self.object(&okey)?;
                if let Some(refusal) = check_condition(condition.as_ref(), existing.as_ref()) {
                    return Ok(refusal);
                }
                let kept: std::collections::BTreeSet<u32> = listed.iter().map(|p| p.number).collect();
                let mut discard: Vec<ObjectData> =
                    stored.into_values().filter(|p| !kept.contains(&p.number)).map(|p| p.data).collect();
                if let Some(old) = &existing {
                    self.count(&bucket, old.size, -1)?;
                }
                self.count(&bucket, version.size, 1)?;
                discard.extend(existing.map(|v| v.data));
                for d in &discard {
                    self.index(d, None)?;
                }
                self.index(&version.data, Some(&BlobOwner::Object { bucket, key }))?;
                self.remove_upload(ukey, &upload_id)?;
                let v = bincode::serialize(&version)?;
                Self::put(&mut self.ov.objects, &mut self.ov.bytes, okey, Some(v));
                CommandResult::Discard(discard)
            }
            Command::RegisterNode { node, data_shards, parity_shards } => {
                let mut layout = match overlay_get(&self.t.cluster, &self.ov.cluster, CLUSTER_LAYOUT)? {
                    Some(v) => bincode::deserialize::<ClusterLayout>(&v)?,
                    None => ClusterLayout::default(),
                };
                match register_node(&mut layout, node, data_shards, parity_shards) {
                    Ok(false) => CommandResult::Ok,
                    Ok(true) => {
                        let v = bincode::serialize(&layout)?;
                        Self::put(&mut self.ov.cluster, &mut self.ov.bytes, CLUSTER_LAYOUT.to_vec(), Some(v));
                        CommandResult::Ok
                    }
                    Err(msg) => CommandResult::LayoutConflict(msg),
                }
            }
            Command::MoveBlob { bucket, key, id, from, to, layout_version } => {
                let Some(okey) = object_key(&bucket, &key) else {
                    return Ok(CommandResult::NoSuchKey);
                };
                let Some(mut version) = self.object(&okey)? else {
                    return Ok(CommandResult::NoSuchKey);
                };
                if !retarget(&mut version.data, id, &from, &to, layout_version) {
                    return Ok(CommandResult::PreconditionFailed);
                }
                let v = bincode::serialize(&version)?;
                Self::put(&mut self.ov.objects, &mut self.ov.bytes, okey, Some(v));
                CommandResult::Ok
            }
            Command::PutServiceState { name, value } => {
                let mut k = CLUSTER_SERVICE_PREFIX.to_vec();
                k.extend_from_slice(name.as_bytes());
                Self::put(&mut self.ov.cluster, &mut self.ov.bytes, k, Some(value));
                CommandResult::Ok
            }
            Command::DeleteAccessKey { access_key_id } => {
                if overlay_get(&self.t.keys, &self.ov.keys, access_key_id.as_bytes())?.is_none() {
                    return Ok(CommandResult::NoSuchKey);
                }
                Self::put(&mut self.ov.keys, &mut self.ov.bytes, access_key_id.into_bytes(), None);
                CommandResult::Ok
            }
            Command::PutBucketPolicy { bucket, policy } => self.update_bucket(bucket, |b| b.policy = policy)?,
            Command::PutBucketAcl { bucket, acl } => self.update_bucket(bucket, |b| b.acl = acl)?,
            Command::PutObjectAcl { bucket, key, acl } => {
                if self.bucket_exists(&bucket)?.is_none() {
                    return Ok(CommandResult::NoSuchBucket);
                }
                let Some(okey) = object_key(&bucket, &key) else {
                    return Ok(CommandResult::NoSuchKey);
                };
                let Some(mut version) = self.object(&okey)? else {
                    return Ok(CommandResult::NoSuchKey);
                };
                version.acl = acl;
                let v = bincode::serialize(&version)?;
                Self::put(&mut self.ov.objects, &mut self.ov.bytes, okey, Some(v));
                CommandResult::Ok
            }
        })
    }

    /// Writes the overlay, `last_applied` and (if changed) the membership atomically.
    fn commit(&mut self, last_applied: LogId, membership: Option<&StoredMembership>) -> Result<(), MetaError> {
        let ov = std::mem::take(&mut self.ov);
        let bb = to_batch(&ov.buckets);
        let ob = to_batch(&ov.objects);
        let kb = to_batch(&ov.keys);
        let ub = to_batch(&ov.uploads);
        let pb = to_batch(&ov.parts);
        let cb = to_batch(&ov.cluster);
        let blb = to_batch(&ov.blobs);
        let usb = to_batch(&ov.usage);
        let mut mb = sled::Batch::default();
        mb.insert(SM_LAST_APPLIED, bincode::serialize(&Some(last_applied))?);
        if let Some(m) = membership {
            mb.insert(SM_MEMBERSHIP, bincode::serialize(m)?);
        }
        let t = self.t;
        (&t.buckets, &t.objects, &t.keys, &t.uploads, &t.parts, &t.cluster, &t.blobs, &t.usage, &t.meta)
            .transaction(|(b, o, k, u, p, c, bl, us, m)| {
                b.apply_batch(&bb)?;
                o.apply_batch(&ob)?;
                k.apply_batch(&kb)?;
                u.apply_batch(&ub)?;
                p.apply_batch(&pb)?;
                c.apply_batch(&cb)?;
                bl.apply_batch(&blb)?;
                us.apply_batch(&usb)?;
                m.apply_batch(&mb)?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e: TransactionError<()>| MetaError::Storage(format!("apply transaction: {e:?}")))
    }
}

/// The state machine handed to openraft.
pub struct StateMachine {
    trees: SmTrees,
    snap_dir: PathBuf,
    /// Held by apply, install and snapshot building.
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl StateMachine {
    /// Opens the state machine; finishes an interrupted snapshot install first.
    pub(crate) fn open(trees: SmTrees, snap_dir: PathBuf) -> Result<StateMachine, MetaError> {
        std::fs::create_dir_all(&snap_dir).map_err(io_err)?;
        if let Ok(rd) = std::fs::read_dir(&snap_dir) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().ends_with(".tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        if trees.meta.get(SM_INSTALLING)?.is_some() {
            tracing::warn!("finishing an interrupted snapshot install");
            load_snapshot_file(&trees, &snap_dir.join(SNAP_CURRENT))?;
        }
        if trees.meta.get(SM_BLOBS_INDEXED)?.is_none() || trees.meta.get(SM_USAGE_INDEXED)?.is_none() {
            trees.rebuild_blobs()?;
        }
        Ok(StateMachine { trees, snap_dir, lock: Arc::new(tokio::sync::Mutex::new(())) })
    }
}

/// Moves blob `id` within `data` from disks `from` to `to`; false if it is not there.
fn retarget(data: &mut ObjectData, id: u128, from: &[u16], to: &[u16], layout_version: u64) -> bool {
    match data {
        ObjectData::Shards(r) if r.id == id && r.disks == from && to.len() == from.len() => {
            r.disks = to.to_vec();
            r.layout_version = layout_version;
            true
        }
        ObjectData::Parts(parts) => parts.iter_mut().any(|p| retarget(&mut p.data, id, from, to, layout_version)),
        _ => false,
    }
}

/// Adds `node` to the layout or updates its addresses; true if the layout changed.
fn register_node(layout: &mut ClusterLayout, mut node: NodeEntry, k: u8, m: u8) -> Result<bool, String> {
    if let Some(known) = layout.nodes.iter_mut().find(|n| n.id == node.id) {
        if known.disks != node.disks {
            return Err(format!(
                "node {} has {} disks in the layout, not {}; changing a node's disks is not supported",
                node.id, known.disks, node.disks
            ));
        }
        if known.addr == node.addr && known.s3_addr == node.s3_addr {
            return Ok(false);
        }
        known.addr = node.addr;
        known.s3_addr = node.s3_addr;
    } else {
        let first = layout.disk_count();
        if first + usize::from(node.disks) > usize::from(u16::MAX) {
            return Err("the layout cannot hold more disks".into());
        }
        node.first_disk = first as u16;
        if layout.nodes.is_empty() {
            layout.data_shards = k;
            layout.parity_shards = m;
        }
        layout.nodes.push(node);
    }
    layout.version += 1;
    Ok(true)
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

fn write_u32(w: &mut impl Write, n: usize) -> Result<(), MetaError> {
    let n = u32::try_from(n).map_err(|_| MetaError::Storage("snapshot record too large".into()))?;
    w.write_all(&n.to_be_bytes()).map_err(io_err)
}

fn read_u32(r: &mut impl Read) -> Result<usize, MetaError> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).map_err(io_err)?;
    Ok(u32::from_be_bytes(b) as usize)
}

fn read_bytes(r: &mut impl Read, n: usize) -> Result<Vec<u8>, MetaError> {
    let mut v = vec![0u8; n];
    r.read_exact(&mut v).map_err(io_err)?;
    Ok(v)
}

fn read_header(r: &mut impl Read) -> Result<SnapshotMeta, MetaError> {
    let magic = read_bytes(r, SNAP_MAGIC.len())?;
    if magic != SNAP_MAGIC {
        return Err(MetaError::Storage("not a cairn snapshot file".into()));
    }
    let n = read_u32(r)?;
    Ok(bincode::deserialize(&read_bytes(r, n)?)?)
}

/// Streams the trees into `<dir>/current.snap` (via a temp file and rename) and
/// returns its meta and an open handle. Call with the apply lock held.
fn write_snapshot(t: &SmTrees, dir: &Path) -> Result<(SnapshotMeta, std::fs::File), MetaError> {
    let last_log_id = t.last_applied()?;
    let meta = SnapshotMeta {
        last_log_id,
        last_membership: t.membership()?,
        snapshot_id: format!("{}-{}", last_log_id.map_or(0, |l| l.index), now_nanos()),
    };
    let tmp = dir.join(format!("build-{}.tmp", now_nanos()));
    let file = std::fs::File::create(&tmp).map_err(io_err)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    w.write_all(SNAP_MAGIC).map_err(io_err)?;
    let m = bincode::serialize(&meta)?;
    write_u32(&mut w, m.len())?;
    w.write_all(&m).map_err(io_err)?;
    let mut count = 0u64;
    for (tag, tree) in t.data_trees() {
        for item in tree.iter() {
            let (k, v) = item?;
            w.write_all(&[tag]).map_err(io_err)?;
            write_u32(&mut w, k.len())?;
            w.write_all(&k).map_err(io_err)?;
            write_u32(&mut w, v.len())?;
            w.write_all(&v).map_err(io_err)?;
            count += 1;
        }
    }
    w.write_all(&[TAG_END]).map_err(io_err)?;
    w.write_all(&count.to_be_bytes()).map_err(io_err)?;
    let file = w.into_inner().map_err(|e| io_err(e.into_error()))?;
    file.sync_all().map_err(io_err)?;
    drop(file);
    let cur = dir.join(SNAP_CURRENT);
    std::fs::rename(&tmp, &cur).map_err(io_err)?;
    sync_dir(dir);
    let f = std::fs::File::open(&cur).map_err(io_err)?;
    tracing::info!(records = count, snapshot = %meta, "built snapshot");
    Ok((meta, f))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Replaces the contents of the trees with the snapshot file at `path`.
fn load_snapshot_file(t: &SmTrees, path: &Path) -> Result<SnapshotMeta, MetaError> {
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let meta = read_header(&mut r)?;
    t.meta.insert(SM_INSTALLING, &b"1"[..])?;
    t.meta.remove(SM_BLOBS_INDEXED)?;
    t.db.flush()?;
    for (_, tree) in t.data_trees() {
        tree.clear()?;
    }
    let mut batches: [sled::Batch; DATA_TREES] = Default::default();
    let mut pending = 0usize;
    let mut count = 0u64;
    let flush_batches = |batches: &mut [sled::Batch; DATA_TREES]| -> Result<(), MetaError> {
        for (i, (_, tree)) in t.data_trees().into_iter().enumerate() {
            tree.apply_batch(std::mem::take(&mut batches[i]))?;
        }
        Ok(())
    };
    loop {
        let mut tag = [0u8; 1];
        r.read_exact(&mut tag).map_err(io_err)?;
        let idx = match tag[0] {
            TAG_END => break,
            TAG_BUCKETS => 0,
            TAG_OBJECTS => 1,
            TAG_VERSIONS => 2,
            TAG_KEYS => 3,
            TAG_UPLOADS => 4,
            TAG_PARTS => 5,
            TAG_CLUSTER => 6,
            x => return Err(MetaError::Storage(format!("bad snapshot record tag {x}"))),
        };
        let kl = read_u32(&mut r)?;
        let k = read_bytes(&mut r, kl)?;
        let vl = read_u32(&mut r)?;
        let v = read_bytes(&mut r, vl)?;
        pending += k.len() + v.len();
        batches[idx].insert(k, v);
        count += 1;
        if pending > (8 << 20) {
            flush_batches(&mut batches)?;
            pending = 0;
        }
    }
    let mut c = [0u8; 8];
    r.read_exact(&mut c).map_err(io_err)?;
    if u64::from_be_bytes(c) != count {
        return Err(MetaError::Storage("snapshot record count mismatch".into()));
    }
    flush_batches(&mut batches)?;
    let mut mb = sled::Batch::default();
    mb.insert(SM_LAST_APPLIED, bincode::serialize(&meta.last_log_id)?);
    mb.insert(SM_MEMBERSHIP, bincode::serialize(&meta.last_membership)?);
    mb.remove(SM_INSTALLING);
    t.meta.apply_batch(mb)?;
    t.db.flush()?;
    t.rebuild_blobs()?;
    tracing::info!(records = count, snapshot = %meta, "installed snapshot");
    Ok(meta)
}

/// Builds snapshots; holds the apply lock while it streams.
pub struct SnapshotBuilder {
    trees: SmTrees,
    snap_dir: PathBuf,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let guard = self.lock.clone().lock_owned().await;
        let trees = self.trees.clone();
        let dir = self.snap_dir.clone();
        let (meta, file) = tokio::task::spawn_blocking(move || {
            let r = write_snapshot(&trees, &dir);
            drop(guard);
            r
        })
        .await
        .map_err(snap_err)?
        .map_err(snap_err)?;
        Ok(Snapshot { meta, snapshot: Box::new(tokio::fs::File::from_std(file)) })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let la = self.trees.last_applied().map_err(sm_err)?;
        let m = self.trees.membership().map_err(sm_err)?;
        Ok((la, m))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<BatchResponse>, StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let _guard = self.lock.lock().await;
        let mut ap = Applier { t: &self.trees, ov: Overlay::default() };
        let mut out = Vec::new();
        let mut last: Option<LogId> = None;
        let mut membership: Option<StoredMembership> = None;
        let mut uncommitted = 0usize;
        for entry in entries {
            let log_id = entry.log_id;
            let resp = match entry.payload {
                EntryPayload::Blank => BatchResponse::default(),
                EntryPayload::Normal(batch) => {
                    let mut rs = Vec::with_capacity(batch.0.len());
                    for cmd in batch.0 {
                        rs.push(ap.apply(cmd).map_err(|e| StorageIOError::apply(log_id, AnyError::new(&e)))?);
                    }
                    BatchResponse(rs)
                }
                EntryPayload::Membership(m) => {
                    membership = Some(StoredMembership::new(Some(log_id), m));
                    BatchResponse::default()
                }
            };
            out.push(resp);
            last = Some(log_id);
            uncommitted += 1;
            if uncommitted >= COMMIT_EVERY || ap.ov.bytes >= COMMIT_BYTES {
                ap.commit(log_id, membership.take().as_ref())
                    .map_err(|e| StorageIOError::apply(log_id, AnyError::new(&e)))?;
                uncommitted = 0;
            }
        }
        if let (Some(log_id), true) = (last, uncommitted > 0) {
            ap.commit(log_id, membership.as_ref()).map_err(|e| StorageIOError::apply(log_id, AnyError::new(&e)))?;
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder { trees: self.trees.clone(), snap_dir: self.snap_dir.clone(), lock: self.lock.clone() }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let path = self.snap_dir.join(format!("recv-{}.tmp", now_nanos()));
        let f = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .map_err(snap_err)?;
        Ok(Box::new(f))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        let _guard = self.lock.lock().await;
        let mut src = *snapshot;
        src.seek(std::io::SeekFrom::Start(0)).await.map_err(snap_err)?;
        let tmp = self.snap_dir.join(format!("install-{}.tmp", now_nanos()));
        let mut dst = tokio::fs::File::create(&tmp).await.map_err(snap_err)?;
        tokio::io::copy(&mut src, &mut dst).await.map_err(snap_err)?;
        dst.sync_all().await.map_err(snap_err)?;
        drop(dst);
        drop(src);
        let cur = self.snap_dir.join(SNAP_CURRENT);
        tokio::fs::rename(&tmp, &cur).await.map_err(snap_err)?;
        let trees = self.trees.clone();
        let dir = self.snap_dir.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            sync_dir(&dir);
            load_snapshot_file(&trees, &cur)
        })
        .await
        .map_err(snap_err)?
        .map_err(snap_err)?;
        if loaded.snapshot_id != meta.snapshot_id {
            tracing::warn!(expected = %meta, got = %loaded, "installed snapshot id differs from meta");
        }
        if let Ok(mut rd) = tokio::fs::read_dir(&self.snap_dir).await {
            while let Ok(Some(e)) = rd.next_entry().await {
                if e.file_name().to_string_lossy().starts_with("recv-") {
                    let _ = tokio::fs::remove_file(e.path()).await;
                }
            }
        }
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let path = self.snap_dir.join(SNAP_CURRENT);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(snap_err(e)),
        };
        let mut r = BufReader::new(&file);
        let meta = read_header(&mut r).map_err(snap_err)?;
        drop(r);
        let mut f = tokio::fs::File::from_std(file);
        f.seek(std::io::SeekFrom::Start(0)).await.map_err(snap_err)?;
        Ok(Some(Snapshot { meta, snapshot: Box::new(f) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::AccessKey;
    use crate::MetaStore;
    use std::time::Duration;

    fn version(etag: &str) -> ObjectVersion {
        ObjectVersion {
            version_id: None,
            size: 1,
            etag: etag.into(),
            last_modified: 1,
            content_type: None,
            content_encoding: None,
            content_disposition: None,
            content_language: None,
            cache_control: None,
            expires: None,
            user_meta: Default::default(),
            checksums: Default::default(),
            owner: "o".into(),
            data: ObjectData::Inline(vec![7; 10]),
            acl: Default::default(),
        }
    }

    fn dump(t: &SmTrees) -> Vec<(u8, Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        for (tag, tree) in t.data_trees() {
            for item in tree.iter() {
                let (k, v) = item.unwrap();
                out.push((tag, k.to_vec(), v.to_vec()));
            }
        }
        out
    }

    /// Build a snapshot on a live store, install it into a fresh state machine, then
    /// simulate a crash in the middle of an install and recover on open.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn snapshot_build_install_round_trip() {
        let a = tempfile::tempdir().unwrap();
        let store = MetaStore::open(a.path(), 1).await.unwrap();
        store
            .propose(Command::CreateBucket {
                bucket: BucketInfo {
                    name: "b".into(),
                    owner: "o".into(),
                    created: 1,
                    acl: Default::default(),
                    policy: Some("{}".into()),
                },
            })
            .await
            .unwrap();
        for i in 0..50 {
            let cmd = Command::PutObject {
                bucket: "b".into(),
                key: format!("k/{i}"),
                version: version(&format!("e{i}")),
                condition: None,
            };
            store.propose(cmd).await.unwrap();
        }
        let key = AccessKey {
            access_key_id: "AK".into(),
            sealed_secret: b"s".to_vec(),
            name: "n".into(),
            is_root: true,
            created: 1,
            admin: true,
        };
        store.propose(Command::PutAccessKey { key }).await.unwrap();
        let node = NodeEntry { id: 1, addr: "a".into(), s3_addr: "s".into(), disks: 4, first_disk: 0 };
        let cmd = Command::RegisterNode { node, data_shards: 2, parity_shards: 2 };
        assert_eq!(store.propose(cmd).await.unwrap(), CommandResult::Ok);
        let upload = MultipartUpload {
            upload_id: "u1".into(),
            bucket: "b".into(),
            key: "big\0key".into(),
            initiated: 5,
            checksum_algorithm: None,
            template: version("t"),
        };
        assert_eq!(store.propose(Command::CreateUpload { upload }).await.unwrap(), CommandResult::Ok);
        for number in [1, 2] {
            let part = PartRef {
                number,
                size: 10,
                etag: format!("p{number}"),
                checksum: None,
                last_modified: 6,
                data: ObjectData::Inline(vec![number as u8; 10]),
            };
            let cmd = Command::PutPart { bucket: "b".into(), key: "big\0key".into(), upload_id: "u1".into(), part };
            assert_eq!(store.propose(cmd).await.unwrap(), CommandResult::Discard(vec![]));
        }
        let last = store.metrics().last_applied.unwrap().index;
        store.raft().trigger().snapshot().await.unwrap();
        store
            .raft()
            .wait(Some(Duration::from_secs(10)))
            .metrics(|m| m.snapshot.is_some_and(|s| s.index >= last), "snapshot")
            .await
            .unwrap();
        let snap_path = a.path().join("snapshots").join(SNAP_CURRENT);
        let meta = read_header(&mut std::fs::File::open(&snap_path).unwrap()).unwrap();
        // Metrics may trail the apply by a moment.
        assert!(meta.last_log_id.unwrap().index >= last);

        let b = tempfile::tempdir().unwrap();
        let db = sled::open(b.path().join("sled")).unwrap();
        let trees = SmTrees::open(&db).unwrap();
        let mut sm = StateMachine::open(trees.clone(), b.path().join("snapshots")).unwrap();
        // Stale state that the install must replace.
        trees.objects.insert(b"stale", b"x".to_vec()).unwrap();
        trees.parts.insert(b"stale", b"x".to_vec()).unwrap();
        trees.cluster.insert(b"stale", b"x".to_vec()).unwrap();
        let mut recv = sm.begin_receiving_snapshot().await.unwrap();
        let mut src = tokio::fs::File::open(&snap_path).await.unwrap();
        tokio::io::copy(&mut src, &mut *recv).await.unwrap();
        sm.install_snapshot(&meta, recv).await.unwrap();

        let (applied, membership) = sm.applied_state().await.unwrap();
        assert_eq!(applied, meta.last_log_id);
        assert_eq!(membership, meta.last_membership);
        let a_trees = SmTrees::open(&sled_of(&store)).unwrap();
        let expected = dump(&a_trees);
        assert_eq!(expected.len(), 56);
        assert_eq!(expected.iter().filter(|r| r.0 == TAG_CLUSTER).count(), 1, "the layout travels in snapshots");
        assert_eq!(expected.iter().filter(|r| r.0 == TAG_UPLOADS).count(), 1);
        assert_eq!(expected.iter().filter(|r| r.0 == TAG_PARTS).count(), 2);
        assert_eq!(dump(&trees), expected);
        let cur = sm.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(cur.meta, meta);
        store.shutdown().await.unwrap();

        // Crash in the middle of an install: marker set, trees half cleared.
        trees.meta.insert(SM_INSTALLING, &b"1"[..]).unwrap();
        trees.objects.clear().unwrap();
        trees.uploads.clear().unwrap();
        drop(sm);
        let _sm = StateMachine::open(trees.clone(), b.path().join("snapshots")).unwrap();
        assert!(trees.meta.get(SM_INSTALLING).unwrap().is_none());
        assert_eq!(dump(&trees), expected);
    }

    fn sled_of(store: &MetaStore) -> sled::Db {
        store.sled_db()
    }

    #[test]
    fn etag_matching() {
        assert!(etag_matches("*", "abc"));
        assert!(etag_matches("\"abc\"", "abc"));
        assert!(etag_matches("abc", "abc"));
        assert!(etag_matches("W/\"abc\"", "abc"));
        assert!(etag_matches("\"x\", \"abc\"", "abc"));
        assert!(!etag_matches("\"abd\"", "abc"));
        assert!(!etag_matches("", "abc"));
    }
}
