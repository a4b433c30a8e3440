//! Erasure-coded shard storage on a table of disks: local directories ([`LocalDisk`]) or, through
//! the [`ShardDisk`] trait, disks of peer nodes.
//!
//! An object is cut into stripes of k * block_size bytes; each stripe becomes k data blocks
//! (the object bytes themselves: the code is systematic) and m parity blocks from
//! reed-solomon-simd. Shard i lives on disk `disks[i]`, as a record in one of that disk's
//! segment files when it is small (see [`segment`]: many shards, one fdatasync), else as a
//! file of its own; either way its bytes are:
//!
//! ```text
//! header (48 bytes, own CRC32C) | block(stripe 0) crc32c | block(stripe 1) crc32c | ...
//! ```
//!
//! Every block but the last stripe's is block_size bytes; the last one is
//! ceil(rest / k) rounded up to even and zero padded. CRCs are 4 bytes little endian.
//! An absent disk, missing file, bad header, short read or CRC mismatch makes that shard
//! unavailable for the stripe, and the reader rebuilds the stripe from any k good blocks.
//!
//! A healthy read takes the data blocks, except that a whole stripe whose data blocks are on
//! other nodes is read from local parity blocks, one for each remote data block they can
//! replace, and the rest decoded: on a cluster a decode costs far less than a network fetch.
//! Disks say whether they are local ([`ShardDisk::is_local`]).

mod disk;
mod disk_set;
mod error;
mod header;
mod heal;
mod layout;
mod paths;
mod reader;
pub mod segment;
mod spec;
mod stripe_sink;
mod stripe_source;
mod usage;
mod writer;

pub use disk::{
    deferred_outcome, Deferred, LocalDisk, ShardDisk, ShardFile, ShardFileReader, ShardFileWriter, HEADER_LEN,
    WRITEBACK_EVERY,
};
pub use disk_set::DamageHook;
pub use disk_set::DiskSet;
pub use error::{is_full, ErasureError};
pub use heal::{BlobHealth, HealOutcome, Pace};
pub use reader::ShardReader;
pub use segment::{CompactReport, SegmentConfig, SegmentStats};
pub use spec::ShardSpec;
pub use usage::DiskUsage;
pub use writer::{ShardWriter, WriteReceipt};
