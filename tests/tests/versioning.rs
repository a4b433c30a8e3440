//! S3 versioning through aws-sdk-s3 against a real cairnd: the bucket's states, version
//! ids on every write, GET/HEAD/DELETE by version, delete markers (404 and 405 with
//! `x-amz-delete-marker`), ListObjectVersions (1,000 versions in pages, delimiter),
//! a suspended bucket's null version, multipart and copy (rollback), DeleteObjects
//! with versions, and shards: a noncurrent version's shards survive the orphan
//! collector, and removing it for good frees them.

use cairn_tests::aws_sdk_s3::error::SdkError;
use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, Delete, ObjectCannedAcl, ObjectIdentifier,
    VersioningConfiguration,
};
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;
use std::time::Duration;

const B: &str = "versioned";

async fn set_versioning(c: &Client, bucket: &str, status: BucketVersioningStatus) {
    c.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .expect("put bucket versioning");
}

/// PUTs and answers the version id S3 sent.
async fn put_v(c: &Client, key: &str, data: &[u8]) -> Option<String> {
    let r = c.put_object().bucket(B).key(key).body(ByteStream::from(data.to_vec())).send().await.expect("put");
    r.version_id().map(str::to_string)
}

async fn get_v(c: &Client, key: &str, version: Option<&str>) -> (Vec<u8>, Option<String>) {
    let r = c.get_object().bucket(B).key(key).set_version_id(version.map(str::to_string)).send().await.expect("get");
    let v = r.version_id().map(str::to_string);
    (read_body(r.body).await, v)
}

