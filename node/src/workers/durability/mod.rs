//! Durability services of a node: heal on read, heal passes, the scrubber, the
//! orphan collector, and refilling disks found empty or wiped.
//!
//! - Heal passes run on the node that is asked (admin API, `cairn heal`), one at a time.
//! - The scrubber runs on the Raft leader only; its progress lives in Raft.
//! - Each node collects orphans and watches for wiped disks on its own local disks,
//!   which stay in refill until a pass over them leaves nothing degraded (refill.rs), and
//!   compacts their segment files (compactor.rs).
//! - Two nodes healing the same shard cannot interleave: a shard's temp file is
//!   created exclusively, so the second writer fails and retries later.
//!
//! May touch shards on every disk (through the disk set) and the local disks (orphans,
//! refill markers), and the metadata store: reads, the scrubber's and the rebalancer's
//! progress (service state), and blob moves through the object layer
//! (`cairn_object::moves`). Nothing of S3 or HTTP.

mod collector;
mod compactor;
mod heal_queue;
mod pass;
mod rebalance;
mod refill;
mod scrubber;
mod throttle;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_api::durability::{
    BlobHealReport, GcReport, HealStatus, ObjectHealReport, ObjectHealth, RebalanceStatus, ScrubStatus, ShardFailure,
};
use cairn_erasure::{DiskSet, LocalDisk};
use cairn_raft::MetaStore;
use cairn_s3api::{AdminError, DurabilityAdmin};
use tokio::sync::watch;

use heal_queue::HealQueue;
use pass::{Checkpoint, PassState, PassStatus, Scope, StripeCounts};
use refill::Refill;
use scrubber::Scrubber;

/// How often local disks are checked for a wipe.
const DISK_CHECK_EVERY: Duration = Duration::from_secs(3);

pub struct DurabilityConfig {
    pub scrub_rate_mib: u64,
    pub rebalance_rate_mib: u64,
    pub scrub_interval: Duration,
    pub orphan_grace: Duration,
    pub compact_interval: Duration,
}

pub struct Durability {
    meta: MetaStore,
    disks: Arc<DiskSet>,
    local: Vec<Arc<LocalDisk>>,
    cfg: DurabilityConfig,
    heal: Arc<Mutex<PassStatus>>,
    /// Held by the heal pass that is running.
    heal_slot: Arc<tokio::sync::Mutex<()>>,
    queue: HealQueue,
    scrubber: Arc<Scrubber>,
    rebalancer: Arc<rebalance::Rebalancer>,
    /// Local disks being refilled (and the last refill of each, once done).
    refills: Mutex<Vec<Refill>>,
}

