//! Verifying every block of a blob (scrub) and rewriting the shards that fail (heal).
//!
//! A stripe is *whole* when every one of its k+m blocks is present and passes its
//! CRC, *degraded* when at least k do (the data is still readable), and *lost* below
//! that. A shard is bad when its file is missing, its header does not match, or any
//! of its blocks fails; healing rewrites a bad shard completely, under a temporary
//! name and renamed over the old file, from the stripes rebuilt out of the good
//! shards, then verifies the blob again: "healed" is what that second pass saw.

use std::io;
use std::sync::Arc;

use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

use crate::disk::{ShardDisk, ShardFileReader, ShardFileWriter};
use crate::error::ErasureError;
use crate::header;
use crate::layout::{Layout, CRC_LEN};
use crate::spec::ShardSpec;
use crate::stripe_source::open_checked;

/// Called after each stripe with the bytes it read or wrote; a throttle sleeps in it.
/// Runs on a blocking thread.
pub type Pace = Arc<dyn Fn(u64) + Send + Sync>;

/// What one pass over a blob found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BlobHealth {
    pub stripes: u64,
    pub whole: u64,
    pub degraded: u64,
    pub lost: u64,
    /// Shard indices with a missing file, a bad header or at least one bad block.
    pub bad_shards: Vec<usize>,
    /// Shard bytes read and checked.
    pub bytes: u64,
}

impl BlobHealth {
    pub fn is_whole(&self) -> bool {
        self.bad_shards.is_empty()
    }
}

/// The result of healing one blob.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct HealOutcome {
    /// The blob as found before healing.
    pub before: BlobHealth,
    /// Shards rewritten (committed under their final name).
    pub rewritten: Vec<usize>,
    /// Shards that could not be rewritten, and why.
    pub failed: Vec<(usize, String)>,
    /// The blob as verified after healing.
    pub after: BlobHealth,
}

pub(crate) struct Blob<'a> {
    pub disks: &'a [Option<Arc<dyn ShardDisk>>],
    pub spec: &'a ShardSpec,
    pub layout: Layout,
    pub pace: Option<&'a Pace>,
}

