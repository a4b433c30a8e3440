//! PutAnnotations, UpdateAnnotation, DeleteAnnotation (`sm_annotations`, and
//! `sm_annotation_index` through [`crate::annotations::reindex`]). Decided here: that
//! the video exists (an asset version, not in the trash), idempotent creation by client
//! id, replies to annotations of the same video, the revision an edit expects, and who
//! may change whose annotation. A batch is all or nothing: it is checked whole before
//! anything is written.

use crate::annotations::{
    asset_prefix, asset_side_prefixes, client_key, current_key, history_key, history_prefix, live_key, live_prefix,
    locator_key, reindex, sequence_key, timing_key, Actor, Annotation, AnnotationContent, AnnotationOutcome,
    AnnotationRefusal, LiveEvent, LiveKind, LiveRecord, NewAnnotation, Role, VideoRef, VideoTiming, LIVE_EVENTS_KEPT,
};
use crate::error::MetaError;
use crate::schema::CommandResult;
use crate::tables::Table;
use crate::timing;
use crate::tx::Tx;

fn refused(r: AnnotationRefusal) -> Result<CommandResult, MetaError> {
    Ok(CommandResult::AnnotationRefused(r))
}

/// The tenant of video `v`, if it is a version of an asset not in the trash, and
/// its timing (set for the video, else from the asset's metadata).
fn video(tx: &Tx, v: &VideoRef) -> Result<Option<(String, Option<VideoTiming>)>, MetaError> {
    let Some(a) = super::assets::get(tx, &v.asset)?
        .filter(|a| a.trashed_at.is_none() && v.version >= 1 && v.version <= a.versions)
    else {
        return Ok(None);
    };
    let set: Option<VideoTiming> = tx.read(Table::Annotations, &timing_key(v))?;
    Ok(Some((a.tenant, set.or_else(|| VideoTiming::from_meta(&a.meta)))))
}

/// The frames and times of `c` are the same moments at the video's rate, inside the
/// video.
fn check_timing(c: &AnnotationContent, t: Option<&VideoTiming>) -> Result<(), AnnotationRefusal> {
    let t = t.ok_or(AnnotationRefusal::TimingUnknown)?;
    let pairs = [(Some(c.frame), Some(c.ms)), (c.end_frame, c.end_ms)];
    for (frame, ms) in pairs {
        match (frame, ms) {
            (None, None) => {}
            (Some(frame), Some(ms)) => {
                if timing::frame_and_ms(Some(frame), Some(ms), t.rate).is_err() {
                    return Err(AnnotationRefusal::TimingDisagrees { frame, ms });
                }
                if t.frame_count().is_some_and(|n| frame >= n) {
                    return Err(AnnotationRefusal::OutsideVideo { frame, frames: t.frame_count() });
                }
            }
            (Some(frame), None) | (None, Some(frame)) => {
                return Err(AnnotationRefusal::TimingDisagrees { frame, ms: u64::MAX })
            }
        }
    }
    if c.end_frame.is_some_and(|e| e < c.frame) {
        return Err(AnnotationRefusal::OutsideVideo { frame: c.end_frame.unwrap_or_default(), frames: None });
    }
    Ok(())
}

/// Appends `events` to video `v`'s live sequence as one record, dropping the oldest
/// records once the kept window holds enough without them.
fn publish(tx: &mut Tx, v: &VideoRef, events: Vec<LiveEvent>) -> Result<(), MetaError> {
    publish_keeping(tx, v, events, LIVE_EVENTS_KEPT)
}

fn publish_keeping(tx: &mut Tx, v: &VideoRef, events: Vec<LiveEvent>, kept: u64) -> Result<(), MetaError> {
    if events.is_empty() {
        return Ok(());
    }
    let key = sequence_key(v);
    let seq = tx.get(Table::Annotations, &key)?.and_then(|b| b.try_into().ok()).map(u64::from_be_bytes).unwrap_or(0);
    let record = LiveRecord { first: seq + 1, events };
    let last = record.last();
    tx.write(Table::Annotations, live_key(v, last), &record)?;
    tx.set(Table::Annotations, key, Some(last.to_be_bytes().to_vec()));
    let prefix = live_prefix(v);
    let end = crate::keys::prefix_end(&prefix).unwrap_or_default();
    while let Some((k, _)) = tx.first_in_range(Table::Annotations, &prefix, &end, 1)?.pop() {
        let oldest_last = k.get(prefix.len()..).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes).unwrap_or(last);
        if oldest_last + kept > last {
            break;
        }
        tx.remove(Table::Annotations, k);
    }
    Ok(())
}

/// SetVideoTiming.
pub(super) fn set_timing(tx: &mut Tx, v: VideoRef, t: VideoTiming) -> Result<CommandResult, MetaError> {
    if video(tx, &v)?.is_none() {
        return refused(AnnotationRefusal::NoSuchVideo(v));
    }
    if timing::nominal_fps(t.rate).is_err() || (t.drop_frame && timing::timecode(0, t.rate, true).is_err()) {
        return refused(AnnotationRefusal::TimingUnknown);
    }
    tx.write(Table::Annotations, timing_key(&v), &t)?;
    Ok(CommandResult::Ok)
}

