//! Integrity on the write path: ETag, Content-MD5, x-amz-checksum-*, the SDK's
//! default checksum. Hand-built aws-chunked bodies are in chunked.rs.

use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use cairn_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etag_is_quoted_hex_md5() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "etag").await;
    for (i, len) in [0usize, 1, 4096, 4097, 1 << 20, (1 << 20) + 7].into_iter().enumerate() {
        let data = random_bytes(i as u64, len);
        let etag = put_bytes(&c, "etag", &format!("o{i}"), data.clone()).await;
        assert_eq!(etag.len(), 34, "ETag {etag:?}");
        assert!(etag.starts_with('"') && etag.ends_with('"'), "ETag not quoted: {etag:?}");
        assert_eq!(etag, etag_of(&data), "ETag of {len}-byte object");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_md5_is_verified() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "md5").await;
    for (key, len) in [("inline", 300usize), ("sharded", 600_000)] {
        let data = random_bytes(len as u64, len);
        // Right digest: accepted.
        c.put_object()
            .bucket("md5")
            .key(key)
            .content_md5(md5_b64(&data))
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("right Content-MD5 rejected: {:?}", ErrInfo::from_sdk(&e)));
        assert_eq!(get_bytes(&c, "md5", key).await, data);

        // Wrong digest (of other data): BadDigest, nothing created.
        let new_key = format!("{key}-bad");
        let r = c
            .put_object()
            .bucket("md5")
            .key(&new_key)
            .content_md5(md5_b64(b"something else"))
            .body(ByteStream::from(data.clone()))
            .send()
            .await;
        assert_s3_err("wrong Content-MD5", r, 400, "BadDigest");
        assert_status_err("object after BadDigest", c.head_object().bucket("md5").key(&new_key).send().await, 404);

        // Wrong digest on an existing key: the old object stays.
        let other = random_bytes(99, len);
        let r = c
            .put_object()
            .bucket("md5")
            .key(key)
            .content_md5(md5_b64(&data))
            .body(ByteStream::from(other))
            .send()
            .await;
        assert_s3_err("wrong Content-MD5 overwrite", r, 400, "BadDigest");
        assert!(get_bytes(&c, "md5", key).await == data, "failed overwrite changed {key}");
    }

    // A Content-MD5 that is not a base64 MD5 at all: InvalidDigest.
    let r = c
        .put_object()
        .bucket("md5")
        .key("malformed")
        .content_md5("not-a-digest")
        .body(ByteStream::from_static(b"abc"))
        .send()
        .await;
    assert_s3_err("malformed Content-MD5", r, 400, "InvalidDigest");
    assert_status_err("object after InvalidDigest", c.head_object().bucket("md5").key("malformed").send().await, 404);
}

