//! Crash consistency under load: one node is killed with SIGKILL again and again while
//! several writers PUT, upload multipart, copy and delete. Afterwards every acknowledged
//! write must be there byte-exact, every unacknowledged one absent or whole, the listing
//! must agree with the objects, and once everything is deleted the orphan collector must
//! leave no shard file behind.
//!
//! The run is random but reproducible: it prints its seed, and `CAIRN_CRASH_SEED=<seed>`
//! replays the same choices (the kill points still depend on timing).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_tests::aws_sdk_s3::error::SdkError;
use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;
use md5::Digest as _;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
/// Objects up to this size are stored inline in the metadata, larger ones as shards.
const INLINE_MAX: usize = 16 << 10;
/// The minimum size of every multipart part but the last.
const PART: usize = 5 * MIB;
const BUCKET: &str = "crash";
const WRITERS: usize = 3;
const ROUNDS: usize = 20;
/// The rounds stop early after this long (a round that has started still runs)...
const ROUNDS_TIME: Duration = Duration::from_secs(150);
/// ...but not before this many kills.
const MIN_KILLS: usize = 8;
/// A writer's ops per round at most (a round normally ends with the kill well before).
const MAX_OPS_PER_ROUND: usize = 40;
/// How long writers may take to see their requests fail after the kill.
const NOTICE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the node may take to answer /health/ready after a restart.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Bookkeeping
// ---------------------------------------------------------------------------

/// The content of an object as the client knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Obj {
    len: u64,
    sha256: String,
    /// Hex MD5 of the whole body (the ETag of a copy of it).
    md5: String,
    /// Quoted ETag the object must have.
    etag: String,
}

impl Obj {
    fn single(data: &[u8]) -> Obj {
        let md5 = md5_hex(data);
        Obj { len: data.len() as u64, sha256: sha256_hex(data), etag: format!("\"{md5}\""), md5 }
    }

    fn multipart(parts: &[Vec<u8>]) -> Obj {
        let mut sha = sha2::Sha256::new();
        let mut md5 = md5::Md5::new();
        for p in parts {
            sha2::Digest::update(&mut sha, p);
            md5.update(p);
        }
        Obj {
            len: parts.iter().map(|p| p.len() as u64).sum(),
            sha256: hex::encode(sha2::Digest::finalize(sha)),
            md5: hex::encode(md5.finalize()),
            etag: multipart_etag(parts),
        }
    }

    /// What CopyObject of this object writes: the same bytes as one single-part object.
    fn copied(&self) -> Obj {
        Obj { etag: format!("\"{}\"", self.md5), ..self.clone() }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Absent,
    Present(Obj),
}

impl State {
    fn describe(&self) -> String {
        match self {
            State::Absent => "absent".into(),
            State::Present(o) => format!("{} bytes sha256 {} etag {}", o.len, &o.sha256[..12], o.etag),
        }
    }
}

/// What one key may hold now: exactly one state after an acknowledged op, more when ops on
/// it got no answer (cut by a kill), since each of those may or may not have taken effect.
#[derive(Debug)]
struct Book {
    allowed: Vec<State>,
    /// What happened to the key, for failure messages.
    history: Vec<String>,
}

impl Book {
    fn new() -> Book {
        Book { allowed: vec![State::Absent], history: Vec::new() }
    }
    fn acknowledged(&mut self, s: State) {
        self.allowed = vec![s];
    }
    fn unsure(&mut self, s: State) {
        if !self.allowed.contains(&s) {
            self.allowed.push(s);
        }
    }
    /// The state, if it is known for certain.
    fn known(&self) -> Option<&State> {
        match self.allowed.as_slice() {
            [s] => Some(s),
            _ => None,
        }
    }
}

/// What a writer does: the first test's mix of every kind of write and size, or the
/// compaction test's objects small enough for segments, with reads between the writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Profile {
    Mixed,
    Segments,
}

/// Objects up to this size have shards small enough for a segment on 2+2 (a shard is half the
/// object plus its headers and block CRCs; segments take shards up to 96 KiB).
const SEGMENT_OBJECT_MAX: usize = 180 * KIB;

/// (acknowledged, failed) per op kind.
type Stats = BTreeMap<&'static str, (u32, u32)>;

/// One writer: owns its keys (`w<id>/k<n>`) and does one op at a time on them, so the
/// expected state of each key follows from the answers it got.
struct Writer {
    id: usize,
    profile: Profile,
    rng: SmallRng,
    keys: BTreeMap<String, Book>,
    next_key: u64,
    next_seed: u64,
    stats: Stats,
    /// Keys a multipart upload was started for, and the uploads completed with a 200.
    mpu_keys: BTreeSet<String>,
    completed_uploads: BTreeSet<String>,
    /// Things that must not happen: an error while the node was up, a wrong ETag in an answer.
    problems: Vec<String>,
}

