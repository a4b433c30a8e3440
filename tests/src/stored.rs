//! Shards as they lie on a disk, for tests that count or damage them: a file of its own
//! (`<disk>/objects/<2 hex>/<32 hex>.<index>`), or a record in a segment file
//! (`<disk>/segments/*.seg`), read by the format documented in `cairn_erasure::segment`:
//! records are replayed oldest first, a later record of a shard replaces an earlier one and a
//! tombstone removes it, as a node does when it opens the disk.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const RECORD_HEADER: u64 = 44;
/// The shard image's own header, at the start of a file or a record's payload.
const SHARD_HEADER: u64 = 48;

/// One live shard on a disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredShard {
    File {
        path: PathBuf,
        id: String,
        index: usize,
    },
    /// `at` is where the payload (the shard image) starts in the segment file.
    Record {
        seg: PathBuf,
        at: u64,
        len: u64,
        id: String,
        index: usize,
    },
}

impl StoredShard {
    /// The blob id, 32 lowercase hex digits.
    pub fn id(&self) -> &str {
        match self {
            StoredShard::File { id, .. } | StoredShard::Record { id, .. } => id,
        }
    }

    pub fn index(&self) -> usize {
        match self {
            StoredShard::File { index, .. } | StoredShard::Record { index, .. } => *index,
        }
    }

    pub fn is_record(&self) -> bool {
        matches!(self, StoredShard::Record { .. })
    }

    /// Bytes of the shard image (header, blocks and CRCs).
    pub fn len(&self) -> u64 {
        match self {
            StoredShard::File { path, .. } => std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            StoredShard::Record { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The file holding the shard, and where in it the shard image starts.
    fn file_and_base(&self) -> (&Path, u64) {
        match self {
            StoredShard::File { path, .. } => (path, 0),
            StoredShard::Record { seg, at, .. } => (seg, *at),
        }
    }

    fn write_at(&self, offset: u64, bytes: &[u8]) {
        let (path, base) = self.file_and_base();
        let f = OpenOptions::new().write(true).open(path).unwrap();
        f.write_all_at(bytes, base + offset).unwrap();
        f.sync_all().unwrap();
    }

    /// The shard image as it is on disk now.
    pub fn read(&self) -> Vec<u8> {
        let (path, base) = self.file_and_base();
        match self {
            StoredShard::File { .. } => std::fs::read(path).unwrap(),
            StoredShard::Record { len, .. } => {
                let mut b = vec![0; *len as usize];
                std::fs::File::open(path).unwrap().read_exact_at(&mut b, base).unwrap();
                b
            }
        }
    }

    /// Puts back an image taken with [`StoredShard::read`] (a removed file is recreated).
    pub fn write_back(&self, image: &[u8]) {
        match self {
            StoredShard::File { path, .. } => std::fs::write(path, image).unwrap(),
            StoredShard::Record { .. } => self.write_at(0, image),
        }
    }

    /// XORs one byte of the shard image.
    pub fn flip(&self, offset: u64) {
        let (path, base) = self.file_and_base();
        let f = OpenOptions::new().read(true).write(true).open(path).unwrap();
        let mut b = [0u8];
        f.read_exact_at(&mut b, base + offset).unwrap();
        f.write_all_at(&[b[0] ^ 0x5a], base + offset).unwrap();
        f.sync_all().unwrap();
    }

    /// Loses the last two thirds of the shard: a file is cut short, a record's bytes zeroed.
    pub fn truncate(&self) {
        let len = self.len();
        match self {
            StoredShard::File { path, .. } => {
                OpenOptions::new().write(true).open(path).unwrap().set_len(len / 3).unwrap()
            }
            StoredShard::Record { .. } => self.write_at(len / 3, &vec![0; (len - len / 3) as usize]),
        }
    }

    /// Overwrites 64 bytes in the middle with a fixed pattern (idempotent, unlike a flip).
    pub fn corrupt_middle(&self) {
        let len = self.len();
        assert!(len > 128, "shard {self:?} too small to corrupt ({len} bytes)");
        self.write_at(len / 2 - 32, &crate::random_bytes(0xbad_c0de, 64));
    }

    /// Makes the shard unreadable as a whole: a file is removed, a record's shard header
    /// zeroed (a segment cannot lose one record, but a reader then finds no such shard).
    pub fn destroy(&self) {
        match self {
            StoredShard::File { path, .. } => std::fs::remove_file(path).unwrap(),
            StoredShard::Record { .. } => self.write_at(0, &[0; SHARD_HEADER as usize]),
        }
    }
}

/// Every live shard on a disk: its shard files, then its segment records.
pub fn stored_shards(disk: &Path) -> Vec<StoredShard> {
    let mut out: Vec<StoredShard> = crate::shard_files(disk)
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let (id, index) = name.rsplit_once('.').unwrap();
            StoredShard::File { id: id.to_string(), index: index.parse().unwrap(), path }
        })
        .collect();
    out.extend(segment_records(disk).into_values());
    out
}

/// The live shards of every disk.
pub fn stored_shards_all(disks: &[PathBuf]) -> Vec<StoredShard> {
    disks.iter().flat_map(|d| stored_shards(d)).collect()
}

/// Shard `index` of blob `id` on whichever of `disks` holds it.
pub fn find_shard(disks: &[PathBuf], id: &str, index: usize) -> StoredShard {
    stored_shards_all(disks)
        .into_iter()
        .find(|s| s.id() == id && s.index() == index)
        .unwrap_or_else(|| panic!("shard {id}.{index} not found on any disk"))
}

fn segment_records(disk: &Path) -> BTreeMap<(String, usize), StoredShard> {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(disk.join("segments"))
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "seg")).collect())
        .unwrap_or_default();
    segs.sort();
    let mut live = BTreeMap::new();
    for seg in segs {
        let Ok(b) = std::fs::read(&seg) else { continue };
        let mut at = 0usize;
        while at + RECORD_HEADER as usize <= b.len() && &b[at..at + 4] == b"CSG1" {
            let h = &b[at..at + RECORD_HEADER as usize];
            let len = u32::from_le_bytes(h[24..28].try_into().unwrap()) as u64;
            let id = format!("{:032x}", u128::from_le_bytes(h[8..24].try_into().unwrap()));
            let index = usize::from(u16::from_le_bytes(h[6..8].try_into().unwrap()));
            let payload = at as u64 + RECORD_HEADER;
            if payload + len > b.len() as u64 {
                break;
            }
            match h[4] {
                1 => {
                    let rec = StoredShard::Record { seg: seg.clone(), at: payload, len, id: id.clone(), index };
                    live.insert((id, index), rec);
                }
                2 => {
                    live.remove(&(id, index));
                }
                _ => break,
            }
            at = (payload + len) as usize;
        }
    }
    live
}
