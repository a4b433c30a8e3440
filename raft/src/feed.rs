//! The change feed: what the state machine applied, as typed events, on every node.
//!
//! Every command that changes the tables yields one [`ChangeEvent`]: what changed
//! ([`Change`]), its keys, and its [`Position`] (the Raft log index of its entry and
//! its place among the entry's events). A write that carries a tenant's usage across
//! one of its warning thresholds yields one [`Change::QuotaThreshold`] more per
//! threshold, right after its own. A refused command (a failed condition, a
//! missing bucket) changed nothing and yields nothing. Leaders and followers apply
//! the same entries, so every node produces the same events at the same positions.
//!
//! Events are published once their entry is committed to sled, into a bounded
//! in-memory history ([`FEED_HISTORY`] events) that subscribers read at their own
//! pace. A [`Subscription`] names the position it has seen; it resumes after it
//! without missing or repeating an event, as long as the history still holds the
//! next one. When it does not (the subscriber fell too far behind, or names a
//! position from before this process opened the store), [`FeedError::Gap`] says so
//! explicitly, with the oldest position still available: the subscriber must then
//! re-read the state it mirrors. A snapshot install replaces the state wholesale and
//! is one event, [`Change::SnapshotInstalled`], with the same meaning.
//!
//! The feed never slows apply down: publishing is a push onto the history under a
//! short lock, and a wake-up of the waiting subscribers.

use crate::schema::{Command, CommandResult};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Events the history keeps; older ones are dropped (subscribers behind them get a Gap).
pub const FEED_HISTORY: usize = 65_536;

/// Where an event sits in the applied log: its entry's index, then its place among
/// that entry's events (a command yields one event, and one more per quota warning
/// threshold it carried a tenant across). Positions only grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub index: u64,
    pub seq: u32,
}

impl Position {
    /// The position after every event of entry `index`: resuming after it starts at
    /// the next entry.
    pub fn after_index(index: u64) -> Position {
        Position { index, seq: u32::MAX }
    }
}

