//! One walk over the objects of the cluster, a bucket or a prefix: every blob of every
//! object is verified block by block, and blobs with bad shards are healed and verified
//! again. Heal passes, scrub passes and the refill of a wiped disk are all such walks.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_erasure::{BlobHealth, DiskSet, Pace, ShardSpec};
use cairn_raft::MetaStore;
use cairn_raft::schema::{BlobOwner, ObjectData, ObjectVersion};
use serde::{Deserialize, Serialize};

/// Objects read from the metadata per page.
const PAGE: usize = 128;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeCounts {
    pub whole: u64,
    pub degraded: u64,
    pub lost: u64,
}

impl StripeCounts {
    fn add(&mut self, h: &BlobHealth) {
        self.whole += h.whole;
        self.degraded += h.degraded;
        self.lost += h.lost;
    }
}

/// What a pass walks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub bucket: Option<String>,
    pub prefix: String,
    /// Only blobs with a shard on this global disk index (refilling one disk).
    pub disk: Option<u16>,
}

/// Progress and findings of a pass; the admin API and `cairn heal` / `cairn scrub`
/// show it as is.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PassStatus {
    /// `idle` (never ran), `running`, `done`, or `stopped` (interrupted; resumes).
    pub state: String,
    pub scope: Scope,
    /// Unix seconds.
    pub started: Option<u64>,
    pub finished: Option<u64>,
    /// The last object done; a resumed pass continues after it.
    pub cursor: Option<(String, String)>,
    pub objects: u64,
    pub blobs: u64,
    /// Shard bytes read and checked.
    pub bytes_verified: u64,
    /// Stripes as the pass found them.
    pub found: StripeCounts,
    /// Stripes after healing, each verified again after its rewrite: the health of
    /// everything the pass covered.
    pub stripes: StripeCounts,
    pub blobs_healed: u64,
    pub shards_rewritten: u64,
    /// Shards that could not be rewritten (their disk is away, or too few good shards).
    pub heal_failures: u64,
    pub last_error: Option<String>,
}

impl PassStatus {
    pub fn idle() -> Self {
        PassStatus { state: "idle".into(), ..Default::default() }
    }

    pub fn starting(scope: Scope) -> Self {
        PassStatus { state: "running".into(), scope, started: Some(unix_now()), ..Default::default() }
    }

    /// One log line with what a finished pass found and did.
    pub fn log_done(&self, kind: &str) {
        tracing::info!(
            pass = kind,
            objects = self.objects,
            whole = self.stripes.whole,
            degraded = self.stripes.degraded,
            lost = self.stripes.lost,
            rewritten = self.shards_rewritten,
            "pass done"
        );
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Every sharded blob of an object version, with the size of the blob.
pub fn blobs_of(v: &ObjectVersion) -> Vec<(ShardSpec, u64)> {
    match &v.data {
        ObjectData::Inline(_) => Vec::new(),
        ObjectData::Shards(r) => vec![(cairn_object::spec_of(r), v.size)],
        ObjectData::Parts(parts) => parts
            .iter()
            .filter_map(|p| match &p.data {
                ObjectData::Shards(r) => Some((cairn_object::spec_of(r), p.size)),
                _ => None,
            })
            .collect(),
    }
}

/// The blob's spec and size as the metadata has it now.
pub fn resolve(meta: &MetaStore, id: u128) -> Option<(ShardSpec, u64)> {
    match meta.blob_owner(id).ok()?? {
        BlobOwner::Object { bucket, key } => {
            let v = meta.get_object(&bucket, &key).ok()??;
            blobs_of(&v).into_iter().find(|(s, _)| s.id == id)
        }
        BlobOwner::Part { upload_id, number } => {
            let p = meta.all_parts(&upload_id).ok()?.into_iter().find(|p| p.number == number)?;
            match &p.data {
                ObjectData::Shards(r) if r.id == id => Some((cairn_object::spec_of(r), p.size)),
                _ => None,
            }
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
        let page = match meta.scan_objects(
            scope.bucket.as_deref(),
            &scope.prefix,
            cursor.as_ref().map(|(b, k)| (b.as_str(), k.as_str())),
            PAGE,
        ) {
            Ok(p) => p,
            Err(e) => {
                set(status, |s| {
                    s.last_error = Some(format!("metadata scan: {e}"));
                    s.state = "stopped".into();
                });
                return;
            }
        };
        let last_page = page.len() < PAGE;
        for (bucket, key, version) in page {
            for (spec, size) in blobs_of(&version) {
                if scope.disk.is_some_and(|d| !spec.disks.contains(&d)) {
                    continue;
                }
                match check_blob(meta, disks, spec, size, pace.clone(), true).await {
                    Ok(Some(r)) => set(status, |s| {
                        s.blobs += 1;
                        s.bytes_verified += r.found.bytes;
                        s.found.add(&r.found);
                        s.stripes.add(&r.after);
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
                set(status, |s| s.state = "stopped".into());
                return;
            }
        }
        if last_page {
            set(status, |s| {
                s.state = "done".into();
                s.finished = Some(unix_now());
            });
            return;
        }
    }
}

fn set(status: &Mutex<PassStatus>, f: impl FnOnce(&mut PassStatus)) {
    f(&mut status.lock().unwrap_or_else(|e| e.into_inner()));
}
