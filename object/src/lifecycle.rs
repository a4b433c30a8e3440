//! Lifecycle: a bucket's lifecycle rules as Cairn keeps them (the bucket setting
//! [`SETTING`], JSON; the S3 layer parses and validates S3's XML into them), when a
//! rule's actions fall due, what the rules decide for one key, and taking an action.
//!
//! An action is a `Command::Expire` naming the version the rule saw; apply takes it only
//! if the key is still so (`raft/src/apply/lifecycle.rs`), and object lock is decided
//! there as for any delete. The worker that walks the buckets is the node's
//! (`node/src/workers/lifecycle.rs`).
//!
//! Days are counted as S3 counts them: from the object's creation (for a noncurrent
//! version, from the creation of the version that replaced it; for an upload, from its
//! initiation), plus the rule's days, rounded up to the next midnight UTC. A [`Day`]
//! shorter than 86,400 s (a test aid) rounds to its own multiples.

use crate::{ObjectError, Store};
use cairn_raft::schema::{Command, CommandResult, Expiry, MultipartUpload, Nanos, Refusal, TagSet, VersionEntry};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The bucket setting that holds a bucket's [`Lifecycle`].
pub const SETTING: &str = "lifecycle";
/// The service state where the lifecycle worker keeps its position and totals (JSON of
/// `cairn_api::lifecycle::LifecycleStatus`).
pub const WORKER_STATE: &str = "lifecycle";

/// A bucket's lifecycle configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub enabled: bool,
    pub filter: Filter,
    pub expiration: Option<Expiration>,
    pub noncurrent: Option<NoncurrentExpiration>,
    /// AbortIncompleteMultipartUpload's DaysAfterInitiation.
    pub abort_upload_days: Option<u32>,
    /// Transitions of the current version into other storage classes.
    #[serde(default)]
    pub transitions: Vec<Transition>,
    /// Transitions of noncurrent versions.
    #[serde(default)]
    pub noncurrent_transitions: Vec<NoncurrentTransition>,
}

/// A current version moves to `class` once `when` has come.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub when: When,
    pub class: String,
}

/// A noncurrent version moves to `class` `days` after it became noncurrent, unless it
/// is one of the `newer_versions` newest noncurrent ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentTransition {
    pub days: u32,
    pub newer_versions: Option<u32>,
    pub class: String,
}

/// A transition due: version `version_id` of the key is to be in storage class `class`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransitionDue {
    pub version_id: Option<String>,
    pub class: String,
}

