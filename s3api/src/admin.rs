//! The admin API under `/cairn/admin/v1/`. It is an s3s route, so requests are
//! SigV4-verified like any S3 request; the authorizer lets admin keys only in.
//! Answers and errors are JSON.

use crate::access::Authorizer;
use crate::key_admin;
use cairn_object::Store;
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result};
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

/// Healing, scrubbing and orphan collection, implemented by the node's durability
/// services; answers are JSON documents described in `docs/admin-api.md`.
#[async_trait::async_trait]
pub trait DurabilityAdmin: Send + Sync + 'static {
    /// The running or last heal pass of this node.
    fn heal_status(&self) -> serde_json::Value;
    /// Starts a heal pass over the cluster, a bucket, or a bucket's keys with a prefix.
    async fn heal_start(&self, bucket: Option<String>, prefix: String) -> Result<serde_json::Value, AdminError>;
    /// Verifies (and with `heal`, heals) one object now and reports its stripes.
    async fn heal_object(&self, bucket: &str, key: &str, heal: bool) -> Result<serde_json::Value, AdminError>;
    /// The scrubber's progress and its last complete pass.
    fn scrub_status(&self) -> serde_json::Value;
    /// Starts a scrub pass now (on the leader), resuming a pass in progress.
    async fn scrub_start(&self) -> Result<serde_json::Value, AdminError>;
    /// The rebalancer's progress and last pass.
    fn rebalance_status(&self) -> serde_json::Value;
    /// Removes this node's shard files that no metadata refers to and that are older
    /// than `grace_secs`.
    async fn collect(&self, grace_secs: Option<u64>) -> Result<serde_json::Value, AdminError>;
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
    access: Arc<Authorizer>,
    cluster: Option<Arc<dyn ClusterAdmin>>,
    durability: Option<Arc<dyn DurabilityAdmin>>,
    started: Instant,
}

/// Largest admin request body.
const MAX_ADMIN_BODY: usize = 64 << 10;

impl AdminRoute {
    pub fn new(store: Arc<Store>, access: Arc<Authorizer>) -> Self {
        Self { store, access, cluster: None, durability: None, started: Instant::now() }
    }