/// What one applied command changed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Change {
    BucketCreated {
        bucket: String,
    },
    BucketDeleted {
        bucket: String,
    },
    BucketPolicySet {
        bucket: String,
    },
    BucketAclSet {
        bucket: String,
    },
    /// A new current version of `bucket/key` (a PUT, a copy).
    ObjectPut {
        bucket: String,
        key: String,
        size: u64,
        etag: String,
        /// The new version's id in a versioning-enabled bucket.
        version_id: Option<String>,
    },
    ObjectDeleted {
        bucket: String,
        key: String,
    },
    ObjectAclSet {
        bucket: String,
        key: String,
    },
    /// The rebalancer moved one of the object's blobs; its bytes did not change.
    BlobMoved {
        bucket: String,
        key: String,
        id: u128,
    },
    UploadCreated {
        bucket: String,
        key: String,
        upload_id: String,
    },
    PartPut {
        bucket: String,
        key: String,
        upload_id: String,
        number: u32,
    },
    UploadAborted {
        bucket: String,
        key: String,
        upload_id: String,
    },
    /// A multipart upload became the current version of `bucket/key`.
    UploadCompleted {
        bucket: String,
        key: String,
        upload_id: String,
        size: u64,
        etag: String,
        version_id: Option<String>,
    },
    AccessKeyPut {
        access_key_id: String,
    },
    AccessKeyDeleted {
        access_key_id: String,
    },
    NodeRegistered {
        node_id: u64,
    },
    ServiceStateSet {
        name: String,
    },
    /// The Raft membership changed (a membership entry).
    Membership,
    BucketVersioningSet {
        bucket: String,
    },
    BucketSettingSet {
        bucket: String,
        name: String,
    },
    /// A delete marker became the current version of `bucket/key`.
    DeleteMarkerPut {
        bucket: String,
        key: String,
        version_id: Option<String>,
    },
    /// One version (or marker) of `bucket/key` was removed for good.
    VersionDeleted {
        bucket: String,
        key: String,
        version_id: Option<String>,
    },
    /// A snapshot replaced the whole state up to this position: re-read what you mirror.
    SnapshotInstalled,
    /// Attribute `name` (tags, retention, legal hold) of one version changed; after
    /// the result, `version_id` is the version's own id (`None`: the null version).
    VersionAttrSet {
        bucket: String,
        key: String,
        version_id: Option<String>,
        name: String,
    },
    /// A tenant was created, or its quota or thresholds changed.
    TenantSet {
        id: String,
    },
    TenantDeleted {
        id: String,
    },
    /// The write just before this event carried `tenant`'s usage across one of its
    /// warning thresholds: `percent`% of its byte limit (or, with `objects`, of its
    /// object limit), upward (`rising`) or, after a delete, back below it. `used` is
    /// the usage after the write, `limit` the limit it is measured against.
    QuotaThreshold {
        tenant: String,
        percent: u8,
        objects: bool,
        rising: bool,
        used: u64,
        limit: u64,
    },
    /// Every tenant's usage was sampled for hour `slot` (unix seconds).
    UsageSampled {
        slot: u64,
    },
    /// Asset `id` of `tenant` was registered, with its first version (`version` 1) or
    /// none yet (0).
    AssetCreated {
        tenant: String,
        id: String,
        version: u32,
    },
    /// Version `version` was appended to asset `id`'s chain; a rollback names the
    /// version it repeats.
    AssetVersionAdded {
        tenant: String,
        id: String,
        version: u32,
        rollback_of: Option<u32>,
    },
    /// Asset `id`'s descriptive fields changed, or it went into the trash or out of it.
    AssetUpdated {
        tenant: String,
        id: String,
    },
    /// Asset `id` was purged; the object versions only it pointed at were deleted.
    AssetPurged {
        tenant: String,
        id: String,
    },
    /// Asset `id` of `tenant` was shared with tenant `with`, a share ended, or the
    /// asset was transferred to `with` (then `tenant` is already `with`).
    AssetShared {
        tenant: String,
        id: String,
        with: String,
    },
    /// Annotations of video (`asset`, `version`) were created, changed or deleted:
    /// their ids, in the command's order.
    AnnotationsChanged {
        tenant: String,
        asset: String,
        version: u32,
        ids: Vec<String>,
    },
    /// A tenant's trash retention changed.
    TrashRetentionSet {
        tenant: String,
    },
    /// Video (`asset`, `version`)'s timing was set.
    VideoTimingSet {
        asset: String,
        version: u32,
    },
    /// New current versions of `keys` in `bucket`, in one commit (a batch ingest).
    ObjectsPut {
        bucket: String,
        keys: Vec<String>,
    },
    /// KMS key `id` was created.
    KmsKeyCreated {
        id: String,
    },
    /// KMS key `id` got a new version.
    KmsKeyRotated {
        id: String,
    },
    /// KMS key `id` was enabled or disabled.
    KmsKeyStateSet {
        id: String,
        enabled: bool,
    },
    /// Notification target `target` took some of its queued events.
    EventsDelivered {
        target: String,
    },
    /// A node's disk pools or the cluster's storage classes changed (and with them
    /// the layout's version).
    TiersSet {
        node_id: u64,
    },
    /// One of the object's blobs was rewritten into storage class `class`; its bytes
    /// did not change.
    Transitioned {
        bucket: String,
        key: String,
        class: String,
    },
    /// A node's read counts were added to this many versions' access records.
    ReadsRecorded {
        versions: u32,
    },
}

