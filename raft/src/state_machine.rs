//! The state machine handed to openraft: applies entries through [`crate::apply`]
//! into a [`Tx`], commits it, publishes what changed on the [`ChangeFeed`], and
//! builds and installs snapshots through [`crate::snapshot`].
//!
//! Apply is deterministic and atomic: the commands of all entries in one `apply`
//! call (at most [`COMMIT_EVERY`] entries or [`COMMIT_BYTES`] of overlay per commit)
//! are evaluated against the overlay, then written with `last_applied` in one sled
//! transaction. Events are published only after their commit.

use crate::apply;
use crate::error::MetaError;
use crate::feed::{Change, ChangeEvent, ChangeFeed, Position};
use crate::keys::*;
use crate::snapshot::{self, io_err, now_nanos, sync_dir};
use crate::trees::SmTrees;
use crate::tx::Tx;
use crate::types::{BatchResponse, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{AnyError, Entry, EntryPayload, RaftSnapshotBuilder, StorageIOError};
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::AsyncSeekExt;

/// Entries applied per sled transaction at most.
const COMMIT_EVERY: usize = 512;
/// Overlay bytes per sled transaction at most.
const COMMIT_BYTES: usize = 16 << 20;

fn sm_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_state_machine(AnyError::new(&e)).into()
}

fn snap_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_snapshot(None, AnyError::new(&e)).into()
}

/// The state machine handed to openraft.
pub struct StateMachine {
    trees: SmTrees,
    snap_dir: PathBuf,
    feed: ChangeFeed,
    /// Held by apply, install, and snapshot building while it opens its view.
    lock: Arc<tokio::sync::Mutex<()>>,
    /// Held by snapshot building and install (one at a time; taken before `lock`).
    build: Arc<tokio::sync::Mutex<()>>,
}

impl StateMachine {
    /// Opens the state machine; finishes an interrupted snapshot install first, and
    /// rebuilds derived tables that are not current.
    pub(crate) fn open(trees: SmTrees, snap_dir: PathBuf, feed_history: usize) -> Result<StateMachine, MetaError> {
        std::fs::create_dir_all(&snap_dir).map_err(io_err)?;
        if let Ok(rd) = std::fs::read_dir(&snap_dir) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().ends_with(".tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        if trees.meta.get(SM_INSTALLING)?.is_some() {
            tracing::warn!("finishing an interrupted snapshot install");
            snapshot::load(&trees, &snap_dir.join(snapshot::CURRENT))?;
        }
        trees.rebuild_derived(false)?;
        let applied = Position::after_index(trees.last_applied()?.map_or(0, |l| l.index));
        let feed = ChangeFeed::new(applied, feed_history);
        Ok(StateMachine { trees, snap_dir, feed, lock: Arc::default(), build: Arc::default() })
    }

