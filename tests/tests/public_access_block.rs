//! Block Public Access through aws-sdk-s3 and unsigned requests: each of the four
//! switches, honoured by the authorizer, and Put/Get/DeletePublicAccessBlock.

use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::aws_sdk_s3::types::{BucketCannedAcl, ObjectCannedAcl, PublicAccessBlockConfiguration};
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;
use serde_json::json;

fn block(acls: bool, ignore: bool, policy: bool, restrict: bool) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(acls)
        .ignore_public_acls(ignore)
        .block_public_policy(policy)
        .restrict_public_buckets(restrict)
        .build()
}

async fn set_block(c: &Client, bucket: &str, cfg: PublicAccessBlockConfiguration) {
    c.put_public_access_block().bucket(bucket).public_access_block_configuration(cfg).send().await.unwrap();
}

/// Status of an unsigned GET of `bucket/key`.
async fn anonymous_get(ep: &str, bucket: &str, key: &str) -> u16 {
    raw_http().get(format!("{ep}/{bucket}/{key}")).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_access_block_switches() {
    let node = TestNode::start();
    let c = node.client();
    let ep = node.endpoint().to_string();
    create_bucket(&c, "pab").await;
    assert_s3_err(
        "never set",
        c.get_public_access_block().bucket("pab").send().await,
        404,
        "NoSuchPublicAccessBlockConfiguration",
    );

    // Public ACLs work until the block says otherwise.
    let put = |key: &'static str, acl: Option<ObjectCannedAcl>| {
        c.put_object().bucket("pab").key(key).body(ByteStream::from_static(b"x")).set_acl(acl).send()
    };
    put("open", Some(ObjectCannedAcl::PublicRead)).await.unwrap();
    assert_eq!(anonymous_get(&ep, "pab", "open").await, 200);

    // IgnorePublicAcls: the public object is no longer readable anonymously.
    set_block(&c, "pab", block(false, true, false, false)).await;
    let got = c.get_public_access_block().bucket("pab").send().await.unwrap();
    let cfg = got.public_access_block_configuration().unwrap();
    assert_eq!(
        (cfg.block_public_acls(), cfg.ignore_public_acls(), cfg.block_public_policy(), cfg.restrict_public_buckets()),
        (Some(false), Some(true), Some(false), Some(false))
    );
    assert_eq!(anonymous_get(&ep, "pab", "open").await, 403);

    // BlockPublicAcls: setting a public ACL is refused, on objects and the bucket;
    // private ones still work, and nothing refused is stored.
    set_block(&c, "pab", block(true, false, false, false)).await;
    assert_eq!(anonymous_get(&ep, "pab", "open").await, 200, "only ignoring turns existing ACLs off");
    assert_s3_err("public-read PUT", put("new", Some(ObjectCannedAcl::PublicRead)).await, 403, "AccessDenied");
    assert_status_err("refused PUT stored nothing", c.head_object().bucket("pab").key("new").send().await, 404);
    put("new", Some(ObjectCannedAcl::Private)).await.unwrap();
    let r = c.put_object_acl().bucket("pab").key("new").acl(ObjectCannedAcl::AuthenticatedRead).send().await;
    assert_s3_err("authenticated-read PutObjectAcl", r, 403, "AccessDenied");
    let r = c.put_bucket_acl().bucket("pab").acl(BucketCannedAcl::PublicReadWrite).send().await;
    assert_s3_err("public-read-write PutBucketAcl", r, 403, "AccessDenied");
    let r =
        c.copy_object().bucket("pab").key("copy").copy_source("pab/new").acl(ObjectCannedAcl::PublicRead).send().await;
    assert_s3_err("public-read copy", r, 403, "AccessDenied");

    // BlockPublicPolicy: a public policy is refused, a restricted one is fine.
    set_block(&c, "pab", block(false, false, true, false)).await;
    let public = json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pab/*" }]
    })
    .to_string();
    let r = c.put_bucket_policy().bucket("pab").policy(&public).send().await;
    assert_s3_err("public policy", r, 403, "AccessDenied");
    assert_s3_err("nothing stored", c.get_bucket_policy().bucket("pab").send().await, 404, "NoSuchBucketPolicy");
    let private = json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "AWS": ["someone"] }, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pab/*" }]
    })
    .to_string();
    c.put_bucket_policy().bucket("pab").policy(&private).send().await.unwrap();

    // RestrictPublicBuckets: an existing public policy grants nothing to others.
    c.delete_public_access_block().bucket("pab").send().await.unwrap();
    assert_s3_err(
        "after delete",
        c.get_public_access_block().bucket("pab").send().await,
        404,
        "NoSuchPublicAccessBlockConfiguration",
    );
    c.put_bucket_policy().bucket("pab").policy(&public).send().await.unwrap();
    put("secret", None).await.unwrap();
    assert_eq!(anonymous_get(&ep, "pab", "secret").await, 200, "the public policy grants it");
    set_block(&c, "pab", block(false, false, false, true)).await;
    assert_eq!(anonymous_get(&ep, "pab", "secret").await, 403, "restricted");
    c.get_object().bucket("pab").key("secret").send().await.unwrap();
}
