//! Tiering by access: a bucket's rule (the bucket setting [`SETTING`], JSON) moves a
//! current version that has not been read for some days down to a colder storage
//! class, and one read often enough lately back up.
//!
//! Reads are counted on the node that serves them ([`Store::note_read`]: memory only,
//! bounded by [`MAX_PENDING`] versions) and committed in batches by
//! [`Store::flush_reads`] (the node's flusher calls it every few seconds), never one
//! Raft write per GET; apply adds them to each version's access record
//! (`cairn_raft::access`). The lifecycle worker asks [`AccessTiering::decide`] for
//! every current version of a bucket with a rule and moves it with
//! [`Store::transition`](crate::tiers).

use crate::lifecycle::Day;
use crate::{ObjectError, Store};
use cairn_raft::access::{ATTR_ACCESS, AccessRecord, ReadCount};
use cairn_raft::schema::{Command, Nanos};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

/// The bucket setting holding a bucket's [`AccessTiering`].
pub const SETTING: &str = "tiering";
/// Versions whose reads one node holds between flushes; reads of further versions are
/// not counted until the next flush (the flush logs how many were not).
pub const MAX_PENDING: usize = 100_000;
/// Versions per RecordReads command.
const BATCH: usize = 5_000;

/// A bucket's rule for tiering by access.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTiering {
    /// Keys it applies to.
    pub prefix: String,
    /// The class an unread version moves down to, after `down_after_days` days without
    /// a read (counted from its creation when it was never read).
    pub cold_class: String,
    pub down_after_days: u32,
    /// The class a cold version read `up_after_reads` times within the last
    /// `up_within_days` days moves back up to.
    pub hot_class: String,
    pub up_after_reads: u32,
    pub up_within_days: u32,
}

impl AccessTiering {
    /// The class a current version of `key` in class `class`, made at `made`, with
    /// access record `access`, is to move to at `now`; `None` to stay.
    pub fn decide(
        &self,
        key: &str,
        class: &str,
        made: Nanos,
        access: &AccessRecord,
        now: Nanos,
        day: Day,
    ) -> Option<&str> {
        if !key.starts_with(&self.prefix) {
            return None;
        }
        if class == self.cold_class {
            let today = cairn_raft::access::day_of(now, day.0);
            let reads = access.reads_within(today, self.up_within_days);
            return (reads >= u64::from(self.up_after_reads)).then_some(self.hot_class.as_str());
        }
        if class == self.hot_class {
            let last = access.last_read.max(made);
            let idle = now.saturating_sub(last);
            return (idle >= day.0.saturating_mul(i64::from(self.down_after_days))).then_some(self.cold_class.as_str());
        }
        None
    }
}

/// A version read: bucket, key, version id (`None`: the null version).
type VersionOf = (String, String, Option<String>);

/// Reads served by this node and not yet committed: per version, the count and the
/// time of the last.
#[derive(Default)]
pub struct ReadCounter {
    pending: Mutex<HashMap<VersionOf, (u32, Nanos)>>,
    dropped: std::sync::atomic::AtomicU64,
}

impl Store {
    /// The tiering-by-access rule of `bucket`, if it has one.
    pub fn access_tiering(&self, bucket: &str) -> Result<Option<AccessTiering>, ObjectError> {
        let Some(raw) = self.meta.bucket_setting(bucket, SETTING)? else { return Ok(None) };
        serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|e| cairn_raft::MetaError::Storage(format!("tiering rule of bucket {bucket}: {e}")).into())
    }

    /// Sets (or with `None`, removes) the tiering-by-access rule of `bucket`.
    pub async fn set_access_tiering(&self, bucket: &str, rule: Option<&AccessTiering>) -> Result<(), ObjectError> {
        let value = rule.map(|r| serde_json::to_vec(r).expect("a tiering rule serializes"));
        crate::meta::put_bucket_setting(&self.meta, bucket, SETTING, value).await
    }

    /// The access record of one version (`None`: the null version).
    pub fn access_record(&self, bucket: &str, key: &str, version_id: Option<&str>) -> AccessRecord {
        let attrs = self.meta.version_attrs(bucket, key, version_id).unwrap_or_default();
        attrs.get(ATTR_ACCESS).and_then(|raw| bincode::deserialize(raw).ok()).unwrap_or_default()
    }

    /// Counts a read of a version of `bucket/key`, if the bucket tiers by access.
    pub fn note_read(&self, bucket: &str, key: &str, version_id: Option<&str>, now: Nanos) {
        if !matches!(self.meta.bucket_setting(bucket, SETTING), Ok(Some(_))) {
            return;
        }
        let mut pending = self.reads.pending.lock().unwrap_or_else(|e| e.into_inner());
        let id = (bucket.to_string(), key.to_string(), version_id.map(str::to_string));
        if !pending.contains_key(&id) && pending.len() >= MAX_PENDING {
            self.reads.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        let e = pending.entry(id).or_insert((0, now));
        e.0 = e.0.saturating_add(1);
        e.1 = e.1.max(now);
    }

    /// Commits the reads counted since the last flush, in batches; returns how many
    /// versions' counts were committed. Counts that fail to commit are lost (tiering
    /// is a hint, not an account), and the error is answered.
    pub async fn flush_reads(&self, now: Nanos) -> Result<usize, ObjectError> {
        let dropped = self.reads.dropped.swap(0, std::sync::atomic::Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                limit = MAX_PENDING,
                "reads not counted for tiering: too many versions read between flushes"
            );
        }
        let taken: Vec<ReadCount> = {
            let mut pending = self.reads.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending
                .drain()
                .map(|((bucket, key, version_id), (reads, last))| ReadCount { bucket, key, version_id, reads, last })
                .collect()
        };
        let mut done = 0;
        for batch in taken.chunks(BATCH) {
            let cmd = Command::RecordReads { at: now, day: self.config.lifecycle_day.0, reads: batch.to_vec() };
            self.meta.propose(cmd).await?;
            done += batch.len();
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Nanos = 86_400 * 1_000_000_000;

    #[test]
    fn unread_goes_down_and_read_often_comes_back() {
        let rule = AccessTiering {
            prefix: "v/".into(),
            cold_class: "COLD".into(),
            down_after_days: 30,
            hot_class: "STANDARD".into(),
            up_after_reads: 3,
            up_within_days: 7,
        };
        let day = Day::default();
        let never = AccessRecord::default();
        assert_eq!(rule.decide("v/a", "STANDARD", 0, &never, 29 * D, day), None);
        assert_eq!(rule.decide("v/a", "STANDARD", 0, &never, 30 * D, day), Some("COLD"));
        assert_eq!(rule.decide("x/a", "STANDARD", 0, &never, 90 * D, day), None, "other prefix");
        let read = AccessRecord { last_read: 20 * D, days: vec![(20, 1)] };
        assert_eq!(rule.decide("v/a", "STANDARD", 0, &read, 40 * D, day), None, "read 20 days ago");
        assert_eq!(rule.decide("v/a", "COLD", 0, &read, 40 * D, day), None, "one read");
        let hot = AccessRecord { last_read: 40 * D, days: vec![(35, 1), (39, 1), (40, 1)] };
        assert_eq!(rule.decide("v/a", "COLD", 0, &hot, 40 * D, day), Some("STANDARD"));
        assert_eq!(rule.decide("v/a", "COLD", 0, &hot, 43 * D, day), None, "day 35 is out of the week");
        assert_eq!(rule.decide("v/a", "OTHER", 0, &hot, 40 * D, day), None, "a class the rule does not name");
    }
}