impl Change {
    /// The change `cmd` makes if it takes effect.
    pub(crate) fn of(cmd: &Command) -> Change {
        match cmd {
            Command::Audited { command, .. } => Change::of(command),
            Command::CreateKmsKey { key } => Change::KmsKeyCreated { id: key.id.clone() },
            Command::RotateKmsKey { id, .. } => Change::KmsKeyRotated { id: id.clone() },
            Command::SetKmsKeyEnabled { id, enabled } => Change::KmsKeyStateSet { id: id.clone(), enabled: *enabled },
            Command::AckEvents { target, .. } => Change::EventsDelivered { target: target.clone() },
            Command::SetTiers { node, .. } => Change::TiersSet { node_id: *node },
            Command::RecordReads { reads, .. } => Change::ReadsRecorded { versions: reads.len() as u32 },
            Command::SwapBlob { bucket, key, class, .. } => {
                Change::Transitioned { bucket: bucket.clone(), key: key.clone(), class: class.clone() }
            }
            Command::CreateBucket { bucket } => Change::BucketCreated { bucket: bucket.name.clone() },
            Command::DeleteBucket { name } => Change::BucketDeleted { bucket: name.clone() },
            Command::PutBucketPolicy { bucket, .. } => Change::BucketPolicySet { bucket: bucket.clone() },
            Command::PutBucketAcl { bucket, .. } => Change::BucketAclSet { bucket: bucket.clone() },
            Command::PutObject { bucket, key, version, .. } => Change::ObjectPut {
                bucket: bucket.clone(),
                key: key.clone(),
                size: version.size,
                etag: version.etag.clone(),
                version_id: None,
            },
            Command::DeleteObject { bucket, key } => Change::ObjectDeleted { bucket: bucket.clone(), key: key.clone() },
            Command::PutObjectAcl { bucket, key, .. } => {
                Change::ObjectAclSet { bucket: bucket.clone(), key: key.clone() }
            }
            Command::MoveBlob { bucket, key, id, .. } => {
                Change::BlobMoved { bucket: bucket.clone(), key: key.clone(), id: *id }
            }
            Command::CreateUpload { upload } => Change::UploadCreated {
                bucket: upload.bucket.clone(),
                key: upload.key.clone(),
                upload_id: upload.upload_id.clone(),
            },
            Command::PutPart { bucket, key, upload_id, part } => Change::PartPut {
                bucket: bucket.clone(),
                key: key.clone(),
                upload_id: upload_id.clone(),
                number: part.number,
            },
            Command::AbortUpload { bucket, key, upload_id } => {
                Change::UploadAborted { bucket: bucket.clone(), key: key.clone(), upload_id: upload_id.clone() }
            }
            Command::CompleteUpload { bucket, key, upload_id, version, .. } => Change::UploadCompleted {
                bucket: bucket.clone(),
                key: key.clone(),
                upload_id: upload_id.clone(),
                size: version.size,
                etag: version.etag.clone(),
                version_id: None,
            },
            Command::PutAccessKey { key } => Change::AccessKeyPut { access_key_id: key.access_key_id.clone() },
            Command::DeleteAccessKey { access_key_id } => {
                Change::AccessKeyDeleted { access_key_id: access_key_id.clone() }
            }
            Command::RegisterNode { node, .. } => Change::NodeRegistered { node_id: node.id },
            Command::PutServiceState { name, .. } => Change::ServiceStateSet { name: name.clone() },
            Command::PutBucketVersioning { bucket, .. } => Change::BucketVersioningSet { bucket: bucket.clone() },
            Command::PutBucketSetting { bucket, name, .. } => {
                Change::BucketSettingSet { bucket: bucket.clone(), name: name.clone() }
            }
            Command::DeleteObjectAt { bucket, key, .. }
            | Command::Expire { bucket, key, action: crate::schema::Expiry::Current { .. }, .. } => {
                Change::ObjectDeleted { bucket: bucket.clone(), key: key.clone() }
            }
            Command::Expire {
                bucket,
                key,
                action:
                    crate::schema::Expiry::Noncurrent { version_id, .. } | crate::schema::Expiry::LoneMarker { version_id },
                ..
            } => Change::VersionDeleted { bucket: bucket.clone(), key: key.clone(), version_id: version_id.clone() },
            Command::DeleteObjectVersion { bucket, key, version_id, .. }
            | Command::DeleteVersionAt { bucket, key, version_id, .. } => {
                Change::VersionDeleted { bucket: bucket.clone(), key: key.clone(), version_id: version_id.clone() }
            }
            Command::PutObjectWith { bucket, key, version, .. } => Change::ObjectPut {
                bucket: bucket.clone(),
                key: key.clone(),
                size: version.size,
                etag: version.etag.clone(),
                version_id: None,
            },
            Command::CreateUploadWith { upload, .. } => Change::UploadCreated {
                bucket: upload.bucket.clone(),
                key: upload.key.clone(),
                upload_id: upload.upload_id.clone(),
            },
            Command::PutVersionAttr { bucket, key, version_id, name, .. } => Change::VersionAttrSet {
                bucket: bucket.clone(),
                key: key.clone(),
                version_id: version_id.clone(),
                name: name.clone(),
            },
            Command::CreateBucketWith { bucket, .. } => Change::BucketCreated { bucket: bucket.name.clone() },
            Command::PutVersionAcl { bucket, key, .. } => {
                Change::ObjectAclSet { bucket: bucket.clone(), key: key.clone() }
            }
            Command::CopyVersion { bucket, key, version, .. } => Change::ObjectPut {
                bucket: bucket.clone(),
                key: key.clone(),
                size: version.size,
                etag: version.etag.clone(),
                version_id: None,
            },
            Command::PutTenant { tenant, .. } => Change::TenantSet { id: tenant.id.clone() },
            Command::DeleteTenant { id } => Change::TenantDeleted { id: id.clone() },
            Command::PutAccessKeyIn { key, .. } => Change::AccessKeyPut { access_key_id: key.access_key_id.clone() },
            Command::SampleUsage { slot, .. } => Change::UsageSampled { slot: *slot },
            Command::PutAsset { asset, .. } => {
                Change::AssetCreated { tenant: asset.tenant.clone(), id: String::new(), version: 0 }
            }
            Command::AddAssetVersion { id, .. } => {
                Change::AssetVersionAdded { tenant: String::new(), id: id.clone(), version: 0, rollback_of: None }
            }
            Command::RollbackAsset { id, to, .. } => {
                Change::AssetVersionAdded { tenant: String::new(), id: id.clone(), version: 0, rollback_of: Some(*to) }
            }
            Command::UpdateAsset { id, .. } | Command::TrashAsset { id, .. } | Command::RestoreAsset { id, .. } => {
                Change::AssetUpdated { tenant: String::new(), id: id.clone() }
            }
            Command::PurgeAsset { id, .. } => Change::AssetPurged { tenant: String::new(), id: id.clone() },
            Command::ShareAsset { id, tenant, .. }
            | Command::RevokeShare { id, tenant, .. }
            | Command::TransferAsset { id, tenant, .. } => {
                Change::AssetShared { tenant: String::new(), id: id.clone(), with: tenant.clone() }
            }
            Command::PutAnnotations { .. } | Command::UpdateAnnotation { .. } | Command::DeleteAnnotation { .. } => {
                Change::AnnotationsChanged { tenant: String::new(), asset: String::new(), version: 0, ids: Vec::new() }
            }
            Command::SetTrashRetention { tenant, .. } => Change::TrashRetentionSet { tenant: tenant.clone() },
            Command::PutObjects { bucket, items } => {
                Change::ObjectsPut { bucket: bucket.clone(), keys: items.iter().map(|i| i.key.clone()).collect() }
            }
            Command::SetVideoTiming { video, .. } => {
                Change::VideoTimingSet { asset: video.asset.clone(), version: video.version }
            }
        }
    }

