//! Persistence across restarts, a 256 MiB streamed object with bounded server memory,
//! and degraded reads from damaged shards.

use std::collections::HashMap;
use std::time::Instant;

use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;
use sha2::Digest;

struct Stored {
    bucket: &'static str,
    key: String,
    data: Vec<u8>,
    etag: String,
}

async fn put_persist(c: &Client, bucket: &'static str, key: &str, data: Vec<u8>, index: usize) -> Stored {
    let r = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/x-persist")
        .metadata("index", index.to_string())
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {bucket}/{key}: {:?}", ErrInfo::from_sdk(&e)));
    Stored { bucket, key: key.to_string(), data, etag: r.e_tag().unwrap().to_string() }
}

async fn populate(c: &Client) -> Vec<Stored> {
    create_bucket(c, "persist-a").await;
    create_bucket(c, "persist-b").await;
    create_bucket(c, "persist-empty").await;
    let mut out = Vec::new();
    let objects: Vec<(&'static str, &str, usize)> = vec![
        ("persist-a", "inline", 777),
        ("persist-a", "empty", 0),
        ("persist-a", "dir/sharded", 3 * 1024 * 1024 + 5),
        ("persist-b", "ünï cödé", (16 << 10) + 1),
        ("persist-b", "meta", 10),
    ];
    for (i, (bucket, key, len)) in objects.into_iter().enumerate() {
        out.push(put_persist(c, bucket, key, random_bytes(100 + i as u64, len), i).await);
    }
    // An object that is deleted before the restart must stay deleted.
    put_bytes(c, "persist-a", "deleted", random_bytes(1, 9000)).await;
    c.delete_object().bucket("persist-a").key("deleted").send().await.unwrap();
    // An overwritten one keeps its last version (sharded -> inline here).
    let last = put_persist(c, "persist-b", "meta", random_bytes(55, 10), 99).await;
    *out.iter_mut().find(|s| s.key == "meta").unwrap() = last;
    let _ = put_persist(c, "persist-a", "dir/sharded", random_bytes(56, 3 * 1024 * 1024), 2).await;
    let last = put_persist(c, "persist-a", "dir/sharded", random_bytes(57, 2 * 1024 * 1024 + 1), 2).await;
    *out.iter_mut().find(|s| s.key == "dir/sharded").unwrap() = last;
    out
}