fn sdk_err<E, R>(e: SdkError<E, R>) -> String
where
    E: cairn_tests::aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug + RawStatus,
{
    let i = ErrInfo::from_sdk(&e);
    match (i.status, i.code) {
        (Some(s), Some(c)) => format!("HTTP {s} {c}: {}", i.message.unwrap_or_default()),
        (Some(s), None) => format!("HTTP {s}"),
        _ => {
            let mut d = i.debug;
            d.truncate(300);
            d
        }
    }
}

impl Writer {
    fn new(id: usize, seed: u64, profile: Profile) -> Writer {
        Writer {
            id,
            profile,
            rng: SmallRng::seed_from_u64(seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(id as u64 + 1))),
            keys: BTreeMap::new(),
            next_key: 0,
            next_seed: (seed << 8) ^ ((id as u64) << 56),
            stats: Stats::new(),
            mpu_keys: BTreeSet::new(),
            completed_uploads: BTreeSet::new(),
            problems: Vec::new(),
        }
    }

    fn new_key(&mut self) -> String {
        self.next_key += 1;
        let key = format!("w{}/k{}", self.id, self.next_key);
        self.keys.insert(key.clone(), Book::new());
        key
    }

    fn body(&mut self, len: usize) -> Vec<u8> {
        self.next_seed += 1;
        random_bytes(self.next_seed, len)
    }

    /// A PUT size: mostly inline or 100 KiB..1 MiB, now and then ~3 MiB; for
    /// [`Profile::Segments`], above inline and within a segment's shard size.
    fn put_size(&mut self) -> usize {
        if self.profile == Profile::Segments {
            return self.rng.gen_range(INLINE_MAX + 1..=SEGMENT_OBJECT_MAX);
        }
        match self.rng.gen_range(0..100) {
            0..=39 => self.rng.gen_range(0..=INLINE_MAX),
            40..=89 => self.rng.gen_range(100 * KIB..=MIB),
            _ => 3 * MIB - self.rng.gen_range(0..64 * KIB),
        }
    }

    fn random_key(&mut self, keys: &[String]) -> Option<String> {
        (!keys.is_empty()).then(|| keys[self.rng.gen_range(0..keys.len())].clone())
    }

    /// Record the outcome of an op that would leave `key` in state `new`.
    fn settle(
        &mut self,
        round: usize,
        op: &'static str,
        key: &str,
        new: State,
        res: Result<(), String>,
        killed: bool,
    ) -> bool {
        let entry = self.stats.entry(op).or_default();
        let book = self.keys.get_mut(key).expect("key of this writer");
        match res {
            Ok(()) => {
                entry.0 += 1;
                book.history.push(format!("round {round}: {op} -> {} acknowledged", new.describe()));
                book.acknowledged(new);
                true
            }
            Err(e) => {
                entry.1 += 1;
                book.history.push(format!("round {round}: {op} -> {} FAILED ({e})", new.describe()));
                if !killed {
                    self.problems.push(format!("round {round}: {op} {key} failed while the node was up: {e}"));
                }
                book.unsure(new);
                false
            }
        }
    }

    /// A failed step that leaves the key as it was (CreateMultipartUpload, UploadPart).
    fn step_failed(&mut self, round: usize, op: &'static str, key: &str, e: String, killed: bool) -> bool {
        self.stats.entry(op).or_default().1 += 1;
        if let Some(book) = self.keys.get_mut(key) {
            book.history.push(format!("round {round}: {op} FAILED ({e})"));
        }
        if !killed {
            self.problems.push(format!("round {round}: {op} {key} failed while the node was up: {e}"));
        }
        false
    }

    /// Ops until the node is killed (or MAX_OPS_PER_ROUND); hands the writer back.
    async fn round(mut self, c: Client, killed: Arc<AtomicBool>, round: usize) -> Writer {
        // The compaction test's rounds wait for a compaction to start: keep the load on till then.
        let ops = if self.profile == Profile::Segments { 10 * MAX_OPS_PER_ROUND } else { MAX_OPS_PER_ROUND };
        for _ in 0..ops {
            if killed.load(Ordering::SeqCst) {
                break;
            }
            let ok = self.one_op(&c, round, &killed).await;
            if !ok && killed.load(Ordering::SeqCst) {
                break;
            }
        }
        self
    }

    async fn one_op(&mut self, c: &Client, round: usize, killed: &AtomicBool) -> bool {
        let all: Vec<String> = self.keys.keys().cloned().collect();
        let present: Vec<String> = self
            .keys
            .iter()
            .filter(|(_, b)| matches!(b.known(), Some(State::Present(_))))
            .map(|(k, _)| k.clone())
            .collect();
        let roll = self.rng.gen_range(0..100);
        if self.profile == Profile::Segments {
            return match roll {
                0..=24 if !present.is_empty() => {
                    let key = self.random_key(&present).unwrap();
                    self.read(c, round, killed, key).await
                }
                25..=49 if !all.is_empty() => {
                    let key = self.random_key(&all).unwrap();
                    self.put(c, round, killed, key).await
                }
                50..=59 if !present.is_empty() => {
                    let src = self.random_key(&present).unwrap();
                    let dst = self.new_key();
                    self.copy(c, round, killed, src, dst).await
                }
                60..=79 if !present.is_empty() => {
                    let key = self.random_key(&present).unwrap();
                    self.delete(c, round, killed, key).await
                }
                _ => {
                    let key = self.new_key();
                    self.put(c, round, killed, key).await
                }
            };
        }
        match roll {
            30..=49 if !all.is_empty() => {
                let key = self.random_key(&all).unwrap();
                self.put(c, round, killed, key).await
            }
            50..=61 => {
                let key = match self.rng.gen_bool(0.5) {
                    true if !all.is_empty() => self.random_key(&all).unwrap(),
                    _ => self.new_key(),
                };
                self.multipart(c, round, killed, key).await
            }
            62..=79 if !present.is_empty() => {
                let src = self.random_key(&present).unwrap();
                let dst = self.new_key();
                self.copy(c, round, killed, src, dst).await
            }
            80..=99 if !present.is_empty() => {
                let key = self.random_key(&present).unwrap();
                self.delete(c, round, killed, key).await
            }
            _ => {
                let key = self.new_key();
                self.put(c, round, killed, key).await
            }
        }
    }

    async fn put(&mut self, c: &Client, round: usize, killed: &AtomicBool, key: String) -> bool {
        let len = self.put_size();
        let data = self.body(len);
        let obj = Obj::single(&data);
        let res = c.put_object().bucket(BUCKET).key(&key).body(ByteStream::from(data)).send().await;
        let res = match res {
            Ok(out) => {
                if out.e_tag() != Some(obj.etag.as_str()) {
                    self.problems.push(format!("PUT {key}: ETag {:?}, want {}", out.e_tag(), obj.etag));
                }
                Ok(())
            }
            Err(e) => Err(sdk_err(e)),
        };
        self.settle(round, "put", &key, State::Present(obj), res, killed.load(Ordering::SeqCst))
    }

    async fn multipart(&mut self, c: &Client, round: usize, killed: &AtomicBool, key: String) -> bool {
        // Mostly two parts, so that some uploads complete within a round.
        let n = if self.rng.gen_bool(0.75) { 2 } else { 3 };
        let sizes: Vec<usize> = (0..n).map(|i| if i + 1 < n { PART } else { self.rng.gen_range(KIB..=MIB) }).collect();
        self.mpu_keys.insert(key.clone());
        let id = match c.create_multipart_upload().bucket(BUCKET).key(&key).send().await {
            Ok(out) => out.upload_id().unwrap_or_default().to_string(),
            Err(e) => return self.step_failed(round, "create-mpu", &key, sdk_err(e), killed.load(Ordering::SeqCst)),
        };
        // Each part is generated just before it is sent, so the requests start at once.
        let mut parts = Vec::new();
        let mut done = Vec::new();
        for (i, len) in sizes.into_iter().enumerate() {
            let n = i as i32 + 1;
            let p = self.body(len);
            let r = c
                .upload_part()
                .bucket(BUCKET)
                .key(&key)
                .upload_id(&id)
                .part_number(n)
                .body(ByteStream::from(p.clone()))
                .send()
                .await;
            match r {
                Ok(out) => {
                    let etag = out.e_tag().unwrap_or_default().to_string();
                    if etag != etag_of(&p) {
                        self.problems.push(format!("UploadPart {n} of {key}: ETag {etag}, want {}", etag_of(&p)));
                    }
                    done.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
                    parts.push(p);
                }
                Err(e) => {
                    return self.step_failed(round, "upload-part", &key, sdk_err(e), killed.load(Ordering::SeqCst))
                }
            }
        }
        let obj = Obj::multipart(&parts);
        let r = c
            .complete_multipart_upload()
            .bucket(BUCKET)
            .key(&key)
            .upload_id(&id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
            .send()
            .await;
        let res = match r {
            Ok(out) => {
                if out.e_tag() != Some(obj.etag.as_str()) {
                    self.problems.push(format!(
                        "CompleteMultipartUpload {key}: ETag {:?}, want {}",
                        out.e_tag(),
                        obj.etag
                    ));
                }
                self.completed_uploads.insert(id);
                Ok(())
            }
            Err(e) => Err(sdk_err(e)),
        };
        self.settle(round, "multipart", &key, State::Present(obj), res, killed.load(Ordering::SeqCst))
    }

    async fn copy(&mut self, c: &Client, round: usize, killed: &AtomicBool, src: String, dst: String) -> bool {
        let Some(State::Present(obj)) = self.keys[&src].known().cloned() else {
            unreachable!("copy from a known object")
        };
        let obj = obj.copied();
        let r = c.copy_object().bucket(BUCKET).key(&dst).copy_source(format!("{BUCKET}/{src}")).send().await;
        let res = match r {
            Ok(out) => {
                let etag = out.copy_object_result().and_then(|r| r.e_tag());
                if etag != Some(obj.etag.as_str()) {
                    self.problems.push(format!("CopyObject {src} -> {dst}: ETag {etag:?}, want {}", obj.etag));
                }
                Ok(())
            }
            Err(e) => Err(sdk_err(e)),
        };
        if let Some(b) = self.keys.get_mut(&dst) {
            b.history.push(format!("copy of {src}"));
        }
        self.settle(round, "copy", &dst, State::Present(obj), res, killed.load(Ordering::SeqCst))
    }

    /// GET of a key whose state is known: the body must be exactly that object's.
    async fn read(&mut self, c: &Client, round: usize, killed: &AtomicBool, key: String) -> bool {
        let Some(State::Present(obj)) = self.keys[&key].known().cloned() else {
            unreachable!("read of a known object")
        };
        let got = match c.get_object().bucket(BUCKET).key(&key).send().await {
            Ok(out) => match out.body.collect().await {
                Ok(b) => Ok(b.into_bytes()),
                Err(e) => Err(format!("body: {e}")),
            },
            Err(e) => Err(sdk_err(e)),
        };
        let entry = self.stats.entry("get").or_default();
        match got {
            Ok(body) => {
                entry.0 += 1;
                if body.len() as u64 != obj.len || sha256_hex(&body) != obj.sha256 {
                    self.problems.push(format!(
                        "round {round}: GET {key} returned {} bytes (sha256 {}), want {}",
                        body.len(),
                        sha256_hex(&body),
                        State::Present(obj).describe()
                    ));
                }
                true
            }
            Err(e) => {
                entry.1 += 1;
                if !killed.load(Ordering::SeqCst) {
                    self.problems.push(format!("round {round}: GET {key} failed while the node was up: {e}"));
                }
                false
            }
        }
    }

    async fn delete(&mut self, c: &Client, round: usize, killed: &AtomicBool, key: String) -> bool {
        let r = c.delete_object().bucket(BUCKET).key(&key).send().await;
        let res = r.map(|_| ()).map_err(sdk_err);
        self.settle(round, "delete", &key, State::Absent, res, killed.load(Ordering::SeqCst))
    }
}

