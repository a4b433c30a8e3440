//! The health probes, `/health/live` and `/health/ready`: answered by the front itself,
//! unauthenticated, outside s3s. Live means the process answers; ready means a write
//! can commit: a Raft leader, and enough disks online for a write quorum. Reads the
//! metadata store's quorum and the disk table's online flags; touches nothing.

use super::text;
use cairn_erasure::DiskSet;
use cairn_raft::MetaStore;
use std::sync::Arc;

pub struct Health {
    meta: MetaStore,
    disks: Arc<DiskSet>,
    /// Shards a write needs: more than the data shards, at most all of them.
    write_quorum: usize,
}

impl Health {
    pub fn new(meta: MetaStore, disks: Arc<DiskSet>, data_shards: u8, parity_shards: u8) -> Health {
        let write_quorum = (usize::from(data_shards) + 1).min(usize::from(data_shards) + usize::from(parity_shards));
        Health { meta, disks, write_quorum }
    }

    fn ready(&self) -> bool {
        self.meta.has_quorum()
            && (0..self.disks.len()).filter(|&i| self.disks.is_online(i as u16)).count() >= self.write_quorum
    }

    /// The answer to a health probe, or None when `path` names none.
    pub fn answer(&self, path: &str) -> Option<http::Response<s3s::Body>> {
        match path {
            "/health/live" => Some(text(http::StatusCode::OK, "text/plain", "ok\n".into())),
            "/health/ready" if self.ready() => Some(text(http::StatusCode::OK, "text/plain", "ok\n".into())),
            "/health/ready" => Some(text(http::StatusCode::SERVICE_UNAVAILABLE, "text/plain", "not ready\n".into())),
            _ => None,
        }
    }
}
