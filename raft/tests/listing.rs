//! Listing: prefix, delimiter, markers, paging, unicode, bucket isolation — checked
//! against a brute-force model.

mod common;

use cairn_raft::schema::ListPage;
use cairn_raft::MetaStore;
use common::*;

/// Brute force S3 listing over a sorted key list.
fn model(
    keys: &[String],
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max_keys: usize,
) -> (Vec<String>, Vec<String>, bool) {
    let delimiter = delimiter.filter(|d| !d.is_empty());
    let mut entries: Vec<(bool, String)> = Vec::new(); // (is_prefix, name)
    for k in keys {
        if !k.starts_with(prefix) || after.is_some_and(|a| k.as_str() <= a) {
            continue;
        }
        let cp = delimiter.and_then(|d| k[prefix.len()..].find(d).map(|i| k[..prefix.len() + i + d.len()].to_string()));
        match cp {
            Some(cp) => {
                if after.is_some_and(|a| a.starts_with(&cp)) {
                    continue;
                }
                if entries.last().is_some_and(|(p, n)| *p && *n == cp) {
                    continue;
                }
                entries.push((true, cp));
            }
            None => entries.push((false, k.clone())),
        }
    }
    let truncated = entries.len() > max_keys;
    entries.truncate(max_keys);
    let objects = entries.iter().filter(|e| !e.0).map(|e| e.1.clone()).collect();
    let prefixes = entries.iter().filter(|e| e.0).map(|e| e.1.clone()).collect();
    (objects, prefixes, truncated)
}

fn names(p: &ListPage) -> Vec<String> {
    p.objects.iter().map(|(k, _)| k.clone()).collect()
}

