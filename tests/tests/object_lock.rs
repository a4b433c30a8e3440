//! Object lock through aws-sdk-s3: a bucket created with lock, lock configuration and
//! its default retention, retention and legal hold per version and on writes (PUT,
//! multipart, copy), COMPLIANCE that even root cannot shorten or delete early,
//! GOVERNANCE bypassed only with `s3:BypassGovernanceRetention`, DeleteObjects per
//! key, retention that runs out, and AWS's errors where there is no lock.

use cairn_tests::aws_sdk_s3::primitives::{ByteStream, DateTime};
use cairn_tests::aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, DefaultRetention, Delete, ObjectIdentifier,
    ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode,
    ObjectLockRetention, ObjectLockRetentionMode, ObjectLockRule, VersioningConfiguration,
};
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What every locked object holds: large enough to be stored as shards, not inline.
fn payload() -> Vec<u8> {
    random_bytes(5, 100_000)
}

fn in_secs(s: i64) -> DateTime {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    DateTime::from_secs(now + s)
}

fn config(mode: Option<ObjectLockRetentionMode>, days: Option<i32>, years: Option<i32>) -> ObjectLockConfiguration {
    let mut b = ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled);
    if mode.is_some() || days.is_some() || years.is_some() {
        let d = DefaultRetention::builder().set_mode(mode).set_days(days).set_years(years).build();
        b = b.rule(ObjectLockRule::builder().default_retention(d).build());
    }
    b.build()
}

async fn put(c: &Client, bucket: &str, key: &str) -> String {
    let r = c.put_object().bucket(bucket).key(key).body(ByteStream::from(payload())).send().await;
    r.unwrap().version_id().unwrap().to_string()
}

async fn delete_version(c: &Client, bucket: &str, key: &str, id: &str, bypass: bool) -> Result<(), ErrInfo> {
    let r = c.delete_object().bucket(bucket).key(key).version_id(id);
    let r = if bypass { r.bypass_governance_retention(true) } else { r };
    r.send().await.map(|_| ()).map_err(|e| ErrInfo::from_sdk(&e))
}

fn denied(what: &str, r: Result<(), ErrInfo>) {
    let e = r.err().unwrap_or_else(|| panic!("{what}: deleted"));
    assert_eq!((e.status, e.code.as_deref()), (Some(403), Some("AccessDenied")), "{what}: {e:?}");
}

