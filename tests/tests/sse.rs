//! Server-side encryption at rest, end to end through aws-sdk-s3: SSE-S3 and SSE-C
//! round trips at the sizes where the format has edges (empty, one byte, inline,
//! package and stripe boundaries, 100 MiB), ranges across package boundaries,
//! multipart uploads, copies between modes, the errors S3 gives for missing, wrong
//! and needless keys, no plaintext anywhere on disk, a shard lost under ciphertext,
//! the master key across restarts, and a cluster read through a node that did not
//! write the object.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use aws_sdk_s3::Client;
use cairn_tests::cluster::TestCluster;
use cairn_tests::stored::stored_shards_all;
use cairn_tests::*;
use std::path::Path;

const MASTER: &str = "8f1c2b7d3e4a59607182939aabbccddeeff00112233445566778899aabbccdd0";
const OTHER_MASTER: &str = "0000000000000000000000000000000000000000000000000000000000000001";
/// Plaintext bytes per package (`cairn_object::sse::package::PACKAGE`).
const P: usize = 64 * 1024;
/// A stripe: 2 data shards of 256 KiB blocks.
const STRIPE: usize = 512 * 1024;

fn start() -> TestNode {
    TestNode::start_with(&["--master-key", MASTER])
}

struct SseC {
    key: String,
    md5: String,
}

/// `.customer_key(&k)` on any request builder that takes an SSE-C key.
trait CustomerKey: Sized {
    fn sse_c_headers(self, algorithm: &str, key: &str, md5: &str) -> Self;
    fn customer_key(self, k: &SseC) -> Self {
        self.sse_c_headers("AES256", &k.key, &k.md5)
    }
}

macro_rules! customer_key_on {
    ($($builder:ty),*) => {$(
        impl CustomerKey for $builder {
            fn sse_c_headers(self, algorithm: &str, key: &str, md5: &str) -> Self {
                self.sse_customer_algorithm(algorithm).sse_customer_key(key).sse_customer_key_md5(md5)
            }
        }
    )*};
}

use aws_sdk_s3::operation as op;
customer_key_on!(
    op::put_object::builders::PutObjectFluentBuilder,
    op::get_object::builders::GetObjectFluentBuilder,
    op::head_object::builders::HeadObjectFluentBuilder,
    op::copy_object::builders::CopyObjectFluentBuilder,
    op::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder,
    op::upload_part::builders::UploadPartFluentBuilder
);

fn sse_c(seed: u64) -> SseC {
    let k = random_bytes(seed, 32);
    SseC { key: b64(&k), md5: md5_b64(&k) }
}

/// CompleteMultipartUpload of `parts`.
async fn complete(
    c: &Client,
    bucket: &str,
    key: &str,
    id: &str,
    parts: Vec<CompletedPart>,
) -> op::complete_multipart_upload::CompleteMultipartUploadOutput {
    c.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("CompleteMultipartUpload {bucket}/{key}: {e:?}"))
}

async fn put_s3(c: &Client, bucket: &str, key: &str, data: &[u8]) -> String {
    let out = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("SSE-S3 PUT {key}: {e:?}"));
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::Aes256), "PUT {key} answers AES256");
    out.e_tag().unwrap().to_string()
}

async fn get_range(c: &Client, bucket: &str, key: &str, range: Option<String>) -> Vec<u8> {
    let out = c
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_range(range.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {key} {range:?}: {e:?}"));
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::Aes256), "GET {key} answers AES256");
    read_body(out.body).await
}

/// Every file under `dir` that contains `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle)) {
                found.push(p.display().to_string());
            }
        }
    }
    found
}