/// Which objects a rule applies to: all of its conditions hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub prefix: String,
    /// Every one of these tags, with this value.
    pub tags: TagSet,
    /// Strictly greater than, in bytes.
    pub size_greater_than: Option<u64>,
    /// Strictly less than, in bytes.
    pub size_less_than: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum When {
    Days(u32),
    /// Midnight UTC of a date, in nanoseconds.
    Date(Nanos),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiration {
    /// When current versions expire; `None` with `expired_object_delete_marker`.
    pub when: Option<When>,
    /// Remove a delete marker that is the only entry left of its key.
    pub expired_object_delete_marker: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentExpiration {
    /// Days after a version became noncurrent.
    pub days: u32,
    /// Keep this many newest noncurrent versions whatever their age.
    pub newer_versions: Option<u32>,
}

/// The length of a lifecycle day in nanoseconds: 86,400 s, or shorter for tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Day(pub Nanos);

impl Default for Day {
    fn default() -> Self {
        Day(86_400 * 1_000_000_000)
    }
}

impl Day {
    /// `days` days after `start`, rounded up to the start of the next day.
    pub fn after(self, start: Nanos, days: u32) -> Nanos {
        let t = start.saturating_add(self.0.saturating_mul(days as Nanos));
        t.div_euclid(self.0).saturating_add(i64::from(t.rem_euclid(self.0) != 0)).saturating_mul(self.0)
    }
}

impl Filter {
    /// Whether the rule applies to a version of `key` of `size` bytes tagged `tags`.
    pub fn matches(&self, key: &str, size: u64, tags: &TagSet) -> bool {
        key.starts_with(&self.prefix)
            && self.size_greater_than.is_none_or(|n| size > n)
            && self.size_less_than.is_none_or(|n| size < n)
            && self.tags.iter().all(|t| tags.contains(t))
    }
}

/// One key's entries, newest first, as the rules see them: each version and its tags.
pub struct KeyEntries<'a> {
    pub key: &'a str,
    pub entries: &'a [(VersionEntry, TagSet)],
}

impl Lifecycle {
    fn enabled(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|r| r.enabled)
    }

    /// When a current version of `key` (`size` bytes, made at `made`, tagged `tags`)
    /// expires, and the rule that says so (the earliest, if several do): what
    /// `x-amz-expiration` shows.
    pub fn expiry(&self, key: &str, size: u64, made: Nanos, tags: &TagSet, day: Day) -> Option<(Nanos, &str)> {
        self.enabled()
            .filter(|r| r.filter.matches(key, size, tags))
            .filter_map(|r| {
                let when = match r.expiration.as_ref()?.when? {
                    When::Days(n) => day.after(made, n),
                    When::Date(d) => d,
                };
                Some((when, r.id.as_str()))
            })
            .min()
    }

    /// The actions due at `now` on one key.
    pub fn decide(&self, k: &KeyEntries<'_>, now: Nanos, day: Day) -> Vec<Expiry> {
        let mut out = Vec::new();
        let Some((newest, newest_tags)) = k.entries.first() else { return out };
        match newest {
            VersionEntry::Object(v) => {
                let due = self.expiry(k.key, v.size, v.last_modified, newest_tags, day);
                if due.is_some_and(|(when, _)| when <= now) {
                    out.push(Expiry::Current { version_id: v.version_id.clone(), last_modified: v.last_modified });
                }
            }
            VersionEntry::Marker(m) if k.entries.len() == 1 => {
                let lone = self.enabled().any(|r| {
                    k.key.starts_with(&r.filter.prefix)
                        && r.expiration.as_ref().is_some_and(|e| e.expired_object_delete_marker)
                });
                if lone {
                    out.push(Expiry::LoneMarker { version_id: m.version_id.clone() });
                }
            }
            VersionEntry::Marker(_) => {}
        }
        // Noncurrent versions: each became noncurrent when the entry before it was made.
        let mut newer_noncurrent = 0u32;
        for pair in k.entries.windows(2) {
            let successor_made = pair[0].0.last_modified();
            let (VersionEntry::Object(v), tags) = &pair[1] else { continue };
            let due = self.enabled().any(|r| {
                r.noncurrent.as_ref().is_some_and(|n| {
                    r.filter.matches(k.key, v.size, tags)
                        && day.after(successor_made, n.days) <= now
                        && n.newer_versions.is_none_or(|keep| newer_noncurrent >= keep)
                })
            });
            if due {
                out.push(Expiry::Noncurrent { version_id: v.version_id.clone(), last_modified: v.last_modified });
            }
            newer_noncurrent += 1;
        }
        out
    }

    /// The transitions due at `now` on one key's versions that are not expiring: for
    /// each version, the class of the latest transition due (a version past its
    /// 30-day and its 90-day transitions belongs in the 90-day one's class). Whether
    /// the version is in that class already is the caller's to see.
    pub fn transitions_due(&self, k: &KeyEntries<'_>, now: Nanos, day: Day) -> Vec<TransitionDue> {
        let mut out = Vec::new();
        let Some((newest, newest_tags)) = k.entries.first() else { return out };
        if let VersionEntry::Object(v) = newest {
            let expiring = self.expiry(k.key, v.size, v.last_modified, newest_tags, day).is_some_and(|(w, _)| w <= now);
            let latest = self
                .enabled()
                .filter(|r| r.filter.matches(k.key, v.size, newest_tags))
                .flat_map(|r| r.transitions.iter())
                .map(|t| {
                    let at = match t.when {
                        When::Days(n) => day.after(v.last_modified, n),
                        When::Date(d) => d,
                    };
                    (at, &t.class)
                })
                .filter(|(at, _)| *at <= now)
                .max();
            if let (false, Some((_, class))) = (expiring, latest) {
                out.push(TransitionDue { version_id: v.version_id.clone(), class: class.clone() });
            }
        }
        let mut newer_noncurrent = 0u32;
        for pair in k.entries.windows(2) {
            let successor_made = pair[0].0.last_modified();
            let (VersionEntry::Object(v), tags) = &pair[1] else { continue };
            let latest = self
                .enabled()
                .filter(|r| r.filter.matches(k.key, v.size, tags))
                .flat_map(|r| r.noncurrent_transitions.iter())
                .filter(|t| t.newer_versions.is_none_or(|keep| newer_noncurrent >= keep))
                .map(|t| (day.after(successor_made, t.days), &t.class))
                .filter(|(at, _)| *at <= now)
                .max();
            newer_noncurrent += 1;
            if let Some((_, class)) = latest {
                out.push(TransitionDue { version_id: v.version_id.clone(), class: class.clone() });
            }
        }
        out
    }

    /// Every storage class the rules move versions to.
    pub fn classes(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().flat_map(|r| {
            r.transitions
                .iter()
                .map(|t| t.class.as_str())
                .chain(r.noncurrent_transitions.iter().map(|t| t.class.as_str()))
        })
    }

    /// Whether `upload` is due to be aborted at `now`.
    pub fn abort_due(&self, upload: &MultipartUpload, now: Nanos, day: Day) -> bool {
        self.enabled().any(|r| {
            r.abort_upload_days
                .is_some_and(|d| upload.key.starts_with(&r.filter.prefix) && day.after(upload.initiated, d) <= now)
        })
    }

    /// When `upload` will be aborted, and by which rule: CreateMultipartUpload's
    /// `x-amz-abort-date` and `x-amz-abort-rule-id`.
    pub fn abort_date(&self, upload: &MultipartUpload, day: Day) -> Option<(Nanos, &str)> {
        self.enabled()
            .filter(|r| upload.key.starts_with(&r.filter.prefix))
            .filter_map(|r| Some((day.after(upload.initiated, r.abort_upload_days?), r.id.as_str())))
            .min()
    }
}

