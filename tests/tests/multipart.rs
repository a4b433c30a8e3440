//! Multipart upload end to end: every operation, its errors, part-level reads, composite
//! checksums, conditional completion, cleanup of unused shards, resuming an upload from a
//! new client, a kill -9 in the middle of an upload, expiry of stale uploads, and parallel
//! part uploads with bounded server memory.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

use cairn_tests::aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
};
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;
use md5::Digest as _;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
/// The minimum size of every part but the last.
const PART: usize = 5 * MIB;
/// Parts up to this size are stored inline, without shard files.
const INLINE_MAX: usize = 16 << 10;
/// How long background deletion of unused shards may take (spec: ~2 s; margin for a loaded box).
const GC_WAIT: Duration = Duration::from_secs(6);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Run a test body with an overall time limit, so a hung server fails the test instead of
/// hanging the suite.
async fn within<F: Future<Output = ()>>(secs: u64, f: F) {
    if tokio::time::timeout(Duration::from_secs(secs), f).await.is_err() {
        panic!("test did not finish within {secs} s");
    }
}

/// ETag of a multipart object: `"<hex md5 of the concatenated binary part md5s>-N"`.
fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut cat = Vec::new();
    for p in parts {
        cat.extend_from_slice(&md5::Md5::digest(p));
    }
    format!("\"{}-{}\"", md5_hex(&cat), parts.len())
}

async fn create(c: &Client, bucket: &str, key: &str) -> String {
    let out = c
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create_multipart_upload {bucket}/{key}: {:?}", ErrInfo::from_sdk(&e)));
    assert_eq!(out.bucket(), Some(bucket), "CreateMultipartUpload Bucket");
    assert_eq!(out.key(), Some(key), "CreateMultipartUpload Key");
    let id = out.upload_id().expect("CreateMultipartUpload returned no UploadId").to_string();
    assert!(!id.is_empty(), "empty UploadId");
    id
}

/// UploadPart; asserts and returns the ETag (quoted hex MD5 of the part).
async fn upload(c: &Client, bucket: &str, key: &str, id: &str, n: i32, data: &[u8]) -> String {
    let out = c
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("upload_part {n} of {bucket}/{key}: {:?}", ErrInfo::from_sdk(&e)));
    let etag = out.e_tag().unwrap_or_else(|| panic!("UploadPart {n} returned no ETag")).to_string();
    assert_eq!(etag, etag_of(data), "ETag of part {n} ({} bytes)", data.len());
    etag
}

fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts.iter().map(|(n, etag)| CompletedPart::builder().part_number(*n).e_tag(*etag).build()).collect(),
        ))
        .build()
}

async fn complete(
    c: &Client,
    bucket: &str,
    key: &str,
    id: &str,
    parts: &[(i32, &str)],
) -> CompleteMultipartUploadOutput {
    c.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(completed(parts))
        .send()
        .await
        .unwrap_or_else(|e| panic!("complete_multipart_upload {bucket}/{key}: {:?}", ErrInfo::from_sdk(&e)))
}

/// Every part of an upload as (number, ETag, size), following the pagination.
async fn list_parts_all(c: &Client, bucket: &str, key: &str, id: &str) -> Vec<(i32, String, i64)> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let r = c
            .list_parts()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .set_part_number_marker(marker.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("list_parts {bucket}/{key}: {:?}", ErrInfo::from_sdk(&e)));
        for p in r.parts() {
            out.push((
                p.part_number().expect("part without PartNumber"),
                p.e_tag().expect("part without ETag").to_string(),
                p.size().expect("part without Size"),
            ));
        }
        if r.is_truncated() == Some(true) {
            marker = Some(r.next_part_number_marker().expect("truncated ListParts without marker").to_string());
        } else {
            return out;
        }
    }
}

/// (key, upload id) of every listed upload of a bucket (one page, default size).
async fn list_uploads(c: &Client, bucket: &str) -> Vec<(String, String)> {
    let r = c
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("list_multipart_uploads {bucket}: {:?}", ErrInfo::from_sdk(&e)));
    r.uploads()
        .iter()
        .map(|u| (u.key().unwrap_or_default().to_string(), u.upload_id().unwrap_or_default().to_string()))
        .collect()
}

fn groups(node: &TestNode) -> BTreeSet<String> {
    shard_groups(&node.disk_dirs())
}

/// Wait until the node holds exactly `want` shard-file groups (background deletion).
async fn wait_groups(node: &TestNode, want: usize, what: &str) {
    let t0 = Instant::now();
    let ok = eventually(GC_WAIT, || groups(node).len() == want).await;
    assert!(
        ok,
        "{what}: expected {want} shard-file groups within {GC_WAIT:?}, found {} ({:?})",
        groups(node).len(),
        groups(node)
    );
    if t0.elapsed() > Duration::from_millis(2500) {
        eprintln!("{what}: shard cleanup took {:?} (spec: ~2 s)", t0.elapsed());
    }
}