    pub fn with_cluster(mut self, cluster: Arc<dyn ClusterAdmin>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    pub fn with_durability(mut self, durability: Arc<dyn DurabilityAdmin>) -> Self {
        self.durability = Some(durability);
        self
    }

    async fn durability_call(&self, method: &http::Method, path: &str, query: Option<&str>) -> S3Response<Body> {
        let Some(d) = &self.durability else {
            return json_error(http::StatusCode::NOT_IMPLEMENTED, "NotImplemented", "no durability services");
        };
        let params: std::collections::HashMap<String, String> =
            form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
        let param = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
        use http::Method;
        let res = match (method, path) {
            (&Method::GET, "heal") => Ok(d.heal_status()),
            (&Method::POST, "heal") => d.heal_start(param("bucket"), param("prefix").unwrap_or_default()).await,
            (&Method::GET | &Method::POST, "heal/object") => match (param("bucket"), params.get("key")) {
                (Some(b), Some(k)) => d.heal_object(&b, k.as_str(), method == Method::POST).await,
                _ => Err(AdminError::new(400, "InvalidRequest", "heal/object needs bucket and key parameters")),
            },
            (&Method::GET, "scrub") => Ok(d.scrub_status()),
            (&Method::GET, "rebalance") => Ok(d.rebalance_status()),
            (_, "rebalance") => Err(AdminError::new(405, "MethodNotAllowed", "rebalance answers GET")),
            (&Method::POST, "scrub") => d.scrub_start().await,
            (&Method::POST, "gc") => match param("grace_secs").map(|g| g.parse::<u64>()) {
                Some(Err(_)) => Err(AdminError::new(400, "InvalidRequest", "grace_secs must be a number of seconds")),
                Some(Ok(g)) => d.collect(Some(g)).await,
                None => d.collect(None).await,
            },
            (_, "heal" | "scrub") => {
                Err(AdminError::new(405, "MethodNotAllowed", "answers GET (status) and POST (start)"))
            }
            (_, "gc") => Err(AdminError::new(405, "MethodNotAllowed", "gc answers POST")),
            _ => Err(AdminError::new(404, "NoSuchEndpoint", "No such admin endpoint")),
        };
        admin_answer(res)
    }

    async fn keys_call(&self, method: &http::Method, path: &str, mut body: Body) -> S3Response<Body> {
        let meta = &self.store.meta;
        let id = path
            .strip_prefix("keys/")
            .map(|id| percent_encoding::percent_decode_str(id).decode_utf8_lossy().into_owned());
        let res = match (method, id.as_deref()) {
            (&http::Method::POST, None) => match body.store_all_limited(MAX_ADMIN_BODY).await {
                Ok(bytes) => key_admin::create(meta, self.access.keyring(), &bytes).await,
                Err(e) => Err(AdminError::new(400, "InvalidRequest", e.to_string())),
            },
            (&http::Method::GET, None) => key_admin::list(meta).await,
            (&http::Method::GET, Some(id)) => key_admin::info(meta, id).await,
            (&http::Method::DELETE, Some(id)) => key_admin::delete(meta, id).await,
            (_, None) => Err(AdminError::new(405, "MethodNotAllowed", "keys answers GET (list) and POST (create)")),
            (_, Some(_)) => Err(AdminError::new(405, "MethodNotAllowed", "keys/<id> answers GET (info) and DELETE")),
        };
        admin_answer(res)
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
        admin_answer(res)
    }

    /// Objects and bytes per bucket (one bucket with `?bucket=`), exact as of a read barrier.
    async fn usage(&self, query: Option<&str>) -> Result<serde_json::Value, AdminError> {
        let unavailable = |e: cairn_raft::MetaError| AdminError::new(503, "ServiceUnavailable", e.to_string());
        self.store.meta.read_barrier().await.map_err(unavailable)?;
        let only = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(k, _)| k == "bucket")
            .map(|(_, v)| v.into_owned());
        let buckets: Vec<serde_json::Value> = match &only {
            Some(b) => {
                if self.store.meta.get_bucket(b).map_err(unavailable)?.is_none() {
                    return Err(AdminError::new(404, "NoSuchBucket", format!("bucket {b} does not exist")));
                }
                let u = self.store.meta.bucket_usage(b).map_err(unavailable)?;
                vec![json!({"bucket": b, "objects": u.objects, "bytes": u.bytes})]
            }
            None => self
                .store
                .meta
                .all_usage()
                .map_err(unavailable)?
                .into_iter()
                .map(|(b, u)| json!({"bucket": b, "objects": u.objects, "bytes": u.bytes}))
                .collect(),
        };
        Ok(json!({ "buckets": buckets }))
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

fn admin_answer(res: Result<serde_json::Value, AdminError>) -> S3Response<Body> {
    match res {
        Ok(v) => json_response(http::StatusCode::OK, &v),
        Err(e) => json_error(
            http::StatusCode::from_u16(e.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            e.code,
            &e.message,
        ),
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

#[async_trait::async_trait]
impl S3Route for AdminRoute {
    fn is_match(&self, _: &http::Method, uri: &http::Uri, _: &http::HeaderMap, _: &mut http::Extensions) -> bool {
        uri.path().starts_with(ADMIN_PREFIX)
    }

    async fn check_access(&self, req: &mut S3Request<Body>) -> S3Result<()> {
        self.access.authorize_admin(req.credentials.as_ref()).await.map(|_| ())
    }

    async fn call(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let path = req.uri.path().trim_start_matches(ADMIN_PREFIX).to_string();
        if let Some(op) = path.strip_prefix("cluster") {
            return Ok(self.cluster_call(&req.method, op, req.input).await);
        }
        if path == "keys" || path.starts_with("keys/") {
            return Ok(self.keys_call(&req.method, &path, req.input).await);
        }
        if path.starts_with("heal") || matches!(path.as_str(), "scrub" | "gc" | "rebalance") {
            return Ok(self.durability_call(&req.method, &path, req.uri.query()).await);
        }
        Ok(match (&req.method, path.as_str()) {
            (&http::Method::GET, "info") => json_response(http::StatusCode::OK, &self.info()),
            (&http::Method::GET, "usage") => admin_answer(self.usage(req.uri.query()).await),
            (_, "info") => json_error(http::StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "info answers GET"),
            _ => json_error(http::StatusCode::NOT_FOUND, "NoSuchEndpoint", "No such admin endpoint"),
        })
    }
}
