//! The asset catalogue end to end on a 3-node cluster: real `cairnd` processes driven
//! by the `cairn` CLI, the `/cairn/v1/assets` API and `aws-sdk-s3`. Registration of
//! stored objects with their SHA-256, reads from every node at once, the version
//! chain with a rollback that copies no bytes, diffs, idempotent registration,
//! listings by index with cursors and combined filters, batch get, exact stats, an
//! upload that resumes, and errors that name the field at fault; a tenant's assets
//! are invisible to another tenant. Created-time ranges, machine tags, read and
//! read-and-annotate shares revoked on every node, both tenants' feeds, a tenant
//! admin over its sub-tenant's assets, and every `cairn asset` command.

use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::aws_sdk_s3::types::{BucketVersioningStatus, ChecksumAlgorithm, VersioningConfiguration};
use cairn_tests::cluster::{cairn, stderr, stdout, TestCluster};
use cairn_tests::*;
use cairn_tests::{expect_status as expect, v1_json as v1};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const KIB: usize = 1024;

/// `(status, code, field)` of an error answer.
fn error_of(got: (u16, Value)) -> (u16, String, String) {
    let e = &got.1["error"];
    (got.0, e["code"].as_str().unwrap_or("").into(), e["field"].as_str().unwrap_or("").into())
}