type Hasher = fn(&[u8]) -> String;
type PutCk = fn(
    cairn_tests::aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder,
    String,
) -> cairn_tests::aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_amz_checksum_headers_are_verified_and_returned() {
    let node = TestNode::start();
    // Client-computed values sent as plain headers; no SDK trailer.
    let c = node.client_builder().checksum_when_required().build();
    create_bucket(&c, "cksum").await;

    let algos: [(&str, Hasher, PutCk); 4] = [
        ("crc32", crc32_b64, |b, v| b.checksum_crc32(v)),
        ("crc32c", crc32c_b64, |b, v| b.checksum_crc32_c(v)),
        ("sha1", sha1_b64, |b, v| b.checksum_sha1(v)),
        ("sha256", sha256_b64, |b, v| b.checksum_sha256(v)),
    ];
    for (name, compute, set) in algos {
        for (size_name, len) in [("inline", 1000usize), ("sharded", 700_000)] {
            let key = format!("{name}-{size_name}");
            let data = random_bytes(len as u64 + name.len() as u64, len);
            let value = compute(&data);

            let r = set(c.put_object().bucket("cksum").key(&key).body(ByteStream::from(data.clone())), value.clone())
                .send()
                .await;
            r.unwrap_or_else(|e| panic!("{key}: correct x-amz-checksum-{name} rejected: {:?}", ErrInfo::from_sdk(&e)));

            let h =
                c.head_object().bucket("cksum").key(&key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
            let g = c.get_object().bucket("cksum").key(&key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
            let (hv, gv) = match name {
                "crc32" => (h.checksum_crc32(), g.checksum_crc32()),
                "crc32c" => (h.checksum_crc32_c(), g.checksum_crc32_c()),
                "sha1" => (h.checksum_sha1(), g.checksum_sha1()),
                _ => (h.checksum_sha256(), g.checksum_sha256()),
            };
            assert_eq!(hv, Some(value.as_str()), "{key}: HEAD x-amz-checksum-{name}");
            assert_eq!(gv.map(str::to_string), Some(value.clone()), "{key}: GET x-amz-checksum-{name}");
            // The SDK validates the body against the returned checksum while reading.
            let body =
                g.body.collect().await.unwrap_or_else(|e| panic!("{key}: body fails checksum validation: {e:?}"));
            assert!(body.into_bytes() == data, "{key}: body differs");

            // Wrong value: 400 BadDigest, nothing stored under a new key.
            let bad_key = format!("{key}-bad");
            let wrong = compute(b"definitely not the body");
            let r = set(c.put_object().bucket("cksum").key(&bad_key).body(ByteStream::from(data.clone())), wrong)
                .send()
                .await;
            assert_s3_err(&format!("{bad_key}: wrong x-amz-checksum-{name}"), r, 400, "BadDigest");
            assert_status_err(
                "object after bad checksum",
                c.head_object().bucket("cksum").key(&bad_key).send().await,
                404,
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_default_checksum_put_works() {
    let node = TestNode::start();
    // SDK defaults: over plain HTTP the payload is signed and the CRC32 the SDK
    // adds travels as a header (aws-chunked bodies are covered in chunked.rs).
    let (c, rec) = node.recording_client();
    create_bucket(&c, "trailer").await;
    for (key, len) in [("empty", 0usize), ("inline", 2000), ("sharded", 1_300_000)] {
        let data = random_bytes(len as u64, len);
        let etag = put_bytes(&c, "trailer", key, data.clone()).await;
        assert_eq!(rec.last(), Some(200));
        assert_eq!(etag, etag_of(&data), "{key}: ETag with the SDK default checksum");
        let g = c.get_object().bucket("trailer").key(key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        assert_eq!(g.content_length(), Some(len as i64), "{key}: stored length");
        assert_eq!(
            g.checksum_crc32().map(str::to_string),
            Some(crc32_b64(&data)),
            "{key}: trailer CRC32 stored and returned"
        );
        assert_eq!(
            g.content_encoding(),
            None,
            "{key}: the aws-chunked transfer coding is not the object's Content-Encoding"
        );
        let body = read_body(g.body).await;
        assert!(body == data, "{key}: body differs");
    }

    // A real content coding sent along with aws-chunked is kept, without it.
    let data = random_bytes(9, 3000);
    c.put_object()
        .bucket("trailer")
        .key("gz")
        .content_encoding("gzip")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    let h = c.head_object().bucket("trailer").key("gz").send().await.unwrap();
    assert_eq!(h.content_encoding(), Some("gzip"), "stored Content-Encoding");

    // Other algorithms through the trailer too.
    for (algo, key) in [
        (ChecksumAlgorithm::Crc32C, "t-crc32c"),
        (ChecksumAlgorithm::Sha1, "t-sha1"),
        (ChecksumAlgorithm::Sha256, "t-sha256"),
    ] {
        let data = random_bytes(key.len() as u64, 200_000);
        c.put_object()
            .bucket("trailer")
            .key(key)
            .checksum_algorithm(algo.clone())
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: {:?}", ErrInfo::from_sdk(&e)));
        let h = c.head_object().bucket("trailer").key(key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        let (got, want) = match algo {
            ChecksumAlgorithm::Crc32C => (h.checksum_crc32_c(), crc32c_b64(&data)),
            ChecksumAlgorithm::Sha1 => (h.checksum_sha1(), sha1_b64(&data)),
            _ => (h.checksum_sha256(), sha256_b64(&data)),
        };
        assert_eq!(got, Some(want.as_str()), "{key}: checksum from trailer");
        assert!(get_bytes(&c, "trailer", key).await == data);
    }
}