// ---------------------------------------------------------------------------
// Checks after the crashes
// ---------------------------------------------------------------------------

/// GET and HEAD every key any writer touched; returns the objects that exist. Every
/// mismatch is collected into `failures`.
async fn verify_objects(c: &Client, writers: &[Writer], failures: &mut Vec<String>) -> BTreeMap<String, Obj> {
    let mut present = BTreeMap::new();
    for (key, book) in writers.iter().flat_map(|w| w.keys.iter()) {
        let fail = |what: String| {
            let allowed: Vec<String> = book.allowed.iter().map(State::describe).collect();
            format!("{key}: {what}\n    allowed: {allowed:?}\n    history: {:#?}", book.history)
        };
        let out = match c.get_object().bucket(BUCKET).key(key).send().await {
            Ok(out) => out,
            Err(e) => {
                let info = ErrInfo::from_sdk(&e);
                if info.status == Some(404) && info.code.as_deref() == Some("NoSuchKey") {
                    if !book.allowed.contains(&State::Absent) {
                        failures.push(fail("missing (404 NoSuchKey) but it must exist".into()));
                    }
                } else {
                    failures.push(fail(format!("GET failed: {}", sdk_err(e))));
                }
                continue;
            }
        };
        let get_etag = out.e_tag().map(str::to_string);
        let get_len = out.content_length();
        let body = match out.body.collect().await {
            Ok(b) => b.into_bytes(),
            Err(e) => {
                failures.push(fail(format!("GET body failed: {e}")));
                continue;
            }
        };
        let sha = sha256_hex(&body);
        let Some(obj) = book.allowed.iter().find_map(|s| match s {
            State::Present(o) if o.sha256 == sha && o.len == body.len() as u64 => Some(o.clone()),
            _ => None,
        }) else {
            failures.push(fail(format!("GET returned {} bytes (sha256 {sha}) matching no allowed state", body.len())));
            continue;
        };
        if get_etag.as_deref() != Some(obj.etag.as_str()) || get_len != Some(obj.len as i64) {
            failures.push(fail(format!(
                "GET ETag {get_etag:?} / Content-Length {get_len:?}, want {} / {}",
                obj.etag, obj.len
            )));
        }
        match c.head_object().bucket(BUCKET).key(key).send().await {
            Ok(h) => {
                if h.e_tag() != Some(obj.etag.as_str()) || h.content_length() != Some(obj.len as i64) {
                    failures.push(fail(format!(
                        "HEAD ETag {:?} / Content-Length {:?}, want {} / {}",
                        h.e_tag(),
                        h.content_length(),
                        obj.etag,
                        obj.len
                    )));
                }
            }
            Err(e) => failures.push(fail(format!("HEAD failed after a good GET: {}", sdk_err(e)))),
        }
        present.insert(key.clone(), obj);
    }
    present
}

