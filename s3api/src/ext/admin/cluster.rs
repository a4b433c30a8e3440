//! `/cairn/admin/v1/cluster`: status (GET), `init` and `join` (POST), answered by the
//! node, which owns the transport and the cluster state; this file only speaks HTTP
//! for it.

use super::{Admin, AdminError};
use crate::ext::{MAX_BODY, answer, json_error, no_such_endpoint};
use cairn_api::admin::{ClusterInit, ClusterJoined, ClusterStatus, JoinRequest};
use s3s::{Body, S3Response};

/// Cluster administration, implemented by the node.
#[async_trait::async_trait]
pub trait ClusterAdmin: Send + Sync + 'static {
    /// Nodes, roles, Raft term and indexes, disks and health.
    async fn status(&self) -> ClusterStatus;
    /// Makes this node a cluster others can join.
    async fn init(&self) -> Result<ClusterInit, AdminError>;
    /// Joins the cluster the token names, through the member at `addr` (or the token's).
    async fn join(&self, token: &str, addr: Option<&str>) -> Result<ClusterJoined, AdminError>;
}

impl Admin {
    /// `op`: the segments after `cluster`.
    pub(super) async fn cluster_call(&self, method: &http::Method, op: &[&str], mut body: Body) -> S3Response<Body> {
        let Some(cluster) = &self.cluster else {
            return json_error(http::StatusCode::NOT_IMPLEMENTED, "NotImplemented", "no cluster support");
        };
        use http::Method;
        match (method, op) {
            (&Method::GET, []) => answer(Ok::<_, AdminError>(cluster.status().await)),
            (&Method::POST, ["init"]) => answer(cluster.init().await),
            (&Method::POST, ["join"]) => {
                let bytes = match body.store_all_limited(MAX_BODY).await {
                    Ok(b) => b,
                    Err(e) => return json_error(http::StatusCode::BAD_REQUEST, "InvalidRequest", &e.to_string()),
                };
                answer(match serde_json::from_slice::<JoinRequest>(&bytes) {
                    Ok(j) => cluster.join(&j.token, j.addr.as_deref()).await,
                    Err(e) => {
                        Err(AdminError::new(400, "InvalidRequest", format!("expected {{\"token\", \"addr\"}}: {e}")))
                    }
                })
            }
            (_, [] | ["init"] | ["join"]) => json_error(
                http::StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "cluster answers GET; init and join answer POST",
            ),
            _ => no_such_endpoint(),
        }
    }
}
