//! Bucket event notifications, queued in the metadata: a bucket's notification rules
//! (the bucket setting [`SETTING`], bincode([`NotifyConfig`])), and, per target, a
//! queue of the events they matched, appended in the same transaction as the change
//! that made them, in commit order. The queue is the persistent backlog: a target that
//! is down costs a write one queue record, never a wait, and the leader's deliverer
//! (`node/src/notify/`) sends from it and acknowledges ([`Command::AckEvents`]) what the
//! target took, so an event is delivered at least once across restarts and leader
//! changes. A queue holds at most [`MAX_QUEUED`] events: past that the oldest is
//! dropped and counted ([`QueueState::dropped`]).
//!
//! | tree | key | value |
//! |---|---|---|
//! | `sm_notify` | `0<target>` | bincode([`QueueState`]) |
//! | `sm_notify` | `[len: u8]<target>[seq: u64 BE]` | bincode([`QueuedEvent`]) |

use crate::error::MetaError;
use crate::feed::Change;
use crate::keys::setting_key;
use crate::schema::{Command, CommandResult, Nanos};
use crate::tables::Table;
use crate::tx::Tx;
use serde::{Deserialize, Serialize};

/// The bucket setting that holds a bucket's [`NotifyConfig`].
pub const SETTING: &str = "notification";
/// Events a target's queue holds at most.
pub const MAX_QUEUED: u64 = 100_000;

/// A bucket's notification rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyConfig {
    pub rules: Vec<NotifyRule>,
}

/// Events of some types, on keys with a prefix and suffix, go to a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyRule {
    pub id: String,
    /// A target configured on the nodes, by name.
    pub target: String,
    /// S3 event types: `s3:ObjectCreated:*`, `s3:ObjectRemoved:Delete`, ...
    pub events: Vec<String>,
    pub prefix: String,
    pub suffix: String,
}

/// One event waiting for its target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedEvent {
    /// Where the change sits in the log (its order: the event's sequencer).
    pub index: u64,
    pub seq: u32,
    /// When the change was made, as its command says (0 when it says nothing).
    pub time: Nanos,
    /// `ObjectCreated:Put`, `ObjectRemoved:DeleteMarkerCreated`, ... (no `s3:`).
    pub name: String,
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub version_id: Option<String>,
    /// The rule's id (S3's `configurationId`).
    pub rule: String,
}

/// A target's queue: events `first..next` are waiting.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueState {
    pub first: u64,
    pub next: u64,
    /// Dropped, oldest first, because the queue was full.
    pub dropped: u64,
    /// Acknowledged by the target.
    pub delivered: u64,
}

impl QueueState {
    pub fn queued(&self) -> u64 {
        self.next - self.first
    }
}

/// Whether a rule's event type (`s3:ObjectCreated:*` or exact) takes `name`.
pub fn event_matches(pattern: &str, name: &str) -> bool {
    let Some(p) = pattern.strip_prefix("s3:") else { return false };
    match p.strip_suffix('*') {
        Some(head) => name.starts_with(head),
        None => p == name,
    }
}

/// A queue's state: `0` and the target's name (names are never empty, so no event
/// key starts with `0`).
pub(crate) fn state_key(target: &str) -> Option<Vec<u8>> {
    u8::try_from(target.len()).ok().filter(|&l| l > 0)?;
    let mut k = vec![0];
    k.extend_from_slice(target.as_bytes());
    Some(k)
}

/// Every queue state's key starts with this.
pub(crate) const STATE_PREFIX: [u8; 1] = [0];

pub(crate) fn event_key(target: &str, seq: u64) -> Option<Vec<u8>> {
    let len = u8::try_from(target.len()).ok().filter(|&l| l > 0)?;
    let mut k = vec![len];
    k.extend_from_slice(target.as_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    Some(k)
}

/// What the events of a command are named after: a lifecycle rule's removals are
/// `LifecycleExpiration:*` events, as S3 names them, not `ObjectRemoved:*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    pub time: Nanos,
    pub lifecycle: bool,
}

/// When a command says its change was made (0 when it says nothing), and whether a
/// lifecycle rule made it.
pub(crate) fn origin(cmd: &Command) -> Origin {
    Origin { time: command_time(cmd), lifecycle: matches!(cmd, Command::Expire { .. }) }
}

fn command_time(cmd: &Command) -> Nanos {
    match cmd {
        Command::Audited { command, .. } => command_time(command),
        Command::PutObject { version, .. }
        | Command::PutObjectWith { version, .. }
        | Command::CompleteUpload { version, .. }
        | Command::CopyVersion { version, .. } => version.last_modified,
        Command::DeleteObjectAt { at, .. } | Command::DeleteVersionAt { at, .. } | Command::Expire { at, .. } => *at,
        Command::PutObjects { items, .. } => items.first().map_or(0, |i| i.version.last_modified),
        _ => 0,
    }
}

/// One S3 event of a change: (name, bucket, key, size, etag, version id).
type EventOf<'a> = (&'static str, &'a str, &'a str, u64, &'a str, Option<&'a str>);