/// ListObjectsV2 must list exactly the objects that exist, with their sizes and ETags.
async fn verify_listing(c: &Client, present: &BTreeMap<String, Obj>, failures: &mut Vec<String>) {
    let mut listed = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .list_objects_v2()
            .bucket(BUCKET)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListObjectsV2: {}", sdk_err(e)));
        for o in out.contents() {
            let key = o.key().unwrap_or_default().to_string();
            if listed.insert(key.clone(), (o.size(), o.e_tag().map(str::to_string))).is_some() {
                failures.push(format!("ListObjectsV2 lists {key} twice"));
            }
        }
        if out.is_truncated() == Some(true) {
            token = Some(out.next_continuation_token().expect("truncated listing without a token").to_string());
        } else {
            break;
        }
    }
    for (key, obj) in present {
        match listed.get(key) {
            None => failures.push(format!("ListObjectsV2 does not list {key}, which GET returns")),
            Some((size, etag)) => {
                if *size != Some(obj.len as i64) || etag.as_deref() != Some(obj.etag.as_str()) {
                    failures.push(format!(
                        "ListObjectsV2 lists {key} with size {size:?} ETag {etag:?}, want {} {}",
                        obj.len, obj.etag
                    ));
                }
            }
        }
    }
    for key in listed.keys().filter(|k| !present.contains_key(*k)) {
        failures.push(format!("ListObjectsV2 lists {key}, which GET does not return"));
    }
}

