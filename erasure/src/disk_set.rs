//! [`DiskSet`]: the table of disks (local or remote) by global index, and the entry
//! points that write, read, heal and remove one object's shards across them.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use crate::disk::{remove_shards, LocalDisk, ShardDisk};
use crate::error::{join_error, ErasureError};
use crate::heal::{Blob, BlobHealth, HealOutcome, Pace};
use crate::layout::Layout;
use crate::reader::ShardReader;
use crate::segment::SegmentConfig;
use crate::spec::ShardSpec;
use crate::writer::ShardWriter;

/// Disk index -> disk; None where the disk is unknown or unreachable.
pub(crate) type DiskTable = Arc<[Option<Arc<dyn ShardDisk>>]>;

/// The disks shards are written to, indexed by their global index in the cluster layout.
/// Cheap to clone; clones share the table, so a layout change through one is seen by all.
/// Writers and readers resolve their disks when created and keep them, so they can outlive
/// both borrows of the set and later layout changes.
#[derive(Clone)]
pub struct DiskSet {
    table: Arc<RwLock<DiskTable>>,
    damage: Arc<RwLock<Option<DamageHook>>>,
}

/// Told the id of a blob found damaged in passing (a read that needed parity, a write
/// that reached its quorum but not every shard), so that it gets healed.
pub type DamageHook = Arc<dyn Fn(u128) + Send + Sync>;

impl std::fmt::Debug for DiskSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskSet").field("table", &self.table).finish_non_exhaustive()
    }
}

impl DiskSet {
    /// One [`LocalDisk`] per root, disk index i = `roots[i]`. Must run before any writer of
    /// this process uses the roots (i.e. once at start-up), as it clears their temp files.
    pub fn open(roots: &[PathBuf]) -> io::Result<DiskSet> {
        Self::open_with(roots, SegmentConfig::default())
    }

    /// [`DiskSet::open`] with segments configured.
    pub fn open_with(roots: &[PathBuf], segments: SegmentConfig) -> io::Result<DiskSet> {
        let disks = roots
            .iter()
            .map(|root| Ok(Some(Arc::new(LocalDisk::open_with(root, segments.clone())?) as Arc<dyn ShardDisk>)))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(DiskSet::from_disks(disks))
    }

    pub fn from_disks(disks: Vec<Option<Arc<dyn ShardDisk>>>) -> DiskSet {
        DiskSet { table: Arc::new(RwLock::new(disks.into())), damage: Arc::new(RwLock::new(None)) }
    }

    /// Who to tell about damaged blobs (the healer's queue).
    pub fn set_damage_hook(&self, hook: DamageHook) {
        *self.damage.write().unwrap_or_else(PoisonError::into_inner) = Some(hook);
    }

    /// Reports blob `id` as damaged to the hook, if one is set.
    pub fn report_damaged(&self, id: u128) {
        let hook = self.damage.read().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(h) = hook {
            h(id);
        }
    }

    /// Reads and checks every block of every shard of a blob of `object_size` bytes.
    pub async fn verify(
        &self,
        spec: ShardSpec,
        object_size: u64,
        pace: Option<Pace>,
    ) -> Result<BlobHealth, ErasureError> {
        let disks = self.resolve(&spec)?;
        tokio::task::spawn_blocking(move || {
            let layout = Layout { k: spec.data(), block_size: spec.block_size as u64, object_size };
            Blob { disks: &disks, spec: &spec, layout, pace: pace.as_ref() }.verify()
        })
        .await
        .map_err(join_error)
    }

    /// Rewrites the bad shards of a blob in place (on the disks `spec` names), then
    /// verifies it again.
    pub async fn heal(
        &self,
        spec: ShardSpec,
        object_size: u64,
        pace: Option<Pace>,
    ) -> Result<HealOutcome, ErasureError> {
        let disks = self.resolve(&spec)?;
        tokio::task::spawn_blocking(move || {
            let layout = Layout { k: spec.data(), block_size: spec.block_size as u64, object_size };
            Blob { disks: &disks, spec: &spec, layout, pace: pace.as_ref() }.heal()
        })
        .await
        .map_err(join_error)
    }