    /// Fills in what only the result says: the id a versioned write made, and whether
    /// a delete made a marker.
    pub(crate) fn refine(self, result: &CommandResult) -> Change {
        if let (Change::AnnotationsChanged { .. }, CommandResult::Annotations(o)) = (&self, result) {
            return Change::AnnotationsChanged {
                tenant: o.tenant.clone(),
                asset: o.video.asset.clone(),
                version: o.video.version,
                ids: o.items.iter().filter(|(_, replayed)| !replayed).map(|(a, _)| a.id.clone()).collect(),
            };
        }
        if let CommandResult::Asset(o) = result {
            let (tenant, id) = (o.tenant.clone(), o.id.clone());
            return match self {
                Change::AssetCreated { .. } => Change::AssetCreated { tenant, id, version: o.version },
                Change::AssetVersionAdded { rollback_of, .. } => {
                    Change::AssetVersionAdded { tenant, id, version: o.version, rollback_of }
                }
                Change::AssetUpdated { .. } => Change::AssetUpdated { tenant, id },
                Change::AssetPurged { .. } => Change::AssetPurged { tenant, id },
                Change::AssetShared { with, .. } => Change::AssetShared { tenant, id, with },
                other => other,
            };
        }
        let CommandResult::Versioned { version_id: made, delete_marker, .. } = result else {
            return self;
        };
        match self {
            Change::ObjectPut { bucket, key, size, etag, .. } => {
                Change::ObjectPut { bucket, key, size, etag, version_id: made.clone() }
            }
            Change::UploadCompleted { bucket, key, upload_id, size, etag, .. } => {
                Change::UploadCompleted { bucket, key, upload_id, size, etag, version_id: made.clone() }
            }
            Change::ObjectDeleted { bucket, key } if *delete_marker => {
                Change::DeleteMarkerPut { bucket, key, version_id: made.clone() }
            }
            Change::VersionAttrSet { bucket, key, name, .. } => {
                Change::VersionAttrSet { bucket, key, version_id: made.clone(), name }
            }
            other => other,
        }
    }

