//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
//! GetBucketLocation, ListObjectVersions on an unversioned bucket.

use cairn_tests::aws_sdk_s3::types::EncodingType;
use cairn_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_buckets_pages_with_max_buckets_and_continuation_token() {
    let node = TestNode::start();
    let c = node.client();

    let empty = c.list_buckets().send().await.expect("list empty");
    assert!(empty.buckets().is_empty(), "fresh node lists buckets: {:?}", empty.buckets());

    // Created out of order; listed in lexicographic order.
    let names = ["lb-delta", "lb-alpha", "lb-golf", "lb-charlie", "lb-echo", "lb-bravo", "lb-foxtrot"];
    for n in names {
        create_bucket(&c, n).await;
    }
    let mut expected: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    expected.sort();

    let all = c.list_buckets().send().await.expect("list all");
    let got: Vec<String> = all.buckets().iter().map(|b| b.name().unwrap().to_string()).collect();
    assert_eq!(got, expected);
    for b in all.buckets() {
        assert!(b.creation_date().is_some(), "bucket {:?} has no CreationDate", b.name());
    }
    assert!(all.continuation_token().is_none(), "unpaged listing returned a continuation token");

    // max-buckets = 3: pages of 3, 3, 1.
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .list_buckets()
            .max_buckets(3)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("list page: {:?}", ErrInfo::from_sdk(&e)));
        let page: Vec<String> = out.buckets().iter().map(|b| b.name().unwrap().to_string()).collect();
        pages.push(page);
        assert!(pages.len() <= 10, "paging does not terminate: {pages:?}");
        match out.continuation_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    let sizes: Vec<usize> = pages.iter().map(|p| p.len()).collect();
    assert_eq!(sizes, vec![3, 3, 1], "page sizes with max-buckets=3: {pages:?}");
    let flat: Vec<String> = pages.concat();
    assert_eq!(flat, expected, "paged listing differs from full listing");

    // max-buckets = number of buckets: one page, no token.
    let out = c.list_buckets().max_buckets(7).send().await.expect("list 7");
    assert_eq!(out.buckets().len(), 7);
    assert!(
        out.continuation_token().is_none_or(|t| t.is_empty()),
        "no more buckets but got token {:?}",
        out.continuation_token()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_bucket_rejects_invalid_names() {
    let node = TestNode::start();
    let c = node.client();
    let long = "a".repeat(64);
    let invalid = [
        "ab",
        long.as_str(),
        "UpperCase",
        "under_score",
        "-leadingdash",
        "trailingdash-",
        ".leadingdot",
        "trailingdot.",
        "double..dot",
        "192.168.5.4",
        "xn--punycode",
        "with space",
    ];
    let mut wrong = Vec::new();
    for name in invalid {
        match c.create_bucket().bucket(name).send().await {
            Ok(_) => wrong.push(format!("{name:?}: created (want 400 InvalidBucketName)")),
            Err(e) => {
                let e = ErrInfo::from_sdk(&e);
                if e.status != Some(400) || e.code.as_deref() != Some("InvalidBucketName") {
                    wrong.push(format!("{name:?}: got {:?} {:?} (want 400 InvalidBucketName)", e.status, e.code));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "invalid bucket names not rejected properly:\n{}", wrong.join("\n"));
    let listed = c.list_buckets().send().await.unwrap();
    assert!(listed.buckets().is_empty(), "invalid names left buckets behind: {:?}", listed.buckets());

    // Boundary names that are valid.
    let max = "b".repeat(63);
    for name in ["abc", max.as_str(), "with.dots-and-1"] {
        c.create_bucket()
            .bucket(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("valid name {name:?} rejected: {:?}", ErrInfo::from_sdk(&e)));
        c.head_bucket().bucket(name).send().await.unwrap_or_else(|e| panic!("head {name}: {e:?}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_bucket_twice_by_its_owner_succeeds_in_us_east_1() {
    let node = TestNode::start();
    let (c, rec) = node.recording_client();
    create_bucket(&c, "twice").await;
    // us-east-1 answers the owner's repeated create with 200 (other regions: 409
    // BucketAlreadyOwnedByYou).
    c.create_bucket().bucket("twice").send().await.expect("second create by the owner");
    assert_eq!(rec.last(), Some(200));
    // Still exactly one bucket.
    let listed = c.list_buckets().send().await.unwrap();
    assert_eq!(listed.buckets().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_bucket_200_and_404() {
    let node = TestNode::start();
    let (c, rec) = node.recording_client();
    create_bucket(&c, "headme").await;
    c.head_bucket().bucket("headme").send().await.expect("head existing bucket");
    assert_eq!(rec.last(), Some(200));
    assert_status_err("head missing bucket", c.head_bucket().bucket("nosuchbucket").send().await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_bucket_not_empty_then_empty() {
    let node = TestNode::start();
    let (c, rec) = node.recording_client();
    create_bucket(&c, "full").await;
    put_bytes(&c, "full", "inline", random_bytes(1, 100)).await;
    put_bytes(&c, "full", "sharded", random_bytes(2, 100_000)).await;

    assert_s3_err("delete non-empty", c.delete_bucket().bucket("full").send().await, 409, "BucketNotEmpty");
    // Nothing was lost by the refused delete.
    c.head_bucket().bucket("full").send().await.expect("bucket survives refused delete");
    assert_eq!(list_all_keys(&c, "full").await, vec!["inline", "sharded"]);

    c.delete_object().bucket("full").key("inline").send().await.unwrap();
    assert_s3_err("delete with one object left", c.delete_bucket().bucket("full").send().await, 409, "BucketNotEmpty");
    c.delete_object().bucket("full").key("sharded").send().await.unwrap();

    c.delete_bucket().bucket("full").send().await.expect("delete emptied bucket");
    assert_eq!(rec.last(), Some(204), "DeleteBucket status");
    assert_status_err("head deleted bucket", c.head_bucket().bucket("full").send().await, 404);
    assert_s3_err("delete deleted bucket", c.delete_bucket().bucket("full").send().await, 404, "NoSuchBucket");
    assert!(c.list_buckets().send().await.unwrap().buckets().is_empty());

    // The name can be reused, and the new bucket is empty.
    create_bucket(&c, "full").await;
    assert!(list_all_keys(&c, "full").await.is_empty(), "recreated bucket shows old objects");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_bucket_location() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "located").await;
    let out = c.get_bucket_location().bucket("located").send().await.expect("get location");
    // us-east-1 is reported as an empty LocationConstraint, as AWS does.
    let loc = out.location_constraint().map(|l| l.as_str().to_string()).unwrap_or_default();
    assert_eq!(loc, "", "LocationConstraint for us-east-1");
    assert_s3_err(
        "location of missing bucket",
        c.get_bucket_location().bucket("nolocation").send().await,
        404,
        "NoSuchBucket",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_object_versions_on_unversioned_bucket() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "versions").await;
    let keys = ["a", "b/c", "with space", "ünï"];
    let mut etags = std::collections::HashMap::new();
    for (i, k) in keys.iter().enumerate() {
        let e = put_bytes(&c, "versions", k, random_bytes(i as u64, 10 + i * 5000)).await;
        etags.insert(k.to_string(), e);
    }
    // Overwrite one: still a single "null" version.
    let e = put_bytes(&c, "versions", "a", b"second".to_vec()).await;
    etags.insert("a".into(), e);

    let out = c.list_object_versions().bucket("versions").send().await.expect("list versions");
    let mut sorted: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
    sorted.sort();
    let got: Vec<String> = out.versions().iter().map(|v| v.key().unwrap().to_string()).collect();
    assert_eq!(got, sorted, "versions listing keys");
    for v in out.versions() {
        let k = v.key().unwrap();
        assert_eq!(v.version_id(), Some("null"), "VersionId of {k}");
        assert_eq!(v.is_latest(), Some(true), "IsLatest of {k}");
        assert_eq!(v.e_tag(), etags.get(k).map(|s| s.as_str()), "ETag of {k}");
        assert!(v.last_modified().is_some(), "LastModified of {k}");
    }
    assert_eq!(v_size(&out, "a"), 6);
    assert!(out.delete_markers().is_empty(), "unversioned bucket has delete markers");
    assert_ne!(out.is_truncated(), Some(true));

    let enc = c
        .list_object_versions()
        .bucket("versions")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .expect("list versions url");
    let raw: Vec<String> = enc.versions().iter().map(|v| v.key().unwrap().to_string()).collect();
    assert!(raw.iter().all(|k| k.is_ascii() && !k.contains(' ')), "encoding-type=url returned unencoded keys: {raw:?}");
    let decoded: Vec<String> = raw.iter().map(|k| url_decode(k)).collect();
    assert_eq!(decoded, sorted, "url-decoded version keys");
    for v in enc.versions() {
        assert_eq!(v.version_id(), Some("null"));
        assert_eq!(v.is_latest(), Some(true));
    }
}

fn v_size(out: &cairn_tests::aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput, key: &str) -> i64 {
    out.versions().iter().find(|v| v.key() == Some(key)).and_then(|v| v.size()).unwrap_or(-1)
}