    /// Copies shard `shard` of a blob to disk `to` (the rebalancer's move, before the
    /// metadata points at the new place).
    pub async fn copy_shard(
        &self,
        spec: ShardSpec,
        object_size: u64,
        shard: usize,
        to: u16,
        pace: Option<Pace>,
    ) -> Result<(), ErasureError> {
        let disks = self.resolve(&spec)?;
        let dst = self.disk(to).ok_or_else(|| ErasureError::Layout(format!("disk {to} is not in the table")))?;
        if shard >= disks.len() {
            return Err(ErasureError::Layout(format!("no shard {shard}")));
        }
        tokio::task::spawn_blocking(move || {
            let layout = Layout { k: spec.data(), block_size: spec.block_size as u64, object_size };
            Blob { disks: &disks, spec: &spec, layout, pace: pace.as_ref() }.copy_shard(shard, dst.as_ref())
        })
        .await
        .map_err(join_error)?
    }

    /// Replaces the whole table (a layout change); writers/readers already created keep the
    /// disks they resolved.
    pub fn set_disks(&self, disks: Vec<Option<Arc<dyn ShardDisk>>>) {
        *self.table.write().unwrap_or_else(PoisonError::into_inner) = disks.into();
    }

    /// A snapshot, so one operation sees one layout even if the table changes meanwhile.
    pub(crate) fn table(&self) -> DiskTable {
        self.table.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn disk(&self, index: u16) -> Option<Arc<dyn ShardDisk>> {
        self.table.read().unwrap_or_else(PoisonError::into_inner).get(index as usize)?.clone()
    }

    pub fn len(&self) -> usize {
        self.table.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Present in the table and answering [`ShardDisk::is_online`].
    pub fn is_online(&self, index: u16) -> bool {
        self.disk(index).is_some_and(|d| d.is_online())
    }

    /// Disk index for each of `width` shards: the disk list rotated by `hash % len`.
    pub fn placement(&self, hash: u64, width: usize) -> Result<Vec<u16>, ErasureError> {
        let len = self.len();
        if width > len || len > u16::MAX as usize + 1 {
            return Err(ErasureError::Layout(format!("{width} shards need at least {width} disks, have {len}")));
        }
        let first = (hash % len as u64) as usize;
        Ok((0..width).map(|i| ((first + i) % len) as u16).collect())
    }

    /// An absent disk is a shard failed from the start; with too few left for the write
    /// quorum this fails at once, before the caller streams any data.
    pub fn writer(&self, spec: ShardSpec) -> Result<ShardWriter, ErasureError> {
        let disks = self.resolve(&spec)?;
        let present = disks.iter().flatten().count();
        let needed = spec.write_quorum();
        if present < needed {
            return Err(ErasureError::Quorum { written: present, needed, full: 0 });
        }
        Ok(ShardWriter::new(disks.into(), spec))
    }

    /// Reads object bytes `[start, end)` as a sequence of chunks. An absent disk is an
    /// unavailable shard.
    pub fn reader(&self, spec: ShardSpec, object_size: u64, start: u64, end: u64) -> Result<ShardReader, ErasureError> {
        let disks = self.resolve(&spec)?;
        if start > end || end > object_size {
            return Err(ErasureError::Layout(format!("range {start}..{end} outside object of {object_size} bytes")));
        }
        let hook = self.damage.read().unwrap_or_else(PoisonError::into_inner).clone();
        Ok(ShardReader::new(disks, spec, object_size, start, end, hook))
    }

    /// Removes every shard file of `spec` (final and temp); missing files are fine. Shards on
    /// absent disks are skipped.
    pub async fn delete(&self, spec: &ShardSpec) -> io::Result<()> {
        let disks = self.resolve(spec).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let id = spec.id;
        let absent = disks.iter().filter(|d| d.is_none()).count();
        if absent > 0 {
            tracing::warn!(id = %format_args!("{id:032x}"), absent, "shards on absent disks not deleted");
        }
        tokio::task::spawn_blocking(move || remove_shards(&disks, id)).await.map_err(|e| match join_error(e) {
            ErasureError::Io(e) => e,
            other => io::Error::other(other.to_string()),
        })?
    }

    /// The disk of each shard of a validated `spec`.
    fn resolve(&self, spec: &ShardSpec) -> Result<Vec<Option<Arc<dyn ShardDisk>>>, ErasureError> {
        let table = self.table();
        spec.validate(table.len())?;
        Ok(spec.disks.iter().map(|&d| table[d as usize].clone()).collect())
    }
}
