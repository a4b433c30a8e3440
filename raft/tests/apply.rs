//! Apply semantics, conditional writes, restart persistence, snapshots, throughput.

mod common;

use cairn_raft::schema::*;
use cairn_raft::{CommandBatch, MetaError, MetaStore};
use common::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_commands() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    let m = s.metrics();
    assert_eq!(m.current_leader, Some(1));

    assert_eq!(s.propose(Command::CreateBucket { bucket: bucket("b1", "alice") }).await.unwrap(), CommandResult::Ok);
    assert_eq!(
        s.propose(Command::CreateBucket { bucket: bucket("b1", "bob") }).await.unwrap(),
        CommandResult::BucketAlreadyExists { owner: "alice".into() }
    );
    assert_eq!(s.get_bucket("b1").unwrap(), Some(bucket("b1", "alice")));
    assert_eq!(s.get_bucket("b2").unwrap(), None);
    assert_eq!(s.propose(Command::DeleteBucket { name: "b2".into() }).await.unwrap(), CommandResult::NoSuchBucket);
    for name in ["c", "a", "b2", "b10"] {
        create_bucket(&s, name).await;
    }
    let names = |v: Vec<BucketInfo>| v.into_iter().map(|b| b.name).collect::<Vec<_>>();
    assert_eq!(names(s.list_buckets(None, 100).unwrap()), ["a", "b1", "b10", "b2", "c"]);
    assert_eq!(names(s.list_buckets(Some("b1"), 2).unwrap()), ["b10", "b2"]);
    assert_eq!(names(s.list_buckets(Some("c"), 2).unwrap()), Vec::<String>::new());
    assert!(s.list_buckets(None, 0).unwrap().is_empty());

    assert_eq!(s.propose(put("b1", "k", "e1", None)).await.unwrap(), CommandResult::Replaced(None));
    assert!(s.bucket_has_objects("b1").unwrap());
    assert!(!s.bucket_has_objects("b10").unwrap());
    assert!(!s.bucket_has_objects("b").unwrap());
    assert_eq!(s.propose(Command::DeleteBucket { name: "b1".into() }).await.unwrap(), CommandResult::BucketNotEmpty);
    assert_eq!(
        s.propose(Command::DeleteObject { bucket: "b1".into(), key: "k".into() }).await.unwrap(),
        CommandResult::Replaced(Some(version("e1")))
    );
    assert!(!s.bucket_has_objects("b1").unwrap());
    assert_eq!(s.propose(Command::DeleteBucket { name: "b1".into() }).await.unwrap(), CommandResult::Ok);
    assert_eq!(s.get_bucket("b1").unwrap(), None);
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_commands_and_conditions() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    assert_eq!(s.propose(put("nb", "k", "e", None)).await.unwrap(), CommandResult::NoSuchBucket);
    assert_eq!(
        s.propose(Command::DeleteObject { bucket: "nb".into(), key: "k".into() }).await.unwrap(),
        CommandResult::NoSuchBucket
    );
    create_bucket(&s, "b").await;

    assert_eq!(s.propose(put("b", "k", "e1", None)).await.unwrap(), CommandResult::Replaced(None));
    assert_eq!(s.get_object("b", "k").unwrap(), Some(version("e1")));
    assert_eq!(s.propose(put("b", "k", "e2", None)).await.unwrap(), CommandResult::Replaced(Some(version("e1"))));
    // If-None-Match: *
    assert_eq!(
        s.propose(put("b", "k", "e3", Some(WriteCondition::IfNoneMatchAny))).await.unwrap(),
        CommandResult::PreconditionFailed
    );
    assert_eq!(
        s.propose(put("b", "new", "n1", Some(WriteCondition::IfNoneMatchAny))).await.unwrap(),
        CommandResult::Replaced(None)
    );
    // If-Match
    let if_match = |e: &str| Some(WriteCondition::IfMatch(e.to_string()));
    assert_eq!(s.propose(put("b", "missing", "x", if_match("*"))).await.unwrap(), CommandResult::NoSuchKey);
    assert_eq!(s.propose(put("b", "missing", "x", if_match("\"e1\""))).await.unwrap(), CommandResult::NoSuchKey);
    assert_eq!(s.propose(put("b", "k", "e3", if_match("\"e1\""))).await.unwrap(), CommandResult::PreconditionFailed);
    assert_eq!(s.get_object("b", "k").unwrap(), Some(version("e2")));
    assert_eq!(
        s.propose(put("b", "k", "e3", if_match("\"e2\""))).await.unwrap(),
        CommandResult::Replaced(Some(version("e2")))
    );
    assert_eq!(
        s.propose(put("b", "k", "e4", if_match("W/\"e3\""))).await.unwrap(),
        CommandResult::Replaced(Some(version("e3")))
    );
    assert_eq!(
        s.propose(put("b", "k", "e5", if_match("e4"))).await.unwrap(),
        CommandResult::Replaced(Some(version("e4")))
    );
    assert_eq!(
        s.propose(put("b", "k", "e6", if_match("*"))).await.unwrap(),
        CommandResult::Replaced(Some(version("e5")))
    );
    // Deletes
    assert_eq!(
        s.propose(Command::DeleteObject { bucket: "b".into(), key: "k".into() }).await.unwrap(),
        CommandResult::Replaced(Some(version("e6")))
    );
    assert_eq!(
        s.propose(Command::DeleteObject { bucket: "b".into(), key: "k".into() }).await.unwrap(),
        CommandResult::Replaced(None)
    );
    assert_eq!(s.get_object("b", "k").unwrap(), None);
    assert_eq!(s.get_object("b", "new").unwrap(), Some(version("n1")));
    assert_eq!(s.get_object("nb", "new").unwrap(), None);
    s.read_barrier().await.unwrap();
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_keys() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    let key = |id: &str, secret: &str| AccessKey {
        access_key_id: id.into(),
        sealed_secret: secret.as_bytes().to_vec(),
        name: "n".into(),
        is_root: id == "root",
        created: 3,
        admin: id == "root",
    };
    assert_eq!(s.get_access_key("root").unwrap(), None);
    assert_eq!(s.propose(Command::PutAccessKey { key: key("root", "s1") }).await.unwrap(), CommandResult::Ok);
    assert_eq!(s.propose(Command::PutAccessKey { key: key("alice", "s2") }).await.unwrap(), CommandResult::Ok);
    assert_eq!(s.propose(Command::PutAccessKey { key: key("root", "s3") }).await.unwrap(), CommandResult::Ok);
    assert_eq!(s.get_access_key("root").unwrap(), Some(key("root", "s3")));
    assert_eq!(s.list_access_keys().unwrap(), vec![key("alice", "s2"), key("root", "s3")]);
    let del = |id: &str| Command::DeleteAccessKey { access_key_id: id.into() };
    assert_eq!(s.propose(del("alice")).await.unwrap(), CommandResult::Ok);
    assert_eq!(s.propose(del("alice")).await.unwrap(), CommandResult::NoSuchKey);
    assert_eq!(s.list_access_keys().unwrap(), vec![key("root", "s3")]);
    s.shutdown().await.unwrap();
}

