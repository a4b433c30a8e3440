//! Shard files written with direct I/O (`O_DIRECT`): the bytes go from one staging buffer
//! to the disk, not through a page-cache copy and later writeback. A file-per-shard write
//! spent about a quarter of its CPU in that copy (`copy_folio_from_iter_atomic`).
//!
//! Direct I/O wants the buffer, the file offset and the length aligned to the disk's block,
//! and a shard file is a 48-byte header then blocks with 4-byte CRCs, nothing aligned. So
//! [`DirectStage`] collects the file's bytes in a [`ALIGN`]-aligned buffer of
//! [`STAGE`] bytes and writes each full buffer at its aligned offset. The header is known
//! only at commit: the first buffer goes out with a placeholder, and [`DirectStage::finish`]
//! rewrites the file's first block with the header in it, writes the last buffer padded
//! to the block size and cuts the file to its true length. The file's format does not
//! change; readers read it as before (buffered). Durability still comes from the caller's
//! fsync, which also flushes the device cache.
//!
//! A file system that refuses `O_DIRECT` (tmpfs, some FUSE) gets buffered writes instead:
//! [`open_direct`] says so by returning None.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// Alignment of buffers, offsets and lengths (the largest logical block in common use).
pub const ALIGN: usize = 4096;
/// Bytes staged per write. Each shard writer holds one such buffer.
pub const STAGE: usize = 256 << 10;

/// Creates `path` (which must not exist) for direct writes, or returns None if its file
/// system does not take `O_DIRECT` (then nothing was created).
pub fn open_direct(path: &Path) -> io::Result<Option<File>> {
    match OpenOptions::new().write(true).create_new(true).custom_flags(libc::O_DIRECT).open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The unwritten tail of a file being written with direct I/O.
pub struct DirectStage {
    /// The staged bytes from `at` (aligned) for [`STAGE`] bytes, then one aligned block
    /// that keeps the file's first block once it went out (over-allocated by [`ALIGN`]
    /// to find an aligned start).
    buf: Vec<u8>,
    at: usize,
    /// Bytes staged.
    len: usize,
    /// File offset of the first staged byte (a multiple of [`STAGE`]).
    base: u64,
    /// The first buffer went out: the file's first block is kept after the stage (the
    /// header is put into it at finish).
    first_kept: bool,
}

impl DirectStage {
    /// A stage for a new file whose first `reserved` bytes are written at finish.
    pub fn new(reserved: usize) -> DirectStage {
        let buf = vec![0u8; STAGE + 2 * ALIGN];
        let at = buf.as_ptr().align_offset(ALIGN);
        assert!(at < ALIGN && reserved <= ALIGN);
        DirectStage { buf, at, len: reserved, base: 0, first_kept: false }
    }

    /// The file's length so far.
    pub fn written(&self) -> u64 {
        self.base + self.len as u64
    }

    /// Appends `bytes`, writing every buffer that fills.
    pub fn append(&mut self, file: &File, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let n = bytes.len().min(STAGE - self.len);
            let dst = self.at + self.len;
            self.buf[dst..dst + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
            if self.len == STAGE {
                self.write_out(file, STAGE)?;
                if self.base == 0 {
                    let at = self.at;
                    self.buf.copy_within(at..at + ALIGN, at + STAGE);
                    self.first_kept = true;
                }
                self.base += STAGE as u64;
                self.len = 0;
            }
        }
        Ok(())
    }

    fn write_out(&self, file: &File, len: usize) -> io::Result<()> {
        file.write_all_at(&self.buf[self.at..self.at + len], self.base)
    }

    /// Writes what is staged, puts `head` at the start of the file and cuts the file to
    /// its length (returned). Not synced.
    pub fn finish(mut self, file: &File, head: &[u8]) -> io::Result<u64> {
        let total = self.written();
        if self.first_kept {
            let first = self.at + STAGE;
            self.buf[first..first + head.len()].copy_from_slice(head);
            file.write_all_at(&self.buf[first..first + ALIGN], 0)?;
        } else {
            self.buf[self.at..self.at + head.len()].copy_from_slice(head);
        }
        if self.len > 0 {
            let padded = self.len.div_ceil(ALIGN) * ALIGN;
            self.buf[self.at + self.len..self.at + padded].fill(0);
            self.write_out(file, padded)?;
        }
        file.set_len(total)?;
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Files of many lengths, written in odd pieces, read back byte for byte with the head
    /// in place, where the file system takes direct I/O (the temporary directory's).
    #[test]
    fn writes_read_back_whole_at_every_length() {
        let dir = tempfile::tempdir().unwrap();
        let mut seed = 7u32;
        for (n, len) in
            [0usize, 1, 100, ALIGN - 48, ALIGN, STAGE - 48, STAGE, STAGE + 1, 3 * STAGE + 12345].into_iter().enumerate()
        {
            let path = dir.path().join(format!("f{n}"));
            let Some(file) = open_direct(&path).unwrap() else {
                eprintln!("no O_DIRECT on this file system: nothing to check");
                return;
            };
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            let mut stage = DirectStage::new(48);
            let mut rest = &data[..];
            let mut piece = 1;
            while !rest.is_empty() {
                let k = piece.min(rest.len());
                stage.append(&file, &rest[..k]).unwrap();
                rest = &rest[k..];
                piece = piece * 3 + 5;
            }
            let head = [0xa5u8; 48];
            assert_eq!(stage.finish(&file, &head).unwrap(), 48 + len as u64);
            drop(file);
            let mut got = Vec::new();
            File::open(&path).unwrap().read_to_end(&mut got).unwrap();
            assert_eq!(got.len(), 48 + len, "length of file {n}");
            assert_eq!(&got[..48], &head, "head of file {n}");
            assert!(got[48..] == data[..], "body of file {n} ({len} bytes)");
        }
    }
}
