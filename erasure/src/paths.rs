//! File names of shards on a disk root.

use std::path::{Path, PathBuf};

pub(crate) const OBJECTS_DIR: &str = "objects";
pub(crate) const TMP_DIR: &str = "tmp";

/// `root/objects/<first 2 hex of id>`: fans files out so no directory grows huge.
pub(crate) fn object_dir(root: &Path, id: u128) -> PathBuf {
    let hex = format!("{id:032x}");
    root.join(OBJECTS_DIR).join(&hex[..2])
}

pub(crate) fn shard_path(root: &Path, id: u128, shard: usize) -> PathBuf {
    object_dir(root, id).join(format!("{id:032x}.{shard}"))
}

pub(crate) fn tmp_path(root: &Path, id: u128, shard: usize) -> PathBuf {
    root.join(TMP_DIR).join(format!("{id:032x}.{shard}"))
}
