//! `/cairn/admin/v1/`: node information and usage (here), access keys (`keys.rs`),
//! the KMS key store (`kms.rs`), administrative audit events (`audit.rs`), the
//! lifecycle worker's progress and the event notification backlogs (here, from the
//! metadata), the cluster
//! (`cluster.rs`) and durability services (`durability.rs`). Only admin
//! keys get in (the router checks). May touch: the object layer (metadata reads, key
//! records), the authorizer's keyring, the node's services through the traits.

mod audit;
mod cluster;
mod durability;
pub mod keys;
mod kms;

pub use cluster::ClusterAdmin;
pub use durability::DurabilityAdmin;

use super::{answer, json_error, no_such_endpoint};
use crate::access::Authorizer;
use cairn_api::admin::{BucketUsage, DiskInfo, ErasureInfo, NodeInfo, RaftInfo, Usage};
use cairn_object::Store;
use s3s::{Body, S3Response};
use std::sync::Arc;
use std::time::Instant;

/// An admin request refused: HTTP status, stable code, message.
#[derive(Debug)]
pub struct AdminError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// The request field at fault, if one is.
    pub field: Option<String>,
}

impl AdminError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None }
    }

    /// Names the request field at fault.
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

pub(crate) struct Admin {
    pub store: Arc<Store>,
    pub access: Arc<Authorizer>,
    pub cluster: Option<Arc<dyn ClusterAdmin>>,
    pub durability: Option<Arc<dyn DurabilityAdmin>>,
    pub started: Instant,
}

impl Admin {
    /// `path`: the segments after `/cairn/admin/v1/`.
    pub async fn call(
        &self,
        method: &http::Method,
        path: &[&str],
        query: Option<&str>,
        body: Body,
    ) -> S3Response<Body> {
        use http::Method;
        match path {
            ["cluster", op @ ..] => self.cluster_call(method, op, body).await,
            ["keys", id @ ..] => self.keys_call(method, id, body).await,
            ["kms", "keys", rest @ ..] => self.kms_call(method, rest, body).await,
            ["heal"] | ["heal", "object"] | ["scrub"] | ["gc"] | ["rebalance"] => {
                self.durability_call(method, path, query).await
            }
            ["audit"] if method == Method::GET => answer(self.audit_events(query).await),
            ["lifecycle"] if method == Method::GET => answer(Ok(self.lifecycle_status())),
            ["events"] if method == Method::GET => answer(self.event_targets()),
            ["lifecycle"] => {
                json_error(http::StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "lifecycle answers GET")
            }
            ["info"] if method == Method::GET => answer(Ok(self.info())),
            ["info"] => json_error(http::StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "info answers GET"),
            ["usage"] if method == Method::GET => answer(self.usage(query).await),
            _ => no_such_endpoint(),
        }
    }

    /// Notification targets and their backlogs.
    fn event_targets(&self) -> Result<cairn_api::events::EventTargets, AdminError> {
        let queues = self.store.meta.event_queues().map_err(|e| AdminError::new(503, "Unavailable", e.to_string()))?;
        let targets = queues
            .into_iter()
            .map(|(name, q)| cairn_api::events::EventTarget {
                name,
                queued: q.queued(),
                delivered: q.delivered,
                dropped: q.dropped,
            })
            .collect();
        Ok(cairn_api::events::EventTargets { targets })
    }

    /// The lifecycle worker's position and totals, as committed by the leader.
    fn lifecycle_status(&self) -> cairn_api::lifecycle::LifecycleStatus {
        let raw = self.store.meta.service_state(cairn_object::lifecycle::WORKER_STATE).ok().flatten();
        raw.and_then(|v| serde_json::from_slice(&v).ok()).unwrap_or_default()
    }

    /// Objects and bytes per bucket (one bucket with `?bucket=`), exact as of a read barrier.
    async fn usage(&self, query: Option<&str>) -> Result<Usage, AdminError> {
        let unavailable = |e: cairn_raft::MetaError| AdminError::new(503, "ServiceUnavailable", e.to_string());
        self.store.meta.read_barrier().await.map_err(unavailable)?;
        let only = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(k, _)| k == "bucket")
            .map(|(_, v)| v.into_owned());
        let meta = &self.store.meta;
        let entry = |bucket: String, u: cairn_raft::usage::BucketUsage| -> Result<BucketUsage, AdminError> {
            let classes = meta
                .class_usage(&cairn_raft::schema::Pool::Bucket(bucket.clone()))
                .map_err(unavailable)?
                .into_iter()
                .map(|(class, c)| cairn_api::admin::ClassUsage { class, objects: c.objects, bytes: c.bytes })
                .collect();
            Ok(BucketUsage { bucket, objects: u.objects, bytes: u.bytes, delete_markers: u.delete_markers, classes })
        };
        let buckets = match only {
            Some(b) => {
                if meta.get_bucket(&b).map_err(unavailable)?.is_none() {
                    return Err(AdminError::new(404, "NoSuchBucket", format!("bucket {b} does not exist")));
                }
                let u = meta.bucket_usage(&b).map_err(unavailable)?;
                vec![entry(b, u)?]
            }
            None => meta
                .all_usage()
                .map_err(unavailable)?
                .into_iter()
                .map(|(bucket, u)| entry(bucket, u))
                .collect::<Result<_, _>>()?,
        };
        Ok(Usage { buckets })
    }

    fn info(&self) -> NodeInfo {
        let m = self.store.meta.metrics();
        let cfg = &self.store.config;
        let disks = self
            .store
            .disks
            .usage()
            .into_iter()
            .map(|d| DiskInfo {
                index: d.index as u64,
                path: d.root.display().to_string(),
                online: d.online,
                total_bytes: d.total_bytes,
                free_bytes: d.free_bytes,
                segment_bytes: d.segments.as_ref().map(|s| s.bytes),
                segment_live_bytes: d.segments.as_ref().map(|s| s.live_bytes),
            })
            .collect();
        NodeInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            node_id: m.id,
            uptime_seconds: self.started.elapsed().as_secs(),
            region: cfg.region.clone(),
            erasure: ErasureInfo {
                data_shards: cfg.data_shards,
                parity_shards: cfg.parity_shards,
                block_size: cfg.block_size,
                inline_max: cfg.inline_max as u64,
            },
            raft: RaftInfo {
                state: format!("{:?}", m.state),
                leader: m.current_leader,
                term: m.current_term,
                last_log_index: m.last_log_index,
                applied_index: m.last_applied.map(|l| l.index),
                voters: m.membership_config.membership().voter_ids().collect(),
            },
            disks,
        }
    }
}
