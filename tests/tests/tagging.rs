//! Bucket tagging through aws-sdk-s3: put, get, replace and delete a tag set, and
//! AWS's limits refused with InvalidTag.

use cairn_tests::aws_sdk_s3::types::{Tag, Tagging};
use cairn_tests::*;

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

fn tagging(tags: Vec<Tag>) -> Tagging {
    Tagging::builder().set_tag_set(Some(tags)).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_tag_sets() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "tagged").await;
    assert_s3_err("never set", c.get_bucket_tagging().bucket("tagged").send().await, 404, "NoSuchTagSet");
    let set = vec![tag("team", "vfx"), tag("cost-centre", "4711"), tag("empty", "")];
    c.put_bucket_tagging().bucket("tagged").tagging(tagging(set.clone())).send().await.unwrap();
    let got = c.get_bucket_tagging().bucket("tagged").send().await.unwrap();
    assert_eq!(got.tag_set(), set.as_slice());
    // A put replaces the whole set.
    c.put_bucket_tagging().bucket("tagged").tagging(tagging(vec![tag("team", "grading")])).send().await.unwrap();
    let got = c.get_bucket_tagging().bucket("tagged").send().await.unwrap();
    assert_eq!(got.tag_set(), [tag("team", "grading")]);

    let long_key = "k".repeat(129);
    let long_value = "v".repeat(257);
    let too_many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
    for (what, tags) in [
        ("51 tags", too_many),
        ("a duplicate key", vec![tag("a", "1"), tag("a", "2")]),
        ("an aws: key", vec![tag("aws:cloudformation", "x")]),
        ("an empty key", vec![tag("", "x")]),
        ("a 129-character key", vec![tag(&long_key, "x")]),
        ("a 257-character value", vec![tag("k", &long_value)]),
    ] {
        let r = c.put_bucket_tagging().bucket("tagged").tagging(tagging(tags)).send().await;
        assert_s3_err(what, r, 400, "InvalidTag");
    }
    // 50 tags and 128/256-character keys and values (counted in characters) are fine.
    let fifty: Vec<Tag> = (0..50).map(|i| tag(&format!("k{i}"), "v")).collect();
    c.put_bucket_tagging().bucket("tagged").tagging(tagging(fifty)).send().await.unwrap();
    let wide = vec![tag(&"é".repeat(128), &"ü".repeat(256))];
    c.put_bucket_tagging().bucket("tagged").tagging(tagging(wide.clone())).send().await.unwrap();
    assert_eq!(c.get_bucket_tagging().bucket("tagged").send().await.unwrap().tag_set(), wide.as_slice());

    c.delete_bucket_tagging().bucket("tagged").send().await.unwrap();
    assert_s3_err("after delete", c.get_bucket_tagging().bucket("tagged").send().await, 404, "NoSuchTagSet");
    assert_s3_err(
        "no such bucket",
        c.put_bucket_tagging().bucket("nothere").tagging(tagging(vec![tag("a", "b")])).send().await,
        404,
        "NoSuchBucket",
    );
    // The tag set goes with its bucket.
    c.put_bucket_tagging().bucket("tagged").tagging(tagging(vec![tag("a", "b")])).send().await.unwrap();
    c.delete_bucket().bucket("tagged").send().await.unwrap();
    create_bucket(&c, "tagged").await;
    assert_s3_err(
        "a new bucket of the same name",
        c.get_bucket_tagging().bucket("tagged").send().await,
        404,
        "NoSuchTagSet",
    );
}
