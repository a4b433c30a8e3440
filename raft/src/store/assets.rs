//! Reads of the asset catalogue (`sm_assets`, `sm_asset_index`), as this node has
//! applied them (callers wanting the latest committed state run a read barrier
//! first). Every list is one ordered range scan of an index ([`crate::assets`]).

use super::{decode, MetaStore};
use crate::assets::{
    asset_key, content_prefix, contents_prefix, event_key, event_position, events_prefix, incoming_prefix,
    index_prefix, object_ref_prefix, parse_content, parse_position, position, ref_asset, retention_key, share_key,
    shares_prefix, stats_key, version_key, versions_prefix, Asset, AssetEvent, AssetStats, AssetVersion, IndexScan,
    MediaType, ObjectRef, Share, DEFAULT_TRASH_RETENTION_SECS, DUE_ENTRIES,
};
use crate::error::MetaError;
use crate::schema::Nanos;
use crate::tables::Table;
use std::ops::Bound;

/// The log position (index, command) of an asset event: its place in its feed.
pub type EventPosition = (u64, u32);

/// A page of an index scan: which index, the created-time window, where to start,
/// which way, how many.
#[derive(Clone, Debug)]
pub struct AssetQuery {
    pub tenant: String,
    pub scan: IndexScan,
    /// Created at or after.
    pub from: Option<Nanos>,
    /// Created before.
    pub until: Option<Nanos>,
    /// The (created, id) of the last entry of the previous page.
    pub after: Option<(Nanos, String)>,
    /// Newest first.
    pub descending: bool,
    pub limit: usize,
}

impl MetaStore {
    pub fn asset(&self, id: &str) -> Result<Option<Asset>, MetaError> {
        decode(self.inner().trees.tree(Table::Assets).get(asset_key(id))?)
    }

    pub fn asset_version(&self, id: &str, number: u32) -> Result<Option<AssetVersion>, MetaError> {
        decode(self.inner().trees.tree(Table::Assets).get(version_key(id, number))?)
    }

    /// Asset `id`'s versions after number `after`, oldest first, at most `limit`.
    pub fn asset_versions(&self, id: &str, after: u32, limit: usize) -> Result<Vec<AssetVersion>, MetaError> {
        let inner = self.inner();
        let tree = inner.trees.tree(Table::Assets);
        let end = crate::tx::prefix_range(&versions_prefix(id)).1;
        let start = Bound::Excluded(version_key(id, after));
        let mut out = Vec::new();
        for item in tree.range((start, end)).take(limit) {
            let (_, v) = item?;
            out.push(bincode::deserialize(&v)?);
        }
        Ok(out)
    }