/// A response header of a failed call.
fn err_header<T: std::fmt::Debug, E>(
    r: &Result<T, SdkError<E, cairn_tests::aws_sdk_s3::config::http::HttpResponse>>,
    name: &str,
) -> Option<String> {
    match r {
        Err(e) => e.raw_response().and_then(|raw| raw.headers().get(name)).map(str::to_string),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_markers_and_states() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, B).await;
    let st = c.get_bucket_versioning().bucket(B).send().await.unwrap();
    assert_eq!(st.status(), None, "a new bucket has no versioning state");
    // Written before versioning: no version id, and it becomes the null version.
    assert_eq!(put_v(&c, "k", b"zero").await, None);
    set_versioning(&c, B, BucketVersioningStatus::Enabled).await;
    let st = c.get_bucket_versioning().bucket(B).send().await.unwrap();
    assert_eq!(st.status(), Some(&BucketVersioningStatus::Enabled));
    let big1 = random_bytes(1, 300_000);
    let v1 = put_v(&c, "k", &big1).await.expect("an id");
    let v2 = put_v(&c, "k", b"two").await.expect("an id");
    assert_ne!(v1, v2);

    assert_eq!(get_v(&c, "k", None).await, (b"two".to_vec(), Some(v2.clone())));
    assert_eq!(get_v(&c, "k", Some(&v1)).await, (big1.clone(), Some(v1.clone())));
    assert_eq!(get_v(&c, "k", Some("null")).await, (b"zero".to_vec(), Some("null".into())));
    let h = c.head_object().bucket(B).key("k").version_id(&v1).send().await.unwrap();
    assert_eq!((h.content_length(), h.version_id()), (Some(300_000), Some(v1.as_str())));
    // Ranges of an old version.
    let r = c.get_object().bucket(B).key("k").version_id(&v1).range("bytes=1000-1999").send().await.unwrap();
    assert_eq!(read_body(r.body).await, big1[1000..2000]);

    // Ids that cannot be, and ids that name nothing.
    assert_s3_err(
        "malformed id",
        c.get_object().bucket(B).key("k").version_id("not-an-id").send().await,
        400,
        "InvalidArgument",
    );
    assert_s3_err(
        "unknown id",
        c.get_object().bucket(B).key("k").version_id("00000000000000000000000000").send().await,
        404,
        "NoSuchVersion",
    );

    // A conditional DELETE is decided in the state machine against the current version.
    assert_s3_err(
        "delete if-match another etag",
        c.delete_object().bucket(B).key("k").if_match("\"0123456789abcdef0123456789abcdef\"").send().await,
        412,
        "PreconditionFailed",
    );
    let etag_v2 = c.head_object().bucket(B).key("k").send().await.unwrap().e_tag().unwrap().to_string();
    // DELETE adds a marker: GET is 404 naming it, GET of the marker by id is 405.
    let d = c.delete_object().bucket(B).key("k").if_match(&etag_v2).send().await.unwrap();
    assert_eq!(d.delete_marker(), Some(true));
    let marker = d.version_id().expect("the marker's id").to_string();
    let r = c.get_object().bucket(B).key("k").send().await;
    assert_eq!(err_header(&r, "x-amz-delete-marker").as_deref(), Some("true"));
    assert_eq!(err_header(&r, "x-amz-version-id").as_deref(), Some(marker.as_str()));
    assert_s3_err("GET after delete", r, 404, "NoSuchKey");
    assert_status_err("HEAD after delete", c.head_object().bucket(B).key("k").send().await, 404);
    let r = c.get_object().bucket(B).key("k").version_id(&marker).send().await;
    assert_eq!(err_header(&r, "x-amz-delete-marker").as_deref(), Some("true"));
    assert_s3_err("GET of a marker", r, 405, "MethodNotAllowed");
    assert!(list_all_keys(&c, B).await.is_empty(), "listings see current versions only");

    let l = c.list_object_versions().bucket(B).send().await.unwrap();
    let ids: Vec<_> = l.versions().iter().map(|v| (v.version_id().unwrap(), v.is_latest().unwrap())).collect();
    assert_eq!(ids, [(v2.as_str(), false), (v1.as_str(), false), ("null", false)]);
    let m: Vec<_> = l.delete_markers().iter().map(|m| (m.version_id().unwrap(), m.is_latest().unwrap())).collect();
    assert_eq!(m, [(marker.as_str(), true)]);
    assert_s3_err("delete a bucket with versions", c.delete_bucket().bucket(B).send().await, 409, "BucketNotEmpty");

    // Removing the marker brings v2 back; removing v2 for good makes v1 current.
    let d = c.delete_object().bucket(B).key("k").version_id(&marker).send().await.unwrap();
    assert_eq!((d.delete_marker(), d.version_id()), (Some(true), Some(marker.as_str())));
    assert_eq!(get_v(&c, "k", None).await.0, b"two");
    c.delete_object().bucket(B).key("k").version_id(&v2).send().await.unwrap();
    assert_eq!(get_v(&c, "k", None).await, (big1.clone(), Some(v1.clone())));

    // The ACL of a noncurrent version is its own: set and read by id.
    let v_acl = put_v(&c, "k", b"newer").await.unwrap();
    c.put_object_acl().bucket(B).key("k").version_id(&v1).acl(ObjectCannedAcl::PublicRead).send().await.unwrap();
    let public = |r: &cairn_tests::aws_sdk_s3::operation::get_object_acl::GetObjectAclOutput| {
        r.grants().iter().any(|g| g.grantee().and_then(|e| e.uri()).is_some_and(|u| u.ends_with("AllUsers")))
    };
    let old_acl = c.get_object_acl().bucket(B).key("k").version_id(&v1).send().await.unwrap();
    assert!(public(&old_acl), "v1 is public-read: {old_acl:?}");
    let cur_acl = c.get_object_acl().bucket(B).key("k").send().await.unwrap();
    assert!(!public(&cur_acl), "the current version stays private: {cur_acl:?}");
    // Each version's ACL decides for it: anonymous reads of v1 pass, of the others not.
    let anon = |q: String| {
        let url = format!("{}/{B}/k{q}", node.endpoint());
        async move { raw_http().get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(anon(format!("?versionId={v1}")).await, 200);
    assert_eq!(anon(String::new()).await, 403);
    assert_eq!(anon(format!("?versionId={v_acl}")).await, 403);
    let r =
        c.put_object_acl().bucket(B).key("k").version_id("00000000000000000000000000").acl(ObjectCannedAcl::Private);
    assert_s3_err("ACL of no such version", r.send().await, 404, "NoSuchVersion");
    c.delete_object().bucket(B).key("k").version_id(&v_acl).send().await.unwrap();

    // Suspended: writes replace the null version, which the listing shows once.
    set_versioning(&c, B, BucketVersioningStatus::Suspended).await;
    assert_eq!(put_v(&c, "k", b"n1").await.as_deref(), Some("null"));
    assert_eq!(put_v(&c, "k", b"n2").await.as_deref(), Some("null"));
    let l = c.list_object_versions().bucket(B).prefix("k").send().await.unwrap();
    let ids: Vec<_> = l.versions().iter().map(|v| v.version_id().unwrap().to_string()).collect();
    assert_eq!(ids, ["null".to_string(), v1.clone()]);
    assert_eq!(get_v(&c, "k", Some("null")).await.0, b"n2");
    // Never back to unversioned.
    let r = c
        .put_bucket_versioning()
        .bucket(B)
        .versioning_configuration(VersioningConfiguration::builder().build())
        .send()
        .await;
    assert_s3_err("no status", r, 400, "MalformedXML");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_versions_in_pages() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, B).await;
    set_versioning(&c, B, BucketVersioningStatus::Enabled).await;
    let mut ids = Vec::new();
    for chunk in (0..1000).collect::<Vec<_>>().chunks(50) {
        let puts = chunk.iter().map(|i| {
            let c = c.clone();
            async move { (*i, put_v(&c, "many", format!("v{i}").as_bytes()).await.unwrap()) }
        });
        let mut done = futures::future::join_all(puts).await;
        done.sort();
        ids.extend(done);
    }
    put_v(&c, "other", b"x").await;
    // Newest first: ids grow with the commit order, so a sort by id is that order.
    let mut expected: Vec<String> = ids.iter().map(|(_, id)| id.clone()).collect();
    expected.sort();
    expected.reverse();
    let mut seen = Vec::new();
    let (mut km, mut vm) = (None::<String>, None::<String>);
    let mut pages = 0;
    loop {
        let p = c
            .list_object_versions()
            .bucket(B)
            .prefix("many")
            .max_keys(100)
            .set_key_marker(km.clone())
            .set_version_id_marker(vm.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(p.versions().len() <= 100);
        seen.extend(p.versions().iter().map(|v| v.version_id().unwrap().to_string()));
        if !p.is_truncated().unwrap_or(false) {
            break;
        }
        km = p.next_key_marker().map(str::to_string);
        vm = p.next_version_id_marker().map(str::to_string);
    }
    assert_eq!(pages, 10);
    assert_eq!(seen, expected, "every version once, newest first");
    // Every version reads back as written.
    for (i, id) in ids.iter().step_by(97) {
        assert_eq!(get_v(&c, "many", Some(id)).await.0, format!("v{i}").into_bytes());
    }
    // ListObjectsV2 sees the two current keys only.
    assert_eq!(list_all_keys(&c, B).await, ["many", "other"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_copy_rollback_and_batch_deletes() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, B).await;
    set_versioning(&c, B, BucketVersioningStatus::Enabled).await;
    let old = random_bytes(7, 200_000);
    let v_old = put_v(&c, "clip", &old).await.unwrap();
    // A multipart completion makes a new version.
    let part = random_bytes(8, 5 << 20);
    let up = c.create_multipart_upload().bucket(B).key("clip").send().await.unwrap();
    let uid = up.upload_id().unwrap();
    let p1 = c
        .upload_part()
        .bucket(B)
        .key("clip")
        .upload_id(uid)
        .part_number(1)
        .body(ByteStream::from(part.clone()))
        .send()
        .await
        .unwrap();
    let done = c
        .complete_multipart_upload()
        .bucket(B)
        .key("clip")
        .upload_id(uid)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(p1.e_tag().unwrap()).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let v_multi = done.version_id().expect("completion makes a version").to_string();
    assert_ne!(v_multi, v_old);
    assert_eq!(get_v(&c, "clip", None).await.0, part);

    // Rollback: copy the old version onto its own key.
    let r =
        c.copy_object().bucket(B).key("clip").copy_source(format!("{B}/clip?versionId={v_old}")).send().await.unwrap();
    assert_eq!(r.copy_source_version_id(), Some(v_old.as_str()));
    let v_back = r.version_id().expect("a new version").to_string();
    assert_eq!(get_v(&c, "clip", None).await, (old.clone(), Some(v_back.clone())));
    assert_eq!(get_v(&c, "clip", Some(&v_multi)).await.0, part, "the history keeps what was rolled back");

    // DeleteObjects: a marker for one key, one version removed for good of another.
    let v_x = put_v(&c, "x", b"x").await.unwrap();
    let out = c
        .delete_objects()
        .bucket(B)
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key("clip").build().unwrap())
                .objects(ObjectIdentifier::builder().key("x").version_id(&v_x).build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut deleted: Vec<_> = out
        .deleted()
        .iter()
        .map(|d| {
            (
                d.key().unwrap(),
                d.delete_marker(),
                d.version_id().map(str::to_string),
                d.delete_marker_version_id().is_some(),
            )
        })
        .collect();
    deleted.sort_by_key(|d| d.0);
    assert_eq!(deleted, [("clip", Some(true), None, true), ("x", None, Some(v_x.clone()), false)]);
    assert!(list_all_keys(&c, B).await.is_empty());
    let l = c.list_object_versions().bucket(B).send().await.unwrap();
    assert_eq!(l.versions().len(), 3, "clip keeps its three versions; x is gone");
    assert_eq!(l.delete_markers().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noncurrent_shards_survive_collection_and_go_when_removed() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, B).await;
    set_versioning(&c, B, BucketVersioningStatus::Enabled).await;
    let disks = node.disk_dirs();
    let v1_data = random_bytes(11, 400_000);
    let v1 = put_v(&c, "s", &v1_data).await.unwrap();
    let before = shard_groups(&disks);
    let v2 = put_v(&c, "s", &random_bytes(12, 400_000)).await.unwrap();
    assert_eq!(shard_groups(&disks).len(), before.len() + 1, "a new version writes new shards, the old stay");
    // The orphan collector, with no grace, keeps every version's shards.
    let (status, body) = node.admin("POST", "gc?grace_secs=0", b"").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"removed\":0"), "{body}");
    assert_eq!(get_v(&c, "s", Some(&v1)).await.0, v1_data);
    // A heal pass walks noncurrent versions too: a damaged shard of v1 is rewritten.
    let v1_group = before.iter().next().expect("v1's shards").clone();
    let victim = stored_shards_all(&disks).into_iter().find(|s| s.id() == v1_group).expect("a shard of v1");
    victim.corrupt_middle();
    let (status, body) = node.admin("POST", &format!("heal?bucket={B}"), b"").await;
    assert_eq!(status, 200, "{body}");
    let mut report = String::new();
    for _ in 0..100 {
        let (_, b) = node.admin("GET", "heal", b"").await;
        if b.contains("\"state\":\"done\"") {
            report = b;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let v: serde_json::Value = serde_json::from_str(&report).expect("the heal pass ended");
    assert_eq!(v["pass"]["blobs"], 2, "both versions' blobs were checked: {report}");
    assert!(v["pass"]["shards_rewritten"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(v["pass"]["stripes"]["degraded"], 0, "{report}");
    // Removing v2 for good frees its shards and makes v1 current.
    c.delete_object().bucket(B).key("s").version_id(&v2).send().await.unwrap();
    let freed = eventually(Duration::from_secs(10), || shard_groups(&disks) == before).await;
    assert!(freed, "v2's shards are removed");
    assert_eq!(get_v(&c, "s", None).await, (v1_data, Some(v1)));
}

/// Bytes of every shard (file or segment record) on `disks`.
fn shard_bytes(disks: &[std::path::PathBuf]) -> u64 {
    stored_shards_all(disks).iter().map(|s| s.len()).sum()
}

/// A rollback shares the restored version's shards: nothing is written, and the
/// shards stay until the last version that refers to them is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_copies_no_bytes() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, B).await;
    set_versioning(&c, B, BucketVersioningStatus::Enabled).await;
    let disks = node.disk_dirs();
    let d1 = random_bytes(21, 600_000);
    let v1 = put_v(&c, "cut", &d1).await.unwrap();
    let only_v1 = shard_groups(&disks);
    let d2 = random_bytes(22, 600_000);
    let v2 = put_v(&c, "cut", &d2).await.unwrap();
    let (groups, bytes) = (shard_groups(&disks), shard_bytes(&disks));
    assert_eq!(groups.len(), 2);

    let r = c.copy_object().bucket(B).key("cut").copy_source(format!("{B}/cut?versionId={v1}")).send().await.unwrap();
    let v3 = r.version_id().unwrap().to_string();
    assert_eq!(r.copy_object_result().unwrap().e_tag(), Some(format!("\"{}\"", md5_hex(&d1)).as_str()));
    assert_eq!((shard_groups(&disks), shard_bytes(&disks)), (groups.clone(), bytes), "no shard was written");
    assert_eq!(get_v(&c, "cut", None).await, (d1.clone(), Some(v3.clone())));
    let l = c.list_object_versions().bucket(B).send().await.unwrap();
    assert_eq!(l.versions().len(), 3);

    // Removing the version it was restored from keeps the restored one, and its
    // shards: the orphan collector leaves them, a read finds them.
    c.delete_object().bucket(B).key("cut").version_id(&v1).send().await.unwrap();
    let (status, body) = node.admin("POST", "gc?grace_secs=0", b"").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"removed\":0"), "{body}");
    assert_eq!(shard_groups(&disks), groups, "v3 still refers to v1's shards");
    assert_eq!(get_v(&c, "cut", Some(&v3)).await.0, d1);
    // A rollback of the rollback shares them again, then removing both frees them.
    let r = c.copy_object().bucket(B).key("cut").copy_source(format!("{B}/cut?versionId={v2}")).send().await.unwrap();
    let v4 = r.version_id().unwrap().to_string();
    assert_eq!(get_v(&c, "cut", None).await.0, d2);
    c.delete_object().bucket(B).key("cut").version_id(&v3).send().await.unwrap();
    let v2_only: std::collections::BTreeSet<String> = groups.difference(&only_v1).cloned().collect();
    assert!(eventually(Duration::from_secs(10), || shard_groups(&disks) == v2_only).await, "v1's shards are freed");
    assert_eq!(get_v(&c, "cut", Some(&v2)).await.0, d2);
    c.delete_object().bucket(B).key("cut").version_id(&v2).send().await.unwrap();
    assert_eq!(shard_groups(&disks), v2_only, "v4 still refers to v2's shards");
    assert_eq!(get_v(&c, "cut", None).await, (d2, Some(v4.clone())));
    c.delete_object().bucket(B).key("cut").version_id(&v4).send().await.unwrap();
    assert!(eventually(Duration::from_secs(10), || shard_groups(&disks).is_empty()).await, "all freed");
}

/// Concurrent PUTs and DELETEs on one versioned key: every acknowledged version is
/// listed once and reads back as written; every acknowledged delete left a marker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_puts_and_deletes_on_one_key_lose_nothing() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, B).await;
    set_versioning(&c, B, BucketVersioningStatus::Enabled).await;
    let ops = (0..120).map(|i| {
        let c = c.clone();
        async move {
            if i % 4 == 3 {
                let d = c.delete_object().bucket(B).key("hot").send().await.expect("delete");
                assert_eq!(d.delete_marker(), Some(true));
                (None, d.version_id().unwrap().to_string())
            } else {
                // Every fourth body is sharded, the rest inline.
                let body = if i % 4 == 0 { random_bytes(i, 50_000) } else { format!("body {i}").into_bytes() };
                let id = put_v(&c, "hot", &body).await.expect("an id");
                (Some(body), id)
            }
        }
    });
    let acked = futures::future::join_all(ops).await;
    let mut versions = std::collections::BTreeMap::new();
    let mut markers = std::collections::BTreeSet::new();
    let mut token = (None::<String>, None::<String>);
    loop {
        let p = c
            .list_object_versions()
            .bucket(B)
            .max_keys(37)
            .set_key_marker(token.0.clone())
            .set_version_id_marker(token.1.clone())
            .send()
            .await
            .unwrap();
        for v in p.versions() {
            assert!(versions.insert(v.version_id().unwrap().to_string(), v.is_latest().unwrap()).is_none());
        }
        for m in p.delete_markers() {
            assert!(markers.insert(m.version_id().unwrap().to_string()));
        }
        if !p.is_truncated().unwrap_or(false) {
            break;
        }
        token = (p.next_key_marker().map(str::to_string), p.next_version_id_marker().map(str::to_string));
    }
    assert_eq!(versions.len() + markers.len(), acked.len(), "one entry per acknowledged write");
    for (body, id) in &acked {
        match body {
            Some(b) => {
                assert!(versions.contains_key(id), "version {id} listed");
                assert_eq!(&get_v(&c, "hot", Some(id)).await.0, b, "version {id} reads back");
            }
            None => assert!(markers.contains(id), "marker {id} listed"),
        }
    }
    // The newest entry is what GET answers.
    let newest = acked.iter().map(|(_, id)| id.clone()).max().unwrap();
    match acked.iter().find(|(_, id)| *id == newest).unwrap() {
        (Some(b), _) => assert_eq!(get_v(&c, "hot", None).await.0, *b),
        (None, _) => assert_status_err("latest is a marker", c.head_object().bucket(B).key("hot").send().await, 404),
    }
}

/// `cairn object versions` lists a key's history; `cairn object rollback` restores one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_lists_versions_and_rolls_back() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, B).await;
    set_versioning(&c, B, BucketVersioningStatus::Enabled).await;
    let v1 = put_v(&c, "dir/doc", b"first").await.unwrap();
    let v2 = put_v(&c, "dir/doc", b"second!").await.unwrap();
    put_v(&c, "dir/doc2", b"another key").await.unwrap();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(cairn_bin())
            .args(args)
            .env_clear()
            .env("CAIRN_ENDPOINT", node.endpoint())
            .env("AWS_ACCESS_KEY_ID", node.access_key())
            .env("AWS_SECRET_ACCESS_KEY", node.secret_key())
            .output()
            .expect("run cairn");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "cairn {args:?}: {text}{}", String::from_utf8_lossy(&out.stderr));
        text
    };
    let target = format!("{B}/dir/doc");
    let out = cli(&["object", "versions", &target, "--json"]);
    let rows: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ids: Vec<_> = rows.iter().map(|r| r["version_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, [v2.clone(), v1.clone()], "only this key, newest first: {out}");
    assert_eq!(rows[0]["latest"], true);
    assert_eq!(rows[1]["size"], 5);
    let out = cli(&["object", "rollback", &target, "--version", &v1]);
    assert!(out.contains(&v1), "{out}");
    assert_eq!(get_v(&c, "dir/doc", None).await.0, b"first");
    let out = cli(&["object", "versions", &target]);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.lines().next().unwrap().contains("(latest)"), "{out}");
}

