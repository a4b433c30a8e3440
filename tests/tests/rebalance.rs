//! Adding a node moves shards onto it: the rebalancer on the leader copies misplaced
//! shards to their primary disks, commits each move, and removes the old copies,
//! while every version of every object keeps reading back byte-exact: noncurrent
//! versions move too, and a blob that versions share (a rollback) moves once, for all.

use cairn_tests::cluster::{cairn, start_node, stderr, stdout, TestCluster};
use cairn_tests::*;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const BUCKET: &str = "rebal";

fn shard_count(dirs: &[PathBuf]) -> usize {
    stored_shards_all(dirs).len()
}

fn admin_json(endpoint: &str, args: &[&str]) -> Value {
    let out = cairn(endpoint, args);
    assert!(out.status.success(), "cairn {args:?}: {}{}", stdout(&out), stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("cairn {args:?}: {e}: {}", stdout(&out)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_node_gets_its_share_of_existing_shards() {
    let mut cluster = TestCluster::start(2);
    let ep = cluster.nodes[0].endpoint().to_string();
    let c = cluster.nodes[0].client();
    create_bucket(&c, BUCKET).await;
    let on = cairn_tests::aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(cairn_tests::aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .build();
    c.put_bucket_versioning().bucket(BUCKET).versioning_configuration(on).send().await.unwrap();
    // (key, version id, bytes) of every version written.
    let mut versions: Vec<(String, String, Vec<u8>)> = Vec::new();
    let put_version = |key: String, data: Vec<u8>| {
        let c = c.clone();
        async move {
            let r = c.put_object().bucket(BUCKET).key(&key).body(data.clone().into()).send().await.unwrap();
            (key, r.version_id().unwrap().to_string(), data)
        }
    };
    let mut objects = Vec::new();
    for i in 0..12u64 {
        let key = format!("obj-{i:02}");
        let data = random_bytes(300 + i, 600 * 1024);
        versions.push(put_version(key.clone(), data.clone()).await);
        objects.push((key, data));
    }
    // Four keys get a newer version (the first becomes noncurrent); one is rolled back
    // to its first, sharing its blob.
    for (i, (key, current)) in objects.iter_mut().take(4).enumerate() {
        *current = random_bytes(900 + i as u64, 600 * 1024);
        versions.push(put_version(key.clone(), current.clone()).await);
    }
    let first = versions[0].clone();
    let r = c
        .copy_object()
        .bucket(BUCKET)
        .key(&first.0)
        .copy_source(format!("{BUCKET}/{}?versionId={}", first.0, first.1))
        .send()
        .await
        .unwrap();
    versions.push((first.0.clone(), r.version_id().unwrap().to_string(), first.2.clone()));
    objects[0].1 = first.2.clone();
    let blobs = 16;

    // A third node joins: the layout grows from 8 to 12 disks and most objects'
    // primary placement changes.
    let (node3, addr3) = start_node(&[]);
    let out = cairn(node3.endpoint(), &["cluster", "join", "--token", &cluster.token, &cluster.node_addrs[0]]);
    assert!(out.status.success(), "join: {}", stderr(&out));
    cluster.nodes.push(node3);
    cluster.node_addrs.push(addr3);
    cluster.wait_formed(Duration::from_secs(30));
    let new_disks = cluster.nodes[2].disk_dirs();
    assert_eq!(shard_count(&new_disks), 0, "a new node starts empty");

    // The leader's rebalancer places everything by the new layout.
    let deadline = Instant::now() + Duration::from_secs(90);
    let last = loop {
        let r = rebalance_status(&cluster);
        // Three registrations make layout version 3 at least.
        if r["done_version"].as_u64().is_some_and(|d| d >= 3 && d == r["layout_version"].as_u64().unwrap())
            && !r["last"].is_null()
        {
            break r["last"].clone();
        }
        assert!(Instant::now() < deadline, "rebalance did not finish: {r}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(last["skipped"], 0, "{last}");
    assert!(last["blobs_moved"].as_u64().unwrap() > 0, "some objects belong on the new node now: {last}");
    assert!(shard_count(&new_disks) > 0, "the new node holds shards");

    // Old copies go shortly after each move: in the end every blob has exactly k+m
    // shard files in the whole cluster.
    let all: Vec<PathBuf> = cluster.nodes.iter().flat_map(|n| n.disk_dirs()).collect();
    assert!(
        eventually(Duration::from_secs(40), || shard_count(&all) == blobs * 4).await,
        "{} shard files for {} blobs of 4 shards",
        shard_count(&all),
        blobs
    );
    for (i, node) in cluster.nodes.iter().enumerate() {
        let c = node.client();
        for (key, data) in &objects {
            assert!(get_bytes(&c, BUCKET, key).await == *data, "{key} through node {i}");
        }
        for (key, id, data) in &versions {
            let r = c.get_object().bucket(BUCKET).key(key).version_id(id).send().await;
            let got = read_body(r.unwrap_or_else(|e| panic!("{key} {id} through node {i}: {e:?}")).body).await;
            assert!(got == *data, "{key} version {id} through node {i}");
        }
    }
    for (key, _) in &objects {
        let out = cairn(&ep, &["heal", "--object", &format!("{BUCKET}/{key}"), "--dry-run", "--json"]);
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(v["state"], "whole", "{key}: {v}");
    }
    // Nothing is an orphan: the moved shards' metadata points at the new copies.
    for node in &cluster.nodes {
        let r = admin_json(node.endpoint(), &["gc", "--grace-secs", "0", "--json"]);
        assert_eq!(r["removed"], 0, "{r}");
    }
}

/// The rebalancer's status as the leader reports it (only the leader runs passes).
fn rebalance_status(cluster: &TestCluster) -> Value {
    let leader = cluster.leader(0).unwrap_or(0);
    let ep = cluster.nodes[leader].endpoint();
    let out = std::process::Command::new(cairn_bin())
        .args(["--endpoint", ep, "rebalance", "--json"])
        .env("AWS_ACCESS_KEY_ID", ROOT_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", ROOT_SECRET_KEY)
        .env_remove("AWS_CA_BUNDLE")
        .output()
        .unwrap();
    assert!(out.status.success(), "cairn rebalance: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}
