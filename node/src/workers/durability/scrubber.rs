//! The scrubber: a throttled pass over every object, run by the Raft leader. Its
//! progress is a service state in Raft, checkpointed every few seconds, so a restart
//! or a new leader resumes the pass where it stopped instead of starting over.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_api::durability::ScrubStatus;
use cairn_erasure::DiskSet;
use cairn_raft::MetaStore;
use cairn_raft::schema::Command;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};

use super::pass::{self, PassState, PassStatus, Scope, unix_now};
use super::throttle::rate_limit;

const STATE: &str = "scrub";
/// A request to start a pass now, from any node: the unix time it was made.
const REQUEST: &str = "scrub-request";
const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ScrubState {
    /// The pass in progress, if any.
    pub current: Option<PassStatus>,
    /// The last pass that finished.
    pub last: Option<PassStatus>,
    /// When the scrubber first ran on this cluster: the first pass is due an interval later.
    pub since: u64,
    /// The last start request handled.
    pub handled_request: u64,
}

pub struct Scrubber {
    meta: MetaStore,
    disks: Arc<DiskSet>,
    rate_bytes: u64,
    interval: Duration,
    /// The pass this node is running, shown live by the status endpoint.
    live: Arc<Mutex<Option<PassStatus>>>,
    wake: Notify,
}

impl Scrubber {
    pub fn new(meta: MetaStore, disks: Arc<DiskSet>, rate_bytes: u64, interval: Duration) -> Arc<Scrubber> {
        Arc::new(Scrubber { meta, disks, rate_bytes, interval, live: Arc::new(Mutex::new(None)), wake: Notify::new() })
    }

    fn load(&self) -> ScrubState {
        self.meta.service_state(STATE).ok().flatten().and_then(|v| serde_json::from_slice(&v).ok()).unwrap_or_default()
    }

    fn requested(&self) -> u64 {
        self.meta
            .service_state(REQUEST)
            .ok()
            .flatten()
            .and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok())
            .unwrap_or(0)
    }

    async fn save(meta: &MetaStore, state: &ScrubState) -> bool {
        let value = serde_json::to_vec(state).unwrap_or_default();
        meta.propose(Command::PutServiceState { name: STATE.into(), value }).await.is_ok()
    }

    fn is_leader(&self) -> bool {
        let m = self.meta.metrics();
        m.current_leader == Some(m.id)
    }

    /// Asks the leader (through Raft, so from any node) to start a pass now.
    pub async fn request(&self) -> Result<(), String> {
        let value = unix_now().max(self.requested() + 1).to_string().into_bytes();
        self.meta.propose(Command::PutServiceState { name: REQUEST.into(), value }).await.map_err(|e| e.to_string())?;
        self.wake.notify_one();
        Ok(())
    }

    /// The live pass on this node, else the last persisted state.
    pub fn status(&self) -> ScrubStatus {
        let state = self.load();
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let next_due = (self.interval > Duration::ZERO).then(|| {
            let base = state.last.as_ref().and_then(|l| l.started).unwrap_or(state.since);
            base + self.interval.as_secs()
        });
        ScrubStatus {
            running: live.is_some() || state.current.is_some(),
            current: live.or(state.current),
            last: state.last,
            rate_mib: self.rate_bytes >> 20,
            interval_secs: self.interval.as_secs(),
            next_due,
            leader: self.meta.metrics().current_leader,
        }
    }

    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            if !self.is_leader() {
                continue;
            }
            let mut state = self.load();
            if state.since == 0 {
                state.since = unix_now();
                if !Self::save(&self.meta, &state).await {
                    continue;
                }
            }
            let request = self.requested();
            let due = self.interval > Duration::ZERO && {
                let base = state.last.as_ref().and_then(|l| l.started).unwrap_or(state.since);
                unix_now() >= base + self.interval.as_secs()
            };
            let current = match state.current.take() {
                Some(mut c) => {
                    c.state = PassState::Running;
                    c
                }
                None if request > state.handled_request || due => pass::starting(Scope::default()),
                None => continue,
            };
            state.handled_request = state.handled_request.max(request);
            tracing::info!(resume_after = ?current.cursor, "scrub pass starting");
            self.run_pass(state, current, &shutdown).await;
        }
    }

    async fn run_pass(&self, mut state: ScrubState, current: PassStatus, shutdown: &watch::Receiver<bool>) {
        let status = Arc::new(Mutex::new(current));
        *self.live.lock().unwrap_or_else(|e| e.into_inner()) = Some(status.lock().unwrap().clone());
        let mut last_save = Instant::now();
        let meta = self.meta.clone();
        let live = self.live.clone();
        let base = state.clone();
        // At most one checkpoint in flight, awaited before the final save so that a
        // late checkpoint can never overwrite the finished pass.
        let saving: Arc<Mutex<Option<tokio::task::JoinHandle<bool>>>> = Arc::new(Mutex::new(None));
        let saving2 = saving.clone();
        let mut checkpoint = |s: &PassStatus| {
            *live.lock().unwrap_or_else(|e| e.into_inner()) = Some(s.clone());
            let mut slot = saving2.lock().unwrap_or_else(|e| e.into_inner());
            let idle = slot.as_ref().is_none_or(|h| h.is_finished());
            if idle && last_save.elapsed() >= CHECKPOINT_EVERY {
                last_save = Instant::now();
                let mut st = base.clone();
                st.current = Some(s.clone());
                let meta = meta.clone();
                *slot = Some(tokio::spawn(async move { Self::save(&meta, &st).await }));
            }
            let m = meta.metrics();
            m.current_leader == Some(m.id) && !*shutdown.borrow()
        };
        let pace = rate_limit(self.rate_bytes);
        {
            // Keep the live view current between checkpoints too.
            let live = self.live.clone();
            let watched = status.clone();
            let ticker = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    let s = watched.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    *live.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
                }
            });
            pass::run(&self.meta, &self.disks, &status, pace, &mut checkpoint).await;
            ticker.abort();
        }
        let inflight = saving.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = inflight {
            let _ = h.await;
        }
        let done = status.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if done.state == PassState::Done {
            pass::log_done(&done, "scrub");
            state.current = None;
            state.last = Some(done);
        } else {
            state.current = Some(done);
        }
        Self::save(&self.meta, &state).await;
        *self.live.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
