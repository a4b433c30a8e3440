//! Object attributes and object lock in the state machine: attributes stored with
//! their version and gone with it, an upload's moved onto its object, lock settings
//! only with versioning on, default retention, legal hold, COMPLIANCE that nothing
//! removes early, GOVERNANCE with and without a bypass, snapshots and restart.

mod common;

use cairn_raft::schema::*;
use cairn_raft::MetaStore;
use common::*;

fn enc<T: serde::Serialize>(v: &T) -> Vec<u8> {
    bincode::serialize(v).unwrap()
}

fn tags(pairs: &[(&str, &str)]) -> Attrs {
    let t: TagSet = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Attrs::from([(ATTR_TAGS.to_string(), enc(&t))])
}

fn put_with(bucket: &str, key: &str, etag: &str, attrs: Attrs) -> Command {
    Command::PutObjectWith { bucket: bucket.into(), key: key.into(), version: version(etag), condition: None, attrs }
}

fn del_at(bucket: &str, key: &str, id: Option<&str>, at: Nanos, bypass: bool) -> Command {
    Command::DeleteVersionAt {
        bucket: bucket.into(),
        key: key.into(),
        version_id: id.map(String::from),
        condition: None,
        at,
        bypass_governance: bypass,
    }
}

fn set_attr(bucket: &str, key: &str, id: Option<&str>, name: &str, value: Option<Vec<u8>>, bypass: bool) -> Command {
    Command::PutVersionAttr {
        bucket: bucket.into(),
        key: key.into(),
        version_id: id.map(String::from),
        name: name.into(),
        value,
        at: 50,
        bypass_governance: bypass,
    }
}

fn made(r: CommandResult) -> Option<String> {
    match r {
        CommandResult::Versioned { version_id, .. } => version_id,
        other => panic!("{other:?}"),
    }
}

