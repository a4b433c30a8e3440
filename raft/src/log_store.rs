//! The Raft log in sled: entries in `raft_log` keyed by big-endian index; vote,
//! committed and last-purged in `raft_meta`.
//!
//! Durability: `append` inserts the entries (readable at once) and hands the flush
//! callback to one flusher task. The flusher takes every callback queued so far, runs
//! one `flush_async` (which persists all writes made before it started) and then
//! completes those callbacks in order, so appends never block on the disk and
//! concurrent appends share a flush. After sled's flush, [`SledSync`] makes what sled
//! itself leaves unsynced durable (its blob files, its file's size, the device cache).

// `StorageError` is openraft's type, returned by the storage traits themselves.
#![allow(clippy::result_large_err)]

use crate::keys::*;
use crate::sled_sync::SledSync;
use crate::store::log_budget::Appended;
use crate::types::{LogId, StorageError, TypeConfig};
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, Entry, LogState, RaftLogId, RaftLogReader, StorageIOError, Vote};
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
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

/// Reads log entries; cheap to clone.
#[derive(Clone)]
pub struct LogReader {
    log: sled::Tree,
}

impl LogReader {
    fn entries(&self, range: impl RangeBounds<u64>) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(i) => Bound::Included(index_key(*i)),
            Bound::Excluded(i) => Bound::Excluded(index_key(*i)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let end = match range.end_bound() {
            Bound::Included(i) => Bound::Included(index_key(*i)),
            Bound::Excluded(i) => Bound::Excluded(index_key(*i)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let mut out = Vec::new();
        for item in self.log.range::<[u8; 8], _>((start, end)) {
            let (_, v) = item.map_err(read_err)?;
            out.push(bincode::deserialize(&v).map_err(read_err)?);
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
    flush_tx: mpsc::UnboundedSender<LogFlushed<TypeConfig>>,
    /// Encoded bytes of every entry appended since the store opened (what
    /// [`crate::store::log_budget`] snapshots by).
    appended: Arc<Appended>,
}

impl LogStore {
    /// Opens the log trees and starts the flusher task (it ends when the store is dropped).
    /// `sled_dir` is the directory `db` was opened in.
    pub fn open(db: &sled::Db, sled_dir: &std::path::Path) -> Result<LogStore, sled::Error> {
        let log = db.open_tree(TREE_LOG)?;
        let meta = db.open_tree(TREE_RAFT_META)?;
        let sync = Arc::new(SledSync::open(sled_dir)?);
        let (flush_tx, flush_rx) = mpsc::unbounded_channel();
        tokio::spawn(flusher(db.clone(), sync.clone(), flush_rx));
        Ok(LogStore { db: db.clone(), sync, reader: LogReader { log }, meta, flush_tx, appended: Arc::default() })
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

    fn remove_range(&self, range: impl RangeBounds<[u8; 8]>) -> Result<(), StorageError> {
        let mut batch = sled::Batch::default();
        for item in self.reader.log.range(range) {
            let (k, _) = item.map_err(write_err)?;
            batch.remove(k);
        }
        self.reader.log.apply_batch(batch).map_err(write_err)
    }
}

/// sled's flush, then [`SledSync`]'s.
async fn flush(db: &sled::Db, sync: &Arc<SledSync>) -> Result<(), String> {
    db.flush_async().await.map_err(|e| e.to_string())?;
    let sync = sync.clone();
    match tokio::task::spawn_blocking(move || sync.sync()).await {
        Ok(res) => res.map_err(|e| format!("syncing the metadata files: {e}")),
        Err(e) => Err(e.to_string()),
    }
}

async fn flusher(db: sled::Db, sync: Arc<SledSync>, mut rx: mpsc::UnboundedReceiver<LogFlushed<TypeConfig>>) {
    let mut waiting = Vec::new();
    while let Some(cb) = rx.recv().await {
        waiting.push(cb);
        while let Ok(cb) = rx.try_recv() {
            waiting.push(cb);
        }
        let res = flush(&db, &sync).await;
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
        let last = match self.reader.log.last().map_err(read_err)? {
            Some((_, v)) => {
                let e: Entry<TypeConfig> = bincode::deserialize(&v).map_err(read_err)?;
                Some(*e.get_log_id())
            }
            None => last_purged,
        };
        Ok(LogState { last_purged_log_id: last_purged, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> LogReader {
        self.reader.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError> {
        let v = bincode::serialize(vote).map_err(vote_err)?;
        self.meta.insert(META_VOTE, v).map_err(vote_err)?;
        flush(&self.db, &self.sync).await.map_err(|e| vote_err(std::io::Error::other(e)))?;
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
        let mut batch = sled::Batch::default();
        let (mut bytes, mut last) = (0, None);
        for entry in entries {
            let v = bincode::serialize(&entry).map_err(write_err)?;
            bytes += v.len() as u64;
            last = Some(entry.get_log_id().index);
            batch.insert(&index_key(entry.get_log_id().index), v);
        }
        self.reader.log.apply_batch(batch).map_err(write_err)?;
        if let Some(last) = last {
            self.appended.add(last, bytes);
        }
        if let Err(mpsc::error::SendError(cb)) = self.flush_tx.send(callback) {
            cb.log_io_completed(Err(std::io::Error::other("log flusher stopped")));
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.remove_range(index_key(log_id.index)..)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let v = bincode::serialize(&log_id).map_err(write_err)?;
        self.meta.insert(META_LAST_PURGED, v).map_err(write_err)?;
        self.remove_range(..=index_key(log_id.index))
    }
}
