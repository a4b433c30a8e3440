//! Multipart uploads: apply semantics and discards, concurrency, listing uploads and
//! parts, expiry, restart and snapshots.

mod common;

use cairn_raft::schema::*;
use cairn_raft::{CommandBatch, MetaStore};
use common::*;
use std::time::Duration;

fn upload(bucket: &str, key: &str, id: &str, initiated: Nanos) -> MultipartUpload {
    MultipartUpload {
        upload_id: id.into(),
        bucket: bucket.into(),
        key: key.into(),
        initiated,
        checksum_algorithm: None,
        template: version("template"),
    }
}

/// Part `number` whose blob is named by `tag`.
fn part(number: u32, tag: &str) -> PartRef {
    PartRef {
        number,
        size: tag.len() as u64,
        etag: format!("etag-{tag}"),
        checksum: None,
        last_modified: 3,
        data: ObjectData::Inline(tag.as_bytes().to_vec()),
    }
}

fn blob(tag: &str) -> ObjectData {
    ObjectData::Inline(tag.as_bytes().to_vec())
}

fn put_part(bucket: &str, key: &str, id: &str, p: PartRef) -> Command {
    Command::PutPart { bucket: bucket.into(), key: key.into(), upload_id: id.into(), part: p }
}

fn completed(parts: Vec<PartRef>) -> ObjectVersion {
    ObjectVersion { etag: format!("multi-{}", parts.len()), data: ObjectData::Parts(parts), ..version("x") }
}

fn complete(bucket: &str, key: &str, id: &str, parts: Vec<PartRef>, condition: Option<WriteCondition>) -> Command {
    Command::CompleteUpload {
        bucket: bucket.into(),
        key: key.into(),
        upload_id: id.into(),
        version: completed(parts),
        condition,
    }
}

fn abort(bucket: &str, key: &str, id: &str) -> Command {
    Command::AbortUpload { bucket: bucket.into(), key: key.into(), upload_id: id.into() }
}

async fn create_upload(s: &MetaStore, bucket: &str, key: &str, id: &str, initiated: Nanos) {
    let r = s.propose(Command::CreateUpload { upload: upload(bucket, key, id, initiated) }).await.unwrap();
    assert_eq!(r, CommandResult::Ok);
}

