//! The object layer: the one way between the protocols (S3, later `/cairn/v1`) or the
//! background workers and storage. It owns placement, writing a version's data,
//! committing its metadata, reading a version, deleting, completing and expiring
//! multipart uploads, and returning freed shards to the collector. Callers never
//! build a Raft `Command` nor touch a shard themselves; they call [`Store`] (objects
//! and uploads) or [`meta`] (bucket, policy and key records) and get typed outcomes.
//!
//! It knows the metadata API of `cairn-raft` and the shard API of `cairn-erasure`,
//! never HTTP, S3 or sled; errors are [`ObjectError`], which each protocol maps to
//! its own answers.
//!
//! Where each decision lives:
//!
//! | decision | where |
//! |---|---|
//! | placement of a new blob (erasure set, rotation, substitutes for offline disks) | here, [`placement`], from the Raft layout (`raft/src/layout.rs`); reads follow the disks recorded in the version |
//! | write quorum, fsync before commit | here, [`data`] (the erasure writer decides the quorum) |
//! | inline or shards | here, [`data`], by [`StoreConfig::inline_max`] (STANDARD only: other storage classes are always shards) |
//! | tiering by access: reads counted per node and committed in batches, when a version moves down or up | here, [`access`]; the lifecycle worker takes the moves through [`tiers`] |
//! | storage classes: a new blob's code and pool, a version's class, transitions | the class record is `cairn-raft`'s (`raft/src/tiers.rs`); [`placement`] places by it, [`tiers`] reads a version's class and rewrites a version into another, whose switch `apply` refuses if the key no longer holds the blob |
//! | conditional writes (If-Match / If-None-Match), bucket exists, bucket empty, upload and part still current | the state machine's `apply` in `cairn-raft`; [`commit`] maps its answer to [`ObjectError`] |
//! | freed shards (a replaced or refused version, replaced or dropped parts, aborted uploads) | here, [`freed`], after the commit; a crash in between leaves orphans for the node's collector |
//! | quotas: every limit a write counts against (bucket, key, tenant, ancestors) | `apply` (`raft/src/quota.rs`), with the write; [`tenants`] only refuses early a body that cannot fit |
//! | tenants: nesting, the carving rule, what a tenant holds | `apply` (`raft/src/apply/tenants.rs`); [`tenants`] proposes |
//! | object lock | `apply` |
//! | lifecycle: when a rule's action is due | here, [`lifecycle`] (the node's worker walks the buckets); whether the key is still as the rule saw it, and object lock, in `apply` (`raft/src/apply/lifecycle.rs`) |
//! | encryption: a data key per object or part, packages sealed before the erasure code | here, [`sse`] and [`data`]; the protocol parses the request's keys |
//! | moving a blob to the disks a new layout places it on | the rebalancer (`node/src/workers/durability/rebalance.rs`) copies the shards; [`moves`] commits the switch, which `apply` refuses if the object or the layout changed |
//! | version ids, what a PUT or DELETE does to a key's history (enabled, suspended, unversioned), promotion of the next version | `apply` (`raft/src/apply/versions.rs`); [`versions`] proposes and frees what it answers |
//! | locks | none: concurrent writers race to the commit, and apply orders them |
//! | authorization, request digests, S3 preconditions on reads | the protocol, before it calls here |

pub mod access;
pub mod annotations;
pub mod assets;
pub mod attrs;
pub mod batch;
pub mod commit;
pub mod data;
mod error;
pub mod freed;
pub mod lifecycle;
pub mod meta;
pub mod moves;
pub mod placement;
pub mod sse;
pub mod tenants;
pub mod tiers;
pub mod versions;

pub use data::{DataStream, WrittenData, spec_of};
pub use error::{BoxError, ObjectError};
pub use placement::placement_hash;