/// Several commands in one Raft entry see each other's effects, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_in_one_entry_apply_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    let batch = vec![
        Command::CreateBucket { bucket: bucket("x", "o1") },
        Command::CreateBucket { bucket: bucket("x", "o2") },
        put("x", "k", "e1", Some(WriteCondition::IfNoneMatchAny)),
        put("x", "k", "e2", Some(WriteCondition::IfNoneMatchAny)),
        Command::DeleteBucket { name: "x".into() },
        put("x", "k", "e3", Some(WriteCondition::IfMatch("\"e1\"".into()))),
        Command::DeleteObject { bucket: "x".into(), key: "k".into() },
        Command::DeleteBucket { name: "x".into() },
        put("x", "k", "e4", None),
        Command::CreateBucket { bucket: bucket("x", "o3") },
    ];
    let resp = s.raft().client_write(CommandBatch(batch)).await.unwrap();
    assert_eq!(
        resp.data.0,
        vec![
            CommandResult::Ok,
            CommandResult::BucketAlreadyExists { owner: "o1".into() },
            CommandResult::Replaced(None),
            CommandResult::PreconditionFailed,
            CommandResult::BucketNotEmpty,
            CommandResult::Replaced(Some(version("e1"))),
            CommandResult::Replaced(Some(version("e3"))),
            CommandResult::Ok,
            CommandResult::NoSuchBucket,
            CommandResult::Ok,
        ]
    );
    assert_eq!(s.get_bucket("x").unwrap(), Some(bucket("x", "o3")));
    assert!(!s.bucket_has_objects("x").unwrap());
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_put_race_has_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "race").await;
    let futs = (0..50).map(|i| {
        let s = s.clone();
        tokio::spawn(async move {
            s.propose(put("race", "one", &format!("e{i}"), Some(WriteCondition::IfNoneMatchAny))).await.unwrap()
        })
    });
    let results: Vec<CommandResult> = futures::future::join_all(futs).await.into_iter().map(|r| r.unwrap()).collect();
    let winners = results.iter().filter(|r| **r == CommandResult::Replaced(None)).count();
    let losers = results.iter().filter(|r| **r == CommandResult::PreconditionFailed).count();
    assert_eq!((winners, losers), (1, 49), "{results:?}");
    assert!(s.get_object("race", "one").unwrap().is_some());
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = MetaStore::open(dir.path(), 1).await.unwrap();
        create_bucket(&s, "p").await;
        let keys: Vec<String> = (0..100).map(|i| format!("k{i:03}")).collect();
        put_all(&s, "p", &keys).await;
        s.shutdown().await.unwrap();
        // Proposals after shutdown fail cleanly.
        let r = s.propose(put("p", "late", "e", None)).await;
        assert!(matches!(r, Err(MetaError::Shutdown) | Err(MetaError::Raft(_))), "{r:?}");
    }
    let t = Instant::now();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    println!("reopen after shutdown took {:?}", t.elapsed());
    assert_eq!(s.get_bucket("p").unwrap().unwrap().name, "p");
    assert_eq!(s.list_objects("p", "", None, None, 1000).unwrap().objects.len(), 100);
    assert_eq!(s.get_object("p", "k042").unwrap(), Some(version("k042")));
    // More writes, then drop without shutdown (no explicit flush of sled).
    put_all(&s, "p", &["after1".to_string(), "after2".to_string()]).await;
    let applied = s.metrics().last_applied.unwrap().index;
    drop(s);

    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    assert!(s.metrics().last_applied.unwrap().index >= applied);
    assert_eq!(s.get_object("p", "after2").unwrap(), Some(version("after2")));
    assert_eq!(s.list_objects("p", "", None, None, 1000).unwrap().objects.len(), 102);
    assert_eq!(s.propose(put("p", "k000", "z", None)).await.unwrap(), CommandResult::Replaced(Some(version("k000"))));
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_purge_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<String> = (0..300).map(|i| format!("s/{i:04}")).collect();
    {
        let s = MetaStore::open(dir.path(), 1).await.unwrap();
        create_bucket(&s, "snap").await;
        put_all(&s, "snap", &keys).await;
        let last = s.metrics().last_applied.unwrap().index;
        s.raft().trigger().snapshot().await.unwrap();
        let m = s
            .raft()
            .wait(Some(Duration::from_secs(10)))
            .metrics(|m| m.snapshot.is_some_and(|l| l.index >= last), "snapshot")
            .await
            .unwrap();
        let snap_index = m.snapshot.unwrap().index;
        assert!(dir.path().join("snapshots/current.snap").exists());
        s.raft().trigger().purge_log(snap_index).await.unwrap();
        s.raft()
            .wait(Some(Duration::from_secs(10)))
            .metrics(|m| m.purged.is_some_and(|p| p.index >= snap_index), "purged")
            .await
            .unwrap();
        // Writes after the snapshot live only in the log.
        put_all(&s, "snap", &["s/after".to_string()]).await;
        assert_eq!(
            s.propose(Command::DeleteObject { bucket: "snap".into(), key: "s/0000".into() }).await.unwrap(),
            CommandResult::Replaced(Some(version("s/0000")))
        );
        s.shutdown().await.unwrap();
    }
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    let m = s.metrics();
    assert!(m.snapshot.is_some());
    assert!(m.purged.is_some());
    let page = s.list_objects("snap", "s/", None, None, 10_000).unwrap();
    assert_eq!(page.objects.len(), 300);
    assert_eq!(page.objects[0].0, "s/0001");
    assert_eq!(page.objects.last().unwrap().0, "s/after");
    assert_eq!(s.get_object("snap", "s/0000").unwrap(), None);
    s.shutdown().await.unwrap();
}

