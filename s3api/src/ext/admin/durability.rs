//! `/cairn/admin/v1/{heal, heal/object, scrub, rebalance, gc}`: healing, scrubbing,
//! rebalancing and orphan collection, answered by the node's durability services
//! (`node/src/workers/durability/`) in the types of `cairn_api::durability`.

use super::{Admin, AdminError};
use crate::ext::{answer, json_error, no_such_endpoint};
use cairn_api::durability::{GcReport, HealStatus, ObjectHealReport, RebalanceStatus, ScrubStatus};
use s3s::{Body, S3Response};

/// Healing, scrubbing and orphan collection, implemented by the node's durability
/// services.
#[async_trait::async_trait]
pub trait DurabilityAdmin: Send + Sync + 'static {
    /// The running or last heal pass of this node.
    fn heal_status(&self) -> HealStatus;
    /// Starts a heal pass over the cluster, a bucket, or a bucket's keys with a prefix.
    async fn heal_start(&self, bucket: Option<String>, prefix: String) -> Result<HealStatus, AdminError>;
    /// Verifies (and with `heal`, heals) one object now and reports its stripes.
    async fn heal_object(&self, bucket: &str, key: &str, heal: bool) -> Result<ObjectHealReport, AdminError>;
    /// The scrubber's progress and its last complete pass.
    fn scrub_status(&self) -> ScrubStatus;
    /// Starts a scrub pass now (on the leader), resuming a pass in progress.
    async fn scrub_start(&self) -> Result<ScrubStatus, AdminError>;
    /// The rebalancer's progress and last pass.
    fn rebalance_status(&self) -> RebalanceStatus;
    /// Removes this node's shard files that no metadata refers to and that are older
    /// than `grace_secs`.
    async fn collect(&self, grace_secs: Option<u64>) -> Result<GcReport, AdminError>;
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
        let refuse = |status, code, message| answer::<()>(Err(AdminError::new(status, code, message)));
        match (method, path) {
            (&Method::GET, ["heal"]) => answer(Ok(d.heal_status())),
            (&Method::POST, ["heal"]) => {
                answer(d.heal_start(param("bucket"), param("prefix").unwrap_or_default()).await)
            }
            (&Method::GET | &Method::POST, ["heal", "object"]) => match (param("bucket"), params.get("key")) {
                (Some(b), Some(k)) => answer(d.heal_object(&b, k.as_str(), method == Method::POST).await),
                _ => refuse(400, "InvalidRequest", "heal/object needs bucket and key parameters"),
            },
            (&Method::GET, ["scrub"]) => answer(Ok(d.scrub_status())),
            (&Method::GET, ["rebalance"]) => answer(Ok(d.rebalance_status())),
            (_, ["rebalance"]) => refuse(405, "MethodNotAllowed", "rebalance answers GET"),
            (&Method::POST, ["scrub"]) => answer(d.scrub_start().await),
            (&Method::POST, ["gc"]) => match param("grace_secs").map(|g| g.parse::<u64>()) {
                Some(Err(_)) => refuse(400, "InvalidRequest", "grace_secs must be a number of seconds"),
                Some(Ok(g)) => answer(d.collect(Some(g)).await),
                None => answer(d.collect(None).await),
            },
            (_, ["heal"] | ["scrub"]) => refuse(405, "MethodNotAllowed", "answers GET (status) and POST (start)"),
            (_, ["gc"]) => refuse(405, "MethodNotAllowed", "gc answers POST"),
            _ => no_such_endpoint(),
        }
    }
}