    /// Waits while a snapshot's view holds more pre-images than its budget.
    async fn wait_for_view_budget(&self) {
        if self.trees.frozen.over_budget() {
            tracing::warn!("apply waits for a snapshot build: its view reached its memory budget");
            while self.trees.frozen.over_budget() {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    }

    /// The feed of what this state machine applies.
    pub(crate) fn feed(&self) -> ChangeFeed {
        self.feed.clone()
    }
}

/// Builds snapshots from a view of the tables ([`crate::frozen`]): the apply lock is
/// held only while the view opens, so writes go on while the snapshot streams.
pub struct SnapshotBuilder {
    trees: SmTrees,
    snap_dir: PathBuf,
    lock: Arc<tokio::sync::Mutex<()>>,
    build: Arc<tokio::sync::Mutex<()>>,
}

/// Nice value of the thread that builds a snapshot (0 is normal, 19 the lowest).
const SNAPSHOT_NICE: i32 = 10;

/// Lowers the calling thread's CPU priority (on Linux a nice value is per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority has no memory effects; 0 names the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, SNAPSHOT_NICE);
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let building = self.build.clone().lock_owned().await;
        let meta = {
            let _apply = self.lock.lock().await;
            let meta = snapshot::meta_now(&self.trees).map_err(snap_err)?;
            self.trees.frozen.open();
            meta
        };
        let trees = self.trees.clone();
        let dir = self.snap_dir.clone();
        let m = meta.clone();
        // A thread of its own at a lower CPU priority: the walk reads and writes the
        // whole state, and requests should not wait behind it on a small machine.
        let (done, result) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("snapshot-build".into())
            .spawn(move || {
                lower_priority();
                let r = snapshot::write(&trees, &dir, &m);
                drop(building);
                let _ = done.send(r);
            })
            .map_err(snap_err)?;
        let file = result.await.map_err(snap_err)?.map_err(snap_err)?;
        Ok(Snapshot { meta, snapshot: Box::new(tokio::fs::File::from_std(file)) })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let la = self.trees.last_applied().map_err(sm_err)?;
        let m = self.trees.membership().map_err(sm_err)?;
        Ok((la, m))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<BatchResponse>, StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let _guard = self.lock.lock().await;
        let mut tx = Tx::new(&self.trees);
        let mut out = Vec::new();
        let mut events = Vec::new();
        let mut last: Option<LogId> = None;
        let mut membership: Option<StoredMembership> = None;
        let mut uncommitted = 0usize;
        for entry in entries {
            let log_id = entry.log_id;
            let resp = match entry.payload {
                EntryPayload::Blank => BatchResponse::default(),
                EntryPayload::Normal(batch) => {
                    let mut rs = Vec::with_capacity(batch.0.len());
                    let mut event_seq = 0u32;
                    for (seq, cmd) in batch.0.into_iter().enumerate() {
                        let change = Change::of(&cmd);
                        let origin = crate::notify::origin(&cmd);
                        tx.at = (log_id.index, seq as u32);
                        let apply_err = |e: MetaError| StorageIOError::apply(log_id, AnyError::new(&e));
                        let r = apply::apply(&mut tx, cmd).map_err(apply_err)?;
                        if change.took_effect(&r) {
                            let warnings = crate::quota::crossings(&tx).map_err(apply_err)?;
                            for change in std::iter::once(change.refine(&r)).chain(warnings) {
                                if let Change::QuotaThreshold { tenant, percent, objects, rising, used, limit } =
                                    &change
                                {
                                    let what = if *objects { "object" } else { "byte" };
                                    let way = if *rising { "reached" } else { "fell below" };
                                    tracing::warn!(%tenant, used, limit, "tenant {tenant} {way} {percent}% of its {what} quota");
                                }
                                let position = Position { index: log_id.index, seq: event_seq };
                                crate::notify::enqueue(&mut tx, &change, log_id.index, event_seq, origin)
                                    .map_err(apply_err)?;
                                events.push(ChangeEvent { position, change });
                                event_seq += 1;
                            }
                        }
                        rs.push(r);
                    }
                    BatchResponse(rs)
                }
                EntryPayload::Membership(m) => {
                    membership = Some(StoredMembership::new(Some(log_id), m));
                    events.push(ChangeEvent {
                        position: Position { index: log_id.index, seq: 0 },
                        change: Change::Membership,
                    });
                    BatchResponse::default()
                }
            };
            out.push(resp);
            last = Some(log_id);
            uncommitted += 1;
            if uncommitted >= COMMIT_EVERY || tx.bytes >= COMMIT_BYTES {
                self.wait_for_view_budget().await;
                tx.commit(log_id, membership.take().as_ref())
                    .map_err(|e| StorageIOError::apply(log_id, AnyError::new(&e)))?;
                self.feed.publish(std::mem::take(&mut events), Position::after_index(log_id.index));
                uncommitted = 0;
            }
        }
        if let (Some(log_id), true) = (last, uncommitted > 0) {
            self.wait_for_view_budget().await;
            tx.commit(log_id, membership.as_ref()).map_err(|e| StorageIOError::apply(log_id, AnyError::new(&e)))?;
            self.feed.publish(events, Position::after_index(log_id.index));
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            trees: self.trees.clone(),
            snap_dir: self.snap_dir.clone(),
            lock: self.lock.clone(),
            build: self.build.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let path = self.snap_dir.join(format!("recv-{}.tmp", now_nanos()));
        let f = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .map_err(snap_err)?;
        Ok(Box::new(f))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        let _building = self.build.lock().await;
        let _guard = self.lock.lock().await;
        let mut src = *snapshot;
        src.seek(std::io::SeekFrom::Start(0)).await.map_err(snap_err)?;
        let tmp = self.snap_dir.join(format!("install-{}.tmp", now_nanos()));
        let mut dst = tokio::fs::File::create(&tmp).await.map_err(snap_err)?;
        tokio::io::copy(&mut src, &mut dst).await.map_err(snap_err)?;
        dst.sync_all().await.map_err(snap_err)?;
        drop(dst);
        drop(src);
        let cur = self.snap_dir.join(snapshot::CURRENT);
        tokio::fs::rename(&tmp, &cur).await.map_err(snap_err)?;
        let trees = self.trees.clone();
        let dir = self.snap_dir.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            sync_dir(&dir);
            snapshot::load(&trees, &cur)
        })
        .await
        .map_err(snap_err)?
        .map_err(snap_err)?;
        if loaded.snapshot_id != meta.snapshot_id {
            tracing::warn!(expected = %meta, got = %loaded, "installed snapshot id differs from meta");
        }
        let index = loaded.last_log_id.map_or(0, |l| l.index);
        let event = ChangeEvent { position: Position { index, seq: 0 }, change: Change::SnapshotInstalled };
        self.feed.publish(vec![event], Position::after_index(index));
        if let Ok(mut rd) = tokio::fs::read_dir(&self.snap_dir).await {
            while let Ok(Some(e)) = rd.next_entry().await {
                if e.file_name().to_string_lossy().starts_with("recv-") {
                    let _ = tokio::fs::remove_file(e.path()).await;
                }
            }
        }
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let path = self.snap_dir.join(snapshot::CURRENT);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(snap_err(e)),
        };
        let mut r = BufReader::new(&file);
        let meta = snapshot::read_header(&mut r).map_err(snap_err)?;
        drop(r);
        let mut f = tokio::fs::File::from_std(file);
        f.seek(std::io::SeekFrom::Start(0)).await.map_err(snap_err)?;
        Ok(Some(Snapshot { meta, snapshot: Box::new(f) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{
        AccessKey, BucketInfo, Command, CommandResult, MultipartUpload, NodeEntry, ObjectData, ObjectVersion, PartRef,
    };
    use crate::snapshot::{read_header, CURRENT as SNAP_CURRENT};
    use crate::tables::{self, Table};
    use crate::MetaStore;
    use std::time::Duration;

    fn version(etag: &str) -> ObjectVersion {
        ObjectVersion {
            version_id: None,
            size: 1,
            etag: etag.into(),
            last_modified: 1,
            content_type: None,
            content_encoding: None,
            content_disposition: None,
            content_language: None,
            cache_control: None,
            expires: None,
            user_meta: Default::default(),
            checksums: Default::default(),
            owner: "o".into(),
            data: ObjectData::Inline(vec![7; 10]),
            acl: Default::default(),
        }
    }

    fn dump(t: &SmTrees) -> Vec<(u8, Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        for (table, tag) in tables::data_tables() {
            for item in t.tree(table).iter() {
                let (k, v) = item.unwrap();
                out.push((tag, k.to_vec(), v.to_vec()));
            }
        }
        out
    }

    /// A fresh state machine in `dir` that has received and installed the snapshot
    /// file at `path`; returns it with its tables and the snapshot's meta.
    async fn install_into(dir: &std::path::Path, path: &std::path::Path) -> (StateMachine, SmTrees, SnapshotMeta) {
        let (mut sm, trees) = fresh(dir);
        let meta = install(&mut sm, path).await;
        (sm, trees, meta)
    }

    fn fresh(dir: &std::path::Path) -> (StateMachine, SmTrees) {
        let db = sled::open(dir.join("sled")).unwrap();
        let trees = SmTrees::open(&db).unwrap();
        (StateMachine::open(trees.clone(), dir.join("snapshots"), 16).unwrap(), trees)
    }

    async fn install(sm: &mut StateMachine, path: &std::path::Path) -> SnapshotMeta {
        let meta = read_header(&mut std::fs::File::open(path).unwrap()).unwrap();
        let mut recv = sm.begin_receiving_snapshot().await.unwrap();
        let mut src = tokio::fs::File::open(path).await.unwrap();
        tokio::io::copy(&mut src, &mut *recv).await.unwrap();
        sm.install_snapshot(&meta, recv).await.unwrap();
        meta
    }

    /// Build a snapshot on a live store, install it into a fresh state machine, then
    /// simulate a crash in the middle of an install and recover on open.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn snapshot_build_install_round_trip() {
        let a = tempfile::tempdir().unwrap();
        let store = MetaStore::open(a.path(), 1).await.unwrap();
        store
            .propose(Command::CreateBucket {
                bucket: BucketInfo {
                    name: "b".into(),
                    owner: "o".into(),
                    created: 1,
                    acl: Default::default(),
                    policy: Some("{}".into()),
                },
            })
            .await
            .unwrap();
        for i in 0..50 {
            let cmd = Command::PutObject {
                bucket: "b".into(),
                key: format!("k/{i}"),
                version: version(&format!("e{i}")),
                condition: None,
            };
            store.propose(cmd).await.unwrap();
        }
        let key = AccessKey {
            access_key_id: "AK".into(),
            sealed_secret: b"s".to_vec(),
            name: "n".into(),
            is_root: true,
            created: 1,
            admin: true,
        };
        store.propose(Command::PutAccessKey { key }).await.unwrap();
        let node = NodeEntry { id: 1, addr: "a".into(), s3_addr: "s".into(), disks: 4, first_disk: 0 };
        let cmd = Command::RegisterNode { node, data_shards: 2, parity_shards: 2 };
        assert_eq!(store.propose(cmd).await.unwrap(), CommandResult::Ok);
        let upload = MultipartUpload {
            upload_id: "u1".into(),
            bucket: "b".into(),
            key: "big\0key".into(),
            initiated: 5,
            checksum_algorithm: None,
            template: version("t"),
        };
        assert_eq!(store.propose(Command::CreateUpload { upload }).await.unwrap(), CommandResult::Ok);
        for number in [1, 2] {
            let part = PartRef {
                number,
                size: 10,
                etag: format!("p{number}"),
                checksum: None,
                last_modified: 6,
                data: ObjectData::Inline(vec![number as u8; 10]),
            };
            let cmd = Command::PutPart { bucket: "b".into(), key: "big\0key".into(), upload_id: "u1".into(), part };
            assert_eq!(store.propose(cmd).await.unwrap(), CommandResult::Discard(vec![]));
        }
        let last = store.metrics().last_applied.unwrap().index;
        store.raft().trigger().snapshot().await.unwrap();
        store
            .raft()
            .wait(Some(Duration::from_secs(10)))
            .metrics(|m| m.snapshot.is_some_and(|s| s.index >= last), "snapshot")
            .await
            .unwrap();
        let snap_path = a.path().join("snapshots").join(SNAP_CURRENT);
        let meta = read_header(&mut std::fs::File::open(&snap_path).unwrap()).unwrap();
        // Metrics may trail the apply by a moment.
        assert!(meta.last_log_id.unwrap().index >= last);

        let b = tempfile::tempdir().unwrap();
        let (mut sm, trees) = fresh(b.path());
        // Stale state that the install must replace.
        trees.tree(Table::Objects).insert(b"stale", b"x".to_vec()).unwrap();
        trees.tree(Table::Parts).insert(b"stale", b"x".to_vec()).unwrap();
        trees.tree(Table::Cluster).insert(b"stale", b"x".to_vec()).unwrap();
        assert_eq!(install(&mut sm, &snap_path).await, meta);

        let (applied, membership) = sm.applied_state().await.unwrap();
        assert_eq!(applied, meta.last_log_id);
        assert_eq!(membership, meta.last_membership);
        let a_trees = SmTrees::open(&sled_of(&store)).unwrap();
        let expected = dump(&a_trees);
        assert_eq!(expected.len(), 56);
        assert_eq!(expected.iter().filter(|r| r.0 == 7).count(), 1, "the layout travels in snapshots");
        assert_eq!(expected.iter().filter(|r| r.0 == 5).count(), 1);
        assert_eq!(expected.iter().filter(|r| r.0 == 6).count(), 2);
        assert_eq!(dump(&trees), expected);
        let cur = sm.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(cur.meta, meta);
        store.shutdown().await.unwrap();

        // Crash in the middle of an install: marker set, trees half cleared.
        trees.meta.insert(SM_INSTALLING, &b"1"[..]).unwrap();
        trees.tree(Table::Objects).clear().unwrap();
        trees.tree(Table::Uploads).clear().unwrap();
        drop(sm);
        let _sm = StateMachine::open(trees.clone(), b.path().join("snapshots"), 16).unwrap();
        assert!(trees.meta.get(SM_INSTALLING).unwrap().is_none());
        assert_eq!(dump(&trees), expected);
    }

    /// Snapshots built while writes go on hold exactly the state of their applied
    /// index: the objects written one after another form a prefix of the sequence.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_built_during_writes_is_the_state_of_its_index() {
        let a = tempfile::tempdir().unwrap();
        let store = Arc::new(MetaStore::open(a.path(), 1).await.unwrap());
        let bucket =
            BucketInfo { name: "b".into(), owner: "o".into(), created: 1, acl: Default::default(), policy: None };
        store.propose(Command::CreateBucket { bucket }).await.unwrap();
        const N: usize = 3000;
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..N {
                    let cmd = Command::PutObject {
                        bucket: "b".into(),
                        key: format!("k/{i:05}"),
                        version: version(&format!("e{i}")),
                        condition: None,
                    };
                    store.propose(cmd).await.unwrap();
                }
            })
        };
        let snap_path = a.path().join("snapshots").join(SNAP_CURRENT);
        let mut checked = 0;
        let mut offset = None;
        while !writer.is_finished() {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let last = store.metrics().last_applied.unwrap().index;
            store.raft().trigger().snapshot().await.unwrap();
            store
                .raft()
                .wait(Some(Duration::from_secs(20)))
                .metrics(|m| m.snapshot.is_some_and(|s| s.index >= last), "snapshot")
                .await
                .unwrap();
            let copy = a.path().join(format!("copy-{checked}.snap"));
            std::fs::copy(&snap_path, &copy).unwrap();
            let b = tempfile::tempdir().unwrap();
            let (_sm, trees, meta) = install_into(b.path(), &copy).await;
            let mut numbers: Vec<usize> = trees
                .tree(Table::Objects)
                .iter()
                .map(|r| {
                    let (k, _) = r.unwrap();
                    let k = String::from_utf8_lossy(&k).into_owned();
                    let at = k.find("k/").expect("an object key");
                    k[at + 2..at + 7].parse().unwrap()
                })
                .collect();
            numbers.sort();
            let m = numbers.len();
            assert_eq!(numbers, (0..m).collect::<Vec<_>>(), "snapshot {checked} holds a prefix of the writes");
            // One entry per object after the same few (membership, blank, bucket): a
            // snapshot holding writes past its index would break the difference.
            let before_objects = meta.last_log_id.unwrap().index as usize - m;
            assert_eq!(*offset.get_or_insert(before_objects), before_objects, "{meta}: {m} objects");
            checked += 1;
        }
        writer.await.unwrap();
        assert!(checked >= 2, "snapshots built while writing: {checked}");
        Arc::try_unwrap(store).ok().unwrap().shutdown().await.unwrap();
    }

    /// Snapshots built by earlier cairnds install into this state machine: format 2's
    /// (commit 0876dae, before the table registry) and format 3's (fa974a8; the
    /// snapshot's encoding did not change, only where the log lives), both
    /// `tests/fixtures/formatN.snap`, made by `scripts/fixtures/make-upgrade-fixture.sh`.
    /// Their buckets, keys and layout land in their tables, derived tables are rebuilt
    /// from them, and subscribers hear that the state was replaced.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn snapshots_of_earlier_formats_install() {
        for name in ["format2.snap", "format3.snap"] {
            let snap = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name);
            let dir = tempfile::tempdir().unwrap();
            let (mut sm, trees) = fresh(dir.path());
            let mut feed = sm.feed().subscribe(None).unwrap();
            let meta = install(&mut sm, &snap).await;
            assert_eq!(sm.applied_state().await.unwrap().0, meta.last_log_id);

            let bucket = |name: &str| -> Option<BucketInfo> {
                trees.tree(Table::Buckets).get(name).unwrap().map(|v| bincode::deserialize(&v).unwrap())
            };
            assert!(bucket("fixture").is_some());
            assert!(bucket("with-policy").is_some());
            let root: AccessKey =
                bincode::deserialize(&trees.tree(Table::Keys).get("FIXTUREROOTKEY000001").unwrap().unwrap()).unwrap();
            assert!(root.is_root);
            let layout = trees.layout().unwrap();
            assert_eq!((layout.data_shards, layout.parity_shards, layout.disk_count()), (2, 2, 4));
            // Derived tables rebuilt from what the snapshot holds.
            let objects = trees.tree(Table::Objects).len() as u64;
            let mut counted = 0;
            for item in trees.tree(Table::Usage).iter() {
                counted += bincode::deserialize::<crate::usage::BucketUsage>(&item.unwrap().1).unwrap().objects;
            }
            assert_eq!(counted, objects);
            for (table, _) in tables::data_tables() {
                eprintln!("{table:?}: {} records", trees.tree(table).len());
            }
            let e = feed.next().await.unwrap();
            assert_eq!(e.change, Change::SnapshotInstalled);
            assert_eq!(e.position.index, meta.last_log_id.unwrap().index);
        }
    }

    fn sled_of(store: &MetaStore) -> sled::Db {
        store.sled_db()
    }
}
