//! Awkward object keys round trip exactly and never escape the data directory.

use std::collections::BTreeSet;
use std::path::Path;

use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::*;

fn entries(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_keys_round_trip_and_stay_inside_data_dir() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "keys").await;

    let root = node.root_dir().to_path_buf();
    let tmp = root.parent().unwrap().to_path_buf();
    let root_before = entries(&root);
    let tmp_had_x = tmp.join("x").exists();
    let data_parent_before = entries(node.data_dir().parent().unwrap());

    let long_ok = format!("long/{}", "k".repeat(1024 - 5));
    assert_eq!(long_ok.len(), 1024);
    let keys: Vec<String> = [
        "../../x",
        "../x",
        "./x",
        "a//b",
        "/leading-slash",
        "with space",
        "100%",
        "%2F-literal",
        "ünïcödé/文件",
        "trailing/",
        "plus+sign",
        "q?uery&amp=1#frag",
        "semi;colon,comma:colon@at",
        "brackets[]{}<>",
        "quote\"apos'",
        "back\\slash",
        "emoji-😀",
        "~tilde",
        "*star",
        "..",
        long_ok.as_str(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();

    for (i, k) in keys.iter().enumerate() {
        // Alternate inline and sharded bodies so both storage paths see the key.
        let len = if i % 2 == 0 { 100 + i } else { 20_000 + i };
        let data = random_bytes(i as u64, len);
        let r = c.put_object().bucket("keys").key(k).body(ByteStream::from(data.clone())).send().await;
        r.unwrap_or_else(|e| panic!("put {k:?}: {:?}", ErrInfo::from_sdk(&e)));
        let got = c
            .get_object()
            .bucket("keys")
            .key(k)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {k:?}: {:?}", ErrInfo::from_sdk(&e)));
        assert!(read_body(got.body).await == data, "body of {k:?} differs");
        let h = c
            .head_object()
            .bucket("keys")
            .key(k)
            .send()
            .await
            .unwrap_or_else(|e| panic!("head {k:?}: {:?}", ErrInfo::from_sdk(&e)));
        assert_eq!(h.content_length(), Some(len as i64), "HEAD length of {k:?}");
    }

    // Listing shows exactly these keys, byte for byte.
    let mut want = keys.clone();
    want.sort();
    let listed = list_all_keys(&c, "keys").await;
    assert_eq!(listed, want, "listing of awkward keys");
    let v1 = c.list_objects().bucket("keys").send().await.unwrap();
    let v1: Vec<String> = v1.contents().iter().map(|o| o.key().unwrap().to_string()).collect();
    assert_eq!(v1, want, "v1 listing of awkward keys");

    // Keys that differ only by normalization are distinct objects.
    let ab = keys.iter().position(|k| k == "a//b").unwrap();
    assert_eq!(
        get_bytes(&c, "keys", "a//b").await,
        random_bytes(ab as u64, if ab % 2 == 0 { 100 + ab } else { 20_000 + ab })
    );
    assert_s3_err("a/b is not a//b", c.get_object().bucket("keys").key("a/b").send().await, 404, "NoSuchKey");
    assert_s3_err("x is not ../../x", c.get_object().bucket("keys").key("x").send().await, 404, "NoSuchKey");

    // 1025 bytes: KeyTooLongError, nothing stored.
    let too_long = format!("long/{}", "k".repeat(1025 - 5));
    assert_eq!(too_long.len(), 1025);
    let r = c.put_object().bucket("keys").key(&too_long).body(ByteStream::from_static(b"x")).send().await;
    assert_s3_err("1025-byte key", r, 400, "KeyTooLongError");
    assert_eq!(list_all_keys(&c, "keys").await.len(), keys.len());
    // 1024 bytes counted in UTF-8 bytes, not characters: 512 two-byte chars is fine, 513 is not.
    let two_byte_ok = "é".repeat(512);
    put_bytes(&c, "keys", &two_byte_ok, b"utf8".to_vec()).await;
    assert_eq!(get_bytes(&c, "keys", &two_byte_ok).await, b"utf8");
    let two_byte_long = "é".repeat(513);
    let r = c.put_object().bucket("keys").key(&two_byte_long).body(ByteStream::from_static(b"x")).send().await;
    assert_s3_err("513 two-byte chars", r, 400, "KeyTooLongError");

    // Delete each awkward key individually.
    for k in &keys {
        c.delete_object().bucket("keys").key(k).send().await.unwrap_or_else(|e| panic!("delete {k:?}: {e:?}"));
    }
    c.delete_object().bucket("keys").key(&two_byte_ok).send().await.unwrap();
    assert!(list_all_keys(&c, "keys").await.is_empty(), "keys left after deleting all");

    // Nothing appeared outside the data dir.
    assert_eq!(entries(&root), root_before, "new entries next to the data dir");
    assert_eq!(entries(node.data_dir().parent().unwrap()), data_parent_before);
    assert_eq!(tmp.join("x").exists(), tmp_had_x, "a file named x appeared in {}", tmp.display());
    for dir in [node.data_dir().join("x"), root.join("x"), node.data_dir().join("disks").join("x")] {
        assert!(!dir.exists(), "{} was created by key ../../x", dir.display());
    }
}
