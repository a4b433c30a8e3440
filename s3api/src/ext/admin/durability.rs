//! `/cairn/admin/v1/{heal, heal/object, scrub, rebalance, gc}`: healing, scrubbing,
//! rebalancing and orphan collection, answered by the node's durability services.
//! Their answers are still documents built from the node's own pass records
//! (`node/src/durability/`), described in `docs/admin-api.md`.

use super::{Admin, AdminError};
use crate::ext::{answer, json_error, no_such_endpoint};
use s3s::{Body, S3Response};

/// Healing, scrubbing and orphan collection, implemented by the node's durability
/// services.
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

impl Admin {
    /// `path`: `heal`, `heal/object`, `scrub`, `rebalance` or `gc`, in segments.
    pub(super) async fn durability_call(
        &self,
        method: &http::Method,
        path: &[&str],
        query: Option<&str>,
    ) -> S3Response<Body> {
        let Some(d) = &self.durability else {
            return json_error(http::StatusCode::NOT_IMPLEMENTED, "NotImplemented", "no durability services");
        };
        let params: std::collections::HashMap<String, String> =
            form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
        let param = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
        use http::Method;
        let res = match (method, path) {
            (&Method::GET, ["heal"]) => Ok(d.heal_status()),
            (&Method::POST, ["heal"]) => d.heal_start(param("bucket"), param("prefix").unwrap_or_default()).await,
            (&Method::GET | &Method::POST, ["heal", "object"]) => match (param("bucket"), params.get("key")) {
                (Some(b), Some(k)) => d.heal_object(&b, k.as_str(), method == Method::POST).await,
                _ => Err(AdminError::new(400, "InvalidRequest", "heal/object needs bucket and key parameters")),
            },
            (&Method::GET, ["scrub"]) => Ok(d.scrub_status()),
            (&Method::GET, ["rebalance"]) => Ok(d.rebalance_status()),
            (_, ["rebalance"]) => Err(AdminError::new(405, "MethodNotAllowed", "rebalance answers GET")),
            (&Method::POST, ["scrub"]) => d.scrub_start().await,
            (&Method::POST, ["gc"]) => match param("grace_secs").map(|g| g.parse::<u64>()) {
                Some(Err(_)) => Err(AdminError::new(400, "InvalidRequest", "grace_secs must be a number of seconds")),
                Some(Ok(g)) => d.collect(Some(g)).await,
                None => d.collect(None).await,
            },
            (_, ["heal"] | ["scrub"]) => {
                Err(AdminError::new(405, "MethodNotAllowed", "answers GET (status) and POST (start)"))
            }
            (_, ["gc"]) => Err(AdminError::new(405, "MethodNotAllowed", "gc answers POST")),
            _ => return no_such_endpoint(),
        };
        answer(res)
    }
}
