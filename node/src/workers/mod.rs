//! The node's background workers: the work a node does on its own, outside any request.
//! [`start`] starts them all; each stops when the shutdown signal is sent.
//!
//! - `durability/`: keeping stored data whole. Heal on read (blobs found damaged by a
//!   read or a short write, healed soon after), heal passes on request, the scrubber
//!   (Raft leader only, progress in Raft), the rebalancer (Raft leader only), the orphan
//!   collector and the refill of wiped disks (each node, on its own local disks).
//!   Throttled by `scrub_rate_mib` and `rebalance_rate_mib`.
//! - `uploads.rs`: upload expiry, aborting multipart uploads older than
//!   `multipart_expiry_secs` (each node).
//! - `usage_history.rs`: tenant usage sampling, once per `usage_sample_secs` (Raft
//!   leader only, through a Raft command).
//! - `asset_trash.rs`: purging trashed assets whose tenant's retention has passed
//!   (Raft leader only, through the object layer).
//! - `lifecycle.rs`: buckets' lifecycle rules (expiring current and noncurrent
//!   versions, lone delete markers, incomplete uploads), Raft leader only, its position
//!   in the metadata, through the object layer; also transitions into other storage
//!   classes and buckets' tiering by access.
//! - `access_reads.rs`: committing the reads this node served, for tiering by access,
//!   once per `access_flush_secs` (each node, through a Raft command).
//!
//! Workers change stored data only through the object layer (`cairn_object`) or the
//! metadata store's commands and the disks' shard API; never over HTTP.
//!
//! Background tasks that are not workers stay with what they serve: the layout watcher
//! and peer prober are the cluster's membership (`crate::cluster`), the TLS reload on
//! SIGHUP is the front's (`crate::front`), the accept loop the transport's, and a
//! cluster member waiting for its root key is start-up (`crate::credentials`).

mod access_reads;
mod asset_trash;
pub mod durability;
mod lifecycle;
mod uploads;
mod usage_history;

use crate::config::Config;
use cairn_erasure::{DiskSet, LocalDisk};
use cairn_object::Store;
use cairn_raft::MetaStore;
use durability::{Durability, DurabilityConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Starts every worker. The durability workers' handle answers the admin API
/// (heal, scrub and refill status) and feeds `/metrics`.
pub fn start(
    cfg: &Config,
    meta: MetaStore,
    disks: Arc<DiskSet>,
    local: Vec<Arc<LocalDisk>>,
    store: Arc<Store>,
    shutdown: watch::Receiver<bool>,
) -> Arc<Durability> {
    let meta_for_history = meta.clone();
    let durability = Durability::start(
        meta,
        disks,
        local,
        DurabilityConfig {
            scrub_rate_mib: cfg.scrub_rate_mib,
            rebalance_rate_mib: cfg.rebalance_rate_mib,
            scrub_interval: Duration::from_secs(cfg.scrub_interval_secs),
            orphan_grace: Duration::from_secs(cfg.orphan_grace_secs),
            compact_interval: Duration::from_secs(cfg.compact_interval_secs),
        },
        shutdown.clone(),
    );
    tokio::spawn(asset_trash::expire(store.clone(), shutdown.clone()));
    tokio::spawn(lifecycle::run(store.clone(), shutdown.clone()));
    tokio::spawn(access_reads::flush(store.clone(), Duration::from_secs(cfg.access_flush_secs), shutdown.clone()));
    tokio::spawn(uploads::expire(store, Duration::from_secs(cfg.multipart_expiry_secs), shutdown.clone()));
    tokio::spawn(usage_history::sample(meta_for_history, Duration::from_secs(cfg.usage_sample_secs), shutdown));
    durability
}
