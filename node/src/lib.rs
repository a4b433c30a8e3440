//! `cairnd`: configuration, start-up and wiring of the Cairn node.

pub mod config;
mod credentials;
mod disks;
mod server;

use anyhow::Context;
use cairn_erasure::DiskSet;
use cairn_raft::MetaStore;
use cairn_s3api::{CairnAuth, CairnHost, CairnS3, Store, StoreConfig};
use config::Config;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

pub struct Node {
    pub s3_addr: SocketAddr,
    pub access_key: String,
    pub secret_key: String,
    meta: MetaStore,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

impl Node {
    pub async fn start(cfg: &Config) -> anyhow::Result<Node> {
        std::fs::create_dir_all(&cfg.data).with_context(|| format!("creating data dir {}", cfg.data.display()))?;
        disks::check_disk_list(&cfg.data, &cfg.disks)?;
        let disks = DiskSet::open(&cfg.disks).context("opening disk directories")?;
        let meta = MetaStore::open(&cfg.data.join("meta"), 1).await.context("starting metadata store")?;
        let root = credentials::ensure_root_key(&meta).await?;
        let store = Arc::new(Store {
            meta: meta.clone(),
            disks: Arc::new(disks),
            config: StoreConfig {
                data_shards: cfg.data_shards,
                parity_shards: cfg.parity_shards,
                region: cfg.region.clone(),
                ..StoreConfig::default()
            },
        });
        let mut builder = s3s::service::S3ServiceBuilder::new(CairnS3::new(store));
        builder.set_auth(CairnAuth::new(meta.clone()));
        builder.set_host(CairnHost::new(cfg.domains.clone()));
        let service = builder.build();

        let listener = tokio::net::TcpListener::bind(cfg.s3_listen)
            .await
            .with_context(|| format!("binding the S3 endpoint {}", cfg.s3_listen))?;
        let s3_addr = listener.local_addr()?;
        let (shutdown, rx) = watch::channel(false);
        let ready_meta = meta.clone();
        let ready: Arc<dyn Fn() -> bool + Send + Sync> =
            Arc::new(move || ready_meta.metrics().current_leader.is_some());
        let server = tokio::spawn(server::serve(listener, service, ready, rx));
        Ok(Node { s3_addr, access_key: root.access_key_id, secret_key: root.secret_key, meta, shutdown, server })
    }

    /// Stops accepting, lets in-flight requests finish (bounded), then stops Raft
    /// and flushes metadata.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        let _ = self.server.await;
        self.meta.shutdown().await
    }
}
