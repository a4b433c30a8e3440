//! The rebalancer: moves shards to where the current layout places them (each blob
//! as its storage class places it, `cairn_raft::tiers`). After a node
//! joins, most objects' primary disks change; writes made while a node was down sit on
//! substitute disks. The leader walks every object, copies each misplaced shard to its
//! primary disk, then commits the new disk list with a `MoveBlob` that only applies if
//! the blob has not changed meanwhile; the old copies go a little later, so reads that
//! started before the move finish. Throttled like the scrubber.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_api::durability::{PassState, RebalancePass, RebalanceStatus};
use cairn_erasure::DiskSet;
use cairn_object::moves::{BlobMove, commit_move};
use cairn_raft::MetaStore;
use cairn_raft::schema::Command;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::pass::{blobs_of, unix_now};
use super::throttle::rate_limit;

const STATE: &str = "rebalance";
const PAGE: usize = 128;
/// Old copies of moved shards are removed this long after the move commits.
const OLD_COPY_GRACE: Duration = Duration::from_secs(15);
/// A pass also runs this often without a layout change, for writes that went to
/// substitute disks while a node was away.
const SWEEP_EVERY: u64 = 3600;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct State {
    /// The layout version the last complete pass (nothing skipped) placed everything by.
    done_version: u64,
    last: Option<RebalancePass>,
}

pub struct Rebalancer {
    meta: MetaStore,
    disks: Arc<DiskSet>,
    rate_bytes: u64,
    live: Mutex<Option<RebalancePass>>,
}

impl Rebalancer {
    pub fn new(meta: MetaStore, disks: Arc<DiskSet>, rate_bytes: u64) -> Arc<Rebalancer> {
        Arc::new(Rebalancer { meta, disks, rate_bytes, live: Mutex::new(None) })
    }

    fn load(&self) -> State {
        self.meta.service_state(STATE).ok().flatten().and_then(|v| serde_json::from_slice(&v).ok()).unwrap_or_default()
    }