/// Prints proposals/s; asserts only correctness (run with --nocapture to see it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_proposals_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "tp").await;
    let n = 2000;
    let start_index = s.metrics().last_log_index.unwrap();
    let t = Instant::now();
    let futs = (0..n).map(|i| {
        let s = s.clone();
        tokio::spawn(async move { s.propose(put("tp", &format!("obj-{i:05}"), "etag", None)).await })
    });
    let results = futures::future::join_all(futs).await;
    let elapsed = t.elapsed();
    for r in results {
        assert_eq!(r.unwrap().unwrap(), CommandResult::Replaced(None));
    }
    let entries = s.metrics().last_log_index.unwrap() - start_index;
    println!(
        "{n} concurrent proposals in {:?}: {:.0} proposals/s, {entries} raft entries ({:.1} commands/entry)",
        elapsed,
        n as f64 / elapsed.as_secs_f64(),
        n as f64 / entries as f64
    );
    assert_eq!(s.list_objects("tp", "", None, None, 10_000).unwrap().objects.len(), n);

    // 64 clients, each proposing one at a time (closer to an S3 front end).
    let t = Instant::now();
    let workers = (0..64).map(|w| {
        let s = s.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                let r = s.propose(put("tp", &format!("w{w}-{i}"), "etag", None)).await.unwrap();
                assert_eq!(r, CommandResult::Replaced(None));
            }
        })
    });
    for r in futures::future::join_all(workers).await {
        r.unwrap();
    }
    println!("64 clients x 40 sequential proposals: {:.0} proposals/s", 2560.0 / t.elapsed().as_secs_f64());

    // Sequential (one proposal at a time) for comparison.
    let t = Instant::now();
    for i in 0..200 {
        s.propose(put("tp", &format!("seq-{i}"), "etag", None)).await.unwrap();
    }
    println!("200 sequential proposals: {:.0} proposals/s", 200.0 / t.elapsed().as_secs_f64());
    s.shutdown().await.unwrap();
}

