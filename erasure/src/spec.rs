//! [`ShardSpec`]: which blob a set of shard files belongs to and how its stripes are
//! cut (k, m, block size, the disks).

use crate::error::ErasureError;
use reed_solomon_simd::ReedSolomonEncoder;

/// Which object a set of shard files belongs to and how its stripes are cut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardSpec {
    /// Random id; names the files `root/objects/<2 hex>/<32 hex id>.<shard index>`.
    pub id: u128,
    /// k >= 1.
    pub data_shards: u8,
    /// m >= 0; m == 0 is plain striping without parity.
    pub parity_shards: u8,
    /// Bytes of object data per shard per stripe; non-zero and even (reed-solomon-simd needs even shards).
    pub block_size: u32,
    /// Disk index for shard i; len k+m.
    pub disks: Vec<u16>,
}

impl ShardSpec {
    pub fn write_quorum(&self) -> usize {
        let k = self.data_shards as usize;
        (k + 1).min(self.width())
    }

    pub(crate) fn data(&self) -> usize {
        self.data_shards as usize
    }

    pub(crate) fn parity(&self) -> usize {
        self.parity_shards as usize
    }

    pub(crate) fn width(&self) -> usize {
        self.data() + self.parity()
    }

    pub(crate) fn stripe_len(&self) -> u64 {
        self.data() as u64 * self.block_size as u64
    }

    pub(crate) fn validate(&self, disk_count: usize) -> Result<(), ErasureError> {
        let bad = |msg: String| Err(ErasureError::Layout(msg));
        if self.data_shards == 0 {
            return bad("data_shards must be >= 1".into());
        }
        if self.block_size == 0 || !self.block_size.is_multiple_of(2) {
            return bad(format!("block_size must be non-zero and even, got {}", self.block_size));
        }
        if self.disks.len() != self.width() {
            return bad(format!("{} disks for {} shards", self.disks.len(), self.width()));
        }
        if let Some(d) = self.disks.iter().find(|&&d| d as usize >= disk_count) {
            return bad(format!("disk index {d} out of range ({disk_count} disks)"));
        }
        if self.parity_shards > 0 && !ReedSolomonEncoder::supports(self.data(), self.parity()) {
            return bad(format!("reed-solomon-simd does not support {}+{}", self.data_shards, self.parity_shards));
        }
        Ok(())
    }
}
