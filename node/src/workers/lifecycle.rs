//! The lifecycle worker: while this node leads, it walks every bucket that has lifecycle
//! rules, in bucket-name order and key order within a bucket, and takes the actions the
//! rules say are due (`cairn_object::lifecycle` decides; `Store::expire` proposes each
//! action naming the version the rule saw, and apply takes it only if the key is still
//! so; `Store::abort_upload` for incomplete uploads).
//!
//! Throttled: at most [`KEYS_PER_STEP`] keys and [`ACTIONS_PER_STEP`] actions per step,
//! a step every [`PAUSE`] while a pass has work left; a pass starts a 24th of a
//! lifecycle day (an hour) after the last one finished. Resumable: after every step the position (bucket,
//! last key done) and the totals are committed as the service state [`STATE`]
//! (`cairn_api::lifecycle::LifecycleStatus`), so a new leader, or this node after a
//! restart, goes on from there; the admin API and `/metrics` read it back on any node.

use cairn_api::lifecycle::LifecycleStatus;
use cairn_object::access::AccessTiering;
use cairn_object::lifecycle::{KeyEntries, Lifecycle, Taken};
use cairn_object::tiers::Transition;
use cairn_object::{ObjectError, Store};
use cairn_raft::schema::{Command, Expiry, Nanos, TagSet, VersionEntry};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use cairn_object::lifecycle::WORKER_STATE as STATE;
const KEYS_PER_STEP: usize = 2000;
const ACTIONS_PER_STEP: usize = 500;
/// Between steps of a pass that has work left.
const PAUSE: Duration = Duration::from_millis(200);
/// Versions per listing page.
const PAGE: usize = 500;

pub async fn run(store: Arc<Store>, mut shutdown: watch::Receiver<bool>) {
    let day = Duration::from_nanos(store.config.lifecycle_day.0.max(0) as u64);
    let tick = (day / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    // A finished pass is followed by the next one a 24th of a day later (an hour), not
    // at once: rules act on days, and a pass over a large bucket is not free.
    let between_passes = (day / 24).max(tick);
    let mut wait = tick;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        let m = store.meta.metrics();
        if m.current_leader != Some(m.id) {
            wait = tick;
            continue;
        }
        wait = match step(&store).await {
            Ok(true) => between_passes,
            Ok(false) => PAUSE,
            Err(e) => {
                tracing::debug!(error = %e, "lifecycle step did not finish; retrying");
                tick
            }
        };
    }
}

