//! The admin API under `/cairn/admin/v1/`. It is an s3s route, so requests are
//! SigV4-verified like any S3 request; only root keys may use it. Answers and
//! errors are JSON.

use crate::store::Store;
use cairn_raft::MetaStore;
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result, s3_error};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

pub const ADMIN_PREFIX: &str = "/cairn/admin/v1/";

/// Cluster administration, implemented by the node (it owns the transport and the
/// cluster state); the admin route only speaks HTTP for it.
#[async_trait::async_trait]
pub trait ClusterAdmin: Send + Sync + 'static {
    /// Nodes, roles, Raft term and indexes, disks and health.
    async fn status(&self) -> serde_json::Value;
    /// Makes this node a cluster others can join; returns `{"token": ...}`.
    async fn init(&self) -> Result<serde_json::Value, AdminError>;
    /// Joins the cluster the token names, through the member at `addr` (or the token's).
    async fn join(&self, token: &str, addr: Option<&str>) -> Result<serde_json::Value, AdminError>;
}

/// An admin request refused: HTTP status, stable code, message.
#[derive(Debug)]
pub struct AdminError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl AdminError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
}

pub struct AdminRoute {
    store: Arc<Store>,
    cluster: Option<Arc<dyn ClusterAdmin>>,
    started: Instant,
}

/// Largest admin request body.
const MAX_ADMIN_BODY: usize = 64 << 10;

impl AdminRoute {
    pub fn new(store: Arc<Store>) -> Self {
        Self { store, cluster: None, started: Instant::now() }
    }

    pub fn with_cluster(mut self, cluster: Arc<dyn ClusterAdmin>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    async fn cluster_call(&self, method: &http::Method, op: &str, mut body: Body) -> S3Response<Body> {
        let Some(cluster) = &self.cluster else {
            return json_error(http::StatusCode::NOT_IMPLEMENTED, "NotImplemented", "no cluster support");
        };
        let res = match (method, op) {
            (&http::Method::GET, "") => Ok(cluster.status().await),
            (&http::Method::POST, "/init") => cluster.init().await,
            (&http::Method::POST, "/join") => {
                let bytes = match body.store_all_limited(MAX_ADMIN_BODY).await {
                    Ok(b) => b,
                    Err(e) => return json_error(http::StatusCode::BAD_REQUEST, "InvalidRequest", &e.to_string()),
                };
                #[derive(serde::Deserialize)]
                struct Join {
                    token: String,
                    addr: Option<String>,
                }
                match serde_json::from_slice::<Join>(&bytes) {
                    Ok(j) => cluster.join(&j.token, j.addr.as_deref()).await,
                    Err(e) => {
                        Err(AdminError::new(400, "InvalidRequest", format!("expected {{\"token\", \"addr\"}}: {e}")))
                    }
                }
            }
            (_, "" | "/init" | "/join") => {
                Err(AdminError::new(405, "MethodNotAllowed", "cluster answers GET; init and join answer POST"))
            }
            _ => Err(AdminError::new(404, "NoSuchEndpoint", "No such admin endpoint")),
        };
        match res {
            Ok(v) => json_response(http::StatusCode::OK, &v),
            Err(e) => json_error(
                http::StatusCode::from_u16(e.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
                e.code,
                &e.message,
            ),
        }
    }

    fn info(&self) -> serde_json::Value {
        let m = self.store.meta.metrics();
        let cfg = &self.store.config;
        let disks: Vec<_> = self
            .store
            .disks
            .usage()
            .into_iter()
            .map(|d| {
                json!({
                    "index": d.index,
                    "path": d.root.display().to_string(),
                    "online": d.online,
                    "total_bytes": d.total_bytes,
                    "free_bytes": d.free_bytes,
                })
            })
            .collect();
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "node_id": m.id,
            "uptime_seconds": self.started.elapsed().as_secs(),
            "region": cfg.region,
            "erasure": {
                "data_shards": cfg.data_shards,
                "parity_shards": cfg.parity_shards,
                "block_size": cfg.block_size,
                "inline_max": cfg.inline_max,
            },
            "raft": {
                "state": format!("{:?}", m.state),
                "leader": m.current_leader,
                "term": m.current_term,
                "last_log_index": m.last_log_index,
                "applied_index": m.last_applied.map(|l| l.index),
                "voters": m.membership_config.membership().voter_ids().collect::<Vec<_>>(),
            },
            "disks": disks,
        })
    }
}

fn json_response(status: http::StatusCode, value: &serde_json::Value) -> S3Response<Body> {
    let mut resp = S3Response::with_status(Body::from(value.to_string()), status);
    resp.headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    resp
}

fn json_error(status: http::StatusCode, code: &str, message: &str) -> S3Response<Body> {
    json_response(status, &json!({ "error": { "code": code, "message": message } }))
}

/// Only root keys administer; the check reads the key in the state machine so a
/// key deleted on any node loses its rights at once.
pub async fn require_root(meta: &MetaStore, req: &S3Request<Body>) -> S3Result<()> {
    let Some(creds) = &req.credentials else {
        return Err(s3_error!(AccessDenied, "Signature is required"));
    };
    match meta.get_access_key(&creds.access_key).map_err(crate::errors::meta)? {
        Some(k) if k.is_root => Ok(()),
        _ => Err(s3_error!(AccessDenied, "The admin API needs an admin key")),
    }
}

#[async_trait::async_trait]
impl S3Route for AdminRoute {
    fn is_match(&self, _: &http::Method, uri: &http::Uri, _: &http::HeaderMap, _: &mut http::Extensions) -> bool {
        uri.path().starts_with(ADMIN_PREFIX)
    }

    async fn check_access(&self, req: &mut S3Request<Body>) -> S3Result<()> {
        require_root(&self.store.meta, req).await
    }

    async fn call(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let path = req.uri.path().trim_start_matches(ADMIN_PREFIX).to_string();
        if let Some(op) = path.strip_prefix("cluster") {
            return Ok(self.cluster_call(&req.method, op, req.input).await);
        }
        Ok(match (&req.method, path.as_str()) {
            (&http::Method::GET, "info") => json_response(http::StatusCode::OK, &self.info()),
            (_, "info") => json_error(http::StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "info answers GET"),
            _ => json_error(http::StatusCode::NOT_FOUND, "NoSuchEndpoint", "No such admin endpoint"),
        })
    }
}
