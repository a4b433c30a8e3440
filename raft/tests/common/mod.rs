#![allow(dead_code)]

use cairn_raft::schema::*;
use cairn_raft::MetaStore;
use std::collections::BTreeMap;

pub fn bucket(name: &str, owner: &str) -> BucketInfo {
    BucketInfo { name: name.to_string(), owner: owner.to_string(), created: 1, acl: CannedAcl::Private, policy: None }
}

pub fn version(etag: &str) -> ObjectVersion {
    ObjectVersion {
        version_id: None,
        size: etag.len() as u64,
        etag: etag.to_string(),
        last_modified: 2,
        content_type: Some("text/plain".into()),
        content_encoding: None,
        content_disposition: None,
        content_language: None,
        cache_control: None,
        expires: None,
        user_meta: BTreeMap::from([("k".to_string(), "v".to_string())]),
        checksums: BTreeMap::new(),
        owner: "owner".into(),
        data: ObjectData::Inline(etag.as_bytes().to_vec()),
        acl: CannedAcl::Private,
    }
}

pub fn put(bucket: &str, key: &str, etag: &str, condition: Option<WriteCondition>) -> Command {
    Command::PutObject { bucket: bucket.into(), key: key.into(), version: version(etag), condition }
}

pub async fn create_bucket(s: &MetaStore, name: &str) {
    let r = s.propose(Command::CreateBucket { bucket: bucket(name, "owner") }).await.unwrap();
    assert_eq!(r, CommandResult::Ok);
}

/// Puts all keys concurrently; every put must succeed.
pub async fn put_all(s: &MetaStore, bucket: &str, keys: &[String]) {
    let futs = keys.iter().map(|k| {
        let s = s.clone();
        let cmd = put(bucket, k, k, None);
        async move { s.propose(cmd).await }
    });
    for r in futures::future::join_all(futs).await {
        assert!(matches!(r.unwrap(), CommandResult::Replaced(_)));
    }
}

/// Opens the sled database of a store a test just shut down and dropped. The store's
/// background threads may hold sled's file lock a moment longer: retry for a while.
pub fn open_sled_after_drop(dir: &std::path::Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match sled::open(dir.join("sled")) {
            Ok(db) => return db,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("opening the store's sled database: {e}"),
        }
    }
}

/// Opens again a store a test just dropped, retrying while its background threads
/// still hold sled's file lock.
pub async fn reopen(dir: &std::path::Path) -> MetaStore {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match MetaStore::open(dir, 1).await {
            Ok(s) => return s,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("reopening the store: {e}"),
        }
    }
}
