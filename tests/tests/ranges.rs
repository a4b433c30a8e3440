//! Range GETs on a multi-stripe object and on an inline one.

use cairn_tests::*;

/// Expected (start, end inclusive) for a single range spec on an object of `len` bytes.
fn resolve(spec: &str, len: u64) -> (u64, u64) {
    let r = spec.strip_prefix("bytes=").unwrap();
    let (a, b) = r.split_once('-').unwrap();
    if a.is_empty() {
        let n: u64 = b.parse().unwrap();
        (len.saturating_sub(n), len - 1)
    } else {
        let a: u64 = a.parse().unwrap();
        let b = if b.is_empty() { len - 1 } else { b.parse::<u64>().unwrap().min(len - 1) };
        (a, b)
    }
}

async fn check_ranges(node: &TestNode, key: &str, data: &[u8], specs: &[String]) {
    let (c, rec) = node.recording_client();
    let len = data.len() as u64;
    for spec in specs {
        let out = c
            .get_object()
            .bucket("ranges")
            .key(key)
            .range(spec)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key} {spec}: {:?}", ErrInfo::from_sdk(&e)));
        assert_eq!(rec.last(), Some(206), "{key} {spec}: status");
        let (a, b) = resolve(spec, len);
        assert_eq!(out.content_range(), Some(format!("bytes {a}-{b}/{len}").as_str()), "{key} {spec}: Content-Range");
        assert_eq!(out.content_length(), Some((b - a + 1) as i64), "{key} {spec}: Content-Length");
        assert_eq!(out.e_tag(), Some(etag_of(data).as_str()), "{key} {spec}: ETag is the whole object's");
        let body = read_body(out.body).await;
        assert!(
            body == data[a as usize..=b as usize],
            "{key} {spec}: body differs (got {} bytes, want {})",
            body.len(),
            b - a + 1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_get_on_multi_stripe_object() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "ranges").await;
    let len: u64 = 3 * 1024 * 1024 + 333;
    let data = random_bytes(42, len as usize);
    put_bytes(&c, "ranges", "big", data.clone()).await;

    const BLOCK: u64 = 512 * 1024; // per-shard block; a 2+2 stripe holds 1 MiB of object data
    let specs: Vec<String> = vec![
        "bytes=0-0".into(),
        "bytes=0-99".into(),
        format!("bytes={}-{}", BLOCK - 10, BLOCK + 10), // across the data-shard boundary
        format!("bytes={}-{}", 2 * BLOCK - 3, 2 * BLOCK + 2), // across a stripe boundary
        format!("bytes={}-{}", BLOCK + 17, 5 * BLOCK + 1234), // many stripes, unaligned
        format!("bytes={}-{}", 2 * BLOCK, 4 * BLOCK - 1), // exactly stripe-aligned
        format!("bytes={}-", len - 500),                // open-ended
        format!("bytes={}-", 1_000_000),                // open-ended, long
        "bytes=-1".into(),                              // suffix
        "bytes=-700000".into(),                         // suffix across stripes
        format!("bytes=-{}", len + 1000),               // suffix longer than object: whole object
        format!("bytes={}-{}", len - 10, len + 5000),   // end past EOF is clamped
        format!("bytes=0-{}", len - 1),                 // everything
    ];
    check_ranges(&node, "big", &data, &specs).await;

    let (c, _) = node.recording_client();
    for spec in [format!("bytes={len}-"), format!("bytes={}-{}", len + 10, len + 20)] {
        let r = c.get_object().bucket("ranges").key("big").range(&spec).send().await;
        assert_s3_err(&format!("big {spec}"), r, 416, "InvalidRange");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_get_on_inline_object() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "ranges").await;
    let data = random_bytes(7, 1000);
    put_bytes(&c, "ranges", "small", data.clone()).await;
    let specs: Vec<String> = [
        "bytes=0-0",
        "bytes=10-19",
        "bytes=999-999",
        "bytes=500-",
        "bytes=-1",
        "bytes=-10",
        "bytes=-5000",
        "bytes=990-5000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    check_ranges(&node, "small", &data, &specs).await;
    for spec in ["bytes=1000-", "bytes=2000-3000"] {
        let r = c.get_object().bucket("ranges").key("small").range(spec).send().await;
        assert_s3_err(&format!("small {spec}"), r, 416, "InvalidRange");
    }

    // An empty object cannot satisfy any byte range.
    put_bytes(&c, "ranges", "empty", Vec::new()).await;
    let r = c.get_object().bucket("ranges").key("empty").range("bytes=0-0").send().await;
    assert_s3_err("empty bytes=0-0", r, 416, "InvalidRange");

    // HEAD with a range reports the partial length too.
    let (rc, rec) = node.recording_client();
    let h = rc.head_object().bucket("ranges").key("small").range("bytes=10-19").send().await.expect("head range");
    let got = (rec.last(), h.content_length(), h.content_range().map(str::to_string));
    assert_eq!(
        got,
        (Some(206), Some(10), Some("bytes 10-19/1000".to_string())),
        "HEAD with Range: (status, Content-Length, Content-Range)"
    );
}
