//! [`MetaStore`]: the metadata API the rest of Cairn uses.
//!
//! - this file: opening a store (sled, the state machine, Raft), swapping groups,
//!   proposing, shutting down, the change feed;
//! - [`batcher`]: group commit of proposals into Raft entries, forwarding to the leader;
//! - [`group`]: the Raft group as a whole: leadership, linearizable reads, adding
//!   nodes, serving peers' Raft RPCs;
//! - [`reads`]: reads of the applied state (buckets, objects, listings, uploads, keys,
//!   layout, usage), each one ordered scan or point lookup.
//!
//! Writes go through [`MetaStore::propose`]. Proposals are group-committed: the batcher
//! packs every command queued while earlier entries are in flight into one Raft entry
//! ([`crate::CommandBatch`]), with at most [`MAX_IN_FLIGHT`] entries outstanding, so
//! many concurrent PUTs share one log flush (openraft 0.9 flushes each entry before it
//! takes the next client write). Reads come straight from the applied state machine.

mod annotations;
mod assets;
pub use assets::AssetQuery;
mod attrs;
mod batcher;
mod group;
mod kms;
pub(crate) mod log_budget;
mod notify;
mod reads;
mod settings;
mod tenancy;
mod versions;

use crate::error::MetaError;
use crate::feed::{ChangeFeed, FEED_HISTORY};
use crate::log_store::LogStore;
use crate::network::NetworkFactory;
use crate::rpc::PeerCaller;
use crate::schema::{Command, CommandResult};
use crate::state_machine::StateMachine;
use crate::trees::SmTrees;
use crate::types::{NodeInfo, Raft};
use anyhow::Context;
use batcher::Pending;
use openraft::{Config, RaftMetrics, SnapshotPolicy};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
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
pub(crate) const LEADER_WAIT: Duration = Duration::from_secs(10);
/// How long adding a node may take, including the new node catching up.
pub(crate) const ADD_NODE_TIMEOUT: Duration = Duration::from_secs(120);
/// A leader whose quorum has not answered for this long reports itself not ready.
pub(crate) const QUORUM_STALE_MS: u64 = 3000;
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
    /// Log entries between snapshots while the state is small (then half the last
    /// snapshot's records); 0 takes [`DEFAULT_SNAPSHOT_EVERY`].
    pub snapshot_every: u64,
    /// The page cache of the metadata store (sled) in MiB; 0 takes
    /// [`DEFAULT_META_CACHE_MIB`].
    pub cache_mib: u64,
    /// Log bytes between snapshots while the state is small (then half the last
    /// snapshot's size); 0 takes [`log_budget::DEFAULT_SNAPSHOT_LOG_BYTES`].
    pub snapshot_log_bytes: u64,
}

/// The metadata store's page cache unless configured otherwise. Measured at 1M
/// objects in one sitting (scripts/bench-scale.sh): 512 MiB against 128 MiB gave 4 KiB
/// PUTs a p99 of 30 ms against 51 ms for the same resident memory (2.2 GiB either
/// way: sled's memory follows its data more than this setting), so the cache is not
/// where memory is saved; sled's own default is 1 GiB.
pub const DEFAULT_META_CACHE_MIB: u64 = 512;

/// Log entries between two snapshots while the state has fewer than twice as many
/// records, unless configured otherwise (see `store/log_budget.rs`).
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 20_000;

/// Openraft configuration of the metadata group. Timeouts are set for a multi-node
/// LAN cluster; a single voter elects itself at once.
pub fn raft_config() -> Config {
    raft_config_with(DEFAULT_SNAPSHOT_EVERY)
}

/// The configured entries between snapshots, 0 taking the default.
fn entries_between_snapshots(snapshot_every: u64) -> u64 {
    if snapshot_every == 0 {
        DEFAULT_SNAPSHOT_EVERY
    } else {
        snapshot_every
    }
}

/// [`raft_config`] for snapshots every `snapshot_every` entries, or more as the state
/// grows (and by bytes; [`log_budget`] asks for them); up to half of that (at most 256,
/// as entries carry up to [`MAX_BATCH_BYTES`]) entries stay in the log behind a
/// snapshot for lagging followers, and the rest is purged in batches of up to half an interval (at most
/// 256), so a small interval really purges.
pub fn raft_config_with(snapshot_every: u64) -> Config {
    let every = entries_between_snapshots(snapshot_every);
    Config {
        cluster_name: "cairn".to_string(),
        heartbeat_interval: 250,
        election_timeout_min: 1000,
        election_timeout_max: 2000,
        install_snapshot_timeout: 10_000,
        max_payload_entries: 24,
        // Snapshots are asked for by the log budget (see log_budget), whose entry count
        // grows with the state.
        snapshot_policy: SnapshotPolicy::Never,
        max_in_snapshot_log_to_keep: (every / 2).clamp(1, 256),
        purge_batch_size: (every / 2).clamp(1, 256),
        ..Default::default()
    }
}

