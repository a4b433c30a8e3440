//! One walk over the objects of the cluster, a bucket or a prefix: every blob of every
//! object is verified block by block, and blobs with bad shards are healed and verified
//! again. Heal passes, scrub passes and the refill of a wiped disk are all such walks.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_erasure::{BlobHealth, DiskSet, Pace, ShardSpec};
use cairn_raft::MetaStore;
use cairn_raft::schema::{BlobOwner, ObjectData, ObjectVersion, VersionEntry};

/// Objects read from the metadata per page.
const PAGE: usize = 128;

pub use cairn_api::durability::{PassScope as Scope, PassState, PassStatus, StripeCounts};

fn add(counts: &mut StripeCounts, h: &BlobHealth) {
    counts.whole += h.whole;
    counts.degraded += h.degraded;
    counts.lost += h.lost;
}

/// A pass that starts now over `scope`.
pub fn starting(scope: Scope) -> PassStatus {
    PassStatus { state: PassState::Running, scope, started: Some(unix_now()), ..Default::default() }
}

/// One log line with what a finished pass found and did.
pub fn log_done(p: &PassStatus, kind: &str) {
    tracing::info!(
        pass = kind,
        objects = p.objects,
        whole = p.stripes.whole,
        degraded = p.stripes.degraded,
        lost = p.stripes.lost,
        rewritten = p.shards_rewritten,
        "pass done"
    );
}

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Every sharded blob of an object version, with the size of the blob.
pub fn blobs_of(v: &ObjectVersion) -> Vec<(ShardSpec, u64)> {
    match &v.data {
        ObjectData::Parts(parts) => parts.iter().filter_map(|p| blob_of(&p.data, p.size)).collect(),
        other => blob_of(other, v.size).into_iter().collect(),
    }
}

/// The sharded blob of one object or part of `size` bytes, if it has one (an
/// encrypted one's blob holds its ciphertext, of its stored size).
fn blob_of(data: &ObjectData, size: u64) -> Option<(ShardSpec, u64)> {
    match data {
        ObjectData::Shards(r) => Some((cairn_object::spec_of(r), size)),
        ObjectData::Sealed(s) => blob_of(&s.data, s.stored_size),
        _ => None,
    }
}

/// The blob's spec and size as the metadata has it now.
pub fn resolve(meta: &MetaStore, id: u128) -> Option<(ShardSpec, u64)> {
    match meta.blob_owner(id).ok()?? {
        BlobOwner::Object { bucket, key } => {
            let v = meta.get_object(&bucket, &key).ok()??;
            blobs_of(&v).into_iter().find(|(s, _)| s.id == id)
        }
        BlobOwner::Version { bucket, key, version_id } => {
            match meta.get_version(&bucket, &key, version_id.as_deref()).ok()?? {
                (VersionEntry::Object(v), _) => blobs_of(&v).into_iter().find(|(s, _)| s.id == id),
                (VersionEntry::Marker(_), _) => None,
            }
        }
        BlobOwner::Part { upload_id, number } => {
            let p = meta.all_parts(&upload_id).ok()?.into_iter().find(|p| p.number == number)?;
            blob_of(&p.data, p.size).filter(|(s, _)| s.id == id)
        }
    }
}

/// What checking (and healing) one blob gave.
pub struct BlobResult {
    pub found: BlobHealth,
    pub after: BlobHealth,
    pub rewritten: usize,
    pub failed: Vec<(usize, String)>,
}