    /// Whether a command whose change is `self` took effect, given its result.
    pub(crate) fn took_effect(&self, result: &CommandResult) -> bool {
        match (self, result) {
            // Deleting a key that does not exist changes nothing.
            (Change::ObjectDeleted { .. }, CommandResult::Replaced(old)) => old.is_some(),
            (Change::VersionDeleted { .. }, CommandResult::Versioned { delete_marker, freed, .. }) => {
                *delete_marker || !freed.is_empty()
            }
            // An idempotent replay of a registration changes nothing.
            (_, CommandResult::Asset(o)) => !o.replayed,
            (_, CommandResult::Annotations(o)) => o.items.iter().any(|(_, replayed)| !replayed),
            (_, CommandResult::ObjectsPut(_) | CommandResult::KmsVersion(_)) => true,
            (
                _,
                CommandResult::Ok
                | CommandResult::Replaced(_)
                | CommandResult::Discard(_)
                | CommandResult::Versioned { .. },
            ) => true,
            _ => false,
        }
    }
}

/// One applied change at its position.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChangeEvent {
    pub position: Position,
    pub change: Change,
}

/// Why a subscription cannot go on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// Events after `after` are no longer (or never were) in this node's history; the
    /// oldest event it can still deliver comes after `oldest`.
    #[error("change feed: events after {after:?} are no longer held (history starts after {oldest:?})")]
    Gap { after: Position, oldest: Position },
    /// The store this feed belongs to was shut down or replaced (a node that joined a
    /// cluster): subscribe again on the store.
    #[error("change feed closed")]
    Closed,
}

struct History {
    events: VecDeque<Arc<ChangeEvent>>,
    /// Every event after `floor` is in `events` (those at or before it are gone).
    floor: Position,
    /// The last position applied (events or not).
    head: Position,
    capacity: usize,
    closed: bool,
}

/// The feed of one store; cheap to clone.
#[derive(Clone)]
pub struct ChangeFeed {
    history: Arc<Mutex<History>>,
    wake: watch::Sender<Position>,
}

impl ChangeFeed {
    /// A feed whose history starts after `applied` (what the store had applied when
    /// it opened), holding at most `capacity` events.
    pub(crate) fn new(applied: Position, capacity: usize) -> ChangeFeed {
        let history = History {
            events: VecDeque::new(),
            floor: applied,
            head: applied,
            capacity: capacity.max(1),
            closed: false,
        };
        ChangeFeed { history: Arc::new(Mutex::new(history)), wake: watch::channel(applied).0 }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes the events of committed entries, and moves the head to `applied`.
    pub(crate) fn publish(&self, events: Vec<ChangeEvent>, applied: Position) {
        let head = {
            let mut h = self.lock();
            for e in events {
                if e.position <= h.head {
                    continue;
                }
                if h.events.len() == h.capacity {
                    if let Some(old) = h.events.pop_front() {
                        h.floor = old.position;
                    }
                }
                h.head = e.position;
                h.events.push_back(Arc::new(e));
            }
            h.head = h.head.max(applied);
            h.head
        };
        self.wake.send_replace(head);
    }

    /// Ends every subscription with [`FeedError::Closed`] once it has read what is held.
    pub(crate) fn close(&self) {
        let head = {
            let mut h = self.lock();
            h.closed = true;
            h.head
        };
        self.wake.send_replace(head);
    }

    /// The last applied position this feed has seen.
    pub fn head(&self) -> Position {
        self.lock().head
    }

    /// The oldest position a subscription may resume after.
    pub fn oldest(&self) -> Position {
        self.lock().floor
    }

    /// A subscription to every event after `after`, or (None) after the current head.
    /// Fails with [`FeedError::Gap`] if the history no longer holds what follows `after`.
    pub fn subscribe(&self, after: Option<Position>) -> Result<Subscription, FeedError> {
        let h = self.lock();
        let after = after.unwrap_or(h.head);
        if after < h.floor {
            return Err(FeedError::Gap { after, oldest: h.floor });
        }
        let wake = self.wake.subscribe();
        drop(h);
        Ok(Subscription { feed: self.clone(), after, wake })
    }
}

/// A reader of the feed; it remembers the last position it returned.
pub struct Subscription {
    feed: ChangeFeed,
    after: Position,
    wake: watch::Receiver<Position>,
}

impl Subscription {
    /// The position of the last event returned (or the one subscribed after).
    pub fn position(&self) -> Position {
        self.after
    }

