//! [`MetaStore`]: the metadata API the rest of Cairn uses.
//!
//! Writes go through [`MetaStore::propose`]. Proposals are group-committed: a batcher
//! task packs every command queued while earlier entries are in flight into one Raft
//! entry ([`CommandBatch`]), with at most [`MAX_IN_FLIGHT`] entries outstanding, so
//! many concurrent PUTs share one log flush (openraft 0.9 flushes each entry before it
//! takes the next client write). Reads come straight from the applied state machine.

use crate::error::MetaError;
use crate::keys::{bucket_prefix, object_key, part_key, part_prefix, upload_key, CLUSTER_SERVICE_PREFIX};
use crate::listing;
use crate::log_store::LogStore;
use crate::network::NetworkFactory;
use crate::rpc::{CallError, ForwardError, PeerCaller, RaftReply, RaftRpc};
use crate::schema::{
    AccessKey, BlobOwner, BucketInfo, ClusterLayout, Command, CommandResult, ListPage, MultipartUpload, Nanos,
    ObjectData, ObjectVersion, PartRef, UploadListPage,
};
use crate::state_machine::{SmTrees, StateMachine};
use crate::types::{BatchResponse, CommandBatch, NodeInfo, Raft};
use anyhow::Context;
use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::{Config, RaftMetrics, SnapshotPolicy};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;

/// How long `open` waits for this node to become leader and catch up.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Raft entries proposed but not yet applied, at most.
pub const MAX_IN_FLIGHT: usize = 2;
/// Commands per Raft entry, at most.
pub const MAX_BATCH_COMMANDS: usize = 1024;
/// Approximate encoded bytes per Raft entry, at most (inline data dominates). With
/// `max_payload_entries` this bounds one AppendEntries message to ~12 MiB, under the
/// internode frame limit.
pub const MAX_BATCH_BYTES: usize = 512 << 10;
/// Queued proposals before `propose` waits.
const QUEUE_DEPTH: usize = 16 * 1024;
/// How long a write or a linearizable read waits for a leader (an election) before failing.
const LEADER_WAIT: Duration = Duration::from_secs(10);
/// How long adding a node may take, including the new node catching up.
const ADD_NODE_TIMEOUT: Duration = Duration::from_secs(120);
/// A leader whose quorum has not answered for this long reports itself not ready.
const QUORUM_STALE_MS: u64 = 3000;
/// Voters at most; further nodes stay learners (non-voting members).
pub const MAX_VOTERS: usize = 5;

/// How a store joins or forms its Raft group when it opens.
#[derive(Clone, Debug)]
pub enum Bootstrap {
    /// A new group gets this node as its single voter; `open` waits until it leads.
    SingleNode,
    /// A new group gets these voters (node id to address); `open` does not wait for a leader.
    Members(BTreeMap<u64, String>),
    /// Never initializes: the node waits to be added by a cluster's leader.
    Join,
}

/// Everything [`MetaStore::open_with`] needs besides the directory.
#[derive(Clone)]
pub struct OpenOptions {
    pub node_id: u64,
    /// This node's internode address, recorded in the membership.
    pub addr: String,
    pub bootstrap: Bootstrap,
    /// The internode transport; None for a node that is not part of a cluster.
    pub caller: Option<Arc<dyn PeerCaller>>,
    /// Log entries between snapshots; 0 takes [`DEFAULT_SNAPSHOT_EVERY`].
    pub snapshot_every: u64,
}

/// Log entries applied between two snapshots, unless configured otherwise.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 20_000;

/// Openraft configuration of the metadata group. Timeouts are set for a multi-node
/// LAN cluster; a single voter elects itself at once.
pub fn raft_config() -> Config {
    raft_config_with(DEFAULT_SNAPSHOT_EVERY)
}