async fn add_part(s: &MetaStore, bucket: &str, key: &str, id: &str, p: PartRef) -> CommandResult {
    s.propose(put_part(bucket, key, id, p)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_put_part_abort() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    assert_eq!(
        s.propose(Command::CreateUpload { upload: upload("nb", "k", "u1", 1) }).await.unwrap(),
        CommandResult::NoSuchBucket
    );
    create_bucket(&s, "b").await;
    create_upload(&s, "b", "k", "u1", 1).await;
    assert_eq!(s.get_upload("b", "k", "u1").unwrap(), Some(upload("b", "k", "u1", 1)));
    assert_eq!(s.get_upload("b", "k", "u2").unwrap(), None);
    assert_eq!(s.get_upload("b", "k2", "u1").unwrap(), None);
    assert_eq!(s.get_upload("nb", "k", "u1").unwrap(), None);

    // Parts of an upload that does not exist (wrong id, key or bucket).
    for (b, k, id) in [("b", "k", "u2"), ("b", "k2", "u1"), ("nb", "k", "u1")] {
        assert_eq!(add_part(&s, b, k, id, part(1, "x")).await, CommandResult::NoSuchUpload);
    }
    for (n, tag) in [(3, "p3"), (1, "p1"), (2, "p2")] {
        assert_eq!(add_part(&s, "b", "k", "u1", part(n, tag)).await, CommandResult::Discard(vec![]));
    }
    // Replacing a part discards the old blob; re-sending the same blob discards nothing.
    assert_eq!(add_part(&s, "b", "k", "u1", part(2, "p2b")).await, CommandResult::Discard(vec![blob("p2")]));
    assert_eq!(add_part(&s, "b", "k", "u1", part(2, "p2b")).await, CommandResult::Discard(vec![]));
    assert_eq!(s.all_parts("u1").unwrap(), vec![part(1, "p1"), part(2, "p2b"), part(3, "p3")]);
    assert!(s.all_parts("u2").unwrap().is_empty());

    assert_eq!(s.propose(abort("b", "k", "u2")).await.unwrap(), CommandResult::NoSuchUpload);
    assert_eq!(s.propose(abort("b", "k2", "u1")).await.unwrap(), CommandResult::NoSuchUpload);
    assert_eq!(
        s.propose(abort("b", "k", "u1")).await.unwrap(),
        CommandResult::Discard(vec![blob("p1"), blob("p2b"), blob("p3")])
    );
    assert_eq!(s.get_upload("b", "k", "u1").unwrap(), None);
    assert!(s.all_parts("u1").unwrap().is_empty());
    assert_eq!(s.propose(abort("b", "k", "u1")).await.unwrap(), CommandResult::NoSuchUpload);
    assert_eq!(add_part(&s, "b", "k", "u1", part(1, "late")).await, CommandResult::NoSuchUpload);
    assert!(s.all_parts("u1").unwrap().is_empty());

    // An upload without parts aborts with nothing to discard.
    create_upload(&s, "b", "k", "u3", 1).await;
    assert_eq!(s.propose(abort("b", "k", "u3")).await.unwrap(), CommandResult::Discard(vec![]));
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_upload_results() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "b").await;
    assert_eq!(s.propose(put("b", "k", "old", None)).await.unwrap(), CommandResult::Replaced(None));
    create_upload(&s, "b", "k", "u1", 1).await;
    for n in 1..=4 {
        add_part(&s, "b", "k", "u1", part(n, &format!("p{n}"))).await;
    }

    assert_eq!(
        s.propose(complete("nb", "k", "u1", vec![part(1, "p1")], None)).await.unwrap(),
        CommandResult::NoSuchBucket
    );
    assert_eq!(
        s.propose(complete("b", "k", "u9", vec![part(1, "p1")], None)).await.unwrap(),
        CommandResult::NoSuchUpload
    );
    assert_eq!(
        s.propose(complete("b", "k2", "u1", vec![part(1, "p1")], None)).await.unwrap(),
        CommandResult::NoSuchUpload
    );
    // The version's data must be the list of parts.
    let inline = Command::CompleteUpload {
        bucket: "b".into(),
        key: "k".into(),
        upload_id: "u1".into(),
        version: version("v"),
        condition: None,
    };
    assert_eq!(s.propose(inline).await.unwrap(), CommandResult::InvalidPart { number: 0 });
    // A part that was never uploaded, one with another etag, one with another blob.
    assert_eq!(
        s.propose(complete("b", "k", "u1", vec![part(1, "p1"), part(9, "p9")], None)).await.unwrap(),
        CommandResult::InvalidPart { number: 9 }
    );
    let wrong_etag = PartRef { etag: "nope".into(), ..part(3, "p3") };
    assert_eq!(
        s.propose(complete("b", "k", "u1", vec![part(1, "p1"), wrong_etag], None)).await.unwrap(),
        CommandResult::InvalidPart { number: 3 }
    );
    let wrong_blob = PartRef { data: blob("other"), ..part(1, "p1") };
    assert_eq!(
        s.propose(complete("b", "k", "u1", vec![wrong_blob], None)).await.unwrap(),
        CommandResult::InvalidPart { number: 1 }
    );
    // Nothing changed.
    assert_eq!(s.all_parts("u1").unwrap().len(), 4);
    assert_eq!(s.get_object("b", "k").unwrap(), Some(version("old")));

    // Omit parts 2 and 4: they are discarded, and so is the replaced object.
    let listed = vec![part(1, "p1"), part(3, "p3")];
    assert_eq!(
        s.propose(complete("b", "k", "u1", listed.clone(), None)).await.unwrap(),
        CommandResult::Discard(vec![blob("p2"), blob("p4"), blob("old")])
    );
    assert_eq!(s.get_object("b", "k").unwrap(), Some(completed(listed.clone())));
    assert_eq!(s.get_upload("b", "k", "u1").unwrap(), None);
    assert!(s.all_parts("u1").unwrap().is_empty());
    assert_eq!(s.propose(complete("b", "k", "u1", listed, None)).await.unwrap(), CommandResult::NoSuchUpload);

    // A new key, all parts listed: nothing to discard.
    create_upload(&s, "b", "fresh", "u2", 1).await;
    add_part(&s, "b", "fresh", "u2", part(1, "f1")).await;
    assert_eq!(
        s.propose(complete("b", "fresh", "u2", vec![part(1, "f1")], None)).await.unwrap(),
        CommandResult::Discard(vec![])
    );
    // Replacing a multipart object discards its parts as one `Parts` blob list.
    create_upload(&s, "b", "fresh", "u3", 1).await;
    add_part(&s, "b", "fresh", "u3", part(1, "g1")).await;
    assert_eq!(
        s.propose(complete("b", "fresh", "u3", vec![part(1, "g1")], None)).await.unwrap(),
        CommandResult::Discard(vec![ObjectData::Parts(vec![part(1, "f1")])])
    );
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_attribute_of_its_class_stays_with_the_upload() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "b").await;
    let attrs: Attrs =
        [(ATTR_UPLOAD_CLASS.to_string(), b"COLD".to_vec()), (ATTR_WRITER.to_string(), b"K1".to_vec())].into();
    let r = s.propose(Command::CreateUploadWith { upload: upload("b", "k", "u", 1), attrs }).await.unwrap();
    assert_eq!(r, CommandResult::Ok);
    assert_eq!(s.upload_attrs("b", "k", "u").unwrap().get(ATTR_UPLOAD_CLASS).map(Vec::as_slice), Some(&b"COLD"[..]));
    assert!(matches!(add_part(&s, "b", "k", "u", part(1, "aaa")).await, CommandResult::Discard(_)));
    let r = s.propose(complete("b", "k", "u", vec![part(1, "aaa")], None)).await.unwrap();
    assert!(matches!(r, CommandResult::Discard(_)), "{r:?}");
    let kept = s.version_attrs("b", "k", None).unwrap();
    assert_eq!(kept.get(ATTR_WRITER).map(Vec::as_slice), Some(&b"K1"[..]), "other attributes go to the version");
    assert!(!kept.contains_key(ATTR_UPLOAD_CLASS), "the class is read from the data, not kept: {kept:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_with_stale_part_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "b").await;
    create_upload(&s, "b", "k", "u1", 1).await;
    add_part(&s, "b", "k", "u1", part(1, "a1")).await;
    add_part(&s, "b", "k", "u1", part(2, "a2")).await;
    // The S3 layer reads the parts and builds the version...
    let read = s.all_parts("u1").unwrap();
    // ...while part 2 is uploaded again (same etag even: only the blob differs).
    let again = PartRef { data: blob("a2-again"), ..part(2, "a2") };
    assert_eq!(add_part(&s, "b", "k", "u1", again.clone()).await, CommandResult::Discard(vec![blob("a2")]));
    assert_eq!(
        s.propose(complete("b", "k", "u1", read, None)).await.unwrap(),
        CommandResult::InvalidPart { number: 2 }
    );
    assert!(s.get_upload("b", "k", "u1").unwrap().is_some());
    assert_eq!(s.get_object("b", "k").unwrap(), None);
    // Built from the current parts, it completes.
    let read = s.all_parts("u1").unwrap();
    assert_eq!(read, vec![part(1, "a1"), again]);
    assert_eq!(s.propose(complete("b", "k", "u1", read.clone(), None)).await.unwrap(), CommandResult::Discard(vec![]));
    assert_eq!(s.get_object("b", "k").unwrap(), Some(completed(read)));
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_with_conditions() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "b").await;
    s.propose(put("b", "k", "cur", None)).await.unwrap();
    create_upload(&s, "b", "k", "u1", 1).await;
    add_part(&s, "b", "k", "u1", part(1, "c1")).await;
    add_part(&s, "b", "k", "u1", part(2, "c2")).await;
    let parts = vec![part(1, "c1")];

    let if_match = |e: &str| Some(WriteCondition::IfMatch(e.to_string()));
    for cond in [Some(WriteCondition::IfNoneMatchAny), if_match("\"other\"")] {
        assert_eq!(
            s.propose(complete("b", "k", "u1", parts.clone(), cond)).await.unwrap(),
            CommandResult::PreconditionFailed
        );
        // The upload and its parts survive a failed condition.
        assert!(s.get_upload("b", "k", "u1").unwrap().is_some());
        assert_eq!(s.all_parts("u1").unwrap().len(), 2);
        assert_eq!(s.get_object("b", "k").unwrap(), Some(version("cur")));
    }
    assert_eq!(
        s.propose(complete("b", "k", "u1", parts.clone(), if_match("\"cur\""))).await.unwrap(),
        CommandResult::Discard(vec![blob("c2"), blob("cur")])
    );
    assert_eq!(s.get_object("b", "k").unwrap(), Some(completed(parts)));

    // If-Match on a key that does not exist; If-None-Match on one that does not.
    create_upload(&s, "b", "new", "u2", 1).await;
    add_part(&s, "b", "new", "u2", part(1, "n1")).await;
    assert_eq!(
        s.propose(complete("b", "new", "u2", vec![part(1, "n1")], if_match("*"))).await.unwrap(),
        CommandResult::NoSuchKey
    );
    assert!(s.get_upload("b", "new", "u2").unwrap().is_some());
    assert_eq!(
        s.propose(complete("b", "new", "u2", vec![part(1, "n1")], Some(WriteCondition::IfNoneMatchAny))).await.unwrap(),
        CommandResult::Discard(vec![])
    );
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_completes_have_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "b").await;
    s.propose(put("b", "k", "prev", None)).await.unwrap();
    create_upload(&s, "b", "k", "u1", 1).await;
    for n in 1..=3 {
        add_part(&s, "b", "k", "u1", part(n, &format!("r{n}"))).await;
    }
    let futs = (0..20u32).map(|i| {
        let s = s.clone();
        // Each client lists a different subset (always part 1).
        let parts: Vec<PartRef> =
            (1..=3).filter(|n| *n == 1 || (i + n) % 2 == 0).map(|n| part(n, &format!("r{n}"))).collect();
        tokio::spawn(async move { (parts.clone(), s.propose(complete("b", "k", "u1", parts, None)).await.unwrap()) })
    });
    let results: Vec<_> = futures::future::join_all(futs).await.into_iter().map(|r| r.unwrap()).collect();
    let winners: Vec<_> = results.iter().filter(|(_, r)| matches!(r, CommandResult::Discard(_))).collect();
    let losers = results.iter().filter(|(_, r)| *r == CommandResult::NoSuchUpload).count();
    assert_eq!((winners.len(), losers), (1, 19), "{results:?}");
    let (parts, CommandResult::Discard(discard)) = winners[0] else { unreachable!() };
    // The winner's version is stored; its omitted parts and the old object are discarded.
    assert_eq!(s.get_object("b", "k").unwrap(), Some(completed(parts.clone())));
    let mut expect: Vec<ObjectData> =
        (1..=3).filter(|n| !parts.iter().any(|p| p.number == *n)).map(|n| blob(&format!("r{n}"))).collect();
    expect.push(blob("prev"));
    assert_eq!(*discard, expect);
    assert!(s.all_parts("u1").unwrap().is_empty());
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_with_uploads_is_not_empty() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "b").await;
    create_bucket(&s, "bb").await;
    create_upload(&s, "b", "k", "u1", 1).await;
    assert_eq!(s.propose(Command::DeleteBucket { name: "b".into() }).await.unwrap(), CommandResult::BucketNotEmpty);
    // Another bucket's uploads do not count.
    assert_eq!(s.propose(Command::DeleteBucket { name: "bb".into() }).await.unwrap(), CommandResult::Ok);
    s.propose(abort("b", "k", "u1")).await.unwrap();
    assert_eq!(s.propose(Command::DeleteBucket { name: "b".into() }).await.unwrap(), CommandResult::Ok);

    // Within one entry, commands see each other's uploads and parts.
    let batch = vec![
        Command::CreateBucket { bucket: bucket("x", "o") },
        Command::CreateUpload { upload: upload("x", "k", "u", 1) },
        Command::DeleteBucket { name: "x".into() },
        put_part("x", "k", "u", part(1, "a")),
        put_part("x", "k", "u", part(1, "b")),
        put_part("x", "k", "u", part(2, "c")),
        complete("x", "k", "u", vec![part(1, "a")], None),
        complete("x", "k", "u", vec![part(2, "c")], None),
        Command::DeleteBucket { name: "x".into() },
        Command::DeleteObject { bucket: "x".into(), key: "k".into() },
        Command::DeleteBucket { name: "x".into() },
        Command::CreateUpload { upload: upload("x", "k", "u", 1) },
    ];
    let resp = s.raft().client_write(CommandBatch(batch)).await.unwrap();
    assert_eq!(
        resp.data.0,
        vec![
            CommandResult::Ok,
            CommandResult::Ok,
            CommandResult::BucketNotEmpty,
            CommandResult::Discard(vec![]),
            CommandResult::Discard(vec![blob("a")]),
            CommandResult::Discard(vec![]),
            CommandResult::InvalidPart { number: 1 },
            CommandResult::Discard(vec![blob("b")]),
            CommandResult::BucketNotEmpty,
            CommandResult::Replaced(Some(completed(vec![part(2, "c")]))),
            CommandResult::Ok,
            CommandResult::NoSuchBucket,
        ]
    );
    assert!(s.all_parts("u").unwrap().is_empty());
    assert_eq!(s.get_bucket("x").unwrap(), None);
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_parts_pages() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "b").await;
    create_upload(&s, "b", "k", "u", 1).await;
    // A neighbour whose id extends "u" must never leak into "u"'s parts.
    create_upload(&s, "b", "k", "u\0x", 1).await;
    create_upload(&s, "b", "k", "u1", 1).await;
    let numbers: Vec<u32> = vec![1, 2, 3, 5, 8, 13, 255, 256, 1000, 9999, 10000];
    for &n in &numbers {
        add_part(&s, "b", "k", "u", part(n, &format!("u-{n}"))).await;
        add_part(&s, "b", "k", "u\0x", part(n, &format!("x-{n}"))).await;
    }
    add_part(&s, "b", "k", "u1", part(4, "other")).await;
    let all: Vec<PartRef> = numbers.iter().map(|n| part(*n, &format!("u-{n}"))).collect();
    assert_eq!(s.all_parts("u").unwrap(), all);
    assert_eq!(s.all_parts("u1").unwrap(), vec![part(4, "other")]);

    for size in 1..=5 {
        let mut got = Vec::new();
        let mut after = 0;
        loop {
            let (page, truncated) = s.list_parts("u", after, size).unwrap();
            assert!(page.len() <= size);
            got.extend(page.iter().cloned());
            if !truncated {
                break;
            }
            assert_eq!(page.len(), size);
            after = page.last().unwrap().number;
        }
        assert_eq!(got, all, "page size {size}");
    }
    assert_eq!(s.list_parts("u", 0, 100).unwrap(), (all.clone(), false));
    assert_eq!(s.list_parts("u", 8, 2).unwrap(), (all[5..7].to_vec(), true));
    assert_eq!(s.list_parts("u", 9999, 1).unwrap(), (all[10..].to_vec(), false));
    assert_eq!(s.list_parts("u", 10000, 10).unwrap(), (vec![], false));
    assert_eq!(s.list_parts("u", u32::MAX, 10).unwrap(), (vec![], false));
    assert_eq!(s.list_parts("u", 0, 0).unwrap(), (vec![], true));
    assert_eq!(s.list_parts("none", 0, 10).unwrap(), (vec![], false));
    s.shutdown().await.unwrap();
}

