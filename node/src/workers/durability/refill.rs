//! Refilling a local disk that came up empty or was wiped: heal passes over the blobs
//! placed on it, repeated until one finds nothing left to do.
//!
//! One pass is not enough: a pass that runs while a peer is down cannot read (or
//! rewrite) the shards on that peer, so blobs with too few shards left around the
//! empty disk stay degraded or even unreadable until a later pass. The disk therefore
//! stays in refill until a pass over it ends with every stripe whole and no shard it
//! could not rewrite. Between passes it waits, 5 s after the first, doubling up to
//! 5 min, and sooner once a disk that was offline is back. A marker file in the disk's
//! root keeps the disk in refill across restarts of the node.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cairn_api::durability::{RefillState, RefillStatus};
use tokio::sync::watch;
use tokio::time::Instant;

use super::Durability;
use super::pass::{PassState, PassStatus, Scope, unix_now};

/// Present in a disk's root while the disk is being refilled.
pub const MARKER: &str = ".cairn-refill";
/// Wait after the first pass that did not finish the refill; doubles up to RETRY_MAX.
const RETRY_MIN: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(300);
/// How often a waiting refill looks for disks that came back online.
const POLL: Duration = Duration::from_secs(1);

/// The refill of one local disk: what `GET /cairn/admin/v1/heal` shows under
/// `refill`, and what only this module needs.
#[derive(Clone, Debug)]
pub struct Refill {
    pub status: RefillStatus,
    /// Index of the disk among this node's disks.
    local: usize,
    /// Counts wipes seen while refilling: a pass under way when the disk was wiped
    /// again may already have passed shards that are gone again.
    wipes: u64,
}

impl Refill {
    pub fn active(&self) -> bool {
        self.status.state != RefillState::Done
    }
}

/// A pass after which the disk holds every shard it should: it walked its whole scope
/// and left nothing degraded, lost or unwritten.
fn complete(p: &PassStatus) -> bool {
    p.state == PassState::Done
        && p.stripes.degraded == 0
        && p.stripes.lost == 0
        && p.heal_failures == 0
        && p.last_error.is_none()
}

/// Whether the disk at `root` was left in refill by an earlier run of the node.
pub fn marked(root: &Path) -> bool {
    root.join(MARKER).is_file()
}

fn set_marker(root: &Path, on: bool) {
    let path = root.join(MARKER);
    let res = if on { std::fs::write(&path, b"") } else { std::fs::remove_file(&path) };
    if let Err(e) = res.or_else(|e| if !on && e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) }) {
        tracing::warn!(path = %path.display(), error = %e, "cannot update the refill marker");
    }
}

impl Durability {
    /// Puts local disk `j` in refill, unless it already is (then the refill makes
    /// one more pass after the current one, whatever that finds).
    pub(super) fn refill(self: &Arc<Self>, j: usize, shutdown: watch::Receiver<bool>) {
        let root = self.local[j].root().to_path_buf();
        {
            let mut all = self.refills.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(r) = all.iter_mut().find(|r| r.local == j && r.active()) {
                r.wipes += 1;
                return;
            }
            all.retain(|r| r.local != j);
            all.push(Refill {
                status: RefillStatus {
                    disk: None,
                    path: root.display().to_string(),
                    state: RefillState::Waiting,
                    started: unix_now(),
                    finished: None,
                    passes: 0,
                    next_pass: None,
                    last: None,
                },
                local: j,
                wipes: 0,
            });
        }
        set_marker(&root, true);
        tokio::spawn(self.clone().run_refill(j, shutdown));
    }

    pub(super) fn refill_status(&self) -> Vec<RefillStatus> {
        self.refills.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|r| r.status.clone()).collect()
    }

    fn update_refill<T>(&self, j: usize, f: impl FnOnce(&mut Refill) -> T) -> Option<T> {
        let mut all = self.refills.lock().unwrap_or_else(|e| e.into_inner());
        all.iter_mut().find(|r| r.local == j && r.active()).map(f)
    }

    /// Global indexes of the disks that are offline now.
    fn offline_disks(&self) -> BTreeSet<u16> {
        (0..self.disks.len()).map(|d| d as u16).filter(|&d| !self.disks.is_online(d)).collect()
    }

    async fn run_refill(self: Arc<Self>, j: usize, mut shutdown: watch::Receiver<bool>) {
        let root = self.local[j].root().to_path_buf();
        // The layout places the disk, and the disk table (set from the layout once
        // the node's peers are known) has it: a pass before that reads no shard at all.
        let disk = loop {
            if let Some(d) = self.global_index(j)
                && usize::from(d) < self.disks.len()
            {
                break d;
            }
            tokio::select! {
                _ = tokio::time::sleep(super::DISK_CHECK_EVERY) => {}
                _ = shutdown.changed() => return,
            }
        };
        self.update_refill(j, |r| r.status.disk = Some(disk));
        let started = Instant::now();
        let mut delay = RETRY_MIN;
        loop {
            let slot = tokio::select! {
                s = self.heal_slot.clone().lock_owned() => s,
                _ = shutdown.changed() => return,
            };
            let Some((pass_no, wipes)) = self.update_refill(j, |r| {
                r.status.state = RefillState::Running;
                r.status.next_pass = None;
                r.status.passes += 1;
                (r.status.passes, r.wipes)
            }) else {
                return;
            };
            tracing::info!(disk, pass = pass_no, "refilling disk");
            let mut offline = self.offline_disks();
            let stop = shutdown.clone();
            let p = self
                .run_pass(Scope { disk: Some(disk), ..Default::default() }, slot, "refill", &mut |_| !*stop.borrow())
                .await;
            if *shutdown.borrow() {
                // The marker stays: the next start refills the disk again.
                return;
            }
            let again = self.update_refill(j, |r| r.wipes != wipes).unwrap_or(false);
            if complete(&p) && !again {
                set_marker(&root, false);
                self.update_refill(j, |r| {
                    r.status.state = RefillState::Done;
                    r.status.finished = Some(unix_now());
                    r.status.last = Some(p.clone());
                });
                tracing::info!(
                    disk,
                    passes = pass_no,
                    secs = started.elapsed().as_secs(),
                    stripes = p.stripes.whole,
                    "disk refilled: every stripe of its blobs is whole"
                );
                return;
            }
            tracing::warn!(
                disk,
                pass = pass_no,
                degraded = p.stripes.degraded,
                lost = p.stripes.lost,
                heal_failures = p.heal_failures,
                last_error = p.last_error.as_deref().unwrap_or(""),
                retry_in_secs = delay.as_secs(),
                "refill pass left stripes to rebuild; another pass follows"
            );
            self.update_refill(j, |r| {
                r.status.state = RefillState::Retrying;
                r.status.next_pass = Some(unix_now() + delay.as_secs());
                r.status.last = Some(p.clone());
            });
            // Until the delay is over, a disk that was offline since the pass began
            // comes back, or the disk is wiped again.
            let deadline = Instant::now() + delay;
            offline.extend(self.offline_disks());
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = shutdown.changed() => return,
                }
                let now_offline = self.offline_disks();
                let back = offline.iter().any(|d| !now_offline.contains(d));
                let wiped = self.update_refill(j, |r| r.wipes != wipes).unwrap_or(false);
                if back || wiped || Instant::now() >= deadline {
                    if back {
                        tracing::info!(disk, "a disk is back online: refill pass now");
                    }
                    break;
                }
                offline.extend(now_offline);
            }
            delay = (delay * 2).min(RETRY_MAX);
        }
    }
}
