//! The Raft log store handed to openraft: entries in [`crate::log_files`] (our own
//! segment files under `<dir>/raft-log`), vote, committed and last-purged in sled's
//! `raft_meta`.
//!
//! Durability: `append` writes the entries to the current log file (readable at once)
//! and hands the flush callback to one flusher task. The flusher takes every callback
//! queued so far, runs one fdatasync of that file (which covers every write made before
//! it started) and then completes those callbacks in order, so appends never block on
//! the disk and concurrent appends share a flush. sled is not flushed per append: the
//! state machine's trees are rebuilt from the log after a crash (see [`crate::keys`]),
//! so sled only has to be durable before the log behind it is purged, and when a vote
//! is saved; there, sled's flush is followed by [`SledSync`]'s. A purge hides the
//! entries at once and hands the rest to a purger task: sled's flush (which after a
//! large ingest may take seconds) then the deletion of the files, so Raft's appends
//! never wait for it.
//!
//! Stores of format 2 kept the log in sled's `raft_log` tree; opening one moves the
//! entries into the log files (durably, before the tree is cleared).

// `StorageError` is openraft's type, returned by the storage traits themselves.
#![allow(clippy::result_large_err)]

use crate::keys::*;
use crate::log_files::LogFiles;
use crate::sled_sync::SledSync;
use crate::store::log_budget::Appended;
use crate::types::{LogId, StorageError, TypeConfig};
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, Entry, LogState, RaftLogId, RaftLogReader, StorageIOError, Vote};
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

fn read_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::read_logs(AnyError::new(&e)).into()
}

fn write_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_logs(AnyError::new(&e)).into()
}

fn vote_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_vote(AnyError::new(&e)).into()
}

type Files = Arc<RwLock<LogFiles>>;

fn lock_read(files: &Files) -> std::sync::RwLockReadGuard<'_, LogFiles> {
    files.read().unwrap_or_else(|e| e.into_inner())
}

fn lock_write(files: &Files) -> std::sync::RwLockWriteGuard<'_, LogFiles> {
    files.write().unwrap_or_else(|e| e.into_inner())
}

/// Reads log entries; cheap to clone.
#[derive(Clone)]
pub struct LogReader {
    files: Files,
}

impl LogReader {
    fn entries(&self, range: impl RangeBounds<u64>) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let from = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let to = match range.end_bound() {
            Bound::Included(i) => i.saturating_add(1),
            Bound::Excluded(i) => *i,
            Bound::Unbounded => u64::MAX,
        };
        let spans = lock_read(&self.files).spans(from, to);
        let mut out = Vec::new();
        for span in spans {
            span.read(|_, payload| {
                out.push(bincode::deserialize(payload).map_err(std::io::Error::other)?);
                Ok(())
            })
            .map_err(read_err)?;
        }
        Ok(out)
    }
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        self.entries(range)
    }
}

/// The log store handed to openraft.
pub struct LogStore {
    db: sled::Db,
    sync: Arc<SledSync>,
    reader: LogReader,
    meta: sled::Tree,
    /// The id of the last entry in the log files.
    last: Option<LogId>,
    flush_tx: mpsc::UnboundedSender<LogFlushed<TypeConfig>>,
    /// Purge points for the purger task.
    purge_tx: mpsc::UnboundedSender<u64>,
    /// Encoded bytes of every entry appended since the store opened (what
    /// [`crate::store::log_budget`] snapshots by).
    appended: Arc<Appended>,
}

impl LogStore {
    /// Opens the log in `log_dir` (moving a format-2 log out of sled first) and starts
    /// the flusher task (it ends when the store is dropped). `sled_dir` is the directory
    /// `db` was opened in.
    pub fn open(db: &sled::Db, sled_dir: &Path, log_dir: &Path) -> anyhow::Result<LogStore> {
        let meta = db.open_tree(TREE_RAFT_META)?;
        let sync = Arc::new(SledSync::open(sled_dir)?);
        let mut files = LogFiles::open(log_dir)?;
        let old = db.open_tree(TREE_LOG)?;
        if !old.is_empty() {
            if files.is_empty() {
                let records = old.iter().map(|item| {
                    let (k, v) = item.map_err(std::io::Error::other)?;
                    let k = <[u8; 8]>::try_from(k.as_ref()).map_err(std::io::Error::other)?;
                    Ok((u64::from_be_bytes(k), v.to_vec()))
                });
                let n = files.import(records)?;
                tracing::info!(entries = n, dir = %log_dir.display(), "moved the raft log out of sled");
            }
            old.clear()?;
            db.flush()?;
            sync.sync()?;
        }
        // Finishes a purge a crash interrupted, and hides what it left behind.
        if let Some(v) = meta.get(META_LAST_PURGED)? {
            let purged: LogId = bincode::deserialize(&v)?;
            files.purge(purged.index)?;
        }
        let last = match files.next_index() {
            Some(next) => {
                let mut last = None;
                for span in files.spans(next - 1, next) {
                    span.read(|_, payload| {
                        let e: Entry<TypeConfig> = bincode::deserialize(payload).map_err(std::io::Error::other)?;
                        last = Some(*e.get_log_id());
                        Ok(())
                    })?;
                }
                last
            }
            None => None,
        };
        let files = Arc::new(RwLock::new(files));
        let (flush_tx, flush_rx) = mpsc::unbounded_channel();
        tokio::spawn(flusher(files.clone(), flush_rx));
        let (purge_tx, purge_rx) = mpsc::unbounded_channel();
        tokio::spawn(purger(db.clone(), sync.clone(), files.clone(), purge_rx));
        Ok(LogStore {
            db: db.clone(),
            sync,
            reader: LogReader { files },
            meta,
            last,
            flush_tx,
            purge_tx,
            appended: Arc::default(),
        })
    }