/// `cairn` as `creds`, `--json`, parsed.
fn cli_as(endpoint: &str, creds: (&str, &str), args: &[&str]) -> Value {
    let mut all = vec!["--access-key", creds.0, "--secret-key", creds.1];
    all.extend_from_slice(args);
    all.push("--json");
    let out = cairn(endpoint, &all);
    assert!(out.status.success(), "cairn {args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("cairn {args:?}: {e}: {}", stdout(&out)))
}

/// `cairn asset events ARGS` as `creds`: its JSON lines, parsed.
fn events_cli(endpoint: &str, creds: (&str, &str), args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--access-key", creds.0, "--secret-key", creds.1, "asset", "events"];
    all.extend_from_slice(args);
    let out = cairn(endpoint, &all);
    assert!(out.status.success(), "cairn asset events {args:?}: {}", stderr(&out));
    stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// An RFC 3339 time as a query value.
fn time_q(t: &Value) -> String {
    t.as_str().unwrap().replace(':', "%3A").replace('+', "%2B")
}

fn shards(cluster: &TestCluster) -> usize {
    cluster.nodes.iter().flat_map(|n| n.disk_dirs()).map(|d| stored_shards(&d).len()).sum()
}

fn ids(list: &Value) -> Vec<String> {
    list["assets"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_end_to_end_on_three_nodes() {
    within(420, async {
        let cluster = TestCluster::start(3);
        let eps: Vec<String> = cluster.nodes.iter().map(|n| n.endpoint().to_string()).collect();
        let root = (ROOT_ACCESS_KEY, ROOT_SECRET_KEY);
        for (name, id) in [("Studio", "studio"), ("School", "school")] {
            cli_as(&eps[0], root, &["tenant", "create", name, "--id", id]);
        }
        let editor = cli_as(&eps[0], root, &["key", "create", "--tenant", "studio", "--name", "editor"]);
        let (eid, esec) = creds_of(&editor);
        let ed = (eid.as_str(), esec.as_str());
        let teacher = cli_as(&eps[0], root, &["key", "create", "--tenant", "school", "--name", "teacher"]);
        let (tid, tsec) = creds_of(&teacher);
        let te = (tid.as_str(), tsec.as_str());

        // The studio's media, in a versioned bucket; the school's in its own.
        let s3 = ClientBuilder::new(&eps[0]).credentials(ed.0, ed.1).build();
        s3.create_bucket().bucket("studio-media").send().await.unwrap();
        let on = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
        s3.put_bucket_versioning().bucket("studio-media").versioning_configuration(on).send().await.unwrap();
        let cut1 = random_bytes(1, 300 * KIB);
        let cut2 = random_bytes(2, 200 * KIB);
        let put = |key: &'static str, body: Vec<u8>| {
            let s3 = s3.clone();
            async move {
                let out = s3.put_object().bucket("studio-media").key(key).body(ByteStream::from(body)).send().await;
                out.unwrap().version_id().unwrap().to_string()
            }
        };
        let cut1_vid = put("cut.mov", cut1.clone()).await;
        put("poster.jpg", random_bytes(3, 10 * KIB)).await;
        // An object stored with a SHA-256 checksum: a hash given for it must agree.
        s3.put_object()
            .bucket("studio-media")
            .key("still.jpg")
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .body(ByteStream::from(random_bytes(6, 4 * KIB)))
            .send()
            .await
            .unwrap();
        let school = ClientBuilder::new(&eps[0]).credentials(te.0, te.1).build();
        school.create_bucket().bucket("school-media").send().await.unwrap();
        school
            .put_object()
            .bucket("school-media")
            .key("lecture.mp4")
            .body(ByteStream::from(random_bytes(4, 5 * KIB)))
            .send()
            .await
            .unwrap();

        // Register through node 1 with the CLI; the server finds the SHA-256 itself and
        // pins the current version it pointed at.
        let meta = r#"{"frame_rate":"24000/1001","width":1920,"height":1080,"codec":"prores"}"#;
        let a = cli_as(
            &eps[0],
            ed,
            &[
                "asset", "register", "studio-media/cut.mov", "--name", "Cut", "--type", "video", "--tag", "show=tides",
                "--project", "tides", "--meta", meta, "--rendition", "poster=studio-media/poster.jpg",
            ],
        );
        let id = a["id"].as_str().unwrap().to_string();
        assert_eq!((a["tenant"].as_str(), a["versions"].as_u64()), (Some("studio"), Some(1)));
        let latest = &a["latest"];
        assert_eq!(latest["size"], 300 * KIB);
        assert_eq!(latest["sha256"].as_str().unwrap(), sha256_hex(&cut1));
        assert_eq!(latest["object"]["version_id"].as_str(), Some(cut1_vid.as_str()));
        assert_eq!(latest["renditions"][0]["role"], "poster");
        assert_eq!(latest["renditions"][0]["size"], 10 * KIB);
        assert_eq!(a["meta"]["frame_rate"], "24000/1001");

        // Any node answers at once (the API reads after a barrier).
        for ep in &eps[1..] {
            let got = expect("read on another node", v1(ep, ed, "GET", &format!("assets/{id}"), Value::Null).await, 200);
            assert_eq!(got["latest"]["sha256"], latest["sha256"]);
        }

        // Bad input: the right status, a stable code, and the field at fault.
        let reg = |body: Value| v1(&eps[1], ed, "POST", "assets", body);
        let cases = [
            (json!({"name": "x", "media_type": "hologram"}), (400, "InvalidMediaType", "media_type")),
            (
                json!({"name": "x", "media_type": "image", "meta": {"frame_rate": "25"}}),
                (400, "InvalidRequest", "meta.frame_rate"),
            ),
            (
                json!({"name": "x", "media_type": "video", "meta": {"frame_rate": "25/0"}}),
                (400, "InvalidRequest", "meta.frame_rate"),
            ),
            (
                json!({"name": "x", "media_type": "other", "meta": {"extra": {"blob": "y".repeat(17 * KIB)}}}),
                (400, "MetadataTooLarge", "meta.extra"),
            ),
            (
                json!({"name": "x", "media_type": "video", "version": {"object": {"bucket": "studio-media", "key": "nope"}}}),
                (404, "NoSuchObject", "version.object"),
            ),
            (
                json!({"name": "x", "media_type": "video",
                       "version": {"object": {"bucket": "school-media", "key": "lecture.mp4"}}}),
                (403, "AccessDenied", "version.object"),
            ),
            (
                json!({"name": "x", "media_type": "image", "version": {"object": {"bucket": "studio-media", "key": "still.jpg"},
                       "sha256": "00".repeat(32)}}),
                (400, "InvalidRequest", "version.sha256"),
            ),
            (json!({"name": "", "media_type": "video"}), (400, "InvalidRequest", "name")),
        ];
        for (body, (status, code, field)) in cases {
            let got = error_of(reg(body.clone()).await);
            assert_eq!(got, (status, code.to_string(), field.to_string()), "{body}");
        }
        let (status, v) = reg(json!({"name": "x", "media_type": "video", "colour": "red"})).await;
        assert_eq!(status, 400, "an unknown field is refused: {v}");

        // Another tenant sees nothing of it.
        let (status, v) = v1(&eps[0], te, "GET", &format!("assets/{id}"), Value::Null).await;
        assert_eq!((status, v["error"]["code"].as_str()), (404, Some("NoSuchAsset")));
        let (status, _) = v1(&eps[0], te, "GET", "assets?tenant=studio", Value::Null).await;
        assert_eq!(status, 403);

        // The chain: a second version, guarded; a stale guard is refused.
        let v2_vid = put("cut.mov", cut2.clone()).await;
        let next = json!({"object": {"bucket": "studio-media", "key": "cut.mov", "version_id": v2_vid}, "if_versions": 1});
        let v2 = expect("v2", v1(&eps[2], ed, "POST", &format!("assets/{id}/versions"), next.clone()).await, 201);
        assert_eq!((v2["number"].as_u64(), v2["size"].as_u64()), (Some(2), Some(200 * KIB as u64)));
        assert_eq!(v2["sha256"].as_str().unwrap(), sha256_hex(&cut2));
        let stale = error_of(v1(&eps[0], ed, "POST", &format!("assets/{id}/versions"), next).await);
        assert_eq!(stale, (409, "AssetChainMoved".into(), "if_versions".into()));

        // Rollback copies no bytes: no new shard anywhere, the tenant's usage unchanged.
        let usage = || async { cli_as(&eps[0], root, &["tenant", "info", "studio"])["used"].clone() };
        let (shards_before, used_before) = (shards(&cluster), usage().await);
        let v3 = cli_as(&eps[1], ed, &["asset", "rollback", &id, "--to", "1"]);
        assert_eq!((v3["number"].as_u64(), v3["rollback_of"].as_u64()), (Some(3), Some(1)));
        assert_eq!(v3["object"], latest["object"]);
        assert_eq!(v3["sha256"], latest["sha256"]);
        assert_eq!((shards(&cluster), usage().await), (shards_before, used_before));
        let chain = cli_as(&eps[2], ed, &["asset", "versions", &id]);
        let numbers: Vec<u64> = chain.as_array().unwrap().iter().map(|v| v["number"].as_u64().unwrap()).collect();
        assert_eq!(numbers, [1, 2, 3]);
        let d = cli_as(&eps[0], ed, &["asset", "diff", &id, "1", "2"]);
        let fields: BTreeSet<&str> = d["changes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
        assert!(!d["same_content"].as_bool().unwrap());
        assert!(["object", "size", "etag", "sha256", "renditions.poster"].iter().all(|f| fields.contains(f)), "{d}");
        let d = cli_as(&eps[0], ed, &["asset", "diff", &id, "1", "latest"]);
        assert!(d["same_content"].as_bool().unwrap(), "{d}");
        assert!(d["changes"].as_array().unwrap().is_empty(), "{d}");
        // One version, by number or as the latest.
        let got = cli_as(&eps[1], ed, &["asset", "version", &id, "2"]);
        assert_eq!(got, v2, "version 2 reads back as it was added");
        let got = cli_as(&eps[2], ed, &["asset", "version", &id, "latest"]);
        assert_eq!((got["number"].as_u64(), got["rollback_of"].as_u64()), (Some(3), Some(1)));
        let missing = error_of(v1(&eps[0], ed, "GET", &format!("assets/{id}/versions/9"), Value::Null).await);
        assert_eq!((missing.0, missing.1.as_str()), (404, "NoSuchAssetVersion"));

        // Idempotent registration: the same key and body answer the same asset (200).
        let body = json!({"name": "Still", "media_type": "image", "idempotency_key": "ingest-42",
                          "version": {"object": {"bucket": "studio-media", "key": "poster.jpg"}}});
        let first = expect("first", v1(&eps[0], ed, "POST", "assets", body.clone()).await, 201);
        let again = expect("replay", v1(&eps[1], ed, "POST", "assets", body.clone()).await, 200);
        assert_eq!(first["id"], again["id"]);
        let mut other = body.clone();
        other["name"] = json!("Other");
        let conflict = error_of(v1(&eps[2], ed, "POST", "assets", other).await);
        assert_eq!(conflict, (409, "IdempotencyConflict".into(), "idempotency_key".into()));

        // 24 more images, every other one tagged; lists page by cursor, oldest first,
        // on any node, and filters combine.
        let mut images = vec![first["id"].as_str().unwrap().to_string()];
        for i in 0..24 {
            let mut b = json!({"name": format!("img{i:02}"), "media_type": "image",
                               "version": {"object": {"bucket": "studio-media", "key": "poster.jpg"}}});
            if i % 2 == 0 {
                b["tags"] = json!({"set": "a"});
            }
            let got = expect("image", v1(&eps[i % 3], ed, "POST", "assets", b).await, 201);
            images.push(got["id"].as_str().unwrap().to_string());
        }
        let mut paged = Vec::new();
        let mut cursor = String::new();
        loop {
            let q = format!("assets?media_type=image&limit=10{cursor}");
            let page = expect("page", v1(&eps[paged.len() % 3], ed, "GET", &q, Value::Null).await, 200);
            paged.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(paged, images);
        let newest = expect("desc", v1(&eps[0], ed, "GET", "assets?media_type=image&order=desc&limit=3", Value::Null).await, 200);
        assert_eq!(ids(&newest), images.iter().rev().take(3).cloned().collect::<Vec<_>>());
        let tagged = expect("tag", v1(&eps[1], ed, "GET", "assets?tag=set%3Da&media_type=image", Value::Null).await, 200);
        let want: Vec<String> = images[1..].iter().step_by(2).cloned().collect();
        assert_eq!(ids(&tagged), want);
        let by_project = expect("project", v1(&eps[2], ed, "GET", "assets?project=tides", Value::Null).await, 200);
        assert_eq!(ids(&by_project), [id.as_str()]);
        // A created-time range: from (inclusive) images[5] until (exclusive) images[10],
        // alone, through the CLI, and with a tag, newest first.
        let all = expect("all images", v1(&eps[0], ed, "GET", "assets?media_type=image&limit=100", Value::Null).await, 200);
        let (from, until) = (&all["assets"][5]["created"], &all["assets"][10]["created"]);
        let range = format!("created_from={}&created_until={}", time_q(from), time_q(until));
        let got = expect("range", v1(&eps[1], ed, "GET", &format!("assets?media_type=image&{range}"), Value::Null).await, 200);
        assert_eq!(ids(&got), images[5..10]);
        let cli_range = cli_as(
            &eps[2],
            ed,
            &["asset", "ls", "--type", "image", "--created-from", from.as_str().unwrap(), "--created-until", until.as_str().unwrap()],
        );
        let cli_ids: Vec<&str> = cli_range.as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
        assert_eq!(cli_ids, images[5..10]);
        let q = format!("assets?tag=set%3Da&{range}&order=desc");
        let got = expect("tagged range", v1(&eps[2], ed, "GET", &q, Value::Null).await, 200);
        assert_eq!(ids(&got), [images[9].clone(), images[7].clone(), images[5].clone()]);
        let bad = error_of(v1(&eps[0], ed, "GET", "assets?created_from=yesterday", Value::Null).await);
        assert_eq!(bad, (400, "InvalidRequest".into(), "created_from".into()));
        // A cursor from another query is refused.
        let page = expect("video page", v1(&eps[0], ed, "GET", "assets?media_type=image&limit=1", Value::Null).await, 200);
        let c = page["next_cursor"].as_str().unwrap();
        let wrong = error_of(v1(&eps[0], ed, "GET", &format!("assets?media_type=video&cursor={c}"), Value::Null).await);
        assert_eq!(wrong, (400, "InvalidCursor".into(), "cursor".into()));

        // An update moves the asset between indexes.
        cli_as(&eps[0], ed, &["asset", "update", &id, "--status", "archived", "--tag", "show=harbour"]);
        let archived = expect("status", v1(&eps[1], ed, "GET", "assets?status=archived", Value::Null).await, 200);
        assert_eq!(ids(&archived), [id.as_str()]);
        let old_tag = expect("old tag", v1(&eps[1], ed, "GET", "assets?tag=show%3Dtides", Value::Null).await, 200);
        assert!(ids(&old_tag).is_empty());
        // Machine tags: a value and a confidence, as a classifier wrote them, read back
        // on another node; the tags stay as they were.
        let machine = json!({"scene": {"value": "harbour", "confidence": 0.87}, "lang": {"value": "en", "confidence": 1.0}});
        let path = format!("assets/{id}");
        expect("machine tags", v1(&eps[2], ed, "PATCH", &path, json!({"machine_tags": machine})).await, 200);
        let got = expect("read back", v1(&eps[0], ed, "GET", &path, Value::Null).await, 200);
        assert_eq!(got["machine_tags"], machine);
        assert_eq!(got["tags"], json!({"show": "harbour"}));
        let over = json!({"machine_tags": {"scene": {"value": "x", "confidence": 1.5}}});
        assert_eq!(error_of(v1(&eps[1], ed, "PATCH", &path, over).await), (400, "InvalidRequest".into(), "machine_tags.scene.confidence".into()));

        // Batch get: what the caller may see, in order; the rest is missing.
        let lecture = json!({"name": "Lecture", "media_type": "video",
                             "version": {"object": {"bucket": "school-media", "key": "lecture.mp4"}}});
        let theirs = expect("school asset", v1(&eps[0], te, "POST", "assets", lecture).await, 201);
        let asked = json!({"ids": [images[3], theirs["id"], id, "0000"]});
        let got = expect("batch", v1(&eps[2], ed, "POST", "assets/batch-get", asked).await, 200);
        assert_eq!(ids(&got), [images[3].clone(), id.clone()]);
        assert_eq!(got["missing"], json!([theirs["id"], "0000"]));
        let their_id = theirs["id"].as_str().unwrap();
        let cli_got = cli_as(&eps[1], ed, &["asset", "batch-get", &images[3], their_id, &id, "0000"]);
        assert_eq!((ids(&cli_got), &cli_got["missing"]), (ids(&got), &got["missing"]));

        // Stats: exact, per media type (the latest version's size).
        let stats = cli_as(&eps[1], ed, &["asset", "stats"]);
        assert_eq!(stats["media_types"]["video"], json!({"count": 1, "bytes": 300 * KIB}));
        assert_eq!(stats["media_types"]["image"], json!({"count": 25, "bytes": 25 * 10 * KIB}));
        assert_eq!(stats["total"]["count"], 26);

        // A bucket policy denies asset actions on the assets whose objects it holds, as
        // it denies S3 requests (cairn: actions in the policy language).
        let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",
            "Action":["cairn:ShareAsset","cairn:PutAsset"],"Resource":"arn:aws:s3:::studio-media/cut.mov"}]}"#;
        s3.put_bucket_policy().bucket("studio-media").policy(deny).send().await.unwrap();
        let refused = error_of(v1(&eps[1], ed, "POST", &format!("assets/{id}/shares"), json!({"tenant": "school"})).await);
        assert_eq!((refused.0, refused.1.as_str()), (403, "AccessDenied"));
        let again = json!({"name": "x", "media_type": "video", "version": {"object": {"bucket": "studio-media", "key": "cut.mov"}}});
        assert_eq!(error_of(reg(again).await), (403, "AccessDenied".into(), "version.object".into()));
        expect("reads are not denied", v1(&eps[2], ed, "GET", &format!("assets/{id}"), Value::Null).await, 200);
        let theirs = v1(&eps[2], te, "POST", &format!("assets/{id}/shares"), json!({"tenant": "school"})).await;
        assert_eq!(theirs.0, 404, "another tenant learns nothing of the asset, policy or not: {}", theirs.1);
        let typo = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"cairn:ShareAset","Resource":"arn:aws:s3:::studio-media/*"}]}"#;
        assert!(s3.put_bucket_policy().bucket("studio-media").policy(typo).send().await.is_err(), "an unknown action is refused");
        s3.delete_bucket_policy().bucket("studio-media").send().await.unwrap();

        // A share: the school reads exactly this asset's objects with its own keys, and
        // nothing once it is revoked, on every node at once.
        let sh = cli_as(&eps[0], ed, &["asset", "share", &id, "--with", "school"]);
        assert_eq!((sh["owner"].as_str(), sh["permission"].as_str()), (Some("studio"), Some("read")));
        let incoming = cli_as(&eps[1], te, &["asset", "shared"]);
        assert_eq!(incoming[0]["asset"]["id"].as_str(), Some(id.as_str()));
        expect("a shared asset reads", v1(&eps[2], te, "GET", &format!("assets/{id}"), Value::Null).await, 200);
        let (status, _) = v1(&eps[2], te, "PATCH", &format!("assets/{id}"), json!({"status": "mine"})).await;
        assert_eq!(status, 404, "a share grants no change");
        let get = |ep: &str, key: &'static str, vid: Option<String>| {
            let c = ClientBuilder::new(ep).credentials(te.0, te.1).build();
            async move {
                let r = c.get_object().bucket("studio-media").key(key).set_version_id(vid).send().await;
                match r {
                    Ok(o) => Ok(o.body.collect().await.unwrap().into_bytes().to_vec()),
                    Err(e) => Err(ErrInfo::from_sdk(&e).status),
                }
            }
        };
        assert_eq!(sha256_hex(&get(&eps[1], "cut.mov", Some(cut1_vid.clone())).await.unwrap()), sha256_hex(&cut1));
        assert_eq!(get(&eps[2], "cut.mov", Some(v2_vid.clone())).await.map(|b| b.len()), Ok(200 * KIB));
        assert!(get(&eps[0], "poster.jpg", None).await.is_ok(), "a rendition is the asset's too");
        assert_eq!(get(&eps[0], "still.jpg", None).await, Err(Some(403)), "nothing else of the bucket");
        // A read share lets the school read the video, not annotate it; shared again to
        // read and annotate, it may.
        let note = json!({"frame": 10, "kind": "text", "text": "from the school"});
        let annotations = format!("assets/{id}/versions/1/annotations");
        let refused = error_of(v1(&eps[1], te, "POST", &annotations, note.clone()).await);
        assert_eq!((refused.0, refused.1.as_str()), (403, "AccessDenied"), "a read share grants no annotation");
        let sh = cli_as(&eps[0], ed, &["asset", "share", &id, "--with", "school", "--annotate"]);
        assert_eq!(sh["permission"], "read_annotate");
        let made = expect("annotate", v1(&eps[2], te, "POST", &annotations, note.clone()).await, 201);
        assert_eq!(made["frame"], 10);
        cli_as(&eps[1], ed, &["asset", "unshare", &id, "--with", "school"]);
        // Revoked through node 2: no node lets the school read or annotate anything of it.
        for ep in &eps {
            assert_eq!(get(ep, "cut.mov", Some(cut1_vid.clone())).await, Err(Some(403)), "revoked on {ep}");
            assert_eq!(get(ep, "poster.jpg", None).await, Err(Some(403)), "revoked on {ep}");
            assert_eq!(v1(ep, te, "GET", &format!("assets/{id}"), Value::Null).await.0, 404, "on {ep}");
            assert_eq!(v1(ep, te, "POST", &annotations, note.clone()).await.0, 404, "on {ep}");
        }
        assert!(cli_as(&eps[0], te, &["asset", "shared"]).as_array().unwrap().is_empty());
        // Both feeds tell of it: the studio's the rollback, the shares and the revocation;
        // the school's the shares and the revocation.
        let studio_feed = events_cli(&eps[2], ed, &[]);
        let of_id: Vec<(&str, Option<u64>, Option<&str>)> = studio_feed
            .iter()
            .filter(|e| e["asset"] == id.as_str())
            .map(|e| (e["kind"].as_str().unwrap(), e["version"].as_u64(), e["with"].as_str()))
            .collect();
        assert_eq!(
            of_id,
            [
                ("created", Some(1), None),
                ("version_added", Some(2), None),
                ("rolled_back", Some(3), None),
                ("updated", None, None),
                ("updated", None, None),
                ("shared", None, Some("school")),
                ("shared", None, Some("school")),
                ("revoked", None, Some("school")),
            ],
            "{studio_feed:?}"
        );
        let school_feed = events_cli(&eps[0], te, &[]);
        let kinds: Vec<(&str, &str, Option<&str>)> = school_feed
            .iter()
            .map(|e| (e["kind"].as_str().unwrap(), e["asset"].as_str().unwrap(), e["with"].as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("created", their_id, None),
                ("shared", id.as_str(), Some("studio")),
                ("shared", id.as_str(), Some("studio")),
                ("revoked", id.as_str(), Some("studio")),
            ]
        );

        // `asset put`: a 20 MiB file in two parts. The first part is already stored by
        // an upload that was cut short; put takes it up and sends only the second.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("reel.mov");
        let reel = random_bytes(5, 20 << 20);
        std::fs::write(&file, &reel).unwrap();
        // The cut-short upload carries the content mark `asset put` gives every upload.
        let up = s3
            .create_multipart_upload()
            .bucket("studio-media")
            .key("reel.mov")
            .metadata("cairn-sha256", sha256_hex(&reel))
            .send()
            .await
            .unwrap();
        let upload_id = up.upload_id().unwrap().to_string();
        s3.upload_part()
            .bucket("studio-media")
            .key("reel.mov")
            .upload_id(&upload_id)
            .part_number(1)
            .body(ByteStream::from(reel[..16 << 20].to_vec()))
            .send()
            .await
            .unwrap();
        let path = file.to_str().unwrap();
        // The upload is found by the file's content, with the part it holds.
        let found = cli_as(&eps[1], ed, &["asset", "uploads", path, "--bucket", "studio-media", "--key", "reel"]);
        assert_eq!(found["uploads"].as_array().unwrap().len(), 1, "{found}");
        assert_eq!(found["uploads"][0]["upload_id"].as_str(), Some(upload_id.as_str()));
        let parts: Vec<(u64, u64)> = found["uploads"][0]["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["number"].as_u64().unwrap(), p["size"].as_u64().unwrap()))
            .collect();
        assert_eq!(parts, [(1, 16 << 20)]);
        let other_content = cli_as(&eps[1], ed, &["asset", "uploads", "--sha256", &"ab".repeat(32), "--bucket", "studio-media"]);
        assert!(other_content["uploads"].as_array().unwrap().is_empty(), "{other_content}");
        let mut args = vec!["--access-key", ed.0, "--secret-key", ed.1, "asset", "put"];
        args.extend_from_slice(&[path, "--bucket", "studio-media", "--type", "video", "--json"]);
        let out = cairn(&eps[2], &args);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).contains(&format!("resuming upload {upload_id}: 1 of 2 parts")), "{}", stderr(&out));
        let reel_asset: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(reel_asset["latest"]["size"], 20 << 20);
        assert_eq!(reel_asset["latest"]["sha256"].as_str().unwrap(), sha256_hex(&reel));
        let body = s3.get_object().bucket("studio-media").key("reel.mov").send().await.unwrap().body.collect().await;
        assert_eq!(sha256_hex(&body.unwrap().into_bytes()), sha256_hex(&reel), "the stored bytes are the file's");
        let left = s3.list_multipart_uploads().bucket("studio-media").send().await.unwrap();
        assert!(left.uploads().is_empty(), "the resumed upload was completed");
        // The same file again, under another key: the tenant holds it, nothing is sent.
        let before_again = shards(&cluster);
        let mut again = vec!["--access-key", ed.0, "--secret-key", ed.1, "asset", "put", path];
        again.extend_from_slice(&["--bucket", "studio-media", "--key", "reel-copy.mov", "--type", "video", "--json"]);
        let out = cairn(&eps[1], &again);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).contains("nothing to upload"), "{}", stderr(&out));
        let copy: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(copy["latest"]["object"], reel_asset["latest"]["object"]);
        assert_eq!(shards(&cluster), before_again);
        assert!(s3.head_object().bucket("studio-media").key("reel-copy.mov").send().await.is_err());

        // Dedupe: the lookup finds the tenant's own versions of some content, and never
        // another tenant's; an instant upload points a new asset at the stored bytes.
        let cut1_sha = sha256_hex(&cut1);
        let q = format!("assets/content?sha256={cut1_sha}&size={}", 300 * KIB);
        let found = expect("lookup", v1(&eps[1], ed, "GET", &q, Value::Null).await, 200);
        let holders: Vec<(String, u64)> = found["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["asset"].as_str().unwrap().to_string(), m["version"].as_u64().unwrap()))
            .collect();
        assert_eq!(holders, [(id.clone(), 1), (id.clone(), 3)]);
        let theirs = expect("their lookup", v1(&eps[1], te, "GET", &q, Value::Null).await, 200);
        assert!(theirs["matches"].as_array().unwrap().is_empty(), "no cross-tenant leak: {theirs}");
        let size = (300 * KIB).to_string();
        let by_cli = cli_as(&eps[2], ed, &["asset", "content", "--sha256", &cut1_sha, "--size", &size]);
        assert_eq!(by_cli, found);
        let their_cli = cli_as(&eps[2], te, &["asset", "content", "--sha256", &cut1_sha]);
        assert!(their_cli["matches"].as_array().unwrap().is_empty(), "no cross-tenant leak: {their_cli}");
        // A file is hashed by the CLI: the reel's bytes are held by its two assets.
        let by_file = cli_as(&eps[0], ed, &["asset", "content", path]);
        let holders: BTreeSet<&str> = by_file["matches"].as_array().unwrap().iter().map(|m| m["asset"].as_str().unwrap()).collect();
        let want = BTreeSet::from([reel_asset["id"].as_str().unwrap(), copy["id"].as_str().unwrap()]);
        assert_eq!(holders, want, "{by_file}");
        let (status, _) = v1(&eps[1], te, "GET", &format!("{q}&tenant=studio"), Value::Null).await;
        assert_eq!(status, 403);
        let shards_before = shards(&cluster);
        let instant = json!({"name": "Cut (copy)", "media_type": "video",
                             "version": {"content": {"sha256": cut1_sha, "size": 300 * KIB}}});
        let copy = expect("instant upload", v1(&eps[2], ed, "POST", "assets", instant).await, 201);
        assert_eq!(copy["latest"]["object"], latest["object"], "it points at the stored bytes");
        assert_eq!(shards(&cluster), shards_before, "nothing was stored");
        let unknown = json!({"name": "x", "media_type": "video",
                             "version": {"content": {"sha256": "ab".repeat(32), "size": 5}}});
        assert_eq!(error_of(reg(unknown).await), (404, "NoSuchContent".into(), "version.content".into()));
        let their_content = json!({"name": "x", "media_type": "video",
                                   "version": {"content": {"sha256": cut1_sha, "size": 300 * KIB}}});
        let leak = error_of(v1(&eps[0], te, "POST", "assets", their_content).await);
        assert_eq!(leak.1, "NoSuchContent", "another tenant's content cannot be claimed");
        // The duplicates report: cut1's bytes are held by three versions, poster's by 25,
        // the reel's by two.
        let dups = expect("duplicates", v1(&eps[0], ed, "GET", "assets/duplicates", Value::Null).await, 200);
        let sizes: BTreeSet<(u64, usize)> = dups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g["size"].as_u64().unwrap(), g["versions"].as_array().unwrap().len()))
            .collect();
        let want = BTreeSet::from([(300 * KIB as u64, 3), (10 * KIB as u64, 25), (20u64 << 20, 2)]);
        assert_eq!(sizes, want, "{dups}");
        assert_eq!(cli_as(&eps[2], ed, &["asset", "duplicates"]), dups["groups"]);
    })
    .await;
}

