//! S3 Object Ownership through aws-sdk-s3: Put/Get/DeleteBucketOwnershipControls,
//! CreateBucket's `x-amz-object-ownership`, and what each rule does: the owner of new
//! objects, ACLs refused with AccessControlListNotSupported, and ACL grants that stop
//! counting once ACLs are off.

use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::aws_sdk_s3::types::{
    BucketCannedAcl, ObjectCannedAcl, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
};
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;

fn controls(rule: ObjectOwnership) -> OwnershipControls {
    OwnershipControls::builder()
        .rules(OwnershipControlsRule::builder().object_ownership(rule).build().unwrap())
        .build()
        .unwrap()
}

/// A second key, allowed by policy to write and read `bucket`; answers its client and
/// its canonical owner id.
async fn writer(node: &TestNode, root: &Client, bucket: &str) -> (Client, String) {
    let (status, text) = admin_request(node.endpoint(), "POST", "keys", br#"{"name":"writer"}"#).await;
    assert_eq!(status, 200, "{text}");
    let key: serde_json::Value = serde_json::from_str(&text).unwrap();
    let id = key["access_key_id"].as_str().unwrap();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": [id] },
            "Action": ["s3:PutObject", "s3:GetObject", "s3:GetObjectAcl"],
            "Resource": [format!("arn:aws:s3:::{bucket}/*")],
        }],
    });
    root.put_bucket_policy().bucket(bucket).policy(policy.to_string()).send().await.unwrap();
    let c = ClientBuilder::new(node.endpoint()).credentials(id, key["secret_access_key"].as_str().unwrap()).build();
    (c, key["owner_id"].as_str().unwrap().to_string())
}

async fn owner_of(c: &Client, bucket: &str, key: &str) -> String {
    let acl = c.get_object_acl().bucket(bucket).key(key).send().await.unwrap();
    acl.owner().unwrap().id().unwrap().to_string()
}

fn body() -> ByteStream {
    ByteStream::from_static(b"frame")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_owner_enforced_turns_acls_off() {
    let node = TestNode::start();
    let root = node.client();
    let r = root
        .create_bucket()
        .bucket("bad")
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await;
    assert_s3_err("enforced with a public ACL", r, 400, "InvalidBucketAclWithObjectOwnership");
    root.create_bucket().bucket("owned").object_ownership(ObjectOwnership::BucketOwnerEnforced).send().await.unwrap();
    let got = root.get_bucket_ownership_controls().bucket("owned").send().await.unwrap();
    let rules = got.ownership_controls().unwrap().rules();
    assert_eq!(rules[0].object_ownership(), &ObjectOwnership::BucketOwnerEnforced);
    let root_owner = owner_of_bucket(&root, "owned").await;

    let (w, w_owner) = writer(&node, &root, "owned").await;
    w.put_object().bucket("owned").key("a").body(body()).send().await.unwrap();
    assert_eq!(owner_of(&root, "owned", "a").await, root_owner, "the bucket owner owns what others write");
    assert_ne!(w_owner, root_owner);
    let r = w.put_object().bucket("owned").key("b").acl(ObjectCannedAcl::PublicRead).body(body()).send().await;
    assert_s3_err("a public ACL on PUT", r, 400, "AccessControlListNotSupported");
    w.put_object()
        .bucket("owned")
        .key("b")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(body())
        .send()
        .await
        .expect("bucket-owner-full-control is allowed");
    let r = root.put_object_acl().bucket("owned").key("a").acl(ObjectCannedAcl::PublicRead).send().await;
    assert_s3_err("PutObjectAcl", r, 400, "AccessControlListNotSupported");
    let r = root.put_bucket_acl().bucket("owned").acl(BucketCannedAcl::PublicRead).send().await;
    assert_s3_err("PutBucketAcl", r, 400, "AccessControlListNotSupported");
    let r = root.create_multipart_upload().bucket("owned").key("m").acl(ObjectCannedAcl::PublicRead).send().await;
    assert_s3_err("a public ACL on CreateMultipartUpload", r, 400, "AccessControlListNotSupported");

    root.delete_bucket_ownership_controls().bucket("owned").send().await.unwrap();
    assert_s3_err(
        "after delete",
        root.get_bucket_ownership_controls().bucket("owned").send().await,
        404,
        "OwnershipControlsNotFoundError",
    );
}

async fn owner_of_bucket(c: &Client, bucket: &str) -> String {
    c.get_bucket_acl().bucket(bucket).send().await.unwrap().owner().unwrap().id().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_grants_stop_counting_when_enforced_and_preferred_takes_full_control() {
    let node = TestNode::start();
    let root = node.client();
    create_bucket(&root, "media").await;
    assert_s3_err(
        "never set",
        root.get_bucket_ownership_controls().bucket("media").send().await,
        404,
        "OwnershipControlsNotFoundError",
    );
    root.put_object().bucket("media").key("poster").acl(ObjectCannedAcl::PublicRead).body(body()).send().await.unwrap();
    let url = format!("{}/media/poster", node.endpoint());
    let anon = |u: String| async move { raw_http().get(u).send().await.unwrap().status().as_u16() };
    assert_eq!(anon(url.clone()).await, 200, "a public-read ACL lets anyone read");
    root.put_bucket_ownership_controls()
        .bucket("media")
        .ownership_controls(controls(ObjectOwnership::BucketOwnerEnforced))
        .send()
        .await
        .unwrap();
    assert_eq!(anon(url.clone()).await, 403, "ACLs grant nothing once they are off");

    // BucketOwnerPreferred: the bucket owner takes what is written with full control.
    root.put_bucket_ownership_controls()
        .bucket("media")
        .ownership_controls(controls(ObjectOwnership::BucketOwnerPreferred))
        .send()
        .await
        .unwrap();
    assert_eq!(anon(url).await, 200, "ACLs count again");
    let root_owner = owner_of_bucket(&root, "media").await;
    let (w, w_owner) = writer(&node, &root, "media").await;
    w.put_object().bucket("media").key("mine").body(body()).send().await.unwrap();
    assert_eq!(owner_of(&root, "media", "mine").await, w_owner);
    w.put_object()
        .bucket("media")
        .key("theirs")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(body())
        .send()
        .await
        .unwrap();
    assert_eq!(owner_of(&root, "media", "theirs").await, root_owner);
    let r = root
        .put_bucket_ownership_controls()
        .bucket("media")
        .ownership_controls(controls(ObjectOwnership::from("Everyone")))
        .send()
        .await;
    assert_s3_err("an unknown rule", r, 400, "InvalidArgument");
}
