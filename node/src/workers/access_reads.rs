//! The read flusher (every node): every `access_flush_secs` it commits the reads this
//! node served of buckets that tier by access (`cairn_object::access`), in batches,
//! so tiering never costs a Raft write per GET. Counts that fail to commit are
//! dropped with a log line: they steer tiering, they are not an account.

use cairn_object::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub async fn flush(store: Arc<Store>, every: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        if let Err(e) = store.flush_reads(now).await {
            tracing::warn!(error = %e, "committing read counts for tiering failed; they are dropped");
        }
    }
}