    pub fn status(&self) -> RebalanceStatus {
        let st = self.load();
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner()).clone();
        RebalanceStatus {
            running: live.is_some(),
            current: live,
            last: st.last,
            done_version: st.done_version,
            layout_version: self.meta.layout().map(|l| l.version).unwrap_or(0),
            rate_mib: self.rate_bytes >> 20,
        }
    }

    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(3)) => {}
                _ = shutdown.changed() => return,
            }
            let m = self.meta.metrics();
            if m.current_leader != Some(m.id) || *shutdown.borrow() {
                continue;
            }
            let Ok(layout) = self.meta.layout() else { continue };
            if layout.nodes.is_empty() {
                continue;
            }
            let st = self.load();
            let last_start = st.last.as_ref().and_then(|l| l.started).unwrap_or(0);
            let retry_skipped = st.last.as_ref().is_some_and(|l| l.skipped > 0) && unix_now() >= last_start + 30;
            if layout.version <= st.done_version && !retry_skipped && unix_now() < last_start + SWEEP_EVERY {
                continue;
            }
            let status = self.pass(layout.version, &shutdown).await;
            let done_version =
                if status.state == PassState::Done && status.skipped == 0 { layout.version } else { st.done_version };
            let _ = self.save(State { done_version, last: Some(status) }).await;
            *self.live.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    async fn save(&self, st: State) -> bool {
        let value = serde_json::to_vec(&st).unwrap_or_default();
        self.meta.propose(Command::PutServiceState { name: STATE.into(), value }).await.is_ok()
    }

    fn update(&self, s: &RebalancePass) {
        *self.live.lock().unwrap_or_else(|e| e.into_inner()) = Some(s.clone());
    }

    async fn pass(&self, version: u64, shutdown: &watch::Receiver<bool>) -> RebalancePass {
        let mut s = RebalancePass {
            state: PassState::Running,
            layout_version: version,
            started: Some(unix_now()),
            ..Default::default()
        };
        self.update(&s);
        let pace = rate_limit(self.rate_bytes);
        let mut cursor: Option<(String, String)> = None;
        loop {
            // Every stored version of each key: noncurrent ones are placed by their key too.
            let after = cursor.as_ref().map(|(b, k)| (b.as_str(), k.as_str()));
            let page = match self.meta.scan_keys_with_history(None, "", after, PAGE) {
                Ok(p) => p,
                Err(e) => {
                    s.last_error = Some(e.to_string());
                    s.state = PassState::Stopped;
                    return s;
                }
            };
            let last_page = page.len() < PAGE;
            for (bucket, key, versions) in page {
                let m = self.meta.metrics();
                if m.current_leader != Some(m.id) || *shutdown.borrow() {
                    s.state = PassState::Stopped;
                    return s;
                }
                let Ok(layout) = self.meta.layout() else { continue };
                if layout.version != version {
                    // The layout moved on: the next pass places by the new one.
                    s.state = PassState::Stopped;
                    return s;
                }
                let tiers = self.meta.tiers().unwrap_or_default();
                let hash = cairn_object::placement_hash(&bucket, &key);
                // A blob shared by versions (a rollback) moves once, for all of them.
                let mut seen = std::collections::HashSet::new();
                for (spec, size) in versions.iter().flat_map(blobs_of) {
                    // Each blob is placed as its storage class places it.
                    let class = tiers.class_of_code(&layout, spec.data_shards, spec.parity_shards, &spec.disks);
                    let Some(primary) = tiers.class(&layout, class).and_then(|c| tiers.placement(&layout, &c, hash))
                    else {
                        continue;
                    };
                    if spec.disks == primary || spec.disks.len() != primary.len() || !seen.insert(spec.id) {
                        continue;
                    }
                    match self.move_blob(&bucket, &key, spec, size, &primary, version, pace.clone()).await {
                        Ok(Some(n)) => {
                            s.blobs_moved += 1;
                            s.shards_moved += n as u64;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            s.skipped += 1;
                            s.last_error = Some(format!("{bucket}/{key}: {e}"));
                        }
                    }
                }
                s.objects += 1;
                cursor = Some((bucket, key));
                self.update(&s);
            }
            if last_page {
                s.state = PassState::Done;
                s.finished = Some(unix_now());
                if s.blobs_moved > 0 || s.skipped > 0 {
                    tracing::info!(
                        moved = s.blobs_moved,
                        shards = s.shards_moved,
                        skipped = s.skipped,
                        "rebalance pass done"
                    );
                }
                return s;
            }
        }
    }

    /// Copies the misplaced shards, commits the move, and schedules the old copies'
    /// removal. Ok(None): the blob changed meanwhile and was left alone.
    #[allow(clippy::too_many_arguments)]
    async fn move_blob(
        &self,
        bucket: &str,
        key: &str,
        spec: cairn_erasure::ShardSpec,
        size: u64,
        primary: &[u16],
        version: u64,
        pace: Option<cairn_erasure::Pace>,
    ) -> Result<Option<usize>, String> {
        if let Some(d) = primary.iter().find(|&&d| !self.disks.is_online(d)) {
            return Err(format!("disk {d} is offline"));
        }
        let moved: Vec<usize> = (0..primary.len()).filter(|&i| spec.disks[i] != primary[i]).collect();
        let mut copied = Vec::new();
        for &i in &moved {
            match self.disks.copy_shard(spec.clone(), size, i, primary[i], pace.clone()).await {
                Ok(()) => copied.push(i),
                Err(e) => {
                    self.remove_later(spec.id, copied.iter().map(|&j| (primary[j], j)).collect(), Duration::ZERO);
                    // A source shard that fails its checks is healed first; the
                    // retry of this blob then finds it whole.
                    self.disks.report_damaged(spec.id);
                    return Err(format!("copying shard {i}: {e}"));
                }
            }
        }
        let mv = BlobMove {
            bucket: bucket.to_string(),
            key: key.to_string(),
            id: spec.id,
            from: spec.disks.clone(),
            to: primary.to_vec(),
            layout_version: version,
        };
        match commit_move(&self.meta, mv).await {
            Ok(true) => {
                self.remove_later(spec.id, moved.iter().map(|&i| (spec.disks[i], i)).collect(), OLD_COPY_GRACE);
                Ok(Some(moved.len()))
            }
            Ok(false) => {
                self.remove_later(spec.id, moved.iter().map(|&i| (primary[i], i)).collect(), Duration::ZERO);
                Ok(None)
            }
            // Outcome unknown: leave both copies; the orphan collector takes whichever
            // the metadata does not point at.
            Err(e) => Err(format!("committing the move: {e}")),
        }
    }

    fn remove_later(&self, id: u128, shards: Vec<(u16, usize)>, after: Duration) {
        let disks = self.disks.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            for (d, i) in shards {
                if let Some(disk) = disks.disk(d) {
                    let _ = tokio::task::spawn_blocking(move || disk.remove(id, i)).await;
                }
            }
        });
    }
}