use cairn_erasure::DiskSet;
use cairn_raft::MetaStore;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub data_shards: u8,
    pub parity_shards: u8,
    /// Object bytes per shard per stripe.
    pub block_size: u32,
    /// Bodies up to this size live in the metadata record instead of shards.
    pub inline_max: usize,
    pub region: String,
    /// Bodies streaming to shards at once. Each holds about two stripes of
    /// buffers; a body waiting for a slot is not read, so TCP back-pressure
    /// holds the client and memory stays bounded however many arrive.
    pub max_concurrent_writes: usize,
    /// How long a lifecycle rule's day is ([`lifecycle::Day`]; shorter only in tests).
    pub lifecycle_day: lifecycle::Day,
}

/// Bodies up to this size live in their metadata record by default: at 16 KiB, 8-16 KiB
/// PUTs run 2.5-2.8x faster than as shard files, and above 32 KiB inlining no longer
/// pays (every inline byte goes through the Raft log and sled); measured with
/// `scripts/bench-inline.sh`.
pub const DEFAULT_INLINE_MAX: usize = 16 << 10;

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            data_shards: 2,
            parity_shards: 2,
            block_size: 256 * 1024,
            inline_max: DEFAULT_INLINE_MAX,
            region: "us-east-1".into(),
            max_concurrent_writes: 32,
            lifecycle_day: lifecycle::Day::default(),
        }
    }
}

/// The object store: metadata through Raft, bytes through the erasure-coded disk set.
/// Writing data never commits metadata; reading never returns bytes that failed their
/// checksums.
pub struct Store {
    /// Metadata reads (lookups, listings, barriers) go here directly; writes go
    /// through [`commit`] and [`meta`].
    pub meta: MetaStore,
    pub disks: Arc<DiskSet>,
    pub config: StoreConfig,
    writers: Arc<tokio::sync::Semaphore>,
    /// Shards being read right now, kept until their last reader ends.
    holds: Arc<freed::ReadHolds>,
    /// The root of SSE-S3's keys; without it SSE-S3 is refused.
    master_key: Option<Arc<sse::MasterKey>>,
    /// Reads served by this node, not yet committed ([`access`]).
    reads: access::ReadCounter,
}

impl Store {
    pub fn new(meta: MetaStore, disks: DiskSet, config: StoreConfig) -> Self {
        let writers = Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_writes.max(1)));
        Self {
            meta,
            disks: Arc::new(disks),
            config,
            writers,
            holds: Default::default(),
            master_key: None,
            reads: Default::default(),
        }
    }

    /// Gives the store the cluster's master key, which SSE-S3 needs.
    pub fn with_master_key(mut self, key: Option<sse::MasterKey>) -> Self {
        self.master_key = key.map(Arc::new);
        self
    }

    /// A record sealed as `req` asks around a fresh random key, which nothing encrypts
    /// with: a multipart upload keeps one to know how its parts are encrypted, and, for
    /// SSE-C, to check that every part brings the key the upload was created with.
    pub async fn upload_sse(&self, req: &sse::SseRequest) -> Result<cairn_raft::schema::Sse, ObjectError> {
        self.new_data_key(req).await.map(|(_, sse)| sse)
    }

    /// A new data key for one blob, sealed as `req` asks.
    pub(crate) async fn new_data_key(
        &self,
        req: &sse::SseRequest,
    ) -> Result<(sse::package::PackageKey, cairn_raft::schema::Sse), ObjectError> {
        let kms = match req {
            sse::SseRequest::Kms { .. } if self.master_key.is_none() => return Err(sse::SseError::NoMasterKey.into()),
            sse::SseRequest::Kms { key_id, .. } => Some(self.kms_key_for_write(key_id).await?),
            _ => None,
        };
        Ok(sse::new_data_key(req, self.master_key.as_deref(), kms.as_ref())?)
    }

    /// Whether SSE-S3 can be served.
    pub fn has_master_key(&self) -> bool {
        self.master_key.is_some()
    }

    /// The keys a read brings: the master key, and the request's SSE-C key.
    pub fn keys(&self, customer: Option<sse::CustomerKey>) -> sse::Keys {
        sse::Keys { master: self.master_key.clone(), customer, meta: Some(self.meta.clone()) }
    }
}
