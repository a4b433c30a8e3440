//! Space on each disk of a set, for status reports and metrics.

use crate::DiskSet;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskUsage {
    pub index: usize,
    pub root: PathBuf,
    /// False when the disk's shard directory is missing or its filesystem cannot be read.
    pub online: bool,
    pub total_bytes: u64,
    pub free_bytes: u64,
}

impl DiskSet {
    pub fn usage(&self) -> Vec<DiskUsage> {
        self.roots()
            .iter()
            .enumerate()
            .map(|(index, root)| {
                let objects = root.join("objects");
                match rustix::fs::statvfs(&objects) {
                    Ok(s) if objects.is_dir() => DiskUsage {
                        index,
                        root: root.clone(),
                        online: true,
                        total_bytes: s.f_blocks.saturating_mul(s.f_frsize),
                        free_bytes: s.f_bavail.saturating_mul(s.f_frsize),
                    },
                    _ => DiskUsage { index, root: root.clone(), online: false, total_bytes: 0, free_bytes: 0 },
                }
            })
            .collect()
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
        std::fs::remove_dir_all(roots[1].join("objects")).unwrap();
        let u = set.usage();
        assert!(!u[1].online && u[0].online && u[2].online);
    }
}
