//! Object tagging through aws-sdk-s3: `x-amz-tagging` on PUT, multipart and copy
//! (`x-amz-tagging-directive`), Put/Get/DeleteObjectTagging per version,
//! `x-amz-tagging-count` on GET and HEAD, AWS's limits, tags going with their version,
//! and the tag condition keys of bucket policies.

use cairn_tests::aws_sdk_s3::presigning::PresigningConfig;
use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, Tag, Tagging, TaggingDirective,
    VersioningConfiguration,
};
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;
use serde_json::{json, Value};
use std::time::Duration;

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

fn tagging(tags: Vec<Tag>) -> Tagging {
    Tagging::builder().set_tag_set(Some(tags)).build().unwrap()
}

async fn tags_of(c: &Client, bucket: &str, key: &str, version: Option<&str>) -> Vec<(String, String)> {
    let got = c.get_object_tagging().bucket(bucket).key(key).set_version_id(version.map(String::from)).send().await;
    got.unwrap().tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// `x-amz-tagging-count` of a HEAD, through a presigned URL.
async fn head_tag_count(c: &Client, bucket: &str, key: &str) -> Option<String> {
    let cfg = PresigningConfig::expires_in(Duration::from_secs(60)).unwrap();
    let p = c.head_object().bucket(bucket).key(key).presigned(cfg).await.unwrap();
    let r = raw_http().head(p.uri()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.headers().get("x-amz-tagging-count").map(|v| v.to_str().unwrap().to_string())
}

async fn put(c: &Client, bucket: &str, key: &str, body: &str, tags: Option<&str>) -> Option<String> {
    let r = c.put_object().bucket(bucket).key(key).body(ByteStream::from(body.as_bytes().to_vec()));
    r.set_tagging(tags.map(String::from)).send().await.unwrap().version_id().map(String::from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_tags_on_writes_and_by_version() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "tagobj").await;

    // On PUT, seen by GET (tag count), HEAD and GetObjectTagging, in the order given.
    put(&c, "tagobj", "a", "one", Some("team=vfx&shot=0420&note=a%20b")).await;
    assert_eq!(tags_of(&c, "tagobj", "a", None).await, pairs(&[("team", "vfx"), ("shot", "0420"), ("note", "a b")]));
    assert_eq!(c.get_object().bucket("tagobj").key("a").send().await.unwrap().tag_count(), Some(3));
    assert_eq!(head_tag_count(&c, "tagobj", "a").await.as_deref(), Some("3"));
    // PutObjectTagging replaces the set; DeleteObjectTagging empties it.
    c.put_object_tagging().bucket("tagobj").key("a").tagging(tagging(vec![tag("k", "v")])).send().await.unwrap();
    assert_eq!(tags_of(&c, "tagobj", "a", None).await, pairs(&[("k", "v")]));
    c.delete_object_tagging().bucket("tagobj").key("a").send().await.unwrap();
    assert!(tags_of(&c, "tagobj", "a", None).await.is_empty());
    assert_eq!(c.get_object().bucket("tagobj").key("a").send().await.unwrap().tag_count(), None);
    assert_eq!(head_tag_count(&c, "tagobj", "a").await, None);

    // AWS's limits: InvalidTag, and nothing stored.
    let eleven: Vec<Tag> = (0..11).map(|i| tag(&format!("k{i}"), "v")).collect();
    let r = c.put_object_tagging().bucket("tagobj").key("a").tagging(tagging(eleven)).send().await;
    assert_s3_err("11 tags", r, 400, "InvalidTag");
    let ten: Vec<Tag> = (0..10).map(|i| tag(&format!("k{i}"), "v")).collect();
    c.put_object_tagging().bucket("tagobj").key("a").tagging(tagging(ten)).send().await.unwrap();
    for (what, header) in [("a duplicate key", "a=1&a=2"), ("an aws: key", "aws:x=1"), ("an empty key", "=v")] {
        let r = c
            .put_object()
            .bucket("tagobj")
            .key("refused")
            .body(ByteStream::from_static(b"x"))
            .tagging(header)
            .send()
            .await;
        assert_s3_err(what, r, 400, "InvalidTag");
        assert_status_err(what, c.head_object().bucket("tagobj").key("refused").send().await, 404);
    }
    let r = c.put_object_tagging().bucket("tagobj").key("nothere").tagging(tagging(vec![tag("a", "b")])).send().await;
    assert_s3_err("no such key", r, 404, "NoSuchKey");

    // An overwrite in an unversioned bucket replaces the tags with the new version's.
    put(&c, "tagobj", "a", "two", None).await;
    assert!(tags_of(&c, "tagobj", "a", None).await.is_empty(), "the old version's tags went with it");

    // Multipart: the upload's tags land on the object.
    let up = c.create_multipart_upload().bucket("tagobj").key("mp").tagging("kind=mp").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket("tagobj")
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .unwrap();
    let done = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
        .build();
    c.complete_multipart_upload().bucket("tagobj").key("mp").upload_id(id).multipart_upload(done).send().await.unwrap();
    assert_eq!(tags_of(&c, "tagobj", "mp", None).await, pairs(&[("kind", "mp")]));

    // Copy: COPY (the default) takes the source's tags, REPLACE the request's.
    put(&c, "tagobj", "src", "s", Some("from=src")).await;
    c.copy_object().bucket("tagobj").key("c1").copy_source("tagobj/src").send().await.unwrap();
    assert_eq!(tags_of(&c, "tagobj", "c1", None).await, pairs(&[("from", "src")]));
    c.copy_object()
        .bucket("tagobj")
        .key("c2")
        .copy_source("tagobj/src")
        .tagging_directive(TaggingDirective::Replace)
        .tagging("new=1")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, "tagobj", "c2", None).await, pairs(&[("new", "1")]));

    // Versioned: each version keeps its own set; versionId names one.
    create_bucket(&c, "tagver").await;
    let on = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    c.put_bucket_versioning().bucket("tagver").versioning_configuration(on).send().await.unwrap();
    let v1 = put(&c, "tagver", "k", "1", Some("n=1")).await.unwrap();
    let v2 = put(&c, "tagver", "k", "2", Some("n=2")).await.unwrap();
    assert_eq!(tags_of(&c, "tagver", "k", Some(&v1)).await, pairs(&[("n", "1")]));
    assert_eq!(tags_of(&c, "tagver", "k", None).await, pairs(&[("n", "2")]));
    let r = c
        .put_object_tagging()
        .bucket("tagver")
        .key("k")
        .version_id(&v1)
        .tagging(tagging(vec![tag("n", "one")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version_id(), Some(v1.as_str()));
    assert_eq!(tags_of(&c, "tagver", "k", Some(&v1)).await, pairs(&[("n", "one")]));
    assert_eq!(tags_of(&c, "tagver", "k", Some(&v2)).await, pairs(&[("n", "2")]));
    let got = c.get_object().bucket("tagver").key("k").version_id(&v1).send().await.unwrap();
    assert_eq!(got.tag_count(), Some(1));
    // A delete marker has no tags: naming it is 405, and the key's current is 404.
    let marker = c.delete_object().bucket("tagver").key("k").send().await.unwrap().version_id().unwrap().to_string();
    let r = c.put_object_tagging().bucket("tagver").key("k").version_id(&marker).tagging(tagging(vec![])).send().await;
    assert_s3_err("tags of a marker", r, 405, "MethodNotAllowed");
    let r = c.get_object_tagging().bucket("tagver").key("k").send().await;
    assert_s3_err("tags behind a marker", r, 404, "NoSuchKey");
    let r = c.get_object_tagging().bucket("tagver").key("k").version_id("00000000000000000000000000").send().await;
    assert_s3_err("tags of no such version", r, 404, "NoSuchVersion");
    // Removing a version for good takes its tags, and only its.
    c.delete_object().bucket("tagver").key("k").version_id(&v2).send().await.unwrap();
    assert_eq!(tags_of(&c, "tagver", "k", Some(&v1)).await, pairs(&[("n", "one")]));
    let r = c.get_object_tagging().bucket("tagver").key("k").version_id(&v2).send().await;
    assert_s3_err("tags of a removed version", r, 404, "NoSuchVersion");

    // Tags survive a restart.
    let mut node = node;
    node.restart(false);
    let c = node.client();
    assert_eq!(tags_of(&c, "tagver", "k", Some(&v1)).await, pairs(&[("n", "one")]));
    assert_eq!(tags_of(&c, "tagobj", "mp", None).await, pairs(&[("kind", "mp")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_decide_on_tags() {
    let node = TestNode::start();
    let c = node.client();
    let ep = node.endpoint().to_string();
    create_bucket(&c, "tagpol").await;
    let (status, text) = node.admin("POST", "keys", br#"{"name":"bob"}"#).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let bob = ClientBuilder::new(&ep)
        .credentials(v["access_key_id"].as_str().unwrap(), v["secret_access_key"].as_str().unwrap())
        .build();
    let bob_arn = v["access_key_id"].as_str().unwrap().to_string();
    let doc = json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": { "AWS": [bob_arn] },
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::tagpol/*",
                "Condition": { "StringEquals": { "s3:ExistingObjectTag/class": "public" } }
            },
            {
                "Effect": "Allow",
                "Principal": { "AWS": [bob_arn] },
                "Action": ["s3:PutObject", "s3:PutObjectTagging"],
                "Resource": "arn:aws:s3:::tagpol/*",
                "Condition": {
                    "StringEquals": { "s3:RequestObjectTag/team": "blue" },
                    "ForAllValues:StringEquals": { "s3:RequestObjectTagKeys": ["team", "class"] }
                }
            }
        ]
    });
    c.put_bucket_policy().bucket("tagpol").policy(doc.to_string()).send().await.unwrap();
    put(&c, "tagpol", "open", "o", Some("class=public")).await;
    put(&c, "tagpol", "closed", "c", Some("class=secret")).await;
    put(&c, "tagpol", "untagged", "u", None).await;
    bob.get_object().bucket("tagpol").key("open").send().await.unwrap();
    for key in ["closed", "untagged"] {
        assert_s3_err(key, bob.get_object().bucket("tagpol").key(key).send().await, 403, "AccessDenied");
    }
    // Retagging changes what the policy allows at once.
    c.put_object_tagging()
        .bucket("tagpol")
        .key("closed")
        .tagging(tagging(vec![tag("class", "public")]))
        .send()
        .await
        .unwrap();
    bob.get_object().bucket("tagpol").key("closed").send().await.unwrap();

    // Request tags: from the header on PUT, from the body on PutObjectTagging.
    let r = bob
        .put_object()
        .bucket("tagpol")
        .key("b1")
        .body(ByteStream::from_static(b"x"))
        .tagging("team=blue")
        .send()
        .await;
    r.unwrap();
    for (what, header) in [("another team", "team=red"), ("no tags", ""), ("an extra key", "team=blue&cost=1")] {
        let r = bob
            .put_object()
            .bucket("tagpol")
            .key("b2")
            .body(ByteStream::from_static(b"x"))
            .tagging(header)
            .send()
            .await;
        assert_s3_err(what, r, 403, "AccessDenied");
    }
    assert_status_err("refused put stored nothing", c.head_object().bucket("tagpol").key("b2").send().await, 404);
    let r = bob.put_object_tagging().bucket("tagpol").key("b1").tagging(tagging(vec![tag("team", "red")])).send().await;
    assert_s3_err("retag to another team", r, 403, "AccessDenied");
    assert_eq!(tags_of(&c, "tagpol", "b1", None).await, pairs(&[("team", "blue")]), "a refused retag changes nothing");
    let both = tagging(vec![tag("team", "blue"), tag("class", "public")]);
    bob.put_object_tagging().bucket("tagpol").key("b1").tagging(both).send().await.unwrap();
    bob.get_object().bucket("tagpol").key("b1").send().await.unwrap();
}