/// What taking an action came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taken {
    Done,
    /// The key changed since the rule looked at it: nothing done.
    Changed,
    /// Object lock keeps the version.
    Locked,
}

impl Store {
    /// The lifecycle configuration of `bucket`, if it has one.
    pub fn lifecycle(&self, bucket: &str) -> Result<Option<Lifecycle>, ObjectError> {
        let Some(raw) = self.meta.bucket_setting(bucket, SETTING)? else { return Ok(None) };
        serde_json::from_slice(&raw).map(Some).map_err(|e| {
            cairn_raft::MetaError::Storage(format!("lifecycle configuration of bucket {bucket}: {e}")).into()
        })
    }

    /// Sets (or with `None`, removes) the lifecycle configuration of `bucket`.
    pub async fn set_lifecycle(&self, bucket: &str, config: Option<&Lifecycle>) -> Result<(), ObjectError> {
        let value = config.map(|c| serde_json::to_vec(c).expect("a lifecycle configuration serializes"));
        crate::meta::put_bucket_setting(&self.meta, bucket, SETTING, value).await
    }

    /// The tags of one version (`None`: the null version).
    pub fn version_tags(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<TagSet, ObjectError> {
        let attrs = self.meta.version_attrs(bucket, key, version_id)?;
        Ok(match attrs.get(cairn_raft::schema::ATTR_TAGS) {
            Some(raw) => bincode::deserialize(raw).unwrap_or_default(),
            None => TagSet::new(),
        })
    }

    /// Takes one lifecycle action on `bucket/key` at `now`; frees what it removed.
    pub async fn expire(
        self: &Arc<Self>,
        bucket: &str,
        key: &str,
        action: Expiry,
        now: Nanos,
    ) -> Result<Taken, ObjectError> {
        let cmd = Command::Expire { bucket: bucket.into(), key: key.into(), action, at: now };
        match self.meta.propose(cmd).await? {
            CommandResult::PreconditionFailed | CommandResult::NoSuchBucket => Ok(Taken::Changed),
            CommandResult::Refused(Refusal::ObjectLocked) => Ok(Taken::Locked),
            other => self.deleted(other).map(|_| Taken::Done),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_raft::schema::{DeleteMarker, ObjectVersion};

    const D: Nanos = 86_400 * 1_000_000_000;

    fn version(id: &str, made: Nanos, size: u64) -> VersionEntry {
        VersionEntry::Object(ObjectVersion {
            version_id: Some(id.into()),
            size,
            etag: String::new(),
            last_modified: made,
            content_type: None,
            content_encoding: None,
            content_disposition: None,
            content_language: None,
            cache_control: None,
            expires: None,
            user_meta: Default::default(),
            checksums: Default::default(),
            owner: "o".into(),
            data: cairn_raft::schema::ObjectData::Inline(Vec::new()),
            acl: Default::default(),
        })
    }

    #[test]
    fn days_round_up_to_the_next_midnight() {
        let day = Day::default();
        // Created at 10:30 on day 10, three days: midnight starting day 14.
        assert_eq!(day.after(10 * D + D / 2, 3), 14 * D);
        assert_eq!(day.after(10 * D, 3), 13 * D, "exactly at midnight stays");
        assert_eq!(Day(2_000_000_000).after(3_000_000_000, 1), 6_000_000_000);
    }

    #[test]
    fn rules_decide_by_filter_age_and_newer_versions() {
        let rule = |id: &str, f: Filter| Rule {
            id: id.into(),
            enabled: true,
            filter: f,
            expiration: Some(Expiration { when: Some(When::Days(1)), expired_object_delete_marker: false }),
            noncurrent: Some(NoncurrentExpiration { days: 1, newer_versions: Some(1) }),
            abort_upload_days: None,
            transitions: Vec::new(),
            noncurrent_transitions: Vec::new(),
        };
        let lc = Lifecycle {
            rules: vec![rule(
                "logs",
                Filter {
                    prefix: "logs/".into(),
                    tags: vec![("t".into(), "x".into())],
                    size_greater_than: Some(10),
                    size_less_than: None,
                },
            )],
        };
        let tagged = vec![("t".to_string(), "x".to_string())];
        let entries = vec![
            (version("v3", 5 * D, 100), tagged.clone()),
            (version("v2", 3 * D, 100), tagged.clone()),
            (version("v1", D, 100), tagged.clone()),
        ];
        let k = KeyEntries { key: "logs/a", entries: &entries };
        // At day 5: v3 made on day 5 is not a day old; v2 is the newest noncurrent (kept);
        // v1 became noncurrent on day 3, a day past that: due.
        let got = lc.decide(&k, 5 * D, Day::default());
        assert_eq!(got, vec![Expiry::Noncurrent { version_id: Some("v1".into()), last_modified: D }]);
        let got = lc.decide(&k, 6 * D, Day::default());
        assert_eq!(got[0], Expiry::Current { version_id: Some("v3".into()), last_modified: 5 * D });
        // Other prefix, missing tag, too small: nothing.
        assert!(lc.decide(&KeyEntries { key: "keep/a", entries: &entries }, 9 * D, Day::default()).is_empty());
        let untagged: Vec<_> = entries.iter().map(|(e, _)| (e.clone(), TagSet::new())).collect();
        assert!(lc.decide(&KeyEntries { key: "logs/a", entries: &untagged }, 9 * D, Day::default()).is_empty());
        let small = vec![(version("s", 0, 10), tagged.clone())];
        assert!(lc.decide(&KeyEntries { key: "logs/s", entries: &small }, 9 * D, Day::default()).is_empty());
        // A lone delete marker goes only with ExpiredObjectDeleteMarker.
        let marker =
            VersionEntry::Marker(DeleteMarker { version_id: Some("m".into()), last_modified: 0, owner: "o".into() });
        let lone = vec![(marker, TagSet::new())];
        assert!(lc.decide(&KeyEntries { key: "logs/m", entries: &lone }, 9 * D, Day::default()).is_empty());
        let mut eodm = lc.clone();
        eodm.rules[0].filter.tags.clear();
        eodm.rules[0].expiration = Some(Expiration { when: None, expired_object_delete_marker: true });
        let got = eodm.decide(&KeyEntries { key: "logs/m", entries: &lone }, 0, Day::default());
        assert_eq!(got, vec![Expiry::LoneMarker { version_id: Some("m".into()) }]);
    }

    #[test]
    fn transitions_take_the_latest_due_class_and_yield_to_expiry() {
        let lc = Lifecycle {
            rules: vec![Rule {
                id: "tier".into(),
                enabled: true,
                filter: Filter::default(),
                expiration: Some(Expiration { when: Some(When::Days(100)), expired_object_delete_marker: false }),
                noncurrent: None,
                abort_upload_days: None,
                transitions: vec![
                    Transition { when: When::Days(30), class: "WARM".into() },
                    Transition { when: When::Days(60), class: "COLD".into() },
                ],
                noncurrent_transitions: vec![NoncurrentTransition {
                    days: 5,
                    newer_versions: Some(1),
                    class: "COLD".into(),
                }],
            }],
        };
        let entries = vec![
            (version("v3", 10 * D, 1), TagSet::new()),
            (version("v2", 5 * D, 1), TagSet::new()),
            (version("v1", 0, 1), TagSet::new()),
        ];
        let k = KeyEntries { key: "a", entries: &entries };
        let due = |now| lc.transitions_due(&k, now, Day::default());
        // Day 14: v2 noncurrent since day 10 is the newest noncurrent (kept), v1 since day 5.
        assert_eq!(due(14 * D), vec![TransitionDue { version_id: Some("v1".into()), class: "COLD".into() }]);
        assert_eq!(due(40 * D)[0], TransitionDue { version_id: Some("v3".into()), class: "WARM".into() });
        assert_eq!(due(70 * D)[0], TransitionDue { version_id: Some("v3".into()), class: "COLD".into() });
        assert_eq!(due(110 * D).len(), 1, "an expiring current version is not moved: {:?}", due(110 * D));
        assert_eq!(lc.classes().collect::<Vec<_>>(), vec!["WARM", "COLD", "COLD"]);
    }
}