/// After waiting for `settle`, still exactly `want` groups (nothing in use was deleted).
async fn assert_groups_stay(node: &TestNode, want: usize, settle: Duration, what: &str) {
    tokio::time::sleep(settle).await;
    let g = groups(node);
    assert_eq!(g.len(), want, "{what}: shard-file groups after {settle:?}: {g:?}");
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

// ---------------------------------------------------------------------------
// The whole life of an upload
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_part_upload_round_trip() {
    within(240, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        let key = "dir/three parts.bin";

        let created = c
            .create_multipart_upload()
            .bucket("mpu")
            .key(key)
            .content_type("application/x-three")
            .metadata("colour", "teal")
            .metadata("count", "3")
            .send()
            .await
            .unwrap_or_else(|e| panic!("create: {:?}", ErrInfo::from_sdk(&e)));
        let id = created.upload_id().unwrap().to_string();

        // Nothing visible as an object yet, but the upload is listed.
        assert_status_err("HEAD before completion", c.head_object().bucket("mpu").key(key).send().await, 404);
        assert_eq!(list_uploads(&c, "mpu").await, vec![(key.to_string(), id.clone())]);
        assert!(list_all_keys(&c, "mpu").await.is_empty(), "an incomplete upload is listed as an object");

        let p1 = random_bytes(1, PART);
        let p2 = random_bytes(2, PART);
        let p3 = random_bytes(3, MIB);
        let e1 = upload(&c, "mpu", key, &id, 1, &p1).await;
        let e2 = upload(&c, "mpu", key, &id, 2, &p2).await;
        let e3 = upload(&c, "mpu", key, &id, 3, &p3).await;

        let listed = list_parts_all(&c, "mpu", key, &id).await;
        assert_eq!(
            listed,
            vec![(1, e1.clone(), PART as i64), (2, e2.clone(), PART as i64), (3, e3.clone(), MIB as i64)],
            "ListParts before completion"
        );

        let done = complete(&c, "mpu", key, &id, &[(1, &e1), (2, &e2), (3, &e3)]).await;
        let want_etag = multipart_etag(&[&p1, &p2, &p3]);
        assert_eq!(done.e_tag(), Some(want_etag.as_str()), "CompleteMultipartUpload ETag");
        assert_eq!(done.bucket(), Some("mpu"));
        assert_eq!(done.key(), Some(key));

        let whole = cat(&[&p1, &p2, &p3]);
        let g = c.get_object().bucket("mpu").key(key).send().await.unwrap();
        assert_eq!(g.e_tag(), Some(want_etag.as_str()), "GET ETag");
        assert_eq!(g.content_length(), Some(whole.len() as i64));
        assert_eq!(g.content_type(), Some("application/x-three"));
        let meta = g.metadata().cloned().unwrap_or_default();
        assert_eq!(meta.get("colour").map(String::as_str), Some("teal"), "metadata: {meta:?}");
        assert_eq!(meta.get("count").map(String::as_str), Some("3"), "metadata: {meta:?}");
        let body = read_body(g.body).await;
        assert_eq!(sha256_hex(&body), sha256_hex(&whole), "completed object content");

        let h = c.head_object().bucket("mpu").key(key).send().await.unwrap();
        assert_eq!(h.e_tag(), Some(want_etag.as_str()), "HEAD ETag");
        assert_eq!(h.content_length(), Some(whole.len() as i64));
        assert_eq!(h.content_type(), Some("application/x-three"));

        let l = c.list_objects_v2().bucket("mpu").send().await.unwrap();
        let objs = l.contents();
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].key(), Some(key));
        assert_eq!(objs[0].size(), Some(whole.len() as i64));
        assert_eq!(objs[0].e_tag(), Some(want_etag.as_str()), "ListObjectsV2 ETag");

        // The upload is gone.
        assert!(list_uploads(&c, "mpu").await.is_empty(), "completed upload still listed");
        assert_s3_err(
            "ListParts after completion",
            c.list_parts().bucket("mpu").key(key).upload_id(&id).send().await,
            404,
            "NoSuchUpload",
        );
        assert_s3_err(
            "UploadPart after completion",
            c.upload_part()
                .bucket("mpu")
                .key(key)
                .upload_id(&id)
                .part_number(4)
                .body(ByteStream::from_static(b"late"))
                .send()
                .await,
            404,
            "NoSuchUpload",
        );
        // A repeated complete answers as the first did (as on AWS), and changes nothing.
        let again = c
            .complete_multipart_upload()
            .bucket("mpu")
            .key(key)
            .upload_id(&id)
            .multipart_upload(completed(&[(1, &e1), (2, &e2), (3, &e3)]))
            .send()
            .await
            .expect("second CompleteMultipartUpload answers like the first");
        assert_eq!(again.e_tag(), Some(multipart_etag(&[&p1, &p2, &p3]).as_str()), "repeated complete's ETag");
        // With other parts it is no repeat: the upload is gone.
        assert_s3_err(
            "CompleteMultipartUpload of other parts after success",
            c.complete_multipart_upload()
                .bucket("mpu")
                .key(key)
                .upload_id(&id)
                .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
                .send()
                .await,
            404,
            "NoSuchUpload",
        );

        // Each part keeps its own shard files: three groups, and they stay.
        assert_eq!(groups(&node).len(), 3, "shard-file groups of a 3-part object");
        assert_groups_stay(&node, 3, Duration::from_millis(2500), "completed 3-part object").await;
        assert!(get_bytes(&c, "mpu", key).await == whole, "object changed after the cleanup window");

        // Deleting the object deletes the parts' shards.
        c.delete_object().bucket("mpu").key(key).send().await.unwrap();
        wait_groups(&node, 0, "after DeleteObject of a multipart object").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_object_survives_restart() {
    within(240, async {
        let mut node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        let p1 = random_bytes(11, PART);
        let p2 = random_bytes(12, 3000); // inline last part
        let id = create(&c, "mpu", "k").await;
        let e1 = upload(&c, "mpu", "k", &id, 1, &p1).await;
        let e2 = upload(&c, "mpu", "k", &id, 2, &p2).await;
        complete(&c, "mpu", "k", &id, &[(1, &e1), (2, &e2)]).await;
        assert_eq!(groups(&node).len(), 1, "one part above {INLINE_MAX} bytes, one inline part");
        node.restart(true);
        let c = node.client();
        let g = c.get_object().bucket("mpu").key("k").send().await.unwrap();
        assert_eq!(g.e_tag(), Some(multipart_etag(&[&p1, &p2]).as_str()));
        assert!(read_body(g.body).await == cat(&[&p1, &p2]), "multipart object differs after kill -9 restart");
        let h = c.head_object().bucket("mpu").key("k").part_number(2).send().await.unwrap();
        assert_eq!(h.parts_count(), Some(2), "PartsCount after restart");
        assert_eq!(h.content_length(), Some(3000), "part 2 length after restart");
        let g = c.get_object().bucket("mpu").key("k").part_number(2).send().await.unwrap();
        assert_eq!(g.content_range(), Some(format!("bytes {}-{}/{}", PART, PART + 2999, PART + 3000).as_str()));
        assert!(read_body(g.body).await == p2, "inline part 2 read by partNumber after restart");
    })
    .await;
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_number_must_be_1_to_10000() {
    within(120, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        let id = create(&c, "mpu", "k").await;
        for n in [0, 10001, -1] {
            let r = c
                .upload_part()
                .bucket("mpu")
                .key("k")
                .upload_id(&id)
                .part_number(n)
                .body(ByteStream::from_static(b"data"))
                .send()
                .await;
            assert_s3_err(&format!("UploadPart number {n}"), r, 400, "InvalidArgument");
        }
        // The bounds themselves are fine.
        let a = upload(&c, "mpu", "k", &id, 1, b"first").await;
        let z = upload(&c, "mpu", "k", &id, 10000, b"last").await;
        let parts = list_parts_all(&c, "mpu", "k", &id).await;
        assert_eq!(parts, vec![(1, a, 5), (10000, z, 4)], "only the valid part numbers were stored");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_parts_are_entity_too_small() {
    within(120, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        let id = create(&c, "mpu", "k").await;
        let p1 = random_bytes(21, PART - 1);
        let p2 = random_bytes(22, 1000);
        let e1 = upload(&c, "mpu", "k", &id, 1, &p1).await;
        let e2 = upload(&c, "mpu", "k", &id, 2, &p2).await;
        let r = c
            .complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
            .send()
            .await;
        assert_s3_err("first part 1 byte short of 5 MiB", r, 400, "EntityTooSmall");
        assert_status_err("object after EntityTooSmall", c.head_object().bucket("mpu").key("k").send().await, 404);
        // The upload survives the failed completion: fix part 1 and complete.
        let p1 = random_bytes(23, PART);
        let e1 = upload(&c, "mpu", "k", &id, 1, &p1).await;
        let done = complete(&c, "mpu", "k", &id, &[(1, &e1), (2, &e2)]).await;
        assert_eq!(done.e_tag(), Some(multipart_etag(&[&p1, &p2]).as_str()));
        assert!(get_bytes(&c, "mpu", "k").await == cat(&[&p1, &p2]));

        // A single small part is a valid upload (it is the last part).
        let id = create(&c, "mpu", "single").await;
        let only = random_bytes(24, 10 * KIB);
        let e = upload(&c, "mpu", "single", &id, 1, &only).await;
        let done = complete(&c, "mpu", "single", &id, &[(1, &e)]).await;
        assert_eq!(done.e_tag(), Some(multipart_etag(&[&only]).as_str()), "ETag of a 1-part upload ends in -1");
        assert!(get_bytes(&c, "mpu", "single").await == only);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_mismatched_part_is_invalid_part() {
    within(120, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        let id = create(&c, "mpu", "k").await;
        let p1 = random_bytes(31, PART);
        let p2 = random_bytes(32, 2000);
        let e1 = upload(&c, "mpu", "k", &id, 1, &p1).await;
        let e2 = upload(&c, "mpu", "k", &id, 2, &p2).await;
        let cases: Vec<(&str, Vec<(i32, String)>)> = vec![
            ("part 3 never uploaded", vec![(1, e1.clone()), (2, e2.clone()), (3, e2.clone())]),
            ("ETag of part 2 given for part 1", vec![(1, e2.clone()), (2, e2.clone())]),
            ("made-up ETag", vec![(1, e1.clone()), (2, format!("\"{}\"", md5_hex(b"nope")))]),
        ];
        for (what, parts) in cases {
            let parts: Vec<(i32, &str)> = parts.iter().map(|(n, e)| (*n, e.as_str())).collect();
            let r = c
                .complete_multipart_upload()
                .bucket("mpu")
                .key("k")
                .upload_id(&id)
                .multipart_upload(completed(&parts))
                .send()
                .await;
            assert_s3_err(what, r, 400, "InvalidPart");
        }
        assert_status_err("object after InvalidPart", c.head_object().bucket("mpu").key("k").send().await, 404);
        // The upload is intact and still completes; an unquoted ETag is accepted as AWS does.
        let unquoted = e1.trim_matches('"').to_string();
        complete(&c, "mpu", "k", &id, &[(1, &unquoted), (2, &e2)]).await;
        assert!(get_bytes(&c, "mpu", "k").await == cat(&[&p1, &p2]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_out_of_order_are_invalid_part_order() {
    within(120, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        let id = create(&c, "mpu", "k").await;
        let p1 = random_bytes(41, PART);
        let p2 = random_bytes(42, PART);
        let p3 = random_bytes(43, 100);
        let e1 = upload(&c, "mpu", "k", &id, 1, &p1).await;
        let e2 = upload(&c, "mpu", "k", &id, 2, &p2).await;
        let e3 = upload(&c, "mpu", "k", &id, 3, &p3).await;
        for (what, parts) in [
            ("2,1,3", vec![(2, e2.as_str()), (1, e1.as_str()), (3, e3.as_str())]),
            ("1,3,2", vec![(1, e1.as_str()), (3, e3.as_str()), (2, e2.as_str())]),
        ] {
            let r = c
                .complete_multipart_upload()
                .bucket("mpu")
                .key("k")
                .upload_id(&id)
                .multipart_upload(completed(&parts))
                .send()
                .await;
            assert_s3_err(&format!("parts in order {what}"), r, 400, "InvalidPartOrder");
        }
        assert_status_err("object after InvalidPartOrder", c.head_object().bucket("mpu").key("k").send().await, 404);
        complete(&c, "mpu", "k", &id, &[(1, &e1), (2, &e2), (3, &e3)]).await;
        assert!(get_bytes(&c, "mpu", "k").await == cat(&[&p1, &p2, &p3]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_part_list_is_malformed_xml() {
    within(120, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        let id = create(&c, "mpu", "k").await;
        let p1 = random_bytes(51, 3000);
        let e1 = upload(&c, "mpu", "k", &id, 1, &p1).await;
        let r = c
            .complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .multipart_upload(CompletedMultipartUpload::builder().build())
            .send()
            .await;
        assert_s3_err("<CompleteMultipartUpload/> without parts", r, 400, "MalformedXML");
        let r = c.complete_multipart_upload().bucket("mpu").key("k").upload_id(&id).send().await;
        assert_s3_err("CompleteMultipartUpload without a body", r, 400, "MalformedXML");
        assert_status_err("object after MalformedXML", c.head_object().bucket("mpu").key("k").send().await, 404);
        complete(&c, "mpu", "k", &id, &[(1, &e1)]).await;
        assert!(get_bytes(&c, "mpu", "k").await == p1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_aborted_uploads_are_no_such_upload() {
    within(120, async {
        let node = TestNode::start();
        let (c, rec) = node.recording_client();
        create_bucket(&c, "mpu").await;
        let bogus = "bm8tc3VjaC11cGxvYWQtaWQ";

        async fn all_404(c: &Client, key: &str, id: &str, what: &str) {
            assert_s3_err(
                &format!("UploadPart, {what}"),
                c.upload_part()
                    .bucket("mpu")
                    .key(key)
                    .upload_id(id)
                    .part_number(1)
                    .body(ByteStream::from_static(b"x"))
                    .send()
                    .await,
                404,
                "NoSuchUpload",
            );
            assert_s3_err(
                &format!("ListParts, {what}"),
                c.list_parts().bucket("mpu").key(key).upload_id(id).send().await,
                404,
                "NoSuchUpload",
            );
            let etag = etag_of(b"x");
            assert_s3_err(
                &format!("CompleteMultipartUpload, {what}"),
                c.complete_multipart_upload()
                    .bucket("mpu")
                    .key(key)
                    .upload_id(id)
                    .multipart_upload(completed(&[(1, &etag)]))
                    .send()
                    .await,
                404,
                "NoSuchUpload",
            );
            assert_s3_err(
                &format!("AbortMultipartUpload, {what}"),
                c.abort_multipart_upload().bucket("mpu").key(key).upload_id(id).send().await,
                404,
                "NoSuchUpload",
            );
        }

        all_404(&c, "k", bogus, "unknown upload id").await;

        // An upload id is bound to its key.
        let id = create(&c, "mpu", "k").await;
        all_404(&c, "other-key", &id, "upload id of another key").await;

        // Abort: 204, then the id is unknown everywhere.
        let p = random_bytes(61, 100 * KIB);
        upload(&c, "mpu", "k", &id, 1, &p).await;
        c.abort_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("abort: {:?}", ErrInfo::from_sdk(&e)));
        assert_eq!(rec.last(), Some(204), "AbortMultipartUpload status");
        all_404(&c, "k", &id, "aborted upload").await;
        assert!(list_uploads(&c, "mpu").await.is_empty(), "aborted upload still listed");
        assert_status_err("object of an aborted upload", c.head_object().bucket("mpu").key("k").send().await, 404);
        // A missing bucket is NoSuchBucket, not NoSuchUpload.
        assert_s3_err(
            "CreateMultipartUpload in a missing bucket",
            c.create_multipart_upload().bucket("no-such-bucket").key("k").send().await,
            404,
            "NoSuchBucket",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_deletes_the_parts_shards() {
    within(120, async {
        let node = TestNode::start();
        let (c, rec) = node.recording_client();
        create_bucket(&c, "mpu").await;
        // An unrelated object that must keep its shards.
        let keep = random_bytes(70, 300 * KIB);
        put_bytes(&c, "mpu", "keep", keep.clone()).await;
        assert_eq!(groups(&node).len(), 1);

        let id = create(&c, "mpu", "k").await;
        upload(&c, "mpu", "k", &id, 1, &random_bytes(71, PART)).await;
        upload(&c, "mpu", "k", &id, 2, &random_bytes(72, 200 * KIB)).await;
        upload(&c, "mpu", "k", &id, 3, &random_bytes(73, INLINE_MAX)).await; // inline
        upload(&c, "mpu", "k", &id, 4, &random_bytes(74, INLINE_MAX + 1)).await; // first size with files
        assert_eq!(groups(&node).len(), 4, "1 object + 3 parts above {INLINE_MAX} bytes");

        c.abort_multipart_upload().bucket("mpu").key("k").upload_id(&id).send().await.unwrap();
        assert_eq!(rec.last(), Some(204), "AbortMultipartUpload status");
        wait_groups(&node, 1, "after AbortMultipartUpload").await;
        assert!(get_bytes(&c, "mpu", "keep").await == keep, "unrelated object damaged by the abort cleanup");
    })
    .await;
}

// ---------------------------------------------------------------------------
// Replacing and discarding parts
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuploaded_part_replaces_the_old_one() {
    within(180, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        let id = create(&c, "mpu", "k").await;
        let old1 = random_bytes(81, PART);
        let new1 = random_bytes(82, PART);
        let p2 = random_bytes(83, 100 * KIB);
        let old_e1 = upload(&c, "mpu", "k", &id, 1, &old1).await;
        let e2 = upload(&c, "mpu", "k", &id, 2, &p2).await;
        let new_e1 = upload(&c, "mpu", "k", &id, 1, &new1).await;
        assert_ne!(old_e1, new_e1);

        let parts = list_parts_all(&c, "mpu", "k", &id).await;
        assert_eq!(
            parts,
            vec![(1, new_e1.clone(), PART as i64), (2, e2.clone(), p2.len() as i64)],
            "ListParts after re-uploading part 1"
        );
        // The replaced part's shards go away in the background; the new one's stay.
        wait_groups(&node, 2, "after replacing part 1").await;

        // The old ETag no longer names part 1.
        let r = c
            .complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, &old_e1), (2, &e2)]))
            .send()
            .await;
        assert_s3_err("complete with the replaced part's ETag", r, 400, "InvalidPart");

        let done = complete(&c, "mpu", "k", &id, &[(1, &new_e1), (2, &e2)]).await;
        assert_eq!(done.e_tag(), Some(multipart_etag(&[&new1, &p2]).as_str()), "ETag uses the last upload of part 1");
        assert!(get_bytes(&c, "mpu", "k").await == cat(&[&new1, &p2]), "object holds the replaced part");
        assert_groups_stay(&node, 2, Duration::from_millis(2500), "completed object with a replaced part").await;
        assert!(get_bytes(&c, "mpu", "k").await == cat(&[&new1, &p2]));

        // Replacing an inline part with a sharded one and back.
        let id = create(&c, "mpu", "k2").await;
        upload(&c, "mpu", "k2", &id, 1, &random_bytes(84, 100)).await;
        upload(&c, "mpu", "k2", &id, 1, &random_bytes(85, 50 * KIB)).await;
        assert_eq!(groups(&node).len(), 3);
        let last = random_bytes(86, 200);
        let e = upload(&c, "mpu", "k2", &id, 1, &last).await;
        wait_groups(&node, 2, "after replacing a sharded part with an inline one").await;
        complete(&c, "mpu", "k2", &id, &[(1, &e)]).await;
        assert!(get_bytes(&c, "mpu", "k2").await == last);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_left_out_of_completion_are_discarded() {
    within(180, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        let id = create(&c, "mpu", "k").await;
        let p1 = random_bytes(91, PART);
        let p2 = random_bytes(92, 200 * KIB);
        let p3 = random_bytes(93, 300 * KIB);
        let p4 = random_bytes(94, 700);
        let p5 = random_bytes(95, 64 * KIB);
        let e1 = upload(&c, "mpu", "k", &id, 1, &p1).await;
        upload(&c, "mpu", "k", &id, 2, &p2).await;
        let e3 = upload(&c, "mpu", "k", &id, 3, &p3).await;
        upload(&c, "mpu", "k", &id, 4, &p4).await;
        upload(&c, "mpu", "k", &id, 5, &p5).await;
        assert_eq!(groups(&node).len(), 4, "parts 1,2,3,5 have shard files, 4 is inline");

        let done = complete(&c, "mpu", "k", &id, &[(1, &e1), (3, &e3)]).await;
        let want = cat(&[&p1, &p3]);
        assert_eq!(done.e_tag(), Some(multipart_etag(&[&p1, &p3]).as_str()), "ETag of parts 1 and 3");
        let g = c.get_object().bucket("mpu").key("k").send().await.unwrap();
        assert_eq!(g.content_length(), Some(want.len() as i64));
        assert!(read_body(g.body).await == want, "object is not exactly parts 1 and 3");
        let h = c.head_object().bucket("mpu").key("k").part_number(2).send().await.unwrap();
        assert_eq!(h.parts_count(), Some(2), "PartsCount counts the listed parts only");
        assert_eq!(h.content_length(), Some(p3.len() as i64), "object part 2 is upload part 3");

        wait_groups(&node, 2, "after completing with parts 1 and 3 of 5").await;
        assert_groups_stay(&node, 2, Duration::from_millis(2500), "completed object of parts 1 and 3").await;
        assert!(get_bytes(&c, "mpu", "k").await == want, "object damaged by the discard cleanup");
    })
    .await;
}

// ---------------------------------------------------------------------------
// Listings
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_parts_paginates() {
    within(120, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        let id = create(&c, "mpu", "k").await;
        // Uploaded out of order; listed by part number.
        let numbers = [7, 1, 10000, 2, 5];
        let mut want = Vec::new();
        for (i, n) in numbers.iter().enumerate() {
            let data = random_bytes(100 + i as u64, 1000 + 10 * i);
            let e = upload(&c, "mpu", "k", &id, *n, &data).await;
            want.push((*n, e, data.len() as i64));
        }
        want.sort();

        let all = c.list_parts().bucket("mpu").key("k").upload_id(&id).send().await.unwrap();
        assert_eq!(all.is_truncated(), Some(false));
        assert_eq!(all.bucket(), Some("mpu"));
        assert_eq!(all.key(), Some("k"));
        assert_eq!(all.upload_id(), Some(id.as_str()));
        let got: Vec<i32> = all.parts().iter().map(|p| p.part_number().unwrap()).collect();
        assert_eq!(got, vec![1, 2, 5, 7, 10000], "ListParts order");
        assert!(all.parts().iter().all(|p| p.last_modified().is_some()), "parts without LastModified");

        let page = |marker: Option<&str>| {
            let c = c.clone();
            let id = id.clone();
            let marker = marker.map(str::to_string);
            async move {
                c.list_parts()
                    .bucket("mpu")
                    .key("k")
                    .upload_id(&id)
                    .max_parts(2)
                    .set_part_number_marker(marker)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("list_parts page: {:?}", ErrInfo::from_sdk(&e)))
            }
        };
        let p = page(None).await;
        assert_eq!(p.parts().iter().map(|p| p.part_number().unwrap()).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(p.is_truncated(), Some(true), "first page of 2");
        assert_eq!(p.max_parts(), Some(2));
        assert_eq!(p.next_part_number_marker(), Some("2"));
        let p = page(Some("2")).await;
        assert_eq!(p.parts().iter().map(|p| p.part_number().unwrap()).collect::<Vec<_>>(), vec![5, 7]);
        assert_eq!(p.is_truncated(), Some(true), "second page");
        assert_eq!(p.part_number_marker(), Some("2"));
        assert_eq!(p.next_part_number_marker(), Some("7"));
        let p = page(Some("7")).await;
        assert_eq!(p.parts().iter().map(|p| p.part_number().unwrap()).collect::<Vec<_>>(), vec![10000]);
        assert_eq!(p.is_truncated(), Some(false), "last page");
        // A marker between part numbers starts after it.
        let p = page(Some("3")).await;
        assert_eq!(p.parts().iter().map(|p| p.part_number().unwrap()).collect::<Vec<_>>(), vec![5, 7]);

        assert_eq!(list_parts_all(&c, "mpu", "k", &id).await, want, "ListParts (numbers, ETags, sizes)");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_multipart_uploads_prefix_delimiter_markers() {
    within(120, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        create_bucket(&c, "other").await;
        // Initiation order on purpose not key order; two uploads of "a/1".
        let mut created = Vec::new();
        for key in ["b/1", "a/1", "c", "a/2", "a/1", "a/sub/x"] {
            let id = create(&c, "mpu", key).await;
            created.push((key.to_string(), id));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        create(&c, "other", "a/1").await;
        // Expected order: by key, then by initiation.
        let mut want = created.clone();
        want.sort_by(|a, b| a.0.cmp(&b.0)); // stable: keeps initiation order within a key
        let all = list_uploads(&c, "mpu").await;
        assert_eq!(all, want, "ListMultipartUploads order (key, then initiation)");
        let first_a1 = &created[1].1;
        let second_a1 = &created[4].1;
        assert_eq!(all[0].1, *first_a1, "uploads of one key in initiation order");
        assert_eq!(all[1].1, *second_a1);

        let r = c.list_multipart_uploads().bucket("mpu").send().await.unwrap();
        assert_eq!(r.is_truncated(), Some(false));
        assert!(r.uploads().iter().all(|u| u.initiated().is_some()), "uploads without Initiated");

        // prefix
        let r = c.list_multipart_uploads().bucket("mpu").prefix("a/").send().await.unwrap();
        let keys: Vec<&str> = r.uploads().iter().map(|u| u.key().unwrap()).collect();
        assert_eq!(keys, vec!["a/1", "a/1", "a/2", "a/sub/x"], "prefix a/");

        // delimiter
        let r = c.list_multipart_uploads().bucket("mpu").delimiter("/").send().await.unwrap();
        let keys: Vec<&str> = r.uploads().iter().map(|u| u.key().unwrap()).collect();
        let prefixes: Vec<&str> = r.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect();
        assert_eq!(keys, vec!["c"], "uploads with delimiter /");
        assert_eq!(prefixes, vec!["a/", "b/"], "CommonPrefixes with delimiter /");
        let r = c.list_multipart_uploads().bucket("mpu").prefix("a/").delimiter("/").send().await.unwrap();
        let keys: Vec<&str> = r.uploads().iter().map(|u| u.key().unwrap()).collect();
        let prefixes: Vec<&str> = r.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect();
        assert_eq!(keys, vec!["a/1", "a/1", "a/2"], "prefix a/ delimiter /");
        assert_eq!(prefixes, vec!["a/sub/"], "CommonPrefixes of prefix a/");

        // key-marker alone: keys strictly after it.
        let r = c.list_multipart_uploads().bucket("mpu").key_marker("a/1").send().await.unwrap();
        let keys: Vec<&str> = r.uploads().iter().map(|u| u.key().unwrap()).collect();
        assert_eq!(keys, vec!["a/2", "a/sub/x", "b/1", "c"], "key-marker a/1");
        // key-marker + upload-id-marker: later uploads of that key, then later keys.
        let r =
            c.list_multipart_uploads().bucket("mpu").key_marker("a/1").upload_id_marker(first_a1).send().await.unwrap();
        let got: Vec<(String, String)> =
            r.uploads().iter().map(|u| (u.key().unwrap().to_string(), u.upload_id().unwrap().to_string())).collect();
        assert_eq!(got, want[1..].to_vec(), "key-marker a/1 + upload-id-marker of its first upload");

        // max-uploads pagination walks everything exactly once.
        let mut walked = Vec::new();
        let mut km: Option<String> = None;
        let mut um: Option<String> = None;
        let mut pages = 0;
        loop {
            let r = c
                .list_multipart_uploads()
                .bucket("mpu")
                .max_uploads(2)
                .set_key_marker(km.clone())
                .set_upload_id_marker(um.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("list_multipart_uploads page: {:?}", ErrInfo::from_sdk(&e)));
            pages += 1;
            assert!(r.uploads().len() <= 2, "page larger than max-uploads");
            assert_eq!(r.max_uploads(), Some(2));
            walked
                .extend(r.uploads().iter().map(|u| (u.key().unwrap().to_string(), u.upload_id().unwrap().to_string())));
            if r.is_truncated() == Some(true) {
                km = Some(r.next_key_marker().expect("truncated without NextKeyMarker").to_string());
                um = Some(r.next_upload_id_marker().expect("truncated without NextUploadIdMarker").to_string());
                assert!(pages < 10, "pagination does not end");
            } else {
                break;
            }
        }
        assert_eq!(walked, want, "max-uploads=2 pagination");
        assert_eq!(pages, 3, "6 uploads in pages of 2");
    })
    .await;
}

// ---------------------------------------------------------------------------
// Copies
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_part_copy_whole_and_ranges() {
    within(240, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "src").await;
        create_bucket(&c, "mpu").await;
        let single = random_bytes(201, 6 * MIB);
        put_bytes(&c, "src", "single", single.clone()).await;

        // A multipart source of 5 MiB + 5 MiB + 1 MiB.
        let s1 = random_bytes(202, PART);
        let s2 = random_bytes(203, PART);
        let s3 = random_bytes(204, MIB);
        let sid = create(&c, "src", "multi").await;
        let se1 = upload(&c, "src", "multi", &sid, 1, &s1).await;
        let se2 = upload(&c, "src", "multi", &sid, 2, &s2).await;
        let se3 = upload(&c, "src", "multi", &sid, 3, &s3).await;
        complete(&c, "src", "multi", &sid, &[(1, &se1), (2, &se2), (3, &se3)]).await;
        let multi = cat(&[&s1, &s2, &s3]);

        let id = create(&c, "mpu", "k").await;
        let copy = |n: i32, src: &'static str, range: Option<String>| {
            let c = c.clone();
            let id = id.clone();
            async move {
                let out = c
                    .upload_part_copy()
                    .bucket("mpu")
                    .key("k")
                    .upload_id(&id)
                    .part_number(n)
                    .copy_source(src)
                    .set_copy_source_range(range.clone())
                    .send()
                    .await
                    .unwrap_or_else(|e| {
                        panic!("upload_part_copy {n} from {src} {range:?}: {:?}", ErrInfo::from_sdk(&e))
                    });
                out.copy_part_result().and_then(|r| r.e_tag()).expect("UploadPartCopy without ETag").to_string()
            }
        };
        let b = 5 * MIB; // first part boundary of the multipart source
        let r4 = (b - 1000, b - 1000 + PART - 1); // 5 MiB spanning source parts 1 and 2 (not last: >= 5 MiB)
        let r5 = (2 * b - 7, 2 * b + 6); // spans source parts 2 and 3 (last part: any size)
        let e1 = copy(1, "src/single", None).await;
        let e2 = copy(2, "src/multi", None).await;
        let e3 = copy(3, "src/single", Some(format!("bytes=0-{}", PART - 1))).await;
        let e4 = copy(4, "src/multi", Some(format!("bytes={}-{}", r4.0, r4.1))).await;
        let e5 = copy(5, "src/multi", Some(format!("bytes={}-{}", r5.0, r5.1))).await;
        let want_parts: Vec<&[u8]> =
            vec![&single[..], &multi[..], &single[..PART], &multi[r4.0..=r4.1], &multi[r5.0..=r5.1]];
        for (i, (e, p)) in [&e1, &e2, &e3, &e4, &e5].iter().zip(&want_parts).enumerate() {
            assert_eq!(**e, etag_of(p), "ETag of copied part {}", i + 1);
        }
        let sizes: Vec<i64> = list_parts_all(&c, "mpu", "k", &id).await.iter().map(|p| p.2).collect();
        assert_eq!(sizes, want_parts.iter().map(|p| p.len() as i64).collect::<Vec<_>>(), "sizes of copied parts");

        let done = complete(&c, "mpu", "k", &id, &[(1, &e1), (2, &e2), (3, &e3), (4, &e4), (5, &e5)]).await;
        assert_eq!(done.e_tag(), Some(multipart_etag(&want_parts).as_str()));
        let got = get_bytes(&c, "mpu", "k").await;
        assert_eq!(got.len(), want_parts.iter().map(|p| p.len()).sum::<usize>());
        assert!(got == want_parts.concat(), "object assembled from copied parts differs");

        // CopyObject of a multipart source reads every part.
        c.copy_object()
            .bucket("mpu")
            .key("copy-of-multi")
            .copy_source("src/multi")
            .send()
            .await
            .unwrap_or_else(|e| panic!("copy_object of a multipart source: {:?}", ErrInfo::from_sdk(&e)));
        let copied = get_bytes(&c, "mpu", "copy-of-multi").await;
        assert_eq!(sha256_hex(&copied), sha256_hex(&multi), "CopyObject of a multipart source");
        // The source is intact.
        assert!(get_bytes(&c, "src", "multi").await == multi);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_part_copy_bad_source_or_range() {
    within(120, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        let src = random_bytes(250, 6 * MIB);
        put_bytes(&c, "mpu", "src", src.clone()).await;
        let id = create(&c, "mpu", "k").await;
        let copy = |range: Option<String>, source: &'static str| {
            c.upload_part_copy()
                .bucket("mpu")
                .key("k")
                .upload_id(&id)
                .part_number(1)
                .copy_source(source)
                .set_copy_source_range(range)
                .send()
        };
        // Every case is checked before failing, so one report shows all deviations.
        let mut wrong = Vec::new();
        let mut check = |what: &str, r: Result<_, _>, status: u16, code: &str| {
            let e = expect_err(what, r);
            if e.status != Some(status) || e.code.as_deref() != Some(code) {
                wrong.push(format!("{what}: want {status} {code}, got {:?} {:?} ({:?})", e.status, e.code, e.message));
            }
        };
        // AWS: 400 InvalidArgument "Range specified is not valid for source object of size: N".
        let r = copy(Some(format!("bytes={}-{}", 6 * MIB, 6 * MIB + 10)), "mpu/src").await;
        check("copy range starting beyond the source", r, 400, "InvalidArgument");
        let r = copy(Some(format!("bytes=0-{}", 6 * MIB)), "mpu/src").await;
        check("copy range ending one byte beyond the source", r, 400, "InvalidArgument");
        // AWS: 400 InvalidArgument "The x-amz-copy-source-range value must be of the form bytes=first-last".
        let r = copy(Some("bytes=abc-def".to_string()), "mpu/src").await;
        check("malformed copy range", r, 400, "InvalidArgument");
        let r = copy(None, "mpu/no-such-key").await;
        check("copy from a missing key", r, 404, "NoSuchKey");
        assert!(list_parts_all(&c, "mpu", "k", &id).await.is_empty(), "a refused copy stored a part");
        // The last byte exactly is fine.
        let last = copy(Some(format!("bytes={}-{}", 6 * MIB - 1, 6 * MIB - 1)), "mpu/src")
            .await
            .unwrap_or_else(|e| panic!("copy of the last byte: {:?}", ErrInfo::from_sdk(&e)));
        let e = last.copy_part_result().and_then(|r| r.e_tag()).unwrap().to_string();
        assert_eq!(e, etag_of(&src[6 * MIB - 1..]));
        complete(&c, "mpu", "k", &id, &[(1, &e)]).await;
        assert_eq!(get_bytes(&c, "mpu", "k").await, src[6 * MIB - 1..].to_vec());
        assert!(wrong.is_empty(), "UploadPartCopy errors:\n{}", wrong.join("\n"));
    })
    .await;
}

// ---------------------------------------------------------------------------
// Part-level reads and ranges
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_number_reads_and_cross_part_ranges() {
    within(240, async {
        let node = TestNode::start();
        let (c, rec) = node.recording_client();
        create_bucket(&c, "mpu").await;
        let parts = [random_bytes(301, PART), random_bytes(302, PART), random_bytes(303, MIB)];
        let id = create(&c, "mpu", "k").await;
        let mut etags = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            etags.push(upload(&c, "mpu", "k", &id, i as i32 + 1, p).await);
        }
        let list: Vec<(i32, &str)> = etags.iter().enumerate().map(|(i, e)| (i as i32 + 1, e.as_str())).collect();
        complete(&c, "mpu", "k", &id, &list).await;
        let whole = parts.concat();
        let total = whole.len();
        let etag = multipart_etag(&[&parts[0], &parts[1], &parts[2]]);

        let mut start = 0usize;
        for (i, p) in parts.iter().enumerate() {
            let n = i as i32 + 1;
            let end = start + p.len() - 1;
            let g = c
                .get_object()
                .bucket("mpu")
                .key("k")
                .part_number(n)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET partNumber={n}: {:?}", ErrInfo::from_sdk(&e)));
            assert_eq!(rec.last(), Some(206), "GET partNumber={n} status");
            assert_eq!(g.parts_count(), Some(3), "x-amz-mp-parts-count of GET partNumber={n}");
            let range = format!("bytes {start}-{end}/{total}");
            assert_eq!(g.content_range(), Some(range.as_str()), "Content-Range of part {n}");
            assert_eq!(g.content_length(), Some(p.len() as i64), "Content-Length of part {n}");
            assert_eq!(g.e_tag(), Some(etag.as_str()), "ETag of GET partNumber={n} is the object's");
            assert!(read_body(g.body).await == *p, "bytes of part {n}");

            let h = c
                .head_object()
                .bucket("mpu")
                .key("k")
                .part_number(n)
                .send()
                .await
                .unwrap_or_else(|e| panic!("HEAD partNumber={n}: {:?}", ErrInfo::from_sdk(&e)));
            assert_eq!(rec.last(), Some(206), "HEAD partNumber={n} status");
            assert_eq!(h.parts_count(), Some(3), "x-amz-mp-parts-count of HEAD partNumber={n}");
            assert_eq!(h.content_range(), Some(range.as_str()), "HEAD Content-Range of part {n}");
            assert_eq!(h.content_length(), Some(p.len() as i64), "HEAD Content-Length of part {n}");
            start = end + 1;
        }
        assert_s3_err(
            "GET partNumber=4 of a 3-part object",
            c.get_object().bucket("mpu").key("k").part_number(4).send().await,
            416,
            "InvalidPartNumber",
        );
        assert_status_err(
            "HEAD partNumber=4 of a 3-part object",
            c.head_object().bucket("mpu").key("k").part_number(4).send().await,
            416,
        );

        // Ranges across part boundaries.
        let b1 = PART;
        let b2 = 2 * PART;
        let ranges: Vec<(String, usize, usize)> = vec![
            (format!("bytes={}-{}", b1 - 1, b1), b1 - 1, b1),
            (format!("bytes={}-{}", b1 - 300_000, b1 + 300_000), b1 - 300_000, b1 + 300_000),
            (format!("bytes={}-{}", b2 - 5, b2 + 5), b2 - 5, b2 + 5),
            (format!("bytes={}-{}", b1 - 10, b2 + 10), b1 - 10, b2 + 10),
            (format!("bytes={}-", b2 - 1), b2 - 1, total - 1),
            ("bytes=-1048577".to_string(), total - MIB - 1, total - 1),
            (format!("bytes={}-{}", total - 1, total + 1000), total - 1, total - 1),
        ];
        for (hdr, a, b) in ranges {
            let g = c
                .get_object()
                .bucket("mpu")
                .key("k")
                .range(&hdr)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {hdr}: {:?}", ErrInfo::from_sdk(&e)));
            assert_eq!(rec.last(), Some(206), "GET {hdr} status");
            let want_cr = format!("bytes {a}-{b}/{total}");
            assert_eq!(g.content_range(), Some(want_cr.as_str()), "Content-Range of {hdr}");
            let body = read_body(g.body).await;
            assert_eq!(body.len(), b - a + 1, "length of {hdr}");
            assert!(body == whole[a..=b], "bytes of {hdr}");
        }
        // Whole object still 200.
        let g = c.get_object().bucket("mpu").key("k").send().await.unwrap();
        assert_eq!(rec.last(), Some(200));
        assert_eq!(g.parts_count(), None, "x-amz-mp-parts-count on a plain GET");
        assert!(read_body(g.body).await == whole);
    })
    .await;
}

// ---------------------------------------------------------------------------
// Checksums
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Alg {
    Crc32,
    Crc32c,
    Sha1,
    Sha256,
}

impl Alg {
    fn sdk(self) -> ChecksumAlgorithm {
        match self {
            Alg::Crc32 => ChecksumAlgorithm::Crc32,
            Alg::Crc32c => ChecksumAlgorithm::Crc32C,
            Alg::Sha1 => ChecksumAlgorithm::Sha1,
            Alg::Sha256 => ChecksumAlgorithm::Sha256,
        }
    }
    fn raw(self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        match self {
            Alg::Crc32 => crc32fast::hash(data).to_be_bytes().to_vec(),
            Alg::Crc32c => crc32c::crc32c(data).to_be_bytes().to_vec(),
            Alg::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Alg::Sha256 => sha2::Sha256::digest(data).to_vec(),
        }
    }
    fn b64(self, data: &[u8]) -> String {
        b64(&self.raw(data))
    }
    /// base64(alg(concatenated binary part checksums)) + "-N".
    fn composite(self, parts: &[&[u8]]) -> String {
        let mut cat = Vec::new();
        for p in parts {
            cat.extend(self.raw(p));
        }
        format!("{}-{}", b64(&self.raw(&cat)), parts.len())
    }
    /// Pick this algorithm's value out of the four optional response fields.
    fn pick<'a>(
        self,
        crc32: Option<&'a str>,
        crc32c: Option<&'a str>,
        sha1: Option<&'a str>,
        sha256: Option<&'a str>,
    ) -> Option<&'a str> {
        match self {
            Alg::Crc32 => crc32,
            Alg::Crc32c => crc32c,
            Alg::Sha1 => sha1,
            Alg::Sha256 => sha256,
        }
    }
    fn part(self, n: i32, etag: &str, value: String) -> CompletedPart {
        let b = CompletedPart::builder().part_number(n).e_tag(etag);
        match self {
            Alg::Crc32 => b.checksum_crc32(value),
            Alg::Crc32c => b.checksum_crc32_c(value),
            Alg::Sha1 => b.checksum_sha1(value),
            Alg::Sha256 => b.checksum_sha256(value),
        }
        .build()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composite_checksums() {
    within(300, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        for (i, alg) in [Alg::Crc32, Alg::Crc32c, Alg::Sha1, Alg::Sha256].into_iter().enumerate() {
            let key = format!("{alg:?}");
            let created = c
                .create_multipart_upload()
                .bucket("mpu")
                .key(&key)
                .checksum_algorithm(alg.sdk())
                .send()
                .await
                .unwrap_or_else(|e| panic!("create with {alg:?}: {:?}", ErrInfo::from_sdk(&e)));
            assert_eq!(created.checksum_algorithm(), Some(&alg.sdk()), "CreateMultipartUpload echoes the algorithm");
            let id = created.upload_id().unwrap().to_string();
            let parts = [random_bytes(400 + i as u64, PART), random_bytes(410 + i as u64, 700 * KIB)];
            let mut completed_parts = Vec::new();
            for (j, p) in parts.iter().enumerate() {
                let n = j as i32 + 1;
                let out = c
                    .upload_part()
                    .bucket("mpu")
                    .key(&key)
                    .upload_id(&id)
                    .part_number(n)
                    .checksum_algorithm(alg.sdk())
                    .body(ByteStream::from(p.clone()))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("upload part {n} with {alg:?}: {:?}", ErrInfo::from_sdk(&e)));
                let want = alg.b64(p);
                let got =
                    alg.pick(out.checksum_crc32(), out.checksum_crc32_c(), out.checksum_sha1(), out.checksum_sha256());
                assert_eq!(got, Some(want.as_str()), "{alg:?} checksum of part {n}");
                completed_parts.push(alg.part(n, out.e_tag().unwrap(), want));
            }
            let done = c
                .complete_multipart_upload()
                .bucket("mpu")
                .key(&key)
                .upload_id(&id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed_parts)).build())
                .send()
                .await
                .unwrap_or_else(|e| panic!("complete with {alg:?}: {:?}", ErrInfo::from_sdk(&e)));
            let want = alg.composite(&[&parts[0], &parts[1]]);
            let got =
                alg.pick(done.checksum_crc32(), done.checksum_crc32_c(), done.checksum_sha1(), done.checksum_sha256());
            assert_eq!(got, Some(want.as_str()), "{alg:?} composite checksum from CompleteMultipartUpload");
            assert_eq!(done.checksum_type(), Some(&ChecksumType::Composite), "{alg:?} checksum type on completion");

            let g = c
                .get_object()
                .bucket("mpu")
                .key(&key)
                .checksum_mode(ChecksumMode::Enabled)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {alg:?} object: {:?}", ErrInfo::from_sdk(&e)));
            let got = alg.pick(g.checksum_crc32(), g.checksum_crc32_c(), g.checksum_sha1(), g.checksum_sha256());
            assert_eq!(got, Some(want.as_str()), "{alg:?} composite checksum on GET");
            assert_eq!(g.checksum_type(), Some(&ChecksumType::Composite), "{alg:?} checksum type on GET");
            assert!(read_body(g.body).await == parts.concat(), "{alg:?} object content");

            let h = c
                .head_object()
                .bucket("mpu")
                .key(&key)
                .checksum_mode(ChecksumMode::Enabled)
                .send()
                .await
                .unwrap_or_else(|e| panic!("HEAD {alg:?} object: {:?}", ErrInfo::from_sdk(&e)));
            let got = alg.pick(h.checksum_crc32(), h.checksum_crc32_c(), h.checksum_sha1(), h.checksum_sha256());
            assert_eq!(got, Some(want.as_str()), "{alg:?} composite checksum on HEAD");
            assert_eq!(h.checksum_type(), Some(&ChecksumType::Composite), "{alg:?} checksum type on HEAD");
        }

        // A part whose declared checksum is wrong is refused and not stored.
        let id = c
            .create_multipart_upload()
            .bucket("mpu")
            .key("bad")
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_string();
        let r = c
            .upload_part()
            .bucket("mpu")
            .key("bad")
            .upload_id(&id)
            .part_number(1)
            .checksum_sha256(sha256_b64(b"something else"))
            .body(ByteStream::from(random_bytes(499, 10 * KIB)))
            .send()
            .await;
        assert_s3_err("UploadPart with a wrong x-amz-checksum-sha256", r, 400, "BadDigest");
        assert!(list_parts_all(&c, "mpu", "bad", &id).await.is_empty(), "part with a bad checksum was stored");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_object_checksum_type_is_refused() {
    within(60, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        let r = c
            .create_multipart_upload()
            .bucket("mpu")
            .key("k")
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .checksum_type(ChecksumType::FullObject)
            .send()
            .await;
        assert_s3_err("CreateMultipartUpload with ChecksumType FULL_OBJECT", r, 400, "InvalidRequest");
        assert!(list_uploads(&c, "mpu").await.is_empty(), "refused upload was created anyway");
        // COMPOSITE said explicitly is fine.
        let r = c
            .create_multipart_upload()
            .bucket("mpu")
            .key("k")
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .checksum_type(ChecksumType::Composite)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateMultipartUpload with COMPOSITE: {:?}", ErrInfo::from_sdk(&e)));
        assert_eq!(list_uploads(&c, "mpu").await.len(), 1);
        assert!(r.upload_id().is_some());
    })
    .await;
}

// ---------------------------------------------------------------------------
// Conditional and concurrent completion
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_complete() {
    within(240, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        let old = random_bytes(501, 20 * KIB);
        let old_etag = put_bytes(&c, "mpu", "k", old.clone()).await;

        let p1 = random_bytes(502, PART);
        let p2 = random_bytes(503, 2 * KIB);
        let id = create(&c, "mpu", "k").await;
        let e1 = upload(&c, "mpu", "k", &id, 1, &p1).await;
        let e2 = upload(&c, "mpu", "k", &id, 2, &p2).await;
        let parts = completed(&[(1, &e1), (2, &e2)]);

        let r = c
            .complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .if_none_match("*")
            .multipart_upload(parts.clone())
            .send()
            .await;
        assert_s3_err("If-None-Match: * on an existing key", r, 412, "PreconditionFailed");
        assert!(get_bytes(&c, "mpu", "k").await == old, "existing object changed by a failed conditional complete");
        assert_eq!(list_uploads(&c, "mpu").await, vec![("k".to_string(), id.clone())], "upload survives a 412");

        let r = c
            .complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .if_match(etag_of(b"not the current object"))
            .multipart_upload(parts.clone())
            .send()
            .await;
        assert_s3_err("If-Match with a stale ETag", r, 412, "PreconditionFailed");
        assert!(get_bytes(&c, "mpu", "k").await == old);

        // If-Match with the current ETag succeeds.
        let done = c
            .complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .if_match(&old_etag)
            .multipart_upload(parts.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("If-Match with the current ETag: {:?}", ErrInfo::from_sdk(&e)));
        let new_etag = multipart_etag(&[&p1, &p2]);
        assert_eq!(done.e_tag(), Some(new_etag.as_str()));
        assert!(get_bytes(&c, "mpu", "k").await == cat(&[&p1, &p2]));

        // A 412 then an unconditional complete of the same upload.
        let id = create(&c, "mpu", "k").await;
        let q1 = random_bytes(504, 3 * KIB);
        let f1 = upload(&c, "mpu", "k", &id, 1, &q1).await;
        let r = c
            .complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .if_none_match("*")
            .multipart_upload(completed(&[(1, &f1)]))
            .send()
            .await;
        assert_s3_err("If-None-Match: * on a key made by multipart", r, 412, "PreconditionFailed");
        assert!(get_bytes(&c, "mpu", "k").await == cat(&[&p1, &p2]));
        complete(&c, "mpu", "k", &id, &[(1, &f1)]).await;
        assert!(get_bytes(&c, "mpu", "k").await == q1, "unconditional complete after a 412");

        // If-Match on a missing key: 404 NoSuchKey as for PutObject; the upload survives.
        let id = create(&c, "mpu", "missing").await;
        let m = upload(&c, "mpu", "missing", &id, 1, b"missing bytes").await;
        let r = c
            .complete_multipart_upload()
            .bucket("mpu")
            .key("missing")
            .upload_id(&id)
            .if_match(etag_of(b"anything"))
            .multipart_upload(completed(&[(1, &m)]))
            .send()
            .await;
        assert_s3_err("If-Match on a missing key", r, 404, "NoSuchKey");
        assert_status_err(
            "object after If-Match on a missing key",
            c.head_object().bucket("mpu").key("missing").send().await,
            404,
        );
        assert_eq!(list_parts_all(&c, "mpu", "missing", &id).await.len(), 1, "upload lost after a failed If-Match");

        // If-None-Match: * on a new key succeeds.
        let id = create(&c, "mpu", "fresh").await;
        let f = upload(&c, "mpu", "fresh", &id, 1, b"fresh bytes").await;
        c.complete_multipart_upload()
            .bucket("mpu")
            .key("fresh")
            .upload_id(&id)
            .if_none_match("*")
            .multipart_upload(completed(&[(1, &f)]))
            .send()
            .await
            .unwrap_or_else(|e| panic!("If-None-Match: * on a new key: {:?}", ErrInfo::from_sdk(&e)));
        assert_eq!(get_bytes(&c, "mpu", "fresh").await, b"fresh bytes");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_completes_one_wins() {
    within(240, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        const ROUNDS: u64 = 10;
        let mut losers = Vec::new();
        for round in 0..ROUNDS {
            let key = format!("k{round}");
            let p1 = random_bytes(600 + round, PART);
            let p2 = random_bytes(610 + round, 300 * KIB);
            let id = create(&c, "mpu", &key).await;
            let e1 = upload(&c, "mpu", &key, &id, 1, &p1).await;
            let e2 = upload(&c, "mpu", &key, &id, 2, &p2).await;
            let send = |c: Client| {
                let (key, id, e1, e2) = (key.clone(), id.clone(), e1.clone(), e2.clone());
                async move {
                    c.complete_multipart_upload()
                        .bucket("mpu")
                        .key(&key)
                        .upload_id(&id)
                        .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
                        .send()
                        .await
                }
            };
            // Two completes at once (four in odd rounds), each on its own client and connection.
            let racers = if round % 2 == 0 { 2 } else { 4 };
            let results = futures::future::join_all((0..racers).map(|_| send(node.client()))).await;
            let mut oks = Vec::new();
            let mut errs = Vec::new();
            for r in results {
                match r {
                    Ok(x) => oks.push(x),
                    Err(e) => errs.push(ErrInfo::from_sdk(&e)),
                }
            }
            // One complete commits; the others see it done and answer as it did
            // (a repeated complete is 200 on AWS), or, if they ran before the commit
            // was visible to them, NoSuchUpload.
            assert!(
                !oks.is_empty(),
                "round {round}: no complete succeeded; errors: {:?}",
                errs.iter().map(|e| (e.status, e.code.clone())).collect::<Vec<_>>()
            );
            for ok in &oks {
                assert_eq!(ok.e_tag(), Some(multipart_etag(&[&p1, &p2]).as_str()), "round {round}: ETag");
            }
            assert!(get_bytes(&c, "mpu", &key).await == cat(&[&p1, &p2]), "round {round}: object differs");
            losers.extend(errs.iter().map(|e| (round, e.status, e.code.clone())));
        }
        let bad: Vec<_> =
            losers.iter().filter(|(_, s, c)| *s != Some(404) || c.as_deref() != Some("NoSuchUpload")).collect();
        assert!(
            bad.is_empty(),
            "losing concurrent complete must be 404 NoSuchUpload; (round, status, code) of each loser: {losers:?}"
        );
        assert!(list_uploads(&c, "mpu").await.is_empty());
        // Each object keeps exactly its two parts' shards.
        assert_groups_stay(
            &node,
            2 * ROUNDS as usize,
            Duration::from_millis(2500),
            "objects of 2 parts after racing completes",
        )
        .await;
    })
    .await;
}

// ---------------------------------------------------------------------------
// Resume, crash, expiry, parallelism
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_from_a_new_client_with_list_parts() {
    within(240, async {
        let node = TestNode::start();
        let key = "resume/ünï cödé + spaces.bin";
        let parts = [random_bytes(701, PART), random_bytes(702, PART), random_bytes(703, PART), random_bytes(704, MIB)];
        let whole = parts.concat();
        let want_sha = sha256_hex(&whole);

        let id = {
            let first = node.client();
            create_bucket(&first, "mpu").await;
            let id = create(&first, "mpu", key).await;
            upload(&first, "mpu", key, &id, 1, &parts[0]).await;
            upload(&first, "mpu", key, &id, 2, &parts[1]).await;
            id
            // `first` is dropped here, with its connections.
        };

        let c = node.client();
        // Find the upload again from the bucket listing, then what it holds.
        let found = list_uploads(&c, "mpu").await;
        assert_eq!(found, vec![(key.to_string(), id.clone())], "upload found by ListMultipartUploads");
        let have = list_parts_all(&c, "mpu", key, &id).await;
        assert_eq!(
            have.iter().map(|p| (p.0, p.2)).collect::<Vec<_>>(),
            vec![(1, PART as i64), (2, PART as i64)],
            "parts present before resuming"
        );
        let mut etags: Vec<(i32, String)> = have.iter().map(|p| (p.0, p.1.clone())).collect();
        for n in 1..=4i32 {
            if have.iter().any(|p| p.0 == n) {
                assert_eq!(have[(n - 1) as usize].1, etag_of(&parts[(n - 1) as usize]), "listed ETag of part {n}");
                continue;
            }
            let e = upload(&c, "mpu", key, &id, n, &parts[(n - 1) as usize]).await;
            etags.push((n, e));
        }
        let list: Vec<(i32, &str)> = etags.iter().map(|(n, e)| (*n, e.as_str())).collect();
        let done = complete(&c, "mpu", key, &id, &list).await;
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        assert_eq!(done.e_tag(), Some(multipart_etag(&refs).as_str()));
        let got = get_bytes(&c, "mpu", key).await;
        assert_eq!(got.len(), whole.len());
        assert_eq!(sha256_hex(&got), want_sha, "SHA-256 of the resumed upload");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_upload_then_resume() {
    within(300, async {
        let mut node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        let parts =
            [random_bytes(801, PART), random_bytes(802, PART), random_bytes(803, PART), random_bytes(804, 2 * MIB)];
        let id = create(&c, "mpu", "crash").await;
        let e1 = upload(&c, "mpu", "crash", &id, 1, &parts[0]).await;
        let e2 = upload(&c, "mpu", "crash", &id, 2, &parts[1]).await;

        // Part 3 in flight: 2 MiB of its 5 MiB sent, the rest held back.
        let (tx, body) = ChannelBody::new(PART as u64);
        let streaming = node.client_builder().checksum_when_required().build();
        let id2 = id.clone();
        let inflight = tokio::spawn(async move {
            streaming
                .upload_part()
                .bucket("mpu")
                .key("crash")
                .upload_id(&id2)
                .part_number(3)
                .content_length(PART as i64)
                .body(ByteStream::from_body_1_x(body))
                .send()
                .await
        });
        tx.send(bytes::Bytes::copy_from_slice(&parts[2][..MIB])).unwrap();
        tx.send(bytes::Bytes::copy_from_slice(&parts[2][MIB..2 * MIB])).unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(!inflight.is_finished(), "the held-back part upload finished early: {:?}", inflight.await);

        node.kill9();
        drop(tx);
        let r = tokio::time::timeout(Duration::from_secs(30), inflight)
            .await
            .expect("in-flight upload did not end after kill -9")
            .expect("join");
        assert!(r.is_err(), "a part upload cut by kill -9 succeeded: {r:?}");

        node.restart(true);
        node.wait_live().await;
        let c = node.client();
        assert_eq!(list_uploads(&c, "mpu").await, vec![("crash".to_string(), id.clone())], "upload after restart");
        let have = list_parts_all(&c, "mpu", "crash", &id).await;
        assert_eq!(
            have,
            vec![(1, e1.clone(), PART as i64), (2, e2.clone(), PART as i64)],
            "ListParts after kill -9: exactly the acknowledged parts"
        );
        let e3 = upload(&c, "mpu", "crash", &id, 3, &parts[2]).await;
        let e4 = upload(&c, "mpu", "crash", &id, 4, &parts[3]).await;
        let done = complete(&c, "mpu", "crash", &id, &[(1, &e1), (2, &e2), (3, &e3), (4, &e4)]).await;
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        assert_eq!(done.e_tag(), Some(multipart_etag(&refs).as_str()));
        let got = get_bytes(&c, "mpu", "crash").await;
        let whole = parts.concat();
        assert_eq!(got.len(), whole.len());
        assert_eq!(sha256_hex(&got), sha256_hex(&whole), "object completed after kill -9 differs");
        // Four parts above 4096 bytes: four shard-file groups, nothing left of the cut upload.
        wait_groups(&node, 4, "4-part object completed after a kill -9 mid-part").await;
        // And it survives one more crash.
        node.restart(true);
        assert_eq!(sha256_hex(&get_bytes(&node.client(), "mpu", "crash").await), sha256_hex(&whole));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_uploads_expire() {
    within(120, async {
        let node = TestNode::start_with(&["--multipart-expiry-secs", "2"]);
        let c = node.client();
        create_bucket(&c, "mpu").await;

        // A completed multipart object is not touched by expiry.
        let kept = random_bytes(901, 100 * KIB);
        let kid = create(&c, "mpu", "kept").await;
        let ke = upload(&c, "mpu", "kept", &kid, 1, &kept).await;
        complete(&c, "mpu", "kept", &kid, &[(1, &ke)]).await;

        let t0 = Instant::now();
        let id = create(&c, "mpu", "stale").await;
        upload(&c, "mpu", "stale", &id, 1, &random_bytes(902, 100 * KIB)).await;
        let early = t0.elapsed();
        assert_eq!(groups(&node).len(), 2, "shard groups of the kept object and the stale part");
        if early < Duration::from_millis(1500) {
            assert_eq!(
                list_uploads(&c, "mpu").await,
                vec![("stale".to_string(), id.clone())],
                "upload expired after only {early:?}"
            );
        }

        let mut gone_after = None;
        while t0.elapsed() < Duration::from_secs(8) {
            if list_uploads(&c, "mpu").await.is_empty() {
                gone_after = Some(t0.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let gone_after = gone_after.expect("upload still listed 8 s after creation with --multipart-expiry-secs 2");
        assert!(gone_after >= Duration::from_millis(1900), "upload expired too early: {gone_after:?}");
        eprintln!("stale upload expired after {gone_after:?}");

        assert_s3_err(
            "UploadPart to an expired upload",
            c.upload_part()
                .bucket("mpu")
                .key("stale")
                .upload_id(&id)
                .part_number(2)
                .body(ByteStream::from_static(b"too late"))
                .send()
                .await,
            404,
            "NoSuchUpload",
        );
        assert_s3_err(
            "ListParts of an expired upload",
            c.list_parts().bucket("mpu").key("stale").upload_id(&id).send().await,
            404,
            "NoSuchUpload",
        );
        wait_groups(&node, 1, "after expiry").await;
        assert!(get_bytes(&c, "mpu", "kept").await == kept, "completed object damaged by expiry");
        assert_status_err("object of an expired upload", c.head_object().bucket("mpu").key("stale").send().await, 404);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_part_uploads_bounded_memory() {
    within(300, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "mpu").await;
        let parts: Vec<bytes::Bytes> = (0..8u64).map(|i| random_bytes(1000 + i, PART).into()).collect();
        let id = create(&c, "mpu", "par").await;

        let t0 = Instant::now();
        let uploads = parts.iter().enumerate().map(|(i, p)| {
            let c = node.client(); // one connection per part
            let (id, p) = (id.clone(), p.clone());
            async move {
                let n = i as i32 + 1;
                let out = c
                    .upload_part()
                    .bucket("mpu")
                    .key("par")
                    .upload_id(&id)
                    .part_number(n)
                    .body(ByteStream::from(p))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("parallel upload of part {n}: {:?}", ErrInfo::from_sdk(&e)));
                (n, out.e_tag().expect("no ETag").to_string())
            }
        });
        let mut etags = futures::future::join_all(uploads).await;
        let took = t0.elapsed();
        etags.sort();
        for (n, e) in &etags {
            assert_eq!(*e, etag_of(&parts[(*n - 1) as usize]), "ETag of part {n}");
        }
        let listed = list_parts_all(&c, "mpu", "par", &id).await;
        assert_eq!(listed.len(), 8, "parts listed after parallel upload: {listed:?}");

        let list: Vec<(i32, &str)> = etags.iter().map(|(n, e)| (*n, e.as_str())).collect();
        let done = complete(&c, "mpu", "par", &id, &list).await;
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_ref()).collect();
        assert_eq!(done.e_tag(), Some(multipart_etag(&refs).as_str()));
        let got = get_bytes(&c, "mpu", "par").await;
        let whole = parts.concat();
        assert_eq!(got.len(), 8 * PART);
        assert_eq!(sha256_hex(&got), sha256_hex(&whole), "object of 8 parallel parts");
        assert_eq!(groups(&node).len(), 8);

        let rss = node.peak_rss_bytes();
        eprintln!("8 parallel 5 MiB parts: {took:?}; node VmHWM {} MiB", rss >> 20);
        assert!(rss < 200 << 20, "node peak RSS {} MiB with 8 parallel part uploads", rss >> 20);
    })
    .await;
}
