//! Trash expiry: while this node leads, purge the trashed assets whose tenant's
//! retention has passed, oldest first, a bounded number per tick. Each purge is a
//! `PurgeAsset` with `due`, decided in apply against the asset's own purge time, so
//! an asset restored (or purged by hand) since the scan is left alone; the object
//! layer removes the shards of the object versions the purge deleted.

use cairn_object::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the leader looks for purges that are due.
const TICK: Duration = Duration::from_secs(2);
/// Most purges per tick.
const PER_TICK: usize = 100;

pub async fn expire(store: Arc<Store>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.changed() => return,
        }
        let m = store.meta.metrics();
        if m.current_leader != Some(m.id) {
            continue;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        match store.purge_due_assets(now, PER_TICK).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "purged assets whose time in the trash was over"),
            Err(e) => tracing::debug!(error = %e, "trash expiry did not finish; retrying"),
        }
    }
}
