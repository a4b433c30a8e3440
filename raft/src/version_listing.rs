//! ListObjectVersions as one ordered walk over two trees: `sm_objects` (a key's current
//! object version) and `sm_versions` (its history, newest first). Both are in key
//! order, so the walk seeks to the next key present in either, emits that key's
//! current version and then its history, and moves past it; a delimiter rolls a whole
//! common prefix into one entry and skips it with one seek in each tree. Memory is one
//! page, whatever a key's history holds.

use crate::error::MetaError;
use crate::keys::{bucket_prefix, history_prefix, prefix_end, push_escaped, split_history_key};
use crate::schema::{ObjectVersion, VersionEntry, VersionListPage};
use std::ops::Bound;

/// Where the walk stands: the smallest `sm_objects` and `sm_versions` keys not yet seen.
struct Cursor {
    objects: Vec<u8>,
    versions: Vec<u8>,
}

pub(crate) struct Trees<'a> {
    pub objects: &'a sled::Tree,
    pub versions: &'a sled::Tree,
}

/// See [`crate::MetaStore::list_versions`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn list_versions(
    t: Trees<'_>,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    key_marker: Option<&str>,
    version_id_marker: Option<&str>,
    max: usize,
) -> Result<VersionListPage, MetaError> {
    let mut page = VersionListPage::default();
    let Some(base) = bucket_prefix(bucket) else {
        return Ok(page);
    };
    let delim = delimiter.filter(|d| !d.is_empty());
    let plain = |s: &str| {
        let mut k = base.clone();
        k.extend_from_slice(s.as_bytes());
        k
    };
    let escaped = |s: &str| {
        let mut k = base.clone();
        push_escaped(&mut k, s);
        k
    };
    // Past every key that starts with `s` (a common prefix), in both trees.
    let past_prefix = |s: &str| -> Option<Cursor> {
        Some(Cursor { objects: prefix_end(&plain(s))?, versions: prefix_end(&escaped(s))? })
    };
    // Past key `s` itself, before any key that extends it.
    let past_key = |s: &str| -> Option<Cursor> {
        let mut objects = plain(s);
        objects.push(0);
        let mut versions = escaped(s);
        versions.extend_from_slice(&[0, 2]);
        Some(Cursor { objects, versions })
    };
    let common_prefix = |key: &str| -> Option<String> {
        let d = delim?;
        let i = key.get(prefix.len()..)?.find(d)?;
        Some(key[..prefix.len() + i + d.len()].to_string())
    };
    let obj_end = prefix_end(&plain(prefix));
    let ver_end = prefix_end(&escaped(prefix));
    let mut at = Cursor { objects: plain(prefix), versions: escaped(prefix) };
    // The key-marker's versions after `version_id_marker`, before anything else.
    let mut resume: Option<(String, String)> = None;
    if let Some(km) = key_marker.filter(|km| *km >= prefix) {
        let next = match (common_prefix(km), version_id_marker) {
            (Some(cp), _) => past_prefix(&cp),
            (None, Some(vid)) => {
                resume = Some((km.to_string(), vid.to_string()));
                past_key(km)
            }
            (None, None) => past_key(km),
        };
        match next {
            Some(c) => at = c,
            None => return Ok(page),
        }
    }
    let mut emitted = 0usize;
    if let Some((km, vid)) = resume {
        if !emit_key(&t, bucket, &km, Some(&vid), max, &mut emitted, &mut page)? {
            return Ok(page);
        }
    }
    loop {
        let next_obj = first_at_or_after(t.objects, &at.objects, obj_end.as_deref())?
            .map(|k| String::from_utf8(k[base.len()..].to_vec()))
            .transpose()
            .map_err(|e| MetaError::Storage(format!("object key is not UTF-8: {e}")))?;
        let next_ver = match first_at_or_after(t.versions, &at.versions, ver_end.as_deref())? {
            Some(k) => Some(
                split_history_key(&k[base.len()..])
                    .ok_or_else(|| MetaError::Storage("malformed version history key".into()))?
                    .0,
            ),
            None => None,
        };
        let key = match (next_obj, next_ver) {
            (None, None) => break,
            (Some(a), None) | (None, Some(a)) => a,
            (Some(a), Some(b)) => a.min(b),
        };
        if let Some(cp) = common_prefix(&key) {
            if emitted == max {
                page.is_truncated = true;
                break;
            }
            emitted += 1;
            page.common_prefixes.push(cp.clone());
            page.next_key_marker = Some(cp.clone());
            page.next_version_id_marker = None;
            match past_prefix(&cp) {
                Some(c) => at = c,
                None => break,
            }
            continue;
        }
        if !emit_key(&t, bucket, &key, None, max, &mut emitted, &mut page)? {
            break;
        }
        match past_key(&key) {
            Some(c) => at = c,
            None => break,
        }
    }
    Ok(page)
}

/// The first key of `tree` in `[from, end)`.
fn first_at_or_after(tree: &sled::Tree, from: &[u8], end: Option<&[u8]>) -> Result<Option<Vec<u8>>, MetaError> {
    let upper = match end {
        Some(e) => Bound::Excluded(e.to_vec()),
        None => Bound::Unbounded,
    };
    match tree.range::<Vec<u8>, _>((Bound::Included(from.to_vec()), upper)).next() {
        Some(item) => Ok(Some(item?.0.to_vec())),
        None => Ok(None),
    }
}

/// Emits the versions of `key`, newest first (only those after `after`, a version id
/// or `null`, when given). False when the page filled up before the key's end.
fn emit_key(
    t: &Trees<'_>,
    bucket: &str,
    key: &str,
    after: Option<&str>,
    max: usize,
    emitted: &mut usize,
    page: &mut VersionListPage,
) -> Result<bool, MetaError> {
    let base = bucket_prefix(bucket).expect("bucket name fits");
    let mut okey = base.clone();
    okey.extend_from_slice(key.as_bytes());
    let current: Option<ObjectVersion> = match t.objects.get(&okey)? {
        Some(v) => Some(bincode::deserialize(&v)?),
        None => None,
    };
    let hp = history_prefix(bucket, key).expect("bucket name fits");
    let history = t.versions.scan_prefix(&hp).map(|item| -> Result<VersionEntry, MetaError> {
        let (_, v) = item?;
        Ok(bincode::deserialize(&v)?)
    });
    let mut skipping = after.is_some();
    let mut first = true;
    for entry in current.map(|c| Ok(VersionEntry::Object(c))).into_iter().chain(history) {
        let entry = entry?;
        let latest = std::mem::take(&mut first);
        let id = entry.version_id().unwrap_or("null").to_string();
        if skipping {
            skipping = after != Some(id.as_str());
            continue;
        }
        if *emitted == max {
            page.is_truncated = true;
            return Ok(false);
        }
        *emitted += 1;
        page.next_key_marker = Some(key.to_string());
        page.next_version_id_marker = Some(id);
        page.versions.push((key.to_string(), entry, latest));
    }
    Ok(true)
}