pub(crate) struct Inner {
    node_id: u64,
    raft: Raft,
    feed: ChangeFeed,
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

pub(crate) fn decode<T: serde::de::DeserializeOwned>(v: Option<sled::IVec>) -> Result<Option<T>, MetaError> {
    match v {
        Some(v) => Ok(Some(bincode::deserialize(&v)?)),
        None => Ok(None),
    }
}

async fn open_sled(path: &Path, cache_mib: u64) -> anyhow::Result<sled::Db> {
    let cache_mib = if cache_mib == 0 { DEFAULT_META_CACHE_MIB } else { cache_mib };
    // A store dropped in this process may still be shutting down and holding the
    // file lock for a moment: retry briefly.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let res =
            sled::Config::new().path(path).mode(sled::Mode::HighThroughput).cache_capacity(cache_mib << 20).open();
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
            cache_mib: 0,
            snapshot_log_bytes: 0,
        };
        Self::open_with(dir, opts).await
    }

    /// Opens (or creates) the store in `dir` and starts Raft as `opts` says.
    pub async fn open_with(dir: &Path, opts: OpenOptions) -> anyhow::Result<MetaStore> {
        let OpenOptions { node_id, addr, bootstrap, caller, snapshot_every, cache_mib, snapshot_log_bytes } = opts;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let sled_dir = dir.join("sled");
        let db = open_sled(&sled_dir, cache_mib).await?;
        let found = crate::format::check(&db)?;
        let trees = SmTrees::open(&db)?;
        let sm = StateMachine::open(trees.clone(), dir.join("snapshots"), FEED_HISTORY)?;
        let feed = sm.feed();
        let log = LogStore::open(&db, &sled_dir, &dir.join("raft-log"))?;
        crate::format::upgraded(&db, found)?;
        let appended = log.appended_bytes();
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
        tokio::spawn(batcher::batcher(raft.clone(), caller.clone(), node_id, rx));
        let inner = Arc::new(Inner { node_id, raft, feed, db, trees, tx, caller });
        let log_bytes =
            if snapshot_log_bytes == 0 { log_budget::DEFAULT_SNAPSHOT_LOG_BYTES } else { snapshot_log_bytes };
        let current_snapshot = dir.join("snapshots").join(crate::snapshot::CURRENT);
        let every = entries_between_snapshots(snapshot_every);
        tokio::spawn(log_budget::run(Arc::downgrade(&inner), appended, log_bytes, every, current_snapshot));
        Ok(MetaStore { shared: Arc::new(RwLock::new(inner)), proposal_observer: Arc::default() })
    }

    fn inner(&self) -> Arc<Inner> {
        self.shared.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes every clone of this store use `other`'s group from now on, and shuts the
    /// old one down. Calls in flight on the old group finish or fail with Shutdown.
    pub async fn replace_with(&self, other: MetaStore) -> anyhow::Result<()> {
        let new = other.inner();
        let old = std::mem::replace(&mut *self.shared.write().unwrap_or_else(|e| e.into_inner()), new);
        old.feed.close();
        old.raft.shutdown().await.map_err(|e| anyhow::anyhow!("raft shutdown: {e}"))?;
        old.db.flush_async().await.context("flushing sled")?;
        Ok(())
    }

    /// The change feed of this node's state machine: every change it applies, in log
    /// order (see [`crate::feed`]). After [`MetaStore::replace_with`], feeds taken
    /// earlier end with [`crate::feed::FeedError::Closed`]; take it again.
    pub fn feed(&self) -> ChangeFeed {
        self.inner().feed.clone()
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
        // An administrative change made for a request carries who made it.
        let cmd = match crate::admin_audit::current() {
            Some(actor) if cmd.is_admin() => {
                let at = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as i64);
                let change = crate::feed::Change::of(&cmd);
                let event = crate::admin_audit::AdminEvent { at, actor, change };
                Command::Audited { event, command: Box::new(cmd) }
            }
            _ => cmd,
        };
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

    /// A snapshot of openraft's metrics (leader, term, last log index, last applied, snapshot, ...).
    pub fn metrics(&self) -> RaftMetrics<u64, NodeInfo> {
        self.inner().raft.metrics().borrow().clone()
    }

    /// Stops Raft and flushes sled. Later proposals fail with [`MetaError::Shutdown`].
    pub async fn shutdown(&self) -> anyhow::Result<()> {
        self.inner().feed.close();
        self.inner().raft.shutdown().await.map_err(|e| anyhow::anyhow!("raft shutdown: {e}"))?;
        self.inner().db.flush_async().await.context("flushing sled")?;
        Ok(())
    }
}
