//! Expire, the lifecycle worker's command: each action is taken only if the key is still
//! as the rule saw it (the version, made at the time it was seen), so an object
//! overwritten, a version that became current again or a marker joined by a new version
//! since the rule looked is left alone.

mod common;

use cairn_raft::schema::*;
use cairn_raft::MetaStore;
use common::*;

fn put_at(bucket: &str, key: &str, etag: &str, made: Nanos) -> Command {
    Command::PutObject {
        bucket: bucket.into(),
        key: key.into(),
        version: ObjectVersion { last_modified: made, ..version(etag) },
        condition: None,
    }
}

fn expire(bucket: &str, key: &str, action: Expiry) -> Command {
    Command::Expire { bucket: bucket.into(), key: key.into(), action, at: 100 }
}

fn current(version_id: Option<&str>, made: Nanos) -> Expiry {
    Expiry::Current { version_id: version_id.map(String::from), last_modified: made }
}

fn noncurrent(version_id: Option<&str>, made: Nanos) -> Expiry {
    Expiry::Noncurrent { version_id: version_id.map(String::from), last_modified: made }
}

async fn put_v(s: &MetaStore, bucket: &str, key: &str, etag: &str, made: Nanos) -> String {
    match s.propose(put_at(bucket, key, etag, made)).await.unwrap() {
        CommandResult::Versioned { version_id: Some(id), .. } => id,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_the_current_version_needs_the_version_the_rule_saw() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "b").await;
    s.propose(put_at("b", "k", "e1", 10)).await.unwrap();
    // Overwritten after the rule looked at the version made at 10: left alone.
    s.propose(put_at("b", "k", "e2", 20)).await.unwrap();
    assert_eq!(s.propose(expire("b", "k", current(None, 10))).await.unwrap(), CommandResult::PreconditionFailed);
    assert_eq!(s.get_object("b", "k").unwrap().unwrap().etag, "e2");
    // The version it saw: removed (unversioned bucket).
    let r = s.propose(expire("b", "k", current(None, 20))).await.unwrap();
    assert!(matches!(r, CommandResult::Replaced(Some(ref v)) if v.etag == "e2"), "{r:?}");
    assert!(s.get_object("b", "k").unwrap().is_none());
    assert_eq!(s.propose(expire("b", "k", current(None, 20))).await.unwrap(), CommandResult::PreconditionFailed);
    assert_eq!(s.propose(expire("nb", "k", current(None, 20))).await.unwrap(), CommandResult::NoSuchBucket);

    // Versioned: a delete marker by the bucket's owner hides the version, which stays.
    create_bucket(&s, "v").await;
    s.propose(Command::PutBucketVersioning { bucket: "v".into(), state: Versioning::Enabled }).await.unwrap();
    let v1 = put_v(&s, "v", "k", "e1", 10).await;
    let r = s.propose(expire("v", "k", current(Some(&v1), 10))).await.unwrap();
    assert!(matches!(r, CommandResult::Versioned { delete_marker: true, .. }), "{r:?}");
    match s.latest_entry("v", "k").unwrap() {
        Some(VersionEntry::Marker(m)) => assert_eq!(m.owner, "owner"),
        other => panic!("{other:?}"),
    }
    assert!(s.get_version("v", "k", Some(&v1)).unwrap().is_some(), "the version is kept");
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noncurrent_versions_and_lone_markers_go_only_as_seen() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "v").await;
    s.propose(Command::PutBucketVersioning { bucket: "v".into(), state: Versioning::Enabled }).await.unwrap();
    let v1 = put_v(&s, "v", "k", "e1", 10).await;
    let v2 = put_v(&s, "v", "k", "e2", 20).await;
    // The current version is not noncurrent, and a wrong time is not the version seen.
    assert_eq!(
        s.propose(expire("v", "k", noncurrent(Some(&v2), 20))).await.unwrap(),
        CommandResult::PreconditionFailed
    );
    assert_eq!(
        s.propose(expire("v", "k", noncurrent(Some(&v1), 11))).await.unwrap(),
        CommandResult::PreconditionFailed
    );
    let r = s.propose(expire("v", "k", noncurrent(Some(&v1), 10))).await.unwrap();
    assert!(matches!(r, CommandResult::Versioned { delete_marker: false, ref freed, .. } if freed.len() == 1), "{r:?}");
    assert!(s.get_version("v", "k", Some(&v1)).unwrap().is_none());
    assert_eq!(s.get_object("v", "k").unwrap().unwrap().etag, "e2");

    // Under a legal hold, a noncurrent version stays.
    let settings = Attrs::from([
        (SETTING_VERSIONING.to_string(), bincode::serialize(&Versioning::Enabled).unwrap()),
        (SETTING_OBJECT_LOCK.to_string(), bincode::serialize(&ObjectLockConfig { default_retention: None }).unwrap()),
    ]);
    let r = s.propose(Command::CreateBucketWith { bucket: bucket("locked", "owner"), settings }).await.unwrap();
    assert_eq!(r, CommandResult::Ok);
    let held = put_v(&s, "locked", "h", "h1", 10).await;
    let hold = Command::PutVersionAttr {
        bucket: "locked".into(),
        key: "h".into(),
        version_id: Some(held.clone()),
        name: ATTR_LEGAL_HOLD.into(),
        value: Some(bincode::serialize(&true).unwrap()),
        at: 10,
        bypass_governance: false,
    };
    assert!(matches!(s.propose(hold).await.unwrap(), CommandResult::Versioned { .. }));
    put_v(&s, "locked", "h", "h2", 20).await;
    let r = s.propose(expire("locked", "h", noncurrent(Some(&held), 10))).await.unwrap();
    assert_eq!(r, CommandResult::Refused(Refusal::ObjectLocked));
    assert!(s.get_version("locked", "h", Some(&held)).unwrap().is_some());

    // A marker that is all that is left goes; one with a version behind it does not.
    let m1 = match s
        .propose(Command::DeleteObjectAt {
            bucket: "v".into(),
            key: "k".into(),
            owner: "o".into(),
            at: 30,
            condition: None,
        })
        .await
        .unwrap()
    {
        CommandResult::Versioned { version_id: Some(id), delete_marker: true, .. } => id,
        other => panic!("{other:?}"),
    };
    let lone = Expiry::LoneMarker { version_id: Some(m1.clone()) };
    assert_eq!(
        s.propose(expire("v", "k", lone.clone())).await.unwrap(),
        CommandResult::PreconditionFailed,
        "e2 is behind it"
    );
    s.propose(expire("v", "k", noncurrent(Some(&v2), 20))).await.unwrap();
    // A new version arrives: the marker is no longer what is left.
    let v3 = put_v(&s, "v", "k", "e3", 40).await;
    assert_eq!(s.propose(expire("v", "k", lone.clone())).await.unwrap(), CommandResult::PreconditionFailed);
    s.propose(Command::DeleteVersionAt {
        bucket: "v".into(),
        key: "k".into(),
        version_id: Some(v3),
        condition: None,
        at: 50,
        bypass_governance: false,
    })
    .await
    .unwrap();
    let r = s.propose(expire("v", "k", lone)).await.unwrap();
    assert!(matches!(r, CommandResult::Versioned { delete_marker: true, .. }), "{r:?}");
    assert!(s.latest_entry("v", "k").unwrap().is_none(), "nothing left of the key");
    s.shutdown().await.unwrap();
}