/// One entry of an upload listing.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Upload(String, String),
    Prefix(String),
}

/// Brute-force ListMultipartUploads over the sorted (key, upload id) list.
fn model(
    uploads: &[(String, String)],
    prefix: &str,
    delimiter: Option<&str>,
    key_marker: Option<&str>,
    upload_id_marker: Option<&str>,
    max: usize,
) -> (Vec<Entry>, bool) {
    let mut entries: Vec<Entry> = Vec::new();
    for (k, id) in uploads {
        if !k.starts_with(prefix) {
            continue;
        }
        let after_marker = match (key_marker, upload_id_marker) {
            (None, _) => true,
            (Some(km), None) => k.as_str() > km,
            (Some(km), Some(im)) => k.as_str() > km || (k == km && id.as_str() > im),
        };
        let cp = delimiter.and_then(|d| k[prefix.len()..].find(d).map(|i| k[..prefix.len() + i + d.len()].to_string()));
        match cp {
            Some(cp) => {
                // A marker inside a common prefix skips all of it.
                if key_marker.is_some_and(|m| m.starts_with(&cp)) || !after_marker {
                    continue;
                }
                if entries.last() != Some(&Entry::Prefix(cp.clone())) {
                    entries.push(Entry::Prefix(cp));
                }
            }
            None if after_marker => entries.push(Entry::Upload(k.clone(), id.clone())),
            None => {}
        }
    }
    let truncated = entries.len() > max;
    entries.truncate(max);
    (entries, truncated)
}

