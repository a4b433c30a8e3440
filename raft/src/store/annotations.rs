//! Reads of annotations (`sm_annotations`, `sm_annotation_index`), as this node has
//! applied them (callers wanting the latest committed state run a read barrier
//! first). Every query is one ordered range scan ([`crate::annotations`]).

use super::{decode, MetaStore};
use crate::annotations::{
    author_prefix, current_key, frame_prefix, history_key, history_prefix, live_key, live_prefix, locator_key,
    sequence_key, status_prefix, thread_prefix, timing_key, video_prefix, Annotation, AnnotationStatus, LiveEvent,
    LiveRecord, VideoRef, VideoTiming,
};
use crate::error::MetaError;
use crate::tables::Table;
use std::ops::Bound;

impl MetaStore {
    /// Annotation `id` as it is now (a tombstone too).
    pub fn annotation(&self, id: &str) -> Result<Option<Annotation>, MetaError> {
        let inner = self.inner();
        let t = inner.trees.tree(Table::Annotations);
        let Some(v): Option<VideoRef> = decode(t.get(locator_key(id))?)? else { return Ok(None) };
        decode(t.get(current_key(&v, id))?)
    }

    /// Annotation `id` at `revision` (the current record or one in its history).
    pub fn annotation_revision(&self, id: &str, revision: u32) -> Result<Option<Annotation>, MetaError> {
        match self.annotation(id)? {
            Some(a) if a.revision == revision => Ok(Some(a)),
            Some(_) => decode(self.inner().trees.tree(Table::Annotations).get(history_key(id, revision))?),
            None => Ok(None),
        }
    }

    /// Video `v`'s timing: the one set for it, else what the asset's metadata gives.
    /// None when the video does not exist or neither names a frame rate.
    pub fn video_timing(&self, v: &VideoRef) -> Result<Option<VideoTiming>, MetaError> {
        let set: Option<VideoTiming> = decode(self.inner().trees.tree(Table::Annotations).get(timing_key(v))?)?;
        if set.is_some() {
            return Ok(set);
        }
        Ok(self.asset(&v.asset)?.and_then(|a| VideoTiming::from_meta(&a.meta)))
    }

    /// Whether video `v`'s timing was set through the API (not taken from metadata).
    pub fn video_timing_is_set(&self, v: &VideoRef) -> Result<bool, MetaError> {
        Ok(self.inner().trees.tree(Table::Annotations).contains_key(timing_key(v))?)
    }

    /// Video `v`'s last live sequence number (0: none yet).
    pub fn live_sequence(&self, v: &VideoRef) -> Result<u64, MetaError> {
        let raw = self.inner().trees.tree(Table::Annotations).get(sequence_key(v))?;
        Ok(raw.and_then(|b| b.as_ref().try_into().ok()).map(u64::from_be_bytes).unwrap_or(0))
    }

    /// Video `v`'s live events after sequence `after`, in order, at most `limit`;
    /// `None` when events after `after` are no longer kept (the caller is too far
    /// behind and must re-read with a query).
    pub fn live_events(
        &self,
        v: &VideoRef,
        after: u64,
        limit: usize,
    ) -> Result<Option<Vec<(u64, LiveEvent)>>, MetaError> {
        let prefix = live_prefix(v);
        let inner = self.inner();
        let t = inner.trees.tree(Table::Annotations);
        // Records are keyed by their last event: the first one ending after `after`
        // holds the next event.
        let start = live_key(v, after.saturating_add(1));
        let mut out = Vec::new();
        for item in t.range((Bound::Included(start), crate::tx::prefix_range(&prefix).1)) {
            let (_, val) = item?;
            let record: LiveRecord = bincode::deserialize(&val)?;
            let first = record.first;
            for (i, e) in record.events.into_iter().enumerate() {
                let seq = first + i as u64;
                if seq > after {
                    out.push((seq, e));
                }
            }
            if out.len() >= limit {
                out.truncate(limit);
                break;
            }
        }
        // Nothing lost between `after` and the first event kept.
        let first = out.first().map(|(s, _)| *s);
        match first {
            Some(s) if s != after + 1 => Ok(None),
            None if self.live_sequence(v)? > after => Ok(None),
            _ => Ok(Some(out)),
        }
    }

