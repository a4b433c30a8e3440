//! Batch ingest end to end on a real `cairnd`: a tar archive PUT with
//! `x-amz-meta-snowball-auto-extract: true` (as MinIO's clients send it) becomes one
//! object per file, all committed at once; an archive refused for any reason (a key
//! a policy denies, a quota, a malformed or special entry, a wrong Content-MD5, too
//! many files) leaves no object and no shard behind.

use base64::Engine;
use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::*;
use serde_json::{json, Value};

/// A tar archive of `(path, bytes)` files (a path ending in `/` is a directory).
fn tar_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        if path.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
        } else {
            h.set_size(data.len() as u64);
        }
        h.set_mode(0o644);
        // The name as given, even one `tar` would refuse to write (`..`).
        let name = &mut h.as_gnu_mut().unwrap().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        b.append(&h, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

async fn put_archive(
    c: &cairn_tests::aws_sdk_s3::Client,
    bucket: &str,
    body: Vec<u8>,
    prefix: Option<&str>,
) -> Result<String, ErrInfo> {
    let mut req = c.put_object().bucket(bucket).key("upload.tar").metadata("snowball-auto-extract", "true");
    if let Some(p) = prefix {
        req = req.metadata("minio-snowball-prefix", p);
    }
    match req.metadata("origin", "camera-7").body(ByteStream::from(body)).send().await {
        Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
        Err(e) => Err(ErrInfo::from_sdk(&e)),
    }
}

fn shards(node: &TestNode) -> usize {
    node.disk_dirs().iter().map(|d| stored_shards(d).len()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tar_archive_becomes_objects_all_or_none() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "ingest").await;

    // Files inline and sharded, a directory, an empty file, a `./` path.
    let small = random_bytes(1, 1024);
    let big = random_bytes(2, 300_000);
    let files = vec![
        ("records/0001.json", small.clone()),
        ("records/", Vec::new()),
        ("./records/0002.bin", big.clone()),
        ("empty", Vec::new()),
    ];
    let archive = tar_of(&files);
    let etag = put_archive(&c, "ingest", archive.clone(), Some("batch-1")).await.expect("archive PUT");
    assert_eq!(etag, format!("\"{}\"", md5_hex(&archive)), "the answer's ETag is the archive's MD5");
    let mut keys = list_all_keys(&c, "ingest").await;
    keys.sort();
    assert_eq!(keys, ["batch-1/empty", "batch-1/records/0001.json", "batch-1/records/0002.bin"]);
    for (key, body) in [("batch-1/records/0001.json", &small), ("batch-1/records/0002.bin", &big)] {
        let got = c.get_object().bucket("ingest").key(key).send().await.unwrap();
        assert_eq!(got.e_tag(), Some(etag_of(body).as_str()), "{key}: the ETag is its own MD5");
        let meta = got.metadata().cloned().unwrap_or_default();
        assert_eq!(meta.get("origin").map(String::as_str), Some("camera-7"), "{key}: the request's metadata");
        assert!(!meta.keys().any(|k| k.contains("snowball")), "{key}: control headers are not stored: {meta:?}");
        assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == body.as_slice(), "{key}: bytes");
    }
    assert_eq!(get_bytes(&c, "ingest", "batch-1/empty").await, Vec::<u8>::new());
    let shards_after_good = shards(&node);

    // Padding after the end-of-archive blocks (tar writes records of 10 KiB) is part of
    // the body: the ETag and the SDK's checksum cover it.
    let mut padded = tar_of(&[("padded/1", random_bytes(9, 2000))]);
    padded.extend(vec![0u8; 64 << 10]);
    let etag = put_archive(&c, "ingest", padded.clone(), None).await.expect("a padded archive");
    assert_eq!(etag, format!("\"{}\"", md5_hex(&padded)));

    // Without a prefix, keys are the paths; the same key again replaces its object.
    let again = tar_of(&[("records/0001.json", b"v2".to_vec())]);
    put_archive(&c, "ingest", again, None).await.expect("second archive");
    assert_eq!(get_bytes(&c, "ingest", "records/0001.json").await, b"v2");

    // Every refusal leaves nothing: no object, no shard.
    let before = list_all_keys(&c, "ingest").await.len();
    let refused = |what: &str, r: Result<String, ErrInfo>, status: u16, code: &str| {
        let e = r.expect_err(what);
        assert_eq!((e.status, e.code.as_deref()), (Some(status), Some(code)), "{what}: {e:?}");
    };
    let with_bad = |bad: (&str, Vec<u8>)| {
        tar_of(&[("fine/1", random_bytes(3, 200_000)), ("fine/2", random_bytes(4, 100)), bad, ("fine/3", vec![1])])
    };
    refused(
        "a .. path",
        put_archive(&c, "ingest", with_bad(("../escape", vec![1])), None).await,
        400,
        "MalformedArchive",
    );
    let mut link = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(200_000);
    link.append_data(&mut h, "fine/1", random_bytes(5, 200_000).as_slice()).unwrap();
    let mut l = tar::Header::new_gnu();
    l.set_entry_type(tar::EntryType::Symlink);
    l.set_size(0);
    link.append_link(&mut l, "fine/link", "/etc/passwd").unwrap();
    refused("a symlink", put_archive(&c, "ingest", link.into_inner().unwrap(), None).await, 400, "MalformedArchive");
    refused("not a tar", put_archive(&c, "ingest", random_bytes(6, 5000), None).await, 400, "MalformedArchive");
    let mut cut = with_bad(("fine/x", random_bytes(7, 50_000)));
    cut.truncate(230_000); // in the middle of fine/x
    refused("a truncated archive", put_archive(&c, "ingest", cut, None).await, 400, "MalformedArchive");
    let wrong_md5 = c
        .put_object()
        .bucket("ingest")
        .key("upload.tar")
        .metadata("snowball-auto-extract", "true")
        .content_md5(base64::engine::general_purpose::STANDARD.encode([0u8; 16]))
        .body(ByteStream::from(with_bad(("fine/4", vec![2]))))
        .send()
        .await;
    let e = expect_err("a wrong Content-MD5", wrong_md5);
    assert_eq!(e.code.as_deref(), Some("BadDigest"), "{e:?}");
    let tagged = c
        .put_object()
        .bucket("ingest")
        .key("upload.tar")
        .metadata("snowball-auto-extract", "true")
        .tagging("a=b")
        .body(ByteStream::from(with_bad(("fine/4", vec![2]))))
        .send()
        .await;
    assert_eq!(expect_err("tagging", tagged).status, Some(501));
    let many: Vec<(String, Vec<u8>)> = (0..10_001).map(|i| (format!("n/{i}"), vec![b'x'])).collect();
    let many: Vec<(&str, Vec<u8>)> = many.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    refused("too many files", put_archive(&c, "ingest", tar_of(&many), None).await, 400, "MalformedArchive");

    // A key a policy denies refuses the whole archive.
    let (status, text) = node.admin("POST", "keys", br#"{"name":"loader"}"#).await;
    assert_eq!(status, 200, "{text}");
    let k: Value = serde_json::from_str(&text).unwrap();
    let (kid, ksec) = (k["access_key_id"].as_str().unwrap(), k["secret_access_key"].as_str().unwrap());
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": [kid]}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::ingest/*"},
        {"Effect": "Deny", "Principal": {"AWS": [kid]}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::ingest/fine/secret*"}
    ]});
    c.put_bucket_policy().bucket("ingest").policy(doc.to_string()).send().await.unwrap();
    let loader = ClientBuilder::new(node.endpoint()).credentials(kid, ksec).build();
    refused(
        "a denied key",
        put_archive(&loader, "ingest", with_bad(("fine/secret.txt", vec![3])), None).await,
        403,
        "AccessDenied",
    );
    put_archive(&loader, "ingest", tar_of(&[("fine/open.txt", vec![4])]), None).await.expect("an allowed archive");

    // A quota passed by the batch refuses all of it, decided at the commit.
    let root = (ROOT_ACCESS_KEY, ROOT_SECRET_KEY);
    let count = list_all_keys(&c, "ingest").await.len() as u64;
    let quota = json!({"quota": {"objects": count + 2}});
    let (status, body) = v1_json(node.endpoint(), root, "PUT", "buckets/ingest/quota", quota).await;
    assert_eq!(status, 200, "{body}");
    let three = tar_of(&[("q/1", random_bytes(8, 100_000)), ("q/2", vec![1]), ("q/3", vec![2])]);
    refused("over the quota", put_archive(&c, "ingest", three, None).await, 403, "QuotaExceeded");
    put_archive(&c, "ingest", tar_of(&[("q/1", vec![1]), ("q/2", vec![2])]), None).await.expect("within the quota");

    let mut left = list_all_keys(&c, "ingest").await;
    left.sort();
    assert_eq!(left.len(), before + 1 + 2, "only the allowed archives added objects: {left:?}");
    assert!(!left.iter().any(|k| k.starts_with("fine/") && k != "fine/open.txt"), "{left:?}");
    // Refused archives' shards are freed (in the background).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while shards(&node) != shards_after_good {
        assert!(std::time::Instant::now() < deadline, "{} shard files, {shards_after_good} expected", shards(&node));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
