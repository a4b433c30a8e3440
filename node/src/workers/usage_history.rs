//! Usage sampling: the Raft leader proposes `SampleUsage` once an "hour"
//! (`usage_sample_secs`, 3600 but in tests), so the metadata keeps each tenant's usage
//! history (see `cairn_raft`'s `apply/usage_history.rs`). Every node runs the loop and
//! only the leader proposes; a sample proposed twice for one hour (a leader change in
//! between) changes nothing the second time.

use cairn_raft::MetaStore;
use cairn_raft::schema::Command;
use std::time::Duration;
use tokio::sync::watch;

/// Samples tenant usage once per `period` while this node leads.
pub async fn sample(meta: MetaStore, period: Duration, mut shutdown: watch::Receiver<bool>) {
    let period = period.as_secs().max(1);
    let tick = Duration::from_secs((period / 6).clamp(1, 60));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => return,
        }
        let m = meta.metrics();
        if m.current_leader != Some(m.id) {
            continue;
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let slot = now - now % period;
        if meta.last_usage_sample().ok().flatten().is_some_and(|last| last >= slot) {
            continue;
        }
        if let Err(e) = meta.propose(Command::SampleUsage { slot, period }).await {
            tracing::debug!(error = %e, "usage sample not recorded; retrying");
        }
    }
}