async fn readable(c: &Client, bucket: &str, key: &str, id: &str) {
    let got = c.get_object().bucket(bucket).key(key).version_id(id).send().await.unwrap();
    assert!(read_body(got.body).await == payload(), "{key} {id} reads back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_and_governance() {
    let mut node = TestNode::start();
    let c = node.client();
    c.create_bucket().bucket("vault").object_lock_enabled_for_bucket(true).send().await.unwrap();
    let v = c.get_bucket_versioning().bucket("vault").send().await.unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled), "lock turns versioning on");
    let got = c.get_object_lock_configuration().bucket("vault").send().await.unwrap();
    let cfg = got.object_lock_configuration().unwrap();
    assert_eq!(cfg.object_lock_enabled(), Some(&ObjectLockEnabled::Enabled));
    assert!(cfg.rule().is_none());
    let off = VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build();
    let r = c.put_bucket_versioning().bucket("vault").versioning_configuration(off).send().await;
    assert_s3_err("suspend under lock", r, 409, "InvalidBucketState");

    // A default COMPLIANCE retention of one day applies to every new version.
    let one_day = config(Some(ObjectLockRetentionMode::Compliance), Some(1), None);
    c.put_object_lock_configuration().bucket("vault").object_lock_configuration(one_day).send().await.unwrap();
    let got = c.get_object_lock_configuration().bucket("vault").send().await.unwrap();
    let d = got.object_lock_configuration().unwrap().rule().unwrap().default_retention().unwrap();
    assert_eq!((d.mode(), d.days(), d.years()), (Some(&ObjectLockRetentionMode::Compliance), Some(1), None));
    let v1 = put(&c, "vault", "film.mov").await;
    let r = c.get_object_retention().bucket("vault").key("film.mov").version_id(&v1).send().await.unwrap();
    let ret = r.retention().unwrap();
    assert_eq!(ret.mode(), Some(&ObjectLockRetentionMode::Compliance));
    let until = ret.retain_until_date().unwrap().secs();
    let want = in_secs(86_400).secs();
    assert!((want - 60..=want).contains(&until), "retain until {until}, about {want}");
    let head = c.head_object().bucket("vault").key("film.mov").send().await.unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    assert_eq!(head.object_lock_retain_until_date().map(|d| d.secs()), Some(until));

    // Nobody deletes it, root included, bypass or not; nobody shortens it.
    denied("root deletes a COMPLIANCE version", delete_version(&c, "vault", "film.mov", &v1, false).await);
    denied("root deletes with a bypass", delete_version(&c, "vault", "film.mov", &v1, true).await);
    let shorter = ObjectLockRetention::builder()
        .mode(ObjectLockRetentionMode::Compliance)
        .retain_until_date(in_secs(3600))
        .build();
    let r = c
        .put_object_retention()
        .bucket("vault")
        .key("film.mov")
        .version_id(&v1)
        .retention(shorter)
        .bypass_governance_retention(true)
        .send()
        .await;
    assert_s3_err("shorten COMPLIANCE", r, 403, "AccessDenied");
    let to_gov = ObjectLockRetention::builder()
        .mode(ObjectLockRetentionMode::Governance)
        .retain_until_date(in_secs(10 * 86_400))
        .build();
    let r = c.put_object_retention().bucket("vault").key("film.mov").version_id(&v1).retention(to_gov).send().await;
    assert_s3_err("COMPLIANCE to GOVERNANCE", r, 403, "AccessDenied");
    let longer = ObjectLockRetention::builder()
        .mode(ObjectLockRetentionMode::Compliance)
        .retain_until_date(in_secs(2 * 86_400))
        .build();
    c.put_object_retention().bucket("vault").key("film.mov").version_id(&v1).retention(longer).send().await.unwrap();
    // A delete without a version id only adds a marker; the version stays readable.
    let marker = c.delete_object().bucket("vault").key("film.mov").send().await.unwrap();
    assert_eq!(marker.delete_marker(), Some(true));
    readable(&c, "vault", "film.mov", &v1).await;
    // DeleteObjects refuses the locked version per key.
    let del = Delete::builder()
        .objects(ObjectIdentifier::builder().key("film.mov").version_id(&v1).build().unwrap())
        .build()
        .unwrap();
    let out = c.delete_objects().bucket("vault").delete(del).send().await.unwrap();
    assert!(out.deleted().is_empty(), "{out:?}");
    assert_eq!(out.errors()[0].code(), Some("AccessDenied"));
    readable(&c, "vault", "film.mov", &v1).await;
    // The orphan collector never takes a locked version's shards.
    let (status, body) = node.admin("POST", "gc?grace_secs=0", b"").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"removed\":0"), "{body}");
    readable(&c, "vault", "film.mov", &v1).await;

    // GOVERNANCE, given on the PUT: bypassed only by those allowed to.
    create_bucket(&c, "gov-vault").await;
    let on = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    c.put_bucket_versioning().bucket("gov-vault").versioning_configuration(on).send().await.unwrap();
    c.put_object_lock_configuration()
        .bucket("gov-vault")
        .object_lock_configuration(config(None, None, None))
        .send()
        .await
        .unwrap();
    let r = c
        .put_object()
        .bucket("gov-vault")
        .key("cut.mov")
        .body(ByteStream::from(payload()))
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(in_secs(86_400))
        .send()
        .await
        .unwrap();
    let g1 = r.version_id().unwrap().to_string();
    let (status, text) = node.admin("POST", "keys", br#"{"name":"editor"}"#).await;
    assert_eq!(status, 200, "{text}");
    let k: Value = serde_json::from_str(&text).unwrap();
    let editor_id = k["access_key_id"].as_str().unwrap().to_string();
    let editor =
        ClientBuilder::new(node.endpoint()).credentials(&editor_id, k["secret_access_key"].as_str().unwrap()).build();
    let allow = |actions: Vec<&str>| {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "AWS": [editor_id.clone()] },
                "Action": actions,
                "Resource": "arn:aws:s3:::gov-vault/*"
            }]
        })
        .to_string()
    };
    c.put_bucket_policy().bucket("gov-vault").policy(allow(vec!["s3:DeleteObjectVersion"])).send().await.unwrap();
    denied("GOVERNANCE without a bypass", delete_version(&editor, "gov-vault", "cut.mov", &g1, false).await);
    denied("a bypass without the permission", delete_version(&editor, "gov-vault", "cut.mov", &g1, true).await);
    readable(&c, "gov-vault", "cut.mov", &g1).await;
    let both = allow(vec!["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"]);
    c.put_bucket_policy().bucket("gov-vault").policy(both).send().await.unwrap();
    denied("permission without asking", delete_version(&editor, "gov-vault", "cut.mov", &g1, false).await);
    delete_version(&editor, "gov-vault", "cut.mov", &g1, true).await.unwrap();
    let r = c.get_object().bucket("gov-vault").key("cut.mov").version_id(&g1).send().await;
    assert_s3_err("bypassed and deleted", r, 404, "NoSuchVersion");

    // A legal hold keeps a version from everyone, bypass included, until it is off.
    let g2 = put(&c, "gov-vault", "held.mov").await;
    let on = ObjectLockLegalHold::builder().status(ObjectLockLegalHoldStatus::On).build();
    c.put_object_legal_hold().bucket("gov-vault").key("held.mov").legal_hold(on).send().await.unwrap();
    let h = c.get_object_legal_hold().bucket("gov-vault").key("held.mov").send().await.unwrap();
    assert_eq!(h.legal_hold().unwrap().status(), Some(&ObjectLockLegalHoldStatus::On));
    let head = c.head_object().bucket("gov-vault").key("held.mov").send().await.unwrap();
    assert_eq!(head.object_lock_legal_hold_status(), Some(&ObjectLockLegalHoldStatus::On));
    denied("held, root with bypass", delete_version(&c, "gov-vault", "held.mov", &g2, true).await);
    let off = ObjectLockLegalHold::builder().status(ObjectLockLegalHoldStatus::Off).build();
    c.put_object_legal_hold().bucket("gov-vault").key("held.mov").legal_hold(off).send().await.unwrap();
    delete_version(&c, "gov-vault", "held.mov", &g2, false).await.unwrap();

    // Multipart and copy take the lock headers too.
    let up = c
        .create_multipart_upload()
        .bucket("gov-vault")
        .key("mp.mov")
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket("gov-vault")
        .key("mp.mov")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from(payload()))
        .send()
        .await
        .unwrap();
    let done = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
        .build();
    let mp = c
        .complete_multipart_upload()
        .bucket("gov-vault")
        .key("mp.mov")
        .upload_id(id)
        .multipart_upload(done)
        .send()
        .await
        .unwrap();
    let mp_id = mp.version_id().unwrap().to_string();
    denied("held multipart object", delete_version(&c, "gov-vault", "mp.mov", &mp_id, true).await);
    let copy = c
        .copy_object()
        .bucket("gov-vault")
        .key("copy.mov")
        .copy_source(format!("gov-vault/mp.mov?versionId={mp_id}"))
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(in_secs(86_400))
        .send()
        .await
        .unwrap();
    let copy_id = copy.version_id().unwrap().to_string();
    denied("COMPLIANCE copy", delete_version(&c, "gov-vault", "copy.mov", &copy_id, true).await);

    // A short retention runs out, and then the version can go.
    let r = c
        .put_object()
        .bucket("gov-vault")
        .key("brief")
        .body(ByteStream::from(payload()))
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(in_secs(2))
        .send()
        .await
        .unwrap();
    let brief = r.version_id().unwrap().to_string();
    denied("brief, before it ends", delete_version(&c, "gov-vault", "brief", &brief, false).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    delete_version(&c, "gov-vault", "brief", &brief, false).await.unwrap();

    // Everything holds after a restart.
    node.restart(false);
    let c = node.client();
    denied("after a restart", delete_version(&c, "vault", "film.mov", &v1, true).await);
    denied("held after a restart", delete_version(&c, "gov-vault", "mp.mov", &mp_id, true).await);
    readable(&c, "vault", "film.mov", &v1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_errors_as_aws() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "plain").await;
    put_plain(&c).await;
    assert_s3_err(
        "lock configuration never set",
        c.get_object_lock_configuration().bucket("plain").send().await,
        404,
        "ObjectLockConfigurationNotFoundError",
    );
    let r = c
        .put_object_lock_configuration()
        .bucket("plain")
        .object_lock_configuration(config(None, None, None))
        .send()
        .await;
    assert_s3_err("lock without versioning", r, 409, "InvalidBucketState");
    let hold = ObjectLockLegalHold::builder().status(ObjectLockLegalHoldStatus::On).build();
    let r = c.put_object_legal_hold().bucket("plain").key("k").legal_hold(hold).send().await;
    assert_s3_err("legal hold without lock", r, 400, "InvalidRequest");
    let ret =
        ObjectLockRetention::builder().mode(ObjectLockRetentionMode::Governance).retain_until_date(in_secs(60)).build();
    let r = c.put_object_retention().bucket("plain").key("k").retention(ret).send().await;
    assert_s3_err("retention without lock", r, 400, "InvalidRequest");
    let r = c.get_object_retention().bucket("plain").key("k").send().await;
    assert_s3_err("get retention without lock", r, 400, "InvalidRequest");

    c.create_bucket().bucket("locked").object_lock_enabled_for_bucket(true).send().await.unwrap();
    for (what, cfg) in [
        ("days and years", config(Some(ObjectLockRetentionMode::Governance), Some(1), Some(1))),
        ("no period", config(Some(ObjectLockRetentionMode::Governance), None, None)),
        ("no mode", config(None, Some(1), None)),
    ] {
        let r = c.put_object_lock_configuration().bucket("locked").object_lock_configuration(cfg).send().await;
        assert_s3_err(what, r, 400, "MalformedXML");
    }
    let r = c
        .put_object_lock_configuration()
        .bucket("locked")
        .object_lock_configuration(config(Some(ObjectLockRetentionMode::Governance), Some(0), None))
        .send()
        .await;
    assert_s3_err("zero days", r, 400, "InvalidArgument");
    let r = c
        .put_object()
        .bucket("locked")
        .key("past")
        .body(ByteStream::from_static(b"x"))
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(in_secs(-60))
        .send()
        .await;
    assert_s3_err("a date in the past", r, 400, "InvalidArgument");
    assert_status_err("nothing stored", c.head_object().bucket("locked").key("past").send().await, 404);
    let v = put(&c, "locked", "k").await;
    assert_s3_err(
        "no retention on this version",
        c.get_object_retention().bucket("locked").key("k").version_id(&v).send().await,
        404,
        "NoSuchObjectLockConfiguration",
    );
    assert_s3_err(
        "no legal hold on this version",
        c.get_object_legal_hold().bucket("locked").key("k").send().await,
        404,
        "NoSuchObjectLockConfiguration",
    );
    // An unlocked version in a lock bucket deletes like any other.
    delete_version(&c, "locked", "k", &v, false).await.unwrap();
}

async fn put_plain(c: &Client) {
    c.put_object().bucket("plain").key("k").body(ByteStream::from_static(b"x")).send().await.unwrap();
}