fn key_set() -> Vec<String> {
    let mut keys: Vec<String> = [
        "a",
        "a/",
        "a//b",
        "a/b",
        "a/b/c",
        "ab",
        "dir",
        "dir/",
        "dir//x",
        "dir///y",
        "dir/a",
        "dir/b",
        "dir/b/c",
        "dir/sub",
        "dir/sub/",
        "dir0",
        "dir~",
        "/lead",
        "//double",
        "unicode/é",
        "unicode/éa",
        "unicode/日本/語",
        "unicode/日本/x",
        "unicode/z",
        "ü",
        "ü/ü",
        "z",
        "zz/top",
        "x\u{1}y",
        "x y",
        "emoji/😀/a",
        "emoji/😀/b",
        "emoji/😀",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for i in 0..300 {
        keys.push(format!("dir/sub/k{i:04}"));
    }
    for i in 0..40 {
        keys.push(format!("dir/sub/deep{}/x{i}", i % 4));
    }
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_matches_model() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    for b in ["a", "ab", "b", "empty"] {
        create_bucket(&s, b).await;
    }
    let keys = key_set();
    put_all(&s, "ab", &keys).await;
    // Neighbours that must never leak into bucket "ab": "a" + "b..." and "b".
    let leak: Vec<String> = ["b", "bdir/x", "b/dir", "\u{10FFFF}"].iter().map(|s| s.to_string()).collect();
    put_all(&s, "a", &leak).await;
    put_all(&s, "b", &leak).await;

    let prefixes = [
        "",
        "d",
        "dir",
        "dir/",
        "dir/sub/",
        "dir/sub/deep1/",
        "unicode/",
        "unicode/日本",
        "emoji/😀",
        "nope",
        "a",
        "/",
    ];
    let delims = [None, Some("/"), Some("//"), Some("sub"), Some("é"), Some("")];
    let afters = [
        None,
        Some(""),
        Some("0"),
        Some("a/"),
        Some("dir"),
        Some("dir/"),
        Some("dir/a"),
        Some("dir/sub/"),
        Some("dir/sub/k0100"),
        Some("dir/sub/deep2/x"),
        Some("unicode/日"),
        Some("unicode/日本/"),
        Some("zzz"),
        Some("\u{10FFFF}"),
    ];
    let mut checked = 0;
    for prefix in prefixes {
        for delim in delims {
            for after in afters {
                for max in [1usize, 2, 3, 1000] {
                    let page = s.list_objects("ab", prefix, delim, after, max).unwrap();
                    let (objs, cps, trunc) = model(&keys, prefix, delim, after, max);
                    let ctx = format!("prefix={prefix:?} delim={delim:?} after={after:?} max={max}");
                    assert_eq!(names(&page), objs, "{ctx}");
                    assert_eq!(page.common_prefixes, cps, "{ctx}");
                    assert_eq!(page.is_truncated, trunc, "{ctx}");
                    for (k, v) in &page.objects {
                        assert_eq!(v.etag, *k, "{ctx}");
                    }
                    checked += 1;
                }
            }
        }
    }
    println!("checked {checked} listings");

    // Bucket isolation: "a" sees only its own keys.
    let page = s.list_objects("a", "", None, None, 1000).unwrap();
    let mut sorted = leak.clone();
    sorted.sort();
    assert_eq!(names(&page), sorted);
    let page = s.list_objects("a", "b", Some("/"), None, 1000).unwrap();
    assert_eq!(names(&page), vec!["b".to_string()]);
    assert_eq!(page.common_prefixes, vec!["b/".to_string(), "bdir/".to_string()]);
    assert!(s.list_objects("empty", "", None, None, 1000).unwrap() == ListPage::default());
    assert!(s.list_objects("missing", "", None, None, 1000).unwrap() == ListPage::default());
    assert!(!s.bucket_has_objects("empty").unwrap());

    // max_keys == 0
    let page = s.list_objects("ab", "", None, None, 0).unwrap();
    assert_eq!(page, ListPage::default());
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delimiter_rolls_up_many_keys() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "photos").await;
    let mut keys = Vec::new();
    for d in ["2023", "2024", "2025"] {
        for i in 0..400 {
            keys.push(format!("{d}/img{i:04}.jpg"));
        }
    }
    keys.push("index.html".into());
    keys.push("2024.txt".into());
    put_all(&s, "photos", &keys).await;

    let page = s.list_objects("photos", "", Some("/"), None, 1000).unwrap();
    assert_eq!(page.common_prefixes, vec!["2023/", "2024/", "2025/"]);
    assert_eq!(names(&page), vec!["2024.txt", "index.html"]);
    assert!(!page.is_truncated);

    let page = s.list_objects("photos", "", Some("/"), None, 2).unwrap();
    assert_eq!(page.common_prefixes, vec!["2023/"]);
    assert_eq!(names(&page), vec!["2024.txt"]);
    assert!(page.is_truncated);
    assert_eq!(page.next_marker.as_deref(), Some("2024.txt"));

    // Marker equal to a common prefix, and marker inside one: resume past it.
    for after in ["2024/", "2024/img0007.jpg", "2024/zzz"] {
        let page = s.list_objects("photos", "", Some("/"), Some(after), 1000).unwrap();
        assert_eq!(page.common_prefixes, vec!["2025/"], "after {after}");
        assert_eq!(names(&page), vec!["index.html"], "after {after}");
    }
    let page = s.list_objects("photos", "2024/", Some("/"), Some("2024/img0397.jpg"), 1000).unwrap();
    assert_eq!(names(&page), vec!["2024/img0398.jpg", "2024/img0399.jpg"]);
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_returns_every_entry_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    create_bucket(&s, "ab").await;
    create_bucket(&s, "a").await;
    let keys = key_set();
    put_all(&s, "ab", &keys).await;
    put_all(&s, "a", &["bz".to_string(), "c".to_string()]).await;
    for (prefix, delim) in
        [("", None), ("", Some("/")), ("dir/", Some("/")), ("dir/sub/", None), ("unicode/", Some("/"))]
    {
        let full = s.list_objects("ab", prefix, delim, None, 100_000).unwrap();
        assert!(!full.is_truncated);
        let mut expect: Vec<String> = names(&full);
        expect.extend(full.common_prefixes.iter().cloned());
        expect.sort();
        for max in 1..=7 {
            let mut got: Vec<String> = Vec::new();
            let mut marker: Option<String> = None;
            let mut pages = 0;
            loop {
                let page = s.list_objects("ab", prefix, delim, marker.as_deref(), max).unwrap();
                pages += 1;
                let n = page.objects.len() + page.common_prefixes.len();
                assert!(n <= max);
                let mut this: Vec<String> = names(&page);
                this.extend(page.common_prefixes.iter().cloned());
                this.sort();
                if let Some(last) = this.last() {
                    assert_eq!(page.next_marker.as_ref(), Some(last));
                }
                got.extend(this);
                if !page.is_truncated {
                    break;
                }
                assert_eq!(n, max);
                marker = page.next_marker.clone();
                assert!(pages < 10_000);
            }
            assert_eq!(got, expect, "prefix={prefix:?} delim={delim:?} max={max}");
        }
    }
    s.shutdown().await.unwrap();
}
