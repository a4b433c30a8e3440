//! Cluster membership and layout as this node sees them: forming and joining a
//! cluster (`cluster init`, join tokens in `token.rs`), who this node is in which
//! cluster (`state.rs`, `<data>/cluster.json`), registering this node's disks, keeping
//! the disk table in step with the layout in Raft, and probing peers (`health.rs`).
//!
//! A client of the peer protocol (`crate::peer`: pings, the keyring and joins) and of
//! the internode transport, never their server. May touch the metadata store (layout,
//! membership), the disk table, the keyring and `cluster.json`; nothing of S3.

mod health;
pub mod state;
mod token;

use crate::peer::messages::{self, PeerRequest};
use crate::peer::{RemoteDisk, TransportCaller};
use crate::transport::{Transport, TransportError};
use cairn_api::admin::{
    ClusterInit, ClusterJoined, ClusterStatus, LayoutSummary, NodeRole, NodeStatus, StorageClassStatus,
};
use cairn_erasure::{DiskSet, LocalDisk, ShardDisk};
use cairn_raft::schema::{ClusterLayout, Command, CommandResult, NodeEntry};
use cairn_raft::tiers::StorageClass;
use cairn_raft::{Bootstrap, MetaError, MetaStore, OpenOptions};
use cairn_s3api::access::{KEY_LEN, Keyring};
use cairn_s3api::{AdminError, ClusterAdmin};
use health::PeerHealth;
use state::ClusterState;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use token::JoinToken;
use tokio::sync::watch;

const LAYOUT_POLL: Duration = Duration::from_millis(500);
const PING_EVERY: Duration = Duration::from_millis(500);
const PING_TIMEOUT: Duration = Duration::from_millis(1000);

pub struct Cluster {
    /// None: the node runs alone without an internode endpoint (see `crate::peer::listen`).
    pub transport: Option<Transport>,
    meta: MetaStore,
    disks: DiskSet,
    local: Vec<Arc<LocalDisk>>,
    health: Arc<PeerHealth>,
    data: PathBuf,
    state: Mutex<ClusterState>,
    /// Internode address peers dial.
    pub advertise: String,
    s3_addr: String,
    data_shards: u8,
    parity_shards: u8,
    raft_snapshot_every: u64,
    meta_cache_mib: u64,
    keyring: Keyring,
    pools: Vec<String>,
    classes: Vec<StorageClass>,
    join_lock: tokio::sync::Mutex<()>,
}

pub struct ClusterParts {
    pub transport: Option<Transport>,
    pub meta: MetaStore,
    pub disks: DiskSet,
    pub local: Vec<Arc<LocalDisk>>,
    pub data: PathBuf,
    pub state: ClusterState,
    pub advertise: String,
    pub s3_addr: String,
    pub data_shards: u8,
    pub parity_shards: u8,
    pub raft_snapshot_every: u64,
    pub meta_cache_mib: u64,
    pub keyring: Keyring,
    /// This node's disks' pools and the storage classes its configuration names.
    pub pools: Vec<String>,
    pub classes: Vec<StorageClass>,
}

fn secret_bytes(secret: &str) -> Vec<u8> {
    secret.as_bytes().to_vec()
}

/// What `cluster init` and `cluster join` answer on a node without an internode endpoint.
fn no_internode() -> AdminError {
    AdminError::new(
        409,
        "NoInternodeEndpoint",
        "this node runs without an internode endpoint: the default internode port was taken when it started. \
         Restart it with --node-listen ADDR:PORT (or CAIRN_NODE_LISTEN, or node_listen in its config file) \
         to form or join a cluster",
    )
}

impl Cluster {
    pub fn new(p: ClusterParts) -> Arc<Cluster> {
        Arc::new(Cluster {
            transport: p.transport,
            meta: p.meta,
            disks: p.disks,
            local: p.local,
            health: Arc::new(PeerHealth::default()),
            data: p.data,
            state: Mutex::new(p.state),
            advertise: p.advertise,
            s3_addr: p.s3_addr,
            data_shards: p.data_shards,
            parity_shards: p.parity_shards,
            raft_snapshot_every: p.raft_snapshot_every,
            meta_cache_mib: p.meta_cache_mib,
            keyring: p.keyring,
            pools: p.pools,
            classes: p.classes,
            join_lock: tokio::sync::Mutex::new(()),
        })
    }

    fn transport(&self) -> Result<&Transport, AdminError> {
        self.transport.as_ref().ok_or_else(no_internode)
    }

    fn state(&self) -> ClusterState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Adds this node's disks to the layout (or refreshes its addresses), then its
    /// disks' pools and configured storage classes to the cluster's classes.
    pub async fn register_self(&self) -> Result<(), MetaError> {
        self.register_disks().await?;
        self.register_tiers().await
    }

