//! Sends the audit files on to a webhook: batches of up to `webhook_batch` records,
//! POSTed as JSON Lines (`application/x-ndjson`), in order, each batch retried with a
//! growing pause until the collector answers 2xx. The position reached (file sequence
//! number and byte offset) is kept in `<audit dir>/webhook.cursor`, so a restart goes
//! on where it stopped: what the collector acknowledged is never sent again, and
//! nothing written is skipped while its file is kept. A collector down for longer than
//! retention keeps files loses the records of the files removed, counted and logged by
//! the writer (`files.rs`).

use super::files::{list, name};
use super::{AuditConfig, AuditStats, FIRST_BACKOFF, MAX_BACKOFF};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Bytes read from a file at once, looking for whole records.
const READ: usize = 4 << 20;

pub(super) struct Sender {
    dir: PathBuf,
    url: String,
    batch: usize,
    stats: Arc<AuditStats>,
    client: reqwest::Client,
    cursor: (u64, u64),
}

fn cursor_path(dir: &std::path::Path) -> PathBuf {
    dir.join("webhook.cursor")
}

impl Sender {
    pub fn new(cfg: &AuditConfig, url: String, stats: Arc<AuditStats>) -> anyhow::Result<Sender> {
        let saved = std::fs::read_to_string(cursor_path(&cfg.dir)).ok().and_then(|t| {
            let (a, b) = t.trim().split_once(' ')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        });
        // First configured: from the file being written now, not from history.
        let cursor = saved.unwrap_or_else(|| (list(&cfg.dir).last().map_or(1, |(s, _)| *s), 0));
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        let sender = Sender { dir: cfg.dir.clone(), url, batch: cfg.webhook_batch.max(1), stats, client, cursor };
        if saved.is_none() {
            // Kept from the first start on, so a restart before the first delivery
            // resumes here rather than at its own new file.
            sender.save();
        }
        Ok(sender)
    }

    pub async fn run(mut self, notify: Arc<tokio::sync::Notify>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let (body, count, used) = match self.next_batch() {
                Some(b) => b,
                None => {
                    tokio::select! {
                        _ = notify.notified() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.changed() => {}
                    }
                    continue;
                }
            };
            let sent = self
                .client
                .post(&self.url)
                .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
                .body(body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    self.cursor.1 += used;
                    self.save();
                    self.stats.webhook_sent.fetch_add(count, Ordering::Relaxed);
                    let _ = self
                        .stats
                        .webhook_backlog
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| Some(b.saturating_sub(count)));
                    backoff = FIRST_BACKOFF;
                }
                other => {
                    let n = self.stats.webhook_failures.fetch_add(1, Ordering::Relaxed);
                    if n.is_power_of_two() {
                        let why = match other {
                            Ok(r) => format!("status {}", r.status()),
                            Err(e) => e.to_string(),
                        };
                        tracing::warn!(url = %self.url, error = %why, failures = n + 1, "audit webhook: delivery failed, retrying");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// The next batch of whole records from the cursor on: the body, its record count
    /// and its length in the file. Moves to the next file at the end of a closed one.
    fn next_batch(&mut self) -> Option<(Vec<u8>, u64, u64)> {
        loop {
            let files = list(&self.dir);
            let (first, last) = (files.first()?.0, files.last()?.0);
            if self.cursor.0 < first {
                // Removed before it was sent: the writer counted it.
                self.cursor = (first, 0);
                self.save();
            }
            let mut f = std::fs::File::open(self.dir.join(name(self.cursor.0))).ok()?;
            f.seek(SeekFrom::Start(self.cursor.1)).ok()?;
            let mut buf = Vec::new();
            f.take(READ as u64).read_to_end(&mut buf).ok()?;
            let mut end = 0;
            let mut count = 0u64;
            for (i, b) in buf.iter().enumerate() {
                if *b == b'\n' {
                    end = i + 1;
                    count += 1;
                    if count as usize == self.batch {
                        break;
                    }
                }
            }
            if count > 0 {
                buf.truncate(end);
                return Some((buf, count, end as u64));
            }
            if self.cursor.0 < last {
                // A closed file is complete: whatever follows is in the next one.
                let next = files.iter().map(|(s, _)| *s).find(|s| *s > self.cursor.0)?;
                self.cursor = (next, 0);
                self.save();
                continue;
            }
            return None;
        }
    }

    fn save(&self) {
        let tmp = self.dir.join("webhook.cursor.tmp");
        let text = format!("{} {}\n", self.cursor.0, self.cursor.1);
        if std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, cursor_path(&self.dir))).is_err() {
            tracing::warn!("audit webhook: cannot save its position");
        }
    }
}

/// The position saved by a sender, for the writer's retention.
pub(super) fn saved_cursor(dir: &std::path::Path) -> Option<(u64, u64)> {
    let t = std::fs::read_to_string(cursor_path(dir)).ok()?;
    let (a, b) = t.trim().split_once(' ')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}
