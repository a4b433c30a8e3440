//! ListObjectsV2 and ListObjects (v1): prefix, delimiter, paging, start-after,
//! marker, KeyCount, IsTruncated, encoding-type=url.

use std::collections::{BTreeSet, HashSet};

use cairn_tests::aws_sdk_s3::types::EncodingType;
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;

/// Keys chosen to exercise ordering (byte order, not locale), prefixes and delimiters.
fn keys() -> Vec<String> {
    let mut v: Vec<String> = [
        "a/1", "a/2", "a/b/3", "a/b/4", "a/c/5", "a0", "a-dash", "b/6", "b/7", "c", "c/8", "d/e/f/9", "top", "Upper",
        "z/10", "z/11", "z/12", "~tilde",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for i in 0..12 {
        v.push(format!("many/{i:03}"));
    }
    v
}

async fn setup(node: &TestNode) -> (Client, Vec<String>) {
    let c = node.client();
    create_bucket(&c, "list").await;
    let keys = keys();
    let mut tasks = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let c = c.clone();
        let k = k.clone();
        // Mix inline and sharded objects.
        let len = if i % 5 == 0 { 20_000 } else { i * 10 };
        tasks.push(tokio::spawn(async move { put_bytes(&c, "list", &k, random_bytes(i as u64, len)).await }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut sorted = keys;
    sorted.sort(); // byte order == S3 listing order (UTF-8 binary)
    (c, sorted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_v2_prefix_delimiter_and_sizes() {
    let node = TestNode::start();
    let (c, all) = setup(&node).await;

    let out = c.list_objects_v2().bucket("list").send().await.unwrap();
    let got: Vec<String> = out.contents().iter().map(|o| o.key().unwrap().to_string()).collect();
    assert_eq!(got, all, "full listing order");
    assert_eq!(out.key_count(), Some(all.len() as i32));
    assert_eq!(out.is_truncated(), Some(false));
    for (i, o) in out.contents().iter().enumerate() {
        assert!(o.e_tag().is_some_and(|e| e.len() == 34), "ETag of {:?}", o.key());
        assert!(o.last_modified().is_some());
        assert!(o.size().is_some());
        let _ = i;
    }
    // Sizes match what was stored.
    let orig = keys();
    for o in out.contents() {
        let k = o.key().unwrap();
        let i = orig.iter().position(|x| x == k).unwrap();
        let len = if i % 5 == 0 { 20_000 } else { i * 10 };
        assert_eq!(o.size(), Some(len as i64), "size of {k}");
    }

    // prefix
    let out = c.list_objects_v2().bucket("list").prefix("a/").send().await.unwrap();
    let got: Vec<&str> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(got, vec!["a/1", "a/2", "a/b/3", "a/b/4", "a/c/5"]);
    assert_eq!(out.key_count(), Some(5));
    assert_eq!(out.prefix(), Some("a/"));

    // delimiter at the top level
    let out = c.list_objects_v2().bucket("list").delimiter("/").send().await.unwrap();
    let got: Vec<&str> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(got, vec!["Upper", "a-dash", "a0", "c", "top", "~tilde"]);
    let cps: Vec<&str> = out.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect();
    assert_eq!(cps, vec!["a/", "b/", "c/", "d/", "many/", "z/"]);
    assert_eq!(out.key_count(), Some(12), "KeyCount counts keys and common prefixes");
    assert_eq!(out.delimiter(), Some("/"));

    // prefix + delimiter
    let out = c.list_objects_v2().bucket("list").prefix("a/").delimiter("/").send().await.unwrap();
    let got: Vec<&str> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(got, vec!["a/1", "a/2"]);
    let cps: Vec<&str> = out.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect();
    assert_eq!(cps, vec!["a/b/", "a/c/"]);

    // A prefix that is not on a delimiter boundary.
    let out = c.list_objects_v2().bucket("list").prefix("a").delimiter("/").send().await.unwrap();
    let got: Vec<&str> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(got, vec!["a-dash", "a0"]);
    let cps: Vec<&str> = out.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect();
    assert_eq!(cps, vec!["a/"]);

    // A delimiter other than "/".
    let out = c.list_objects_v2().bucket("list").delimiter("0").send().await.unwrap();
    let cps: BTreeSet<&str> = out.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect();
    assert!(cps.contains("a0") && cps.contains("many/0") && cps.contains("z/10"), "delimiter '0' prefixes: {cps:?}");
    assert!(
        !out.contents().iter().any(|o| o.key().unwrap().contains('0')),
        "keys containing the delimiter listed as contents"
    );

    // Nothing matches.
    let out = c.list_objects_v2().bucket("list").prefix("nothing-here").send().await.unwrap();
    assert!(out.contents().is_empty() && out.common_prefixes().is_empty());
    assert_eq!(out.key_count(), Some(0));
    assert_eq!(out.is_truncated(), Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_v2_paging_start_after_and_continuation() {
    let node = TestNode::start();
    let (c, all) = setup(&node).await;

    for page_size in [1, 4, 7, all.len() as i32 - 1, all.len() as i32] {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let out = c
                .list_objects_v2()
                .bucket("list")
                .max_keys(page_size)
                .set_continuation_token(token.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("page {pages} (max-keys {page_size}): {:?}", ErrInfo::from_sdk(&e)));
            pages += 1;
            assert!(pages <= all.len() + 2, "paging with max-keys {page_size} does not terminate");
            let n = out.contents().len();
            assert_eq!(out.key_count(), Some(n as i32), "KeyCount on page {pages}");
            assert_eq!(out.max_keys(), Some(page_size));
            seen.extend(out.contents().iter().map(|o| o.key().unwrap().to_string()));
            if out.is_truncated() == Some(true) {
                assert_eq!(n, page_size as usize, "truncated page {pages} not full");
                let t = out.next_continuation_token().expect("IsTruncated without NextContinuationToken");
                token = Some(t.to_string());
            } else {
                assert_eq!(out.is_truncated(), Some(false));
                assert!(out.next_continuation_token().is_none(), "last page carries NextContinuationToken");
                break;
            }
        }
        assert_eq!(seen, all, "max-keys {page_size}: every key exactly once, in order");
        let expected_pages = all.len().div_ceil(page_size as usize);
        assert!(
            pages == expected_pages || (pages == expected_pages + 1 && all.len() % page_size as usize == 0),
            "max-keys {page_size}: {pages} pages"
        );
    }

    // Paging with a delimiter: common prefixes count toward max-keys, each appears once.
    let mut entries = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .list_objects_v2()
            .bucket("list")
            .delimiter("/")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        let n = out.contents().len() + out.common_prefixes().len();
        assert!(n <= 2, "page with max-keys 2 has {n} entries");
        assert_eq!(out.key_count(), Some(n as i32));
        entries.extend(out.contents().iter().map(|o| o.key().unwrap().to_string()));
        entries.extend(out.common_prefixes().iter().map(|p| p.prefix().unwrap().to_string()));
        if out.is_truncated() == Some(true) {
            token = Some(out.next_continuation_token().unwrap().to_string());
        } else {
            break;
        }
        assert!(entries.len() < 100);
    }
    let mut sorted = entries.clone();
    sorted.sort();
    let uniq: HashSet<&String> = entries.iter().collect();
    assert_eq!(uniq.len(), entries.len(), "duplicate entries while paging with delimiter: {entries:?}");
    assert_eq!(
        sorted,
        vec!["Upper", "a-dash", "a/", "a0", "b/", "c", "c/", "d/", "many/", "top", "z/", "~tilde"],
        "entries paged with delimiter"
    );

    // start-after
    let out = c.list_objects_v2().bucket("list").start_after("many/005").send().await.unwrap();
    let got: Vec<String> = out.contents().iter().map(|o| o.key().unwrap().to_string()).collect();
    let want: Vec<String> = all.iter().filter(|k| k.as_str() > "many/005").cloned().collect();
    assert_eq!(got, want, "start-after many/005");
    assert_eq!(out.start_after(), Some("many/005"));
    // start-after a key that does not exist, between keys
    let out = c.list_objects_v2().bucket("list").start_after("b").max_keys(3).send().await.unwrap();
    let got: Vec<&str> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(got, vec!["b/6", "b/7", "c"]);
    assert_eq!(out.is_truncated(), Some(true));
    // start-after past the end
    let out = c.list_objects_v2().bucket("list").start_after("~~~").send().await.unwrap();
    assert!(out.contents().is_empty());
    // start-after together with prefix
    let out = c.list_objects_v2().bucket("list").prefix("z/").start_after("z/10").send().await.unwrap();
    let got: Vec<&str> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(got, vec!["z/11", "z/12"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_v1_marker_paging_and_delimiter() {
    let node = TestNode::start();
    let (c, all) = setup(&node).await;

    let out = c.list_objects().bucket("list").send().await.unwrap();
    let got: Vec<String> = out.contents().iter().map(|o| o.key().unwrap().to_string()).collect();
    assert_eq!(got, all);
    assert_eq!(out.is_truncated(), Some(false));

    // Paging with marker = last key (no delimiter: NextMarker is optional).
    for page_size in [1, 5, 8] {
        let mut seen = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out =
                c.list_objects().bucket("list").max_keys(page_size).set_marker(marker.clone()).send().await.unwrap();
            let page: Vec<String> = out.contents().iter().map(|o| o.key().unwrap().to_string()).collect();
            assert!(page.len() <= page_size as usize);
            assert_eq!(out.marker().unwrap_or(""), marker.as_deref().unwrap_or(""), "Marker echoed");
            seen.extend(page.iter().cloned());
            if out.is_truncated() == Some(true) {
                assert_eq!(page.len(), page_size as usize);
                marker = Some(out.next_marker().map(str::to_string).unwrap_or_else(|| page.last().unwrap().clone()));
            } else {
                break;
            }
            assert!(seen.len() <= all.len(), "v1 paging overran: {seen:?}");
        }
        assert_eq!(seen, all, "v1 max-keys {page_size}: every key once, in order");
    }

    // marker between keys
    let out = c.list_objects().bucket("list").marker("many/010").send().await.unwrap();
    let got: Vec<String> = out.contents().iter().map(|o| o.key().unwrap().to_string()).collect();
    let want: Vec<String> = all.iter().filter(|k| k.as_str() > "many/010").cloned().collect();
    assert_eq!(got, want);

    // delimiter + paging: NextMarker is required when truncated.
    let mut entries = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out =
            c.list_objects().bucket("list").delimiter("/").max_keys(3).set_marker(marker.clone()).send().await.unwrap();
        entries.extend(out.contents().iter().map(|o| o.key().unwrap().to_string()));
        entries.extend(out.common_prefixes().iter().map(|p| p.prefix().unwrap().to_string()));
        if out.is_truncated() == Some(true) {
            marker =
                Some(out.next_marker().expect("truncated v1 listing with delimiter has no NextMarker").to_string());
        } else {
            break;
        }
        assert!(entries.len() < 100);
    }
    entries.sort();
    assert_eq!(entries, vec!["Upper", "a-dash", "a/", "a0", "b/", "c", "c/", "d/", "many/", "top", "z/", "~tilde"]);

    // prefix + delimiter in v1
    let out = c.list_objects().bucket("list").prefix("a/").delimiter("/").send().await.unwrap();
    let got: Vec<&str> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(got, vec!["a/1", "a/2"]);
    let cps: Vec<&str> = out.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect();
    assert_eq!(cps, vec!["a/b/", "a/c/"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_with_encoding_type_url() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "enc").await;
    let keys = ["dir one/file a.txt", "dir one/ünï.bin", "plain", "文件/名字", "tab\there", "percent%41", "amp&lt;"];
    for (i, k) in keys.iter().enumerate() {
        put_bytes(&c, "enc", k, random_bytes(i as u64, 10)).await;
    }
    let mut sorted: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
    sorted.sort();

    // Without encoding: exact keys.
    assert_eq!(list_all_keys(&c, "enc").await, sorted);

    let out = c.list_objects_v2().bucket("enc").encoding_type(EncodingType::Url).send().await.unwrap();
    assert_eq!(out.encoding_type(), Some(&EncodingType::Url));
    let raw: Vec<String> = out.contents().iter().map(|o| o.key().unwrap().to_string()).collect();
    for r in &raw {
        assert!(r.is_ascii() && !r.contains(' ') && !r.contains('\t'), "key not url-encoded: {r:?}");
    }
    assert!(raw.iter().any(|r| r.contains("%25")), "'%' in a key must come back as %25: {raw:?}");
    let decoded: Vec<String> = raw.iter().map(|r| url_decode(r)).collect();
    assert_eq!(decoded, sorted, "url-decoded v2 keys");

    // Delimiter + prefix, encoded: CommonPrefixes and Prefix are encoded too.
    let out = c.list_objects_v2().bucket("enc").encoding_type(EncodingType::Url).delimiter("/").send().await.unwrap();
    let cps: Vec<String> = out.common_prefixes().iter().map(|p| p.prefix().unwrap().to_string()).collect();
    assert!(cps.iter().all(|p| p.is_ascii() && !p.contains(' ')), "common prefixes not encoded: {cps:?}");
    let cps: Vec<String> = cps.iter().map(|p| url_decode(p)).collect();
    assert_eq!(cps, vec!["dir one/", "文件/"]);
    let out =
        c.list_objects_v2().bucket("enc").encoding_type(EncodingType::Url).prefix("dir one/").send().await.unwrap();
    let got: Vec<String> = out.contents().iter().map(|o| url_decode(o.key().unwrap())).collect();
    assert_eq!(got, vec!["dir one/file a.txt", "dir one/ünï.bin"]);
    assert_eq!(out.prefix().map(url_decode).as_deref(), Some("dir one/"));

    // v1 as well.
    let out = c.list_objects().bucket("enc").encoding_type(EncodingType::Url).send().await.unwrap();
    let raw: Vec<String> = out.contents().iter().map(|o| o.key().unwrap().to_string()).collect();
    assert!(raw.iter().all(|r| r.is_ascii() && !r.contains(' ')), "v1 keys not url-encoded: {raw:?}");
    let decoded: Vec<String> = raw.iter().map(|r| url_decode(r)).collect();
    assert_eq!(decoded, sorted, "url-decoded v1 keys");
}
