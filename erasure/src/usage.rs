//! Space on each disk of a set, for status reports and metrics.

use std::path::{Path, PathBuf};

use crate::paths::{FORMAT_FILE, OBJECTS_DIR};
use crate::segment::SegmentStats;
use crate::DiskSet;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskUsage {
    /// The disk's index in its set, i.e. its global index in the cluster layout.
    pub index: usize,
    pub root: PathBuf,
    /// False when the disk's shard directory is missing or its filesystem cannot be read.
    pub online: bool,
    pub total_bytes: u64,
    pub free_bytes: u64,
    /// The disk's segment files, when it packs shards into them.
    pub segments: Option<SegmentStats>,
}

impl DiskSet {
    /// Local disks only: a remote disk's space is reported by the node that holds it.
    pub fn usage(&self) -> Vec<DiskUsage> {
        self.table()
            .iter()
            .enumerate()
            .filter_map(|(index, disk)| {
                let mut u = disk.as_ref()?.local_usage()?;
                u.index = index;
                Some(u)
            })
            .collect()
    }
}

/// Usage of the local disk directory `root`, with index 0.
pub(crate) fn local_usage(root: &Path) -> DiskUsage {
    let objects = root.join(OBJECTS_DIR);
    match rustix::fs::statvfs(&objects) {
        Ok(s) if objects.is_dir() && root.join(FORMAT_FILE).is_file() => DiskUsage {
            index: 0,
            root: root.to_path_buf(),
            online: true,
            total_bytes: s.f_blocks.saturating_mul(s.f_frsize),
            free_bytes: s.f_bavail.saturating_mul(s.f_frsize),
            segments: None,
        },
        _ => DiskUsage {
            index: 0,
            root: root.to_path_buf(),
            online: false,
            total_bytes: 0,
            free_bytes: 0,
            segments: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_each_disk_and_notices_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let roots: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("d{i}"))).collect();
        let set = DiskSet::open(&roots).unwrap();
        let u = set.usage();
        assert_eq!(u.len(), 3);
        assert!(u.iter().all(|d| d.online && d.total_bytes > 0 && d.free_bytes <= d.total_bytes));
        std::fs::remove_file(roots[1].join(".cairn-disk")).unwrap();
        let u = set.usage();
        assert!(!u[1].online && u[0].online && u[2].online);
    }
}
