use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{join_error, ErasureError};
use crate::paths::{shard_path, tmp_path, OBJECTS_DIR, TMP_DIR};
use crate::reader::ShardReader;
use crate::spec::ShardSpec;
use crate::writer::ShardWriter;

/// The local disk directories shards are written to. Cheap to share: writers and readers
/// hold their own handle on the roots so they can outlive borrows of the set.
#[derive(Clone, Debug)]
pub struct DiskSet {
    roots: Arc<[PathBuf]>,
}

impl DiskSet {
    /// Creates `root/objects` and `root/tmp` if missing and clears stale files in `root/tmp`.
    /// Temp files only belong to writes in flight, so this must run before any writer of
    /// this process uses the roots (i.e. once at start-up).
    pub fn open(roots: &[PathBuf]) -> io::Result<DiskSet> {
        for root in roots {
            create_fan_out_dirs(&root.join(OBJECTS_DIR))?;
            let tmp = root.join(TMP_DIR);
            std::fs::create_dir_all(&tmp)?;
            for entry in std::fs::read_dir(&tmp)? {
                let entry = entry?;
                if let Err(e) = std::fs::remove_file(entry.path()) {
                    tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove stale temp file");
                }
            }
        }
        Ok(DiskSet { roots: roots.into() })
    }

    pub fn len(&self) -> usize {
        self.roots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
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

    pub fn writer(&self, spec: ShardSpec) -> Result<ShardWriter, ErasureError> {
        spec.validate(self.len())?;
        Ok(ShardWriter::new(self.roots.clone(), spec))
    }

    /// Reads object bytes `[start, end)` as a sequence of chunks.
    pub fn reader(&self, spec: ShardSpec, object_size: u64, start: u64, end: u64) -> Result<ShardReader, ErasureError> {
        spec.validate(self.len())?;
        if start > end || end > object_size {
            return Err(ErasureError::Layout(format!("range {start}..{end} outside object of {object_size} bytes")));
        }
        Ok(ShardReader::new(self.roots.clone(), spec, object_size, start, end))
    }

    /// Removes every shard file of `spec` (final and temp); missing files are fine.
    pub async fn delete(&self, spec: &ShardSpec) -> io::Result<()> {
        spec.validate(self.len()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let paths = all_paths(&self.roots, spec);
        tokio::task::spawn_blocking(move || remove_all(&paths)).await.map_err(|e| match join_error(e) {
            ErasureError::Io(e) => e,
            other => io::Error::other(other.to_string()),
        })?
    }
}

/// Creating every fan-out directory up front means a write almost never adds a directory
/// entry to `objects/`, so finish() need not fsync it.
fn create_fan_out_dirs(objects: &Path) -> io::Result<()> {
    std::fs::create_dir_all(objects)?;
    let existing: HashSet<_> = std::fs::read_dir(objects)?.filter_map(|e| e.ok().map(|e| e.file_name())).collect();
    let mut created = false;
    for b in 0..=255u8 {
        let name = format!("{b:02x}");
        if !existing.contains(std::ffi::OsStr::new(&name)) {
            std::fs::create_dir_all(objects.join(name))?;
            created = true;
        }
    }
    if created {
        std::fs::File::open(objects)?.sync_all()?;
        if let Some(root) = objects.parent() {
            std::fs::File::open(root)?.sync_all()?;
        }
    }
    Ok(())
}

/// Final and temp paths of every shard of `spec`.
pub(crate) fn all_paths(roots: &[PathBuf], spec: &ShardSpec) -> Vec<PathBuf> {
    spec.disks.iter().enumerate().flat_map(|(i, _)| shard_files(roots, spec, i)).collect()
}

/// Final and temp path of shard `i` of `spec`.
pub(crate) fn shard_files(roots: &[PathBuf], spec: &ShardSpec, i: usize) -> [PathBuf; 2] {
    let root = &roots[spec.disks[i] as usize];
    [shard_path(root, spec.id, i), tmp_path(root, spec.id, i)]
}

/// Removes every path, ignoring missing ones; reports the first other error after trying all.
pub(crate) fn remove_all(paths: &[PathBuf]) -> io::Result<()> {
    let mut first = None;
    for p in paths {
        match std::fs::remove_file(p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    first.map_or(Ok(()), Err)
}