/// Registers `name` (an image without versions) as `creds` through `ep`; its id.
async fn register(ep: &str, creds: (&str, &str), name: &str) -> String {
    let got =
        expect("register", v1(ep, creds, "POST", "assets", json!({"name": name, "media_type": "image"})).await, 201);
    got["id"].as_str().unwrap().to_string()
}

/// `(kind, asset)` of each event of a feed answer, and its cursor.
fn events_of(v: &Value) -> (Vec<(String, String)>, Option<String>) {
    let events = v["events"].as_array().unwrap();
    let out =
        events.iter().map(|e| (e["kind"].as_str().unwrap().into(), e["asset"].as_str().unwrap().into())).collect();
    (out, v["cursor"].as_str().map(String::from))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_asset_feed_resumes_after_a_restart_waits_and_streams() {
    within(240, async {
        let mut cluster = TestCluster::start(3);
        let mut eps: Vec<String> = cluster.nodes.iter().map(|n| n.endpoint().to_string()).collect();
        let root = (ROOT_ACCESS_KEY, ROOT_SECRET_KEY);
        cli_as(&eps[0], root, &["tenant", "create", "Studio", "--id", "studio"]);
        cli_as(&eps[0], root, &["tenant", "create", "Other", "--id", "other"]);
        let key = cli_as(&eps[0], root, &["key", "create", "--tenant", "studio", "--name", "feed"]);
        let (kid, ksec) = creds_of(&key);
        let k = (kid.as_str(), ksec.as_str());
        let other = cli_as(&eps[0], root, &["key", "create", "--tenant", "other", "--name", "other"]);
        let (oid, osec) = creds_of(&other);

        // A batch registration answers each item on its own; a bad one names its place.
        let batch = json!({"assets": [
            {"name": "b0", "media_type": "image"},
            {"name": "b1", "media_type": "hologram"},
            {"name": "b2", "media_type": "audio"}]});
        let got = expect("batch", v1(&eps[1], k, "POST", "assets/batch", batch).await, 200);
        let results = got["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(results[1]["error"]["code"], "InvalidMediaType");
        assert_eq!(results[1]["error"]["field"], "assets[1].media_type");
        let mut made: Vec<String> =
            [&results[0], &results[2]].iter().map(|r| r["asset"]["id"].as_str().unwrap().to_string()).collect();
        for i in 0..3 {
            made.push(register(&eps[0], k, &format!("a{i}")).await);
        }
        // The same through the CLI, from a JSON-lines file: the good ones are made, the
        // bad one is named by its place in the file, and the command fails.
        let dir = tempfile::tempdir().unwrap();
        let lines = dir.path().join("batch.jsonl");
        let body = "{\"name\": \"c0\", \"media_type\": \"video\", \"tags\": {\"from\": \"cli\"}}\n\
                    {\"name\": \"c1\", \"media_type\": \"hologram\"}\n\n\
                    {\"name\": \"c2\", \"media_type\": \"document\", \"meta\": {\"pages\": 12}}\n";
        std::fs::write(&lines, body).unwrap();
        let out = cairn(
            &eps[2],
            &["--access-key", k.0, "--secret-key", k.1, "asset", "batch", lines.to_str().unwrap(), "--json"],
        );
        assert!(!out.status.success(), "a refused registration fails the command");
        assert!(stderr(&out).contains("1 of 3 registrations refused"), "{}", stderr(&out));
        let got: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let results = got["results"].as_array().unwrap();
        assert_eq!(
            (results[1]["error"]["code"].as_str(), results[1]["error"]["field"].as_str()),
            (Some("InvalidMediaType"), Some("assets[1].media_type"))
        );
        assert_eq!(
            (results[0]["asset"]["tags"]["from"].as_str(), results[2]["asset"]["meta"]["pages"].as_u64()),
            (Some("cli"), Some(12))
        );
        made.extend([&results[0], &results[2]].iter().map(|r| r["asset"]["id"].as_str().unwrap().to_string()));
        // An all-good file registers everything, as a JSON array.
        std::fs::write(&lines, r#"[{"name": "c3", "media_type": "audio"}]"#).unwrap();
        let ok = cli_as(&eps[0], k, &["asset", "batch", lines.to_str().unwrap()]);
        assert_eq!(ok["results"].as_array().unwrap().len(), 1);
        made.push(ok["results"][0]["asset"]["id"].as_str().unwrap().to_string());
        // Another tenant's registrations never appear in this feed.
        register(&eps[0], (oid.as_str(), osec.as_str()), "theirs").await;

        // Read three events through node 2, restart it, write more, and resume there.
        let first = expect("feed", v1(&eps[1], k, "GET", "assets/events?limit=3", Value::Null).await, 200);
        let (seen, cursor) = events_of(&first);
        assert_eq!(seen.iter().map(|(_, a)| a.clone()).collect::<Vec<_>>(), made[..3]);
        assert!(seen.iter().all(|(kind, _)| kind == "created"));
        let cursor = cursor.unwrap();
        cluster.nodes[1].restart(false);
        cluster.nodes[1].wait_ready(std::time::Duration::from_secs(30)).await;
        eps[1] = cluster.nodes[1].endpoint().to_string();
        let later = register(&eps[2], k, "later").await;
        made.push(later.clone());
        cli_as(&eps[0], k, &["asset", "update", &later, "--status", "review"]);
        let rest =
            expect("resume", v1(&eps[1], k, "GET", &format!("assets/events?cursor={cursor}"), Value::Null).await, 200);
        let (seen, end) = events_of(&rest);
        let mut want: Vec<(String, String)> = made[3..].iter().map(|a| ("created".to_string(), a.clone())).collect();
        want.push(("updated".into(), later.clone()));
        assert_eq!(seen, want, "nothing missed, nothing repeated");
        let end = end.unwrap();

        // Full-text search, on every node (node 2 restarted: its index resumed), only
        // ever within the caller's tenant.
        for ep in &eps {
            let got = expect("search", v1(ep, k, "GET", "assets/search?q=later", Value::Null).await, 200);
            assert_eq!(ids(&got), [later.as_str()], "through {ep}");
        }
        let prefix = expect("prefix", v1(&eps[1], k, "GET", "assets/search?name_prefix=A", Value::Null).await, 200);
        assert_eq!(ids(&prefix).into_iter().collect::<BTreeSet<_>>(), made[2..5].iter().cloned().collect());
        let theirs = expect(
            "their search",
            v1(&eps[0], (oid.as_str(), osec.as_str()), "GET", "assets/search?q=later", Value::Null).await,
            200,
        );
        assert!(ids(&theirs).is_empty(), "another tenant finds nothing of this one");
        let mine = expect(
            "their own",
            v1(&eps[0], (oid.as_str(), osec.as_str()), "GET", "assets/search?q=theirs", Value::Null).await,
            200,
        );
        assert_eq!(ids(&mine).len(), 1);
        let bad = error_of(v1(&eps[0], k, "GET", "assets/search?q=name:(", Value::Null).await);
        assert_eq!((bad.0, bad.2.as_str()), (400, "q"));

        // A long poll is answered as soon as the next event is committed, on another node.
        let ep = eps[2].clone();
        let (kid2, ksec2) = (kid.clone(), ksec.clone());
        let end2 = end.clone();
        let started = std::time::Instant::now();
        let waiting = tokio::spawn(async move {
            v1(
                &ep,
                (kid2.as_str(), ksec2.as_str()),
                "GET",
                &format!("assets/events?cursor={end2}&wait=20"),
                Value::Null,
            )
            .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let woken = register(&eps[0], k, "woken").await;
        let got = expect("long poll", waiting.await.unwrap(), 200);
        assert!(started.elapsed() < std::time::Duration::from_secs(15), "{:?}", started.elapsed());
        assert_eq!(events_of(&got).0, [("created".to_string(), woken.clone())]);
        let empty = expect(
            "no wait",
            v1(&eps[0], k, "GET", &format!("assets/events?cursor={}", events_of(&got).1.unwrap()), Value::Null).await,
            200,
        );
        assert!(events_of(&empty).0.is_empty());

        // Server-Sent Events from the same cursor: the event already there, then a new one.
        let url = format!("{}/cairn/v1/assets/events/stream?cursor={end}", eps[1]);
        let signed = sigv4_headers("GET", &url, &[], Payload::Bytes(&[]), std::time::SystemTime::now(), Some(k));
        let mut req = raw_http().get(&url);
        for (h, v) in signed {
            req = req.header(h, v);
        }
        let mut resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let fresh = register(&eps[2], k, "streamed").await;
        let mut text = String::new();
        while text.matches("event: asset").count() < 2 {
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(20), resp.chunk()).await.unwrap().unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk.expect("the stream stays open")));
        }
        let datas: Vec<Value> =
            text.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).collect();
        assert_eq!(datas[0]["asset"].as_str(), Some(woken.as_str()));
        assert_eq!(datas[1]["asset"].as_str(), Some(fresh.as_str()));
        assert!(text.contains(&format!("id: {}", datas[1]["cursor"].as_str().unwrap())));
        drop(resp);

        // `cairn asset events --stream`: the same stream from the same cursor, through
        // the CLI, which waits for the third event and stops there.
        let child = std::process::Command::new(cairn_bin())
            .args(["--endpoint", &eps[0], "--access-key", k.0, "--secret-key", k.1, "asset", "events"])
            .args(["--stream", "--cursor", &end, "--limit", "3"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let third = register(&eps[1], k, "after the stream opened").await;
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()),
        )
        .await
        .expect("the CLI stops after --limit events")
        .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let streamed: Vec<Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let assets: Vec<&str> = streamed.iter().map(|e| e["asset"].as_str().unwrap()).collect();
        assert_eq!(assets, [woken.as_str(), fresh.as_str(), third.as_str()]);
        assert_eq!(streamed[..2], datas[..2], "the CLI prints the events the stream sends");

        // Another tenant's key cannot read this feed; a cursor of another feed is refused.
        let (status, _) =
            v1(&eps[0], (oid.as_str(), osec.as_str()), "GET", "assets/events?tenant=studio", Value::Null).await;
        assert_eq!(status, 403);
        let wrong = error_of(
            v1(&eps[0], (oid.as_str(), osec.as_str()), "GET", &format!("assets/events?cursor={end}"), Value::Null)
                .await,
        );
        assert_eq!(wrong, (400, "InvalidCursor".into(), "cursor".into()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trash_purge_expiry_and_transfer_move_storage_and_usage_exactly() {
    within(240, async {
        let cluster = TestCluster::start(3);
        let eps: Vec<String> = cluster.nodes.iter().map(|n| n.endpoint().to_string()).collect();
        let root = (ROOT_ACCESS_KEY, ROOT_SECRET_KEY);
        cli_as(&eps[0], root, &["tenant", "create", "Studio", "--id", "studio"]);
        let key = cli_as(&eps[0], root, &["key", "create", "--tenant", "studio", "--name", "ed"]);
        let (kid, ksec) = creds_of(&key);
        let k = (kid.as_str(), ksec.as_str());
        let s3 = ClientBuilder::new(&eps[0]).credentials(k.0, k.1).build();
        s3.create_bucket().bucket("media").send().await.unwrap();
        for (key, len) in [("shared.mov", 64 * KIB), ("only.mov", 96 * KIB)] {
            let body = ByteStream::from(random_bytes(len as u64, len));
            s3.put_object().bucket("media").key(key).body(body).send().await.unwrap();
        }
        let reg = |name: &'static str, key: &'static str| {
            let ep = eps[0].clone();
            async move {
                let body = json!({"name": name, "media_type": "video", "version": {"object": {"bucket": "media", "key": key}}});
                let got = expect("register", v1(&ep, k, "POST", "assets", body).await, 201);
                got["id"].as_str().unwrap().to_string()
            }
        };
        let a = reg("A", "shared.mov").await;
        let b = reg("B", "shared.mov").await;
        let c = reg("C", "only.mov").await;

        // Into the trash: out of the list and the stats, into the trash's list.
        let t = cli_as(&eps[1], k, &["asset", "rm", &a]);
        assert!(t["trashed_at"].is_string() && t["purge_at"].is_string(), "{t}");
        let listed = cli_as(&eps[2], k, &["asset", "ls"]);
        let names: Vec<&str> = listed.as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap()).collect();
        assert_eq!(names, [b.as_str(), c.as_str()]);
        let trash = cli_as(&eps[2], k, &["asset", "ls", "--trash"]);
        assert_eq!(trash.as_array().unwrap().len(), 1);
        assert_eq!(trash[0]["id"].as_str(), Some(a.as_str()));
        assert_eq!(cli_as(&eps[0], k, &["asset", "stats"])["total"]["count"], 2);
        let patch = error_of(v1(&eps[0], k, "PATCH", &format!("assets/{a}"), json!({"status": "x"})).await);
        assert_eq!(patch, (409, "AssetInTrash".into(), String::new()));
        let not_trashed = error_of(v1(&eps[0], k, "POST", &format!("assets/{b}/purge"), Value::Null).await);
        assert_eq!(not_trashed.1, "AssetNotInTrash");

        // Restored where it was; trashed again and purged by hand: the object B still
        // points at stays.
        cli_as(&eps[1], k, &["asset", "restore", &a]);
        assert_eq!(cli_as(&eps[0], k, &["asset", "stats"])["total"]["count"], 3);
        cli_as(&eps[1], k, &["asset", "rm", &a]);
        let p = cli_as(&eps[2], k, &["asset", "purge", &a]);
        assert_eq!((p["objects_deleted"].as_u64(), p["objects_kept"].as_u64()), (Some(0), Some(1)));
        assert_eq!(v1(&eps[0], k, "GET", &format!("assets/{a}"), Value::Null).await.0, 404);
        s3.head_object().bucket("media").key("shared.mov").send().await.expect("still B's");

        // A retention of zero: the leader's worker purges C soon after it is trashed,
        // deleting only.mov and giving its bytes back to the tenant.
        let used = || async { cli_as(&eps[0], root, &["tenant", "info", "studio"])["used"]["bytes"].as_u64().unwrap() };
        let before = used().await;
        let r = cli_as(&eps[0], k, &["asset", "trash-retention", "--set", "0s"]);
        assert_eq!(r["retention_secs"], 0);
        cli_as(&eps[1], k, &["asset", "rm", &c]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while v1(&eps[2], k, "GET", &format!("assets/{c}"), Value::Null).await.0 != 404 {
            assert!(std::time::Instant::now() < deadline, "the trash worker never purged the asset");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let gone = s3.head_object().bucket("media").key("only.mov").send().await;
        assert!(gone.is_err(), "the object only C pointed at is deleted");
        assert_eq!(used().await, before - 96 * KIB as u64);
        let feed = expect("feed", v1(&eps[0], k, "GET", "assets/events?limit=100", Value::Null).await, 200);
        let kinds: Vec<&str> = feed["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["created", "created", "created", "trashed", "restored", "trashed", "purged", "trashed", "purged"]
        );

        // A transfer to another tenant: refused whole by its quota, then done in one
        // commit that moves the object (no byte copied) and its usage.
        cli_as(&eps[0], root, &["tenant", "create", "School", "--id", "school", "--quota-bytes", "32KiB"]);
        let teacher = cli_as(&eps[0], root, &["key", "create", "--tenant", "school", "--name", "teacher"]);
        let (tid, tsec) = creds_of(&teacher);
        let school = ClientBuilder::new(&eps[0]).credentials(&tid, &tsec).build();
        school.create_bucket().bucket("school-media").send().await.unwrap();
        let to_school = json!({"tenant": "school", "bucket": "school-media"});
        let (studio_used, shards_now) = (used().await, shards(&cluster));
        let school_used = || async { cli_as(&eps[0], root, &["tenant", "info", "school"])["used"]["bytes"].as_u64().unwrap() };
        let refused = v1(&eps[1], root, "POST", &format!("assets/{b}/transfer"), to_school.clone()).await;
        assert_eq!((refused.0, refused.1["error"]["code"].as_str()), (403, Some("QuotaExceeded")), "{}", refused.1);
        assert_eq!(expect("still", v1(&eps[0], k, "GET", &format!("assets/{b}"), Value::Null).await, 200)["tenant"], "studio");
        assert_eq!((used().await, school_used().await, shards(&cluster)), (studio_used, 0, shards_now));
        s3.head_object().bucket("media").key("shared.mov").send().await.expect("unmoved");
        cli_as(&eps[0], root, &["tenant", "set-quota", "school", "--bytes", "1MiB"]);
        let moved = cli_as(&eps[2], root, &["asset", "transfer", &b, "--to", "school", "--bucket", "school-media"]);
        assert_eq!(moved["tenant"], "school");
        assert_eq!(moved["latest"]["object"]["bucket"], "school-media");
        assert_eq!((used().await, school_used().await), (studio_used - 64 * KIB as u64, 64 * KIB as u64));
        assert_eq!(shards(&cluster), shards_now, "no byte copied");
        let got = school.get_object().bucket("school-media").key("shared.mov").send().await.unwrap();
        assert_eq!(got.body.collect().await.unwrap().into_bytes().len(), 64 * KIB);
        assert!(s3.head_object().bucket("media").key("shared.mov").send().await.is_err());
        assert_eq!(v1(&eps[0], k, "GET", &format!("assets/{b}"), Value::Null).await.0, 404, "the studio's no more");

        // A tenant admin of the studio manages the assets of the studio's sub-tenant (and
        // the studio's), on any node; the school, outside its subtree, is refused; a
        // plain key of the studio does not reach the sub-tenant.
        cli_as(&eps[0], root, &["tenant", "create", "Studio East", "--id", "east", "--parent", "studio"]);
        let boss = cli_as(&eps[0], root, &["key", "create", "--tenant", "studio", "--tenant-admin", "--name", "boss"]);
        let (bid, bsec) = creds_of(&boss);
        let ta = (bid.as_str(), bsec.as_str());
        let east = json!({"tenant": "east", "name": "East promo", "media_type": "video", "tags": {"team": "east"}});
        let promo = expect("into the sub-tenant", v1(&eps[1], ta, "POST", "assets", east).await, 201);
        assert_eq!(promo["tenant"], "east");
        let promo_id = promo["id"].as_str().unwrap().to_string();
        let listed = cli_as(&eps[2], ta, &["asset", "ls", "--tenant", "east"]);
        assert_eq!(listed.as_array().unwrap().len(), 1);
        assert_eq!(listed[0]["id"].as_str(), Some(promo_id.as_str()));
        let changed = cli_as(&eps[0], ta, &["asset", "update", &promo_id, "--status", "approved"]);
        assert_eq!(changed["status"], "approved");
        let both = cli_as(&eps[1], ta, &["asset", "batch-get", &promo_id, &c]);
        assert_eq!(ids(&both), [promo_id.as_str()], "c is purged");
        assert_eq!(cli_as(&eps[2], ta, &["asset", "stats", "--tenant", "east"])["total"]["count"], 1);
        let retention = cli_as(&eps[0], ta, &["asset", "trash-retention", "--tenant", "east"]);
        assert_eq!(retention["retention_secs"], 7 * 24 * 3600);
        let trashed = cli_as(&eps[1], ta, &["asset", "rm", &promo_id]);
        assert!(trashed["trashed_at"].is_string());
        cli_as(&eps[2], ta, &["asset", "restore", &promo_id]);
        assert_eq!(v1(&eps[0], k, "GET", &format!("assets/{promo_id}"), Value::Null).await.0, 404, "a plain studio key");
        let (status, _) = v1(&eps[0], k, "GET", "assets?tenant=east", Value::Null).await;
        assert_eq!(status, 403);
        let theirs = json!({"tenant": "school", "name": "x", "media_type": "image"});
        let refused = error_of(v1(&eps[2], ta, "POST", "assets", theirs).await);
        assert_eq!((refused.0, refused.1.as_str()), (403, "AccessDenied"));
        let (status, _) = v1(&eps[1], ta, "GET", "assets?tenant=school", Value::Null).await;
        assert_eq!(status, 403, "the school is outside the studio's subtree");
        assert_eq!(v1(&eps[1], ta, "GET", &format!("assets/{b}"), Value::Null).await.0, 404, "the school's asset");
        let (status, _) = v1(&eps[0], ta, "PATCH", &format!("assets/{b}"), json!({"status": "mine"})).await;
        assert_eq!(status, 404);
        let feed = events_cli(&eps[0], ta, &["--tenant", "east"]);
        let kinds: Vec<&str> = feed.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["created", "updated", "trashed", "restored"]);
    })
    .await;
}