fn entries(p: &UploadListPage) -> Vec<Entry> {
    // Uploads and prefixes interleave in key order.
    let mut out: Vec<(String, Entry)> = p
        .uploads
        .iter()
        .map(|u| (u.key.clone(), Entry::Upload(u.key.clone(), u.upload_id.clone())))
        .chain(p.common_prefixes.iter().map(|c| (c.clone(), Entry::Prefix(c.clone()))))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|e| e.1).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_uploads_matches_model() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    for b in ["b", "bb", "a"] {
        create_bucket(&s, b).await;
    }
    let specs: &[(&str, &[&str])] = &[
        ("a", &["01", "02", "03"]),
        ("a/", &["01"]),
        ("a/b", &["05", "06"]),
        ("a/b/c", &["01"]),
        ("a\0", &["01"]),
        ("a\0/x", &["02", "03"]),
        ("ab", &["09"]),
        ("dir/", &["01"]),
        ("dir/a", &["01", "02"]),
        ("dir/sub/x", &["01"]),
        ("dir/sub/y", &["01", "02", "03"]),
        ("dir0", &["01"]),
        ("unicode/日本/語", &["01"]),
        ("z", &["01", "02"]),
    ];
    let mut all: Vec<(String, String)> = Vec::new();
    let mut t = 0;
    for (k, ids) in specs {
        for id in *ids {
            t += 1;
            create_upload(&s, "b", k, id, t).await;
            all.push((k.to_string(), id.to_string()));
        }
    }
    all.sort();
    // Neighbouring buckets must not show up.
    create_upload(&s, "bb", "a", "07", 1).await;
    create_upload(&s, "a", "zzz", "07", 1).await;

    // Page through every combination; each entry exactly once, in order.
    for prefix in ["", "a", "a/", "dir/", "dir/sub/", "a\0", "nothing"] {
        for delim in [None, Some("/"), Some("b"), Some("\0")] {
            let (full, _) = model(&all, prefix, delim, None, None, usize::MAX);
            for size in 1..=4 {
                let mut got = Vec::new();
                let (mut km, mut im): (Option<String>, Option<String>) = (None, None);
                loop {
                    let page = s.list_uploads("b", prefix, delim, km.as_deref(), im.as_deref(), size).unwrap();
                    let e = entries(&page);
                    assert!(e.len() <= size);
                    let expect = model(&all, prefix, delim, km.as_deref(), im.as_deref(), size);
                    assert_eq!((e.clone(), page.is_truncated), expect, "{prefix:?} {delim:?} {km:?} {im:?} {size}");
                    match e.last() {
                        Some(Entry::Upload(k, id)) => {
                            assert_eq!(
                                (page.next_key_marker.as_ref(), page.next_upload_id_marker.as_ref()),
                                (Some(k), Some(id))
                            )
                        }
                        Some(Entry::Prefix(p)) => {
                            assert_eq!(
                                (page.next_key_marker.as_ref(), page.next_upload_id_marker.as_ref()),
                                (Some(p), None)
                            )
                        }
                        None => assert_eq!((&page.next_key_marker, &page.next_upload_id_marker), (&None, &None)),
                    }
                    for u in &page.uploads {
                        assert_eq!(u.bucket, "b");
                    }
                    got.extend(e);
                    if !page.is_truncated {
                        break;
                    }
                    km = page.next_key_marker.clone();
                    im = page.next_upload_id_marker.clone();
                }
                assert_eq!(got, full, "{prefix:?} {delim:?} page size {size}");
            }
        }
    }

    // Arbitrary markers, including ones that name no upload.
    let markers: Vec<(Option<&str>, Option<&str>)> = vec![
        (Some(""), None),
        (Some("a"), None),
        (Some("a"), Some("01")),
        (Some("a"), Some("02x")),
        (Some("a"), Some("")),
        (Some("a\0"), None),
        (Some("a/"), Some("00")),
        (Some("a/b"), Some("05")),
        (Some("a/bz"), None),
        (Some("dir/sub/"), None),
        (Some("dir/sub/x"), Some("01")),
        (Some("dir/sub/y"), Some("01")),
        (Some("dir0"), Some("99")),
        (Some("zz"), None),
        (None, Some("02")),
    ];
    for (km, im) in markers {
        for prefix in ["", "a", "dir/"] {
            for delim in [None, Some("/")] {
                for max in [1, 3, 100] {
                    let page = s.list_uploads("b", prefix, delim, km, im, max).unwrap();
                    // An upload id marker without a key marker is ignored.
                    let im_eff = km.and(im);
                    assert_eq!(
                        (entries(&page), page.is_truncated),
                        model(&all, prefix, delim, km, im_eff, max),
                        "{prefix:?} {delim:?} {km:?} {im:?} {max}"
                    );
                }
            }
        }
    }

    let page = s.list_uploads("b", "", None, None, None, 0).unwrap();
    assert!(page.uploads.is_empty() && page.common_prefixes.is_empty() && !page.is_truncated);
    assert_eq!(page.next_key_marker, None);
    let page = s.list_uploads("nb", "", None, None, None, 10).unwrap();
    assert!(page.uploads.is_empty() && !page.is_truncated);
    let page = s.list_uploads("bb", "", None, None, None, 10).unwrap();
    assert_eq!(page.uploads, vec![upload("bb", "a", "07", 1)]);
    // Full records come back.
    let page = s.list_uploads("b", "dir/a", None, None, None, 10).unwrap();
    assert_eq!(page.uploads, vec![upload("b", "dir/a", "01", 13), upload("b", "dir/a", "02", 14)]);
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_uploads_scan() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "b1").await;
    create_bucket(&s, "b2").await;
    create_upload(&s, "b1", "k", "u40", 40).await;
    create_upload(&s, "b1", "k", "u10", 10).await;
    create_upload(&s, "b2", "a", "u20", 20).await;
    create_upload(&s, "b2", "z", "u30", 30).await;
    let ids = |v: Vec<MultipartUpload>| v.into_iter().map(|u| u.upload_id).collect::<Vec<_>>();
    assert_eq!(ids(s.expired_uploads(25, 10).unwrap()), ["u10", "u20"]);
    assert_eq!(ids(s.expired_uploads(41, 10).unwrap()), ["u10", "u40", "u20", "u30"]);
    assert_eq!(ids(s.expired_uploads(41, 3).unwrap()).len(), 3);
    assert_eq!(ids(s.expired_uploads(30, 1).unwrap()), ["u10"]);
    assert!(s.expired_uploads(10, 10).unwrap().is_empty());
    assert!(s.expired_uploads(100, 0).unwrap().is_empty());
    // Expiry is an abort.
    for u in s.expired_uploads(25, 10).unwrap() {
        assert!(matches!(s.propose(abort(&u.bucket, &u.key, &u.upload_id)).await.unwrap(), CommandResult::Discard(_)));
    }
    assert_eq!(ids(s.expired_uploads(100, 10).unwrap()), ["u40", "u30"]);
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_survive_restart_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = MetaStore::open(dir.path(), 1).await.unwrap();
        create_bucket(&s, "b").await;
        create_upload(&s, "b", "k", "u1", 1).await;
        add_part(&s, "b", "k", "u1", part(1, "a")).await;
        add_part(&s, "b", "k", "u1", part(2, "b")).await;
        s.shutdown().await.unwrap();
    }
    {
        let s = MetaStore::open(dir.path(), 1).await.unwrap();
        assert_eq!(s.get_upload("b", "k", "u1").unwrap(), Some(upload("b", "k", "u1", 1)));
        assert_eq!(s.all_parts("u1").unwrap(), vec![part(1, "a"), part(2, "b")]);
        assert_eq!(s.propose(Command::DeleteBucket { name: "b".into() }).await.unwrap(), CommandResult::BucketNotEmpty);
        // Drop without shutdown: the log replays.
        create_upload(&s, "b", "k", "u2", 2).await;
        add_part(&s, "b", "k", "u2", part(7, "c")).await;
        drop(s);
    }
    {
        let s = MetaStore::open(dir.path(), 1).await.unwrap();
        assert_eq!(s.list_uploads("b", "", None, None, None, 10).unwrap().uploads.len(), 2);
        assert_eq!(s.all_parts("u2").unwrap(), vec![part(7, "c")]);

        // Snapshot and purge the log, then change things after the snapshot.
        let last = s.metrics().last_applied.unwrap().index;
        s.raft().trigger().snapshot().await.unwrap();
        let m = s
            .raft()
            .wait(Some(Duration::from_secs(10)))
            .metrics(|m| m.snapshot.is_some_and(|l| l.index >= last), "snapshot")
            .await
            .unwrap();
        let snap_index = m.snapshot.unwrap().index;
        s.raft().trigger().purge_log(snap_index).await.unwrap();
        s.raft()
            .wait(Some(Duration::from_secs(10)))
            .metrics(|m| m.purged.is_some_and(|p| p.index >= snap_index), "purged")
            .await
            .unwrap();
        assert_eq!(
            s.propose(complete("b", "k", "u1", vec![part(2, "b")], None)).await.unwrap(),
            CommandResult::Discard(vec![blob("a")])
        );
        add_part(&s, "b", "k", "u2", part(8, "d")).await;
        s.shutdown().await.unwrap();
    }
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    assert!(s.metrics().purged.is_some());
    assert_eq!(s.get_upload("b", "k", "u1").unwrap(), None);
    assert!(s.all_parts("u1").unwrap().is_empty());
    assert_eq!(s.get_object("b", "k").unwrap(), Some(completed(vec![part(2, "b")])));
    assert_eq!(s.all_parts("u2").unwrap(), vec![part(7, "c"), part(8, "d")]);
    s.shutdown().await.unwrap();
}
