//! GETs of objects that cannot be read right now: too many shards gone from the
//! disks of a node, or a peer down on top of that. The first stripe is read before the
//! answer, so such a GET is a retryable 503 ServiceUnavailable (with Retry-After), never
//! 200 and a body cut off after the headers; a stripe further on that fails still cuts
//! the body short of its Content-Length, which clients see. Once the shards are back,
//! the same GET is 200 with the right bytes.

use cairn_tests::cluster::TestCluster;
use cairn_tests::*;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

const BUCKET: &str = "degraded-bkt";
const HEADER: u64 = 48;
/// 2+2 with 256 KiB blocks: a stripe holds 512 KiB of object data.
const BLOCK: u64 = 256 * 1024;

/// A raw GET signed with the root key: status, headers and the body as it arrived
/// (Err when the connection ended before the body did).
async fn raw_get(
    endpoint: &str,
    key: &str,
    range: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Result<Vec<u8>, String>) {
    let url = format!("{endpoint}/{BUCKET}/{key}");
    let headers: Vec<(&str, &str)> = range.map(|r| vec![("range", r)]).unwrap_or_default();
    let mut req = raw_http().get(&url);
    for (k, v) in &headers {
        req = req.header(*k, *v);
    }
    for (k, v) in sigv4_headers("GET", &url, &headers, Payload::Bytes(b""), SystemTime::now(), None) {
        req = req.header(k, v);
    }
    let r = req.send().await.expect("send GET");
    let status = r.status().as_u16();
    let h = r.headers().clone();
    let body = r.bytes().await.map(|b| b.to_vec()).map_err(|e| format!("{e:?}"));
    (status, h, body)
}

/// Asserts the GET is a 503 ServiceUnavailable S3 error that asks for a retry.
async fn assert_unavailable(endpoint: &str, key: &str, range: Option<&str>) {
    let started = Instant::now();
    let (status, h, body) = raw_get(endpoint, key, range).await;
    let body = String::from_utf8_lossy(&body.expect("a 503 body arrives whole")).to_string();
    assert_eq!(status, 503, "GET {key} {range:?} with too few shards: {body}");
    assert_eq!(xml_error_code(&body).as_deref(), Some("ServiceUnavailable"), "{body}");
    let retry_after = h.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|s| (1..=60).contains(&s)), "Retry-After: {:?}", h.get("retry-after"));
    assert!(h.get("content-range").is_none() && h.get("etag").is_none(), "no object headers on the 503: {h:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "the 503 took {:?}", started.elapsed());
}

/// The shards of the blob `stem` on `disks`.
fn shards_of(disks: &[PathBuf], stem: &str) -> Vec<StoredShard> {
    stored_shards_all(disks).into_iter().filter(|s| s.id() == stem).collect()
}

/// Takes `shards` away (a file removed, a record's header zeroed); answers what each held,
/// to put them back.
fn take_away(shards: &[StoredShard]) -> Vec<(StoredShard, Vec<u8>)> {
    shards
        .iter()
        .map(|s| {
            let image = s.read();
            s.destroy();
            (s.clone(), image)
        })
        .collect()
}

