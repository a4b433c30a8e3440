//! Blocking side of a read: opening shard files, checking headers and block CRCs, and
//! rebuilding a stripe from parity when a data block is unusable.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use reed_solomon_simd::ReedSolomonDecoder;

use crate::disk::{ShardDisk, ShardFileReader};
use crate::error::ErasureError;
use crate::header::{self, HEADER_LEN};
use crate::layout::{Layout, CRC_LEN};
use crate::spec::ShardSpec;

enum Source {
    Unopened,
    Open(Box<dyn ShardFileReader>),
    /// Absent disk, missing file or bad header: the shard is unusable for every stripe.
    Dead,
}

pub(crate) struct StripeSource {
    /// The disk of each shard; None for a disk absent from the table.
    disks: Vec<Option<Arc<dyn ShardDisk>>>,
    spec: ShardSpec,
    layout: Layout,
    sources: Vec<Source>,
    decoder: Option<ReedSolomonDecoder>,
    /// Reused between stripes; only allocated once a read goes degraded.
    parity_bufs: Vec<Vec<u8>>,
}

pub(crate) struct StripeOut {
    pub bytes: Bytes,
    pub degraded: bool,
}

impl StripeSource {
    pub fn new(disks: Vec<Option<Arc<dyn ShardDisk>>>, spec: ShardSpec, layout: Layout) -> Self {
        let sources = (0..spec.width()).map(|_| Source::Unopened).collect();
        let parity_bufs = vec![Vec::new(); spec.parity()];
        StripeSource { disks, spec, layout, sources, decoder: None, parity_bufs }
    }

    /// Returns object bytes `[lo, hi)` of stripe `stripe` (offsets within the stripe, lo < hi).
    ///
    /// A whole stripe whose data blocks are partly on other nodes is read from this node's
    /// parity blocks where it has them, the remote data blocks then rebuilt by the decoder:
    /// decoding costs far less than fetching a block over the network.
    pub fn read(&mut self, stripe: u64, lo: usize, hi: usize) -> Result<StripeOut, ErasureError> {
        let k = self.spec.data();
        let m = self.spec.parity();
        let len = self.layout.block_len(stripe);
        let mut buf = vec![0u8; k * len];
        let wanted = lo / len..=(hi - 1) / len;

        let mut good = vec![false; k + m];
        let mut damaged = false;
        let stand_ins = if wanted.clone().count() == k {
            self.local_stand_ins(stripe, len, &mut good, &mut damaged)
        } else {
            Vec::new()
        };
        let mut missing = Vec::new();
        for j in wanted.clone() {
            if stand_ins.contains(&j) {
                continue;
            }
            if self.read_block(j, stripe, &mut buf[j * len..(j + 1) * len]) {
                good[j] = true;
            } else {
                missing.push(j);
            }
        }
        if !missing.is_empty() || !stand_ins.is_empty() {
            self.reconstruct(stripe, len, &mut buf, &mut good, &missing)?;
        }
        Ok(StripeOut { bytes: Bytes::from(buf).slice(lo..hi), degraded: damaged || !missing.is_empty() })
    }

    /// Reads local parity blocks in place of remote data blocks, one for one, and returns the
    /// data blocks they stand in for. A local parity block found damaged sets `damaged`.
    fn local_stand_ins(&mut self, stripe: u64, len: usize, good: &mut [bool], damaged: &mut bool) -> Vec<usize> {
        let k = self.spec.data();
        let remote: Vec<usize> = (0..k).filter(|&j| !self.is_local(j)).collect();
        let mut stand_ins = Vec::new();
        for p in 0..self.spec.parity() {
            if stand_ins.len() == remote.len() {
                break;
            }
            if !self.is_local(k + p) || matches!(self.sources[k + p], Source::Dead) {
                continue;
            }
            if self.read_parity(p, stripe, len) {
                good[k + p] = true;
                stand_ins.push(remote[stand_ins.len()]);
            } else {
                *damaged = true;
            }
        }
        stand_ins
    }

    /// Reads parity block `p` of `stripe` into its reused buffer; false if unusable.
    fn read_parity(&mut self, p: usize, stripe: u64, len: usize) -> bool {
        let k = self.spec.data();
        let mut pbuf = std::mem::take(&mut self.parity_bufs[p]);
        pbuf.resize(len, 0);
        let ok = self.read_block(k + p, stripe, &mut pbuf);
        self.parity_bufs[p] = pbuf;
        ok
    }

    fn is_local(&self, shard: usize) -> bool {
        self.disks[shard].as_ref().is_some_and(|d| d.is_local())
    }