    /// The (created, id) of the assets `q` finds, in order: one range scan.
    pub fn asset_positions(&self, q: &AssetQuery) -> Result<Vec<(Nanos, String)>, MetaError> {
        let prefix = index_prefix(&q.tenant, &q.scan);
        let at = |t: Nanos| [prefix.as_slice(), &t.to_be_bytes()].concat();
        let mut lo = Bound::Included(q.from.map_or_else(|| prefix.clone(), at));
        let mut hi = match q.until {
            Some(t) => Bound::Excluded(at(t)),
            None => crate::tx::prefix_range(&prefix).1,
        };
        if let Some((t, id)) = &q.after {
            let k = [prefix.as_slice(), &position(*t, id)].concat();
            if q.descending {
                hi = Bound::Excluded(k);
            } else {
                lo = Bound::Excluded(k);
            }
        }
        let inner = self.inner();
        let tree = inner.trees.tree(Table::AssetIndex);
        let range = tree.range((lo, hi));
        let iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
            if q.descending { Box::new(range.rev()) } else { Box::new(range) };
        let mut out = Vec::new();
        for item in iter.take(q.limit) {
            let (k, _) = item?;
            if let Some(p) = k.get(prefix.len()..).and_then(parse_position) {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Count and bytes of `tenant`'s assets per media type: one read per type.
    pub fn asset_stats(&self, tenant: &str) -> Result<Vec<(MediaType, AssetStats)>, MetaError> {
        let inner = self.inner();
        let tree = inner.trees.tree(Table::AssetIndex);
        let mut out = Vec::new();
        for t in MediaType::ALL {
            let s: Option<AssetStats> = decode(tree.get(stats_key(tenant, t))?)?;
            out.push((t, s.unwrap_or_default()));
        }
        Ok(out)
    }

    /// `tenant`'s asset events after log position `after` (from the oldest kept when
    /// `None`), in log order, at most `limit`: one range scan.
    pub fn asset_events(
        &self,
        tenant: &str,
        after: Option<(u64, u32)>,
        limit: usize,
    ) -> Result<Vec<(EventPosition, AssetEvent)>, MetaError> {
        let prefix = events_prefix(tenant);
        let start = match after {
            Some(p) => Bound::Excluded(event_key(tenant, p)),
            None => Bound::Included(prefix.clone()),
        };
        let end = crate::tx::prefix_range(&prefix).1;
        let inner = self.inner();
        let mut out = Vec::new();
        for item in inner.trees.tree(Table::AssetEvents).range((start, end)).take(limit) {
            let (k, v) = item?;
            if let Some(p) = event_position(&k) {
                out.push((p, bincode::deserialize(&v)?));
            }
        }
        Ok(out)
    }

    /// The trashed assets whose purge is due at `now`, oldest first, at most `max`:
    /// one range scan of the purge order.
    pub fn assets_due(&self, now: Nanos, max: usize) -> Result<Vec<String>, MetaError> {
        let inner = self.inner();
        let end = [DUE_ENTRIES, &position(now, "\u{10FFFF}")].concat();
        let mut out = Vec::new();
        for item in inner.trees.tree(Table::AssetIndex).range(DUE_ENTRIES.to_vec()..end).take(max) {
            let (k, _) = item?;
            if let Some((_, id)) = k.get(DUE_ENTRIES.len()..).and_then(parse_position) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// How long `tenant`'s trashed assets stay, in seconds.
    pub fn trash_retention(&self, tenant: &str) -> Result<u64, MetaError> {
        let v: Option<u64> = decode(self.inner().trees.tree(Table::Assets).get(retention_key(tenant))?)?;
        Ok(v.unwrap_or(DEFAULT_TRASH_RETENTION_SECS))
    }

    /// `tenant`'s versions holding content `sha256` (hex; of `size` bytes, when given),
    /// at most `limit`, as (sha256, size, asset id, number): one range scan of the
    /// tenant's own content index. Empty for a malformed hash.
    pub fn asset_contents(
        &self,
        tenant: &str,
        sha256: &str,
        size: Option<u64>,
        limit: usize,
    ) -> Result<Vec<ContentEntry>, MetaError> {
        let Some(prefix) = content_prefix(tenant, sha256, size) else { return Ok(Vec::new()) };
        self.content_range(tenant, Bound::Included(prefix.clone()), crate::tx::prefix_range(&prefix).1, limit)
    }

    /// Every content entry of `tenant` in (sha256, size) order after the content
    /// `after` (sha256 hex, size), at most `limit`.
    pub fn asset_contents_after(
        &self,
        tenant: &str,
        after: Option<(&str, u64)>,
        limit: usize,
    ) -> Result<Vec<ContentEntry>, MetaError> {
        let all = contents_prefix(tenant);
        let start = match after.and_then(|(sha, size)| content_prefix(tenant, sha, Some(size))) {
            // Past every entry of that content.
            Some(p) => Bound::Included([p.as_slice(), &[0xff]].concat()),
            None => Bound::Included(all.clone()),
        };
        self.content_range(tenant, start, crate::tx::prefix_range(&all).1, limit)
    }

    fn content_range(
        &self,
        tenant: &str,
        start: Bound<Vec<u8>>,
        end: Bound<Vec<u8>>,
        limit: usize,
    ) -> Result<Vec<ContentEntry>, MetaError> {
        let inner = self.inner();
        let mut out = Vec::new();
        for item in inner.trees.tree(Table::AssetIndex).range((start, end)).take(limit) {
            let (k, _) = item?;
            out.extend(parse_content(tenant, &k));
        }
        Ok(out)
    }

    /// Asset `id`'s share with `tenant`, if any.
    pub fn asset_share(&self, id: &str, tenant: &str) -> Result<Option<Share>, MetaError> {
        decode(self.inner().trees.tree(Table::Assets).get(share_key(id, tenant))?)
    }

    /// Every share of asset `id`, by tenant.
    pub fn asset_shares(&self, id: &str) -> Result<Vec<Share>, MetaError> {
        let inner = self.inner();
        let mut out = Vec::new();
        for item in inner.trees.tree(Table::Assets).scan_prefix(shares_prefix(id)) {
            let (_, v) = item?;
            out.push(bincode::deserialize(&v)?);
        }
        Ok(out)
    }

    /// The (shared at, asset id) of the shares `tenant` received, after `after`, at
    /// most `limit`: one range scan.
    pub fn incoming_shares(
        &self,
        tenant: &str,
        after: Option<(Nanos, String)>,
        limit: usize,
    ) -> Result<Vec<(Nanos, String)>, MetaError> {
        let prefix = incoming_prefix(tenant);
        let start = match &after {
            Some((t, id)) => Bound::Excluded([prefix.as_slice(), &position(*t, id)].concat()),
            None => Bound::Included(prefix.clone()),
        };
        let inner = self.inner();
        let mut out = Vec::new();
        for item in inner.trees.tree(Table::AssetIndex).range((start, crate::tx::prefix_range(&prefix).1)).take(limit) {
            let (k, _) = item?;
            out.extend(k.get(prefix.len()..).and_then(parse_position));
        }
        Ok(out)
    }

    /// Is object version `o` one that an asset shared with `tenant` (and not in the
    /// trash) points at? One range scan of the object's references.
    pub fn shared_with(&self, tenant: &str, o: &ObjectRef) -> Result<bool, MetaError> {
        let prefix = object_ref_prefix(o);
        let inner = self.inner();
        for item in inner.trees.tree(Table::AssetIndex).scan_prefix(&prefix) {
            let (k, _) = item?;
            let Some(id) = ref_asset(prefix.len(), &k) else { continue };
            if self.asset_share(id, tenant)?.is_some() && self.asset(id)?.is_some_and(|a| a.trashed_at.is_none()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Every asset after id `after` in id order, at most `limit` (a rebuild's walk).
    pub fn assets_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<Asset>, MetaError> {
        let start = match after {
            Some(id) => Bound::Excluded(asset_key(id)),
            None => Bound::Included(crate::assets::ASSET_RECORDS.to_vec()),
        };
        let end = crate::tx::prefix_range(crate::assets::ASSET_RECORDS).1;
        let inner = self.inner();
        let mut out = Vec::new();
        for item in inner.trees.tree(Table::Assets).range((start, end)).take(limit) {
            let (_, v) = item?;
            out.push(bincode::deserialize(&v)?);
        }
        Ok(out)
    }
}

/// A version by its content: (sha256 hex, size, asset id, version number).
pub type ContentEntry = (String, u64, String, u32);
