//! File names of shards on a disk root.

use std::path::{Path, PathBuf};

pub(crate) const OBJECTS_DIR: &str = "objects";
pub(crate) const TMP_DIR: &str = "tmp";
/// Written when a disk directory is formatted: a directory without it is new or wiped.
pub(crate) const FORMAT_FILE: &str = ".cairn-disk";

/// The blob id and shard index of a shard file name `<32 hex>.<index>`.
pub(crate) fn parse_shard_name(name: &str) -> Option<(u128, usize)> {
    let (hex, idx) = name.split_once('.')?;
    if hex.len() != 32 {
        return None;
    }
    Some((u128::from_str_radix(hex, 16).ok()?, idx.parse().ok()?))
}

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