impl Blob<'_> {
    fn stripes(&self) -> u64 {
        self.layout.object_size.div_ceil(self.layout.stripe_len())
    }

    fn open(&self, shard: usize) -> io::Result<Box<dyn ShardFileReader>> {
        open_checked(self.disks[shard].as_ref(), self.spec, shard, self.layout.object_size)
    }

    fn read_good(file: &dyn ShardFileReader, offset: u64, buf: &mut [u8]) -> bool {
        let mut crc = [0u8; CRC_LEN as usize];
        file.read_block(offset, buf, &mut crc).is_ok() && crc32c::crc32c(buf) == u32::from_le_bytes(crc)
    }

    /// Reads and checks every block of every shard.
    pub fn verify(&self) -> BlobHealth {
        let width = self.spec.width();
        let k = self.spec.data();
        let files: Vec<Option<Box<dyn ShardFileReader>>> = (0..width).map(|i| self.open(i).ok()).collect();
        let mut bad: Vec<bool> = files.iter().map(|f| f.is_none()).collect();
        let mut health = BlobHealth { stripes: self.stripes(), ..Default::default() };
        let mut buf = Vec::new();
        for s in 0..health.stripes {
            let len = self.layout.block_len(s);
            buf.resize(len, 0);
            let offset = self.layout.block_offset(s);
            let mut good = 0;
            for (i, f) in files.iter().enumerate() {
                let Some(f) = f else { continue };
                if Self::read_good(f.as_ref(), offset, &mut buf) {
                    good += 1;
                } else {
                    bad[i] = true;
                }
                health.bytes += len as u64;
            }
            if good == width {
                health.whole += 1;
            } else if good >= k {
                health.degraded += 1;
            } else {
                health.lost += 1;
            }
            if let Some(p) = self.pace {
                p(len as u64 * width as u64);
            }
        }
        health.bad_shards = (0..width).filter(|&i| bad[i]).collect();
        health
    }

    /// Rewrites the bad shards of a blob whose stripes are all readable.
    pub fn heal(&self) -> HealOutcome {
        let before = self.verify();
        let mut out = HealOutcome { before: before.clone(), ..Default::default() };
        if before.is_whole() {
            out.after = before;
            return out;
        }
        if before.lost > 0 {
            out.failed = before.bad_shards.iter().map(|&i| (i, "too few good shards to rebuild".into())).collect();
            out.after = before;
            return out;
        }
        let mut writers: Vec<(usize, Box<dyn ShardFileWriter>)> = Vec::new();
        for &i in &before.bad_shards {
            match &self.disks[i] {
                None => out.failed.push((i, "disk not in the layout".into())),
                Some(d) => match d.create(self.spec.id, i) {
                    Ok(w) => writers.push((i, w)),
                    Err(e) => out.failed.push((i, format!("cannot create: {e}"))),
                },
            }
        }
        if !writers.is_empty() {
            match self.rebuild_into(&before.bad_shards, &mut writers) {
                Ok(()) => {
                    for (i, w) in writers {
                        let h = header::encode(self.spec, i, self.layout.object_size);
                        match w.commit(&h) {
                            Ok(()) => out.rewritten.push(i),
                            Err(e) => {
                                if let Some(d) = &self.disks[i] {
                                    let _ = d.remove(self.spec.id, i);
                                }
                                out.failed.push((i, format!("commit: {e}")));
                            }
                        }
                    }
                }
                Err(e) => {
                    for (i, w) in writers {
                        w.abort();
                        out.failed.push((i, e.to_string()));
                    }
                }
            }
        }
        out.after = self.verify();
        out
    }

    /// Copies shard `shard` block by block to `dst` (checking every CRC on the way),
    /// committed under its final name there. The source stays.
    pub fn copy_shard(&self, shard: usize, dst: &dyn ShardDisk) -> Result<(), ErasureError> {
        let src = self.open(shard)?;
        let mut w = dst.create(self.spec.id, shard)?;
        let mut buf = Vec::new();
        for s in 0..self.stripes() {
            let len = self.layout.block_len(s);
            buf.resize(len, 0);
            if !Self::read_good(src.as_ref(), self.layout.block_offset(s), &mut buf) {
                w.abort();
                return Err(ErasureError::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("shard {shard} stripe {s} fails its checksum"),
                )));
            }
            if let Err(e) = w.append(&buf, crc32c::crc32c(&buf).to_le_bytes()) {
                w.abort();
                return Err(e.into());
            }
            if let Some(p) = self.pace {
                p(len as u64 * 2);
            }
        }
        let h = header::encode(self.spec, shard, self.layout.object_size);
        if let Err(e) = w.commit(&h) {
            let _ = dst.remove(self.spec.id, shard);
            return Err(e.into());
        }
        Ok(())
    }

    /// Streams every stripe's blocks for the `targets` shards into `writers`, rebuilt
    /// from the other shards.
    fn rebuild_into(
        &self,
        targets: &[usize],
        writers: &mut [(usize, Box<dyn ShardFileWriter>)],
    ) -> Result<(), ErasureError> {
        let k = self.spec.data();
        let m = self.spec.parity();
        let width = k + m;
        let files: Vec<Option<Box<dyn ShardFileReader>>> =
            (0..width).map(|i| if targets.contains(&i) { None } else { self.open(i).ok() }).collect();
        let need_parity = writers.iter().any(|(i, _)| *i >= k);
        let mut blocks: Vec<Vec<u8>> = vec![Vec::new(); width];
        for s in 0..self.stripes() {
            let len = self.layout.block_len(s);
            let offset = self.layout.block_offset(s);
            let mut good = vec![false; width];
            for (i, f) in files.iter().enumerate() {
                blocks[i].resize(len, 0);
                if let Some(f) = f {
                    good[i] = Self::read_good(f.as_ref(), offset, &mut blocks[i]);
                }
            }
            let available = good.iter().filter(|&&g| g).count();
            if available < k {
                return Err(ErasureError::Unrecoverable { stripe: s, available, needed: k });
            }
            if (0..k).any(|j| !good[j]) {
                let mut dec = ReedSolomonDecoder::new(k, m, len)?;
                for j in (0..k).filter(|&j| good[j]) {
                    dec.add_original_shard(j, &blocks[j])?;
                }
                for p in (0..m).filter(|&p| good[k + p]) {
                    dec.add_recovery_shard(p, &blocks[k + p])?;
                }
                let restored = dec.decode()?;
                for j in (0..k).filter(|&j| !good[j]) {
                    let b = restored
                        .restored_original(j)
                        .ok_or_else(|| ErasureError::Codec(format!("block {j} not restored")))?;
                    blocks[j].copy_from_slice(b);
                }
            }
            if need_parity {
                let mut enc = ReedSolomonEncoder::new(k, m, len)?;
                for b in &blocks[..k] {
                    enc.add_original_shard(b)?;
                }
                let parity = enc.encode()?;
                for (p, b) in parity.recovery_iter().enumerate() {
                    if !good[k + p] {
                        blocks[k + p].copy_from_slice(b);
                    }
                }
            }
            for (i, w) in writers.iter_mut() {
                let crc = crc32c::crc32c(&blocks[*i]).to_le_bytes();
                w.append(&blocks[*i], crc)?;
            }
            if let Some(p) = self.pace {
                p(len as u64 * (available + writers.len()) as u64);
            }
        }
        Ok(())
    }
}