    async fn register_tiers(&self) -> Result<(), MetaError> {
        let me = self.meta.node_id();
        let tiers = self.meta.tiers()?;
        let known =
            tiers.disk_pools.get(&me) == Some(&self.pools) && self.classes.iter().all(|c| tiers.classes.contains(c));
        if known {
            return Ok(());
        }
        let cmd = Command::SetTiers { node: me, pools: self.pools.clone(), classes: self.classes.clone() };
        match self.meta.propose(cmd).await? {
            CommandResult::Ok => Ok(()),
            CommandResult::LayoutConflict(msg) => Err(MetaError::Raft(msg)),
            other => Err(MetaError::Raft(format!("registering this node's storage classes: {other:?}"))),
        }
    }

    async fn register_disks(&self) -> Result<(), MetaError> {
        let me = self.meta.node_id();
        let layout = self.meta.layout()?;
        if let Some(n) = layout.node(me)
            && n.addr == self.advertise
            && n.s3_addr == self.s3_addr
        {
            return Ok(());
        }
        let node = NodeEntry {
            id: me,
            addr: self.advertise.clone(),
            s3_addr: self.s3_addr.clone(),
            disks: self.local.len() as u16,
            first_disk: 0,
        };
        let cmd = Command::RegisterNode { node, data_shards: self.data_shards, parity_shards: self.parity_shards };
        match self.meta.propose(cmd).await? {
            CommandResult::Ok => Ok(()),
            CommandResult::LayoutConflict(msg) => Err(MetaError::Raft(msg)),
            other => Err(MetaError::Raft(format!("registering this node: {other:?}"))),
        }
    }

    /// The disk table for `layout`: this node's disks local, every other node's remote.
    pub fn apply_layout(&self, layout: &ClusterLayout) {
        if layout.nodes.is_empty() {
            return;
        }
        let me = self.meta.node_id();
        let mut table: Vec<Option<Arc<dyn ShardDisk>>> = vec![None; layout.disk_count()];
        for n in &layout.nodes {
            for j in 0..n.disks {
                let slot = &mut table[usize::from(n.first_disk + j)];
                *slot = if n.id == me {
                    self.local.get(usize::from(j)).map(|d| d.clone() as Arc<dyn ShardDisk>)
                } else if let Some(transport) = &self.transport {
                    Some(Arc::new(RemoteDisk::new(
                        transport.clone(),
                        n.addr.clone(),
                        n.id,
                        j,
                        self.health.flag(n.id),
                        tokio::runtime::Handle::current(),
                    )))
                } else {
                    None
                };
            }
        }
        self.disks.set_disks(table);
        tracing::info!(
            version = layout.version,
            nodes = layout.nodes.len(),
            disks = layout.disk_count(),
            "layout applied"
        );
    }