async fn lock_bucket(s: &MetaStore, name: &str, default: Option<(LockMode, RetentionPeriod)>) {
    let settings = Attrs::from([
        (SETTING_VERSIONING.to_string(), enc(&Versioning::Enabled)),
        (SETTING_OBJECT_LOCK.to_string(), enc(&ObjectLockConfig { default_retention: default })),
    ]);
    let r = s.propose(Command::CreateBucketWith { bucket: bucket(name, "owner"), settings }).await.unwrap();
    assert_eq!(r, CommandResult::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_live_and_die_with_their_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "u").await;
    // Unversioned: a PUT replaces the null version and its tags.
    s.propose(put_with("u", "k", "a", tags(&[("t", "1")]))).await.unwrap();
    assert_eq!(s.version_attrs("u", "k", None).unwrap(), tags(&[("t", "1")]));
    s.propose(put("u", "k", "b", None)).await.unwrap();
    assert!(s.version_attrs("u", "k", None).unwrap().is_empty(), "the old version's tags went with it");
    s.propose(put_with("u", "k", "c", tags(&[("t", "3")]))).await.unwrap();
    s.propose(Command::DeleteObject { bucket: "u".into(), key: "k".into() }).await.unwrap();
    assert!(s.version_attrs("u", "k", None).unwrap().is_empty());
    // Lock attributes need a bucket with lock.
    let r = Attrs::from([(ATTR_LEGAL_HOLD.to_string(), enc(&true))]);
    assert_eq!(s.propose(put_with("u", "k", "d", r)).await.unwrap(), CommandResult::Refused(Refusal::LockNotEnabled));
    assert!(s.get_object("u", "k").unwrap().is_none(), "a refused write leaves nothing");

    // Versioned: each version has its own; PutVersionAttr targets current, null or an id.
    s.propose(put("u", "k", "n", None)).await.unwrap();
    s.propose(Command::PutBucketVersioning { bucket: "u".into(), state: Versioning::Enabled }).await.unwrap();
    let v1 = made(s.propose(put_with("u", "k", "v1", tags(&[("v", "1")]))).await.unwrap()).unwrap();
    let v2 = made(s.propose(put("u", "k", "v2", None)).await.unwrap()).unwrap();
    let set = |id: Option<&str>, t: Attrs| set_attr("u", "k", id, ATTR_TAGS, t.get(ATTR_TAGS).cloned(), false);
    assert_eq!(made(s.propose(set(None, tags(&[("c", "2")]))).await.unwrap()), Some(v2.clone()));
    assert_eq!(made(s.propose(set(Some("null"), tags(&[("n", "0")]))).await.unwrap()), None);
    assert_eq!(s.version_attrs("u", "k", Some(&v2)).unwrap(), tags(&[("c", "2")]));
    assert_eq!(s.version_attrs("u", "k", Some(&v1)).unwrap(), tags(&[("v", "1")]));
    assert_eq!(s.version_attrs("u", "k", None).unwrap(), tags(&[("n", "0")]));
    let missing = set(Some("00000000000000000000000000"), tags(&[]));
    assert_eq!(s.propose(missing).await.unwrap(), CommandResult::Refused(Refusal::NoSuchVersion));
    assert_eq!(
        s.propose(set_attr("u", "nokey", None, ATTR_TAGS, None, false)).await.unwrap(),
        CommandResult::NoSuchKey
    );
    let marker = match s
        .propose(Command::DeleteObjectAt {
            bucket: "u".into(),
            key: "k".into(),
            owner: "o".into(),
            at: 3,
            condition: None,
        })
        .await
        .unwrap()
    {
        CommandResult::Versioned { version_id, delete_marker: true, .. } => version_id.unwrap(),
        other => panic!("{other:?}"),
    };
    let on_marker = set(Some(&marker), tags(&[]));
    assert_eq!(s.propose(on_marker).await.unwrap(), CommandResult::Refused(Refusal::DeleteMarker));
    assert_eq!(s.propose(set(None, tags(&[]))).await.unwrap(), CommandResult::NoSuchKey, "current is a marker");
    // Removing a version for good drops its attributes, and only its.
    s.propose(del_at("u", "k", Some(&v1), 0, false)).await.unwrap();
    assert!(s.version_attrs("u", "k", Some(&v1)).unwrap().is_empty());
    assert_eq!(s.version_attrs("u", "k", Some(&v2)).unwrap(), tags(&[("c", "2")]));
    // Suspended: a PUT replaces the null version, and its tags.
    s.propose(Command::PutBucketVersioning { bucket: "u".into(), state: Versioning::Suspended }).await.unwrap();
    s.propose(put("u", "k", "s", None)).await.unwrap();
    assert!(s.version_attrs("u", "k", None).unwrap().is_empty());

    // Uploads: their attributes move onto the object at completion, go at abort.
    let mut up = MultipartUpload {
        upload_id: "up1".into(),
        bucket: "u".into(),
        key: "m".into(),
        initiated: 1,
        checksum_algorithm: None,
        template: version("tpl"),
    };
    let r = s.propose(Command::CreateUploadWith { upload: up.clone(), attrs: tags(&[("m", "1")]) }).await.unwrap();
    assert_eq!(r, CommandResult::Ok);
    assert_eq!(s.upload_attrs("u", "m", "up1").unwrap(), tags(&[("m", "1")]));
    let mut v = version("mp");
    v.data = ObjectData::Parts(Vec::new());
    let done = Command::CompleteUpload {
        bucket: "u".into(),
        key: "m".into(),
        upload_id: "up1".into(),
        version: v,
        condition: None,
    };
    assert!(matches!(s.propose(done).await.unwrap(), CommandResult::Versioned { version_id: None, .. }));
    assert!(s.upload_attrs("u", "m", "up1").unwrap().is_empty());
    assert_eq!(s.version_attrs("u", "m", None).unwrap(), tags(&[("m", "1")]));
    up.upload_id = "up2".into();
    s.propose(Command::CreateUploadWith { upload: up, attrs: tags(&[("m", "2")]) }).await.unwrap();
    let abort = Command::AbortUpload { bucket: "u".into(), key: "m".into(), upload_id: "up2".into() };
    s.propose(abort).await.unwrap();
    assert!(s.upload_attrs("u", "m", "up2").unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_lock_is_decided_in_apply() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    // Lock needs versioning enabled, at creation or after; it never goes, and
    // versioning can no longer be suspended.
    let settings = Attrs::from([(SETTING_OBJECT_LOCK.to_string(), enc(&ObjectLockConfig::default()))]);
    let r = s.propose(Command::CreateBucketWith { bucket: bucket("nolock", "o"), settings }).await.unwrap();
    assert_eq!(r, CommandResult::Refused(Refusal::InvalidBucketState));
    assert!(s.get_bucket("nolock").unwrap().is_none());
    create_bucket(&s, "later").await;
    let lock_on = |b: &str| Command::PutBucketSetting {
        bucket: b.into(),
        name: SETTING_OBJECT_LOCK.into(),
        value: Some(enc(&ObjectLockConfig::default())),
    };
    assert_eq!(s.propose(lock_on("later")).await.unwrap(), CommandResult::Refused(Refusal::InvalidBucketState));
    s.propose(Command::PutBucketVersioning { bucket: "later".into(), state: Versioning::Enabled }).await.unwrap();
    assert_eq!(s.propose(lock_on("later")).await.unwrap(), CommandResult::Ok);
    let off = Command::PutBucketSetting { bucket: "later".into(), name: SETTING_OBJECT_LOCK.into(), value: None };
    assert_eq!(s.propose(off).await.unwrap(), CommandResult::Refused(Refusal::InvalidBucketState));
    let suspend = Command::PutBucketVersioning { bucket: "later".into(), state: Versioning::Suspended };
    assert_eq!(s.propose(suspend).await.unwrap(), CommandResult::Refused(Refusal::InvalidBucketState));
    assert_eq!(s.bucket_versioning("later").unwrap(), Some(Versioning::Enabled));

    // Default retention: COMPLIANCE for 1 day from the version's last_modified (2).
    lock_bucket(&s, "c", Some((LockMode::Compliance, RetentionPeriod::Days(1)))).await;
    assert!(s.bucket_object_lock("c").unwrap().is_some());
    let v = made(s.propose(put("c", "k", "v", None)).await.unwrap()).unwrap();
    let day = 86_400 * 1_000_000_000i64;
    let want = ObjectRetention { mode: LockMode::Compliance, retain_until: 2 + day };
    assert_eq!(s.version_attrs("c", "k", Some(&v)).unwrap().get(ATTR_RETENTION), Some(&enc(&want)));
    // Nobody removes it early, bypass or not; a delete marker is fine.
    for bypass in [false, true] {
        let r = s.propose(del_at("c", "k", Some(&v), day, bypass)).await.unwrap();
        assert_eq!(r, CommandResult::Refused(Refusal::ObjectLocked));
    }
    let m = Command::DeleteObjectAt { bucket: "c".into(), key: "k".into(), owner: "o".into(), at: 5, condition: None };
    assert!(matches!(s.propose(m).await.unwrap(), CommandResult::Versioned { delete_marker: true, .. }));
    // Nor shortens it, nor turns it into GOVERNANCE; lengthening is fine.
    let shorter = ObjectRetention { mode: LockMode::Compliance, retain_until: 100 };
    let gov = ObjectRetention { mode: LockMode::Governance, retain_until: 2 * day };
    let longer = ObjectRetention { mode: LockMode::Compliance, retain_until: 3 * day };
    for (r, bypass) in [(shorter, true), (gov, true)] {
        let c = set_attr("c", "k", Some(&v), ATTR_RETENTION, Some(enc(&r)), bypass);
        assert_eq!(s.propose(c).await.unwrap(), CommandResult::Refused(Refusal::ObjectLocked));
    }
    assert_eq!(
        s.propose(set_attr("c", "k", Some(&v), ATTR_RETENTION, None, true)).await.unwrap(),
        CommandResult::Refused(Refusal::ObjectLocked)
    );
    let c = set_attr("c", "k", Some(&v), ATTR_RETENTION, Some(enc(&longer)), false);
    assert_eq!(made(s.propose(c).await.unwrap()), Some(v.clone()));
    // Once it has run out, the version can go.
    assert!(matches!(
        s.propose(del_at("c", "k", Some(&v), 3 * day, false)).await.unwrap(),
        CommandResult::Versioned { .. }
    ));
    assert!(s.get_version("c", "k", Some(&v)).unwrap().is_none());

    // GOVERNANCE given with the write: removed only with a bypass.
    lock_bucket(&s, "g", None).await;
    let r = ObjectRetention { mode: LockMode::Governance, retain_until: 1000 };
    let a = Attrs::from([(ATTR_RETENTION.to_string(), enc(&r))]);
    let v = made(s.propose(put_with("g", "k", "v", a)).await.unwrap()).unwrap();
    let w = made(s.propose(put("g", "k", "w", None)).await.unwrap()).unwrap();
    assert!(s.version_attrs("g", "k", Some(&w)).unwrap().is_empty(), "no default: no retention");
    assert_eq!(
        s.propose(del_at("g", "k", Some(&v), 10, false)).await.unwrap(),
        CommandResult::Refused(Refusal::ObjectLocked)
    );
    // A legal hold keeps it even from a bypass, until it is lifted.
    let hold = |on: bool| set_attr("g", "k", Some(&v), ATTR_LEGAL_HOLD, Some(enc(&on)), false);
    s.propose(hold(true)).await.unwrap();
    assert_eq!(
        s.propose(del_at("g", "k", Some(&v), 10, true)).await.unwrap(),
        CommandResult::Refused(Refusal::ObjectLocked)
    );
    s.propose(hold(false)).await.unwrap();
    assert!(matches!(s.propose(del_at("g", "k", Some(&v), 10, true)).await.unwrap(), CommandResult::Versioned { .. }));
    // Lock attributes on a bucket without lock are refused.
    let on_plain = set_attr("later2", "k", None, ATTR_LEGAL_HOLD, Some(enc(&true)), false);
    assert_eq!(s.propose(on_plain).await.unwrap(), CommandResult::NoSuchBucket);
    create_bucket(&s, "plain").await;
    s.propose(put("plain", "k", "v", None)).await.unwrap();
    let on_plain = set_attr("plain", "k", None, ATTR_LEGAL_HOLD, Some(enc(&true)), false);
    assert_eq!(s.propose(on_plain).await.unwrap(), CommandResult::Refused(Refusal::LockNotEnabled));

    // All of it survives a restart.
    drop(s);
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    assert!(s.bucket_object_lock("c").unwrap().is_some());
    let held = Attrs::from([(ATTR_LEGAL_HOLD.to_string(), enc(&true))]);
    let v = made(s.propose(put_with("g", "k2", "x", held)).await.unwrap()).unwrap();
    drop(s);
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    assert_eq!(
        s.propose(del_at("g", "k2", Some(&v), 10, true)).await.unwrap(),
        CommandResult::Refused(Refusal::ObjectLocked)
    );
}
