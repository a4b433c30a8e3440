//! `cairnd`: configuration, start-up and wiring of the Cairn node.

mod cluster;
pub mod config;
mod credentials;
mod disks;
mod durability;
mod keyring;
mod metrics;
mod server;
mod tls;
pub mod transport;

use anyhow::Context;
use cairn_erasure::{DiskSet, LocalDisk};
use cairn_object::{Store, StoreConfig};
use cairn_raft::rpc::PeerCaller;
use cairn_raft::{Bootstrap, MetaStore, OpenOptions};
use cairn_s3api::access::{Authorizer, CairnAccess};
use cairn_s3api::{CairnAuth, CairnHost, CairnS3, ExtRoute};
use cluster::state::ClusterState;
use cluster::{Cluster, ClusterParts, PeerService, TransportCaller};
use config::Config;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::watch;

/// The request slots anonymous requests may hold at once: a quarter, so that
/// unauthenticated clients can never take the slots signed requests need.
fn anonymous_share(max_requests: usize) -> usize {
    (max_requests / 4).max(1)
}

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
            .map(|d| LocalDisk::open(d).map(Arc::new).with_context(|| format!("opening disk {}", d.display())))
            .collect::<anyhow::Result<_>>()?;
        // Empty until the layout says which global disk index each local disk has.
        let disks = DiskSet::from_disks(Vec::new());

        let state = if cfg.peers.is_empty() {
            ClusterState::load(&cfg.data)?.unwrap_or_else(ClusterState::lone)
        } else {
            let secret = cfg.cluster_secret.as_deref().unwrap_or_default();
            ClusterState::for_static(&cfg.data, &cfg.peers, &cfg.advertise_addr(), secret)?
        };
        let static_secret = (!cfg.peers.is_empty()).then(|| state.secret.as_deref().unwrap_or_default());
        let keyring = keyring::load_or_create(&cfg.data, static_secret).context("loading the keyring")?;
        let local_disks = local.clone();
        let meta_slot = Arc::new(OnceLock::new());
        let service = Arc::new(PeerService::new(meta_slot.clone(), local.clone(), keyring.clone()));
        let transport = bind_internode(cfg, &state, service).await?;
        let advertise = match &transport {
            Some(t) => cfg.node_advertise.clone().unwrap_or_else(|| t.local_addr().to_string()),
            None => String::new(),
        };
        let bootstrap = if !cfg.peers.is_empty() {
            if state.node_id == 1 {
                let members = cfg.peers.iter().enumerate().map(|(i, a)| (i as u64 + 1, a.clone())).collect();
                Bootstrap::Members(members)
            } else {
                Bootstrap::Join
            }
        } else if state.member {
            Bootstrap::Join
        } else {
            Bootstrap::SingleNode
        };
        let lone = matches!(bootstrap, Bootstrap::SingleNode);
        let opts = OpenOptions {
            node_id: state.node_id,
            addr: advertise.clone(),
            bootstrap,
            caller: transport.clone().map(|t| Arc::new(TransportCaller::new(t)) as Arc<dyn PeerCaller>),
            snapshot_every: cfg.raft_snapshot_every,
        };
        let meta =
            MetaStore::open_with(&cfg.data.join(&state.meta_dir), opts).await.context("starting metadata store")?;
        let _ = meta_slot.set(meta.clone());

        let listener = tokio::net::TcpListener::bind(cfg.s3_listen)
            .await
            .with_context(|| format!("binding the S3 endpoint {}", cfg.s3_listen))?;
        let s3_addr = listener.local_addr()?;
        let cluster = Cluster::new(ClusterParts {
            transport: transport.clone(),
            meta: meta.clone(),
            disks: disks.clone(),
            local,
            data: cfg.data.clone(),
            state: state.clone(),
            advertise: advertise.clone(),
            s3_addr: s3_addr.to_string(),
            data_shards: cfg.data_shards,
            parity_shards: cfg.parity_shards,
            raft_snapshot_every: cfg.raft_snapshot_every,
            keyring: keyring.clone(),
        });
        let root = if lone {
            cluster.register_self().await.context("registering this node's disks")?;
            cluster.apply_layout(&meta.layout()?);
            credentials::ensure_root_key(&meta, &keyring).await?
        } else {
            // A cluster member may start before a quorum of its peers: the S3 endpoint
            // comes up at once and answers 503 until the cluster has a leader.
            let may_create = state.node_id == 1 || credentials::root_key_from_env();
            match tokio::time::timeout(Duration::from_secs(5), credentials::root_key(&meta, &keyring, may_create)).await
            {
                Ok(Ok(Some(k))) => k,
                _ => {
                    let meta = meta.clone();
                    let keyring = keyring.clone();
                    tokio::spawn(async move {
                        for _ in 0..600 {
                            if let Ok(Some(_)) = credentials::root_key(&meta, &keyring, may_create).await {
                                return;
                            }
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    });
                    credentials::placeholder()
                }
            }
        };
        let store = Arc::new(Store::new(
            meta.clone(),
            disks,
            StoreConfig {
                data_shards: cfg.data_shards,
                parity_shards: cfg.parity_shards,
                region: cfg.region.clone(),
                ..StoreConfig::default()
            },
        ));
        let (shutdown, rx) = watch::channel(false);
        let durability = durability::Durability::start(
            meta.clone(),
            store.disks.clone(),
            local_disks,
            durability::DurabilityConfig {
                scrub_rate_mib: cfg.scrub_rate_mib,
                rebalance_rate_mib: cfg.rebalance_rate_mib,
                scrub_interval: Duration::from_secs(cfg.scrub_interval_secs),
                orphan_grace: Duration::from_secs(cfg.orphan_grace_secs),
            },
            rx.clone(),
        );
        let access = Arc::new(Authorizer::new(meta.clone(), keyring.clone(), cfg.region.clone()));
        let admin = ExtRoute::new(store.clone(), access.clone())
            .with_cluster(cluster.clone())
            .with_durability(Arc::new(durability::DurabilityApi(durability.clone())));
        let disks = store.disks.clone();
        let uploads = store.clone();
        let s3 = CairnS3::new(store, access.clone());
        cluster.spawn_background(rx.clone());
        tokio::spawn(expire_uploads(uploads, Duration::from_secs(cfg.multipart_expiry_secs), rx.clone()));
        let mut builder = s3s::service::S3ServiceBuilder::new(s3);
        builder.set_auth(CairnAuth::new(meta.clone(), keyring.clone()));
        builder.set_access(CairnAccess(access));
        builder.set_host(CairnHost::new(cfg.domains.clone()));
        builder.set_route(admin);
        let service = builder.build();

        let tls = match (&cfg.tls_cert, &cfg.tls_key) {
            (Some(cert), Some(key)) => Some(Arc::new(tls::Tls::new(cert.clone(), key.clone())?)),
            _ => None,
        };
        if tls.is_none() && !cfg.s3_listen.ip().is_loopback() {
            tracing::warn!(
                listen = %cfg.s3_listen,
                "serving plain HTTP on a non-loopback address: credentials and data cross the network unencrypted; set tls_cert and tls_key"
            );
        }
        if let Some(tls) = tls.clone() {
            tokio::spawn(reload_tls_on_sighup(tls));
        }
        let ready_meta = meta.clone();
        // Ready means a write can commit: a Raft leader, and enough disks for a write quorum.
        let ready_disks = disks.clone();
        let write_quorum =
            (usize::from(cfg.data_shards) + 1).min(usize::from(cfg.data_shards) + usize::from(cfg.parity_shards));
        let front = Arc::new(server::Front {
            service,
            ready: Arc::new(move || {
                ready_meta.has_quorum()
                    && (0..ready_disks.len()).filter(|&i| ready_disks.is_online(i as u16)).count() >= write_quorum
            }),
            metrics: Arc::new(metrics::Metrics::new(meta.clone(), disks.clone(), durability)),
            limiter: Arc::new(tokio::sync::Semaphore::new(cfg.max_requests)),
            anon_limiter: Arc::new(tokio::sync::Semaphore::new(anonymous_share(cfg.max_requests))),
            gate: cairn_s3api::gate::Gate { idle: Duration::from_secs(cfg.body_timeout_secs) },
            host_id: format!("cairn-node-{}", state.node_id),
            refused: server::RefusalLog::default(),
            host: CairnHost::new(cfg.domains.clone()),
            tls: tls.clone(),
        });
        let server = tokio::spawn(server::serve(listener, front, Duration::from_secs(cfg.body_timeout_secs), rx));
        Ok(Node {
            scheme: if tls.is_some() { "https" } else { "http" },
            s3_addr,
            node_addr: transport.is_some().then_some(advertise),
            access_key: root.access_key_id,
            secret_key: root.secret_key,
            meta,
            transport,
            shutdown,
            server,
        })
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

/// Binds the internode endpoint. A node that is in no cluster and was given no internode
/// setting (node_listen, node_advertise, peers) does not need one: if the default port is
/// taken, e.g. by another node on this machine, it runs without (None), and `cluster init`
/// and `cluster join` tell how to give it one.
async fn bind_internode(
    cfg: &Config,
    state: &ClusterState,
    service: Arc<PeerService>,
) -> anyhow::Result<Option<transport::Transport>> {
    let listen = cfg.node_listen_addr();
    let secret = state.secret.as_ref().map(|s| s.as_bytes().to_vec());
    match transport::Transport::bind(listen, secret, service).await {
        Ok(t) => Ok(Some(t)),
        Err(e) if !cfg.internode_configured() && !state.member => {
            tracing::warn!(
                %listen,
                error = %format!("{e:#}"),
                "the default internode port is taken: running alone without an internode endpoint; \
                 to form or join a cluster, restart with --node-listen ADDR:PORT"
            );
            Ok(None)
        }
        Err(e) => Err(e.context(format!(
            "the internode endpoint cannot listen on {listen}: choose the address with --node-listen ADDR:PORT \
             (env CAIRN_NODE_LISTEN, node_listen in the config file)"
        ))),
    }
}

/// Aborts incomplete multipart uploads older than `max_age`, checking a few
/// times per `max_age` (at most hourly).
async fn expire_uploads(store: Arc<Store>, max_age: Duration, mut shutdown: watch::Receiver<bool>) {
    let every = (max_age / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let cutoff = std::time::SystemTime::now()
            .checked_sub(max_age)
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let n = store.abort_expired_uploads(cutoff).await;
        if n > 0 {
            tracing::info!(aborted = n, "expired multipart uploads aborted");
        }
    }
}

async fn reload_tls_on_sighup(tls: Arc<tls::Tls>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; TLS certificates will not be reloaded");
        return;
    };
    while hup.recv().await.is_some() {
        match tls.reload() {
            Ok(()) => tracing::info!("TLS certificate reloaded"),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "TLS reload failed; keeping the current certificate"),
        }
    }
}
