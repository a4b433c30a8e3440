//! Blocking side of a write: the k+m shard writers, parity encoding and block appends.
//! One instance moves into each stripe's blocking task and comes back, so the async
//! writer never does disk or network I/O itself.

use std::io;
use std::sync::Arc;

use reed_solomon_simd::ReedSolomonEncoder;

use crate::disk::{ShardDisk, ShardFileWriter};
use crate::layout::tail_block_len;
use crate::spec::ShardSpec;

/// The disk of each shard of one write, resolved when the writer was created.
pub(crate) type ShardDisks = Arc<[Option<Arc<dyn ShardDisk>>]>;

enum Slot {
    /// Files are created by the first blocking task, so creating a writer does no I/O.
    Pending,
    Open(Box<dyn ShardFileWriter>),
    /// `full`: the disk had no space left for it (see [`crate::error::is_full`]).
    Failed {
        full: bool,
    },
}

pub(crate) struct StripeSink {
    disks: ShardDisks,
    spec: Arc<ShardSpec>,
    slots: Vec<Slot>,
    encoder: Option<ReedSolomonEncoder>,
    /// The stripe buffer not being filled right now; handed back to the writer for reuse.
    pub spare: Vec<u8>,
}

impl StripeSink {
    pub fn new(disks: ShardDisks, spec: Arc<ShardSpec>) -> Self {
        let slots = disks
            .iter()
            .enumerate()
            .map(|(i, disk)| match disk {
                Some(_) => Slot::Pending,
                None => {
                    tracing::warn!(shard = i, disk = spec.disks[i], "disk not available, writing without this shard");
                    Slot::Failed { full: false }
                }
            })
            .collect();
        StripeSink { disks, spec, slots, encoder: None, spare: Vec::new() }
    }

    pub fn alive(&self) -> usize {
        self.slots.iter().filter(|s| !matches!(s, Slot::Failed { .. })).count()
    }

    /// Shards dropped because their disk was full.
    pub fn full(&self) -> usize {
        self.slots.iter().filter(|s| matches!(s, Slot::Failed { full: true })).count()
    }

    pub fn ensure_open(&mut self) {
        for i in 0..self.slots.len() {
            if let (Slot::Pending, Some(disk)) = (&self.slots[i], &self.disks[i]) {
                match disk.create(self.spec.id, i) {
                    Ok(w) => self.slots[i] = Slot::Open(w),
                    Err(e) => self.fail(i, &e),
                }
            }
        }
    }

    fn fail(&mut self, i: usize, err: &io::Error) {
        tracing::warn!(shard = i, disk = self.spec.disks[i], error = %err, "dropping shard after disk error");
        let full = crate::error::is_full(err.kind());
        if let Slot::Open(w) = std::mem::replace(&mut self.slots[i], Slot::Failed { full }) {
            w.abort();
        }
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
            if let Slot::Open(w) = &mut slots[i] {
                if let Err(e) = append(w.as_mut(), block) {
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
                                if let Slot::Open(w) = &mut slots[k + p] {
                                    if let Err(e) = append(w.as_mut(), block) {
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

    /// Hands the complete shards to finish() for commit; failed shards are left out.
    pub fn take_open(&mut self) -> Vec<(usize, Box<dyn ShardFileWriter>)> {
        let mut out = Vec::new();
        for (shard, slot) in self.slots.iter_mut().enumerate() {
            if let Slot::Open(w) = std::mem::replace(slot, Slot::Failed { full: false }) {
                out.push((shard, w));
            }
        }
        out
    }

    /// Discards every shard still being written.
    pub fn abort_all(&mut self) {
        for slot in &mut self.slots {
            if let Slot::Open(w) = std::mem::replace(slot, Slot::Failed { full: false }) {
                w.abort();
            }
        }
    }
}

impl Drop for StripeSink {
    /// A sink lost with its task (a panic, or a runtime shutting down under it) still
    /// discards its temp files. The writer otherwise empties it in a blocking task first,
    /// so this does no I/O on an async thread.
    fn drop(&mut self) {
        self.abort_all();
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

fn append(w: &mut dyn ShardFileWriter, block: &[u8]) -> io::Result<()> {
    w.append(block, crc32c::crc32c(block).to_le_bytes())
}
