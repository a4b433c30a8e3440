//! The audit files: `audit-<seq>.jsonl`, `seq` a zero-padded counter, the highest one
//! being written. Past `max_file_bytes` the writer syncs the file and starts the next;
//! past `keep_files` closed files, the oldest are removed. Each batch of records is
//! written with one `write` and the file is synced at most once a second, and when it
//! is closed.

use super::{AuditConfig, AuditStats};
use cairn_api::audit::AuditRecord;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const SYNC_EVERY: Duration = Duration::from_secs(1);
const BATCH: usize = 1024;

pub(super) fn name(seq: u64) -> String {
    format!("audit-{seq:012}.jsonl")
}

/// The audit files of `dir` in order, oldest first: (sequence number, path).
pub fn list(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut out: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let seq = n.strip_prefix("audit-")?.strip_suffix(".jsonl")?.parse().ok()?;
            Some((seq, e.path()))
        })
        .collect();
    out.sort();
    out
}

pub(super) struct Writer {
    dir: PathBuf,
    max_bytes: u64,
    keep: usize,
    seq: u64,
    file: File,
    size: u64,
    synced: Instant,
    dirty: bool,
    stats: Arc<AuditStats>,
    /// A webhook sends from these files: retention counts what it removes unsent.
    webhook: bool,
}

impl Writer {
    pub fn open(cfg: &AuditConfig, stats: Arc<AuditStats>) -> anyhow::Result<Writer> {
        // A restart starts a new file: the last one may end in a torn line.
        let seq = list(&cfg.dir).last().map_or(1, |(s, _)| s + 1);
        let file = File::options().create(true).append(true).open(cfg.dir.join(name(seq)))?;
        Ok(Writer {
            dir: cfg.dir.clone(),
            max_bytes: cfg.max_file_bytes.max(4096),
            keep: cfg.keep_files.max(1),
            seq,
            file,
            size: 0,
            synced: Instant::now(),
            dirty: false,
            stats,
            webhook: cfg.webhook.is_some(),
        })
    }

    pub async fn run(mut self, mut rx: tokio::sync::mpsc::Receiver<AuditRecord>, notify: Arc<tokio::sync::Notify>) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let got = tokio::time::timeout(SYNC_EVERY, rx.recv_many(&mut batch, BATCH)).await;
            match got {
                Ok(0) => break,
                Ok(_) => {
                    let records = std::mem::take(&mut batch);
                    self = match tokio::task::spawn_blocking(move || {
                        self.write(&records);
                        self
                    })
                    .await
                    {
                        Ok(w) => w,
                        Err(_) => return,
                    };
                    notify.notify_one();
                }
                Err(_) => {}
            }
            if self.dirty && self.synced.elapsed() >= SYNC_EVERY {
                let _ = self.file.sync_data();
                self.dirty = false;
                self.synced = Instant::now();
            }
        }
        let _ = self.file.sync_data();
    }

    fn write(&mut self, records: &[AuditRecord]) {
        let mut buf = Vec::with_capacity(records.len() * 400);
        for r in records {
            if serde_json::to_writer(&mut buf, r).is_ok() {
                buf.push(b'\n');
            }
        }
        if let Err(e) = self.file.write_all(&buf) {
            self.stats.dropped.fetch_add(records.len() as u64, Ordering::Relaxed);
            tracing::error!(error = %e, records = records.len(), "audit file write failed: records dropped");
            return;
        }
        self.size += buf.len() as u64;
        self.dirty = true;
        self.stats.written.fetch_add(records.len() as u64, Ordering::Relaxed);
        self.stats.webhook_backlog.fetch_add(records.len() as u64, Ordering::Relaxed);
        if self.size >= self.max_bytes {
            self.rotate();
        }
    }

    /// Counts (and logs) the records of file `seq` the webhook has not sent yet.
    fn count_unsent(&self, seq: u64, path: &Path) {
        let from = match super::webhook::saved_cursor(&self.dir) {
            Some((s, _)) if s > seq => return,
            Some((s, offset)) if s == seq => offset,
            _ => 0,
        };
        let Ok(bytes) = std::fs::read(path) else { return };
        let lost = bytes.get(from as usize..).unwrap_or_default().iter().filter(|b| **b == b'\n').count() as u64;
        if lost > 0 {
            self.stats.webhook_dropped.fetch_add(lost, Ordering::Relaxed);
            let _ = self
                .stats
                .webhook_backlog
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| Some(b.saturating_sub(lost)));
            tracing::warn!(
                file = %path.display(),
                records = lost,
                "audit webhook: a file was removed by retention before its records were sent; they are lost to the webhook"
            );
        }
    }

    fn rotate(&mut self) {
        let _ = self.file.sync_data();
        let next = self.seq + 1;
        match File::options().create(true).append(true).open(self.dir.join(name(next))) {
            Ok(f) => {
                self.file = f;
                self.seq = next;
                self.size = 0;
                self.dirty = false;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot start a new audit file; writing on in the old one");
                return;
            }
        }
        let files = list(&self.dir);
        let closed = files.len().saturating_sub(1);
        for (seq, path) in files.iter().take(closed.saturating_sub(self.keep)) {
            if self.webhook {
                self.count_unsent(*seq, path);
            }
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!(error = %e, file = %path.display(), "cannot remove an old audit file");
            }
        }
    }
}