impl Durability {
    /// Starts the heal queue (and hooks it to the disk set), the scrubber, the
    /// collector and the disk watch.
    pub fn start(
        meta: MetaStore,
        disks: Arc<DiskSet>,
        local: Vec<Arc<LocalDisk>>,
        cfg: DurabilityConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Durability> {
        let queue = HealQueue::start(meta.clone(), disks.clone(), shutdown.clone());
        let q = queue.clone();
        disks.set_damage_hook(Arc::new(move |id| q.report(id)));
        let scrubber = Scrubber::new(meta.clone(), disks.clone(), cfg.scrub_rate_mib << 20, cfg.scrub_interval);
        tokio::spawn(scrubber.clone().run(shutdown.clone()));
        let rebalancer = rebalance::Rebalancer::new(meta.clone(), disks.clone(), cfg.rebalance_rate_mib << 20);
        tokio::spawn(rebalancer.clone().run(shutdown.clone()));
        let this = Arc::new(Durability {
            meta,
            disks,
            local,
            cfg,
            heal: Arc::new(Mutex::new(PassStatus::default())),
            heal_slot: Arc::new(tokio::sync::Mutex::new(())),
            queue,
            scrubber,
            rebalancer,
            refills: Mutex::new(Vec::new()),
        });
        tokio::spawn(this.clone().watch_disks(shutdown.clone()));
        let compact_pace = throttle::rate_limit(this.cfg.scrub_rate_mib << 20);
        tokio::spawn(compactor::run(this.local.clone(), this.cfg.compact_interval, compact_pace, shutdown.clone()));
        tokio::spawn(this.clone().collect_periodically(shutdown));
        this
    }

    /// Runs a heal pass over `scope` in the background (the caller holds the heal slot).
    fn spawn_pass(self: &Arc<Self>, scope: Scope, slot: tokio::sync::OwnedMutexGuard<()>) {
        *self.heal.lock().unwrap_or_else(|e| e.into_inner()) = pass::starting(scope.clone());
        let this = self.clone();
        tokio::spawn(async move { this.run_pass(scope, slot, "heal", &mut |_| true).await });
    }

    /// Runs a heal pass over `scope` now, holding the heal slot, and answers how it ended.
    /// The status endpoint shows it as the heal pass.
    async fn run_pass(
        &self,
        scope: Scope,
        _slot: tokio::sync::OwnedMutexGuard<()>,
        kind: &str,
        checkpoint: Checkpoint<'_>,
    ) -> PassStatus {
        *self.heal.lock().unwrap_or_else(|e| e.into_inner()) = pass::starting(scope.clone());
        tracing::info!(?scope, pass = kind, "heal pass starting");
        pass::run(&self.meta, &self.disks, &self.heal, None, checkpoint).await;
        let done = self.heal.lock().unwrap_or_else(|e| e.into_inner()).clone();
        pass::log_done(&done, kind);
        done
    }

    /// Global disk index of local disk `j`, once the layout has this node.
    fn global_index(&self, j: usize) -> Option<u16> {
        let layout = self.meta.layout().ok()?;
        let me = layout.nodes.iter().find(|n| n.id == self.meta.node_id())?;
        (j < usize::from(me.disks)).then(|| me.first_disk + j as u16)
    }

    /// Disks that came up without their format marker (new, or replaced while the node
    /// was down) or lost it while running (wiped) are formatted and refilled by heal
    /// passes over the blobs placed on them; so are disks whose refill an earlier run
    /// of the node did not finish.
    async fn watch_disks(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        // A node's first start finds every disk fresh, with nothing to put on them.
        let holds_objects = self.meta.scan_objects(None, "", None, 1).is_ok_and(|p| !p.is_empty());
        let mut refill: Vec<usize> = (0..self.local.len())
            .filter(|&j| refill::marked(self.local[j].root()) || (holds_objects && self.local[j].was_fresh()))
            .collect();
        loop {
            for j in 0..self.local.len() {
                let disk = self.local[j].clone();
                match tokio::task::spawn_blocking(move || disk.reformat_if_wiped()).await {
                    Ok(Ok(true)) => {
                        tracing::warn!(disk = %self.local[j].root().display(), "disk was wiped: formatted it again; its shards will be rebuilt");
                        if !refill.contains(&j) {
                            refill.push(j);
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(disk = %self.local[j].root().display(), error = %e, "cannot format disk")
                    }
                    _ => {}
                }
            }
            for j in refill.drain(..) {
                self.refill(j, shutdown.clone());
            }
            tokio::select! {
                _ = tokio::time::sleep(DISK_CHECK_EVERY) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn collect_periodically(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let every = (self.cfg.orphan_grace / 2).clamp(Duration::from_secs(60), Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
            if let Err(e) = collector::collect(&self.meta, &self.local_disks(), self.cfg.orphan_grace).await {
                tracing::debug!(error = %e, "orphan collection skipped");
            }
        }
    }

    /// Local disks with their global index, where the layout has them.
    fn local_disks(&self) -> Vec<(Arc<LocalDisk>, Option<u16>)> {
        self.local.iter().enumerate().map(|(j, d)| (d.clone(), self.global_index(j))).collect()
    }

    fn heal_status(&self) -> HealStatus {
        let pass = self.heal.lock().unwrap_or_else(|e| e.into_inner()).clone();
        HealStatus { pass, on_read: self.queue.stats(), refill: self.refill_status() }
    }
}

fn meta_err(e: cairn_raft::MetaError) -> AdminError {
    AdminError::new(503, "ServiceUnavailable", e.to_string())
}

/// Progress figures for `/metrics`.
pub struct Gauges {
    pub heal_running: bool,
    pub heal: PassStatus,
    pub scrub_running: bool,
    /// The scrub pass in progress on this node, else the last finished one.
    pub scrub: Option<PassStatus>,
    pub on_read: heal_queue::QueueStats,
}

impl Durability {
    pub fn gauges(&self) -> Gauges {
        let heal = self.heal.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let s = self.scrubber.status();
        let scrub_running = s.current.as_ref().is_some_and(|c| c.state == PassState::Running);
        Gauges {
            heal_running: heal.state == PassState::Running,
            heal,
            scrub_running,
            scrub: s.current.or(s.last),
            on_read: self.queue.stats(),
        }
    }
}

/// The admin API's view of the durability services.
pub struct DurabilityApi(pub Arc<Durability>);

#[async_trait::async_trait]
impl DurabilityAdmin for DurabilityApi {
    fn heal_status(&self) -> HealStatus {
        self.0.heal_status()
    }

    async fn heal_start(&self, bucket: Option<String>, prefix: String) -> Result<HealStatus, AdminError> {
        if let Some(b) = &bucket {
            self.0.meta.read_barrier().await.map_err(meta_err)?;
            if self.0.meta.get_bucket(b).map_err(meta_err)?.is_none() {
                return Err(AdminError::new(404, "NoSuchBucket", format!("bucket {b} does not exist")));
            }
        } else if !prefix.is_empty() {
            return Err(AdminError::new(400, "InvalidRequest", "a prefix needs a bucket"));
        }
        let Ok(slot) = self.0.heal_slot.clone().try_lock_owned() else {
            return Err(AdminError::new(409, "HealInProgress", "a heal pass is already running on this node"));
        };
        Durability::spawn_pass(&self.0, Scope { bucket, prefix, disk: None }, slot);
        Ok(self.0.heal_status())
    }

    async fn heal_object(&self, bucket: &str, key: &str, heal: bool) -> Result<ObjectHealReport, AdminError> {
        self.0.meta.read_barrier().await.map_err(meta_err)?;
        let Some(v) = self.0.meta.get_object(bucket, key).map_err(meta_err)? else {
            return Err(AdminError::new(404, "NoSuchKey", format!("{bucket}/{key} does not exist")));
        };
        let mut total = StripeCounts::default();
        let mut found = StripeCounts::default();
        let mut blobs = Vec::new();
        for (spec, size) in pass::blobs_of(&v) {
            let id = spec.id;
            let r = pass::check_blob(&self.0.meta, &self.0.disks, spec, size, None, heal)
                .await
                .map_err(|e| AdminError::new(500, "InternalError", e))?
                .ok_or_else(|| AdminError::new(409, "ObjectChanged", "the object changed while it was checked"))?;
            total.whole += r.after.whole;
            total.degraded += r.after.degraded;
            total.lost += r.after.lost;
            found.whole += r.found.whole;
            found.degraded += r.found.degraded;
            found.lost += r.found.lost;
            blobs.push(BlobHealReport {
                id: format!("{id:032x}"),
                size,
                stripes: StripeCounts { whole: r.after.whole, degraded: r.after.degraded, lost: r.after.lost },
                bad_shards: r.after.bad_shards,
                rewritten: r.rewritten,
                failed: r.failed.into_iter().map(|(shard, error)| ShardFailure { shard, error }).collect(),
            });
        }
        let state = if total.lost > 0 {
            ObjectHealth::Lost
        } else if total.degraded > 0 {
            ObjectHealth::Degraded
        } else {
            ObjectHealth::Whole
        };
        Ok(ObjectHealReport {
            bucket: bucket.to_string(),
            key: key.to_string(),
            size: v.size,
            state,
            stripes: total,
            found,
            blobs,
        })
    }

    fn scrub_status(&self) -> ScrubStatus {
        self.0.scrubber.status()
    }

    async fn scrub_start(&self) -> Result<ScrubStatus, AdminError> {
        self.0.scrubber.request().await.map_err(|e| AdminError::new(503, "ServiceUnavailable", e))?;
        Ok(self.0.scrubber.status())
    }

    fn rebalance_status(&self) -> RebalanceStatus {
        self.0.rebalancer.status()
    }

    async fn collect(&self, grace_secs: Option<u64>) -> Result<GcReport, AdminError> {
        let grace = grace_secs.map(Duration::from_secs).unwrap_or(self.0.cfg.orphan_grace);
        collector::collect(&self.0.meta, &self.0.local_disks(), grace)
            .await
            .map_err(|e| AdminError::new(503, "ServiceUnavailable", e))
    }
}