fn current(tx: &Tx, id: &str) -> Result<Option<Annotation>, MetaError> {
    let Some(v) = tx.read::<VideoRef>(Table::Annotations, &locator_key(id))? else { return Ok(None) };
    tx.read(Table::Annotations, &current_key(&v, id))
}

/// PutAnnotations: `items` on video `video`, by `by`.
pub(super) fn create(
    tx: &mut Tx,
    video: VideoRef,
    items: Vec<NewAnnotation>,
    by: Actor,
) -> Result<CommandResult, MetaError> {
    let Some((tenant, timing)) = self::video(tx, &video)? else {
        return refused(AnnotationRefusal::NoSuchVideo(video));
    };
    // Checked whole first: replays, client id conflicts, parents.
    let mut made: Vec<(Annotation, bool)> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        // The same client id twice in one batch: the second is a replay of the first.
        let in_batch = item
            .client_id
            .as_ref()
            .and_then(|cid| made.iter().find(|(a, _)| a.client_id.as_ref() == Some(cid)))
            .map(|(a, _)| a.clone());
        if let Some(first) = in_batch {
            if first.content != item.content {
                return refused(AnnotationRefusal::ClientIdConflict(item.client_id.unwrap_or_default()));
            }
            made.push((first, true));
            continue;
        }
        let earlier = match &item.client_id {
            Some(cid) => tx.get(Table::Annotations, &client_key(&video, cid))?,
            None => None,
        };
        if let (Some(cid), Some(id)) = (&item.client_id, earlier) {
            let id = String::from_utf8_lossy(&id).into_owned();
            match current(tx, &id)? {
                Some(first) if first.content == item.content => {
                    made.push((first, true));
                    continue;
                }
                _ => return refused(AnnotationRefusal::ClientIdConflict(cid.clone())),
            }
        }
        if let Err(r) = check_timing(&item.content, timing.as_ref()) {
            return refused(r);
        }
        if let Some(p) = &item.content.parent {
            let in_batch = made.iter().any(|(a, _)| &a.id == p);
            let stored = current(tx, p)?.is_some_and(|a| a.video == video && !a.deleted);
            if !in_batch && !stored {
                return refused(AnnotationRefusal::NoSuchParent(p.clone()));
            }
        }
        let id = format!("{:016x}{:08x}{:04x}", tx.at.0, tx.at.1, i);
        made.push((
            Annotation {
                id,
                video: video.clone(),
                tenant: tenant.clone(),
                client_id: item.client_id,
                content: item.content,
                author: by.key.clone(),
                author_name: by.name.clone(),
                author_role: by.role,
                revision: 1,
                created: by.at,
                updated: by.at,
                deleted: false,
            },
            false,
        ));
    }
    let mut events = Vec::new();
    for (a, replayed) in &made {
        if *replayed {
            continue;
        }
        tx.write(Table::Annotations, current_key(&video, &a.id), a)?;
        tx.write(Table::Annotations, locator_key(&a.id), &video)?;
        if let Some(cid) = &a.client_id {
            tx.set(Table::Annotations, client_key(&video, cid), Some(a.id.clone().into_bytes()));
        }
        reindex(tx, None, Some(a));
        events.push(LiveEvent { id: a.id.clone(), revision: a.revision, kind: LiveKind::Created });
    }
    publish(tx, &video, events)?;
    Ok(CommandResult::Annotations(AnnotationOutcome { tenant, video, items: made }))
}

/// May `by` change `a`? Its author may; anyone else needs a role above a member's and
/// at least the author's.
fn may_change(a: &Annotation, by: &Actor) -> bool {
    by.key == a.author || (by.role > Role::Member && by.role >= a.author_role)
}

/// The checks an edit and a delete share: the annotation exists (not a tombstone),
/// the revision is the one expected, and `by` may change it.
fn editable(
    tx: &Tx,
    id: &str,
    if_revision: Option<u32>,
    by: &Actor,
) -> Result<Result<Annotation, AnnotationRefusal>, MetaError> {
    let Some(a) = current(tx, id)?.filter(|a| !a.deleted) else {
        return Ok(Err(AnnotationRefusal::NoSuchAnnotation(id.to_string())));
    };
    if if_revision.is_some_and(|r| r != a.revision) {
        return Ok(Err(AnnotationRefusal::RevisionMoved(Box::new(a))));
    }
    if !may_change(&a, by) {
        return Ok(Err(AnnotationRefusal::NotAllowed { author_role: a.author_role }));
    }
    Ok(Ok(a))
}