    /// Layout watcher, peer prober and (until it succeeds) self-registration.
    pub fn spawn_background(self: &Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut applied: Option<(u64, u64)> = None;
            let mut registered = false;
            let mut since_ping = PING_EVERY;
            loop {
                if !registered && this.state().member {
                    match this.register_self().await {
                        Ok(()) => registered = true,
                        Err(e) => tracing::debug!(error = %e, "registering this node's disks; will retry"),
                    }
                }
                if let Ok(layout) = this.meta.layout() {
                    let key = (this.meta.node_id(), layout.version);
                    if applied != Some(key) {
                        this.apply_layout(&layout);
                        applied = Some(key);
                        since_ping = PING_EVERY;
                    }
                    if since_ping >= PING_EVERY {
                        since_ping = Duration::ZERO;
                        this.probe_peers(&layout);
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(LAYOUT_POLL) => since_ping += LAYOUT_POLL,
                    _ = shutdown.changed() => return,
                }
            }
        });
    }

    fn probe_peers(&self, layout: &ClusterLayout) {
        let Some(transport) = &self.transport else { return };
        let me = self.meta.node_id();
        for n in layout.nodes.iter().filter(|n| n.id != me) {
            let transport = transport.clone();
            let health = self.health.clone();
            let (id, addr) = (n.id, n.addr.clone());
            tokio::spawn(async move {
                let msg = bincode::serialize(&PeerRequest::Ping).unwrap_or_default();
                let up = matches!(tokio::time::timeout(PING_TIMEOUT, transport.call(&addr, &msg)).await, Ok(Ok(_)));
                if health.is_up(id) != up {
                    tracing::info!(node = id, %addr, up, "peer state changed");
                }
                health.set(id, up);
            });
        }
    }

    async fn do_init(&self) -> Result<ClusterInit, AdminError> {
        let transport = self.transport()?;
        let mut st = self.state();
        if st.secret.is_none() {
            let secret = hex::encode(rand::random::<[u8; 32]>());
            st.secret = Some(secret);
            st.member = true;
            st.save(&self.data).map_err(|e| AdminError::new(500, "InternalError", format!("{e:#}")))?;
            *self.state.lock().unwrap_or_else(|e| e.into_inner()) = st.clone();
            transport.set_secret(st.secret.as_deref().map(secret_bytes));
            self.register_self().await.map_err(meta_error)?;
        }
        let secret = st.secret.unwrap_or_default();
        let token = JoinToken { secret, addrs: vec![self.advertise.clone()] }.encode();
        Ok(ClusterInit { token, node_id: st.node_id, addr: self.advertise.clone() })
    }

    async fn do_join(&self, token: &str, addr: Option<&str>) -> Result<ClusterJoined, AdminError> {
        let transport = self.transport()?;
        let _guard = self.join_lock.lock().await;
        let token = JoinToken::decode(token).map_err(|e| AdminError::new(400, "InvalidToken", e))?;
        let addr = addr
            .map(str::to_string)
            .or_else(|| token.addrs.first().cloned())
            .ok_or_else(|| AdminError::new(400, "InvalidRequest", "give the address of a cluster member (ADDR)"))?;
        let st = self.state();
        let metrics = self.meta.metrics();
        let members = metrics.membership_config.membership().nodes().count();
        if st.member && members > 0 {
            return Err(AdminError::new(409, "AlreadyInCluster", "this node is already part of a cluster"));
        }
        if !self.meta.list_buckets(None, 1).map_err(meta_error)?.is_empty() {
            return Err(AdminError::new(
                409,
                "NodeNotEmpty",
                "this node holds buckets; only an empty node can join a cluster",
            ));
        }
        let old_secret = st.secret.clone();
        transport.set_secret(Some(secret_bytes(&token.secret)));
        let ping = bincode::serialize(&PeerRequest::Ping).unwrap_or_default();
        if let Err(e) = transport.call(&addr, &ping).await {
            transport.set_secret(old_secret.as_deref().map(secret_bytes));
            return Err(match e {
                TransportError::Auth { .. } | TransportError::Refused { .. } => {
                    AdminError::new(403, "AccessDenied", format!("{addr} refused the token's cluster secret"))
                }
                other => AdminError::new(502, "PeerUnreachable", format!("cannot reach {addr}: {other}")),
            });
        }

        // The cluster's keyring replaces this node's own: the secrets in the cluster's
        // metadata are sealed with it.
        let ask = bincode::serialize(&PeerRequest::Keyring).unwrap_or_default();
        let keyring = match transport
            .call(&addr, &ask)
            .await
            .map(|r| messages::parse_reply(&r).ok().and_then(|b| <[u8; KEY_LEN]>::try_from(b).ok()))
        {
            Ok(Some(k)) => k,
            Ok(None) => return Err(AdminError::new(502, "JoinFailed", format!("{addr} sent no keyring"))),
            Err(e) => return Err(AdminError::new(502, "PeerUnreachable", format!("cannot reach {addr}: {e}"))),
        };

        // A fresh metadata group under a new id: the node's lone group is left behind.
        let (node_id, meta_dir) = if st.member {
            (st.node_id, st.meta_dir.clone())
        } else {
            let id = rand::random::<u64>() >> 1 | 1 << 32;
            (id, format!("meta-{id:016x}"))
        };
        let new_state = ClusterState { node_id, secret: Some(token.secret.clone()), meta_dir, member: true };
        // From here on the node belongs to the cluster, whose secrets its keyring opens.
        self.keyring.replace(keyring);
        crate::keyring::save(&self.data, &self.keyring)
            .map_err(|e| AdminError::new(500, "InternalError", format!("{e:#}")))?;
        new_state.save(&self.data).map_err(|e| AdminError::new(500, "InternalError", format!("{e:#}")))?;
        let old_dir = self.data.join(&st.meta_dir);
        if !st.member {
            let opts = OpenOptions {
                node_id,
                addr: self.advertise.clone(),
                bootstrap: Bootstrap::Join,
                caller: Some(Arc::new(TransportCaller::new(transport.clone()))),
                snapshot_every: self.raft_snapshot_every,
                cache_mib: self.meta_cache_mib,
                snapshot_log_bytes: 0,
            };
            let fresh = MetaStore::open_with(&self.data.join(&new_state.meta_dir), opts)
                .await
                .map_err(|e| AdminError::new(500, "InternalError", format!("{e:#}")))?;
            self.meta.replace_with(fresh).await.map_err(|e| AdminError::new(500, "InternalError", format!("{e:#}")))?;
            // The lone group's disk indices mean other disks in the cluster's layout.
            self.disks.set_disks(Vec::new());
        }
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = new_state;

        let msg = bincode::serialize(&PeerRequest::Join { id: node_id, addr: self.advertise.clone() })
            .map_err(|e| AdminError::new(500, "InternalError", e.to_string()))?;
        let reply =
            transport.call(&addr, &msg).await.map_err(|e| AdminError::new(502, "PeerUnreachable", e.to_string()))?;
        messages::parse_reply(&reply).map_err(|e| AdminError::new(502, "JoinFailed", e.to_string()))?;
        // Registering needs this node's log to have caught up: retry for a while.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            match self.register_self().await {
                Ok(()) => break,
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(meta_error(e)),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        self.apply_layout(&self.meta.layout().map_err(meta_error)?);
        if !st.member && old_dir != self.data.join(&self.state().meta_dir) {
            let _ = tokio::fs::remove_dir_all(&old_dir).await;
        }
        tracing::info!(node = node_id, via = %addr, "joined the cluster");
        Ok(ClusterJoined { node_id, joined_via: addr })
    }

    async fn do_status(&self) -> ClusterStatus {
        let m = self.meta.metrics();
        let membership = m.membership_config.membership().clone();
        let voters: Vec<u64> = membership.voter_ids().collect();
        let learners: Vec<u64> = membership.learner_ids().collect();
        let layout = self.meta.layout().unwrap_or_default();
        let me = self.meta.node_id();
        let mut nodes = Vec::new();
        for n in &layout.nodes {
            let role = if m.current_leader == Some(n.id) {
                NodeRole::Leader
            } else if voters.contains(&n.id) {
                NodeRole::Voter
            } else if learners.contains(&n.id) {
                NodeRole::Learner
            } else {
                NodeRole::None
            };
            let online = n.id == me || self.health.is_up(n.id);
            let disks_online = (0..n.disks).filter(|j| self.disks.is_online(n.first_disk + j)).count();
            nodes.push(NodeStatus {
                id: n.id,
                addr: n.addr.clone(),
                s3_addr: n.s3_addr.clone(),
                role,
                online,
                disks: n.disks,
                disks_online: disks_online as u64,
                first_disk: n.first_disk,
            });
        }
        ClusterStatus {
            node_id: me,
            clustered: self.state().member,
            leader: m.current_leader,
            state: format!("{:?}", m.state),
            term: m.current_term,
            last_log_index: m.last_log_index,
            applied_index: m.last_applied.map(|l| l.index),
            voters,
            learners,
            layout: LayoutSummary {
                version: layout.version,
                data_shards: layout.data_shards,
                parity_shards: layout.parity_shards,
                disks: layout.disk_count() as u64,
                erasure_sets: layout.erasure_sets().len() as u64,
            },
            nodes,
            storage_classes: self.class_status(&layout),
        }
    }

    fn class_status(&self, layout: &ClusterLayout) -> Vec<StorageClassStatus> {
        let tiers = self.meta.tiers().unwrap_or_default();
        tiers
            .names()
            .iter()
            .filter_map(|name| tiers.class(layout, name))
            .map(|c| {
                let in_pool = tiers.in_pool(layout, &c.pool);
                let disks: Vec<u16> = (0..layout.disk_count() as u16).filter(|&d| in_pool(d)).collect();
                StorageClassStatus {
                    erasure_sets: layout.erasure_sets_among(c.width(), &in_pool).len() as u64,
                    disks_online: disks.iter().filter(|&&d| self.disks.is_online(d)).count() as u64,
                    disks: disks.len() as u64,
                    name: c.name,
                    data_shards: c.data_shards,
                    parity_shards: c.parity_shards,
                    pool: c.pool.clone(),
                }
            })
            .collect()
    }
}

fn meta_error(e: MetaError) -> AdminError {
    match e {
        MetaError::NotLeader { .. } | MetaError::Unavailable(_) => {
            AdminError::new(503, "ServiceUnavailable", e.to_string())
        }
        other => AdminError::new(500, "InternalError", other.to_string()),
    }
}

#[async_trait::async_trait]
impl ClusterAdmin for Cluster {
    async fn status(&self) -> ClusterStatus {
        self.do_status().await
    }

    async fn init(&self) -> Result<ClusterInit, AdminError> {
        self.do_init().await
    }

    async fn join(&self, token: &str, addr: Option<&str>) -> Result<ClusterJoined, AdminError> {
        self.do_join(token, addr).await
    }
}
