//! Bucket event notifications, sent: while this node leads, one task per target
//! configured (`notify_target = "NAME=URL"`) reads the target's queue from the
//! metadata (`cairn_raft::notify`: events are queued by apply, with the change that
//! made them), POSTs them in order as S3-shaped event messages ([`event`]), and once
//! the target answers 2xx proposes `Command::AckEvents`, which takes them off the
//! queue. A POST that fails is retried with a growing pause; nothing else waits for it.
//! The leader that follows resends what was sent but not yet acknowledged: delivery is
//! at least once, in commit order.

mod event;

use cairn_raft::MetaStore;
use cairn_raft::schema::Command;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Events per POST, at most.
const BATCH: usize = 100;
const IDLE: Duration = Duration::from_millis(300);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What this node's senders did since it started.
#[derive(Default)]
pub struct SendStats {
    pub sent: AtomicU64,
    pub failures: AtomicU64,
}

/// Starts one sender per target; their counts, by target.
pub fn start(
    meta: MetaStore,
    region: String,
    targets: &BTreeMap<String, String>,
    shutdown: watch::Receiver<bool>,
) -> BTreeMap<String, Arc<SendStats>> {
    let mut out = BTreeMap::new();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("an HTTP client");
    for (name, url) in targets {
        let stats = Arc::new(SendStats::default());
        out.insert(name.clone(), stats.clone());
        let sender = Sender {
            meta: meta.clone(),
            region: region.clone(),
            target: name.clone(),
            url: url.clone(),
            client: client.clone(),
            stats,
        };
        tokio::spawn(sender.run(shutdown.clone()));
    }
    out
}

struct Sender {
    meta: MetaStore,
    region: String,
    target: String,
    url: String,
    client: reqwest::Client,
    stats: Arc<SendStats>,
}

impl Sender {
    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut wait = IDLE;
        let mut backoff = FIRST_BACKOFF;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
            let m = self.meta.metrics();
            if m.current_leader != Some(m.id) {
                wait = IDLE;
                continue;
            }
            wait = match self.send_batch().await {
                Ok(0) => IDLE,
                Ok(_) => {
                    backoff = FIRST_BACKOFF;
                    Duration::ZERO
                }
                Err(why) => {
                    let n = self.stats.failures.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::warn!(target = %self.target, url = %self.url, error = %why, failures = n, "event notification: delivery failed, retrying");
                    let w = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    w
                }
            };
        }
    }

    /// Sends the oldest queued events; how many the target took.
    async fn send_batch(&self) -> Result<usize, String> {
        let events = self.meta.queued_events(&self.target, BATCH).map_err(|e| e.to_string())?;
        let Some((last, _)) = events.last() else { return Ok(0) };
        let last = *last;
        let mut owners = BTreeMap::new();
        let records = events
            .iter()
            .map(|(_, e)| {
                let owner = owners.entry(e.bucket.clone()).or_insert_with(|| {
                    self.meta.get_bucket(&e.bucket).ok().flatten().map(|b| b.owner).unwrap_or_default()
                });
                event::Record::of(e, &self.region, owner)
            })
            .collect();
        let body = serde_json::to_vec(&event::Message { records }).map_err(|e| e.to_string())?;
        let resp = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("the target answered {}", resp.status()));
        }
        let cmd = Command::AckEvents { target: self.target.clone(), upto: last };
        self.meta.propose(cmd).await.map_err(|e| e.to_string())?;
        self.stats.sent.fetch_add(events.len() as u64, Ordering::Relaxed);
        Ok(events.len())
    }
}
