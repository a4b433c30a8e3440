//! Bucket lifecycle end to end, on a real node whose lifecycle day is two seconds
//! (`--lifecycle-day-secs 2`): configurations validated and read back as S3 does,
//! `x-amz-expiration` and the abort date announced, and the worker expiring current
//! and noncurrent versions, lone delete markers and incomplete uploads by prefix, tag
//! and size, never a version under legal hold; its progress through `cairn lifecycle
//! status` and `/metrics`.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator, LifecycleRuleFilter, NoncurrentVersionExpiration,
    ObjectLockLegalHold, ObjectLockLegalHoldStatus, Tag, Transition, TransitionStorageClass, VersioningConfiguration,
};
use aws_sdk_s3::Client;
use cairn_tests::*;
use std::time::{Duration, Instant};

const DAY_SECS: &str = "2";

fn start() -> TestNode {
    TestNode::start_with(&["--lifecycle-day-secs", DAY_SECS])
}

fn prefix(p: &str) -> LifecycleRuleFilter {
    LifecycleRuleFilter::builder().prefix(p).build()
}

fn rule(id: &str, filter: LifecycleRuleFilter) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder().id(id).filter(filter).status(ExpirationStatus::Enabled)
}

fn days(n: i32) -> LifecycleExpiration {
    LifecycleExpiration::builder().days(n).build()
}

async fn put_rules(c: &Client, bucket: &str, rules: Vec<LifecycleRule>) -> Result<(), ErrInfo> {
    let config = BucketLifecycleConfiguration::builder().set_rules(Some(rules)).build().unwrap();
    match c.put_bucket_lifecycle_configuration().bucket(bucket).lifecycle_configuration(config).send().await {
        Ok(_) => Ok(()),
        Err(e) => Err(ErrInfo::from_sdk(&e)),
    }
}

fn refused(what: &str, r: Result<(), ErrInfo>, status: u16, code: &str) {
    let e = r.err().unwrap_or_else(|| panic!("{what}: accepted"));
    assert_eq!((e.status, e.code.as_deref()), (Some(status), Some(code)), "{what}: {e:?}");
}

async fn put(c: &Client, bucket: &str, key: &str, body: &[u8]) -> aws_sdk_s3::operation::put_object::PutObjectOutput {
    c.put_object().bucket(bucket).key(key).body(body.to_vec().into()).send().await.unwrap()
}

async fn keys(c: &Client, bucket: &str) -> Vec<String> {
    let out = c.list_objects_v2().bucket(bucket).send().await.unwrap();
    out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
}

/// (key, version id, is a delete marker) of every version in `bucket`.
async fn versions(c: &Client, bucket: &str) -> Vec<(String, String, bool)> {
    let out = c.list_object_versions().bucket(bucket).send().await.unwrap();
    let mut v: Vec<_> = out
        .versions()
        .iter()
        .map(|v| (v.key().unwrap().to_string(), v.version_id().unwrap_or("null").to_string(), false))
        .chain(
            out.delete_markers()
                .iter()
                .map(|m| (m.key().unwrap().to_string(), m.version_id().unwrap_or("null").to_string(), true)),
        )
        .collect();
    v.sort();
    v
}

