//! Upload expiry: incomplete multipart uploads older than `multipart_expiry_secs` are
//! aborted, their parts freed, through the object layer (`cairn_object::Store`), so
//! this worker never builds a Raft command or touches a shard itself. Every node runs
//! it; an upload another node aborted first answers NoSuchUpload and is passed over.

use cairn_object::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Aborts incomplete multipart uploads older than `max_age`, checking a few
/// times per `max_age` (at most hourly).
pub async fn expire(store: Arc<Store>, max_age: Duration, mut shutdown: watch::Receiver<bool>) {
    let every = (max_age / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let cutoff = std::time::SystemTime::now()
            .checked_sub(max_age)
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let n = store.abort_expired_uploads(cutoff).await;
        if n > 0 {
            tracing::info!(aborted = n, "expired multipart uploads aborted");
        }
    }
}
