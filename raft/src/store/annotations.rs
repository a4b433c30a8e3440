//! Reads of annotations (`sm_annotations`, `sm_annotation_index`), as this node has
//! applied them (callers wanting the latest committed state run a read barrier
//! first). Every query is one ordered range scan ([`crate::annotations`]).

use super::{decode, MetaStore};
use crate::annotations::{
    author_prefix, current_key, frame_prefix, history_prefix, locator_key, status_prefix, thread_prefix, video_prefix,
    Annotation, AnnotationStatus, VideoRef,
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
