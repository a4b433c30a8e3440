//! The audit log: one record per request that reached the authorizer
//! (`cairn_api::audit::AuditRecord`, documented in `docs/audit.md`), written as JSON
//! Lines to `<data>/audit/` (`files.rs`: size-based rotation, retention by count) and,
//! when a webhook is configured, sent on from those files (`webhook.rs`: batches,
//! retries, a cursor kept on disk), so the files are the webhook's bounded queue.
//!
//! Requests never wait for either: the front hands a record to [`Audit::record`],
//! which queues it for the writer task; a full queue drops the record, counts it
//! (`cairn_audit{state="dropped"}` on `/metrics`) and says so in the log. A webhook that falls so far
//! behind that retention removes a file it has not sent counts those records as
//! dropped too.

mod files;
mod webhook;

use cairn_api::audit::AuditRecord;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use files::list as audit_files;

/// Records waiting for the writer before new ones are dropped.
const QUEUE: usize = 65_536;

#[derive(Clone, Debug)]
pub struct AuditConfig {
    pub dir: PathBuf,
    /// A file is closed and a new one started past this size.
    pub max_file_bytes: u64,
    /// Closed files kept; older ones are removed.
    pub keep_files: usize,
    /// Where records are also POSTed (`http://`), as JSON Lines.
    pub webhook: Option<String>,
    pub webhook_batch: usize,
}

/// What `/metrics` shows of the audit log.
#[derive(Default, Debug)]
pub struct AuditStats {
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    pub webhook_sent: AtomicU64,
    pub webhook_dropped: AtomicU64,
    pub webhook_failures: AtomicU64,
    /// Records written and not yet delivered to the webhook.
    pub webhook_backlog: AtomicU64,
}

#[derive(Clone)]
pub struct Audit {
    tx: tokio::sync::mpsc::Sender<AuditRecord>,
    pub stats: Arc<AuditStats>,
    /// The last time a drop was logged, in seconds since the start (rate-limits the line).
    last_drop_log: Arc<AtomicU64>,
    started: std::time::Instant,
}

impl Audit {
    /// Starts the writer (and the webhook sender, if configured).
    pub fn start(cfg: AuditConfig, shutdown: tokio::sync::watch::Receiver<bool>) -> anyhow::Result<Audit> {
        std::fs::create_dir_all(&cfg.dir)?;
        let stats = Arc::new(AuditStats::default());
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
        let notify = Arc::new(tokio::sync::Notify::new());
        let writer = files::Writer::open(&cfg, stats.clone())?;
        tokio::spawn(writer.run(rx, notify.clone()));
        if let Some(url) = cfg.webhook.clone() {
            let sender = webhook::Sender::new(&cfg, url, stats.clone())?;
            tokio::spawn(sender.run(notify, shutdown));
        }
        Ok(Audit { tx, stats, last_drop_log: Arc::new(AtomicU64::new(u64::MAX)), started: std::time::Instant::now() })
    }

    /// Queues `r` for the files; never waits.
    pub fn record(&self, r: AuditRecord) {
        if self.tx.try_send(r).is_err() {
            let n = self.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            let now = self.started.elapsed().as_secs();
            let last = self.last_drop_log.load(Ordering::Relaxed);
            if last == u64::MAX || now > last {
                self.last_drop_log.store(now, Ordering::Relaxed);
                tracing::warn!(dropped_total = n, "audit queue full: records dropped");
            }
        }
    }
}

/// How long the webhook sender waits after a failure, doubling up to [`MAX_BACKOFF`].
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(250);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(10);
