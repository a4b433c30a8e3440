//! S3 object listing as an ordered range scan over `sm_objects`, and multipart upload
//! listing as one over `sm_uploads`.

use crate::error::MetaError;
use crate::keys::{bucket_prefix, prefix_end, push_escaped, split_upload_key, upload_key_prefix};
use crate::schema::{ListPage, UploadListPage};
use std::ops::Bound;

fn upper(key: &[u8]) -> Bound<Vec<u8>> {
    match prefix_end(key) {
        Some(e) => Bound::Excluded(e),
        None => Bound::Unbounded,
    }
}

/// See [`crate::MetaStore::list_objects`].
pub(crate) fn list_objects(
    objects: &sled::Tree,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max_keys: usize,
) -> Result<ListPage, MetaError> {
    let mut page = ListPage::default();
    if max_keys == 0 {
        return Ok(page);
    }
    let Some(base) = bucket_prefix(bucket) else {
        return Ok(page);
    };
    let delim = delimiter.filter(|d| !d.is_empty());
    let full = |s: &str| {
        let mut k = base.clone();
        k.extend_from_slice(s.as_bytes());
        k
    };
    let scan_prefix = full(prefix);
    let end = upper(&scan_prefix);

    // Where the scan starts: the prefix, or past `after` (and past the whole common
    // prefix `after` falls in, when it falls in one).
    let mut pos: Bound<Vec<u8>> = Bound::Included(scan_prefix.clone());
    if let Some(a) = after {
        let a_key = full(a);
        if a_key >= scan_prefix {
            let cp = delim.and_then(|d| {
                let rest = a.strip_prefix(prefix)?;
                let i = rest.find(d)?;
                Some(&a[..prefix.len() + i + d.len()])
            });
            pos = match cp {
                Some(cp) => match prefix_end(&full(cp)) {
                    Some(e) => Bound::Included(e),
                    None => return Ok(page),
                },
                None => Bound::Excluded(a_key),
            };
        }
    }

    let mut returned = 0usize;
    'seek: loop {
        for item in objects.range::<Vec<u8>, _>((pos.clone(), end.clone())) {
            let (k, v) = item?;
            if returned == max_keys {
                page.is_truncated = true;
                break 'seek;
            }
            let key = std::str::from_utf8(&k[base.len()..])
                .map_err(|e| MetaError::Storage(format!("object key is not UTF-8: {e}")))?;
            if let Some(d) = delim {
                if let Some(i) = key[prefix.len()..].find(d) {
                    let cp = &key[..prefix.len() + i + d.len()];
                    page.common_prefixes.push(cp.to_string());
                    page.next_marker = Some(cp.to_string());
                    returned += 1;
                    match prefix_end(&full(cp)) {
                        Some(e) => {
                            pos = Bound::Included(e);
                            continue 'seek;
                        }
                        None => break 'seek,
                    }
                }
            }
            page.objects.push((key.to_string(), bincode::deserialize(&v)?));
            page.next_marker = Some(key.to_string());
            returned += 1;
        }
        break;
    }
    Ok(page)
}

/// See [`crate::MetaStore::list_uploads`].
pub(crate) fn list_uploads(
    uploads: &sled::Tree,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    key_marker: Option<&str>,
    upload_id_marker: Option<&str>,
    max_uploads: usize,
) -> Result<UploadListPage, MetaError> {
    let mut page = UploadListPage {
        uploads: Vec::new(),
        common_prefixes: Vec::new(),
        is_truncated: false,
        next_key_marker: None,
        next_upload_id_marker: None,
    };
    if max_uploads == 0 {
        return Ok(page);
    }
    let Some(base) = bucket_prefix(bucket) else {
        return Ok(page);
    };
    let delim = delimiter.filter(|d| !d.is_empty());
    // Every upload of a key that starts with `s` has a sled key starting with this.
    let full = |s: &str| {
        let mut k = base.clone();
        push_escaped(&mut k, s);
        k
    };
    let scan_prefix = full(prefix);
    let end = upper(&scan_prefix);

    let mut pos: Bound<Vec<u8>> = Bound::Included(scan_prefix.clone());
    if let Some(km) = key_marker {
        let cp = delim.and_then(|d| {
            let rest = km.strip_prefix(prefix)?;
            let i = rest.find(d)?;
            Some(&km[..prefix.len() + i + d.len()])
        });
        let start = match (cp, upload_id_marker) {
            // The marker lies in a common prefix: resume past all of it.
            (Some(cp), _) => match prefix_end(&full(cp)) {
                Some(e) => Bound::Included(e),
                None => return Ok(page),
            },
            (None, Some(id)) => {
                let mut k = upload_key_prefix(bucket, km).expect("bucket name fits");
                k.extend_from_slice(id.as_bytes());
                Bound::Excluded(k)
            }
            // Past every upload of `km` (`0xff` never starts an upload id) but before
            // any key that extends it, even with a NUL.
            (None, None) => {
                let mut k = upload_key_prefix(bucket, km).expect("bucket name fits");
                k.push(0xff);
                Bound::Included(k)
            }
        };
        let start_key = match &start {
            Bound::Included(k) | Bound::Excluded(k) => k,
            Bound::Unbounded => unreachable!(),
        };
        if *start_key >= scan_prefix {
            pos = start;
        }
    }

    let mut returned = 0usize;
    'seek: loop {
        for item in uploads.range::<Vec<u8>, _>((pos.clone(), end.clone())) {
            let (k, v) = item?;
            if returned == max_uploads {
                page.is_truncated = true;
                break 'seek;
            }
            let (key, upload_id) = split_upload_key(&k[base.len()..])
                .ok_or_else(|| MetaError::Storage("malformed multipart upload key".into()))?;
            if let Some(d) = delim {
                if let Some(i) = key[prefix.len()..].find(d) {
                    let cp = &key[..prefix.len() + i + d.len()];
                    page.common_prefixes.push(cp.to_string());
                    page.next_key_marker = Some(cp.to_string());
                    page.next_upload_id_marker = None;
                    returned += 1;
                    match prefix_end(&full(cp)) {
                        Some(e) => {
                            pos = Bound::Included(e);
                            continue 'seek;
                        }
                        None => break 'seek,
                    }
                }
            }
            page.uploads.push(bincode::deserialize(&v)?);
            page.next_key_marker = Some(key);
            page.next_upload_id_marker = Some(upload_id);
            returned += 1;
        }
        break;
    }
    Ok(page)
}