/// [`raft_config`] with a snapshot every `snapshot_every` entries; up to half of that
/// (at most 1000) entries stay in the log behind a snapshot for lagging followers, and
/// the rest is purged in batches of up to half an interval (at most 256), so a small
/// interval really purges.
pub fn raft_config_with(snapshot_every: u64) -> Config {
    let every = if snapshot_every == 0 { DEFAULT_SNAPSHOT_EVERY } else { snapshot_every };
    Config {
        cluster_name: "cairn".to_string(),
        heartbeat_interval: 250,
        election_timeout_min: 1000,
        election_timeout_max: 2000,
        install_snapshot_timeout: 10_000,
        max_payload_entries: 24,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(every),
        max_in_snapshot_log_to_keep: (every / 2).clamp(1, 1_000),
        purge_batch_size: (every / 2).clamp(1, 256),
        ..Default::default()
    }
}

struct Pending {
    cmd: Command,
    tx: oneshot::Sender<Result<CommandResult, MetaError>>,
}

struct Inner {
    node_id: u64,
    raft: Raft,
    db: sled::Db,
    trees: SmTrees,
    tx: mpsc::Sender<Pending>,
    caller: Option<Arc<dyn PeerCaller>>,
}

/// The Raft-replicated metadata store. Cheap to clone; clones share one store, and
/// [`MetaStore::replace_with`] swaps it for all of them (a node joining a cluster
/// trades its own single-node group for the cluster's).
#[derive(Clone)]
pub struct MetaStore {
    shared: Arc<RwLock<Arc<Inner>>>,
    /// Told the time from proposal to applied result of every successful proposal.
    proposal_observer: Arc<std::sync::OnceLock<ProposalObserver>>,
}

/// Receives the latency of each successful proposal (for metrics).
pub type ProposalObserver = Arc<dyn Fn(Duration) + Send + Sync>;

fn decode<T: serde::de::DeserializeOwned>(v: Option<sled::IVec>) -> Result<Option<T>, MetaError> {
    match v {
        Some(v) => Ok(Some(bincode::deserialize(&v)?)),
        None => Ok(None),
    }
}

fn data_size(data: &ObjectData) -> usize {
    match data {
        ObjectData::Inline(d) => d.len(),
        ObjectData::Shards(s) => 64 + s.disks.len() * 2,
        ObjectData::Parts(ps) => ps.iter().map(|p| 96 + p.etag.len() + data_size(&p.data)).sum(),
    }
}

fn approx_size(cmd: &Command) -> usize {
    match cmd {
        Command::PutObject { version, .. } | Command::CompleteUpload { version, .. } => 512 + data_size(&version.data),
        Command::CreateUpload { upload } => 512 + data_size(&upload.template.data),
        Command::PutPart { part, .. } => 256 + data_size(&part.data),
        _ => 256,
    }
}

async fn open_sled(path: &Path) -> anyhow::Result<sled::Db> {
    // A store dropped in this process may still be shutting down and holding the
    // file lock for a moment: retry briefly.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let res = sled::Config::new().path(path).mode(sled::Mode::HighThroughput).open();
        match res {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e)) if tokio::time::Instant::now() < deadline => {
                tracing::debug!("sled open: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("opening sled db at {}", path.display())),
        }
    }
}

impl MetaStore {
    /// Opens (or creates) the store in `dir` (`dir/sled`, `dir/snapshots`), starts
    /// Raft, initializes a new group with this node as the single voter, and waits
    /// (up to 10 s) until this node leads and has applied the whole log.
    pub async fn open(dir: &Path, node_id: u64) -> anyhow::Result<MetaStore> {
        Self::open_with_addr(dir, node_id, "").await
    }

    /// Like [`MetaStore::open`]; `addr` is recorded as this node's address in the
    /// membership when the group is created.
    pub async fn open_with_addr(dir: &Path, node_id: u64, addr: &str) -> anyhow::Result<MetaStore> {
        let opts = OpenOptions {
            node_id,
            addr: addr.to_string(),
            bootstrap: Bootstrap::SingleNode,
            caller: None,
            snapshot_every: 0,
        };
        Self::open_with(dir, opts).await
    }

