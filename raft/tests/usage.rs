//! Per-bucket usage follows puts, overwrites, deletes and completed uploads exactly,
//! and a rebuild from the objects gives the same figures.

mod common;

use cairn_raft::class_usage::ClassUsage;
use cairn_raft::schema::*;
use cairn_raft::usage::BucketUsage;
use cairn_raft::MetaStore;
use common::*;

fn sized(size: u64) -> ObjectVersion {
    ObjectVersion { size, ..version("e") }
}

fn put(bucket: &str, key: &str, size: u64) -> Command {
    Command::PutObject { bucket: bucket.into(), key: key.into(), version: sized(size), condition: None }
}

fn usage(objects: u64, bytes: u64) -> BucketUsage {
    BucketUsage { objects, bytes, delete_markers: 0 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_exact_through_every_kind_of_change() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "one").await;
    create_bucket(&s, "two").await;
    assert_eq!(s.bucket_usage("one").unwrap(), usage(0, 0));
    s.propose(put("one", "a", 100)).await.unwrap();
    s.propose(put("one", "b", 50)).await.unwrap();
    s.propose(put("two", "a", 7)).await.unwrap();
    assert_eq!(s.bucket_usage("one").unwrap(), usage(2, 150));
    s.propose(put("one", "a", 10)).await.unwrap();
    assert_eq!(s.bucket_usage("one").unwrap(), usage(2, 60), "an overwrite replaces the old size");
    s.propose(Command::DeleteObject { bucket: "one".into(), key: "b".into() }).await.unwrap();
    s.propose(Command::DeleteObject { bucket: "one".into(), key: "nope".into() }).await.unwrap();
    assert_eq!(s.bucket_usage("one").unwrap(), usage(1, 10));
    // A refused conditional write counts nothing.
    let cond = Command::PutObject {
        bucket: "one".into(),
        key: "a".into(),
        version: sized(999),
        condition: Some(WriteCondition::IfNoneMatchAny),
    };
    assert_eq!(s.propose(cond).await.unwrap(), CommandResult::PreconditionFailed);
    assert_eq!(s.bucket_usage("one").unwrap(), usage(1, 10));

    // A completed upload over an existing key.
    let upload = MultipartUpload {
        upload_id: "u".into(),
        bucket: "one".into(),
        key: "a".into(),
        initiated: 1,
        checksum_algorithm: None,
        template: version("t"),
    };
    s.propose(Command::CreateUpload { upload }).await.unwrap();
    let part = PartRef {
        number: 1,
        size: 5000,
        etag: "p".into(),
        checksum: None,
        last_modified: 1,
        data: ObjectData::Inline(vec![]),
    };
    s.propose(Command::PutPart { bucket: "one".into(), key: "a".into(), upload_id: "u".into(), part: part.clone() })
        .await
        .unwrap();
    assert_eq!(s.bucket_usage("one").unwrap(), usage(1, 10), "parts of an upload in progress do not count");
    let done = ObjectVersion { size: 5000, data: ObjectData::Parts(vec![part]), ..version("m") };
    let r = Command::CompleteUpload {
        bucket: "one".into(),
        key: "a".into(),
        upload_id: "u".into(),
        version: done,
        condition: None,
    };
    assert!(matches!(s.propose(r).await.unwrap(), CommandResult::Discard(_)));
    assert_eq!(s.bucket_usage("one").unwrap(), usage(1, 5000));
    let all = s.all_usage().unwrap();
    assert_eq!(all, vec![("one".to_string(), usage(1, 5000)), ("two".to_string(), usage(1, 7))]);

    // Emptied and deleted buckets drop out.
    s.propose(Command::DeleteObject { bucket: "two".into(), key: "a".into() }).await.unwrap();
    s.propose(Command::DeleteBucket { name: "two".into() }).await.unwrap();
    assert_eq!(s.all_usage().unwrap(), vec![("one".to_string(), usage(1, 5000))]);
    let standard = |objects, bytes| vec![("STANDARD".to_string(), ClassUsage { objects, bytes })];
    assert_eq!(
        s.class_usage(&Pool::Bucket("one".into())).unwrap(),
        standard(1, 5000),
        "usage by class follows the same changes"
    );
    assert_eq!(s.class_usage(&Pool::Bucket("two".into())).unwrap(), vec![]);

    s.shutdown().await.unwrap();
    drop(s);
    {
        let db = open_sled_after_drop(dir.path());
        db.open_tree("sm_meta").unwrap().remove("usage_markers_indexed").unwrap();
        db.open_tree("sm_usage").unwrap().clear().unwrap();
        db.open_tree("sm_meta").unwrap().remove("class_usage_indexed").unwrap();
        db.open_tree("sm_class_usage").unwrap().clear().unwrap();
        db.flush().unwrap();
    }
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    assert_eq!(s.all_usage().unwrap(), vec![("one".to_string(), usage(1, 5000))], "rebuilt from the objects");
    assert_eq!(s.class_usage(&Pool::Bucket("one".into())).unwrap(), standard(1, 5000), "by class too");
    s.shutdown().await.unwrap();
}
