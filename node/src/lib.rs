//! `cairnd`: configuration, start-up and wiring of the Cairn node. This file only
//! wires: it reads the configuration, opens the disks and the metadata store, and
//! starts the node's parts, each of which owns its own module:
//!
//! - `config.rs`, `disks.rs`, `keyring.rs`, `credentials.rs`: what start-up reads and
//!   keeps (configuration, the local disk list, the cluster keyring, the root key).
//! - `transport/`: the internode endpoint (QUIC), bytes only.
//! - `peer/`: the peer protocol over it, served to peers and called on them.
//! - `cluster/`: membership and layout (init, join, peers' health).
//! - `workers/`: background work (durability, upload expiry).
//! - `front/`: the HTTP front (S3 over HTTP or TLS, health, metrics).

pub mod audit;
mod cluster;
pub mod config;
mod credentials;
mod disks;
mod front;
mod keyring;
mod notify;
mod peer;
pub mod transport;
mod workers;

use anyhow::Context;
use cairn_erasure::{DiskSet, LocalDisk, SegmentConfig};
use cairn_object::{Store, StoreConfig};
use cairn_raft::rpc::PeerCaller;
use cairn_raft::{MetaStore, OpenOptions};
use cairn_s3api::CairnS3;
use cairn_s3api::access::Authorizer;
use cluster::state::ClusterState;
use cluster::{Cluster, ClusterParts};
use config::Config;
use peer::{PeerService, TransportCaller};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tokio::sync::watch;