    /// Opens (or creates) the store in `dir` and starts Raft as `opts` says.
    pub async fn open_with(dir: &Path, opts: OpenOptions) -> anyhow::Result<MetaStore> {
        let OpenOptions { node_id, addr, bootstrap, caller, snapshot_every } = opts;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let db = open_sled(&dir.join("sled")).await?;
        crate::format::check(&db)?;
        let trees = SmTrees::open(&db)?;
        let sm = StateMachine::open(trees.clone(), dir.join("snapshots"))?;
        let log = LogStore::open(&db)?;
        let config = Arc::new(raft_config_with(snapshot_every).validate()?);
        let raft = Raft::new(node_id, config, NetworkFactory::new(caller.clone()), log, sm).await?;

        let initialized = raft.is_initialized().await?;
        match &bootstrap {
            Bootstrap::SingleNode if !initialized => {
                raft.initialize(BTreeMap::from([(node_id, NodeInfo::new(&addr))])).await?;
            }
            Bootstrap::Members(members) if !initialized => {
                let members: BTreeMap<u64, NodeInfo> =
                    members.iter().map(|(id, a)| (*id, NodeInfo::new(a.as_str()))).collect();
                raft.initialize(members).await?;
            }
            _ if initialized => {
                let voters: Vec<u64> = raft.metrics().borrow().membership_config.membership().voter_ids().collect();
                if voters == [node_id] {
                    // The only voter: no need to sit out an election timeout.
                    raft.trigger().elect().await?;
                }
            }
            _ => {}
        }
        if matches!(bootstrap, Bootstrap::SingleNode) {
            raft.wait(Some(OPEN_TIMEOUT))
                .metrics(|m| m.current_leader == Some(node_id), "this node leads")
                .await
                .context("waiting for leadership")?;
            tokio::time::timeout(OPEN_TIMEOUT, raft.ensure_linearizable())
                .await
                .context("waiting for the log to be applied")?
                .map_err(MetaError::from)?;
        }

        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(batcher(raft.clone(), caller.clone(), node_id, rx));
        let inner = Inner { node_id, raft, db, trees, tx, caller };
        Ok(MetaStore { shared: Arc::new(RwLock::new(Arc::new(inner))), proposal_observer: Arc::default() })
    }