/// Every listed multipart upload, following the pagination: (key, upload id).
async fn all_uploads(c: &Client) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
    loop {
        let r = c
            .list_multipart_uploads()
            .bucket(BUCKET)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListMultipartUploads: {}", sdk_err(e)));
        for u in r.uploads() {
            out.push((u.key().unwrap_or_default().to_string(), u.upload_id().unwrap_or_default().to_string()));
        }
        if r.is_truncated() == Some(true) {
            key_marker = r.next_key_marker().map(str::to_string);
            id_marker = r.next_upload_id_marker().map(str::to_string);
            assert!(key_marker.is_some(), "truncated ListMultipartUploads without NextKeyMarker");
        } else {
            return out;
        }
    }
}

/// Uploads still listed must be ones the writers started and did not see complete.
async fn verify_uploads(c: &Client, writers: &[Writer], failures: &mut Vec<String>) -> usize {
    let uploads = all_uploads(c).await;
    for (key, id) in &uploads {
        if !writers.iter().any(|w| w.mpu_keys.contains(key)) {
            failures.push(format!("ListMultipartUploads lists an upload of {key}, which no writer started"));
        }
        if writers.iter().any(|w| w.completed_uploads.contains(id)) {
            failures.push(format!("ListMultipartUploads lists upload {id} of {key}, completed with a 200"));
        }
    }
    uploads.len()
}