/// Writes `after` as the annotation's new revision, keeping `before` in its history.
fn revise(tx: &mut Tx, before: Annotation, after: Annotation) -> Result<CommandResult, MetaError> {
    tx.write(Table::Annotations, history_key(&before.id, before.revision), &before)?;
    tx.write(Table::Annotations, current_key(&after.video, &after.id), &after)?;
    reindex(tx, Some(&before), Some(&after));
    let kind = if after.deleted {
        LiveKind::Deleted
    } else if before.content.status != after.content.status
        && before.content == (AnnotationContent { status: before.content.status, ..after.content.clone() })
    {
        LiveKind::StatusChanged
    } else {
        LiveKind::Updated
    };
    publish(tx, &after.video, vec![LiveEvent { id: after.id.clone(), revision: after.revision, kind }])?;
    let (tenant, video) = (after.tenant.clone(), after.video.clone());
    Ok(CommandResult::Annotations(AnnotationOutcome { tenant, video, items: vec![(after, false)] }))
}

/// UpdateAnnotation: `content` replaces the annotation's (its parent stays).
pub(super) fn update(
    tx: &mut Tx,
    id: String,
    if_revision: Option<u32>,
    content: AnnotationContent,
    by: Actor,
) -> Result<CommandResult, MetaError> {
    let before = match editable(tx, &id, if_revision, &by)? {
        Ok(a) => a,
        Err(r) => return refused(r),
    };
    let timing = self::video(tx, &before.video)?.and_then(|(_, t)| t);
    if let Err(r) = check_timing(&content, timing.as_ref()) {
        return refused(r);
    }
    let parent = before.content.parent.clone();
    let after = Annotation {
        content: AnnotationContent { parent, ..content },
        revision: before.revision + 1,
        updated: before.updated.max(by.at),
        ..before.clone()
    };
    revise(tx, before, after)
}

/// DeleteAnnotation: a tombstone (out of every index, still read by id and by a
/// video's sync, so live clients learn of it).
pub(super) fn delete(tx: &mut Tx, id: String, if_revision: Option<u32>, by: Actor) -> Result<CommandResult, MetaError> {
    let before = match editable(tx, &id, if_revision, &by)? {
        Ok(a) => a,
        Err(r) => return refused(r),
    };
    let after = Annotation {
        deleted: true,
        revision: before.revision + 1,
        updated: before.updated.max(by.at),
        ..before.clone()
    };
    revise(tx, before, after)
}

/// Asset `asset` is being purged: every annotation of every version of it goes with
/// it (records, history, client ids, index entries).
pub(super) fn forget_asset(tx: &mut Tx, asset: &str) -> Result<(), MetaError> {
    for (k, v) in tx.scan_prefix(Table::Annotations, &asset_prefix(asset))? {
        let a: Annotation = bincode::deserialize(&v)?;
        reindex(tx, Some(&a), None);
        for (h, _) in tx.scan_prefix(Table::Annotations, &history_prefix(&a.id))? {
            tx.remove(Table::Annotations, h);
        }
        if let Some(cid) = &a.client_id {
            tx.remove(Table::Annotations, client_key(&a.video, cid));
        }
        tx.remove(Table::Annotations, locator_key(&a.id));
        tx.remove(Table::Annotations, k);
    }
    for prefix in asset_side_prefixes(asset) {
        for (k, _) in tx.scan_prefix(Table::Annotations, &prefix)? {
            tx.remove(Table::Annotations, k);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trees::SmTrees;

    #[test]
    fn live_records_are_numbered_in_order_and_the_oldest_dropped_whole() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let trees = SmTrees::open(&db).unwrap();
        let mut tx = Tx::new(&trees);
        let v = VideoRef { asset: "a".into(), version: 1 };
        let event = |i: u32| LiveEvent { id: format!("{i:04}"), revision: 1, kind: LiveKind::Created };
        // Records of 3, 4 and 2 events, keeping at least 5.
        let mut n = 0;
        let mut kept_records = Vec::new();
        for size in [3u32, 4, 2] {
            publish_keeping(&mut tx, &v, (n..n + size).map(event).collect(), 5).unwrap();
            n += size;
            let prefix = live_prefix(&v);
            let end = crate::keys::prefix_end(&prefix).unwrap();
            let records: Vec<LiveRecord> = tx
                .first_in_range(Table::Annotations, &prefix, &end, 10)
                .unwrap()
                .iter()
                .map(|(_, r)| bincode::deserialize(r).unwrap())
                .collect();
            kept_records.push(records.iter().map(|r| (r.first, r.last())).collect::<Vec<_>>());
        }
        assert_eq!(
            kept_records,
            [
                vec![(1, 3)],
                // 7 events: dropping 1..=3 would leave 4, fewer than 5.
                vec![(1, 3), (4, 7)],
                // 9 events: without 1..=3, 6 are left.
                vec![(4, 7), (8, 9)],
            ]
        );
        let seq = tx.get(Table::Annotations, &sequence_key(&v)).unwrap().unwrap();
        assert_eq!(u64::from_be_bytes(seq.try_into().unwrap()), 9);
        // Nothing to publish: no record, no number.
        publish_keeping(&mut tx, &v, Vec::new(), 5).unwrap();
        let seq = tx.get(Table::Annotations, &sequence_key(&v)).unwrap().unwrap();
        assert_eq!(u64::from_be_bytes(seq.try_into().unwrap()), 9);
    }
}
