//! Blocking side of a write: the k+m temp files, parity encoding and block appends.
//! One instance moves into each stripe's blocking task and comes back, so the async
//! writer never touches files itself.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use reed_solomon_simd::ReedSolomonEncoder;

use crate::header::{self, HEADER_LEN};
use crate::layout::tail_block_len;
use crate::paths::{object_dir, shard_path, tmp_path, OBJECTS_DIR};
use crate::spec::ShardSpec;

enum Slot {
    /// Files are opened by the first blocking task, so creating a writer does no I/O.
    Pending,
    Open {
        file: File,
        new_dir: bool,
    },
    Failed,
}

pub(crate) struct StripeSink {
    roots: Arc<[PathBuf]>,
    spec: Arc<ShardSpec>,
    slots: Vec<Slot>,
    encoder: Option<ReedSolomonEncoder>,
    /// The stripe buffer not being filled right now; handed back to the writer for reuse.
    pub spare: Vec<u8>,
}

/// A shard whose temp file is complete, ready to get its header, fsync and rename.
pub(crate) struct OpenShard {
    pub shard: usize,
    file: File,
    new_dir: bool,
}

impl StripeSink {
    pub fn new(roots: Arc<[PathBuf]>, spec: Arc<ShardSpec>) -> Self {
        let slots = (0..spec.width()).map(|_| Slot::Pending).collect();
        StripeSink { roots, spec, slots, encoder: None, spare: Vec::new() }
    }

    pub fn alive(&self) -> usize {
        self.slots.iter().filter(|s| !matches!(s, Slot::Failed)).count()
    }

    pub fn ensure_open(&mut self) {
        for i in 0..self.slots.len() {
            if matches!(self.slots[i], Slot::Pending) {
                match self.open_shard(i) {
                    Ok((file, new_dir)) => self.slots[i] = Slot::Open { file, new_dir },
                    Err(e) => self.fail(i, &e),
                }
            }
        }
    }

    fn open_shard(&self, i: usize) -> io::Result<(File, bool)> {
        let root = &self.roots[self.spec.disks[i] as usize];
        // The final directory is made now so that a disk that cannot hold the shard is
        // dropped before any data is written to it.
        let dir = object_dir(root, self.spec.id);
        let new_dir = !dir.is_dir();
        std::fs::create_dir_all(&dir)?;
        let mut file =
            OpenOptions::new().write(true).create(true).truncate(true).open(tmp_path(root, self.spec.id, i))?;
        // The header needs the object size, known only at finish; it is written there.
        file.seek(SeekFrom::Start(HEADER_LEN as u64))?;
        Ok((file, new_dir))
    }

    fn fail(&mut self, i: usize, err: &io::Error) {
        tracing::warn!(shard = i, disk = self.spec.disks[i], error = %err, "dropping shard after disk error");
        self.slots[i] = Slot::Failed;
        let root = &self.roots[self.spec.disks[i] as usize];
        let _ = std::fs::remove_file(tmp_path(root, self.spec.id, i));
    }

    /// Encodes one stripe (`buf` holds its object bytes, padded here in place) and appends
    /// each shard's block with its CRC. A shard whose write fails is dropped.
    pub fn write_stripe(&mut self, buf: &mut Vec<u8>) {
        self.ensure_open();
        let k = self.spec.data();
        let m = self.spec.parity();
        let block_len = if buf.len() as u64 == self.spec.stripe_len() {
            self.spec.block_size as usize
        } else {
            tail_block_len(buf.len(), k)
        };
        buf.resize(k * block_len, 0);

        let mut failures = Vec::new();
        let Self { slots, encoder, .. } = self;
        for (i, block) in buf.chunks_exact(block_len).enumerate() {
            if let Slot::Open { file, .. } = &mut slots[i] {
                if let Err(e) = write_block(file, block) {
                    failures.push((i, e));
                }
            }
        }
        if m > 0 {
            match encode_parity(encoder, k, m, block_len, buf) {
                Ok(encoder) => {
                    let parity = encoder.encode();
                    match parity {
                        Ok(parity) => {
                            for (p, block) in parity.recovery_iter().enumerate() {
                                if let Slot::Open { file, .. } = &mut slots[k + p] {
                                    if let Err(e) = write_block(file, block) {
                                        failures.push((k + p, e));
                                    }
                                }
                            }
                        }
                        Err(e) => codec_failure(&mut failures, k, m, &e),
                    }
                }
                Err(e) => codec_failure(&mut failures, k, m, &e),
            }
        }
        for (i, e) in failures {
            self.fail(i, &e);
        }
    }

    /// Hands the completed temp files to finish(); failed shards are left out.
    pub fn take_open(&mut self) -> Vec<OpenShard> {
        let mut out = Vec::new();
        for (shard, slot) in self.slots.iter_mut().enumerate() {
            if let Slot::Open { file, new_dir } = std::mem::replace(slot, Slot::Failed) {
                out.push(OpenShard { shard, file, new_dir });
            }
        }
        out
    }
}

/// Unreachable for a validated spec; if it happens no parity can be trusted, so those shards go.
fn codec_failure(failures: &mut Vec<(usize, io::Error)>, k: usize, m: usize, e: &reed_solomon_simd::Error) {
    for p in 0..m {
        failures.push((k + p, io::Error::other(format!("parity encode: {e}"))));
    }
}

fn encode_parity<'a>(
    encoder: &'a mut Option<ReedSolomonEncoder>,
    k: usize,
    m: usize,
    block_len: usize,
    buf: &[u8],
) -> Result<&'a mut ReedSolomonEncoder, reed_solomon_simd::Error> {
    let enc = match encoder {
        Some(enc) => {
            enc.reset(k, m, block_len)?;
            enc
        }
        None => encoder.insert(ReedSolomonEncoder::new(k, m, block_len)?),
    };
    for block in buf.chunks_exact(block_len) {
        enc.add_original_shard(block)?;
    }
    Ok(enc)
}

/// Block and CRC go out in one vectored write: no copy into a staging buffer.
fn write_block(file: &mut File, block: &[u8]) -> io::Result<()> {
    let crc = crc32c::crc32c(block).to_le_bytes();
    let total = block.len() + crc.len();
    let mut done = 0;
    while done < total {
        let res = if done < block.len() {
            file.write_vectored(&[IoSlice::new(&block[done..]), IoSlice::new(&crc)])
        } else {
            file.write(&crc[done - block.len()..])
        };
        match res {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Makes one shard durable under its final name: header, fsync, rename, fsync the directory.
pub(crate) fn finalize_shard(
    roots: &[PathBuf],
    spec: &ShardSpec,
    shard: OpenShard,
    object_size: u64,
) -> io::Result<()> {
    let OpenShard { shard, file, new_dir } = shard;
    let root = &roots[spec.disks[shard] as usize];
    file.write_all_at(&header::encode(spec, shard, object_size), 0)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(tmp_path(root, spec.id, shard), shard_path(root, spec.id, shard))?;
    File::open(object_dir(root, spec.id))?.sync_all()?;
    if new_dir {
        File::open(root.join(OBJECTS_DIR))?.sync_all()?;
    }
    Ok(())
}
