//! What nodes say to each other over the transport. The first frame of every stream is
//! a bincode [`PeerRequest`]; what follows depends on the request:
//!
//! - `Raft`, `Join`, `Ping`, `ShardRead`, `ShardRemove`, `Presence`: one reply frame.
//! - `ShardWrite`: the client sends [`APPEND`] frames (block then CRC) and one [`COMMIT`]
//!   frame (the 48-byte header); the server answers the commit with one reply frame. A
//!   stream that ends without a commit discards the shard.
//!
//! Shard replies are a status byte ([`OK`], [`ERR`], or [`FULL`] for an error of a disk with
//! no space left) followed by data or a UTF-8 error.
//!
//! The wire format only: types and encoding, touching nothing.

use cairn_raft::rpc::RaftRpc;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub enum PeerRequest {
    Raft(RaftRpc),
    /// Adds node `id` (internode address `addr`) to the cluster.
    Join {
        id: u64,
        addr: String,
    },
    /// Liveness and status probe; answered with a bincode [`PeerStatus`].
    Ping,
    ShardWrite {
        disk: u16,
        id: u128,
        shard: u16,
    },
    ShardRead {
        disk: u16,
        id: u128,
        shard: u16,
        offset: u64,
        len: u32,
    },
    ShardRemove {
        disk: u16,
        id: u128,
        shard: u16,
    },
    /// The cluster keyring, for a node that joins (only members authenticated with
    /// the cluster secret reach this).
    Keyring,
    /// A viewer's presence on video (`asset`, `version`), for this node's viewers of
    /// it (`message`: the JSON they are sent).
    Presence {
        asset: String,
        version: u32,
        message: String,
    },
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PeerStatus {
    pub node_id: u64,
    pub disks_online: u16,
    pub disks_total: u16,
}

pub const APPEND: u8 = 0;
pub const COMMIT: u8 = 1;
pub const OK: u8 = 0;
pub const ERR: u8 = 1;
/// An error because the disk is full: the caller's write fails as on a full local disk.
pub const FULL: u8 = 2;

/// Largest block a peer may ask to read in one request.
pub const MAX_READ: u32 = 16 << 20;

pub fn ok(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + data.len());
    v.push(OK);
    v.extend_from_slice(data);
    v
}

pub fn err(msg: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + msg.len());
    v.push(ERR);
    v.extend_from_slice(msg.as_bytes());
    v
}

/// The reply for a failed disk operation, keeping "the disk is full" apart.
pub fn io_err(e: &std::io::Error) -> Vec<u8> {
    let mut v = err(&e.to_string());
    if cairn_erasure::is_full(e.kind()) {
        v[0] = FULL;
    }
    v
}

/// Splits a shard reply into its data or the error it carries.
pub fn parse_reply(frame: &[u8]) -> std::io::Result<&[u8]> {
    match frame.split_first() {
        Some((&OK, rest)) => Ok(rest),
        Some((&ERR, rest)) => Err(std::io::Error::other(format!("peer: {}", String::from_utf8_lossy(rest)))),
        Some((&FULL, rest)) => Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            format!("peer: {}", String::from_utf8_lossy(rest)),
        )),
        _ => Err(std::io::Error::other("peer sent a malformed reply")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    #[test]
    fn a_full_disk_stays_a_full_disk_across_the_wire() {
        let full = parse_reply(&io_err(&Error::from_raw_os_error(28 /* ENOSPC */))).unwrap_err();
        assert_eq!(full.kind(), ErrorKind::StorageFull, "{full}");
        assert!(cairn_erasure::is_full(full.kind()));
        let other = parse_reply(&io_err(&Error::new(ErrorKind::PermissionDenied, "denied"))).unwrap_err();
        assert!(!cairn_erasure::is_full(other.kind()), "{other}");
        assert!(other.to_string().contains("denied"), "{other}");
        assert_eq!(parse_reply(&ok(b"data")).unwrap(), b"data");
    }
}