    /// Reads just enough other blocks (data first, then parity) to hold k good ones, then
    /// decodes every data block not read into `buf`. `failed` are blocks already found
    /// unusable; a block neither good nor failed (one a local parity block stood in for) is
    /// still read if the good ones are too few.
    fn reconstruct(
        &mut self,
        stripe: u64,
        len: usize,
        buf: &mut [u8],
        good: &mut [bool],
        failed: &[usize],
    ) -> Result<(), ErasureError> {
        let k = self.spec.data();
        let m = self.spec.parity();
        let tried = |j: usize| good[j] || failed.contains(&j);
        let mut available = good.iter().filter(|&&g| g).count();
        let untried: Vec<usize> = (0..k).filter(|&j| !tried(j)).collect();
        for j in untried {
            if available == k {
                break;
            }
            if self.read_block(j, stripe, &mut buf[j * len..(j + 1) * len]) {
                good[j] = true;
                available += 1;
            }
        }
        for p in 0..m {
            if available == k {
                break;
            }
            if good[k + p] {
                continue;
            }
            if self.read_parity(p, stripe, len) {
                good[k + p] = true;
                available += 1;
            }
        }
        if available < k {
            return Err(ErasureError::Unrecoverable { stripe, available, needed: k });
        }

        let decoder = match &mut self.decoder {
            Some(d) => {
                d.reset(k, m, len)?;
                d
            }
            None => self.decoder.insert(ReedSolomonDecoder::new(k, m, len)?),
        };
        for j in (0..k).filter(|&j| good[j]) {
            decoder.add_original_shard(j, &buf[j * len..(j + 1) * len])?;
        }
        for p in (0..m).filter(|&p| good[k + p]) {
            decoder.add_recovery_shard(p, &self.parity_bufs[p][..len])?;
        }
        let restored = decoder.decode()?;
        for j in (0..k).filter(|&j| !good[j]) {
            let block =
                restored.restored_original(j).ok_or_else(|| ErasureError::Codec(format!("block {j} not restored")))?;
            buf[j * len..(j + 1) * len].copy_from_slice(block);
        }
        Ok(())
    }

    /// Reads shard `shard`'s block of `stripe` into `dst` (exactly the block length) and
    /// checks its CRC. False means unusable for this stripe, whatever the reason.
    fn read_block(&mut self, shard: usize, stripe: u64, dst: &mut [u8]) -> bool {
        let offset = self.layout.block_offset(stripe);
        let Some(file) = self.file(shard) else {
            return false;
        };
        let mut crc = [0u8; CRC_LEN as usize];
        match file.read_block(offset, dst, &mut crc) {
            Ok(()) if crc32c::crc32c(dst) == u32::from_le_bytes(crc) => true,
            Ok(()) => {
                tracing::warn!(id = %format_args!("{:032x}", self.spec.id), shard, stripe, "block checksum mismatch");
                false
            }
            Err(e) => {
                tracing::warn!(id = %format_args!("{:032x}", self.spec.id), shard, stripe, error = %e, "block unreadable");
                false
            }
        }
    }

    fn file(&mut self, shard: usize) -> Option<&dyn ShardFileReader> {
        if matches!(self.sources[shard], Source::Unopened) {
            self.sources[shard] = match self.open(shard) {
                Ok(file) => Source::Open(file),
                Err(e) => {
                    tracing::warn!(id = %format_args!("{:032x}", self.spec.id), shard, error = %e, "shard unavailable");
                    Source::Dead
                }
            };
        }
        match &self.sources[shard] {
            Source::Open(file) => Some(file.as_ref()),
            _ => None,
        }
    }

    fn open(&self, shard: usize) -> io::Result<Box<dyn ShardFileReader>> {
        open_checked(self.disks[shard].as_ref(), &self.spec, shard, self.layout.object_size)
    }
}

/// Opens shard `shard` of a blob of `object_size` bytes on `disk` and checks that its
/// header describes exactly that shard: anything else makes the whole shard unusable.
pub(crate) fn open_checked(
    disk: Option<&Arc<dyn ShardDisk>>,
    spec: &ShardSpec,
    shard: usize,
    object_size: u64,
) -> io::Result<Box<dyn ShardFileReader>> {
    let disk = disk.ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "disk not available"))?;
    let file = disk.open(spec.id, shard)?;
    let mut h = [0u8; HEADER_LEN];
    file.read_exact_at(&mut h, 0)?;
    if !header::matches(&h, spec, shard, object_size) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "shard header does not match"));
    }
    Ok(file)
}