/// A body that repeats `marker`, so any stored copy of the plaintext shows it.
fn marked(marker: &[u8], len: usize) -> Vec<u8> {
    marker.iter().copied().cycle().take(len).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_s3_round_trips_at_every_edge_and_ranges_across_packages() {
    let node = start();
    let c = node.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    let sizes = [0, 1, 100, 16 * 1024, P - 1, P, P + 1, STRIPE, STRIPE + 1, 3 * STRIPE + 7, 5 * P + 3];
    for &n in &sizes {
        let data = random_bytes(n as u64 + 1, n);
        let key = format!("obj-{n}");
        let etag = put_s3(&c, "enc", &key, &data).await;
        assert_eq!(etag, etag_of(&data), "an SSE-S3 single PUT's ETag is the plaintext's MD5 ({n} bytes)");
        let head = c.head_object().bucket("enc").key(&key).send().await.unwrap();
        assert_eq!(head.content_length(), Some(n as i64), "HEAD Content-Length is the plaintext's ({n})");
        assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::Aes256), "HEAD {key}");
        let body = get_range(&c, "enc", &key, None).await;
        assert!(body == data, "GET {key}: {} bytes back for {n}", body.len());
    }

    // Ranges at and across package boundaries, and across a stripe boundary.
    let n = 3 * STRIPE + 7;
    let data = random_bytes(n as u64 + 1, n);
    let key = format!("obj-{n}");
    let ranges: Vec<(usize, usize)> = vec![
        (0, 0),
        (P - 1, P),
        (P, P),
        (P, 2 * P - 1),
        (P - 10, 3 * P + 10),
        (STRIPE - 1, STRIPE),
        (5 * P + 17, 9 * P + 1),
        (n - 1, n - 1),
        (n - P - 3, n - 1),
    ];
    for (a, b) in ranges {
        let got = get_range(&c, "enc", &key, Some(format!("bytes={a}-{b}"))).await;
        assert!(got == data[a..=b], "range {a}-{b}: {} bytes, differ", got.len());
    }
    let got = get_range(&c, "enc", &key, Some("bytes=-100".into())).await;
    assert!(got == data[n - 100..], "suffix range");
    let got = get_range(&c, "enc", &key, Some(format!("bytes={}-", n - P - 1))).await;
    assert!(got == data[n - P - 1..], "open range");

    // A copy asked to be encrypted the same way keeps the ciphertext: same bytes, same ETag,
    // and shards whose blocks (after the 48-byte shard header naming the blob) are the
    // source's, which a copy sealed under a new data key could not have.
    let shard_ids = |n: &TestNode| -> Vec<String> {
        stored_shards_all(&n.disk_dirs()).iter().map(|s| s.id().to_string()).collect()
    };
    let before = shard_ids(&node);
    let copy = c
        .copy_object()
        .bucket("enc")
        .key("copy-same")
        .copy_source(format!("enc/{key}"))
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(copy.copy_object_result().unwrap().e_tag(), Some(etag_of(&data).as_str()));
    assert!(get_range(&c, "enc", "copy-same", Some("bytes=1000-900000".into())).await == data[1000..=900000]);
    let shards = stored_shards_all(&node.disk_dirs());
    let copied: Vec<_> = shards.iter().filter(|s| !before.contains(&s.id().to_string())).collect();
    assert_eq!(copied.len(), 4, "the copy is one new blob of 2+2 shards");
    for s in copied {
        let body = s.read()[48..].to_vec();
        let twin = shards.iter().any(|o| o.id() != s.id() && o.index() == s.index() && o.read()[48..] == body[..]);
        assert!(twin, "shard {} of the copy holds the source's ciphertext", s.index());
    }

    // 100 MiB, streamed.
    let big = random_bytes(99, 100 << 20);
    let etag = put_s3(&c, "enc", "big", &big).await;
    assert_eq!(etag, etag_of(&big));
    let back = get_range(&c, "enc", "big", None).await;
    assert_eq!(back.len(), big.len());
    assert!(back == big, "100 MiB round trip");
    let mid = 50 << 20;
    let got = get_range(&c, "enc", "big", Some(format!("bytes={}-{}", mid - 5, mid + P))).await;
    assert!(got == big[mid - 5..=mid + P], "a range in the middle of 100 MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_on_disk_is_plaintext() {
    let node = start();
    let c = node.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    // Inline-sized, segment-sized and file-sized bodies, SSE-S3 and SSE-C.
    let secret = b"CAIRN-SECRET-PLAINTEXT-0123456789";
    let k = sse_c(5);
    for (key, len) in [("tiny", 200), ("mid", 150 * 1024), ("large", 3 << 20)] {
        put_s3(&c, "enc", &format!("s3-{key}"), &marked(secret, len)).await;
        c.put_object()
            .bucket("enc")
            .key(format!("c-{key}"))
            .customer_key(&k)
            .body(ByteStream::from(marked(secret, len)))
            .send()
            .await
            .unwrap();
    }
    // The same scan finds an unencrypted object's plaintext: it can fail.
    let open = b"CAIRN-OPEN-PLAINTEXT-9876543210ab";
    for (key, len) in [("open-tiny", 200), ("open-large", 3 << 20)] {
        c.put_object().bucket("enc").key(key).body(ByteStream::from(marked(open, len))).send().await.unwrap();
    }
    let root = node.root_dir().to_path_buf();
    let seen = files_containing(&root, open);
    assert!(seen.len() >= 2, "the scan sees unencrypted data in the metadata and in shards: {seen:?}");
    let leaked = files_containing(&root, secret);
    assert!(leaked.is_empty(), "plaintext of encrypted objects found in {leaked:?}");
    // Still readable.
    let got = get_range(&c, "enc", "s3-large", None).await;
    assert!(got == marked(secret, 3 << 20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_c_keys_are_checked_as_s3_checks_them() {
    let node = start();
    let c = node.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    let k = sse_c(1);
    let wrong = sse_c(2);
    for (key, n) in [("small", 10), ("empty", 0), ("large", 2 * STRIPE + 5)] {
        let data = random_bytes(n as u64 + 3, n);
        let put = c
            .put_object()
            .bucket("enc")
            .key(key)
            .customer_key(&k)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(put.sse_customer_algorithm(), Some("AES256"));
        assert_eq!(put.sse_customer_key_md5(), Some(k.md5.as_str()));
        assert!(put.server_side_encryption().is_none(), "SSE-C is not AES256 SSE-S3");
        if n > 0 {
            assert_ne!(put.e_tag().unwrap(), etag_of(&data), "an SSE-C ETag is not the plaintext's MD5");
        }

        assert_s3_err("GET without the key", c.get_object().bucket("enc").key(key).send().await, 400, "InvalidRequest");
        assert_status_err("HEAD without the key", c.head_object().bucket("enc").key(key).send().await, 400);
        let r = c.get_object().bucket("enc").key(key).customer_key(&wrong).send().await;
        assert_s3_err("GET with another key", r, 403, "AccessDenied");
        let r = c.head_object().bucket("enc").key(key).customer_key(&k).send().await.unwrap();
        assert_eq!(r.content_length(), Some(n as i64));
        assert_eq!(r.sse_customer_key_md5(), Some(k.md5.as_str()), "HEAD answers the key's MD5");
        let got = c.get_object().bucket("enc").key(key).customer_key(&k).send().await.unwrap();
        assert_eq!(got.sse_customer_algorithm(), Some("AES256"));
        assert!(read_body(got.body).await == data, "SSE-C {key} round trip");
    }

    // A key whose MD5 does not match, a short key, another algorithm: refused, nothing stored.
    let short = b64(&[7u8; 16]);
    let short_md5 = md5_b64(&[7u8; 16]);
    let bad = [
        ("a key MD5 that does not match", "AES256", k.key.as_str(), wrong.md5.as_str(), "InvalidArgument"),
        ("a 128-bit key", "AES256", short.as_str(), short_md5.as_str(), "InvalidArgument"),
        ("another algorithm", "DES", k.key.as_str(), k.md5.as_str(), "InvalidEncryptionAlgorithmError"),
    ];
    for (what, algorithm, key, md5, code) in bad {
        let put = c.put_object().bucket("enc").key("bad-md5").sse_c_headers(algorithm, key, md5);
        let r = put.body(ByteStream::from_static(b"x")).send().await;
        assert_s3_err(&format!("PUT with {what}"), r, 400, code);
    }
    let r = c
        .put_object()
        .bucket("enc")
        .key("bad-md5")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .customer_key(&k)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_s3_err("PUT with SSE-S3 and SSE-C at once", r, 400, "InvalidArgument");
    assert_status_err("nothing stored", c.head_object().bucket("enc").key("bad-md5").send().await, 404);

    // A key brought to an object that has none, or to an SSE-S3 one.
    c.put_object().bucket("enc").key("plain").body(ByteStream::from_static(b"plain")).send().await.unwrap();
    put_s3(&c, "enc", "s3", b"sse-s3").await;
    for key in ["plain", "s3"] {
        let r = c.get_object().bucket("enc").key(key).customer_key(&k).send().await;
        assert_s3_err(&format!("GET {key} with an SSE-C key"), r, 400, "InvalidRequest");
    }

    // A copy under the same SSE-C key keeps the ciphertext, and still needs that key.
    c.copy_object()
        .bucket("enc")
        .key("same-key")
        .copy_source("enc/large")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&k.key)
        .copy_source_sse_customer_key_md5(&k.md5)
        .customer_key(&k)
        .send()
        .await
        .unwrap();
    let got = c.get_object().bucket("enc").key("same-key").customer_key(&k).send().await.unwrap();
    assert!(read_body(got.body).await == random_bytes(2 * STRIPE as u64 + 5 + 3, 2 * STRIPE + 5));
    let r = c.get_object().bucket("enc").key("same-key").customer_key(&wrong).send().await;
    assert_s3_err("the copy under the same key, read with another", r, 403, "AccessDenied");

    // Copies: SSE-C source to SSE-S3 target, SSE-S3 source to SSE-C target with a new key.
    let r = c.copy_object().bucket("enc").key("copy-a").copy_source("enc/large").send().await;
    assert_s3_err("copy of an SSE-C source without its key", r, 400, "InvalidRequest");
    let out = c
        .copy_object()
        .bucket("enc")
        .key("copy-a")
        .copy_source("enc/large")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&k.key)
        .copy_source_sse_customer_key_md5(&k.md5)
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let large = random_bytes(2 * STRIPE as u64 + 5 + 3, 2 * STRIPE + 5);
    assert!(get_range(&c, "enc", "copy-a", None).await == large, "SSE-C -> SSE-S3 copy");
    c.copy_object().bucket("enc").key("copy-b").copy_source("enc/copy-a").customer_key(&wrong).send().await.unwrap();
    let got = c
        .get_object()
        .bucket("enc")
        .key("copy-b")
        .range(format!("bytes={}-{}", P - 2, P + 2))
        .customer_key(&wrong)
        .send()
        .await
        .unwrap();
    assert!(read_body(got.body).await == large[P - 2..=P + 2], "SSE-S3 -> SSE-C copy, ranged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_uploads_encrypt_every_part() {
    let node = start();
    let c = node.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    let part1 = random_bytes(11, 5 << 20);
    let part2 = random_bytes(12, 700 * 1024 + 3);
    let whole: Vec<u8> = part1.iter().chain(part2.iter()).copied().collect();

    // SSE-S3: chosen at creation, applied to every part.
    let up = c
        .create_multipart_upload()
        .bucket("enc")
        .key("mp-s3")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(up.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (i, body) in [&part1, &part2].into_iter().enumerate() {
        let n = i as i32 + 1;
        let out = c
            .upload_part()
            .bucket("enc")
            .key("mp-s3")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::Aes256), "part {n}");
        parts.push(CompletedPart::builder().part_number(n).e_tag(out.e_tag().unwrap()).build());
    }
    let done = complete(&c, "enc", "mp-s3", id, parts).await;
    assert_eq!(done.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert!(get_range(&c, "enc", "mp-s3", None).await == whole, "SSE-S3 multipart round trip");
    let (a, b) = ((5 << 20) - P - 1, (5 << 20) + P + 1);
    let got = get_range(&c, "enc", "mp-s3", Some(format!("bytes={a}-{b}"))).await;
    assert!(got == whole[a..=b], "a range across the part boundary");

    // SSE-C: every part brings the upload's key; another key is refused.
    let k = sse_c(21);
    let wrong = sse_c(22);
    let up = c.create_multipart_upload().bucket("enc").key("mp-c").customer_key(&k).send().await.unwrap();
    assert_eq!(up.sse_customer_key_md5(), Some(k.md5.as_str()));
    let id = up.upload_id().unwrap();
    let r = c
        .upload_part()
        .bucket("enc")
        .key("mp-c")
        .upload_id(id)
        .part_number(1)
        .customer_key(&wrong)
        .body(ByteStream::from_static(b"small: refused before its body is read"))
        .send()
        .await;
    assert_s3_err("a part with another key", r, 403, "AccessDenied");
    let r = c
        .upload_part()
        .bucket("enc")
        .key("mp-c")
        .upload_id(id)
        .part_number(1)
        .body(b"small".to_vec().into())
        .send()
        .await;
    assert_s3_err("a part without the key", r, 400, "InvalidRequest");
    let mut parts = Vec::new();
    for (i, body) in [&part1, &part2].into_iter().enumerate() {
        let n = i as i32 + 1;
        let out = c
            .upload_part()
            .bucket("enc")
            .key("mp-c")
            .upload_id(id)
            .part_number(n)
            .customer_key(&k)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        parts.push(CompletedPart::builder().part_number(n).e_tag(out.e_tag().unwrap()).build());
    }
    complete(&c, "enc", "mp-c", id, parts).await;
    assert_s3_err("GET without the key", c.get_object().bucket("enc").key("mp-c").send().await, 400, "InvalidRequest");
    let got = c.get_object().bucket("enc").key("mp-c").customer_key(&k).send().await.unwrap();
    assert!(read_body(got.body).await == whole, "SSE-C multipart round trip");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ciphertext_heals_and_the_master_key_is_needed() {
    let mut node = start();
    let c = node.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    let data = random_bytes(31, 2 * STRIPE + 100);
    put_s3(&c, "enc", "obj", &data).await;
    // One shard of the ciphertext lost: the read decodes from the others, no key needed for that.
    let shards = stored_shards_all(&node.disk_dirs());
    assert_eq!(shards.len(), 4, "one blob of 2+2 shards: {:?}", shards.iter().map(|s| s.id()).collect::<Vec<_>>());
    let lost = (shards[0].id().to_string(), shards[0].index());
    let before = shards[0].read();
    shards[0].destroy();
    assert!(get_range(&c, "enc", "obj", None).await == data, "read with a shard lost");
    // A heal pass rebuilds it from the other ciphertext shards, with no key at hand.
    let out = cairn_tests::cluster::cairn(node.endpoint(), &["heal", "enc"]);
    assert!(out.status.success(), "{}", cairn_tests::cluster::stderr(&out));
    let healed = cairn_tests::stored::find_shard(&node.disk_dirs(), &lost.0, lost.1);
    assert!(healed.read() == before, "the shard is rebuilt byte for byte");

    // Restarted with the same master key: readable.
    node.restart(false);
    let c = node.client();
    assert!(get_range(&c, "enc", "obj", None).await == data, "read after a restart");

    // Without a master key, or with another one, SSE-S3 objects cannot be read, and the
    // answer says why.
    node.restart_with(&[]);
    let c = node.client();
    let r = c.get_object().bucket("enc").key("obj").send().await;
    assert_s3_err("GET of an SSE-S3 object on a node without a master key", r, 501, "NotImplemented");
    let r = c
        .put_object()
        .bucket("enc")
        .key("new")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_s3_err("SSE-S3 PUT without a master key", r, 501, "NotImplemented");
    assert_status_err("nothing stored", c.head_object().bucket("enc").key("new").send().await, 404);
    node.restart_with(&["--master-key", OTHER_MASTER]);
    let r = node.client().get_object().bucket("enc").key("obj").send().await;
    let e = expect_err("GET with another master key", r);
    assert_eq!(e.status, Some(500), "{e:?}");
    assert!(
        e.message.as_deref().unwrap_or_default().contains("master key"),
        "the error says the master key does not open it: {e:?}"
    );
    node.restart_with(&["--master-key", MASTER]);
    assert!(get_range(&node.client(), "enc", "obj", None).await == data, "readable again with its key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_reads_encrypted_objects_through_a_node_that_did_not_write_them() {
    let cluster = TestCluster::start_with(3, &["--master-key", MASTER]);
    let c1 = cluster.nodes[0].client();
    c1.create_bucket().bucket("enc").send().await.unwrap();
    let data = random_bytes(41, 3 * STRIPE + 11);
    put_s3(&c1, "enc", "obj", &data).await;
    let made = cairn_tests::cluster::cairn(cluster.nodes[0].endpoint(), &["kms", "key", "create", "reels"]);
    assert!(made.status.success(), "{}", cairn_tests::cluster::stderr(&made));
    // The key's creation is an audit event every node reads back.
    let seen = cairn_tests::cluster::cairn(cluster.nodes[2].endpoint(), &["audit", "--json"]);
    let seen: serde_json::Value = serde_json::from_slice(&seen.stdout).unwrap();
    let created = seen["events"].as_array().unwrap().iter().find(|e| e["change"]["KmsKeyCreated"]["id"] == "reels");
    let created = created.unwrap_or_else(|| panic!("no KmsKeyCreated event through node 3: {seen}"));
    assert_eq!(created["node"], 1, "made through node 1: {created}");
    put_kms(&c1, "enc", "obj-kms", Some("reels"), &data).await;
    let k = sse_c(42);
    c1.put_object()
        .bucket("enc")
        .key("obj-c")
        .customer_key(&k)
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    for i in 1..3 {
        let c = cluster.nodes[i].client();
        assert!(get_range(&c, "enc", "obj", None).await == data, "SSE-S3 GET through node {}", i + 1);
        assert!(get_kms(&c, "enc", "obj-kms").await.unwrap() == data, "SSE-KMS GET through node {}", i + 1);
        let got = c
            .get_object()
            .bucket("enc")
            .key("obj-c")
            .range(format!("bytes={}-{}", STRIPE - 3, 2 * STRIPE))
            .customer_key(&k)
            .send()
            .await
            .unwrap();
        assert!(read_body(got.body).await == data[STRIPE - 3..=2 * STRIPE], "SSE-C range through node {}", i + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_default_encryption_applies_when_a_write_names_none() {
    use aws_sdk_s3::types::{
        ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    };
    let config = |alg: ServerSideEncryption, bucket_key: Option<bool>| {
        let default = ServerSideEncryptionByDefault::builder().sse_algorithm(alg).build().unwrap();
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(default)
            .set_bucket_key_enabled(bucket_key)
            .build();
        ServerSideEncryptionConfiguration::builder().rules(rule).build().unwrap()
    };
    let node = start();
    let c = node.client();
    c.create_bucket().bucket("dflt").send().await.unwrap();
    c.create_bucket().bucket("plain").send().await.unwrap();
    let r = c.get_bucket_encryption().bucket("dflt").send().await;
    assert_s3_err("GetBucketEncryption, never set", r, 404, "ServerSideEncryptionConfigurationNotFoundError");
    let r = c
        .put_bucket_encryption()
        .bucket("dflt")
        .server_side_encryption_configuration(config(ServerSideEncryption::AwsKmsDsse, None))
        .send()
        .await;
    assert_s3_err("a default of DSSE-KMS", r, 501, "NotImplemented");
    let missing = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id("not-made")
        .build()
        .unwrap();
    let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(missing).build();
    let r = c
        .put_bucket_encryption()
        .bucket("dflt")
        .server_side_encryption_configuration(ServerSideEncryptionConfiguration::builder().rules(rule).build().unwrap())
        .send()
        .await;
    assert_s3_err("a default naming a KMS key that does not exist", r, 400, "KMS.NotFoundException");
    // BucketKeyEnabled with SSE-S3 is kept and shown, as AWS does (there is no KMS key
    // to derive one from); Bucket Keys proper are tested with SSE-KMS below.
    c.put_bucket_encryption()
        .bucket("dflt")
        .server_side_encryption_configuration(config(ServerSideEncryption::Aes256, Some(true)))
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_encryption().bucket("dflt").send().await.unwrap();
    assert_eq!(got.server_side_encryption_configuration().unwrap().rules()[0].bucket_key_enabled(), Some(true));
    c.put_bucket_encryption()
        .bucket("dflt")
        .server_side_encryption_configuration(config(ServerSideEncryption::Aes256, None))
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_encryption().bucket("dflt").send().await.unwrap();
    let rules = got.server_side_encryption_configuration().unwrap().rules();
    assert_eq!(rules.len(), 1);
    let alg = rules[0].apply_server_side_encryption_by_default().unwrap().sse_algorithm();
    assert_eq!(alg, &ServerSideEncryption::Aes256);
    assert_eq!(rules[0].bucket_key_enabled(), Some(false), "a new default replaces the Bucket Key flag too");

    // A PUT, a multipart upload and a copy that name no encryption get the default.
    let secret = b"CAIRN-DEFAULT-ENCRYPTED-PLAINTEXT";
    let data = marked(secret, 300 * 1024);
    let put = c.put_object().bucket("dflt").key("a").body(ByteStream::from(data.clone())).send().await.unwrap();
    assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::Aes256), "PUT under the default");
    assert!(get_range(&c, "dflt", "a", None).await == data);
    let up = c.create_multipart_upload().bucket("dflt").key("mp").send().await.unwrap();
    assert_eq!(up.server_side_encryption(), Some(&ServerSideEncryption::Aes256), "upload under the default");
    // (The copy's source is stored in the clear, so its bytes are not the marked ones.)
    let src = random_bytes(62, 1000);
    c.put_object().bucket("plain").key("src").body(ByteStream::from(src.clone())).send().await.unwrap();
    let copy = c.copy_object().bucket("dflt").key("copied").copy_source("plain/src").send().await.unwrap();
    assert_eq!(copy.server_side_encryption(), Some(&ServerSideEncryption::Aes256), "copy under the default");
    assert!(get_range(&c, "dflt", "copied", None).await == src);
    let leaked = files_containing(node.root_dir(), secret);
    assert!(leaked.is_empty(), "plaintext written under the default found in {leaked:?}");
    // A write that names its encryption keeps it.
    let k = sse_c(61);
    let put = c.put_object().bucket("dflt").key("c").customer_key(&k).body(b"own key".to_vec().into()).send().await;
    assert!(put.unwrap().server_side_encryption().is_none(), "SSE-C named by the request wins");

    // Deleted: new writes are stored as they come again.
    let del = c.delete_bucket_encryption().bucket("dflt").send().await;
    assert!(del.is_ok(), "{del:?}");
    let r = c.get_bucket_encryption().bucket("dflt").send().await;
    assert_s3_err("GetBucketEncryption after delete", r, 404, "ServerSideEncryptionConfigurationNotFoundError");
    let put = c.put_object().bucket("dflt").key("b").body(b"plain again".to_vec().into()).send().await.unwrap();
    assert!(put.server_side_encryption().is_none());
    assert!(get_range(&c, "dflt", "a", None).await == data, "objects written under the default stay readable");

    // A node without a master key cannot take an SSE-S3 default.
    let bare = TestNode::start();
    let c = bare.client();
    c.create_bucket().bucket("dflt").send().await.unwrap();
    let r = c
        .put_bucket_encryption()
        .bucket("dflt")
        .server_side_encryption_configuration(config(ServerSideEncryption::Aes256, None))
        .send()
        .await;
    assert_s3_err("an SSE-S3 default on a node without a master key", r, 501, "NotImplemented");
}

fn cli(node: &TestNode, args: &[&str]) -> String {
    let out = cairn_tests::cluster::cairn(node.endpoint(), args);
    assert!(
        out.status.success(),
        "cairn {args:?}: {}",
        cairn_tests::cluster::stderr(&out) + &cairn_tests::cluster::stdout(&out)
    );
    cairn_tests::cluster::stdout(&out)
}

fn kms_info(node: &TestNode, id: &str) -> serde_json::Value {
    serde_json::from_str(&cli(node, &["kms", "key", "info", id, "--json"])).unwrap()
}

/// A PUT of `data` with SSE-KMS under `kms_key` (the default key when `None`).
fn kms_put(
    c: &Client,
    bucket: &str,
    key: &str,
    kms_key: Option<&str>,
    data: &[u8],
) -> op::put_object::builders::PutObjectFluentBuilder {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .set_ssekms_key_id(kms_key.map(str::to_string))
        .body(ByteStream::from(data.to_vec()))
}

async fn put_kms(c: &Client, bucket: &str, key: &str, kms_key: Option<&str>, data: &[u8]) -> String {
    let out =
        kms_put(c, bucket, key, kms_key, data).send().await.unwrap_or_else(|e| panic!("SSE-KMS PUT {key}: {e:?}"));
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::AwsKms), "PUT {key}");
    out.ssekms_key_id().unwrap_or_default().to_string()
}

async fn get_kms(c: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, ErrInfo> {
    match c.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::AwsKms), "GET {key}");
            Ok(read_body(out.body).await)
        }
        Err(e) => Err(ErrInfo::from_sdk(&e)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_kms_keys_rotate_disable_and_survive_a_restart() {
    let mut node = start();
    let c = node.client();
    c.create_bucket().bucket("kms").send().await.unwrap();

    // No key id: the default key, made at its first use.
    let small = random_bytes(71, 3000);
    let arn = put_kms(&c, "kms", "default", None, &small).await;
    assert!(arn.ends_with(":key/aws/s3"), "the default key's ARN: {arn}");
    assert_eq!(get_kms(&c, "kms", "default").await.unwrap(), small);
    assert_eq!(kms_info(&node, "aws/s3")["current_version"], 1);

    // A key that does not exist: refused, nothing stored.
    let r = kms_put(&c, "kms", "nokey", Some("no-such-key"), b"x").send().await;
    assert_s3_err("PUT with a key that does not exist", r, 400, "KMS.NotFoundException");
    assert_status_err("nothing stored", c.head_object().bucket("kms").key("nokey").send().await, 404);

    // Keys through the CLI and the admin API.
    let made: serde_json::Value =
        serde_json::from_str(&cli(&node, &["kms", "key", "create", "media", "--description", "films", "--json"]))
            .unwrap();
    assert_eq!(made["id"], "media");
    assert_eq!(made["enabled"], true);
    let out = cairn_tests::cluster::cairn(node.endpoint(), &["kms", "key", "create", "media"]);
    assert!(!out.status.success(), "a key id is created once");
    assert!(cairn_tests::cluster::stderr(&out).contains("KmsKeyExists"), "{}", cairn_tests::cluster::stderr(&out));
    let (status, body) = node.admin("POST", "kms/keys", br#"{"id":"bad id!"}"#).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("InvalidKeyId"), "{body}");
    let (status, body) = node.admin("GET", "kms/keys/nothing", b"").await;
    assert_eq!(status, 404, "{body}");
    let listed = cli(&node, &["kms", "key", "list"]);
    assert!(listed.contains("media") && listed.contains("aws/s3"), "{listed}");

    // Old and new objects across a rotation, with and without an encryption context.
    let v1 = random_bytes(72, 2 * STRIPE + 9);
    let arn = put_kms(&c, "kms", "v1", Some("media"), &v1).await;
    assert!(arn.ends_with(":key/media"), "{arn}");
    let head = c.head_object().bucket("kms").key("v1").send().await.unwrap();
    assert_eq!(head.ssekms_key_id(), Some(arn.as_str()), "HEAD names the key");
    assert_ne!(head.e_tag().unwrap(), etag_of(&v1), "an SSE-KMS ETag is not the plaintext's MD5");
    let ctx = b64(br#"{"project":"cairn","reel":"7"}"#);
    let with_ctx = c
        .put_object()
        .bucket("kms")
        .key("ctx")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("arn:aws:kms:us-east-1:000000000000:key/media")
        .ssekms_encryption_context(&ctx)
        .body(ByteStream::from(v1.clone()))
        .send()
        .await;
    assert!(with_ctx.is_ok(), "an ARN and a context: {with_ctx:?}");
    let rotated = cli(&node, &["kms", "key", "rotate", "media", "--json"]);
    let rotated: serde_json::Value = serde_json::from_str(&rotated).unwrap();
    assert_eq!(rotated["current_version"], 2);
    assert_eq!(rotated["versions"].as_array().unwrap().len(), 2);
    let v2 = random_bytes(73, 100_000);
    put_kms(&c, "kms", "v2", Some("media"), &v2).await;
    assert!(get_kms(&c, "kms", "v1").await.unwrap() == v1, "an object of version 1 after the rotation");
    assert!(get_kms(&c, "kms", "ctx").await.unwrap() == v1, "an object bound to a context");
    assert!(get_kms(&c, "kms", "v2").await.unwrap() == v2, "an object of version 2");

    // Multipart and a copy under SSE-KMS.
    let up = c
        .create_multipart_upload()
        .bucket("kms")
        .key("mp")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("media")
        .send()
        .await
        .unwrap();
    assert!(up.ssekms_key_id().unwrap_or_default().ends_with(":key/media"));
    let id = up.upload_id().unwrap();
    let part = c.upload_part().bucket("kms").key("mp").upload_id(id).part_number(1).body(v2.clone().into());
    let part = part.send().await.unwrap();
    assert_eq!(part.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    let parts = vec![CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build()];
    complete(&c, "kms", "mp", id, parts).await;
    assert!(get_kms(&c, "kms", "mp").await.unwrap() == v2, "SSE-KMS multipart");
    let copy = c
        .copy_object()
        .bucket("kms")
        .key("copied")
        .copy_source("kms/v1")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(copy.server_side_encryption(), Some(&ServerSideEncryption::Aes256));

    // Disabled: its objects cannot be read and it takes no new ones; enabled again, both work.
    cli(&node, &["kms", "key", "disable", "media"]);
    let e = get_kms(&c, "kms", "v1").await.unwrap_err();
    assert_eq!((e.status, e.code.as_deref()), (Some(400), Some("KMS.DisabledException")), "{e:?}");
    let r = kms_put(&c, "kms", "v3", Some("media"), b"x").send().await;
    assert_s3_err("PUT with a disabled key", r, 400, "KMS.DisabledException");
    assert!(get_range(&c, "kms", "copied", None).await == v1, "a copy under another key is unaffected");
    assert_eq!(get_kms(&c, "kms", "default").await.unwrap(), small, "another KMS key is unaffected");
    cli(&node, &["kms", "key", "enable", "media"]);
    assert!(get_kms(&c, "kms", "v1").await.unwrap() == v1, "readable once enabled again");

    // A bucket default naming the key.
    use aws_sdk_s3::types::{
        ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    };
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id("media")
        .build()
        .unwrap();
    let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).build();
    let config = ServerSideEncryptionConfiguration::builder().rules(rule).build().unwrap();
    c.put_bucket_encryption().bucket("kms").server_side_encryption_configuration(config).send().await.unwrap();
    let got = c.get_bucket_encryption().bucket("kms").send().await.unwrap();
    let rules = got.server_side_encryption_configuration().unwrap().rules();
    let by_default = rules[0].apply_server_side_encryption_by_default().unwrap();
    assert!(by_default.kms_master_key_id().unwrap_or_default().ends_with(":key/media"));
    let put = c.put_object().bucket("kms").key("by-default").body(b"default".to_vec().into()).send().await.unwrap();
    assert!(put.ssekms_key_id().unwrap_or_default().ends_with(":key/media"), "the default's key");

    // Keys are metadata: they survive a restart, and so do their objects.
    node.restart(false);
    let c = node.client();
    assert!(get_kms(&c, "kms", "v1").await.unwrap() == v1);
    assert!(get_kms(&c, "kms", "v2").await.unwrap() == v2);
    assert_eq!(kms_info(&node, "media")["current_version"], 2);
    // A node without the master key cannot open them.
    node.restart_with(&[]);
    let e = get_kms(&node.client(), "kms", "v1").await.unwrap_err();
    assert_eq!((e.status, e.code.as_deref()), (Some(501), Some("NotImplemented")), "{e:?}");
    let (status, body) = node.admin("POST", "kms/keys", br#"{"id":"new"}"#).await;
    assert_eq!(status, 501, "a key cannot be made without the master key: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_kms_bucket_keys_from_the_default_and_from_requests() {
    use aws_sdk_s3::types::{
        ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    };
    let node = start();
    let c = node.client();
    for b in ["bkey", "other"] {
        c.create_bucket().bucket(b).send().await.unwrap();
    }
    cli(&node, &["kms", "key", "create", "media"]);
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id("media")
        .build()
        .unwrap();
    let rule =
        ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).bucket_key_enabled(true);
    let config = ServerSideEncryptionConfiguration::builder().rules(rule.build()).build().unwrap();
    c.put_bucket_encryption().bucket("bkey").server_side_encryption_configuration(config).send().await.unwrap();
    let got = c.get_bucket_encryption().bucket("bkey").send().await.unwrap();
    let rule = &got.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(rule.bucket_key_enabled(), Some(true));
    let shown_key = rule.apply_server_side_encryption_by_default().unwrap().kms_master_key_id().unwrap();
    assert!(shown_key.ends_with(":key/media"), "{shown_key}");

    // A PUT naming nothing, and one naming SSE-KMS without the header: the bucket's key.
    let a = random_bytes(81, STRIPE + 77);
    let put = c.put_object().bucket("bkey").key("a").body(ByteStream::from(a.clone())).send().await.unwrap();
    assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(put.bucket_key_enabled(), Some(true), "PUT under a default with a Bucket Key");
    assert!(put.ssekms_key_id().unwrap().ends_with(":key/media"));
    let put = kms_put(&c, "bkey", "named", Some("media"), &a).send().await.unwrap();
    assert_eq!(put.bucket_key_enabled(), Some(true), "SSE-KMS named without the header takes the bucket's flag");
    // The header says false: no Bucket Key for that object.
    let put = kms_put(&c, "bkey", "nobk", Some("media"), &a).bucket_key_enabled(false).send().await.unwrap();
    assert_eq!(put.bucket_key_enabled(), None, "bucket-key-enabled: false");
    for key in ["a", "named", "nobk"] {
        let head = c.head_object().bucket("bkey").key(key).send().await.unwrap();
        assert_eq!(head.bucket_key_enabled(), if key == "nobk" { None } else { Some(true) }, "HEAD {key}");
        let got = c.get_object().bucket("bkey").key(key).send().await.unwrap();
        assert_eq!(got.bucket_key_enabled(), head.bucket_key_enabled(), "GET {key}");
        assert!(read_body(got.body).await == a, "GET {key}");
    }

    // In a bucket without a default: from the header; SSE-S3 takes no Bucket Key.
    let put = kms_put(&c, "other", "x", Some("media"), b"other bucket").bucket_key_enabled(true).send().await;
    assert_eq!(put.unwrap().bucket_key_enabled(), Some(true));
    let r = c
        .put_object()
        .bucket("other")
        .key("s3")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .bucket_key_enabled(true)
        .body(b"x".to_vec().into())
        .send()
        .await;
    assert_s3_err("a Bucket Key with SSE-S3", r, 400, "InvalidArgument");
    let r = c.put_object().bucket("other").key("s3").body(b"x".to_vec().into());
    let r = r.customize().mutate_request(|req| {
        req.headers_mut().insert("x-amz-server-side-encryption-bucket-key-enabled", "maybe");
    });
    assert_s3_err("a Bucket Key flag that is not a boolean", r.send().await, 400, "InvalidArgument");

    // Multipart under the default: every answer shows the Bucket Key.
    let up = c.create_multipart_upload().bucket("bkey").key("mp").send().await.unwrap();
    assert_eq!(up.bucket_key_enabled(), Some(true), "CreateMultipartUpload");
    let id = up.upload_id().unwrap();
    let body = random_bytes(82, 5 * 1024 * 1024);
    let mut parts = Vec::new();
    for (i, chunk) in [&body[..], &a[..]].into_iter().enumerate() {
        let n = i as i32 + 1;
        let part = c.upload_part().bucket("bkey").key("mp").upload_id(id).part_number(n).body(chunk.to_vec().into());
        let part = part.send().await.unwrap();
        assert_eq!(part.bucket_key_enabled(), Some(true), "UploadPart {n}");
        parts.push(CompletedPart::builder().part_number(n).e_tag(part.e_tag().unwrap()).build());
    }
    let done = complete(&c, "bkey", "mp", id, parts).await;
    assert_eq!(done.bucket_key_enabled(), Some(true), "CompleteMultipartUpload");
    let whole = [&body[..], &a[..]].concat();
    assert!(get_kms(&c, "bkey", "mp").await.unwrap() == whole, "a multipart object under a Bucket Key");

    // A copy into another bucket is sealed anew under that bucket's key.
    let copy = c
        .copy_object()
        .bucket("other")
        .key("copied")
        .copy_source("bkey/a")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("media")
        .bucket_key_enabled(true)
        .send()
        .await
        .unwrap();
    assert_eq!(copy.bucket_key_enabled(), Some(true), "CopyObject");
    assert!(get_kms(&c, "other", "copied").await.unwrap() == a);

    // Rotation keeps old objects readable; a disabled key refuses them like any other.
    cli(&node, &["kms", "key", "rotate", "media"]);
    let d = random_bytes(83, 1000);
    c.put_object().bucket("bkey").key("d").body(ByteStream::from(d.clone())).send().await.unwrap();
    assert!(get_kms(&c, "bkey", "a").await.unwrap() == a, "written before the rotation");
    assert!(get_kms(&c, "bkey", "d").await.unwrap() == d, "written after it");
    cli(&node, &["kms", "key", "disable", "media"]);
    let e = get_kms(&c, "bkey", "a").await.unwrap_err();
    assert_eq!((e.status, e.code.as_deref()), (Some(400), Some("KMS.DisabledException")), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_c_over_plain_http_is_refused_from_a_remote_client() {
    // A node listening on this machine's own non-loopback address: a client that
    // connects there is not on loopback, as one on another machine would not be.
    let ip = local_non_loopback_ipv4().expect("this test needs an IPv4 address that is not loopback");
    let listen = format!("{ip}:0");
    let mut node = TestNode::start_with(&["--master-key", MASTER, "--s3-listen", &listen]);
    assert!(node.endpoint().contains(&ip.to_string()), "{}", node.endpoint());
    let c = node.client();
    c.create_bucket().bucket("remote").send().await.unwrap();
    let k = sse_c(91);
    let secure = "InvalidRequest";
    let r = c.put_object().bucket("remote").key("c").customer_key(&k).body(b"secret".to_vec().into()).send().await;
    assert_s3_err("an SSE-C PUT over plain HTTP from a remote client", r, 400, secure);
    assert_status_err("nothing stored", c.head_object().bucket("remote").key("c").send().await, 404);
    // Other encryption is not affected; reads and copy sources that carry a key are refused too.
    c.put_object()
        .bucket("remote")
        .key("s3")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    let r = c.get_object().bucket("remote").key("s3").customer_key(&k).send().await;
    assert_s3_err("an SSE-C GET over plain HTTP", r, 400, secure);
    let r = c
        .copy_object()
        .bucket("remote")
        .key("copy")
        .copy_source("remote/s3")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&k.key)
        .copy_source_sse_customer_key_md5(&k.md5)
        .send()
        .await;
    assert_s3_err("a copy source's SSE-C key over plain HTTP", r, 400, secure);

    // The node's setting allows it.
    node.restart_with(&["--master-key", MASTER, "--s3-listen", &listen, "--sse-c-plain-http"]);
    let c = node.client();
    let put = c.put_object().bucket("remote").key("c").customer_key(&k).body(b"secret".to_vec().into()).send().await;
    assert!(put.is_ok(), "sse_c_plain_http allows it: {put:?}");
    let got = c.get_object().bucket("remote").key("c").customer_key(&k).send().await.unwrap();
    assert_eq!(read_body(got.body).await, b"secret");
}
