//! The HTTP front: the S3 endpoint as the network sees it.
//!
//! - `mod.rs`: binding the endpoint, building the s3s service (Cairn's S3 service, its
//!   SigV4 auth, the authorizer, virtual hosts, the `/cairn/admin/v1/` route) and
//!   starting the server.
//! - `server.rs`: connections, request slots, the gate hook, request logs.
//! - `tls.rs`: the S3 endpoint's TLS certificate, reloaded on SIGHUP.
//! - `health.rs`: `/health/live` and `/health/ready`.
//! - `metrics.rs`: `/metrics`.
//! - `console.rs`: the web console's embedded files under `/console/` (the page's
//!   code is in `node/console/`; it calls the S3 and `/cairn/` endpoints like any client).
//!
//! Owns the S3 socket and everything between it and s3s. May touch what it is handed:
//! it reads the metadata store and the disk table (readiness, gauges) and passes the
//! store, the authorizer, the cluster and the durability workers to s3s and the admin
//! route; it stores nothing itself.

mod console;
mod health;
mod metrics;
mod server;
mod tls;

use crate::cluster::Cluster;
use crate::config::Config;
use crate::workers::durability::{Durability, DurabilityApi};
use anyhow::Context;
use cairn_object::Store;
use cairn_raft::MetaStore;
use cairn_s3api::access::{Authorizer, CairnAccess, Keyring};
use cairn_s3api::{CairnAuth, CairnHost, CairnS3, ExtRoute};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What the front serves and reports on.
pub struct FrontParts {
    /// Where each request's audit record goes.
    pub audit: crate::audit::Audit,
    pub meta: MetaStore,
    pub keyring: Keyring,
    pub store: Arc<Store>,
    pub access: Arc<Authorizer>,
    pub s3: CairnS3,
    pub cluster: Arc<Cluster>,
    pub durability: Arc<Durability>,
    /// The asset search index.
    pub search: Arc<cairn_search::AssetSearch>,
    /// Names this node in error bodies (`<HostId>`).
    pub node_id: u64,
}

/// The running front.
pub struct Running {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Ends once the front has stopped accepting and in-flight requests have finished.
    pub server: tokio::task::JoinHandle<()>,
    /// The live annotation hub (presence from peers goes to it).
    pub live: Arc<cairn_s3api::ext::LiveHub>,
}

/// Binds the S3 endpoint.
pub async fn bind(cfg: &Config) -> anyhow::Result<TcpListener> {
    TcpListener::bind(cfg.s3_listen).await.with_context(|| format!("binding the S3 endpoint {}", cfg.s3_listen))
}

/// Builds the s3s service and serves it on `listener` until `shutdown`.
pub fn start(
    cfg: &Config,
    listener: TcpListener,
    p: FrontParts,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Running> {
    let admin = ExtRoute::new(p.store.clone(), p.access.clone())
        .with_cluster(p.cluster)
        .with_durability(Arc::new(DurabilityApi(p.durability.clone())))
        .with_search(p.search.clone());
    let live = admin.live();
    let disks = p.store.disks.clone();
    let mut builder = s3s::service::S3ServiceBuilder::new(p.s3);
    builder.set_auth(CairnAuth::new(p.meta.clone(), p.keyring));
    builder.set_access(CairnAccess(p.access));
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
        tokio::spawn(tls::reload_on_sighup(tls));
    }
    let front = Arc::new(server::Front {
        service,
        health: health::Health::new(p.meta.clone(), disks.clone(), cfg.data_shards, cfg.parity_shards),
        cors: cairn_s3api::cors::Cors::new(p.meta.clone()),
        metrics: Arc::new(metrics::Metrics::new(
            p.meta,
            disks,
            p.durability,
            cfg.metrics_tenant_depth,
            p.audit.stats.clone(),
        )),
        audit: p.audit,
        node_id: p.node_id,
        limiter: Arc::new(tokio::sync::Semaphore::new(cfg.max_requests)),
        anon_limiter: Arc::new(tokio::sync::Semaphore::new(anonymous_share(cfg.max_requests))),
        gate: cairn_s3api::gate::Gate { idle: Duration::from_secs(cfg.body_timeout_secs) },
        host_id: format!("cairn-node-{}", p.node_id),
        refused: server::RefusalLog::default(),
        host: CairnHost::new(cfg.domains.clone()),
        region: cfg.region.clone(),
        tls: tls.clone(),
    });
    let server = tokio::spawn(server::serve(listener, front, Duration::from_secs(cfg.body_timeout_secs), shutdown));
    Ok(Running { scheme: if tls.is_some() { "https" } else { "http" }, server, live })
}

/// The request slots anonymous requests may hold at once: a quarter, so that
/// unauthenticated clients can never take the slots signed requests need.
fn anonymous_share(max_requests: usize) -> usize {
    (max_requests / 4).max(1)
}

/// A plain answer the front gives itself (probes, metrics, a failure inside s3s).
fn text(status: http::StatusCode, content_type: &str, body: String) -> http::Response<s3s::Body> {
    let mut resp = http::Response::new(s3s::Body::from(body));
    *resp.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}