/// Bucket policy and ACLs are set through Raft and survive a restart; a missing
/// bucket or object is an answer, not an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_and_acl_commands() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    s.propose(Command::CreateBucket { bucket: bucket("pb", "alice") }).await.unwrap();
    s.propose(put("pb", "k", "e1", None)).await.unwrap();
    let policy = Command::PutBucketPolicy { bucket: "pb".into(), policy: Some("{\"Statement\":[]}".into()) };
    assert_eq!(s.propose(policy).await.unwrap(), CommandResult::Ok);
    let acl = Command::PutBucketAcl { bucket: "pb".into(), acl: CannedAcl::PublicRead };
    assert_eq!(s.propose(acl).await.unwrap(), CommandResult::Ok);
    let oacl =
        |key: &str| Command::PutObjectAcl { bucket: "pb".into(), key: key.into(), acl: CannedAcl::AuthenticatedRead };
    assert_eq!(s.propose(oacl("k")).await.unwrap(), CommandResult::Ok);
    assert_eq!(s.propose(oacl("missing")).await.unwrap(), CommandResult::NoSuchKey);
    let nob = Command::PutBucketPolicy { bucket: "nob".into(), policy: None };
    assert_eq!(s.propose(nob).await.unwrap(), CommandResult::NoSuchBucket);
    s.shutdown().await.unwrap();
    drop(s);

    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    let b = s.get_bucket("pb").unwrap().unwrap();
    assert_eq!(b.policy.as_deref(), Some("{\"Statement\":[]}"));
    assert_eq!(b.acl, CannedAcl::PublicRead);
    let o = s.get_object("pb", "k").unwrap().unwrap();
    assert_eq!(o.acl, CannedAcl::AuthenticatedRead);
    assert_eq!(o.etag, "e1");
    let clear = Command::PutBucketPolicy { bucket: "pb".into(), policy: None };
    assert_eq!(s.propose(clear).await.unwrap(), CommandResult::Ok);
    assert_eq!(s.get_bucket("pb").unwrap().unwrap().policy, None);
    s.shutdown().await.unwrap();
}
