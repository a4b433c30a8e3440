//! Object CRUD, DeleteObjects, CopyObject, metadata round trip.

use std::time::Duration;

use cairn_tests::aws_sdk_s3::primitives::{ByteStream, DateTime};
use cairn_tests::aws_sdk_s3::types::{Delete, MetadataDirective, ObjectIdentifier};
use cairn_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_head_delete_inline_and_sharded() {
    let node = TestNode::start();
    let (c, rec) = node.recording_client();
    create_bucket(&c, "crud").await;

    // Inline (<= 4096), exactly at the threshold, just over it, multi-stripe, and empty.
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("small", random_bytes(1, 100)),
        ("at-threshold", random_bytes(2, 4096)),
        ("over-threshold", random_bytes(3, 4097)),
        ("multi-stripe", random_bytes(4, 2 * 1024 * 1024 + 12345)),
    ];
    for (key, data) in &cases {
        let etag = put_bytes(&c, "crud", key, data.clone()).await;
        assert_eq!(etag, etag_of(data), "PutObject ETag of {key}");
        assert_eq!(rec.last(), Some(200));

        let head = c.head_object().bucket("crud").key(*key).send().await.expect("head");
        assert_eq!(head.content_length(), Some(data.len() as i64), "HEAD Content-Length of {key}");
        assert_eq!(head.e_tag(), Some(etag.as_str()), "HEAD ETag of {key}");
        assert!(head.last_modified().is_some(), "HEAD Last-Modified of {key}");

        let get = c.get_object().bucket("crud").key(*key).send().await.expect("get");
        assert_eq!(get.e_tag(), Some(etag.as_str()), "GET ETag of {key}");
        assert_eq!(get.content_length(), Some(data.len() as i64));
        assert!(get.last_modified().is_some(), "GET Last-Modified of {key}");
        let body = read_body(get.body).await;
        assert!(body == *data, "GET body of {key} differs ({} vs {} bytes)", body.len(), data.len());
    }

    // Overwrite replaces content (sharded -> inline and inline -> sharded).
    let new_small = random_bytes(10, 50);
    put_bytes(&c, "crud", "multi-stripe", new_small.clone()).await;
    assert_eq!(get_bytes(&c, "crud", "multi-stripe").await, new_small);
    let new_big = random_bytes(11, 300_000);
    put_bytes(&c, "crud", "small", new_big.clone()).await;
    assert_eq!(get_bytes(&c, "crud", "small").await, new_big);

    // Delete: 204, then 404 NoSuchKey, and deleting again is still 204.
    c.delete_object().bucket("crud").key("small").send().await.expect("delete");
    assert_eq!(rec.last(), Some(204));
    assert_s3_err("get deleted", c.get_object().bucket("crud").key("small").send().await, 404, "NoSuchKey");
    assert_status_err("head deleted", c.head_object().bucket("crud").key("small").send().await, 404);
    c.delete_object().bucket("crud").key("small").send().await.expect("delete missing key");
    assert_eq!(rec.last(), Some(204));
    assert_eq!(list_all_keys(&c, "crud").await, vec!["at-threshold", "empty", "multi-stripe", "over-threshold"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bucket_and_key_errors() {
    let node = TestNode::start();
    let c = node.client();
    assert_s3_err(
        "put into missing bucket",
        c.put_object().bucket("nobucket").key("k").body(ByteStream::from_static(b"x")).send().await,
        404,
        "NoSuchBucket",
    );
    assert_s3_err(
        "get from missing bucket",
        c.get_object().bucket("nobucket").key("k").send().await,
        404,
        "NoSuchBucket",
    );
    assert_s3_err("list missing bucket", c.list_objects_v2().bucket("nobucket").send().await, 404, "NoSuchBucket");
    create_bucket(&c, "exists").await;
    assert_s3_err("get missing key", c.get_object().bucket("exists").key("nokey").send().await, 404, "NoSuchKey");
    assert_status_err("head missing key", c.head_object().bucket("exists").key("nokey").send().await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_objects_batch_quiet_and_missing_keys() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "batch").await;
    for i in 0..6 {
        put_bytes(&c, "batch", &format!("k{i}"), random_bytes(i, if i % 2 == 0 { 64 } else { 20_000 })).await;
    }
    let ids = |keys: &[&str]| {
        Delete::builder()
            .set_objects(Some(keys.iter().map(|k| ObjectIdentifier::builder().key(*k).build().unwrap()).collect()))
    };

    // Verbose: every requested key is reported deleted, including one that never existed.
    let out = c
        .delete_objects()
        .bucket("batch")
        .delete(ids(&["k0", "k1", "never-existed"]).build().unwrap())
        .send()
        .await
        .expect("delete_objects");
    let mut deleted: Vec<String> = out.deleted().iter().map(|d| d.key().unwrap().to_string()).collect();
    deleted.sort();
    assert_eq!(deleted, vec!["k0", "k1", "never-existed"]);
    assert!(out.errors().is_empty(), "errors: {:?}", out.errors());
    assert_eq!(list_all_keys(&c, "batch").await, vec!["k2", "k3", "k4", "k5"]);

    // Quiet: no Deleted entries, objects still removed.
    let out = c
        .delete_objects()
        .bucket("batch")
        .delete(ids(&["k2", "k3", "also-missing"]).quiet(true).build().unwrap())
        .send()
        .await
        .expect("delete_objects quiet");
    assert!(out.deleted().is_empty(), "quiet mode returned Deleted entries: {:?}", out.deleted());
    assert!(out.errors().is_empty(), "errors: {:?}", out.errors());
    assert_eq!(list_all_keys(&c, "batch").await, vec!["k4", "k5"]);
    assert_s3_err("get k3", c.get_object().bucket("batch").key("k3").send().await, 404, "NoSuchKey");
    assert_eq!(get_bytes(&c, "batch", "k5").await, random_bytes(5, 20_000));
}

async fn head_meta(
    c: &cairn_tests::aws_sdk_s3::Client,
    b: &str,
    k: &str,
) -> (Option<String>, std::collections::HashMap<String, String>) {
    let h = c.head_object().bucket(b).key(k).send().await.unwrap_or_else(|e| panic!("head {b}/{k}: {e:?}"));
    (h.content_type().map(str::to_string), h.metadata().cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_object_same_and_cross_bucket_with_metadata_directives() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "src").await;
    create_bucket(&c, "dst").await;
    let small = random_bytes(1, 1000);
    let big = random_bytes(2, 1_500_000);
    for (key, data) in [("small", &small), ("big", &big)] {
        c.put_object()
            .bucket("src")
            .key(key)
            .content_type("text/x-original")
            .metadata("color", "blue")
            .metadata("shape", "round")
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .expect("put source");
    }

    // Same bucket, default (COPY) directive: body, ETag, content-type and metadata carried over.
    let out = c
        .copy_object()
        .bucket("src")
        .key("small-copy")
        .copy_source("src/small")
        .send()
        .await
        .expect("copy same bucket");
    let etag = out.copy_object_result().and_then(|r| r.e_tag()).map(str::to_string);
    assert_eq!(etag, Some(etag_of(&small)), "CopyObjectResult ETag");
    assert_eq!(get_bytes(&c, "src", "small-copy").await, small);
    let (ct, meta) = head_meta(&c, "src", "small-copy").await;
    assert_eq!(ct.as_deref(), Some("text/x-original"));
    assert_eq!(meta.get("color").map(String::as_str), Some("blue"));
    assert_eq!(meta.get("shape").map(String::as_str), Some("round"));

    // Cross bucket, sharded object, explicit COPY: metadata in the request is ignored.
    c.copy_object()
        .bucket("dst")
        .key("big-copy")
        .copy_source("src/big")
        .metadata_directive(MetadataDirective::Copy)
        .metadata("color", "red")
        .content_type("text/ignored")
        .send()
        .await
        .expect("copy cross bucket");
    let got = get_bytes(&c, "dst", "big-copy").await;
    assert!(got == big, "cross-bucket copy of sharded object differs");
    let (ct, meta) = head_meta(&c, "dst", "big-copy").await;
    assert_eq!(ct.as_deref(), Some("text/x-original"), "COPY directive must keep the source content-type");
    assert_eq!(meta.get("color").map(String::as_str), Some("blue"), "COPY directive must keep source metadata");

    // REPLACE: new content-type and metadata, old metadata gone.
    c.copy_object()
        .bucket("dst")
        .key("replaced")
        .copy_source("src/big")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("flavor", "mint")
        .content_type("application/x-new")
        .send()
        .await
        .expect("copy with REPLACE");
    let (ct, meta) = head_meta(&c, "dst", "replaced").await;
    assert_eq!(ct.as_deref(), Some("application/x-new"));
    assert_eq!(meta.get("flavor").map(String::as_str), Some("mint"));
    assert!(!meta.contains_key("color"), "REPLACE kept old metadata: {meta:?}");
    assert!(get_bytes(&c, "dst", "replaced").await == big);

    // The source is untouched.
    assert!(get_bytes(&c, "src", "big").await == big);

    // Copy onto itself without REPLACE is an InvalidRequest.
    assert_s3_err(
        "self copy without REPLACE",
        c.copy_object().bucket("src").key("small").copy_source("src/small").send().await,
        400,
        "InvalidRequest",
    );
    // With REPLACE it is the way to change metadata in place.
    c.copy_object()
        .bucket("src")
        .key("small")
        .copy_source("src/small")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("color", "green")
        .send()
        .await
        .expect("self copy with REPLACE");
    let (_, meta) = head_meta(&c, "src", "small").await;
    assert_eq!(meta.get("color").map(String::as_str), Some("green"));
    assert!(!meta.contains_key("shape"));
    assert_eq!(get_bytes(&c, "src", "small").await, small);

    // Missing source.
    assert_s3_err(
        "copy missing source key",
        c.copy_object().bucket("dst").key("x").copy_source("src/nope").send().await,
        404,
        "NoSuchKey",
    );
    // Source keys are URL-encoded in x-amz-copy-source.
    put_bytes(&c, "src", "dir/with space+ü", b"odd".to_vec()).await;
    c.copy_object()
        .bucket("dst")
        .key("odd")
        .copy_source("src/dir/with%20space%2B%C3%BC")
        .send()
        .await
        .expect("copy encoded source");
    assert_eq!(get_bytes(&c, "dst", "odd").await, b"odd");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_object_source_preconditions() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "cpsrc").await;
    let data = random_bytes(7, 5000);
    let etag = put_bytes(&c, "cpsrc", "src", data.clone()).await;
    let lm = c.head_object().bucket("cpsrc").key("src").send().await.unwrap().last_modified().cloned().unwrap();
    let hour_before = DateTime::from_secs(lm.secs() - 3600);
    let hour_after = DateTime::from_secs(lm.secs() + 3600);

    let fails: Vec<(&str, Result<_, _>)> = vec![
        (
            "if-match wrong",
            c.copy_object()
                .bucket("cpsrc")
                .key("d1")
                .copy_source("cpsrc/src")
                .copy_source_if_match("\"0123456789abcdef0123456789abcdef\"")
                .send()
                .await,
        ),
        (
            "if-none-match current",
            c.copy_object()
                .bucket("cpsrc")
                .key("d2")
                .copy_source("cpsrc/src")
                .copy_source_if_none_match(&etag)
                .send()
                .await,
        ),
        (
            "if-modified-since later",
            c.copy_object()
                .bucket("cpsrc")
                .key("d3")
                .copy_source("cpsrc/src")
                .copy_source_if_modified_since(hour_after)
                .send()
                .await,
        ),
        (
            "if-unmodified-since earlier",
            c.copy_object()
                .bucket("cpsrc")
                .key("d4")
                .copy_source("cpsrc/src")
                .copy_source_if_unmodified_since(hour_before)
                .send()
                .await,
        ),
    ];
    for (what, r) in fails {
        assert_s3_err(what, r, 412, "PreconditionFailed");
    }
    assert_eq!(list_all_keys(&c, "cpsrc").await, vec!["src"], "failed copies created objects");

    // The same conditions, true this time.
    c.copy_object()
        .bucket("cpsrc")
        .key("ok1")
        .copy_source("cpsrc/src")
        .copy_source_if_match(&etag)
        .send()
        .await
        .expect("if-match right");
    c.copy_object()
        .bucket("cpsrc")
        .key("ok2")
        .copy_source("cpsrc/src")
        .copy_source_if_none_match("\"0123456789abcdef0123456789abcdef\"")
        .send()
        .await
        .expect("if-none-match other");
    c.copy_object()
        .bucket("cpsrc")
        .key("ok3")
        .copy_source("cpsrc/src")
        .copy_source_if_modified_since(hour_before)
        .send()
        .await
        .expect("if-modified-since earlier");
    c.copy_object()
        .bucket("cpsrc")
        .key("ok4")
        .copy_source("cpsrc/src")
        .copy_source_if_unmodified_since(hour_after)
        .send()
        .await
        .expect("if-unmodified-since later");
    for k in ["ok1", "ok2", "ok3", "ok4"] {
        assert_eq!(get_bytes(&c, "cpsrc", k).await, data, "copy {k}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_round_trip() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "meta").await;
    let expires = DateTime::from_secs(4_102_444_800); // 2100-01-01T00:00:00Z
    for (key, len) in [("inline", 10usize), ("sharded", 70_000)] {
        let before = std::time::SystemTime::now() - Duration::from_secs(2);
        c.put_object()
            .bucket("meta")
            .key(key)
            .content_type("image/x-test")
            .content_encoding("identity")
            .content_disposition("attachment; filename=\"a b.txt\"")
            .content_language("de-CH")
            .cache_control("max-age=60, private")
            .expires(expires)
            .metadata("alpha", "one")
            .metadata("beta-two", "Zwei Wörter")
            .body(ByteStream::from(random_bytes(3, len)))
            .send()
            .await
            .expect("put with metadata");

        let h = c.head_object().bucket("meta").key(key).send().await.expect("head");
        let g = c.get_object().bucket("meta").key(key).send().await.expect("get");
        for (what, ct, ce, cd, cl, cc, ex, meta, lm) in [
            (
                "HEAD",
                h.content_type(),
                h.content_encoding(),
                h.content_disposition(),
                h.content_language(),
                h.cache_control(),
                h.expires_string(),
                h.metadata(),
                h.last_modified(),
            ),
            (
                "GET",
                g.content_type(),
                g.content_encoding(),
                g.content_disposition(),
                g.content_language(),
                g.cache_control(),
                g.expires_string(),
                g.metadata(),
                g.last_modified(),
            ),
        ] {
            assert_eq!(ct, Some("image/x-test"), "{what} {key} Content-Type");
            assert_eq!(ce, Some("identity"), "{what} {key} Content-Encoding");
            assert_eq!(cd, Some("attachment; filename=\"a b.txt\""), "{what} {key} Content-Disposition");
            assert_eq!(cl, Some("de-CH"), "{what} {key} Content-Language");
            assert_eq!(cc, Some("max-age=60, private"), "{what} {key} Cache-Control");
            let ex = ex.unwrap_or_else(|| panic!("{what} {key}: no Expires"));
            let parsed = httpdate::parse_http_date(ex).unwrap_or_else(|e| panic!("{what} {key} Expires {ex:?}: {e}"));
            assert_eq!(
                parsed.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
                4_102_444_800,
                "{what} {key} Expires"
            );
            let meta: std::collections::HashMap<String, String> =
                meta.cloned().unwrap_or_default().into_iter().map(|(k, v)| (k, decode_rfc2047(&v))).collect();
            assert_eq!(meta.get("alpha").map(String::as_str), Some("one"), "{what} {key} x-amz-meta-alpha: {meta:?}");
            assert_eq!(
                meta.get("beta-two").map(String::as_str),
                Some("Zwei Wörter"),
                "{what} {key} x-amz-meta-beta-two: {meta:?}"
            );
            assert_eq!(meta.len(), 2, "{what} {key} unexpected metadata: {meta:?}");
            let lm = lm.unwrap_or_else(|| panic!("{what} {key}: no Last-Modified"));
            let lm = std::time::UNIX_EPOCH + Duration::from_secs(lm.secs() as u64);
            assert!(lm >= before - Duration::from_secs(1), "{what} {key} Last-Modified {lm:?} is before the PUT");
            assert!(
                lm <= std::time::SystemTime::now() + Duration::from_secs(2),
                "{what} {key} Last-Modified in the future"
            );
        }
        let body = read_body(g.body).await;
        assert_eq!(body.len(), len);
    }

    // Without a content type, S3 defaults to binary/octet-stream (AWS) or application/octet-stream.
    c.put_object().bucket("meta").key("plain").body(ByteStream::from_static(b"x")).send().await.unwrap();
    let h = c.head_object().bucket("meta").key("plain").send().await.unwrap();
    assert!(
        matches!(h.content_type(), Some("binary/octet-stream") | Some("application/octet-stream")),
        "default Content-Type: {:?}",
        h.content_type()
    );
    assert!(h.metadata().is_none_or(|m| m.is_empty()), "unexpected metadata {:?}", h.metadata());
}

/// S3 returns non-ASCII user metadata RFC 2047-encoded (`=?UTF-8?B?...?=`), as AWS documents.
fn decode_rfc2047(v: &str) -> String {
    use base64::Engine;
    let lower = v.to_ascii_lowercase();
    if lower.starts_with("=?utf-8?b?") && v.ends_with("?=") {
        let bytes = base64::engine::general_purpose::STANDARD.decode(&v[10..v.len() - 2]).expect("bad RFC 2047 base64");
        return String::from_utf8(bytes).expect("RFC 2047 payload not UTF-8");
    }
    if lower.starts_with("=?utf-8?q?") && v.ends_with("?=") {
        let q = v[10..v.len() - 2].replace('_', " ");
        let q = q.replace('=', "%");
        return percent_encoding::percent_decode_str(&q).decode_utf8().expect("RFC 2047 Q payload").into_owned();
    }
    v.to_string()
}