    fn inner(&self) -> Arc<Inner> {
        self.shared.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes every clone of this store use `other`'s group from now on, and shuts the
    /// old one down. Calls in flight on the old group finish or fail with Shutdown.
    pub async fn replace_with(&self, other: MetaStore) -> anyhow::Result<()> {
        let new = other.inner();
        let old = std::mem::replace(&mut *self.shared.write().unwrap_or_else(|e| e.into_inner()), new);
        old.raft.shutdown().await.map_err(|e| anyhow::anyhow!("raft shutdown: {e}"))?;
        old.db.flush_async().await.context("flushing sled")?;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn sled_db(&self) -> sled::Db {
        self.inner().db.clone()
    }

    /// This node's Raft id.
    pub fn node_id(&self) -> u64 {
        self.inner().node_id
    }

    /// The Raft handle (membership changes, snapshots, metrics watch).
    pub fn raft(&self) -> Raft {
        self.inner().raft.clone()
    }

    /// Proposes a command through Raft; returns once it is committed and applied. On a
    /// follower the command is forwarded to the leader.
    pub async fn propose(&self, cmd: Command) -> Result<CommandResult, MetaError> {
        let start = Instant::now();
        let (tx, rx) = oneshot::channel();
        self.inner().tx.send(Pending { cmd, tx }).await.map_err(|_| MetaError::Shutdown)?;
        let res = rx.await.map_err(|_| MetaError::Shutdown)?;
        if let (true, Some(observe)) = (res.is_ok(), self.proposal_observer.get()) {
            observe(start.elapsed());
        }
        res
    }

    /// Sets who is told each proposal's latency; only the first call takes effect.
    pub fn observe_proposals(&self, observer: ProposalObserver) {
        let _ = self.proposal_observer.set(observer);
    }

    /// Linearizable read barrier: after it returns, local reads see every write
    /// committed before it was called. A follower asks the leader for its read index
    /// and waits until it has applied that far.
    pub async fn read_barrier(&self) -> Result<(), MetaError> {
        let inner = self.inner();
        if sole_voter(&inner) {
            // The leader answers a proposal only once it is applied here, and no other
            // node can take over while this one is the only voter: the local state
            // already holds every acknowledged write.
            return Ok(());
        }
        let deadline = Instant::now() + LEADER_WAIT;
        loop {
            let leader = wait_for_leader(&inner.raft, deadline).await?;
            if leader.0 == inner.node_id {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, inner.raft.ensure_linearizable()).await {
                    Ok(Ok(_)) => return Ok(()),
                    Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(_)))) => {}
                    Ok(Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_)))) => {}
                    Ok(Err(e)) => return Err(e.into()),
                    Err(_) => return Err(MetaError::NotLeader { leader: None }),
                }
            } else if let Some(caller) = &inner.caller {
                // A failed call is retried: asking for a read index changes nothing.
                if let Ok(RaftReply::ReadIndex(r)) = caller.call(leader.1, RaftRpc::ReadIndex).await {
                    match r {
                        Ok(index) => {
                            let left = deadline.saturating_duration_since(Instant::now());
                            inner
                                .raft
                                .wait(Some(left))
                                .applied_index_at_least(Some(index), "read index")
                                .await
                                .map_err(|e| MetaError::Unavailable(format!("catching up to the leader: {e}")))?;
                            return Ok(());
                        }
                        Err(ForwardError::NotLeader { .. }) => {}
                        Err(ForwardError::Failed(e)) => return Err(MetaError::Unavailable(e)),
                    }
                }
            } else {
                return Err(MetaError::NotLeader { leader: Some(leader.0) });
            }
            if Instant::now() >= deadline {
                return Err(MetaError::NotLeader { leader: None });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Adds node `id` at internode address `addr` to the group: as a learner, then
    /// (while there are fewer than [`MAX_VOTERS`] voters) as a voter. Runs on the
    /// leader; a follower forwards it.
    pub async fn add_node(&self, id: u64, addr: &str) -> Result<(), MetaError> {
        let inner = self.inner();
        let deadline = Instant::now() + LEADER_WAIT;
        loop {
            let leader = wait_for_leader(&inner.raft, deadline).await?;
            let res = if leader.0 == inner.node_id {
                add_node_as_leader(&inner.raft, id, NodeInfo::new(addr)).await
            } else if let Some(caller) = &inner.caller {
                match caller.call(leader.1, RaftRpc::AddNode { id, node: NodeInfo::new(addr) }).await {
                    Ok(RaftReply::AddNode(r)) => r,
                    Ok(_) => Err(ForwardError::Failed("mismatched reply".into())),
                    Err(e) => Err(ForwardError::Failed(e.message)),
                }
            } else {
                Err(ForwardError::NotLeader { leader: Some(leader.0) })
            };
            match res {
                Ok(()) => return Ok(()),
                Err(ForwardError::NotLeader { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(ForwardError::NotLeader { leader }) => return Err(MetaError::NotLeader { leader }),
                Err(ForwardError::Failed(e)) => return Err(MetaError::Unavailable(e)),
            }
        }
    }

    /// Serves an RPC from a peer's metadata layer.
    pub async fn handle_rpc(&self, rpc: RaftRpc) -> RaftReply {
        let inner = self.inner();
        let raft = &inner.raft;
        match rpc {
            RaftRpc::Append(r) => RaftReply::Append(raft.append_entries(r).await),
            RaftRpc::Vote(r) => RaftReply::Vote(raft.vote(r).await),
            RaftRpc::Snapshot(r) => RaftReply::Snapshot(raft.install_snapshot(r).await),
            RaftRpc::Forward(batch) => RaftReply::Forward(match raft.client_write(batch).await {
                Ok(resp) => Ok(resp.data),
                Err(e) => Err(write_forward_error(e)),
            }),
            RaftRpc::ReadIndex => RaftReply::ReadIndex(match raft.ensure_linearizable().await {
                Ok(log_id) => Ok(log_id.map_or(0, |l| l.index)),
                Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                    Err(ForwardError::NotLeader { leader: f.leader_id })
                }
                Err(e) => Err(ForwardError::Failed(e.to_string())),
            }),
            RaftRpc::AddNode { id, node } => {
                let is_leader = raft.metrics().borrow().current_leader == Some(inner.node_id);
                RaftReply::AddNode(if is_leader {
                    add_node_as_leader(raft, id, node).await
                } else {
                    Err(ForwardError::NotLeader { leader: raft.metrics().borrow().current_leader })
                })
            }
        }
    }

    /// Whether writes can commit as far as this node can tell: a leader is known and,
    /// on the leader itself, a quorum acknowledged it within the last few seconds.
    pub fn has_quorum(&self) -> bool {
        let inner = self.inner();
        let m = inner.raft.metrics().borrow().clone();
        match m.current_leader {
            Some(l) if l == inner.node_id => m.millis_since_quorum_ack.is_some_and(|ms| ms < QUORUM_STALE_MS),
            Some(_) => true,
            None => false,
        }
    }

    /// The cluster layout (empty until the first node registers).
    pub fn layout(&self) -> Result<ClusterLayout, MetaError> {
        self.inner().trees.layout()
    }

    pub fn get_bucket(&self, name: &str) -> Result<Option<BucketInfo>, MetaError> {
        decode(self.inner().trees.buckets.get(name.as_bytes())?)
    }

    /// Buckets in name order, strictly after `after` if given, at most `limit`.
    pub fn list_buckets(&self, after: Option<&str>, limit: usize) -> Result<Vec<BucketInfo>, MetaError> {
        let start = match after {
            Some(a) => Bound::Excluded(a.as_bytes()),
            None => Bound::Unbounded,
        };
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for item in self.inner().trees.buckets.range::<&[u8], _>((start, Bound::Unbounded)) {
            let (_, v) = item?;
            out.push(bincode::deserialize(&v)?);
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// The object or upload part that refers to blob `id`, as this node has applied it.
    pub fn blob_owner(&self, id: u128) -> Result<Option<BlobOwner>, MetaError> {
        decode(self.inner().trees.blobs.get(crate::blobs::blob_key(id))?)
    }

    /// Objects and bytes of a bucket's current versions, as this node has applied them.
    pub fn bucket_usage(&self, bucket: &str) -> Result<crate::usage::BucketUsage, MetaError> {
        Ok(decode(self.inner().trees.usage.get(bucket.as_bytes())?)?.unwrap_or_default())
    }

    /// Usage of every bucket that holds or held objects, by name.
    pub fn all_usage(&self) -> Result<Vec<(String, crate::usage::BucketUsage)>, MetaError> {
        let mut out = Vec::new();
        for item in self.inner().trees.usage.iter() {
            let (k, v) = item?;
            out.push((String::from_utf8_lossy(&k).into_owned(), bincode::deserialize(&v)?));
        }
        Ok(out)
    }

    /// The last state a background service stored with `Command::PutServiceState`.
    pub fn service_state(&self, name: &str) -> Result<Option<Vec<u8>>, MetaError> {
        let mut k = CLUSTER_SERVICE_PREFIX.to_vec();
        k.extend_from_slice(name.as_bytes());
        Ok(self.inner().trees.cluster.get(k)?.map(|v| v.to_vec()))
    }

    /// Up to `limit` objects of every bucket in (bucket, key) order, strictly after
    /// `after`; the background walkers (scrub, heal) page through the store with it.
    /// `bucket` limits the scan to one bucket and `prefix` to its keys with that prefix.
    pub fn scan_objects(
        &self,
        bucket: Option<&str>,
        prefix: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, String, ObjectVersion)>, MetaError> {
        let inner = self.inner();
        let tree = &inner.trees.objects;
        let scope: Vec<u8> = match bucket {
            Some(b) => match object_key(b, prefix) {
                Some(k) => k,
                None => return Ok(Vec::new()),
            },
            None => Vec::new(),
        };
        let start = match after.and_then(|(b, k)| object_key(b, k)) {
            Some(mut k) if k >= scope => {
                k.push(0);
                k
            }
            _ => scope.clone(),
        };
        let end = crate::keys::prefix_end(&scope);
        let range = match end {
            Some(e) if start >= e => return Ok(Vec::new()),
            Some(e) => tree.range(start..e),
            None => tree.range(start..),
        };
        let mut out = Vec::new();
        for item in range.take(limit) {
            let (k, v) = item?;
            let blen = k[0] as usize;
            let b = String::from_utf8_lossy(&k[1..1 + blen]).into_owned();
            let key = String::from_utf8_lossy(&k[1 + blen..]).into_owned();
            if bucket.is_none() && !key.starts_with(prefix) {
                continue;
            }
            out.push((b, key, bincode::deserialize(&v)?));
        }
        Ok(out)
    }

    pub fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectVersion>, MetaError> {
        let Some(k) = object_key(bucket, key) else {
            return Ok(None);
        };
        decode(self.inner().trees.objects.get(k)?)
    }

    /// S3 listing as an ordered range scan: keys of `bucket` starting with `prefix`,
    /// strictly after `after`, in UTF-8 byte order. With a (non-empty) delimiter, keys
    /// whose rest after the prefix contains it roll up into one common prefix, which
    /// counts once toward `max_keys` and is skipped with one seek. If `after` lies in
    /// a common prefix, the scan resumes past that whole prefix. `next_marker` is the
    /// last key or common prefix returned (set whenever the page is not empty).
    pub fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max_keys: usize,
    ) -> Result<ListPage, MetaError> {
        listing::list_objects(&self.inner().trees.objects, bucket, prefix, delimiter, after, max_keys)
    }

    /// True if the bucket holds at least one object (one seek).
    pub fn bucket_has_objects(&self, bucket: &str) -> Result<bool, MetaError> {
        let Some(p) = bucket_prefix(bucket) else {
            return Ok(false);
        };
        Ok(self.inner().trees.objects.scan_prefix(p).next().transpose()?.is_some())
    }

    pub fn get_access_key(&self, access_key_id: &str) -> Result<Option<AccessKey>, MetaError> {
        decode(self.inner().trees.keys.get(access_key_id.as_bytes())?)
    }

    /// All access keys, in id order.
    pub fn list_access_keys(&self) -> Result<Vec<AccessKey>, MetaError> {
        let mut out = Vec::new();
        for item in self.inner().trees.keys.iter() {
            let (_, v) = item?;
            out.push(bincode::deserialize(&v)?);
        }
        Ok(out)
    }

    /// The upload `upload_id` of `bucket/key`, if it is in progress.
    pub fn get_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Option<MultipartUpload>, MetaError> {
        let Some(k) = upload_key(bucket, key, upload_id) else {
            return Ok(None);
        };
        decode(self.inner().trees.uploads.get(k)?)
    }

    /// Parts of `upload_id` numbered above `after_part`, ascending, at most `max`;
    /// the flag is true when more parts follow the returned ones.
    pub fn list_parts(&self, upload_id: &str, after_part: u32, max: usize) -> Result<(Vec<PartRef>, bool), MetaError> {
        let mut out = Vec::new();
        let Some(first) = after_part.checked_add(1) else {
            return Ok((out, false));
        };
        let want = upload_id.len() + 5;
        let range = part_key(upload_id, first)..=part_key(upload_id, u32::MAX);
        for item in self.inner().trees.parts.range(range) {
            let (k, v) = item?;
            // Longer keys belong to an upload id that extends this one with a NUL.
            if k.len() != want {
                continue;
            }
            if out.len() == max {
                return Ok((out, true));
            }
            out.push(bincode::deserialize(&v)?);
        }
        Ok((out, false))
    }

    /// Every part of `upload_id`, ascending by number.
    pub fn all_parts(&self, upload_id: &str) -> Result<Vec<PartRef>, MetaError> {
        let want = upload_id.len() + 5;
        let mut out = Vec::new();
        for item in self.inner().trees.parts.scan_prefix(part_prefix(upload_id)) {
            let (k, v) = item?;
            if k.len() == want {
                out.push(bincode::deserialize(&v)?);
            }
        }
        Ok(out)
    }

    /// S3 ListMultipartUploads as an ordered range scan: uploads of `bucket` whose key
    /// starts with `prefix`, in (key, upload id) order. With `key_marker` only, keys
    /// strictly after it; with both markers, uploads of `key_marker` with an id
    /// strictly after `upload_id_marker`, then later keys. With a (non-empty)
    /// delimiter, keys whose rest after the prefix contains it roll up into one common
    /// prefix (counted once toward `max_uploads`, skipped with one seek); a key marker
    /// inside a common prefix resumes past that prefix. The next markers name the last
    /// upload returned (or the last common prefix, with no upload id marker); they are
    /// set whenever the page is not empty.
    pub fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
        max_uploads: usize,
    ) -> Result<UploadListPage, MetaError> {
        listing::list_uploads(
            &self.inner().trees.uploads,
            bucket,
            prefix,
            delimiter,
            key_marker,
            upload_id_marker,
            max_uploads,
        )
    }

    /// Uploads initiated before `older_than`, at most `limit`, in (bucket, key,
    /// upload id) order. Scans every upload: meant for the background expiry task.
    pub fn expired_uploads(&self, older_than: Nanos, limit: usize) -> Result<Vec<MultipartUpload>, MetaError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for item in self.inner().trees.uploads.iter() {
            let (_, v) = item?;
            let u: MultipartUpload = bincode::deserialize(&v)?;
            if u.initiated < older_than {
                out.push(u);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// A snapshot of openraft's metrics (leader, term, last log index, last applied, snapshot, ...).
    pub fn metrics(&self) -> RaftMetrics<u64, NodeInfo> {
        self.inner().raft.metrics().borrow().clone()
    }

    /// Stops Raft and flushes sled. Later proposals fail with [`MetaError::Shutdown`].
    pub async fn shutdown(&self) -> anyhow::Result<()> {
        self.inner().raft.shutdown().await.map_err(|e| anyhow::anyhow!("raft shutdown: {e}"))?;
        self.inner().db.flush_async().await.context("flushing sled")?;
        Ok(())
    }
}

/// The current leader's id and address, waiting (until `deadline`) while there is none.
async fn wait_for_leader(raft: &Raft, deadline: Instant) -> Result<(u64, String), MetaError> {
    let mut rx = raft.metrics();
    loop {
        {
            let m = rx.borrow_and_update();
            if let Some(id) = m.current_leader {
                let addr = m.membership_config.membership().get_node(&id).map(|n| n.addr.clone()).unwrap_or_default();
                return Ok((id, addr));
            }
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(MetaError::Shutdown),
            Err(_) => return Err(MetaError::NotLeader { leader: None }),
        }
    }
}

/// Resolves once this node no longer sees `from` as the leader.
async fn leader_changes(raft: &Raft, from: u64) {
    let mut rx = raft.metrics();
    loop {
        if rx.borrow_and_update().current_leader != Some(from) {
            return;
        }
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// A leader that has lost its quorum would wait for a commit forever; the client gets
/// an answer instead. The entry may still commit later: the outcome is unknown.
async fn commit_within(
    raft: &Raft,
    batch: CommandBatch,
    limit: Duration,
) -> Result<openraft::raft::ClientWriteResponse<crate::types::TypeConfig>, MetaError> {
    match tokio::time::timeout(limit, raft.client_write(batch)).await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => {
            Err(MetaError::Unavailable("no quorum acknowledged the write in time; its outcome is unknown".into()))
        }
    }
}

fn write_forward_error(e: RaftError<u64, ClientWriteError<u64, NodeInfo>>) -> ForwardError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => ForwardError::NotLeader { leader: f.leader_id },
        other => ForwardError::Failed(other.to_string()),
    }
}

async fn add_node_as_leader(raft: &Raft, id: u64, node: NodeInfo) -> Result<(), ForwardError> {
    let membership = raft.metrics().borrow().membership_config.membership().clone();
    let mut voters: BTreeSet<u64> = membership.voter_ids().collect();
    if voters.contains(&id) {
        return Ok(());
    }
    // Blocking: returns once the learner has caught up, so promoting it next cannot
    // stall commits while it replays the log.
    match tokio::time::timeout(ADD_NODE_TIMEOUT, raft.add_learner(id, node, true)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(write_forward_error(e)),
        Err(_) => return Err(ForwardError::Failed(format!("node {id} did not catch up within {ADD_NODE_TIMEOUT:?}"))),
    }
    if voters.len() < MAX_VOTERS {
        voters.insert(id);
        raft.change_membership(voters, true).await.map_err(write_forward_error)?;
    }
    Ok(())
}

/// Writes one batch: on the leader through Raft, on a follower by forwarding it to the
/// leader. Retries only while the batch has certainly not been applied anywhere.
async fn write_batch(
    raft: &Raft,
    caller: Option<&Arc<dyn PeerCaller>>,
    node_id: u64,
    batch: CommandBatch,
) -> Result<BatchResponse, MetaError> {
    let Some(caller) = caller else {
        return Ok(commit_within(raft, batch, LEADER_WAIT).await?.data);
    };
    let deadline = Instant::now() + LEADER_WAIT;
    loop {
        let (leader, addr) = wait_for_leader(raft, deadline).await?;
        let res = if leader == node_id {
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
            return commit_within(raft, batch, left).await.map(|r| r.data);
        } else {
            // A leader that dies mid-call is noticed by the election before the
            // connection times out; the client hears about it that much sooner.
            let reply = tokio::select! {
                r = caller.call(addr, RaftRpc::Forward(batch.clone())) => r,
                _ = leader_changes(raft, leader) => Err(CallError {
                    maybe_delivered: true,
                    message: "the leader changed while the write was in flight".into(),
                }),
            };
            match reply {
                Ok(RaftReply::Forward(r)) => r,
                Ok(_) => Err(ForwardError::Failed("mismatched reply to a forwarded write".into())),
                Err(e) if !e.maybe_delivered => Err(ForwardError::NotLeader { leader: None }),
                Err(e) => {
                    Err(ForwardError::Failed(format!("forwarding to the leader: {}; outcome unknown", e.message)))
                }
            }
        };
        match res {
            Ok(resp) => return Ok(resp),
            Err(ForwardError::NotLeader { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(ForwardError::NotLeader { leader }) => return Err(MetaError::NotLeader { leader }),
            Err(ForwardError::Failed(e)) => return Err(MetaError::Unavailable(e)),
        }
    }
}

/// Packs queued proposals into Raft entries; ends when every `MetaStore` is dropped.
async fn batcher(raft: Raft, caller: Option<Arc<dyn PeerCaller>>, node_id: u64, mut rx: mpsc::Receiver<Pending>) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        // Everything that queued up while we waited for a slot joins this entry.
        let mut bytes = approx_size(&first.cmd);
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_COMMANDS && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(p) => {
                    bytes += approx_size(&p.cmd);
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        let caller = caller.clone();
        tokio::spawn(async move {
            let (cmds, txs): (Vec<Command>, Vec<_>) = batch.into_iter().map(|p| (p.cmd, p.tx)).unzip();
            let n = cmds.len();
            let res = write_batch(&raft, caller.as_ref(), node_id, CommandBatch(cmds)).await;
            drop(permit);
            match res {
                Ok(resp) if resp.0.len() == n => {
                    for (tx, r) in txs.into_iter().zip(resp.0) {
                        let _ = tx.send(Ok(r));
                    }
                }
                Ok(resp) => {
                    let e =
                        MetaError::Raft(format!("state machine returned {} results for {n} commands", resp.0.len()));
                    for tx in txs {
                        let _ = tx.send(Err(e.clone()));
                    }
                }
                Err(e) => {
                    for tx in txs {
                        let _ = tx.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}

/// True if this node leads a group in which it is the only voter.
fn sole_voter(inner: &Inner) -> bool {
    let rx = inner.raft.metrics();
    let m = rx.borrow();
    m.current_leader == Some(inner.node_id)
        && m.state.is_leader()
        && m.membership_config.membership().voter_ids().eq([inner.node_id])
}
