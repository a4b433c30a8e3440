//! [`Paced`]: a large file written by a background task without piling up dirty pages.
//!
//! A snapshot at a million objects is hundreds of MiB. Written through the page cache
//! and fsynced once at the end, all of it reaches the disk in that one fsync, and the
//! Raft log's fdatasync queued behind it waits as long: at 1M objects every PUT stalled
//! for 0.66 s at the end of each snapshot. Here every [`PACE`] bytes the writeback of
//! what was just written is started (`sync_file_range`, no device cache flush), after
//! waiting for the range before it: at most two ranges are ever dirty or in flight, the
//! disk sees the file as a steady stream, and the final fsync has little left to do.
//! The writer waits instead of the requests: it is meant for threads that may.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;

/// Bytes written between two starts of writeback.
pub(crate) const PACE: u64 = 8 << 20;

/// Writes go straight to the file (put a `BufWriter` in front of it).
pub(crate) struct Paced {
    file: File,
    written: u64,
    /// Writeback of `[waited, started)` was started and not yet waited for.
    started: u64,
    waited: u64,
}

impl Paced {
    pub fn new(file: File) -> Paced {
        Paced { file, written: 0, started: 0, waited: 0 }
    }

    /// The file, every byte written (not yet durable: fsync it).
    pub fn into_inner(self) -> File {
        self.file
    }

    /// Only a hint, as at the erasure crate's `LocalWriter::start_writeback`: the final
    /// fsync reports real write errors, and a filesystem that refuses the call must not
    /// make every snapshot fail.
    fn range(&self, from: u64, to: u64, flags: libc::c_uint) {
        if to <= from {
            return;
        }
        // SAFETY: sync_file_range only reads the descriptor, which `self.file` keeps open.
        let r = unsafe { libc::sync_file_range(self.file.as_raw_fd(), from as i64, (to - from) as i64, flags) };
        if r != 0 {
            tracing::debug!(error = %io::Error::last_os_error(), "sync_file_range");
        }
    }

    fn pace(&mut self) {
        use libc::{SYNC_FILE_RANGE_WAIT_AFTER, SYNC_FILE_RANGE_WAIT_BEFORE, SYNC_FILE_RANGE_WRITE};
        self.range(
            self.waited,
            self.started,
            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER,
        );
        self.range(self.started, self.written, SYNC_FILE_RANGE_WRITE);
        self.waited = self.started;
        self.started = self.written;
    }
}

impl Write for Paced {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= PACE {
            self.pace();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn writes_every_byte_and_keeps_little_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut w = io::BufWriter::with_capacity(1 << 20, Paced::new(File::create(&path).unwrap()));
        let chunk: Vec<u8> = (0..=255u8).cycle().take(3 << 20).collect();
        for _ in 0..7 {
            w.write_all(&chunk).unwrap();
        }
        let paced = w.into_inner().map_err(|e| e.into_error()).unwrap();
        assert!(paced.started >= 2 * PACE && paced.written - paced.waited <= 2 * PACE + (1 << 20));
        paced.into_inner().sync_all().unwrap();
        let mut back = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), 7 * chunk.len());
        assert!(back.chunks(chunk.len()).all(|c| c == chunk.as_slice()));
    }
}