async fn verify(c: &Client, stored: &[Stored]) {
    let buckets: Vec<String> = c
        .list_buckets()
        .send()
        .await
        .unwrap_or_else(|e| panic!("list buckets after restart: {:?}", ErrInfo::from_sdk(&e)))
        .buckets()
        .iter()
        .map(|b| b.name().unwrap().to_string())
        .collect();
    assert_eq!(buckets, vec!["persist-a", "persist-b", "persist-empty"]);
    let mut by_bucket: HashMap<&str, Vec<String>> = HashMap::new();
    for s in stored {
        by_bucket.entry(s.bucket).or_default().push(s.key.clone());
    }
    for (b, keys) in by_bucket.iter_mut() {
        keys.sort();
        assert_eq!(&list_all_keys(c, b).await, keys, "keys of {b} after restart");
    }
    assert!(list_all_keys(c, "persist-empty").await.is_empty());
    for s in stored {
        let g = c
            .get_object()
            .bucket(s.bucket)
            .key(&s.key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {}/{} after restart: {:?}", s.bucket, s.key, ErrInfo::from_sdk(&e)));
        assert_eq!(g.e_tag(), Some(s.etag.as_str()), "ETag of {}/{}", s.bucket, s.key);
        assert_eq!(g.content_type(), Some("application/x-persist"));
        assert!(g.metadata().is_some_and(|m| m.contains_key("index")), "metadata of {}/{}", s.bucket, s.key);
        let body = read_body(g.body).await;
        assert!(
            body == s.data,
            "{}/{} differs after restart ({} vs {} bytes)",
            s.bucket,
            s.key,
            body.len(),
            s.data.len()
        );
    }
    assert_s3_err(
        "deleted stays deleted",
        c.get_object().bucket("persist-a").key("deleted").send().await,
        404,
        "NoSuchKey",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistence_across_sigterm_restart() {
    let mut node = TestNode::start();
    let stored = populate(&node.client()).await;
    node.restart(false);
    node.wait_live().await;
    verify(&node.client(), &stored).await;
    // Still writable after the restart, and a second restart keeps that too.
    put_bytes(&node.client(), "persist-empty", "after", b"restart".to_vec()).await;
    node.restart(false);
    assert_eq!(get_bytes(&node.client(), "persist-empty", "after").await, b"restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistence_across_kill9_restart() {
    let mut node = TestNode::start();
    let stored = populate(&node.client()).await;
    // No grace period: everything acknowledged with 200 must be durable.
    node.restart(true);
    node.wait_live().await;
    verify(&node.client(), &stored).await;
    // Wrong credentials still fail after restart (keys were not reset to something else).
    let bad = node.client_builder().credentials(ROOT_ACCESS_KEY, "wrong").build();
    assert_s3_err("wrong secret after restart", bad.list_buckets().send().await, 403, "SignatureDoesNotMatch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_object_streams_with_bounded_memory() {
    const SIZE: u64 = 256 * 1024 * 1024;
    let node = TestNode::start();
    // No aws-chunked trailer for this one: the payload is sent as-is (UNSIGNED-PAYLOAD).
    let c = node.client_builder().checksum_when_required().build();
    create_bucket(&c, "big").await;

    let t0 = Instant::now();
    let (body, hasher) = generated_stream(0xb16, SIZE);
    let out = c
        .put_object()
        .bucket("big")
        .key("256mib")
        .content_length(SIZE as i64)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT 256 MiB: {:?}", ErrInfo::from_sdk(&e)));
    let put_secs = t0.elapsed().as_secs_f64();
    let sha_put = finish_hex(&hasher);
    let etag = out.e_tag().unwrap().to_string();
    assert_eq!(etag.len(), 34, "ETag {etag}");
    let rss_after_put = node.peak_rss_bytes();

    let h = c.head_object().bucket("big").key("256mib").send().await.unwrap();
    assert_eq!(h.content_length(), Some(SIZE as i64));
    assert_eq!(h.e_tag(), Some(etag.as_str()));

    let t1 = Instant::now();
    let g = c.get_object().bucket("big").key("256mib").send().await.unwrap();
    assert_eq!(g.content_length(), Some(SIZE as i64));
    let mut body = g.body;
    let mut sha = sha2::Sha256::new();
    let mut md5 = md5::Md5::new();
    let mut n = 0u64;
    while let Some(chunk) = body.try_next().await.expect("GET body stream") {
        n += chunk.len() as u64;
        sha.update(&chunk);
        md5.update(&chunk);
    }
    let get_secs = t1.elapsed().as_secs_f64();
    assert_eq!(n, SIZE, "GET returned {n} bytes");
    assert_eq!(hex::encode(sha.finalize()), sha_put, "sha256 of GET differs from PUT");
    assert_eq!(format!("\"{}\"", hex::encode(md5.finalize())), etag, "ETag is not the MD5 of the body");

    let rss = node.peak_rss_bytes();
    eprintln!(
        "big object: PUT {:.1}s ({:.0} MiB/s), GET {:.1}s ({:.0} MiB/s), node VmHWM after PUT {} MiB, after GET {} MiB",
        put_secs,
        256.0 / put_secs,
        get_secs,
        256.0 / get_secs,
        rss_after_put >> 20,
        rss >> 20
    );
    assert!(
        rss_after_put < 200 << 20,
        "node peak RSS {} MiB after a 256 MiB PUT: memory is not bounded",
        rss_after_put >> 20
    );
    assert!(rss < 200 << 20, "node peak RSS {} MiB after a 256 MiB GET: memory is not bounded", rss >> 20);
}

/// GET the object; `Ok(body)` if the whole body arrived, `Err(description)` otherwise.
async fn try_get(c: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
    let g = match c.get_object().bucket(bucket).key(key).send().await {
        Ok(g) => g,
        Err(e) => return Err(format!("request failed: {:?}", ErrInfo::from_sdk(&e))),
    };
    let mut body = g.body;
    let mut out = Vec::new();
    loop {
        match body.try_next().await {
            Ok(Some(chunk)) => out.extend_from_slice(&chunk),
            Ok(None) => return Ok(out),
            Err(e) => return Err(format!("body stream failed after {} bytes: {e}", out.len())),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degraded_read_reconstructs_and_fails_safely() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "degraded").await;
    let data = random_bytes(0xdead, 5 * 1024 * 1024);
    put_bytes(&c, "degraded", "obj", data.clone()).await;

    let disks = node.disk_dirs();
    let shards: Vec<Vec<std::path::PathBuf>> = disks.iter().map(|d| shard_files(d)).collect();
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(s.len(), 1, "disk{} should hold exactly one shard file of the object, found {:?}", i + 1, s);
    }
    // Each shard holds half the object (2 data shards) plus per-block CRCs and a header.
    for s in shards.iter().flatten() {
        let len = std::fs::metadata(s).unwrap().len();
        assert!(len >= (data.len() / 2) as u64, "shard {} is only {len} bytes", s.display());
        assert!(len < (data.len() / 2) as u64 + 64 * 1024, "shard {} is {len} bytes", s.display());
    }
    assert!(get_bytes(&c, "degraded", "obj").await == data, "healthy read");

    // Lose disk1's shard, corrupt disk2's: 2 of 4 bad, still readable byte-exact.
    for s in &shards[0] {
        std::fs::remove_file(s).unwrap();
    }
    for s in &shards[1] {
        corrupt_middle(s);
    }
    let got = try_get(&c, "degraded", "obj").await.unwrap_or_else(|e| panic!("degraded read (2 of 4 bad) failed: {e}"));
    assert!(got == data, "degraded read returned wrong bytes");
    // And again (a second read must not be affected by the first, e.g. by healing).
    let got = try_get(&c, "degraded", "obj").await.unwrap_or_else(|e| panic!("second degraded read failed: {e}"));
    assert!(got == data, "second degraded read returned wrong bytes");

    // Three of four bad in the middle stripe: the read must fail, never return wrong bytes.
    // (Re-apply the damage to disk1/disk2 in case the node healed them.)
    for s in shard_files(&disks[0]) {
        std::fs::remove_file(s).unwrap();
    }
    for s in shard_files(&disks[1]) {
        corrupt_middle(&s);
    }
    let disk3 = shard_files(&disks[2]);
    assert!(!disk3.is_empty(), "disk3 lost its shard");
    for s in &disk3 {
        corrupt_middle(s);
    }
    match try_get(&c, "degraded", "obj").await {
        Err(e) => eprintln!("unreadable object failed as expected: {e}"),
        Ok(body) => {
            let same = body == data;
            panic!(
                "GET with 3 of 4 shards bad returned a complete {}-byte body without error ({})",
                body.len(),
                if same { "identical to the original" } else { "WRONG BYTES" }
            );
        }
    }
    // The node survives and still serves other objects.
    put_bytes(&c, "degraded", "fresh", random_bytes(2, 100_000)).await;
    assert_eq!(get_bytes(&c, "degraded", "fresh").await, random_bytes(2, 100_000));
}