fn now() -> Nanos {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The worker's state as committed.
fn status(store: &Store) -> LifecycleStatus {
    let raw = store.meta.service_state(STATE).ok().flatten();
    raw.and_then(|v| serde_json::from_slice(&v).ok()).unwrap_or_default()
}

struct Budget {
    keys: usize,
    actions: usize,
}

impl Budget {
    fn spent(&self) -> bool {
        self.keys == 0 || self.actions == 0
    }
}

/// One step of the pass in progress (starting one if none is); true once the pass is
/// finished.
async fn step(store: &Arc<Store>) -> Result<bool, ObjectError> {
    // The position a previous leader committed is the one to go on from.
    store.meta.read_barrier().await?;
    let mut st = status(store);
    let now = now();
    let mut budget = Budget { keys: KEYS_PER_STEP, actions: ACTIONS_PER_STEP };
    let mut bucket = match st.bucket.clone() {
        Some(b) => Some(b),
        None => {
            st.pass_started = Some(now);
            st.after_key = None;
            store.meta.list_buckets(None, 1)?.into_iter().next().map(|b| b.name)
        }
    };
    let finished = loop {
        let Some(b) = bucket else { break true };
        let lc = store.lifecycle(&b)?.filter(|lc| lc.rules.iter().any(|r| r.enabled));
        let tiering = store.access_tiering(&b)?;
        if lc.is_some() || tiering.is_some() {
            let rules = Rules { lc: lc.unwrap_or_default(), tiering };
            if !walk(store, &b, &rules, &mut st, &mut budget, now).await? {
                st.bucket = Some(b);
                break false;
            }
            abort_uploads(store, &b, &rules.lc, &mut st, now).await?;
        }
        st.after_key = None;
        bucket = store.meta.list_buckets(Some(&b), 1)?.into_iter().next().map(|b| b.name);
    };
    if finished {
        st.bucket = None;
        st.after_key = None;
        st.pass_started = None;
        st.passes += 1;
        st.last_pass_finished = Some(now);
    }
    let value = serde_json::to_vec(&st).expect("a lifecycle status serializes");
    store.meta.propose(Command::PutServiceState { name: STATE.into(), value }).await?;
    Ok(finished)
}

/// Walks `bucket`'s keys after `st.after_key`; false when the budget ran out first
/// (`st.after_key` is then the last key done).
async fn walk(
    store: &Arc<Store>,
    bucket: &str,
    rules: &Rules,
    st: &mut LifecycleStatus,
    budget: &mut Budget,
    now: Nanos,
) -> Result<bool, ObjectError> {
    let with_tags = rules.lc.rules.iter().any(|r| !r.filter.tags.is_empty());
    let mut key_marker = st.after_key.clone();
    let mut version_marker: Option<String> = None;
    // The key being gathered, and its entries so far (newest first).
    let mut key: Option<String> = None;
    let mut entries: Vec<(VersionEntry, TagSet)> = Vec::new();
    loop {
        let page =
            store.meta.list_versions(bucket, "", None, key_marker.as_deref(), version_marker.as_deref(), PAGE)?;
        for (k, entry, _) in page.versions {
            if key.as_deref() != Some(k.as_str()) {
                if let Some(done) = key.take() {
                    take_actions(store, bucket, rules, &done, &entries, st, budget, now).await?;
                    if budget.spent() {
                        return Ok(false);
                    }
                }
                key = Some(k.clone());
                entries.clear();
            }
            let tags = match (&entry, with_tags) {
                (VersionEntry::Object(v), true) => store.version_tags(bucket, &k, v.version_id.as_deref())?,
                _ => TagSet::new(),
            };
            entries.push((entry, tags));
        }
        if !page.is_truncated {
            if let Some(done) = key.take() {
                take_actions(store, bucket, rules, &done, &entries, st, budget, now).await?;
            }
            return Ok(true);
        }
        key_marker = page.next_key_marker;
        version_marker = page.next_version_id_marker;
    }
}

#[allow(clippy::too_many_arguments)]
async fn take_actions(
    store: &Arc<Store>,
    bucket: &str,
    rules: &Rules,
    key: &str,
    entries: &[(VersionEntry, TagSet)],
    st: &mut LifecycleStatus,
    budget: &mut Budget,
    now: Nanos,
) -> Result<(), ObjectError> {
    let (lc, day) = (&rules.lc, store.config.lifecycle_day);
    for action in lc.decide(&KeyEntries { key, entries }, now, day) {
        let t = &mut st.totals;
        let done = match &action {
            Expiry::Current { .. } => &mut t.expired,
            Expiry::Noncurrent { .. } => &mut t.noncurrent_removed,
            Expiry::LoneMarker { .. } => &mut t.markers_removed,
        };
        match store.expire(bucket, key, action, now).await? {
            Taken::Done => *done += 1,
            Taken::Changed => t.skipped_changed += 1,
            Taken::Locked => t.skipped_locked += 1,
        }
        budget.actions = budget.actions.saturating_sub(1);
    }
    for due in lc.transitions_due(&KeyEntries { key, entries }, now, day) {
        let Some(v) = entries.iter().find_map(|(e, _)| match e {
            VersionEntry::Object(v) if v.version_id == due.version_id => Some(v),
            _ => None,
        }) else {
            continue;
        };
        if store.class_of(&v.data) == due.class {
            continue;
        }
        match moved(store.transition(bucket, key, v, &due.class).await, bucket, key, &due.class)? {
            Some(true) => st.totals.transitioned += 1,
            Some(false) => st.totals.skipped_changed += 1,
            None => {}
        }
        budget.actions = budget.actions.saturating_sub(1);
    }
    if let Some(rule) = &rules.tiering {
        // The version as it is now: a transition above may just have moved it.
        if let Some(v) = store.current_version(bucket, key)? {
            let class = store.class_of(&v.data);
            let access = store.access_record(bucket, key, v.version_id.as_deref());
            if let Some(to) = rule.decide(key, &class, v.last_modified, &access, now, day) {
                let down = to == rule.cold_class;
                match moved(store.transition(bucket, key, &v, to).await, bucket, key, to)? {
                    Some(true) if down => st.totals.tiered_down += 1,
                    Some(true) => st.totals.tiered_up += 1,
                    Some(false) => st.totals.skipped_changed += 1,
                    None => {}
                }
                budget.actions = budget.actions.saturating_sub(1);
            }
        }
    }
    st.totals.keys_scanned += 1;
    st.after_key = Some(key.to_string());
    budget.keys = budget.keys.saturating_sub(1);
    Ok(())
}

/// What a transition came to: Some(true) moved, Some(false) the version changed
/// meanwhile, None nothing to do or not possible now (logged; the next pass tries
/// again). Only a metadata failure stops the step.
fn moved(
    r: Result<Transition, ObjectError>,
    bucket: &str,
    key: &str,
    class: &str,
) -> Result<Option<bool>, ObjectError> {
    match r {
        Ok(Transition::Moved(n)) => Ok((n > 0).then_some(true)),
        Ok(Transition::Changed) => Ok(Some(false)),
        Ok(Transition::Inline) => Ok(None),
        Err(e @ ObjectError::Meta(_)) => Err(e),
        Err(e) => {
            tracing::warn!(bucket, key, class, error = %e, "moving a version to another storage class failed; the next pass tries again");
            Ok(None)
        }
    }
}

/// What a bucket's walk acts on: its lifecycle rules (perhaps none) and its tiering by
/// access (perhaps none).
struct Rules {
    lc: Lifecycle,
    tiering: Option<AccessTiering>,
}

/// Aborts `bucket`'s incomplete uploads that an AbortIncompleteMultipartUpload rule
/// says are due.
async fn abort_uploads(
    store: &Arc<Store>,
    bucket: &str,
    lc: &Lifecycle,
    st: &mut LifecycleStatus,
    now: Nanos,
) -> Result<(), ObjectError> {
    if lc.rules.iter().all(|r| r.abort_upload_days.is_none()) {
        return Ok(());
    }
    let day = store.config.lifecycle_day;
    let (mut key_marker, mut upload_marker) = (None::<String>, None::<String>);
    loop {
        let page = store.meta.list_uploads(bucket, "", None, key_marker.as_deref(), upload_marker.as_deref(), PAGE)?;
        for u in page.uploads.iter().filter(|u| lc.abort_due(u, now, day)) {
            match store.abort_upload(bucket.to_string(), u.key.clone(), u.upload_id.clone()).await {
                Ok(()) => st.totals.uploads_aborted += 1,
                // Completed or aborted since it was listed.
                Err(ObjectError::NoSuchUpload) => st.totals.skipped_changed += 1,
                Err(e) => return Err(e),
            }
        }
        if !page.is_truncated {
            return Ok(());
        }
        key_marker = page.next_key_marker;
        upload_marker = page.next_upload_id_marker;
    }
}