/// The S3 events `change` makes.
fn events_of(change: &Change) -> Vec<EventOf<'_>> {
    match change {
        Change::ObjectPut { bucket, key, size, etag, version_id } => {
            vec![("ObjectCreated:Put", bucket, key, *size, etag, version_id.as_deref())]
        }
        Change::UploadCompleted { bucket, key, size, etag, version_id, .. } => {
            vec![("ObjectCreated:CompleteMultipartUpload", bucket, key, *size, etag, version_id.as_deref())]
        }
        Change::ObjectsPut { bucket, keys } => {
            keys.iter().map(|k| ("ObjectCreated:Put", bucket.as_str(), k.as_str(), 0, "", None)).collect()
        }
        Change::ObjectDeleted { bucket, key } => vec![("ObjectRemoved:Delete", bucket, key, 0, "", None)],
        Change::DeleteMarkerPut { bucket, key, version_id } => {
            vec![("ObjectRemoved:DeleteMarkerCreated", bucket, key, 0, "", version_id.as_deref())]
        }
        Change::VersionDeleted { bucket, key, version_id } => {
            vec![("ObjectRemoved:Delete", bucket, key, 0, "", version_id.as_deref())]
        }
        Change::Transitioned { bucket, key, .. } => vec![("LifecycleTransition", bucket, key, 0, "", None)],
        _ => Vec::new(),
    }
}

/// Queues the events `change` (at `index`, `seq`, made by a command of `origin`) makes
/// for the targets of its bucket's rules.
pub(crate) fn enqueue(tx: &mut Tx, change: &Change, index: u64, seq: u32, origin: Origin) -> Result<(), MetaError> {
    let mut events = events_of(change);
    if origin.lifecycle {
        for e in &mut events {
            e.0 = match e.0 {
                "LifecycleTransition" => "LifecycleTransition",
                "ObjectRemoved:DeleteMarkerCreated" => "LifecycleExpiration:DeleteMarkerCreated",
                _ => "LifecycleExpiration:Delete",
            };
        }
    }
    let time = origin.time;
    let Some((_, bucket, ..)) = events.first() else { return Ok(()) };
    let Some(config) =
        setting_key(bucket, SETTING).map(|k| tx.read::<NotifyConfig>(Table::BucketSettings, &k)).transpose()?.flatten()
    else {
        return Ok(());
    };
    for (name, bucket, key, size, etag, version_id) in events {
        for rule in &config.rules {
            let wanted = rule.events.iter().any(|e| event_matches(e, name))
                && key.starts_with(&rule.prefix)
                && key.ends_with(&rule.suffix);
            if !wanted {
                continue;
            }
            let event = QueuedEvent {
                index,
                seq,
                time,
                name: name.to_string(),
                bucket: bucket.to_string(),
                key: key.to_string(),
                size,
                etag: etag.to_string(),
                version_id: version_id.map(str::to_string),
                rule: rule.id.clone(),
            };
            push(tx, &rule.target, &event)?;
        }
    }
    Ok(())
}

fn push(tx: &mut Tx, target: &str, event: &QueuedEvent) -> Result<(), MetaError> {
    let Some(sk) = state_key(target) else { return Ok(()) };
    let mut st: QueueState = tx.read(Table::Notify, &sk)?.unwrap_or_default();
    if st.queued() >= MAX_QUEUED {
        if let Some(k) = event_key(target, st.first) {
            tx.remove(Table::Notify, k);
        }
        st.first += 1;
        st.dropped += 1;
    }
    if let Some(k) = event_key(target, st.next) {
        tx.write(Table::Notify, k, event)?;
    }
    st.next += 1;
    tx.write(Table::Notify, sk, &st)
}

/// `Command::AckEvents`: the target took every event up to `upto` (a sequence number).
pub(crate) fn ack(tx: &mut Tx, target: String, upto: u64) -> Result<CommandResult, MetaError> {
    let Some(sk) = state_key(&target) else { return Ok(CommandResult::Ok) };
    let Some(mut st) = tx.read::<QueueState>(Table::Notify, &sk)? else { return Ok(CommandResult::Ok) };
    let end = upto.saturating_add(1).min(st.next);
    for seq in st.first..end {
        if let Some(k) = event_key(&target, seq) {
            tx.remove(Table::Notify, k);
        }
    }
    if end > st.first {
        st.delivered += end - st.first;
        st.first = end;
        tx.write(Table::Notify, sk, &st)?;
    }
    Ok(CommandResult::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_match_as_s3_names_them() {
        assert!(event_matches("s3:ObjectCreated:*", "ObjectCreated:Put"));
        assert!(event_matches("s3:ObjectCreated:*", "ObjectCreated:CompleteMultipartUpload"));
        assert!(event_matches("s3:ObjectRemoved:DeleteMarkerCreated", "ObjectRemoved:DeleteMarkerCreated"));
        assert!(!event_matches("s3:ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated"));
        assert!(!event_matches("s3:ObjectCreated:*", "ObjectRemoved:Delete"));
        assert!(!event_matches("ObjectCreated:*", "ObjectCreated:Put"), "the s3: prefix is part of the name");
        assert!(event_matches("s3:LifecycleExpiration:*", "LifecycleExpiration:Delete"));
        assert!(!event_matches("s3:ObjectRemoved:*", "LifecycleExpiration:Delete"));
    }
}
