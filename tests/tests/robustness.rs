//! Writes that must not commit (bad payload hash, interrupted upload), concurrent
//! overwrites racing with reads, custom disk dirs, clock skew, the reserved bucket name.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use cairn_tests::aws_sdk_s3::presigning::PresigningConfig;
use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_signer_positive_control() {
    // The hand-signed requests below are only meaningful if a correctly signed one works.
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "rawsig").await;
    let body = random_bytes(1, 3000);
    let url = format!("{}/rawsig/obj", node.endpoint());
    let (status, text) = send_signed("PUT", &url, &[], Payload::Bytes(&body), body.clone(), SystemTime::now()).await;
    assert_eq!(status, 200, "hand-signed PUT: {text}");
    assert_eq!(get_bytes(&c, "rawsig", "obj").await, body);
    let signed = sigv4_headers("GET", &url, &[], Payload::Bytes(b""), SystemTime::now(), None);
    let mut req = raw_http().get(&url);
    for (k, v) in signed {
        req = req.header(k, v);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200, "hand-signed GET");
    assert!(r.bytes().await.unwrap().as_ref() == body.as_slice(), "hand-signed GET body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_payload_hash_mismatch_is_rejected_and_not_stored() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "sha").await;
    let mut wrong_codes = Vec::new();
    for (key, len) in [("inline", 2000usize), ("sharded", 1_200_000)] {
        let claimed = random_bytes(1, len);
        let mut sent = claimed.clone();
        let mid = len / 2;
        sent[mid] ^= 0x01; // one bit differs, same length
        let url = format!("{}/sha/{key}", node.endpoint());

        // New key: rejected, nothing stored.
        let (status, text) =
            send_signed("PUT", &url, &[], Payload::Bytes(&claimed), sent.clone(), SystemTime::now()).await;
        assert_eq!(status, 400, "{key}: PUT with wrong x-amz-content-sha256: {text}");
        if xml_error_code(&text).as_deref() != Some("XAmzContentSHA256Mismatch") {
            wrong_codes.push(format!("{key} (new): {text}"));
        }
        assert_status_err(
            &format!("{key} after sha mismatch"),
            c.head_object().bucket("sha").key(key).send().await,
            404,
        );

        // Existing key: rejected, old content intact.
        let original = random_bytes(2, len);
        put_bytes(&c, "sha", key, original.clone()).await;
        let (status, text) =
            send_signed("PUT", &url, &[], Payload::Bytes(&claimed), sent.clone(), SystemTime::now()).await;
        assert_eq!(status, 400, "{key}: overwrite with wrong x-amz-content-sha256: {text}");
        if xml_error_code(&text).as_deref() != Some("XAmzContentSHA256Mismatch") {
            wrong_codes.push(format!("{key} (overwrite): {text}"));
        }
        assert!(get_bytes(&c, "sha", key).await == original, "{key}: rejected overwrite changed the object");
    }
    assert_eq!(list_all_keys(&c, "sha").await, vec!["inline", "sharded"]);
    assert!(wrong_codes.is_empty(), "want 400 XAmzContentSHA256Mismatch, got:\n{}", wrong_codes.join("\n"));
}

