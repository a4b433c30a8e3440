//! The local disk list is part of the erasure layout: shard placement records
//! disk indices, so the list may not change order or shrink between starts
//! until layout changes go through Raft. Touches `<data>/disks.json` only.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

const DISK_LIST: &str = "disks.json";

pub fn check_disk_list(data: &Path, disks: &[PathBuf]) -> anyhow::Result<()> {
    let path = data.join(DISK_LIST);
    let current: Vec<String> = disks.iter().map(|d| absolute(d)).collect();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let stored: Vec<String> =
                serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
            if stored != current {
                bail!(
                    "the disk list differs from the one this node was created with ({}): {:?} was {:?}; \
                     changing disks is not supported yet",
                    path.display(),
                    current,
                    stored
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let tmp = data.join(format!("{DISK_LIST}.tmp"));
            std::fs::write(&tmp, serde_json::to_vec_pretty(&current)?)?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn absolute(p: &Path) -> String {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string()
}
