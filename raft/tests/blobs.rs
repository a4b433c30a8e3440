//! The blob index follows every command that adds or drops a blob, survives a
//! restart, and a rebuild from the trees gives the same index.

mod common;

use cairn_raft::schema::*;
use cairn_raft::MetaStore;
use common::*;

fn shards(id: u128) -> ObjectData {
    ObjectData::Shards(ShardRef {
        id,
        data_shards: 2,
        parity_shards: 2,
        block_size: 1024,
        disks: vec![0, 1, 2, 3],
        layout_version: 1,
    })
}

fn with_data(data: ObjectData) -> ObjectVersion {
    ObjectVersion { data, ..version("e") }
}

fn part(number: u32, id: u128) -> PartRef {
    PartRef { number, size: 10, etag: format!("p{number}"), checksum: None, last_modified: 1, data: shards(id) }
}

fn object_owner(bucket: &str, key: &str) -> Option<BlobOwner> {
    Some(BlobOwner::Object { bucket: bucket.into(), key: key.into() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_index_follows_puts_deletes_and_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "bkt").await;
    let put = |key: &str, data: ObjectData| Command::PutObject {
        bucket: "bkt".into(),
        key: key.into(),
        version: with_data(data),
        condition: None,
    };

    s.propose(put("a", shards(1))).await.unwrap();
    assert_eq!(s.blob_owner(1).unwrap(), object_owner("bkt", "a"));
    // Overwrite: the old blob is no longer referenced, the new one is.
    s.propose(put("a", shards(2))).await.unwrap();
    assert_eq!(s.blob_owner(1).unwrap(), None);
    assert_eq!(s.blob_owner(2).unwrap(), object_owner("bkt", "a"));
    // Overwrite with an inline body, then delete.
    s.propose(put("b", shards(3))).await.unwrap();
    s.propose(put("a", ObjectData::Inline(b"x".to_vec()))).await.unwrap();
    assert_eq!(s.blob_owner(2).unwrap(), None);
    s.propose(Command::DeleteObject { bucket: "bkt".into(), key: "b".into() }).await.unwrap();
    assert_eq!(s.blob_owner(3).unwrap(), None);

    // Multipart: parts are owned by the upload until completion moves the kept ones
    // to the object; replaced and left-out parts are dropped.
    let upload = MultipartUpload {
        upload_id: "u1".into(),
        bucket: "bkt".into(),
        key: "m".into(),
        initiated: 1,
        checksum_algorithm: None,
        template: version("t"),
    };
    s.propose(Command::CreateUpload { upload }).await.unwrap();
    let put_part =
        |p: PartRef| Command::PutPart { bucket: "bkt".into(), key: "m".into(), upload_id: "u1".into(), part: p };
    s.propose(put_part(part(1, 10))).await.unwrap();
    s.propose(put_part(part(2, 11))).await.unwrap();
    s.propose(put_part(part(3, 12))).await.unwrap();
    assert_eq!(s.blob_owner(11).unwrap(), Some(BlobOwner::Part { upload_id: "u1".into(), number: 2 }));
    s.propose(put_part(part(2, 13))).await.unwrap();
    assert_eq!(s.blob_owner(11).unwrap(), None, "a replaced part's blob is dropped");
    let done = with_data(ObjectData::Parts(vec![part(1, 10), part(2, 13)]));
    let r = s
        .propose(Command::CompleteUpload {
            bucket: "bkt".into(),
            key: "m".into(),
            upload_id: "u1".into(),
            version: done,
            condition: None,
        })
        .await
        .unwrap();
    assert!(matches!(r, CommandResult::Discard(_)), "{r:?}");
    assert_eq!(s.blob_owner(10).unwrap(), object_owner("bkt", "m"));
    assert_eq!(s.blob_owner(13).unwrap(), object_owner("bkt", "m"));
    assert_eq!(s.blob_owner(12).unwrap(), None, "a part left out of the completion is dropped");

    // Abort drops every part.
    let upload = MultipartUpload {
        upload_id: "u2".into(),
        bucket: "bkt".into(),
        key: "n".into(),
        initiated: 2,
        checksum_algorithm: None,
        template: version("t"),
    };
    s.propose(Command::CreateUpload { upload }).await.unwrap();
    let r = Command::PutPart { bucket: "bkt".into(), key: "n".into(), upload_id: "u2".into(), part: part(1, 20) };
    s.propose(r).await.unwrap();
    assert!(s.blob_owner(20).unwrap().is_some());
    s.propose(Command::AbortUpload { bucket: "bkt".into(), key: "n".into(), upload_id: "u2".into() }).await.unwrap();
    assert_eq!(s.blob_owner(20).unwrap(), None);

    // MoveBlob retargets a part's blob inside a multipart object, only from where it is.
    let mv = |from: Vec<u16>, to: Vec<u16>| Command::MoveBlob {
        bucket: "bkt".into(),
        key: "m".into(),
        id: 13,
        from,
        to,
        layout_version: 9,
    };
    assert_eq!(s.propose(mv(vec![9, 9, 9, 9], vec![4, 5, 6, 7])).await.unwrap(), CommandResult::PreconditionFailed);
    assert_eq!(s.propose(mv(vec![0, 1, 2, 3], vec![4, 5, 6, 7])).await.unwrap(), CommandResult::Ok);
    let v = s.get_object("bkt", "m").unwrap().unwrap();
    let ObjectData::Parts(parts) = &v.data else { panic!("not parts") };
    let ObjectData::Shards(r) = &parts[1].data else { panic!("not shards") };
    assert_eq!((r.id, r.disks.clone(), r.layout_version), (13, vec![4, 5, 6, 7], 9));
    let ObjectData::Shards(r0) = &parts[0].data else { panic!("not shards") };
    assert_eq!(r0.disks, vec![0, 1, 2, 3], "the other part stays");
    assert_eq!(s.blob_owner(13).unwrap(), object_owner("bkt", "m"), "a move keeps the owner");
    let gone = Command::MoveBlob {
        bucket: "bkt".into(),
        key: "nope".into(),
        id: 13,
        from: vec![],
        to: vec![],
        layout_version: 1,
    };
    assert_eq!(s.propose(gone).await.unwrap(), CommandResult::NoSuchKey);

    // Service state round trip.
    assert_eq!(s.service_state("scrub").unwrap(), None);
    s.propose(Command::PutServiceState { name: "scrub".into(), value: b"cursor".to_vec() }).await.unwrap();
    assert_eq!(s.service_state("scrub").unwrap().as_deref(), Some(&b"cursor"[..]));

    // The walkers' scan: all buckets, in order, resumable.
    create_bucket(&s, "bkt2").await;
    s.propose(Command::PutObject { bucket: "bkt2".into(), key: "z".into(), version: version("z"), condition: None })
        .await
        .unwrap();
    let all: Vec<(String, String)> =
        s.scan_objects(None, "", None, 100).unwrap().into_iter().map(|(b, k, _)| (b, k)).collect();
    let want: Vec<(String, String)> =
        [("bkt", "a"), ("bkt", "m"), ("bkt2", "z")].iter().map(|(b, k)| (b.to_string(), k.to_string())).collect();
    assert_eq!(all, want);
    let rest = s.scan_objects(None, "", Some(("bkt", "m")), 100).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(s.scan_objects(Some("bkt"), "m", None, 100).unwrap().len(), 1);
    assert_eq!(s.scan_objects(Some("bkt"), "", Some(("bkt", "a")), 1).unwrap()[0].1, "m");
    assert!(s.scan_objects(Some("bkt"), "", Some(("bkt2", "")), 10).unwrap().is_empty());

    s.shutdown().await.unwrap();
    drop(s);
    // Reopen: the index persisted; then force a rebuild (as a store written before the
    // index existed would) and check it gives the same answers.
    {
        let s = MetaStore::open(dir.path(), 1).await.unwrap();
        assert_eq!(s.blob_owner(13).unwrap(), object_owner("bkt", "m"));
        s.shutdown().await.unwrap();
    }
    {
        // As a store written before blobs could be shared: the old single-owner tree
        // and its marker, no sm_blob_refs.
        let db = open_sled_after_drop(dir.path());
        db.open_tree("sm_meta").unwrap().remove("blob_refs_indexed").unwrap();
        db.open_tree("sm_meta").unwrap().insert("blobs_indexed", &b"1"[..]).unwrap();
        db.open_tree("sm_blob_refs").unwrap().clear().unwrap();
        db.open_tree("sm_blobs").unwrap().insert(13u128.to_be_bytes(), &b"stale"[..]).unwrap();
        db.flush().unwrap();
    }
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    for (id, want) in [(10, object_owner("bkt", "m")), (13, object_owner("bkt", "m")), (1, None), (20, None)] {
        assert_eq!(s.blob_owner(id).unwrap(), want, "blob {id} after rebuild");
    }
    s.shutdown().await.unwrap();
    drop(s);
    let db = open_sled_after_drop(dir.path());
    assert!(!db.tree_names().iter().any(|n| n.as_ref() == b"sm_blobs"), "the old index is dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_blobs_live_until_their_last_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "bkt").await;
    s.propose(Command::PutBucketVersioning { bucket: "bkt".into(), state: Versioning::Enabled }).await.unwrap();
    let put = |data: ObjectData| Command::PutObjectWith {
        bucket: "bkt".into(),
        key: "k".into(),
        version: with_data(data),
        condition: None,
        attrs: Attrs::new(),
    };
    let made = |r: CommandResult| match r {
        CommandResult::Versioned { version_id, freed, .. } => (version_id.unwrap(), freed),
        other => panic!("{other:?}"),
    };
    let (v1, _) = made(s.propose(put(shards(1))).await.unwrap());
    let (v2, _) = made(s.propose(put(shards(2))).await.unwrap());
    // Roll back to v1: a new version sharing blob 1, nothing copied or freed.
    let copy = |src: &str| Command::CopyVersion {
        bucket: "bkt".into(),
        key: "k".into(),
        source_version_id: src.into(),
        version: version("template"),
        condition: None,
        attrs: Attrs::new(),
    };
    let (v3, freed) = made(s.propose(copy(&v1)).await.unwrap());
    assert!(freed.is_empty());
    let cur = s.get_object("bkt", "k").unwrap().unwrap();
    assert_eq!((cur.data.clone(), cur.etag.as_str(), cur.version_id.as_deref()), (shards(1), "e", Some(v3.as_str())));
    let mut owners = s.blob_owners(1).unwrap();
    owners.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(
        owners,
        vec![
            BlobOwner::Object { bucket: "bkt".into(), key: "k".into() },
            BlobOwner::Version { bucket: "bkt".into(), key: "k".into(), version_id: Some(v1.clone()) },
        ]
    );
    assert_eq!(s.bucket_usage("bkt").unwrap().objects, 3, "each version counts, as S3 bills them");

    // A move retargets every version that refers to the blob, and only from where it is.
    let mv = |from: Vec<u16>| Command::MoveBlob {
        bucket: "bkt".into(),
        key: "k".into(),
        id: 1,
        from,
        to: vec![4, 5, 6, 7],
        layout_version: 2,
    };
    assert_eq!(s.propose(mv(vec![9, 9, 9, 9])).await.unwrap(), CommandResult::PreconditionFailed);
    assert_eq!(s.propose(mv(vec![0, 1, 2, 3])).await.unwrap(), CommandResult::Ok);
    let disks = |e: &VersionEntry| match e {
        VersionEntry::Object(ObjectVersion { data: ObjectData::Shards(r), .. }) => r.disks.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(disks(&s.get_version("bkt", "k", Some(&v1)).unwrap().unwrap().0), vec![4, 5, 6, 7]);
    assert_eq!(disks(&s.get_version("bkt", "k", Some(&v3)).unwrap().unwrap().0), vec![4, 5, 6, 7]);
    // A blob only a noncurrent version refers to moves too.
    let mv2 = Command::MoveBlob {
        bucket: "bkt".into(),
        key: "k".into(),
        id: 2,
        from: vec![0, 1, 2, 3],
        to: vec![4, 5, 6, 7],
        layout_version: 2,
    };
    assert_eq!(s.propose(mv2).await.unwrap(), CommandResult::Ok);
    assert_eq!(disks(&s.get_version("bkt", "k", Some(&v2)).unwrap().unwrap().0), vec![4, 5, 6, 7]);
    let other_key = Command::MoveBlob {
        bucket: "bkt".into(),
        key: "other".into(),
        id: 2,
        from: vec![4, 5, 6, 7],
        to: vec![0, 1, 2, 3],
        layout_version: 3,
    };
    assert_eq!(s.propose(other_key).await.unwrap(), CommandResult::NoSuchKey, "not that key's blob");

    // Deleting either sharer frees nothing; deleting the last frees the blob.
    let del = |id: &str| Command::DeleteVersionAt {
        bucket: "bkt".into(),
        key: "k".into(),
        version_id: Some(id.into()),
        condition: None,
        at: 0,
        bypass_governance: false,
    };
    let (_, freed) = made(s.propose(del(&v3)).await.unwrap());
    assert!(freed.is_empty(), "v1 still refers to blob 1: {freed:?}");
    assert_eq!(s.get_object("bkt", "k").unwrap().unwrap().version_id.as_deref(), Some(v2.as_str()));
    let (_, freed) = made(s.propose(del(&v1)).await.unwrap());
    assert_eq!(freed.len(), 1);
    assert!(matches!(&freed[0], ObjectData::Shards(r) if r.id == 1));
    assert_eq!(s.blob_owner(1).unwrap(), None);

    // A rollback onto the version it replaces (the current one, copied onto itself in
    // a suspended bucket, where the null version is replaced) keeps the shared blob.
    s.propose(Command::PutBucketVersioning { bucket: "bkt".into(), state: Versioning::Suspended }).await.unwrap();
    let null = s.propose(put(shards(5))).await.unwrap();
    assert!(matches!(null, CommandResult::Versioned { version_id: None, .. }));
    match s.propose(copy("null")).await.unwrap() {
        CommandResult::Versioned { version_id: None, freed, .. } => assert!(freed.is_empty(), "{freed:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.get_object("bkt", "k").unwrap().unwrap().data, shards(5));
    assert!(s.blob_owner(5).unwrap().is_some());

    // The source must still be there when the copy commits.
    let gone = s.propose(copy(&v1)).await.unwrap();
    assert_eq!(gone, CommandResult::Refused(Refusal::NoSuchVersion));

    // A rebuild gives the same owners.
    s.shutdown().await.unwrap();
    drop(s);
    {
        let db = open_sled_after_drop(dir.path());
        db.open_tree("sm_meta").unwrap().remove("blob_refs_indexed").unwrap();
        db.open_tree("sm_blob_refs").unwrap().clear().unwrap();
        db.flush().unwrap();
    }
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    assert_eq!(s.blob_owners(2).unwrap().len(), 1);
    assert_eq!(s.blob_owners(5).unwrap(), vec![BlobOwner::Object { bucket: "bkt".into(), key: "k".into() }]);
    s.shutdown().await.unwrap();
}