    /// Annotation `id`'s earlier revisions, oldest first.
    pub fn annotation_history(&self, id: &str) -> Result<Vec<Annotation>, MetaError> {
        let inner = self.inner();
        let mut out = Vec::new();
        for item in inner.trees.tree(Table::Annotations).scan_prefix(history_prefix(id)) {
            out.push(bincode::deserialize(&item?.1)?);
        }
        Ok(out)
    }

    /// Video `v`'s annotations (tombstones included: a client syncs with them) after
    /// id `after`, in id (commit) order, at most `limit`.
    pub fn video_annotations(
        &self,
        v: &VideoRef,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Annotation>, MetaError> {
        let prefix = video_prefix(v);
        let start = match after {
            Some(id) => Bound::Excluded([prefix.as_slice(), id.as_bytes()].concat()),
            None => Bound::Included(prefix.clone()),
        };
        let inner = self.inner();
        let mut out = Vec::new();
        for item in inner.trees.tree(Table::Annotations).range((start, crate::tx::prefix_range(&prefix).1)).take(limit)
        {
            out.push(bincode::deserialize(&item?.1)?);
        }
        Ok(out)
    }

    /// The ids of video `v`'s annotations on frames `from..=to`, in (frame, id) order,
    /// after (`frame`, `id`) `after`, at most `limit`.
    pub fn annotations_by_frame(
        &self,
        v: &VideoRef,
        from: u64,
        to: u64,
        after: Option<(u64, &str)>,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, MetaError> {
        let prefix = frame_prefix(v);
        let start = match after {
            Some((f, id)) => Bound::Excluded([prefix.as_slice(), &f.to_be_bytes(), id.as_bytes()].concat()),
            None => Bound::Included([prefix.as_slice(), &from.to_be_bytes()].concat()),
        };
        let end = match to.checked_add(1) {
            Some(next) => Bound::Excluded([prefix.as_slice(), &next.to_be_bytes()].concat()),
            None => crate::tx::prefix_range(&prefix).1,
        };
        let inner = self.inner();
        let mut out = Vec::new();
        for item in inner.trees.tree(Table::AnnotationIndex).range((start, end)).take(limit) {
            let (k, _) = item?;
            let Some(rest) = k.get(prefix.len()..) else { continue };
            let Some(frame) = rest.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes) else { continue };
            out.push((frame, String::from_utf8_lossy(&rest[8..]).into_owned()));
        }
        Ok(out)
    }

    fn ids_under(&self, prefix: &[u8], after: Option<&str>, limit: usize) -> Result<Vec<String>, MetaError> {
        let start = match after {
            Some(id) => Bound::Excluded([prefix, id.as_bytes()].concat()),
            None => Bound::Included(prefix.to_vec()),
        };
        let inner = self.inner();
        let mut out = Vec::new();
        for item in
            inner.trees.tree(Table::AnnotationIndex).range((start, crate::tx::prefix_range(prefix).1)).take(limit)
        {
            let (k, _) = item?;
            out.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
        }
        Ok(out)
    }

    /// The ids of `author`'s annotations on video `v`, in id order.
    pub fn annotations_by_author(
        &self,
        v: &VideoRef,
        author: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, MetaError> {
        self.ids_under(&author_prefix(v, author), after, limit)
    }

    /// The ids of video `v`'s annotations in `status`, in id order.
    pub fn annotations_by_status(
        &self,
        v: &VideoRef,
        status: AnnotationStatus,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, MetaError> {
        self.ids_under(&status_prefix(v, status), after, limit)
    }

    /// The ids of the replies to `parent`, in id order.
    pub fn annotation_thread(&self, parent: &str, after: Option<&str>, limit: usize) -> Result<Vec<String>, MetaError> {
        self.ids_under(&thread_prefix(parent), after, limit)
    }
}