    /// Up to `max` events after the last one returned, waiting for at least one.
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<Arc<ChangeEvent>>, FeedError> {
        loop {
            self.wake.borrow_and_update();
            {
                let h = self.feed.lock();
                if self.after < h.floor {
                    return Err(FeedError::Gap { after: self.after, oldest: h.floor });
                }
                let start = h.events.partition_point(|e| e.position <= self.after);
                if start < h.events.len() {
                    let out: Vec<_> = h.events.range(start..).take(max.max(1)).cloned().collect();
                    if let Some(last) = out.last() {
                        self.after = last.position;
                    }
                    return Ok(out);
                }
                if h.closed {
                    return Err(FeedError::Closed);
                }
            }
            if self.wake.changed().await.is_err() {
                return Err(FeedError::Closed);
            }
        }
    }

    /// The next event, waiting for it.
    pub async fn next(&mut self) -> Result<Arc<ChangeEvent>, FeedError> {
        let mut v = self.next_batch(1).await?;
        Ok(v.remove(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(index: u64, seq: u32) -> ChangeEvent {
        ChangeEvent { position: Position { index, seq }, change: Change::ServiceStateSet { name: format!("{index}") } }
    }

    #[tokio::test]
    async fn resumes_without_loss_and_reports_gaps() {
        let feed = ChangeFeed::new(Position::after_index(10), 4);
        let mut a = feed.subscribe(None).unwrap();
        feed.publish(vec![ev(11, 0), ev(11, 1)], Position::after_index(11));
        feed.publish(vec![], Position::after_index(12));
        feed.publish(vec![ev(13, 0)], Position::after_index(13));
        let got: Vec<_> = a.next_batch(10).await.unwrap().iter().map(|e| e.position).collect();
        assert_eq!(
            got,
            [Position { index: 11, seq: 0 }, Position { index: 11, seq: 1 }, Position { index: 13, seq: 0 }]
        );
        // Resuming in the middle of an entry continues inside it.
        let mut b = feed.subscribe(Some(Position { index: 11, seq: 0 })).unwrap();
        assert_eq!(b.next().await.unwrap().position, Position { index: 11, seq: 1 });
        let mut late = feed.subscribe(Some(Position { index: 11, seq: 0 })).unwrap();
        // A waiting subscriber wakes on publish.
        let waiter = tokio::spawn(async move { a.next().await.map(|e| e.position) });
        tokio::task::yield_now().await;
        feed.publish(vec![ev(14, 0), ev(14, 1), ev(15, 0)], Position::after_index(15));
        assert_eq!(waiter.await.unwrap().unwrap(), Position { index: 14, seq: 0 });
        // Capacity 4: 11/0 and 11/1 fell out. b stood at 11/1 and loses nothing; a
        // subscriber still at 11/0 must hear of the gap.
        assert_eq!(b.next().await.unwrap().position, Position { index: 13, seq: 0 });
        assert_eq!(feed.oldest(), Position { index: 11, seq: 1 });
        assert_eq!(
            late.next().await.unwrap_err(),
            FeedError::Gap { after: Position { index: 11, seq: 0 }, oldest: Position { index: 11, seq: 1 } }
        );
        assert!(matches!(feed.subscribe(Some(Position::after_index(9))), Err(FeedError::Gap { .. })));
        assert!(feed.subscribe(Some(feed.oldest())).is_ok());
        // Replayed or stale events are never published twice.
        feed.publish(vec![ev(14, 0)], Position::after_index(15));
        let mut c = feed.subscribe(Some(Position::after_index(13))).unwrap();
        let all: Vec<_> = c.next_batch(10).await.unwrap().iter().map(|e| e.position).collect();
        assert_eq!(all.len(), 3);
        feed.close();
        assert_eq!(c.next().await.unwrap_err(), FeedError::Closed);
    }
}
