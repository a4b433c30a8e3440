//! Where each stripe's blocks sit in a shard file, for an object of known size.

use crate::header::HEADER_LEN;

/// Every block on disk is followed by its CRC32C.
pub(crate) const CRC_LEN: u64 = 4;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub k: usize,
    pub block_size: u64,
    pub object_size: u64,
}

impl Layout {
    pub fn stripe_len(&self) -> u64 {
        self.k as u64 * self.block_size
    }

    /// Object bytes held by stripe `s`.
    pub fn data_len(&self, s: u64) -> u64 {
        let start = s * self.stripe_len();
        (self.object_size - start).min(self.stripe_len())
    }

    /// Per-shard block length of stripe `s`: a full block, or for a short last stripe
    /// ceil(rest / k) rounded up to even, because reed-solomon-simd rejects odd shard sizes.
    pub fn block_len(&self, s: u64) -> usize {
        tail_block_len(self.data_len(s) as usize, self.k)
    }

    /// Byte offset of stripe `s`'s block in every shard file; only the last stripe is short,
    /// so all earlier ones are full blocks.
    pub fn block_offset(&self, s: u64) -> u64 {
        HEADER_LEN as u64 + s * (self.block_size + CRC_LEN)
    }
}

pub(crate) fn tail_block_len(data_len: usize, k: usize) -> usize {
    let per = data_len.div_ceil(k);
    per + (per % 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_last_stripe_is_even_and_fits() {
        let l = Layout { k: 4, block_size: 8, object_size: 32 + 5 };
        assert_eq!(l.data_len(1), 5);
        assert_eq!(l.block_len(0), 8);
        assert_eq!(l.block_len(1), 2);
        assert_eq!(l.block_offset(1), HEADER_LEN as u64 + 12);
        assert_eq!(tail_block_len(1, 4), 2);
        assert_eq!(tail_block_len(31, 4), 8);
    }
}