pub struct Node {
    /// `http` or `https`.
    pub scheme: &'static str,
    pub s3_addr: SocketAddr,
    /// Internode address peers dial; None when the node runs without an internode
    /// endpoint (alone, and the default port was taken).
    pub node_addr: Option<String>,
    pub access_key: String,
    pub secret_key: String,
    meta: MetaStore,
    transport: Option<transport::Transport>,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

impl Node {
    pub async fn start(cfg: &Config) -> anyhow::Result<Node> {
        std::fs::create_dir_all(&cfg.data).with_context(|| format!("creating data dir {}", cfg.data.display()))?;
        disks::check_disk_list(&cfg.data, &cfg.disks)?;
        let local: Vec<Arc<LocalDisk>> = cfg
            .disks
            .iter()
            .map(|d| {
                let segments = SegmentConfig { max_shard: cfg.segment_max_shard, segment_bytes: cfg.segment_bytes };
                LocalDisk::open_with(d, segments).map(Arc::new).with_context(|| format!("opening disk {}", d.display()))
            })
            .collect::<anyhow::Result<_>>()?;
        // Empty until the layout says which global disk index each local disk has.
        let disks = DiskSet::from_disks(Vec::new());
        let state = ClusterState::at_start(cfg)?;
        let static_secret = (!cfg.peers.is_empty()).then(|| state.secret.as_deref().unwrap_or_default());
        let keyring = keyring::load_or_create(&cfg.data, static_secret).context("loading the keyring")?;

        // The peer protocol is served from the start; it refuses Raft RPCs until the
        // metadata store is open.
        let meta_slot = Arc::new(OnceLock::new());
        let service = Arc::new(PeerService::new(meta_slot.clone(), local.clone(), keyring.clone()));
        let transport = peer::listen(cfg, state.secret.as_deref(), state.member, service.clone()).await?;
        let advertise = match &transport {
            Some(t) => cfg.node_advertise.clone().unwrap_or_else(|| t.local_addr().to_string()),
            None => String::new(),
        };
        let bootstrap = state.bootstrap(&cfg.peers);
        let lone = matches!(bootstrap, cairn_raft::Bootstrap::SingleNode);
        let opts = OpenOptions {
            node_id: state.node_id,
            addr: advertise.clone(),
            bootstrap,
            caller: transport.clone().map(|t| Arc::new(TransportCaller::new(t)) as Arc<dyn PeerCaller>),
            snapshot_every: cfg.raft_snapshot_every,
            cache_mib: cfg.meta_cache_mib,
            snapshot_log_bytes: 0,
        };
        let meta =
            MetaStore::open_with(&cfg.data.join(&state.meta_dir), opts).await.context("starting metadata store")?;
        let _ = meta_slot.set(meta.clone());

        let listener = front::bind(cfg).await?;
        let s3_addr = listener.local_addr()?;
        let cluster = Cluster::new(ClusterParts {
            transport: transport.clone(),
            meta: meta.clone(),
            disks: disks.clone(),
            local: local.clone(),
            data: cfg.data.clone(),
            state: state.clone(),
            advertise: advertise.clone(),
            s3_addr: s3_addr.to_string(),
            data_shards: cfg.data_shards,
            parity_shards: cfg.parity_shards,
            raft_snapshot_every: cfg.raft_snapshot_every,
            meta_cache_mib: cfg.meta_cache_mib,
            keyring: keyring.clone(),
            pools: cfg.pools(),
            classes: cfg.classes(),
        });
        let root = if lone {
            cluster.register_self().await.context("registering this node's disks and storage classes")?;
            cluster.apply_layout(&meta.layout()?);
            credentials::ensure_root_key(&meta, &keyring).await?
        } else {
            let may_create = state.node_id == 1 || credentials::root_key_from_env();
            credentials::member_root_key(&meta, &keyring, may_create).await
        };

        let master_key = cfg.load_master_key()?;
        let store = Arc::new(
            Store::new(
                meta.clone(),
                disks,
                StoreConfig {
                    data_shards: cfg.data_shards,
                    parity_shards: cfg.parity_shards,
                    region: cfg.region.clone(),
                    inline_max: cfg.inline_max,
                    lifecycle_day: cairn_object::lifecycle::Day(cfg.lifecycle_day_secs as i64 * 1_000_000_000),
                    ..StoreConfig::default()
                },
            )
            .with_master_key(master_key),
        );
        let access = Arc::new(
            Authorizer::new(meta.clone(), keyring.clone(), cfg.region.clone())
                .with_sse_c_plain_http(cfg.sse_c_plain_http),
        );
        let s3 = CairnS3::new(store.clone(), access.clone()).with_notify_targets(cfg.notify_targets.keys().cloned());
        let (shutdown, rx) = watch::channel(false);
        let durability = workers::start(cfg, meta.clone(), store.disks.clone(), local, store.clone(), rx.clone());
        cluster.spawn_background(rx.clone());
        notify::start(meta.clone(), cfg.region.clone(), &cfg.notify_targets, rx.clone());
        let search = cairn_search::AssetSearch::open(&cfg.data.join("search")).context("opening the search index")?;
        tokio::spawn(search.clone().run(meta.clone(), rx.clone()));
        let audit = audit::Audit::start(
            audit::AuditConfig {
                dir: cfg.data.join("audit"),
                max_file_bytes: cfg.audit_max_file_mib << 20,
                keep_files: cfg.audit_keep_files,
                webhook: cfg.audit_webhook.clone(),
                webhook_batch: cfg.audit_webhook_batch,
            },
            rx.clone(),
        )
        .context("starting the audit log")?;
        let parts = front::FrontParts {
            audit,
            meta: meta.clone(),
            keyring,
            store,
            access,
            s3,
            cluster,
            durability,
            search,
            node_id: state.node_id,
        };
        let front = front::start(cfg, listener, parts, rx)?;
        service.set_live(front.live.clone());
        if let Some(t) = &transport {
            front.live.set_relay(Arc::new(peer::PresenceFanout { transport: t.clone(), meta: meta.clone() }));
        }
        Ok(Node {
            scheme: front.scheme,
            s3_addr,
            node_addr: transport.is_some().then_some(advertise),
            access_key: root.access_key_id,
            secret_key: root.secret_key,
            meta,
            transport,
            shutdown,
            server: front.server,
        })
    }

    /// The node's metadata store: in-process embedders and tests read its state and
    /// subscribe to its change feed ([`MetaStore::feed`]).
    pub fn meta(&self) -> &MetaStore {
        &self.meta
    }

    /// Stops accepting, lets in-flight requests finish (bounded), then stops Raft
    /// and flushes metadata.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        let _ = self.server.await;
        let res = self.meta.shutdown().await;
        if let Some(transport) = &self.transport {
            transport.close().await;
        }
        res
    }
}
