//! What sled leaves unsynced, made durable before a Raft append is acknowledged.
//!
//! sled 0.34 writes its log with `pwrite` and `sync_file_range` (no device cache flush, no
//! file size), fsyncs its `db` file only from a background thread every `flush_every_ms`,
//! and writes values it keeps out of line (`blobs/<lsn>`) with no sync at all. So a
//! `flush_async` that returned survives a crash of the process but not always a power
//! loss. [`SledSync::sync`] follows each flush: every blob file not yet synced at its
//! current length is fsynced, then the blob directory if any was, then the `db` file's data
//! (`fdatasync`: its size and the device cache with it). Touches only those files, read-only.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub(crate) struct SledSync {
    blobs: PathBuf,
    db: File,
    /// Blob files synced, with the length they had then: a blob is written once, so one
    /// seen at another length (it was still being written) is synced again.
    synced: Mutex<HashMap<String, u64>>,
}

impl SledSync {
    /// For the sled database in `sled_dir`.
    pub fn open(sled_dir: &Path) -> io::Result<SledSync> {
        Ok(SledSync {
            blobs: sled_dir.join("blobs"),
            db: File::open(sled_dir.join("db"))?,
            synced: Mutex::new(HashMap::new()),
        })
    }

    /// Makes everything sled has written so far durable (blocking).
    pub fn sync(&self) -> io::Result<()> {
        let mut synced = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        let mut now = HashMap::with_capacity(synced.len());
        let mut any = false;
        match std::fs::read_dir(&self.blobs) {
            Ok(entries) => {
                for e in entries {
                    let e = e?;
                    let name = e.file_name().to_string_lossy().into_owned();
                    let len = match e.metadata() {
                        Ok(m) => m.len(),
                        // Removed by sled meanwhile: nothing to keep.
                        Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                        Err(err) => return Err(err),
                    };
                    if synced.get(&name) != Some(&len) {
                        match File::open(e.path()) {
                            Ok(f) => f.sync_all()?,
                            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                            Err(err) => return Err(err),
                        }
                        any = true;
                    }
                    now.insert(name, len);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if any {
            File::open(&self.blobs)?.sync_all()?;
        }
        self.db.sync_data()?;
        *synced = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_new_and_grown_blobs_and_forgets_removed_ones() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path().join("s")).open().unwrap();
        let s = SledSync::open(&dir.path().join("s")).unwrap();
        s.sync().unwrap();
        let blobs = dir.path().join("s").join("blobs");
        std::fs::create_dir_all(&blobs).unwrap();
        std::fs::write(blobs.join("17"), b"abc").unwrap();
        s.sync().unwrap();
        assert_eq!(s.synced.lock().unwrap().get("17"), Some(&3));
        std::fs::write(blobs.join("17"), b"abcdef").unwrap();
        s.sync().unwrap();
        assert_eq!(s.synced.lock().unwrap().get("17"), Some(&6), "a blob seen at another length is synced again");
        std::fs::remove_file(blobs.join("17")).unwrap();
        s.sync().unwrap();
        assert!(s.synced.lock().unwrap().is_empty());
        drop(db);
    }
}