/// Send a presigned PUT by hand: headers, then `sent` of `declared` bytes, then hang up.
async fn interrupted_put(node: &TestNode, url: &str, declared: usize, sent: &[u8]) {
    let uri: http::Uri = url.parse().unwrap();
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", node.port())).await.unwrap();
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {declared}\r\nContent-Type: application/octet-stream\r\n\r\n",
        uri.path_and_query().unwrap(),
        uri.authority().unwrap()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(sent).await.unwrap();
    s.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.shutdown().await.ok();
    drop(s);
    // Give the node time to notice the broken body and clean up.
    tokio::time::sleep(Duration::from_millis(500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_upload_commits_nothing() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "cut").await;
    let presign = |key: &'static str| {
        let c = c.clone();
        async move {
            c.put_object()
                .bucket("cut")
                .key(key)
                .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
                .await
                .unwrap()
                .uri()
                .to_string()
        }
    };
    // Sanity: the presigned URL works when the body is complete.
    let full = random_bytes(3, 10_000);
    let url = presign("complete").await;
    let r = raw_http().put(&url).body(full.clone()).send().await.unwrap();
    assert_eq!(r.status(), 200, "complete presigned PUT");

    for (key, declared, cut) in [("inline-cut", 3000usize, 1000usize), ("sharded-cut", 3 << 20, (3 << 20) / 2 + 12345)]
    {
        // New key: nothing appears.
        let data = random_bytes(4, declared);
        interrupted_put(&node, &presign(key).await, declared, &data[..cut]).await;
        assert_status_err(
            &format!("{key} after interrupted upload"),
            c.head_object().bucket("cut").key(key).send().await,
            404,
        );

        // Existing key: still the old object.
        let old = random_bytes(5, declared);
        put_bytes(&c, "cut", key, old.clone()).await;
        interrupted_put(&node, &presign(key).await, declared, &data[..cut]).await;
        let got = get_bytes(&c, "cut", key).await;
        assert!(got == old, "{key}: interrupted overwrite changed the object ({} bytes now)", got.len());
    }
    let mut keys = list_all_keys(&c, "cut").await;
    keys.sort();
    assert_eq!(keys, vec!["complete", "inline-cut", "sharded-cut"]);
    // The node is fine afterwards.
    assert_eq!(get_bytes(&c, "cut", "complete").await, full);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_overwrites_and_reads_never_mix() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "mix").await;
    const LEN: usize = 1_500_000; // two stripes: mixing stripes of different versions would show
    let versions: Vec<Vec<u8>> = (0..6).map(|i| random_bytes(100 + i, LEN)).collect();
    let known: HashMap<String, usize> = versions.iter().enumerate().map(|(i, v)| (sha256_hex(v), i)).collect();
    put_bytes(&c, "mix", "hot", versions[0].clone()).await;

    let writers: Vec<_> = (0..3)
        .map(|w| {
            let c = c.clone();
            let versions = versions.clone();
            tokio::spawn(async move {
                for round in 0..3 {
                    let v = &versions[1 + (w * 3 + round) % 5];
                    put_bytes(&c, "mix", "hot", v.clone()).await;
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let c = c.clone();
            let known = known.clone();
            tokio::spawn(async move {
                let mut reads = 0;
                for _ in 0..6 {
                    let g = c.get_object().bucket("mix").key("hot").send().await.expect("GET during overwrites");
                    let etag = g.e_tag().map(str::to_string);
                    let len = g.content_length();
                    let body = match g.body.collect().await {
                        Ok(b) => b.into_bytes().to_vec(),
                        // A read may fail if its version is replaced under it; it must never be wrong.
                        Err(_) => continue,
                    };
                    assert_eq!(len, Some(body.len() as i64), "Content-Length does not match the body");
                    let idx = known.get(&sha256_hex(&body));
                    assert!(
                        idx.is_some(),
                        "GET during overwrites returned a body that was never written ({} bytes)",
                        body.len()
                    );
                    assert_eq!(etag, Some(etag_of(&body)), "ETag does not belong to the returned body");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    let mut total = 0;
    for r in readers {
        total += r.await.expect("reader");
    }
    assert!(total >= 6, "only {total} of 12 reads completed during overwrites");
    let last = get_bytes(&c, "mix", "hot").await;
    assert!(known.contains_key(&sha256_hex(&last)), "final object is not one of the written versions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_begun_before_an_overwrite_finishes_with_the_old_bytes() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "held").await;
    // Far more than socket buffers hold, in parts: a part's shard files are opened
    // only when the read reaches it, after the overwrite.
    const PART: usize = 6 << 20;
    const LEN: usize = 4 * PART;
    let old = random_bytes(31, LEN);
    let new = random_bytes(32, 300_000);
    let up = c.create_multipart_upload().bucket("held").key("big").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let mut done = aws_sdk_s3::types::CompletedMultipartUpload::builder();
    for (i, chunk) in old.chunks(PART).enumerate() {
        let n = i as i32 + 1;
        let p =
            c.upload_part().bucket("held").key("big").upload_id(id).part_number(n).body(chunk.to_vec().into()).send();
        let etag = p.await.unwrap().e_tag().unwrap().to_string();
        done = done.parts(aws_sdk_s3::types::CompletedPart::builder().part_number(n).e_tag(etag).build());
    }
    let complete = c.complete_multipart_upload().bucket("held").key("big").upload_id(id);
    complete.multipart_upload(done.build()).send().await.unwrap();
    let shards_of = || node.disk_dirs().iter().map(|d| stored_shards(d).len()).sum::<usize>();
    let before = shards_of();

    let g = c.get_object().bucket("held").key("big").send().await.expect("GET");
    let mut body = g.body;
    let mut got = body.next().await.expect("a first chunk").expect("first chunk").to_vec();
    put_bytes(&c, "held", "big", new.clone()).await;
    assert_eq!(get_bytes(&c, "held", "big").await, new, "a new GET sees the overwrite");
    // The old shards stay while the first GET reads them.
    assert!(shards_of() >= before, "the shards of the version being read were removed under the read");
    while let Some(chunk) = body.next().await {
        got.extend_from_slice(&chunk.expect("the rest of a body whose version was replaced"));
    }
    assert!(got == old, "the GET begun before the overwrite returned other bytes ({} of {LEN})", got.len());
    drop(body);
    // Its last reader gone, the replaced version's shards are removed.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let after_new = 4; // 300 KB: one blob of 2+2 shards
    while shards_of() != after_new {
        assert!(std::time::Instant::now() < deadline, "replaced shards were not removed: {} files", shards_of());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_disk_dirs_hold_the_shards() {
    let disks_root = tempfile::Builder::new().prefix("cairn-e2e-disks-").tempdir().unwrap();
    let disks: Vec<String> =
        (1..=4).map(|i| disks_root.path().join(format!("d{i}")).to_string_lossy().into_owned()).collect();
    let mut args = Vec::new();
    for d in &disks {
        args.push("--disk");
        args.push(d.as_str());
    }
    args.extend(["--data-shards", "2", "--parity-shards", "2"]);
    let node = TestNode::start_with(&args);
    let c = node.client();
    create_bucket(&c, "disks").await;
    let data = random_bytes(8, 2_000_000);
    put_bytes(&c, "disks", "obj", data.clone()).await;
    for d in &disks {
        let n = stored_shards(std::path::Path::new(d)).len();
        assert_eq!(n, 1, "disk {d} holds {n} shards (want 1)");
    }
    let default_disks = node.data_dir().join("disks");
    let stray: Vec<_> = node.disk_dirs().iter().flat_map(|d| stored_shards(d)).collect();
    assert!(stray.is_empty(), "shards written under {} although --disk was given: {stray:?}", default_disks.display());
    assert!(get_bytes(&c, "disks", "obj").await == data);
    // Inline objects write no shard files.
    put_bytes(&c, "disks", "tiny", random_bytes(9, 4096)).await;
    for d in &disks {
        assert_eq!(stored_shards(std::path::Path::new(d)).len(), 1, "a 4096-byte object wrote a shard to {d}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skewed_clock_is_rejected() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "skew").await;
    let url = format!("{}/skew", node.endpoint());
    for (what, t) in [
        ("1 hour behind", SystemTime::now() - Duration::from_secs(3600)),
        ("1 hour ahead", SystemTime::now() + Duration::from_secs(3600)),
    ] {
        let (status, text) = send_signed("GET", &url, &[], Payload::Bytes(b""), Vec::new(), t).await;
        assert_eq!(status, 403, "request signed {what}: {text}");
        assert_eq!(xml_error_code(&text).as_deref(), Some("RequestTimeTooSkewed"), "request signed {what}: {text}");
    }
    // Within a few minutes is fine.
    let (status, text) =
        send_signed("GET", &url, &[], Payload::Bytes(b""), Vec::new(), SystemTime::now() - Duration::from_secs(120))
            .await;
    assert_eq!(status, 200, "request signed 2 minutes behind: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_bucket_name_cairn_cannot_be_created() {
    let node = TestNode::start();
    let c = node.client();
    let e = expect_err("create bucket 'cairn'", c.create_bucket().bucket("cairn").send().await);
    let status = e.status.unwrap_or(0);
    assert!((400..500).contains(&status), "create 'cairn': {}", e.debug);
    let listed = c.list_buckets().send().await.unwrap();
    assert!(listed.buckets().iter().all(|b| b.name() != Some("cairn")), "reserved bucket 'cairn' was created");
    // And the node still answers S3 normally afterwards.
    create_bucket(&c, "not-reserved").await;
    put_bytes(&c, "not-reserved", "k", ByteStream::from_static(b"v").collect().await.unwrap().into_bytes()).await;
    assert_eq!(get_bytes(&c, "not-reserved", "k").await, b"v");
}

#[allow(dead_code)]
async fn read_all(s: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = s.read_to_end(&mut v).await;
    v
}
