//! Versioning in the state machine: ids made in apply, history newest first, delete
//! markers, removing versions for good and promotion, the suspended bucket's null
//! version, usage and the blob index, listing versions in pages, restart.

mod common;

use cairn_raft::schema::*;
use cairn_raft::MetaStore;
use common::*;

fn set(bucket: &str, state: Versioning) -> Command {
    Command::PutBucketVersioning { bucket: bucket.into(), state }
}

fn del(bucket: &str, key: &str) -> Command {
    Command::DeleteObjectAt { bucket: bucket.into(), key: key.into(), owner: "me".into(), at: 9, condition: None }
}

fn del_version(bucket: &str, key: &str, id: Option<&str>) -> Command {
    Command::DeleteObjectVersion {
        bucket: bucket.into(),
        key: key.into(),
        version_id: id.map(String::from),
        condition: None,
    }
}

/// Puts and answers the new version's id.
async fn put_v(s: &MetaStore, bucket: &str, key: &str, etag: &str) -> Option<String> {
    match s.propose(put(bucket, key, etag, None)).await.unwrap() {
        CommandResult::Versioned { version_id, delete_marker: false, .. } => version_id,
        other => panic!("{other:?}"),
    }
}

/// (key, version id or "null", etag or "marker", is_latest) of every listed version.
fn listed(p: &VersionListPage) -> Vec<(String, String, String, bool)> {
    p.versions
        .iter()
        .map(|(k, e, latest)| {
            let what = match e {
                VersionEntry::Object(v) => v.etag.clone(),
                VersionEntry::Marker(_) => "marker".into(),
            };
            (k.clone(), e.version_id().unwrap_or("null").to_string(), what, *latest)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabled_bucket_keeps_every_version_and_markers() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "b").await;
    assert_eq!(s.propose(set("nb", Versioning::Enabled)).await.unwrap(), CommandResult::NoSuchBucket);
    // Written before versioning: the null version.
    assert_eq!(s.propose(put("b", "k", "v0", None)).await.unwrap(), CommandResult::Replaced(None));
    assert_eq!(s.propose(set("b", Versioning::Enabled)).await.unwrap(), CommandResult::Ok);
    assert_eq!(s.bucket_versioning("b").unwrap(), Some(Versioning::Enabled));
    let v1 = put_v(&s, "b", "k", "v1").await.unwrap();
    let v2 = put_v(&s, "b", "k", "v2").await.unwrap();
    assert!(v1 < v2, "ids grow: {v1} {v2}");
    assert!(cairn_raft::versions::is_valid_version_id(&v1));
    assert_eq!(s.get_object("b", "k").unwrap().unwrap().etag, "v2");
    assert_eq!(s.get_object("b", "k").unwrap().unwrap().version_id.as_deref(), Some(v2.as_str()));
    let u = s.bucket_usage("b").unwrap();
    assert_eq!((u.objects, u.bytes), (3, 6), "every version counts");

    // Any version by id, the null one too.
    let (e, latest) = s.get_version("b", "k", Some(&v1)).unwrap().unwrap();
    assert!(matches!(&e, VersionEntry::Object(v) if v.etag == "v1") && !latest);
    let (e, _) = s.get_version("b", "k", None).unwrap().unwrap();
    assert!(matches!(&e, VersionEntry::Object(v) if v.etag == "v0"));
    assert!(s.get_version("b", "k", Some("00000000000000000000000000")).unwrap().is_none());

    // A delete adds a marker; listings of current objects no longer show the key.
    let marker = match s.propose(del("b", "k")).await.unwrap() {
        CommandResult::Versioned { version_id: Some(id), delete_marker: true, freed } => {
            assert!(freed.is_empty());
            id
        }
        other => panic!("{other:?}"),
    };
    assert!(s.get_object("b", "k").unwrap().is_none());
    assert!(s.list_objects("b", "", None, None, 100).unwrap().objects.is_empty());
    assert!(matches!(s.latest_entry("b", "k").unwrap(), Some(VersionEntry::Marker(_))));
    assert_eq!(
        listed(&s.list_versions("b", "", None, None, None, 100).unwrap()),
        [
            ("k".into(), marker.clone(), "marker".into(), true),
            ("k".into(), v2.clone(), "v2".into(), false),
            ("k".into(), v1.clone(), "v1".into(), false),
            ("k".into(), "null".into(), "v0".into(), false),
        ]
    );
    // The bucket is not empty while versions remain.
    assert_eq!(s.propose(Command::DeleteBucket { name: "b".into() }).await.unwrap(), CommandResult::BucketNotEmpty);
    // A marker counts as S3 bills it: one marker, the bytes of its key name.
    let u = s.bucket_usage("b").unwrap();
    assert_eq!((u.objects, u.bytes, u.delete_markers), (3, 6 + 1, 1));

    // Removing the marker makes v2 current again.
    assert_eq!(
        s.propose(del_version("b", "k", Some(&marker))).await.unwrap(),
        CommandResult::Versioned { version_id: Some(marker.clone()), delete_marker: true, freed: vec![] }
    );
    assert_eq!(s.get_object("b", "k").unwrap().unwrap().etag, "v2");
    // Removing the current version for good promotes v1 and frees v2's data.
    match s.propose(del_version("b", "k", Some(&v2))).await.unwrap() {
        CommandResult::Versioned { delete_marker: false, freed, .. } => assert_eq!(freed, vec![blob("v2")]),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.get_object("b", "k").unwrap().unwrap().etag, "v1");
    // A version that does not exist is "deleted" without effect.
    assert_eq!(
        s.propose(del_version("b", "k", Some(&v2))).await.unwrap(),
        CommandResult::Versioned { version_id: Some(v2.clone()), delete_marker: false, freed: vec![] }
    );
    let u = s.bucket_usage("b").unwrap();
    assert_eq!((u.objects, u.bytes, u.delete_markers), (2, 4, 0));
    // Everything survives a restart.
    s.shutdown().await.unwrap();
    drop(s);
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    assert_eq!(
        listed(&s.list_versions("b", "", None, None, None, 100).unwrap()),
        [("k".into(), v1.clone(), "v1".into(), true), ("k".into(), "null".into(), "v0".into(), false)]
    );
    for id in [Some(v1.as_str()), None] {
        s.propose(del_version("b", "k", id)).await.unwrap();
    }
    assert!(s.list_versions("b", "", None, None, None, 100).unwrap().versions.is_empty());
    assert_eq!(s.bucket_usage("b").unwrap().objects, 0);
    assert_eq!(s.propose(Command::DeleteBucket { name: "b".into() }).await.unwrap(), CommandResult::Ok);
    assert_eq!(s.bucket_versioning("b").unwrap(), None, "settings go with the bucket");
}

fn blob(tag: &str) -> ObjectData {
    ObjectData::Inline(tag.as_bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_bucket_replaces_the_null_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "b").await;
    s.propose(set("b", Versioning::Enabled)).await.unwrap();
    let v1 = put_v(&s, "b", "k", "v1").await.unwrap();
    s.propose(set("b", Versioning::Suspended)).await.unwrap();
    assert_eq!(put_v(&s, "b", "k", "n1").await, None, "a suspended bucket writes the null version");
    // The next PUT replaces the null version and frees it; v1 stays.
    match s.propose(put("b", "k", "n2", None)).await.unwrap() {
        CommandResult::Versioned { version_id: None, freed, .. } => assert_eq!(freed, vec![blob("n1")]),
        other => panic!("{other:?}"),
    }
    // A delete puts a null marker in place of the null version.
    match s.propose(del("b", "k")).await.unwrap() {
        CommandResult::Versioned { version_id: None, delete_marker: true, freed } => {
            assert_eq!(freed, vec![blob("n2")])
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        listed(&s.list_versions("b", "", None, None, None, 100).unwrap()),
        [("k".into(), "null".into(), "marker".into(), true), ("k".into(), v1.clone(), "v1".into(), false)]
    );
    // Re-enabled: a new version pushes nothing out.
    s.propose(set("b", Versioning::Enabled)).await.unwrap();
    let v3 = put_v(&s, "b", "k", "v3").await.unwrap();
    let l = listed(&s.list_versions("b", "", None, None, None, 100).unwrap());
    assert_eq!(l.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(), [v3.as_str(), "null", v1.as_str()]);
    assert_eq!(s.bucket_usage("b").unwrap().objects, 2);
    // A second null marker (suspended again) replaces the first in the usage too.
    s.propose(set("b", Versioning::Suspended)).await.unwrap();
    s.propose(del("b", "k")).await.unwrap();
    s.propose(del("b", "k")).await.unwrap();
    let u = s.bucket_usage("b").unwrap();
    assert_eq!((u.objects, u.delete_markers), (2, 1), "{u:?}");
    // A rebuild from the trees gives the same figures.
    s.shutdown().await.unwrap();
    drop(s);
    {
        let db = open_sled_after_drop(dir.path());
        db.open_tree("sm_meta").unwrap().remove("usage_markers_indexed").unwrap();
        db.open_tree("sm_usage").unwrap().clear().unwrap();
        db.flush().unwrap();
    }
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    assert_eq!(s.bucket_usage("b").unwrap(), u);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_listing_pages_and_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "b").await;
    s.propose(set("b", Versioning::Enabled)).await.unwrap();
    let mut all = Vec::new();
    for key in ["a", "a\u{0}x", "d/1", "d/2", "e"] {
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(put_v(&s, "b", key, &format!("{key}{i}")).await.unwrap());
        }
        ids.reverse();
        all.extend(ids.into_iter().map(|id| (key.to_string(), id)));
    }
    let CommandResult::Versioned { version_id: Some(marker), .. } = s.propose(del("b", "e")).await.unwrap() else {
        panic!("no marker")
    };
    all.insert(12, ("e".to_string(), marker));
    // Pages of 4 walk every version once, in order.
    let mut seen = Vec::new();
    let (mut km, mut vm) = (None::<String>, None::<String>);
    loop {
        let p = s.list_versions("b", "", None, km.as_deref(), vm.as_deref(), 4).unwrap();
        assert!(p.versions.len() <= 4);
        seen.extend(p.versions.iter().map(|(k, e, _)| (k.clone(), e.version_id().unwrap().to_string())));
        if !p.is_truncated {
            break;
        }
        km = p.next_key_marker;
        vm = p.next_version_id_marker;
    }
    assert_eq!(seen, all, "every version and the marker once, by key and newest first");
    // A key marker alone starts after all of that key's versions.
    let p = s.list_versions("b", "", None, Some("a"), None, 100).unwrap();
    assert_eq!(p.versions[0].0, "a\u{0}x");
    // A delimiter rolls d/ into one common prefix, counted once.
    let p = s.list_versions("b", "", Some("/"), None, None, 100).unwrap();
    assert_eq!(p.common_prefixes, ["d/"]);
    assert_eq!(p.versions.len(), 3 + 3 + 4);
    let p = s.list_versions("b", "d/", None, None, None, 100).unwrap();
    assert_eq!(p.versions.len(), 6);
    assert!(p.versions.iter().all(|(k, _, _)| k.starts_with("d/")));
    let p = s.list_versions("b", "", Some("/"), Some("d/1"), None, 100).unwrap();
    assert_eq!(p.versions.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(), ["e"; 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_walk_every_stored_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    for b in ["a", "ab"] {
        create_bucket(&s, b).await;
        s.propose(set(b, Versioning::Enabled)).await.unwrap();
    }
    for (b, k, etag) in [("a", "k1", "1"), ("a", "k1", "2"), ("a", "k2", "3"), ("ab", "k0", "4"), ("ab", "k0", "5")] {
        put_v(&s, b, k, etag).await;
    }
    // k2's only object version is behind a marker now; it must still be walked.
    s.propose(del("a", "k2")).await.unwrap();
    // A key with nothing but a marker yields no versions.
    s.propose(del("ab", "gone")).await.unwrap();
    let walk = |after: Option<(&str, &str)>, limit| {
        s.scan_keys_with_history(None, "", after, limit)
            .unwrap()
            .into_iter()
            .map(|(b, k, v)| (b, k, v.into_iter().map(|v| v.etag).collect::<Vec<_>>()))
            .collect::<Vec<_>>()
    };
    let all = walk(None, 100);
    let expect =
        |b: &str, k: &str, e: &[&str]| (b.to_string(), k.to_string(), e.iter().map(|x| x.to_string()).collect());
    assert_eq!(
        all,
        [
            expect("a", "k1", &["2", "1"]),
            expect("a", "k2", &["3"]),
            expect("ab", "gone", &[]),
            expect("ab", "k0", &["5", "4"])
        ]
    );
    // Resuming after each key gives the rest, a page at a time.
    assert_eq!(walk(Some(("a", "k1")), 2), all[1..3]);
    assert_eq!(walk(Some(("ab", "gone")), 5), all[3..]);
    assert_eq!(s.scan_keys_with_history(Some("a"), "k2", None, 10).unwrap().len(), 1, "a bucket and prefix scope");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_deletes_are_decided_in_apply() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "b").await;
    let if_match = |e: &str| Some(WriteCondition::IfMatch(e.into()));
    let del_if = |key: &str, c| Command::DeleteObjectAt {
        bucket: "b".into(),
        key: key.into(),
        owner: "me".into(),
        at: 9,
        condition: c,
    };
    s.propose(put("b", "k", "e1", None)).await.unwrap();
    assert_eq!(s.propose(del_if("k", if_match("other"))).await.unwrap(), CommandResult::PreconditionFailed);
    assert_eq!(s.propose(del_if("nothing", if_match("e1"))).await.unwrap(), CommandResult::NoSuchKey);
    // Two deletes conditioned on the same ETag race: exactly one removes the object.
    let a = s.propose(del_if("k", if_match("e1")));
    let b = s.propose(del_if("k", if_match("e1")));
    let (a, b) = tokio::join!(a, b);
    let mut rs = [a.unwrap(), b.unwrap()];
    rs.sort_by_key(|r| matches!(r, CommandResult::NoSuchKey));
    assert!(matches!(rs[0], CommandResult::Replaced(Some(_))), "{rs:?}");
    assert_eq!(rs[1], CommandResult::NoSuchKey);
    // By version: the condition is checked against that version.
    s.propose(set("b", Versioning::Enabled)).await.unwrap();
    let v1 = put_v(&s, "b", "k", "e2").await.unwrap();
    put_v(&s, "b", "k", "e3").await.unwrap();
    let by_version = |c| Command::DeleteObjectVersion {
        bucket: "b".into(),
        key: "k".into(),
        version_id: Some(v1.clone()),
        condition: c,
    };
    assert_eq!(s.propose(by_version(if_match("e3"))).await.unwrap(), CommandResult::PreconditionFailed);
    assert!(matches!(s.propose(by_version(if_match("e2"))).await.unwrap(), CommandResult::Versioned { .. }));
    assert_eq!(s.propose(by_version(if_match("e2"))).await.unwrap(), CommandResult::NoSuchKey, "gone now");
}