/// A request that names a version is authorized as the version action AWS names
/// (`s3:GetObjectVersion`, `s3:DeleteObjectVersion`), so a policy can allow reading
/// and deleting the latest while keeping the history out of reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_tell_version_actions_apart() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, B).await;
    set_versioning(&c, B, BucketVersioningStatus::Enabled).await;
    let v1 = put_v(&c, "doc", b"one").await.unwrap();
    put_v(&c, "doc", b"two").await.unwrap();
    let (status, text) = admin_request(node.endpoint(), "POST", "keys", br#"{"name":"reader"}"#).await;
    assert_eq!(status, 200, "{text}");
    let key: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (id, secret) = (key["access_key_id"].as_str().unwrap(), key["secret_access_key"].as_str().unwrap());
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": [id] },
            "Action": ["s3:GetObject", "s3:DeleteObject"],
            "Resource": [format!("arn:aws:s3:::{B}/*")],
        }],
    });
    c.put_bucket_policy().bucket(B).policy(policy.to_string()).send().await.unwrap();
    let reader = ClientBuilder::new(node.endpoint()).credentials(id, secret).build();
    let r = reader.get_object().bucket(B).key("doc").send().await.expect("the latest is readable");
    assert_eq!(read_body(r.body).await, b"two");
    assert_s3_err(
        "GET by version without s3:GetObjectVersion",
        reader.get_object().bucket(B).key("doc").version_id(&v1).send().await,
        403,
        "AccessDenied",
    );
    assert_s3_err(
        "DELETE by version without s3:DeleteObjectVersion",
        reader.delete_object().bucket(B).key("doc").version_id(&v1).send().await,
        403,
        "AccessDenied",
    );
    let d = reader.delete_object().bucket(B).key("doc").send().await.expect("a delete marker is allowed");
    assert_eq!(d.delete_marker(), Some(true));
    assert_eq!(get_v(&c, "doc", Some(&v1)).await.0, b"one", "the history is intact");
}