/// Verifies one blob and heals it if a shard is bad. None when the blob stopped
/// being referenced meanwhile (overwritten or deleted): its findings mean nothing.
pub async fn check_blob(
    meta: &MetaStore,
    disks: &DiskSet,
    spec: ShardSpec,
    size: u64,
    pace: Option<Pace>,
    heal: bool,
) -> Result<Option<BlobResult>, String> {
    let id = spec.id;
    let found = disks.verify(spec.clone(), size, pace.clone()).await.map_err(|e| e.to_string())?;
    let res = if found.is_whole() || !heal {
        BlobResult { after: found.clone(), found, rewritten: 0, failed: Vec::new() }
    } else {
        if meta.blob_owner(id).ok().flatten().is_none() {
            return Ok(None);
        }
        let out = disks.heal(spec, size, pace).await.map_err(|e| e.to_string())?;
        if !out.rewritten.is_empty() || !out.failed.is_empty() {
            tracing::info!(
                blob = %format_args!("{id:032x}"),
                rewritten = ?out.rewritten,
                failed = ?out.failed,
                whole = out.after.is_whole(),
                "healed blob"
            );
        }
        BlobResult { found: out.before, after: out.after, rewritten: out.rewritten.len(), failed: out.failed }
    };
    if !res.after.is_whole() && meta.blob_owner(id).ok().flatten().is_none() {
        return Ok(None);
    }
    Ok(Some(res))
}

/// Called after every object with the status so far; false stops the pass (leadership
/// lost, shutdown), leaving it resumable from `status.cursor`.
pub type Checkpoint<'a> = &'a mut (dyn FnMut(&PassStatus) -> bool + Send);

/// Walks `status.scope` from `status.cursor`, updating `status` (shared with the
/// status endpoint) as it goes. Returns when the scope is done or `checkpoint` says stop.
pub async fn run(
    meta: &MetaStore,
    disks: &DiskSet,
    status: &Arc<Mutex<PassStatus>>,
    pace: Option<Pace>,
    checkpoint: Checkpoint<'_>,
) {
    let scope = status.lock().unwrap_or_else(|e| e.into_inner()).scope.clone();
    loop {
        let cursor = status.lock().unwrap_or_else(|e| e.into_inner()).cursor.clone();
        let page = match meta.scan_keys_with_history(
            scope.bucket.as_deref(),
            &scope.prefix,
            cursor.as_ref().map(|(b, k)| (b.as_str(), k.as_str())),
            PAGE,
        ) {
            Ok(p) => p,
            Err(e) => {
                set(status, |s| {
                    s.last_error = Some(format!("metadata scan: {e}"));
                    s.state = PassState::Stopped;
                });
                return;
            }
        };
        let last_page = page.len() < PAGE;
        for (bucket, key, versions) in page {
            for (spec, size) in versions.iter().flat_map(blobs_of) {
                if scope.disk.is_some_and(|d| !spec.disks.contains(&d)) {
                    continue;
                }
                match check_blob(meta, disks, spec, size, pace.clone(), true).await {
                    Ok(Some(r)) => set(status, |s| {
                        s.blobs += 1;
                        s.bytes_verified += r.found.bytes;
                        add(&mut s.found, &r.found);
                        add(&mut s.stripes, &r.after);
                        if r.rewritten > 0 {
                            s.blobs_healed += 1;
                            s.shards_rewritten += r.rewritten as u64;
                        }
                        s.heal_failures += r.failed.len() as u64;
                        if let Some((shard, why)) = r.failed.first() {
                            s.last_error = Some(format!("{bucket}/{key} shard {shard}: {why}"));
                        }
                    }),
                    Ok(None) => {}
                    Err(e) => set(status, |s| s.last_error = Some(format!("{bucket}/{key}: {e}"))),
                }
            }
            set(status, |s| {
                s.objects += 1;
                s.cursor = Some((bucket.clone(), key.clone()));
            });
            let snapshot = status.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if !checkpoint(&snapshot) {
                set(status, |s| s.state = PassState::Stopped);
                return;
            }
        }
        if last_page {
            set(status, |s| {
                s.state = PassState::Done;
                s.finished = Some(unix_now());
            });
            return;
        }
    }
}

fn set(status: &Mutex<PassStatus>, f: impl FnOnce(&mut PassStatus)) {
    f(&mut status.lock().unwrap_or_else(|e| e.into_inner()));
}