fn restore(taken: &[(StoredShard, Vec<u8>)]) {
    for (s, image) in taken {
        s.write_back(image);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_first_stripe_is_a_503_and_a_bad_later_stripe_cuts_the_body() {
    let node = TestNode::start();
    let ep = node.endpoint().to_string();
    let disks = node.disk_dirs();
    let c = node.client();
    create_bucket(&c, BUCKET).await;
    // Three stripes: 512 + 512 + 176 KiB.
    let data = random_bytes(11, 1200 * 1024);
    put_bytes(&c, BUCKET, "obj", data.clone()).await;
    let stem = shard_groups(&disks).into_iter().next().expect("the object's shards");
    let mut files = shards_of(&disks, &stem);
    assert_eq!(files.len(), 4, "2 + 2 shards: {files:?}");
    // By shard index: data shards 0 and 1, then parity.
    files.sort_by_key(|f| f.index());

    // Three of the four shards away, all but shard 0: no stripe can be read.
    let moved = take_away(&files[1..]);
    assert_unavailable(&ep, "obj", None).await;
    // A range in the second stripe needs that stripe's data block 1 (shard 1's file
    // is gone), unless it lies wholly in block 0: then only shard 0 is read.
    assert_unavailable(&ep, "obj", Some("bytes=800000-900000")).await;
    let (status, _, body) = raw_get(&ep, "obj", Some("bytes=600000-700000")).await;
    assert_eq!(status, 206, "a range within shard 0's block");
    assert!(body.unwrap() == data[600000..=700000]);
    // The SDK sees a retryable error, retries, and reports the same.
    assert_s3_err(
        "SDK GET with 1 of 4 shards",
        c.get_object().bucket(BUCKET).key("obj").send().await,
        503,
        "ServiceUnavailable",
    );
    // HEAD needs no shards.
    c.head_object().bucket(BUCKET).key("obj").send().await.expect("HEAD with 1 of 4 shards");

    restore(&moved);
    let (status, _, body) = raw_get(&ep, "obj", None).await;
    assert_eq!(status, 200);
    assert!(body.unwrap() == data, "the whole object once its shards are back");
    let (status, _, body) = raw_get(&ep, "obj", Some("bytes=800000-900000")).await;
    assert_eq!(status, 206);
    assert!(body.unwrap() == data[800000..=900000], "the range once its shards are back");
    assert!(get_bytes(&c, BUCKET, "obj").await == data);

    // The second stripe bad in three shards: the first is read and answered with 200,
    // then the body stops short of its Content-Length.
    let stripe1 = HEADER + BLOCK + 4 + 1000;
    let saved: Vec<Vec<u8>> = files.iter().map(|f| f.read()).collect();
    for f in &files[..3] {
        f.flip(stripe1);
    }
    let (status, h, body) = raw_get(&ep, "obj", None).await;
    assert_eq!(status, 200, "the first stripe is readable");
    assert_eq!(h.get("content-length").and_then(|v| v.to_str().ok()), Some(data.len().to_string().as_str()));
    match body {
        Err(_) => {}
        Ok(b) => panic!("a body with a lost stripe arrived as if whole ({} of {} bytes)", b.len(), data.len()),
    }
    let out = c.get_object().bucket(BUCKET).key("obj").send().await.expect("headers of the cut GET");
    assert!(out.body.collect().await.is_err(), "the SDK sees the cut body");
    // A range within the first stripe never touches the bad one.
    let (status, _, body) = raw_get(&ep, "obj", Some("bytes=0-1023")).await;
    assert_eq!(status, 206);
    assert!(body.unwrap() == data[..1024]);

    for (f, b) in files.iter().zip(&saved) {
        f.write_back(b);
    }
    assert!(get_bytes(&c, BUCKET, "obj").await == data, "whole again once the shards are");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_down_with_a_shard_gone_is_a_503_until_both_are_back() {
    let mut cluster = TestCluster::start(3);
    let ep = cluster.nodes[0].endpoint().to_string();
    let c = cluster.nodes[0].client();
    create_bucket(&c, BUCKET).await;
    let data = random_bytes(12, 1100 * 1024);
    put_bytes(&c, BUCKET, "obj", data.clone()).await;
    let per_node: Vec<Vec<StoredShard>> = cluster
        .nodes
        .iter()
        .map(|n| {
            let disks = n.disk_dirs();
            shard_groups(&disks).into_iter().flat_map(|stem| shards_of(&disks, &stem)).collect()
        })
        .collect();
    assert_eq!(per_node.iter().map(Vec::len).sum::<usize>(), 4, "{per_node:?}");
    // Stop node 2 or 3 (node 1 is asked), the one with more shards, and take all
    // but one of the shards left on the live nodes away.
    let down = (1..3).max_by_key(|&i| per_node[i].len()).unwrap();
    let other = (0..3).find(|&i| i != down && !per_node[i].is_empty()).expect("a live node with a shard");
    cluster.nodes[down].kill9();
    let left = 4 - per_node[down].len();
    let moved = take_away(&per_node[other][..left - 1]);
    assert_unavailable(&ep, "obj", None).await;

    // The peer back but the file still gone: readable again only if two shards are.
    cluster.nodes[down].restart(true);
    cluster.wait_formed(Duration::from_secs(30));
    restore(&moved);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, body) = raw_get(&ep, "obj", None).await;
        if status == 200 {
            assert!(body.unwrap() == data, "the right bytes once the shards are back");
            break;
        }
        assert_eq!(status, 503, "only 503 while the peer is coming back");
        assert!(Instant::now() < deadline, "GET still {status} 30 s after the peer came back");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(get_bytes(&c, BUCKET, "obj").await == data);
}
