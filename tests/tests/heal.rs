//! Healing, scrubbing and orphan collection on real nodes: shards (files and segment
//! records) are damaged on disk the way failing hardware damages them, objects are read back with the SDK,
//! and the node's own reports (through the `cairn` CLI) must match what was done.

use cairn_tests::cluster::{cairn, cli_json, stderr, stdout, TestCluster};
use cairn_tests::*;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const BUCKET: &str = "heal-bkt";
const HEADER: u64 = 48;

/// The object's health as the node verifies it now, healing nothing.
/// `cairn heal --object` exits non-zero exactly when the object has lost stripes.
fn object_health(endpoint: &str, key: &str) -> Value {
    let out = cairn(endpoint, &["heal", "--object", &format!("{BUCKET}/{key}"), "--dry-run", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("heal --object {key}: {e}: {}{}", stdout(&out), stderr(&out)));
    assert_eq!(out.status.success(), v["state"] != "lost", "exit status of heal --object {key}: {v}");
    v
}

fn blob_ids(endpoint: &str, key: &str) -> Vec<String> {
    let v = object_health(endpoint, key);
    v["blobs"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_string()).collect()
}

fn stripes(v: &Value) -> (u64, u64, u64) {
    let s = &v["stripes"];
    (s["whole"].as_u64().unwrap(), s["degraded"].as_u64().unwrap(), s["lost"].as_u64().unwrap())
}

async fn wait_whole(endpoint: &str, key: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let v = object_health(endpoint, key);
        if v["state"] == "whole" {
            return v;
        }
        assert!(Instant::now() < deadline, "{key} did not become whole in {timeout:?}: {v}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// GET through the SDK: the whole body, or a description of how it failed.
async fn try_get(c: &aws_sdk_s3::Client, key: &str) -> Result<Vec<u8>, String> {
    let out =
        c.get_object().bucket(BUCKET).key(key).send().await.map_err(|e| format!("{:?}", ErrInfo::from_sdk(&e)))?;
    out.body.collect().await.map(|b| b.into_bytes().to_vec()).map_err(|e| format!("body: {e}"))
}

async fn multipart(c: &aws_sdk_s3::Client, key: &str, parts: &[Vec<u8>]) {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let up = c.create_multipart_upload().bucket(BUCKET).key(key).send().await.unwrap();
    let id = up.upload_id().unwrap();
    let mut done = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let r = c
            .upload_part()
            .bucket(BUCKET)
            .key(key)
            .upload_id(id)
            .part_number(n)
            .body(p.clone().into())
            .send()
            .await
            .unwrap();
        done.push(CompletedPart::builder().part_number(n).e_tag(r.e_tag().unwrap()).build());
    }
    c.complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_shards_read_exact_and_heal_back_to_whole() {
    let node = TestNode::start();
    let ep = node.endpoint().to_string();
    let disks = node.disk_dirs();
    let c = node.client();
    create_bucket(&c, BUCKET).await;
    // 2+2 with 256 KiB blocks: 700 KiB is two stripes.
    let mut objects: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, key) in ["a", "b", "c", "d"].iter().enumerate() {
        let data = random_bytes(100 + i as u64, 700 * 1024);
        put_bytes(&c, BUCKET, key, data.clone()).await;
        objects.push((key.to_string(), data));
    }
    let parts = vec![random_bytes(7, 5 << 20), random_bytes(8, 150 * 1024)];
    multipart(&c, "mp", &parts).await;
    objects.push(("mp".into(), parts.concat()));
    for (key, _) in &objects {
        let v = object_health(&ep, key);
        assert_eq!(v["state"], "whole", "{key} right after writing: {v}");
    }

    // At most m = 2 bad shards per blob, of every kind.
    let a = &blob_ids(&ep, "a")[0];
    find_shard(&disks, a, 0).flip(HEADER + 100);
    let b = &blob_ids(&ep, "b")[0];
    find_shard(&disks, b, 1).truncate();
    find_shard(&disks, b, 3).destroy();
    let mp = blob_ids(&ep, "mp");
    assert_eq!(mp.len(), 2, "one blob per part");
    find_shard(&disks, &mp[0], 0).destroy();
    find_shard(&disks, &mp[1], 2).flip(10); // header: the whole shard is unusable

    let va = object_health(&ep, "a");
    assert_eq!((va["state"].as_str(), stripes(&va)), (Some("degraded"), (1, 1, 0)), "{va}");
    assert_eq!(va["blobs"][0]["bad_shards"], serde_json::json!([0]));
    let vb = object_health(&ep, "b");
    assert_eq!(vb["blobs"][0]["bad_shards"], serde_json::json!([1, 3]));
    assert_eq!(stripes(&vb).2, 0, "two bad shards of 2+2 lose nothing");

    // A heal pass over the bucket rebuilds exactly the 5 bad shards and verifies again.
    let v = cli_json(&ep, &["heal", BUCKET]);
    let p = &v["pass"];
    assert_eq!(p["state"], "done", "{v}");
    assert_eq!(p["objects"], 5);
    assert_eq!(p["blobs"], 6);
    assert_eq!(p["shards_rewritten"], 5, "{v}");
    assert!(p["found"]["degraded"].as_u64().unwrap() >= 5, "{v}");
    assert_eq!((p["stripes"]["degraded"].as_u64(), p["stripes"]["lost"].as_u64()), (Some(0), Some(0)), "{v}");
    // The same figures on /metrics.
    let metrics = raw_http().get(format!("{ep}/metrics")).send().await.unwrap().text().await.unwrap();
    for line in [
        r#"cairn_pass_shards_rewritten{pass="heal"} 5"#,
        r#"cairn_pass_objects{pass="heal"} 5"#,
        r#"cairn_pass_stripes{pass="heal",state="whole"} 19"#,
        r#"cairn_pass_stripes{pass="heal",state="lost"} 0"#,
        r#"cairn_pass_running{pass="heal"} 0"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "/metrics lacks `{line}`:\n{metrics}");
    }
    for (key, data) in &objects {
        assert_eq!(object_health(&ep, key)["state"], "whole", "{key} after healing");
        assert!(try_get(&c, key).await.unwrap() == *data, "{key} reads back byte-exact");
    }

    // Heal on read: a read that needs parity queues the object; no one asks for a heal.
    let cid = &blob_ids(&ep, "c")[0];
    find_shard(&disks, cid, 1).destroy();
    assert!(try_get(&c, "c").await.unwrap() == objects[2].1);
    wait_whole(&ep, "c", Duration::from_secs(15)).await;
    let st = cli_json(&ep, &["heal", "--status"]);
    assert!(st["on_read"]["healed"].as_u64().unwrap() >= 1, "{st}");

    // A whole disk directory wiped while the node runs: reads stay exact, and the
    // node formats the directory again and refills it.
    std::fs::remove_dir_all(&disks[2]).unwrap();
    for (key, data) in &objects {
        assert!(try_get(&c, key).await.unwrap() == *data, "{key} with disk 3 gone");
    }
    for (key, _) in &objects {
        wait_whole(&ep, key, Duration::from_secs(60)).await;
    }
    assert!(disks[2].join(".cairn-disk").is_file(), "the wiped disk was formatted again");
    let on_disk3 = stored_shards(&disks[2]).len();
    assert_eq!(on_disk3, 6, "one shard of each of the 6 blobs is back on the wiped disk");

    // Beyond m: three bad shards of one stripe. Never wrong bytes, reported lost, and
    // a heal pass says so (and `cairn heal` fails) instead of claiming success.
    let d = &blob_ids(&ep, "d")[0];
    for s in [0, 1, 3] {
        find_shard(&disks, d, s).flip(HEADER + 10);
    }
    if let Ok(body) = try_get(&c, "d").await {
        panic!("GET of an object with a lost stripe succeeded with {} bytes", body.len());
    }
    let vd = object_health(&ep, "d");
    assert_eq!((vd["state"].as_str(), stripes(&vd)), (Some("lost"), (1, 0, 1)), "{vd}");
    let out = cairn(&ep, &["heal", BUCKET]);
    assert!(!out.status.success(), "cairn heal must fail when stripes are lost: {}", stdout(&out));
    assert!(stderr(&out).contains("lost"), "{}", stderr(&out));
    let st = cli_json(&ep, &["heal", "--status"]);
    assert_eq!(st["pass"]["stripes"]["lost"], 1, "{st}");
    assert!(try_get(&c, "d").await.is_err(), "still an error after the failed heal");
    for (key, data) in objects.iter().filter(|(k, _)| k != "d") {
        assert!(try_get(&c, key).await.unwrap() == *data, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrub_resumes_after_a_crash_and_heals_what_reads_never_touch() {
    // 1 MiB/s of shard reads: a pass over 17 objects of 512 KiB (1 MiB of shards each)
    // takes ~17 s, long enough to crash the node in the middle of it.
    let mut node = TestNode::start_with(&["--scrub-rate-mib", "1", "--scrub-interval-secs", "0"]);
    let ep = node.endpoint().to_string();
    let disks = node.disk_dirs();
    let c = node.client();
    create_bucket(&c, BUCKET).await;
    let mut objects = Vec::new();
    for i in 0..16 {
        let key = format!("k{i:02}");
        let data = random_bytes(i, 512 * 1024);
        put_bytes(&c, BUCKET, &key, data.clone()).await;
        objects.push((key, data));
    }
    let last = random_bytes(99, 512 * 1024);
    put_bytes(&c, BUCKET, "zz-last", last.clone()).await;
    // A parity shard: a healthy read never looks at it, so only the scrubber can find it.
    let id = &blob_ids(&ep, "zz-last")[0];
    find_shard(&disks, id, 3).flip(HEADER + 1000);
    assert!(try_get(&c, "zz-last").await.unwrap() == last);
    let idle = cli_json(&ep, &["scrub", "--status"]);
    assert!(idle["last"].is_null() && idle["current"].is_null(), "no pass before one is asked for: {idle}");

    cli_json(&ep, &["scrub"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = cli_json(&ep, &["scrub", "--status"]);
        if v["current"]["objects"].as_u64().unwrap_or(0) >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the scrub pass did not get going: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Past at least one checkpoint (every 5 s), then crash.
    tokio::time::sleep(Duration::from_secs(6)).await;
    node.restart(true);
    node.wait_live().await;
    let ep = node.endpoint().to_string();
    let c = node.client();
    let v = cli_json(&ep, &["scrub", "--status"]);
    let resumed_at = v["current"]["objects"].as_u64().unwrap_or(0);
    assert!(resumed_at >= 3, "after the crash the pass resumes from its checkpoint, not from zero: {v}");
    assert!(v["last"].is_null(), "the pass did not finish before the crash: {v}");

    let deadline = Instant::now() + Duration::from_secs(90);
    let done = loop {
        let v = cli_json(&ep, &["scrub", "--status"]);
        if !v["last"].is_null() {
            break v["last"].clone();
        }
        assert!(Instant::now() < deadline, "the resumed pass did not finish: {v}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(done["state"], "done");
    assert_eq!(done["objects"], 17, "every object once, across the crash: {done}");
    assert_eq!(done["found"]["degraded"], 1, "the bad parity block: {done}");
    assert_eq!(done["shards_rewritten"], 1, "{done}");
    assert_eq!((done["stripes"]["whole"].as_u64(), done["stripes"]["lost"].as_u64()), (Some(17), Some(0)), "{done}");
    assert_eq!(object_health(&ep, "zz-last")["state"], "whole");
    for (key, data) in objects.iter().chain(std::iter::once(&("zz-last".to_string(), last))) {
        assert!(try_get(&c, key).await.unwrap() == *data, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_go_after_their_grace_and_live_shards_stay() {
    let node = TestNode::start();
    let ep = node.endpoint().to_string();
    let disks = node.disk_dirs();
    let c = node.client();
    create_bucket(&c, BUCKET).await;
    let mut objects = Vec::new();
    for i in 0..3 {
        let key = format!("o{i}");
        let data = random_bytes(i, 150 * 1024);
        put_bytes(&c, BUCKET, &key, data.clone()).await;
        objects.push((key, data));
    }
    // Overwrites and deletes leave no shards behind once their background removal ran.
    put_bytes(&c, BUCKET, "o0", objects[0].1.clone()).await;
    put_bytes(&c, BUCKET, "gone", random_bytes(9, 150 * 1024)).await;
    c.delete_object().bucket(BUCKET).key("gone").send().await.unwrap();
    let count_shards = || stored_shards_all(&disks).len();
    assert!(
        eventually(Duration::from_secs(10), || count_shards() == 12).await,
        "3 objects x 4 shards, found {}",
        count_shards()
    );

    // Files a crash would leave: shards of a blob that was never committed, and a temp file.
    let orphan = disks[1].join("objects").join("ab").join(format!("ab{}.1", "0".repeat(30)));
    std::fs::write(&orphan, b"not referenced by anything").unwrap();
    std::fs::write(disks[0].join("tmp").join(format!("{}.0", "cd".repeat(16))), b"half a write").unwrap();

    let young = cli_json(&ep, &["gc"]);
    assert_eq!(
        (young["removed"].as_u64(), young["young"].as_u64()),
        (Some(0), Some(13)),
        "default grace keeps new files: {young}"
    );
    assert!(orphan.is_file());
    let r = cli_json(&ep, &["gc", "--grace-secs", "0"]);
    assert_eq!(
        (r["scanned"].as_u64(), r["removed"].as_u64(), r["tmp_removed"].as_u64()),
        (Some(13), Some(1), Some(1)),
        "{r}"
    );
    assert!(!orphan.exists());
    assert_eq!(count_shards(), 12);
    for (key, data) in &objects {
        assert_eq!(object_health(&ep, key)["state"], "whole");
        assert!(try_get(&c, key).await.unwrap() == *data, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_disk_on_one_node_is_refilled_from_the_others() {
    let cluster = TestCluster::start(3);
    let ep0 = cluster.nodes[0].endpoint().to_string();
    let c = cluster.nodes[0].client();
    create_bucket(&c, BUCKET).await;
    let mut objects = Vec::new();
    for i in 0..6 {
        let key = format!("w{i}");
        let data = random_bytes(50 + i, 150 * 1024);
        put_bytes(&c, BUCKET, &key, data.clone()).await;
        objects.push((key, data));
    }
    let victim = cluster.nodes[1].disk_dirs();
    let held = |dir: &PathBuf| stored_shards(dir).len();
    let before: Vec<usize> = victim.iter().map(held).collect();
    let wiped = before.iter().position(|&n| n > 0).expect("node 2 holds shards");
    std::fs::remove_dir_all(&victim[wiped]).unwrap();
    // Any node reads every object meanwhile, and node 2's watch refills its disk from
    // the shards on nodes 1 and 3.
    let c2 = cluster.nodes[2].client();
    for (key, data) in &objects {
        assert!(try_get(&c2, key).await.unwrap() == *data, "{key} with a disk of node 2 wiped");
    }
    for (key, _) in &objects {
        wait_whole(&ep0, key, Duration::from_secs(60)).await;
    }
    assert_eq!(held(&victim[wiped]), before[wiped], "every shard of the wiped disk is back");
}