    /// The count of encoded bytes appended since the store opened.
    pub(crate) fn appended_bytes(&self) -> Arc<Appended> {
        self.appended.clone()
    }

    fn get_meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StorageError> {
        match self.meta.get(key).map_err(read_err)? {
            Some(v) => Ok(Some(bincode::deserialize(&v).map_err(read_err)?)),
            None => Ok(None),
        }
    }
}

/// Makes everything written to sled so far durable: sled's flush, then [`SledSync`]'s.
async fn flush_sled(db: &sled::Db, sync: &Arc<SledSync>) -> Result<(), String> {
    db.flush_async().await.map_err(|e| e.to_string())?;
    let sync = sync.clone();
    match tokio::task::spawn_blocking(move || sync.sync()).await {
        Ok(res) => res.map_err(|e| format!("syncing the metadata files: {e}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Deletes the log files behind each purge point once sled (the state machine that
/// applied them, and the purge point itself) is durable. A point that fails is tried
/// again with the next one; until then the entries are only hidden, and a restart
/// finishes the purge from the durable purge point.
async fn purger(db: sled::Db, sync: Arc<SledSync>, files: Files, mut rx: mpsc::UnboundedReceiver<u64>) {
    while let Some(mut index) = rx.recv().await {
        while let Ok(later) = rx.try_recv() {
            index = index.max(later);
        }
        if let Err(e) = flush_sled(&db, &sync).await {
            tracing::warn!(error = %e, "raft log: cannot make the metadata durable; the log is kept");
            continue;
        }
        let detached = lock_write(&files).detach(index);
        let res = tokio::task::spawn_blocking(move || detached.delete()).await;
        if let Ok(Err(e)) = res {
            tracing::warn!(error = %e, index, "raft log: cannot delete purged files");
        }
    }
}

/// fdatasync of the current log file, off the async threads.
async fn sync_log(files: &Files) -> Result<(), String> {
    let Some(file) = lock_read(files).current() else { return Ok(()) };
    match tokio::task::spawn_blocking(move || LogFiles::sync(&file)).await {
        Ok(res) => res.map_err(|e| format!("syncing the raft log: {e}")),
        Err(e) => Err(e.to_string()),
    }
}

async fn flusher(files: Files, mut rx: mpsc::UnboundedReceiver<LogFlushed<TypeConfig>>) {
    let mut waiting = Vec::new();
    while let Some(cb) = rx.recv().await {
        waiting.push(cb);
        while let Ok(cb) = rx.try_recv() {
            waiting.push(cb);
        }
        let res = sync_log(&files).await;
        for cb in waiting.drain(..) {
            let r = match &res {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::other(e.clone())),
            };
            cb.log_io_completed(r);
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        self.reader.entries(range)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = self.get_meta(META_LAST_PURGED)?;
        // A partly purged file still holds entries at or below the purge point.
        let last = match (self.last, last_purged) {
            (Some(l), Some(p)) if l.index < p.index => Some(p),
            (Some(l), _) => Some(l),
            (None, p) => p,
        };
        Ok(LogState { last_purged_log_id: last_purged, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> LogReader {
        self.reader.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError> {
        let v = bincode::serialize(vote).map_err(vote_err)?;
        self.meta.insert(META_VOTE, v).map_err(vote_err)?;
        flush_sled(&self.db, &self.sync).await.map_err(|e| vote_err(std::io::Error::other(e)))?;
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError> {
        self.get_meta(META_VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not flushed on its own: it only moves forward over entries that are already
        // durable, and a stale value just means a little re-apply work after a crash.
        let v = bincode::serialize(&committed).map_err(write_err)?;
        self.meta.insert(META_COMMITTED, v).map_err(write_err)?;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.get_meta::<Option<LogId>>(META_COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut records = Vec::new();
        let (mut bytes, mut last) = (0, None);
        for entry in entries {
            let v = bincode::serialize(&entry).map_err(write_err)?;
            bytes += v.len() as u64;
            last = Some(*entry.get_log_id());
            records.push((entry.get_log_id().index, v));
        }
        lock_write(&self.reader.files).append(&records).map_err(write_err)?;
        if let Some(last) = last {
            self.last = Some(last);
            self.appended.add(last.index, bytes);
        }
        if let Err(mpsc::error::SendError(cb)) = self.flush_tx.send(callback) {
            cb.log_io_completed(Err(std::io::Error::other("log flusher stopped")));
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        lock_write(&self.reader.files).truncate(log_id.index).map_err(write_err)?;
        self.last = match log_id.index.checked_sub(1) {
            Some(prev) => self.reader.entries(prev..=prev)?.first().map(|e| *e.get_log_id()),
            None => None,
        };
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // Hidden now; the files go once the state machine that applied these entries is
        // durable (sled is not flushed per apply, and after a crash it is rebuilt from
        // this log): the purger's work.
        let v = bincode::serialize(&log_id).map_err(write_err)?;
        self.meta.insert(META_LAST_PURGED, v).map_err(write_err)?;
        lock_write(&self.reader.files).hide(log_id.index);
        if self.purge_tx.send(log_id.index).is_err() {
            return Err(write_err(std::io::Error::other("log purger stopped")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_machine::StateMachine;
    use crate::trees::SmTrees;
    use openraft::testing::{StoreBuilder, Suite};
    use openraft::{CommittedLeaderId, EntryPayload};

    struct Builder;

    impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
        async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
            let dir = tempfile::tempdir().unwrap();
            let sled_dir = dir.path().join("sled");
            let db = sled::Config::new().path(&sled_dir).open().unwrap();
            let sm = StateMachine::open(SmTrees::open(&db).unwrap(), dir.path().join("snapshots"), 16).unwrap();
            let log = LogStore::open(&db, &sled_dir, &dir.path().join("raft-log")).unwrap();
            Ok((dir, log, sm))
        }
    }

    type Checks = Suite<TypeConfig, LogStore, StateMachine, Builder, tempfile::TempDir>;

    /// openraft's own checks of a log store and state machine, over the real files: all
    /// but `get_initial_state_membership_from_log_and_sm`, which appends index 3 right
    /// after index 1. Raft never leaves a gap, and these files refuse one.
    #[tokio::test(flavor = "multi_thread")]
    async fn passes_openraft_storage_suite() {
        let mut failed = Vec::new();
        macro_rules! check {
            ($($name:ident),* $(,)?) => {$(
                let (_dir, log, sm) = Builder.build().await.unwrap();
                if let Err(e) = Checks::$name(log, sm).await {
                    failed.push(format!("{}: {e}", stringify!($name)));
                }
            )*};
        }
        check!(
            last_membership_in_log_initial,
            last_membership_in_log,
            last_membership_in_log_multi_step,
            get_membership_initial,
            get_membership_from_log_and_empty_sm,
            get_membership_from_empty_log_and_sm,
            get_membership_from_log_le_sm_last_applied,
            get_membership_from_log_gt_sm_last_applied_1,
            get_membership_from_log_gt_sm_last_applied_2,
            get_initial_state_without_init,
            get_initial_state_with_state,
            get_initial_state_last_log_gt_sm,
            get_initial_state_last_log_lt_sm,
            get_initial_state_log_ids,
            get_initial_state_re_apply_committed,
            save_vote,
            get_log_entries,
            limited_get_log_entries,
            try_get_log_entry,
            initial_logs,
            get_log_state,
            get_log_id,
            last_id_in_log,
            last_applied_state,
            purge_logs_upto_0,
            purge_logs_upto_5,
            purge_logs_upto_20,
            delete_logs_since_11,
            delete_logs_since_0,
            append_to_log,
            snapshot_meta,
            apply_single,
            apply_multiple
        );
        assert!(failed.is_empty(), "{failed:#?}");
    }

    fn blank(term: u64, index: u64) -> Entry<TypeConfig> {
        Entry { log_id: LogId::new(CommittedLeaderId::new(term, 1), index), payload: EntryPayload::Blank }
    }

    /// A format-2 store's log (in sled) is moved into the files once, durably.
    #[tokio::test]
    async fn moves_a_log_kept_in_sled_into_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let sled_dir = dir.path().join("sled");
        let db = sled::Config::new().path(&sled_dir).open().unwrap();
        let old = db.open_tree(TREE_LOG).unwrap();
        for i in 4..=9u64 {
            old.insert(i.to_be_bytes(), bincode::serialize(&blank(2, i)).unwrap()).unwrap();
        }
        let mut log = LogStore::open(&db, &sled_dir, &dir.path().join("raft-log")).unwrap();
        assert!(old.is_empty(), "the sled tree is emptied");
        let got = log.try_get_log_entries(0..100).await.unwrap();
        assert_eq!(got.iter().map(|e| e.log_id.index).collect::<Vec<_>>(), (4..=9).collect::<Vec<_>>());
        assert_eq!(log.get_log_state().await.unwrap().last_log_id, Some(blank(2, 9).log_id));
        drop(log);
        // Reopened: nothing imported twice, the log as it was.
        let mut log = LogStore::open(&db, &sled_dir, &dir.path().join("raft-log")).unwrap();
        assert_eq!(log.try_get_log_entries(0..100).await.unwrap().len(), 6);
        assert_eq!(log.get_log_state().await.unwrap().last_log_id, Some(blank(2, 9).log_id));
    }
}