/// The orphan collector: once every object is deleted and every upload aborted, a
/// collection with no grace period must leave no shard file and an empty tmp dir on
/// every disk, whatever the crashes left behind.
async fn delete_everything_then_collect_orphans(node: &TestNode) {
    let c = node.client();
    for key in list_all_keys(&c, BUCKET).await {
        c.delete_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DeleteObject {key}: {}", sdk_err(e)));
    }
    for (key, id) in all_uploads(&c).await {
        c.abort_multipart_upload()
            .bucket(BUCKET)
            .key(&key)
            .upload_id(&id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("AbortMultipartUpload {key} {id}: {}", sdk_err(e)));
    }
    assert_eq!(list_all_keys(&c, BUCKET).await, Vec::<String>::new(), "objects left after deleting them all");
    assert_eq!(all_uploads(&c).await, Vec::new(), "uploads left after aborting them all");

    // Let the background deletion of the deleted objects' shards finish (no change for 2 s,
    // 15 s at most), so what is left is what the crashes orphaned.
    let disks = node.disk_dirs();
    let settle_start = Instant::now();
    let mut last = shard_groups(&disks);
    let mut stable_since = Instant::now();
    while stable_since.elapsed() < Duration::from_secs(2) && settle_start.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = shard_groups(&disks);
        if now != last {
            last = now;
            stable_since = Instant::now();
        }
    }
    let tmp_before: usize = disks.iter().map(|d| files_under(&d.join("tmp")).len()).sum();
    eprintln!(
        "before the orphan collection: {} shard-file groups and {tmp_before} tmp files left on the disks",
        last.len()
    );

    let (status, body) = node.admin("POST", "gc?grace_secs=0", b"").await;
    assert_eq!(status, 200, "POST /cairn/admin/v1/gc?grace_secs=0: {body}");
    let answer: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("gc answer is not JSON ({e}): {body}"));
    assert!(answer["scanned"].is_u64() && answer["removed"].is_u64(), "gc answer without scanned/removed: {answer}");
    eprintln!("orphan collection: {answer}");

    for d in &disks {
        let shards = stored_shards(d);
        assert!(shards.is_empty(), "{} still holds {} shard files after gc: {:?}", d.display(), shards.len(), shards);
        let tmp = d.join("tmp");
        let left: Vec<_> =
            std::fs::read_dir(&tmp).map(|rd| rd.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        assert!(left.is_empty(), "{} is not empty after gc: {left:?}", tmp.display());
    }
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

/// The seed of a run: `CAIRN_CRASH_SEED` if set, else a random one, printed either way.
fn run_seed() -> u64 {
    let seed: u64 = match std::env::var("CAIRN_CRASH_SEED") {
        Ok(s) => s.parse().expect("CAIRN_CRASH_SEED must be a number"),
        Err(_) => rand::random(),
    };
    eprintln!("crash test seed {seed} (set CAIRN_CRASH_SEED={seed} to replay the same choices)");
    seed
}

/// After the last restart: every key as its book allows, the listing agreeing, no upload
/// left that should not be, no wrong answer while the node was up, no panic.
async fn verify_after_crashes(node: &TestNode, writers: &[Writer], kills: usize, rounds_time: Duration) {
    let mut stats = Stats::new();
    for w in writers {
        for (op, (a, f)) in &w.stats {
            let e = stats.entry(op).or_default();
            e.0 += a;
            e.1 += f;
        }
    }
    let keys: usize = writers.iter().map(|w| w.keys.len()).sum();
    let unsure = writers.iter().flat_map(|w| w.keys.values()).filter(|b| b.known().is_none()).count();
    eprintln!(
        "{kills} kills in {rounds_time:.1?}; {keys} keys ({unsure} in doubt); (acknowledged, failed) per op: {stats:?}"
    );
    assert!(stats.get("put").is_some_and(|s| s.0 > 0), "no PUT was ever acknowledged: {stats:?}");

    let c = node.client();
    let mut failures = Vec::new();
    let present = verify_objects(&c, writers, &mut failures).await;
    verify_listing(&c, &present, &mut failures).await;
    let uploads = verify_uploads(&c, writers, &mut failures).await;
    eprintln!("after the crashes: {} objects exist, {uploads} multipart uploads still listed", present.len());
    assert!(failures.is_empty(), "{} problems after {kills} kills:\n{}", failures.len(), failures.join("\n"));

    let problems: Vec<&String> = writers.iter().flat_map(|w| w.problems.iter()).collect();
    assert!(problems.is_empty(), "wrong answers while the node was up:\n{problems:#?}");
    let log = node.log_text();
    assert!(!log.contains("panicked"), "the node panicked:\n{}", node.log_tail(60));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_loop_under_mixed_load_loses_nothing_acknowledged() {
    within(480, async {
        let seed = run_seed();
        let mut rng = SmallRng::seed_from_u64(seed);

        let mut node = TestNode::start();
        create_bucket(&node.client(), BUCKET).await;
        let mut writers: Vec<Writer> = (0..WRITERS).map(|i| Writer::new(i, seed, Profile::Mixed)).collect();

        let t0 = Instant::now();
        let mut kills = 0;
        for round in 0..ROUNDS {
            if t0.elapsed() > ROUNDS_TIME && kills >= MIN_KILLS {
                break;
            }
            let c = node.client();
            let killed = Arc::new(AtomicBool::new(false));
            let tasks: Vec<_> =
                writers.drain(..).map(|w| tokio::spawn(w.round(c.clone(), killed.clone(), round))).collect();
            let run = Duration::from_millis(rng.gen_range(100..=800));
            tokio::time::sleep(run).await;
            // The flag first: every error a writer sees from here on may be the kill's doing.
            killed.store(true, Ordering::SeqCst);
            node.kill9();
            kills += 1;
            writers = collect_writers(tasks, round).await;
            node.restart(true);
            node.wait_ready(READY_TIMEOUT).await;
        }
        assert!(kills >= MIN_KILLS, "only {kills} kills");
        // The node was restarted after the last kill: check everything.
        verify_after_crashes(&node, &writers, kills, t0.elapsed()).await;
        delete_everything_then_collect_orphans(&node).await;
    })
    .await;
}

/// The writers of a round back, in id order, once they have noticed the kill.
async fn collect_writers(tasks: Vec<tokio::task::JoinHandle<Writer>>, round: usize) -> Vec<Writer> {
    let mut writers = Vec::new();
    for t in tasks {
        let w = tokio::time::timeout(NOTICE_TIMEOUT, t)
            .await
            .unwrap_or_else(|_| panic!("round {round}: a writer still waits {NOTICE_TIMEOUT:?} after kill -9"))
            .expect("writer task panicked");
        writers.push(w);
    }
    writers.sort_by_key(|w| w.id);
    writers
}

// ---------------------------------------------------------------------------
// Compaction under kill -9
// ---------------------------------------------------------------------------

/// Kills in the compaction test; at least [`MIN_MID_COMPACTION`] of them must land while a
/// segment is being compacted (its start logged, its end not).
const COMPACTION_KILLS: usize = 12;
const MIN_MID_COMPACTION: usize = 4;
/// Objects each writer stores before the kills, and the share of them it then deletes: the
/// sealed segments start mostly dead, so there is compaction to interrupt from the start.
const PRELOAD: usize = 150;
const PRELOAD_DELETED: f64 = 0.7;
/// Each round, one shard of this many blobs is damaged while the node is down, for the heal
/// pass of the next round to rewrite while compaction runs.
const DAMAGED_PER_ROUND: usize = 2;
const SEGMENT_BYTES: u64 = 1 << 20;

impl Writer {
    /// Stores `n` new objects, then deletes most of them (no kill meanwhile).
    async fn preload(mut self, c: Client, n: usize) -> Writer {
        let up = AtomicBool::new(false);
        let keys: Vec<String> = (0..n).map(|_| self.new_key()).collect();
        for k in &keys {
            self.put(&c, 0, &up, k.clone()).await;
        }
        for k in keys {
            if self.rng.gen_bool(PRELOAD_DELETED) {
                self.delete(&c, 0, &up, k).await;
            }
        }
        self
    }
}

/// Bytes of every segment file on these disks.
fn segment_file_bytes(disks: &[std::path::PathBuf]) -> u64 {
    disks
        .iter()
        .flat_map(|d| files_under(&d.join("segments")))
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// Waits (at most `timeout`) for compaction to bring the segment files down to `bound` bytes.
async fn wait_segment_bytes(disks: &[std::path::PathBuf], bound: u64, timeout: Duration, what: &str) -> u64 {
    let t = Instant::now();
    loop {
        let bytes = segment_file_bytes(disks);
        if bytes <= bound {
            return bytes;
        }
        assert!(
            t.elapsed() < timeout,
            "{what}: segment files still hold {bytes} bytes after {timeout:?} (bound {bound})"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Starts a heal pass over the bucket and waits for its report.
async fn heal_pass(node: &TestNode) -> serde_json::Value {
    let (status, body) = node.admin("POST", &format!("heal?bucket={BUCKET}"), b"").await;
    assert_eq!(status, 200, "POST heal: {body}");
    let t = Instant::now();
    loop {
        let (_, b) = node.admin("GET", "heal", b"").await;
        if b.contains("\"state\":\"done\"") {
            return serde_json::from_str(&b).unwrap_or_else(|e| panic!("heal report is not JSON ({e}): {b}"));
        }
        assert!(t.elapsed() < Duration::from_secs(60), "the heal pass did not end in 60 s: {b}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Segment compaction under the crash loop: a node with 1 MiB segments compacted every second
/// (its reads paced to 2 MiB/s, so a pass takes a while) is killed again and again while a
/// segment is being compacted, as writers overwrite, copy, delete and read objects whose shards
/// all go to segments and a heal pass rewrites shards damaged while the node was down. Nothing
/// acknowledged may be lost, nothing unacknowledged may show, and compaction must still bring
/// the segment files down to what is live, and to nearly nothing once everything is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_compaction_loses_nothing_acknowledged() {
    within(420, async {
        let seed = run_seed();
        let mut rng = SmallRng::seed_from_u64(seed);
        let seg = SEGMENT_BYTES.to_string();
        let args = ["--segment-bytes", seg.as_str(), "--compact-interval-secs", "1", "--scrub-rate-mib", "2"];
        let mut node = TestNode::start_with(&args);
        let disks = node.disk_dirs();
        create_bucket(&node.client(), BUCKET).await;

        let c = node.client();
        let tasks: Vec<_> = (0..WRITERS)
            .map(|i| tokio::spawn(Writer::new(i, seed, Profile::Segments).preload(c.clone(), PRELOAD)))
            .collect();
        let mut writers = collect_writers(tasks, 0).await;
        let preloaded = segment_file_bytes(&disks);
        eprintln!("preloaded: {preloaded} bytes of segment files");
        assert!(preloaded > 8 * SEGMENT_BYTES, "the preload filled only {preloaded} bytes of segments");

        let t0 = Instant::now();
        let mut log_seen = node.log_text().len();
        let mut damaged: BTreeSet<String> = BTreeSet::new();
        let (mut mid_compaction, mut compacted) = (0, 0);
        for round in 1..=COMPACTION_KILLS {
            let c = node.client();
            let killed = Arc::new(AtomicBool::new(false));
            let tasks: Vec<_> =
                writers.drain(..).map(|w| tokio::spawn(w.round(c.clone(), killed.clone(), round))).collect();
            if !damaged.is_empty() {
                let (status, body) = node.admin("POST", &format!("heal?bucket={BUCKET}"), b"").await;
                assert!(status == 200 || status == 409, "POST heal: {status} {body}");
            }
            // Kill at a random point after the next segment compaction starts.
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(10) && !node.log_text().get(log_seen..).unwrap_or("").contains("compacting segment") {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..=500))).await;
            killed.store(true, Ordering::SeqCst);
            node.kill9();
            let log = node.log_text();
            let run = log.get(log_seen..).unwrap_or("");
            log_seen = log.len();
            let (started, ended) = (run.matches("compacting segment").count(), run.matches("segment compacted").count());
            if started > ended {
                mid_compaction += 1;
            }
            compacted += ended;
            writers = collect_writers(tasks, round).await;

            // While the node is down, damage one shard of blobs never damaged before.
            let mut records: Vec<StoredShard> = stored_shards_all(&disks)
                .into_iter()
                .filter(|s| s.is_record() && !damaged.contains(s.id()))
                .collect();
            for _ in 0..DAMAGED_PER_ROUND.min(records.len()) {
                let s = records.swap_remove(rng.gen_range(0..records.len()));
                if damaged.insert(s.id().to_string()) {
                    s.corrupt_middle();
                }
            }
            node.restart(true);
            node.wait_ready(READY_TIMEOUT).await;
        }
        eprintln!(
            "{COMPACTION_KILLS} kills, {mid_compaction} during a compaction; {compacted} segments compacted; {} blobs damaged",
            damaged.len()
        );
        assert!(
            mid_compaction >= MIN_MID_COMPACTION,
            "only {mid_compaction} of {COMPACTION_KILLS} kills landed while a segment was being compacted"
        );
        assert!(compacted > 0, "no segment compaction ever finished");

        verify_after_crashes(&node, &writers, COMPACTION_KILLS, t0.elapsed()).await;
        let report = heal_pass(&node).await;
        eprintln!("heal pass after the crashes: {report}");
        assert_eq!(report["pass"]["heal_failures"], 0, "{report}");
        assert_eq!(report["pass"]["stripes"]["degraded"], 0, "{report}");
        assert_eq!(report["pass"]["stripes"]["lost"], 0, "{report}");

        // Compaction catches up: every sealed segment at least half live, so the files hold at
        // most twice what is live, plus each disk's active segment (which may overrun its size
        // by one batch: another segment's worth of slack).
        let live: u64 = stored_shards_all(&disks).iter().filter(|s| s.is_record()).map(|s| s.len() + 44).sum();
        let bound = 2 * live + 2 * disks.len() as u64 * SEGMENT_BYTES;
        let bytes = wait_segment_bytes(&disks, bound, Duration::from_secs(60), "after the crashes").await;
        eprintln!("segment files {bytes} bytes for {live} live (bound {bound})");

        delete_everything_then_collect_orphans(&node).await;
        let bound = 2 * disks.len() as u64 * SEGMENT_BYTES;
        let bytes = wait_segment_bytes(&disks, bound, Duration::from_secs(60), "after deleting everything").await;
        eprintln!("after deleting everything: segment files {bytes} bytes");
    })
    .await;
}
