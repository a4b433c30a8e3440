//! The fixed header at the start of every shard file.
//!
//! Layout (little endian): magic[8] | version u16 | k u8 | m u8 | shard index u16 |
//! reserved u16 | block_size u32 | id u128 | object_size u64 | crc32c u32 of the preceding bytes.

use crate::spec::ShardSpec;

/// Bytes of the header at the start of every shard file.
pub const HEADER_LEN: usize = 48;
const MAGIC: &[u8; 8] = b"CAIRNSHD";
const VERSION: u16 = 1;

pub(crate) fn encode(spec: &ShardSpec, shard: usize, object_size: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(MAGIC);
    h[8..10].copy_from_slice(&VERSION.to_le_bytes());
    h[10] = spec.data_shards;
    h[11] = spec.parity_shards;
    h[12..14].copy_from_slice(&(shard as u16).to_le_bytes());
    h[16..20].copy_from_slice(&spec.block_size.to_le_bytes());
    h[20..36].copy_from_slice(&spec.id.to_le_bytes());
    h[36..44].copy_from_slice(&object_size.to_le_bytes());
    let crc = crc32c::crc32c(&h[..44]);
    h[44..48].copy_from_slice(&crc.to_le_bytes());
    h
}

/// A header is only trusted when it is intact and describes exactly the shard the caller expects;
/// anything else makes the whole shard unavailable.
pub(crate) fn matches(h: &[u8; HEADER_LEN], spec: &ShardSpec, shard: usize, object_size: u64) -> bool {
    let crc = u32::from_le_bytes(h[44..48].try_into().unwrap());
    crc == crc32c::crc32c(&h[..44]) && *h == encode(spec, shard, object_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_mismatch() {
        let spec = ShardSpec {
            id: 0x1234_5678_9abc_def0_0fed_cba9_8765_4321,
            data_shards: 4,
            parity_shards: 2,
            block_size: 1024,
            disks: vec![0, 1, 2, 3, 4, 5],
        };
        let h = encode(&spec, 3, 99);
        assert!(matches(&h, &spec, 3, 99));
        assert!(!matches(&h, &spec, 2, 99));
        assert!(!matches(&h, &spec, 3, 100));
        let mut bad = h;
        bad[21] ^= 1;
        assert!(!matches(&bad, &spec, 3, 99));
    }
}