/// Waits (up to a minute) for `done`, polling.
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within a minute");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn status(node: &TestNode) -> serde_json::Value {
    let out = cairn_tests::cluster::cairn(node.endpoint(), &["lifecycle", "status", "--json"]);
    assert!(out.status.success(), "{}", cairn_tests::cluster::stderr(&out));
    serde_json::from_str(&cairn_tests::cluster::stdout(&out)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configurations_are_validated_and_read_back() {
    let node = start();
    let c = node.client();
    c.create_bucket().bucket("conf").send().await.unwrap();
    let r = c.get_bucket_lifecycle_configuration().bucket("conf").send().await;
    assert_s3_err("no configuration yet", r, 404, "NoSuchLifecycleConfiguration");
    let r = c.get_bucket_lifecycle_configuration().bucket("nosuch").send().await;
    assert_s3_err("no bucket", r, 404, "NoSuchBucket");

    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().unwrap();
    let and = LifecycleRuleAndOperator::builder()
        .prefix("raw/")
        .tags(tag("class", "tmp"))
        .object_size_greater_than(100)
        .object_size_less_than(10_000)
        .build();
    let rules = vec![
        rule("logs", prefix("logs/")).expiration(days(30)).build().unwrap(),
        rule("raw", LifecycleRuleFilter::builder().and(and).build()).expiration(days(7)).build().unwrap(),
        rule("versions", prefix(""))
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder().noncurrent_days(3).newer_noncurrent_versions(2).build(),
            )
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder().days_after_initiation(1).build(),
            )
            .status(ExpirationStatus::Disabled)
            .build()
            .unwrap(),
    ];
    put_rules(&c, "conf", rules).await.unwrap();
    let got = c.get_bucket_lifecycle_configuration().bucket("conf").send().await.unwrap();
    let got = got.rules();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].id(), Some("logs"));
    assert_eq!(got[0].filter().unwrap().prefix(), Some("logs/"));
    assert_eq!(got[0].expiration().unwrap().days(), Some(30));
    let and = got[1].filter().unwrap().and().expect("the And filter comes back as And");
    assert_eq!(
        (and.prefix(), and.object_size_greater_than(), and.object_size_less_than()),
        (Some("raw/"), Some(100), Some(10_000))
    );
    assert_eq!(and.tags().len(), 1);
    assert_eq!(got[2].status(), &ExpirationStatus::Disabled);
    let nc = got[2].noncurrent_version_expiration().unwrap();
    assert_eq!((nc.noncurrent_days(), nc.newer_noncurrent_versions()), (Some(3), Some(2)));
    assert_eq!(got[2].abort_incomplete_multipart_upload().unwrap().days_after_initiation(), Some(1));

    // Refusals, as AWS answers them; nothing replaces the stored configuration.
    let one = |r: aws_sdk_s3::types::builders::LifecycleRuleBuilder| vec![r.build().unwrap()];
    let r = put_rules(&c, "conf", one(rule("zero", prefix("")).expiration(days(0)))).await;
    refused("Days 0", r, 400, "InvalidArgument");
    let both = LifecycleExpiration::builder().days(1).date(aws_sdk_s3::primitives::DateTime::from_secs(86_400)).build();
    refused(
        "Days and Date",
        put_rules(&c, "conf", one(rule("both", prefix("")).expiration(both))).await,
        400,
        "MalformedXML",
    );
    let noon =
        LifecycleExpiration::builder().date(aws_sdk_s3::primitives::DateTime::from_secs(86_400 + 43_200)).build();
    refused(
        "a Date not at midnight",
        put_rules(&c, "conf", one(rule("noon", prefix("")).expiration(noon))).await,
        400,
        "InvalidArgument",
    );
    let dup = vec![
        rule("same", prefix("a")).expiration(days(1)).build().unwrap(),
        rule("same", prefix("b")).expiration(days(1)).build().unwrap(),
    ];
    refused("duplicate IDs", put_rules(&c, "conf", dup).await, 400, "InvalidArgument");
    let long = "x".repeat(256);
    refused(
        "a 256-character ID",
        put_rules(&c, "conf", one(rule(&long, prefix("")).expiration(days(1)))).await,
        400,
        "InvalidArgument",
    );
    refused("no action", put_rules(&c, "conf", one(rule("idle", prefix("")))).await, 400, "InvalidRequest");
    let tagged = LifecycleRuleFilter::builder().tag(tag("a", "b")).build();
    let eodm = LifecycleExpiration::builder().expired_object_delete_marker(true).build();
    refused(
        "ExpiredObjectDeleteMarker with a tag",
        put_rules(&c, "conf", one(rule("t", tagged.clone()).expiration(eodm))).await,
        400,
        "InvalidRequest",
    );
    let abort = AbortIncompleteMultipartUpload::builder().days_after_initiation(1).build();
    refused(
        "an upload abort with a tag",
        put_rules(&c, "conf", one(rule("t", tagged).abort_incomplete_multipart_upload(abort))).await,
        400,
        "InvalidRequest",
    );
    let two = LifecycleRuleFilter::builder().prefix("a").object_size_greater_than(5).build();
    refused(
        "a Filter with two conditions outside And",
        put_rules(&c, "conf", one(rule("two", two).expiration(days(1)))).await,
        400,
        "MalformedXML",
    );
    let sizes = LifecycleRuleFilter::builder()
        .and(LifecycleRuleAndOperator::builder().object_size_greater_than(10).object_size_less_than(10).build())
        .build();
    refused(
        "sizes that leave nothing",
        put_rules(&c, "conf", one(rule("s", sizes).expiration(days(1)))).await,
        400,
        "InvalidArgument",
    );
    let many = NoncurrentVersionExpiration::builder().noncurrent_days(1).newer_noncurrent_versions(101).build();
    refused(
        "NewerNoncurrentVersions 101",
        put_rules(&c, "conf", one(rule("n", prefix("")).noncurrent_version_expiration(many))).await,
        400,
        "InvalidArgument",
    );
    let lower = LifecycleRule::builder()
        .id("l")
        .filter(prefix(""))
        .status(ExpirationStatus::from("enabled"))
        .expiration(days(1));
    refused("Status enabled", put_rules(&c, "conf", one(lower)).await, 400, "MalformedXML");
    let tr = Transition::builder().days(30).storage_class(TransitionStorageClass::Glacier).build();
    refused(
        "a transition to an S3 class this cluster does not have",
        put_rules(&c, "conf", one(rule("cold", prefix("")).transitions(tr))).await,
        501,
        "NotImplemented",
    );
    let tr = Transition::builder().days(30).storage_class(TransitionStorageClass::from("FROZEN")).build();
    refused(
        "a transition to a name that is no class",
        put_rules(&c, "conf", one(rule("cold", prefix("")).transitions(tr))).await,
        400,
        "InvalidStorageClass",
    );
    let got = c.get_bucket_lifecycle_configuration().bucket("conf").send().await.unwrap();
    assert_eq!(got.rules().len(), 3, "refused configurations change nothing");

    // A rule without an ID gets one.
    let anon = vec![LifecycleRule::builder()
        .filter(prefix(""))
        .status(ExpirationStatus::Enabled)
        .expiration(days(1))
        .build()
        .unwrap()];
    put_rules(&c, "conf", anon).await.unwrap();
    let got = c.get_bucket_lifecycle_configuration().bucket("conf").send().await.unwrap();
    assert!(got.rules()[0].id().is_some_and(|id| !id.is_empty()));

    let del = c.delete_bucket_lifecycle().bucket("conf").send().await;
    assert!(del.is_ok(), "{del:?}");
    let r = c.get_bucket_lifecycle_configuration().bucket("conf").send().await;
    assert_s3_err("deleted", r, 404, "NoSuchLifecycleConfiguration");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_expire_by_prefix_tag_and_size_and_abort_uploads() {
    let node = start();
    let c = node.client();
    c.create_bucket().bucket("plain").send().await.unwrap();
    let and = LifecycleRuleAndOperator::builder()
        .prefix("t/")
        .tags(Tag::builder().key("class").value("tmp").build().unwrap())
        .object_size_greater_than(100)
        .build();
    let rules = vec![
        rule("logs rule", prefix("logs/")).expiration(days(1)).build().unwrap(),
        rule("tmp", LifecycleRuleFilter::builder().and(and).build()).expiration(days(1)).build().unwrap(),
        rule("uploads", prefix("up/"))
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder().days_after_initiation(1).build(),
            )
            .build()
            .unwrap(),
    ];
    put_rules(&c, "plain", rules).await.unwrap();

    // The PUT and HEAD of an object a rule will expire say when, and which rule.
    let out = put(&c, "plain", "logs/a", b"log line").await;
    let exp = out.expiration().expect("x-amz-expiration on the PUT");
    assert!(exp.starts_with("expiry-date=\"") && exp.ends_with("rule-id=\"logs%20rule\""), "{exp}");
    let head = c.head_object().bucket("plain").key("logs/a").send().await.unwrap();
    assert_eq!(head.expiration(), Some(exp), "HEAD shows the same expiry");
    put(&c, "plain", "logs/b", b"another").await;
    let keep = put(&c, "plain", "keep/c", b"kept").await;
    assert_eq!(keep.expiration(), None, "no rule: no header");
    let big = vec![7u8; 1000];
    let tagged = |key: &'static str, body: Vec<u8>| {
        c.put_object().bucket("plain").key(key).tagging("class=tmp").body(body.into()).send()
    };
    let t1 = tagged("t/big", big.clone()).await.unwrap();
    assert!(t1.expiration().is_some_and(|e| e.contains("rule-id=\"tmp\"")), "{:?}", t1.expiration());
    let t2 = tagged("t/small", vec![1u8; 50]).await.unwrap();
    assert_eq!(t2.expiration(), None, "too small for the rule");
    put(&c, "plain", "t/untagged", &big).await;

    let up = c.create_multipart_upload().bucket("plain").key("up/u").send().await.unwrap();
    assert_eq!(up.abort_rule_id(), Some("uploads"));
    assert!(up.abort_date().is_some(), "x-amz-abort-date");
    let parts = c.list_parts().bucket("plain").key("up/u").upload_id(up.upload_id().unwrap()).send().await.unwrap();
    assert_eq!((parts.abort_rule_id(), parts.abort_date()), (Some("uploads"), up.abort_date()), "ListParts too");
    let kept_up = c.create_multipart_upload().bucket("plain").key("keep/u").send().await.unwrap();
    assert_eq!(kept_up.abort_rule_id(), None);

    eventually("the rules expire their objects and abort their upload", || async {
        let k = keys(&c, "plain").await;
        let uploads = c.list_multipart_uploads().bucket("plain").send().await.unwrap();
        let up_keys: Vec<_> = uploads.uploads().iter().filter_map(|u| u.key()).collect();
        k == ["keep/c", "t/small", "t/untagged"] && up_keys == ["keep/u"]
    })
    .await;

    let st = status(&node);
    assert!(st["totals"]["expired"].as_u64().unwrap() >= 3, "{st}");
    assert!(st["totals"]["uploads_aborted"].as_u64().unwrap() >= 1, "{st}");
    assert!(st["totals"]["keys_scanned"].as_u64().unwrap() >= 6, "{st}");
    let metrics = raw_http().get(format!("{}/metrics", node.endpoint())).send().await.unwrap().text().await.unwrap();
    let expired = metrics.lines().find(|l| l.starts_with("cairn_lifecycle{what=\"expired\"}")).unwrap_or_default();
    assert!(expired.split_whitespace().last().and_then(|n| n.parse::<u64>().ok()).is_some_and(|n| n >= 3), "{expired}");

    // The objects left are still whole.
    let got = c.get_object().bucket("plain").key("t/untagged").send().await.unwrap();
    assert_eq!(read_body(got.body).await, big);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_markers_and_a_held_version() {
    let node = start();
    let c = node.client();
    c.create_bucket().bucket("ver").send().await.unwrap();
    let on = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    c.put_bucket_versioning().bucket("ver").versioning_configuration(on).send().await.unwrap();
    let rules = vec![
        rule("current", prefix("cur/")).expiration(days(1)).build().unwrap(),
        rule("old", prefix("nc/"))
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder().noncurrent_days(1).newer_noncurrent_versions(1).build(),
            )
            .build()
            .unwrap(),
        rule("markers", prefix("dm/"))
            .expiration(LifecycleExpiration::builder().expired_object_delete_marker(true).build())
            .build()
            .unwrap(),
    ];
    put_rules(&c, "ver", rules).await.unwrap();
    let x1 = put(&c, "ver", "cur/x", b"x1").await.version_id().unwrap().to_string();
    let mut ys = Vec::new();
    for body in [b"y1", b"y2", b"y3"] {
        ys.push(put(&c, "ver", "nc/y", body).await.version_id().unwrap().to_string());
    }
    let z = put(&c, "ver", "dm/z", b"z").await.version_id().unwrap().to_string();
    c.delete_object().bucket("ver").key("dm/z").send().await.unwrap();
    c.delete_object().bucket("ver").key("dm/z").version_id(&z).send().await.unwrap();
    // A marker with a version behind it is not expired.
    put(&c, "ver", "dm/w", b"w").await;
    c.delete_object().bucket("ver").key("dm/w").send().await.unwrap();

    eventually("current expired behind a marker, the oldest noncurrent removed, the lone marker gone", || async {
        let v = versions(&c, "ver").await;
        let of = |k: &str| v.iter().filter(|(key, _, _)| key == k).cloned().collect::<Vec<_>>();
        let cur = of("cur/x");
        let nc: Vec<String> = of("nc/y").into_iter().map(|(_, id, _)| id).collect();
        cur.len() == 2
            && cur.iter().any(|(_, id, m)| id == &x1 && !m)
            && cur.iter().any(|(_, _, m)| *m)
            && nc.len() == 2
            && nc.contains(&ys[1])
            && nc.contains(&ys[2])
            && of("dm/z").is_empty()
            && of("dm/w").len() == 2
    })
    .await;
    assert_status_err(
        "the expired object reads as deleted",
        c.get_object().bucket("ver").key("cur/x").send().await,
        404,
    );
    let old = c.get_object().bucket("ver").key("cur/x").version_id(&x1).send().await.unwrap();
    assert_eq!(read_body(old.body).await, b"x1", "the expired version is kept behind its marker");

    // Object lock: a held version survives every rule.
    c.create_bucket().bucket("vault").object_lock_enabled_for_bucket(true).send().await.unwrap();
    let rules = vec![rule("all", prefix(""))
        .expiration(days(1))
        .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(1).build())
        .build()
        .unwrap()];
    put_rules(&c, "vault", rules).await.unwrap();
    let held = put(&c, "vault", "h", b"held").await.version_id().unwrap().to_string();
    let hold = ObjectLockLegalHold::builder().status(ObjectLockLegalHoldStatus::On).build();
    c.put_object_legal_hold().bucket("vault").key("h").version_id(&held).legal_hold(hold).send().await.unwrap();
    put(&c, "vault", "h", b"newer").await;
    eventually("the rules reach the vault and skip the held version", || async {
        status(&node)["totals"]["skipped_locked"].as_u64().unwrap_or(0) >= 1
    })
    .await;
    let got = c.get_object().bucket("vault").key("h").version_id(&held).send().await.unwrap();
    assert_eq!(read_body(got.body).await, b"held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_goes_on_from_the_committed_position() {
    use cairn_tests::cluster::TestCluster;
    let mut cluster = TestCluster::start_with(3, &["--lifecycle-day-secs", DAY_SECS]);
    let c = cluster.nodes[0].client();
    c.create_bucket().bucket("many").send().await.unwrap();
    const N: usize = 3000;
    let mut tasks = Vec::new();
    for t in 0..16 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for i in (t..N).step_by(16) {
                put(&c, "many", &format!("logs/{i:05}"), b"x").await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    put_rules(&c, "many", vec![rule("logs", prefix("logs/")).expiration(days(1)).build().unwrap()]).await.unwrap();

    // Wait for a pass that is part way through the bucket, then kill the leader.
    let leader = cluster.leader(0).expect("a leader");
    let seen = loop {
        let st = status(&cluster.nodes[leader]);
        let expired = st["totals"]["expired"].as_u64().unwrap_or(0);
        if st["bucket"] == "many" && expired > 0 {
            assert!(st["after_key"].as_str().is_some_and(|k| k.starts_with("logs/")), "{st}");
            break expired;
        }
        assert!(expired < N as u64, "the pass ended before the leader could be killed: {st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    cluster.nodes[leader].kill9();
    let other = (leader + 1) % 3;
    let c = cluster.nodes[other].client();
    eventually("the next leader expires the rest", || async {
        let out = c.list_objects_v2().bucket("many").max_keys(10).send().await;
        out.is_ok_and(|o| o.key_count() == Some(0))
    })
    .await;
    let st = status(&cluster.nodes[other]);
    let expired = st["totals"]["expired"].as_u64().unwrap();
    // The totals went on from what the first leader committed (actions it took after its
    // last commit are not counted, since it died before saying so).
    assert!(expired >= seen && expired <= N as u64, "expired {expired}, seen before the kill {seen}: {st}");
}
